package lease6

import (
	"net/netip"
	"slices"

	"github.com/leased/leased/lease"
)

// Cluster hook (issue #12, docs/cluster.md), as lease.Engine.SetClaims: a
// server sharing a database with others gives new IAs only addresses
// (IA_NA) or prefixes (IA_PD) from the blocks it claimed there. Renewals,
// rebinds, confirms and an IA's own current or previous binding are
// answered as before. A pool and kind without claims set behave as they
// always did.

// claimKey names the claims of one pool's IA_NA ranges or its IA_PD space.
type claimKey struct {
	pool string
	kind IAKind
}

// claimRange is an inclusive address range of a claim.
type claimRange struct{ lo, hi u128 }

// SetClaims restricts the allocation of new addresses (kind IANA) or
// prefixes (IAPD: a prefix is inside a claim when its first address is)
// of pool to rs; an empty rs: none, so new IAs get NoAddrsAvail /
// NoPrefixAvail. It replaces the previous set; non-IPv6 or inverted
// ranges are ignored.
func (e *Engine) SetClaims(pool string, kind IAKind, rs []lease.Range) {
	v := make([]claimRange, 0, len(rs))
	for _, r := range rs {
		if r.First.Is6() && r.Last.Is6() && !r.First.Is4In6() && r.First.Compare(r.Last) <= 0 {
			v = append(v, claimRange{u128Of(r.First), u128Of(r.Last)})
		}
	}
	slices.SortFunc(v, func(a, b claimRange) int { return a.lo.cmp(b.lo) })
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.claims == nil {
		e.claims = make(map[claimKey][]claimRange)
	}
	e.claims[claimKey{pool, kind}] = v
}

// ClearClaims lifts SetClaims' restriction for pool and kind.
func (e *Engine) ClearClaims(pool string, kind IAKind) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.claims, claimKey{pool, kind})
}

// FreeInClaims counts the free slots (addresses or prefixes: not held by a
// record or offer, not reserved) of pool's claims of kind, counting at
// most limit (a claimed /64 is not counted to the end). restricted is false
// when no claims are set.
func (e *Engine) FreeInClaims(pool string, kind IAKind, limit int) (free int, restricted bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	cs, restricted := e.claims[claimKey{pool, kind}]
	p := e.ps.names[pool]
	if !restricted || p == nil {
		return 0, restricted
	}
	for _, s := range e.spacesOf(p, kind) {
		for _, c := range cs {
			e.eachFree(s, c, func(netip.Addr) bool {
				free++
				return free < limit
			})
			if free >= limit {
				return free, true
			}
		}
	}
	return free, true
}

func (e *Engine) spacesOf(p *pool, kind IAKind) []*space {
	if kind == IAPD {
		if p.pd == nil {
			return nil
		}
		return []*space{p.pd}
	}
	return p.na
}

// eachFree calls fn for the free slots of s inside c, in order, until fn
// returns false.
func (e *Engine) eachFree(s *space, c claimRange, fn func(netip.Addr) bool) {
	last := s.base.add(s.n.sub(u128One).shl(s.shift)) // base of the last slot
	if s.n.isZero() || c.hi.cmp(s.base) < 0 || c.lo.cmp(last) > 0 {
		return
	}
	// first slot whose base is >= c.lo
	var i u128
	if c.lo.cmp(s.base) > 0 {
		off := c.lo.sub(s.base)
		i = off.shr(s.shift)
		if !i.shl(s.shift).sub(off).isZero() { // not aligned: next slot
			i = i.add(u128One)
		}
	}
	for ; i.cmp(s.n) < 0; i = i.add(u128One) {
		b := s.base.add(i.shl(s.shift))
		if b.cmp(c.hi) > 0 {
			return
		}
		a := b.addr()
		if e.occupied(a) {
			continue
		}
		if _, r := s.pool.reserved(s, a); r {
			continue
		}
		if !fn(a) {
			return
		}
		if i.add(u128One).isZero() { // wrapped at 2^128
			return
		}
	}
}

// claimed reports whether a new IA of kind may be given a in p: always
// without claims set, else when a lies in one of them.
func (e *Engine) claimed(p *pool, kind IAKind, a netip.Addr) bool {
	cs, ok := e.claims[claimKey{p.cfg.Name, kind}]
	if !ok {
		return true
	}
	x := u128Of(a)
	for _, c := range cs {
		if c.lo.cmp(x) <= 0 && x.cmp(c.hi) <= 0 {
			return true
		}
	}
	return false
}

// allocateIn is allocate for a new IA of kind in p: next fit over s, or,
// with claims set, the first free slot of s inside them.
func (e *Engine) allocateIn(p *pool, kind IAKind, s *space) (netip.Addr, bool) {
	cs, ok := e.claims[claimKey{p.cfg.Name, kind}]
	if !ok {
		return e.allocate(s)
	}
	var got netip.Addr
	for _, c := range cs {
		e.eachFree(s, c, func(a netip.Addr) bool { got = a; return false })
		if got.IsValid() {
			return got, true
		}
	}
	return netip.Addr{}, false
}
