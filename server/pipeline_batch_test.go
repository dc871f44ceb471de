package server

import (
	"net/netip"
	"testing"
	"time"

	"github.com/leased/leased/dhcpv4"
)

// requestsQueued sends n DISCOVERs (answered at once) and then n REQUESTs
// while the store holds every Commit, and waits until all n are in
// flight (inside a held Commit or queued).
func requestsQueued(t *testing.T, s *Server, relay *testRelay, n int) {
	t.Helper()
	for i := range n {
		mac := [6]byte{2, 0, 0, 0, 2, byte(i)}
		relay.send(clientMsg{typ: dhcpv4.Discover, xid: uint32(i), mac: mac})
		if _, _, ok := relay.recv(2 * time.Second); !ok {
			t.Fatal("no OFFER")
		}
	}
	for i := range n {
		mac := [6]byte{2, 0, 0, 0, 2, byte(i)}
		relay.send(clientMsg{typ: dhcpv4.Request, xid: uint32(100 + i), mac: mac, reqIP: netip.AddrFrom4([4]byte{127, 0, 0, byte(100 + i)})})
	}
	waitFor(t, "requests in flight", func() bool { return s.inflight.Load() == int64(n) })
}

// A commit worker takes every decision queued when it wakes into one store
// commit: 24 REQUESTs arriving while the 8 workers are busy cost fewer
// than 24 commits, and every one is ACKed after its record is durable.
// (One goroutine per in-flight decision, as before, made 24 commits.)
func TestBatchWorkerCommitsQueuedTogether(t *testing.T) {
	st := &memStore{hold: make(chan struct{})}
	s, relay, _ := startServer(t, newScriptEngine(), st, func(o *Options) { o.MaxInFlight = 64 })
	const n = 24
	requestsQueued(t, s, relay, n)
	close(st.hold)
	for range n {
		if m, _, ok := relay.recv(2 * time.Second); !ok || m.Type() != dhcpv4.Ack {
			t.Fatal("queued REQUEST not ACKed")
		}
	}
	st.mu.Lock()
	commits, recs := st.commits, len(st.recs)
	st.mu.Unlock()
	if recs != n {
		t.Errorf("%d records durable, want %d", recs, n)
	}
	if commits >= n {
		t.Errorf("%d store commits for %d REQUESTs, want fewer (queued decisions share a commit)", commits, n)
	}
	t.Logf("%d store commits for %d REQUESTs", commits, n)
	if got := s.inflight.Load(); got != 0 {
		t.Errorf("in flight after all ACKs: %d", got)
	}
}

// A failed batch commit reverts every decision in it and answers none
// (durable before reply), each counted as a commit drop.
func TestBatchWorkerFailedCommitRevertsAll(t *testing.T) {
	st := &memStore{hold: make(chan struct{})}
	eng := newScriptEngine()
	s, relay, _ := startServer(t, eng, st, func(o *Options) { o.MaxInFlight = 64 })
	const n = 24
	requestsQueued(t, s, relay, n)
	st.fail.Store(true)
	close(st.hold)
	waitFor(t, "commit drops", func() bool {
		return counter(t, s.Registry(), "leased_packets_dropped_total", dropCommit) == n
	})
	if r := eng.revertCount(); r != n {
		t.Errorf("reverted %d decisions, want %d", r, n)
	}
	if m, _, ok := relay.recv(200 * time.Millisecond); ok {
		t.Errorf("a reply after a failed commit: %v", m.Type())
	}
	if len(st.committed()) != 0 {
		t.Errorf("records durable after a failed commit: %d", len(st.committed()))
	}
}
