package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/leased/leased/auth"
	"github.com/leased/leased/dhcpv4"
	"github.com/leased/leased/internal/pgtest"
	"github.com/leased/leased/lease"
	"github.com/leased/leased/reconf"
	"github.com/leased/leased/store/postgres"
)

// campMember is one leased server of a cluster test: the real engine, a
// cluster store on the test's PostgreSQL, a UDP socket on loopback (its
// FORCERENEWs come from its own port).
type campMember struct {
	name string
	s    *Server
	st   *postgres.Store
	stop func()
}

// skewedClock is the real clock shifted by a fixed offset (a server whose
// clock is behind).
type skewedClock time.Duration

func (c skewedClock) Now() time.Time                         { return time.Now().Add(time.Duration(c)) }
func (c skewedClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

func newCampMember(t *testing.T, dsn, name string, skew time.Duration) *campMember {
	t.Helper()
	ctx := context.Background()
	st, err := postgres.Open(ctx, dsn, postgres.Options{ServerName: name, Cluster: true, Heartbeat: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	cfg := campConfig()
	eng, err := lease.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Load(func(l lease.Lease) error { eng.Restore(l); return nil }); err != nil {
		t.Fatal(err)
	}
	s, err := New(Options{
		Interfaces: []string{"lo"}, Port: freeUDPPort(t), RelayPort: freeUDPPort(t),
		Engine: eng, Store: st, Logger: testLogger(t).With("server", name), Registry: prometheus.NewRegistry(),
		Config: &cfg, MaxInFlight: 256, Clock: skewedClock(skew),
		Cluster: &ClusterOptions{Store: st, Heartbeat: 300 * time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	m := &campMember{name: name, s: s, st: st}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.Run(runCtx) }()
	var once sync.Once
	m.stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("%s: Run: %v", name, err)
				}
			case <-time.After(15 * time.Second):
				t.Errorf("%s: Run did not stop", name)
			}
			if err := st.Close(); err != nil {
				t.Errorf("%s: store close: %v", name, err)
			}
		})
	}
	t.Cleanup(m.stop)
	return m
}

// renew sends a renewing REQUEST of c (RFC 2131 RENEWING: unicast from
// its address, ciaddr set) to m and waits for the reply, which m sends to
// ciaddr:68 where f reads it.
func (m *campMember) renew(t *testing.T, f *forceRenews, c *campClient, xid uint32) dhcpv4.MessageType {
	t.Helper()
	conn, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(c.addr, 0)))
	if err != nil {
		t.Error(err)
		return 0
	}
	defer conn.Close()
	ch := make(chan dhcpv4.MessageType, 1)
	f.mu.Lock()
	f.waiting[xid] = ch
	f.mu.Unlock()
	pkt := buildMsg(t, clientMsg{typ: dhcpv4.Request, xid: xid, mac: c.mac, ciaddr: c.addr, nonce: []byte{dhcpv4.AuthAlgHMACMD5}})
	if _, err := conn.WriteToUDPAddrPort(pkt, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(m.s.Port()))); err != nil {
		t.Error(err)
		return 0
	}
	select {
	case typ := <-ch:
		return typ
	case <-time.After(3 * time.Second):
		return 0
	}
}

// campClient is a simulated RFC 6704 client whose lease is in the
// database.
type campClient struct {
	mac  [6]byte
	addr netip.Addr
	key  []byte
	xid  uint32
	prev uint32 // the xid before the last renewal
}

// forceRenews receives the FORCERENEWs to every client on UDP port 68 and
// verifies them (key, replay, xid, chaddr); it records which server (by
// source port) sent each, and calls on for each valid one.
type forceRenews struct {
	t       *testing.T
	conn    *net.UDPConn
	mu      sync.Mutex
	byAddr  map[netip.Addr]*campClient
	last    map[netip.Addr]uint64
	from    []frSeen
	bad     int
	waiting map[uint32]chan dhcpv4.MessageType // replies to renewals, by xid
	on      func(c *campClient, port uint16)
	done    chan struct{}
}

type frSeen struct {
	addr netip.Addr
	port uint16
	at   time.Time
}

func (f *forceRenews) run() {
	defer close(f.done)
	buf := make([]byte, 2048)
	scratch := make([]byte, 0, 1500)
	for {
		_ = f.conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		n, from, err := f.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				continue
			}
			return // closed
		}
		var m dhcpv4.Message
		if m.Decode(bytes.Clone(buf[:n])) != nil {
			continue
		}
		if m.Type() == dhcpv4.Ack || m.Type() == dhcpv4.Nak {
			f.mu.Lock()
			ch := f.waiting[m.XID]
			delete(f.waiting, m.XID)
			f.mu.Unlock()
			if ch != nil {
				ch <- m.Type()
			}
			continue
		}
		if m.Type() != dhcpv4.ForceRenew {
			continue
		}
		f.mu.Lock()
		c := f.byAddr[m.CIAddr]
		if c != nil && c.prev != 0 && m.XID == c.prev {
			// Sent while the client renewed (the sender read the row
			// before the renewal's commit): a client drops it (wrong xid).
			f.mu.Unlock()
			continue
		}
		ok := c != nil && bytes.Equal(m.HWAddr(), c.mac[:]) && m.XID == c.xid
		var v uint64
		if ok {
			v, err = auth.VerifyHMACMD5(&m, c.key, f.last[c.addr], scratch)
			ok = err == nil
		}
		if !ok {
			f.bad++
			f.mu.Unlock()
			f.t.Errorf("FORCERENEW to %v from port %d does not verify (xid 0x%x, err %v)", m.CIAddr, from.Port(), m.XID, err)
			continue
		}
		f.last[c.addr] = v
		f.from = append(f.from, frSeen{c.addr, from.Port(), time.Now()})
		on := f.on
		f.mu.Unlock()
		if on != nil {
			on(c, from.Port())
		}
	}
}

func (f *forceRenews) seen() []frSeen {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]frSeen(nil), f.from...)
}

// TestClusterCampaignTakeover (issue #12, docs/cluster.md "Campaigns"):
// two servers on one PostgreSQL; four RFC 6704 clients bound in the
// database. A campaign started on A is led by A (advisory lock) and sent
// from A; a client that renews through B counts as renewed in A's
// campaign (B's outcome row, applied by A). A's leadership session is
// terminated: A stops sending, B takes the lock, resumes the campaign
// from its rows (no client counted twice; its clock is behind, yet the
// replay detection values go on above A's, from the lease rows) and
// finishes it; a client renewing through A (now a follower) reaches B's
// campaign the same way. At the end the rows say done, every client
// renewed, no outcome row is left and the lock is released. Then A stops
// a second campaign, which B leads, and deletes both.
func TestClusterCampaignTakeover(t *testing.T) {
	fr, err := net.ListenUDP("udp4", &net.UDPAddr{Port: dhcpv4.ClientPort})
	if err != nil {
		skipUnlessCI(t, "cannot listen on UDP port 68 for FORCERENEWs (needs root): %v", err)
	}
	t.Cleanup(func() { fr.Close() })
	pg := pgtest.New(t)
	dsn := pg.CreateDB(t)
	ctx := context.Background()

	// The clients' leases, as some server wrote them.
	seed, err := postgres.Open(ctx, dsn, postgres.Options{ServerName: "seed"})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	clients := make([]*campClient, 4)
	var recs []lease.Lease
	for i := range clients {
		c := &campClient{mac: [6]byte{2, 0, 0, 0, 7, byte(i)}, addr: netip.AddrFrom4([4]byte{127, 0, 1, byte(10 + i)}),
			key: make([]byte, 16), xid: 0x5000 + uint32(i)}
		_, _ = rand.Read(c.key)
		clients[i] = c
		recs = append(recs, lease.Lease{Addr: c.addr, HType: 1, HWAddr: c.mac[:], ClientID: append([]byte{1}, c.mac[:]...),
			Pool: "loop", Section: 0, State: lease.StateBound, Start: now.Add(-time.Minute), Expiry: now.Add(time.Hour),
			XID: c.xid, ForceRenewNonceCapable: true, ReconfKey: c.key, Seq: 1})
	}
	if err := seed.Commit(ctx, recs); err != nil {
		t.Fatal(err)
	}
	if err := seed.Close(); err != nil {
		t.Fatal(err)
	}

	// B's clock is 3 s behind: its time-based replay detection values are
	// below those A sent, so it must take the counter from the rows.
	a, b := newCampMember(t, dsn, "a", 0), newCampMember(t, dsn, "b", -3*time.Second)
	names := map[uint16]string{uint16(a.s.Port()): "a", uint16(b.s.Port()): "b"}
	members := map[string]*campMember{"a": a, "b": b}

	// Who each client renews through once it answers (empty: silent).
	var routeMu sync.Mutex
	route := map[netip.Addr]string{clients[0].addr: "b"}
	frs := &forceRenews{t: t, conn: fr, byAddr: map[netip.Addr]*campClient{}, last: map[netip.Addr]uint64{},
		waiting: map[uint32]chan dhcpv4.MessageType{}, done: make(chan struct{})}
	for _, c := range clients {
		frs.byAddr[c.addr] = c
	}
	var renewWG sync.WaitGroup
	renewed := map[netip.Addr]string{}
	frs.on = func(c *campClient, port uint16) {
		routeMu.Lock()
		via := route[c.addr]
		routeMu.Unlock()
		if via == "" {
			return
		}
		renewWG.Add(1)
		go func() {
			defer renewWG.Done()
			frs.mu.Lock()
			xid := c.xid + 0x100 // the renewal is the client's new transaction
			frs.mu.Unlock()
			if typ := members[via].renew(t, frs, c, xid); typ != dhcpv4.Ack {
				t.Errorf("%v renewing through %s after a FORCERENEW from %s: %v, want ACK", c.addr, via, names[port], typ)
				return
			}
			frs.mu.Lock()
			c.prev, c.xid = c.xid, xid
			frs.mu.Unlock()
			routeMu.Lock()
			renewed[c.addr] = via
			route[c.addr] = "" // renewed once is enough
			routeMu.Unlock()
		}()
	}
	go frs.run()
	t.Cleanup(func() {
		fr.Close()
		<-frs.done
		renewWG.Wait()
	})

	o := reconf.DefaultOptions()
	o.Attempts, o.Interval, o.Pace = 8, 300*time.Millisecond, 0
	st, err := a.s.StartCampaign(ctx, reconf.Selector{Pool: "loop"}, o)
	if err != nil {
		t.Fatal(err)
	}
	id := st.ID
	if st.Clients != 4 {
		t.Fatalf("campaign %d selected %d clients from the database, want 4", id, st.Clients)
	}
	leader := func() string {
		ls, err := b.st.CampaignLeaders(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range ls {
			if l.Campaign == campaignLockID(id) {
				return l.Leader
			}
		}
		return ""
	}
	if got := leader(); got != "a" {
		t.Fatalf("leader of campaign %d: %q, want a", id, got)
	}

	// Client 0 renews through B: A's campaign counts it renewed.
	waitCamp(t, 10*time.Second, "client 0's renewal through B in A's campaign", func() bool {
		st, err := a.s.Campaign(id)
		return err == nil && st.Counts.Renewed == 1
	})
	if p := clientOutcome(t, a.s, id, clients[0].addr); p.Outcome != reconf.Renewed {
		t.Fatalf("client 0 on A: %v", p.Outcome)
	}
	waitCamp(t, 5*time.Second, "B's mirror to show the campaign with 1 renewed", func() bool {
		st, err := b.s.Campaign(id)
		return err == nil && st.Counts.Renewed == 1 && st.State == reconf.Running
	})
	for _, s := range frs.seen() {
		if names[s.port] != "a" {
			t.Fatalf("FORCERENEW to %v from %s while A leads", s.addr, names[s.port])
		}
	}
	t.Logf("campaign %d led by a: %d FORCERENEWs from a; client 0 renewed through b", id, len(frs.seen()))

	// A's leadership session dies.
	tag, err := b.st.Pool().Exec(ctx, `SELECT pg_terminate_backend(pid) FROM campaign_leaders WHERE campaign = $1`, campaignLockID(id))
	if err != nil || tag.RowsAffected() != 1 {
		t.Fatal(tag, err)
	}
	killed := time.Now()
	waitCamp(t, 10*time.Second, "b to lead the campaign", func() bool { return leader() == "b" })
	took := time.Since(killed)
	waitCamp(t, 5*time.Second, "a to drop the campaign it no longer leads", func() bool { return !a.s.camp.cl.led(id) })
	handover := time.Now()
	t.Logf("b leads campaign %d %v after a's session was terminated", id, took.Round(time.Millisecond))

	// The silent clients answer now: client 1 through A (a follower
	// now), 2 and 3 through B.
	routeMu.Lock()
	route[clients[1].addr], route[clients[2].addr], route[clients[3].addr] = "a", "b", "b"
	routeMu.Unlock()
	waitCamp(t, 30*time.Second, "the campaign to finish on b", func() bool {
		st, err := b.s.Campaign(id)
		return err == nil && st.State == reconf.Done
	})
	st, _ = b.s.Campaign(id)
	if st.Counts.Renewed != 4 || st.Clients != 4 {
		t.Fatalf("campaign on b: %+v, want 4 renewed", st.Counts)
	}
	for _, c := range clients {
		if p := clientOutcome(t, b.s, id, c.addr); p.Outcome != reconf.Renewed {
			t.Errorf("%v: %v, want renewed", c.addr, p.Outcome)
		}
	}
	routeMu.Lock()
	if renewed[clients[1].addr] != "a" {
		t.Errorf("client 1 renewed through %q, want a", renewed[clients[1].addr])
	}
	routeMu.Unlock()
	// Client 1's renewal through A reached B's campaign as outcome rows
	// (A reported, B applied), not only through the lease row.
	if r, ap := testutilCounter(a.s.camp.cl.events.WithLabelValues("reported")), testutilCounter(b.s.camp.cl.events.WithLabelValues("applied")); r < 2 || ap < 2 {
		t.Errorf("outcome rows: a reported %v events, b applied %v; want at least client 1's request and ACK", r, ap)
	}
	var fromA, fromB int
	for _, s := range frs.seen() {
		switch {
		case names[s.port] == "b":
			fromB++
		case s.at.After(handover):
			t.Errorf("FORCERENEW to %v from a after b took the campaign over", s.addr)
		default:
			fromA++
		}
	}
	if fromB == 0 {
		t.Fatal("b never sent a FORCERENEW after taking the campaign over")
	}
	t.Logf("FORCERENEWs: %d from a, %d from b (after the take-over)", fromA, fromB)

	// The rows: done, 4 renewed (a fresh server would read this), no
	// outcome left, the lock released; A's mirror agrees.
	waitCamp(t, 5*time.Second, "the stored campaign to say done", func() bool {
		byID, _, err := loadCampaignRecords(b.st)
		if err != nil {
			t.Fatal(err)
		}
		m := reconf.NewManager()
		if err := m.Restore(byID[id], time.Now(), true); err != nil {
			return false
		}
		st, err := m.Status(id)
		return err == nil && st.State == reconf.Done && st.Counts.Renewed == 4
	})
	waitCamp(t, 5*time.Second, "the outcome rows to be deleted and the lock released", func() bool {
		var n int
		if err := b.st.Pool().QueryRow(ctx, `SELECT count(*) FROM campaign_outcomes`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n == 0 && leader() == ""
	})
	waitCamp(t, 5*time.Second, "a's view of the campaign to say done", func() bool {
		st, err := a.s.Campaign(id)
		return err == nil && st.State == reconf.Done && st.Counts.Renewed == 4
	})
	frs.mu.Lock()
	bad := frs.bad
	frs.mu.Unlock()
	if bad > 0 {
		t.Fatalf("%d FORCERENEWs did not verify", bad)
	}

	// Stop and delete through the server that does not lead: a second
	// campaign, started on B, the clients silent; A stops it (a request
	// row B applies), then A deletes both campaigns (tombstone rows),
	// which B, holding them finished, forgets too.
	st2, err := b.s.StartCampaign(ctx, reconf.Selector{Pool: "loop"}, o)
	if err != nil {
		t.Fatal(err)
	}
	waitCamp(t, 5*time.Second, "a to see campaign 2", func() bool {
		st, err := a.s.Campaign(st2.ID)
		return err == nil && st.State == reconf.Running
	})
	stopped, err := a.s.StopCampaign(ctx, st2.ID)
	if err != nil || stopped.State != reconf.Stopped || stopped.Counts.Aborted != 4 {
		t.Fatalf("stop of b's campaign %d through a: %+v, %v; want stopped, 4 aborted", st2.ID, stopped, err)
	}
	if st, _ := b.s.Campaign(st2.ID); st.State != reconf.Stopped {
		t.Fatalf("campaign %d on its leader b after the stop through a: %v", st2.ID, st.State)
	}
	for _, cid := range []uint32{id, st2.ID} {
		if err := a.s.DeleteCampaign(ctx, cid); err != nil {
			t.Fatalf("delete of campaign %d through a: %v", cid, err)
		}
	}
	waitCamp(t, 5*time.Second, "both servers to forget the deleted campaigns", func() bool {
		return len(a.s.Campaigns()) == 0 && len(b.s.Campaigns()) == 0
	})
	if byID, _, err := loadCampaignRecords(b.st); err != nil || len(byID) != 0 {
		t.Fatalf("campaign rows after the deletes: %d campaigns, %v", len(byID), err)
	}
}

func clientOutcome(t *testing.T, s *Server, id uint32, addr netip.Addr) reconf.ClientProgress {
	t.Helper()
	cs, err := s.CampaignClients(id, reconf.ClientFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if c.Addr == addr {
			return c
		}
	}
	t.Fatalf("campaign %d has no client %v", id, addr)
	return reconf.ClientProgress{}
}

func testutilCounter(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return -1
	}
	return m.GetCounter().GetValue()
}

// waitCamp polls cond every 50 ms for up to d.
func waitCamp(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// sharedDUIDStore is a store where another server already created the
// DUID blob when this one looks (EnsureBlob returns it).
type sharedDUIDStore struct {
	memStore
	other []byte
}

func (s *sharedDUIDStore) EnsureBlob(ctx context.Context, kind uint8, key, value []byte) ([]byte, error) {
	return s.other, nil
}

// TestSharedDUID: on a shared database the DHCPv6 server DUID is the one
// stored first, not a new one (docs/cluster.md: a client's Renew names
// its server's DUID; servers with different DUIDs would ignore each
// other's clients).
func TestSharedDUID(t *testing.T) {
	other := []byte{0, 4, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	st := &sharedDUIDStore{other: other}
	s := &Server{st: st, v6: &v6state{}, log: testLogger(t)}
	if err := s.ensureDUID(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(s.v6.duid, other) || !bytes.Equal(s.loadedDUID, other) {
		t.Fatalf("DUID %x, want the stored %x", s.v6.duid, other)
	}
	if len(st.blobs) != 0 {
		t.Fatalf("a DUID blob was written over the stored one: %v", st.blobs)
	}
}

// TestClusterDisconnectElsewhere: a disconnect through a server that never
// saw the client (another wrote its lease after this one started) reads
// the row and starts the campaign, rather than "no bound lease".
func TestClusterDisconnectElsewhere(t *testing.T) {
	pg := pgtest.New(t)
	dsn := pg.CreateDB(t)
	ctx := context.Background()
	b := newCampMember(t, dsn, "b", 0)
	seed, err := postgres.Open(ctx, dsn, postgres.Options{ServerName: "seed"})
	if err != nil {
		t.Fatal(err)
	}
	mac := [6]byte{2, 0, 0, 0, 8, 1}
	addr := netip.MustParseAddr("127.0.1.200")
	now := time.Now()
	key := make([]byte, 16)
	_, _ = rand.Read(key)
	if err := seed.Commit(ctx, []lease.Lease{{Addr: addr, HType: 1, HWAddr: mac[:], ClientID: append([]byte{1}, mac[:]...),
		Pool: "loop", State: lease.StateBound, Start: now, Expiry: now.Add(time.Hour), XID: 0x77,
		ForceRenewNonceCapable: true, ReconfKey: key, Seq: 1}}); err != nil {
		t.Fatal(err)
	}
	if err := seed.Close(); err != nil {
		t.Fatal(err)
	}
	if _, ok := b.s.Lookup(addr); ok {
		t.Fatal("test setup: b already knows the lease")
	}
	st, err := b.s.Disconnect(ctx, addr, reconf.Restore)
	if err != nil {
		t.Fatalf("disconnect through b: %v", err)
	}
	if st.Clients != 1 || !st.Options.ForceNAK {
		t.Fatalf("disconnect campaign: %+v", st)
	}
	if _, err := b.s.StopCampaign(ctx, st.ID); err != nil {
		t.Fatal(err)
	}
}

// TestClusterStartOverlap: two servers starting a campaign on the same pool
// at the same moment (both reloading one configuration change, say): one
// starts it, the other is refused with the one-campaign-per-pool error —
// starts are serialised across the cluster and checked against the rows.
func TestClusterStartOverlap(t *testing.T) {
	pg := pgtest.New(t)
	dsn := pg.CreateDB(t)
	ctx := context.Background()
	seed, err := postgres.Open(ctx, dsn, postgres.Options{ServerName: "seed"})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	var recs []lease.Lease
	for i := range 2 {
		mac := [6]byte{2, 0, 0, 0, 9, byte(i)}
		key := make([]byte, 16)
		_, _ = rand.Read(key)
		recs = append(recs, lease.Lease{Addr: netip.AddrFrom4([4]byte{127, 0, 1, byte(100 + i)}), HType: 1, HWAddr: mac[:],
			ClientID: append([]byte{1}, mac[:]...), Pool: "loop", State: lease.StateBound, Start: now, Expiry: now.Add(time.Hour),
			XID: 0x99, ForceRenewNonceCapable: true, ReconfKey: key, Seq: 1})
	}
	if err := seed.Commit(ctx, recs); err != nil {
		t.Fatal(err)
	}
	if err := seed.Close(); err != nil {
		t.Fatal(err)
	}
	a, b := newCampMember(t, dsn, "a", 0), newCampMember(t, dsn, "b", 0)
	for round := range 3 {
		var wg sync.WaitGroup
		sts := make([]reconf.CampaignStatus, 2)
		errs := make([]error, 2)
		for i, m := range []*campMember{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				o := reconf.DefaultOptions()
				o.Attempts, o.Interval = 8, time.Duration(i+1)*time.Second // not the same campaign
				sts[i], errs[i] = m.s.StartCampaign(ctx, reconf.Selector{Pool: "loop"}, o)
			}()
		}
		wg.Wait()
		var won []int
		for i, err := range errs {
			switch {
			case err == nil:
				won = append(won, i)
			case !errors.Is(err, reconf.ErrOverlap):
				t.Fatalf("round %d: server %d: %v, want an overlap error or a start", round, i, err)
			}
		}
		if len(won) != 1 {
			t.Fatalf("round %d: %d servers started a campaign on pool loop (errors %v), want exactly one", round, len(won), errs)
		}
		w := []*campMember{a, b}[won[0]]
		if _, err := w.s.StopCampaign(ctx, sts[won[0]].ID); err != nil {
			t.Fatal(err)
		}
	}
}
