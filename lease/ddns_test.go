package lease

import (
	"testing"
	"time"

	"github.com/leased/leased/dhcpv4"
)

// TestDDNSKept: the engine keeps Request.DDNS with the binding: on the
// bound record, on the records that end it (release, expiry), in its
// state (Leases, the compaction source) and across Restore (a restart).
func TestDDNSKept(t *testing.T) {
	e := newEngine(t, lanConfig())
	req := discover(mac(1))
	req.DDNS = DDNSPTROnly
	a := dora(t, e, t0, req)
	if ls := e.Leases(Filter{}); len(ls) != 1 || ls[0].DDNS != DDNSPTROnly {
		t.Fatalf("engine state %+v", ls)
	}
	// A restart: a new engine restored from the records.
	e2 := newEngine(t, lanConfig())
	for _, l := range e.Leases(Filter{}) {
		e2.Restore(l)
	}
	rel := msg(dhcpv4.Release, mac(1))
	rel.CIAddr, rel.ServerID, rel.ServerIDOurs = a, srv, true
	d := e2.Handle(t0.Add(time.Minute), rel)
	if len(d.Persist) != 1 || d.Persist[0].State != StateReleased || d.Persist[0].DDNS != DDNSPTROnly {
		t.Fatalf("release after restore persisted %+v", d.Persist)
	}
	// Expiry carries it too; a renewal with another mode replaces it.
	req = discover(mac(2))
	req.DDNS = DDNSNone
	b := dora(t, e2, t0, req)
	x := e2.Expire(t0.Add(2*time.Hour), 10)
	if len(x.Persist) != 1 || x.Persist[0].Addr != b || x.Persist[0].DDNS != DDNSNone {
		t.Fatalf("expiry persisted %+v", x.Persist)
	}
	req = discover(mac(3))
	req.DDNS = DDNSPTROnly
	c := dora(t, e2, t0, req)
	r := renew(mac(3), c, true)
	if d := e2.Handle(t0.Add(time.Minute), r); len(d.Persist) != 1 || d.Persist[0].DDNS != DDNSBoth {
		t.Fatalf("renewal with mode both persisted %+v", d.Persist)
	}
}
