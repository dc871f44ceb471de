package lease6

import (
	"errors"
	"math"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/leased/leased/dhcpv6"
	"github.com/leased/leased/lease"
)

func TestExpireDeleteRecycle(t *testing.T) {
	e := newEngine(t, testConfig())
	ias := bindClient(t, e, t0, duidA, na(1), pd(2))
	a, p := ias[0].Bindings[0].Addr, ias[1].Bindings[0].Prefix.Addr()
	if d := e.Expire(t0.Add(time.Hour), 10); len(d.Persist) != 0 {
		t.Fatalf("expired early: %+v", d.Persist)
	}
	d := e.Expire(t0.Add(2*time.Hour), 1)
	if len(d.Persist) != 1 {
		t.Fatalf("max not honoured: %d", len(d.Persist))
	}
	d2 := e.Expire(t0.Add(2*time.Hour), 10)
	if len(d2.Persist) != 1 {
		t.Fatalf("second batch %d", len(d2.Persist))
	}
	for _, l := range append(d.Persist, d2.Persist...) {
		if l.State != lease.StateExpired || string(l.ClientID) != string(duidA) {
			t.Errorf("expired record %+v", l)
		}
	}
	// Expired bindings: Renew gets NoBinding; the client gets them back on Solicit.
	r := e.Handle(t0.Add(3*time.Hour), msg(dhcpv6.Renew, duidA, asIA(ias[0])))
	if r.Reply.IAs[0].Status != dhcpv6.StatusNoBinding {
		t.Errorf("renew after expiry %+v", r.Reply.IAs)
	}
	ias = bindClient(t, e, t0.Add(3*time.Hour), duidA, na(1), pd(2))
	if ias[0].Bindings[0].Addr != a || ias[1].Bindings[0].Prefix.Addr() != p {
		t.Errorf("returning client %+v", ias)
	}

	now := t0.Add(4 * time.Hour)
	if _, err := e.Recycle(now, a, duidB); !errors.Is(err, lease.ErrNotFound) {
		t.Errorf("recycle with another key: %v", err)
	}
	rd, err := e.Recycle(now, a, duidA)
	// Before its expiry: quarantined until then, client kept.
	if err != nil || len(rd.Persist) != 1 || rd.Persist[0].State != lease.StateQuarantined || !rd.Persist[0].Expiry.Equal(t0.Add(5*time.Hour)) {
		t.Fatalf("recycle %v %+v", err, rd.Persist)
	}
	if _, err := e.Recycle(now, a, nil); !errors.Is(err, lease.ErrNotBound) {
		t.Errorf("recycle twice: %v", err)
	}
	r = e.Handle(now, msg(dhcpv6.Renew, duidA, asIA(ias[0])))
	if r.Reply.IAs[0].Status != dhcpv6.StatusNoBinding {
		t.Errorf("renew after recycle %+v", r.Reply.IAs)
	}
	dd, err := e.Delete(now, p)
	if err != nil || dd.Persist[0].State != lease.StateQuarantined || dd.Persist[0].PrefixLen != 56 {
		t.Fatalf("delete of a valid binding %v %+v", err, dd.Persist)
	}
	dd, err = e.Delete(now, p)
	if err != nil || dd.Persist[0].State != lease.StateDeleted || dd.Persist[0].PrefixLen != 56 {
		t.Fatalf("delete %v %+v", err, dd.Persist)
	}
	if _, ok := e.Lookup(p); ok {
		t.Error("deleted prefix still there")
	}
	if _, err := e.Delete(now, p); !errors.Is(err, lease.ErrNotFound) {
		t.Errorf("delete twice: %v", err)
	}
}

func TestLeasesAndPools(t *testing.T) {
	e := newEngine(t, testConfig())
	ia := bindClient(t, e, t0, duidA, na(1), pd(2))
	bindClient(t, e, t0, duidB, na(1))
	e.Handle(t0, msg(dhcpv6.Solicit, []byte{0xee}, na(1)))
	a := ia[0].Bindings[0].Addr
	pfx := ia[1].Bindings[0].Prefix
	tests := []struct {
		name string
		f    lease.Filter
		want int
	}{
		{"all bound", lease.Filter{}, 3},
		{"pool", lease.Filter{Pool: "office6"}, 3},
		{"other pool", lease.Filter{Pool: "lab6"}, 0},
		{"DUID hex", lease.Filter{Client: "0003000102000000000a"}, 2},
		{"DUID with colons", lease.Filter{Client: "00:03:00:01:02:00:00:00:00:0a"}, 2},
		{"address", lease.Filter{Client: a.String()}, 1},
		{"address inside the prefix", lease.Filter{Client: pfx.Addr().Next().String()}, 1},
		{"range", lease.Filter{From: netip.MustParseAddr("fd77::1:0"), To: netip.MustParseAddr("fd77::1:ffff")}, 2},
		{"v4 range excludes v6", lease.Filter{From: netip.MustParseAddr("10.0.0.0"), To: netip.MustParseAddr("10.255.255.255")}, 0},
		{"offered", lease.Filter{States: []lease.State{lease.StateOffered}}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := e.Leases(tt.f)
			if len(got) != tt.want {
				t.Fatalf("%d leases, want %d: %+v", len(got), tt.want, got)
			}
			if !slices.IsSortedFunc(got, func(a, b lease.Lease) int { return a.Addr.Compare(b.Addr) }) {
				t.Error("not sorted")
			}
		})
	}
	ps := e.Pools(t0)
	want := []lease.PoolStats{
		{Name: "office6", Subnet: netip.MustParsePrefix("fd77::/64"), Size: 65536, Bound: 2, Offered: 1},
		{Name: "office6/pd", Subnet: netip.MustParsePrefix("fd77:100::/40"), Size: 65536, Bound: 1},
		{Name: "lab6", Subnet: netip.MustParsePrefix("fd78::/64"), Size: 4},
	}
	if d := cmp.Diff(want, ps, cmpOpts); d != "" {
		t.Errorf("Pools (-want +got):\n%s", d)
	}
}

// A /64 range and a /32 → /64 delegation: sizes saturate, allocation
// costs nothing proportional to the range and never repeats.
func TestHugeRanges(t *testing.T) {
	cfg := testConfig()
	cfg.Pools[0].Ranges = []Range{{Start: netip.MustParseAddr("fd77::"), End: netip.MustParseAddr("fd77::ffff:ffff:ffff:ffff")}}
	cfg.Pools[0].PD = &PrefixPool{Prefix: netip.MustParsePrefix("fd77:8000::/17"), Length: 64}
	cfg.Pools = append(cfg.Pools, Pool{Name: "all", Subnet: netip.MustParsePrefix("2001:db8::/32"),
		Ranges: []Range{{Start: netip.MustParseAddr("2001:db8::"), End: netip.MustParseAddr("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff")}}})
	e := newEngine(t, cfg)
	seen := map[netip.Addr]bool{}
	for i := range 2000 {
		d := e.Handle(t0, msg(dhcpv6.Request, []byte{1, byte(i >> 8), byte(i)}, na(1), pd(2)))
		for _, l := range d.Persist {
			if seen[l.Addr] {
				t.Fatalf("%v bound twice", l.Addr)
			}
			seen[l.Addr] = true
		}
	}
	ps := e.Pools(t0)
	if ps[0].Size != math.MaxInt || ps[0].Bound != 2000 || ps[1].Size != 1<<47 || ps[1].Bound != 2000 || ps[3].Size != math.MaxInt {
		t.Errorf("pools %+v", ps)
	}
}

// Revert restores exactly the state before the decision.
func TestRevert(t *testing.T) {
	e := newEngine(t, testConfig())
	ias := bindClient(t, e, t0, duidA, na(1), pd(2))
	before := dump(e)
	steps := []*Request{
		msg(dhcpv6.Renew, duidA, asIA(ias[0]), asIA(ias[1])),
		msg(dhcpv6.Release, duidA, asIA(ias[0])),
		msg(dhcpv6.Decline, duidA, asIA(ias[0])),
		msg(dhcpv6.Request, duidB, na(1), pd(2)),
		msg(dhcpv6.Rebind, duidB, na(1, "fd77::1:99")),
	}
	for _, req := range steps {
		d := e.Handle(t0.Add(time.Minute), req)
		if len(d.Persist) == 0 {
			t.Fatalf("%v persisted nothing", req.Type)
		}
		e.Revert(&d)
		if diff := cmp.Diff(before, dump(e), cmpOpts); diff != "" {
			t.Fatalf("after Revert of %v (-want +got):\n%s", req.Type, diff)
		}
		e.Revert(&d) // idempotent
	}
	// A reverted decision does not clobber a later one.
	d1 := e.Handle(t0.Add(time.Minute), msg(dhcpv6.Release, duidA, asIA(ias[0])))
	e.Handle(t0.Add(2*time.Minute), msg(dhcpv6.Request, duidA, na(1)))
	after := dump(e)
	e.Revert(&d1)
	if diff := cmp.Diff(after, dump(e), cmpOpts); diff != "" {
		t.Errorf("stale Revert changed state:\n%s", diff)
	}
	// Expire, Delete, Recycle and ReconfigureClient decisions revert too.
	e2 := newEngine(t, testConfig())
	req := msg(dhcpv6.Request, duidA, na(1), pd(2))
	req.ReconfAccept, req.ReconfKey = true, key16
	dr := e2.Handle(t0, req)
	a := dr.Persist[0].Addr
	before = dump(e2)
	for _, f := range []func() Decision{
		func() Decision { return e2.Expire(t0.Add(3*time.Hour), 10) },
		func() Decision { d, _ := e2.Delete(t0, a); return d },
		func() Decision { d, _ := e2.Recycle(t0, a, nil); return d },
		func() Decision { d, _ := e2.ReconfigureClient(t0, a); return d },
	} {
		d := f()
		if len(d.Persist) == 0 {
			t.Fatal("nothing persisted")
		}
		e2.Revert(&d)
		if diff := cmp.Diff(before, dump(e2), cmpOpts); diff != "" {
			t.Fatalf("(-want +got):\n%s", diff)
		}
	}
}

// dump is the engine's observable state: every record and the held counts.
type state struct {
	Leases []lease.Lease
	Held   []uint64
}

func dump(e *Engine) state {
	var s state
	for l := range e.All() {
		s.Leases = append(s.Leases, l)
	}
	slices.SortFunc(s.Leases, func(a, b lease.Lease) int { return a.Addr.Compare(b.Addr) })
	e.mu.Lock()
	for _, sp := range e.ps.spaces {
		s.Held = append(s.Held, sp.held)
	}
	e.mu.Unlock()
	return s
}

// Restore(All()) into a new engine gives the same state, and the restored
// engine keeps serving: same addresses for returning clients, increasing
// replay counters, no double allocation.
func TestRestoreRoundTrip(t *testing.T) {
	cfg := testConfig()
	e := newEngine(t, cfg)
	for i := range 50 {
		duid := []byte{2, byte(i)}
		req := msg(dhcpv6.Request, duid, na(1), pd(2))
		req.ReconfAccept, req.ReconfKey = i%2 == 0, key16
		e.Handle(t0, req)
		switch i % 5 {
		case 1:
			e.Handle(t0, msg(dhcpv6.Release, duid, na(1, e.Leases(lease.Filter{Client: "02" + hex2(i)})[0].Addr.String())))
		case 2:
			l := e.Leases(lease.Filter{Client: "02" + hex2(i)})[0]
			e.Handle(t0, msg(dhcpv6.Decline, duid, na(1, l.Addr.String())))
		}
	}
	e.Expire(t0.Add(3*time.Hour), 7)
	e2 := newEngine(t, cfg)
	var n int
	for l := range e.All() {
		e2.Restore(l)
		n++
	}
	if d := cmp.Diff(dump(e), dump(e2), cmpOpts); d != "" {
		t.Fatalf("restored state differs (-orig +restored):\n%s", d)
	}
	// Replays restored records in any order: highest Seq wins.
	all := slices.Collect(e.All())
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
	e3 := newEngine(t, cfg)
	for _, l := range all {
		e3.Restore(l)
	}
	if d := cmp.Diff(dump(e), dump(e3), cmpOpts); d != "" {
		t.Fatalf("shuffled restore differs:\n%s", d)
	}
	d1 := e.Handle(t0.Add(4*time.Hour), msg(dhcpv6.Request, []byte{9, 9}, na(1), pd(2)))
	d2 := e2.Handle(t0.Add(4*time.Hour), msg(dhcpv6.Request, []byte{9, 9}, na(1), pd(2)))
	var maxSeq uint64
	for _, l := range all {
		maxSeq = max(maxSeq, l.Seq)
	}
	if d1.Persist[0].Addr != d2.Persist[0].Addr || d2.Persist[0].Seq <= maxSeq {
		t.Errorf("next allocation differs: %v vs %v (seq %d after restored max %d)", d1.Persist[0].Addr, d2.Persist[0].Addr, d2.Persist[0].Seq, maxSeq)
	}
}

func hex2(i int) string { return string("0123456789abcdef"[i>>4]) + string("0123456789abcdef"[i&15]) }

var cmpOpts = cmp.Options{
	cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
	cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }),
	cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) }),
}

// Reserved slots count as taken for everyone else: a range whose every
// address but the reserved one is bound is full for other clients, and
// the reserved client still gets its own; a reserved prefix outside the
// delegation prefix does not shrink it.
func TestReservedSlotsCounted(t *testing.T) {
	cfg := testConfig()
	cfg.Pools[1].Reservations = []Reservation{
		{DUID: duidB, Addr: netip.MustParseAddr("fd78::11")},
		{DUID: []byte{0xdd}, Prefix: netip.MustParsePrefix("fd78:ff::/56")},
	}
	cfg.Pools[1].PD = &PrefixPool{Prefix: netip.MustParsePrefix("fd78:100::/62"), Length: 64}
	e := newEngine(t, cfg)
	lab := func(r *Request) *Request { r.LinkAddr = netip.MustParseAddr("fd78::1"); return r }
	for i := range 3 {
		d := e.Handle(t0, lab(msg(dhcpv6.Request, []byte{1, byte(i)}, na(1), pd(2))))
		if len(d.Persist) != 2 {
			t.Fatalf("client %d: %+v", i, d.Reply.IAs)
		}
	}
	d := e.Handle(t0, lab(msg(dhcpv6.Request, []byte{1, 9}, na(1), pd(2))))
	if d.Reply.IAs[0].Status != dhcpv6.StatusNoAddrsAvail || len(d.Reply.IAs[1].Bindings) != 1 {
		t.Fatalf("4th client: %+v", d.Reply.IAs)
	}
	d = e.Handle(t0, lab(msg(dhcpv6.Request, duidB, na(1))))
	if len(d.Persist) != 1 || d.Persist[0].Addr.String() != "fd78::11" {
		t.Fatalf("reserved client: %+v", d.Reply.IAs)
	}
	d = e.Handle(t0, lab(msg(dhcpv6.Request, []byte{0xdd}, pd(1))))
	if len(d.Persist) != 1 || d.Reply.IAs[0].Bindings[0].Prefix.String() != "fd78:ff::/56" {
		t.Fatalf("reserved prefix: %+v", d.Reply.IAs)
	}
}

// All, Leases and Pools may run while Handle serves (run with -race).
func TestConcurrentReaders(t *testing.T) {
	e := newEngine(t, benchConfig())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 2000 {
			e.Handle(t0, msg(dhcpv6.Request, []byte{3, byte(i >> 8), byte(i)}, na(1), pd(2)))
		}
	}()
	for n := 0; ; n++ {
		for range e.All() {
		}
		e.Leases(lease.Filter{})
		e.Pools(t0)
		select {
		case <-done:
			if got := len(e.Leases(lease.Filter{})); got != 4000 {
				t.Fatalf("%d leases, want 4000", got)
			}
			return
		default:
		}
		if n > 100000 {
			t.Fatal("writer did not finish")
		}
	}
}
