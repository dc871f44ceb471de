package lease

import (
	"encoding/hex"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// Leases returns copies of the records matching f, sorted by address.
// Offers appear only when f.States asks for StateOffered.
func (e *Engine) Leases(f Filter) []Lease {
	m := newMatcher(f)
	e.mu.Lock()
	var out []Lease
	for i := range e.rs.arena.Len() {
		r := e.rs.arena.At(int32(i))
		if r.state == StateDeleted || !m.match(r) {
			continue
		}
		if len(out) == cap(out) {
			// Doubling: append grows a large slice by a quarter, i.e.
			// allocates ~5 times the result (a campaign's start copies
			// every lease: 2 KB per lease at 100,000).
			out = slices.Grow(out, max(len(out), 64))
		}
		out = append(out, r.lease())
	}
	if slices.Contains(f.States, StateOffered) {
		for a, o := range e.offers {
			r := rec{addr: a, htype: o.htype, pool: poolIndex(o.pool), sect: o.sect,
				state: StateOffered, start: o.start, expiry: o.exp, xid: o.xid}
			r.setClient(o.key, o.hw)
			if m.match(&r) {
				out = append(out, r.lease())
			}
		}
	}
	e.mu.Unlock()
	slices.SortFunc(out, func(a, b Lease) int { return a.Addr.Compare(b.Addr) })
	return out
}

type matcher struct {
	f         Filter
	from, to  uint32
	clientHex string
	clientIP  uint32
	hasIP     bool
}

func newMatcher(f Filter) matcher {
	m := matcher{f: f, to: ^uint32(0)}
	if f.From.IsValid() {
		m.from = u32(f.From)
	}
	if f.To.IsValid() {
		m.to = u32(f.To)
	}
	if f.Client != "" {
		if a, err := netip.ParseAddr(f.Client); err == nil {
			m.clientIP, m.hasIP = u32(a), true
		}
		m.clientHex = strings.ToLower(strings.NewReplacer(":", "", "-", "", ".", "").Replace(f.Client))
	}
	return m
}

func (m *matcher) match(r *rec) bool {
	f := &m.f
	if len(f.States) == 0 {
		if r.state == StateFree || r.state == StateOffered || r.state == StateDeleted {
			return false
		}
	} else if !slices.Contains(f.States, r.state) {
		return false
	}
	if f.Pool != "" && poolName(r.pool) != f.Pool {
		return false
	}
	if f.Section != nil && int(r.sect) != *f.Section {
		return false
	}
	if r.addr < m.from || r.addr > m.to {
		return false
	}
	if f.Client != "" {
		switch {
		case m.hasIP && r.addr == m.clientIP:
		case r.hw() != "" && hex.EncodeToString([]byte(r.hw())) == m.clientHex:
		case r.key() != "" && hex.EncodeToString([]byte(r.key())) == m.clientHex:
		default:
			return false
		}
	}
	return true
}

// Pools returns the utilisation of every pool in configuration order.
// Bound counts bindings not yet past their expiry at now, Declined the
// addresses held out of use (declined, and quarantined after a delete), Offered the pending offers; pool counts cover the
// whole subnet (reservations outside sections too), section counts their
// range; Reserved the idle reservations inside sections (see PoolStats).
// Cost: one pass over all records and reservations.
func (e *Engine) Pools(now time.Time) []PoolStats {
	n := now.UnixNano()
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]PoolStats, len(e.ps.list))
	idx := make(map[*pool]int, len(e.ps.list))
	for i, p := range e.ps.list {
		idx[p] = i
		st := PoolStats{Name: p.cfg.Name, Subnet: p.cfg.Subnet}
		for _, s := range p.sections {
			st.Size += s.size
			if s.index >= 0 {
				st.Sections = append(st.Sections, SectionStats{Index: s.index, Start: addr4(s.start), End: addr4(s.end), Size: s.size})
			}
		}
		out[i] = st
	}
	count := func(a uint32, state State) {
		p := e.ps.poolOf(a)
		if p == nil {
			return
		}
		st := &out[idx[p]]
		var ss *SectionStats
		if s := e.ps.sectionOf(a); s != nil && s.pool == p && s.index >= 0 {
			for j := range st.Sections {
				if st.Sections[j].Index == s.index {
					ss = &st.Sections[j]
				}
			}
		}
		if ss == nil {
			ss = &SectionStats{} // counted nowhere
		}
		switch state {
		case StateBound:
			st.Bound++
			ss.Bound++
		case StateDeclined:
			st.Declined++
			ss.Declined++
		case StateOffered:
			st.Offered++
			ss.Offered++
		}
	}
	for i := range e.rs.arena.Len() {
		r := e.rs.arena.At(int32(i))
		switch {
		case r.state == StateBound && r.expiry > n || r.state == StateDeclined:
			count(r.addr, r.state)
		case r.state == StateQuarantined:
			count(r.addr, StateDeclined) // held out of use like a declined address
		}
	}
	for a, o := range e.offers {
		if o.exp > n {
			count(a, StateOffered)
		}
	}
	// Reserved addresses inside a section are statically blocked (the
	// allocator never hands them to others) but are part of the pool:
	// counted in Size, and as Reserved while their client holds none.
	for i, p := range e.ps.list {
		st := &out[i]
		for a := range p.resAddr {
			s := e.ps.sectionOf(a)
			if s == nil || s.pool != p {
				continue
			}
			st.Size++
			for j := range st.Sections {
				if st.Sections[j].Index == s.index {
					st.Sections[j].Size++
				}
			}
			if !e.holds(a, n) {
				st.Reserved++
			}
		}
	}
	return out
}

// holds reports whether address a is held by a client at n: a binding not
// past its expiry, a declined or quarantined address, or a pending offer.
func (e *Engine) holds(a uint32, n int64) bool {
	if r := e.rs.get(a); r != nil {
		switch {
		case r.state == StateBound && r.expiry > n, r.state == StateDeclined, r.state == StateQuarantined:
			return true
		}
	}
	o, ok := e.offers[a]
	return ok && o.exp > n
}
