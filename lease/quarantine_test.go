package lease

import (
	"net/netip"
	"testing"
	"time"

	"github.com/leased/leased/dhcpv4"
)

// TestDeleteWhileValidQuarantined (issue #10 item 4): an address whose
// binding is deleted (operator, campaign on-failure delete) or recycled
// while its lease is valid may still be in use by its client (udhcpc and
// dhclient ignore FORCERENEW), so it is not offered to another client
// until the old lease would have expired, also after a restart; then it
// is free again.
func TestDeleteWhileValidQuarantined(t *testing.T) {
	for _, op := range []string{"delete", "recycle"} {
		t.Run(op, func(t *testing.T) {
			cfg := lanConfig()
			cfg.Pools[0].Sections = cfg.Pools[0].Sections[1:] // .10-.19 only
			e := newEngine(t, cfg)
			a := dora(t, e, t0, discover(mac(1)))
			l, _ := e.Lookup(a)
			now := t0.Add(10 * time.Minute)
			var d Decision
			var err error
			if op == "delete" {
				d, err = e.Delete(now, a)
			} else {
				d, err = e.Recycle(now, a, l.ClientID)
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(d.Persist) != 1 || d.Persist[0].State != StateQuarantined || !d.Persist[0].Expiry.Equal(l.Expiry) ||
				string(d.Persist[0].ClientID) != string(l.ClientID) {
				t.Fatalf("persisted %+v, want quarantined until %v with the client", d.Persist, l.Expiry)
			}
			// A restarted engine restores the quarantine from the store.
			e2 := newEngine(t, cfg)
			for x := range e.All() {
				e2.Restore(x)
			}
			for _, eng := range []*Engine{e, e2} {
				if ps := eng.Pools(now); ps[0].Declined != 1 || ps[0].Bound != 0 {
					t.Fatalf("pools %+v: want the address held out", ps[0])
				}
				// Every other client, asking for it or not, gets another address.
				for i := range 9 {
					req := discover(mac(10 + i))
					req.RequestedIP = a
					o := eng.Handle(now, req)
					if !o.HasReply || o.Reply.YIAddr == a {
						t.Fatalf("client %d: %+v (quarantined %v offered, or none)", i, o.Reply, a)
					}
				}
				wantDrop(t, eng.Handle(now, discover(mac(30))), DropPoolExhausted)
				wantReply(t, eng.Handle(now, selecting(mac(31), a)), dhcpv4.Nak, netip.Addr{})
				if x := eng.Expire(l.Expiry.Add(-time.Second), 100); len(x.Persist) != 0 {
					t.Fatalf("freed early: %+v", x.Persist)
				}
				x := eng.Expire(l.Expiry, 100)
				if len(x.Persist) != 1 || x.Persist[0].Addr != a || x.Persist[0].State != StateExpired {
					t.Fatalf("at the old expiry: %+v, want %v expired", x.Persist, a)
				}
				wantReply(t, eng.Handle(l.Expiry.Add(time.Second), selecting(mac(31), a)), dhcpv4.Ack, a)
			}
		})
	}
}

// TestDeleteQuarantinedOrExpired: deleting a quarantined record (the
// operator insists) or a lease past its expiry leaves a tombstone and the
// address is free at once.
func TestDeleteQuarantinedOrExpired(t *testing.T) {
	e := newEngine(t, lanConfig())
	a := dora(t, e, t0, discover(mac(1)))
	b := dora(t, e, t0, discover(mac(2)))
	if d, _ := e.Delete(t0, a); d.Persist[0].State != StateQuarantined {
		t.Fatalf("first delete %+v", d.Persist)
	}
	if d, _ := e.Delete(t0, a); d.Persist[0].State != StateDeleted {
		t.Fatalf("second delete %+v", d.Persist)
	}
	wantReply(t, e.Handle(t0, selecting(mac(3), a)), dhcpv4.Ack, a)
	late := t0.Add(2 * time.Hour) // past b's expiry, Expire not run yet
	if d, _ := e.Delete(late, b); d.Persist[0].State != StateDeleted {
		t.Fatalf("delete after expiry %+v", d.Persist)
	}
}
