package lease

import (
	"net/netip"
	"testing"
	"time"

	"github.com/leased/leased/dhcpv4"
)

// TestAllChunked: All copies records in chunks without holding the lock
// while yielding, yields every record exactly once with its content, and
// records created meanwhile do not make it yield an address twice.
func TestAllChunked(t *testing.T) {
	e := newEngine(t, bigConfig(16))
	n := 3*allChunk + 5
	want := make(map[netip.Addr]Lease, n)
	for i := range n {
		a := netip.AddrFrom4([4]byte{10, 0, byte((i + 2) >> 8), byte(i + 2)})
		l := Lease{Seq: uint64(i + 1), Addr: a, ClientID: append([]byte{1}, bigMAC(i)...), HType: 1, HWAddr: bigMAC(i),
			Pool: "big", Section: -1, State: StateBound, Start: t0, Expiry: t0.Add(time.Hour)}
		e.Restore(l)
		want[a] = l
	}
	seen := make(map[netip.Addr]bool)
	extra := 0
	for l := range e.All() {
		if seen[l.Addr] {
			t.Fatalf("%v yielded twice", l.Addr)
		}
		seen[l.Addr] = true
		w, ok := want[l.Addr]
		if !ok {
			extra++
			continue
		}
		if l.Seq != w.Seq || string(l.HWAddr) != string(w.HWAddr) || string(l.ClientID) != string(w.ClientID) || !l.Expiry.Equal(w.Expiry) {
			t.Fatalf("%v: got %+v, want %+v", l.Addr, l, w)
		}
		if len(seen)%1000 == 0 {
			// Handle inside the loop: would deadlock if All held the lock.
			dora(t, e, t0, &Request{Type: dhcpv4.Discover, HType: 1, HWAddr: bigMAC(1<<30 + len(seen)), LinkAddr: srv, ServerAddr: srv})
		}
	}
	for a := range want {
		if !seen[a] {
			t.Fatalf("%v not yielded", a)
		}
	}
	if extra > n/1000 {
		t.Fatalf("%d records yielded that did not exist before, at most %d created", extra, n/1000)
	}
	// Early stop is honoured.
	c := 0
	for range e.All() {
		c++
		if c == allChunk+1 {
			break
		}
	}
	if c != allChunk+1 {
		t.Fatalf("stopped after %d", c)
	}
}
