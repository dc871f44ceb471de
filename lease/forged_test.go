package lease

import (
	"bytes"
	"testing"
	"time"

	"github.com/leased/leased/dhcpv4"
)

// capableRenew is a renewing DHCPREQUEST with option 145 (HMAC-MD5), the
// given xid and a fresh key from the server.
func capableRenew(hw []byte, l Lease, xid uint32, key []byte) *Request {
	r := renew(hw, l.Addr, true)
	r.XID = xid
	r.ForceRenewNonce = []byte{dhcpv4.AuthAlgHMACMD5}
	r.ReconfKey = key
	return r
}

// A forged renewal (the victim's chaddr and address, another xid) must not
// replace the reconfigure key the real client holds: the key is chosen when
// the binding is created and re-sent unchanged in every later ACK. The xid
// history keeps the real client's xid, and FORCERENEW alternates between
// the two (dhcpcd drops one whose xid is not its last one).
func TestForgedRenewalKeepsKeyAndXID(t *testing.T) {
	e := newEngine(t, lanConfig())
	_, ack := capableDORA(t, e, t0, mac(5), nonceKey(0xa1))
	l := ack.Persist[0]
	realXID := l.XID

	// The real client renews with its own new xid: same key re-sent (the
	// client overwrites its stored key with the same value), a larger
	// replay value, and the xid history moves on.
	a2 := e.Handle(t0.Add(time.Minute), capableRenew(mac(5), l, 0x2222, nonceKey(0xb2)))
	wantReply(t, a2, dhcpv4.Ack, l.Addr)
	if !bytes.Equal(a2.Reply.ReconfKey, nonceKey(0xa1)) || a2.Reply.Replay <= ack.Reply.Replay {
		t.Fatalf("real renewal: ACK key %x replay %d, want the binding's key %x and replay > %d",
			a2.Reply.ReconfKey, a2.Reply.Replay, nonceKey(0xa1), ack.Reply.Replay)
	}
	if p := a2.Persist[0]; p.XID != 0x2222 || p.PrevXID != realXID || !bytes.Equal(p.ReconfKey, nonceKey(0xa1)) {
		t.Fatalf("after real renewal: xid %#x prev %#x key %x", p.XID, p.PrevXID, p.ReconfKey)
	}
	// A retransmission of the same transaction keeps the history.
	a2b := e.Handle(t0.Add(time.Minute+time.Second), capableRenew(mac(5), l, 0x2222, nonceKey(0xb3)))
	if p := a2b.Persist[0]; p.XID != 0x2222 || p.PrevXID != realXID {
		t.Fatalf("after retransmission: xid %#x prev %#x, want 0x2222 and %#x", p.XID, p.PrevXID, realXID)
	}

	// The attacker: victim's chaddr and ciaddr, its own xid and the
	// server's fresh key for this request.
	f := e.Handle(t0.Add(2*time.Minute), capableRenew(mac(5), l, 0xbad, nonceKey(0xee)))
	wantReply(t, f, dhcpv4.Ack, l.Addr)
	p := f.Persist[0]
	if !bytes.Equal(p.ReconfKey, nonceKey(0xa1)) {
		t.Fatalf("forged renewal replaced the reconfigure key: %x, want %x", p.ReconfKey, nonceKey(0xa1))
	}
	if p.XID != 0xbad || p.PrevXID != 0x2222 {
		t.Fatalf("after forged renewal: xid %#x prev %#x, want 0xbad and 0x2222", p.XID, p.PrevXID)
	}

	// FORCERENEW: signed with the real client's key; attempts alternate
	// between the latest xid and the previous one.
	var xids []uint32
	var last uint64
	for i := range 4 {
		d, err := e.ForceRenew(t0.Add(3*time.Minute+time.Duration(i)*time.Second), l.Addr)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(d.Reply.ReconfKey, nonceKey(0xa1)) {
			t.Fatalf("forcerenew %d signed with %x, want %x", i, d.Reply.ReconfKey, nonceKey(0xa1))
		}
		if d.Reply.Replay <= last {
			t.Fatalf("forcerenew %d replay %d not above %d", i, d.Reply.Replay, last)
		}
		last = d.Reply.Replay
		xids = append(xids, d.Reply.XID)
	}
	if want := []uint32{0xbad, 0x2222, 0xbad, 0x2222}; !slicesEqual(xids, want) {
		t.Fatalf("forcerenew xids %#x, want %#x", xids, want)
	}

	// After release the binding ends: the next binding gets a fresh key.
	rel := msg(dhcpv4.Release, mac(5))
	rel.CIAddr = l.Addr
	e.Handle(t0.Add(4*time.Minute), rel)
	_, ack2 := capableDORA(t, e, t0.Add(5*time.Minute), mac(5), nonceKey(0xc4))
	if !bytes.Equal(ack2.Reply.ReconfKey, nonceKey(0xc4)) {
		t.Fatalf("new binding after release: key %x, want a fresh one %x", ack2.Reply.ReconfKey, nonceKey(0xc4))
	}
}

// A client that never changed its xid has no history: every FORCERENEW
// carries the one xid.
func TestForceRenewSingleXID(t *testing.T) {
	e := newEngine(t, lanConfig())
	_, ack := capableDORA(t, e, t0, mac(6), nonceKey(0xa6))
	for i := range 3 {
		d, err := e.ForceRenew(t0.Add(time.Duration(i+1)*time.Second), ack.Reply.YIAddr)
		if err != nil {
			t.Fatal(err)
		}
		if d.Reply.XID != ack.Persist[0].XID || d.Persist[0].PrevXID != 0 {
			t.Fatalf("forcerenew %d: xid %#x prev %#x, want %#x and none", i, d.Reply.XID, d.Persist[0].PrevXID, ack.Persist[0].XID)
		}
	}
}

// The xid history survives a restart (Restore of the persisted record).
func TestPrevXIDRestored(t *testing.T) {
	e := newEngine(t, lanConfig())
	_, ack := capableDORA(t, e, t0, mac(7), nonceKey(0xa7))
	a2 := e.Handle(t0.Add(time.Minute), capableRenew(mac(7), ack.Persist[0], 0x7777, nonceKey(0xb7)))
	e2 := newEngine(t, lanConfig())
	e2.Restore(a2.Persist[0])
	l, ok := e2.Lookup(ack.Reply.YIAddr)
	if !ok || l.XID != 0x7777 || l.PrevXID != ack.Persist[0].XID || !bytes.Equal(l.ReconfKey, nonceKey(0xa7)) {
		t.Fatalf("restored %+v", l)
	}
}

func slicesEqual(a, b []uint32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
