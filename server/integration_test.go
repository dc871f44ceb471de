package server

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/leased/leased/dhcpv4"
	"github.com/leased/leased/lease"
	"github.com/leased/leased/store/wal"
)

func loopConfig() lease.Config {
	return lease.Config{
		LeaseTime: time.Hour,
		OfferHold: 10 * time.Second,
		Pools: []lease.Pool{{
			Name:          "loop",
			Subnet:        netip.MustParsePrefix("127.0.0.0/24"),
			Gateway:       netip.MustParseAddr("127.0.0.1"),
			DNS:           []netip.Addr{netip.MustParseAddr("127.0.0.53")},
			DomainName:    "example.test",
			DomainSearch:  []string{"example.test"},
			Authoritative: true,
			Sections: []lease.Section{{
				Index: 0, Start: netip.MustParseAddr("127.0.0.100"), End: netip.MustParseAddr("127.0.0.250"),
			}},
		}},
	}
}

// runReal starts a Server with the real engine and a real WAL in dir.
func runReal(t testing.TB, dir string, restore bool) (*Server, *lease.Engine, *wal.WAL, *testRelay, func()) {
	t.Helper()
	return runRealConfig(t, dir, loopConfig())
}

// runRealConfig is runReal with the engine configuration cfg.
func runRealConfig(t testing.TB, dir string, cfg lease.Config) (*Server, *lease.Engine, *wal.WAL, *testRelay, func()) {
	t.Helper()
	eng, err := lease.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	w, err := wal.Open(dir, wal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Load(func(l lease.Lease) error { eng.Restore(l); return nil }); err != nil {
		t.Fatal(err)
	}
	relayPort := freeUDPPort(t)
	s, err := New(Options{
		Interfaces: []string{"lo"}, Port: freeUDPPort(t), RelayPort: relayPort,
		Engine: eng, Store: w, Logger: testLogger(t), Registry: prometheus.NewRegistry(),
	})
	if err != nil {
		t.Fatal(err)
	}
	relay := newTestRelay(t, "127.0.0.2", relayPort, s.Port())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Run did not stop")
			}
			if err := w.Close(); err != nil {
				t.Errorf("wal close: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return s, eng, w, relay, stop
}

func TestRealEngineAndWAL(t *testing.T) {
	dir := t.TempDir()
	s, eng, _, relay, stop := runReal(t, dir, false)

	relay.send(clientMsg{typ: dhcpv4.Discover, xid: 7, mac: mac1, relay: relay1})
	offer, _, ok := relay.recv(2 * time.Second)
	if !ok || offer.Type() != dhcpv4.Offer {
		t.Fatal("no OFFER from the real engine")
	}
	yi := offer.YIAddr
	if !netip.MustParsePrefix("127.0.0.0/24").Contains(yi) {
		t.Fatalf("offered %v", yi)
	}
	if v, _ := offer.Option(dhcpv4.OptDomainSearch); len(v) == 0 {
		t.Error("no option 119")
	}
	relay.send(clientMsg{typ: dhcpv4.Request, xid: 8, mac: mac1, reqIP: yi, serverID: netip.MustParseAddr("127.0.0.1"), relay: relay1})
	ack, _, ok := relay.recv(2 * time.Second)
	if !ok || ack.Type() != dhcpv4.Ack || ack.YIAddr != yi {
		t.Fatalf("no ACK for %v", yi)
	}
	if ls := eng.Leases(lease.Filter{}); len(ls) != 1 || ls[0].Addr != yi || ls[0].State != lease.StateBound {
		t.Fatalf("engine leases %+v", ls)
	}
	// Operator delete through the control API's Backend: durable, then gone.
	other := netip.MustParseAddr("127.0.0.249")
	if err := s.DeleteLease(context.Background(), other); !errors.Is(err, lease.ErrNotFound) {
		t.Errorf("delete of an unknown lease: %v, want ErrNotFound", err)
	}
	relay.send(clientMsg{typ: dhcpv4.Discover, xid: 9, mac: [6]byte{2, 9, 9, 9, 9, 9}})
	offer2, _, ok := relay.recv(2 * time.Second)
	if !ok {
		t.Fatal("no second OFFER")
	}
	relay.send(clientMsg{typ: dhcpv4.Request, xid: 10, mac: [6]byte{2, 9, 9, 9, 9, 9}, reqIP: offer2.YIAddr, serverID: netip.MustParseAddr("127.0.0.1")})
	if m, _, ok := relay.recv(2 * time.Second); !ok || m.Type() != dhcpv4.Ack {
		t.Fatal("no second ACK")
	}
	deleted := offer2.YIAddr
	// The first delete of a valid lease quarantines it until its expiry
	// (issue #10 item 4); deleting the quarantined record removes it.
	for range 2 {
		if err := s.DeleteLease(context.Background(), deleted); err != nil {
			t.Fatalf("DeleteLease: %v", err)
		}
	}
	if h := s.Health(); h.Leases != 1 || h.Status != "ok" {
		t.Errorf("health after delete %+v", h)
	}
	stop()
	if h := s.Health(); h.Status != "failing" || len(h.Reasons) != 1 || h.Reasons[0].Code != "draining" {
		t.Errorf("health after stop %+v", h)
	}

	// The ACKed lease is on disk: a new WAL recovers it.
	w2, err := wal.Open(dir, wal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Close()
	var got []lease.Lease
	if err := w2.Load(func(l lease.Lease) error { got = append(got, l); return nil }); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, l := range got {
		if l.Addr == yi && l.State == lease.StateBound && l.XID == 8 {
			found = true
		}
	}
	if !found {
		t.Fatalf("recovered %+v, want a bound record for %v", got, yi)
	}
	for _, l := range got {
		if l.Addr == deleted {
			t.Errorf("deleted lease %v recovered: %+v", deleted, l)
		}
	}
}

// BenchmarkRelayDORA measures complete relayed DORA exchanges per second
// through the real engine and the WAL with fsync, with 64 clients in
// flight from one relay socket.
func BenchmarkRelayDORA(b *testing.B) {
	_, _, _, relay, stop := runReal(b, b.TempDir(), false)
	defer stop()
	const window = 64
	srv := relay.server
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	wg.Add(1)
	acks := 0
	go func() { // receiver: answers OFFERs with REQUESTs, counts ACKs
		defer wg.Done()
		buf := make([]byte, 2048)
		var m dhcpv4.Message
		for acks < b.N {
			_ = relay.conn.SetReadDeadline(time.Now().Add(3 * time.Second))
			n, err := relay.conn.Read(buf)
			if err != nil {
				return
			}
			if m.Decode(buf[:n]) != nil {
				continue
			}
			switch m.Type() {
			case dhcpv4.Offer:
				var mac [6]byte
				copy(mac[:], m.HWAddr())
				pkt := buildMsg(b, clientMsg{typ: dhcpv4.Request, xid: m.XID, mac: mac, giaddr: relay.addr, reqIP: m.YIAddr, serverID: netip.MustParseAddr("127.0.0.1")})
				_, _ = relay.conn.WriteToUDPAddrPort(pkt, srv)
			case dhcpv4.Ack:
				acks++
			}
		}
	}()
	sent := 0
	for sent < b.N {
		// Keep about `window` exchanges outstanding; the pool has 151
		// addresses, so clients are reused (a renewing client).
		for sent < b.N && sent-acks < window {
			mac := [6]byte{2, 0, 0, 0, 0, byte(sent % 140)}
			pkt := buildMsg(b, clientMsg{typ: dhcpv4.Discover, xid: uint32(sent), mac: mac, giaddr: relay.addr})
			_, _ = relay.conn.WriteToUDPAddrPort(pkt, srv)
			sent++
		}
		time.Sleep(100 * time.Microsecond)
		if time.Since(start) > 60*time.Second {
			break
		}
	}
	wg.Wait()
	el := time.Since(start)
	b.ReportMetric(float64(acks)/el.Seconds(), "DORA/s")
	if acks < b.N {
		b.Logf("only %d of %d exchanges completed (drops under load)", acks, b.N)
	}
}
