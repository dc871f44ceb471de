package lease6

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/leased/leased/dhcpv6"
	"github.com/leased/leased/lease"
)

// TestRandomInvariants drives many clients through random message
// sequences (Solicit with and without Rapid Commit, Request, Renew,
// Rebind, Confirm, Release, Decline, Information-request), expiry,
// operator Delete/Recycle, Reconfigure sends and Revert of failed commits
// on a deliberately small pool, and checks after every step:
//
//   - no address or prefix is ever valid for two client IAs at once, as
//     the clients were told (a shadow of every Reply);
//   - the engine's records agree: one Bound record per client IA, every
//     Bound record's slot inside its pool;
//   - the held counts the allocator relies on equal a recount;
//   - Revert right after a decision restores every record exactly.
func TestRandomInvariants(t *testing.T) {
	steps := 2000
	if testing.Short() {
		steps = 300
	}
	for seed := range uint64(3) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) { randomRun(t, seed, steps) })
	}
}

type iaKey struct {
	duid string
	iaid uint32
	kind IAKind
}

type told struct {
	who   iaKey
	until time.Time
}

func randomRun(t *testing.T, seed uint64, steps int) {
	rng := rand.New(rand.NewPCG(seed, 99))
	cfg := Config{
		Preferred: 15 * time.Minute, Valid: 20 * time.Minute, OfferHold: 30 * time.Second, DeclineQuarantine: 10 * time.Minute,
		Pools: []Pool{{
			Name: "small", Subnet: netip.MustParsePrefix("fd77::/64"),
			Ranges:      []Range{{Start: netip.MustParseAddr("fd77::100"), End: netip.MustParseAddr("fd77::10f")}, {Start: netip.MustParseAddr("fd77::200"), End: netip.MustParseAddr("fd77::207")}},
			PD:          &PrefixPool{Prefix: netip.MustParsePrefix("fd77:100::/56"), Length: 60},
			RapidCommit: true,
			Reservations: []Reservation{{DUID: []byte{0xc, 0}, Addr: netip.MustParseAddr("fd77::105"), Prefix: netip.MustParsePrefix("fd77:100:0:30::/60")},
				{DUID: []byte{0xc, 1}, Addr: netip.MustParseAddr("fd77::ffff")}},
		}},
	}
	e := newEngine(t, cfg)
	const nClients = 40
	advertised := make([][]IA, nClients)
	held := make([][]IA, nClients)
	shadow := map[netip.Addr]told{}
	now := t0

	randomIAs := func() []IA {
		ias := []IA{na(1)}
		if rng.IntN(3) > 0 {
			ias = append(ias, pd(2))
		}
		if rng.IntN(5) == 0 {
			ias = append(ias, na(3))
		}
		for i := range ias {
			if rng.IntN(4) == 0 {
				if ias[i].Kind == IANA {
					ias[i].Addrs = []netip.Addr{netip.AddrFrom16([16]byte{0xfd, 0x77, 14: byte(rng.IntN(3)), 15: byte(rng.IntN(20))})}
				} else {
					ias[i].Prefixes = []netip.Prefix{netip.PrefixFrom(netip.AddrFrom16([16]byte{0xfd, 0x77, 1, 0, 0, 0, 0, byte(rng.IntN(20) << 4)}), 60)}
				}
			}
		}
		return ias
	}
	apply := func(c int, d *Decision) {
		duid := []byte{0xc, byte(c)}
		for _, ia := range d.Reply.IAs {
			k := iaKey{string(duid), ia.IAID, ia.Kind}
			for _, b := range ia.Bindings {
				a := b.Addr
				if ia.Kind == IAPD {
					a = b.Prefix.Addr()
				}
				if b.Valid == 0 {
					if s, ok := shadow[a]; ok && s.who == k {
						delete(shadow, a)
					}
					continue
				}
				if s, ok := shadow[a]; ok && s.who != k && s.until.After(now) {
					t.Fatalf("%v valid for %x/%d until %v, now also given to %x/%d", a, s.who.duid, s.who.iaid, s.until, duid, ia.IAID)
				}
				// The IA holds one binding: drop what it held before.
				for x, s := range shadow {
					if s.who == k && x != a {
						delete(shadow, x)
					}
				}
				shadow[a] = told{k, now.Add(b.Valid)}
			}
		}
	}
	forget := func(c int, ias []IA) {
		for _, ia := range ias {
			k := iaKey{string([]byte{0xc, byte(c)}), ia.IAID, ia.Kind}
			for a, s := range shadow {
				if s.who == k {
					delete(shadow, a)
				}
			}
		}
	}

	for step := range steps {
		now = now.Add(time.Duration(rng.IntN(40)) * time.Second)
		c := rng.IntN(nClients)
		duid := []byte{0xc, byte(c)}
		var d Decision
		var req *Request
		before := dumpLeases(e)
		op := rng.IntN(100)
		switch {
		case op < 20:
			req = msg(dhcpv6.Solicit, duid, randomIAs()...)
			req.RapidCommit = rng.IntN(4) == 0
		case op < 40:
			ias := advertised[c]
			if ias == nil || rng.IntN(4) == 0 {
				ias = randomIAs()
			}
			req = msg(dhcpv6.Request, duid, ias...)
		case op < 55:
			req = msg(dhcpv6.Renew, duid, orRandom(held[c], randomIAs)...)
			req.ForceRebind = rng.IntN(10) == 0
		case op < 65:
			req = msg(dhcpv6.Rebind, duid, orRandom(held[c], randomIAs)...)
		case op < 70:
			req = msg(dhcpv6.Release, duid, orRandom(held[c], randomIAs)...)
		case op < 74:
			req = msg(dhcpv6.Decline, duid, orRandom(held[c], randomIAs)...)
		case op < 77:
			req = msg(dhcpv6.Confirm, duid, orRandom(held[c], randomIAs)...)
		case op < 79:
			req = msg(dhcpv6.InformationRequest, duid)
		case op < 87:
			d = e.Expire(now, 1+rng.IntN(5))
		case op < 95:
			ls := e.Leases(lease.Filter{States: []lease.State{lease.StateBound}})
			if len(ls) == 0 {
				continue
			}
			l := ls[rng.IntN(len(ls))]
			switch rng.IntN(3) {
			case 0:
				d, _ = e.Delete(now, l.Addr)
			case 1:
				d, _ = e.Recycle(now, l.Addr, l.ClientID)
			default:
				d, _ = e.ReconfigureClient(now, l.Addr)
			}
		default:
			if err := e.ApplyConfig(cfg); err != nil { // reload: recount must agree
				t.Fatal(err)
			}
			continue
		}
		if req != nil {
			req.ReconfAccept, req.ReconfKey = rng.IntN(2) == 0, key16
			d = e.Handle(now, req)
		}
		if len(d.Persist) > 0 && rng.IntN(5) == 0 {
			// The commit failed: Revert, and every record is as before the decision.
			e.Revert(&d)
			if diff := cmp.Diff(before, dumpLeases(e), cmpOpts); diff != "" {
				t.Fatalf("step %d: Revert of %v (-before +after):\n%s", step, opName(req), diff)
			}
			checkEngine(t, e, now, step, opName(req))
			continue
		}
		// Operator actions end bindings the client still believes in.
		for _, l := range d.Persist {
			if req == nil && (l.State == lease.StateDeleted || l.State == lease.StateExpired && l.Expiry.Equal(now)) {
				delete(shadow, l.Addr)
			}
			if req == nil && l.State == lease.StateExpired {
				delete(shadow, l.Addr) // reclaimed at the end of its valid lifetime
			}
		}
		if req != nil && d.HasReply {
			switch req.Type {
			case dhcpv6.Solicit:
				if d.Reply.Type == dhcpv6.Advertise {
					advertised[c] = asIAs(d.Reply.IAs)
				} else {
					apply(c, &d)
					held[c] = asIAs(d.Reply.IAs)
				}
			case dhcpv6.Request, dhcpv6.Renew, dhcpv6.Rebind:
				apply(c, &d)
				held[c] = asIAs(d.Reply.IAs)
			case dhcpv6.Release, dhcpv6.Decline:
				for _, l := range d.Persist {
					delete(shadow, l.Addr)
				}
				forget(c, nil)
			}
		}
		checkEngine(t, e, now, step, opName(req))
	}
}

func orRandom(ias []IA, f func() []IA) []IA {
	if len(ias) == 0 {
		return f()
	}
	return ias
}

func asIAs(rs []IAResult) []IA {
	var out []IA
	for _, r := range rs {
		if len(r.Bindings) > 0 {
			out = append(out, asIA(r))
		}
	}
	return out
}

// dumpLeases is every record, sorted by address (Leases sorts).
func dumpLeases(e *Engine) []lease.Lease {
	return e.Leases(lease.Filter{States: []lease.State{lease.StateFree, lease.StateBound,
		lease.StateReleased, lease.StateExpired, lease.StateDeclined}})
}

// checkEngine asserts the engine's own invariants.
func checkEngine(t *testing.T, e *Engine, now time.Time, step int, op string) {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	bound := map[iaKey]netip.Addr{}
	var prefixes []netip.Prefix
	for a, i := range e.rs.byAddr {
		r := e.rs.arena.At(i)
		if r.addr != a {
			t.Fatalf("step %d: index %v → record of %v", step, a, r.addr)
		}
		if r.state != lease.StateBound {
			continue
		}
		k := iaKey{r.duid, r.iaid, r.kind()}
		if other, ok := bound[k]; ok {
			t.Fatalf("step %d: IA %x/%d bound to %v and %v", step, r.duid, r.iaid, other, a)
		}
		bound[k] = a
		if r.plen > 0 {
			prefixes = append(prefixes, netip.PrefixFrom(a, int(r.plen)))
		}
	}
	for i := range prefixes {
		for j := i + 1; j < len(prefixes); j++ {
			if prefixes[i].Overlaps(prefixes[j]) {
				t.Fatalf("step %d: bound prefixes %v and %v overlap", step, prefixes[i], prefixes[j])
			}
		}
	}
	for a, o := range e.offers {
		if r := e.rs.get(a); r != nil && r.state.Holds() && r.duid != o.duid {
			t.Fatalf("step %d: %v offered to %x but held by %x", step, a, o.duid, r.duid)
		}
	}
	var got []uint64
	for _, s := range e.ps.spaces {
		got = append(got, s.held)
	}
	e.recount()
	var want []uint64
	for _, s := range e.ps.spaces {
		want = append(want, s.held)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("step %d (%s): held counts drifted (-recount +kept):\n%s", step, op, d)
	}
	for duid, c := range e.rs.clients {
		if len(c.recs) == 0 && len(c.offers) == 0 {
			t.Fatalf("step %d: empty client entry %x kept", step, duid)
		}
		for _, a := range c.offers {
			if o, ok := e.offers[a]; !ok || o.duid != duid {
				t.Fatalf("step %d: client %x lists offer %v it does not have", step, duid, a)
			}
		}
	}
}

func opName(r *Request) string {
	if r == nil {
		return "operator/expire"
	}
	return r.Type.String()
}
