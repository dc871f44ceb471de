package lease

import (
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/leased/leased/dhcpv4"
)

func inRanges(a netip.Addr, rs []Range) bool {
	for _, r := range rs {
		if a.Compare(r.First) >= 0 && a.Compare(r.Last) <= 0 {
			return true
		}
	}
	return false
}

// TestClaimsRestrictAllocation: with claims set, new clients get addresses
// only inside them, a requested address outside them is not offered, and
// the pool is exhausted when the claims are; FreeInClaims counts down.
func TestClaimsRestrictAllocation(t *testing.T) {
	e := newEngine(t, lanConfig())
	claims := []Range{{ip("10.0.0.25"), ip("10.0.0.25")}, {ip("10.0.0.15"), ip("10.0.0.17")}}
	if _, restricted := e.FreeInClaims("lan"); restricted {
		t.Fatal("restricted before SetClaims")
	}
	e.SetClaims("lan", claims)
	if free, restricted := e.FreeInClaims("lan"); free != 4 || !restricted {
		t.Fatalf("FreeInClaims = %d, %v; want 4, true", free, restricted)
	}
	got := map[netip.Addr]bool{}
	for i := range 4 {
		d := discover(mac(i))
		if i == 0 {
			d.RequestedIP = ip("10.0.0.12") // free, but not ours to give
		}
		a := dora(t, e, t0, d)
		if !inRanges(a, claims) || got[a] {
			t.Fatalf("client %d got %v: outside the claims %v or twice", i, a, claims)
		}
		got[a] = true
	}
	if free, _ := e.FreeInClaims("lan"); free != 0 {
		t.Errorf("FreeInClaims = %d after filling the claims", free)
	}
	wantDrop(t, e.Handle(t0, discover(mac(9))), DropPoolExhausted)
	// Lifting the restriction: today's behaviour.
	e.ClearClaims("lan")
	wantReply(t, e.Handle(t0, discover(mac(9))), dhcpv4.Offer, ip("10.0.0.10"))
}

// TestZeroClaimsNoOffer: a pool with an empty claim set offers nothing to
// a new client.
func TestZeroClaimsNoOffer(t *testing.T) {
	e := newEngine(t, lanConfig())
	e.SetClaims("lan", nil)
	wantDrop(t, e.Handle(t0, discover(mac(1))), DropPoolExhausted)
	d := discover(mac(2))
	d.RequestedIP = ip("10.0.0.11")
	wantDrop(t, e.Handle(t0, d), DropPoolExhausted)
}

// TestClaimsKeepExistingClients: a lease outside the claims (given before,
// or another server's read through the database) is still renewed,
// rebound, confirmed at INIT-REBOOT, and offered again to its client.
func TestClaimsKeepExistingClients(t *testing.T) {
	e := newEngine(t, lanConfig())
	a := dora(t, e, t0, discover(mac(1)))
	e.Restore(Lease{Seq: 50, Addr: ip("10.0.0.22"), ClientID: clientKey(nil, discover(mac(2))), HType: 1, HWAddr: mac(2),
		Pool: "lan", Section: 1, State: StateBound, Start: t0, Expiry: t0.Add(time.Hour)})
	e.SetClaims("lan", []Range{{ip("10.0.0.15"), ip("10.0.0.16")}})
	now := t0.Add(40 * time.Minute)
	wantReply(t, e.Handle(now, renew(mac(1), a, true)), dhcpv4.Ack, a)
	wantReply(t, e.Handle(now, renew(mac(2), ip("10.0.0.22"), false)), dhcpv4.Ack, ip("10.0.0.22"))
	wantReply(t, e.Handle(now, initReboot(mac(1), a)), dhcpv4.Ack, a)
	wantReply(t, e.Handle(now, discover(mac(2))), dhcpv4.Offer, ip("10.0.0.22"))
	// A new client still gets only the claims.
	if b := dora(t, e, now, discover(mac(3))); b != ip("10.0.0.15") {
		t.Errorf("new client got %v, want 10.0.0.15", b)
	}
}

// TestClaimsRandom: random claim sets and client churn; every address a
// client without a binding is offered lies inside the claims of the
// moment (a client seen before may be offered its previous address).
func TestClaimsRandom(t *testing.T) {
	cfg := lanConfig()
	cfg.Pools[0].Subnet = netip.MustParsePrefix("10.0.0.0/22")
	cfg.Pools[0].Sections = []Section{{Index: 0, Start: ip("10.0.0.10"), End: ip("10.0.3.200")}}
	e := newEngine(t, cfg)
	rng := rand.New(rand.NewPCG(1, 2))
	now := t0
	var claims []Range
	bound := map[int]netip.Addr{}
	seen := map[int]bool{}
	news := 0
	for step := range 4000 {
		if step%200 == 0 {
			claims = claims[:0]
			for range 1 + rng.IntN(4) {
				lo := 10 + rng.IntN(900)
				hi := lo + rng.IntN(40)
				claims = append(claims, Range{addr4(u32(ip("10.0.0.0")) + uint32(lo)), addr4(u32(ip("10.0.0.0")) + uint32(hi))})
			}
			e.SetClaims("lan", claims)
		}
		c := rng.IntN(300)
		now = now.Add(time.Second)
		if a, ok := bound[c]; ok && rng.IntN(3) == 0 {
			r := msg(dhcpv4.Release, mac(c))
			r.CIAddr = a
			e.Handle(now, r)
			delete(bound, c)
			continue
		}
		d := discover(mac(c))
		if rng.IntN(4) == 0 {
			d.RequestedIP = addr4(u32(ip("10.0.0.10")) + uint32(rng.IntN(900)))
		}
		o := e.Handle(now, d)
		if !o.HasReply {
			continue
		}
		news++
		if !seen[c] && !inRanges(o.Reply.YIAddr, claims) {
			t.Fatalf("step %d: new client %d offered %v outside claims %v", step, c, o.Reply.YIAddr, claims)
		}
		r := *d
		r.Type, r.ServerID, r.ServerIDOurs, r.RequestedIP = dhcpv4.Request, srv, true, o.Reply.YIAddr
		if ack := e.Handle(now, &r); ack.HasReply && ack.Reply.Type == dhcpv4.Ack {
			bound[c] = ack.Reply.YIAddr
		}
		seen[c] = true
	}
	if news < 1000 {
		t.Errorf("only %d offers", news)
	}
}

// TestAdopt: a row read from the database replaces the engine's record of
// the address even when its Seq is lower (another server wrote it).
func TestAdopt(t *testing.T) {
	e := newEngine(t, lanConfig())
	a := dora(t, e, t0, discover(mac(1)))
	for range 5 { // raise this engine's Seqs
		dora(t, e, t0, discover(mac(1)))
	}
	other := Lease{Seq: 1, Addr: a, ClientID: clientKey(nil, discover(mac(2))), HType: 1, HWAddr: mac(2),
		Pool: "lan", Section: 0, State: StateBound, Start: t0, Expiry: t0.Add(2 * time.Hour)}
	e.Restore(other)
	if l, _ := e.Lookup(a); string(l.HWAddr) != string(mac(1)) {
		t.Fatal("Restore with a lower Seq replaced the record (test premise)")
	}
	e.Adopt(other)
	if l, _ := e.Lookup(a); string(l.HWAddr) != string(mac(2)) {
		t.Fatalf("after Adopt the record is %+v", l)
	}
	// Client 1's renewal of the address is now refused, client 2's answered.
	if d := e.Handle(t0.Add(time.Minute), renew(mac(1), a, true)); d.HasReply && d.Reply.Type == dhcpv4.Ack {
		t.Fatal("the old client's renewal was ACKed")
	}
	wantReply(t, e.Handle(t0.Add(time.Minute), renew(mac(2), a, true)), dhcpv4.Ack, a)
}
