package server

import (
	"bytes"
	"net/netip"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/leased/leased/dhcpv4"
	"github.com/leased/leased/dhcpv6"
	"github.com/leased/leased/lease"
	"github.com/leased/leased/lease6"
)

// recorder is a replySink that keeps the replies — a copy of each
// datagram and where it was to go — instead of sending them, as CoreDNS's
// dnstest.Recorder does for DNS: the pipeline is tested without sockets.
type recorder struct {
	done sendResult // the server's sendDone: the metrics count as with the batcher
	got  chan recorded
}

type recorded struct {
	pkt []byte
	outSpec
}

func (r *recorder) send(pkt []byte, o outSpec) {
	if r.done != nil {
		r.done(&outMsg{outSpec: o}, nil)
	}
	r.got <- recorded{pkt: bytes.Clone(pkt), outSpec: o}
}

// next returns the next recorded reply, decoded; a reply that needs a
// commit is recorded by a commit worker, so next waits for it (bounded).
func (r *recorder) next(t *testing.T) (recorded, *dhcpv4.Message) {
	t.Helper()
	x, m := r.take(t), new(dhcpv4.Message)
	if err := m.Decode(x.pkt); err != nil {
		t.Fatalf("recorded reply does not decode: %v", err)
	}
	return x, m
}

// take waits (bounded) for the next recorded reply.
func (r *recorder) take(t *testing.T) recorded {
	t.Helper()
	select {
	case x := <-r.got:
		return x
	case <-time.After(5 * time.Second):
		t.Fatal("no reply recorded")
	}
	panic("unreachable")
}

// none fails if a reply was recorded.
func (r *recorder) none(t *testing.T) {
	t.Helper()
	select {
	case x := <-r.got:
		t.Fatalf("unexpected reply to %v (%d bytes)", x.to, len(x.pkt))
	default:
	}
}

// newRecorded is a Server with the real DHCPv4 engine on lo whose replies
// go to a recorder: no socket is opened, the commit workers run, and the
// test feeds packets with feed.
func newRecorded(t *testing.T, st *memStore) (*Server, *recorder) {
	t.Helper()
	eng, err := lease.New(loopConfig())
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{got: make(chan recorded, 64)}
	s, err := New(Options{Interfaces: []string{"lo"}, Engine: eng, Store: st, Logger: testLogger(t),
		Registry: prometheus.NewRegistry(), MaxInFlight: 4, replies: rec})
	if err != nil {
		t.Fatal(err)
	}
	if s.conn != nil {
		t.Fatal("a DHCPv4 socket was opened")
	}
	rec.done = s.sendDone
	s.l4.startWorkers()
	t.Cleanup(s.l4.drain)
	return s, rec
}

// feed hands one datagram to the pipeline as if it had arrived on lo,
// addressed to dst.
func feed(t *testing.T, s *Server, pkt []byte, dst netip.Addr) {
	t.Helper()
	p := s.l4.get()
	p.n = copy(p.buf[:], pkt)
	oob := putPktInfo(make([]byte, oobSize), s.ifaces[0].index, dst)
	a := dst.As4()
	copy(oob[len(oob)-4:], a[:]) // ipi_addr: the header destination
	if !s.handle(newSender(), p, oob) {
		s.l4.put(p)
	}
}

// TestRecorderDORA drives the DHCPv4 pipeline without sockets: a relayed
// DISCOVER is answered inline with an OFFER to the relay, a REQUEST with
// an ACK only after its record is committed, and a REQUEST whose commit
// fails gets no reply (the drop is counted, the offer reverted).
func TestRecorderDORA(t *testing.T) {
	st := &memStore{}
	s, rec := newRecorded(t, st)
	relay := netip.MustParseAddr("127.0.0.2")
	server := netip.MustParseAddr("127.0.0.1")
	mac := [6]byte{2, 0, 0, 0, 0, 1}

	feed(t, s, buildMsg(t, clientMsg{typ: dhcpv4.Discover, xid: 1, mac: mac, giaddr: relay}), server)
	out, offer := rec.next(t)
	if offer.Type() != dhcpv4.Offer || out.kind != DestRelay || out.to != netip.AddrPortFrom(relay, dhcpv4.ServerPort) {
		t.Fatalf("got %v via %v to %v, want an OFFER to the relay", offer.Type(), out.kind, out.to)
	}
	if len(st.committed()) != 0 {
		t.Fatal("an OFFER was committed")
	}

	feed(t, s, buildMsg(t, clientMsg{typ: dhcpv4.Request, xid: 2, mac: mac, giaddr: relay,
		reqIP: offer.YIAddr, serverID: server}), server)
	_, ack := rec.next(t)
	if ack.Type() != dhcpv4.Ack || ack.YIAddr != offer.YIAddr {
		t.Fatalf("got %v for %v, want the ACK for %v", ack.Type(), ack.YIAddr, offer.YIAddr)
	}
	if recs := st.committed(); len(recs) != 1 || recs[0].Addr != offer.YIAddr || recs[0].State != lease.StateBound {
		t.Fatalf("committed %+v, want the bound lease of %v", recs, offer.YIAddr)
	}
	if got := counterValue(s.m.sent[typeIndex(dhcpv4.Ack)]); got != 1 {
		t.Errorf("ACKs counted: %v", got)
	}

	// A failing store: the REQUEST is dropped after its commit fails.
	mac2 := [6]byte{2, 0, 0, 0, 0, 2}
	feed(t, s, buildMsg(t, clientMsg{typ: dhcpv4.Discover, xid: 3, mac: mac2, giaddr: relay}), server)
	_, offer2 := rec.next(t)
	st.fail.Store(true)
	failed := s.m.dropped.WithLabelValues(dropCommit)
	feed(t, s, buildMsg(t, clientMsg{typ: dhcpv4.Request, xid: 4, mac: mac2, giaddr: relay,
		reqIP: offer2.YIAddr, serverID: server}), server)
	waitCounter(t, failed, 1)
	rec.none(t) // the drop is counted after the point where a reply would have been recorded
	if l, ok := s.Lookup(offer2.YIAddr); ok && l.State == lease.StateBound {
		t.Errorf("%v bound although its commit failed", offer2.YIAddr)
	}
}

// newRecorded6 is a DHCPv6-only Server (real lease6 engine) whose
// replies go to a recorder: no socket, the commit workers run, the test
// feeds packets with feed6.
func newRecorded6(t *testing.T, st *memStore) (*Server, *recorder) {
	t.Helper()
	eng6, err := lease6.New(v6Config())
	if err != nil {
		t.Fatal(err)
	}
	cfg := v6Config()
	rec := &recorder{got: make(chan recorded, 64)}
	s, err := New(Options{Store: st, Logger: testLogger(t), Registry: prometheus.NewRegistry(), MaxInFlight: 4,
		V6:       &V6Options{Interfaces: []string{"lo"}, Engine: eng6, Config: &cfg},
		replies6: rec})
	if err != nil {
		t.Fatal(err)
	}
	if s.v6.conn != nil {
		t.Fatal("a DHCPv6 socket was opened")
	}
	rec.done = s.sendDone6
	s.v6.l6.startWorkers()
	t.Cleanup(s.v6.l6.drain)
	return s, rec
}

// feed6 hands one datagram to the DHCPv6 pipeline as if a relay at from
// had sent it to ::1 on lo.
func feed6(t *testing.T, s *Server, pkt []byte, from netip.AddrPort) {
	t.Helper()
	v := s.v6
	p := v.l6.get()
	p.n, p.src = copy(p.buf[:], pkt), from
	oob := putPktInfo6(make([]byte, oobSize6), v.ifaces[0].index, netip.IPv6Loopback())
	if !s.handle6(newSender6(), p, oob) {
		v.l6.put(p)
	}
}

// next6 returns the next recorded reply, the inner message of its
// Relay-reply decoded.
func (r *recorder) next6(t *testing.T) (recorded, *dhcpv6.Message) {
	t.Helper()
	x, m := r.take(t), new(dhcpv6.Message)
	if err := m.Decode(x.pkt); err != nil {
		t.Fatalf("recorded reply does not decode: %v", err)
	}
	return x, m
}

// TestRecorderSolicitRequest drives the DHCPv6 pipeline without sockets:
// a relayed Solicit gets an Advertise (nothing committed) as a
// Relay-reply to the relay, the Request a Reply only after its bindings
// are committed.
func TestRecorderSolicitRequest(t *testing.T) {
	st := &memStore{}
	s, rec := newRecorded6(t, st)
	relay := &relay6{t: t}
	from := netip.MustParseAddrPort("[::1]:5470")
	c := &client6{duid: []byte{0, 3, 0, 1, 2, 0, 0, 0, 0, 7}}

	feed6(t, s, relay.wrap(c.msg(t, dhcpv6.Solicit, 0x10, true)), from)
	out, adv := rec.next6(t)
	if out.kind != via6Relay || out.to.Addr() != from.Addr() {
		t.Fatalf("reply via %v to %v, want via the relay %v", out.kind, out.to, from)
	}
	if len(adv.Relays()) == 0 || adv.Type != dhcpv6.Advertise {
		t.Fatalf("got %v with %d relay layers, want an Advertise in a Relay-reply", adv.Type, len(adv.Relays()))
	}
	if len(st.committed()) != 0 {
		t.Fatal("an Advertise was committed")
	}
	a, _, p, _ := bindings(t, adv)

	c.serverID, c.addr, c.prefix = s.ServerDUID(), a, p
	feed6(t, s, relay.wrap(c.msg(t, dhcpv6.Request, 0x11, true)), from)
	_, rep := rec.next6(t)
	ra, _, rp, _ := bindings(t, rep)
	if rep.Type != dhcpv6.Reply || ra != a || rp != p {
		t.Fatalf("got %v %v %v, want the Reply for %v %v", rep.Type, ra, rp, a, p)
	}
	if recs := st.committed(); len(recs) != 2 {
		t.Fatalf("committed %d records, want the address and the prefix", len(recs))
	}
}
