package server

import (
	"net/netip"
	"testing"
	"time"

	"github.com/leased/leased/dhcpv4"
	"github.com/leased/leased/lease"
)

// TestTrimLeaseTimes: an ACK that left 2.4 s after its decision (a slow
// commit) promises 2 s less, so the client's lease ends no later than the
// stored record (e2e TestClusterStandbyFailover saw 157 ACKs 2.4 s late
// after a fail-over, each outliving its row); an ordinary commit (under
// 1 s) and records of other addresses change nothing.
func TestTrimLeaseTimes(t *testing.T) {
	now := time.Date(2026, 12, 5, 0, 19, 8, 186e6, time.UTC)
	a := netip.MustParseAddr("10.77.20.100")
	ack := func() lease.Reply {
		return lease.Reply{Type: dhcpv4.Ack, YIAddr: a, LeaseTime: 600 * time.Second, T1: 300 * time.Second, T2: 525 * time.Second}
	}
	rec := func(decided time.Duration) []lease.Lease {
		return []lease.Lease{{Addr: a, State: lease.StateBound, Expiry: now.Add(-decided).Add(600 * time.Second)}}
	}
	r := ack()
	trimLeaseTimes(&r, rec(2400*time.Millisecond), now)
	if r.LeaseTime != 598*time.Second || r.T1 != 298*time.Second || r.T2 != 523*time.Second {
		t.Errorf("2.4 s late: %v %v %v, want 598s 298s 523s", r.LeaseTime, r.T1, r.T2)
	}
	for _, tc := range []struct {
		name string
		recs []lease.Lease
	}{
		{"ordinary commit", rec(300 * time.Millisecond)},
		{"another address", []lease.Lease{{Addr: netip.MustParseAddr("10.77.20.101"), State: lease.StateBound, Expiry: now}}},
		{"no record", nil},
	} {
		r := ack()
		trimLeaseTimes(&r, tc.recs, now)
		if w := ack(); r.LeaseTime != w.LeaseTime || r.T1 != w.T1 || r.T2 != w.T2 {
			t.Errorf("%s: %v %v %v, want unchanged", tc.name, r.LeaseTime, r.T1, r.T2)
		}
	}
	// Never below a second, never negative T1/T2.
	r = ack()
	trimLeaseTimes(&r, []lease.Lease{{Addr: a, State: lease.StateBound, Expiry: now.Add(-time.Hour)}}, now)
	if r.LeaseTime != time.Second || r.T1 != 0 || r.T2 != 0 {
		t.Errorf("row expired long ago: %v %v %v", r.LeaseTime, r.T1, r.T2)
	}
}
