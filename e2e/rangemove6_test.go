package e2e

import (
	"net/netip"
	"testing"
	"time"
)

// TestDhcpcd6RangeMove: the operator moves office6's address range and
// delegation prefix and reloads; a Reconfigure campaign makes dhcpcd -6
// renew, leased answers the Renew for bindings that are no longer valid
// with lifetime 0 (RFC 8415 §18.3.4) and offers nothing new in it, so
// dhcpcd drops them and solicits again; it binds an address and a prefix
// of the new range and leasectl shows them bound.
func TestDhcpcd6RangeMove(t *testing.T) {
	e := newEnv(t, "dhcpcd", "ss")
	cfg := defaultConfig6()
	cfg.T1, cfg.T2 = "50s", "55s"
	srv := e.startLeased6(cfg)
	c := e.startDhcpcd6("dhcpcd6", dhcpcd6Opts{PD: true})
	ev, n := c.waitEvent(15*time.Second, 0, "BOUND6")
	old, oldPD := checkBound6(e, ev, true, true, dns6)
	srv.waitState6(netip.PrefixFrom(old, 128), "bound", 5*time.Second)

	newRange := netip.MustParsePrefix("fd77::2:0/112")
	newPD := netip.MustParsePrefix("fd77:200::/40")
	cfg.Pools[0].Ranges = [][2]string{{"fd77::2:0", "fd77::2:ffff"}}
	cfg.Pools[0].PD = newPD.String()
	srv.writeConfig6(cfg)
	srv.reload()

	code, out, errs := srv.leasectl(reconfigureStartArgs("office6")...)
	t.Logf("campaign (exit %d):\n%s%s", code, out, errs)
	if code != 0 {
		e.fatalf("campaign after the range move: exit %d, want 0 (the client came back)", code)
	}
	var a netip.Addr
	var p netip.Prefix
	e.waitFor(30*time.Second, "dhcpcd to bind an address and a prefix of the new range", func() bool {
		evs := c.events()
		for i := n; i < len(evs); i++ {
			if evs[i].Reason == "BOUND6" || evs[i].Reason == "RENEW6" || evs[i].Reason == "REBIND6" {
				x, y, _ := evs[i].v6()
				if newRange.Contains(x) && newPD.Contains(y.Addr()) && y.Bits() == 56 {
					a, p = x, y
					return true
				}
			}
		}
		return false
	})
	l := srv.waitState6(netip.PrefixFrom(a, 128), "bound", 5*time.Second)
	lp := srv.waitState6(p, "bound", 5*time.Second)
	if l.Pool != "office6" || lp.Pool != "office6" {
		e.fatalf("new bindings %+v %+v, want office6", l, lp)
	}
	for _, x := range srv.Leases6() {
		if x.State == "bound" && (x.Prefix() == netip.PrefixFrom(old, 128) || x.Prefix() == oldPD) {
			e.fatalf("the old binding %v is still bound: %+v", x.Prefix(), x)
		}
	}
	srv.Stop()
	t.Logf("dhcpcd -6 hook: %s", c.reasons())
}
