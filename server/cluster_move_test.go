package server

import (
	"context"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/leased/leased/api"
	"github.com/leased/leased/dhcpv4"
	"github.com/leased/leased/internal/pgtest"
	"github.com/leased/leased/lease"
	"github.com/leased/leased/store/postgres"
)

// Claims that move with load, a restart with the same server_name, and
// runtime reservations across the servers (issue #12, docs/cluster.md).

// claimSpan is how many addresses cs cover (DHCPv4).
func claimSpan(cs []postgres.Claim) int {
	n := 0
	for _, c := range cs {
		f, l := c.First.As4(), c.Last.As4()
		n += int(uint32(l[0])<<24|uint32(l[1])<<16|uint32(l[2])<<8|uint32(l[3])) -
			int(uint32(f[0])<<24|uint32(f[1])<<16|uint32(f[2])<<8|uint32(f[3])) + 1
	}
	return n
}

// TestClusterIdleRelease: a, busy, claims the whole pool (64 addresses,
// blocks of 16); b starts and gets no address (ErrNoFreeBlock). Most of
// a's clients leave (DHCPRELEASE) and a allocates nothing for its
// IdleRelease: it gives back the blocks it does not need, keeping a
// quarter of a block free; b claims them and serves new clients from
// them. No address is ACKed twice, a's remaining clients keep theirs, and
// a still serves a new client. Without the release b never gets an
// address (a extends its claims for ever).
func TestClusterIdleRelease(t *testing.T) {
	dsn := pgtest.New(t).CreateDB(t)
	cfg := clusterConfig()
	cfg.Pools[0].Sections[0].End = netip.MustParseAddr("127.0.0.163") // 64 addresses
	const idle = 3 * time.Second
	withIdle := func(o *ClusterOptions) { o.IdleRelease = idle }
	a := startMemberWith(t, dsn, "a", cfg, 3*time.Second, withIdle)

	type client struct {
		mac  [6]byte
		addr netip.Addr
	}
	var aClients []client
	acked := map[netip.Addr][6]byte{}
	for i := range 56 {
		mac := testMAC(0, i)
		addr := clusterDORA(t, a, mac, uint32(i*2))
		if !addr.IsValid() {
			t.Fatalf("a: client %d got no address", i)
		}
		if prev, dup := acked[addr]; dup {
			t.Fatalf("%v ACKed to %x and to %x", addr, prev, mac)
		}
		acked[addr] = mac
		aClients = append(aClients, client{mac, addr})
	}
	busyEnd := time.Now()
	waitUntil(t, 3*time.Second, "a holds the whole pool", func() bool {
		by := claimsOf(t, a.st)
		return claimSpan(by["a"]) == 64
	})
	aClaims := claimsOf(t, a.st)["a"]

	b := startMemberWith(t, dsn, "b", cfg, 3*time.Second, withIdle)
	if time.Since(busyEnd) < idle-500*time.Millisecond {
		// a is not idle yet: b runs out.
		if addr := clusterDORA(t, b, testMAC(1, 0), 0x10000); addr.IsValid() {
			t.Fatalf("b got %v while a held the whole pool", addr)
		}
		if n, _ := clusterGauge(t, b.s, "leased_cluster_claim_failures_total", "dhcpv4", "loop", "addresses", "exhausted"); n == 0 {
			t.Errorf("b counted no exhausted claim")
		}
	} else {
		t.Logf("machine slow: a went idle before b's first try (%v); the run-out check is left out", time.Since(busyEnd))
	}

	// Load moves: 48 of a's clients leave.
	for i, c := range aClients[8:] {
		feedUnicast(t, a.s, buildMsg(t, clientMsg{typ: dhcpv4.Release, xid: uint32(0x20000 + i), mac: c.mac, ciaddr: c.addr, serverID: pathServer}), pathServer)
		delete(acked, c.addr)
	}
	aClients = aClients[:8]
	waitUntil(t, 5*time.Second, "a's released leases free", func() bool {
		f, _ := a.eng.FreeInClaims("loop")
		return f >= 48
	})

	// b gets addresses from a's returned blocks, within idle + drain +
	// a few heartbeats.
	var bAddrs []netip.Addr
	deadline := time.Now().Add(idle + 10*time.Second)
	for i := 1; len(bAddrs) < 20; i++ {
		if time.Now().After(deadline) {
			t.Fatalf("b got %d addresses, want 20, %v after a's last allocation; claims %+v", len(bAddrs), time.Since(busyEnd), claimsOf(t, b.st))
		}
		mac := testMAC(1, i)
		addr := clusterDORA(t, b, mac, uint32(0x10000|i*2))
		if !addr.IsValid() {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		if prev, dup := acked[addr]; dup {
			t.Fatalf("%v ACKed to %x and to %x", addr, prev, mac)
		}
		acked[addr] = mac
		bAddrs = append(bAddrs, addr)
	}
	by := claimsOf(t, b.st)
	for _, addr := range bAddrs {
		if !inClaims(addr, by["b"]) || !inClaims(addr, aClaims) {
			t.Errorf("b ACKed %v: b's claims %+v, a's before %+v", addr, by["b"], aClaims)
		}
	}
	if n, _ := clusterGauge(t, a.s, "leased_cluster_claims_released_total", "dhcpv4", "loop", "addresses"); n == 0 {
		t.Errorf("a counted no released claim")
	}
	if f, _ := a.eng.FreeInClaims("loop"); f < a.s.cluster.opts.LowWater {
		t.Errorf("a kept %d free in its claims, want at least the low-water mark %d", f, a.s.cluster.opts.LowWater)
	}
	// a's remaining clients keep their addresses; a serves a new one.
	for _, c := range aClients {
		if l, ok := a.eng.Lookup(c.addr); !ok || l.State != lease.StateBound || !slices.Equal(l.HWAddr, c.mac[:]) {
			t.Errorf("a's client %x lost %v: %+v", c.mac, c.addr, l)
		}
	}
	mac := testMAC(0, 200)
	addr := clusterDORA(t, a, mac, 0x30000)
	if !addr.IsValid() || !inClaims(addr, claimsOf(t, a.st)["a"]) {
		t.Fatalf("a's new client got %v (a's claims %+v)", addr, claimsOf(t, a.st)["a"])
	}
	if prev, dup := acked[addr]; dup {
		t.Fatalf("%v ACKed to %x and to %x", addr, prev, mac)
	}
	acked[addr] = mac
	checkDatabase(t, a.st, acked)
}

// TestClusterRestartSameName: a server crashes (no clean stop) and comes
// back at once with the same server_name: it holds its previous claims
// (same rows, moved to its new epoch when it registered), knows their
// leases, and its first new client gets an address of its old blocks.
// Without it the old claims block their ranges until they expire and
// the new process claims elsewhere.
func TestClusterRestartSameName(t *testing.T) {
	dsn := pgtest.New(t).CreateDB(t)
	cfg := clusterConfig()
	// A take-over delay longer than a restart takes on a loaded machine:
	// the restart must come back before b counts a dead.
	const takeOver = 4 * time.Second
	slow := func(o *ClusterOptions) { o.TakeOverAfter = takeOver }
	a := startMemberWith(t, dsn, "a", cfg, 3*time.Second, slow)
	b := startMemberWith(t, dsn, "b", cfg, 3*time.Second, slow)
	acked := map[netip.Addr][6]byte{}
	for i := range 5 {
		mac := testMAC(0, i)
		addr := clusterDORA(t, a, mac, uint32(i*2))
		if !addr.IsValid() {
			t.Fatalf("a: client %d got no address", i)
		}
		acked[addr] = mac
	}
	oldEpoch := a.st.Epoch()
	a.crash(t)
	crashed := time.Now()
	before := claimsOf(t, b.st)["a"] // read after the crash: a may have claimed up to it

	a2 := startMemberWith(t, dsn, "a", cfg, 3*time.Second, slow)
	if d := time.Since(crashed); d > takeOver/2 {
		t.Logf("restart took %v", d)
	}
	if a2.st.Epoch() <= oldEpoch {
		t.Fatalf("epoch %d after the restart, was %d", a2.st.Epoch(), oldEpoch)
	}
	if got := a2.st.Inherited(); got != len(before) {
		t.Errorf("the restart kept %d claims, want %d", got, len(before))
	}
	after := claimsOf(t, a2.st)["a"]
	for _, c := range before {
		i := slices.IndexFunc(after, func(x postgres.Claim) bool { return x.ID == c.ID })
		if i < 0 {
			t.Fatalf("claim %d (%v-%v) not held after the restart: %+v", c.ID, c.First, c.Last, after)
		}
		if after[i].Epoch != a2.st.Epoch() {
			t.Errorf("claim %d at epoch %d, want the new %d (the old process fenced)", c.ID, after[i].Epoch, a2.st.Epoch())
		}
	}
	// Its old clients' leases are loaded (from the claims, not from a
	// read-through) and their addresses not given again.
	for addr, mac := range acked {
		if l, ok := a2.eng.Lookup(addr); !ok || l.State != lease.StateBound || !slices.Equal(l.HWAddr, mac[:]) {
			t.Errorf("after the restart a does not know %v of %x: %+v", addr, mac, l)
		}
	}
	for i := 5; i < 10; i++ {
		mac := testMAC(0, i)
		addr := clusterDORA(t, a2, mac, uint32(i*2))
		if !addr.IsValid() {
			t.Fatalf("restarted a: client %d got no address", i)
		}
		if prev, dup := acked[addr]; dup {
			t.Fatalf("%v ACKed to %x and to %x", addr, prev, mac)
		}
		if !inClaims(addr, before) {
			t.Errorf("restarted a gave %v, outside its previous claims %+v", addr, before)
		}
		acked[addr] = mac
	}
	// b took nothing over: a came back before the delay.
	time.Sleep(takeOver - time.Since(crashed) + 3*testHeartbeat)
	if n := b.s.cluster.takeOvers.Load(); n != 0 {
		t.Errorf("b took over %d servers", n)
	}
	checkDatabase(t, a2.st, acked)
}

// TestClusterReservations: a runtime reservation added through a is in
// force on b within a heartbeat — b's engine configuration holds it and
// b's DORA gives the client the reserved address (one of b's claims: see
// docs/cluster.md, a new binding outside the answering server's claims is
// refused by the database) — and deleted through b it is gone from a's
// engine configuration too. Without the heartbeat's reservation step b
// offers an address of its own and a keeps the reservation.
func TestClusterReservations(t *testing.T) {
	dsn := pgtest.New(t).CreateDB(t)
	cfg := clusterConfig()
	a := startMember(t, dsn, "a", cfg)
	b := startMember(t, dsn, "b", cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	bc := claimsOf(t, b.st)["b"]
	if len(bc) == 0 {
		t.Fatal("b holds no claim")
	}
	resAddr := bc[0].Last // free: b allocates from the first address up
	mac := [6]byte{2, 0, 0, 0, 0x0a, 1}
	inEngine := func(m *clusterMember) bool {
		m.s.camp.cfgM.Lock()
		defer m.s.camp.cfgM.Unlock()
		return slices.ContainsFunc(m.s.camp.leaseCfg.Pools[0].Reservations, func(r lease.Reservation) bool {
			return r.Addr == resAddr && slices.Equal(r.HWAddr, mac[:])
		})
	}
	if inEngine(a) || inEngine(b) {
		t.Fatal("reservation in force before it was added")
	}
	if _, err := a.s.AddReservation(ctx, api.Reservation{Address: resAddr, HWAddr: "02:00:00:00:0a:01"}); err != nil {
		t.Fatal(err)
	}
	added := time.Now()
	waitUntil(t, 2*time.Second, "b applies a's runtime reservation", func() bool { return inEngine(b) })
	t.Logf("b applied the reservation %v after a's add", time.Since(added).Round(time.Millisecond))
	if !slices.ContainsFunc(b.s.Reservations(), func(r api.Reservation) bool { return r.Source == api.SourceRuntime && r.Address == resAddr }) {
		t.Errorf("b does not list the runtime reservation: %+v", b.s.Reservations())
	}
	if got := clusterDORA(t, b, mac, 0x100); got != resAddr {
		t.Fatalf("b gave the reserved client %v, want %v", got, resAddr)
	}
	checkDatabase(t, a.st, map[netip.Addr][6]byte{resAddr: mac})

	if _, err := b.s.DeleteReservation(ctx, resAddr.String()); err != nil {
		t.Fatal(err)
	}
	deleted := time.Now()
	waitUntil(t, 2*time.Second, "a drops the reservation deleted through b", func() bool { return !inEngine(a) })
	t.Logf("a dropped the reservation %v after b's delete", time.Since(deleted).Round(time.Millisecond))
	if inEngine(b) {
		t.Error("b still holds the reservation it deleted")
	}
}
