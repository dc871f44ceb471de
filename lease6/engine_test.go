package lease6

import (
	"testing"
	"time"

	"github.com/leased/leased/dhcpv6"
	"github.com/leased/leased/lease"
)

// RFC 8415 §18.3.1, §18.3.2, §18.3.4, §18.3.7: the basic life of a
// dual IA_NA + IA_PD client.
func TestSolicitRequestRenewRelease(t *testing.T) {
	e := newEngine(t, testConfig())
	ias := bindClient(t, e, t0, duidA, na(1), pd(2))
	if len(ias) != 2 || len(ias[0].Bindings) != 1 || len(ias[1].Bindings) != 1 {
		t.Fatalf("IAs = %+v", ias)
	}
	a, pfx := ias[0].Bindings[0].Addr, ias[1].Bindings[0].Prefix
	if a.String() != "fd77::1:0" || pfx.String() != "fd77:100::/56" {
		t.Fatalf("bound %v %v", a, pfx)
	}
	if ias[0].T1 != 30*time.Minute || ias[0].T2 != 48*time.Minute || ias[0].Bindings[0].Valid != 2*time.Hour {
		t.Errorf("times %+v", ias[0])
	}
	l := mustBound(t, e, a, duidA)
	if l.IAID != 1 || l.PrefixLen != 0 || l.GIAddr != peerA || !l.Preferred.Equal(t0.Add(time.Hour)) {
		t.Errorf("lease %+v", l)
	}
	lp := mustBound(t, e, pfx.Addr(), duidA)
	if lp.PrefixLen != 56 || lp.IAID != 2 {
		t.Errorf("pd lease %+v", lp)
	}

	t1 := t0.Add(30 * time.Minute)
	d := e.Handle(t1, msg(dhcpv6.Renew, duidA, asIA(ias[0]), asIA(ias[1])))
	if !d.HasReply || len(d.Persist) != 2 || d.Reply.IAs[0].Bindings[0].Valid != 2*time.Hour {
		t.Fatalf("Renew: %+v", d)
	}
	if l := mustBound(t, e, a, duidA); !l.Expiry.Equal(t1.Add(2 * time.Hour)) {
		t.Errorf("renewed expiry %v", l.Expiry)
	}

	d = e.Handle(t1, msg(dhcpv6.Release, duidA, asIA(ias[0])))
	if !d.HasReply || !d.Reply.HasStatus || d.Reply.Status != dhcpv6.StatusSuccess || len(d.Persist) != 1 {
		t.Fatalf("Release: %+v", d)
	}
	if l, _ := e.Lookup(a); l.State != lease.StateReleased {
		t.Errorf("after release: %v", l.State)
	}
	// A returning client gets its previous address back (§18.3.1).
	ias2 := bindClient(t, e, t1, duidA, na(1))
	if ias2[0].Bindings[0].Addr != a {
		t.Errorf("returning client got %v, want %v", ias2[0].Bindings[0].Addr, a)
	}
}
