package server

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"path/filepath"
	"regexp"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/leased/leased/dhcpv4"
	"github.com/leased/leased/dhcpv6"
	"github.com/leased/leased/internal/pgtest"
	"github.com/leased/leased/lease"
	"github.com/leased/leased/lease6"
	"github.com/leased/leased/store/postgres"
)

// Cluster tests: several Servers (real engines, real PostgreSQL through
// internal/pgtest) on one database, fed packets without sockets through
// the reply recorder. Short heartbeats: 100 ms, take-over after 1 s.

const (
	testHeartbeat = 100 * time.Millisecond
	testTakeOver  = time.Second
)

// clusterMember is one server of a test cluster.
type clusterMember struct {
	name   string
	s      *Server
	st     *postgres.Store
	eng    *lease.Engine
	rec    *recorder
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
}

// stop ends Run (a clean stop; the store stays open until cleanup).
func (m *clusterMember) stop(t *testing.T) {
	t.Helper()
	m.once.Do(func() {
		m.cancel()
		select {
		case err := <-m.done:
			if err != nil {
				t.Errorf("%s: Run: %v", m.name, err)
			}
		case <-time.After(20 * time.Second):
			t.Errorf("%s: Run did not return", m.name)
		}
	})
}

// crash makes m look dead to the others: its loops stop and its database
// connections close without marking it stopped (as kill -9 would leave
// it).
func (m *clusterMember) crash(t *testing.T) {
	t.Helper()
	m.st.Pool().Close()
	m.stop(t)
}

// startMember opens a cluster store named name on dsn, loads it into a
// real DHCPv4 engine and runs a Server in cluster mode whose replies go to
// a recorder.
func startMember(t *testing.T, dsn, name string, cfg lease.Config) *clusterMember {
	t.Helper()
	return startMemberTimeout(t, dsn, name, cfg, 3*time.Second)
}

// startMemberTimeout is startMember with the store's commit timeout.
func startMemberTimeout(t *testing.T, dsn, name string, cfg lease.Config, commitTimeout time.Duration) *clusterMember {
	t.Helper()
	return startMemberWith(t, dsn, name, cfg, commitTimeout, nil)
}

// startMemberWith is startMemberTimeout with mod applied to the cluster
// options (nil: none).
func startMemberWith(t *testing.T, dsn, name string, cfg lease.Config, commitTimeout time.Duration, mod func(*ClusterOptions)) *clusterMember {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	st, err := postgres.Open(ctx, dsn, postgres.Options{ServerName: name, Cluster: true, Heartbeat: testHeartbeat,
		CommitTimeout: commitTimeout, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	eng, err := lease.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Load(func(l lease.Lease) error { eng.Restore(l); return nil }); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{got: make(chan recorded, 1024)}
	co := &ClusterOptions{Store: st, Heartbeat: testHeartbeat, TakeOverAfter: testTakeOver, BlockSize: 16, AnswerAfterSecs: 30}
	if mod != nil {
		mod(co)
	}
	s, err := New(Options{Interfaces: []string{"lo"}, Engine: eng, Store: st, Config: &cfg, Logger: testLogger(t).With("server", name),
		Registry: prometheus.NewRegistry(), MaxInFlight: 64, replies: rec, Cluster: co})
	if err != nil {
		t.Fatal(err)
	}
	rec.done = s.sendDone
	s.l4.startWorkers()
	m := &clusterMember{name: name, s: s, st: st, eng: eng, rec: rec, done: make(chan error, 1)}
	rctx, rcancel := context.WithCancel(context.Background())
	m.cancel = rcancel
	go func() { m.done <- s.Run(rctx) }()
	t.Cleanup(func() { m.stop(t); s.l4.drain() })
	waitUntil(t, 10*time.Second, name+" serving", func() bool { return s.running.Load() })
	return m
}

// waitUntil polls cond every 20 ms for at most d.
func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// clusterPool is 127.0.0.100–127.0.0.250 (151 addresses, blocks of 16).
func clusterConfig() lease.Config {
	cfg := loopConfig()
	cfg.OfferHold = 2 * time.Second
	return cfg
}

var clusterRelay = netip.MustParseAddr("127.0.0.2")

// withSecs sets the secs field (RFC 2131 §2) of a built message: past
// AnswerAfterSecs every member answers whatever the RFC 3074 hash says,
// so a test chooses which server answers by which one it feeds.
func withSecs(pkt []byte, secs uint16) []byte {
	pkt[8], pkt[9] = byte(secs>>8), byte(secs)
	return pkt
}

// clusterDORA runs DISCOVER/OFFER/REQUEST/ACK for mac through m; it returns the
// ACKed address, or an invalid one when m offered nothing or did not ACK.
func clusterDORA(t *testing.T, m *clusterMember, mac [6]byte, xid uint32) netip.Addr {
	t.Helper()
	server := netip.MustParseAddr("127.0.0.1")
	// One retransmission, as a client would, 300 ms later (a burst may
	// use up the claims before the next block is claimed).
	// Replies are matched by xid, as a client does: a late answer to an
	// earlier exchange (a DISCOVER that waited for a claim, a NAK of a
	// commit the database refused late) is skipped, not taken for this
	// one's.
	var offer *dhcpv4.Message
	for try := range 2 {
		feed(t, m.s, withSecs(buildMsg(t, clientMsg{typ: dhcpv4.Discover, xid: xid, mac: mac, giaddr: clusterRelay}), 60), server)
		o, ok := m.rec.waitXID(t, time.Duration(try+1)*300*time.Millisecond, xid)
		if ok && o.Type() == dhcpv4.Offer {
			offer = o
			break
		}
	}
	if offer == nil {
		return netip.Addr{}
	}
	feed(t, m.s, withSecs(buildMsg(t, clientMsg{typ: dhcpv4.Request, xid: xid + 1, mac: mac, giaddr: clusterRelay,
		reqIP: offer.YIAddr, serverID: server}), 60), server)
	ack, ok := m.rec.waitXID(t, 5*time.Second, xid+1)
	if !ok || ack.Type() != dhcpv4.Ack {
		return netip.Addr{}
	}
	return ack.YIAddr
}

// waitXID returns the next recorded reply with transaction id xid within
// d, skipping the others.
func (r *recorder) waitXID(t *testing.T, d time.Duration, xid uint32) (*dhcpv4.Message, bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		m, ok := r.wait(t, time.Until(deadline))
		if !ok || m.XID == xid {
			return m, ok
		}
	}
}

// wait returns the next recorded reply within d, decoded.
func (r *recorder) wait(t *testing.T, d time.Duration) (*dhcpv4.Message, bool) {
	t.Helper()
	select {
	case x := <-r.got:
		m := new(dhcpv4.Message)
		if err := m.Decode(x.pkt); err != nil {
			t.Fatalf("recorded reply does not decode: %v", err)
		}
		return m, true
	case <-time.After(d):
		return nil, false
	}
}

// claimsOf lists the claims in the database by owner.
func claimsOf(t *testing.T, st *postgres.Store) map[string][]postgres.Claim {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cs, err := st.Claims(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]postgres.Claim{}
	for _, c := range cs {
		out[c.Owner] = append(out[c.Owner], c)
	}
	return out
}

func inClaims(a netip.Addr, cs []postgres.Claim) bool {
	for _, c := range cs {
		if c.First.Compare(a) <= 0 && a.Compare(c.Last) <= 0 {
			return true
		}
	}
	return false
}

func testMAC(server, i int) [6]byte { return [6]byte{2, 0, byte(server), 0, byte(i >> 8), byte(i)} }

// checkDatabase: every ACKed address's row is bound to the client it was
// ACKed to, and no address was ACKed to two clients.
func checkDatabase(t *testing.T, st *postgres.Store, acked map[netip.Addr][6]byte) {
	t.Helper()
	rows := map[netip.Addr]lease.Lease{}
	if err := st.Load(func(l lease.Lease) error { rows[l.Addr] = l; return nil }); err != nil {
		t.Fatal(err)
	}
	for a, mac := range acked {
		l, ok := rows[a]
		if !ok || l.State != lease.StateBound || !slices.Equal(l.HWAddr, mac[:]) {
			t.Errorf("%v ACKed to %x, database row %+v", a, mac, l)
		}
	}
}

// TestClusterClaims: two servers on one database each claim blocks of
// the pool at start and give new clients addresses only from their own
// claims; when a server's free addresses in its claims drop below a
// quarter of a block it claims another; no address is ACKed twice and
// every ACK is the database's row.
func TestClusterClaims(t *testing.T) {
	dsn := pgtest.New(t).CreateDB(t)
	cfg := clusterConfig()
	a := startMember(t, dsn, "a", cfg)
	b := startMember(t, dsn, "b", cfg)
	waitUntil(t, 5*time.Second, "both servers hold claims", func() bool {
		by := claimsOf(t, a.st)
		return len(by["a"]) > 0 && len(by["b"]) > 0
	})
	if got := a.s.ClusterLive(); !slices.Equal(got, []string{"a"}) && !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("a's live set %v", got)
	}
	waitUntil(t, 5*time.Second, "a sees b live", func() bool { return slices.Equal(a.s.ClusterLive(), []string{"a", "b"}) })

	// Allocate until fewer than LowWater addresses of a's first block are
	// free: a second block is claimed before the first runs out.
	acked := map[netip.Addr][6]byte{}
	low := 16 - a.s.cluster.opts.LowWater + 1
	for i := range low {
		mac := testMAC(0, i)
		addr := clusterDORA(t, a, mac, uint32(i*2))
		if !addr.IsValid() {
			t.Fatalf("a: client %d got no address", i)
		}
		acked[addr] = mac
	}
	waitUntil(t, 2*time.Second, "a claims a second block below the low-water mark", func() bool { return len(claimsOf(t, a.st)["a"]) >= 2 })
	if f, _ := a.eng.FreeInClaims("loop"); f < 16 {
		t.Errorf("a has %d free in its claims after claiming a second block", f)
	}

	for i := low; i < 30; i++ {
		for si, m := range []*clusterMember{a, b} {
			mac := testMAC(si, i)
			addr := clusterDORA(t, m, mac, uint32(si<<16|i*2))
			if !addr.IsValid() {
				t.Fatalf("%s: client %d got no address", m.name, i)
			}
			if prev, dup := acked[addr]; dup {
				t.Fatalf("%v ACKed to %x and to %x", addr, prev, mac)
			}
			acked[addr] = mac
			by := claimsOf(t, a.st)
			if !inClaims(addr, by[m.name]) {
				t.Fatalf("%s ACKed %v outside its claims %+v", m.name, addr, by[m.name])
			}
		}
	}
	by := claimsOf(t, a.st)
	// 30 clients each with blocks of 16: at least two blocks per server.
	for _, n := range []string{"a", "b"} {
		if len(by[n]) < 2 {
			t.Errorf("%s holds %d claims after 30 clients, want a second block claimed", n, len(by[n]))
		}
	}
	checkDatabase(t, a.st, acked)
}

// TestClusterTakeOver: three servers; one crashes (no heartbeat, no clean
// stop). After the take-over delay exactly one survivor holds all its
// claims (the two race for them), knows its clients' leases (loaded from
// the database), renews them, and gives new clients addresses from the
// taken-over blocks. No address is ACKed to two clients.
func TestClusterTakeOver(t *testing.T) {
	dsn := pgtest.New(t).CreateDB(t)
	cfg := clusterConfig()
	a := startMember(t, dsn, "a", cfg)
	b := startMember(t, dsn, "b", cfg)
	c := startMember(t, dsn, "c", cfg)
	waitUntil(t, 5*time.Second, "every server holds a claim", func() bool {
		by := claimsOf(t, b.st)
		return len(by["a"]) > 0 && len(by["b"]) > 0 && len(by["c"]) > 0
	})
	acked := map[netip.Addr][6]byte{}
	var aClients []netip.Addr
	for i := range 6 {
		mac := testMAC(0, i)
		addr := clusterDORA(t, a, mac, uint32(i*2+1))
		if !addr.IsValid() {
			t.Fatalf("a: client %d got no address", i)
		}
		acked[addr] = mac
		aClients = append(aClients, addr)
	}
	aClaims := claimsOf(t, b.st)["a"]
	for _, addr := range aClients {
		if _, ok := b.eng.Lookup(addr); ok {
			t.Fatalf("b knows %v before the take-over: the test would not show the load", addr)
		}
	}

	crashed := time.Now()
	a.crash(t)
	var winner, loser *clusterMember
	waitUntil(t, 10*time.Second, "a's claims taken over", func() bool {
		by := claimsOf(t, b.st)
		if len(by["a"]) > 0 {
			return false
		}
		for _, ac := range aClaims {
			switch {
			case inClaims(ac.First, by["b"]):
				winner, loser = b, c
			case inClaims(ac.First, by["c"]):
				winner, loser = c, b
			default:
				return false
			}
		}
		return true
	})
	// The delay counts from a's last heartbeat, at most one heartbeat
	// before the crash.
	if took := time.Since(crashed); took < testTakeOver-2*testHeartbeat {
		t.Errorf("taken over after %v, before the delay %v", took, testTakeOver)
	}
	by := claimsOf(t, b.st)
	for _, ac := range aClaims {
		if !inClaims(ac.First, by[winner.name]) || inClaims(ac.First, by[loser.name]) {
			t.Fatalf("claim %v-%v of a: not wholly with one survivor (b %+v, c %+v)", ac.First, ac.Last, by["b"], by["c"])
		}
	}
	if n := winner.s.cluster.takeOvers.Load(); n != 1 {
		t.Errorf("%s counted %d take-overs", winner.name, n)
	}
	if n := loser.s.cluster.takeOvers.Load(); n != 0 {
		t.Errorf("%s counted %d take-overs of nothing", loser.name, n)
	}
	// The winner loaded a's leases before allocating from its blocks.
	waitUntil(t, 2*time.Second, "leases of a loaded", func() bool {
		for _, addr := range aClients {
			if l, ok := winner.eng.Lookup(addr); !ok || l.State != lease.StateBound {
				return false
			}
		}
		return true
	})
	// a's client renews through the winner (unicast RENEWING).
	mac := acked[aClients[0]]
	feed(t, winner.s, withSecs(buildMsg(t, clientMsg{typ: dhcpv4.Request, xid: 900, mac: mac, ciaddr: aClients[0]}), 60), netip.MustParseAddr("127.0.0.1"))
	if ack, ok := winner.rec.waitXID(t, 5*time.Second, 900); !ok || ack.Type() != dhcpv4.Ack || ack.YIAddr != aClients[0] {
		t.Fatalf("renewal of %v through %s: %v", aClients[0], winner.name, ack)
	}
	// New clients of the winner get the free addresses of a's blocks (the
	// lowest claims are used first).
	fromA := false
	for i := range 40 {
		mac := testMAC(9, i)
		addr := clusterDORA(t, winner, mac, uint32(1000+i*2))
		if !addr.IsValid() {
			t.Fatalf("%s: new client %d got no address", winner.name, i)
		}
		if prev, dup := acked[addr]; dup {
			t.Fatalf("%v ACKed to %x and to %x", addr, prev, mac)
		}
		acked[addr] = mac
		if inClaims(addr, aClaims) {
			fromA = true
			break
		}
	}
	if !fromA {
		t.Errorf("%s never allocated from the claims it took over", winner.name)
	}
	checkDatabase(t, b.st, acked)
}

// TestClusterDatabaseDown: while the database is stopped the cluster
// heartbeat fails and health is degraded with cluster_heartbeat_failing
// (within a few heartbeats, not a commit timeout), no lease is ACKed, the
// claims stop being allocated from at their deadline; after the database
// returns, health recovers and the server allocates again, by itself.
func TestClusterDatabaseDown(t *testing.T) {
	pg := pgtest.New(t)
	dsn := pg.CreateDB(t)
	a := startMember(t, dsn, "a", clusterConfig())
	waitUntil(t, 5*time.Second, "a holds a claim", func() bool { return len(claimsOf(t, a.st)["a"]) > 0 })
	if addr := clusterDORA(t, a, testMAC(0, 1), 1); !addr.IsValid() {
		t.Fatal("no address before the outage")
	}
	hasReason := func(code string) bool {
		for _, r := range a.s.Health().Reasons {
			if r.Code == code {
				return true
			}
		}
		return false
	}
	if hasReason(reasonClusterHeartbeat) {
		t.Fatalf("degraded before the outage: %+v", a.s.Health())
	}
	if err := pg.Stop(); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	waitUntil(t, 5*time.Second, "health degraded", func() bool { return hasReason(reasonClusterHeartbeat) })
	t.Logf("degraded %v after the database stopped: %+v", time.Since(stopped).Round(time.Millisecond), a.s.Health())
	if h := a.s.Health(); h.Status == healthOK {
		t.Errorf("status %s", h.Status)
	}
	// Nothing is ACKed that is not committed.
	if addr := clusterDORA(t, a, testMAC(0, 2), 3); addr.IsValid() {
		t.Fatalf("ACKed %v while the database is down", addr)
	}
	// Claims not extended stop being allocated from.
	waitUntil(t, 3*testTakeOver, "claims dropped", func() bool {
		f, restricted := a.eng.FreeInClaims("loop")
		return restricted && f == 0
	})
	if err := pg.Start(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 20*time.Second, "health recovered", func() bool { return !hasReason(reasonClusterHeartbeat) })
	var addr netip.Addr
	waitUntil(t, 20*time.Second, "allocating again", func() bool {
		addr = clusterDORA(t, a, testMAC(0, 3), uint32(time.Now().UnixNano()))
		return addr.IsValid()
	})
	if !inClaims(addr, claimsOf(t, a.st)["a"]) {
		t.Errorf("ACKed %v outside a's claims after recovery", addr)
	}
	if n := a.s.cluster.hbFailures.Load(); n == 0 {
		t.Error("no heartbeat failure counted")
	}
}

// blackhole is a TCP proxy on loopback to a pgtest server's unix socket
// that can stop forwarding without closing anything: the database host as
// seen through a dead link or a firewall dropping packets (connections
// stay open, nothing comes back, new ones are accepted and never answered).
type blackhole struct {
	ln     net.Listener
	sock   string
	frozen atomic.Bool
	closed chan struct{}
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  []net.Conn
}

func newBlackhole(t *testing.T, pg *pgtest.Server) *blackhole {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &blackhole{ln: ln, sock: filepath.Join(pg.Dir(), fmt.Sprintf(".s.PGSQL.%d", pgtest.Port)), closed: make(chan struct{})}
	b.wg.Add(1)
	go b.accept()
	t.Cleanup(b.close)
	return b
}

func (b *blackhole) port() int { return b.ln.Addr().(*net.TCPAddr).Port }

func (b *blackhole) accept() {
	defer b.wg.Done()
	for {
		c, err := b.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("unix", b.sock)
		if err != nil {
			c.Close()
			continue
		}
		b.mu.Lock()
		b.conns = append(b.conns, c, up)
		b.mu.Unlock()
		b.wg.Add(2)
		go b.pipe(up, c)
		go b.pipe(c, up)
	}
}

// pipe copies src to dst while not frozen; frozen, it holds what it read
// (bounded: it ends when the proxy closes).
func (b *blackhole) pipe(dst, src net.Conn) {
	defer b.wg.Done()
	buf := make([]byte, 32<<10)
	for {
		for b.frozen.Load() {
			select {
			case <-b.closed:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
		n, err := src.Read(buf)
		for b.frozen.Load() {
			select {
			case <-b.closed:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if err != io.EOF {
				dst.Close()
			}
			return
		}
	}
}

func (b *blackhole) close() {
	select {
	case <-b.closed:
		return
	default:
	}
	close(b.closed)
	b.ln.Close()
	b.mu.Lock()
	for _, c := range b.conns {
		c.Close()
	}
	b.mu.Unlock()
	b.wg.Wait()
}

var dbNameRE = regexp.MustCompile(`dbname=(\S+)`)

// TestClusterDatabaseBlackhole: the database host stops answering on TCP
// (no reset, no close: a dead link). The server's health says degraded
// (cluster_heartbeat_failing) within a few seconds — before the commit
// timeout — while a REQUEST waiting for its commit gets no ACK;
// once packets flow again the server recovers by itself.
func TestClusterDatabaseBlackhole(t *testing.T) {
	pg := pgtest.New(t)
	db := dbNameRE.FindStringSubmatch(pg.CreateDB(t))[1]
	bh := newBlackhole(t, pg)
	dsn := fmt.Sprintf("host=127.0.0.1 port=%d user=postgres dbname=%s sslmode=disable connect_timeout=2", bh.port(), db)
	// A commit stuck on the dead link waits for the commit timeout (10 s,
	// the store.postgres.commit_timeout default); health must not.
	a := startMemberTimeout(t, dsn, "a", clusterConfig(), 10*time.Second)
	t.Cleanup(bh.close) // before the store's Close: its connections end at once
	waitUntil(t, 5*time.Second, "a holds a claim", func() bool { return len(claimsOf(t, a.st)["a"]) > 0 })
	hasReason := func(code string) bool {
		for _, r := range a.s.Health().Reasons {
			if r.Code == code {
				return true
			}
		}
		return false
	}
	waitUntil(t, 2*time.Second, "healthy", func() bool { return !hasReason(reasonClusterHeartbeat) })

	bh.frozen.Store(true)
	frozen := time.Now()
	mac := testMAC(0, 7)
	server := netip.MustParseAddr("127.0.0.1")
	feed(t, a.s, withSecs(buildMsg(t, clientMsg{typ: dhcpv4.Discover, xid: 70, mac: mac, giaddr: clusterRelay}), 60), server)
	if offer, ok := a.rec.wait(t, 2*time.Second); ok && offer.Type() == dhcpv4.Offer {
		feed(t, a.s, withSecs(buildMsg(t, clientMsg{typ: dhcpv4.Request, xid: 71, mac: mac, giaddr: clusterRelay,
			reqIP: offer.YIAddr, serverID: server}), 60), server)
	}
	// The claims stop being allocated from at their deadline (take-over
	// delay after the last extension, less half a heartbeat), though the
	// heartbeat that could not extend them is still blocked (its call
	// times out after 2 s).
	waitUntil(t, testTakeOver+500*time.Millisecond, "claims dropped at their deadline", func() bool {
		f, restricted := a.eng.FreeInClaims("loop")
		return restricted && f == 0
	})
	t.Logf("claims dropped %v after the link froze", time.Since(frozen).Round(time.Millisecond))
	waitUntil(t, 5*time.Second, "health degraded", func() bool { return hasReason(reasonClusterHeartbeat) })
	took := time.Since(frozen)
	t.Logf("degraded %v after the database host stopped answering", took.Round(time.Millisecond))
	if r, ok := a.rec.wait(t, 100*time.Millisecond); ok && r.Type() == dhcpv4.Ack {
		t.Fatalf("ACK for %v while the database does not answer", r.YIAddr)
	}

	bh.frozen.Store(false)
	waitUntil(t, 20*time.Second, "health recovered", func() bool { return !hasReason(reasonClusterHeartbeat) })
	waitUntil(t, 20*time.Second, "allocating again", func() bool {
		return clusterDORA(t, a, testMAC(0, 8), uint32(time.Now().UnixNano())).IsValid()
	})
}

// member6 is a DHCPv6-only cluster member (real lease6 engine).
type member6 struct {
	*clusterMember
	eng6 *lease6.Engine
	rec6 *recorder
}

func startMember6(t *testing.T, dsn, name string) *member6 {
	t.Helper()
	return startMember6Config(t, dsn, name, v6Config())
}

// startMember6Config is startMember6 with the engine configuration cfg.
func startMember6Config(t *testing.T, dsn, name string, cfg lease6.Config) *member6 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	st, err := postgres.Open(ctx, dsn, postgres.Options{ServerName: name, Cluster: true, Heartbeat: testHeartbeat,
		CommitTimeout: 3 * time.Second, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	eng6, err := lease6.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Load(func(l lease.Lease) error { eng6.Restore(l); return nil }); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{got: make(chan recorded, 1024)}
	s, err := New(Options{Store: st, Logger: testLogger(t).With("server", name), Registry: prometheus.NewRegistry(), MaxInFlight: 64,
		V6: &V6Options{Interfaces: []string{"lo"}, Engine: eng6, Config: &cfg}, replies6: rec,
		Cluster: &ClusterOptions{Store: st, Heartbeat: testHeartbeat, TakeOverAfter: testTakeOver, BlockSize: 16, AnswerAfterSecs: 30}})
	if err != nil {
		t.Fatal(err)
	}
	rec.done = s.sendDone6
	s.v6.l6.startWorkers()
	m := &clusterMember{name: name, s: s, st: st, done: make(chan error, 1)}
	rctx, rcancel := context.WithCancel(context.Background())
	m.cancel = rcancel
	go func() { m.done <- s.Run(rctx) }()
	t.Cleanup(func() { m.stop(t); s.v6.l6.drain() })
	waitUntil(t, 10*time.Second, name+" serving", func() bool { return s.running.Load() })
	return &member6{clusterMember: m, eng6: eng6, rec6: rec}
}

// msg6 is client6.msg with an Elapsed Time of 60 s (past
// AnswerAfterSecs: whichever member is fed answers).
func msg6(t *testing.T, c *client6, typ dhcpv6.MessageType, xid uint32) []byte {
	t.Helper()
	b := c.msg(t, typ, xid, false)
	m := new(dhcpv6.Message)
	if err := m.Decode(b); err != nil {
		t.Fatal(err)
	}
	// Elapsed Time (option 8, RFC 8415 §21.9): rewrite its value in place.
	for i := 4; i+4 <= len(b); {
		code, n := int(b[i])<<8|int(b[i+1]), int(b[i+2])<<8|int(b[i+3])
		if code == int(dhcpv6.OptElapsedTime) && n == 2 {
			b[i+4], b[i+5] = 6000>>8, 6000&0xff
			return b
		}
		i += 4 + n
	}
	t.Fatal("no Elapsed Time option")
	return nil
}

// bind6 runs Solicit/Advertise/Request/Reply through m; invalid results
// when m does not bind.
func bind6(t *testing.T, m *member6, duid []byte, xid uint32) (netip.Addr, netip.Prefix) {
	t.Helper()
	relay := &relay6{t: t}
	from := netip.MustParseAddrPort("[::1]:5470")
	c := &client6{duid: duid}
	feed6(t, m.s, relay.wrap(msg6(t, c, dhcpv6.Solicit, xid)), from)
	x, ok := m.rec6.wait6(t, 2*time.Second)
	if !ok || x.Type != dhcpv6.Advertise {
		return netip.Addr{}, netip.Prefix{}
	}
	a, _, p, _ := bindings(t, x)
	c.serverID, c.addr, c.prefix = m.s.ServerDUID(), a, p
	feed6(t, m.s, relay.wrap(msg6(t, c, dhcpv6.Request, xid+1)), from)
	x, ok = m.rec6.wait6(t, 5*time.Second)
	if !ok || x.Type != dhcpv6.Reply {
		return netip.Addr{}, netip.Prefix{}
	}
	a, av, p, pv := bindings(t, x)
	if av == 0 || pv == 0 {
		return netip.Addr{}, netip.Prefix{}
	}
	return a, p
}

// wait6 returns the next recorded DHCPv6 reply within d, decoded.
func (r *recorder) wait6(t *testing.T, d time.Duration) (*dhcpv6.Message, bool) {
	t.Helper()
	select {
	case x := <-r.got:
		m := new(dhcpv6.Message)
		if err := m.Decode(x.pkt); err != nil {
			t.Fatalf("recorded reply does not decode: %v", err)
		}
		return m, true
	case <-time.After(d):
		return nil, false
	}
}

// clusterGauge returns the value of the cluster metric name with the
// labels family, pool, kind (and reason when not empty) of s.
func clusterGauge(t *testing.T, s *Server, name string, labels ...string) (float64, bool) {
	t.Helper()
	want := map[string]string{}
	for i, k := range []string{"family", "pool", "kind", "reason"} {
		if i < len(labels) {
			want[k] = labels[i]
		}
	}
	return metricLookup(t, s, name, want)
}

// TestClusterDHCPv6: two DHCPv6 servers claim blocks of IA_NA addresses
// and of IA_PD prefixes; every Reply's address and prefix lie in the
// replying server's claims; the metrics report claims per pool and kind
// (failures from 0). When one crashes, the other takes its claims over,
// has its bindings (read from the database, not seen before) and gives a
// new client an address and a prefix of the taken-over blocks.
func TestClusterDHCPv6(t *testing.T) {
	dsn := pgtest.New(t).CreateDB(t)
	a, b := startMember6(t, dsn, "a"), startMember6(t, dsn, "b")
	waitUntil(t, 5*time.Second, "IA_NA and IA_PD claims of both", func() bool {
		by := claimsOf(t, a.st)
		return len(by["a"]) >= 2 && len(by["b"]) >= 2
	})
	for _, m := range []*member6{a, b} {
		for _, kind := range []string{"addresses", "prefixes"} {
			if v, ok := clusterGauge(t, m.s, "leased_cluster_claims", "dhcpv6", "office6", kind); !ok || v < 1 {
				t.Errorf("%s: leased_cluster_claims{dhcpv6,office6,%s} = %v, %v", m.name, kind, v, ok)
			}
			if v, ok := clusterGauge(t, m.s, "leased_cluster_claim_failures_total", "dhcpv6", "office6", kind, "exhausted"); !ok || v != 0 {
				t.Errorf("%s: claim failures %s = %v, %v (want 0, reported)", m.name, kind, v, ok)
			}
		}
	}
	type binding struct {
		a netip.Addr
		p netip.Prefix
	}
	got := map[string][]binding{}
	for i := range 5 {
		for si, m := range []*member6{a, b} {
			duid := []byte{0, 3, 0, 1, 2, 0, 0, byte(si), 0, byte(i)}
			addr, pre := bind6(t, m, duid, uint32(si<<16|i<<4))
			if !addr.IsValid() || !pre.IsValid() {
				t.Fatalf("%s: client %d not bound", m.name, i)
			}
			by := claimsOf(t, a.st)
			if !inClaims(addr, by[m.name]) || !inClaims(pre.Addr(), by[m.name]) {
				t.Fatalf("%s gave %v and %v outside its claims %+v", m.name, addr, pre, by[m.name])
			}
			got[m.name] = append(got[m.name], binding{addr, pre})
		}
	}

	aClaims := claimsOf(t, b.st)["a"]
	a.crash(t)
	waitUntil(t, 10*time.Second, "b took a's claims over", func() bool {
		by := claimsOf(t, b.st)
		for _, c := range aClaims {
			if !inClaims(c.First, by["b"]) {
				return false
			}
		}
		return len(by["a"]) == 0
	})
	waitUntil(t, 2*time.Second, "a's bindings loaded", func() bool {
		for _, x := range got["a"] {
			la, ok1 := b.eng6.Lookup(x.a)
			lp, ok2 := b.eng6.Lookup(x.p.Addr())
			if !ok1 || !ok2 || la.State != lease.StateBound || lp.State != lease.StateBound {
				return false
			}
		}
		return true
	})
	if v, _ := clusterGauge(t, b.s, "leased_cluster_takeovers_total"); v != 1 {
		t.Errorf("b: leased_cluster_takeovers_total %v", v)
	}
	// b's claims are used lowest first: a's blocks (claimed first, at
	// the start of the ranges) come before b's own.
	addr, pre := bind6(t, b, []byte{0, 3, 0, 1, 2, 0, 0, 9, 9, 9}, 0x900)
	if !inClaims(addr, aClaims) || !inClaims(pre.Addr(), aClaims) {
		t.Errorf("new client of b got %v %v, not from a's former blocks %+v", addr, pre, aClaims)
	}
	for _, x := range got["a"] {
		if addr == x.a || pre == x.p {
			t.Fatalf("new client given a's client's %v / %v", x.a, x.p)
		}
	}
}

// TestClusterBlockSize: the block size follows the allocation rate (10 s
// of it) between BlockSize and 64 × BlockSize, never more than a quarter
// of the pool's share among the live servers.
func TestClusterBlockSize(t *testing.T) {
	s := &Server{cluster: &clusterState{opts: ClusterOptions{BlockSize: 64}, live: []string{"a", "b"}}}
	v4 := claimTarget{pool: postgres.ClaimPool{Ranges: []postgres.Range{
		{First: netip.MustParseAddr("10.0.0.0"), Last: netip.MustParseAddr("10.0.255.255")}}}} // 65536
	small := claimTarget{pool: postgres.ClaimPool{Ranges: []postgres.Range{
		{First: netip.MustParseAddr("10.0.0.100"), Last: netip.MustParseAddr("10.0.0.250")}}}} // 151
	pd := claimTarget{pool: postgres.ClaimPool{PrefixLen: 56, Ranges: []postgres.Range{
		{First: netip.MustParseAddr("fd77:100::"), Last: netip.MustParseAddr("fd77:100:ff:ffff:ffff:ffff:ffff:ffff")}}}} // 2^16 /56
	na := claimTarget{pool: postgres.ClaimPool{Ranges: []postgres.Range{
		{First: netip.MustParseAddr("fd77::"), Last: netip.MustParseAddr("fd77::ffff:ffff:ffff:ffff")}}}}
	for _, tc := range []struct {
		name string
		t    claimTarget
		rate float64
		want int
	}{
		{"idle", v4, 0, 64},
		{"slow", v4, 5, 64},
		{"fast", v4, 300, 3000},
		{"very fast: 64 blocks", v4, 5000, 4096},
		{"small pool: its share", small, 300, 64},
		{"prefixes", pd, 1000, 4096},
		{"a /64 of addresses", na, 1000, 4096},
	} {
		if got := s.blockSize(tc.t, tc.rate); got != tc.want {
			t.Errorf("%s: block size %d, want %d", tc.name, got, tc.want)
		}
	}
	if n := poolUnits(pd.pool); n != 1<<16 {
		t.Errorf("prefixes in fd77:100::/40 as /56: %d", n)
	}
	if n := poolUnits(na.pool); n != 1<<40 {
		t.Errorf("a /64 saturates: %d", n)
	}
}

// TestClusterReloadNewPool: a pool a reload adds is restricted to claims
// (empty) before the engine knows it, then gets a block of its own.
func TestClusterReloadNewPool(t *testing.T) {
	dsn := pgtest.New(t).CreateDB(t)
	cfg := clusterConfig()
	a := startMember(t, dsn, "a", cfg)
	cfg2 := cfg
	cfg2.Pools = append(slices.Clone(cfg.Pools), lease.Pool{Name: "loop2", Subnet: netip.MustParsePrefix("127.0.1.0/24"),
		Sections: []lease.Section{{Index: 0, Start: netip.MustParseAddr("127.0.1.10"), End: netip.MustParseAddr("127.0.1.200")}}})
	if err := a.s.Reload(cfg2); err != nil {
		t.Fatal(err)
	}
	if _, restricted := a.eng.FreeInClaims("loop2"); !restricted {
		t.Fatal("the new pool allocates outside claims after the reload")
	}
	waitUntil(t, 5*time.Second, "a block of loop2", func() bool {
		for _, c := range claimsOf(t, a.st)["a"] {
			if c.Pool == "loop2" && c.First == netip.MustParseAddr("127.0.1.10") {
				return true
			}
		}
		return false
	})
	waitUntil(t, 2*time.Second, "loop2 allocates from its block", func() bool {
		f, _ := a.eng.FreeInClaims("loop2")
		return f == 16
	})
}

// TestClusterPartitionFenced: a server cut off from the database (its
// TCP link frozen) for longer than the take-over delay is taken over by
// the other; when the link comes back it is fenced: health failing with
// cluster_fenced, no claim left to allocate from, no ACK for a new
// client — a partitioned server is harmless once taken over.
func TestClusterPartitionFenced(t *testing.T) {
	pg := pgtest.New(t)
	direct := pg.CreateDB(t)
	db := dbNameRE.FindStringSubmatch(direct)[1]
	bh := newBlackhole(t, pg)
	viaProxy := fmt.Sprintf("host=127.0.0.1 port=%d user=postgres dbname=%s sslmode=disable connect_timeout=2", bh.port(), db)
	a := startMemberTimeout(t, viaProxy, "a", clusterConfig(), 5*time.Second)
	t.Cleanup(bh.close)
	b := startMember(t, direct, "b", clusterConfig())
	waitUntil(t, 5*time.Second, "both hold claims", func() bool {
		by := claimsOf(t, b.st)
		return len(by["a"]) > 0 && len(by["b"]) > 0
	})
	aClaims := claimsOf(t, b.st)["a"]

	bh.frozen.Store(true)
	waitUntil(t, 10*time.Second, "b took a over", func() bool {
		by := claimsOf(t, b.st)
		return len(by["a"]) == 0 && inClaims(aClaims[0].First, by["b"])
	})
	bh.frozen.Store(false)
	hasReason := func(code string) bool {
		for _, r := range a.s.Health().Reasons {
			if r.Code == code {
				return true
			}
		}
		return false
	}
	waitUntil(t, 15*time.Second, "a fenced", func() bool { return hasReason(reasonClusterFenced) })
	if h := a.s.Health(); h.Status != healthFailing {
		t.Errorf("a's health %s, want failing: %+v", h.Status, h.Reasons)
	}
	// The claims leave at a's next heartbeat (a fenced commit fails
	// anyway: nothing is ACKed meanwhile).
	waitUntil(t, 3*time.Second, "fenced a stops allocating", func() bool {
		f, restricted := a.eng.FreeInClaims("loop")
		return restricted && f == 0
	})
	if addr := clusterDORA(t, a, testMAC(5, 1), 500); addr.IsValid() {
		t.Errorf("fenced a ACKed %v", addr)
	}
	if addr := clusterDORA(t, b, testMAC(5, 2), 600); !addr.IsValid() {
		t.Error("b does not serve after the take-over")
	}
}

// TestClusterConcurrent: three servers allocate at the same time (one
// client after another on each, the three in parallel), then every
// client renews through the next server (a server that has not served
// it: unicast RENEWING). No address is ACKed to two clients, every first
// ACK lies in the ACKing server's claims, every renewal is ACKed with the
// client's address, and the database holds exactly the ACKed bindings.
func TestClusterConcurrent(t *testing.T) {
	dsn := pgtest.New(t).CreateDB(t)
	cfg := clusterConfig()
	cfg.Pools[0].Subnet = netip.MustParsePrefix("127.0.0.0/16")
	cfg.Pools[0].Sections = []lease.Section{{Index: 0, Start: netip.MustParseAddr("127.0.1.0"), End: netip.MustParseAddr("127.0.2.255")}}
	ms := []*clusterMember{startMember(t, dsn, "a", cfg), startMember(t, dsn, "b", cfg), startMember(t, dsn, "c", cfg)}
	waitUntil(t, 5*time.Second, "live sets of three", func() bool {
		for _, m := range ms {
			if len(m.s.ClusterLive()) != 3 {
				return false
			}
		}
		return true
	})
	const perServer = 40
	type ack struct {
		mac  [6]byte
		addr netip.Addr
	}
	acks := make([][]ack, len(ms))
	var wg sync.WaitGroup
	for si, m := range ms {
		wg.Go(func() {
			for i := range perServer {
				mac := testMAC(si, i)
				addr := clusterDORA(t, m, mac, uint32(si<<20|i<<2))
				if !addr.IsValid() {
					t.Errorf("%s: client %d got no address", m.name, i)
					return
				}
				acks[si] = append(acks[si], ack{mac, addr})
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	by := claimsOf(t, ms[0].st)
	acked := map[netip.Addr][6]byte{}
	for si, as := range acks {
		for _, x := range as {
			if prev, dup := acked[x.addr]; dup {
				t.Fatalf("%v ACKed to %x and to %x", x.addr, prev, x.mac)
			}
			acked[x.addr] = x.mac
			if !inClaims(x.addr, by[ms[si].name]) {
				t.Errorf("%s ACKed %v outside its claims", ms[si].name, x.addr)
			}
		}
	}
	// Renewals through the next server, in parallel again.
	server := netip.MustParseAddr("127.0.0.1")
	for si := range ms {
		m := ms[(si+1)%len(ms)]
		wg.Go(func() {
			for i, x := range acks[si] {
				xid := uint32(0x7000000 | si<<16 | i)
				feed(t, m.s, withSecs(buildMsg(t, clientMsg{typ: dhcpv4.Request, xid: xid, mac: x.mac, ciaddr: x.addr}), 60), server)
				// By xid: m's recorder may still hold a late OFFER of a
				// retransmitted DISCOVER from the allocations above.
				r, ok := m.rec.waitXID(t, 5*time.Second, xid)
				if !ok || r.Type() != dhcpv4.Ack || r.YIAddr != x.addr {
					t.Errorf("renewal of %v (%x) through %s: %v", x.addr, x.mac, m.name, r)
					return
				}
			}
		})
	}
	wg.Wait()
	checkDatabase(t, ms[0].st, acked)
	n := 0
	if err := ms[0].st.Load(func(l lease.Lease) error {
		if l.State == lease.StateBound {
			n++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n != len(acked) {
		t.Errorf("%d bound rows, %d clients ACKed", n, len(acked))
	}
}
