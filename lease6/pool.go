package lease6

import (
	"fmt"
	"math"
	"net/netip"
	"time"

	"github.com/leased/leased/lease"
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
	// hosts[ri] is the Pool whose options a client with reservation ri
	// gets (nil: the pool's own).
	hosts []*Pool
	// group is the pool's shared network in configuration order (nil:
	// none).
	group   []*pool
	maxPlen uint8 // longest delegated prefix a hint may ask for
	acc     access
	// derived caches option sets of member classes (optionsFor), under
	// the engine's mutex.
	derived map[optKey]*Pool

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
			p.maxPlen = p.plen
			if m := pc.PD.MaxLength; m > pc.PD.Length && m <= 128 {
				p.maxPlen = uint8(m)
			}
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
		p.hosts = hostPools(pc)
		acc, err := compileAccess(cfg, pc)
		if err != nil {
			return pools{}, err
		}
		p.acc = acc
		p.preferred, p.valid, p.t1, p.t2 = lifetimes(cfg, pc)
		ps.list = append(ps.list, p)
		ps.names[pc.Name] = p
		ps.spaces = append(ps.spaces, p.na...)
		if p.pd != nil {
			ps.spaces = append(ps.spaces, p.pd)
		}
	}
	groups := map[string][]*pool{}
	for _, p := range ps.list {
		if n := p.cfg.SharedNetwork; n != "" {
			groups[n] = append(groups[n], p)
		}
	}
	for _, p := range ps.list {
		if n := p.cfg.SharedNetwork; n != "" && len(groups[n]) > 1 {
			p.group = groups[n]
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

// selectPool picks the pool of the client's link (RFC 8415 §13.1): for a
// direct client by served interface, then by the interface's global
// address; for a relayed one by the innermost relay's Interface-ID
// (option 18), then its link-address inside Subnet or listed in Links,
// and when that matches no pool (a relay that sends its own or the
// server's address, or ::) by the interface the packet arrived on, as Kea
// does.
func (ps *pools) selectPool(req *Request) *pool {
	if req.Interface != "" {
		if p := ps.byInterface(req.Interface); p != nil {
			return p
		}
	}
	if len(req.InterfaceID) > 0 {
		for _, p := range ps.list {
			if len(p.cfg.InterfaceID) > 0 && string(p.cfg.InterfaceID) == string(req.InterfaceID) {
				return p
			}
		}
	}
	if p := ps.byAddr(req.LinkAddr); p != nil {
		return p
	}
	if req.Interface == "" && req.Ingress != "" {
		if p := ps.byInterface(req.Ingress); p != nil {
			return p
		}
		return ps.byAddr(req.IngressAddr)
	}
	return nil
}

func (ps *pools) byInterface(name string) *pool {
	for _, p := range ps.list {
		if p.cfg.Interface == name {
			return p
		}
	}
	return nil
}

func (ps *pools) byAddr(a netip.Addr) *pool {
	if !a.IsValid() || a.IsUnspecified() {
		return nil
	}
	for _, p := range ps.list {
		if _, ok := p.links[a]; ok {
			return p
		}
	}
	for _, p := range ps.list {
		if p.cfg.Subnet.Contains(a) {
			return p
		}
	}
	return nil
}

// inGroup picks, among p's shared network, the pool that serves the
// client: the one holding its reservation, else its pending offer or its
// binding (bound first, then its newest record of any state), else the
// first pool with room for every kind of IA it asks for, else the first.
// Pools whose Allow/Deny exclude the client's classes (mask) are skipped;
// nil when none is left.
func (e *Engine) inGroup(p *pool, req *Request, mask uint64) *pool {
	if p == nil {
		return nil
	}
	if len(p.group) == 0 {
		if !p.permits(mask, req.ClientID) {
			return nil
		}
		return p
	}
	group := make([]*pool, 0, len(p.group))
	for _, q := range p.group {
		if q.permits(mask, req.ClientID) {
			group = append(group, q)
		}
	}
	if len(group) == 0 {
		return nil
	}
	for _, q := range group {
		if q.reservation(req.ClientID) >= 0 {
			return q
		}
	}
	in := func(name string) *pool {
		for _, q := range group {
			if q.cfg.Name == name {
				return q
			}
		}
		return nil
	}
	for i := range req.IAs {
		if a, ok := e.offerOf(req.ClientID, req.IAs[i].IAID, req.IAs[i].Kind); ok {
			if q := in(e.offers[a].pool); q != nil {
				return q
			}
		}
	}
	if c := e.rs.client(req.ClientID); c != nil {
		var bound, latest *rec
		for _, i := range c.recs {
			r := e.rs.arena.At(i)
			if in(r.pool) == nil {
				continue
			}
			if r.state == lease.StateBound && (bound == nil || r.seq > bound.seq) {
				bound = r
			}
			if latest == nil || r.seq > latest.seq {
				latest = r
			}
		}
		if bound != nil {
			return in(bound.pool)
		}
		if latest != nil {
			return in(latest.pool)
		}
	}
	// A new client: the first pool with room for it — in this server's
	// claims when it has claims there (cluster mode: a pool whose free
	// space other servers claimed would answer NoAddrsAvail while the
	// next pool of the link has room in ours), else the first with room
	// as a whole (its claim wait then claims there), else the first.
	for _, q := range group {
		if e.roomInClaims(q, req) {
			return q
		}
	}
	for _, q := range group {
		if q.hasRoom(req) {
			return q
		}
	}
	return group[0]
}

// roomInClaims is hasRoom for a new IA: for each kind of IA req asks for
// that q has claims for (SetClaims), a free slot inside them.
func (e *Engine) roomInClaims(q *pool, req *Request) bool {
	if !q.hasRoom(req) {
		return false
	}
	for i := range req.IAs {
		kind := req.IAs[i].Kind
		cs, ok := e.claims[claimKey{q.cfg.Name, kind}]
		if !ok {
			continue
		}
		spaces := q.na
		if kind == IAPD {
			spaces = []*space{q.pd}
		}
		found := false
		for _, s := range spaces {
			for _, c := range cs {
				e.eachFree(s, c, func(netip.Addr) bool { found = true; return false })
				if found {
					break
				}
			}
			if found {
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// hasRoom reports whether q has a free slot for every kind of IA req asks
// for (a pool that offers none of a kind has no room for it).
func (q *pool) hasRoom(req *Request) bool {
	for i := range req.IAs {
		switch req.IAs[i].Kind {
		case IANA:
			ok := false
			for _, s := range q.na {
				if (u128{0, s.held}).cmp(s.n) < 0 {
					ok = true
					break
				}
			}
			if !ok {
				return false
			}
		case IAPD:
			if q.pd == nil || (u128{0, q.pd.held}).cmp(q.pd.n) >= 0 {
				return false
			}
		}
	}
	return true
}

// hostPools derives, for each reservation of pc that carries options, the
// Pool whose options its client gets: the pool's, with the reservation's
// lists replacing the pool's and its raw options replacing those of the
// same code.
func hostPools(pc *Pool) []*Pool {
	var hosts []*Pool
	for ri := range pc.Reservations {
		r := &pc.Reservations[ri]
		if len(r.DNS) == 0 && len(r.DomainSearch) == 0 && len(r.NTP) == 0 && len(r.RawOptions) == 0 {
			continue
		}
		if hosts == nil {
			hosts = make([]*Pool, len(pc.Reservations))
		}
		h := *pc
		h.Name = fmt.Sprintf("%s#host%d", pc.Name, ri)
		if len(r.DNS) > 0 {
			h.DNS = r.DNS
		}
		if len(r.DomainSearch) > 0 {
			h.DomainSearch = r.DomainSearch
		}
		if len(r.NTP) > 0 {
			h.NTP = r.NTP
		}
		h.RawOptions = mergeRaw(r.RawOptions, pc.RawOptions)
		hosts[ri] = &h
	}
	return hosts
}

// mergeRaw returns over followed by the options of base whose code over
// does not have.
func mergeRaw(over, base []RawOption) []RawOption {
	if len(over) == 0 {
		return base
	}
	out := append([]RawOption(nil), over...)
	for _, b := range base {
		dup := false
		for _, o := range over {
			if o.Code == b.Code {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, b)
		}
	}
	return out
}

// Inherit gives every pool of cfg the global options (Config.DNS, ...) it
// does not set itself, as the engine does when it loads cfg. Idempotent;
// callers that compare configurations (a reload deciding which pools'
// options changed) call it so that a global change shows in the pools.
func Inherit(cfg *Config) {
	for i := range cfg.Pools {
		p := &cfg.Pools[i]
		if len(p.DNS) == 0 {
			p.DNS = cfg.DNS
		}
		if len(p.DomainSearch) == 0 {
			p.DomainSearch = cfg.DomainSearch
		}
		if len(p.NTP) == 0 {
			p.NTP = cfg.NTP
		}
		p.RawOptions = mergeRaw(p.RawOptions, cfg.RawOptions)
	}
}

// options is the Pool whose options the client duid gets from p.
func (p *pool) options(duid []byte) *Pool {
	if p.hosts != nil {
		if ri := p.reservation(duid); ri >= 0 && p.hosts[ri] != nil {
			return p.hosts[ri]
		}
	}
	return p.cfg
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
