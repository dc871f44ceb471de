package lease6

import (
	"net/netip"
	"testing"

	"github.com/leased/leased/dhcpv6"
)

// RFC 8415 §18.3.2: "If any of the prefixes of the included addresses are
// not appropriate for the link to which the client is connected, the
// server MUST return the IA to the client with a Status Code option ...
// with the value NotOnLink." Only that IA: the others of the Request are
// bound; an in-subnet hint outside the ranges, or ::, is only a hint.
func TestRequestNotOnLink(t *testing.T) {
	e := newEngine(t, testConfig())
	d := e.Handle(t0, msg(dhcpv6.Request, duidA,
		na(1, "fd77::1:5", "fd99::1"), na(2, "fd77::9"), na(3, "::"), pd(4, "2001:db8::/56")))
	r := d.Reply.IAs
	if !d.HasReply || len(r) != 4 {
		t.Fatalf("%+v", d)
	}
	if !r[0].HasStatus || r[0].Status != dhcpv6.StatusNotOnLink || len(r[0].Bindings) != 0 {
		t.Errorf("IA with an off-link address: %+v", r[0])
	}
	for i := 1; i < 4; i++ {
		if r[i].HasStatus || len(r[i].Bindings) != 1 || r[i].Bindings[0].Valid == 0 {
			t.Errorf("IA %d: %+v", r[i].IAID, r[i])
		}
	}
	if a := r[1].Bindings[0].Addr; !netip.MustParsePrefix("fd77::/64").Contains(a) {
		t.Errorf("IA 2 bound %v", a)
	}
	if len(d.Persist) != 3 {
		t.Errorf("%d records persisted, want 3 (none for the NotOnLink IA)", len(d.Persist))
	}
	for _, l := range d.Persist {
		if l.IAID == 1 {
			t.Errorf("NotOnLink IA bound: %+v", l)
		}
	}
	// A Solicit's off-link hint is ignored (§18.3.1), not refused.
	d = e.Handle(t0, msg(dhcpv6.Solicit, duidB, na(1, "fd99::1")))
	if ia := d.Reply.IAs[0]; ia.HasStatus || len(ia.Bindings) != 1 {
		t.Errorf("Solicit with an off-link hint: %+v", ia)
	}
}
