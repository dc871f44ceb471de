package server

import (
	"net/netip"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/leased/leased/dhcpv4"
	"github.com/leased/leased/lease"
)

// The server's part of the receive path of a DISCOVER (parse ancillary data, decode, fill the
// request, engine decision, encode, send to the relay) measured with the
// real engine, outside the socket read.
func TestHandleDiscoverAllocs(t *testing.T) {
	eng, err := lease.New(loopConfig())
	if err != nil {
		t.Fatal(err)
	}
	relayPort := freeUDPPort(t)
	s, err := New(Options{Interfaces: []string{"lo"}, Port: freeUDPPort(t), RelayPort: relayPort,
		Engine: eng, Store: &memStore{}, Registry: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.conn.Close()
	newTestRelay(t, "127.0.0.2", relayPort, s.Port()) // receives the OFFERs
	s.l4.jobs = make(chan job4, 1)
	sd := newSender()
	p := s.l4.get()
	pkt := buildMsg(t, clientMsg{typ: dhcpv4.Discover, xid: 1, mac: mac1, giaddr: netip.MustParseAddr("127.0.0.2"), relay: relay1})
	p.n = copy(p.buf[:], pkt)
	lo := s.ifaces[0]
	oob := putPktInfo(make([]byte, oobSize), lo.index, netip.MustParseAddr("127.0.0.1"))
	// putPktInfo leaves ipi_addr zero; set the header destination.
	copy(oob[len(oob)-4:], []byte{127, 0, 0, 1})
	now := time.Now()
	s.now = func() time.Time { return now }
	n := testing.AllocsPerRun(200, func() {
		p.n = copy(p.buf[:], pkt)
		if s.handle(sd, p, oob) {
			t.Fatal("a DISCOVER needed a commit")
		}
	})
	// The engine's own share, for the same request.
	var m dhcpv4.Message
	if err := m.Decode(pkt); err != nil {
		t.Fatal(err)
	}
	var req lease.Request
	fillRequest(&req, &m, lo, pktInfo{IfIndex: lo.index, Dst: netip.MustParseAddr("127.0.0.1")}, s.isOurs)
	engineOnly := testing.AllocsPerRun(200, func() { _ = eng.Handle(now, &req) })
	t.Logf("allocations per DISCOVER handled: %v, of which the engine's: %v", n, engineOnly)
	if got := counter(t, s.Registry(), "leased_replies_sent_total", "OFFER"); got < 200 {
		t.Fatalf("only %v OFFERs sent", got)
	}
	if n > engineOnly {
		t.Fatalf("the server adds %v allocations per DISCOVER, want 0", n-engineOnly)
	}
}
