package server

import (
	"context"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sys/unix"

	"github.com/leased/leased/dhcpv4"
	"github.com/leased/leased/lease"
)

// asyncMemStore is memStore with CommitAsync: the test plays the WAL's
// writer, completing the held commits when it chooses.
type asyncMemStore struct {
	*memStore
	mu      sync.Mutex
	held    []func(error)
	recs    [][]lease.Lease
	entered chan struct{}
}

func (a *asyncMemStore) CommitAsync(recs []lease.Lease, done func(error)) error {
	cp := make([]lease.Lease, len(recs))
	for i := range recs {
		cp[i] = recs[i].Clone()
	}
	a.mu.Lock()
	a.held = append(a.held, done)
	a.recs = append(a.recs, cp)
	a.mu.Unlock()
	a.entered <- struct{}{}
	return nil
}

// complete completes every held commit with err, in order, from one
// goroutine (as the WAL's writer does after a group commit).
func (a *asyncMemStore) complete(err error) int {
	a.mu.Lock()
	held := a.held
	a.held = nil
	a.mu.Unlock()
	for _, done := range held {
		done(err)
	}
	return len(held)
}

// TestAsyncCommitPath (issue #15): with a store that completes commits by
// calling back, the readers hand each REQUEST's records to it directly (no
// commit worker), no ACK leaves before its commit completed, the ACKs of
// one completed batch leave in one sendmmsg, a failed commit reverts the
// decision and sends nothing, and Run's shutdown waits for the commits in
// the store and answers them.
func TestAsyncCommitPath(t *testing.T) {
	eng, err := lease.New(loopConfig())
	if err != nil {
		t.Fatal(err)
	}
	st := &asyncMemStore{memStore: &memStore{}, entered: make(chan struct{}, 64)}
	reg := prometheus.NewRegistry()
	relayPort := freeUDPPort(t)
	s, err := New(Options{Interfaces: []string{"lo"}, Port: freeUDPPort(t), RelayPort: relayPort,
		Engine: eng, Store: st, Logger: testLogger(t), Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	relay := newTestRelay(t, "127.0.0.2", relayPort, s.Port())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runDone := make(chan error, 1)
	go func() { runDone <- s.Run(ctx) }()

	// bind sends n REQUESTs (after their DISCOVERs) and waits until all
	// n commits are held by the store.
	xid := uint32(100)
	bind := func(n int) []netip.Addr {
		t.Helper()
		var addrs []netip.Addr
		for i := range n {
			xid++
			mac := [6]byte{2, 0, 0, 0, 1, byte(xid)}
			relay.send(clientMsg{typ: dhcpv4.Discover, xid: xid, mac: mac, relay: relay1})
			offer, _, ok := relay.recv(2 * time.Second)
			if !ok || offer.Type() != dhcpv4.Offer {
				t.Fatalf("request %d: no OFFER", i)
			}
			relay.send(clientMsg{typ: dhcpv4.Request, xid: xid, mac: mac, relay: relay1,
				reqIP: offer.YIAddr, serverID: netip.MustParseAddr("127.0.0.1")})
			addrs = append(addrs, offer.YIAddr)
		}
		for range n {
			select {
			case <-st.entered:
			case <-time.After(5 * time.Second):
				t.Fatal("a REQUEST's records never reached CommitAsync")
			}
		}
		return addrs
	}

	const n = 5
	bind(n)
	if m, _, ok := relay.recv(50 * time.Millisecond); ok {
		t.Fatalf("%v sent before its commit completed", m.Type())
	}
	// Complete the batch while holding the reply batcher, as a slow
	// sender would: the completer then takes all n together.
	b := s.batch.(*replyBatcher)
	calls0 := b.calls.Load()
	b.mu.Lock()
	if got := st.complete(nil); got != n {
		b.mu.Unlock()
		t.Fatalf("%d commits held, want %d", got, n)
	}
	b.mu.Unlock()
	for i := range n {
		if m, _, ok := relay.recv(2 * time.Second); !ok || m.Type() != dhcpv4.Ack {
			t.Fatalf("ACK %d of %d missing", i+1, n)
		}
	}
	if calls := b.calls.Load() - calls0; calls != 1 {
		t.Errorf("%d ACKs of one group commit took %d sendmmsg calls, want 1", n, calls)
	}

	// A failed commit: no ACK, counted, the decision reverted.
	failed := bind(1)[0]
	drops0 := counter(t, reg, "leased_packets_dropped_total", dropCommit)
	st.complete(errDisk)
	if m, _, ok := relay.recv(100 * time.Millisecond); ok {
		t.Fatalf("%v sent for a failed commit", m.Type())
	}
	if got := counter(t, reg, "leased_packets_dropped_total", dropCommit) - drops0; got != 1 {
		t.Errorf("commit_error drops = %v, want 1", got)
	}
	if l, ok := eng.Lookup(failed); ok && l.State == lease.StateBound {
		t.Errorf("lease %v bound after its commit failed: %+v", failed, l)
	}

	// Shutdown with a commit in the store: Run waits, then answers it.
	bind(1)
	cancel()
	select {
	case err := <-runDone:
		t.Fatalf("Run returned (%v) with a commit in the store", err)
	case <-time.After(50 * time.Millisecond):
	}
	st.complete(nil)
	select {
	case err := <-runDone:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after the last commit completed")
	}
	if m, _, ok := relay.recv(2 * time.Second); !ok || m.Type() != dhcpv4.Ack {
		t.Fatal("the commit completed during shutdown was not answered")
	}
	if s.InFlight() != 0 {
		t.Errorf("InFlight = %d after shutdown", s.InFlight())
	}
}

// TestReadersFollowAffinity (issue #15 part 4): with Readers unset, a
// server pinned to one CPU (taskset, a cpuset) runs one reader per
// socket, not max(2, GOMAXPROCS): more readers than CPUs only pass the
// socket's read lock to each other, a goroutine wake-up per datagram.
func TestReadersFollowAffinity(t *testing.T) {
	eng, err := lease.New(loopConfig())
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		cpus, readers, lane int
		err                 error
	}
	res := make(chan result, 1)
	go func() {
		// The thread stays locked and pinned until this goroutine ends;
		// Go then terminates it, so no other test runs pinned.
		runtime.LockOSThread()
		var set unix.CPUSet
		if err := unix.SchedGetaffinity(0, &set); err != nil {
			res <- result{err: err}
			return
		}
		var one unix.CPUSet
		for cpu := range 1024 {
			if set.IsSet(cpu) {
				one.Set(cpu)
				break
			}
		}
		if err := unix.SchedSetaffinity(0, &one); err != nil {
			res <- result{err: err}
			return
		}
		s, err := New(Options{Interfaces: []string{"lo"}, Port: freeUDPPort(t), Engine: eng,
			Store: &memStore{}, Logger: testLogger(t), Registry: prometheus.NewRegistry()})
		if err != nil {
			res <- result{err: err}
			return
		}
		r := result{cpus: usableCPUs(), readers: s.opts.Readers, lane: s.l4.readersN}
		s.Close()
		res <- r
	}()
	r := <-res
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.cpus != 1 || r.readers != 1 || r.lane != 1 {
		t.Fatalf("pinned to one CPU: usableCPUs %d, Options.Readers %d, lane readers %d; want 1, 1, 1", r.cpus, r.readers, r.lane)
	}
	if runtime.GOMAXPROCS(0) < 2 {
		t.Logf("GOMAXPROCS %d: the old default (max(2, GOMAXPROCS)) was 2 here", runtime.GOMAXPROCS(0))
	}
}

// TestBatchSyscallsRaw (issue #15 part 4): the reply batcher sends through
// a socket from the net package (non-blocking) with raw system calls —
// which do not wake the runtime's sysmon thread — and still delivers every
// datagram of a batch larger than maxBatch; a blocking descriptor keeps
// ordinary system calls (a raw call there could block holding its P).
func TestBatchSyscallsRaw(t *testing.T) {
	send, recv := loopbackPair(t)
	rc, err := send.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var rec batchRecorder
	b := newReplyBatcher(rc, rec.done)
	if !b.raw {
		t.Fatal("batcher on a net.UDPConn: raw = false, want true (the socket is non-blocking)")
	}
	to := recv.LocalAddr().(*net.UDPAddr).AddrPort()
	const n = maxBatch + 7
	for i := range n {
		b.queue([]byte{byte(i), byte(i >> 8)}, outSpec{to: to})
	}
	b.flush()
	_ = recv.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 16)
	for i := range n {
		m, err := recv.Read(buf)
		if err != nil {
			t.Fatalf("datagram %d of %d: %v", i, n, err)
		}
		if m != 2 || int(buf[0])|int(buf[1])<<8 != i {
			t.Fatalf("datagram %d: got % x", i, buf[:m])
		}
	}
	rec.mu.Lock()
	if rec.ok != n || len(rec.errs) != 0 {
		t.Errorf("reported %d sent, errors %v; want %d, none", rec.ok, rec.errs, n)
	}
	rec.mu.Unlock()

	// The same socket switched to blocking mode: ordinary system calls.
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = unix.SetNonblock(int(fd), false) }); err != nil || serr != nil {
		t.Fatal(err, serr)
	}
	defer func() { _ = rc.Control(func(fd uintptr) { _ = unix.SetNonblock(int(fd), true) }) }()
	if newReplyBatcher(rc, rec.done).raw {
		t.Error("batcher on a blocking descriptor: raw = true, want false")
	}
}
