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
