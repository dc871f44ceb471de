package server

import (
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/leased/leased/dhcpv4"
	"github.com/leased/leased/dhcpv6"
	"github.com/leased/leased/internal/pgtest"
	"github.com/leased/leased/lease"
)

// coldConfig is one pool of 4,096 addresses (127.0.16.0–127.0.31.255)
// on the relay's link.
func coldConfig() lease.Config {
	cfg := clusterConfig()
	p := &cfg.Pools[0]
	p.Subnet = netip.MustParsePrefix("127.0.0.0/16")
	p.Sections = []lease.Section{{Index: 0, Start: netip.MustParseAddr("127.0.16.0"), End: netip.MustParseAddr("127.0.31.255")}}
	return cfg
}

// metricWith returns the value of metric name of s whose labels include
// want (0 when there is none).
func metricWith(t *testing.T, s *Server, name string, want map[string]string) float64 {
	v, _ := metricLookup(t, s, name, want)
	return v
}

// metricLookup returns the value of the first counter or gauge name of s
// whose labels include want, and whether there was one.
func metricLookup(t *testing.T, s *Server, name string, want map[string]string) (float64, bool) {
	t.Helper()
	mfs, err := s.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metric:
		for _, m := range mf.GetMetric() {
			got := map[string]string{}
			for _, lp := range m.GetLabel() {
				got[lp.GetName()] = lp.GetValue()
			}
			for k, v := range want {
				if got[k] != v {
					continue metric
				}
			}
			if c := m.GetCounter(); c != nil {
				return c.GetValue(), true
			}
			return m.GetGauge().GetValue(), true
		}
	}
	return 0, false
}

// TestClusterColdBurst: every client at once after a power cut. A fresh
// cluster server (one block of 64 claimed at start, the claim manager
// checking every 250 ms as with a 1 s heartbeat) gets 1,000 new clients'
// DISCOVERs within a few milliseconds, far more than its claims hold.
// Every client gets an OFFER — the DISCOVERs that found the claims empty
// waited for the next claims (leased_cluster_claim_waits_total{result=
// "served"}) instead of being dropped (engine_pool_exhausted stays 0) —
// no address is offered twice, every REQUEST is ACKed, and every ACK is
// the database's row. The blocks grew while the pool ran dry (claim
// ahead), and no block exceeds a quarter of the pool (the fairness cap).
// Without the claim wait most are dropped (872 of 1,000 in one run: only
// 128 OFFERs, the first block and the one the manager claimed).
func TestClusterColdBurst(t *testing.T) {
	dsn := pgtest.New(t).CreateDB(t)
	cfg := coldConfig()
	m := startMemberWith(t, dsn, "a", cfg, 5*time.Second, func(o *ClusterOptions) {
		o.Heartbeat, o.TakeOverAfter, o.Check = time.Second, 3*time.Second, 250*time.Millisecond
		o.BlockSize = 0 // the default, 64
	})
	if by := claimsOf(t, m.st); len(by["a"]) != 1 || !by["a"][0].Last.Less(netip.MustParseAddr("127.0.16.64")) {
		t.Fatalf("a fresh server holds %+v, want one block of 64", by["a"])
	}

	const n = 1000
	server := netip.MustParseAddr("127.0.0.1")
	macs := make([][6]byte, n)
	discovers := make([][]byte, n)
	for i := range n {
		macs[i] = testMAC(7, i)
		discovers[i] = withSecs(buildMsg(t, clientMsg{typ: dhcpv4.Discover, xid: uint32(i), mac: macs[i], giaddr: clusterRelay}), 60)
	}

	// Collect the OFFERs while four "relays" feed the burst.
	collect := collectOffers(m.rec, n, 5*time.Second)
	start := time.Now()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := g; i < n; i += 4 {
				feed(t, m.s, discovers[i], server)
			}
		})
	}
	wg.Wait()
	fed := time.Since(start)
	offers, extra := collect()
	t.Logf("%d DISCOVERs fed in %v, %d OFFERs within %v", n, fed, len(offers), time.Since(start))

	dropped := metricWith(t, m.s, "leased_packets_dropped_total", map[string]string{"family": "dhcpv4", "reason": "engine_pool_exhausted"})
	served := metricWith(t, m.s, "leased_cluster_claim_waits_total", map[string]string{"family": "dhcpv4", "result": "served"})
	t.Logf("dropped pool_exhausted %v, claim waits served %v", dropped, served)
	if len(offers) != n || dropped != 0 {
		t.Fatalf("%d of %d clients got an OFFER, %v DISCOVERs dropped as pool_exhausted", len(offers), n, dropped)
	}
	if len(extra) > 0 {
		t.Fatalf("unexpected replies: %v", extra)
	}
	if served == 0 {
		t.Errorf("no DISCOVER waited for a claim: the burst did not outrun the first block")
	}
	seen := map[netip.Addr][6]byte{}
	for mac, a := range offers {
		if prev, dup := seen[a]; dup {
			t.Fatalf("%v offered to %x and %x", a, prev, mac)
		}
		seen[a] = mac
	}

	// Claim ahead, within the fairness cap: the blocks grew past the
	// default size, none beyond a quarter of the pool (one live server).
	by := claimsOf(t, m.st)
	largest := 0
	for _, c := range by["a"] {
		size := int(u32of(c.Last)-u32of(c.First)) + 1
		largest = max(largest, size)
		if size > 4096/4 {
			t.Errorf("claim %v-%v of %d addresses: more than a quarter of the pool", c.First, c.Last, size)
		}
	}
	t.Logf("%d claims, largest %d addresses", len(by["a"]), largest)
	if largest <= 64 {
		t.Errorf("largest claim %d addresses: the blocks did not grow while the pool ran dry", largest)
	}

	// Every client REQUESTs its offer: all ACKed and in the database.
	acked := map[netip.Addr][6]byte{}
	for i := range n {
		feed(t, m.s, withSecs(buildMsg(t, clientMsg{typ: dhcpv4.Request, xid: uint32(i), mac: macs[i], giaddr: clusterRelay,
			reqIP: offers[macs[i]], serverID: server}), 60), server)
		if i%32 == 31 || i == n-1 {
			for len(acked) < i+1 {
				ack, ok := m.rec.wait(t, 5*time.Second)
				if !ok || ack.Type() != dhcpv4.Ack {
					t.Fatalf("REQUEST %d: no ACK (%v)", i, ack)
				}
				var mac [6]byte
				copy(mac[:], ack.HWAddr())
				acked[ack.YIAddr] = mac
			}
		}
	}
	checkDatabase(t, m.st, acked)
}

func u32of(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// TestClusterColdBurst6: the same for DHCPv6. A fresh cluster server
// (blocks of 16 addresses and 16 prefixes at start) gets 300 new clients'
// Solicits (IA_NA and IA_PD) at once: every Advertise carries an address
// and a prefix — a Solicit that found the claims empty waited for a claim
// instead of being answered NoAddrsAvail / NoPrefixAvail, which RFC 8415
// §18.2.9 makes the client ignore — and no address or prefix is
// advertised twice. Without the claim wait most Advertises carry
// NoAddrsAvail / NoPrefixAvail (274 of 300 in one run).
func TestClusterColdBurst6(t *testing.T) {
	dsn := pgtest.New(t).CreateDB(t)
	m := startMember6(t, dsn, "a")
	const n = 300
	relay := &relay6{t: t}
	from := netip.MustParseAddrPort("[::1]:5470")
	solicits := make([][]byte, n)
	for i := range n {
		c := &client6{duid: []byte{0, 3, 0, 1, 2, 0, 7, 7, byte(i >> 8), byte(i)}}
		solicits[i] = relay.wrap(msg6(t, c, dhcpv6.Solicit, uint32(i)))
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := g; i < n; i += 4 {
				feed6(t, m.s, solicits[i], from)
			}
		})
	}
	addrs, prefixes := map[netip.Addr]bool{}, map[netip.Prefix]bool{}
	empty := 0
	for range n {
		x, ok := m.rec6.wait6(t, 3*time.Second)
		if !ok {
			break
		}
		if x.Type != dhcpv6.Advertise {
			t.Fatalf("%v, want Advertise", x.Type)
		}
		a, _, p, _ := bindings(t, x)
		if !a.IsValid() || !p.IsValid() {
			empty++
			continue
		}
		if addrs[a] || prefixes[p] {
			t.Fatalf("%v / %v advertised twice", a, p)
		}
		addrs[a], prefixes[p] = true, true
	}
	wg.Wait()
	served := metricWith(t, m.s, "leased_cluster_claim_waits_total", map[string]string{"family": "dhcpv6", "result": "served"})
	t.Logf("%d Advertises with an address and a prefix, %d without; claim waits served %v", len(addrs), empty, served)
	if len(addrs) != n || empty != 0 {
		t.Fatalf("%d of %d clients advertised an address and a prefix, %d Advertises without", len(addrs), n, empty)
	}
	if served == 0 {
		t.Errorf("no Solicit waited for a claim: the burst did not outrun the first blocks")
	}
}

// collectOffers gathers, on a goroutine of its own, the OFFERs rec gets
// until n clients have one or timeout passes; result waits for it and
// returns each client's offered address and anything unexpected (not an
// OFFER, a second OFFER for one client).
func collectOffers(rec *recorder, n int, timeout time.Duration) (result func() (map[[6]byte]netip.Addr, []string)) {
	offers := map[[6]byte]netip.Addr{}
	var extra []string
	collected := make(chan struct{})
	go func() {
		defer close(collected)
		deadline := time.After(timeout)
		for len(offers) < n {
			select {
			case x := <-rec.got:
				var msg dhcpv4.Message
				if err := msg.Decode(x.pkt); err != nil || msg.Type() != dhcpv4.Offer {
					extra = append(extra, "not an OFFER")
					continue
				}
				var mac [6]byte
				copy(mac[:], msg.HWAddr())
				if _, dup := offers[mac]; dup {
					extra = append(extra, "second OFFER for one client")
				}
				offers[mac] = msg.YIAddr
			case <-deadline:
				return
			}
		}
	}()
	return func() (map[[6]byte]netip.Addr, []string) {
		<-collected
		return offers, extra
	}
}
