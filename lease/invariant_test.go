package lease

import (
	"fmt"
	"math/bits"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/leased/leased/dhcpv4"
)

// checkInvariants verifies the engine's indexes and bitmaps against its
// records and offers.
func checkInvariants(t *testing.T, e *Engine) {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	for a, i := range e.rs.byAddr {
		if e.rs.arena.At(i).addr != a || e.rs.arena.At(i).state == StateDeleted {
			t.Fatalf("byAddr[%v] → record of %v state %v", addr4(a), addr4(e.rs.arena.At(i).addr), e.rs.arena.At(i).state)
		}
	}
	boundKeys := map[string]uint32{}
	for i := range e.rs.arena.Len() {
		r := e.rs.arena.At(int32(i))
		if r.state == StateDeleted {
			continue
		}
		if r.state == StateBound {
			if other, dup := boundKeys[r.key()]; dup {
				t.Fatalf("client %x bound on %v and %v", r.key(), addr4(other), addr4(r.addr))
			}
			boundKeys[r.key()] = r.addr
			if j, ok := e.rs.keyIndex(r.key()); !ok || e.rs.arena.At(j).addr != r.addr {
				t.Fatalf("bound client %x on %v not indexed", r.key(), addr4(r.addr))
			}
		}
	}
	for k, i := range e.rs.keys {
		if e.rs.arena.At(i).key() != k {
			t.Fatalf("byKey[%x] → record of %x", k, e.rs.arena.At(i).key())
		}
	}
	for a, o := range e.offers {
		if r := e.rs.get(a); r != nil && r.state.Holds() && r.key() != o.key {
			t.Fatalf("%v offered to %x but held by %x", addr4(a), o.key, r.key())
		}
		if e.offerKey[o.key] != a {
			t.Fatalf("offer %v of %x not indexed", addr4(a), o.key)
		}
	}
	for _, s := range e.ps.sections {
		free := 0
		for a := s.start; ; a++ {
			r := e.rs.get(a)
			_, off := e.offers[a]
			want := off || (r != nil && r.state.Holds())
			if got := s.bit(s.held, a); got != want {
				t.Fatalf("%v held bit %v, want %v", addr4(a), got, want)
			}
			if !want && !s.bit(s.static, a) {
				free++
			}
			if a == s.end {
				break
			}
		}
		if free != s.nfree {
			t.Fatalf("section %d nfree %d, counted %d", s.index, s.nfree, free)
		}
		pop := 0
		for w := range s.static {
			pop += bits.OnesCount64(^(s.static[w] | s.held[w]))
		}
		if pop != free {
			t.Fatalf("section %d bitmap free %d, counted %d", s.index, pop, free)
		}
	}
}

// TestRandomOperations drives the engine with random client behaviour and
// failed commits over a small pool and checks the invariants after every
// step, plus the protocol's promise: never two clients bound or offered
// one address.
func TestRandomOperations(t *testing.T) {
	for seed := range uint64(8) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) { randomOperations(t, seed) })
	}
}

func randomOperations(t *testing.T, seed uint64) {
	cfg := lanConfig()
	cfg.Pools[0].Exclude = []netip.Addr{ip("10.0.0.13")}
	cfg.Pools[0].Reservations = []Reservation{{HWAddr: mac(3), Addr: ip("10.0.0.25")}, {HWAddr: mac(4), Addr: ip("10.0.0.99")}}
	cfg.DeclineQuarantine = 3 * time.Minute
	e := newEngine(t, cfg)
	rng := rand.New(rand.NewPCG(seed, 2))
	now := t0
	const clients = 30
	bound := map[int]netip.Addr{}
	steps := 10000
	if testing.Short() {
		steps = 2000
	}
	acks := 0
	for step := range steps {
		now = now.Add(time.Duration(rng.IntN(20)) * time.Second)
		c := rng.IntN(clients)
		hw := mac(c)
		var d Decision
		switch op := rng.IntN(10); op {
		case 0, 1, 2:
			o := e.Handle(now, discover(hw))
			if o.HasReply && rng.IntN(4) > 0 {
				d = e.Handle(now, selecting(hw, o.Reply.YIAddr))
			}
		case 3:
			if a, ok := bound[c]; ok {
				d = e.Handle(now, renew(hw, a, rng.IntN(2) == 0))
			}
		case 4:
			if a, ok := bound[c]; ok {
				r := msg(dhcpv4.Release, hw)
				r.CIAddr = a
				d = e.Handle(now, r)
			}
		case 5:
			if a, ok := bound[c]; ok && rng.IntN(5) == 0 {
				r := msg(dhcpv4.Decline, hw)
				r.RequestedIP, r.ServerID, r.ServerIDOurs = a, srv, true
				d = e.Handle(now, r)
			}
		case 6:
			d = e.Expire(now, rng.IntN(5))
		case 7:
			d = e.Handle(now, initReboot(hw, addr4(u32(ip("10.0.0.10"))+uint32(rng.IntN(25)))))
		case 8:
			if rng.IntN(10) == 0 {
				d, _ = e.Delete(now, addr4(u32(ip("10.0.0.10"))+uint32(rng.IntN(25))))
			}
		case 9:
			now = now.Add(time.Duration(rng.IntN(90)) * time.Minute)
		}
		if d.HasReply && d.Reply.Type == dhcpv4.Ack {
			acks++
		}
		if len(d.Persist) > 0 && rng.IntN(8) == 0 {
			e.Revert(&d) // the commit failed
		}
		checkInvariants(t, e)
		// Rebuild the view of bindings from the engine.
		clear(bound)
		seen := map[netip.Addr]string{}
		for _, l := range e.Leases(Filter{States: []State{StateBound, StateOffered}}) {
			if k, ok := seen[l.Addr]; ok && k != string(l.ClientID) {
				t.Fatalf("step %d: %v held by %x and %x", step, l.Addr, k, l.ClientID)
			}
			seen[l.Addr] = string(l.ClientID)
			if l.State == StateBound {
				bound[int(l.HWAddr[5])] = l.Addr
			}
			if l.Addr == ip("10.0.0.13") || (l.Addr == ip("10.0.0.25") && l.HWAddr[5] != 3) {
				t.Fatalf("step %d: %v given to %x", step, l.Addr, l.HWAddr)
			}
		}
	}
	if acks < steps/10 {
		t.Fatalf("only %d ACKs in %d steps: the test exercises too little", acks, steps)
	}
	// Restoring everything into a fresh engine gives the same state.
	f := newEngine(t, cfg)
	for l := range e.All() {
		f.Restore(l)
	}
	if got, want := len(f.Leases(Filter{})), len(e.Leases(Filter{})); got != want {
		t.Fatalf("restored %d leases, want %d", got, want)
	}
	checkInvariants(t, f)
}

func TestSectionNextFit(t *testing.T) {
	p := &pool{}
	s := newSection(p, 0, 100, 229) // 130 addresses: three words, padding in the last
	s.block(100)
	s.count()
	if s.size != 129 || s.nfree != 129 {
		t.Fatalf("size %d free %d", s.size, s.nfree)
	}
	var got []uint32
	for {
		a, ok := s.next()
		if !ok {
			break
		}
		got = append(got, a)
		s.setHeld(a, true)
	}
	if len(got) != 129 || got[0] != 101 || got[128] != 229 || s.nfree != 0 {
		t.Fatalf("allocated %d: first %d last %d free %d", len(got), got[0], got[len(got)-1], s.nfree)
	}
	s.setHeld(150, false)
	s.setHeld(120, false)
	// The cursor wrapped to 0: the next fit from there is 120, then 150.
	for _, want := range []uint32{120, 150} {
		a, ok := s.next()
		if !ok || a != want {
			t.Fatalf("next = %d %v, want %d", a, ok, want)
		}
		s.setHeld(a, true)
	}
	if _, ok := s.next(); ok {
		t.Fatal("full section allocated")
	}
}
