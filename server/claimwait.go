package server

// Claim waits (issue #12, docs/cluster.md "Cold claims"): a server of a
// cluster allocates new clients only from the blocks it claimed. When a
// sudden load (every client at once after a power cut, or a freshly
// started server) uses up its claims faster than the claim manager
// (cluster.go) claims more, a DISCOVER or Solicit finds no free address
// in them. Dropping it would cost the client a retransmission (RFC 2131
// §4.1: about 4 s; RFC 8415 §18.2.1 ignores an Advertise without
// addresses, so NoAddrsAvail is no better): instead the message is
// parked — off the reader goroutines, bounded in number
// (claimWaitQueue per family) and in time (claimWaitTimeout, below a
// client's first retransmission) — the claim manager is woken at once,
// and every change of the claim set re-decides the parked messages: the
// engine is asked again, as if the message had just arrived. A message
// that still finds nothing by its deadline, or whose pool cannot be
// claimed from (every block claimed: ErrNoFreeBlock, or the database
// failing), is dropped as before (engine_pool_exhausted). Nothing is
// written for a parked message and the database stays the arbiter of
// every claim and lease: parking changes when an answer leaves, never
// which address it carries.

import (
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/leased/leased/dhcpv4"
	"github.com/leased/leased/dhcpv6"
	"github.com/leased/leased/lease"
	"github.com/leased/leased/lease6"
)

const (
	// claimWaitTimeout bounds how long a message waits for a claim: the
	// read-through bound (a claim and its lease read are one round trip, a
	// few ms), below a client's first retransmission.
	claimWaitTimeout = readThroughTimeout
	// claimWaitQueue bounds the messages parked per family (a few MB of
	// packet buffers); beyond it a message is dropped as before.
	claimWaitQueue = 4096
)

// Claim-wait results (leased_cluster_claim_waits_total{result}).
const (
	claimWaitServed    = "served"    // re-decided after a claim landed (answered, or what the engine decided then)
	claimWaitTimedOut  = "timeout"   // no address by claimWaitTimeout: dropped
	claimWaitExhausted = "exhausted" // the pool could not be claimed from: dropped
	claimWaitFull      = "full"      // claimWaitQueue messages already waiting: dropped at once
	claimWaitShutdown  = "shutdown"  // the server stopped: dropped
)

// parked is a message waiting for a claim.
type parked[P any] struct {
	p P
	// keys: the pools a claim of any of which may serve it (DHCPv4 on a
	// shared network: every pool of the link that admits the client and
	// ran dry, Decision.DryPools; else the one pool).
	keys     []poolKey
	since    time.Time
	deadline time.Time
	tried    bool   // re-decided at least once since it was parked
	gen      uint64 // the claim-set generation of its last re-decision
}

// claimWaiter holds one lane's parked messages and the goroutine that
// re-decides them when the claim set changes (one per family; it runs
// the lane's decide with its own sender, as a read-through worker does).
type claimWaiter[P any, S any] struct {
	s      *Server
	family string
	sd     S // the waiter goroutine's sender: decide called with it is a re-decision
	decide func(S, P) bool
	put    func(P)

	mu   sync.Mutex
	q    []parked[P]
	kick chan struct{}
	stop chan struct{}
	done chan struct{}

	// The re-decision in progress (waiter goroutine only: the hooks
	// read them when called with sd).
	cur     *parked[P]
	again   bool   // the hook parked cur again
	outcome string // the hook's result for cur when it did not
}

func newClaimWaiter[P any, S any](s *Server, family string, sd S, decide func(S, P) bool, put func(P)) *claimWaiter[P, S] {
	return &claimWaiter[P, S]{s: s, family: family, sd: sd, decide: decide, put: put, kick: make(chan struct{}, 1)}
}

// signal wakes the waiter (non-blocking).
func (w *claimWaiter[P, S]) signal() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

func (w *claimWaiter[P, S]) start() {
	w.stop, w.done = make(chan struct{}), make(chan struct{})
	go w.run()
}

// halt stops the waiter and drops what is parked (before the lane's
// commit workers stop: a re-decision may queue a commit).
func (w *claimWaiter[P, S]) halt() {
	if w.stop == nil {
		return
	}
	close(w.stop)
	<-w.done
	w.stop = nil
}

func (w *claimWaiter[P, S]) run() {
	defer close(w.done)
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		select {
		case <-w.stop:
			w.mu.Lock()
			q := w.q
			w.q = nil
			w.mu.Unlock()
			for _, e := range q {
				w.count(claimWaitShutdown)
				w.s.m4or6(w.family).drop(dropShuttingDwn)
				w.put(e.p)
			}
			return
		case <-w.kick:
		case <-t.C:
		}
		next := w.pass()
		d := time.Hour
		if !next.IsZero() {
			d = max(time.Until(next), time.Millisecond)
		}
		t.Reset(d)
	}
}

// pass re-decides every parked message that was not re-decided since the
// claim set last changed, or whose deadline passed; it returns the
// earliest deadline still parked (zero: none).
func (w *claimWaiter[P, S]) pass() time.Time {
	w.mu.Lock()
	batch := w.q
	w.q = nil
	w.mu.Unlock()
	cs := w.s.cluster
	// The generation is read before the engine is asked: a claim applied
	// after this moves it, and the next pass re-decides again.
	g := cs.gen.Load()
	now := time.Now()
	keep := batch[:0]
	for i := range batch {
		e := batch[i]
		if e.tried && e.gen == g && now.Before(e.deadline) {
			keep = append(keep, e)
			continue
		}
		w.cur, w.again, w.outcome = &e, false, claimWaitServed
		queued := w.decide(w.sd, e.p)
		w.cur = nil
		if w.again {
			e.tried, e.gen = true, g
			keep = append(keep, e)
			continue
		}
		w.count(w.outcome)
		if w.outcome == claimWaitServed {
			w.s.cpath.claimWaitTime.Observe(time.Since(e.since).Seconds())
		}
		if !queued {
			w.put(e.p)
		}
	}
	w.mu.Lock()
	w.q = append(keep, w.q...)
	var next time.Time
	for _, e := range w.q {
		if next.IsZero() || e.deadline.Before(next) {
			next = e.deadline
		}
	}
	n := len(w.q)
	w.mu.Unlock()
	w.s.cpath.claimWaiting.WithLabelValues(w.family).Set(float64(n))
	if n > 0 && n > len(keep) {
		w.signal() // parked meanwhile: their first re-decision
	}
	return next
}

// waiting counts the messages parked for a claim of key.
func (w *claimWaiter[P, S]) waiting(key poolKey) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for i := range w.q {
		if slices.Contains(w.q[i].keys, key) {
			n++
		}
	}
	return n
}

func (w *claimWaiter[P, S]) count(result string) {
	w.s.cpath.claimWaits.WithLabelValues(w.family, result).Inc()
}

// hold is the decide hook's part once the engine found no free address in
// the claims of keys for p: called by the waiter (redeciding), keep p
// parked while its deadline has not passed and one of the pools may still
// be claimed from; called by anyone else, park p. It reports whether p is
// held (the waiter owns it); false: the caller answers the decision (a
// drop).
func (w *claimWaiter[P, S]) hold(redeciding bool, p P, keys []poolKey) bool {
	cs := w.s.cluster
	now := time.Now()
	if redeciding {
		e := w.cur
		switch {
		case !now.Before(e.deadline):
			w.outcome = claimWaitTimedOut
		case !cs.claimable(e.keys, now, false):
			w.outcome = claimWaitExhausted
		default:
			w.again = true
			return true
		}
		return false
	}
	if !cs.claimable(keys, now, true) {
		return false // every block claimed, or claims failing: as before
	}
	w.mu.Lock()
	if len(w.q) >= claimWaitQueue {
		w.mu.Unlock()
		w.count(claimWaitFull)
		return false
	}
	w.q = append(w.q, parked[P]{p: p, keys: keys, since: now, deadline: now.Add(claimWaitTimeout)})
	w.mu.Unlock()
	cs.poke() // the claim manager: claim now, not at the next check
	w.signal()
	return true
}

// claimHook4 is decide4's cluster hook. An OFFER counts down the
// low-water budget (the claim manager claims the next block when a pool
// reaches its low-water mark, not at its next check); a DISCOVER (or
// BOOTREQUEST) that found no free address in this server's claims waits
// for a claim instead of being dropped — of the pools the engine found dry
// for this client (on a shared network the link's pools that admit it,
// Decision.DryPools, not just the link's first pool). It reports whether
// p is held.
func (s *Server) claimHook4(sd *sender, p *inPacket, d *lease.Decision) bool {
	if d.HasReply {
		if d.Reply.Type == dhcpv4.Offer {
			s.cluster.noteOffer4()
		}
		return false
	}
	if d.Drop != lease.DropPoolExhausted || s.l4 == nil || s.l4.rt == nil {
		return false
	}
	w := s.l4.rt.cw
	var keys []poolKey
	for _, n := range d.DryPools {
		keys = append(keys, poolKey{name: n})
	}
	if len(keys) == 0 {
		keys = []poolKey{{name: d.DropPool}}
	}
	return w.hold(sd == w.sd, p, keys)
}

// claimWait6 is decide6's cluster hook: an Advertise (or a Reply to a
// Request or a rapid-commit Solicit) with nothing to persist in which an
// IA got NoAddrsAvail / NoPrefixAvail waits for a claim of that pool and
// kind — on a shared network, of that kind in any of Decision.DryPools
// (RFC 8415 §18.2.9: a client ignores an Advertise without addresses or
// prefixes; §18.2.10.1: a Request's IA without them is retried). It
// reports whether p is held.
func (s *Server) claimWait6(sd *sender6, p *inPacket6, d *lease6.Decision) bool {
	if !d.HasReply || len(d.Persist) > 0 || d.Reply.Pool == nil || s.v6 == nil || s.v6.l6 == nil || s.v6.l6.rt == nil {
		return false
	}
	switch p.req.Type {
	case dhcpv6.Solicit, dhcpv6.Request:
	default:
		return false
	}
	key, ok := poolKey{}, false
	for _, ia := range d.Reply.IAs {
		if ia.HasStatus && (ia.Status == dhcpv6.StatusNoAddrsAvail || ia.Status == dhcpv6.StatusNoPrefixAvail) {
			key, ok = poolKey{v6: true, kind: ia.Kind, name: d.Reply.Pool.Name}, true
			break
		}
	}
	if !ok {
		return false
	}
	// On a shared network: the link's pools that admit the client
	// (Decision.DryPools), as for DHCPv4 — the engine's chosen pool may
	// be one whose free space other servers hold.
	keys := []poolKey{key}
	if len(d.DryPools) > 0 {
		keys = keys[:0]
		for _, n := range d.DryPools {
			keys = append(keys, poolKey{v6: true, kind: key.kind, name: n})
		}
	}
	// A derived pool ("<pool>#host1", "<pool>#class3") allocates from
	// its pool's claims.
	for i := range keys {
		if j := strings.IndexByte(keys[i].name, '#'); j >= 0 {
			keys[i].name = keys[i].name[:j]
		}
	}
	w := s.v6.l6.rt.cw
	return w.hold(sd == w.sd, p, keys)
}

// m4or6 is the drop counter of a family.
func (s *Server) m4or6(family string) interface{ drop(string) } {
	if family == "dhcpv6" {
		return s.v6.m
	}
	return s.m
}

// claimWaitMetrics are registered with the cluster path (readthrough.go).
func newClaimWaitMetrics() (*prometheus.CounterVec, prometheus.Histogram, *prometheus.GaugeVec) {
	waits := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "leased_cluster_claim_waits_total",
		Help: "Client messages that found no free address in this server's claims and waited for a claim, by result (served: re-decided once a claim landed; timeout, exhausted, full, shutdown: dropped).",
	}, []string{"family", "result"})
	for _, f := range []string{"dhcpv4", "dhcpv6"} {
		for _, r := range []string{claimWaitServed, claimWaitTimedOut, claimWaitExhausted, claimWaitFull, claimWaitShutdown} {
			waits.WithLabelValues(f, r)
		}
	}
	wait := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "leased_cluster_claim_wait_duration_seconds",
		Help:    "How long a served claim wait took (parked until a claim landed).",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 12),
	})
	waiting := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "leased_cluster_claim_waiting",
		Help: "Client messages waiting for a claim now.",
	}, []string{"family"})
	return waits, wait, waiting
}
