package lease6

import (
	"net/netip"
	"testing"
	"time"

	"github.com/leased/leased/dhcpv6"
	"github.com/leased/leased/lease"
)

// TestAdopt: engine B holds a stale binding of client A; the row another
// server wrote for client B on that address (with a lower Seq than B's
// record) replaces it, B's Advertise of the address to a third client is
// withdrawn, and B's next decision has a Seq past the adopted one.
func TestAdopt(t *testing.T) {
	cfg := testConfig()
	a, b := newEngine(t, cfg), newEngine(t, cfg)
	ias := bindClient(t, b, t0, duidA, na(1))
	addr := ias[0].Bindings[0].Addr
	for range 5 { // raise b's seqs above a's
		b.Handle(t0, msg(dhcpv6.Renew, duidA, na(1, addr.String())))
	}
	// Engine a knows nothing of that; it binds duidB to the same address
	// (the database would have refused it if duidA's lease were live
	// there; here it expired and was freed elsewhere).
	row := lease.Lease{Addr: addr, State: lease.StateBound, ClientID: duidB, IAID: 1, Pool: "office6",
		Start: t0, Expiry: t0.Add(2 * time.Hour), Preferred: t0.Add(time.Hour), Seq: 1}
	a.Restore(row)
	got, _ := a.Lookup(addr)
	if string(got.ClientID) != string(duidB) {
		t.Fatalf("a: %x", got.ClientID)
	}
	cur, _ := b.Lookup(addr)
	if cur.Seq <= row.Seq {
		t.Fatalf("test setup: b's seq %d not above the row's %d", cur.Seq, row.Seq)
	}
	b.Restore(row) // Restore keeps the higher Seq: nothing changes
	if l, _ := b.Lookup(addr); string(l.ClientID) != string(duidA) {
		t.Fatalf("Restore replaced a newer record")
	}
	b.Adopt(row)
	mustBound(t, b, addr, duidB)
	// duidA's renewal of the address is no longer answered with it.
	d := b.Handle(t0.Add(time.Minute), msg(dhcpv6.Renew, duidA, na(1, addr.String())))
	for _, ia := range d.Reply.IAs {
		for _, bd := range ia.Bindings {
			if bd.Addr == addr && bd.Valid > 0 {
				t.Fatalf("after Adopt, duidA's Renew still gets %v", addr)
			}
		}
	}
	if len(d.Persist) > 0 && d.Persist[0].Seq <= cur.Seq {
		t.Errorf("next seq %d not past %d", d.Persist[0].Seq, cur.Seq)
	}

	// An Advertise held for a third client is withdrawn by an adopted
	// row that holds the address.
	duidC := []byte{0, 3, 0, 1, 2, 0, 0, 0, 0, 0xc}
	adv := b.Handle(t0, msg(dhcpv6.Solicit, duidC, na(7)))
	offered := adv.Reply.IAs[0].Bindings[0].Addr
	b.Adopt(lease.Lease{Addr: offered, State: lease.StateBound, ClientID: duidB, IAID: 2, Pool: "office6",
		Start: t0, Expiry: t0.Add(2 * time.Hour), Preferred: t0.Add(time.Hour), Seq: 1})
	rep := b.Handle(t0, msg(dhcpv6.Request, duidC, na(7, offered.String())))
	for _, ia := range rep.Reply.IAs {
		for _, bd := range ia.Bindings {
			if bd.Addr == offered && bd.Valid > 0 {
				t.Fatalf("the withdrawn Advertise of %v was bound to duidC", offered)
			}
		}
	}
	mustBound(t, b, offered, duidB)
	// Not a DHCPv6 row: ignored.
	b.Adopt(lease.Lease{Addr: netip.MustParseAddr("10.0.0.1"), State: lease.StateBound, ClientID: duidB})
}
