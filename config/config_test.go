package config

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/leased/leased/lease"
)

// base is a minimal valid configuration; cases append pool keys at line 6.
var base = []string{
	"dhcpv4:",                   // 1
	"  interfaces: [eth0]",      // 2
	"  pools:",                  // 3
	"    - name: a",             // 4
	"      subnet: 10.0.0.0/24", // 5
}

func doc(extra ...string) string {
	return strings.Join(append(append([]string(nil), base...), extra...), "\n") + "\n"
}

func lines(l ...string) string { return strings.Join(l, "\n") + "\n" }

func TestExampleLoads(t *testing.T) {
	c, err := Load("../examples/leased.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := lease.Config{
		LeaseTime:         time.Hour,
		OfferHold:         10 * time.Second,
		DeclineQuarantine: time.Hour,
		Pools: []lease.Pool{{
			Name:    "office",
			Subnet:  netip.MustParsePrefix("10.77.0.0/16"),
			Gateway: netip.MustParseAddr("10.77.0.1"),
			DNS:     []netip.Addr{netip.MustParseAddr("10.77.0.1")},
			Sections: []lease.Section{
				{Index: 0, Start: netip.MustParseAddr("10.77.1.0"), End: netip.MustParseAddr("10.77.1.255")},
				{Index: 1, Start: netip.MustParseAddr("10.77.2.0"), End: netip.MustParseAddr("10.77.2.255")},
			},
		}},
	}
	if diff := cmp.Diff(want, c.Lease(), cmpopts.EquateComparable(netip.Addr{}, netip.Prefix{})); diff != "" {
		t.Errorf("Lease() (-want +got):\n%s", diff)
	}
	if c.DataDir != "/var/lib/leased" || c.Control.Socket != "/run/leased/control.sock" {
		t.Errorf("DataDir %q, Socket %q", c.DataDir, c.Control.Socket)
	}
	if got := c.Line("dhcpv4.pools[0].gateway"); got != 12 {
		t.Errorf("Line(gateway) = %d, want 12", got)
	}
}

// The commented keys of the example are valid too.
func TestExampleCommentedKeysValid(t *testing.T) {
	data, err := os.ReadFile("../examples/leased.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(data), "\n") {
		trimmed := strings.TrimLeft(l, " ")
		if strings.HasPrefix(trimmed, "# ") && !strings.Contains(trimmed, "docs/config.md") &&
			!strings.Contains(trimmed, "leased --config") && !strings.Contains(trimmed, "Optional keys") {
			indent := l[:len(l)-len(trimmed)]
			l = indent + strings.TrimPrefix(trimmed, "# ")
		}
		out = append(out, l)
	}
	// The top-level "control:" appears twice once uncommented; merge by
	// dropping the second header and re-indenting is fragile, so rename it.
	text := strings.Join(out, "\n")
	text = strings.Replace(text, "\ncontrol:\n  socket_mode", "\ncontrol2:\n  socket_mode", 1)
	text = strings.Replace(text, "control:\n  socket: /run/leased/control.sock\n", "", 1)
	text = strings.Replace(text, "control2:", "control:\n  socket: /run/leased/control.sock", 1)
	c, err := Parse("uncommented.yaml", []byte(text))
	if err != nil {
		t.Fatalf("%v\n%s", err, text)
	}
	p := c.DHCPv4.Pools[0]
	if p.MTU != 1500 || len(p.Options) != 3 || len(p.Reservations) != 2 || c.Control.HTTP == "" || c.Store.CompactEvery != 100000 {
		t.Errorf("uncommented example not fully parsed: %+v", c)
	}
}

func TestDefaults(t *testing.T) {
	c, err := Parse("min.yaml", []byte(doc()))
	if err != nil {
		t.Fatal(err)
	}
	check := func(name string, got, want any) {
		t.Helper()
		if got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	check("DataDir", c.DataDir, "/var/lib/leased")
	check("LogLevel", c.LogLevel, "info")
	check("Socket", c.Control.Socket, "/run/leased/control.sock")
	check("SocketMode", c.Control.SocketMode, FileMode(0o600))
	check("Fsync", *c.Store.Fsync, true)
	check("FsyncEnabled", c.Store.FsyncEnabled(), true)
	check("CompactEvery", c.Store.CompactEvery, 100000)
	check("AllowCorruptMiddle", c.Store.AllowCorruptMiddle, false)
	check("Port", c.DHCPv4.Port, 67)
	check("LeaseTime", c.DHCPv4.LeaseTime.D(), time.Hour)
	check("OfferHold", c.DHCPv4.OfferHold.D(), 10*time.Second)
	check("DeclineQuarantine", c.DHCPv4.DeclineQuarantine.D(), time.Hour)
	check("Authoritative", c.DHCPv4.Authoritative, false)
	check("SlogLevel", c.SlogLevel().String(), "INFO")
	check("File", c.File(), "min.yaml")
}

func TestExplicitValues(t *testing.T) {
	c, err := Parse("x.yaml", []byte(lines(
		"data_dir: /tmp/l",
		"log_level: debug",
		"control:",
		"  socket: /tmp/l/c.sock",
		"  socket_mode: 0660",
		"  http: 127.0.0.1:8067",
		"  token_file: /etc/leased/token",
		"store:",
		"  fsync: false",
		"  compact_every: 10",
		"  allow_corrupt_middle: true",
		"dhcpv4:",
		"  interfaces: [eth0, eth1]",
		"  port: 0",
		"  lease_time: 2d",
		"  t1: 1d",
		"  t2: 1d12h",
		"  offer_hold: 5s",
		"  decline_quarantine: 90m",
		"  authoritative: true",
		"  pools:",
		"    - {name: a, subnet: 10.0.0.0/24}",
	)))
	if err != nil {
		t.Fatal(err)
	}
	if c.Control.SocketMode.Perm() != 0o660 || c.Store.FsyncEnabled() || c.Store.CompactEvery != 10 ||
		!c.Store.AllowCorruptMiddle || c.DHCPv4.Port != 0 || c.DHCPv4.LeaseTime.D() != 48*time.Hour ||
		c.DHCPv4.T2.D() != 36*time.Hour || c.DHCPv4.DeclineQuarantine.D() != 90*time.Minute ||
		c.SlogLevel().String() != "DEBUG" || len(c.DHCPv4.Interfaces) != 2 {
		t.Errorf("explicit values not kept: %+v", c)
	}
	if l := c.Lease(); !l.Pools[0].Authoritative {
		t.Error("dhcpv4.authoritative not inherited by the pool")
	}
}

func TestLeaseConversion(t *testing.T) {
	c, err := Parse("full.yaml", []byte(doc(
		"      gateway: 10.0.0.1",
		"      dns: [10.0.0.2, 10.0.0.3]",
		"      domain_name: example.net.",
		"      domain_search: [a.example.net, example.net.]",
		"      ntp: [10.0.0.4]",
		"      mtu: 1400",
		"      routes:",
		"        - {dest: 0.0.0.0/0, gateway: 10.0.0.1}",
		"        - {dest: 192.168.50.0/24, gateway: 10.0.0.9}",
		"      tftp_server: boot.example.net",
		"      boot_file: pxelinux.0",
		"      options:",
		"        - {code: 252, text: \"http://wpad/wpad.dat\"}",
		"        - {code: 150, ip: 10.0.0.5}",
		"        - {code: 43, hex: \"01:04:0a:00\"}",
		"        - {code: 160, ips: [10.0.0.6, 10.0.0.7]}",
		"        - {code: 161, text: \"\"}",
		"      lease_time: 8h",
		"      t1: 4h",
		"      t2: 7h",
		"      authoritative: false",
		"      relays: [192.0.2.1]",
		"      sections:",
		"        - {index: 1, start: 10.0.0.128, end: 10.0.0.200}",
		"        - {index: 0, start: 10.0.0.10, end: 10.0.0.99}",
		"      exclude: [10.0.0.50, 10.0.0.20-10.0.0.22, 10.0.0.21]",
		"      reservations:",
		"        - {hwaddr: \"52-54-00-12-34-56\", address: 10.0.0.100, hostname: printer-1}",
		"        - {client_id: \"01:52:54:00:ab:cd:ef\", address: 10.0.0.101}",
		"    - name: b",
		"      subnet: 10.1.0.0/24",
	)))
	if err != nil {
		t.Fatal(err)
	}
	a := netip.MustParseAddr
	want := lease.Config{
		LeaseTime:         time.Hour,
		OfferHold:         10 * time.Second,
		DeclineQuarantine: time.Hour,
		Pools: []lease.Pool{{
			Name:         "a",
			Subnet:       netip.MustParsePrefix("10.0.0.0/24"),
			Gateway:      a("10.0.0.1"),
			DNS:          []netip.Addr{a("10.0.0.2"), a("10.0.0.3")},
			DomainName:   "example.net",
			DomainSearch: []string{"a.example.net", "example.net"},
			NTP:          []netip.Addr{a("10.0.0.4")},
			MTU:          1400,
			Routes: []lease.Route{
				{Dest: netip.MustParsePrefix("0.0.0.0/0"), Gateway: a("10.0.0.1")},
				{Dest: netip.MustParsePrefix("192.168.50.0/24"), Gateway: a("10.0.0.9")},
			},
			TFTPServer: "boot.example.net",
			BootFile:   "pxelinux.0",
			RawOptions: []lease.RawOption{
				{Code: 252, Data: []byte("http://wpad/wpad.dat")},
				{Code: 150, Data: []byte{10, 0, 0, 5}},
				{Code: 43, Data: []byte{1, 4, 10, 0}},
				{Code: 160, Data: []byte{10, 0, 0, 6, 10, 0, 0, 7}},
				{Code: 161, Data: []byte{}},
			},
			LeaseTime:     8 * time.Hour,
			T1:            4 * time.Hour,
			T2:            7 * time.Hour,
			Authoritative: false,
			Relays:        []netip.Addr{a("192.0.2.1")},
			Sections: []lease.Section{
				{Index: 0, Start: a("10.0.0.10"), End: a("10.0.0.99")},
				{Index: 1, Start: a("10.0.0.128"), End: a("10.0.0.200")},
			},
			Exclude: []netip.Addr{a("10.0.0.20"), a("10.0.0.21"), a("10.0.0.22"), a("10.0.0.50")},
			Reservations: []lease.Reservation{
				{HWAddr: []byte{0x52, 0x54, 0, 0x12, 0x34, 0x56}, Addr: a("10.0.0.100"), Hostname: "printer-1"},
				{ClientID: []byte{1, 0x52, 0x54, 0, 0xab, 0xcd, 0xef}, Addr: a("10.0.0.101")},
			},
		}, {
			Name:   "b",
			Subnet: netip.MustParsePrefix("10.1.0.0/24"),
		}},
	}
	opts := cmp.Options{cmpopts.EquateComparable(netip.Addr{}, netip.Prefix{}), cmpopts.EquateEmpty()}
	if diff := cmp.Diff(want, c.Lease(), opts); diff != "" {
		t.Errorf("Lease() (-want +got):\n%s", diff)
	}
	if got := c.Lease().Pools[0].RawOptions[4].Data; got == nil {
		t.Error("empty text option converted to nil data")
	}
}

func TestInvalid(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string // every error line, in order
	}{
		{"unknown key", doc("      gatway: 10.0.0.1"), []string{
			`t.yaml:6: dhcpv4.pools[0].gatway: unknown key "gatway" (did you mean "gateway"?); valid keys here: name, subnet, gateway, routers, dns, domain_name, domain_search, ntp, mtu, routes, tftp_server, boot_file, options, lease_time, t1, t2, authoritative, relays, sections, exclude, reservations, forcerenew, allow, deny, boot, bootp, bootp_lease_time, shared_network`,
		}},
		{"unknown top-level key", lines("dhcp4: {}"), []string{
			`t.yaml:1: dhcp4: unknown key "dhcp4" (did you mean "dhcpv4"?); valid keys here: data_dir, log_level, server_name, control, store, dhcpv4, dhcpv6, campaigns, radius, leasequery, ddns, cluster`,
			`t.yaml:1: dhcpv4: required: a dhcpv4 section, a dhcpv6 section or both, each with at least interfaces and pools`,
		}},
		{"duplicate key", doc("      subnet: 10.0.1.0/24"), []string{
			`t.yaml:6: dhcpv4.pools[0].subnet: duplicate key (first at line 5)`,
		}},
		{"wrong type string", doc("      name: 5"), []string{
			`t.yaml:6: dhcpv4.pools[0].name: duplicate key (first at line 4)`,
		}},
		{"wrong types", lines(
			"log_level: [debug]",
			"store: {fsync: yes, compact_every: 1.5}",
			"dhcpv4:",
			"  interfaces: eth0",
			"  port: \"67\"",
			"  lease_time: 3600",
			"  pools:",
			"    - name: 7",
			"      subnet: 10.0.0.0/24",
			"      dns: 10.0.0.1",
			"      mtu: big",
		), []string{
			`t.yaml:1: log_level: expected a string, got a list`,
			`t.yaml:2: store.fsync: expected true or false, got "yes"`,
			`t.yaml:2: store.compact_every: expected a whole number, got number 1.5`,
			`t.yaml:4: dhcpv4.interfaces: expected a list, e.g. [eth0], got "eth0"`,
			`t.yaml:5: dhcpv4.port: expected a whole number, got "67"`,
			`t.yaml:6: dhcpv4.lease_time: "3600" is not a duration; write a number with a unit, e.g. 90s, 30m, 1h or 2d`,
			`t.yaml:8: dhcpv4.pools[0].name: expected a string, got number 7 (quote it: "7")`,
			`t.yaml:10: dhcpv4.pools[0].dns: expected a list, e.g. [10.0.0.1], got "10.0.0.1"`,
			`t.yaml:11: dhcpv4.pools[0].mtu: expected a whole number, got "big"`,
		}},
		{"missing required", lines(
			"dhcpv4:",
			"  pools:",
			"    - gateway: 10.0.0.1",
			"      sections: [{start: 10.0.0.5}]",
			"      reservations: [{hostname: x}]",
			"      routes: [{dest: 0.0.0.0/0}]",
			"      options: [{text: x}, {code: 250}]",
		), []string{
			`t.yaml:1: dhcpv4.interfaces: required: list the interfaces to serve on, e.g. [eth0]`,
			`t.yaml:3: dhcpv4.pools[0].name: required: a unique name for the pool, e.g. office`,
			`t.yaml:3: dhcpv4.pools[0].subnet: required: the pool's IPv4 network, e.g. 10.0.0.0/24`,
			`t.yaml:4: dhcpv4.pools[0].sections[0].index: required: the section number, 0 or more`,
			`t.yaml:4: dhcpv4.pools[0].sections[0].end: required: the last address of the section, e.g. 10.0.0.10`,
			`t.yaml:5: dhcpv4.pools[0].reservations[0].address: required: the reserved address, e.g. 10.0.0.10`,
			`t.yaml:5: dhcpv4.pools[0].reservations[0]: required: hwaddr, client_id, circuit_id or remote_id to identify the client`,
			`t.yaml:6: dhcpv4.pools[0].routes[0].gateway: required: the next-hop router, e.g. 10.0.0.1`,
			`t.yaml:7: dhcpv4.pools[0].options[0].code: required: the option code, 1 to 254 (or a name, e.g. domain-name-servers)`,
			`t.yaml:7: dhcpv4.pools[0].options[1]: needs a value: one of hex, text, ip or ips (or value with a name)`,
		}},
		{"no dhcpv4", lines("data_dir: /x"), []string{
			`t.yaml:1: dhcpv4: required: a dhcpv4 section, a dhcpv6 section or both, each with at least interfaces and pools`,
		}},
		{"empty interfaces and pools", lines("dhcpv4:", "  interfaces: []", "  pools: []"), []string{
			`t.yaml:2: dhcpv4.interfaces: required: list the interfaces to serve on, e.g. [eth0]`,
			`t.yaml:3: dhcpv4.pools: required: at least one pool with a name and a subnet`,
		}},
		{"bad interfaces", lines("dhcpv4:", "  interfaces: [eth0, \"\", eth0, averyveryverylongname]", "  pools: [{name: a, subnet: 10.0.0.0/24}]"), []string{
			`t.yaml:2: dhcpv4.interfaces[1]: "" is not an interface name; use a name such as eth0 (at most 15 characters, no '/' or spaces)`,
			`t.yaml:2: dhcpv4.interfaces[2]: eth0 is listed twice (also dhcpv4.interfaces[0])`,
			`t.yaml:2: dhcpv4.interfaces[3]: "averyveryverylongname" is not an interface name; use a name such as eth0 (at most 15 characters, no '/' or spaces)`,
		}},
		{"bad addresses", doc(
			"      gateway: 10.0.0.300",
			"      dns: [10.0.0.1, fe80::1, dns.example]",
			"      relays: [10.0.0.1/24]",
		), []string{
			`t.yaml:6: dhcpv4.pools[0].gateway: "10.0.0.300" is not an IPv4 address; write four numbers 0-255 separated by dots, e.g. 10.0.0.1`,
			`t.yaml:7: dhcpv4.pools[0].dns[1]: "fe80::1" is not an IPv4 address; write four numbers 0-255 separated by dots, e.g. 10.0.0.1`,
			`t.yaml:7: dhcpv4.pools[0].dns[2]: "dns.example" is not an IPv4 address; write four numbers 0-255 separated by dots, e.g. 10.0.0.1`,
			`t.yaml:8: dhcpv4.pools[0].relays[0]: "10.0.0.1/24" is not an IPv4 address; write four numbers 0-255 separated by dots, e.g. 10.0.0.1`,
		}},
		{"bad prefixes", lines(
			"dhcpv4:",
			"  interfaces: [eth0]",
			"  pools:",
			"    - {name: a, subnet: 10.0.0.5/24}",
			"    - {name: b, subnet: 10.1.0.0}",
			"    - {name: c, subnet: \"2001:db8::/64\"}",
		), []string{
			`t.yaml:4: dhcpv4.pools[0].subnet: 10.0.0.5/24 has host bits set; did you mean 10.0.0.0/24?`,
			`t.yaml:5: dhcpv4.pools[1].subnet: "10.1.0.0" is not an IPv4 network; write address/length, e.g. 10.0.0.0/24`,
			`t.yaml:6: dhcpv4.pools[2].subnet: "2001:db8::/64" is not an IPv4 network; write address/length, e.g. 10.0.0.0/24`,
		}},
		{"outside subnet", doc(
			"      gateway: 10.0.1.1",
			"      relays: [10.0.0.9]",
			"      sections:",
			"        - {index: 0, start: 10.0.0.10, end: 10.0.1.10}",
			"      exclude: [10.0.1.1, 10.0.0.250-10.0.1.3]",
			"      reservations:",
			"        - {hwaddr: \"52:54:00:00:00:01\", address: 10.9.0.1}",
		), []string{
			`t.yaml:6: dhcpv4.pools[0].gateway: 10.0.1.1 is not inside subnet 10.0.0.0/24`,
			`t.yaml:7: dhcpv4.pools[0].relays[0]: 10.0.0.9 is inside subnet 10.0.0.0/24 and selects this pool without being listed; list only relay addresses outside it`,
			`t.yaml:9: dhcpv4.pools[0].sections[0].end: 10.0.1.10 is not inside subnet 10.0.0.0/24`,
			`t.yaml:10: dhcpv4.pools[0].exclude[0]: 10.0.1.1 is not inside subnet 10.0.0.0/24`,
			`t.yaml:10: dhcpv4.pools[0].exclude[1]: 10.0.0.250-10.0.1.3 is not inside subnet 10.0.0.0/24`,
			`t.yaml:12: dhcpv4.pools[0].reservations[0].address: 10.9.0.1 is not inside subnet 10.0.0.0/24`,
		}},
		{"sections", doc(
			"      sections:",
			"        - {index: 0, start: 10.0.0.10, end: 10.0.0.50}",
			"        - {index: 0, start: 10.0.0.60, end: 10.0.0.70}",
			"        - {index: 2, start: 10.0.0.90, end: 10.0.0.80}",
			"        - {index: 3, start: 10.0.0.40, end: 10.0.0.45}",
			"        - {index: 4, start: 10.0.0.1, end: 10.0.0.200}",
			"        - {index: -1, start: 10.0.0.201, end: 10.0.0.201}",
		), []string{
			`t.yaml:8: dhcpv4.pools[0].sections[1].index: 0 is already the index of dhcpv4.pools[0].sections[0]; indexes must be unique in a pool`,
			`t.yaml:9: dhcpv4.pools[0].sections[2]: start 10.0.0.90 is after end 10.0.0.80`,
			`t.yaml:11: dhcpv4.pools[0].sections[4]: 10.0.0.1-10.0.0.200 overlaps dhcpv4.pools[0].sections[0] (10.0.0.10-10.0.0.50); sections must not share addresses`,
			`t.yaml:11: dhcpv4.pools[0].sections[4]: 10.0.0.1-10.0.0.200 overlaps dhcpv4.pools[0].sections[1] (10.0.0.60-10.0.0.70); sections must not share addresses`,
			`t.yaml:11: dhcpv4.pools[0].sections[4]: 10.0.0.1-10.0.0.200 overlaps dhcpv4.pools[0].sections[3] (10.0.0.40-10.0.0.45); sections must not share addresses`,
			`t.yaml:12: dhcpv4.pools[0].sections[5].index: -1: use 0 or more`,
		}},
		{"pools overlap and names", lines(
			"dhcpv4:",
			"  interfaces: [eth0]",
			"  pools:",
			"    - {name: a, subnet: 10.0.0.0/16, relays: [192.0.2.1]}",
			"    - {name: a, subnet: 10.0.5.0/24}",
			"    - {name: c, subnet: 10.1.0.0/24, relays: [192.0.2.1, 10.0.0.1]}",
			"    - {name: \"d e\", subnet: 10.2.0.0/24}",
		), []string{
			`t.yaml:5: dhcpv4.pools[1].name: "a" is already the name of dhcpv4.pools[0]; pool names must be unique`,
			`t.yaml:5: dhcpv4.pools[1].subnet: 10.0.5.0/24 overlaps 10.0.0.0/16 of dhcpv4.pools[0] (a); pool subnets must be disjoint`,
			`t.yaml:6: dhcpv4.pools[2].relays[0]: 192.0.2.1 is already a relay of dhcpv4.pools[0] (a); a relay address selects one pool`,
			`t.yaml:6: dhcpv4.pools[2].relays[1]: 10.0.0.1 is inside subnet 10.0.0.0/16 of dhcpv4.pools[0] (a), which it already selects`,
			`t.yaml:7: dhcpv4.pools[3].name: "d e": use letters, digits, '-', '_' or '.', no spaces or '/'`,
		}},
		{"reservations", doc(
			"      gateway: 10.0.0.1",
			"      reservations:",
			"        - {hwaddr: \"52:54:00:00:00:01\", address: 10.0.0.10}",
			"        - {hwaddr: \"52:54:00:00:00:01\", address: 10.0.0.10}",
			"        - {client_id: \"01:02\", address: 10.0.0.11, hostname: \"bad host\"}",
			"        - {client_id: \"0102\", address: 10.0.0.255}",
			"        - {hwaddr: \"52:54:00:00:00:02\", address: 10.0.0.1}",
			"        - {hwaddr: \"zz\", client_id: \"123\", address: 10.0.0.12}",
		), []string{
			`t.yaml:9: dhcpv4.pools[0].reservations[1].address: 10.0.0.10 is already reserved by dhcpv4.pools[0].reservations[0]`,
			`t.yaml:9: dhcpv4.pools[0].reservations[1].hwaddr: 52:54:00:00:00:01 already has a reservation (dhcpv4.pools[0].reservations[0])`,
			`t.yaml:10: dhcpv4.pools[0].reservations[2].hostname: "bad host" is not a host name; use letters, digits and '-', e.g. printer-1`,
			`t.yaml:11: dhcpv4.pools[0].reservations[3].address: 10.0.0.255 is the network or broadcast address of 10.0.0.0/24; reserve a host address`,
			`t.yaml:11: dhcpv4.pools[0].reservations[3].client_id: 01:02 already has a reservation (dhcpv4.pools[0].reservations[2])`,
			`t.yaml:12: dhcpv4.pools[0].reservations[4].address: 10.0.0.1 is the pool's gateway`,
			`t.yaml:13: dhcpv4.pools[0].reservations[5].hwaddr: "zz" is not a hardware address; write hex bytes separated by colons, e.g. 52:54:00:12:34:56`,
			`t.yaml:13: dhcpv4.pools[0].reservations[5].client_id: "123" is not hex bytes; write pairs of hex digits, optionally separated by colons, e.g. 01:aa:bb`,
		}},
		{"lease times", lines(
			"dhcpv4:",
			"  interfaces: [eth0]",
			"  lease_time: 1s",
			"  offer_hold: 0s",
			"  decline_quarantine: 0s",
			"  pools:",
			"    - {name: a, subnet: 10.0.0.0/24, lease_time: 1h, t1: 40m, t2: 30m}",
			"    - {name: b, subnet: 10.0.1.0/24, lease_time: 1h, t2: 1h}",
			"    - {name: c, subnet: 10.0.2.0/24, lease_time: 1h, t1: 55m}",
			"    - {name: d, subnet: 10.0.3.0/24, lease_time: 1h, t2: 20m}",
			"    - {name: e, subnet: 10.0.4.0/24, lease_time: 1m}",
		), []string{
			`t.yaml:3: dhcpv4.lease_time: 1s is too short; use at least 2s, e.g. 1h`,
			`t.yaml:4: dhcpv4.offer_hold: must be more than 0s, e.g. 10s`,
			`t.yaml:5: dhcpv4.decline_quarantine: must be more than 0s, e.g. 1h`,
			`t.yaml:7: dhcpv4.pools[0].t1: 40m must be less than t2 (30m)`,
			`t.yaml:8: dhcpv4.pools[1].t2: 1h must be less than lease_time (1h)`,
			`t.yaml:9: dhcpv4.pools[2].t1: 55m must be less than t2 (52m30s, the default)`,
			`t.yaml:10: dhcpv4.pools[3].t2: 20m must be more than t1 (30m, the default)`,
		}},
		{"service times", lines(
			"dhcpv4:",
			"  interfaces: [eth0]",
			"  lease_time: 1h",
			"  t1: 2h",
			"  offer_hold: 2h",
			"  pools: [{name: a, subnet: 10.0.0.0/24, lease_time: 2d}]",
		), []string{
			`t.yaml:4: dhcpv4.t1: 2h must be less than t2 (52m30s, the default)`,
			`t.yaml:5: dhcpv4.offer_hold: 2h must be shorter than lease_time (1h), e.g. 10s`,
		}},
		{"options", doc(
			"      options:",
			"        - {code: 0, hex: \"00\"}",
			"        - {code: 255, hex: \"00\"}",
			"        - {code: 53, hex: \"01\"}",
			"        - {code: 54, ip: 10.0.0.1}",
			"        - {code: 51, hex: \"00000e10\"}",
			"        - {code: 3, ip: 10.0.0.1}",
			"        - {code: 300, text: x}",
			"        - {code: 250, text: x, ip: 10.0.0.1}",
			"        - {code: 251, text: x}",
			"        - {code: 251, text: y}",
			"        - {code: 252, hex: \"0g\"}",
		), []string{
			`t.yaml:7: dhcpv4.pools[0].options[0].code: 0 is the pad byte, not an option; choose another code`,
			`t.yaml:8: dhcpv4.pools[0].options[1].code: 255 is the end marker, not an option; choose another code`,
			`t.yaml:9: dhcpv4.pools[0].options[2].code: option 53 (message type) is managed by leased; choose another code`,
			`t.yaml:10: dhcpv4.pools[0].options[3].code: option 54 (server identifier) is managed by leased; choose another code`,
			`t.yaml:11: dhcpv4.pools[0].options[4].code: option 51 (lease time) is set with lease_time; choose another code`,
			`t.yaml:12: dhcpv4.pools[0].options[5].code: option 3 (router) is set with gateway or with name: routers; choose another code`,
			`t.yaml:13: dhcpv4.pools[0].options[6].code: 300 is not an option code; use 1 to 254`,
			`t.yaml:14: dhcpv4.pools[0].options[7]: has text and ip; give exactly one of value, hex, text, ip, ips or suboptions`,
			`t.yaml:16: dhcpv4.pools[0].options[9].code: option 251 is already set by dhcpv4.pools[0].options[8]`,
			`t.yaml:17: dhcpv4.pools[0].options[10].hex: "0g" is not hex bytes; write pairs of hex digits, optionally separated by colons, e.g. 01:aa:bb`,
		}},
		{"long option", doc("      options: [{code: 250, text: \"" + strings.Repeat("x", 256) + "\"}]"), []string{
			`t.yaml:6: dhcpv4.pools[0].options[0].text: is 256 bytes long; an option holds at most 255`,
		}},
		{"mtu and names", doc(
			"      mtu: 67",
			"      domain_name: \"-bad.example\"",
			"      domain_search: [ok.example, \"a..b\"]",
		), []string{
			`t.yaml:6: dhcpv4.pools[0].mtu: 67 is not a valid MTU; use 68 to 65535, e.g. 1500`,
			`t.yaml:7: dhcpv4.pools[0].domain_name: "-bad.example" is not a domain name; e.g. example.net`,
			`t.yaml:8: dhcpv4.pools[0].domain_search[1]: "a..b" is not a domain name; e.g. example.net`,
		}},
		{"control and store", lines(
			"log_level: verbose",
			"data_dir: \"\"",
			"control:",
			"  socket: \"\"",
			"  socket_mode: \"0999\"",
			"  http: localhost",
			"store:",
			"  compact_every: 0",
			"dhcpv4: {interfaces: [eth0], port: 70000, pools: [{name: a, subnet: 10.0.0.0/24}]}",
		), []string{
			`t.yaml:1: log_level: "verbose" is not a log level; use debug, info, warn or error`,
			`t.yaml:2: data_dir: must not be empty; e.g. /var/lib/leased`,
			`t.yaml:3: control.token_file: required when control.http is set: a file holding the bearer token for the TCP API`,
			`t.yaml:4: control.socket: must not be empty; e.g. /run/leased/control.sock`,
			`t.yaml:5: control.socket_mode: "0999" is not a permission mode; write octal digits from 0000 to 0777, e.g. "0600"`,
			`t.yaml:6: control.http: "localhost" is not a listen address; write host:port, e.g. 127.0.0.1:8067`,
			`t.yaml:8: store.compact_every: 0: must be a positive number of records, e.g. 100000`,
			`t.yaml:9: dhcpv4.port: 70000 is not a port; use 1-65535 (default 67)`,
		}},
		{"exclude", doc(
			"      exclude: [10.0.0.9-10.0.0.3, \"10.0.0.1-\", 10.0.0.0-10.0.0.255]",
		), []string{
			// Decoding errors come before validation errors on one line.
			`t.yaml:6: dhcpv4.pools[0].exclude[1]: "10.0.0.1-" is not an address or range; write 10.0.0.5 or 10.0.0.10-10.0.0.19`,
			`t.yaml:6: dhcpv4.pools[0].exclude[0]: range 10.0.0.9-10.0.0.3 ends before it starts; write first-last`,
		}},
		{"exclude too many", lines(
			"dhcpv4:",
			"  interfaces: [eth0]",
			"  pools:",
			"    - {name: a, subnet: 10.0.0.0/8, exclude: [10.0.0.0-10.1.0.0]}",
		), []string{
			`t.yaml:4: dhcpv4.pools[0].exclude: excludes 65537 addresses; at most 65536 per pool (shrink the sections instead)`,
		}},
		{"not a mapping", lines("- a", "- b"), []string{
			`t.yaml:1: expected a mapping with keys data_dir, log_level, server_name, control, store, dhcpv4, dhcpv6, campaigns, radius, leasequery, ddns, cluster, got a list`,
		}},
		{"syntax error", lines("dhcpv4:", "  interfaces: [eth0", "  pools: []"), []string{
			`t.yaml:3: YAML syntax: did not find expected ',' or ']'`,
		}},
		{"two documents", lines("dhcpv4: {}", "---", "a: 1"), []string{
			`t.yaml:2: a second YAML document (---); the configuration is one document`,
		}},
		{"empty", "", []string{
			`t.yaml: the file is empty; it needs a dhcpv4 section (interfaces and pools), a dhcpv6 section, or both`,
		}},
		{"merge key", lines("x: &x {interfaces: [eth0]}", "dhcpv4:", "  <<: *x"), []string{
			`t.yaml:1: x: unknown key "x"; valid keys here: data_dir, log_level, server_name, control, store, dhcpv4, dhcpv6, campaigns, radius, leasequery, ddns, cluster`,
			`t.yaml:2: dhcpv4.interfaces: required: list the interfaces to serve on, e.g. [eth0]`,
			`t.yaml:2: dhcpv4.pools: required: at least one pool with a name and a subnet`,
			`t.yaml:3: dhcpv4.<<: merge keys (<<) are not supported; write the keys out`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("t.yaml", []byte(tt.in))
			if err == nil {
				t.Fatalf("no error; config %+v", c)
			}
			if c != nil {
				t.Error("config returned with an error")
			}
			var got []string
			for _, e := range Errors(err) {
				got = append(got, e.Error())
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("errors (-want +got):\n%s\ninput:\n%s", diff, tt.in)
			}
			if want := strings.Join(tt.want, "\n"); err.Error() != want {
				t.Errorf("err.Error() =\n%s\nwant\n%s", err, want)
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Error("errors.As found no *config.Error")
			}
		})
	}
}

func TestAliasesAllowed(t *testing.T) {
	c, err := Parse("a.yaml", []byte(lines(
		"dhcpv4:",
		"  interfaces: [eth0]",
		"  pools:",
		"    - {name: a, subnet: 10.0.0.0/24, dns: &dns [10.9.9.9]}",
		"    - {name: b, subnet: 10.0.1.0/24, dns: *dns}",
	)))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.DHCPv4.Pools[1].DNS; len(got) != 1 || got[0] != netip.MustParseAddr("10.9.9.9") {
		t.Errorf("alias not followed: %v", got)
	}
}

func TestAliasBomb(t *testing.T) {
	// Aliases nested three levels (pools x options x ips) make n^3
	// values from a file of size ~n; the decoder must stop at its budget.
	const n = 120
	ips := strings.TrimSuffix(strings.Repeat("1.1.1.1, ", n), ", ")
	opts := "&o {code: 250, ips: [" + ips + "]}" + strings.Repeat(", *o", n-1)
	pools := "    - &p {name: a, subnet: 10.0.0.0/24, options: [" + opts + "]}\n" + strings.Repeat("    - *p\n", n-1)
	in := "dhcpv4:\n  interfaces: [eth0]\n  pools:\n" + pools
	start := time.Now()
	_, err := Parse("bomb.yaml", []byte(in))
	if err == nil || !strings.Contains(err.Error(), "expand too far") {
		t.Errorf("err = %.300v, want the expansion limit", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %v", d)
	}
}

func TestErrorCap(t *testing.T) {
	in := doc("      dns: [" + strings.TrimSuffix(strings.Repeat("x, ", 1000), ", ") + "]")
	_, err := Parse("many.yaml", []byte(in))
	errs := Errors(err)
	if len(errs) != maxErrors+1 || errs[maxErrors].Error() != "many.yaml: more than 200 errors; fix these first" {
		t.Errorf("%d errors, last %v", len(errs), errs[len(errs)-1])
	}
}

func TestLoadErrors(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "missing.yaml"))
	var ce *Error
	if !errors.As(err, &ce) || !strings.Contains(ce.Error(), "missing.yaml: open") {
		t.Errorf("Load(missing) = %v", err)
	}
	p := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(p, []byte(doc("      gateway: 10.1.0.1")), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Load(p)
	if !errors.As(err, &ce) || ce.File != p || ce.Line != 6 || ce.Field != "dhcpv4.pools[0].gateway" ||
		ce.Msg != "10.1.0.1 is not inside subnet 10.0.0.0/24" {
		t.Errorf("Load(bad) = %#v", ce)
	}
}

func TestDuration(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want time.Duration
		str  string
	}{
		{"90s", 90 * time.Second, "1m30s"},
		{"1h", time.Hour, "1h"},
		{"2d", 48 * time.Hour, "2d"},
		{"1d12h", 36 * time.Hour, "1d12h"},
		{"1h30m", 90 * time.Minute, "1h30m"},
		{"52m30s", 52*time.Minute + 30*time.Second, "52m30s"},
		{"0", 0, "0s"},
		{"1d0h1s", 24*time.Hour + time.Second, "1d1s"},
	} {
		var d Duration
		if err := d.UnmarshalText([]byte(tt.in)); err != nil || d.D() != tt.want || d.String() != tt.str {
			t.Errorf("%q: got %v (%s), err %v; want %v (%s)", tt.in, d.D(), d, err, tt.want, tt.str)
		}
		var back Duration
		if err := back.UnmarshalText([]byte(d.String())); err != nil || back != d {
			t.Errorf("%q: round trip via %q gave %v, %v", tt.in, d, back, err)
		}
	}
	for _, bad := range []string{"", "3600", "-1h", "1x", "d", "1.5d", "99999999999d", "1d-1h", "+1h", "106751d23h47m17s"} {
		var d Duration
		if err := d.UnmarshalText([]byte(bad)); err == nil {
			t.Errorf("%q accepted as %v", bad, d.D())
		}
	}
}

func TestTextTypes(t *testing.T) {
	var m FileMode
	for in, want := range map[string]FileMode{"0600": 0o600, "600": 0o600, "0o660": 0o660, "0": 0} {
		if err := m.UnmarshalText([]byte(in)); err != nil || m != want {
			t.Errorf("FileMode %q = %v, %v", in, m, err)
		}
	}
	for _, bad := range []string{"", "0o", "1777", "abc", "0x1ff", "-1"} {
		if err := m.UnmarshalText([]byte(bad)); err == nil {
			t.Errorf("FileMode %q accepted", bad)
		}
	}
	var h HWAddr
	for in, want := range map[string]string{"52:54:00:12:34:56": "52:54:00:12:34:56", "52-54-00-12-34-56": "52:54:00:12:34:56", "525400123456": "52:54:00:12:34:56", "AB": "ab"} {
		if err := h.UnmarshalText([]byte(in)); err != nil || h.String() != want {
			t.Errorf("HWAddr %q = %v, %v", in, h, err)
		}
	}
	for _, bad := range []string{"", "5:54:00:12:34:56", "52:54:00:12:34:5g", strings.Repeat("00", 17)} {
		if err := h.UnmarshalText([]byte(bad)); err == nil {
			t.Errorf("HWAddr %q accepted", bad)
		}
	}
	var r AddrRange
	if err := r.UnmarshalText([]byte("10.0.0.1 - 10.0.0.9")); err != nil || r.String() != "10.0.0.1-10.0.0.9" || r.size() != 9 {
		t.Errorf("AddrRange = %v (%d), %v", r, r.size(), err)
	}
}

func TestWarnings(t *testing.T) {
	c, err := Parse("w.yaml", []byte(lines(
		"control: {http: \":8067\", token_file: /t}",
		"store: {fsync: false, allow_corrupt_middle: true}",
		"dhcpv4: {interfaces: [eth0], pools: [{name: a, subnet: 10.0.0.0/24}]}",
	)))
	if err != nil {
		t.Fatal(err)
	}
	if w := c.Warnings(); len(w) != 4 { // fsync, deprecated key, data loss, http
		t.Errorf("warnings %q, want 4", w)
	}
	c, err = Parse("w.yaml", []byte(doc()))
	if err != nil {
		t.Fatal(err)
	}
	if w := c.Warnings(); len(w) != 0 {
		t.Errorf("warnings %q for a default config", w)
	}
}

// TestAllowDataLoss: store.allow_data_loss is the override; the former
// store.allow_corrupt_middle still works, with a deprecation warning, and
// every warning names the keys as written in the file.
func TestAllowDataLoss(t *testing.T) {
	for _, tc := range []struct {
		store      string
		allowed    bool
		deprecated bool
	}{
		{"{}", false, false},
		{"{allow_data_loss: true}", true, false},
		{"{allow_corrupt_middle: true}", true, true},
		{"{allow_data_loss: false, allow_corrupt_middle: true}", true, true},
	} {
		c, err := Parse("w.yaml", []byte(lines(
			"store: "+tc.store,
			"dhcpv4: {interfaces: [eth0], pools: [{name: a, subnet: 10.0.0.0/24}]}",
		)))
		if err != nil {
			t.Fatal(err)
		}
		if c.Store.DataLossAllowed() != tc.allowed {
			t.Errorf("store %s: DataLossAllowed = %v", tc.store, !tc.allowed)
		}
		w := strings.Join(c.Warnings(), "\n")
		if got := strings.Contains(w, "store.allow_data_loss is true"); got != tc.allowed {
			t.Errorf("store %s: warnings %q", tc.store, w)
		}
		if got := strings.Contains(w, "store.allow_corrupt_middle is deprecated: it is now store.allow_data_loss"); got != tc.deprecated {
			t.Errorf("store %s: warnings %q", tc.store, w)
		}
		if strings.Contains(w, "Allow") {
			t.Errorf("store %s: a warning names a Go field: %q", tc.store, w)
		}
	}
}
