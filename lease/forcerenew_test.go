package lease

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/leased/leased/auth"
	"github.com/leased/leased/dhcpv4"
)

// nonceKey is a fixed "random" key the test server supplies with a REQUEST.
func nonceKey(b byte) []byte { return bytes.Repeat([]byte{b}, 16) }

// capableDORA runs DISCOVER/REQUEST for a client that sends option 145
// (HMAC-MD5) and returns the OFFER and ACK decisions.
func capableDORA(t *testing.T, e *Engine, now time.Time, hw []byte, key []byte) (offer, ack Decision) {
	t.Helper()
	d := discover(hw)
	d.ForceRenewNonce = []byte{dhcpv4.AuthAlgHMACMD5}
	offer = e.Handle(now, d)
	wantReply(t, offer, dhcpv4.Offer, ipZero)
	r := selecting(hw, offer.Reply.YIAddr)
	r.ForceRenewNonce = []byte{dhcpv4.AuthAlgHMACMD5}
	r.ReconfKey = key
	ack = e.Handle(now, r)
	wantReply(t, ack, dhcpv4.Ack, offer.Reply.YIAddr)
	return offer, ack
}

var ipZero netip.Addr // wantReply: any address

func TestKeyIssuedInAckOnly(t *testing.T) {
	e := newEngine(t, lanConfig())
	offer, ack := capableDORA(t, e, t0, mac(1), nonceKey(0xa1))
	// RFC 6704 §3.3.1 / dhcpcd: no key (and no option 90) in an OFFER.
	if offer.Reply.ReconfKey != nil || offer.Reply.Replay != 0 {
		t.Fatalf("OFFER carries authentication: key %x replay %d", offer.Reply.ReconfKey, offer.Reply.Replay)
	}
	if !bytes.Equal(ack.Reply.ReconfKey, nonceKey(0xa1)) || ack.Reply.Replay == 0 {
		t.Fatalf("ACK: key %x replay %d, want the supplied key and a replay value", ack.Reply.ReconfKey, ack.Reply.Replay)
	}
	p := ack.Persist[0]
	if !p.ForceRenewNonceCapable || !bytes.Equal(p.ReconfKey, nonceKey(0xa1)) || p.ReplayCounter != ack.Reply.Replay {
		t.Fatalf("persisted record %+v: want capable, the key and replay %d", p, ack.Reply.Replay)
	}
	if p.ReplayCounter < auth.TimeFloor(t0) {
		t.Fatalf("replay %d below the time floor of now %d", p.ReplayCounter, auth.TimeFloor(t0))
	}
	// The key is not aliased: changing the request's buffer does not change it.
	k := nonceKey(0xa1)
	copy(k, "xxxxxxxxxxxxxxxx")
	if ls := e.Leases(Filter{}); !bytes.Equal(ls[0].ReconfKey, nonceKey(0xa1)) {
		t.Fatalf("engine key %x", ls[0].ReconfKey)
	}

	// Renewal: the binding's key again (stable for the binding's life, see
	// TestForgedRenewalKeepsKeyAndXID), a strictly larger counter, even
	// with the clock stepped back an hour.
	r := renew(mac(1), p.Addr, true)
	r.ForceRenewNonce = []byte{dhcpv4.AuthAlgHMACMD5}
	r.ReconfKey = nonceKey(0xb2)
	ack2 := e.Handle(t0.Add(-time.Hour), r)
	wantReply(t, ack2, dhcpv4.Ack, p.Addr)
	if !bytes.Equal(ack2.Persist[0].ReconfKey, nonceKey(0xa1)) || !bytes.Equal(ack2.Reply.ReconfKey, nonceKey(0xa1)) ||
		ack2.Reply.Replay <= ack.Reply.Replay {
		t.Fatalf("renewal: key %x replay %d (previous %d)", ack2.Persist[0].ReconfKey, ack2.Reply.Replay, ack.Reply.Replay)
	}

	// A renewal with no key supplied keeps the record's key and sends none.
	r = renew(mac(1), p.Addr, true)
	ack3 := e.Handle(t0, r)
	if ack3.Reply.ReconfKey != nil || ack3.Reply.Replay != 0 || !bytes.Equal(ack3.Persist[0].ReconfKey, nonceKey(0xa1)) ||
		ack3.Persist[0].ReplayCounter != ack2.Reply.Replay {
		t.Fatalf("renewal without 145: reply key %x replay %d, record %+v", ack3.Reply.ReconfKey, ack3.Reply.Replay, ack3.Persist[0])
	}
}

func TestNoKeyWithoutOption145(t *testing.T) {
	e := newEngine(t, lanConfig())
	d := discover(mac(2))
	o := e.Handle(t0, d)
	r := selecting(mac(2), o.Reply.YIAddr)
	r.ReconfKey = nonceKey(1) // a buggy server filling it anyway: still no key
	a := e.Handle(t0, r)
	if a.Reply.ReconfKey != nil || a.Persist[0].ReconfKey != nil || a.Persist[0].ForceRenewNonceCapable {
		t.Fatalf("key issued to a client without option 145: %+v", a.Persist[0])
	}
	// Option 145 listing only another algorithm: no key either.
	r = renew(mac(2), o.Reply.YIAddr, true)
	r.ForceRenewNonce, r.ReconfKey = []byte{7}, nonceKey(1)
	if a := e.Handle(t0, r); a.Reply.ReconfKey != nil {
		t.Fatal("key issued for option 145 without HMAC-MD5")
	}
	_, err := e.ForceRenew(t0, o.Reply.YIAddr)
	var nc *NotCapableError
	if !errors.As(err, &nc) || !errors.Is(err, ErrNotCapable) {
		t.Fatalf("ForceRenew to a keyless client: %v, want *NotCapableError", err)
	}
}

func TestForceRenewDecision(t *testing.T) {
	e := newEngine(t, lanConfig())
	_, ack := capableDORA(t, e, t0, mac(3), nonceKey(0xc3))
	addr := ack.Reply.YIAddr
	d, err := e.ForceRenew(t0.Add(time.Second), addr)
	if err != nil {
		t.Fatal(err)
	}
	l := d.Reply.Lease
	if d.Reply.Type != dhcpv4.ForceRenew || l.XID != ack.Persist[0].XID || !bytes.Equal(l.HWAddr, mac(3)) ||
		!bytes.Equal(d.Reply.ReconfKey, nonceKey(0xc3)) || d.Reply.Pool == nil || d.Reply.Pool.Name != "lan" {
		t.Fatalf("forcerenew reply %+v lease %+v", d.Reply, l)
	}
	if d.Reply.Replay <= ack.Reply.Replay || len(d.Persist) != 1 || d.Persist[0].ReplayCounter != d.Reply.Replay ||
		d.Persist[0].Seq <= ack.Persist[0].Seq || d.Persist[0].State != StateBound {
		t.Fatalf("forcerenew persist %+v replay %d (ack replay %d)", d.Persist, d.Reply.Replay, ack.Reply.Replay)
	}
	// A second one: larger again, even at the same instant.
	d2, err := e.ForceRenew(t0.Add(time.Second), addr)
	if err != nil || d2.Reply.Replay <= d.Reply.Replay {
		t.Fatalf("second forcerenew: %v replay %d after %d", err, d2.Reply.Replay, d.Reply.Replay)
	}
	// Commit failed: Revert puts the previous record back.
	e.Revert(&d2)
	if ls := e.Leases(Filter{}); ls[0].ReplayCounter != d.Reply.Replay || ls[0].Seq != d.Persist[0].Seq {
		t.Fatalf("after revert: %+v, want replay %d seq %d", ls[0], d.Reply.Replay, d.Persist[0].Seq)
	}
	// The client's renewal after the FORCERENEW gets a counter above it
	// (dhcpcd rejects an ACK repeating the FORCERENEW's value).
	r := renew(mac(3), addr, true)
	r.ForceRenewNonce, r.ReconfKey = []byte{1}, nonceKey(0xd4)
	a := e.Handle(t0, r)
	if a.Reply.Replay <= d2.Reply.Replay {
		t.Fatalf("ACK after forcerenew: replay %d, want > %d", a.Reply.Replay, d2.Reply.Replay)
	}

	// Errors.
	if _, err := e.ForceRenew(t0, ip("10.0.0.99")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown address: %v", err)
	}
	rel := msg(dhcpv4.Release, mac(3))
	rel.CIAddr = addr
	e.Handle(t0, rel)
	if _, err := e.ForceRenew(t0, addr); !errors.Is(err, ErrNotBound) {
		t.Fatalf("released lease: %v, want ErrNotBound", err)
	}
}

func TestForceRenewRestoredCounter(t *testing.T) {
	e := newEngine(t, lanConfig())
	_, ack := capableDORA(t, e, t0, mac(4), nonceKey(0xe5))
	// Restart with the clock an hour behind: the restored counter still wins.
	e2 := newEngine(t, lanConfig())
	for l := range e.All() {
		e2.Restore(l)
	}
	d, err := e2.ForceRenew(t0.Add(-time.Hour), ack.Reply.YIAddr)
	if err != nil || d.Reply.Replay <= ack.Reply.Replay || !bytes.Equal(d.Reply.ReconfKey, nonceKey(0xe5)) {
		t.Fatalf("after restore: %v replay %d (ack %d) key %x", err, d.Reply.Replay, ack.Reply.Replay, d.Reply.ReconfKey)
	}
	// Another client's first ACK also gets a value above the restored one.
	_, ack2 := capableDORA(t, e2, t0.Add(-time.Hour), mac(5), nonceKey(0xf6))
	if ack2.Reply.Replay <= d.Reply.Replay {
		t.Fatalf("new client after restore: replay %d <= %d", ack2.Reply.Replay, d.Reply.Replay)
	}
}

func TestTokenAndNoneModes(t *testing.T) {
	cfg := lanConfig()
	cfg.Pools[0].ForceRenew = ForceRenewAuth{Mode: AuthToken, Token: []byte("s3cret")}
	e := newEngine(t, cfg)
	o := e.Handle(t0, discover(mac(6)))
	if o.Reply.Replay == 0 || o.Reply.ReconfKey != nil {
		t.Fatalf("token-mode OFFER: replay %d key %x, want a replay value and no key", o.Reply.Replay, o.Reply.ReconfKey)
	}
	r := selecting(mac(6), o.Reply.YIAddr)
	r.ForceRenewNonce, r.ReconfKey = []byte{1}, nonceKey(1) // token mode never issues keys
	a := e.Handle(t0, r)
	if a.Reply.Replay <= o.Reply.Replay || a.Reply.ReconfKey != nil || a.Persist[0].ReconfKey != nil ||
		a.Persist[0].ReplayCounter != a.Reply.Replay {
		t.Fatalf("token-mode ACK: replay %d key %x record %+v", a.Reply.Replay, a.Reply.ReconfKey, a.Persist[0])
	}
	inf := msg(dhcpv4.Inform, mac(6))
	inf.CIAddr = a.Reply.YIAddr
	if i := e.Handle(t0, inf); i.Reply.Replay <= a.Reply.Replay {
		t.Fatalf("token-mode INFORM ACK replay %d", i.Reply.Replay)
	}
	d, err := e.ForceRenew(t0, a.Reply.YIAddr)
	if err != nil || d.Reply.ReconfKey != nil || string(d.Reply.Pool.ForceRenew.Token) != "s3cret" {
		t.Fatalf("token-mode forcerenew: %v %+v", err, d.Reply)
	}

	cfg.Pools[0].ForceRenew = ForceRenewAuth{Mode: AuthNone}
	if err := e.ApplyConfig(cfg); err != nil {
		t.Fatal(err)
	}
	d, err = e.ForceRenew(t0, a.Reply.YIAddr)
	if err != nil || d.Reply.ReconfKey != nil || d.Reply.Pool.ForceRenew.Mode != AuthNone {
		t.Fatalf("none-mode forcerenew: %v %+v", err, d.Reply)
	}
	cfg.Pools[0].ForceRenew = ForceRenewAuth{Mode: AuthToken}
	if err := e.ApplyConfig(cfg); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ForceRenew(t0, a.Reply.YIAddr); !errors.Is(err, ErrNotCapable) {
		t.Fatalf("token mode without token: %v", err)
	}
}
