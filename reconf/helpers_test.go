package reconf

import (
	"net/netip"
	"testing"
	"time"

	"github.com/leased/leased/lease"
)

// t0 is the fake clock's origin: whole milliseconds, so times survive the
// record encoding (which keeps client times in ms) unchanged.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

// mkLease returns a bound lease of addr in pool/section, capable (with a
// reconfigure key) when key is true, expiring an hour after t0.
func mkLease(addr, pool string, section int, capable bool) lease.Lease {
	a := netip.MustParseAddr(addr)
	b := a.As4()
	hw := []byte{0x02, 0x00, b[0], b[1], b[2], b[3]}
	l := lease.Lease{
		Addr: a, HType: 1, HWAddr: hw, ClientID: append([]byte{1}, hw...), Pool: pool, Section: section,
		State: lease.StateBound, Start: t0.Add(-time.Minute), Expiry: t0.Add(time.Hour), XID: 7,
	}
	if capable {
		l.ForceRenewNonceCapable = true
		l.ReconfKey = make([]byte, 16)
	}
	return l
}

// fixture: office (sections 0: 10.0.0.10-19, 1: 10.0.1.10-19), lab
// (no sections, 10.1.0.0/24), plus leases that must never be selected.
func fixture() []lease.Lease {
	var ls []lease.Lease
	for i := 10; i < 15; i++ {
		ls = append(ls, mkLease("10.0.0."+itoa(i), "office", 0, true))
		ls = append(ls, mkLease("10.0.1."+itoa(i), "office", 1, true))
	}
	ls = append(ls, mkLease("10.0.1.15", "office", 1, false)) // dhclient: no key
	ls = append(ls, mkLease("10.1.0.5", "lab", -1, true))
	ls = append(ls, mkLease("10.1.0.6", "lab", -1, true))
	rel := mkLease("10.0.0.20", "office", 0, true)
	rel.State = lease.StateReleased
	old := mkLease("10.0.0.21", "office", 0, true)
	old.Expiry = t0 // bound but expired at t0
	dec := mkLease("10.0.0.22", "office", 0, true)
	dec.State = lease.StateDeclined
	return append(ls, rel, old, dec)
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}

func key(addr string) []byte {
	b := netip.MustParseAddr(addr).As4()
	return []byte{1, 0x02, 0x00, b[0], b[1], b[2], b[3]}
}

func ip(s string) netip.Addr { return netip.MustParseAddr(s) }

func start(t *testing.T, m *Manager, now time.Time, sel Selector, o Options, ls []lease.Lease) *CampaignStatus {
	t.Helper()
	st, err := m.Start(now, sel, o, ls)
	if err != nil {
		t.Fatalf("Start(%s): %v", sel, err)
	}
	return st
}

func progress(t *testing.T, m *Manager, id uint32, addr string) ClientProgress {
	t.Helper()
	cs, err := m.Clients(id, ClientFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if c.Addr == ip(addr) {
			return c
		}
	}
	t.Fatalf("campaign %d has no client %s", id, addr)
	return ClientProgress{}
}

func kinds(as []Action) map[ActionKind]int {
	m := map[ActionKind]int{}
	for _, a := range as {
		m[a.Kind]++
	}
	return m
}

func ptr[T any](v T) *T { return &v }
