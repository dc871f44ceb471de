package server

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

type batchRecorder struct {
	mu   sync.Mutex
	ok   int
	errs []error
}

func (r *batchRecorder) done(m *outMsg, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.errs = append(r.errs, err)
		return
	}
	r.ok++
}

func loopbackPair(t *testing.T) (send *net.UDPConn, recv *net.UDPConn) {
	t.Helper()
	send, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	recv, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	_ = recv.SetReadBuffer(8 << 20)
	t.Cleanup(func() { send.Close(); recv.Close() })
	return send, recv
}

// Every datagram queued by concurrent senders arrives exactly once, intact,
// and is reported once.
func TestReplyBatcherDeliversEveryDatagramOnce(t *testing.T) {
	send, recv := loopbackPair(t)
	rc, err := send.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var rec batchRecorder
	b := newReplyBatcher(rc, rec.done)
	to := recv.LocalAddr().(*net.UDPAddr).AddrPort()
	src := netip.MustParseAddr("127.0.0.1")
	const senders, each = 8, 400
	got := make(map[uint32]int)
	recvDone := make(chan error, 1)
	go func() {
		buf := make([]byte, 2048)
		_ = recv.SetReadDeadline(time.Now().Add(20 * time.Second))
		for range senders * each {
			n, _, err := recv.ReadFromUDPAddrPort(buf)
			if err != nil {
				recvDone <- err
				return
			}
			if n != 300 {
				recvDone <- errors.New("datagram of wrong length")
				return
			}
			id := binary.BigEndian.Uint32(buf)
			if buf[299] != byte(id) {
				recvDone <- errors.New("datagram body damaged")
				return
			}
			got[id]++
		}
		recvDone <- nil
	}()
	var wg sync.WaitGroup
	for g := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pkt := make([]byte, 300)
			for i := range each {
				id := uint32(g*each + i)
				binary.BigEndian.PutUint32(pkt, id)
				pkt[299] = byte(id)
				b.send(pkt, outSpec{to: to, pktInfo: true, src: src, kind: DestUnicast})
			}
		}()
	}
	wg.Wait()
	if err := <-recvDone; err != nil {
		t.Fatalf("receiving: %v (got %d distinct)", err, len(got))
	}
	for id := range uint32(senders * each) {
		if got[id] != 1 {
			t.Fatalf("datagram %d arrived %d times", id, got[id])
		}
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.ok != senders*each || len(rec.errs) != 0 {
		t.Fatalf("reported %d sent, errors %v", rec.ok, rec.errs)
	}
	b.qmu.Lock()
	defer b.qmu.Unlock()
	if len(b.q) != 0 {
		t.Fatalf("%d datagrams left queued", len(b.q))
	}
}

// A datagram the kernel refuses in the middle of a batch is reported as
// failed and the others still go out.
func TestReplyBatcherReportsFailureInsideBatch(t *testing.T) {
	send, recv := loopbackPair(t)
	rc, err := send.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var rec batchRecorder
	b := newReplyBatcher(rc, rec.done)
	to := recv.LocalAddr().(*net.UDPAddr).AddrPort()
	src := netip.MustParseAddr("127.0.0.1")
	// Hold the combiner so the three datagrams form one batch; UDP
	// refuses destination port 0 (EINVAL).
	b.mu.Lock()
	b.send([]byte("first"), outSpec{to: to, pktInfo: true, src: src, kind: DestUnicast})
	b.send([]byte("port0"), outSpec{to: netip.MustParseAddrPort("127.0.0.1:0"), pktInfo: true, src: src, kind: DestUnicast})
	b.send([]byte("third"), outSpec{to: to, pktInfo: true, src: src, kind: DestUnicast})
	b.mu.Unlock()
	b.flush()
	buf := make([]byte, 64)
	_ = recv.SetReadDeadline(time.Now().Add(5 * time.Second))
	for _, want := range []string{"first", "third"} {
		n, _, err := recv.ReadFromUDPAddrPort(buf)
		if err != nil || string(buf[:n]) != want {
			t.Fatalf("got %q, %v; want %q", buf[:n], err, want)
		}
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.ok != 2 || len(rec.errs) != 1 || !errors.Is(rec.errs[0], syscall.EINVAL) {
		t.Fatalf("reported %d sent, errors %v; want 2 and one EINVAL", rec.ok, rec.errs)
	}
}

// The DHCPv6 batcher sends through an AF_INET6 socket, with and without
// the IPV6_PKTINFO control message.
func TestReplyBatcher6(t *testing.T) {
	send, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback})
	if err != nil {
		t.Fatal(err)
	}
	recv, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { send.Close(); recv.Close() })
	rc, err := send.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var rec batchRecorder
	b := newReplyBatcher6(rc, rec.done)
	to := recv.LocalAddr().(*net.UDPAddr).AddrPort()
	b.mu.Lock()
	b.send([]byte("relayed"), outSpec{to: to, kind: via6Relay})
	b.send([]byte("direct"), outSpec{to: to, pktInfo: true, src: netip.MustParseAddr("::1"), kind: via6Direct})
	b.mu.Unlock()
	b.flush()
	buf := make([]byte, 64)
	_ = recv.SetReadDeadline(time.Now().Add(5 * time.Second))
	for _, want := range []string{"relayed", "direct"} {
		n, from, err := recv.ReadFromUDPAddrPort(buf)
		if err != nil || string(buf[:n]) != want {
			t.Fatalf("got %q, %v; want %q", buf[:n], err, want)
		}
		if from.Port() != send.LocalAddr().(*net.UDPAddr).AddrPort().Port() {
			t.Fatalf("from %v, want the batcher's socket", from)
		}
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.ok != 2 || len(rec.errs) != 0 {
		t.Fatalf("reported %d sent, errors %v", rec.ok, rec.errs)
	}
}

// recvBatchConn is a socket opened like leased's (IP_PKTINFO, large
// receive buffer) on a free loopback port.
func recvBatchConn(t *testing.T) *net.UDPConn {
	t.Helper()
	c, err := listenUDP(0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// One recvmmsg takes every datagram already queued (up to readBatch), each
// with its own length, source and IP_PKTINFO; it allocates nothing.
func TestMmsgReaderBatch(t *testing.T) {
	recv := recvBatchConn(t)
	send, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer send.Close()
	to := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(recv.LocalAddr().(*net.UDPAddr).Port))
	from := send.LocalAddr().(*net.UDPAddr).AddrPort()
	rc, err := recv.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var calls atomic.Uint64
	r := newMmsgReader(rc, &calls)
	bufs := make([][]byte, readBatch)
	oobs := make([][]byte, readBatch)
	for i := range bufs {
		bufs[i], oobs[i] = make([]byte, 1500), make([]byte, 128)
	}
	arm := func() {
		for i := range bufs {
			r.set(i, bufs[i], oobs[i])
		}
	}
	const sent = readBatch + 5 // more than one batch
	for i := range sent {
		if _, err := send.WriteToUDPAddrPort(make([]byte, 10+i), to); err != nil {
			t.Fatal(err)
		}
	}
	got := 0
	for got < sent {
		arm()
		_ = recv.SetReadDeadline(time.Now().Add(2 * time.Second))
		n, err := r.read(readBatch)
		if err != nil {
			t.Fatalf("after %d datagrams: %v", got, err)
		}
		if got == 0 && n != readBatch {
			t.Errorf("first read took %d datagrams, want all %d queued up to the batch size", n, readBatch)
		}
		for i := range n {
			size, oobn, src := r.datagram(i)
			if size != 10+got {
				t.Errorf("datagram %d: %d bytes, want %d (order or length lost)", got, size, 10+got)
			}
			if src != from {
				t.Errorf("datagram %d from %v, want %v", got, src, from)
			}
			pi, ok := parsePktInfo(oobs[i][:oobn])
			if !ok || pi.Dst != to.Addr() || pi.IfIndex == 0 {
				t.Errorf("datagram %d: pktinfo %+v %v", got, pi, ok)
			}
			got++
		}
	}
	if c := calls.Load(); c != 2 {
		t.Errorf("%d recvmmsg calls for %d datagrams, want 2", c, sent)
	}
	// Nothing queued: the read waits through the poller until the deadline.
	arm()
	_ = recv.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	if _, err := r.read(readBatch); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("empty socket: err = %v, want a deadline error", err)
	}
	// No allocation per read (one datagram per call, all queued before).
	_ = recv.SetReadDeadline(time.Time{})
	for range 110 {
		if _, err := send.WriteToUDPAddrPort(bufs[0][:20], to); err != nil {
			t.Fatal(err)
		}
	}
	allocs := testing.AllocsPerRun(100, func() {
		arm()
		if n, err := r.read(1); err != nil || n != 1 {
			t.Fatalf("read: %d, %v", n, err)
		}
		_, _, _ = r.datagram(0)
	})
	if allocs != 0 {
		t.Errorf("%.1f allocations per batch read, want 0", allocs)
	}
}
