package server

import (
	"bytes"
	"context"
	"log/slog"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/leased/leased/dhcpv4"
)

func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// startServer runs a Server on loopback with eng and st; it returns the
// server, a relay on 127.0.0.2, and a stop function that cancels Run and
// waits for it (also registered as cleanup).
func startServer(t *testing.T, eng Engine, st *memStore, mod func(*Options)) (*Server, *testRelay, func() error) {
	t.Helper()
	relayPort := freeUDPPort(t)
	opts := Options{
		Interfaces: []string{"lo"},
		Port:       freeUDPPort(t),
		RelayPort:  relayPort,
		Engine:     eng,
		Store:      st,
		Logger:     testLogger(t),
		Registry:   prometheus.NewRegistry(),
	}
	if mod != nil {
		mod(&opts)
	}
	s, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	relay := newTestRelay(t, "127.0.0.2", relayPort, s.Port())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	var stopped bool
	stop := func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(10 * time.Second):
			t.Fatal("Run did not return within 10s of cancel")
			return nil
		}
	}
	t.Cleanup(func() { _ = stop() })
	return s, relay, stop
}

// counter returns the value of a counter (or gauge) with the given label
// value, or of the unlabelled metric when label is "".
func counter(t *testing.T, reg *prometheus.Registry, name, label string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			match := label == ""
			for _, lp := range m.GetLabel() {
				if lp.GetValue() == label {
					match = true
				}
			}
			if !match {
				continue
			}
			if c := m.GetCounter(); c != nil {
				return c.GetValue()
			}
			if g := m.GetGauge(); g != nil {
				return g.GetValue()
			}
		}
	}
	return 0
}

// waitFor polls cond for up to 5s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

var (
	mac1   = [6]byte{0x02, 0, 0, 0, 0, 0x01}
	relay1 = []byte{1, 4, 'p', 'o', 'r', 't', 2, 2, 'r', 'x'} // circuit-id "port", remote-id "rx"
)

func TestRelayDORA(t *testing.T) {
	st := &memStore{}
	eng := newScriptEngine()
	s, relay, _ := startServer(t, eng, st, nil)

	relay.send(clientMsg{typ: dhcpv4.Discover, xid: 0x1234, mac: mac1, relay: relay1})
	offer, from, ok := relay.recv(2 * time.Second)
	if !ok {
		t.Fatal("no OFFER")
	}
	if from != netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(s.Port())) {
		t.Errorf("OFFER from %v, want 127.0.0.1:%d", from, s.Port())
	}
	if offer.Type() != dhcpv4.Offer || offer.Op != dhcpv4.BootReply || offer.XID != 0x1234 {
		t.Fatalf("got type %v op %v xid %#x", offer.Type(), offer.Op, offer.XID)
	}
	yi := netip.MustParseAddr("127.0.0.100")
	if offer.YIAddr != yi || offer.GIAddr != relay.addr || !bytes.Equal(offer.HWAddr(), mac1[:]) {
		t.Errorf("yiaddr %v giaddr %v chaddr %x", offer.YIAddr, offer.GIAddr, offer.HWAddr())
	}
	if sid, _ := offer.ServerID(); sid != netip.MustParseAddr("127.0.0.1") {
		t.Errorf("server id %v", sid)
	}
	if lt, _ := offer.LeaseTime(); lt != 3600 {
		t.Errorf("lease time %d", lt)
	}
	if v, _ := offer.Option(dhcpv4.OptSubnetMask); !bytes.Equal(v, []byte{255, 255, 255, 0}) {
		t.Errorf("mask %v", v)
	}
	if v, _ := offer.Option(dhcpv4.OptBroadcastAddr); !bytes.Equal(v, []byte{127, 0, 0, 255}) {
		t.Errorf("broadcast %v", v)
	}
	if v := offer.RelayAgentInfo(); !bytes.Equal(v, relay1) {
		t.Errorf("option 82 %x, want %x", v, relay1)
	}
	var last dhcpv4.OptionCode
	for c := range offer.Options() {
		last = c
	}
	if last != dhcpv4.OptRelayAgentInfo {
		t.Errorf("last option %d, want 82 (RFC 3046 §2.2)", last)
	}
	if len(st.committed()) != 0 {
		t.Errorf("OFFER persisted %d records", len(st.committed()))
	}

	relay.send(clientMsg{typ: dhcpv4.Request, xid: 0x1235, mac: mac1, reqIP: yi, serverID: netip.MustParseAddr("127.0.0.1"), relay: relay1})
	ack, _, ok := relay.recv(2 * time.Second)
	if !ok {
		t.Fatal("no ACK")
	}
	if ack.Type() != dhcpv4.Ack || ack.YIAddr != yi || ack.XID != 0x1235 {
		t.Fatalf("got %v yiaddr %v xid %#x", ack.Type(), ack.YIAddr, ack.XID)
	}
	recs := st.committed()
	if len(recs) != 1 || recs[0].Addr != yi {
		t.Fatalf("committed %+v, want one record for %v", recs, yi)
	}
	// What the engine saw: relayed, unicast to us, server id ours.
	eng.mu.Lock()
	req := eng.reqs[1]
	eng.mu.Unlock()
	if !req.Unicast || !req.ServerIDOurs || req.ServerAddr != netip.MustParseAddr("127.0.0.1") ||
		req.LinkAddr != netip.MustParseAddr("127.0.0.1") || req.GIAddr != relay.addr {
		t.Errorf("request as filled: %+v", req)
	}
	reg := s.Registry()
	// Counted just after the send returns: the ACK can arrive first.
	waitFor(t, "ACK sent counter", func() bool {
		return counter(t, reg, "leased_replies_sent_total", "ACK") == 1
	})
	if v := counter(t, reg, "leased_packets_received_total", "DISCOVER"); v != 1 {
		t.Errorf("DISCOVER received counter %v", v)
	}
	if v := counter(t, reg, "leased_pool_size", "test"); v != 100 {
		t.Errorf("pool size gauge %v", v)
	}

	// A REQUEST for an address we did not offer: NAK via the relay with
	// the broadcast bit set (RFC 2131 §4.3.2) and only 53, 54, 56, 82 and
	// the client's 61 echoed (RFC 6842 §3).
	relay.send(clientMsg{typ: dhcpv4.Request, xid: 0x1236, mac: [6]byte{2, 0, 0, 0, 0, 9}, reqIP: yi, relay: relay1})
	nak, _, ok := relay.recv(2 * time.Second)
	if !ok {
		t.Fatal("no NAK")
	}
	if nak.Type() != dhcpv4.Nak || nak.Flags&dhcpv4.FlagBroadcast == 0 || nak.YIAddr != netip.IPv4Unspecified() {
		t.Errorf("NAK type %v flags %#x yiaddr %v", nak.Type(), nak.Flags, nak.YIAddr)
	}
	for c := range nak.Options() {
		switch c {
		case dhcpv4.OptMessageType, dhcpv4.OptServerID, dhcpv4.OptMessage, dhcpv4.OptRelayAgentInfo, dhcpv4.OptClientID:
		default:
			t.Errorf("NAK carries option %d", c)
		}
	}
}

func TestCommitFailureSendsNothing(t *testing.T) {
	st := &memStore{}
	eng := newScriptEngine()
	s, relay, _ := startServer(t, eng, st, nil)
	relay.send(clientMsg{typ: dhcpv4.Discover, xid: 1, mac: mac1})
	if _, _, ok := relay.recv(2 * time.Second); !ok {
		t.Fatal("no OFFER")
	}
	st.fail.Store(true)
	relay.send(clientMsg{typ: dhcpv4.Request, xid: 2, mac: mac1, reqIP: netip.MustParseAddr("127.0.0.100")})
	if m, _, ok := relay.recv(500 * time.Millisecond); ok {
		t.Fatalf("got %v although the commit failed", m.Type())
	}
	if n := eng.revertCount(); n != 1 {
		t.Errorf("engine reverted %d decisions, want 1", n)
	}
	if v := counter(t, s.Registry(), "leased_store_commit_failures_total", ""); v != 1 {
		t.Errorf("commit failures counter %v, want 1", v)
	}
	if h := s.Health(); h.CommitErrors != 1 || h.Status != "failing" || h.Pools != 1 {
		t.Errorf("health %+v", h)
	}
	// The disk recovers: the retransmitted REQUEST is ACKed.
	st.fail.Store(false)
	relay.send(clientMsg{typ: dhcpv4.Request, xid: 2, mac: mac1, reqIP: netip.MustParseAddr("127.0.0.100")})
	if m, _, ok := relay.recv(2 * time.Second); !ok || m.Type() != dhcpv4.Ack {
		t.Fatal("no ACK after recovery")
	}
}

func TestShutdownDrainsInFlight(t *testing.T) {
	st := &memStore{hold: make(chan struct{}), entered: make(chan struct{}, 4)}
	eng := newScriptEngine()
	_, relay, stop := startServer(t, eng, st, nil)
	relay.send(clientMsg{typ: dhcpv4.Discover, xid: 1, mac: mac1})
	if _, _, ok := relay.recv(2 * time.Second); !ok {
		t.Fatal("no OFFER")
	}
	relay.send(clientMsg{typ: dhcpv4.Request, xid: 2, mac: mac1, reqIP: netip.MustParseAddr("127.0.0.100")})
	select {
	case <-st.entered:
	case <-time.After(2 * time.Second):
		t.Fatal("commit never started")
	}
	stopped := make(chan error, 1)
	go func() { stopped <- stop() }()
	select {
	case <-stopped:
		t.Fatal("Run returned while a commit was in flight")
	case <-time.After(200 * time.Millisecond):
	}
	close(st.hold)
	if err := <-stopped; err != nil {
		t.Fatalf("Run: %v", err)
	}
	m, _, ok := relay.recv(2 * time.Second)
	if !ok || m.Type() != dhcpv4.Ack {
		t.Fatal("the in-flight REQUEST was not ACKed during the drain")
	}
	if len(st.committed()) != 1 {
		t.Fatalf("committed %d records, want 1", len(st.committed()))
	}
}

func TestOverloadDropsAndReverts(t *testing.T) {
	st := &memStore{hold: make(chan struct{}), entered: make(chan struct{}, 16)}
	eng := newScriptEngine()
	s, relay, _ := startServer(t, eng, st, func(o *Options) { o.MaxInFlight = 1 })
	defer func() {
		select {
		case <-st.hold:
		default:
			close(st.hold)
		}
	}()
	const n = 4
	for i := range n {
		mac := [6]byte{2, 0, 0, 0, 1, byte(i)}
		relay.send(clientMsg{typ: dhcpv4.Discover, xid: uint32(i), mac: mac})
		if _, _, ok := relay.recv(2 * time.Second); !ok {
			t.Fatal("no OFFER")
		}
	}
	for i := range n {
		mac := [6]byte{2, 0, 0, 0, 1, byte(i)}
		relay.send(clientMsg{typ: dhcpv4.Request, xid: uint32(100 + i), mac: mac, reqIP: netip.AddrFrom4([4]byte{127, 0, 0, byte(100 + i)})})
	}
	// One commit is running, one request waits in the queue; the other
	// two are dropped as overload and their decisions reverted.
	waitFor(t, "overload drops", func() bool {
		return counter(t, s.Registry(), "leased_packets_dropped_total", dropOverload) == n-2
	})
	if r := eng.revertCount(); r != n-2 {
		t.Errorf("reverted %d, want %d", r, n-2)
	}
	close(st.hold)
	for range 2 {
		if m, _, ok := relay.recv(2 * time.Second); !ok || m.Type() != dhcpv4.Ack {
			t.Fatal("queued REQUEST not ACKed")
		}
	}
}

func TestDropReasons(t *testing.T) {
	st := &memStore{}
	s, relay, _ := startServer(t, newScriptEngine(), st, nil)
	send := func(b []byte) {
		if _, err := relay.conn.WriteToUDPAddrPort(b, relay.server); err != nil {
			t.Fatal(err)
		}
	}
	send([]byte("not dhcp"))
	send(buildMsg(t, clientMsg{typ: dhcpv4.Offer, op: dhcpv4.BootReply, mac: mac1}))
	send(buildMsg(t, clientMsg{typ: dhcpv4.Ack, mac: mac1}))
	// BOOTP: a valid message without option 53.
	b := buildMsg(t, clientMsg{typ: dhcpv4.Discover, mac: mac1})
	b[240], b[241], b[242] = byte(dhcpv4.OptPad), byte(dhcpv4.OptPad), byte(dhcpv4.OptPad)
	send(b)
	reg := s.Registry()
	for _, reason := range []string{dropDecode, dropNotRequest, dropBadType, dropBOOTP} {
		waitFor(t, "drop "+reason, func() bool {
			return counter(t, reg, "leased_packets_dropped_total", reason) == 1
		})
	}
	if _, _, ok := relay.recv(100 * time.Millisecond); ok {
		t.Fatal("a dropped packet was answered")
	}
}

func TestNewErrors(t *testing.T) {
	st := &memStore{}
	if _, err := New(Options{Interfaces: []string{"lo"}, Store: st}); err == nil {
		t.Error("New without engine succeeded")
	}
	if _, err := New(Options{Engine: newScriptEngine(), Store: st}); err == nil {
		t.Error("New without interfaces succeeded")
	}
	if _, err := New(Options{Interfaces: []string{"nonexistent0"}, Engine: newScriptEngine(), Store: st}); err == nil {
		t.Error("New with a missing interface succeeded")
	}
}
