package lease

import "time"

// Drop reasons of classes and BOOTP (Decision.Drop).
const (
	// DropClassDenied: every pool the client could use refuses its
	// classes (pool allow/deny, e.g. deny: [unknown]).
	DropClassDenied = "class_denied"
	// DropBOOTPNotAllowed: a BOOTP request (no message type) on a link
	// where no pool has bootp: true.
	DropBOOTPNotAllowed = "bootp_not_allowed"
)

// InfiniteLease is how long a BOOTP binding without a configured lease
// time lasts (RFC 1534 §3: BOOTP clients cannot renew; RFC 2131 §3.3:
// 0xffffffff means infinity on the wire). 100 years keeps expiry
// arithmetic in int64 nanoseconds.
const InfiniteLease = 100 * 365 * 24 * time.Hour

// clientIn is the client's class set and reservation index in pool p.
func (e *Engine) clientIn(p *pool, static uint64, req *Request) (uint64, int) {
	ri := p.reservationFor(req)
	return e.ps.cls.forPool(static, p, ri), ri
}

func inGroup(p, q *pool) bool {
	for _, g := range p.group {
		if g == q {
			return true
		}
	}
	return false
}

// onLink returns the pool of p's shared network that holds address a, or
// p when a is in none of them.
func (e *Engine) onLink(p *pool, a uint32) *pool {
	if len(p.group) > 1 {
		if q := e.ps.poolOf(a); q != nil && inGroup(p, q) {
			return q
		}
	}
	return p
}

// place chooses the pool and address for a DISCOVER (or a BOOTP request)
// on the link of p. On a shared network the pool of the client's pending
// offer, of its binding and of its requested address are tried first (a
// client's lease in any subnet of the link is honoured), then the pools
// in configuration order; a pool is skipped when its allow/deny refuses
// the client's classes, or (bootp) when it does not serve BOOTP. dry
// names, on a shared network, the pools that admit the client but had no
// free address, in the order tried (Decision.DryPools).
func (e *Engine) place(p *pool, static uint64, req *Request, key []byte, bootp bool) (q *pool, m uint64, a uint32, sect int32, drop string, dry []string) {
	denied, exhausted := false, false
	var tried [3]*pool
	nt := 0
	try := func(c *pool) bool {
		if c == nil || !inGroup(p, c) {
			return false
		}
		for _, t := range tried[:nt] {
			if t == c {
				return false
			}
		}
		if nt < len(tried) {
			tried[nt] = c
			nt++
		}
		if bootp && !c.cfg.BOOTP {
			return false
		}
		cm, _ := e.clientIn(c, static, req)
		if !c.admits(cm) || !c.anySectionAdmits(cm) {
			denied = true
			return false
		}
		ca, cs, ok := e.choose(c, cm, req, key)
		if !ok {
			exhausted = true
			if len(p.group) > 1 {
				dry = append(dry, c.cfg.Name)
			}
			return false
		}
		q, m, a, sect = c, cm, ca, cs
		return true
	}
	if len(p.group) > 1 {
		if o, ok := e.offerKey[string(key)]; ok && try(e.ps.poolOf(o)) {
			return
		}
		if r := e.rs.ofKey(key); r != nil && try(e.ps.poolOf(r.addr)) {
			return
		}
		if isSet(req.RequestedIP) && try(e.ps.poolOf(u32(req.RequestedIP))) {
			return
		}
		// Then the link's pools in order (those tried above are skipped).
		for _, c := range p.group {
			if try(c) {
				return
			}
		}
	} else if try(p) {
		return
	}
	switch {
	case exhausted:
		drop = DropPoolExhausted
	case denied:
		drop = DropClassDenied
	default:
		drop = DropBOOTPNotAllowed
	}
	return nil, 0, 0, 0, drop, dry
}

// classTimes applies the lease time of the first member class that sets
// one (configuration order); T1 and T2 are then 50 % and 87.5 % of it.
func (e *Engine) classTimes(m uint64, lt, t1, t2 time.Duration) (time.Duration, time.Duration, time.Duration) {
	if m&^classBuiltins == 0 {
		return lt, t1, t2
	}
	for i := range e.ps.cls.list {
		if m&(1<<i) != 0 && e.ps.cls.list[i].LeaseTime > 0 {
			l := e.ps.cls.list[i].LeaseTime
			return l, l / 2, l * 7 / 8
		}
	}
	return lt, t1, t2
}

// decorate fills in the class and reservation parts of a reply from pool p.
func (e *Engine) decorate(r *Reply, p *pool, m uint64, req *Request) {
	r.Classes = m
	r.ClassList = e.ps.cls.list
	if ri := p.reservationFor(req); ri >= 0 {
		r.Reservation = &p.cfg.Reservations[ri]
	}
	r.BOOTP = req.Type == 0
	r.MaxMessageSize = req.MaxMessageSize
}

// bootp answers a BOOTP request (no option 53): RFC 1534 dynamic BOOTP,
// the address is bound at once (there is no REQUEST to wait for) for the
// pool's BOOTP lease time, infinite by default.
func (e *Engine) bootp(n int64, req *Request, key []byte) Decision {
	p := e.ps.selectPool(req)
	if p == nil {
		return Decision{Drop: DropNoPool}
	}
	static := e.ps.cls.static(req)
	q, m, a, sect, drop, dry := e.place(p, static, req, key, true)
	if q == nil {
		return Decision{Drop: drop, DropPool: p.cfg.Name, DryPools: dry}
	}
	return e.bind(n, req, key, q, a, sect, m)
}

// bootpTimes: RFC 1534 §3 — a BOOTP client never renews, so its binding
// lasts the pool's BOOTP lease time, or "infinitely".
func bootpTimes(p *pool) (lt, t1, t2 time.Duration) {
	lt = p.cfg.BOOTPLeaseTime
	if lt <= 0 {
		lt = InfiniteLease
	}
	return lt, lt / 2, lt * 7 / 8
}
