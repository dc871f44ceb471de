package config

import (
	"errors"
	"testing"
)

// A file with a dhcpv6 section and no dhcpv4 section is valid (DHCPv6-only
// deployment); one with neither is not, and the error names the file and
// line; a bad pool of a DHCPv6-only file is still reported with its line.
func TestDHCPv6Only(t *testing.T) {
	c, err := Parse("t.yaml", []byte(lines(
		"data_dir: /x",
		"dhcpv6:",
		"  interfaces: [eth0]",
		"  pools:",
		"    - name: b",
		"      subnet: fd77::/64",
	)))
	if err != nil {
		t.Fatal(err)
	}
	if c.HasDHCPv4() || !c.HasDHCPv6() {
		t.Errorf("HasDHCPv4 %v HasDHCPv6 %v", c.HasDHCPv4(), c.HasDHCPv6())
	}
	if l := c.Lease(); len(l.Pools) != 0 || l.LeaseTime <= 0 {
		t.Errorf("Lease() of a DHCPv6-only file: %+v", l)
	}
	if len(c.Lease6().Pools) != 1 {
		t.Errorf("Lease6() pools %+v", c.Lease6().Pools)
	}

	if c, err := Parse("t.yaml", []byte(doc())); err != nil || !c.HasDHCPv4() || c.HasDHCPv6() {
		t.Errorf("DHCPv4-only file: %v", err)
	}

	for _, tc := range []struct {
		name, in string
		want     Error
	}{
		{"neither", lines("data_dir: /x", "log_level: info"),
			Error{File: "t.yaml", Line: 1, Field: "dhcpv4", Msg: "required: a dhcpv4 section, a dhcpv6 section or both, each with at least interfaces and pools"}},
		{"bad v6 pool", lines("data_dir: /x", "dhcpv6:", "  interfaces: [eth0]", "  pools:", "    - name: b", "      subnet: 10.0.0.0/24"),
			Error{File: "t.yaml", Line: 6, Field: "dhcpv6.pools[0].subnet"}},
	} {
		_, err := Parse("t.yaml", []byte(tc.in))
		errs := Errors(err)
		if len(errs) != 1 {
			t.Errorf("%s: errors %v", tc.name, err)
			continue
		}
		e := errs[0]
		var ce *Error
		if !errors.As(err, &ce) || e.File != tc.want.File || e.Line != tc.want.Line || e.Field != tc.want.Field ||
			(tc.want.Msg != "" && e.Msg != tc.want.Msg) {
			t.Errorf("%s: got %s, want %s", tc.name, e, &tc.want)
		}
	}
}
