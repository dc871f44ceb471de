package lease6

import (
	"net/netip"
	"time"

	"github.com/leased/leased/auth"
	"github.com/leased/leased/dhcpv6"
	"github.com/leased/leased/lease"
)

// Drop reasons (Decision.Drop), used as metric labels.
const (
	DropNoClient      = "no_client_id"
	DropNoServerID    = "no_server_id"
	DropOtherServer   = "other_server"
	DropServerIDSent  = "server_id_not_allowed"
	DropUnicast       = "unicast"
	DropNoPool        = "no_pool"
	DropUnknownType   = "unsupported_type"
	DropConfirmEmpty  = "confirm_no_addresses"
	DropInfoReqWithIA = "information_request_with_ia"
	// DropNoReconfigureAccept: a strict pool (ReconfigureConfig.Strict)
	// refused a client that sent no Reconfigure Accept.
	DropNoReconfigureAccept = "no_reconfigure_accept"
	// DropClassDenied: the pools of the client's link exclude its classes
	// (Pool.Allow, Pool.Deny).
	DropClassDenied = "class_denied"
)

// UseMulticast status message (RFC 8415 §18.3.2 and others).
const useMulticastMessage = "use multicast"

// Handle decides on one client message received at now. Safe for
// concurrent use. Validation follows RFC 8415 §16 (what a server must
// discard) and the per-message receipt rules of §18.3.
func (e *Engine) Handle(now time.Time, req *Request) Decision {
	switch req.Type {
	case dhcpv6.Solicit, dhcpv6.Request, dhcpv6.Confirm, dhcpv6.Renew, dhcpv6.Rebind,
		dhcpv6.Release, dhcpv6.Decline:
		// §16: every one of these MUST carry a Client Identifier.
		if len(req.ClientID) == 0 {
			return Decision{Drop: DropNoClient}
		}
	case dhcpv6.InformationRequest:
	default:
		return Decision{Drop: DropUnknownType}
	}
	switch req.Type {
	case dhcpv6.Solicit, dhcpv6.Confirm, dhcpv6.Rebind:
		// §16: discard Solicit, Confirm and Rebind that carry a Server
		// Identifier, and (without the Server Unicast option, which we never
		// send) any of them sent to a unicast address.
		if req.ServerID != nil {
			return Decision{Drop: DropServerIDSent}
		}
		if req.Unicast {
			return Decision{Drop: DropUnicast}
		}
	case dhcpv6.Request, dhcpv6.Renew, dhcpv6.Release, dhcpv6.Decline:
		// §16: these MUST carry a Server Identifier matching ours.
		if req.ServerID == nil {
			return Decision{Drop: DropNoServerID}
		}
		if !req.ServerIDOurs {
			return Decision{Drop: DropOtherServer}
		}
		// §18.3.2, §18.3.4, §18.3.7, §18.3.8: unicast without our Server
		// Unicast option → Reply with UseMulticast and nothing else.
		if req.Unicast {
			return Decision{HasReply: true, Reply: Reply{Type: dhcpv6.Reply,
				Status: dhcpv6.StatusUseMulticast, HasStatus: true, Message: useMulticastMessage}}
		}
	case dhcpv6.InformationRequest:
		// §16: a Server Identifier, if present, must be ours; an
		// Information-request carrying an IA is discarded; §18.4: no unicast.
		if req.ServerID != nil && !req.ServerIDOurs {
			return Decision{Drop: DropOtherServer}
		}
		if len(req.IAs) > 0 {
			return Decision{Drop: DropInfoReqWithIA}
		}
		if req.Unicast {
			return Decision{Drop: DropUnicast}
		}
	}

	n := now.UnixNano()
	e.mu.Lock()
	defer e.mu.Unlock()
	e.dropStaleOffers(n)
	var cls uint64
	if len(e.cfg.Classes) > 0 {
		cls = e.classify(req)
	}
	sel := e.ps.selectPool(req)
	x := txn{e: e, n: n, now: now, req: req, cls: cls, p: e.inGroup(sel, req, cls)}
	switch req.Type {
	case dhcpv6.Release:
		return x.release()
	case dhcpv6.Decline:
		return x.decline()
	}
	if x.p == nil {
		if sel != nil {
			// The link's pools exclude the client's classes (Allow/Deny).
			return Decision{Drop: DropClassDenied}
		}
		if req.Type == dhcpv6.InformationRequest {
			// RFC 3736 / RFC 8415 §18.3.6: stateless service needs no
			// link: the Reply carries the global options.
			return Decision{HasReply: true, Reply: Reply{Type: dhcpv6.Reply, Pool: e.global}}
		}
		return Decision{Drop: DropNoPool}
	}
	if rc := &x.p.cfg.Reconfigure; rc.Strict && !rc.Disabled && !req.ReconfAccept {
		switch req.Type {
		case dhcpv6.Solicit, dhcpv6.Request, dhcpv6.Renew, dhcpv6.Rebind:
			// A client that did not send option 20 will discard every
			// Reconfigure (RFC 8415 §18.2.11), so a strict pool does not
			// bind it at all.
			return Decision{Drop: DropNoReconfigureAccept}
		}
	}
	switch req.Type {
	case dhcpv6.Solicit:
		if req.RapidCommit && x.p.cfg.RapidCommit {
			// §18.3.1: a Solicit with Rapid Commit to a server configured
			// for it is answered with a committed Reply (and option 14).
			d := x.request()
			d.Reply.RapidCommit = true
			return d
		}
		return x.advertise()
	case dhcpv6.Request:
		return x.request()
	case dhcpv6.Renew:
		return x.extend(false)
	case dhcpv6.Rebind:
		return x.extend(true)
	case dhcpv6.Confirm:
		return x.confirm()
	case dhcpv6.InformationRequest:
		// §18.3.6: Reply with the configuration options, no IA.
		return Decision{HasReply: true, Reply: Reply{Type: dhcpv6.Reply, Pool: e.optionsFor(x.p, req.ClientID, x.cls)}}
	}
	return Decision{Drop: DropUnknownType}
}

// txn is one Handle call's working state.
type txn struct {
	e   *Engine
	n   int64
	now time.Time
	req *Request
	p   *pool
	cls uint64 // the client's classes
	d   Decision

	res      []IAResult
	bindings []Binding
	first    int    // index in d.Persist of the first bound record, -1 none
	buf      []byte // the rest of the Scratch's bytes (nil without one)

	prepared bool
	duid     string
	hw       string
	host     string
	relay    string
	key      string
	replay   uint64
	issued   bool // a new reconfigure key goes out in this Reply
	dry      bool // an IA got NoAddrsAvail / NoPrefixAvail (Decision.DryPools)
}

func (x *txn) init() {
	nb := 0
	for i := range x.req.IAs {
		nb += 1 + len(x.req.IAs[i].Addrs) + len(x.req.IAs[i].Prefixes)
	}
	if sc := x.req.Scratch; sc != nil && len(x.req.IAs) <= len(sc.res) && nb <= len(sc.bindings) {
		x.res, x.bindings = sc.res[:0], sc.bindings[:0]
	} else {
		x.res = make([]IAResult, 0, len(x.req.IAs))
		x.bindings = make([]Binding, 0, nb)
	}
	if sc := x.req.Scratch; sc != nil {
		x.buf = sc.bytes[:]
	}
	x.first = -1
}

// initPersist sizes Persist and undo for one record per IA plus the
// records of IAs that move (rare; append grows then).
func (x *txn) initPersist() {
	x.init()
	if sc := x.req.Scratch; sc != nil {
		// append moves them to the heap if more records come
		x.d.Persist, x.d.undo = sc.persist[:0], sc.undo[:0]
		return
	}
	x.d.Persist = make([]lease.Lease, 0, len(x.req.IAs))
	x.d.undo = make([]undoRec, 0, len(x.req.IAs))
}

// replyLease returns where Reply.Lease goes: the Scratch's, else new.
func (x *txn) replyLease() *lease.Lease {
	if sc := x.req.Scratch; sc != nil {
		return &sc.reply
	}
	return new(lease.Lease)
}

// prepare computes the strings and the reconfigure key every record of
// this exchange carries, reusing the client's existing strings.
func (x *txn) prepare() {
	if x.prepared {
		return
	}
	x.prepared = true
	e, req := x.e, x.req
	var latest, keyed, boundKeyed *rec
	var clientReplay uint64
	if c := e.rs.client(req.ClientID); c != nil {
		x.duid = c.duid
		for _, i := range c.recs {
			r := e.rs.arena.At(i)
			if latest == nil || r.seq > latest.seq {
				latest = r
			}
			if r.key != "" && (keyed == nil || r.seq > keyed.seq) {
				keyed = r
			}
			if len(r.key) == auth.KeyLen && r.state == lease.StateBound && (boundKeyed == nil || r.seq > boundKeyed.seq) {
				boundKeyed = r
			}
			clientReplay = max(clientReplay, r.replay)
		}
	} else {
		x.duid = string(req.ClientID)
	}
	reuse := func(old string, b []byte) string {
		if old == string(b) {
			return old
		}
		return string(b)
	}
	host := req.Hostname
	if len(host) == 0 && x.p != nil {
		if ri := x.p.reservation(req.ClientID); ri >= 0 {
			host = []byte(x.p.cfg.Reservations[ri].Hostname)
		}
	}
	if latest != nil {
		x.hw = reuse(latest.hw, req.HWAddr)
		x.host = reuse(latest.host, host)
		x.relay = reuse(latest.relay, req.ReturnPath)
	} else {
		x.hw, x.host, x.relay = string(req.HWAddr), string(host), string(req.ReturnPath)
	}
	x.replay = clientReplay
	if keyed != nil {
		x.key = keyed.key
	}
	// RFC 8415 §20.4.1: the server sends a reconfigure key in a Reply to a
	// client it will reconfigure; the pool decides which clients those are.
	rc := x.p.cfg.Reconfigure
	if len(req.ReconfKey) == auth.KeyLen && !rc.Disabled && (!rc.RequireAccept || req.ReconfAccept) {
		// §20.4 asks for a key per client, not per exchange. The key is
		// chosen when the client has no bound binding and re-sent unchanged
		// while it has one: a fresh key per Reply would let one forged
		// Renew (the victim's DUID; its Reply never reaches the victim)
		// replace the key the real client holds, and every Reconfigure to
		// it would then fail authentication (§20.4.2: the client MUST
		// discard it).
		x.key = string(req.ReconfKey)
		if boundKeyed != nil {
			x.key = boundKeyed.key
		}
		// §20.3: the replay detection value strictly increases.
		x.replay = e.replay.Next(x.now, clientReplay)
		x.issued = true
	}
}

// newRec is the Bound record of (a, plen) for the client's IA iaid.
func (x *txn) newRec(a netip.Addr, plen uint8, iaid uint32) rec {
	x.prepare()
	p := x.p
	r := rec{
		addr: a, plen: plen, iaid: iaid, seq: x.e.nextSeq(), state: lease.StateBound,
		duid: x.duid, hw: x.hw, host: x.host, relay: x.relay, key: x.key, replay: x.replay,
		pool: p.cfg.Name, peer: x.req.Peer, xid: x.req.XID, accept: x.req.ReconfAccept, ddns: x.req.DDNS,
		start: x.n, t1: x.n + int64(p.t1), t2: x.n + int64(p.t2),
		pref: x.n + int64(p.preferred), expiry: x.n + int64(p.valid),
	}
	if x.req.HType <= 0xff {
		r.htype = uint8(x.req.HType)
	}
	return r
}

func (x *txn) persist(u undoRec, r *rec) {
	x.d.undo = append(x.d.undo, u)
	x.d.Persist = append(x.d.Persist, r.leaseIn(&x.buf))
}

// bind makes (a, plen) the binding of the client's IA and returns the
// binding to report. The client's previous record for the IA, on another
// address, is freed (persisted as an anonymous free record).
func (x *txn) bind(ia *IA, a netip.Addr, plen uint8) Binding {
	e := x.e
	duid := x.req.ClientID
	x.prepare() // before the offers go: they may hold the client's entry
	var old rec
	hasOld := false
	if r := e.rs.find(duid, ia.IAID, ia.Kind); r != nil {
		old, hasOld = *r, true
	}
	if o, ok := e.offerOf(duid, ia.IAID, ia.Kind); ok {
		e.removeOffer(o)
	}
	e.removeOffer(a)
	nr := x.newRec(a, plen, ia.IAID)
	u := e.snapshot(a)
	e.putRec(nr)
	if x.first < 0 {
		x.first = len(x.d.Persist)
	}
	x.persist(u, &nr)
	// The client's own reserved address or prefix: a cluster store may
	// write it outside this server's claims (lease.Lease.Reserved).
	if ri := x.p.reservation(duid); ri >= 0 {
		res := &x.p.cfg.Reservations[ri]
		if (ia.Kind == IANA && plen == 0 && res.Addr == a) ||
			(ia.Kind == IAPD && res.Prefix.IsValid() && res.Prefix.Masked().Addr() == a && int(plen) == res.Prefix.Bits()) {
			x.d.Persist[len(x.d.Persist)-1].Reserved = true
		}
	}
	if hasOld && old.addr != a {
		fr := rec{seq: e.nextSeq(), addr: old.addr, plen: old.plen, state: lease.StateFree, pool: old.pool, start: x.n}
		e.removeRec(old.addr)
		x.persist(undoRec{had: true, rec: old}, &fr)
	}
	return x.binding(a, plen, true)
}

// end stops the binding r now (lifetimes 0 to the client): the record
// becomes StateExpired and keeps the client, so it can get it back.
func (x *txn) end(r *rec) Binding {
	e := x.e
	u := undoRec{had: true, rec: *r}
	nr := *r
	nr.seq = e.nextSeq()
	nr.state = lease.StateExpired
	nr.expiry, nr.pref = x.n, x.n
	nr.xid = x.req.XID
	e.putRec(nr)
	x.persist(u, &nr)
	return x.binding(nr.addr, nr.plen, false)
}

func (x *txn) binding(a netip.Addr, plen uint8, valid bool) Binding {
	b := Binding{}
	if plen > 0 {
		b.Prefix = netip.PrefixFrom(a, int(plen))
	} else {
		b.Addr = a
	}
	if valid {
		b.Preferred, b.Valid = x.p.preferred, x.p.valid
	}
	return b
}

// zero reports an address or prefix the client listed with lifetimes 0.
func zero(a netip.Addr, pfx netip.Prefix) Binding {
	return Binding{Addr: a, Prefix: pfx}
}

// addIA appends an IA result holding the bindings appended since from.
func (x *txn) addIA(ia *IA, from int) {
	r := IAResult{Kind: ia.Kind, IAID: ia.IAID, Bindings: x.bindings[from:len(x.bindings):len(x.bindings)]}
	for _, b := range r.Bindings {
		if b.Valid > 0 {
			r.T1, r.T2 = x.p.t1, x.p.t2
			break
		}
	}
	x.res = append(x.res, r)
}

func (x *txn) addStatus(ia *IA, code uint16, msg string) {
	x.res = append(x.res, IAResult{Kind: ia.Kind, IAID: ia.IAID, Status: code, HasStatus: true, Message: msg})
}

func noneAvail(k IAKind) (uint16, string) {
	if k == IAPD {
		return dhcpv6.StatusNoPrefixAvail, "no prefixes available"
	}
	return dhcpv6.StatusNoAddrsAvail, "no addresses available"
}

// servable reports whether pool p may bind (a, plen) of kind k to the
// client duid: a reservation of that client, or a slot of one of p's
// spaces that is not reserved for anyone.
func (e *Engine) servable(p *pool, k IAKind, a netip.Addr, plen uint8, duid []byte) bool {
	ri := p.reservation(duid)
	if k == IANA {
		if plen != 0 {
			return false
		}
		if ri >= 0 && p.cfg.Reservations[ri].Addr == a {
			return p.cfg.Subnet.Contains(a)
		}
		for _, s := range p.na {
			if s.contains(a) {
				_, r := p.reserved(s, a)
				return !r
			}
		}
		return false
	}
	if ri >= 0 {
		if rp := p.cfg.Reservations[ri].Prefix; rp.IsValid() && rp.Masked().Addr() == a && int(plen) == rp.Bits() {
			return true
		}
	}
	if p.pd == nil || plen < p.plen || plen > p.maxPlen || !p.pd.contains(a) {
		return false
	}
	_, r := p.reserved(p.pd, a)
	return !r
}

// check reports whether (a, plen) may be bound to the client's IA: servable
// and held by no other IA's record or offer.
func (e *Engine) check(p *pool, ia *IA, a netip.Addr, plen uint8, duid []byte) bool {
	if !e.servable(p, ia.Kind, a, plen, duid) {
		return false
	}
	if r := e.rs.get(a); r != nil && r.state.Holds() && !r.owns(duid, ia.IAID, ia.Kind) {
		return false
	}
	if o, ok := e.offers[a]; ok && !(o.duid == string(duid) && o.iaid == ia.IAID && o.kind() == ia.Kind) {
		return false
	}
	return true
}

// choose picks what to offer or bind for an IA, in order: the IA's pending
// offer, the client's reservation, the IA's current or previous binding
// (RFC 8415 §18.3.1: a returning client gets what it had), the client's
// hints when free and in range, then the next free slot.
func (x *txn) choose(ia *IA) (netip.Addr, uint8, bool) {
	e, p, duid := x.e, x.p, x.req.ClientID
	plen := p.plen
	if ia.Kind == IANA {
		plen = 0
	}
	if a, ok := e.offerOf(duid, ia.IAID, ia.Kind); ok {
		o := e.offers[a]
		if e.check(p, ia, a, o.plen, duid) {
			return a, o.plen, true
		}
	}
	if ri := p.reservation(duid); ri >= 0 {
		res := &p.cfg.Reservations[ri]
		if ia.Kind == IANA && res.Addr.IsValid() && e.check(p, ia, res.Addr, 0, duid) {
			return res.Addr, 0, true
		}
		if ia.Kind == IAPD && res.Prefix.IsValid() {
			rp := res.Prefix.Masked()
			if e.check(p, ia, rp.Addr(), uint8(rp.Bits()), duid) {
				return rp.Addr(), uint8(rp.Bits()), true
			}
		}
	}
	if r := e.rs.find(duid, ia.IAID, ia.Kind); r != nil && e.check(p, ia, r.addr, r.plen, duid) {
		return r.addr, r.plen, true
	}
	if ia.Kind == IANA {
		for _, a := range ia.Addrs {
			if a.Is6() && !a.IsUnspecified() && e.claimed(p, IANA, a) && e.check(p, ia, a, 0, duid) {
				return a, 0, true
			}
		}
	} else {
		// RFC 8415 §18.3.1: the server uses the IA_PD hints (a prefix, or
		// ::/L for a length alone) when it can. A length between the
		// pool's and its MaxLength is honoured (the first /L of a free
		// slot); any other gets the pool's length.
		for _, h := range ia.Prefixes {
			if h.IsValid() && h.Bits() > int(plen) && h.Bits() <= int(p.maxPlen) {
				plen = uint8(h.Bits())
				break
			}
		}
		for _, h := range ia.Prefixes {
			if h.IsValid() && int(plen) == max(h.Bits(), int(p.plen)) && !h.Addr().IsUnspecified() && p.pd != nil {
				if a := netip.PrefixFrom(h.Addr(), int(p.plen)).Masked().Addr(); e.claimed(p, IAPD, a) && e.check(p, ia, a, plen, duid) {
					return a, plen, true
				}
			}
		}
	}
	spaces := p.na
	if ia.Kind == IAPD {
		if p.pd == nil {
			return netip.Addr{}, 0, false
		}
		spaces = []*space{p.pd}
	}
	for _, s := range spaces {
		if a, ok := e.allocateIn(p, ia.Kind, s); ok {
			return a, plen, true
		}
	}
	return netip.Addr{}, 0, false
}

// allocate returns the next free slot of s at or after its cursor (next
// fit, wrapping). Since at most s.held slots are taken, held+1 probes find
// a free one when any exists; a full space costs nothing.
func (e *Engine) allocate(s *space) (netip.Addr, bool) {
	if (u128{0, s.held}).cmp(s.n) >= 0 {
		return netip.Addr{}, false
	}
	for i := uint64(0); i <= s.held; i++ {
		a := s.slot(s.cursor)
		s.cursor = s.cursor.add(u128One)
		if s.cursor.cmp(s.n) >= 0 {
			s.cursor = u128{}
		}
		if e.occupied(a) {
			continue
		}
		if _, r := s.pool.reserved(s, a); r {
			continue
		}
		return a, true
	}
	return netip.Addr{}, false
}

// advertise answers a Solicit (RFC 8415 §18.3.1) with an Advertise: each
// IA gets an address or prefix held for it for OfferHold, or
// NoAddrsAvail / NoPrefixAvail in the IA. Nothing is persisted; a
// reconfigure key is never sent in an Advertise.
func (x *txn) advertise() Decision {
	x.init()
	e, req := x.e, x.req
	var first *lease.Lease
	for i := range req.IAs {
		ia := &req.IAs[i]
		a, plen, ok := x.choose(ia)
		if !ok {
			code, msg := noneAvail(ia.Kind)
			x.addStatus(ia, code, msg)
			x.dry = true
			continue
		}
		if old, ok := e.offerOf(req.ClientID, ia.IAID, ia.Kind); ok && old != a {
			e.removeOffer(old)
		}
		o := offer{pool: x.p.cfg.Name, start: x.n, exp: x.n + int64(e.cfg.OfferHold),
			iaid: ia.IAID, xid: req.XID, plen: plen}
		if c := e.rs.client(req.ClientID); c != nil {
			o.duid = c.duid
		} else {
			o.duid = string(req.ClientID)
		}
		e.addOffer(a, o)
		from := len(x.bindings)
		x.bindings = append(x.bindings, x.binding(a, plen, true))
		x.addIA(ia, from)
		if first == nil {
			first = x.replyLease()
			*first = lease.Lease{Addr: a, PrefixLen: plen, IAID: ia.IAID, ClientID: bytesIn(&x.buf, o.duid),
				Pool: o.pool, Section: -1, State: lease.StateOffered, XID: req.XID,
				Start: x.now, Expiry: fromNanos(o.exp)}
		}
	}
	rc := x.p.cfg.Reconfigure
	return Decision{HasReply: true, Reply: Reply{Type: dhcpv6.Advertise, IAs: x.res, Pool: e.optionsFor(x.p, req.ClientID, x.cls), Lease: first,
		ReconfAccept: req.ReconfAccept && !rc.Disabled}, DryPools: x.dryPools()}
}

// dryPools is Decision.DryPools: when an IA found nothing and x.p is on a
// shared network, the network's pools that admit the client.
func (x *txn) dryPools() []string {
	if !x.dry || len(x.p.group) == 0 {
		return nil
	}
	var names []string
	for _, q := range x.p.group {
		if q.permits(x.cls, x.req.ClientID) {
			names = append(names, q.cfg.Name)
		}
	}
	return names
}

// request answers a Request (RFC 8415 §18.3.2), or a Rapid Commit Solicit:
// each IA is bound to an address or prefix (the client's listed ones are
// hints), or gets NoAddrsAvail / NoPrefixAvail; an IA_NA of a Request
// listing an address outside the link's prefix gets NotOnLink.
func (x *txn) request() Decision {
	x.initPersist()
	req := x.req
	for i := range req.IAs {
		ia := &req.IAs[i]
		if req.Type == dhcpv6.Request && ia.Kind == IANA && !x.onLink(ia) {
			// RFC 8415 §18.3.2: "If any of the prefixes of the included
			// addresses are not appropriate for the link to which the
			// client is connected, the server MUST return the IA to the
			// client with a Status Code option ... with the value
			// NotOnLink."
			x.addStatus(ia, dhcpv6.StatusNotOnLink, "addresses not on link")
			continue
		}
		a, plen, ok := x.choose(ia)
		if !ok {
			code, msg := noneAvail(ia.Kind)
			x.addStatus(ia, code, msg)
			x.dry = true
			continue
		}
		from := len(x.bindings)
		x.bindings = append(x.bindings, x.bind(ia, a, plen))
		x.addIA(ia, from)
	}
	return x.reply()
}

// onLink reports whether every address the IA lists (:: aside) lies in
// the link's prefix (the pool's Subnet), as confirm checks.
func (x *txn) onLink(ia *IA) bool {
	for _, a := range ia.Addrs {
		if !a.IsUnspecified() && !x.p.cfg.Subnet.Contains(a) {
			return false
		}
	}
	return true
}

// reply finishes a binding Reply.
func (x *txn) reply() Decision {
	d := x.d
	d.HasReply = true
	d.Reply = Reply{Type: dhcpv6.Reply, IAs: x.res, Pool: x.e.optionsFor(x.p, x.req.ClientID, x.cls)}
	d.DryPools = x.dryPools()
	if x.first >= 0 {
		l := x.replyLease()
		*l = d.Persist[x.first]
		d.Reply.Lease = l
		if x.issued {
			// §18.3.x / §20.4.1: the key goes out with option 20.
			d.Reply.ReconfKey = l.ReconfKey
			d.Reply.Replay = x.replay
			d.Reply.ReconfAccept = true
		}
	} else if len(d.Persist) > 0 {
		l := x.replyLease()
		*l = d.Persist[0]
		d.Reply.Lease = l
	}
	return d
}

// listed reports whether the IA lists the binding r.
func listed(ia *IA, r *rec) bool {
	if r.plen == 0 {
		for _, a := range ia.Addrs {
			if a == r.addr {
				return true
			}
		}
		return false
	}
	for _, p := range ia.Prefixes {
		if p.Addr() == r.addr && p.Bits() == int(r.plen) {
			return true
		}
	}
	return false
}

// extend answers a Renew (RFC 8415 §18.3.4) or a Rebind (§18.3.5).
//
// For an IA the client has a binding for: the binding is extended; if its
// address or prefix is no longer appropriate for the link (the link's
// pool cannot serve it any more) or the request is ForceRebind, it is
// returned with lifetimes 0 and the binding ends (§18.3.4: "the server
// returns the address to the client with lifetimes of 0"). Addresses the
// client listed that are not its binding are returned with lifetimes 0.
//
// For an IA without a binding: a Renew gets NoBinding in the IA (§18.3.4).
// A Rebind (§18.3.5) gets lifetimes 0 for listed addresses not appropriate
// for the link, and the server binds a listed one that is appropriate and
// free (it "MAY" send the client a Reply with the IA); if nothing can be
// said the IA gets NoBinding.
func (x *txn) extend(rebind bool) Decision {
	x.initPersist()
	e, req, p := x.e, x.req, x.p
	for i := range req.IAs {
		ia := &req.IAs[i]
		from := len(x.bindings)
		r := e.rs.find(req.ClientID, ia.IAID, ia.Kind)
		if r != nil && r.state == lease.StateBound {
			cur := r.addr
			if !req.ForceRebind && e.check(p, ia, r.addr, r.plen, req.ClientID) {
				x.bindings = append(x.bindings, x.bind(ia, r.addr, r.plen))
			} else {
				x.bindings = append(x.bindings, x.end(r))
			}
			x.zeroOthers(ia, cur)
			x.addIA(ia, from)
			continue
		}
		if !rebind {
			x.addStatus(ia, dhcpv6.StatusNoBinding, "no binding for this IA")
			continue
		}
		bound := false
		for _, a := range ia.Addrs {
			if ia.Kind != IANA {
				break
			}
			switch {
			case !p.cfg.Subnet.Contains(a):
				x.bindings = append(x.bindings, zero(a, netip.Prefix{}))
			case !bound && !req.ForceRebind && e.check(p, ia, a, 0, req.ClientID):
				x.bindings = append(x.bindings, x.bind(ia, a, 0))
				bound = true
			}
		}
		for _, pf := range ia.Prefixes {
			if ia.Kind != IAPD || !pf.IsValid() {
				break
			}
			a, plen := pf.Masked().Addr(), uint8(pf.Bits())
			switch {
			case !e.prefixOnLink(p, pf, req.ClientID):
				x.bindings = append(x.bindings, zero(netip.Addr{}, pf))
			case !bound && !req.ForceRebind && e.check(p, ia, a, plen, req.ClientID):
				x.bindings = append(x.bindings, x.bind(ia, a, plen))
				bound = true
			}
		}
		if len(x.bindings) == from {
			x.addStatus(ia, dhcpv6.StatusNoBinding, "no binding for this IA")
			continue
		}
		x.addIA(ia, from)
	}
	return x.reply()
}

// prefixOnLink reports whether a delegated prefix is appropriate for the
// link of pool p: inside its delegation prefix or reserved for the client.
func (e *Engine) prefixOnLink(p *pool, pf netip.Prefix, duid []byte) bool {
	if p.cfg.PD != nil && p.cfg.PD.Prefix.Contains(pf.Addr()) && pf.Bits() >= p.cfg.PD.Prefix.Bits() {
		return true
	}
	if ri := p.reservation(duid); ri >= 0 {
		return p.cfg.Reservations[ri].Prefix.Masked() == pf.Masked()
	}
	return false
}

// zeroOthers adds lifetime-0 entries for what the IA lists besides cur.
func (x *txn) zeroOthers(ia *IA, cur netip.Addr) {
	if ia.Kind == IANA {
		for _, a := range ia.Addrs {
			if a != cur && a.IsValid() && !a.IsUnspecified() {
				x.bindings = append(x.bindings, zero(a, netip.Prefix{}))
			}
		}
		return
	}
	for _, pf := range ia.Prefixes {
		if pf.IsValid() && pf.Masked().Addr() != cur && !pf.Addr().IsUnspecified() {
			x.bindings = append(x.bindings, zero(netip.Addr{}, pf))
		}
	}
}

// confirm answers a Confirm (RFC 8415 §18.3.3): Success when every listed
// address is appropriate for the link, NotOnLink otherwise; no reply when
// the message lists no address or the link is unknown (the server cannot
// tell).
func (x *txn) confirm() Decision {
	count, onLink := 0, true
	for i := range x.req.IAs {
		ia := &x.req.IAs[i]
		if ia.Kind != IANA {
			continue
		}
		for _, a := range ia.Addrs {
			count++
			if !x.p.cfg.Subnet.Contains(a) {
				onLink = false
			}
		}
	}
	if count == 0 {
		return Decision{Drop: DropConfirmEmpty}
	}
	r := Reply{Type: dhcpv6.Reply, HasStatus: true, Status: dhcpv6.StatusSuccess, Message: "addresses on link"}
	if !onLink {
		r.Status, r.Message = dhcpv6.StatusNotOnLink, "addresses not on link"
	}
	return Decision{HasReply: true, Reply: r}
}

// release answers a Release (RFC 8415 §18.3.7): the client's listed
// bindings become StateReleased (the record keeps the client, so it gets
// the same address back); an IA the server has no binding for gets
// NoBinding; the Reply carries Success.
func (x *txn) release() Decision {
	x.init()
	e, req := x.e, x.req
	for i := range req.IAs {
		ia := &req.IAs[i]
		r := e.rs.find(req.ClientID, ia.IAID, ia.Kind)
		if r == nil || r.state != lease.StateBound || !listed(ia, r) {
			x.addStatus(ia, dhcpv6.StatusNoBinding, "no binding for this IA")
			continue
		}
		u := undoRec{had: true, rec: *r}
		nr := *r
		nr.seq = e.nextSeq()
		nr.state = lease.StateReleased
		nr.expiry, nr.pref = x.n, min(nr.pref, x.n)
		nr.xid = req.XID
		e.putRec(nr)
		x.persist(u, &nr)
	}
	return x.statusReply("released")
}

// decline answers a Decline (RFC 8415 §18.3.8): each listed address bound
// to the client's IA_NA is quarantined for DeclineQuarantine (an anonymous
// StateDeclined record: §18.3.8 "the server MUST mark the addresses
// declined by the client so that those addresses are not assigned to
// other clients"); unknown IAs get NoBinding; the Reply carries Success.
func (x *txn) decline() Decision {
	x.init()
	e, req := x.e, x.req
	for i := range req.IAs {
		ia := &req.IAs[i]
		if ia.Kind != IANA {
			continue // addresses only (§18.2.8)
		}
		r := e.rs.find(req.ClientID, ia.IAID, ia.Kind)
		if r == nil || r.state != lease.StateBound || !listed(ia, r) {
			x.addStatus(ia, dhcpv6.StatusNoBinding, "no binding for this IA")
			continue
		}
		u := undoRec{had: true, rec: *r}
		e.removeOffer(r.addr) // the client's own re-advertisement of it
		nr := rec{seq: e.nextSeq(), addr: r.addr, state: lease.StateDeclined, pool: r.pool,
			start: x.n, expiry: x.n + int64(e.cfg.DeclineQuarantine)}
		e.putRec(nr)
		x.persist(u, &nr)
	}
	return x.statusReply("declined")
}

func (x *txn) statusReply(msg string) Decision {
	d := x.d
	d.HasReply = true
	d.Reply = Reply{Type: dhcpv6.Reply, HasStatus: true, Status: dhcpv6.StatusSuccess, Message: msg, IAs: x.res}
	if len(d.Persist) > 0 {
		l := x.replyLease()
		*l = d.Persist[0]
		d.Reply.Lease = l
	}
	return d
}
