package config

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
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
