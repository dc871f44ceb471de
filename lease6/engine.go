package lease6

import (
	"fmt"
	"iter"
	"net/netip"
	"sync"
	"time"

	"github.com/leased/leased/auth"
	"github.com/leased/leased/internal/deadline"
	"github.com/leased/leased/lease"
)

// Engine is the DHCPv6 lease engine. All methods are safe for concurrent
// use; one mutex guards the state.
type Engine struct {
	mu  sync.Mutex
	cfg Config
	ps  pools
	// global is the Pool (named "") of the global options: the options of
	// a stateless Reply that matches no pool.
	global *Pool
	// optClasses has the bits of the classes that carry options.
	optClasses uint64
	rs         records

	offers   map[netip.Addr]offer // in memory only, never persisted
	offerTim deadline.Heap[netip.Addr]
	expTim   deadline.Heap[netip.Addr] // Bound and Declined deadlines

	seq    uint64
	names  map[string]string // interned pool names of restored records
	replay *auth.Counter     // RFC 8415 §20.3 replay detection values

	// claims: the ranges new IAs may get per pool and kind (SetClaims,
	// claims.go); absent: unrestricted.
	claims map[claimKey][]claimRange
}

// offer is an address or prefix advertised to one client's IA, held for
// it alone until exp (RFC 8415 §18.3.1 lets the server hold it; we do, so
// two clients are never advertised the same one).
type offer struct {
	duid  string
	pool  string
	start int64
	exp   int64
	iaid  uint32
	xid   uint32
	plen  uint8
}

func (o *offer) kind() IAKind {
	if o.plen > 0 {
		return IAPD
	}
	return IANA
}

// New compiles cfg into an engine with no bindings. Restore stored records
// before the first Handle.
func New(cfg Config) (*Engine, error) {
	e := &Engine{
		rs:     newRecords(),
		offers: make(map[netip.Addr]offer),
		names:  make(map[string]string),
		replay: auth.NewCounter(0),
	}
	if err := e.setConfig(cfg); err != nil {
		return nil, err
	}
	return e, nil
}

func (e *Engine) setConfig(cfg Config) error {
	cfg.Pools = append([]Pool(nil), cfg.Pools...)
	if len(cfg.Classes) > MaxClasses {
		return fmt.Errorf("lease6: %d classes; at most %d", len(cfg.Classes), MaxClasses)
	}
	Inherit(&cfg)
	ps, err := compile(&cfg)
	if err != nil {
		return err
	}
	if cfg.OfferHold <= 0 {
		cfg.OfferHold = DefaultOfferHold
	}
	if cfg.DeclineQuarantine <= 0 {
		cfg.DeclineQuarantine = DefaultDeclineQuarantine
	}
	e.cfg, e.ps = cfg, ps
	e.global = &Pool{DNS: cfg.DNS, DomainSearch: cfg.DomainSearch, NTP: cfg.NTP, RawOptions: cfg.RawOptions}
	e.optClasses = 0
	for i := range cfg.Classes {
		if cfg.Classes[i].hasOptions() {
			e.optClasses |= 1 << i
		}
	}
	return nil
}

// ApplyConfig replaces the pools (SIGHUP). Every record is kept; a binding
// whose address or prefix is no longer servable by its link's pool gets
// lifetime 0 at its client's next Renew or Rebind. Offers that are no
// longer servable are withdrawn.
func (e *Engine) ApplyConfig(cfg Config) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.setConfig(cfg); err != nil {
		return err
	}
	for a, o := range e.offers {
		if p := e.ps.names[o.pool]; p == nil || !e.servable(p, o.kind(), a, o.plen, []byte(o.duid)) {
			e.removeOffer(a)
		}
	}
	e.recount()
	return nil
}

// recount recomputes every space's held count from records and offers.
func (e *Engine) recount() {
	for _, s := range e.ps.spaces {
		s.held = s.nres
	}
	for a, i := range e.rs.byAddr {
		if e.rs.arena.At(i).state.Holds() {
			e.count(a, true)
		}
	}
	for a := range e.offers {
		if r := e.rs.get(a); r == nil || !r.state.Holds() {
			e.count(a, true)
		}
	}
}

// occupied reports whether a (an address or a prefix base) is taken by a
// record that holds it or by an offer.
func (e *Engine) occupied(a netip.Addr) bool {
	if r := e.rs.get(a); r != nil && r.state.Holds() {
		return true
	}
	_, ok := e.offers[a]
	return ok
}

// count moves the held count of a's space (reserved slots are counted once
// at compile time and never here).
func (e *Engine) count(a netip.Addr, up bool) {
	s := e.ps.spaceOf(a)
	if s == nil {
		return
	}
	if _, r := s.pool.reserved(s, a); r {
		return
	}
	if up {
		s.held++
	} else if s.held > s.nres {
		s.held--
	}
}

// adjust updates the held count after a change to a; was is occupied(a)
// before the change.
func (e *Engine) adjust(a netip.Addr, was bool) {
	if now := e.occupied(a); now != was {
		e.count(a, now)
	}
}

// putRec stores r keeping held counts and the expiry heap.
func (e *Engine) putRec(r rec) *rec {
	was := e.occupied(r.addr)
	p := e.rs.put(r)
	if r.state == lease.StateBound || r.state == lease.StateDeclined || r.state == lease.StateQuarantined {
		e.expTim.Push(deadline.Entry[netip.Addr]{Exp: r.expiry, Key: r.addr})
	}
	e.adjust(r.addr, was)
	return p
}

func (e *Engine) removeRec(a netip.Addr) {
	was := e.occupied(a)
	e.rs.remove(a)
	e.adjust(a, was)
}

func (e *Engine) nextSeq() uint64 {
	e.seq++
	return e.seq
}

func (e *Engine) addOffer(a netip.Addr, o offer) {
	was := e.occupied(a)
	if old, ok := e.offers[a]; ok && old.duid != o.duid {
		e.removeOffer(a)
		was = e.occupied(a)
	}
	if _, ok := e.offers[a]; !ok {
		c := e.rs.clientOf(o.duid)
		o.duid = c.duid
		c.offers = append(c.offers, a)
	}
	e.offers[a] = o
	e.offerTim.Push(deadline.Entry[netip.Addr]{Exp: o.exp, Key: a})
	e.adjust(a, was)
}

func (e *Engine) removeOffer(a netip.Addr) {
	o, ok := e.offers[a]
	if !ok {
		return
	}
	was := e.occupied(a)
	delete(e.offers, a)
	if c := e.rs.clients[o.duid]; c != nil {
		for j, x := range c.offers {
			if x == a {
				c.offers[j] = c.offers[len(c.offers)-1]
				c.offers = c.offers[:len(c.offers)-1]
				break
			}
		}
		e.rs.dropIfEmpty(c)
	}
	e.adjust(a, was)
}

// offerOf returns the client's pending offer for IA (iaid, kind).
func (e *Engine) offerOf(duid []byte, iaid uint32, k IAKind) (netip.Addr, bool) {
	c := e.rs.client(duid)
	if c == nil {
		return netip.Addr{}, false
	}
	for _, a := range c.offers {
		if o := e.offers[a]; o.iaid == iaid && o.kind() == k {
			return a, true
		}
	}
	return netip.Addr{}, false
}

// dropStaleOffers ends every offer whose hold time has passed.
func (e *Engine) dropStaleOffers(now int64) {
	for {
		t, ok := e.offerTim.Peek()
		if !ok || t.Exp > now {
			return
		}
		e.offerTim.Pop()
		if o, ok := e.offers[t.Key]; ok && o.exp == t.Exp {
			e.removeOffer(t.Key)
		}
	}
}

// undoRec is one record's state before a decision, for Revert: the
// previous record of the address, or none (had false).
type undoRec struct {
	had bool
	rec rec
}

func (e *Engine) snapshot(a netip.Addr) undoRec {
	if r := e.rs.get(a); r != nil {
		return undoRec{had: true, rec: *r}
	}
	return undoRec{rec: rec{addr: a}}
}

// removes reports whether persisting l removes its address's record
// (a tombstone or an anonymous free record).
func removes(l *lease.Lease) bool {
	return l.State == lease.StateDeleted || (l.State == lease.StateFree && len(l.ClientID) == 0)
}

// Revert undoes the in-memory effects of d after its records could not be
// made durable. An address is restored only while its record is still the
// one d set (same Seq, or still absent when d removed it), so a later
// decision is never clobbered. Offers withdrawn by d stay withdrawn.
// Revert is idempotent.
func (e *Engine) Revert(d *Decision) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i := len(d.undo) - 1; i >= 0; i-- {
		set := &d.Persist[i]
		cur := e.rs.get(set.Addr)
		if removes(set) {
			if cur != nil {
				continue // taken again since
			}
		} else if cur == nil || cur.seq != set.Seq {
			continue
		}
		u := d.undo[i]
		if u.had {
			e.putRec(u.rec)
		} else {
			e.removeRec(set.Addr)
		}
	}
	d.undo = nil
}

// Restore loads one stored record before serving. For each address the
// record with the highest Seq wins; a tombstone or an anonymous free
// record removes the address's binding. Only DHCPv6 records are taken;
// offered records are never persisted and are ignored.
func (e *Engine) Restore(l lease.Lease) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !l.IsV6() || l.State == lease.StateOffered || !l.State.Valid() {
		return
	}
	if l.Seq > e.seq {
		e.seq = l.Seq
	}
	if cur := e.rs.get(l.Addr); cur != nil && cur.seq > l.Seq {
		return
	}
	if removes(&l) {
		e.removeRec(l.Addr)
		return
	}
	// RFC 8415 §20.3: replay detection values must keep increasing.
	e.replay.Observe(l.ReplayCounter)
	r := recFrom(&l)
	if n, ok := e.names[r.pool]; ok {
		r.pool = n
	} else {
		e.names[r.pool] = r.pool
	}
	if c := e.rs.clients[r.duid]; c != nil {
		r.duid = c.duid
	}
	e.putRec(r)
	// Continue allocating after the restored bindings, as the engine that
	// wrote them did, so returning clients' released or expired addresses
	// are not the first ones handed to new clients.
	if s := e.ps.spaceOf(r.addr); s != nil {
		i, _ := s.index(r.addr)
		if next := i.add(u128One); next.cmp(s.cursor) > 0 && next.cmp(s.n) < 0 {
			s.cursor = next
		}
	}
}

// Expire reclaims at most max bindings whose valid lifetime has ended
// (→ StateExpired; the record keeps the client so a returning client gets
// the same address or prefix) and ended decline quarantines (→ an
// anonymous StateFree record), and drops stale offers (memory only, not
// counted). Persist holds the records to make durable; on failure call
// Revert.
func (e *Engine) Expire(now time.Time, max int) Decision {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := now.UnixNano()
	e.dropStaleOffers(n)
	var d Decision
	for len(d.Persist) < max {
		t, ok := e.expTim.Peek()
		if !ok || t.Exp > n {
			break
		}
		e.expTim.Pop()
		r := e.rs.get(t.Key)
		if r == nil || r.expiry != t.Exp {
			continue // renewed, released or gone since
		}
		switch r.state {
		case lease.StateBound, lease.StateQuarantined:
			d.undo = append(d.undo, undoRec{had: true, rec: *r})
			nr := *r
			nr.state = lease.StateExpired
			nr.seq = e.nextSeq()
			e.putRec(nr)
			d.Persist = append(d.Persist, nr.lease())
		case lease.StateDeclined:
			d.undo = append(d.undo, undoRec{had: true, rec: *r})
			fr := rec{seq: e.nextSeq(), addr: r.addr, plen: r.plen, state: lease.StateFree, pool: r.pool, start: n}
			e.removeRec(t.Key)
			d.Persist = append(d.Persist, fr.lease())
		}
	}
	return d
}

// Delete removes the binding of addr (an address or a delegated prefix's
// first address) on the operator's request. A Bound binding whose valid
// lifetime has not ended is quarantined (lease.StateQuarantined, client
// and Expiry kept): RFC 8415 §18.2.10.1/§14.2 let the client use it until
// its valid lifetime ends, so it is not given to another client before.
// Any other record (a quarantined one too: "free it now") becomes a
// StateDeleted tombstone. An offer on addr is withdrawn too.
func (e *Engine) Delete(now time.Time, addr netip.Addr) (Decision, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	r := e.rs.get(addr)
	if r == nil {
		if _, ok := e.offers[addr]; ok {
			e.removeOffer(addr)
			return Decision{}, nil
		}
		return Decision{}, fmt.Errorf("lease6: delete %v: %w", addr, lease.ErrNotFound)
	}
	var d Decision
	d.undo = append(d.undo, undoRec{had: true, rec: *r})
	if r.state == lease.StateBound && r.expiry > now.UnixNano() {
		d.Persist = append(d.Persist, e.quarantine(r))
		e.removeOffer(addr)
		return d, nil
	}
	t := rec{seq: e.nextSeq(), addr: addr, plen: r.plen, state: lease.StateDeleted, pool: r.pool, start: now.UnixNano()}
	d.Persist = append(d.Persist, t.lease())
	e.removeRec(addr)
	e.removeOffer(addr)
	return d, nil
}

// Recycle ends the binding of addr now, as if it had expired: the record
// keeps the client's details. While its valid lifetime has not ended it is
// quarantined until Expiry (see Delete); otherwise it becomes StateExpired
// with Expiry now and the address returns to the pool. The client's next Renew gets NoBinding
// (its next Rebind lifetime 0 or a fresh binding) and it can still get
// the address back. key, when not empty, must be the binding's DUID.
// Errors wrap lease.ErrNotFound or lease.ErrNotBound.
func (e *Engine) Recycle(now time.Time, addr netip.Addr, key []byte) (Decision, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	r := e.rs.get(addr)
	if r == nil || (len(key) > 0 && r.duid != string(key)) {
		return Decision{}, fmt.Errorf("lease6: recycle %v: %w", addr, lease.ErrNotFound)
	}
	if r.state != lease.StateBound {
		return Decision{}, fmt.Errorf("lease6: recycle %v (%s): %w", addr, r.state, lease.ErrNotBound)
	}
	var d Decision
	d.undo = append(d.undo, undoRec{had: true, rec: *r})
	if r.expiry > now.UnixNano() {
		d.Persist = append(d.Persist, e.quarantine(r))
		return d, nil
	}
	nr := *r
	nr.state = lease.StateExpired
	nr.seq = e.nextSeq()
	nr.expiry = now.UnixNano()
	nr.pref = min(nr.pref, nr.expiry)
	e.putRec(nr)
	d.Persist = append(d.Persist, nr.lease())
	return d, nil
}

// quarantine replaces the Bound record r by a lease.StateQuarantined one
// keeping the client and Expiry (Expire makes it StateExpired then) and
// returns the record to persist.
func (e *Engine) quarantine(r *rec) lease.Lease {
	nr := *r
	nr.state = lease.StateQuarantined
	nr.seq = e.nextSeq()
	e.putRec(nr)
	return nr.lease()
}

// Lookup returns a copy of the record of addr (an IA_NA address or a
// delegated prefix's first address); offers are excluded.
func (e *Engine) Lookup(addr netip.Addr) (lease.Lease, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	r := e.rs.get(addr)
	if r == nil || r.state == lease.StateDeleted {
		return lease.Lease{}, false
	}
	return r.lease(), true
}

const allChunk = 4096

// All yields a copy of every record (offers excluded), copied under the
// lock in chunks of allChunk, with the same guarantees as lease.Engine.All
// (each record whole; one changed after its copy is committed again with a
// higher Seq).
func (e *Engine) All() iter.Seq[lease.Lease] {
	return func(yield func(lease.Lease) bool) {
		buf := make([]rec, 0, allChunk)
		for next := 0; ; {
			buf = buf[:0]
			e.mu.Lock()
			for ; next < e.rs.arena.Len() && len(buf) < allChunk; next++ {
				if r := e.rs.arena.At(int32(next)); r.state != lease.StateDeleted {
					buf = append(buf, *r)
				}
			}
			more := next < e.rs.arena.Len()
			e.mu.Unlock()
			for i := range buf {
				if !yield(buf[i].lease()) {
					return
				}
			}
			if !more {
				return
			}
		}
	}
}
