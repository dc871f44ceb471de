package server

// Read-through and rejected writes: the cluster part of the request path
// (issue #12, docs/cluster.md "Serving" and "Batch semantics").
//
// Read-through. A server of a cluster answers clients other servers
// bound: before the engine decides on a message whose client may be known
// elsewhere, the rows of the client (LookupClient: its key, DHCPv6 its
// DUID) and of the address it asks for (LookupLease) are read from the
// database and adopted (Engine.Adopt: the row replaces the cached record
// whatever the Seqs). Broadcast and multicast renewals, rebinds and
// INIT-REBOOTs are always read (another server may have changed the row
// since this one cached it); a unicast RENEWING only when the engine does
// not hold the client's lease on ciaddr; a DISCOVER or Solicit only when it
// asks for an address (needsRead4); a REQUEST in SELECTING never. The
// reads are database round trips, so they are neither done under the
// engine's lock nor on the socket's reader goroutines: the reader hands the
// packet to a small pool of read-through workers (readThroughWorkers per
// family, a queue of readThroughQueue packets) and reads on; a worker reads
// (bounded by readThroughTimeout), adopts, then runs the rest of the
// pipeline as a reader would (engine, answer or queue for the commit). A
// read that fails or times out drops the packet (counted; the client
// retransmits) rather than answer from a possibly stale cache; so does a
// queue still full after overloadWait.
//
// Rejected writes. A conditional commit the database refuses
// (*postgres.RejectedError: the cache was stale) is reverted as every
// failed commit is; the server then reads the rows of the refused call's
// addresses and adopts them (adoptRejected), and answers a DHCPREQUEST with a DHCPNAK (the client restarts
// and is served from the corrected cache), a DHCPv6 Request with
// NoAddrsAvail / NoPrefixAvail per IA, a Renew or Rebind with NoBinding per
// IA (the client then sends a Request, RFC 8415 §18.2.10.1), a Release or
// Decline with Success and NoBinding per IA; DISCOVER and Solicit (rapid
// commit) get nothing. A rejection is the database working, not a store
// failure: health is not degraded by it.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/leased/leased/dhcpv4"
	"github.com/leased/leased/dhcpv6"
	"github.com/leased/leased/lease"
	"github.com/leased/leased/lease6"
	"github.com/leased/leased/store/postgres"
)

const (
	// readThroughWorkers is the number of read-through goroutines per
	// family. Each holds at most one database connection at a time; a
	// read-through is two round trips (client, address): 0.31 ms on this
	// machine over a unix socket (TestClusterReadThroughCost), so 4
	// workers read ~13,000 clients/s without taking all of the store's
	// connections (Writers + 2 by default) from the commit writers. Done
	// on a reader, the same 0.31 ms would stall every packet behind it.
	readThroughWorkers = 4
	// readThroughQueue bounds the packets waiting for a worker; beyond it
	// a reader waits up to overloadWait, then drops the packet
	// (read_through_overload): the client retransmits.
	readThroughQueue = 256
	// readThroughTimeout bounds one read-through (all its lookups), and
	// the lookup of a refused address: less than a client's first
	// retransmission (RFC 2131 §4.1: 4 s; RFC 8415 Solicit 1 s).
	readThroughTimeout = time.Second
	// maxReadAddrs bounds the addresses of one DHCPv6 message looked up.
	maxReadAddrs = 8
)

// Drop reasons of the cluster path (leased_packets_dropped_total).
const (
	dropReadError    = "read_through_error"    // the read-through failed or timed out
	dropReadOverload = "read_through_overload" // read-through queue full for overloadWait
	dropRejected     = "rejected"              // the database refused the write; no answer is due
)

// leaseReader is what the read-through needs of the cluster's store
// (*postgres.Store).
type leaseReader interface {
	LookupLease(ctx context.Context, addr netip.Addr) (lease.Lease, bool, error)
	LookupClient(ctx context.Context, clientID []byte) ([]lease.Lease, error)
	LeasesIn(ctx context.Context, first, last netip.Addr, fn func(lease.Lease) error) error
}

// adopter is an engine's read-through hook (lease.Engine.Adopt,
// lease6.Engine.Adopt).
type adopter interface{ Adopt(l lease.Lease) }

// clusterPath is the cluster part of the packet path (balance.go,
// readthrough.go): the live set of the RFC 3074 filter, the read-through
// of rows other servers wrote, and their metrics. nil for a single server.
type clusterPath struct {
	self        string // this server's name
	answerAfter uint16 // ClusterOptions.AnswerAfterSecs
	live        atomic.Pointer[liveSet]
	reader      leaseReader
	adopt4      adopter // nil without DHCPv4
	adopt6      adopter // nil without DHCPv6

	notMine4, notMine6 prometheus.Counter
	reads              *prometheus.CounterVec // family, result
	readTime           prometheus.Histogram
	rejected           *prometheus.CounterVec // family, reason

	// Claim waits (claimwait.go).
	claimWaits    *prometheus.CounterVec // family, result
	claimWaitTime prometheus.Histogram
	claimWaiting  *prometheus.GaugeVec // family
}

// initClusterPath sets up the cluster packet path of s (New, after the
// control plane, cluster.go): the filter, the read-through workers of each
// lane and the answer to rejected writes.
func (s *Server) initClusterPath() error {
	cs := s.cluster
	cp := &clusterPath{self: cs.st.ServerName(), answerAfter: cs.opts.AnswerAfterSecs, reader: cs.st}
	if s.l4 != nil {
		a, ok := s.eng.(adopter)
		if !ok {
			return fmt.Errorf("server: cluster mode: the DHCPv4 engine %T cannot adopt database rows (Adopt)", s.eng)
		}
		cp.adopt4 = a
	}
	if s.v6 != nil && s.v6.l6 != nil {
		a, ok := s.v6.eng.(adopter)
		if !ok {
			return fmt.Errorf("server: cluster mode: the DHCPv6 engine %T cannot adopt database rows (Adopt)", s.v6.eng)
		}
		cp.adopt6 = a
	}
	notMine := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "leased_cluster_not_mine_total",
		Help: "Broadcast/multicast client messages left to another server of the cluster (RFC 3074 hash bucket not ours).",
	}, []string{"family"})
	cp.notMine4, cp.notMine6 = notMine.WithLabelValues("dhcpv4"), notMine.WithLabelValues("dhcpv6")
	cp.reads = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "leased_cluster_read_through_total",
		Help: "Read-throughs of client rows from the database before a decision, by result (ok, error: packet dropped, overload: queue full, packet dropped).",
	}, []string{"family", "result"})
	cp.readTime = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "leased_cluster_read_through_duration_seconds",
		Help:    "Time of one read-through (all the lookups of one client message).",
		Buckets: prometheus.ExponentialBuckets(0.0001, 2, 14),
	})
	cp.rejected = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "leased_cluster_rejected_total",
		Help: "Lease writes the database refused (stale cache: the refused address's row is adopted), by reason.",
	}, []string{"family", "reason"})
	for _, f := range []string{"dhcpv4", "dhcpv6"} {
		for _, r := range []string{"ok", "error", "overload"} {
			cp.reads.WithLabelValues(f, r)
		}
	}
	cp.claimWaits, cp.claimWaitTime, cp.claimWaiting = newClaimWaitMetrics()
	s.reg.MustRegister(notMine, cp.reads, cp.readTime, cp.rejected, cp.claimWaits, cp.claimWaitTime, cp.claimWaiting)
	s.cpath = cp
	if s.l4 != nil {
		s.l4.rt = newReadThrough(s.l4, s.fetch4, s.decide4)
		s.l4.fam.rejected = s.rejected4
		cs.waiters = append(cs.waiters, s.l4.rt.cw)
	}
	if s.v6 != nil && s.v6.l6 != nil {
		s.v6.l6.rt = newReadThrough(s.v6.l6, s.fetch6, s.decide6)
		s.v6.l6.fam.rejected = s.rejected6
		cs.waiters = append(cs.waiters, s.v6.l6.rt.cw)
	}
	return nil
}

// readThrough is a lane's pool of read-through workers, and its claim
// waiter (claimwait.go).
type readThrough[P any, S any] struct {
	cw        *claimWaiter[P, S]
	jobs      chan P
	wg        sync.WaitGroup
	fetch     func(ctx context.Context, p P) error
	decide    func(sd S, p P) bool // the rest of handle; true: p was queued for a commit
	newSender func() S
	put       func(p P)
	drop      func(reason string)
	started   bool
	ctx       context.Context // cancelled by stop: queued packets are dropped, not read
	cancel    context.CancelFunc
}

func newReadThrough[P any, S any, D any](l *lane[P, S, D], fetch func(context.Context, P) error, decide func(S, P) bool) *readThrough[P, S] {
	return &readThrough[P, S]{jobs: make(chan P, readThroughQueue), fetch: fetch, decide: decide,
		newSender: l.fam.newSender, put: l.put, drop: l.fam.drop,
		cw: newClaimWaiter(l.s, l.fam.name, l.fam.newSender(), decide, l.put)}
}

// submit hands p to a worker. When the queue is full (a burst: an
// INIT-REBOOT storm after a power cut) it waits up to overloadWait, as
// enqueue does for a commit slot, so that the kernel's receive buffer
// holds the next packets meanwhile; false: still full, p is the caller's
// to drop. wait is the reader's reusable timer.
func (r *readThrough[P, S]) submit(p P, wait **time.Timer) bool {
	select {
	case r.jobs <- p:
		return true
	default:
	}
	if *wait == nil {
		*wait = time.NewTimer(overloadWait)
	} else {
		(*wait).Reset(overloadWait)
	}
	select {
	case r.jobs <- p:
		(*wait).Stop()
		return true
	case <-(*wait).C:
		return false
	}
}

// start starts the workers (with the lane's commit workers).
func (r *readThrough[P, S]) start() {
	r.started = true
	r.ctx, r.cancel = context.WithCancel(context.Background())
	for range readThroughWorkers {
		r.wg.Go(r.work)
	}
	if r.cw != nil {
		r.cw.start()
	}
}

// stop drops what is queued (a read started is cut short: with the
// database gone, each queued packet would otherwise wait out its
// timeout) and waits for the workers; the readers must have stopped (they
// submit) and the commit workers must still run (a worker may be queueing
// a decision for them).
func (r *readThrough[P, S]) stop() {
	if !r.started {
		return
	}
	r.started = false
	r.cancel()
	close(r.jobs)
	r.wg.Wait()
	if r.cw != nil {
		r.cw.halt() // after the workers: one may be parking a message
	}
}

func (r *readThrough[P, S]) work() {
	sd := r.newSender()
	for p := range r.jobs {
		if r.ctx.Err() != nil {
			r.drop(dropShuttingDwn)
			r.put(p)
			continue
		}
		ctx, cancel := context.WithTimeout(r.ctx, readThroughTimeout)
		err := r.fetch(ctx, p)
		cancel()
		if err != nil {
			r.drop(dropReadError)
			r.put(p)
			continue
		}
		if !r.decide(sd, p) {
			r.put(p)
		}
	}
}

// cluster4 runs the cluster part of handle for a DHCPv4 packet whose
// request is filled: the RFC 3074 filter, then the read-through. done
// reports that handle is finished with p (filtered, dropped, or handed to
// a read-through worker: queued); otherwise handle decides at once.
func (s *Server) cluster4(sd *sender, p *inPacket) (queued, done bool) {
	if !s.mine4(p) {
		return false, true
	}
	if !s.needsRead4(p) {
		return false, false
	}
	if s.l4.rt.submit(p, &sd.wait) {
		return true, true
	}
	s.cpath.reads.WithLabelValues("dhcpv4", "overload").Inc()
	s.m.drop(dropReadOverload)
	return false, true
}

// needsRead4 reports whether the client's rows must be read before the
// engine decides: the REQUESTs of INIT-REBOOT and REBINDING (broadcasts:
// always); RENEWING when the engine does not hold the client's bound lease
// on ciaddr; a DISCOVER (or BOOTREQUEST) that asks for an address (option
// 50: a returning client, whose lease another server may hold). A
// DISCOVER without option 50 is not read: reading every DISCOVER cost a
// third of the DORA rate (docs/cluster.md, "Serving"); such a client known
// elsewhere is offered a new address from this server's blocks, and its
// old row stays bound to it until it expires — an address held a while
// longer, never one held twice.
func (s *Server) needsRead4(p *inPacket) bool {
	req := &p.req
	switch req.Type {
	case dhcpv4.Discover, 0:
		// RFC 2131 §4.3.1: offer the client's current binding. A client
		// of a server counted dead whose claims (and leases) were not
		// taken over yet may hold one this server has not seen; so may
		// a client of another live server's bucket that this server
		// answers through the secs fallback (mine4: its server is slow
		// or failing to answer).
		return isSet(req.RequestedIP) || s.cpath.servedElsewhere(clientHashKey4(req)) ||
			!s.cpath.ownsHash(loadbHash(clientHashKey4(req)))
	case dhcpv4.Request:
	default:
		return false
	}
	if isSet(req.ServerID) {
		return false // SELECTING: we answered its DISCOVER
	}
	if !isSet(req.CIAddr) || !req.Unicast || isSet(req.GIAddr) {
		return true // INIT-REBOOT, REBINDING
	}
	l, ok := s.eng.Lookup(req.CIAddr)
	return !ok || l.State != lease.StateBound || !sameKey4(l.ClientID, req)
}

// clientHashKey4 is the RFC 3074 hash key of req: option 61, else chaddr.
func clientHashKey4(req *lease.Request) []byte {
	if len(req.ClientID) > 0 {
		return req.ClientID
	}
	return req.HWAddr
}

// sameKey4 reports whether key is the client key of req (option 61, else
// htype and chaddr: lease.Lease.ClientID).
func sameKey4(key []byte, req *lease.Request) bool {
	if len(req.ClientID) > 0 {
		return string(key) == string(req.ClientID)
	}
	return len(key) == len(req.HWAddr)+1 && key[0] == req.HType && string(key[1:]) == string(req.HWAddr)
}

// fetch4 reads and adopts the rows of p's client and of the address it
// asks for (ciaddr, else option 50).
func (s *Server) fetch4(ctx context.Context, p *inPacket) error {
	cp := s.cpath
	start := time.Now()
	req := &p.req
	key := req.ClientID
	if len(key) == 0 {
		key = append([]byte{req.HType}, req.HWAddr...)
	}
	err := s.readRows(ctx, key, cp.adopt4, false, func(yield func(netip.Addr) bool) {
		if isSet(req.CIAddr) {
			yield(req.CIAddr)
		} else if isSet(req.RequestedIP) {
			yield(req.RequestedIP)
		}
	})
	cp.readDone("dhcpv4", start, err)
	if err != nil {
		s.readThroughFailed("dhcpv4", err)
		s.log.Debug("dhcpv4 read-through failed: packet dropped", "chaddr", net.HardwareAddr(req.HWAddr).String(), "xid", req.XID, "err", err)
	}
	return err
}

// readRows reads the rows of client key and of the addresses addrs yields
// (those not among the client's rows) and adopts those of the family.
func (s *Server) readRows(ctx context.Context, key []byte, a adopter, v6 bool, addrs func(yield func(netip.Addr) bool)) error {
	rows, err := s.cpath.reader.LookupClient(ctx, key)
	if err != nil {
		return err
	}
	for _, l := range rows {
		if l.IsV6() == v6 {
			a.Adopt(l)
		}
	}
	n := 0
	for addr := range addrs {
		if n++; n > maxReadAddrs {
			break
		}
		seen := false
		for i := range rows {
			if rows[i].Addr == addr {
				seen = true
				break
			}
		}
		if seen {
			continue
		}
		l, ok, err := s.cpath.reader.LookupLease(ctx, addr)
		if err != nil {
			return err
		}
		if ok && l.IsV6() == v6 {
			a.Adopt(l)
		}
	}
	return nil
}

func (cp *clusterPath) readDone(family string, start time.Time, err error) {
	cp.readTime.Observe(time.Since(start).Seconds())
	if err != nil {
		cp.reads.WithLabelValues(family, "error").Inc()
		return
	}
	cp.reads.WithLabelValues(family, "ok").Inc()
}

// cluster6 is cluster4 for DHCPv6.
func (s *Server) cluster6(sd *sender6, p *inPacket6) (queued, done bool) {
	if !s.mine6(p) {
		return false, true
	}
	if !needsRead6(&p.req) && !s.solicitElsewhere6(&p.req) {
		return false, false
	}
	if s.v6.l6.rt.submit(p, &sd.wait) {
		return true, true
	}
	s.cpath.reads.WithLabelValues("dhcpv6", "overload").Inc()
	s.v6.m.drop(dropReadOverload)
	return false, true
}

// needsRead6: every client message that concerns existing bindings —
// Request, Confirm, Renew, Rebind, Release, Decline (all are multicast or
// relayed, or unicast to us after a Server Unicast option another server
// of the cluster may have sent) — and a Solicit whose IAs name addresses
// or prefixes (a returning client); a Solicit without is not read, as a
// DHCPv4 DISCOVER without option 50 (needsRead4).
func needsRead6(req *lease6.Request) bool {
	if len(req.ClientID) == 0 {
		return false // invalid (RFC 8415 §16): the engine drops it
	}
	switch req.Type {
	case dhcpv6.Request, dhcpv6.Confirm, dhcpv6.Renew, dhcpv6.Rebind, dhcpv6.Release, dhcpv6.Decline:
		return true
	case dhcpv6.Solicit:
		for _, ia := range req.IAs {
			if len(ia.Addrs) > 0 || len(ia.Prefixes) > 0 {
				return true
			}
		}
	}
	return false
}

// solicitElsewhere6 reports whether req is a Solicit of a client that an
// orphaned server served (servedElsewhere), or of another live server's
// bucket answered through the Elapsed Time fallback (mine6): read through like a Solicit
// naming its bindings, so the client is offered its current ones (RFC 8415
// §18.3.1: the server uses the client's existing bindings), not new ones.
func (s *Server) solicitElsewhere6(req *lease6.Request) bool {
	return req.Type == dhcpv6.Solicit && len(req.ClientID) > 0 &&
		(s.cpath.servedElsewhere(req.ClientID) || !s.cpath.ownsHash(loadbHash(req.ClientID)))
}

// fetch6 reads and adopts the rows of p's client (DUID) and of the
// addresses and prefixes its IAs name.
func (s *Server) fetch6(ctx context.Context, p *inPacket6) error {
	cp := s.cpath
	start := time.Now()
	req := &p.req
	err := s.readRows(ctx, req.ClientID, cp.adopt6, true, func(yield func(netip.Addr) bool) {
		for _, ia := range req.IAs {
			for _, a := range ia.Addrs {
				if !yield(a) {
					return
				}
			}
			for _, pf := range ia.Prefixes {
				if !yield(pf.Addr()) {
					return
				}
			}
		}
	})
	cp.readDone("dhcpv6", start, err)
	if err != nil {
		s.readThroughFailed("dhcpv6", err)
		s.log.Debug("dhcpv6 read-through failed: packet dropped", "type", req.Type, "xid", req.XID, "err", err)
	}
	return err
}

// adoptRejected, after a commit of recs failed and its decision was
// reverted: when the database refused the write (the cache was stale),
// read the rows of the refused call's addresses and adopt them, so that
// the next decision is made from the database's state. All of them, not
// only the one the error names: a call is written all or none, and an
// expiry batch with several stale records would otherwise be refused
// again at every tick until each was adopted in turn, the batch's other
// leases never expiring meanwhile. It reports whether err was a rejection.
func (s *Server) adoptRejected(err error, recs []lease.Lease) (*postgres.RejectedError, bool) {
	re, ok := errors.AsType[*postgres.RejectedError](err)
	if !ok {
		return nil, false
	}
	cp := s.cpath
	family, a, v6 := "dhcpv4", cp.adopt4, false
	if re.Addr.Is6() && !re.Addr.Is4In6() {
		family, a, v6 = "dhcpv6", cp.adopt6, true
	}
	cp.rejected.WithLabelValues(family, strings.ReplaceAll(re.Reason, " ", "_")).Inc()
	if a == nil {
		return re, true
	}
	want := map[netip.Addr]bool{re.Addr: true}
	for i := range recs {
		if recs[i].IsV6() == v6 {
			want[recs[i].Addr] = true
		}
	}
	n, lerr := s.readRefused(want, a)
	if lerr != nil {
		s.log.Warn("cluster: the rows of a refused write could not be read; the cache stays stale until the next read-through",
			"addr", re.Addr, "reason", re.Reason, "records", len(want), "err", lerr)
	}
	s.log.Debug("cluster: write refused by the database, rows adopted", "addr", re.Addr, "reason", re.Reason,
		"records", len(want), "adopted", n)
	return re, true
}

// readRefused reads the rows of the addresses in want and adopts them:
// one lookup each when they are few (a client's request), else one range
// read over them (an expiry batch) keeping the rows of want.
func (s *Server) readRefused(want map[netip.Addr]bool, a adopter) (n int, err error) {
	cp := s.cpath
	if len(want) <= maxReadAddrs {
		ctx, cancel := context.WithTimeout(context.Background(), readThroughTimeout)
		defer cancel()
		for addr := range want {
			l, ok, err := cp.reader.LookupLease(ctx, addr)
			if err != nil {
				return n, err
			}
			if ok {
				a.Adopt(l)
				n++
			}
		}
		return n, nil
	}
	var lo, hi netip.Addr
	for addr := range want {
		if !lo.IsValid() || addr.Less(lo) {
			lo = addr
		}
		if !hi.IsValid() || hi.Less(addr) {
			hi = addr
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*readThroughTimeout)
	defer cancel()
	err = cp.reader.LeasesIn(ctx, lo, hi, func(l lease.Lease) error {
		if want[l.Addr] {
			a.Adopt(l)
			n++
		}
		return nil
	})
	return n, err
}

// rejected4 answers a DHCPv4 request whose commit the database refused
// (the lane's commit worker, after commit reverted the decision and
// adopted the rows): a DHCPREQUEST that was to be ACKed gets a DHCPNAK
// (RFC 2131 §4.3.2: a server unable to satisfy a REQUEST — "the requested
// network address has been allocated" — SHOULD respond with a DHCPNAK; the
// client restarts in INIT, §3.1), anything else nothing. It reports false
// when err is not a rejection.
func (s *Server) rejected4(sd *sender, p *inPacket, d *lease.Decision, err error) bool {
	re, ok := errors.AsType[*postgres.RejectedError](err)
	if !ok {
		return false
	}
	if p.req.Type != dhcpv4.Request || !d.HasReply || d.Reply.Type != dhcpv4.Ack {
		s.m.drop(dropRejected)
		return true
	}
	reason, msg := lease.NakNotAvailable, "requested address not available"
	if re.Reason == "held by another client" {
		reason, msg = lease.NakInUseOther, "address in use by another client"
	}
	nak := lease.Decision{HasReply: true, Reply: lease.Reply{Type: dhcpv4.Nak, ServerID: d.Reply.ServerID,
		Message: msg, NakReason: reason}}
	s.finish(sd, p, &nak)
	return true
}

// rejected6 is rejected4 for DHCPv6: the IAs of the refused Reply come
// back without bindings, with the status RFC 8415 gives for what the
// server now knows (it adopted the row: it has no binding of this client
// there) — Request: NoAddrsAvail / NoPrefixAvail (§18.3.2); Renew, Rebind:
// NoBinding (§18.3.4, §18.3.5; the client sends a Request, §18.2.10.1);
// Release, Decline: Success with NoBinding per IA (§18.3.7, §18.3.8). A
// rapid-commit Solicit gets nothing (its retransmission is answered from
// the corrected cache).
func (s *Server) rejected6(sd *sender6, p *inPacket6, d *lease6.Decision, err error) bool {
	if _, ok := errors.AsType[*postgres.RejectedError](err); !ok {
		return false
	}
	t := p.req.Type
	if !d.HasReply || d.Reply.Type != dhcpv6.Reply || t == dhcpv6.Solicit {
		s.v6.m.drop(dropRejected)
		return true
	}
	r := lease6.Reply{Type: dhcpv6.Reply, IAs: make([]lease6.IAResult, 0, len(d.Reply.IAs))}
	if t == dhcpv6.Release || t == dhcpv6.Decline {
		r.HasStatus, r.Status, r.Message = true, dhcpv6.StatusSuccess, "done"
	}
	for _, ia := range d.Reply.IAs {
		x := lease6.IAResult{Kind: ia.Kind, IAID: ia.IAID, HasStatus: true,
			Status: dhcpv6.StatusNoBinding, Message: "no binding for this client"}
		if t == dhcpv6.Request {
			x.Status, x.Message = dhcpv6.StatusNoAddrsAvail, "address not available"
			if ia.Kind == lease6.IAPD {
				x.Status, x.Message = dhcpv6.StatusNoPrefixAvail, "prefix not available"
			}
		}
		r.IAs = append(r.IAs, x)
	}
	rep := lease6.Decision{HasReply: true, Reply: r}
	s.finish6(sd, p, &rep)
	return true
}
