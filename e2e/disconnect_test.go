package e2e

import (
	"strings"
	"testing"
	"time"
)

// TestDisconnectNotCapable (issue #10 item 4): busybox udhcpc ignores
// FORCERENEW. `leasectl disconnect` deletes its binding at once, but
// udhcpc keeps using the address, so leased holds it (state quarantined,
// until the old expiry) instead of giving it to the next client: the
// campaign says deleted with the client not capable, leasectl says so and
// until when, and a second client (dhcpcd in another namespace) gets no
// address from the one-address pool. Before the fix the address was free
// at once and dhcpcd bound it while udhcpc still used it.
func TestDisconnectNotCapable(t *testing.T) {
	t.Parallel() // waits on client timers, little CPU: see README.md
	e := newEnv(t, "udhcpc", "dhcpcd", "ss")
	cfg := defaultConfig()
	cfg.LeaseTime, cfg.T1, cfg.T2 = "10m", "5m", "8m" // no renewal during the test
	cfg.Pools[0].Sections = [][2]string{{"10.77.1.10", "10.77.1.10"}}
	srv := e.startLeased(cfg)
	uc := e.startUdhcpcIn("udhcpc", e.clientNS(0))
	ev, nU := uc.waitEvent(30*time.Second, 0, "bound")
	a := ev.addr()
	before := srv.waitState(a, "bound", 5*time.Second)

	code, out, errs := srv.leasectl("disconnect", a.String())
	t.Logf("leasectl disconnect (exit %d):\n%s%s", code, out, errs)
	// First the harm the fix prevents: another client getting the address.
	dc := e.startDhcpcdInConf("dhcpcd", e.clientNS(1), "")
	neverEvent(e, dc.events, 8*time.Second, "BOUND", "a second client while the disconnected client's address is held")

	until := before.Expires.UTC().Format(time.RFC3339)
	if code != 0 || !strings.Contains(out, a.String()+" is not capable (it ignores FORCERENEW/Reconfigure), outcome deleted: its lease was deleted; the address is held (quarantined) until "+until) {
		e.fatalf("disconnect: exit %d, stdout %q, stderr %q; want it to say not capable, deleted, held until %s", code, out, errs, until)
	}
	if cl := srv.campaignClients(1); cl[a].Outcome != "deleted" || cl[a].Capable {
		e.fatalf("campaign clients %+v, want %v deleted and not capable", cl, a)
	}
	held := srv.waitState(a, "quarantined", 3*time.Second)
	if !held.Expires.Equal(before.Expires) || held.HWAddr != before.HWAddr {
		e.fatalf("held lease %+v, want udhcpc's until %v", held, before.Expires)
	}

	if l, ok := srv.Lease(a); !ok || l.State != "quarantined" || l.HWAddr != before.HWAddr {
		e.fatalf("lease %v after the second client: %+v", a, l)
	}
	// udhcpc got nothing (it ignores FORCERENEW) and still has its address.
	for _, ev := range uc.events()[nU:] {
		if ev.Reason != "bound" && ev.Reason != "renew" {
			e.fatalf("udhcpc hook after the disconnect: %s", uc.reasons())
		}
	}
	srv.Stop()
}
