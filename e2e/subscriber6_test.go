package e2e

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/leased/leased/internal/netns"
)

// TestSubscriberID6Class (issue #13): dhcpcd -6 ↔ ISC dhcrelay -6 -s ID
// (the relay adds a Subscriber-ID, option 38, RFC 4580) ↔ leased. The
// pool behind the relay admits only class cust (match subscriber_id
// exact cust-9), which also gives its own DNS server: with -s cust-9
// dhcpcd binds and gets it; with -s cust-8 it gets nothing.
func TestSubscriberID6Class(t *testing.T) {
	t.Parallel() // waits on client timers, little CPU: see README.md
	for _, id := range []string{"cust-9", "cust-8"} {
		t.Run(id, func(t *testing.T) {
			e := newEnvRelayed(t, "dhcpcd", "dhcrelay", "ss")
			cfg := defaultConfig6()
			cfg.Pools = append(cfg.Pools, Pool6{Name: "branch6", Subnet: "fd78::/64", DNS: []string{"fd78::53"},
				Ranges: [][2]string{{"fd78::1:0", "fd78::1:ffff"}}, Extra: "      allow: [cust]\n"})
			dir := e.path("leased")
			if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
				t.Fatal(err)
			}
			l := &Leased6{Leased: &Leased{e: e, cfgPath: filepath.Join(dir, "leased.yaml"),
				sock: filepath.Join(dir, "control.sock"), log: e.path("leased.log")}}
			e.addLog(l.log)
			y := defaultConfig().yaml(filepath.Join(dir, "data"), l.sock) + cfg.yaml()
			y = strings.Replace(y, "dhcpv6:\n", "dhcpv6:\n  client_classes:\n    - {name: cust, match: {subscriber_id: {exact: cust-9}}, dns: [\"fd78::99\"]}\n", 1)
			if err := os.WriteFile(l.cfgPath, []byte(y), 0o644); err != nil {
				t.Fatal(err)
			}
			l.Start6()

			log := e.path("dhcrelay.log")
			e.addLog(log)
			r := e.top.Relay
			if _, err := r.Start(log, "dhcrelay", "-6", "-d", "-I", "-s", id, "-pf", log+".pid",
				"-l", netns.RelayDownIf, "-u", netns.ServerPrefix6.Addr().String()+"%"+netns.RelayUpIf); err != nil {
				t.Fatal(err)
			}
			e.waitFor(10*time.Second, "dhcrelay to listen on port 547", func() bool {
				out, err := r.Run("ss", "-ulnH", "sport", "=", ":547")
				return err == nil && strings.TrimSpace(out) != ""
			})
			c := e.startDhcpcd6("dhcpcd6", dhcpcd6Opts{})
			if id == "cust-8" {
				time.Sleep(8 * time.Second) // Solicits at 0, ~1, ~3, ~7 s
				for _, ev := range c.events() {
					if ev.Reason == "BOUND6" {
						e.fatalf("subscriber-id cust-8 (not in class cust) bound: %v", ev.Vars)
					}
				}
				if ls := l.Leases6(); len(ls) != 0 {
					e.fatalf("bindings for a client outside class cust: %+v", ls)
				}
				c.stop()
				l.Stop()
				return
			}
			ev, _ := c.waitEvent(20*time.Second, 0, "BOUND6")
			addr, _, dns := ev.v6()
			if !netip.MustParsePrefix("fd78::1:0/112").Contains(addr) || dns != "fd78::99" {
				e.fatalf("BOUND6 with subscriber-id cust-9: address %v DNS %q; want branch6's range and class cust's fd78::99", addr, dns)
			}
			if b := l.waitState6(netip.PrefixFrom(addr, 128), "bound", 5*time.Second); b.Pool != "branch6" {
				e.fatalf("binding %+v, want pool branch6", b)
			}
			c.ctl("-k")
			c.stop()
			l.Stop()
		})
	}
}
