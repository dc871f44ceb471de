package lease6

import (
	"net/netip"
	"testing"
	"time"

	"github.com/leased/leased/dhcpv6"
	"github.com/leased/leased/lease"
)

// TestDeleteWhileValidQuarantined (issue #10 item 4): an address or
// delegated prefix whose binding is deleted or recycled before its valid
// lifetime ends may still be used by its client (RFC 8415 §14.2, §18.2.10.1:
// a client uses a binding until its valid lifetime ends), so it is given
// to no other client until then, also after a restart; then it is free.
func TestDeleteWhileValidQuarantined(t *testing.T) {
	for _, op := range []string{"delete", "recycle"} {
		t.Run(op, func(t *testing.T) {
			cfg := testConfig()
			cfg.Pools[0].Ranges = []Range{{Start: netip.MustParseAddr("fd77::1:0"), End: netip.MustParseAddr("fd77::1:3")}}
			cfg.Pools[0].PD = &PrefixPool{Prefix: netip.MustParsePrefix("fd77:100::/54"), Length: 56}
			e := newEngine(t, cfg)
			ias := bindClient(t, e, t0, duidA, na(1), pd(2))
			a, p := ias[0].Bindings[0].Addr, ias[1].Bindings[0].Prefix
			old := mustBound(t, e, a, duidA)
			now := t0.Add(10 * time.Minute)
			for _, x := range []netip.Addr{a, p.Addr()} {
				var d Decision
				var err error
				if op == "delete" {
					d, err = e.Delete(now, x)
				} else {
					d, err = e.Recycle(now, x, duidA)
				}
				if err != nil {
					t.Fatal(err)
				}
				if len(d.Persist) != 1 || d.Persist[0].State != lease.StateQuarantined || !d.Persist[0].Expiry.Equal(old.Expiry) ||
					string(d.Persist[0].ClientID) != string(duidA) {
					t.Fatalf("%v persisted %+v, want quarantined until %v", x, d.Persist, old.Expiry)
				}
			}
			e2 := newEngine(t, cfg)
			for l := range e.All() {
				e2.Restore(l)
			}
			for _, eng := range []*Engine{e, e2} {
				// Three other clients, hinting at the held address and
				// prefix, take the three other slots; a fourth gets none.
				for i := range 4 {
					duid := []byte{0, 3, 0, 1, 2, 0, 0, 0, 1, byte(i)}
					d := eng.Handle(now, msg(dhcpv6.Solicit, duid, na(1, a.String()), pd(2, p.String())))
					for _, r := range d.Reply.IAs {
						for _, b := range r.Bindings {
							if b.Addr == a || b.Prefix == p {
								t.Fatalf("client %d offered held %v %v", i, b.Addr, b.Prefix)
							}
						}
						if got := len(r.Bindings) == 0; got != (i == 3) {
							t.Fatalf("client %d: IA %+v", i, r)
						}
					}
				}
				if x := eng.Expire(old.Expiry.Add(-time.Second), 100); len(x.Persist) != 0 {
					t.Fatalf("freed early: %+v", x.Persist)
				}
				x := eng.Expire(old.Expiry, 100)
				if len(x.Persist) != 2 || x.Persist[0].State != lease.StateExpired || x.Persist[1].State != lease.StateExpired {
					t.Fatalf("at the old expiry: %+v", x.Persist)
				}
				got := bindClient(t, eng, old.Expiry.Add(time.Second), duidB, na(1), pd(2))
				if got[0].Bindings[0].Addr != a || got[1].Bindings[0].Prefix != p {
					t.Fatalf("after the quarantine a new client got %+v, want %v and %v", got, a, p)
				}
			}
		})
	}
}
