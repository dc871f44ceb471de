package server

import (
	"context"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

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
