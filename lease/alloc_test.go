package lease

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/leased/leased/dhcpv4"
)

// TestDecisionAllocs bounds the allocations of the campaign's two engine
// calls per client (issue #17): a FORCERENEW decision and the renewal that
// answers it. Each carries the record to persist, the reply's copy and the
// undo record in one allocation (oneLease), and a record's byte fields in
// one more (rec.lease); the FORCERENEW's new replay value is a recExt the
// engine keeps, and the reply's key a copy.
func TestDecisionAllocs(t *testing.T) {
	e := newEngine(t, lanConfig())
	_, ack := capableDORA(t, e, t0, mac(1), nonceKey(0xa1))
	a := ack.Reply.YIAddr
	renew := &Request{Type: dhcpv4.Request, HType: 1, HWAddr: mac(1), CIAddr: a, Unicast: true,
		LinkAddr: srv, ServerAddr: srv, ForceRenewNonce: []byte{dhcpv4.AuthAlgHMACMD5}}
	now := t0
	fr := testing.AllocsPerRun(100, func() {
		now = now.Add(time.Second)
		if _, err := e.ForceRenew(now, a); err != nil {
			t.Fatal(err)
		}
	})
	if fr > 4 {
		t.Errorf("ForceRenew: %.1f allocations, want <= 4", fr)
	}
	rn := testing.AllocsPerRun(100, func() {
		now = now.Add(time.Second)
		if d := e.Handle(now, renew); d.Reply.Type != dhcpv4.Ack {
			t.Fatalf("renewal: %+v", d.Reply)
		}
	})
	if rn > 2 {
		t.Errorf("renewal: %.1f allocations, want <= 2", rn)
	}
	t.Logf("allocations: ForceRenew %.1f, renewal %.1f", fr, rn)
}

// TestDORAScratchAllocs bounds the allocations of a new client's DISCOVER
// and REQUEST with a Request.Scratch, as leased's server calls them (issue
// #15): the decisions' Persist, undo log, Reply.Lease and byte slices live
// in the Scratch, so what is left is the offer's client key string and
// what the binding keeps — its client key string and, for a relayed
// client, its relay agent information and their holder (recExt) — plus the
// amortized growth of the indexes and heaps. Without a Scratch the same
// DORA makes 7 (9 relayed) and ~1.7 KB; a renewal with a Scratch makes
// none (2 without).
func TestDORAScratchAllocs(t *testing.T) {
	for _, c := range []struct {
		name  string
		relay []byte
		want  float64
	}{{"direct", nil, 2}, {"relayed", []byte{1, 4, 'p', 'o', 'r', 't'}, 4}} {
		t.Run(c.name, func(t *testing.T) {
			e := newEngine(t, bigConfig(8))
			var sc Scratch
			d := &Request{Type: dhcpv4.Discover, HType: 1, LinkAddr: srv, ServerAddr: srv, Scratch: &sc, RelayInfo: c.relay}
			r := &Request{Type: dhcpv4.Request, HType: 1, LinkAddr: srv, ServerAddr: srv, ServerID: srv, ServerIDOurs: true,
				Scratch: &sc, RelayInfo: c.relay}
			hw := make([]byte, 6)
			i := 0
			n := testing.AllocsPerRun(1000, func() {
				i++
				copy(hw, bigMAC(i))
				d.HWAddr, r.HWAddr = hw, hw
				o := e.Handle(t0, d)
				r.RequestedIP = o.Reply.YIAddr
				if a := e.Handle(t0, r); a.Reply.Type != dhcpv4.Ack {
					t.Fatalf("client %d: %+v", i, a)
				}
			})
			if n > c.want {
				t.Errorf("DORA with a Scratch: %.1f allocations, want <= %v", n, c.want)
			}
			rn := &Request{Type: dhcpv4.Request, HType: 1, HWAddr: hw, CIAddr: r.RequestedIP, Unicast: true,
				LinkAddr: srv, ServerAddr: srv, Scratch: &sc, RelayInfo: c.relay}
			now := t0
			m := testing.AllocsPerRun(100, func() {
				now = now.Add(time.Second)
				if a := e.Handle(now, rn); a.Reply.Type != dhcpv4.Ack {
					t.Fatalf("renewal: %+v", a)
				}
			})
			if m > 0 {
				t.Errorf("renewal with a Scratch: %.1f allocations, want 0", m)
			}
			t.Logf("allocations with a Scratch: DORA %.1f, renewal %.1f", n, m)
		})
	}
}

// TestScratchSameDecisions: decisions made with a Scratch equal those made
// without (offer, first binding, renewal, a move to another address with
// its freed record), own their bytes (nothing aliases the engine or the
// request), and Revert of one restores the engine as for the other.
func TestScratchSameDecisions(t *testing.T) {
	a, b := newEngine(t, lanConfig()), newEngine(t, lanConfig())
	var sc Scratch
	relay := []byte{1, 3, 'e', 't', 'h'}
	step := func(what string, now time.Time, req *Request) (Decision, Decision) {
		t.Helper()
		plain := *req
		plain.Scratch = nil
		want := a.Handle(now, &plain)
		withSc := *req
		withSc.Scratch = &sc
		got := b.Handle(now, &withSc)
		if diff := cmp.Diff(want, got, cmpNet, cmpopts.IgnoreUnexported(Decision{}),
			cmpopts.IgnoreFields(Reply{}, "Pool", "ClassList", "Reservation")); diff != "" {
			t.Fatalf("%s: with a Scratch (-without +with):\n%s", what, diff)
		}
		if diff := cmp.Diff(a.Leases(Filter{}), b.Leases(Filter{}), cmpNet); diff != "" {
			t.Fatalf("%s: engines differ:\n%s", what, diff)
		}
		return want, got
	}
	hw := mac(7)
	d := discover(hw)
	d.RelayInfo = relay
	_, o := step("DISCOVER", t0, d)
	if o.Reply.Lease != &sc.reply {
		t.Fatal("the OFFER's Lease is not in the Scratch")
	}
	r := selecting(hw, o.Reply.YIAddr)
	r.RelayInfo = relay
	r.ForceRenewNonce = []byte{dhcpv4.AuthAlgHMACMD5}
	r.ReconfKey = nonceKey(0x5a)
	_, ack := step("REQUEST", t0, r)
	if &ack.Persist[0] != &sc.persist[0] || ack.Reply.Lease != &sc.reply {
		t.Fatal("the ACK's records are not in the Scratch")
	}
	// The bytes are copies: changing the request's does not change them.
	relay[2], r.ReconfKey[0], hw[5] = 'X', 0, 99
	if l := ack.Persist[0]; string(l.RelayInfo) != "\x01\x03eth" || l.ReconfKey[0] != 0x5a || l.HWAddr[5] != 7 || l.ClientID[6] != 7 {
		t.Fatalf("the ACK's record aliases the request: %+v", l)
	}
	relay[2], hw[5] = 'e', 7
	now := t0.Add(time.Minute)
	rn := &Request{Type: dhcpv4.Request, XID: 9, HType: 1, HWAddr: hw, CIAddr: ack.Reply.YIAddr, Unicast: true,
		LinkAddr: srv, ServerAddr: srv, RelayInfo: relay}
	step("renewal", now, rn)
	// A move: the bound client asks for another free address.
	other := ip("10.0.0.25")
	if other == ack.Reply.YIAddr {
		other = ip("10.0.0.26")
	}
	mv := selecting(hw, other)
	mv.RelayInfo = relay
	_, moved := step("move", now, mv)
	if len(moved.Persist) != 2 || moved.Persist[1].State != StateFree || &moved.Persist[1] != &sc.persist[1] {
		t.Fatalf("move: want the binding and the freed old address in the Scratch, got %+v", moved.Persist)
	}
	// Another move, reverted (its commit failed) in both engines: both are
	// back where they were.
	before := a.Leases(Filter{})
	back := selecting(hw, ack.Reply.YIAddr)
	dA, dB := step("move back", now.Add(time.Second), back)
	a.Revert(&dA)
	b.Revert(&dB)
	if diff := cmp.Diff(before, b.Leases(Filter{}), cmpNet); diff != "" {
		t.Fatalf("Revert with a Scratch:\n%s", diff)
	}
	if diff := cmp.Diff(a.Leases(Filter{}), b.Leases(Filter{}), cmpNet); diff != "" {
		t.Fatalf("after Revert the engines differ:\n%s", diff)
	}
}
