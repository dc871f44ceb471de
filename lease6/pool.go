package lease6

import (
	"fmt"
	"math"
	"net/netip"
	"time"
)

// Default lifetimes when neither the pool nor the Config sets them (the
// values Kea ships with).
const (
	DefaultPreferred         = time.Hour
	DefaultValid             = 2 * time.Hour
	DefaultOfferHold         = 10 * time.Second
	DefaultDeclineQuarantine = time.Hour
)

// space is one allocatable set of equal-sized slots: the addresses of an
// IA_NA range (shift 0) or the Length-sized prefixes carved from a
// delegation prefix (shift 128-Length). Slot i is base + i<<shift.
// Allocation is next fit from a cursor over slot numbers; held counts the
// slots that are taken (a record that holds, an offer, or a reservation),
// so a free slot is always found within held+1 probes and an exhausted
// space is recognised without probing. No memory proportional to the
// space's size is used: a /64 range costs what a /120 does.
type space struct {
	pool   *pool
	kind   IAKind
	base   u128
	n      u128 // slot count (saturated at 2^128-1)
	shift  uint
	cursor u128
	held   uint64
	// reserved slots (counted in held once, at compile time)
	nres uint64
}

func (s *space) slot(i u128) netip.Addr { return s.base.add(i.shl(s.shift)).addr() }

// index returns the slot number of a and whether a is a slot base inside s.
func (s *space) index(a netip.Addr) (u128, bool) {
	if !a.Is6() || a.Is4In6() {
		return u128{}, false
	}
	x := u128Of(a)
	if x.cmp(s.base) < 0 {
		return u128{}, false
	}
	off := x.sub(s.base)
	if s.shift > 0 && !off.sub(off.shr(s.shift).shl(s.shift)).isZero() {
		return u128{}, false // not aligned
	}
	i := off.shr(s.shift)
	if i.cmp(s.n) >= 0 {
		return u128{}, false
	}
	return i, true
}

func (s *space) contains(a netip.Addr) bool { _, ok := s.index(a); return ok }

// pool is the compiled form of a configured Pool.
type pool struct {
	cfg  *Pool
	na   []*space
	pd   *space
	plen uint8 // delegated prefix length (0: no PD)

	resByDUID map[string]int     // DUID → reservation index
	resAddr   map[netip.Addr]int // reserved NA address → reservation
	resSlot   map[netip.Addr]int // PD slot base containing a reserved prefix → reservation
	resWide   []int              // reserved prefixes shorter than the delegated length
	links     map[netip.Addr]struct{}

	preferred, valid, t1, t2 time.Duration
}

// pools is the compiled configuration.
type pools struct {
	list   []*pool
	names  map[string]*pool
	spaces []*space
}

func compile(cfg *Config) (pools, error) {
	ps := pools{names: make(map[string]*pool)}
	for i := range cfg.Pools {
		pc := &cfg.Pools[i]
		if _, dup := ps.names[pc.Name]; dup {
			return pools{}, fmt.Errorf("lease6: pool %q defined twice", pc.Name)
		}
		if !pc.Subnet.IsValid() || !pc.Subnet.Addr().Is6() {
			return pools{}, fmt.Errorf("lease6: pool %q: subnet %v is not an IPv6 prefix", pc.Name, pc.Subnet)
		}
		p := &pool{cfg: pc, resByDUID: map[string]int{}, resAddr: map[netip.Addr]int{},
			resSlot: map[netip.Addr]int{}, links: map[netip.Addr]struct{}{}}
		for _, l := range pc.Links {
			p.links[l] = struct{}{}
		}
		for _, r := range pc.Ranges {
			if !r.Start.Is6() || !r.End.Is6() || r.End.Less(r.Start) {
				return pools{}, fmt.Errorf("lease6: pool %q: bad range %v-%v", pc.Name, r.Start, r.End)
			}
			n := u128Of(r.End).sub(u128Of(r.Start)).add(u128One)
			if n.isZero() { // ::-ffff:...: 2^128 addresses
				n = pow2(128)
			}
			p.na = append(p.na, &space{pool: p, kind: IANA, base: u128Of(r.Start), n: n})
		}
		if pc.PD != nil {
			pp := pc.PD.Prefix.Masked()
			if !pp.IsValid() || !pp.Addr().Is6() || pc.PD.Length < pp.Bits() || pc.PD.Length > 128 || pc.PD.Length == 0 {
				return pools{}, fmt.Errorf("lease6: pool %q: cannot delegate /%d prefixes from %v", pc.Name, pc.PD.Length, pc.PD.Prefix)
			}
			p.plen = uint8(pc.PD.Length)
			p.pd = &space{pool: p, kind: IAPD, base: u128Of(pp.Addr()), n: pow2(pc.PD.Length - pp.Bits()), shift: uint(128 - pc.PD.Length)}
		}
		for ri, r := range pc.Reservations {
			if len(r.DUID) == 0 {
				return pools{}, fmt.Errorf("lease6: pool %q: reservation %d has no DUID", pc.Name, ri)
			}
			p.resByDUID[string(r.DUID)] = ri
			if r.Addr.IsValid() {
				p.resAddr[r.Addr] = ri
			}
			if r.Prefix.IsValid() {
				rp := r.Prefix.Masked()
				if p.pd != nil && rp.Bits() < pc.PD.Length && rp.Overlaps(pc.PD.Prefix) {
					p.resWide = append(p.resWide, ri)
				} else if p.pd != nil && pc.PD.Prefix.Contains(rp.Addr()) {
					base := netip.PrefixFrom(rp.Addr(), pc.PD.Length).Masked().Addr()
					p.resSlot[base] = ri
				} else {
					p.resSlot[rp.Addr()] = ri // outside the carved space: matched by base
				}
			}
		}
		p.preferred, p.valid, p.t1, p.t2 = lifetimes(cfg, pc)
		ps.list = append(ps.list, p)
		ps.names[pc.Name] = p
		ps.spaces = append(ps.spaces, p.na...)
		if p.pd != nil {
			ps.spaces = append(ps.spaces, p.pd)
		}
	}
	// Reserved slots count as held from the start.
	for _, s := range ps.spaces {
		p := s.pool
		if s.kind == IANA {
			for a := range p.resAddr {
				if s.contains(a) {
					s.nres++
				}
			}
			continue
		}
		for a := range p.resSlot {
			if s.contains(a) {
				s.nres++
			}
		}
		for _, ri := range p.resWide {
			rp := p.cfg.Reservations[ri].Prefix.Masked()
			s.nres += pow2(p.cfg.PD.Length - max(rp.Bits(), p.cfg.PD.Prefix.Bits())).sat64()
		}
	}
	for _, s := range ps.spaces {
		s.held = s.nres
	}
	return ps, nil
}

// lifetimes resolves a pool's lifetimes: pool, then Config, then defaults;
// T1 and T2 default to 0.5 and 0.8 of the preferred lifetime (RFC 8415
// §21.4 recommends these ratios), and T1 ≤ T2 ≤ preferred ≤ valid.
func lifetimes(cfg *Config, p *Pool) (pref, valid, t1, t2 time.Duration) {
	pick := func(a, b, def time.Duration) time.Duration {
		if a > 0 {
			return a
		}
		if b > 0 {
			return b
		}
		return def
	}
	valid = pick(p.Valid, cfg.Valid, DefaultValid)
	pref = pick(p.Preferred, cfg.Preferred, min(DefaultPreferred, valid))
	pref = min(pref, valid)
	t1 = pick(p.T1, cfg.T1, pref/2)
	t2 = pick(p.T2, cfg.T2, pref*4/5)
	t2 = min(t2, pref)
	t1 = min(t1, t2)
	return
}

// selectPool picks the pool of the client's link: by served interface for
// a direct client, else by link-address (innermost relay's, or the
// interface's global address) inside Subnet or listed in Links.
func (ps *pools) selectPool(req *Request) *pool {
	if req.Interface != "" {
		for _, p := range ps.list {
			if p.cfg.Interface == req.Interface {
				return p
			}
		}
	}
	if !req.LinkAddr.IsValid() || req.LinkAddr.IsUnspecified() {
		return nil
	}
	for _, p := range ps.list {
		if _, ok := p.links[req.LinkAddr]; ok {
			return p
		}
	}
	for _, p := range ps.list {
		if p.cfg.Subnet.Contains(req.LinkAddr) {
			return p
		}
	}
	return nil
}

// spaceOf returns the space slot a is the base of (nil when none).
func (ps *pools) spaceOf(a netip.Addr) *space {
	for _, s := range ps.spaces {
		if s.contains(a) {
			return s
		}
	}
	return nil
}

// reserved reports whether slot a of s is reserved (for anyone).
func (p *pool) reserved(s *space, a netip.Addr) (int, bool) {
	if s.kind == IANA {
		ri, ok := p.resAddr[a]
		return ri, ok
	}
	if ri, ok := p.resSlot[a]; ok {
		return ri, true
	}
	if len(p.resWide) > 0 {
		sp := netip.PrefixFrom(a, int(p.plen))
		for _, ri := range p.resWide {
			if p.cfg.Reservations[ri].Prefix.Overlaps(sp) {
				return ri, true
			}
		}
	}
	return -1, false
}

// reservation returns the index of the client's reservation in p, -1 when none.
func (p *pool) reservation(duid []byte) int {
	if ri, ok := p.resByDUID[string(duid)]; ok {
		return ri
	}
	return -1
}

// sizes returns the pool's IA_NA address count and delegable prefix count,
// saturated at math.MaxInt.
func (p *pool) sizes() (na, pd int) {
	var t u128
	for _, s := range p.na {
		t = t.add(s.n)
		if t.cmp(s.n) < 0 { // wrapped
			t = pow2(128)
		}
	}
	na = satInt(t)
	if p.pd != nil {
		pd = satInt(p.pd.n)
	}
	return
}

func satInt(x u128) int {
	if v := x.sat64(); v <= math.MaxInt {
		return int(v)
	}
	return math.MaxInt
}
