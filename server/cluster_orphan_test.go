package server

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/leased/leased/dhcpv4"
	"github.com/leased/leased/dhcpv6"
	"github.com/leased/leased/internal/pgtest"
	"github.com/leased/leased/lease"
)

// TestClusterOrphanDiscover (issue #12): server a is stalled on the
// database — its servers row locked by another session, as a slow
// PostgreSQL after a fail-over stalled both servers of
// TestClusterStandbyFailover run in parallel — so b counts it dead but
// cannot take it over (the take-over waits for the same row). b then
// answers every broadcast, also a's clients, whose leases it has not
// loaded. A client bound through a DISCOVERs again without option 50
// (perfdhcp, or a client that lost its state): b must offer it its
// current binding (RFC 2131 §4.3.1), read from the database, not a second
// address from b's blocks. Without the read of an orphan's client's
// DISCOVER b offers a new address and ACKs it: one client, two bound
// rows, both ACKed (what the parallel e2e run showed).
func TestClusterOrphanDiscover(t *testing.T) {
	a, b, _ := startPair(t)
	// A client in a's buckets: bucket h is the (h mod 2)-th of [a b];
	// the hash key is option 61, which buildMsg sends (1 + chaddr).
	mac := macInBucket(t, 0, 0)
	addr := clusterDORA(t, a, mac, 0x7100)
	if !addr.IsValid() {
		t.Fatal("no DORA through a")
	}
	if _, ok := b.eng.Lookup(addr); ok {
		t.Fatal("b already knows a's lease")
	}

	ctx, release := stallServerA(t, b)
	if _, ok := b.eng.Lookup(addr); ok {
		t.Fatal("test setup: b loaded a's lease (taken over?)")
	}

	// The client DISCOVERs, relayed, no option 50, no secs: b answers it
	// (a is not live for b).
	feed(t, b.s, buildMsg(t, clientMsg{typ: dhcpv4.Discover, xid: 0x7200, mac: mac, giaddr: clusterRelay}), pathServer)
	offer, ok := b.rec.waitXID(t, 3*time.Second, 0x7200)
	if !ok || offer.Type() != dhcpv4.Offer {
		t.Fatalf("b did not OFFER to a's client: %v", offer)
	}
	if offer.YIAddr != addr {
		t.Errorf("b offered %v to a client whose current binding is %v (RFC 2131 §4.3.1)", offer.YIAddr, addr)
	}
	feed(t, b.s, buildMsg(t, clientMsg{typ: dhcpv4.Request, xid: 0x7201, mac: mac, giaddr: clusterRelay,
		reqIP: offer.YIAddr, serverID: pathServer}), pathServer)
	ack, ok := b.rec.waitXID(t, 5*time.Second, 0x7201)
	if !ok || ack.Type() != dhcpv4.Ack {
		t.Fatalf("b did not ACK: %v", ack)
	}
	// The database: one bound row for the client.
	rows, err := b.st.LookupClient(ctx, clientKey4(mac))
	if err != nil {
		t.Fatal(err)
	}
	var bound []netip.Addr
	for _, l := range rows {
		if l.State == lease.StateBound && l.Expiry.After(time.Now()) {
			bound = append(bound, l.Addr)
		}
	}
	if len(bound) != 1 || bound[0] != ack.YIAddr {
		t.Errorf("client %x bound in the database to %v, want only %v", mac, bound, ack.YIAddr)
	}
	if err := release(); err != nil {
		t.Fatal(err)
	}
}

// TestClusterOrphanSolicit is TestClusterOrphanDiscover for DHCPv6: a
// client bound (IA_NA + IA_PD) through a Solicits on b without naming its
// bindings while b counts a dead and a's claims are not taken over; b
// must advertise and bind its current address and prefix (RFC 8415
// §18.3.1), not new ones from its own blocks.
func TestClusterOrphanSolicit(t *testing.T) {
	a, b := startPair6(t)
	duid := duidInBucket(t, 0, 0)
	addr, prefix := bind6(t, a, duid, 0x7300)
	if !addr.IsValid() || !prefix.IsValid() {
		t.Fatal("no binding through a")
	}

	ctx, release := stallServerA(t, b.clusterMember)

	relay := &relay6{t: t}
	from := netip.MustParseAddrPort("[::1]:5470")
	c := &client6{duid: duid} // names no binding; Elapsed Time 0
	feed6(t, b.s, relay.wrap(c.msg(t, dhcpv6.Solicit, 0x7400, false)), from)
	x, ok := b.rec6.wait6(t, 3*time.Second)
	if !ok || x.Type != dhcpv6.Advertise {
		t.Fatalf("b did not Advertise to a's client: %v", x)
	}
	ga, _, gp, _ := bindings(t, x)
	if ga != addr || gp != prefix {
		t.Errorf("b advertised %v %v to a client bound to %v %v (RFC 8415 §18.3.1)", ga, gp, addr, prefix)
	}
	c.serverID, c.addr, c.prefix = b.s.ServerDUID(), ga, gp
	feed6(t, b.s, relay.wrap(c.msg(t, dhcpv6.Request, 0x7401, false)), from)
	x, ok = b.rec6.wait6(t, 5*time.Second)
	if !ok || x.Type != dhcpv6.Reply {
		t.Fatalf("b did not Reply: %v", x)
	}
	rows, err := b.st.LookupClient(ctx, duid)
	if err != nil {
		t.Fatal(err)
	}
	var bound []string
	for _, l := range rows {
		if l.State == lease.StateBound && l.Expiry.After(time.Now()) {
			bound = append(bound, fmt.Sprintf("%v/%d", l.Addr, l.PrefixLen))
		}
	}
	if len(bound) != 2 {
		t.Errorf("client bound in the database to %v, want its one address and one prefix", bound)
	}
	if err := release(); err != nil {
		t.Fatal(err)
	}
}

// stallServerA holds server a's row FOR SHARE from another session of
// b's pool until the test ends: a's heartbeat (an UPDATE) and b's
// take-over of a wait for the lock, while a's claim extensions (whose
// leased_fence takes the row FOR SHARE too) go on — so b counts a dead
// while a still holds its claims, and a's claims do not expire under b's
// claim loop (with FOR UPDATE they did, and b could claim a's blocks
// before its heartbeat saw a dead: the orphan state then never showed).
// It returns once b's live set says so, with the context to use
// meanwhile and the release of the lock (also done at the test's end).
func stallServerA(t *testing.T, b *clusterMember) (ctx context.Context, release func() error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	tx, err := b.st.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tx.Rollback(context.Background()) })
	if _, err := tx.Exec(ctx, `SELECT 1 FROM servers WHERE server_name = 'a' FOR SHARE`); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, "b counts a dead with its claims not taken over", func() bool {
		ls := b.s.cpath.live.Load()
		return ls != nil && len(ls.names) == 1 && len(ls.wide) == 2
	})
	return ctx, func() error { return tx.Rollback(ctx) }
}

// TestClusterMutualStall: a slow database stalls both servers'
// heartbeats past the take-over delay while their claims are still
// extended (another session holds both servers rows FOR SHARE: the
// heartbeat's UPDATE waits, a claim extension's leased_fence, FOR SHARE
// itself, does not). Each then sees the other dead with claims and,
// before this test, tried to take it over: the take-overs waited for the
// rows and, when the database recovered, one won and fenced a healthy
// server, which stayed fenced until restarted (docs/cluster.md "Both
// servers stalled"). A server must not take others over while its own
// heartbeat is stalled, nor for a heartbeat period after it resumed;
// then both are live again, neither is fenced, and b still commits.
func TestClusterMutualStall(t *testing.T) {
	a, b, dsn := startPair(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	lock := func(name string) func() {
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close(context.Background()) })
		tx, err := conn.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(ctx, `SELECT 1 FROM servers WHERE server_name = $1 FOR SHARE`, name); err != nil {
			t.Fatal(err)
		}
		return func() {
			if err := tx.Rollback(ctx); err != nil {
				t.Error(err)
			}
		}
	}
	releaseA, releaseB := lock("a"), lock("b")
	waitUntil(t, 10*time.Second, "both heartbeats older than the take-over delay", func() bool {
		la, _ := a.st.HeartbeatStall()
		lb, _ := b.st.HeartbeatStall()
		late := testTakeOver + 3*testHeartbeat
		return time.Since(la) > late && time.Since(lb) > late
	})
	// Each counts the other dead now (a heartbeat older than the delay,
	// claims held). a's row first: a take-over of a waiting for it would
	// win before a's own heartbeat.
	releaseA()
	time.Sleep(300 * time.Millisecond)
	releaseB()

	waitUntil(t, 10*time.Second, "both live again", func() bool {
		return len(a.s.ClusterLive()) == 2 && len(b.s.ClusterLive()) == 2
	})
	// One more round of both, past a's hold.
	time.Sleep(testHeartbeat + a.s.cluster.opTimeout() + 3*testHeartbeat)
	for _, m := range []*clusterMember{a, b} {
		if m.st.Fenced() {
			t.Errorf("%s was fenced after a stall both servers shared", m.name)
		}
		if n := m.s.cluster.takeOvers.Load(); n != 0 {
			t.Errorf("%s took over %d servers that were stalled with it", m.name, n)
		}
	}
	if len(a.s.ClusterLive()) != 2 || len(b.s.ClusterLive()) != 2 {
		t.Errorf("live sets after the stall: a %v, b %v", a.s.ClusterLive(), b.s.ClusterLive())
	}
	// b still commits: a DORA through it.
	mac := macInBucket(t, 1, 1)
	if addr := clusterDORA(t, b, mac, 0x7500); !addr.IsValid() {
		t.Error("b serves no DORA after the stall")
	}
}

// TestClusterSecsFallback: both servers live; a client of a's bucket,
// bound through a, DISCOVERs (Solicits) on b with secs (Elapsed Time)
// past AnswerAfterSecs and without naming its binding — a slow or
// failing a, a client retrying. b answers through the secs fallback, and
// must offer the client's current binding from the database (RFC 2131
// §4.3.1, RFC 8415 §18.3.1), not a second one from its own blocks:
// without the read the client ends bound to two addresses (and two
// prefixes).
func TestClusterSecsFallback(t *testing.T) {
	t.Run("dhcpv4", func(t *testing.T) {
		t.Parallel()
		a, b, _ := startPair(t)
		mac := macInBucket(t, 2, 0)
		addr := clusterDORA(t, a, mac, 0x7600)
		if !addr.IsValid() {
			t.Fatal("no DORA through a")
		}
		if _, ok := b.eng.Lookup(addr); ok {
			t.Fatal("b already knows a's lease")
		}
		// clusterDORA's DISCOVER carries secs 60 and no option 50.
		got := clusterDORA(t, b, mac, 0x7700)
		if got != addr {
			t.Errorf("b answered a's client (secs fallback) with %v, its current binding is %v (RFC 2131 §4.3.1)", got, addr)
		}
		rows, err := b.st.LookupClient(context.Background(), clientKey4(mac))
		if err != nil {
			t.Fatal(err)
		}
		var bound []netip.Addr
		for _, l := range rows {
			if l.State == lease.StateBound && l.Expiry.After(time.Now()) {
				bound = append(bound, l.Addr)
			}
		}
		if len(bound) != 1 {
			t.Errorf("client %x bound in the database to %v, want one address", mac, bound)
		}
	})
	t.Run("dhcpv6", func(t *testing.T) {
		t.Parallel()
		a, b := startPair6(t)
		duid := duidInBucket(t, 2, 0)
		addr, prefix := bind6(t, a, duid, 0x7800)
		if !addr.IsValid() || !prefix.IsValid() {
			t.Fatal("no binding through a")
		}
		// bind6's Solicit carries Elapsed Time 60 s and names no binding.
		ga, gp := bind6(t, b, duid, 0x7900)
		if ga != addr || gp != prefix {
			t.Errorf("b bound a's client (Elapsed Time fallback) to %v %v, its current bindings are %v %v (RFC 8415 §18.3.1)", ga, gp, addr, prefix)
		}
	})
}

// startPair starts cluster members a and b on a fresh database and waits
// until each counts both live.
func startPair(t *testing.T) (a, b *clusterMember, dsn string) {
	t.Helper()
	dsn = pgtest.New(t).CreateDB(t)
	a = startMember(t, dsn, "a", clusterConfig())
	b = startMember(t, dsn, "b", clusterConfig())
	waitUntil(t, 10*time.Second, "both live", func() bool {
		return len(a.s.ClusterLive()) == 2 && len(b.s.ClusterLive()) == 2
	})
	return a, b, dsn
}

// startPair6 is startPair with DHCPv6 members.
func startPair6(t *testing.T) (a, b *member6) {
	t.Helper()
	dsn := pgtest.New(t).CreateDB(t)
	a = startMember6(t, dsn, "a")
	b = startMember6(t, dsn, "b")
	waitUntil(t, 10*time.Second, "both live", func() bool {
		return len(a.s.ClusterLive()) == 2 && len(b.s.ClusterLive()) == 2
	})
	return a, b
}

// macInBucket returns a MAC 02:00:09:tag:00:xx whose RFC 3074 hash (of
// option 61, which buildMsg sends: 1 + chaddr) falls in bucket of two
// servers [a b]: 0 is a's, 1 is b's.
func macInBucket(t *testing.T, tag byte, bucket uint8) [6]byte {
	t.Helper()
	for i := range 256 {
		mac := [6]byte{2, 0, 9, tag, 0, byte(i)}
		if loadbHash(clientKey4(mac))%2 == bucket {
			return mac
		}
	}
	t.Fatal("no MAC in the bucket")
	return [6]byte{}
}

// duidInBucket is macInBucket for a DUID-LL 00:03:00:01:02:00:09:tag:00:xx.
func duidInBucket(t *testing.T, tag byte, bucket uint8) []byte {
	t.Helper()
	for i := range 256 {
		duid := []byte{0, 3, 0, 1, 2, 0, 9, tag, 0, byte(i)}
		if loadbHash(duid)%2 == bucket {
			return duid
		}
	}
	t.Fatal("no DUID in the bucket")
	return nil
}
