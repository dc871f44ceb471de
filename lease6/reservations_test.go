package lease6

import (
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/leased/leased/dhcpv6"
	"github.com/leased/leased/lease"
)

// TestWithReservations6: a runtime reservation goes to the pool holding
// its address (or, prefix only, its delegation prefix); refusals wrap
// lease.ErrConflict and leave the configuration alone.
func TestWithReservations6(t *testing.T) {
	cfg := testConfig()
	cfg.Pools[0].Reservations = []Reservation{{DUID: []byte{0, 3, 0, 1, 9}, Addr: netip.MustParseAddr("fd77::9")}}
	pf := netip.MustParsePrefix
	extra := []Reservation{
		{DUID: []byte{0, 3, 0, 1, 1}, Addr: netip.MustParseAddr("fd77::1:5"), Prefix: pf("fd77:100:5::/56")}, // placed
		{DUID: []byte{0, 3, 0, 1, 2}, Prefix: pf("fd77:100:6::/56")},                                         // placed, prefix only
		{DUID: []byte{0, 3, 0, 1, 3}, Addr: netip.MustParseAddr("fd79::1")},                                  // outside every pool
		{DUID: []byte{0, 3, 0, 1, 3}, Addr: netip.MustParseAddr("fd77::9")},                                  // reserved in the file
		{DUID: []byte{0, 3, 0, 1, 3}, Prefix: pf("fd77:100:7::/60")},                                         // wrong length
		{DUID: []byte{0, 3, 0, 1, 3}, Addr: netip.MustParseAddr("fd78::10"), Prefix: pf("fd77:100:8::/56")},  // two pools
		{DUID: []byte{0, 3, 0, 1, 1}, Addr: netip.MustParseAddr("fd77::1:6")},                                // DUID already reserved
		{DUID: []byte{0, 3, 0, 1, 4}, Prefix: pf("fd77:100:5::/56")},                                         // prefix taken
	}
	got, errs := cfg.WithReservations(extra)
	for i, err := range errs {
		if (i < 2) != (err == nil) || err != nil && !errors.Is(err, lease.ErrConflict) {
			t.Errorf("extra[%d] %s: err %v", i, extra[i].Target(), err)
		}
	}
	if len(cfg.Pools[0].Reservations) != 1 || len(got.Pools[0].Reservations) != 3 {
		t.Errorf("reservations: file %d, merged %d; want 1 and 3", len(cfg.Pools[0].Reservations), len(got.Pools[0].Reservations))
	}
	if _, err := New(got); err != nil {
		t.Fatalf("the engine refuses the merged configuration: %v", err)
	}
}

// TestPoolsReserved6: reserved addresses and prefixes inside the ranges
// count as Reserved until their client binds them.
func TestPoolsReserved6(t *testing.T) {
	cfg := testConfig()
	duid := []byte{0, 3, 0, 1, 1}
	cfg.Pools[0].Reservations = []Reservation{
		{DUID: duid, Addr: netip.MustParseAddr("fd77::1:5"), Prefix: netip.MustParsePrefix("fd77:100:5::/56")},
		{DUID: []byte{0, 3, 0, 1, 2}, Addr: netip.MustParseAddr("fd77::9")}, // outside the range
	}
	e := newEngine(t, cfg)
	now := time.Unix(1_700_000_000, 0)
	stats := func() (na, pdst lease.PoolStats) {
		for _, p := range e.Pools(now) {
			switch p.Name {
			case "office6":
				na = p
			case "office6/pd":
				pdst = p
			}
		}
		return
	}
	na0, pd0 := stats()
	if na0.Reserved != 1 || pd0.Reserved != 1 {
		t.Fatalf("reserved: addresses %d prefixes %d, want 1 and 1", na0.Reserved, pd0.Reserved)
	}
	bindClient(t, e, now, duid, na(1), pd(2))
	na1, pd1 := stats()
	if na1.Reserved != 0 || pd1.Reserved != 0 || na1.Bound != 1 || pd1.Bound != 1 {
		t.Errorf("after binding: %+v %+v, want nothing reserved, both bound", na1, pd1)
	}
}

// TestReservedFlag6: the records of bindings made from the client's own
// reserved address and prefix carry lease.Lease.Reserved; another
// client's do not.
func TestReservedFlag6(t *testing.T) {
	cfg := testConfig()
	duid := []byte{0, 3, 0, 1, 1}
	resNA, resPD := netip.MustParseAddr("fd77::1:5"), netip.MustParsePrefix("fd77:100:5::/56")
	cfg.Pools[0].Reservations = []Reservation{{DUID: duid, Addr: resNA, Prefix: resPD}}
	e := newEngine(t, cfg)
	now := time.Unix(1_700_000_000, 0)
	persist := func(duid []byte) []lease.Lease {
		t.Helper()
		d := e.Handle(now, msg(dhcpv6.Solicit, duid, na(1), pd(2)))
		var req []IA
		for _, r := range d.Reply.IAs {
			req = append(req, asIA(r))
		}
		d = e.Handle(now, msg(dhcpv6.Request, duid, req...))
		if !d.HasReply || d.Reply.Type != dhcpv6.Reply || len(d.Persist) != 2 {
			t.Fatalf("Request: %+v", d)
		}
		return d.Persist
	}
	for _, l := range persist(duid) {
		if !l.Reserved || (l.Addr != resNA && l.Addr != resPD.Addr()) {
			t.Errorf("reserved client's record %v/%d: Reserved %v", l.Addr, l.PrefixLen, l.Reserved)
		}
	}
	for _, l := range persist([]byte{0, 3, 0, 1, 2}) {
		if l.Reserved {
			t.Errorf("another client's record %v/%d flagged Reserved", l.Addr, l.PrefixLen)
		}
	}
}
