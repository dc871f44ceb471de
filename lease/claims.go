package lease

import (
	"net/netip"
	"slices"
)

// Cluster hook (issue #12, docs/cluster.md): a server sharing a database
// with others allocates new clients only from the blocks it claimed there.
// The engine stays pure: the server tells it the claimed ranges of each
// pool; what the engine does with them is limited to choosing addresses
// for clients that have none. Renewals, rebinds, INIT-REBOOT and the
// client's own current or previous address are answered as before, claims
// or not (the database arbitrates those writes). A pool without claims
// set behaves as it always did.

// Range is an inclusive range of addresses.
type Range struct {
	First, Last netip.Addr
}

// claimRange is a Range of a claim as numbers.
type claimRange struct{ lo, hi uint32 }

// SetClaims restricts the allocation of new addresses in pool to rs (the
// blocks this server claimed; an empty rs: none, so no OFFER for a client
// without an address). It replaces the previous set. Non-IPv4 or inverted
// ranges are ignored.
func (e *Engine) SetClaims(pool string, rs []Range) {
	v := make([]claimRange, 0, len(rs))
	for _, r := range rs {
		if r.First.Unmap().Is4() && r.Last.Unmap().Is4() && u32(r.First) <= u32(r.Last) {
			v = append(v, claimRange{u32(r.First), u32(r.Last)})
		}
	}
	slices.SortFunc(v, func(a, b claimRange) int { return int(int64(a.lo) - int64(b.lo)) })
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.claims == nil {
		e.claims = make(map[string][]claimRange)
	}
	e.claims[pool] = v
}

// ClearClaims lifts the restriction of SetClaims: pool allocates from all
// its sections again.
func (e *Engine) ClearClaims(pool string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.claims, pool)
}

// FreeInClaims returns how many addresses of pool's claims are free (in a
// section, not blocked, not held by a record or offer): when it runs low
// the server claims another block. restricted is false when pool has no
// claims set (then free is 0).
func (e *Engine) FreeInClaims(pool string) (free int, restricted bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	cs, restricted := e.claims[pool]
	p := e.ps.names[pool]
	if !restricted || p == nil {
		return 0, restricted
	}
	for _, c := range cs {
		for _, s := range p.sections {
			lo, hi := max(c.lo, s.start), min(c.hi, s.end)
			for a := lo; a <= hi && lo <= hi; a++ {
				if !s.bit(s.static, a) && !s.bit(s.held, a) {
					free++
				}
				if a == hi { // hi may be 255.255.255.255
					break
				}
			}
		}
	}
	return free, true
}

// claimed reports whether a new client may be given a in p: always when
// p has no claims set, else when a lies in one of them.
func (e *Engine) claimed(p *pool, a uint32) bool {
	cs, ok := e.claims[p.cfg.Name]
	if !ok {
		return true
	}
	i, found := slices.BinarySearchFunc(cs, a, func(c claimRange, a uint32) int {
		switch {
		case c.hi < a:
			return -1
		case c.lo > a:
			return 1
		}
		return 0
	})
	_ = i
	return found
}

// nextFree returns the next free address of p for a new client: next fit
// over the sections, or, when p has claims set, the first free address
// inside them.
func (e *Engine) nextFree(p *pool, m uint64) (uint32, int32, bool) {
	cs, ok := e.claims[p.cfg.Name]
	if !ok {
		for _, s := range p.sections {
			if !s.admits(m) { // section allow/deny (classes.go)
				continue
			}
			if a, ok := s.next(); ok {
				return a, int32(s.index), true
			}
		}
		return 0, 0, false
	}
	for _, c := range cs {
		for _, s := range p.sections {
			if s.nfree <= 0 || c.hi < s.start || c.lo > s.end || !s.admits(m) {
				continue
			}
			lo, hi := max(c.lo, s.start), min(c.hi, s.end)
			if o, ok := s.scan(lo-s.start, hi-s.start+1); ok {
				return s.start + o, int32(s.index), true
			}
		}
	}
	return 0, 0, false
}

// Adopt makes l, a row read from the shared database, the engine's record
// of l.Addr whatever the Seqs (read-through in a cluster: Seqs written by
// different servers are not comparable, and the database is the arbiter).
// The engine's Seq counter moves past the adopted record, as with Restore.
// An offer this engine holds on the address for another client is
// withdrawn when l holds the address.
func (e *Engine) Adopt(l Lease) {
	if !l.Addr.Unmap().Is4() {
		return
	}
	e.mu.Lock()
	a := u32(l.Addr)
	if cur := e.rs.get(a); cur != nil && cur.seq >= l.Seq {
		l.Seq = cur.seq + 1
	}
	if l.Seq <= e.seq {
		l.Seq = e.seq + 1
	}
	if o, ok := e.offers[a]; ok && l.State.Holds() && o.key != string(l.ClientID) {
		e.removeOffer(a)
	}
	e.mu.Unlock()
	e.Restore(l)
}
