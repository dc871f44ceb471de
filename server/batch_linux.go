package server

import (
	"errors"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Reply batching. After one group commit the WAL wakes every commit
// worker whose records were in it at the same moment, and each used to
// send its reply with its own sendmsg: one syscall per reply, the largest
// single cost in the profile (docs/BENCHMARKS.md). replyBatcher coalesces
// the replies that are ready together into one sendmmsg(2) by flat
// combining: a sender copies its datagram into a queue slot; whoever gets
// the combiner lock sends everything queued, and a sender that finds the
// lock taken just returns, its datagram going out with the holder's batch.
// There is no extra goroutine and no wait: a lone reply is sent at once,
// as before. Only UDP sends through the shared socket are batched; raw
// frames to address-less clients keep their own path.

// replySink takes a family's encoded replies: the replyBatcher, which
// sends them through the socket, or a test's recorder. Either reports each
// datagram's outcome through the sendResult it was made with.
type replySink interface {
	send(pkt []byte, o outSpec)
}

var _ replySink = (*replyBatcher)(nil)

// maxBatch bounds one sendmmsg call (the kernel caps vlen at UIO_MAXIOV).
const maxBatch = 64

// outSpec says where one datagram goes and what its report counts.
type outSpec struct {
	to netip.AddrPort
	// pktInfo: the datagram carries the family's packet-info control
	// message with ifindex (the interface to leave by, 0 to route; a
	// DHCPv6 link-local destination also takes its zone from it) and src
	// (the source address, invalid: the kernel's choice).
	pktInfo bool
	ifindex int
	src     netip.Addr
	kind    DestKind // DHCPv4: the delivery path; DHCPv6: via6Relay or via6Direct
	typ     int      // index into the family's sent-by-type counters
	// nakCopy: the best-effort unicast copy of a NAK (RFC 2131 §4.1 is
	// satisfied by the broadcast; the copy reaches dhcpcd in RENEWING).
	nakCopy bool
}

// outMsg is one queued datagram with everything its metrics need.
type outMsg struct {
	buf []byte // the batcher's bufSize bytes; the datagram is buf[:n]
	n   int
	oob []byte // the batcher's oobSize bytes, pointer-aligned (from make); unused when !pktInfo
	outSpec
	// name is the destination in kernel form, filled by the combiner
	// (a sockaddr_in or sockaddr_in6).
	name    [unix.SizeofSockaddrInet6]byte
	namelen uint32
}

// mmsghdr is struct mmsghdr of sendmmsg(2): Go's alignment pads it to the
// kernel's size on both 32- and 64-bit.
type mmsghdr struct {
	hdr unix.Msghdr
	len uint32
}

// sendResult is what the batcher reports for each datagram sent or failed.
type sendResult func(m *outMsg, err error)

type replyBatcher struct {
	rc   syscall.RawConn
	done sendResult
	// raw: the socket is non-blocking, so sendmmsg is made as a raw system
	// call (see nonBlocking).
	raw bool
	// v6: the socket is AF_INET6; putInfo writes the family's packet
	// info control message; bufSize and oobSize size the queue slots.
	v6      bool
	putInfo func(b []byte, ifindex int, src netip.Addr) []byte
	bufSize int
	oobSize int
	// calls counts sendmmsg system calls (a metric: datagrams ÷ calls is
	// the mean batch).
	calls atomic.Uint64

	qmu  sync.Mutex
	q    []*outMsg
	free []*outMsg

	// Owned by the holder of mu (the combiner).
	mu    sync.Mutex
	batch []*outMsg
	hdrs  [maxBatch]mmsghdr
	iovs  [maxBatch]unix.Iovec
	// The sendmmsg callback and its arguments and results.
	writeFn func(fd uintptr) bool
	wHdrs   []mmsghdr
	wN      int
	wErr    error
}

// newReplyBatcher batches DHCPv4 replies through an AF_INET socket.
func newReplyBatcher(rc syscall.RawConn, done sendResult) *replyBatcher {
	return newBatcher(rc, done, false, putPktInfo, maxPacket, oobSize)
}

// newReplyBatcher6 batches DHCPv6 replies through an AF_INET6 socket.
func newReplyBatcher6(rc syscall.RawConn, done sendResult) *replyBatcher {
	return newBatcher(rc, done, true, putPktInfo6, maxPacket6, oobSize6)
}

func newBatcher(rc syscall.RawConn, done sendResult, v6 bool, put func([]byte, int, netip.Addr) []byte, bufSize, oobSize int) *replyBatcher {
	b := &replyBatcher{rc: rc, done: done, v6: v6, putInfo: put, bufSize: bufSize, oobSize: oobSize,
		batch: make([]*outMsg, 0, maxBatch), raw: nonBlocking(rc)}
	b.writeFn = b.write
	return b
}

// get returns an empty queue slot.
func (b *replyBatcher) get() *outMsg {
	b.qmu.Lock()
	if n := len(b.free); n > 0 {
		m := b.free[n-1]
		b.free = b.free[:n-1]
		b.qmu.Unlock()
		return m
	}
	b.qmu.Unlock()
	return &outMsg{buf: make([]byte, b.bufSize), oob: make([]byte, b.oobSize)}
}

// send queues a copy of pkt, to go as o says, and sends what is queued
// unless another sender is doing so already. Results (success or error)
// are reported through done, possibly by another goroutine.
func (b *replyBatcher) send(pkt []byte, o outSpec) {
	b.queue(pkt, o)
	b.flush()
}

// queue is send without the flush: it queues a copy of pkt to go as o
// says. A caller with several datagrams ready at once (a campaign's batch
// of FORCERENEWs) queues them all, then calls flush, so that they leave in
// sendmmsg calls of up to maxBatch even without concurrent senders (flush
// only combines what concurrent senders queued meanwhile).
func (b *replyBatcher) queue(pkt []byte, o outSpec) {
	m := b.get()
	m.n = copy(m.buf, pkt)
	m.outSpec = o
	if o.pktInfo {
		b.putInfo(m.oob, o.ifindex, o.src)
	}
	m.namelen = b.sockaddr(m, o.ifindex)
	b.qmu.Lock()
	b.q = append(b.q, m)
	b.qmu.Unlock()
}

// sockaddr writes m.to into m.name in the socket's family and returns its
// length.
func (b *replyBatcher) sockaddr(m *outMsg, ifindex int) uint32 {
	p := m.to.Port()
	port := p<<8 | p>>8 // network byte order
	if !b.v6 {
		sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(&m.name[0]))
		*sa = unix.RawSockaddrInet4{Family: unix.AF_INET, Port: port, Addr: m.to.Addr().Unmap().As4()}
		return unix.SizeofSockaddrInet4
	}
	sa := (*unix.RawSockaddrInet6)(unsafe.Pointer(&m.name[0]))
	*sa = unix.RawSockaddrInet6{Family: unix.AF_INET6, Port: port, Addr: m.to.Addr().As16()}
	if a := m.to.Addr(); a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() {
		sa.Scope_id = uint32(ifindex)
	}
	return unix.SizeofSockaddrInet6
}

// flush sends the queue while it is not empty and no one else is
// sending. The re-check after Unlock closes the race with a sender that
// queued after the holder took the batch and found the lock taken.
func (b *replyBatcher) flush() {
	for {
		if !b.mu.TryLock() {
			return
		}
		b.qmu.Lock()
		n := min(len(b.q), maxBatch)
		b.batch = append(b.batch[:0], b.q[:n]...)
		rest := copy(b.q, b.q[n:])
		clear(b.q[rest:])
		b.q = b.q[:rest]
		b.qmu.Unlock()
		if len(b.batch) > 0 {
			b.sendBatch()
		}
		b.mu.Unlock()
		b.qmu.Lock()
		empty := len(b.q) == 0
		b.qmu.Unlock()
		if empty {
			return
		}
	}
}

// sendBatch sends b.batch (mu held) and recycles its slots.
func (b *replyBatcher) sendBatch() {
	msgs := b.batch
	for i, m := range msgs {
		b.iovs[i] = unix.Iovec{Base: &m.buf[0]}
		b.iovs[i].SetLen(m.n)
		h := &b.hdrs[i]
		*h = mmsghdr{}
		h.hdr.Name = &m.name[0]
		h.hdr.Namelen = m.namelen
		h.hdr.Iov = &b.iovs[i]
		h.hdr.SetIovlen(1)
		if m.pktInfo {
			h.hdr.Control = &m.oob[0]
			h.hdr.SetControllen(len(m.oob))
		}
	}
	for i := 0; i < len(msgs); {
		sent, err := b.sendmmsg(b.hdrs[i:len(msgs)])
		if err != nil {
			// The first unsent datagram failed; report it and go on
			// with the rest, as separate sendmsg calls would.
			b.done(msgs[i], err)
			i++
			continue
		}
		for _, m := range msgs[i : i+sent] {
			b.done(m, nil)
		}
		i += sent
	}
	b.qmu.Lock()
	b.free = append(b.free, msgs...)
	b.qmu.Unlock()
	clear(b.batch)
	b.batch = b.batch[:0]
}

var errNoneSent = errors.New("sendmmsg sent nothing")

// sendmmsg sends hdrs with one system call (waiting through the runtime
// poller if the socket buffer is full) and returns how many went out.
// The callback is a method value made once, with its inputs and outputs
// in b, so that a send allocates nothing.
func (b *replyBatcher) sendmmsg(hdrs []mmsghdr) (int, error) {
	b.wHdrs, b.wN, b.wErr = hdrs, 0, nil
	b.calls.Add(1)
	err := b.rc.Write(b.writeFn)
	n, serr := b.wN, b.wErr
	b.wHdrs = nil
	if err != nil {
		return 0, err
	}
	if serr != nil {
		return 0, serr
	}
	if n <= 0 {
		return 0, errNoneSent
	}
	return n, nil
}

func (b *replyBatcher) write(fd uintptr) bool {
	call := unix.Syscall6
	if b.raw {
		call = unix.RawSyscall6
	}
	r, _, e := call(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&b.wHdrs[0])), uintptr(len(b.wHdrs)), 0, 0, 0)
	for e == unix.EINTR {
		r, _, e = call(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&b.wHdrs[0])), uintptr(len(b.wHdrs)), 0, 0, 0)
	}
	if e == unix.EAGAIN {
		return false
	}
	if e != 0 {
		b.wErr = e
	}
	b.wN = int(r)
	return true
}

// Batch reads. A reader used to take one datagram per recvmsg(2), and at
// low rates each one was a netpoller wake-up; under load each was a system
// call of its own. mmsgReader takes up to len(hdrs) datagrams that are
// already queued with one recvmmsg(2) (MSG_DONTWAIT: it never waits for a
// batch to fill, so a lone request is handled at once, as before), and
// waits through the runtime poller, deadlines included, only when none is.

// readBatch is how many datagrams one reader takes per recvmmsg call.
const readBatch = 32

type mmsgReader struct {
	rc    syscall.RawConn
	hdrs  [readBatch]mmsghdr
	iovs  [readBatch]unix.Iovec
	names [readBatch][unix.SizeofSockaddrInet6]byte
	// readFn is the recvmmsg callback, made once (no allocation per read).
	readFn func(fd uintptr) bool
	n      int
	err    error
	// calls counts recvmmsg calls that returned datagrams.
	calls *atomic.Uint64
}

func newMmsgReader(rc syscall.RawConn, calls *atomic.Uint64) *mmsgReader {
	r := &mmsgReader{rc: rc, calls: calls}
	r.readFn = r.recv
	return r
}

// set points slot i at buf and oob (oob pointer-aligned, from make).
func (r *mmsgReader) set(i int, buf, oob []byte) {
	r.iovs[i] = unix.Iovec{Base: &buf[0]}
	r.iovs[i].SetLen(len(buf))
	h := &r.hdrs[i]
	*h = mmsghdr{}
	h.hdr.Name = &r.names[i][0]
	h.hdr.Namelen = unix.SizeofSockaddrInet6
	h.hdr.Iov = &r.iovs[i]
	h.hdr.SetIovlen(1)
	if len(oob) > 0 {
		h.hdr.Control = &oob[0]
		h.hdr.SetControllen(len(oob))
	}
}

// read fills slots 0..n-1 (set before each call) and returns n ≥ 1, or an
// error (os.ErrDeadlineExceeded, net.ErrClosed wrapped by the runtime, or
// the system call's).
func (r *mmsgReader) read(n int) (int, error) {
	r.n, r.err = n, nil // recv's input: how many slots
	if err := r.rc.Read(r.readFn); err != nil {
		return 0, err
	}
	if r.err != nil {
		return 0, r.err
	}
	if r.calls != nil {
		r.calls.Add(1)
	}
	return r.n, nil
}

func (r *mmsgReader) recv(fd uintptr) bool {
	// MSG_DONTWAIT: the call never blocks, so it is made raw (see nonBlocking).
	n, _, e := unix.RawSyscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&r.hdrs[0])), uintptr(r.n), unix.MSG_DONTWAIT, 0, 0)
	for e == unix.EINTR {
		n, _, e = unix.RawSyscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&r.hdrs[0])), uintptr(r.n), unix.MSG_DONTWAIT, 0, 0)
	}
	switch {
	case e == unix.EAGAIN:
		return false // nothing queued: wait for the poller
	case e != 0:
		r.err = e
		r.n = 0
	default:
		r.n = int(n)
	}
	return true
}

// datagram returns slot i's length, control-message length and source.
func (r *mmsgReader) datagram(i int) (n, oobn int, src netip.AddrPort) {
	h := &r.hdrs[i]
	n, oobn = int(h.len), int(h.hdr.Controllen)
	switch h.hdr.Namelen {
	case unix.SizeofSockaddrInet4:
		sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(&r.names[i][0]))
		p := sa.Port<<8 | sa.Port>>8
		src = netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), p)
	case unix.SizeofSockaddrInet6:
		sa := (*unix.RawSockaddrInet6)(unsafe.Pointer(&r.names[i][0]))
		p := sa.Port<<8 | sa.Port>>8
		src = netip.AddrPortFrom(netip.AddrFrom16(sa.Addr), p)
	}
	return n, oobn, src
}

// batchPacket is a lane's packet that a batch read fills: its datagram and
// control-message buffers (oob pointer-aligned, from make), and what the
// read put there.
type batchPacket interface {
	readBufs() (buf, oob []byte)
	setRead(n int, src netip.AddrPort)
}

var (
	_ batchPacket = (*inPacket)(nil)
	_ batchPacket = (*inPacket6)(nil)
)

func (p *inPacket) readBufs() ([]byte, []byte)      { return p.buf[:], p.oob }
func (p *inPacket) setRead(n int, _ netip.AddrPort) { p.n = n }

func (p *inPacket6) readBufs() ([]byte, []byte)        { return p.buf[:], p.oob }
func (p *inPacket6) setRead(n int, src netip.AddrPort) { p.n, p.src = n, src }

// Wake-ups (issue #15 part 4). A system call made through syscall.Syscall
// tells the scheduler it may block (entersyscall/exitsyscall), and when
// every P was idle that wakes the runtime's sysmon thread, which then
// polls every 20 µs until the process is idle again: in the profile of
// 3,000 DORA/s on one pinned core (docs/BENCHMARKS.md, "#15 part 4") sysmon
// took 16 % of leased's CPU samples and 26 % of the stateless floor's. The
// reads (MSG_DONTWAIT) and the sends (the socket is non-blocking: EAGAIN,
// then the runtime poller) never block, so they are made as raw system
// calls, which neither release the P nor wake sysmon. Blocking calls
// (the WAL's write and fdatasync) stay ordinary system calls.
//
// nonBlocking reports whether rc's socket is in non-blocking mode (the
// sockets the net package makes are).
func nonBlocking(rc syscall.RawConn) bool {
	nb := false
	if err := rc.Control(func(fd uintptr) {
		fl, err := unix.FcntlInt(fd, unix.F_GETFL, 0)
		nb = err == nil && fl&unix.O_NONBLOCK != 0
	}); err != nil {
		return false
	}
	return nb
}

// usableCPUs is the number of CPUs this process can run on at once: those
// it may run on (sched_getaffinity: taskset, a cgroup cpuset), at most
// GOMAXPROCS (which follows a cgroup CPU quota), at least 1. leased
// raises GOMAXPROCS above the CPUs it is pinned to (cmd/leased), so
// GOMAXPROCS alone overstates them.
func usableCPUs() int {
	n := runtime.GOMAXPROCS(0)
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err == nil {
		n = min(n, set.Count())
	}
	return max(1, n)
}
