package server

import (
	"time"

	"github.com/leased/leased/dhcpv4"
	"github.com/leased/leased/lease"
)

// trimLeaseTimes shortens the times of an ACK whose reply left long after
// its decision — a slow commit (a database fail-over, a saturated
// machine) — so that the client's lease never outlasts the record the
// store holds. The lease time in option 51 is relative to the client's
// receipt (RFC 2131 §3.1: the client records the lease expiry as the time
// of its request plus the lease time), while the record's expiry counts
// from the decision: after a commit of 2.4 s the client would hold the
// address 2.4 s past the row, and in a cluster another server may give it
// away at the row's expiry. The cut is in whole seconds and only when the
// delay reached one (an ordinary commit changes nothing).
func trimLeaseTimes(r *lease.Reply, recs []lease.Lease, now time.Time) {
	if r.Type != dhcpv4.Ack || r.LeaseTime <= 0 || r.LeaseTime >= infiniteLease {
		return
	}
	for i := range recs {
		if recs[i].Addr != r.YIAddr || recs[i].State != lease.StateBound {
			continue
		}
		lag := r.LeaseTime - recs[i].Expiry.Sub(now)
		if lag < time.Second {
			return
		}
		cut := lag.Truncate(time.Second)
		r.LeaseTime = max(r.LeaseTime-cut, time.Second)
		r.T1 = max(r.T1-cut, 0)
		r.T2 = max(r.T2-cut, 0)
		return
	}
}

// infiniteLease: option 51's 0xffffffff (RFC 2131 §3.3), never trimmed.
const infiniteLease = time.Duration(0xffffffff) * time.Second
