package lease

import (
	"fmt"
	"iter"
	"net/netip"
	"sync"
	"time"

	"github.com/leased/leased/auth"
	"github.com/leased/leased/internal/deadline"
)

// Default hold times used when the configuration leaves them zero.
const (
	DefaultOfferHold         = 10 * time.Second
	DefaultDeclineQuarantine = time.Hour
)

// Engine is the DHCPv4 lease engine. All methods are safe for concurrent
// use; one mutex guards the state (a decision takes about a microsecond).
type Engine struct {
	mu  sync.Mutex
	cfg Config
	ps  pools
	rs  records

	offers   map[uint32]offer      // in memory only, never persisted
	offerKey map[string]uint32     // client key → offered address
	offerTim deadline.Heap[uint32] // offer hold deadlines
	expTim   deadline.Heap[uint32] // Bound and Declined expiries

	// forcedNAKs: client key → the transaction last NAKed because a
	// campaign forced NAK; a copy of it is NAKed again (see forcedNAK).
	// Memory only; entries end with the client's next binding or after
	// forcedNAKMemory.
	forcedNAKs map[string]nakMemo
	nakSweep   int // sweep expired forcedNAKs when the map reaches this size

	seq uint64

	// claims: pool name → the ranges new clients may get (SetClaims,
	// claims.go); a pool not in the map is unrestricted.
	claims map[string][]claimRange

	// replay hands out RFC 3118 replay detection values for every
	// authenticated message (ACK with key or token, OFFER with token,
	// FORCERENEW); seeded from restored records.
	replay *auth.Counter
}

// offer is an address held for one client between OFFER and REQUEST.
type offer struct {
	key   string
	hw    string
	start int64
	exp   int64
	xid   uint32
	htype uint8
	sect  int32
	pool  string
}

// New compiles cfg into an engine with no leases. Restore stored records
// before the first Handle.
func New(cfg Config) (*Engine, error) {
	e := &Engine{
		rs:         newRecords(),
		offers:     make(map[uint32]offer),
		offerKey:   make(map[string]uint32),
		forcedNAKs: make(map[string]nakMemo),
		replay:     auth.NewCounter(0),
	}
	if err := e.setConfig(cfg); err != nil {
		return nil, err
	}
	return e, nil
}

func (e *Engine) setConfig(cfg Config) error {
	cfg.Pools = append([]Pool(nil), cfg.Pools...)
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
	return nil
}

// ApplyConfig replaces pools and sections (SIGHUP). Every record is kept;
// an address that is no longer inside a section of its pool is never
// allocated again and is NAKed at its client's next REQUEST. Offers for
// such addresses are withdrawn.
func (e *Engine) ApplyConfig(cfg Config) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.setConfig(cfg); err != nil {
		return err
	}
	for a := range e.rs.byAddr {
		e.refresh(a)
	}
	for a, o := range e.offers {
		if p := e.ps.names[o.pool]; p == nil || !e.ps.servable(p, a) {
			e.removeOffer(a)
			continue
		}
		e.refresh(a)
	}
	return nil
}

// servable reports whether p may hand out a: a reserved address of p, or
// one inside a section of p that is not statically blocked.
func (ps *pools) servable(p *pool, a uint32) bool {
	if _, ok := p.resAddr[a]; ok {
		return true
	}
	s := ps.sectionOf(a)
	return s != nil && s.pool == p && !s.bit(s.static, a)
}

// refresh recomputes the held bit of address a from its record and offer.
func (e *Engine) refresh(a uint32) {
	s := e.ps.sectionOf(a)
	if s == nil {
		return
	}
	held := false
	if r := e.rs.get(a); r != nil && r.state.Holds() {
		held = true
	}
	if _, ok := e.offers[a]; ok {
		held = true
	}
	s.setHeld(a, held)
}

func (e *Engine) nextSeq() uint64 {
	e.seq++
	return e.seq
}

func (e *Engine) removeOffer(a uint32) {
	o, ok := e.offers[a]
	if !ok {
		return
	}
	delete(e.offers, a)
	if k, ok := e.offerKey[o.key]; ok && k == a {
		delete(e.offerKey, o.key)
	}
	e.refresh(a)
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

// snapshot returns the current record of a for an undo log.
func (e *Engine) snapshot(a uint32) rec {
	if r := e.rs.get(a); r != nil {
		return *r
	}
	return rec{addr: a, state: StateDeleted}
}

// restoreRec puts r back as the record of its address (StateDeleted: none).
func (e *Engine) restoreRec(r rec) {
	if r.state == StateDeleted {
		e.rs.remove(r.addr)
	} else {
		e.rs.put(r)
		if r.state == StateBound || r.state == StateDeclined || r.state == StateQuarantined {
			e.expTim.Push(deadline.Entry[uint32]{Exp: r.expiry, Key: r.addr})
		}
	}
	e.refresh(r.addr)
}

// Revert undoes the in-memory effects of d after its records could not be
// made durable. An address is restored only while its record is still the
// one d set (same Seq, or still absent when d removed it), so a later
// decision on that address is never clobbered. Revert is idempotent.
func (e *Engine) Revert(d *Decision) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i := range d.undo { // in order: an ACK's new address before the client's old one
		set := &d.Persist[i]
		a := u32(set.Addr)
		cur := e.rs.get(a)
		if set.State == StateDeleted || (set.State == StateFree && len(set.ClientID) == 0) {
			if cur != nil {
				continue // the address was taken again since
			}
		} else if cur == nil || cur.seq != set.Seq {
			continue
		}
		e.restoreRec(d.undo[i])
	}
	d.undo = nil
}

// Reserve sizes the engine's indexes for n records about to be restored
// (a hint, e.g. the store's count of recovered records): growing maps of a
// million entries one record at a time rehashes them about twenty times,
// a third of a restart's time at 1,000,000 leases. It does nothing once
// the engine holds records.
func (e *Engine) Reserve(n int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if n <= 0 || len(e.rs.byAddr) > 0 || len(e.rs.byKey) > 0 || len(e.rs.byLong) > 0 || len(e.expTim) > 0 {
		return
	}
	e.rs.byAddr = make(map[uint32]int32, n)
	e.rs.byKey = make(map[uint64]int32, n) // Ethernet keys; longer ones grow byLong
	e.expTim = make(deadline.Heap[uint32], 0, n)
}

// Restore loads one stored record before serving. For each address the
// record with the highest Seq wins; a tombstone or an anonymous free record
// removes the address's binding. Records outside every pool are kept (the
// operator sees them) but their addresses are never allocated. Offered
// records are not persisted and are ignored, as are non-IPv4 addresses.
func (e *Engine) Restore(l Lease) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !l.Addr.Unmap().Is4() || l.State == StateOffered || !l.State.Valid() {
		return
	}
	if l.Seq > e.seq {
		e.seq = l.Seq
	}
	a := u32(l.Addr)
	cur := e.rs.get(a)
	if cur != nil && cur.seq > l.Seq {
		return
	}
	if l.State == StateDeleted || (l.State == StateFree && len(l.ClientID) == 0) {
		e.rs.remove(a)
		e.refresh(a)
		return
	}
	// RFC 3118 §2: values must keep increasing across restarts.
	e.replay.Observe(l.ReplayCounter)
	r := recFrom(&l)
	if cur != nil {
		e.restoreRec(r)
		return
	}
	// A new address (the usual case when loading a store): one index
	// lookup fewer than put.
	e.rs.insert(r)
	if r.state == StateBound || r.state == StateDeclined || r.state == StateQuarantined {
		e.expTim.Push(deadline.Entry[uint32]{Exp: r.expiry, Key: r.addr})
	}
	e.refresh(r.addr)
}

// Expire reclaims at most max bound leases whose Expiry has passed
// (→ StateExpired; the record keeps the client so it can get the address
// back) and ended decline quarantines (→ StateFree, persisted anonymous),
// and drops stale offers (memory only, not counted). The returned
// Decision's Persist holds the records to make durable; on failure call
// Revert. Cost: O(k log n) for k reclaimed entries, via a min-heap.
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
			continue // renewed, released or gone since: a stale entry
		}
		switch r.state {
		case StateBound, StateQuarantined:
			d.undo = append(d.undo, *r)
			nr := *r
			nr.state = StateExpired
			nr.seq = e.nextSeq()
			e.rs.put(nr)
			d.Persist = append(d.Persist, nr.lease())
		case StateDeclined:
			d.undo = append(d.undo, *r)
			fr := rec{seq: e.nextSeq(), addr: r.addr, state: StateFree, pool: r.pool, sect: r.sect, start: n}
			e.rs.remove(t.Key)
			d.Persist = append(d.Persist, fr.lease())
		default:
			continue
		}
		e.refresh(t.Key)
	}
	return d
}

// Delete removes the binding of addr on the operator's request. A Bound
// lease that has not expired is quarantined (StateQuarantined, client and
// Expiry kept): its client may go on using the address until Expiry (RFC
// 2131 §4.4.5: a client uses its address until the lease expires unless
// told otherwise, and udhcpc/dhclient ignore FORCERENEW), so it must not
// be handed to another client before then. Any other record, including a
// quarantined one (the operator's explicit "free it now"), becomes a
// StateDeleted tombstone. An offer on addr is withdrawn too.
func (e *Engine) Delete(now time.Time, addr netip.Addr) (Decision, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	a := u32(addr)
	r := e.rs.get(a)
	if !addr.Unmap().Is4() || r == nil {
		if _, ok := e.offers[a]; ok && addr.Unmap().Is4() {
			e.removeOffer(a)
			return Decision{}, nil
		}
		return Decision{}, fmt.Errorf("lease: delete %v: %w", addr, ErrNotFound)
	}
	var d Decision
	d.undo = append(d.undo, *r)
	if r.state == StateBound && r.expiry > now.UnixNano() {
		d.Persist = append(d.Persist, e.quarantine(r))
		e.removeOffer(a)
		return d, nil
	}
	t := rec{seq: e.nextSeq(), addr: a, state: StateDeleted, pool: r.pool, sect: r.sect, start: now.UnixNano()}
	d.Persist = append(d.Persist, t.lease())
	e.rs.remove(a)
	e.removeOffer(a)
	e.refresh(a)
	return d, nil
}

// Recycle ends the binding of addr now, as if it had expired: the record
// keeps the client's details, so that client can still get the address
// back later. While the lease has not expired the record is quarantined
// until its Expiry (see Delete: the client may still use the address);
// otherwise it becomes StateExpired with Expiry now and the address
// returns to the pool. key, when not empty, must be the lease's client key (the caller's
// check that the lease still belongs to the client it means). Persist
// holds the record; on a failed commit call Revert. Errors wrap
// ErrNotFound (no lease, or another client's) or ErrNotBound.
func (e *Engine) Recycle(now time.Time, addr netip.Addr, key []byte) (Decision, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !addr.Unmap().Is4() {
		return Decision{}, fmt.Errorf("lease: recycle %v: %w", addr, ErrNotFound)
	}
	a := u32(addr)
	r := e.rs.get(a)
	if r == nil || (len(key) > 0 && r.key() != string(key)) {
		return Decision{}, fmt.Errorf("lease: recycle %v: %w", addr, ErrNotFound)
	}
	if r.state != StateBound {
		return Decision{}, fmt.Errorf("lease: recycle %v (%s): %w", addr, r.state, ErrNotBound)
	}
	var d Decision
	d.undo = append(d.undo, *r)
	if r.expiry > now.UnixNano() {
		// The client may use the address until its lease ends: held out
		// of the pool until then (see Delete).
		d.Persist = append(d.Persist, e.quarantine(r))
		return d, nil
	}
	nr := *r
	nr.state = StateExpired
	nr.seq = e.nextSeq()
	nr.expiry = now.UnixNano()
	e.rs.put(nr)
	e.refresh(a)
	d.Persist = append(d.Persist, nr.lease())
	return d, nil
}

// quarantine replaces the Bound record r by a StateQuarantined one that
// keeps the client and Expiry (Expire turns it into StateExpired then) and
// returns the record to persist.
func (e *Engine) quarantine(r *rec) Lease {
	nr := *r
	nr.state = StateQuarantined
	nr.seq = e.nextSeq()
	e.rs.put(nr)
	e.expTim.Push(deadline.Entry[uint32]{Exp: nr.expiry, Key: nr.addr})
	e.refresh(nr.addr)
	return nr.lease()
}

// Lookup returns a copy of the record of addr (offers excluded).
func (e *Engine) Lookup(addr netip.Addr) (Lease, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !addr.Unmap().Is4() {
		return Lease{}, false
	}
	r := e.rs.get(u32(addr))
	if r == nil || r.state == StateDeleted {
		return Lease{}, false
	}
	return r.lease(), true
}

// allChunk is how many records All copies per hold of the lock.
const allChunk = 4096

// All yields a copy of every record the engine holds (offers excluded), as
// the store's Compact needs. Records are copied under the lock in chunks
// of allChunk, so serving is blocked only for one chunk at a time and the
// copy costs a few hundred KB instead of a second arena (about 136 MB at
// 1M leases, which at GOGC=100 also doubled the heap goal). The result is
// not one point-in-time image but each record is copied whole, at some
// moment after All started: a record changed after its copy was taken is
// committed with a higher Seq after the store rotated, which is what
// wal.Compact requires (highest Seq wins on replay). Records created or
// moved to an arena slot already passed are likewise committed after the
// rotation.
func (e *Engine) All() iter.Seq[Lease] {
	return func(yield func(Lease) bool) {
		buf := make([]rec, 0, allChunk)
		for next := 0; ; {
			buf = buf[:0]
			e.mu.Lock()
			for ; next < e.rs.arena.Len() && len(buf) < allChunk; next++ {
				if r := e.rs.arena.At(int32(next)); r.state != StateDeleted {
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
