package config

import (
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/leased/leased/dhcpv6"
	"github.com/leased/leased/lease"
	"github.com/leased/leased/lease6"
	"github.com/leased/leased/reconf"
)

var cmpNet = cmpopts.EquateComparable(netip.Addr{}, netip.Prefix{})

// base6 is a minimal valid configuration with a dhcpv6 section; cases
// append pool keys at line 11.
func doc6(extra ...string) string {
	return doc(
		"dhcpv6:",                 // 6
		"  interfaces: [eth0]",    // 7
		"  pools:",                // 8
		"    - name: b",           // 9
		"      subnet: fd77::/64", // 10
	) + lines(extra...)
}

func TestExample6Loads(t *testing.T) {
	c, err := Load("../examples/leased.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !c.HasDHCPv6() {
		t.Fatal("example has no dhcpv6 section")
	}
	want := lease6.Config{
		Preferred:         45 * time.Minute,
		Valid:             time.Hour,
		OfferHold:         10 * time.Second,
		DeclineQuarantine: time.Hour,
		Pools: []lease6.Pool{{
			Name:        "office6",
			Subnet:      netip.MustParsePrefix("fd77::/64"),
			DNS:         []netip.Addr{netip.MustParseAddr("fd77::1")},
			Ranges:      []lease6.Range{{Start: netip.MustParseAddr("fd77::1:0"), End: netip.MustParseAddr("fd77::1:ffff")}},
			PD:          &lease6.PrefixPool{Prefix: netip.MustParsePrefix("fd77:100::/40"), Length: 56, MaxLength: 64},
			Preferred:   45 * time.Minute,
			Valid:       time.Hour,
			Reconfigure: lease6.ReconfigureConfig{RequireAccept: true},
		}},
	}
	if diff := cmp.Diff(want, c.Lease6(), cmpNet); diff != "" {
		t.Errorf("Lease6() (-want +got):\n%s", diff)
	}
	if c.DHCPv6.Port != 547 || len(c.DHCPv6.Interfaces) != 1 || c.DHCPv6.Interfaces[0] != "vsrv" {
		t.Errorf("port %d interfaces %v", c.DHCPv6.Port, c.DHCPv6.Interfaces)
	}
}

func TestNoDHCPv6(t *testing.T) {
	c, err := Parse("t.yaml", []byte(doc()))
	if err != nil {
		t.Fatal(err)
	}
	if c.HasDHCPv6() || c.DHCPv6 != nil {
		t.Fatal("dhcpv6 present without a section")
	}
	if got := c.Lease6(); len(got.Pools) != 0 || got.Valid != 0 {
		t.Fatalf("Lease6() without section = %+v", got)
	}
}

func TestDHCPv6Values(t *testing.T) {
	c, err := Parse("t.yaml", []byte(lines(
		"dhcpv4: {interfaces: [eth0], pools: [{name: a, subnet: 10.0.0.0/24}]}",
		"dhcpv6:",
		"  interfaces: [eth0, eth1]",
		"  port: 0",
		"  valid_lifetime: 30m",
		"  t1: 10m",
		"  rapid_commit: true",
		"  pools:",
		"    - name: lan6",
		"      subnet: 2001:db8:1::/64",
		"      links: [\"2001:db8:ff::1\"]",
		"      interface: eth1",
		"      domain_search: [example.net.]",
		"      ntp: [\"2001:db8::123\"]",
		"      options: [{code: 64, text: aftr.example.net}, {code: 65000, ips: [\"2001:db8::1\", \"2001:db8::2\"]}]",
		"      preferred_lifetime: 20m",
		"      valid_lifetime: 40m",
		"      t2: 15m",
		"      rapid_commit: false",
		"      preference: 255",
		"      ranges: [{start: \"2001:db8:1::100\", end: \"2001:db8:1::1ff\"}, {start: \"2001:db8:1::1000\", end: \"2001:db8:1::1000\"}]",
		"      prefix_delegation: {prefix: \"2001:db8:8000::/33\", length: 48}",
		"      reservations:",
		"        - {duid: \"00:03:00:01:52:54:00:12:34:56\", address: \"2001:db8:1::5\", prefix: \"2001:db8:8001::/48\", hostname: r1}",
		"        - {duid: \"000200000009aabb\", address: \"2001:db8:1::6\"}",
		"      reconfigure: {require_reconfigure_accept: false, disabled: true, attempts: 3, interval: 500ms, pace: 0, on_failure: recycle, force: true, on_change: true, message: information-request}",
		"    - name: other6",
		"      subnet: 2001:db8:2::/64",
	)))
	if err != nil {
		t.Fatal(err)
	}
	v6 := c.DHCPv6
	if v6.Port != 0 || v6.PreferredLifetime != Duration(30*time.Minute) || v6.ValidLifetime != Duration(30*time.Minute) {
		t.Errorf("service: port %d preferred %s valid %s", v6.Port, v6.PreferredLifetime, v6.ValidLifetime)
	}
	a := netip.MustParseAddr
	want := lease6.Config{
		Preferred: 30 * time.Minute, Valid: 30 * time.Minute, T1: 10 * time.Minute,
		OfferHold: 10 * time.Second, DeclineQuarantine: time.Hour,
		Pools: []lease6.Pool{{
			Name:         "lan6",
			Subnet:       netip.MustParsePrefix("2001:db8:1::/64"),
			Links:        []netip.Addr{a("2001:db8:ff::1")},
			Interface:    "eth1",
			DomainSearch: []string{"example.net"},
			NTP:          []netip.Addr{a("2001:db8::123")},
			RawOptions: []lease6.RawOption{
				{Code: 64, Data: []byte("aftr.example.net")},
				{Code: 65000, Data: append(a("2001:db8::1").AsSlice(), a("2001:db8::2").AsSlice()...)},
			},
			Preferred: 20 * time.Minute, Valid: 40 * time.Minute, T1: 10 * time.Minute, T2: 15 * time.Minute,
			Preference: 255,
			Ranges: []lease6.Range{
				{Start: a("2001:db8:1::100"), End: a("2001:db8:1::1ff")},
				{Start: a("2001:db8:1::1000"), End: a("2001:db8:1::1000")},
			},
			PD: &lease6.PrefixPool{Prefix: netip.MustParsePrefix("2001:db8:8000::/33"), Length: 48, MaxLength: 64},
			Reservations: []lease6.Reservation{
				{DUID: []byte{0, 3, 0, 1, 0x52, 0x54, 0, 0x12, 0x34, 0x56}, Addr: a("2001:db8:1::5"), Prefix: netip.MustParsePrefix("2001:db8:8001::/48"), Hostname: "r1"},
				{DUID: []byte{0, 2, 0, 0, 0, 9, 0xaa, 0xbb}, Addr: a("2001:db8:1::6")},
			},
			Reconfigure: lease6.ReconfigureConfig{RequireAccept: false, Disabled: true},
		}, {
			Name:        "other6",
			Subnet:      netip.MustParsePrefix("2001:db8:2::/64"),
			Preferred:   30 * time.Minute,
			Valid:       30 * time.Minute,
			T1:          10 * time.Minute,
			RapidCommit: true,
			Reconfigure: lease6.ReconfigureConfig{RequireAccept: true},
		}},
	}
	if diff := cmp.Diff(want, c.Lease6(), cmpNet); diff != "" {
		t.Errorf("Lease6() (-want +got):\n%s", diff)
	}
	p := &v6.Pools[0]
	three, half, zero, yes := 3, 500*time.Millisecond, 0, true
	recycle := reconf.Recycle
	infoReq := reconf.ReconfInformationRequest
	wantOv := reconf.Override{Attempts: &three, Interval: &half, Pace: &zero, OnFailure: &recycle, ForceNAK: &yes, ReconfMsg: &infoReq}
	if diff := cmp.Diff(wantOv, p.CampaignOverride()); diff != "" {
		t.Errorf("CampaignOverride (-want +got):\n%s", diff)
	}
	if got := p.Reconfigure.MessageType(); got != dhcpv6.InformationRequest {
		t.Errorf("MessageType = %v", got)
	}
	if !p.Reconfigure.OnChange {
		t.Error("on_change lost")
	}
	q := &v6.Pools[1]
	if ov := q.CampaignOverride(); ov != (reconf.Override{}) {
		t.Errorf("unset reconfigure gave override %+v", ov)
	}
	if got := q.Reconfigure.MessageType(); got != dhcpv6.Renew {
		t.Errorf("default MessageType = %v", got)
	}
	if l := c.Line("dhcpv6.pools[0].prefix_delegation"); l != 22 {
		t.Errorf("Line(prefix_delegation) = %d, want 22", l)
	}
}

func TestInvalid6(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"v4 address in dhcpv6", doc6("      dns: [10.0.0.1]"), []string{
			`t.yaml:11: dhcpv6.pools[0].dns[0]: "10.0.0.1" is not an IPv6 address; write it without a zone, e.g. fd77::1 (quote it)`,
		}},
		{"v6 address in dhcpv4", doc("      dns: [\"fd77::1\"]"), []string{
			`t.yaml:6: dhcpv4.pools[0].dns[0]: "fd77::1" is not an IPv4 address; write four numbers 0-255 separated by dots, e.g. 10.0.0.1`,
		}},
		{"v4 subnet, host bits, zone", lines(
			"dhcpv4: {interfaces: [eth0], pools: [{name: a, subnet: 10.0.0.0/24}]}",
			"dhcpv6:",
			"  interfaces: [eth0]",
			"  pools:",
			"    - {name: b, subnet: 10.1.0.0/16}",
			"    - {name: c, subnet: \"fd77::1/64\", links: [\"fe80::1%eth0\"]}",
		), []string{
			`t.yaml:5: dhcpv6.pools[0].subnet: "10.1.0.0/16" is not an IPv6 prefix; write address/length, e.g. fd77::/64`,
			`t.yaml:6: dhcpv6.pools[1].subnet: fd77::1/64 has bits set after the prefix length; did you mean fd77::/64?`,
			`t.yaml:6: dhcpv6.pools[1].links[0]: "fe80::1%eth0" is not an IPv6 address; write it without a zone, e.g. fd77::1 (quote it)`,
		}},
		{"unknown key", doc6("      range: []"), []string{
			`t.yaml:11: dhcpv6.pools[0].range: unknown key "range" (did you mean "ranges"?); valid keys here: name, subnet, links, interface, interface_id, interface_id_hex, shared_network, allow, deny, dns, domain_search, ntp, options, preferred_lifetime, valid_lifetime, t1, t2, rapid_commit, preference, ranges, prefix_delegation, reservations, reconfigure`,
		}},
		{"empty section", lines("dhcpv4: {interfaces: [eth0], pools: [{name: a, subnet: 10.0.0.0/24}]}", "dhcpv6: {port: 70000}"), []string{
			`t.yaml:2: dhcpv6.interfaces: required: list the interfaces to serve on, e.g. [eth0]`,
			`t.yaml:2: dhcpv6.port: 70000 is not a port; use 1-65535 (default 547)`,
			`t.yaml:2: dhcpv6.pools: required: at least one pool with a name and a subnet, or global options (dns, domain_search, ntp, options) for stateless service only`,
		}},
		{"ranges", doc6(
			"      ranges:",
			"        - {start: \"fd77::10\", end: \"fd77::1\"}",
			"        - {start: \"fd77::100\", end: \"fd78::1\"}",
			"        - {start: \"fd77::200\", end: \"fd77::300\"}",
			"        - {start: \"fd77::2ff\", end: \"fd77::400\"}",
			"        - {end: \"fd77::400\"}",
		), []string{
			`t.yaml:12: dhcpv6.pools[0].ranges[0]: start fd77::10 is after end fd77::1`,
			`t.yaml:13: dhcpv6.pools[0].ranges[1].end: fd78::1 is not inside subnet fd77::/64`,
			`t.yaml:15: dhcpv6.pools[0].ranges[3]: fd77::2ff-fd77::400 overlaps dhcpv6.pools[0].ranges[2] (fd77::200-fd77::300); ranges must not share addresses`,
			`t.yaml:16: dhcpv6.pools[0].ranges[4].start: required: the first address of the range, e.g. fd77::1:0`,
		}},
		{"prefix delegation lengths", lines(
			"dhcpv4: {interfaces: [eth0], pools: [{name: a, subnet: 10.0.0.0/24}]}",
			"dhcpv6:",
			"  interfaces: [eth0]",
			"  pools:",
			"    - {name: p1, subnet: \"fd01::/64\", prefix_delegation: {prefix: \"fd77:100::/40\", length: 40}}",
			"    - {name: p2, subnet: \"fd02::/64\", prefix_delegation: {prefix: \"fd77:200::/40\", length: 129}}",
			"    - {name: p3, subnet: \"fd03::/64\", prefix_delegation: {prefix: \"fd77:300::/40\", length: 112}}",
			"    - {name: p4, subnet: \"fd04::/64\", prefix_delegation: {prefix: \"fd77:400::/40\"}}",
			"    - {name: p5, subnet: \"fd05::/64\", prefix_delegation: {length: 56}}",
		), []string{
			`t.yaml:5: dhcpv6.pools[0].prefix_delegation.length: 40 must be longer than the prefix's /40, e.g. 56`,
			`t.yaml:6: dhcpv6.pools[1].prefix_delegation.length: 129: want 1 to 128, e.g. 56`,
			`t.yaml:7: dhcpv6.pools[2].prefix_delegation.length: 112 delegates 2^72 prefixes of fd77:300::/40; at most 64 bits more than the prefix (e.g. a /104)`,
			`t.yaml:8: dhcpv6.pools[3].prefix_delegation.length: required: the length of each delegated prefix, e.g. 56`,
			`t.yaml:9: dhcpv6.pools[4].prefix_delegation.prefix: required: the prefix delegated prefixes are carved from, e.g. fd77:100::/40`,
		}},
		{"overlaps across pools", lines(
			"dhcpv4: {interfaces: [eth0], pools: [{name: a, subnet: 10.0.0.0/24}]}",
			"dhcpv6:",
			"  interfaces: [eth0]",
			"  pools:",
			"    - {name: p1, subnet: \"fd77::/48\", prefix_delegation: {prefix: \"fd77:100::/40\", length: 56}}",
			"    - {name: p2, subnet: \"fd77:0:0:1::/64\"}",
			"    - {name: p3, subnet: \"fd78::/64\", prefix_delegation: {prefix: \"fd77:100:ff::/48\", length: 56}}",
			"    - {name: p4, subnet: \"fd79::/64\", prefix_delegation: {prefix: \"fd79::/56\", length: 60}}",
		), []string{
			`t.yaml:6: dhcpv6.pools[1].subnet: subnet fd77:0:0:1::/64 of dhcpv6.pools[1] (p2) overlaps subnet fd77::/48 of dhcpv6.pools[0] (p1); subnets and delegated prefixes must be disjoint`,
			`t.yaml:7: dhcpv6.pools[2].prefix_delegation.prefix: prefix_delegation fd77:100:ff::/48 of dhcpv6.pools[2] (p3) overlaps prefix_delegation fd77:100::/40 of dhcpv6.pools[0] (p1); subnets and delegated prefixes must be disjoint`,
			`t.yaml:8: dhcpv6.pools[3].prefix_delegation.prefix: prefix_delegation fd79::/56 of dhcpv6.pools[3] (p4) overlaps subnet fd79::/64 of dhcpv6.pools[3] (p4); subnets and delegated prefixes must be disjoint`,
		}},
		{"names across families, links, interface", lines(
			"dhcpv4: {interfaces: [eth0], pools: [{name: a, subnet: 10.0.0.0/24}]}",
			"dhcpv6:",
			"  interfaces: [eth0, eth1]",
			"  pools:",
			"    - {name: a, subnet: \"fd01::/64\", interface: eth9, links: [\"fd01::1\"]}",
			"    - {name: b, subnet: \"fd02::/64\", interface: eth1, links: [\"fd09::1\"]}",
			"    - {name: b, subnet: \"fd03::/64\", interface: eth1, links: [\"fd09::1\", \"fd02::5\"]}",
		), []string{
			`t.yaml:5: dhcpv6.pools[0].name: "a" is already the name of dhcpv4.pools[0]; pool names must be unique across dhcpv4 and dhcpv6`,
			`t.yaml:5: dhcpv6.pools[0].interface: "eth9" is not in dhcpv6.interfaces (eth0, eth1)`,
			`t.yaml:5: dhcpv6.pools[0].links[0]: fd01::1 is inside subnet fd01::/64 and selects this pool without being listed; list only link-addresses outside it`,
			`t.yaml:7: dhcpv6.pools[2].name: "b" is already the name of dhcpv6.pools[1]; pool names must be unique across dhcpv4 and dhcpv6`,
			`t.yaml:7: dhcpv6.pools[2].interface: eth1 already selects dhcpv6.pools[1] (b); an interface selects one pool`,
			`t.yaml:7: dhcpv6.pools[2].links[0]: fd09::1 is already a link of dhcpv6.pools[1] (b); a link-address selects one pool`,
			`t.yaml:7: dhcpv6.pools[2].links[1]: fd02::5 is inside subnet fd02::/64 of dhcpv6.pools[1] (b), which it already selects`,
		}},
		{"lifetimes", lines(
			"dhcpv4: {interfaces: [eth0], pools: [{name: a, subnet: 10.0.0.0/24}]}",
			"dhcpv6:",
			"  interfaces: [eth0]",
			"  preferred_lifetime: 2h",
			"  pools:",
			"    - {name: p1, subnet: \"fd01::/64\", valid_lifetime: 30s}",
			"    - {name: p2, subnet: \"fd02::/64\", preferred_lifetime: 10m, valid_lifetime: 1h, t2: 11m}",
			"    - {name: p3, subnet: \"fd03::/64\", preferred_lifetime: 10m, valid_lifetime: 1h, t1: 9m}",
			"    - {name: p4, subnet: \"fd04::/64\", preferred_lifetime: 10m, valid_lifetime: 1h, t1: 5m, t2: 4m}",
			"    - {name: p5, subnet: \"fd05::/64\", preferred_lifetime: 10m, valid_lifetime: 1h, t1: 8m}",
			"    - {name: p6, subnet: \"fd06::/64\", preferred_lifetime: 2h, valid_lifetime: 1h}",
		), []string{
			`t.yaml:6: dhcpv6.pools[0].valid_lifetime: 30s is too short; use at least 60s, e.g. 1h`,
			`t.yaml:7: dhcpv6.pools[1].t2: 11m must be at most preferred_lifetime (10m)`,
			`t.yaml:8: dhcpv6.pools[2].t1: 9m must be at most t2 (8m, the default)`,
			`t.yaml:9: dhcpv6.pools[3].t1: 5m must be at most t2 (4m)`,
			`t.yaml:11: dhcpv6.pools[5].preferred_lifetime: 2h must be at most valid_lifetime (1h)`,
		}},
		{"reservations", doc6(
			"      ranges: [{start: \"fd77::1:0\", end: \"fd77::1:ffff\"}]",
			"      prefix_delegation: {prefix: \"fd77:100::/40\", length: 56}",
			"      reservations:",
			"        - {duid: \"00:03\", address: \"fd77::5\"}",
			"        - {duid: \"zz\", address: \"fd77::6\"}",
			"        - {address: \"fd78::5\"}",
			"        - {duid: \"000300015254\"}",
			"        - {duid: \"000300015254\", address: \"fd77::5\", prefix: \"fd77:200::/56\"}",
			"        - {duid: \"000300015255\", prefix: \"fd77:100::/48\", hostname: \"-x\"}",
			"        - {duid: \"000300015256\", prefix: \"fd77:100:ff:ff00::/56\"}",
			"        - {duid: \"000300015257\", prefix: \"fd77:100:ff:ff00::/56\"}",
		), []string{
			`t.yaml:14: dhcpv6.pools[0].reservations[0].duid: is 2 bytes; a DUID is 3 to 130 bytes (RFC 8415 §11.1)`,
			`t.yaml:15: dhcpv6.pools[0].reservations[1].duid: "zz" is not hex bytes; write pairs of hex digits, optionally separated by colons, e.g. 01:aa:bb`,
			`t.yaml:16: dhcpv6.pools[0].reservations[2].duid: required: the client's DUID in hex, e.g. "00:03:00:01:52:54:00:12:34:56"`,
			`t.yaml:16: dhcpv6.pools[0].reservations[2].address: fd78::5 is not inside subnet fd77::/64`,
			`t.yaml:17: dhcpv6.pools[0].reservations[3]: required: address or prefix (or both) to reserve`,
			`t.yaml:18: dhcpv6.pools[0].reservations[4].duid: 00:03:00:01:52:54 already has a reservation (dhcpv6.pools[0].reservations[3]); give one reservation both address and prefix`,
			`t.yaml:18: dhcpv6.pools[0].reservations[4].address: fd77::5 is already reserved by dhcpv6.pools[0].reservations[0]`,
			`t.yaml:18: dhcpv6.pools[0].reservations[4].prefix: fd77:200::/56 is not inside prefix_delegation.prefix fd77:100::/40`,
			`t.yaml:19: dhcpv6.pools[0].reservations[5].prefix: fd77:100::/48 is a /48; reserved prefixes have prefix_delegation.length (/56)`,
			`t.yaml:19: dhcpv6.pools[0].reservations[5].hostname: "-x" is not a host name; use letters, digits and '-', e.g. printer-1`,
			`t.yaml:21: dhcpv6.pools[0].reservations[7].prefix: fd77:100:ff:ff00::/56 is already reserved by dhcpv6.pools[0].reservations[6]`,
		}},
		{"reserved prefix without pd", doc6("      reservations: [{duid: \"000300015254\", prefix: \"fd77:100::/56\"}]"), []string{
			`t.yaml:11: dhcpv6.pools[0].reservations[0].prefix: the pool delegates no prefixes; add prefix_delegation to reserve fd77:100::/56`,
		}},
		{"options and knobs", doc6(
			"      options: [{code: 23, ips: [\"fd77::1\"]}, {code: 70000, hex: \"00\"}, {code: 64}, {code: 65, text: a, hex: \"00\"}]",
			"      preference: 256",
			"      domain_search: [\"a..b\"]",
			"      reconfigure: {attempts: 21, interval: 2h, pace: -1, on_failure: drop, message: solicit}",
		), []string{
			`t.yaml:11: dhcpv6.pools[0].options[0].code: option 23 (DNS servers) is set with dns; choose another code`,
			`t.yaml:11: dhcpv6.pools[0].options[1].code: 70000 is not an option code; use 1 to 65535`,
			`t.yaml:11: dhcpv6.pools[0].options[2]: needs a value: one of hex, text, ip or ips`,
			`t.yaml:11: dhcpv6.pools[0].options[3]: has hex and text; give exactly one of hex, text, ip or ips`,
			`t.yaml:12: dhcpv6.pools[0].preference: 256: want 0 to 255`,
			`t.yaml:13: dhcpv6.pools[0].domain_search[0]: "a..b" is not a domain name; e.g. example.net`,
			`t.yaml:14: dhcpv6.pools[0].reconfigure.attempts: 21: want 1 to 20 (0 or unset: the campaign's value, 8 = REC_MAX_RC)`,
			`t.yaml:14: dhcpv6.pools[0].reconfigure.interval: 2h0m0s: want 1ms to 1h`,
			`t.yaml:14: dhcpv6.pools[0].reconfigure.pace: -1: want 0 (unlimited) to 100000 Reconfigure messages per second`,
			`t.yaml:14: dhcpv6.pools[0].reconfigure.on_failure: "drop": want restore, delete or recycle`,
			`t.yaml:14: dhcpv6.pools[0].reconfigure.message: "solicit": want renew, rebind or information-request (RFC 8415 §21.19)`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("t.yaml", []byte(tt.in))
			if err == nil {
				t.Fatalf("accepted:\n%s", tt.in)
			}
			var got []string
			for _, e := range Errors(err) {
				got = append(got, e.Error())
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("errors (-want +got):\n%s\ninput:\n%s", diff, tt.in)
			}
		})
	}
}

// The valid_lifetime set below the default preferred lifetime lowers it,
// at the service and in a pool.
func TestLifetimeClamp6(t *testing.T) {
	c, err := Parse("t.yaml", []byte(doc6("      valid_lifetime: 10m")))
	if err != nil {
		t.Fatal(err)
	}
	p := c.Lease6().Pools[0]
	if p.Preferred != 10*time.Minute || p.Valid != 10*time.Minute {
		t.Fatalf("pool lifetimes %v/%v, want 10m/10m", p.Preferred, p.Valid)
	}
}

// reconfigure.message becomes the pool's campaign override; a pool that
// leaves attempts and interval unset overrides neither, so a campaign
// started without them (the API leaves them zero) gives the pool's
// DHCPv6 clients reconf's defaults: 8 Reconfigures from 2 s doubling
// (RFC 8415 REC_MAX_RC, REC_TIMEOUT).
func TestDHCPv6CampaignOverrideDefaults(t *testing.T) {
	c, err := Parse("t.yaml", []byte(lines(
		"dhcpv4: {interfaces: [eth0], pools: [{name: a, subnet: 10.0.0.0/24}]}",
		"dhcpv6:",
		"  interfaces: [eth0]",
		"  pools:",
		"    - name: lan6",
		"      subnet: 2001:db8:1::/64",
		"      ranges: [{start: \"2001:db8:1::100\", end: \"2001:db8:1::1ff\"}]",
		"      reconfigure: {message: rebind, pace: 0}",
	)))
	if err != nil {
		t.Fatal(err)
	}
	ov := c.DHCPv6.Pools[0].CampaignOverride()
	rebind, zero := reconf.ReconfRebind, 0
	if diff := cmp.Diff(reconf.Override{ReconfMsg: &rebind, Pace: &zero}, ov); diff != "" {
		t.Fatalf("CampaignOverride (-want +got):\n%s", diff)
	}

	// The override in a real campaign: the message is the pool's, the
	// schedule reconf's DHCPv6 default.
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	l := lease.Lease{Addr: netip.MustParseAddr("2001:db8:1::100"), ClientID: []byte{0, 3, 0, 1, 2, 0, 0, 0, 0, 1}, IAID: 1,
		Pool: "lan6", Section: -1, State: lease.StateBound, Start: t0, Preferred: t0.Add(time.Hour), Expiry: t0.Add(2 * time.Hour),
		ReconfKey: make([]byte, 16), ForceRenewNonceCapable: true}
	opts := reconf.Options{Pace: 1000, Pools: map[string]reconf.Override{"lan6": ov}}
	m := reconf.NewManager()
	if _, err := m.Start(t0, reconf.Selector{Family: 6}, opts, []lease.Lease{l}); err != nil {
		t.Fatal(err)
	}
	var sends []time.Duration
	for now := t0; now.Before(t0.Add(20 * time.Minute)); now = now.Add(100 * time.Millisecond) {
		for _, a := range m.Due(now) {
			if a.Kind != reconf.SendReconfigure || a.Msg != reconf.ReconfRebind {
				t.Fatalf("action %+v, want a SendReconfigure with message rebind", a)
			}
			sends = append(sends, now.Sub(t0))
		}
	}
	var want []time.Duration
	for i, at := 0, time.Duration(0); i < reconf.DefaultAttempts6; i++ {
		want = append(want, at)
		at += reconf.DefaultInterval6 << i
	}
	if diff := cmp.Diff(want, sends); diff != "" {
		t.Errorf("Reconfigure send times (-want +got):\n%s", diff)
	}
}
