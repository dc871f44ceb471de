package config

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/leased/leased/lease6"
)

// Global options, interface_id, shared_network, max_length and per-host
// options reach the engine's configuration.
func TestDHCPv6LinkSelectionAndOptions(t *testing.T) {
	in := lines(
		"dhcpv6:",
		"  interfaces: [eth0]",
		"  dns: [\"fd00::53\"]",
		"  domain_search: [example.net.]",
		"  ntp: [\"fd00::123\"]",
		"  options: [{code: 64, text: aftr.example.net}]",
		"  pools:",
		"    - name: a",
		"      subnet: fd77::/64",
		"      interface_id: ge-0/0/7",
		"      shared_network: campus",
		"      prefix_delegation: {prefix: \"fd77:100::/40\", length: 56, max_length: 60}",
		"      reservations:",
		"        - {duid: \"000300015254\", address: \"fd77::5\", dns: [\"fd77::53\"], options: [{code: 64, text: other}]}",
		"    - name: b",
		"      subnet: fd78::/64",
		"      shared_network: campus",
		"      dns: [\"fd78::53\"]",
		"      prefix_delegation: {prefix: \"fd78:100::/40\", length: 48}",
	)
	c, err := Parse("t.yaml", []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	l := c.Lease6()
	if !slices.Equal(l.DNS, []netip.Addr{netip.MustParseAddr("fd00::53")}) || !slices.Equal(l.DomainSearch, []string{"example.net"}) ||
		len(l.NTP) != 1 || len(l.RawOptions) != 1 || string(l.RawOptions[0].Data) != "aftr.example.net" {
		t.Fatalf("global options: %+v", l)
	}
	a, b := l.Pools[0], l.Pools[1]
	if !slices.Equal(a.DNS, l.DNS) || len(a.RawOptions) != 1 || !slices.Equal(b.DNS, []netip.Addr{netip.MustParseAddr("fd78::53")}) {
		t.Fatalf("pools inherit the global options they do not set: %+v %+v", a.DNS, b.DNS)
	}
	if string(a.InterfaceID) != "ge-0/0/7" || a.SharedNetwork != "campus" || b.SharedNetwork != "campus" {
		t.Fatalf("link selection: %+v %+v", a, b)
	}
	if a.PD.MaxLength != 60 || b.PD.MaxLength != 64 {
		t.Fatalf("max_length: %d %d", a.PD.MaxLength, b.PD.MaxLength)
	}
	r := a.Reservations[0]
	if !slices.Equal(r.DNS, []netip.Addr{netip.MustParseAddr("fd77::53")}) || len(r.RawOptions) != 1 || string(r.RawOptions[0].Data) != "other" {
		t.Fatalf("reservation options: %+v", r)
	}
}

func TestInvalidLinkSelection6(t *testing.T) {
	in := lines(
		"dhcpv6:",
		"  interfaces: [eth0]",
		"  options: [{code: 23, hex: \"00\"}]",
		"  domain_search: [\"a..b\"]",
		"  pools:",
		"    - name: a",
		"      subnet: fd77::/64",
		"      interface_id: port1",
		"      shared_network: \"x y\"",
		"      prefix_delegation: {prefix: \"fd77:100::/40\", length: 56, max_length: 48}",
		"      reservations: [{duid: \"000300015254\", address: \"fd77::5\", options: [{code: 64}]}]",
		"    - name: b",
		"      subnet: fd78::/64",
		"      interface_id: port1",
	)
	_, err := Parse("t.yaml", []byte(in))
	var got []string
	for _, e := range Errors(err) {
		got = append(got, e.Error())
	}
	want := []string{
		`t.yaml:3: dhcpv6.options[0].code: option 23 (DNS servers) is set with dns; choose another code`,
		`t.yaml:4: dhcpv6.domain_search[0]: "a..b" is not a domain name; e.g. example.net`,
		`t.yaml:14: dhcpv6.pools[1].interface_id: "port1" already selects dhcpv6.pools[0] (a); an interface-id selects one pool`,
		`t.yaml:9: dhcpv6.pools[0].shared_network: "x y": use letters, digits, '-', '_' or '.', no spaces or '/'`,
		`t.yaml:10: dhcpv6.pools[0].prefix_delegation.max_length: 48: want length (56) to 128, e.g. 64`,
		`t.yaml:11: dhcpv6.pools[0].reservations[0].options[0]: needs a value: one of hex, text, ip or ips`,
	}
	slices.Sort(want)
	slices.Sort(got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("errors (-want +got):\n%s\n%s", diff, strings.Join(got, "\n"))
	}
}

func TestClasses6(t *testing.T) {
	in := lines(
		"dhcpv6:",
		"  interfaces: [eth0]",
		"  client_classes:",
		"    - {name: ipxe, match: {user_class: {exact: iPXE}}, options: [{code: 59, text: \"http://b/x\"}]}",
		"    - {name: oui, match: {duid: {prefix: \"0x00030001525400\"}, remote_id: {exact: \"olt1:7\"}, subscriber_id: {prefix: \"cust-\"}, interface_id: {regex: \"^ge-\"}}, dns: [\"fd00::1\"]}",
		"  pools:",
		"    - {name: a, subnet: fd77::/64, allow: [ipxe, known], deny: [oui]}",
	)
	c, err := Parse("t.yaml", []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	l := c.Lease6()
	if len(l.Classes) != 2 || l.Classes[0].Match.UserClass.Value == nil || string(l.Classes[0].RawOptions[0].Data) != "http://b/x" {
		t.Fatalf("classes: %+v", l.Classes)
	}
	m := l.Classes[1].Match
	if m.DUID.Op != lease6.OpPrefix || len(m.DUID.Value) != 7 || m.RemoteID.Op != lease6.OpExact || string(m.RemoteID.Value) != "olt1:7" ||
		m.InterfaceID.Op != lease6.OpRegex || !m.InterfaceID.Re.MatchString("ge-0/0/1") ||
		m.SubscriberID.Op != lease6.OpPrefix || string(m.SubscriberID.Value) != "cust-" {
		t.Fatalf("oui match: %+v", m)
	}
	if !slices.Equal(l.Pools[0].Allow, []string{"ipxe", "known"}) || !slices.Equal(l.Pools[0].Deny, []string{"oui"}) {
		t.Fatalf("pool access: %+v", l.Pools[0])
	}

	in = lines(
		"dhcpv6:",
		"  interfaces: [eth0]",
		"  client_classes:",
		"    - {name: known, match: {user_class: {exact: x}}}",
		"    - {name: a, match: {}}",
		"    - {name: a, match: {duid: {exact: a, prefix: b}, vendor_class: {regex: \"(\"}}}",
		"  pools:",
		"    - {name: p, subnet: fd77::/64, allow: [nope]}",
	)
	_, err = Parse("t.yaml", []byte(in))
	var got []string
	for _, e := range Errors(err) {
		got = append(got, e.Error())
	}
	want := []string{
		`t.yaml:4: dhcpv6.client_classes[0].name: "known" is built in (the client has a reservation in the pool, or not); choose another name`,
		`t.yaml:5: dhcpv6.client_classes[1].match: required: at least one of duid, vendor_class, user_class, remote_id, subscriber_id, interface_id`,
		`t.yaml:6: dhcpv6.client_classes[2].name: "a" is already dhcpv6.client_classes[1]`,
		`t.yaml:6: dhcpv6.client_classes[2].match.duid: give exactly one of exact, prefix, substring or regex`,
		"t.yaml:6: dhcpv6.client_classes[2].match.vendor_class.regex: \"(\" is not a regular expression: error parsing regexp: missing closing ): `(`",
		`t.yaml:8: dhcpv6.pools[0].allow[0]: "nope" is not a class; define it under dhcpv6.client_classes, or use known or unknown`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
}

// A dhcpv6 section with global options and no pool is a stateless server
// (RFC 3736); without either it is an error.
func TestStatelessOnly6(t *testing.T) {
	c, err := Parse("t.yaml", []byte(lines("dhcpv6:", "  interfaces: [eth0]", "  dns: [\"fd00::53\"]")))
	if err != nil {
		t.Fatal(err)
	}
	if l := c.Lease6(); len(l.Pools) != 0 || len(l.DNS) != 1 {
		t.Fatalf("stateless: %+v", l)
	}
	_, err = Parse("t.yaml", []byte(lines("dhcpv6:", "  interfaces: [eth0]")))
	if err == nil || !strings.Contains(err.Error(), "dhcpv6.pools: required") {
		t.Fatalf("no pools and no options: %v", err)
	}
}
