package lease

import (
	"bytes"
	"time"

	"github.com/leased/leased/dhcpv4"
	"github.com/leased/leased/internal/deadline"
)

// Drop reasons (Decision.Drop), used as metric labels.
const (
	DropNoPool            = "no_pool"
	DropPoolExhausted     = "pool_exhausted"
	DropOtherServer       = "other_server"
	DropInitRebootUnknown = "init_reboot_unknown"
	DropRebindUnknown     = "rebind_unknown"
	DropRebindForeign     = "rebind_foreign"
	DropBadRequest        = "bad_request"
	DropNoClient          = "no_client_id"
	DropUnknownType       = "unsupported_type"
	DropDeclineUnknown    = "decline_unknown"
	DropReleaseUnknown    = "release_unknown"
	// DropNotReconfigurable: a strict pool (ForceRenewAuth.Strict) refused
	// a client that did not announce RFC 6704 support.
	DropNotReconfigurable = "not_reconfigurable"
)

// refuses reports whether strict pool p refuses the client of req: it
// cannot be reconfigured because it listed no HMAC-MD5 (algorithm 1) in
// option 145 (RFC 6704 §3.3.1) and the pool has no RFC 3118 token.
func refuses(p *pool, req *Request) bool {
	fr := &p.cfg.ForceRenew
	return fr.Strict && fr.Mode != AuthToken && bytes.IndexByte(req.ForceRenewNonce, 1) < 0
}

// verdict of checking whether an address may be bound to a client.
type verdict uint8

const (
	vOK          verdict = iota
	vWrongNet            // outside the pool's subnet
	vUnavailable         // in the subnet but not allocatable (no section, excluded, gateway, ...)
	vTaken               // held by or reserved for another client
)

// Handle decides on one client message. now is the time the message was
// received. Safe for concurrent use.
func (e *Engine) Handle(now time.Time, req *Request) Decision {
	n := now.UnixNano()
	var kb [64]byte
	key := clientKey(kb[:0], req)
	if len(req.ClientID) == 0 && len(req.HWAddr) == 0 {
		return Decision{Drop: DropNoClient}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.dropStaleOffers(n)
	switch req.Type {
	case dhcpv4.Discover:
		return e.discover(n, req, key)
	case dhcpv4.Request:
		return e.request(n, req, key)
	case dhcpv4.Decline:
		return e.decline(n, req, key)
	case dhcpv4.Release:
		return e.release(n, req, key)
	case dhcpv4.Inform:
		return e.inform(n, req, key)
	case 0: // no option 53: BOOTP (RFC 951, RFC 1542)
		return e.bootp(n, req, key)
	}
	return Decision{Drop: DropUnknownType}
}

// check decides whether address a of pool p may be bound to the client.
// It returns the section index to record (-1 outside sections).
func (e *Engine) check(p *pool, a uint32, req *Request, key []byte) (int32, verdict) {
	if a < p.lo || a > p.hi {
		return 0, vWrongNet
	}
	s := e.ps.sectionOf(a)
	if s != nil && s.pool != p {
		s = nil
	}
	if ri, ok := p.resAddr[a]; ok {
		if p.reservationFor(req) != ri {
			return 0, vTaken // another client's reservation
		}
	} else if s == nil || s.bit(s.static, a) {
		return 0, vUnavailable
	}
	if r := e.rs.get(a); r != nil && r.state.Holds() && r.key() != string(key) {
		return 0, vTaken
	}
	if o, ok := e.offers[a]; ok && o.key != string(key) {
		return 0, vTaken
	}
	if s == nil {
		return -1, vOK
	}
	return int32(s.index), vOK
}

// times is the lease timing for p, shortened to the client's requested
// lease time (option 51) when that is shorter.
func (e *Engine) times(p *pool, m uint64, req *Request) (lt, t1, t2 time.Duration) {
	if req.Type == 0 {
		return bootpTimes(p)
	}
	lt, t1, t2 = e.cfg.Times(p.cfg)
	lt, t1, t2 = e.classTimes(m, lt, t1, t2)
	if req.LeaseTime > 0 {
		if r := time.Duration(req.LeaseTime) * time.Second; r < lt {
			lt = r
			if t1 >= lt {
				t1 = lt / 2
			}
			if t2 >= lt || t2 <= t1 {
				t2 = lt * 7 / 8
			}
		}
	}
	return lt, t1, t2
}

// discover answers DHCPDISCOVER (RFC 2131 §4.3.1) with an offer, choosing
// in order: the client's pending offer, its reservation, its current or
// previous binding, the requested address (option 50), the next free one.
func (e *Engine) discover(n int64, req *Request, key []byte) Decision {
	p := e.ps.selectPool(req)
	if p == nil {
		return Decision{Drop: DropNoPool}
	}
	if refuses(p, req) {
		return Decision{Drop: DropNotReconfigurable, DropPool: p.cfg.Name}
	}
	link := p.cfg.Name
	p, m, a, sect, drop, dry := e.place(p, e.ps.cls.static(req), req, key, false)
	if p == nil {
		return Decision{Drop: drop, DropPool: link, DryPools: dry}
	}
	// One offer per client: withdraw a pending one for another address.
	if old, ok := e.offerKey[string(key)]; ok && old != a {
		e.removeOffer(old)
	}
	o, had := e.offers[a]
	if !had {
		o.key, o.hw = keyStrings(key, req.HType, req.HWAddr)
	}
	// RFC 2131 §4.3.1: the server need not reserve the offered address,
	// but we do, so two clients are never offered one address.
	o.start, o.exp = n, n+int64(e.cfg.OfferHold)
	o.xid, o.htype, o.sect, o.pool = req.XID, req.HType, sect, p.cfg.Name
	e.offers[a] = o
	e.offerKey[o.key] = a
	e.offerTim.Push(deadline.Entry[uint32]{Exp: o.exp, Key: a})
	e.refresh(a)

	lt, t1, t2 := e.times(p, m, req)
	var l *Lease
	var buf []byte
	if sc := req.Scratch; sc != nil {
		l, buf = &sc.reply, sc.bytes[:]
	} else {
		l = new(Lease)
	}
	*l = Lease{
		HType: o.htype, Addr: addr4(a),
		Pool: o.pool, Section: int(sect), State: StateOffered, XID: req.XID,
		Start: fromNanos(n), Expiry: fromNanos(o.exp),
	}
	l.ClientID, buf = bytesIn(buf, o.key)
	l.HWAddr, _ = bytesIn(buf, o.hw)
	// RFC 6704 §3.3.1: the reconfigure key never goes in an OFFER (dhcpcd
	// refuses such an offer); RFC 3118 §4: a token goes in every message.
	var replay uint64
	if p.cfg.ForceRenew.Mode == AuthToken {
		replay = e.replay.Next(fromNanos(n), e.clientReplay(key))
	}
	d := Decision{HasReply: true, Reply: Reply{
		Type: dhcpv4.Offer, YIAddr: l.Addr, ServerID: req.ServerAddr,
		LeaseTime: lt, T1: t1, T2: t2, Pool: p.cfg, Lease: l, Replay: replay,
		Hostname: p.hostnameFor(req),
	}}
	e.decorate(&d.Reply, p, m, req)
	return d
}

// clientReplay is the last replay detection value sent to the client with
// key (0 when none is recorded).
func (e *Engine) clientReplay(key []byte) uint64 {
	if r := e.rs.ofKey(key); r != nil && r.ext != nil {
		return r.ext.replayCounter
	}
	return 0
}

func (e *Engine) choose(p *pool, m uint64, req *Request, key []byte) (uint32, int32, bool) {
	if a, ok := e.offerKey[string(key)]; ok {
		if sect, v := e.check(p, a, req, key); v == vOK && p.sectionAdmits(sect, m) {
			return a, sect, true
		}
	}
	if ri := p.reservationFor(req); ri >= 0 {
		a := u32(p.cfg.Reservations[ri].Addr)
		if sect, v := e.check(p, a, req, key); v == vOK {
			return a, sect, true
		}
	}
	if r := e.rs.ofKey(key); r != nil {
		if sect, v := e.check(p, r.addr, req, key); v == vOK && p.sectionAdmits(sect, m) {
			return r.addr, sect, true
		}
	}
	if isSet(req.RequestedIP) && e.claimed(p, u32(req.RequestedIP)) {
		if sect, v := e.check(p, u32(req.RequestedIP), req, key); v == vOK && p.sectionAdmits(sect, m) {
			return u32(req.RequestedIP), sect, true
		}
	}
	return e.nextFree(p, m)
}

// NAK reasons (Reply.NakReason; the reason label of leased_naks_total).
const (
	NakForced            = "forced"              // a reconfiguration campaign forces the client to restart
	NakWrongNetwork      = "wrong_network"       // the address is not on the client's network
	NakInUse             = "in_use"              // the requested address is in use
	NakNotAvailable      = "not_available"       // the requested address cannot be given
	NakNoBinding         = "no_binding"          // renew or rebind of a lease we do not know
	NakIncorrect         = "incorrect"           // the requested address is not the client's
	NakNotServed         = "not_served"          // the address is in no pool served here
	NakClassDenied       = "class_denied"        // the client's classes are refused by the pool
	NakInUseOther        = "in_use_by_other"     // the address is bound to another client
	NakNoLongerAvailable = "no_longer_available" // the client's address left the pool (reload)
)

// nakMessages are the option 56 texts of the NAK reasons.
var nakMessages = map[string]string{
	NakForced:            forceNAKMessage,
	NakWrongNetwork:      "requested address not on this network",
	NakInUse:             "requested address in use",
	NakNotAvailable:      "requested address not available",
	NakNoBinding:         "no binding for this client",
	NakIncorrect:         "requested address incorrect",
	NakNotServed:         "address not served here",
	NakClassDenied:       "client class not served",
	NakInUseOther:        "address in use by another client",
	NakNoLongerAvailable: "address no longer available",
}

// NakReasons lists every NAK reason (metric label values).
func NakReasons() []string {
	return []string{NakForced, NakWrongNetwork, NakInUse, NakNotAvailable, NakNoBinding, NakIncorrect,
		NakNotServed, NakClassDenied, NakInUseOther, NakNoLongerAvailable}
}

// forceNAKMessage is option 56 of a NAK forced by a reconfiguration.
const forceNAKMessage = "reconfiguration: restart with DHCPDISCOVER"

func nak(req *Request, reason string) Decision {
	return Decision{HasReply: true, Reply: Reply{Type: dhcpv4.Nak, ServerID: req.ServerAddr,
		Message: nakMessages[reason], NakReason: reason}}
}

// request answers DHCPREQUEST (RFC 2131 §4.3.2). The client's state is
// told apart by the fields the RFC requires in each (table 4, §4.3.2):
// SELECTING has option 54; INIT-REBOOT has option 50 and no ciaddr;
// RENEWING and REBINDING have ciaddr, unicast and broadcast respectively.
func (e *Engine) request(n int64, req *Request, key []byte) Decision {
	if !isSet(req.ServerID) {
		// One transaction, one answer: a copy of a REQUEST NAKed by a
		// forced NAK (a retransmission, RFC 2131 §4.1, or the same renew
		// relayed as well as received directly) gets the same NAK, also
		// after the campaign stopped asking for one (it saw the NAK).
		if m, ok := e.forcedNAKs[string(key)]; ok && m.xid == req.XID && n < m.exp {
			return nak(req, NakForced)
		}
	}
	switch {
	case isSet(req.ServerID):
		return e.selecting(n, req, key)
	case isSet(req.CIAddr):
		return e.renewing(n, req, key)
	case isSet(req.RequestedIP):
		return e.initReboot(n, req, key)
	}
	return Decision{Drop: DropBadRequest}
}

func (e *Engine) selecting(n int64, req *Request, key []byte) Decision {
	if req.ServerIDOurs && req.ServerIDShared {
		// RFC 5107 §5 with several servers behind one override address:
		// ours only when we made the offer being accepted.
		if a, ok := e.offerKey[string(key)]; !ok || !isSet(req.RequestedIP) || a != u32(req.RequestedIP) {
			if ok {
				e.removeOffer(a) // it took another server's offer
			}
			return Decision{Drop: DropOtherServer}
		}
	}
	if !req.ServerIDOurs {
		// RFC 2131 §4.3.2: the client chose another server's offer; a
		// DHCPREQUEST naming another server tells us to release our hold.
		if a, ok := e.offerKey[string(key)]; ok {
			e.removeOffer(a)
		}
		return Decision{Drop: DropOtherServer}
	}
	// RFC 2131 §4.3.2 SELECTING: 'requested IP address' MUST be filled in
	// with the offered yiaddr; without it we cannot know what to confirm.
	if !isSet(req.RequestedIP) {
		return Decision{Drop: DropBadRequest}
	}
	p := e.ps.selectPool(req)
	if p == nil {
		return Decision{Drop: DropNoPool}
	}
	if refuses(p, req) {
		return Decision{Drop: DropNotReconfigurable}
	}
	a := u32(req.RequestedIP)
	p = e.onLink(p, a)
	m, _ := e.clientIn(p, e.ps.cls.static(req), req)
	if !p.admits(m) {
		return Decision{Drop: DropClassDenied}
	}
	sect, v := e.check(p, a, req, key)
	if v == vOK && !p.sectionAdmits(sect, m) {
		v = vUnavailable // the section refuses the client's classes
	}
	switch v {
	case vOK:
		return e.bind(n, req, key, p, a, sect, m)
	case vWrongNet:
		return nak(req, NakWrongNetwork)
	case vTaken:
		return nak(req, NakInUse)
	}
	return nak(req, NakNotAvailable)
}

// initReboot: RFC 2131 §4.3.2 INIT-REBOOT. The server SHOULD NAK an
// incorrect address or one on the wrong network; if it has no record of
// the client it MUST remain silent (coexistence of non-communicating
// servers) — unless the pool is configured authoritative, then it NAKs.
func (e *Engine) initReboot(n int64, req *Request, key []byte) Decision {
	p := e.ps.selectPool(req)
	if p == nil {
		return Decision{Drop: DropNoPool}
	}
	if refuses(p, req) {
		return Decision{Drop: DropNotReconfigurable}
	}
	a := u32(req.RequestedIP)
	p = e.onLink(p, a)
	m, ri := e.clientIn(p, e.ps.cls.static(req), req)
	if !p.admits(m) {
		return Decision{Drop: DropClassDenied}
	}
	sect, v := e.check(p, a, req, key)
	r := e.rs.ofKey(key)
	switch {
	case v == vWrongNet:
		return nak(req, NakWrongNetwork)
	case v == vTaken:
		return nak(req, NakInUse)
	case r == nil && ri < 0:
		if p.cfg.Authoritative {
			return nak(req, NakNoBinding)
		}
		return Decision{Drop: DropInitRebootUnknown}
	case v == vOK && ((r != nil && r.addr == a) || (ri >= 0 && u32(p.cfg.Reservations[ri].Addr) == a)):
		if req.ForceNAK {
			return e.forcedNAK(n, req, key)
		}
		return e.bind(n, req, key, p, a, sect, m)
	}
	return nak(req, NakIncorrect)
}

// renewing handles RENEWING (unicast to us) and REBINDING (broadcast),
// both identified by ciaddr (RFC 2131 §4.3.2). A binding of this client on
// ciaddr is extended. ciaddr held by another client, or no longer
// allocatable after a reconfiguration, is NAKed. Otherwise the client is
// unknown: a RENEWING client addressed us directly, so we NAK and it
// restarts in INIT; a REBINDING client broadcast to every server, and as
// for INIT-REBOOT (§4.3.2 "MUST remain silent" for clients the server has
// no record of) we stay silent so that the server holding its lease can
// answer — unless the pool is authoritative. A REBINDING ciaddr outside
// all our subnets is another server's business: silent.
func (e *Engine) renewing(n int64, req *Request, key []byte) Decision {
	a := u32(req.CIAddr)
	rebinding := !req.Unicast
	r := e.rs.get(a)
	// Only a binding can be extended: a client whose lease expired (or was
	// recycled, or released) must stop using the address and restart in
	// INIT (RFC 2131 §4.4.5), so its renew is treated as one from an
	// unknown client; its DISCOVER gets the address back if still free.
	mine := r != nil && r.key() == string(key) && r.state == StateBound
	p := e.ps.poolOf(a)
	if p == nil {
		if mine || !rebinding {
			return nak(req, NakNotServed)
		}
		return Decision{Drop: DropRebindForeign}
	}
	if refuses(p, req) {
		return Decision{Drop: DropNotReconfigurable}
	}
	m, _ := e.clientIn(p, e.ps.cls.static(req), req)
	if !p.admits(m) {
		// The client's classes are no longer served here (reservation
		// removed under deny: [unknown], ...): back to INIT.
		return nak(req, NakClassDenied)
	}
	sect, v := e.check(p, a, req, key)
	if !mine {
		if ri := p.reservationFor(req); ri >= 0 && u32(p.cfg.Reservations[ri].Addr) == a {
			mine = true
		}
	}
	switch {
	case v == vTaken:
		return nak(req, NakInUseOther)
	case v != vOK:
		return nak(req, NakNoLongerAvailable)
	case mine:
		if req.ForceNAK {
			return e.forcedNAK(n, req, key)
		}
		return e.bind(n, req, key, p, a, sect, m)
	case rebinding && !p.cfg.Authoritative:
		return Decision{Drop: DropRebindUnknown}
	}
	return nak(req, NakNoBinding)
}

// forcedNAKMemory is how long a forced NAK's transaction is remembered:
// longer than a client's retransmissions of one REQUEST (RFC 2131 §4.1:
// about 4, 8, 16, 32 and 64 s, randomised) before it gives up.
const forcedNAKMemory = 2 * time.Minute

// nakMemo is the transaction (xid) of a forced NAK and when it is forgotten.
type nakMemo struct {
	xid uint32
	exp int64
}

// forcedNAK NAKs req because a campaign forces NAK, and remembers the
// transaction so that a copy of it gets the same NAK (see request).
func (e *Engine) forcedNAK(n int64, req *Request, key []byte) Decision {
	if len(e.forcedNAKs) >= e.nakSweep {
		for k, m := range e.forcedNAKs {
			if m.exp <= n {
				delete(e.forcedNAKs, k)
			}
		}
		e.nakSweep = 2*len(e.forcedNAKs) + 1024
	}
	e.forcedNAKs[string(key)] = nakMemo{xid: req.XID, exp: n + int64(forcedNAKMemory)}
	return nak(req, NakForced)
}

// bind ACKs address a to the client: a new Bound record with a fresh Seq.
// If the client held a record on another address, that one is freed
// (persisted as an anonymous StateFree record) so a client has one binding.
func (e *Engine) bind(n int64, req *Request, key []byte, p *pool, a uint32, sect int32, m uint64) Decision {
	var old rec
	hasOld := false
	if r := e.rs.ofKey(key); r != nil {
		old, hasOld = *r, true
	}
	lt, t1, t2 := e.times(p, m, req)
	nr := rec{
		seq: e.nextSeq(), addr: a, sect: sect, pool: p.name, state: StateBound,
		start: n, t1: n + int64(t1), t2: n + int64(t2), expiry: n + int64(lt),
		xid: req.XID, htype: req.HType,
	}
	if hasOld {
		// The previous distinct xid: when this request is forged, the real
		// client's last xid is kept for FORCERENEW (see Engine.ForceRenew).
		nr.prevXid = old.prevXid
		if old.xid != req.XID {
			nr.prevXid = old.xid
		}
		nr.kh, nr.klen, nr.hend = old.kh, old.klen, old.hend // key, chaddr and host name
		nr.flags |= old.flags & flagHWInKey
		if hw := old.hw(); hw != string(req.HWAddr) {
			nr.setClient(old.key(), string(req.HWAddr))
		}
	} else {
		nr.setClient(keyStrings(key, req.HType, req.HWAddr))
	}
	if nr.host() != string(req.Hostname) {
		nr.setHost(string(req.Hostname))
	}
	if nr.host() == "" {
		if ri := p.reservationFor(req); ri >= 0 {
			nr.setHost(p.cfg.Reservations[ri].Hostname)
		}
	}
	if isSet(req.GIAddr) {
		nr.flags |= flagGIAddr
		nr.giaddr = u32(req.GIAddr)
	}
	// RFC 6704 §3.3.1: option 145 lists the algorithms the client supports;
	// 1 is HMAC-MD5, the one FORCERENEW nonce authentication defines.
	if bytes.IndexByte(req.ForceRenewNonce, 1) >= 0 {
		nr.flags |= flagNonceCapable
	}
	nr.flags |= uint8(req.DDNS) << flagDDNSShift & flagDDNSMask
	var oldExt *recExt
	var clientReplay uint64
	if hasOld && old.ext != nil {
		oldExt, clientReplay = old.ext, old.ext.replayCounter
	}
	// Authentication of the ACK (option 90).
	// Without a new key the client keeps the last one it received (an ACK
	// without option 90 does not take it away), so the record keeps it.
	var rkey []byte
	if oldExt != nil {
		rkey = oldExt.reconfKey
	}
	replay := clientReplay
	var sentReplay uint64
	switch p.cfg.ForceRenew.Mode {
	case AuthRFC6704:
		// RFC 6704 §3.3.1: a client that announced HMAC-MD5 in option 145
		// gets a reconfigure key in the DHCPACK. The key is chosen once per
		// binding and re-sent unchanged in every later ACK of it: nothing in
		// RFC 6704 §3 (or RFC 8415 §20.4) asks for a new key per exchange,
		// and a new one would let a single forged renewal (the victim's
		// client id, another xid; its ACK never reaches the victim) replace
		// the key the real client holds, so every FORCERENEW to it would
		// fail authentication. A fresh key only for a new binding (first
		// ACK, or after release, expiry, delete or a move). The replay
		// value must exceed every one sent to this client before (RFC 3118
		// §2).
		if nr.flags&flagNonceCapable != 0 && len(req.ReconfKey) == reconfKeyLen {
			sameBinding := hasOld && old.addr == a && old.state == StateBound
			if !sameBinding || len(rkey) != reconfKeyLen {
				rkey = cloneBytes(req.ReconfKey)
			}
			replay = e.replay.Next(fromNanos(n), clientReplay)
			sentReplay = replay
		}
	case AuthToken:
		// RFC 3118 §4: the token goes in every message to the client.
		replay = e.replay.Next(fromNanos(n), clientReplay)
		sentReplay = replay
	}
	relay := req.RelayInfo
	if len(relay) == 0 {
		relay = nil
	}
	switch {
	case oldExt != nil && bytes.Equal(oldExt.relay, relay) && bytes.Equal(oldExt.reconfKey, rkey) && oldExt.replayCounter == replay:
		nr.ext = oldExt
	case relay != nil || rkey != nil || replay != 0:
		nr.ext = &recExt{relay: cloneBytes(relay), reconfKey: rkey, replayCounter: replay}
	}

	d := Decision{HasReply: true}
	var l *Lease // the reply's copy of Persist[0]
	var buf []byte
	moved := hasOld && old.addr != a
	switch sc := req.Scratch; {
	case sc != nil:
		d.undo, d.Persist, l, buf = sc.undo[:0], sc.persist[:0], &sc.reply, sc.bytes[:]
	case moved:
		d.undo = make([]rec, 0, 2)
		d.Persist = make([]Lease, 0, 2)
		l = new(Lease)
	default:
		// A renewal, or a client's first binding: one allocation.
		one := new(oneLease)
		d.undo, d.Persist, l = one.undo[:0:1], one.persist[:0:1], &one.reply
	}
	d.undo = append(d.undo, e.snapshot(a))
	e.rs.put(nr)
	pl, buf := nr.leaseIn(buf)
	d.Persist = append(d.Persist, pl)
	// The client's own reserved address: a cluster store may write it
	// outside this server's claims (Lease.Reserved).
	if len(p.cfg.Reservations) > 0 {
		if ri := p.reservationFor(req); ri >= 0 && u32(p.cfg.Reservations[ri].Addr) == a {
			d.Persist[0].Reserved = true
		}
	}
	e.expTim.Push(deadline.Entry[uint32]{Exp: nr.expiry, Key: a})
	if moved {
		d.undo = append(d.undo, old)
		fr := rec{seq: e.nextSeq(), addr: old.addr, state: StateFree, pool: old.pool, sect: old.sect, start: n}
		e.rs.remove(old.addr)
		fl, _ := fr.leaseIn(buf)
		d.Persist = append(d.Persist, fl)
		e.refresh(old.addr)
	}
	if o, ok := e.offerKey[nr.key()]; ok {
		e.removeOffer(o)
	}
	e.removeOffer(a)
	e.refresh(a)
	delete(e.forcedNAKs, nr.key()) // a new binding: the NAKed transaction is over

	*l = d.Persist[0] // shares its byte slices with Persist[0]; neither aliases the engine
	d.Reply = Reply{
		Type: dhcpv4.Ack, YIAddr: l.Addr, ServerID: req.ServerAddr,
		LeaseTime: lt, T1: t1, T2: t2, Pool: p.cfg, Lease: l,
		Replay: sentReplay, Hostname: p.hostnameFor(req),
	}
	e.decorate(&d.Reply, p, m, req)
	if sentReplay != 0 && p.cfg.ForceRenew.Mode == AuthRFC6704 {
		d.Reply.ReconfKey = l.ReconfKey // a key was issued in this ACK
	}
	return d
}

// decline handles DHCPDECLINE (RFC 2131 §4.3.3): the server MUST mark the
// address as not available; we quarantine it for DeclineQuarantine with
// the client's details cleared. Only a decline of the client's own bound
// address, naming us as server, is honoured.
func (e *Engine) decline(n int64, req *Request, key []byte) Decision {
	if !req.ServerIDOurs {
		return Decision{Drop: DropOtherServer}
	}
	if !isSet(req.RequestedIP) {
		return Decision{Drop: DropBadRequest}
	}
	a := u32(req.RequestedIP)
	r := e.rs.get(a)
	if r == nil || r.key() != string(key) || r.state != StateBound {
		return Decision{Drop: DropDeclineUnknown}
	}
	var d Decision
	d.undo = append(d.undo, *r)
	nr := rec{seq: e.nextSeq(), addr: a, state: StateDeclined, pool: r.pool, sect: r.sect,
		start: n, expiry: n + int64(e.cfg.DeclineQuarantine)}
	e.rs.put(nr)
	e.expTim.Push(deadline.Entry[uint32]{Exp: nr.expiry, Key: a})
	e.refresh(a)
	d.Persist = append(d.Persist, nr.lease())
	return d
}

// release handles DHCPRELEASE (RFC 2131 §4.3.4): the address is marked
// not allocated; the record, with the client's details, is kept so the
// client can get the same address back.
func (e *Engine) release(n int64, req *Request, key []byte) Decision {
	if isSet(req.ServerID) && !req.ServerIDOurs {
		return Decision{Drop: DropOtherServer}
	}
	a := u32(req.CIAddr)
	r := e.rs.get(a)
	if !isSet(req.CIAddr) || r == nil || r.key() != string(key) || r.state != StateBound {
		return Decision{Drop: DropReleaseUnknown}
	}
	var d Decision
	d.undo = append(d.undo, *r)
	nr := *r
	nr.seq = e.nextSeq()
	nr.state = StateReleased
	nr.expiry = n
	e.rs.put(nr)
	e.refresh(a)
	d.Persist = append(d.Persist, nr.lease())
	return d
}

// inform answers DHCPINFORM (RFC 2131 §4.3.5) with the pool's options. The
// server MUST NOT send a lease expiration time and SHOULD NOT fill in
// yiaddr; nothing is allocated or persisted.
func (e *Engine) inform(n int64, req *Request, key []byte) Decision {
	var p *pool
	if isSet(req.CIAddr) {
		p = e.ps.poolOf(u32(req.CIAddr))
	}
	if p == nil {
		p = e.ps.selectPool(req)
	}
	if p == nil {
		return Decision{Drop: DropNoPool}
	}
	var replay uint64
	if p.cfg.ForceRenew.Mode == AuthToken {
		replay = e.replay.Next(fromNanos(n), e.clientReplay(key))
	}
	// The client's reserved name is local configuration too (RFC 2131
	// §3.4), so it goes in the ACK of an INFORM as well.
	d := Decision{HasReply: true, Reply: Reply{Type: dhcpv4.Ack, ServerID: req.ServerAddr, Pool: p.cfg, Replay: replay,
		Hostname: p.hostnameFor(req)}}
	m, _ := e.clientIn(p, e.ps.cls.static(req), req)
	e.decorate(&d.Reply, p, m, req)
	return d
}
