package server

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/leased/leased/dhcpv4"
	"github.com/leased/leased/lease"
	"github.com/leased/leased/lease6"
)

// dora runs DISCOVER/REQUEST for mac through relay and returns the address.
func dora(t *testing.T, relay *testRelay, mac [6]byte, xid uint32) (netip.Addr, *dhcpv4.Message) {
	t.Helper()
	relay.send(clientMsg{typ: dhcpv4.Discover, xid: xid, mac: mac})
	offer, _, ok := relay.recv(2 * time.Second)
	if !ok || offer.Type() != dhcpv4.Offer {
		t.Fatal("no OFFER")
	}
	relay.send(clientMsg{typ: dhcpv4.Request, xid: xid + 1, mac: mac, reqIP: offer.YIAddr, serverID: netip.MustParseAddr("127.0.0.1")})
	ack, _, ok := relay.recv(2 * time.Second)
	if !ok || ack.Type() != dhcpv4.Ack {
		t.Fatal("no ACK")
	}
	return ack.YIAddr, offer
}

func TestExpiryLoopCommitsExpiredLeases(t *testing.T) {
	var clock atomic.Int64
	clock.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()) }
	eng, err := lease.New(loopConfig())
	if err != nil {
		t.Fatal(err)
	}
	st := &memStore{}
	_, relay, _ := startServer(t, eng, st, func(o *Options) {
		o.Now = now
		o.ExpireInterval = 10 * time.Millisecond
	})
	addr, _ := dora(t, relay, mac1, 1)
	clock.Add(int64(2 * time.Hour)) // past the 1h lease
	waitFor(t, "expired record committed", func() bool {
		for _, r := range st.committed() {
			if r.Addr == addr && r.State == lease.StateExpired {
				return true
			}
		}
		return false
	})
}

func TestCompactionEveryN(t *testing.T) {
	eng, err := lease.New(loopConfig())
	if err != nil {
		t.Fatal(err)
	}
	st := &memStore{}
	s, relay, _ := startServer(t, eng, st, func(o *Options) { o.CompactEvery = 2 })
	dora(t, relay, [6]byte{2, 0, 0, 0, 0, 1}, 1)
	if st.compacts.Load() != 0 {
		t.Fatal("compacted after one record")
	}
	dora(t, relay, [6]byte{2, 0, 0, 0, 0, 2}, 3)
	waitFor(t, "compaction", func() bool {
		return st.compacts.Load() == 1 && counter(t, s.Registry(), "leased_store_compactions_total", "ok") == 1
	})
}

func TestReloadRebuildsPoolOptions(t *testing.T) {
	cfg := loopConfig()
	eng, err := lease.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s, relay, _ := startServer(t, eng, &memStore{}, nil)
	_, offer := dora(t, relay, mac1, 1)
	if v, _ := offer.Option(dhcpv4.OptDNS); !bytes.Equal(v, []byte{127, 0, 0, 53}) {
		t.Fatalf("DNS before reload %v", v)
	}
	cfg.Pools[0].DNS = []netip.Addr{netip.MustParseAddr("127.0.0.54")}
	cfg.Pools[0].MTU = 1400
	if err := s.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	_, offer = dora(t, relay, mac1, 10)
	if v, _ := offer.Option(dhcpv4.OptDNS); !bytes.Equal(v, []byte{127, 0, 0, 54}) {
		t.Errorf("DNS after reload %v", v)
	}
	if !offer.Has(dhcpv4.OptInterfaceMTU) {
		t.Error("no MTU after reload")
	}
}

// TestClose: Close releases the sockets of a Server that never ran (the
// ports can be bound again), is idempotent, and a closed Server does not
// Run; while Run serves, Close refuses and Run still stops on its context.
func TestClose(t *testing.T) {
	eng6, err := lease6.New(v6Config())
	if err != nil {
		t.Fatal(err)
	}
	newServer := func() *Server {
		eng, err := lease.New(loopConfig())
		if err != nil {
			t.Fatal(err)
		}
		cfg := v6Config()
		s, err := New(Options{Interfaces: []string{"lo"}, Port: -1, Engine: eng, Store: &memStore{},
			Logger: testLogger(t), Registry: prometheus.NewRegistry(), Readers: 1, MaxInFlight: 1,
			V6: &V6Options{Interfaces: []string{"lo"}, Port: -1, Engine: eng6, Config: &cfg}})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := newServer()
	p4, p6 := s.Port(), s.Port6()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	for _, a := range []string{"127.0.0.1:" + strconv.Itoa(p4), "[::]:" + strconv.Itoa(p6)} {
		c, err := net.ListenPacket("udp", a)
		if err != nil {
			t.Fatalf("port still taken after Close: %v", err)
		}
		c.Close()
	}
	if err := s.Run(context.Background()); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Run after Close: %v, want net.ErrClosed", err)
	}

	s = newServer()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	deadline := time.Now().Add(5 * time.Second)
	for !s.inRun.Load() && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if err := s.Close(); err == nil {
		t.Error("Close while Run serves: no error")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not stop")
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close after Run: %v", err)
	}
}
