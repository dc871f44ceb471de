package e2e

import (
	"net/netip"
	"testing"
	"time"
)

// TestDhclient6: ISC dhclient -6 (IA_NA) and -6 -P (IA_PD) against
// leased, each: obtain (Solicit … Reply), renew on its own at T1 = 10 s
// (RFC 8415 §18.2.4; hook RENEW6, same binding, later expiry in
// leasectl), release (`dhclient -6 -r`, §18.2.7) → leasectl released.
func TestDhclient6(t *testing.T) {
	t.Parallel() // waits on client timers, little CPU: see README.md
	for _, pd := range []bool{false, true} {
		name := "IA_NA"
		if pd {
			name = "IA_PD"
		}
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, "dhclient", "ss")
			srv := e.startLeased6(defaultConfig6())
			c := e.startDhclient6("dhclient6", pd)
			ev, n := c.waitEvent(15*time.Second, 0, "BOUND6")
			addr, prefix := checkBound6(e, ev, !pd, pd, dns6)
			want := prefix
			if !pd {
				want = netip.PrefixFrom(addr, 128)
				if prefix.IsValid() {
					e.fatalf("dhclient -6 without -P got a prefix %v", prefix)
				}
			} else if addr.IsValid() {
				e.fatalf("dhclient -6 -P got an address %v", addr)
			}
			l := srv.waitState6(want, "bound", 5*time.Second)
			if l.Pool != "office6" || l.IsPD() != pd {
				e.fatalf("leasectl: %+v, want pool office6, prefix %v", l, pd)
			}

			// dhclient renews by itself at T1 (10 s).
			ev, _ = c.waitEvent(25*time.Second, n, "RENEW6")
			a, p := checkBound6(e, ev, !pd, pd, dns6)
			if !pd && a != addr || pd && p != prefix {
				e.fatalf("renew gave %v %v, want %v", a, p, want)
			}
			srv.waitExpiry6After(want, l, 5*time.Second)

			c.release()
			c.waitEvent(10*time.Second, 0, "RELEASE6")
			srv.waitState6(want, "released", 5*time.Second)
			e.checkUnique6(srv.Leases6())
			srv.Stop()
			t.Logf("dhclient -6 hook: %s", c.reasons())
		})
	}
}
