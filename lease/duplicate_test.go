package lease

import (
	"testing"
	"time"

	"github.com/leased/leased/dhcpv4"
)

// TestForcedNAKDuplicate (issue #10 item 6): one transaction, one answer. A
// renewal NAKed because a campaign forces NAK is NAKed again when a copy
// of it (the same client and xid: a relay forwarding the client's unicast
// renew as well, or the client's retransmission, RFC 2131 §4.1) comes
// back after the campaign stopped asking for NAK (it saw the first NAK).
// A new transaction (another xid) is answered on its own merits, and the
// memory ends with the client's next binding.
func TestForcedNAKDuplicate(t *testing.T) {
	for _, tc := range []struct {
		name string
		req  func(hw []byte, a time.Time, addr Lease) *Request
	}{
		{"renewing", func(hw []byte, _ time.Time, l Lease) *Request { return renew(hw, l.Addr, true) }},
		{"rebinding", func(hw []byte, _ time.Time, l Lease) *Request { return renew(hw, l.Addr, false) }},
		{"init-reboot", func(hw []byte, _ time.Time, l Lease) *Request { return initReboot(hw, l.Addr) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEngine(t, lanConfig())
			addr := dora(t, e, t0, discover(mac(9)))
			l, _ := e.Lookup(addr)

			r := tc.req(mac(9), t0, l)
			r.XID = 0x4242
			r.ForceNAK = true
			d := e.Handle(t0.Add(time.Second), r)
			wantReply(t, d, dhcpv4.Nak, ipZero)

			// The duplicate: same xid, the campaign no longer forces NAK.
			dup := tc.req(mac(9), t0, l)
			dup.XID = 0x4242
			d = e.Handle(t0.Add(2*time.Second), dup)
			if !d.HasReply || d.Reply.Type != dhcpv4.Nak || d.Reply.Message != forceNAKMessage || len(d.Persist) != 0 {
				t.Fatalf("duplicate of a NAKed transaction: %+v, want the same NAK and nothing persisted", d)
			}
			// A retransmission much later (after the memory's window) is a
			// request like any other.
			late := tc.req(mac(9), t0, l)
			late.XID = 0x4242
			if d := e.Handle(t0.Add(time.Second+forcedNAKMemory+time.Second), late); d.HasReply && d.Reply.Type == dhcpv4.Nak {
				t.Fatalf("retransmission after %v still NAKed: %+v", forcedNAKMemory, d.Reply)
			}
		})
	}

	t.Run("new transaction and rebinding end it", func(t *testing.T) {
		e := newEngine(t, lanConfig())
		addr := dora(t, e, t0, discover(mac(9)))
		r := renew(mac(9), addr, true)
		r.XID, r.ForceNAK = 0x4242, true
		wantReply(t, e.Handle(t0, r), dhcpv4.Nak, ipZero)
		// Another client with the same xid is not affected.
		other := dora(t, e, t0, discover(mac(10)))
		o := renew(mac(10), other, true)
		o.XID = 0x4242
		wantReply(t, e.Handle(t0, o), dhcpv4.Ack, other)
		// The client's new transaction: its own answer.
		r2 := renew(mac(9), addr, true)
		r2.XID = 0x4343
		wantReply(t, e.Handle(t0, r2), dhcpv4.Ack, addr)
		// After that binding, the old xid is forgotten.
		r3 := renew(mac(9), addr, true)
		r3.XID = 0x4242
		wantReply(t, e.Handle(t0.Add(time.Second), r3), dhcpv4.Ack, addr)
	})
}
