package lease6

import (
	"encoding/hex"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/leased/leased/lease"
)

// Leases returns copies of the records matching f, sorted by address.
// f.Client matches the DUID in hex (with or without ':', '-' or '.'
// separators), the hardware address in hex, or the address (or an address
// inside a delegated prefix). f.Section is ignored (DHCPv6 pools have no
// sections; records carry Section -1). Offers appear only when f.States
// asks for lease.StateOffered.
func (e *Engine) Leases(f lease.Filter) []lease.Lease {
	m := newMatcher(f)
	e.mu.Lock()
	var out []lease.Lease
	for i := range e.rs.arena.Len() {
		r := e.rs.arena.At(int32(i))
		if r.state == lease.StateDeleted || !m.match(r) {
			continue
		}
		out = append(out, r.lease())
	}
	if slices.Contains(f.States, lease.StateOffered) {
		for a, o := range e.offers {
			r := rec{addr: a, plen: o.plen, iaid: o.iaid, duid: o.duid, pool: o.pool,
				state: lease.StateOffered, start: o.start, expiry: o.exp, xid: o.xid}
			if m.match(&r) {
				out = append(out, r.lease())
			}
		}
	}
	e.mu.Unlock()
	slices.SortFunc(out, func(a, b lease.Lease) int { return a.Addr.Compare(b.Addr) })
	return out
}

type matcher struct {
	f         lease.Filter
	clientHex string
	clientIP  netip.Addr
}

func newMatcher(f lease.Filter) matcher {
	m := matcher{f: f}
	if f.Client != "" {
		if a, err := netip.ParseAddr(f.Client); err == nil {
			m.clientIP = a
		}
		m.clientHex = strings.ToLower(strings.NewReplacer(":", "", "-", "", ".", "").Replace(f.Client))
	}
	return m
}

func (m *matcher) match(r *rec) bool {
	f := &m.f
	if len(f.States) == 0 {
		if r.state == lease.StateFree || r.state == lease.StateOffered || r.state == lease.StateDeleted {
			return false
		}
	} else if !slices.Contains(f.States, r.state) {
		return false
	}
	if f.Pool != "" && r.pool != f.Pool {
		return false
	}
	if f.From.IsValid() && r.addr.Less(f.From) {
		return false
	}
	if f.To.IsValid() && f.To.Less(r.addr) {
		return false
	}
	if f.Client != "" {
		switch {
		case m.clientIP.IsValid() && (r.addr == m.clientIP ||
			(r.plen > 0 && netip.PrefixFrom(r.addr, int(r.plen)).Contains(m.clientIP))):
		case r.duid != "" && hex.EncodeToString([]byte(r.duid)) == m.clientHex:
		case r.hw != "" && hex.EncodeToString([]byte(r.hw)) == m.clientHex:
		default:
			return false
		}
	}
	return true
}

// Pools returns the utilisation of every pool in configuration order. Each
// pool has one entry for its IA_NA addresses (Name the pool's name, Subnet
// its on-link prefix, Size the number of addresses in its ranges,
// saturated at math.MaxInt) and, when it delegates prefixes, a second
// entry named "<pool>/pd" whose Subnet is the delegation prefix and whose
// Size is the number of delegable prefixes (2^(Length - prefix bits),
// saturated). Bound counts bindings not yet past their valid lifetime at
// now, Declined addresses held out of use (declined or quarantined), Offered pending offers. Records
// left outside every pool (after a reload) are counted in their pool by
// name. Cost: one pass over all records.
func (e *Engine) Pools(now time.Time) []lease.PoolStats {
	n := now.UnixNano()
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []lease.PoolStats
	naIdx := make(map[string]int, len(e.ps.list))
	pdIdx := make(map[string]int, len(e.ps.list))
	for _, p := range e.ps.list {
		na, pd := p.sizes()
		naIdx[p.cfg.Name] = len(out)
		out = append(out, lease.PoolStats{Name: p.cfg.Name, Subnet: p.cfg.Subnet, Size: na})
		if p.cfg.PD != nil {
			pdIdx[p.cfg.Name] = len(out)
			out = append(out, lease.PoolStats{Name: p.cfg.Name + "/pd", Subnet: p.cfg.PD.Prefix, Size: pd})
		}
	}
	stat := func(pool string, plen uint8) *lease.PoolStats {
		idx := naIdx
		if plen > 0 {
			idx = pdIdx
		}
		i, ok := idx[pool]
		if !ok {
			return nil
		}
		return &out[i]
	}
	for i := range e.rs.arena.Len() {
		r := e.rs.arena.At(int32(i))
		st := stat(r.pool, r.plen)
		if st == nil {
			continue
		}
		switch {
		case r.state == lease.StateBound && r.expiry > n:
			st.Bound++
		case r.state == lease.StateDeclined, r.state == lease.StateQuarantined:
			st.Declined++ // held out of use
		}
	}
	for _, o := range e.offers {
		if st := stat(o.pool, o.plen); st != nil && o.exp > n {
			st.Offered++
		}
	}
	// Reserved addresses and prefixes inside the pool's ranges (they are
	// part of Size) that no client holds now. A reserved prefix shorter
	// than the delegated length counts its slots.
	for _, p := range e.ps.list {
		if st := stat(p.cfg.Name, 0); st != nil {
			for a := range p.resAddr {
				if slices.ContainsFunc(p.na, func(s *space) bool { return s.contains(a) }) && !e.holds(a, n) {
					st.Reserved++
				}
			}
		}
		if p.pd == nil {
			continue
		}
		if st := stat(p.cfg.Name, 1); st != nil {
			for a := range p.resSlot {
				if p.pd.contains(a) && !e.holds(a, n) {
					st.Reserved++
				}
			}
			for _, ri := range p.resWide {
				rp := p.cfg.Reservations[ri].Prefix.Masked()
				if !e.holds(rp.Addr(), n) {
					st.Reserved += satInt(pow2(p.cfg.PD.Length - max(rp.Bits(), p.cfg.PD.Prefix.Bits())))
				}
			}
		}
	}
	return out
}

// holds reports whether a (an address, or a prefix's first address) is
// held at n: a binding not past its valid lifetime, a declined or
// quarantined one, or a pending offer.
func (e *Engine) holds(a netip.Addr, n int64) bool {
	if r := e.rs.get(a); r != nil {
		switch {
		case r.state == lease.StateBound && r.expiry > n, r.state == lease.StateDeclined, r.state == lease.StateQuarantined:
			return true
		}
	}
	o, ok := e.offers[a]
	return ok && o.exp > n
}
