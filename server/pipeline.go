package server

import (
	"context"
	"errors"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/leased/leased/lease"
	"github.com/leased/leased/lease6"
)

// The pipeline, the same for both families:
//
//	read ─▶ decode ─▶ request ─▶ engine ─┬─ nothing to persist ─▶ encode ─▶ send
//	                                     └─ records ─▶ queue ─▶ commit worker:
//	                                          persist ─ ok ─▶ encode ─▶ send
//	                                                  └ err ─▶ Revert, no reply
//
// With a store that completes commits by calling back (store/wal's
// CommitAsync) and no cluster, the records go from the reader straight to
// the store, and one completer goroutine per lane answers every finished
// batch — encode, then one sendmmsg for the batch's replies — instead of a
// commit worker parked per request and woken per request (issue #15):
//
//	engine ─ records ─▶ store.CommitAsync ─▶ group commit (fdatasync)
//	   ─▶ completer: persist accounting ─ ok ─▶ encode ─▶ queue ┐
//	                                    └ err ─▶ Revert, no reply │
//	                                   after the batch: sendmmsg ◀┘
//
// A lane runs it for one family: readers on the family's socket, the
// bounded queue (MaxInFlight) and the commit workers. What differs by
// family — reading a datagram, decoding and building the engine's request
// (handle, handle6), persisting a decision (commit, commit6), encoding and
// addressing the reply (finish, finish6) — is the lane's family part,
// bound once when the lane is made, so the hot path makes no allocation.

// job is a decision waiting for its commit, with the packet it answers.
type job[P any, D any] struct {
	p P
	d D
}

// The two lanes' types.
type (
	lane4 = lane[*inPacket, *sender, lease.Decision]
	lane6 = lane[*inPacket6, *sender6, lease6.Decision]
	job4  = job[*inPacket, lease.Decision] // tests set s.l4.jobs
)

// familyPart is what a lane needs of its family.
type familyPart[P any, S any, D any] struct {
	name string // "dhcpv4", "dhcpv6": health reasons, logs
	what string // what a request commit is called in logs and errors

	newPacket func() P
	reset     func(p P) // before p returns to the pool
	// read reads one datagram into p and returns its control messages:
	// the readers' fallback when P is not a batchPacket (batch_linux.go),
	// which both families' packets are (they read with recvmmsg).
	read      func(conn *net.UDPConn, p P) (oob []byte, err error)
	newSender func() S // one goroutine's encoding buffers and decision slot
	decision  func(sd S) *D
	// handle decodes p, builds the request and asks the engine; a
	// decision without records is answered at once, one with records is
	// queued (lane.enqueue). It reports whether p was queued (the commit
	// worker owns it then).
	handle func(sd S, p P, oob []byte) bool
	// records is the number of records d needs persisted; revert undoes
	// d's in-memory effects (its commit never happened).
	records func(d *D) int
	revert  func(d *D)
	// commit persists d (persist), reverting it on failure.
	commit func(ctx context.Context, d *D, what string) error

	// finish encodes and sends d's reply (or counts its drop).
	finish func(sd S, p P, d *D)

	// drop counts a dropped packet; the lane's reasons (dropOverload,
	// dropShuttingDwn, dropCommit) are the same labels in both families.
	drop func(reason string)
	// rejected, in cluster mode (readthrough.go), answers a request whose
	// commit the database refused and reports whether err was such a
	// refusal; nil for a single server.
	rejected func(sd S, p P, d *D, err error) bool
}

// lane runs the pipeline for one family.
type lane[P any, S any, D any] struct {
	s    *Server
	conn *net.UDPConn
	fam  familyPart[P, S, D]
	pkts sync.Pool
	jobs chan job[P, D]
	rt   *readThrough[P, S] // cluster read-through workers (readthrough.go); nil for a single server

	// The async path (asyncStore, single server): slots bounds the
	// decisions in the store (MaxInFlight, as the commit workers do),
	// pend counts them, done holds the finished ones for the completer.
	async     asyncStore
	slots     chan struct{}
	pend      sync.WaitGroup
	cmu       sync.Mutex
	done      []*pending[P, S, D]
	cwake     chan struct{}
	cstop     chan struct{}
	completer sync.WaitGroup
	pendings  sync.Pool

	readersN         int
	readers, workers sync.WaitGroup
	// recvCalls counts recvmmsg calls that returned datagrams (datagrams
	// read ÷ recvCalls is the mean read batch).
	recvCalls atomic.Uint64
}

func newLane[P any, S any, D any](s *Server, conn *net.UDPConn, readers int, fam familyPart[P, S, D]) *lane[P, S, D] {
	l := &lane[P, S, D]{s: s, conn: conn, fam: fam, readersN: readers,
		jobs: make(chan job[P, D], s.opts.MaxInFlight)}
	l.pkts.New = func() any { return fam.newPacket() }
	if as, ok := s.st.(asyncStore); ok && s.opts.Cluster == nil {
		// A cluster keeps the commit workers: its rejected writes are
		// answered from the worker (familyPart.rejected).
		l.async = as
		l.slots = make(chan struct{}, s.opts.MaxInFlight)
		l.cwake = make(chan struct{}, 1)
		l.cstop = make(chan struct{})
		l.pendings.New = func() any {
			pd := &pending[P, S, D]{l: l}
			pd.doneFn = pd.complete
			return pd
		}
	}
	return l
}

func (l *lane[P, S, D]) get() P { return l.pkts.Get().(P) }

func (l *lane[P, S, D]) put(p P) {
	l.fam.reset(p)
	l.pkts.Put(p)
}

// start starts the commit workers (MaxInFlight) and the readers.
func (l *lane[P, S, D]) start() {
	l.startWorkers()
	for range l.readersN {
		l.readers.Add(1)
		go func() {
			defer l.readers.Done()
			l.readLoop()
		}()
	}
}

// startWorkers starts the commit workers only (tests without a socket
// feed the lane through its family part's handle).
//
// One goroutine per in-flight decision, each committing its own records:
// the WAL's group commit counts arrivals while it is busy to decide how
// long to wait for company (store/wal groupPacer), which needs every
// request to reach it at once. A version with 8 workers each committing
// what was queued (issue #15, 8248d6b) held requests back in this queue
// while the writer waited for them: p99 REQUEST→ACK at 6,000/s 3.50
// (2.86–4.04) ms against 2.18 (1.82–2.33) ms (docs/BENCHMARKS.md).
func (l *lane[P, S, D]) startWorkers() {
	if l.async != nil {
		l.completer.Add(1)
		go func() {
			defer l.completer.Done()
			l.completeLoop()
		}()
		return
	}
	for range cap(l.jobs) {
		l.workers.Add(1)
		go func() {
			defer l.workers.Done()
			l.commitWorker()
		}()
	}
	if l.rt != nil {
		l.rt.start()
	}
}

// stopReading unblocks and waits for the readers (Server.stopped is set);
// the socket stays open so that queued replies can still be sent.
func (l *lane[P, S, D]) stopReading() {
	_ = l.conn.SetReadDeadline(time.Unix(1, 0))
	l.readers.Wait()
}

// drain lets the commit workers finish what is queued, then stops them.
func (l *lane[P, S, D]) drain() {
	if l.rt != nil {
		l.rt.stop() // its workers queue decisions for the commit workers
	}
	close(l.jobs)
	l.workers.Wait()
	if l.async != nil {
		// The readers have stopped: nothing new enters the store. Answer
		// what is in it, then stop the completer.
		l.pend.Wait()
		close(l.cstop)
		l.completer.Wait()
	}
}

// readLoop reads batches of datagrams (recvmmsg, batch_linux.go) into a
// window of readBatch packets and handles them in arrival order; a packet
// handed to a commit worker is replaced in the window by a fresh one.
func (l *lane[P, S, D]) readLoop() {
	s := l.s
	sd := l.fam.newSender()
	rc, err := l.conn.SyscallConn()
	var zero P
	if _, ok := any(zero).(batchPacket); !ok || err != nil {
		l.readLoop1(sd)
		return
	}
	r := newMmsgReader(rc, &l.recvCalls)
	var ps [readBatch]P
	for i := range ps {
		ps[i] = l.get()
	}
	defer func() {
		for _, p := range ps {
			l.put(p)
		}
	}()
	for {
		for i, p := range ps {
			buf, oob := any(p).(batchPacket).readBufs()
			r.set(i, buf, oob)
		}
		n, err := r.read(len(ps))
		if err != nil {
			if !l.readFailed(err) {
				return
			}
			continue
		}
		for i := range n {
			if s.stopped.Load() {
				for range n - i {
					l.fam.drop(dropShuttingDwn)
				}
				return
			}
			p := ps[i]
			size, oobn, src := r.datagram(i)
			bp := any(p).(batchPacket)
			bp.setRead(size, src)
			_, oob := bp.readBufs()
			if l.fam.handle(sd, p, oob[:oobn]) {
				ps[i] = l.get()
			}
		}
	}
}

// readLoop1 reads one datagram per system call (familyPart.read).
func (l *lane[P, S, D]) readLoop1(sd S) {
	s := l.s
	p := l.get()
	defer func() { l.put(p) }()
	for {
		oob, err := l.fam.read(l.conn, p)
		if err != nil {
			if !l.readFailed(err) {
				return
			}
			continue
		}
		if s.stopped.Load() {
			l.fam.drop(dropShuttingDwn)
			return
		}
		if l.fam.handle(sd, p, oob) {
			p = l.get()
		}
	}
}

// readFailed handles a read error and reports whether to read on.
func (l *lane[P, S, D]) readFailed(err error) bool {
	s := l.s
	if s.stopped.Load() {
		return false
	}
	if errors.Is(err, net.ErrClosed) {
		s.readerStopped(l.fam.name, err)
		return false
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return true
	}
	s.readFailed(l.fam.name, err)
	s.log.Warn("read", "family", l.fam.name, "err", err)
	// Bound the rate of a persistent error.
	time.Sleep(10 * time.Millisecond)
	return true
}

// dispatch answers d at once when it has nothing to persist, or queues it
// for a commit worker; a decision that finds no free commit slot is
// reverted and dropped as overload. It reports whether p was queued.
func (l *lane[P, S, D]) dispatch(sd S, p P, d *D, wait **time.Timer) bool {
	if l.fam.records(d) == 0 {
		l.fam.finish(sd, p, d)
		return false
	}
	if l.async != nil {
		return l.commitAsync(p, d, wait)
	}
	if l.enqueue(p, d, wait) {
		return true
	}
	l.fam.revert(d)
	l.fam.drop(dropOverload)
	return false
}

// enqueue hands a decision with records to a commit worker (see enqueue).
func (l *lane[P, S, D]) enqueue(p P, d *D, wait **time.Timer) bool {
	return enqueue(l.s, l.jobs, job[P, D]{p: p, d: *d}, wait)
}

func (l *lane[P, S, D]) commitWorker() {
	s := l.s
	sd := l.fam.newSender()
	d := l.fam.decision(sd)
	ctx := context.Background()
	var zero D
	for j := range l.jobs {
		*d = j.d
		if err := l.fam.commit(ctx, d, l.fam.what); err == nil {
			l.fam.finish(sd, j.p, d)
		} else if l.fam.rejected == nil || !l.fam.rejected(sd, j.p, d, err) {
			l.fam.drop(dropCommit)
		}
		*d = zero
		l.put(j.p)
		s.m.inflight.Set(float64(s.inflight.Add(-1)))
	}
}

// overloadWait is how long a reader waits for a free commit slot before it
// drops a request as overload. A group commit takes a few milliseconds.
const overloadWait = 100 * time.Millisecond

// enqueue hands j to a commit worker and reports whether it did. When
// every commit slot is taken (a burst, e.g. an INIT-REBOOT storm after a
// power cut) it waits up to overloadWait rather than drop at once: while
// the reader waits, the kernel's receive buffer holds the next requests,
// and the slots free up one group commit later. wait is the reader's
// reusable timer.
func enqueue[J any](s *Server, jobs chan<- J, j J, wait **time.Timer) bool {
	select {
	case jobs <- j:
		s.m.inflight.Set(float64(s.inflight.Add(1)))
		return true
	default:
	}
	if *wait == nil {
		*wait = time.NewTimer(overloadWait)
	} else {
		(*wait).Reset(overloadWait)
	}
	select {
	case jobs <- j:
		(*wait).Stop()
		s.m.inflight.Set(float64(s.inflight.Add(1)))
		return true
	case <-(*wait).C:
		return false
	}
}

// optionCache holds the pre-encoded option blocks of one family's pools,
// built on first use after a (re)load and read without a lock.
type optionCache[Pool any, PO any] struct {
	mu    sync.Mutex
	m     atomic.Pointer[map[string]*PO]
	build func(p *Pool) (*PO, []error)
	owner func(po *PO) *Pool // the pool a block was built from
	name  func(p *Pool) string
	log   func(pool string, err error)
}

func newOptionCache[Pool any, PO any](build func(*Pool) (*PO, []error), owner func(*PO) *Pool,
	name func(*Pool) string, log func(string, error)) *optionCache[Pool, PO] {
	c := &optionCache[Pool, PO]{build: build, owner: owner, name: name, log: log}
	c.reset()
	return c
}

// get returns the block of pool p (named name), building it if p is not
// the pool the cached block was built from.
func (c *optionCache[Pool, PO]) get(name string, p *Pool) *PO {
	if p == nil {
		return nil
	}
	if po := (*c.m.Load())[name]; po != nil && c.owner(po) == p {
		return po
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	cur := *c.m.Load()
	if po := cur[name]; po != nil && c.owner(po) == p {
		return po
	}
	po, errs := c.build(p)
	for _, err := range errs {
		c.log(name, err)
	}
	next := make(map[string]*PO, len(cur)+1)
	for k, v := range cur {
		next[k] = v
	}
	next[name] = po
	c.m.Store(&next)
	return po
}

// reload forgets every block after a configuration load; blocks are
// built from the engine's pools on first use, but pools are encoded here
// once too so that bad options are reported at reload time.
func (c *optionCache[Pool, PO]) reload(pools []Pool) {
	c.reset()
	for i := range pools {
		_, errs := c.build(&pools[i])
		for _, err := range errs {
			c.log(c.name(&pools[i]), err)
		}
	}
}

// reset forgets every block.
func (c *optionCache[Pool, PO]) reset() {
	c.mu.Lock()
	empty := map[string]*PO{}
	c.m.Store(&empty)
	c.mu.Unlock()
}

// asyncStore is a store that completes a commit by calling back instead of
// parking the caller (store/wal: WAL.CommitAsync; the callback runs on the
// store's writer goroutine and must not block).
type asyncStore interface {
	CommitAsync(recs []lease.Lease, done func(error)) error
}

// pending is a decision whose records are in the store (the async path).
type pending[P any, S any, D any] struct {
	l      *lane[P, S, D]
	p      P
	d      D
	start  time.Time
	err    error
	doneFn func(error) // pd.complete, bound once: no allocation per commit
}

// commitAsync hands d's records to the store without waiting (the async
// path); like enqueue it waits up to overloadWait for a free slot when
// MaxInFlight decisions are in the store, and otherwise reverts d and
// drops p as overload. It reports whether p went with d (the completer
// returns it to the pool then).
func (l *lane[P, S, D]) commitAsync(p P, d *D, wait **time.Timer) bool {
	s := l.s
	if !enqueue(s, l.slots, struct{}{}, wait) {
		l.fam.revert(d)
		l.fam.drop(dropOverload)
		return false
	}
	pd := l.pendings.Get().(*pending[P, S, D])
	pd.p, pd.d, pd.start, pd.err = p, *d, time.Now(), nil
	l.pend.Add(1)
	if err := l.async.CommitAsync(persistOf(&pd.d), pd.doneFn); err != nil {
		// Not queued (the store is closed, or a record cannot be
		// encoded): nothing reached the disk and nothing is sent.
		_ = s.stored(pd.start, len(persistOf(&pd.d)), l.fam.what, err)
		l.fam.revert(&pd.d)
		l.fam.drop(dropCommit)
		l.release(pd)
		return false
	}
	return true
}

// complete is pd's store completion. It runs on the store's writer
// goroutine: it only queues pd for the completer and wakes it.
func (pd *pending[P, S, D]) complete(err error) {
	l := pd.l
	pd.err = err
	l.cmu.Lock()
	l.done = append(l.done, pd)
	l.cmu.Unlock()
	select {
	case l.cwake <- struct{}{}:
	default:
	}
}

// completeLoop answers finished commits, a store batch at a time: the
// replies of one batch are queued on the family's reply batcher while it
// is held, and leave together in one sendmmsg when it is released.
func (l *lane[P, S, D]) completeLoop() {
	sd := l.fam.newSender()
	var batch []*pending[P, S, D]
	for {
		stop := false
		select {
		case <-l.cwake:
		case <-l.cstop:
			stop = true // drain ran pend.Wait: everything was answered
		}
		// The batcher is held before the finished commits are taken, so
		// that whatever finished by then leaves in one sendmmsg; other
		// senders only queue meanwhile (replyBatcher.flush).
		b := l.batcher()
		if b != nil {
			b.mu.Lock()
		}
		l.cmu.Lock()
		batch, l.done = l.done, batch[:0]
		l.cmu.Unlock()
		for _, pd := range batch {
			l.completeOne(sd, pd)
		}
		if b != nil {
			b.mu.Unlock()
			b.flush()
		}
		clear(batch)
		if stop {
			return
		}
	}
}

// completeOne accounts for pd's commit as persist does and answers it,
// or reverts the decision when the commit failed (no reply).
func (l *lane[P, S, D]) completeOne(sd S, pd *pending[P, S, D]) {
	s := l.s
	recs := persistOf(&pd.d)
	if err := s.stored(pd.start, len(recs), l.fam.what, pd.err); err != nil {
		l.fam.revert(&pd.d)
		l.fam.drop(dropCommit)
	} else {
		s.leasesCommitted(recs) // lease event hook (leaseevents.go)
		l.fam.finish(sd, pd.p, &pd.d)
	}
	l.put(pd.p)
	l.release(pd)
}

// release frees pd's slot and returns pd to the pool.
func (l *lane[P, S, D]) release(pd *pending[P, S, D]) {
	var zp P
	var zd D
	pd.p, pd.d, pd.err = zp, zd, nil
	l.pendings.Put(pd)
	<-l.slots
	l.s.m.inflight.Set(float64(l.s.inflight.Add(-1)))
	l.pend.Done()
}

// persistOf returns the records a decision of either family persists.
func persistOf[D any](d *D) []lease.Lease {
	switch d := any(d).(type) {
	case *lease.Decision:
		return d.Persist
	case *lease6.Decision:
		return d.Persist
	}
	return nil
}

// batcher returns the lane's reply batcher, nil when replies go to a
// test's recorder.
func (l *lane[P, S, D]) batcher() *replyBatcher {
	var sink replySink
	switch any(l).(type) {
	case *lane4:
		sink = l.s.batch
	case *lane6:
		sink = l.s.v6.batch
	}
	b, _ := sink.(*replyBatcher)
	return b
}
