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
