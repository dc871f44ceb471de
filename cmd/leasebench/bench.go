package main

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"sync"

	"time"

	"golang.org/x/net/ipv4"

	"github.com/leased/leased/client"
	"github.com/leased/leased/dhcpv4"
)

// Exchange kinds (per client, low bits of kind[i]); bit 7 marks an
// exchange in flight.
const (
	kDORA uint8 = iota + 1
	kRenew
	kReboot
	kDecline
	kForce   // waiting for a FORCERENEW (Reconfigure), then renewing
	kRelease // DHCPv6 Release, waiting for the Reply

	active uint8 = 0x80
)

const batchLen = 64

var debug = os.Getenv("LEASEBENCH_DEBUG") != ""

// batchConn is ipv4.PacketConn or ipv6.PacketConn (both read and write
// x/net socket.Message batches).
type batchConn interface {
	ReadBatch(ms []ipv4.Message, flags int) (int, error)
	WriteBatch(ms []ipv4.Message, flags int) (int, error)
}

// worker owns a slice of the clients and one relay socket; its reader and
// its driver goroutines serialise on mu. A DHCPv6 worker (v6) holds
// clients6 and env6 instead of clients and env (bench6.go).
type worker struct {
	mu       sync.Mutex
	id       int
	salt     byte
	conn     *net.UDPConn
	pc       batchConn
	dst      *net.UDPAddr
	env      client.Env
	clients  []client.Client
	v6       bool
	env6     client.Env6
	clients6 []client.Client6
	kind     []uint8
	cursor   int
	rng      *rand.Rand
	// direct: broadcast replies reach every worker; those for another
	// worker's clients are ignored, not counted as dropped.
	direct bool

	pending []pend // FIFO of exchanges to check for timeout
	phead   int

	out    []ipv4.Message
	outBuf [batchLen][600]byte

	// phase state
	ph       *phase
	started  int
	inflight int
	st       stats
}

type pend struct {
	idx     uint32
	begin   int64
	checkAt int64
}

// stats of one phase, summed over workers.
type stats struct {
	started, completed, lost, naks, badSent, dropped, sendErrs int
	// retransmits: requests sent again after a timeout; duplicates:
	// replies to a client with no exchange in flight (answers to a
	// retransmission, or to a request answered already), a subset of
	// dropped.
	retransmits, duplicates int
	lat                     hist
}

func (s *stats) add(o *stats) {
	s.started += o.started
	s.completed += o.completed
	s.lost += o.lost
	s.naks += o.naks
	s.badSent += o.badSent
	s.dropped += o.dropped
	s.sendErrs += o.sendErrs
	s.retransmits += o.retransmits
	s.duplicates += o.duplicates
	s.lat.merge(&o.lat)
}

// phase is one stage of a scenario.
type phase struct {
	name    string
	count   int // exchanges to start per worker; <0 unlimited
	rate    float64
	window  int
	timeout time.Duration
	retries int
	// start begins an exchange on the worker's next client; false when
	// there is nothing to start.
	start func(w *worker, now time.Time) bool
	// badShare sends a malformed packet next to this share of starts.
	badShare float64
	// waitOnly: nothing is started by the driver (forcerenew): the phase
	// ends when every active exchange finished.
	waitOnly bool
	t0       time.Time
}

func newWorker(id int, n int, conn *net.UDPConn, dst netip.AddrPort, giaddr netip.Addr, nonce bool, seed uint64) *worker {
	w := &worker{id: id, salt: byte(id), conn: conn, pc: ipv4.NewPacketConn(conn),
		dst: net.UDPAddrFromAddrPort(dst), clients: make([]client.Client, n), kind: make([]uint8, n),
		rng: rand.New(rand.NewPCG(seed, uint64(id)))}
	w.env.GIAddr = giaddr
	w.env.Seed = seed ^ uint64(id)<<32
	for i := range w.clients {
		w.clients[i] = client.New(client.HWAddrFor(uint32(i), w.salt), nonce)
	}
	w.out = make([]ipv4.Message, 0, batchLen)
	return w
}

// queue copies pkt into the send batch; flush sends it. mu held.
func (w *worker) queue(pkt []byte) {
	if pkt == nil {
		return
	}
	if len(w.out) == batchLen {
		w.flush()
	}
	i := len(w.out)
	n := copy(w.outBuf[i][:], pkt)
	w.out = append(w.out, ipv4.Message{Buffers: [][]byte{w.outBuf[i][:n]}, Addr: w.dst})
}

func (w *worker) flush() {
	msgs := w.out
	for tries := 0; len(msgs) > 0 && tries < 100; tries++ {
		n, err := w.pc.WriteBatch(msgs, 0)
		if err != nil {
			if n <= 0 {
				w.st.sendErrs++
				n = 1 // drop the packet the kernel refused
			}
		}
		msgs = msgs[n:]
	}
	w.out = w.out[:0]
}

// begin records a started exchange for client i. mu held.
func (w *worker) begin(i int, k uint8, out client.Out) {
	w.kind[i] = k | active
	w.inflight++
	w.started++
	w.st.started++
	w.queue(out.Packet)
	w.track(i)
}

// track adds client i's current exchange to the timeout queue. mu held.
func (w *worker) track(i int) {
	if w.ph != nil && w.ph.timeout > 0 {
		b := w.beginOf(i)
		w.pending = append(w.pending, pend{idx: uint32(i), begin: b, checkAt: b + int64(w.ph.timeout)})
	}
}

// beginOf is when client i's current exchange started.
func (w *worker) beginOf(i int) int64 {
	if w.v6 {
		return w.clients6[i].Begin
	}
	return w.clients[i].Begin
}

func (w *worker) finish(i int, now time.Time, ok bool) {
	w.kind[i] &^= active
	w.inflight--
	if ok {
		w.st.completed++
		w.st.lat.record(time.Duration(now.UnixNano() - w.beginOf(i)))
	} else {
		w.st.lost++
	}
}

// nextClient advances the cursor to a client not in flight.
func (w *worker) nextClient() (int, bool) {
	for range len(w.kind) {
		i := w.cursor
		w.cursor++
		if w.cursor == len(w.kind) {
			w.cursor = 0
		}
		if w.kind[i]&active == 0 {
			return i, true
		}
	}
	return 0, false
}

// canStart reports whether the phase allows another start now. mu held.
func (w *worker) canStart(now time.Time) bool {
	p := w.ph
	if p == nil || p.waitOnly || (p.count >= 0 && w.started >= p.count) {
		return false
	}
	if p.window > 0 && w.inflight >= p.window {
		return false
	}
	if p.rate > 0 {
		allowed := int(p.rate*now.Sub(p.t0).Seconds()) + 1
		return w.started < allowed
	}
	return true
}

// startSome starts as many exchanges as the phase allows now (bounded per
// call so the lock is released regularly). mu held.
func (w *worker) startSome(now time.Time) {
	for n := 0; n < 4096 && w.canStart(now); n++ {
		if !w.ph.start(w, now) {
			return
		}
		if w.ph.badShare > 0 && w.rng.Float64() < w.ph.badShare {
			w.queue(w.badPacket())
			w.st.badSent++
		}
	}
}

// expire handles timeouts: retransmit while retries remain, else lost.
func (w *worker) expire(now time.Time) {
	n := now.UnixNano()
	for w.phead < len(w.pending) && w.pending[w.phead].checkAt <= n {
		p := w.pending[w.phead]
		w.phead++
		i := int(p.idx)
		if w.kind[i]&active == 0 || w.beginOf(i) != p.begin {
			continue // finished, or a later exchange
		}
		if w.v6 {
			if w.retransmit6(i, p, now) {
				continue
			}
		} else if c := &w.clients[i]; int(c.Tries()) <= w.ph.retries {
			out := c.Timer(&w.env, now)
			if out.Packet != nil {
				w.queue(out.Packet)
				w.st.retransmits++
				w.pending = append(w.pending, pend{idx: p.idx, begin: p.begin, checkAt: c.Deadline(&w.env)})
				continue
			}
		}
		if debug && !w.v6 {
			c := &w.clients[i]
			println("lost", i, c.State().String(), w.kind[i]&^active, c.Addr().String(), c.XID)
		}
		w.finish(i, now, false)
	}
	if w.phead > 4096 && w.phead*2 > len(w.pending) {
		w.pending = append(w.pending[:0], w.pending[w.phead:]...)
		w.phead = 0
	}
}

// handle processes one reply for this worker. mu held.
func (w *worker) handle(m *dhcpv4.Message, now time.Time) {
	idx, salt, ok := client.IndexOf(m.HWAddr())
	if w.direct && ok && salt != w.salt && (salt != 0xff || w.id != 0) {
		return // another worker's client (worker 0 counts the bad ones)
	}
	if !ok || salt != w.salt || int(idx) >= len(w.clients) {
		w.st.dropped++
		return
	}
	i := int(idx)
	c := &w.clients[i]
	out, err := c.Handle(&w.env, now, m)
	if err != nil {
		w.st.dropped++
		if w.kind[i]&active == 0 && m.Type() != dhcpv4.ForceRenew {
			w.st.duplicates++
		}
		return
	}
	w.queue(out.Packet)
	k := w.kind[i]
	if k&active == 0 {
		return // a late reply to an exchange already counted lost
	}
	switch out.Event {
	case client.EvBound, client.EvRebooted, client.EvRenewed:
		if k&^active == kForce {
			// latency of a forcerenew: from the campaign start
			c.Begin = w.ph.t0.UnixNano()
		}
		w.finish(i, now, true)
		if k&^active == kDecline {
			// After finish: Decline resets the client, Begin with it.
			w.queue(c.Decline(&w.env, now).Packet)
		}
		if w.ph.rate == 0 {
			w.startSome(now)
		}
	case client.EvNak:
		w.st.naks++
		w.finish(i, now, false)
	case client.EvForceRenew:
		if w.ph.timeout > 0 {
			w.pending = append(w.pending, pend{idx: uint32(i), begin: c.Begin, checkAt: c.Deadline(&w.env)})
		}
	}
}

// reader reads replies on the worker's relay socket until ctx ends.
func (w *worker) reader(ctx context.Context, wg *sync.WaitGroup) {
	defer wg.Done()
	msgs := make([]ipv4.Message, batchLen)
	for i := range msgs {
		msgs[i].Buffers = [][]byte{make([]byte, 1500)}
	}
	var m dhcpv4.Message
	for ctx.Err() == nil {
		_ = w.conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		n, err := w.pc.ReadBatch(msgs, 0)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		now := time.Now()
		w.mu.Lock()
		for k := range n {
			if err := m.Decode(msgs[k].Buffers[0][:msgs[k].N]); err != nil {
				w.st.dropped++
				continue
			}
			w.handle(&m, now)
		}
		w.flush()
		w.mu.Unlock()
	}
}

// runPhase runs p on every worker until it is done, its duration ends or
// ctx is cancelled; progress goes to prog once a second.
func runPhase(ctx context.Context, ws []*worker, p phase, duration time.Duration, prog func(string, stats, time.Duration, int)) (stats, time.Duration) {
	p.t0 = time.Now()
	for _, w := range ws {
		w.mu.Lock()
		wp := p
		w.ph = &wp
		w.started, w.st = 0, stats{}
		if !p.waitOnly {
			w.inflight = 0
		}
		w.pending, w.phead = w.pending[:0], 0
		w.startSome(p.t0)
		w.flush()
		w.mu.Unlock()
	}
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	lastProg := p.t0
	var end time.Time
	if duration > 0 {
		end = p.t0.Add(duration)
	}
	stopping := false // no more starts; waiting for in-flight exchanges
	var drainEnd time.Time
	for {
		var now time.Time
		select {
		case <-ctx.Done():
			now = time.Now()
			if !stopping {
				stopping, drainEnd = true, now.Add(min(p.timeout, time.Second))
			}
		case now = <-tick.C:
		}
		if !end.IsZero() && now.After(end) && !stopping {
			stopping, drainEnd = true, now.Add(p.timeout)
		}
		busy := 0
		var tot stats
		for _, w := range ws {
			w.mu.Lock()
			if stopping {
				w.ph.count = w.started
			}
			w.expire(now)
			w.startSome(now)
			w.flush()
			busy += w.inflight
			if p.count >= 0 && w.started < w.ph.count {
				busy++
			}
			tot.add(&w.st)
			w.mu.Unlock()
		}
		if now.Sub(lastProg) >= time.Second {
			lastProg = now
			prog(p.name, tot, now.Sub(p.t0), busy)
		}
		if busy == 0 || (stopping && now.After(drainEnd)) {
			// Whatever is still in flight is lost.
			tot = stats{}
			for _, w := range ws {
				w.mu.Lock()
				for i, k := range w.kind {
					if k&active != 0 {
						w.finish(i, now, false)
					}
				}
				w.ph = nil
				tot.add(&w.st)
				w.mu.Unlock()
			}
			return tot, now.Sub(p.t0)
		}
	}
}

// badPacket returns a malformed request of a rotating kind, from a client
// of no worker (salt 0xff), so that any answer is dropped.
func (w *worker) badPacket() []byte {
	var e client.Env
	e.GIAddr = w.env.GIAddr
	c := client.New(client.HWAddrFor(uint32(w.rng.IntN(1<<20)), 0xff), false)
	pkt := append([]byte(nil), c.Discover(&e, time.Now()).Packet...)
	switch w.rng.IntN(6) {
	case 0: // truncated inside the fixed header
		return pkt[:100]
	case 1: // bad magic cookie
		pkt[dhcpv4.FixedLen-1] ^= 0xff
	case 2: // option length runs past the end
		pkt[dhcpv4.FixedLen+1] = 250
		return pkt[:dhcpv4.FixedLen+20]
	case 3: // no message type: option 53 overwritten with pad
		pkt[dhcpv4.FixedLen] = 0
		pkt[dhcpv4.FixedLen+1] = 0
		pkt[dhcpv4.FixedLen+2] = 0
	case 4: // hlen > 16
		pkt[2] = 40
	case 5: // a BOOTREPLY sent to the server
		pkt[0] = byte(dhcpv4.BootReply)
	}
	return pkt
}

// listenRelay opens the relay socket at addr (SO_REUSEADDR so that it can
// share port 67 with a server bound to 0.0.0.0:67; the kernel delivers to
// the more specific binding).
func listenRelay(addr netip.AddrPort) (*net.UDPConn, error) {
	return listenReuse(addr)
}
