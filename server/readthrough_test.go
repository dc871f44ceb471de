package server

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sys/unix"

	"github.com/leased/leased/dhcpv4"
	"github.com/leased/leased/dhcpv6"
	"github.com/leased/leased/internal/pgtest"
	"github.com/leased/leased/lease"
	"github.com/leased/leased/lease6"
	"github.com/leased/leased/store/postgres"
)

// The cluster packet path against real PostgreSQL (internal/pgtest): two
// Servers in cluster mode on one database, each with its own engine,
// fed packets without sockets (recorder_test.go). Run is not called: no
// heartbeat or claim manager runs; each member claims one block itself
// (ClaimBlock + SetClaims, what the claim manager does), and the tests
// that need the RFC 3074 filter set the live set themselves.

// pathMember is one server of a test cluster.
type pathMember struct {
	name string
	s    *Server
	st   *postgres.Store
	eng  *lease.Engine
	eng6 *lease6.Engine
	rec  *recorder
}

var (
	pathServer = netip.MustParseAddr("127.0.0.1") // lo: every member's server identifier
	pathRelay  = netip.MustParseAddr("127.0.0.2")
)

func openCluster(t *testing.T, dsn, name string) *postgres.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	st, err := postgres.Open(ctx, dsn, postgres.Options{ServerName: name, Cluster: true,
		CommitTimeout: 5 * time.Second, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// newPathMember4 is a DHCPv4 server in cluster mode on dsn holding one
// claimed block of 16 addresses.
func newPathMember4(t *testing.T, dsn, name string, answerAfter uint16) *pathMember {
	t.Helper()
	st := openCluster(t, dsn, name)
	cfg := loopConfig()
	eng, err := lease.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{got: make(chan recorded, 256)}
	s, err := New(Options{Interfaces: []string{"lo"}, Engine: eng, Store: st, Config: &cfg,
		Logger: testLogger(t).With("server", name), Registry: prometheus.NewRegistry(), MaxInFlight: 16, replies: rec,
		Cluster: &ClusterOptions{Store: st, AnswerAfterSecs: answerAfter}})
	if err != nil {
		t.Fatal(err)
	}
	rec.done = s.sendDone
	s.l4.startWorkers()
	t.Cleanup(s.l4.drain)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := st.ClaimBlock(ctx, postgres.ClaimPool{Name: "loop", Ranges: []postgres.Range{
		{First: netip.MustParseAddr("127.0.0.100"), Last: netip.MustParseAddr("127.0.0.250")}}}, 16, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	eng.SetClaims("loop", []lease.Range{{First: c.First, Last: c.Last}})
	return &pathMember{name: name, s: s, st: st, eng: eng, rec: rec}
}

// dora binds mac through m (relayed) and returns the ACKed address.
func (m *pathMember) dora(t *testing.T, mac [6]byte, xid uint32, want netip.Addr) netip.Addr {
	t.Helper()
	feed(t, m.s, buildMsg(t, clientMsg{typ: dhcpv4.Discover, xid: xid, mac: mac, giaddr: pathRelay, reqIP: want}), pathServer)
	_, offer := m.rec.next(t)
	if offer.Type() != dhcpv4.Offer {
		t.Fatalf("%s: DISCOVER got %v", m.name, offer.Type())
	}
	feed(t, m.s, buildMsg(t, clientMsg{typ: dhcpv4.Request, xid: xid + 1, mac: mac, giaddr: pathRelay,
		reqIP: offer.YIAddr, serverID: pathServer}), pathServer)
	_, ack := m.rec.next(t)
	if ack.Type() != dhcpv4.Ack || ack.YIAddr != offer.YIAddr {
		t.Fatalf("%s: REQUEST got %v %v, want ACK %v", m.name, ack.Type(), ack.YIAddr, offer.YIAddr)
	}
	return ack.YIAddr
}

// row reads addr's row from the database.
func row(t *testing.T, st *postgres.Store, addr netip.Addr) lease.Lease {
	t.Helper()
	l, ok, err := st.LookupLease(context.Background(), addr)
	if err != nil || !ok {
		t.Fatalf("row %v: %v %v", addr, ok, err)
	}
	return l
}

func clientKey4(mac [6]byte) []byte { return append([]byte{1}, mac[:]...) }

// feedUnicast is feed for a datagram a client unicast to dst: its
// IP_PKTINFO carries dst as the header destination (ipi_addr), so the
// request is Unicast (feed's control message leaves ipi_addr unset).
func feedUnicast(t *testing.T, s *Server, pkt []byte, dst netip.Addr) {
	t.Helper()
	p := s.l4.get()
	p.n = copy(p.buf[:], pkt)
	oob := putPktInfo(make([]byte, oobSize), s.ifaces[0].index, dst)
	a := dst.As4()
	copy(oob[cmsgAlignUp(unix.SizeofCmsghdr)+8:], a[:]) // struct in_pktinfo: ifindex, spec_dst, addr
	if pi, ok := parsePktInfo(oob); !ok || pi.Dst != dst {
		t.Fatalf("control message: %+v", pi)
	}
	if !s.handle(newSender(), p, oob) {
		s.l4.put(p)
	}
}

// storeTrouble fails the test if health reports a store problem (a
// rejected write is the database working, not a failure).
func storeTrouble(t *testing.T, s *Server) {
	t.Helper()
	for _, r := range s.Health().Reasons {
		if strings.HasPrefix(r.Code, "store_") {
			t.Errorf("health: %s %s", r.Code, r.Message)
		}
	}
}

// TestClusterPath4 (DHCPv4, two servers on one PostgreSQL):
//   - a client bound on A renews on B, which never saw it: ACK, same address;
//   - a client of A INIT-REBOOTs on B: ACK;
//   - a client whose lease A freed and gave to another client renews on B,
//     whose cache still has it bound: the conditional write is refused,
//     B NAKs and its cache then holds the database's row;
//   - with both servers hearing the same DISCOVERs exactly one answers each
//     (RFC 3074 buckets), and secs ≥ AnswerAfterSecs makes both answer.
func TestClusterPath4(t *testing.T) {
	pg := pgtest.New(t)
	t.Run("renew_and_init_reboot_elsewhere", func(t *testing.T) {
		dsn := pg.CreateDB(t)
		a, b := newPathMember4(t, dsn, "a", 0), newPathMember4(t, dsn, "b", 0)
		mac1, mac2 := [6]byte{2, 0, 0, 0, 1, 1}, [6]byte{2, 0, 0, 0, 1, 2}
		addr1 := a.dora(t, mac1, 0x100, netip.Addr{})
		addr2 := a.dora(t, mac2, 0x200, netip.Addr{})
		if _, ok := b.eng.Lookup(addr1); ok {
			t.Fatal("B already knows A's lease")
		}
		start := time.Now()
		// RENEWING: unicast to B (ciaddr, no relay).
		feedUnicast(t, b.s, buildMsg(t, clientMsg{typ: dhcpv4.Request, xid: 0x101, mac: mac1, ciaddr: addr1}), pathServer)
		_, ack := b.rec.next(t)
		t.Logf("renewal of another server's client through B (read-through + conditional commit): %v", time.Since(start))
		if ack.Type() != dhcpv4.Ack || ack.YIAddr != addr1 {
			t.Fatalf("renew on B: %v %v, want ACK %v", ack.Type(), ack.YIAddr, addr1)
		}
		if l := row(t, b.st, addr1); string(l.ClientID) != string(clientKey4(mac1)) || l.State != lease.StateBound {
			t.Fatalf("row after the renewal on B: %+v", l)
		}
		// INIT-REBOOT: relayed broadcast, option 50, no ciaddr.
		feed(t, b.s, buildMsg(t, clientMsg{typ: dhcpv4.Request, xid: 0x201, mac: mac2, giaddr: pathRelay, reqIP: addr2}), pathServer)
		_, ack = b.rec.next(t)
		if ack.Type() != dhcpv4.Ack || ack.YIAddr != addr2 {
			t.Fatalf("INIT-REBOOT on B: %v %v, want ACK %v", ack.Type(), ack.YIAddr, addr2)
		}
		if got := counterValue(b.s.cpath.reads.WithLabelValues("dhcpv4", "ok")); got != 2 {
			t.Errorf("B read through %v times, want 2", got)
		}
		// A returning client of A DISCOVERs on B asking for its address
		// (option 50): B reads it and gives it back, outside B's blocks.
		mac5 := [6]byte{2, 0, 0, 0, 1, 5}
		addr5 := a.dora(t, mac5, 0x500, netip.Addr{})
		if got := b.dora(t, mac5, 0x510, addr5); got != addr5 {
			t.Errorf("returning client got %v on B, want its %v", got, addr5)
		}
		if l := row(t, b.st, addr5); string(l.ClientID) != string(clientKey4(mac5)) || l.State != lease.StateBound {
			t.Errorf("row of %v: %+v", addr5, l)
		}
		storeTrouble(t, b.s)
	})

	t.Run("stale_cache_nak", func(t *testing.T) {
		dsn := pg.CreateDB(t)
		a, b := newPathMember4(t, dsn, "a", 0), newPathMember4(t, dsn, "b", 0)
		mac3, mac4 := [6]byte{2, 0, 0, 0, 3, 3}, [6]byte{2, 0, 0, 0, 4, 4}
		addr3 := a.dora(t, mac3, 0x300, netip.Addr{})
		// B learns the lease (read-through on a renewal).
		feedUnicast(t, b.s, buildMsg(t, clientMsg{typ: dhcpv4.Request, xid: 0x301, mac: mac3, ciaddr: addr3}), pathServer)
		if _, ack := b.rec.next(t); ack.Type() != dhcpv4.Ack {
			t.Fatalf("renew on B: %v", ack.Type())
		}
		// A: the client releases, the operator deletes the lease, A binds
		// the address to another client. B hears none of it.
		feedUnicast(t, a.s, buildMsg(t, clientMsg{typ: dhcpv4.Release, xid: 0x302, mac: mac3, ciaddr: addr3, serverID: pathServer}), pathServer)
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			if l, ok, _ := a.st.LookupLease(context.Background(), addr3); ok && l.State == lease.StateReleased {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the release was not committed within 5 s")
			}
		}
		if err := a.s.DeleteLease(context.Background(), addr3); err != nil {
			t.Fatal(err)
		}
		if got := a.dora(t, mac4, 0x400, addr3); got != addr3 {
			t.Fatalf("A gave the other client %v, not %v", got, addr3)
		}
		if l, _ := b.eng.Lookup(addr3); string(l.ClientID) != string(clientKey4(mac3)) || l.State != lease.StateBound {
			t.Fatalf("test setup: B's cache should still bind %v to the first client: %+v", addr3, l)
		}
		// The first client renews on B: B's cache says yes, the database no.
		reads := counterValue(b.s.cpath.reads.WithLabelValues("dhcpv4", "ok"))
		feedUnicast(t, b.s, buildMsg(t, clientMsg{typ: dhcpv4.Request, xid: 0x303, mac: mac3, ciaddr: addr3}), pathServer)
		_, nak := b.rec.next(t)
		if counterValue(b.s.cpath.reads.WithLabelValues("dhcpv4", "ok")) != reads {
			t.Error("a unicast renewal of a lease in B's cache was read through")
		}
		b.rec.take(t) // the NAK's unicast copy to ciaddr (RFC 2131 §4.3.2)
		if nak.Type() != dhcpv4.Nak {
			t.Fatalf("stale renewal on B got %v, want NAK", nak.Type())
		}
		if l, _ := b.eng.Lookup(addr3); string(l.ClientID) != string(clientKey4(mac4)) {
			t.Errorf("B's cache after the refused write: %v held by %x, want the database's %x", addr3, l.ClientID, clientKey4(mac4))
		}
		if l := row(t, b.st, addr3); string(l.ClientID) != string(clientKey4(mac4)) || l.State != lease.StateBound {
			t.Errorf("row overwritten: %+v", l)
		}
		if got := counterValue(b.s.cpath.rejected.WithLabelValues("dhcpv4", "held_by_another_client")); got != 1 {
			t.Errorf("rejections counted: %v", got)
		}
		if got := counterValue(b.s.m.dropped.WithLabelValues(dropCommit)); got != 0 {
			t.Errorf("a refused write counted as a commit error: %v", got)
		}
		storeTrouble(t, b.s)
		// Its next DISCOVER on B is offered another address.
		feed(t, b.s, buildMsg(t, clientMsg{typ: dhcpv4.Discover, xid: 0x304, mac: mac3, giaddr: pathRelay, reqIP: addr3}), pathServer)
		if _, offer := b.rec.next(t); offer.Type() != dhcpv4.Offer || offer.YIAddr == addr3 {
			t.Errorf("DISCOVER after the NAK: %v %v", offer.Type(), offer.YIAddr)
		}
	})

	t.Run("stale_expiry", func(t *testing.T) {
		// A's expiry batch holds leases B renewed since: the batch is
		// refused as a whole; A adopts the rows of all of them, so the
		// next tick expires A's own leases instead of being refused for
		// the next stale one.
		dsn := pg.CreateDB(t)
		a, b := newPathMember4(t, dsn, "a", 0), newPathMember4(t, dsn, "b", 0)
		var addrs []netip.Addr
		for i := range 10 {
			addrs = append(addrs, a.dora(t, [6]byte{2, 0, 0, 0, 8, byte(i)}, uint32(0x800+16*i), netip.Addr{}))
		}
		// A's clock, when it expires: past its own leases' expiry, before
		// the expiry of B's renewals (which come 50 ms later).
		at := time.Now().Add(time.Hour + 20*time.Millisecond)
		time.Sleep(50 * time.Millisecond)
		for i := range 3 {
			feedUnicast(t, b.s, buildMsg(t, clientMsg{typ: dhcpv4.Request, xid: uint32(0x801 + 16*i), mac: [6]byte{2, 0, 0, 0, 8, byte(i)},
				ciaddr: addrs[i]}), pathServer)
			if _, ack := b.rec.next(t); ack.Type() != dhcpv4.Ack {
				t.Fatalf("renew on B: %v", ack.Type())
			}
		}
		a.s.now = func() time.Time { return at }
		a.s.expireOnce()
		if got := counterValue(a.s.cpath.rejected.WithLabelValues("dhcpv4", "held_elsewhere")); got != 1 {
			t.Fatalf("first expiry tick: %v rejections, want 1 (the batch holds B's renewals)", got)
		}
		a.s.expireOnce()
		for i, addr := range addrs {
			l := row(t, a.st, addr)
			if i < 3 && l.State != lease.StateBound {
				t.Errorf("B's renewal of %v expired by A: %v", addr, l.State)
			}
			if i >= 3 && l.State != lease.StateExpired {
				t.Errorf("A's lease %v not expired at the second tick: %v", addr, l.State)
			}
		}
		if got := counterValue(a.s.cpath.rejected.WithLabelValues("dhcpv4", "held_elsewhere")); got != 1 {
			t.Errorf("%v rejections after the second tick, want still 1", got)
		}
	})

	t.Run("one_answers", func(t *testing.T) {
		dsn := pg.CreateDB(t)
		a, b := newPathMember4(t, dsn, "a", 30), newPathMember4(t, dsn, "b", 30)
		a.s.setLiveServers([]string{"a", "b"})
		b.s.setLiveServers([]string{"b", "a"})
		answered := map[string]int{}
		for i := range 24 {
			mac := [6]byte{2, 0, 0, 0, 9, byte(i)}
			pkt := buildMsg(t, clientMsg{typ: dhcpv4.Discover, xid: uint32(0x900 + i), mac: mac, giaddr: pathRelay})
			na, nb := counterValue(a.s.cpath.notMine4), counterValue(b.s.cpath.notMine4)
			feed(t, a.s, pkt, pathServer)
			feed(t, b.s, pkt, pathServer)
			// The filter runs on the reader: the counters are final here.
			da, db := counterValue(a.s.cpath.notMine4)-na, counterValue(b.s.cpath.notMine4)-nb
			if da+db != 1 {
				t.Fatalf("client %d: filtered by a %v, by b %v; want exactly one", i, da, db)
			}
			owner := a
			if da == 1 {
				owner = b
			}
			if _, offer := owner.rec.next(t); offer.Type() != dhcpv4.Offer {
				t.Fatalf("client %d: owner %s sent %v", i, owner.name, offer.Type())
			}
			answered[owner.name]++
			if want := []string{"a", "b"}[loadbHash(clientKey4(mac))%2]; owner.name != want {
				t.Errorf("client %d answered by %s, its bucket is %s's", i, owner.name, want)
			}
		}
		a.rec.none(t)
		b.rec.none(t)
		if answered["a"] == 0 || answered["b"] == 0 {
			t.Errorf("answers split %v", answered)
		}
		// secs at the threshold: both answer.
		mac := [6]byte{2, 0, 0, 0, 9, 200}
		pkt := buildMsg(t, clientMsg{typ: dhcpv4.Discover, xid: 0x9ff, mac: mac, giaddr: pathRelay})
		pkt[8], pkt[9] = 0, 30 // secs (RFC 2131 §2: bytes 8–9)
		feed(t, a.s, pkt, pathServer)
		feed(t, b.s, pkt, pathServer)
		if _, o := a.rec.next(t); o.Type() != dhcpv4.Offer {
			t.Fatalf("a: %v", o.Type())
		}
		if _, o := b.rec.next(t); o.Type() != dhcpv4.Offer {
			t.Fatalf("b: %v", o.Type())
		}
	})
}

// newPathMember6 is a DHCPv6-only server in cluster mode on dsn holding
// one claimed block of 16 addresses and one of 4 delegated prefixes.
func newPathMember6(t *testing.T, dsn, name string, answerAfter uint16) *pathMember {
	t.Helper()
	st := openCluster(t, dsn, name)
	cfg := v6Config()
	eng6, err := lease6.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{got: make(chan recorded, 256)}
	s, err := New(Options{Store: st, Logger: testLogger(t).With("server", name), Registry: prometheus.NewRegistry(),
		MaxInFlight: 16, V6: &V6Options{Interfaces: []string{"lo"}, Engine: eng6, Config: &cfg}, replies6: rec,
		Cluster: &ClusterOptions{Store: st, AnswerAfterSecs: answerAfter}})
	if err != nil {
		t.Fatal(err)
	}
	rec.done = s.sendDone6
	s.v6.l6.startWorkers()
	t.Cleanup(s.v6.l6.drain)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	na, err := st.ClaimBlock(ctx, postgres.ClaimPool{Name: "office6", Ranges: []postgres.Range{
		{First: netip.MustParseAddr("fd77::1:0"), Last: netip.MustParseAddr("fd77::1:ffff")}}}, 16, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	pd, err := st.ClaimBlock(ctx, postgres.ClaimPool{Name: "office6", PrefixLen: 56, Ranges: []postgres.Range{
		{First: netip.MustParseAddr("fd77:100::"), Last: netip.MustParseAddr("fd77:1ff:ffff:ffff:ffff:ffff:ffff:ffff")}}}, 4, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	eng6.SetClaims("office6", lease6.IANA, []lease.Range{{First: na.First, Last: na.Last}})
	eng6.SetClaims("office6", lease6.IAPD, []lease.Range{{First: pd.First, Last: pd.Last}})
	return &pathMember{name: name, s: s, st: st, eng6: eng6, rec: rec}
}

var pathRelay6 = netip.MustParseAddrPort("[::1]:5470")

// bind6 runs Solicit → Request for c through m and fills c's bindings.
func (m *pathMember) bind6(t *testing.T, c *client6, xid uint32) {
	t.Helper()
	relay := &relay6{t: t}
	c.serverID = nil
	feed6(t, m.s, relay.wrap(c.msg(t, dhcpv6.Solicit, xid, true)), pathRelay6)
	_, adv := m.rec.next6(t)
	if adv.Type != dhcpv6.Advertise {
		t.Fatalf("%s: Solicit got %v", m.name, adv.Type)
	}
	c.serverID = m.s.ServerDUID()
	c.addr, _, c.prefix, _ = bindings(t, adv)
	feed6(t, m.s, relay.wrap(c.msg(t, dhcpv6.Request, xid+1, true)), pathRelay6)
	_, rep := m.rec.next6(t)
	a, av, p, pv := bindings(t, rep)
	if rep.Type != dhcpv6.Reply || a != c.addr || p != c.prefix || av == 0 || pv == 0 {
		t.Fatalf("%s: Request got %v %v %v", m.name, rep.Type, a, p)
	}
}

// iaStatus is the status code of rep's IA_NA (0 without one).
func iaStatus(t *testing.T, rep *dhcpv6.Message) uint16 {
	t.Helper()
	ia, ok := rep.IANA()
	if !ok {
		t.Fatal("no IA_NA in the reply")
	}
	st, _ := ia.Options.StatusCode()
	return st.Code
}

// racyReader is the real database reader with a hook run once after a
// read, before the engine decides: another server's write lands between
// B's read-through and B's commit (the race the conditional write exists
// for), deterministically.
type racyReader struct {
	leaseReader
	once  sync.Once
	after func()
	// last, when set, is the address whose LookupLease is the last read of
	// the read-through: the hook runs after it instead of after
	// LookupClient.
	last netip.Addr
}

func (r *racyReader) LookupClient(ctx context.Context, id []byte) ([]lease.Lease, error) {
	ls, err := r.leaseReader.LookupClient(ctx, id)
	if !r.last.IsValid() {
		r.once.Do(r.after)
	}
	return ls, err
}

func (r *racyReader) LookupLease(ctx context.Context, addr netip.Addr) (lease.Lease, bool, error) {
	l, ok, err := r.leaseReader.LookupLease(ctx, addr)
	if r.last.IsValid() && addr == r.last {
		r.once.Do(r.after)
	}
	return l, ok, err
}

// TestClusterPath6 is TestClusterPath4 for DHCPv6: a client bound on A
// renews and rebinds on B (same DUID, B never saw it) and keeps its
// bindings; one whose address A gave to another client between B's read
// and B's commit gets NoBinding and B adopts the row; with both servers
// hearing the same Solicits exactly one answers each.
func TestClusterPath6(t *testing.T) {
	pg := pgtest.New(t)
	t.Run("renew_rebind_elsewhere", func(t *testing.T) {
		dsn := pg.CreateDB(t)
		a, b := newPathMember6(t, dsn, "a", 0), newPathMember6(t, dsn, "b", 0)
		if string(a.s.ServerDUID()) != string(b.s.ServerDUID()) {
			t.Fatalf("the servers of one database have different DUIDs")
		}
		relay := &relay6{t: t}
		c1 := &client6{duid: []byte{0, 3, 0, 1, 2, 0, 0, 0, 6, 1}}
		c2 := &client6{duid: []byte{0, 3, 0, 1, 2, 0, 0, 0, 6, 2}}
		a.bind6(t, c1, 0x10)
		a.bind6(t, c2, 0x20)
		feed6(t, b.s, relay.wrap(c1.msg(t, dhcpv6.Renew, 0x12, true)), pathRelay6)
		_, rep := b.rec.next6(t)
		if ad, av, p, pv := bindings(t, rep); rep.Type != dhcpv6.Reply || ad != c1.addr || p != c1.prefix || av == 0 || pv == 0 {
			t.Fatalf("Renew on B: %v %v/%d %v/%d, want %v %v", rep.Type, ad, av, p, pv, c1.addr, c1.prefix)
		}
		feed6(t, b.s, relay.wrap(c2.msg(t, dhcpv6.Rebind, 0x22, true)), pathRelay6)
		_, rep = b.rec.next6(t)
		if ad, av, p, pv := bindings(t, rep); rep.Type != dhcpv6.Reply || ad != c2.addr || p != c2.prefix || av == 0 || pv == 0 {
			t.Fatalf("Rebind on B: %v %v/%d %v/%d, want %v %v", rep.Type, ad, av, p, pv, c2.addr, c2.prefix)
		}
		if l := row(t, b.st, c1.addr); string(l.ClientID) != string(c1.duid) || l.State != lease.StateBound {
			t.Errorf("row after Renew on B: %+v", l)
		}
		storeTrouble(t, b.s)
	})

	t.Run("stale_cache_nobinding", func(t *testing.T) {
		dsn := pg.CreateDB(t)
		a, b := newPathMember6(t, dsn, "a", 0), newPathMember6(t, dsn, "b", 0)
		relay := &relay6{t: t}
		c3 := &client6{duid: []byte{0, 3, 0, 1, 2, 0, 0, 0, 6, 3}}
		c4 := []byte{0, 3, 0, 1, 2, 0, 0, 0, 6, 4}
		a.bind6(t, c3, 0x30)
		// Between B's read and B's commit, A records c3's release and
		// binds the address to c4 (A's own writes, through A's store).
		b.s.cpath.reader = &racyReader{leaseReader: b.s.cpath.reader, after: func() {
			ctx := context.Background()
			l, ok, err := a.st.LookupLease(ctx, c3.addr)
			if err != nil || !ok {
				t.Errorf("row of %v: %v %v", c3.addr, ok, err)
				return
			}
			rel := l.Clone()
			rel.State, rel.Seq = lease.StateReleased, l.Seq+100
			other := l.Clone()
			other.ClientID, other.State, other.Seq = c4, lease.StateBound, l.Seq+101
			other.Start, other.Expiry = time.Now(), time.Now().Add(time.Hour)
			if err := a.st.Commit(ctx, []lease.Lease{rel}); err != nil {
				t.Errorf("A: release: %v", err)
			}
			if err := a.st.Commit(ctx, []lease.Lease{other}); err != nil {
				t.Errorf("A: bind to the other client: %v", err)
			}
		}}
		feed6(t, b.s, relay.wrap(c3.msg(t, dhcpv6.Renew, 0x32, true)), pathRelay6)
		_, rep := b.rec.next6(t)
		if rep.Type != dhcpv6.Reply || iaStatus(t, rep) != dhcpv6.StatusNoBinding {
			t.Fatalf("Renew refused by the database: %v IA_NA status %d, want Reply NoBinding", rep.Type, iaStatus(t, rep))
		}
		if ad, av, _, _ := bindings(t, rep); ad.IsValid() || av != 0 {
			t.Errorf("refused Renew still carries %v/%d", ad, av)
		}
		if l, _ := b.eng6.Lookup(c3.addr); string(l.ClientID) != string(c4) {
			t.Errorf("B's cache after the refused write: %v held by %x, want %x", c3.addr, l.ClientID, c4)
		}
		if got := counterValue(b.s.cpath.rejected.WithLabelValues("dhcpv6", "held_by_another_client")); got != 1 {
			t.Errorf("rejections counted: %v", got)
		}
		storeTrouble(t, b.s)
		// The client's Request (after NoBinding, RFC 8415 §18.2.10.1)
		// for that address: NoAddrsAvail, nothing written over c4.
		c3.serverID = b.s.ServerDUID()
		feed6(t, b.s, relay.wrap(c3.msg(t, dhcpv6.Request, 0x33, true)), pathRelay6)
		_, rep = b.rec.next6(t)
		if ad, av, _, _ := bindings(t, rep); ad == c3.addr && av > 0 {
			t.Errorf("c3 was given back %v", ad)
		}
		if l := row(t, b.st, c3.addr); string(l.ClientID) != string(c4) {
			t.Errorf("row of %v now %x", c3.addr, l.ClientID)
		}
	})

	t.Run("request_refused", func(t *testing.T) {
		// Between B's Advertise and its commit of the Request, another
		// writer binds the advertised address to another client: B's
		// write is refused and the client gets NoAddrsAvail /
		// NoPrefixAvail (RFC 8415 §18.3.2), not silence.
		dsn := pg.CreateDB(t)
		b := newPathMember6(t, dsn, "b", 0)
		ctx := context.Background()
		other, err := postgres.Open(ctx, dsn, postgres.Options{ServerName: "other", NoRegister: true, Logger: testLogger(t)})
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		relay := &relay6{t: t}
		c := &client6{duid: []byte{0, 3, 0, 1, 2, 0, 0, 0, 6, 5}}
		feed6(t, b.s, relay.wrap(c.msg(t, dhcpv6.Solicit, 0x50, true)), pathRelay6)
		_, adv := b.rec.next6(t)
		c.serverID = b.s.ServerDUID()
		c.addr, _, c.prefix, _ = bindings(t, adv)
		b.s.cpath.reader = &racyReader{leaseReader: b.s.cpath.reader, last: c.prefix.Addr(), after: func() {
			now := time.Now()
			if err := other.Commit(ctx, []lease.Lease{{Addr: c.addr, State: lease.StateBound, ClientID: []byte{9, 9}, IAID: 1,
				Pool: "office6", Start: now, Expiry: now.Add(time.Hour), Preferred: now.Add(time.Hour), Seq: 1}}); err != nil {
				t.Errorf("other writer: %v", err)
			}
		}}
		feed6(t, b.s, relay.wrap(c.msg(t, dhcpv6.Request, 0x51, true)), pathRelay6)
		_, rep := b.rec.next6(t)
		if rep.Type != dhcpv6.Reply || iaStatus(t, rep) != dhcpv6.StatusNoAddrsAvail {
			t.Fatalf("refused Request: %v IA_NA status %d, want Reply NoAddrsAvail", rep.Type, iaStatus(t, rep))
		}
		if pd, ok := rep.IAPD(); !ok {
			t.Error("no IA_PD in the reply")
		} else if st, _ := pd.Options.StatusCode(); st.Code != dhcpv6.StatusNoPrefixAvail {
			t.Errorf("IA_PD status %d, want NoPrefixAvail", st.Code)
		}
		if l := row(t, b.st, c.addr); string(l.ClientID) != "\x09\x09" {
			t.Errorf("row of %v overwritten: %x", c.addr, l.ClientID)
		}
		if l, _ := b.eng6.Lookup(c.addr); string(l.ClientID) != "\x09\x09" {
			t.Errorf("B's cache of %v: %x, want the other writer's row", c.addr, l.ClientID)
		}
	})

	t.Run("one_answers", func(t *testing.T) {
		dsn := pg.CreateDB(t)
		a, b := newPathMember6(t, dsn, "a", 0), newPathMember6(t, dsn, "b", 0)
		a.s.setLiveServers([]string{"a", "b"})
		b.s.setLiveServers([]string{"a", "b"})
		relay := &relay6{t: t}
		answered := map[string]int{}
		for i := range 24 {
			c := &client6{duid: []byte{0, 3, 0, 1, 2, 0, 0, 0, 7, byte(i)}}
			pkt := relay.wrap(c.msg(t, dhcpv6.Solicit, uint32(0x700+i), true))
			na, nb := counterValue(a.s.cpath.notMine6), counterValue(b.s.cpath.notMine6)
			feed6(t, a.s, pkt, pathRelay6)
			feed6(t, b.s, pkt, pathRelay6)
			da, db := counterValue(a.s.cpath.notMine6)-na, counterValue(b.s.cpath.notMine6)-nb
			if da+db != 1 {
				t.Fatalf("client %d: filtered by a %v, by b %v; want exactly one", i, da, db)
			}
			owner := a
			if da == 1 {
				owner = b
			}
			if _, adv := owner.rec.next6(t); adv.Type != dhcpv6.Advertise {
				t.Fatalf("client %d: %s sent %v", i, owner.name, adv.Type)
			}
			answered[owner.name]++
		}
		a.rec.none(t)
		b.rec.none(t)
		if answered["a"] == 0 || answered["b"] == 0 {
			t.Errorf("answers split %v", answered)
		}
		// Elapsed Time at the threshold (10 s = 1000 hundredths): both answer.
		a.s.cpath.answerAfter, b.s.cpath.answerAfter = 10, 10
		c := &client6{duid: []byte{0, 3, 0, 1, 2, 0, 0, 0, 7, 200}}
		pkt := relay.wrap(withElapsed(t, c.msg(t, dhcpv6.Solicit, 0x7ff, true), 999))
		feed6(t, a.s, pkt, pathRelay6)
		feed6(t, b.s, pkt, pathRelay6)
		owner, other := a, b
		if loadbHash(c.duid)%2 == 1 {
			owner, other = b, a
		}
		if _, adv := owner.rec.next6(t); adv.Type != dhcpv6.Advertise {
			t.Fatalf("owner: %v", adv.Type)
		}
		other.rec.none(t)
		pkt = relay.wrap(withElapsed(t, c.msg(t, dhcpv6.Solicit, 0x800, true), 1000))
		feed6(t, a.s, pkt, pathRelay6)
		feed6(t, b.s, pkt, pathRelay6)
		for _, m := range []*pathMember{a, b} {
			if _, adv := m.rec.next6(t); adv.Type != dhcpv6.Advertise {
				t.Fatalf("%s at the Elapsed Time threshold: %v", m.name, adv.Type)
			}
		}
	})
}

// withElapsed returns msg with its Elapsed Time option (RFC 8415 §21.9)
// set to v hundredths of a second.
func withElapsed(t *testing.T, msg []byte, v uint16) []byte {
	t.Helper()
	var m dhcpv6.Message
	if err := m.Decode(msg); err != nil {
		t.Fatal(err)
	}
	var w dhcpv6.Writer
	w.Reset(make([]byte, 0, len(msg)+8))
	w.Header(m.Type, m.TransactionID)
	for it := m.Options().Iter(); it.Next(); {
		if it.Code() == dhcpv6.OptElapsedTime {
			w.OptionUint16(dhcpv6.OptElapsedTime, v)
			continue
		}
		w.Option(it.Code(), it.Data())
	}
	out, err := w.End()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestClusterReadThroughCost measures what a read-through costs: the two
// lookups of a DHCPv4 renewal (client, address) against PostgreSQL on a
// unix socket, sequentially (what one worker does), over many clients.
func TestClusterReadThroughCost(t *testing.T) {
	if testing.Short() {
		t.Skip("measurement (-short)")
	}
	dsn := pgtest.New(t).CreateDB(t)
	st := openCluster(t, dsn, "a")
	ctx := context.Background()
	var rows []lease.Lease
	for i := range 500 {
		rows = append(rows, lease.Lease{Addr: netip.AddrFrom4([4]byte{10, 9, byte(i >> 8), byte(i)}), State: lease.StateBound,
			ClientID: []byte{1, 2, 0, 0, 0, byte(i >> 8), byte(i)}, Pool: "p", Start: time.Now(), Expiry: time.Now().Add(time.Hour),
			Seq: uint64(i + 1)})
	}
	// Unconditional load of the rows (no claims needed): a plain store.
	plain, err := postgres.Open(ctx, dsn, postgres.Options{ServerName: "loader", NoRegister: true, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if err := plain.Commit(ctx, rows); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for _, l := range rows {
		ls, err := st.LookupClient(ctx, l.ClientID)
		if err != nil || len(ls) != 1 {
			t.Fatalf("LookupClient: %v %d", err, len(ls))
		}
		if _, ok, err := st.LookupLease(ctx, l.Addr); err != nil || !ok {
			t.Fatalf("LookupLease: %v", err)
		}
	}
	per := time.Since(start) / time.Duration(len(rows))
	t.Logf("read-through (LookupClient + LookupLease) %v per client, sequential: one worker ≈ %.0f clients/s, %d workers ≈ %.0f/s",
		per, float64(time.Second)/float64(per), readThroughWorkers, float64(readThroughWorkers)*float64(time.Second)/float64(per))
	if per > 50*time.Millisecond {
		t.Errorf("a read-through takes %v", per)
	}
}

// TestClusterPathRandom4: two DHCPv4 servers on one PostgreSQL with the
// RFC 3074 filter on, 24 clients doing random DORAs, renewals (unicast to
// either server, as after the other moved them), INIT-REBOOTs and
// REBINDINGs (relayed to both: the bucket's owner answers, reading the
// client first) and releases, one at a time. Every broadcast is answered
// by exactly one server; at the end no two clients hold one address by
// their last ACK, and each ACKed address is bound to its client in the
// database.
func TestClusterPathRandom4(t *testing.T) {
	dsn := pgtest.New(t).CreateDB(t)
	a, b := newPathMember4(t, dsn, "a", 0), newPathMember4(t, dsn, "b", 0)
	a.s.setLiveServers([]string{"a", "b"})
	b.s.setLiveServers([]string{"a", "b"})
	both := []*pathMember{a, b}
	type client struct {
		mac     [6]byte
		addr    netip.Addr
		srv     *pathMember // the server of its last ACK
		deleted bool        // an operator deleted its lease since its last ACK
	}
	clients := make([]*client, 24)
	for i := range clients {
		clients[i] = &client{mac: [6]byte{2, 0, 0, 0, 0xc, byte(i)}}
	}
	owner := func(c *client) *pathMember { return both[loadbHash(clientKey4(c.mac))%2] }
	// broadcast feeds msg to both servers and returns the owner's reply.
	broadcast := func(c *client, msg clientMsg) *dhcpv4.Message {
		t.Helper()
		msg.mac, msg.giaddr = c.mac, pathRelay
		pkt := buildMsg(t, msg)
		for _, m := range both {
			feed(t, m.s, pkt, pathServer)
		}
		o := owner(c)
		_, r := o.rec.next(t)
		for _, m := range both {
			if m != o {
				m.rec.none(t)
			}
		}
		return r
	}
	// answer applies an ACK or NAK to the client's view.
	answer := func(c *client, via *pathMember, r *dhcpv4.Message, acks, naks *int) {
		t.Helper()
		switch r.Type() {
		case dhcpv4.Ack:
			c.addr, c.srv, c.deleted = r.YIAddr, via, false
			*acks++
		case dhcpv4.Nak:
			c.addr, c.srv, c.deleted = netip.Addr{}, nil, false
			*naks++
		default:
			t.Fatalf("reply %v", r.Type())
		}
	}
	rng := rand.New(rand.NewPCG(12, 2026))
	var acks, naks, drops, deletes, refusedDeletes int
	xid := uint32(0x10000)
	for range 300 {
		c := clients[rng.IntN(len(clients))]
		xid += 2
		if !c.addr.IsValid() {
			o := owner(c)
			offer := broadcast(c, clientMsg{typ: dhcpv4.Discover, xid: xid})
			if offer.Type() != dhcpv4.Offer {
				t.Fatalf("DISCOVER: %v", offer.Type())
			}
			feed(t, o.s, buildMsg(t, clientMsg{typ: dhcpv4.Request, xid: xid + 1, mac: c.mac, giaddr: pathRelay,
				reqIP: offer.YIAddr, serverID: pathServer}), pathServer)
			_, r := o.rec.next(t)
			answer(c, o, r, &acks, &naks)
			continue
		}
		switch rng.IntN(5) {
		case 0: // RENEWING, unicast to either server
			m := both[rng.IntN(2)]
			feedUnicast(t, m.s, buildMsg(t, clientMsg{typ: dhcpv4.Request, xid: xid, mac: c.mac, ciaddr: c.addr}), pathServer)
			_, r := m.rec.next(t)
			if r.Type() == dhcpv4.Nak {
				m.rec.take(t) // its unicast copy
			}
			answer(c, m, r, &acks, &naks)
		case 1: // INIT-REBOOT
			answer(c, owner(c), broadcast(c, clientMsg{typ: dhcpv4.Request, xid: xid, reqIP: c.addr}), &acks, &naks)
		case 2: // REBINDING
			answer(c, owner(c), broadcast(c, clientMsg{typ: dhcpv4.Request, xid: xid, ciaddr: c.addr}), &acks, &naks)
		case 3: // RELEASE to the server of its last ACK
			addr := c.addr
			feedUnicast(t, c.srv.s, buildMsg(t, clientMsg{typ: dhcpv4.Release, xid: xid, mac: c.mac, ciaddr: addr,
				serverID: pathServer}), pathServer)
			wasDeleted := c.deleted
			c.addr, c.srv, c.deleted = netip.Addr{}, nil, false
			if wasDeleted {
				continue // nothing to release any more
			}
			for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
				l, ok, err := a.st.LookupLease(context.Background(), addr)
				if err != nil {
					t.Fatal(err)
				}
				if !ok || l.State != lease.StateBound || string(l.ClientID) != string(clientKey4(c.mac)) {
					break
				}
				if time.Now().After(deadline) {
					drops++ // the release was not written (counted, not fatal: the lease just stays)
					break
				}
			}
		case 4: // an operator deletes the lease through either server; the client is not told
			m := both[rng.IntN(2)]
			err := m.s.DeleteLease(context.Background(), c.addr)
			switch {
			case err == nil:
				c.deleted = true
				deletes++
			case errors.Is(err, postgres.ErrRejected), errors.Is(err, lease.ErrNotFound):
				refusedDeletes++ // another server's live lease, or one this server does not know
			default:
				t.Fatalf("delete %v on %s: %v", c.addr, m.name, err)
			}
		}
	}
	t.Logf("%d ACKs, %d NAKs, %d releases not written, %d deletes (%d refused); reads a %v b %v, rejected a %v b %v",
		acks, naks, drops, deletes, refusedDeletes,
		counterValue(a.s.cpath.reads.WithLabelValues("dhcpv4", "ok")), counterValue(b.s.cpath.reads.WithLabelValues("dhcpv4", "ok")),
		counterValue(a.s.cpath.rejected.WithLabelValues("dhcpv4", "held_by_another_client")),
		counterValue(b.s.cpath.rejected.WithLabelValues("dhcpv4", "held_by_another_client")))
	if drops > 0 {
		t.Errorf("%d releases to the server of the last ACK were not written", drops)
	}
	holder := map[netip.Addr]int{}
	for i, c := range clients {
		if !c.addr.IsValid() || c.deleted {
			continue
		}
		if j, dup := holder[c.addr]; dup {
			t.Errorf("clients %d and %d both hold %v by their last ACK", j, i, c.addr)
		}
		holder[c.addr] = i
		if l := row(t, a.st, c.addr); l.State != lease.StateBound || string(l.ClientID) != string(clientKey4(c.mac)) {
			t.Errorf("client %d holds %v by its last ACK; the row is %v %x", i, c.addr, l.State, l.ClientID)
		}
	}
	for _, m := range both {
		if got := counterValue(m.s.m.dropped.WithLabelValues(dropCommit)); got != 0 {
			t.Errorf("%s: %v commit errors", m.name, got)
		}
		storeTrouble(t, m.s)
	}
}
