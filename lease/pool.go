package lease

import (
	"fmt"
	"math/bits"
	"sort"
)

// pool is the engine's compiled form of a configured Pool.
type pool struct {
	cfg      *Pool
	name     uint32     // poolIndex(cfg.Name), for records
	lo, hi   uint32     // subnet range
	sections []*section // in Index order
	resAddr  map[uint32]int
	resHW    map[string]int
	resCID   map[string]int
	// option 82 circuit-id / remote-id reservations (nil when none)
	resCircuit, resRemote map[string]int
	resClasses            []uint64 // per reservation: its classes' bits
	allow, deny           uint64   // class masks (see Pool.Allow)
	// group is the shared network this pool is on, in configuration
	// order (the pool itself when it shares none).
	group []*pool
}

// section is an allocatable range with two bitmaps: static (network,
// broadcast, gateway, excluded and reserved addresses, and padding past the
// end) and held (an address with a record or offer that keeps it from
// other clients). An address is free when neither bit is set.
type section struct {
	pool       *pool
	index      int // configured Index; -1 for a pool without sections
	start, end uint32
	static     []uint64
	held       []uint64
	size       int // addresses not statically blocked
	nfree      int // addresses neither static nor held
	cursor     uint32
	allow      uint64 // class masks (Section.Allow/Deny); 0: everyone
	deny       uint64
}

func (s *section) contains(a uint32) bool { return a >= s.start && a <= s.end }

func (s *section) bit(m []uint64, a uint32) bool {
	o := a - s.start
	return m[o/64]&(1<<(o%64)) != 0
}

// setHeld sets or clears the held bit of a, keeping nfree consistent.
func (s *section) setHeld(a uint32, held bool) {
	o := a - s.start
	w, b := o/64, uint64(1)<<(o%64)
	was := s.held[w]&b != 0
	if was == held {
		return
	}
	if held {
		s.held[w] |= b
	} else {
		s.held[w] &^= b
	}
	if s.static[w]&b == 0 {
		if held {
			s.nfree--
		} else {
			s.nfree++
		}
	}
}

// next returns the next free address at or after the cursor (next fit,
// wrapping once), without claiming it. Cost: one pass over the bitmap words
// at worst, 1024 words for a /16; an exhausted section costs nothing.
func (s *section) next() (uint32, bool) {
	if s.nfree <= 0 {
		return 0, false
	}
	n := s.end - s.start + 1
	o, ok := s.scan(s.cursor, n)
	if !ok {
		o, ok = s.scan(0, s.cursor)
	}
	if !ok {
		return 0, false
	}
	s.cursor = o + 1
	if s.cursor >= n {
		s.cursor = 0
	}
	return s.start + o, true
}

// scan finds the first free offset in [from, to).
func (s *section) scan(from, to uint32) (uint32, bool) {
	for o := from; o < to; {
		w := o / 64
		used := s.static[w] | s.held[w] | (uint64(1)<<(o%64) - 1)
		if used != ^uint64(0) {
			f := w*64 + uint32(bits.TrailingZeros64(^used))
			return f, f < to
		}
		o = (w + 1) * 64
	}
	return 0, false
}

func newSection(p *pool, index int, start, end uint32) *section {
	n := uint64(end) - uint64(start) + 1
	words := (n + 63) / 64
	s := &section{pool: p, index: index, start: start, end: end,
		static: make([]uint64, words), held: make([]uint64, words)}
	for o := n; o < words*64; o++ { // padding past the end
		s.static[o/64] |= 1 << (o % 64)
	}
	return s
}

func (s *section) block(a uint32) {
	if s.contains(a) {
		o := a - s.start
		s.static[o/64] |= 1 << (o % 64)
	}
}

func (s *section) count() {
	s.size, s.nfree = 0, 0
	for w := range s.static {
		s.size += 64 - bits.OnesCount64(s.static[w])
		s.nfree += 64 - bits.OnesCount64(s.static[w]|s.held[w])
	}
}

// pools is the compiled configuration: pools and sections sorted by address
// for binary search, relay addresses in a map.
type pools struct {
	list     []*pool // config order
	byAddr   []*pool // sorted by lo
	sections []*section
	relays   map[uint32]*pool
	names    map[string]*pool
	cls      classes
}

func compile(cfg *Config) (pools, error) {
	ps := pools{relays: make(map[uint32]*pool), names: make(map[string]*pool)}
	var err error
	if ps.cls, err = compileClasses(cfg.Classes); err != nil {
		return ps, err
	}
	shared := map[string][]*pool{}
	for i := range cfg.Pools {
		pc := &cfg.Pools[i]
		if !pc.Subnet.IsValid() || !pc.Subnet.Addr().Is4() {
			return ps, fmt.Errorf("lease: pool %q: subnet %v is not IPv4", pc.Name, pc.Subnet)
		}
		if pc.Subnet.Bits() < 8 {
			return ps, fmt.Errorf("lease: pool %q: subnet %v larger than /8", pc.Name, pc.Subnet)
		}
		if _, dup := ps.names[pc.Name]; dup {
			return ps, fmt.Errorf("lease: pool %q defined twice", pc.Name)
		}
		pfx := pc.Subnet.Masked()
		lo := u32(pfx.Addr())
		hi := lo | (1<<(32-pfx.Bits()) - 1)
		p := &pool{cfg: pc, name: poolIndex(pc.Name), lo: lo, hi: hi,
			resAddr: make(map[uint32]int), resHW: make(map[string]int), resCID: make(map[string]int)}
		if len(pc.Sections) == 0 {
			p.sections = []*section{newSection(p, -1, lo, hi)}
		} else {
			secs := append([]Section(nil), pc.Sections...)
			sort.SliceStable(secs, func(a, b int) bool { return secs[a].Index < secs[b].Index })
			for _, sc := range secs {
				st, en := u32(sc.Start), u32(sc.End)
				if !sc.Start.Is4() || !sc.End.Is4() || st > en || st < lo || en > hi {
					return ps, fmt.Errorf("lease: pool %q section %d: range %v-%v not inside %v", pc.Name, sc.Index, sc.Start, sc.End, pc.Subnet)
				}
				s := newSection(p, sc.Index, st, en)
				if s.allow, err = ps.cls.mask(sc.Allow); err != nil {
					return ps, fmt.Errorf("lease: pool %q section %d allow: %w", pc.Name, sc.Index, err)
				}
				if s.deny, err = ps.cls.mask(sc.Deny); err != nil {
					return ps, fmt.Errorf("lease: pool %q section %d deny: %w", pc.Name, sc.Index, err)
				}
				p.sections = append(p.sections, s)
			}
		}
		var blocked []uint32
		if pfx.Bits() < 31 { // RFC 3021: a /31 has no network or broadcast address
			blocked = append(blocked, lo, hi)
		}
		if isSet(pc.Gateway) {
			blocked = append(blocked, u32(pc.Gateway))
		}
		for _, r := range pc.Routers {
			if r.Is4() && u32(r) >= lo && u32(r) <= hi {
				blocked = append(blocked, u32(r))
			}
		}
		if p.allow, err = ps.cls.mask(pc.Allow); err != nil {
			return ps, fmt.Errorf("lease: pool %q allow: %w", pc.Name, err)
		}
		if p.deny, err = ps.cls.mask(pc.Deny); err != nil {
			return ps, fmt.Errorf("lease: pool %q deny: %w", pc.Name, err)
		}
		p.resClasses = make([]uint64, len(pc.Reservations))
		for _, x := range pc.Exclude {
			blocked = append(blocked, u32(x))
		}
		for ri, r := range pc.Reservations {
			a := u32(r.Addr)
			if a < lo || a > hi {
				return ps, fmt.Errorf("lease: pool %q: reservation %v outside %v", pc.Name, r.Addr, pc.Subnet)
			}
			blocked = append(blocked, a)
			p.resAddr[a] = ri
			if len(r.HWAddr) > 0 {
				p.resHW[string(r.HWAddr)] = ri
			}
			if len(r.ClientID) > 0 {
				p.resCID[string(r.ClientID)] = ri
			}
			if len(r.CircuitID) > 0 {
				if p.resCircuit == nil {
					p.resCircuit = make(map[string]int)
				}
				p.resCircuit[string(r.CircuitID)] = ri
			}
			if len(r.RemoteID) > 0 {
				if p.resRemote == nil {
					p.resRemote = make(map[string]int)
				}
				p.resRemote[string(r.RemoteID)] = ri
			}
			if p.resClasses[ri], err = ps.cls.mask(r.Classes); err != nil {
				return ps, fmt.Errorf("lease: pool %q reservation %v: %w", pc.Name, r.Addr, err)
			}
		}
		if pc.SharedNetwork != "" {
			shared[pc.SharedNetwork] = append(shared[pc.SharedNetwork], p)
		}
		for _, s := range p.sections {
			for _, a := range blocked {
				s.block(a)
			}
			s.count()
		}
		for _, r := range pc.Relays {
			ps.relays[u32(r)] = p
		}
		ps.list = append(ps.list, p)
		ps.names[pc.Name] = p
		ps.sections = append(ps.sections, p.sections...)
	}
	for _, p := range ps.list {
		if g, ok := shared[p.cfg.SharedNetwork]; ok && p.cfg.SharedNetwork != "" {
			p.group = g
		} else {
			p.group = []*pool{p}
		}
	}
	ps.byAddr = append([]*pool(nil), ps.list...)
	sort.Slice(ps.byAddr, func(a, b int) bool { return ps.byAddr[a].lo < ps.byAddr[b].lo })
	for i := 1; i < len(ps.byAddr); i++ {
		if ps.byAddr[i].lo <= ps.byAddr[i-1].hi {
			return ps, fmt.Errorf("lease: pools %q and %q overlap", ps.byAddr[i-1].cfg.Name, ps.byAddr[i].cfg.Name)
		}
	}
	sort.Slice(ps.sections, func(a, b int) bool { return ps.sections[a].start < ps.sections[b].start })
	for i := 1; i < len(ps.sections); i++ {
		if ps.sections[i].start <= ps.sections[i-1].end {
			return ps, fmt.Errorf("lease: pool %q: sections %d and %d overlap", ps.sections[i].pool.cfg.Name, ps.sections[i-1].index, ps.sections[i].index)
		}
	}
	return ps, nil
}

// poolOf returns the pool whose subnet contains a.
func (ps *pools) poolOf(a uint32) *pool {
	i := sort.Search(len(ps.byAddr), func(i int) bool { return ps.byAddr[i].hi >= a })
	if i < len(ps.byAddr) && ps.byAddr[i].lo <= a {
		return ps.byAddr[i]
	}
	return nil
}

// sectionOf returns the section containing a, or nil.
func (ps *pools) sectionOf(a uint32) *section {
	i := sort.Search(len(ps.sections), func(i int) bool { return ps.sections[i].end >= a })
	if i < len(ps.sections) && ps.sections[i].start <= a {
		return ps.sections[i]
	}
	return nil
}

// selectPool picks the pool for a client message: the RFC 3527 link
// selection sub-option of option 82 when present, else giaddr (inside a
// subnet or listed as a relay) when relayed, else the receiving link.
func (ps *pools) selectPool(req *Request) *pool {
	if ls, ok := linkSelection(req.RelayInfo); ok {
		return ps.poolOf(ls)
	}
	if isSet(req.GIAddr) {
		g := u32(req.GIAddr)
		if p := ps.poolOf(g); p != nil {
			return p
		}
		return ps.relays[g]
	}
	if isSet(req.LinkAddr) {
		return ps.poolOf(u32(req.LinkAddr))
	}
	return nil
}

// reservationFor returns the index of the reservation of p that matches the
// client (client identifier first, then hardware address, then option 82
// circuit-id, then remote-id), or -1.
func (p *pool) reservationFor(req *Request) int {
	if len(req.ClientID) > 0 {
		if i, ok := p.resCID[string(req.ClientID)]; ok {
			return i
		}
	}
	if len(req.HWAddr) > 0 {
		if i, ok := p.resHW[string(req.HWAddr)]; ok {
			return i
		}
	}
	if p.resCircuit != nil {
		if v, ok := relaySub(req.RelayInfo, 1); ok {
			if i, ok := p.resCircuit[string(v)]; ok {
				return i
			}
		}
	}
	if p.resRemote != nil {
		if v, ok := relaySub(req.RelayInfo, 2); ok {
			if i, ok := p.resRemote[string(v)]; ok {
				return i
			}
		}
	}
	return -1
}

// hostnameFor is the host name of the client's reservation in p (option
// 12 in replies), "" when it has none.
func (p *pool) hostnameFor(req *Request) string {
	if ri := p.reservationFor(req); ri >= 0 {
		return p.cfg.Reservations[ri].Hostname
	}
	return ""
}

// linkSelection parses option 82 (RFC 3046 §2.0: a sequence of sub-option
// code, length, value) for sub-option 5, link selection (RFC 3527 §3),
// whose value is a 4-byte IPv4 address.
func linkSelection(o82 []byte) (uint32, bool) {
	for len(o82) >= 2 {
		code, n := o82[0], int(o82[1])
		if len(o82) < 2+n {
			return 0, false
		}
		if code == 5 && n == 4 {
			v := o82[2:6]
			return uint32(v[0])<<24 | uint32(v[1])<<16 | uint32(v[2])<<8 | uint32(v[3]), true
		}
		o82 = o82[2+n:]
	}
	return 0, false
}
