package lease

import (
	"testing"
	"time"

	"github.com/leased/leased/dhcpv4"
)

// TestDecisionAllocs bounds the allocations of the campaign's two engine
// calls per client (issue #17): a FORCERENEW decision and the renewal that
// answers it. Each carries the record to persist, the reply's copy and the
// undo record in one allocation (oneLease), and a record's byte fields in
// one more (rec.lease); the FORCERENEW's new replay value is a recExt the
// engine keeps, and the reply's key a copy.
func TestDecisionAllocs(t *testing.T) {
	e := newEngine(t, lanConfig())
	_, ack := capableDORA(t, e, t0, mac(1), nonceKey(0xa1))
	a := ack.Reply.YIAddr
	renew := &Request{Type: dhcpv4.Request, HType: 1, HWAddr: mac(1), CIAddr: a, Unicast: true,
		LinkAddr: srv, ServerAddr: srv, ForceRenewNonce: []byte{dhcpv4.AuthAlgHMACMD5}}
	now := t0
	fr := testing.AllocsPerRun(100, func() {
		now = now.Add(time.Second)
		if _, err := e.ForceRenew(now, a); err != nil {
			t.Fatal(err)
		}
	})
	if fr > 4 {
		t.Errorf("ForceRenew: %.1f allocations, want <= 4", fr)
	}
	rn := testing.AllocsPerRun(100, func() {
		now = now.Add(time.Second)
		if d := e.Handle(now, renew); d.Reply.Type != dhcpv4.Ack {
			t.Fatalf("renewal: %+v", d.Reply)
		}
	})
	if rn > 2 {
		t.Errorf("renewal: %.1f allocations, want <= 2", rn)
	}
	t.Logf("allocations: ForceRenew %.1f, renewal %.1f", fr, rn)
}
