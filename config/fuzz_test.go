package config

import (
	"errors"
	"fmt"
	"os"
	"testing"
	"time"
)

// FuzzParse: Parse never panics, returns either a config or *Error values,
// and a config it accepts converts to the engine's form.
func FuzzParse(f *testing.F) {
	example, err := os.ReadFile("../examples/leased.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(example)
	// Invalid snippets, one per family of error.
	for _, s := range []string{
		"",
		"dhcpv4: {}",
		"- a\n- b\n",
		"dhcpv4:\n  interfaces: [eth0\n",
		doc("      gatway: 10.0.0.1"),
		doc("      gateway: 10.1.0.1"),
		doc("      sections: [{index: 0, start: 10.0.0.9, end: 10.0.0.1}, {index: 0, start: 10.0.0.5, end: 10.0.0.6}]"),
		doc("      exclude: [10.0.0.0-10.0.0.255, 10.0.0.9-10.0.0.3]"),
		doc("      reservations: [{hwaddr: \"52:54:00:00:00:01\", address: 10.0.0.10}, {client_id: 01, address: 10.0.0.10}]"),
		doc("      options: [{code: 53, hex: \"01\"}, {code: 250, text: x, ips: [1.2.3.4]}]"),
		doc("      lease_time: 30s\n      t1: 2d\n      t2: 1d"),
		doc("      mtu: 67\n      routes: [{dest: 10.0.0.5/8}]"),
		"x: &x [a, b]\ny: &y [*x, *x]\ndhcpv4: {interfaces: *y, pools: [{<<: *x}]}\n",
		"dhcpv4: {interfaces: [eth0], pools: [{name: a, subnet: 10.0.0.0/24}, {name: a, subnet: 10.0.0.0/25, relays: [10.0.0.1]}]}\n",
		"control: {http: \"[::1]:80\", socket_mode: 0o777}\nstore: {fsync: false, compact_every: -1}\n",
		// DHCPv6: a valid section, then overlaps, bad PD lengths, bad DUIDs.
		doc("dhcpv6:", "  interfaces: [eth0]", "  pools:", "    - {name: b, subnet: \"fd77::/64\", ranges: [{start: \"fd77::1:0\", end: \"fd77::1:ffff\"}], prefix_delegation: {prefix: \"fd77:100::/40\", length: 56}, reservations: [{duid: \"000300015254\", address: \"fd77::5\", prefix: \"fd77:100:ff:ff00::/56\"}]}"),
		doc("dhcpv6:", "  interfaces: [eth0]", "  pools:", "    - {name: a, subnet: \"fd77::/48\", ranges: [{start: \"fd77::9\", end: \"fd77::1\"}], prefix_delegation: {prefix: \"fd77::/40\", length: 200}}", "    - {name: c, subnet: \"fd77:0:0:1::/64\", links: [\"10.0.0.1\"], reservations: [{duid: \"0\"}]}"),
		doc("dhcpv6:", "  interfaces: [eth0]", "  t1: 1h", "  pools: [{name: b, subnet: \"::/0\", prefix_delegation: {prefix: \"::/0\", length: 128}, options: [{code: 65535, ips: [\"::\"]}], reconfigure: {message: rebind, force: true}}]"),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if os.Getenv("CONFIG_FUZZ_WATCHDOG") != "" {
			w := time.AfterFunc(3*time.Second, func() { panic(fmt.Sprintf("slow input %q", data)) })
			defer w.Stop()
		}
		c, err := Parse("fuzz.yaml", data)
		if err != nil {
			if c != nil {
				t.Fatal("config and error both returned")
			}
			errs := Errors(err)
			if len(errs) == 0 {
				t.Fatalf("error without *config.Error: %v", err)
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("errors.As failed on %v", err)
			}
			return
		}
		lc := c.Lease()
		if len(lc.Pools) == 0 || lc.LeaseTime < 60e9 {
			t.Fatalf("accepted config without pools or with a short lease: %+v", lc)
		}
		l6 := c.Lease6()
		if c.HasDHCPv6() != (len(l6.Pools) > 0) || (c.HasDHCPv6() && (l6.Valid < 60e9 || l6.Preferred > l6.Valid)) {
			t.Fatalf("accepted dhcpv6 without pools or with bad lifetimes: %+v", l6)
		}
		for _, p := range l6.Pools {
			if !p.Subnet.Addr().Is6() || p.Name == "" || p.Preferred > p.Valid || p.T1 > p.T2 && p.T2 != 0 {
				t.Fatalf("accepted bad v6 pool %+v", p)
			}
			for _, r := range p.Ranges {
				if !p.Subnet.Contains(r.Start) || !p.Subnet.Contains(r.End) || r.Start.Compare(r.End) > 0 {
					t.Fatalf("accepted bad range %+v in %s", r, p.Subnet)
				}
			}
			if p.PD != nil && (p.PD.Length <= p.PD.Prefix.Bits() || p.PD.Length > 128 || p.PD.Length-p.PD.Prefix.Bits() > 64) {
				t.Fatalf("accepted bad prefix delegation %+v", *p.PD)
			}
		}
		for _, p := range lc.Pools {
			if !p.Subnet.IsValid() || p.Name == "" {
				t.Fatalf("accepted pool without subnet or name: %+v", p)
			}
			for _, s := range p.Sections {
				if !p.Subnet.Contains(s.Start) || !p.Subnet.Contains(s.End) || s.Start.Compare(s.End) > 0 {
					t.Fatalf("accepted bad section %+v in %s", s, p.Subnet)
				}
			}
			for _, o := range p.RawOptions {
				if len(o.Data) > 255 {
					t.Fatalf("accepted option %d of %d bytes", o.Code, len(o.Data))
				}
			}
		}
	})
}
