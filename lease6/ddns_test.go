package lease6

import (
	"testing"
	"time"

	"github.com/leased/leased/dhcpv6"
	"github.com/leased/leased/lease"
)

// TestDDNSKept: Request.DDNS is kept with each binding of the request,
// restored with it (a restart), and carried by the record that ends it.
func TestDDNSKept(t *testing.T) {
	e := newEngine(t, testConfig())
	d := e.Handle(t0, msg(dhcpv6.Solicit, duidA, na(1)))
	req := msg(dhcpv6.Request, duidA, asIA(d.Reply.IAs[0]))
	req.DDNS = lease.DDNSPTROnly
	d = e.Handle(t0, req)
	if len(d.Persist) != 1 || d.Persist[0].DDNS != lease.DDNSPTROnly {
		t.Fatalf("bound %+v", d.Persist)
	}
	a := d.Reply.IAs[0].Bindings[0].Addr
	e2 := newEngine(t, testConfig())
	for l := range e.All() {
		e2.Restore(l)
	}
	if l := mustBound(t, e2, a, duidA); l.DDNS != lease.DDNSPTROnly {
		t.Fatalf("restored %+v", l)
	}
	r := e2.Handle(t0.Add(time.Minute), msg(dhcpv6.Release, duidA, asIA(d.Reply.IAs[0])))
	if len(r.Persist) != 1 || r.Persist[0].State != lease.StateReleased || r.Persist[0].DDNS != lease.DDNSPTROnly {
		t.Fatalf("release after restore persisted %+v", r.Persist)
	}
}
