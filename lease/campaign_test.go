package lease

import (
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/leased/leased/dhcpv4"
)

// TestForceNAK: a renew, rebind or init-reboot the engine would ACK is
// NAKed when the server forces it (reconfiguration with ForceNAK); the
// binding stays, and the client's DORA then gets the same address.
func TestForceNAK(t *testing.T) {
	e := newEngine(t, lanConfig())
	hw := mac(1)
	a := dora(t, e, t0, discover(hw))
	for _, req := range []*Request{renew(hw, a, true), renew(hw, a, false), initReboot(hw, a)} {
		req.ForceNAK = true
		d := e.Handle(t0.Add(time.Minute), req)
		wantReply(t, d, dhcpv4.Nak, netip.Addr{})
		if d.Reply.Message != forceNAKMessage || len(d.Persist) != 0 {
			t.Fatalf("forced NAK: message %q, persist %d", d.Reply.Message, len(d.Persist))
		}
	}
	if got := dora(t, e, t0.Add(2*time.Minute), discover(hw)); got != a {
		t.Fatalf("DORA after forced NAK got %v, want %v", got, a)
	}
	// Not forced: the renew is ACKed as usual.
	wantReply(t, e.Handle(t0.Add(3*time.Minute), renew(hw, a, true)), dhcpv4.Ack, a)
}

// TestRecycle: the binding ends now (StateExpired, client kept), the
// address is free for others, and the same client gets it back; a wrong
// key, an unknown address or a non-bound lease are refused.
func TestRecycle(t *testing.T) {
	e := newEngine(t, lanConfig())
	hw := mac(1)
	a := dora(t, e, t0, discover(hw))
	l, ok := e.Lookup(a)
	if !ok || l.State != StateBound {
		t.Fatalf("Lookup(%v) = %+v, %v", a, l, ok)
	}
	if _, err := e.Recycle(t0, a, []byte("someone else")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Recycle with another key: %v", err)
	}
	if _, err := e.Recycle(t0, ip("10.0.0.99"), nil); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Recycle of unknown address: %v", err)
	}
	now := t0.Add(time.Minute)
	d, err := e.Recycle(now, a, l.ClientID)
	if err != nil {
		t.Fatal(err)
	}
	// Recycled before its expiry: quarantined until then (the client may
	// still use it), keeping the client.
	if len(d.Persist) != 1 || d.Persist[0].State != StateQuarantined || !d.Persist[0].Expiry.Equal(l.Expiry) ||
		string(d.Persist[0].ClientID) != string(l.ClientID) || d.Persist[0].Seq <= l.Seq {
		t.Fatalf("Persist = %+v", d.Persist)
	}
	if _, err := e.Recycle(now, a, nil); !errors.Is(err, ErrNotBound) {
		t.Fatalf("second Recycle: %v", err)
	}
	ps := e.Pools(now)
	if ps[0].Bound != 0 || ps[0].Declined != 1 {
		t.Fatalf("pool counts %d bound, %d held out, want 0 and 1", ps[0].Bound, ps[0].Declined)
	}
	// Revert brings the binding back.
	e.Revert(&d)
	if l2, _ := e.Lookup(a); l2.State != StateBound {
		t.Fatalf("after Revert: %v", l2.State)
	}
	d, _ = e.Recycle(now, a, nil)
	if got := dora(t, e, now.Add(time.Minute), discover(hw)); got != a {
		t.Fatalf("client got %v back, want %v", got, a)
	}
}
