package lease

import (
	"net/netip"
	"os"
	"runtime"
	"testing"
	"time"
	"unsafe"

	"github.com/leased/leased/dhcpv4"
)

func bigConfig(bits int) Config {
	return Config{LeaseTime: time.Hour, Pools: []Pool{{
		Name: "big", Subnet: netip.PrefixFrom(ip("10.0.0.0"), bits), Gateway: ip("10.0.0.1"),
	}}}
}

func bigMAC(i int) []byte {
	return []byte{0x02, byte(i >> 32), byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)}
}

// BenchmarkDORA: DISCOVER + REQUEST (SELECTING) for distinct clients in
// a /8 pool; allocations include the decision's Persist and Reply.Lease.
func BenchmarkDORA(b *testing.B) { benchDORA(b, nil) }

// BenchmarkDORAScratch: the same with a Request.Scratch, as leased's
// server calls the engine.
func BenchmarkDORAScratch(b *testing.B) { benchDORA(b, new(Scratch)) }

func benchDORA(b *testing.B, sc *Scratch) {
	e := newEngine(b, bigConfig(8))
	d := &Request{Type: dhcpv4.Discover, HType: 1, LinkAddr: srv, ServerAddr: srv, Scratch: sc}
	r := &Request{Type: dhcpv4.Request, HType: 1, LinkAddr: srv, ServerAddr: srv, ServerID: srv, ServerIDOurs: true, Scratch: sc}
	hw := make([]byte, 6)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		copy(hw, bigMAC(i))
		d.HWAddr, r.HWAddr = hw, hw
		o := e.Handle(t0, d)
		r.RequestedIP = o.Reply.YIAddr
		if a := e.Handle(t0, r); a.Reply.Type != dhcpv4.Ack {
			b.Fatalf("client %d: %+v", i, a)
		}
	}
}

// BenchmarkRenew: RENEWING for existing bindings of a /16.
func BenchmarkRenew(b *testing.B) {
	e := newEngine(b, bigConfig(16))
	const n = 50000
	addrs := make([]netip.Addr, n)
	for i := range n {
		addrs[i] = dora(b, e, t0, &Request{Type: dhcpv4.Discover, HType: 1, HWAddr: bigMAC(i), LinkAddr: srv, ServerAddr: srv})
	}
	b.ReportAllocs()
	i := 0
	r := &Request{Type: dhcpv4.Request, HType: 1, Unicast: true, LinkAddr: srv, ServerAddr: srv}
	for b.Loop() {
		i = (i + 1) % n
		r.HWAddr, r.CIAddr = bigMAC(i), addrs[i]
		if a := e.Handle(t0, r); a.Reply.Type != dhcpv4.Ack {
			b.Fatalf("%+v", a)
		}
	}
}

// BenchmarkDiscoverNearlyFull: allocation in a /16 with 99 % bound, the
// next-fit cursor scanning past bound addresses.
func BenchmarkDiscoverNearlyFull(b *testing.B) {
	e := newEngine(b, bigConfig(16))
	for i := range 65000 {
		dora(b, e, t0, &Request{Type: dhcpv4.Discover, HType: 1, HWAddr: bigMAC(i), LinkAddr: srv, ServerAddr: srv})
	}
	b.ReportAllocs()
	i := 1 << 20
	for b.Loop() {
		i++
		// Offers held 10 s each; advance time so holds end and the pool
		// never fills.
		o := e.Handle(t0.Add(time.Duration(i)*time.Second), &Request{Type: dhcpv4.Discover, HType: 1, HWAddr: bigMAC(i), LinkAddr: srv, ServerAddr: srv})
		if !o.HasReply {
			b.Fatalf("%+v", o)
		}
	}
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestMemoryPerLease binds LEASE_MEM_N (default 1,000,000) clients through
// DISCOVER+REQUEST and reports the heap growth per lease. Gated by
// LEASE_MEM=1 because it takes a few seconds and about 300 MB.
func TestMemoryPerLease(t *testing.T) {
	if os.Getenv("LEASE_MEM") == "" {
		t.Skip("set LEASE_MEM=1 to measure memory at 1M leases")
	}
	const n = 1_000_000
	e := newEngine(t, bigConfig(11)) // 2M addresses
	before := heapInUse()
	start := time.Now()
	d := &Request{Type: dhcpv4.Discover, HType: 1, LinkAddr: srv, ServerAddr: srv}
	r := &Request{Type: dhcpv4.Request, HType: 1, LinkAddr: srv, ServerAddr: srv, ServerID: srv, ServerIDOurs: true}
	for i := range n {
		hw := bigMAC(i)
		d.HWAddr, r.HWAddr = hw, hw
		o := e.Handle(t0, d)
		r.RequestedIP = o.Reply.YIAddr
		if a := e.Handle(t0, r); a.Reply.Type != dhcpv4.Ack {
			t.Fatalf("client %d: %+v", i, a)
		}
	}
	elapsed := time.Since(start)
	e.Expire(t0.Add(time.Minute), 0) // offer holds end; nothing expires yet
	after := heapInUse()
	if got := len(e.Leases(Filter{States: []State{StateBound}})); got != n {
		t.Fatalf("%d bound, want %d", got, n)
	}
	t.Logf("%d bound leases: heap %d MB, %.0f bytes/lease; %v per DORA",
		n, (after-before)>>20, float64(after-before)/n, elapsed/n)
	t.Logf("record %d bytes, arena records %d, expiry heap %d entries, offer heap %d",
		unsafe.Sizeof(rec{}), e.rs.arena.Len(), len(e.expTim), len(e.offerTim))
	runtime.KeepAlive(e)
}
