package server

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/leased/leased/dhcpv4"
	"github.com/leased/leased/internal/pgtest"
	"github.com/leased/leased/lease"
	"github.com/leased/leased/store/postgres"
)

// sharedDryConfig: a shared network ("wire") of two pools on the relay's
// link: "first" (the link's pool by giaddr, 16 addresses) and "second"
// (4,096 addresses in another subnet).
func sharedDryConfig() lease.Config {
	cfg := clusterConfig()
	p := &cfg.Pools[0]
	p.Name = "first"
	p.Subnet = netip.MustParsePrefix("127.0.0.0/16")
	p.Sections = []lease.Section{{Index: 0, Start: netip.MustParseAddr("127.0.16.0"), End: netip.MustParseAddr("127.0.16.15")}}
	p.SharedNetwork = "wire"
	q := *p
	q.Name = "second"
	q.Subnet = netip.MustParsePrefix("10.99.0.0/16")
	q.Gateway = netip.MustParseAddr("10.99.0.1")
	q.Sections = []lease.Section{{Index: 0, Start: netip.MustParseAddr("10.99.16.0"), End: netip.MustParseAddr("10.99.31.255")}}
	cfg.Pools = append(cfg.Pools, q)
	return cfg
}

// TestClusterSharedNetworkDry: a DISCOVER that finds no free address on a
// shared network waits for a claim of the pools the client could get an
// address from, not of the link's first pool. Server b holds every
// address of "first" (the link's pool by giaddr), so a's claims of it fail
// (ErrNoFreeBlock); a holds one block of 16 of "second". A burst of 300
// new clients at a: each gets an OFFER from "second" — the DISCOVERs that
// found "second"'s claims empty waited (claim waits served) and counted
// as its demand, so its blocks grew (claim ahead, within a quarter of its
// share) — none is dropped as pool_exhausted, no address twice.
// Without the engine's DryPools (the wait keyed on the link's first pool,
// which cannot be claimed from) the DISCOVERs beyond a's first block are
// dropped at once.
func TestClusterSharedNetworkDry(t *testing.T) {
	dsn := pgtest.New(t).CreateDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	b, err := postgres.Open(ctx, dsn, postgres.Options{ServerName: "b", Cluster: true, Heartbeat: testHeartbeat, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	first := postgres.ClaimPool{Name: "first", Ranges: []postgres.Range{{First: netip.MustParseAddr("127.0.16.0"), Last: netip.MustParseAddr("127.0.16.15")}}}
	if _, err := b.ClaimBlock(ctx, first, 16, time.Hour); err != nil {
		t.Fatal(err)
	}

	cfg := sharedDryConfig()
	m := startMemberWith(t, dsn, "a", cfg, 5*time.Second, func(o *ClusterOptions) {
		o.Heartbeat, o.TakeOverAfter, o.Check = time.Second, 3*time.Second, 250*time.Millisecond
	})
	by := claimsOf(t, m.st)
	if len(by["a"]) != 1 || by["a"][0].Pool != "second" {
		t.Fatalf("a holds %+v, want one block of second", by["a"])
	}

	const n = 300
	server := netip.MustParseAddr("127.0.0.1")
	collect := collectOffers(m.rec, n, 5*time.Second)
	for i := range n {
		feed(t, m.s, withSecs(buildMsg(t, clientMsg{typ: dhcpv4.Discover, xid: uint32(i), mac: testMAC(9, i), giaddr: clusterRelay}), 60), server)
	}
	offers, extra := collect()

	dropped := metricWith(t, m.s, "leased_packets_dropped_total", map[string]string{"family": "dhcpv4", "reason": "engine_pool_exhausted"})
	served := metricWith(t, m.s, "leased_cluster_claim_waits_total", map[string]string{"family": "dhcpv4", "result": "served"})
	t.Logf("%d OFFERs of %d, dropped pool_exhausted %v, claim waits served %v", len(offers), n, dropped, served)
	if len(offers) != n || dropped != 0 {
		t.Fatalf("%d of %d clients got an OFFER, %v DISCOVERs dropped as pool_exhausted", len(offers), n, dropped)
	}
	if len(extra) > 0 {
		t.Fatalf("unexpected replies: %v", extra)
	}
	if served == 0 {
		t.Errorf("no DISCOVER waited for a claim: the burst did not outrun the first block")
	}
	second := netip.MustParsePrefix("10.99.0.0/16")
	seen := map[netip.Addr]bool{}
	for _, a := range offers {
		if !second.Contains(a) {
			t.Errorf("offered %v, not of pool second (first is b's)", a)
		}
		if seen[a] {
			t.Fatalf("%v offered twice", a)
		}
		seen[a] = true
	}
	// The demand was second's: its blocks grew past the block size,
	// within a quarter of its share among the two live servers.
	largest := 0
	for _, c := range claimsOf(t, m.st)["a"] {
		if c.Pool != "second" {
			t.Errorf("a claimed %v-%v of %s", c.First, c.Last, c.Pool)
		}
		largest = max(largest, int(u32of(c.Last)-u32of(c.First))+1)
	}
	t.Logf("largest claim of second: %d addresses", largest)
	if largest <= 16 {
		t.Errorf("largest claim of second %d: its blocks did not grow while it ran dry", largest)
	}
	if largest > 4096/8 {
		t.Errorf("largest claim of second %d: beyond a quarter of its share (512)", largest)
	}
}
