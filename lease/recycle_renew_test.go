package lease

import (
	"net/netip"
	"testing"
	"time"

	"github.com/leased/leased/dhcpv4"
)

// TestRenewAfterRecycleNAK: a client whose address was recycled (campaign
// --recycle, --recycle-not-capable) or whose lease expired has no binding
// to extend: its RENEWING request is NAKed (RFC 2131 §4.4.5: after expiry
// the client restarts in INIT), so it re-DISCOVERs and takes the current
// configuration; that DORA gives it its address back while it is free.
// Before this, the renew was ACKed and recycling changed nothing for a
// client that renewed (found by e2e TestProofNotCapableRecycle's probe with
// udhcpc).
func TestRenewAfterRecycleNAK(t *testing.T) {
	e := newEngine(t, lanConfig())
	hw := mac(7)
	a := dora(t, e, t0, discover(hw))
	l, _ := e.Lookup(a)
	now := t0.Add(time.Minute)
	if _, err := e.Recycle(now, a, l.ClientID); err != nil {
		t.Fatal(err)
	}
	wantReply(t, e.Handle(now.Add(time.Second), renew(hw, a, true)), dhcpv4.Nak, netip.Addr{})
	if l2, _ := e.Lookup(a); l2.State != StateQuarantined {
		t.Fatalf("after the NAKed renew: state %v, want quarantined", l2.State)
	}
	if got := dora(t, e, now.Add(2*time.Second), discover(hw)); got != a {
		t.Fatalf("DORA after recycle gave %v, want %v back", got, a)
	}
	// A bound lease still renews.
	wantReply(t, e.Handle(now.Add(3*time.Second), renew(hw, a, true)), dhcpv4.Ack, a)

	// Natural expiry: the same.
	late := now.Add(24 * time.Hour)
	e.Expire(late, 100)
	if l3, _ := e.Lookup(a); l3.State != StateExpired {
		t.Fatalf("after Expire: %v", l3.State)
	}
	wantReply(t, e.Handle(late, renew(hw, a, true)), dhcpv4.Nak, netip.Addr{})
}
