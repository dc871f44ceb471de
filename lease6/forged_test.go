package lease6

import (
	"testing"
	"time"

	"github.com/leased/leased/dhcpv6"
)

// A forged Renew (the victim's DUID and IAs, another xid, possibly from
// another address) must not replace the reconfigure key the real client
// holds: RFC 8415 §20.4 has the server select a key and send it in a
// Reply, nothing asks for a new one per exchange, so the key is chosen
// when the client has no bound binding and re-sent unchanged while it
// has one. The Reconfigure that follows is signed with the real key.
func TestForgedRenewKeepsKey(t *testing.T) {
	e := newEngine(t, testConfig())
	sol := msg(dhcpv6.Solicit, duidA, na(1))
	sol.ReconfAccept = true
	ad := e.Handle(t0, sol)
	req := msg(dhcpv6.Request, duidA, asIA(ad.Reply.IAs[0]))
	req.ReconfAccept, req.ReconfKey = true, key16
	d := e.Handle(t0, req)
	if string(d.Reply.ReconfKey) != string(key16) {
		t.Fatalf("first Reply key %x, want %x", d.Reply.ReconfKey, key16)
	}
	a := d.Reply.IAs[0].Bindings[0].Addr

	forged := msg(dhcpv6.Renew, duidA, asIA(d.Reply.IAs[0]))
	forged.XID = 0xbad
	forged.ReconfAccept, forged.ReconfKey = true, key16b
	f := e.Handle(t0.Add(time.Minute), forged)
	if f.Reply.Type != dhcpv6.Reply || string(f.Reply.ReconfKey) != string(key16) || f.Reply.Replay <= d.Reply.Replay {
		t.Fatalf("forged Renew: Reply key %x replay %d, want the client's key %x and replay > %d",
			f.Reply.ReconfKey, f.Reply.Replay, key16, d.Reply.Replay)
	}
	if l := mustBound(t, e, a, duidA); string(l.ReconfKey) != string(key16) {
		t.Fatalf("record key %x after forged Renew, want %x", l.ReconfKey, key16)
	}
	rd, err := e.ReconfigureClient(t0.Add(2*time.Minute), a)
	if err != nil {
		t.Fatal(err)
	}
	if string(rd.Reply.ReconfKey) != string(key16) {
		t.Fatalf("Reconfigure signed with %x, want the client's key %x", rd.Reply.ReconfKey, key16)
	}

	// Once no binding remains (Release), the next binding gets a fresh key.
	e.Handle(t0.Add(3*time.Minute), msg(dhcpv6.Release, duidA, asIA(d.Reply.IAs[0])))
	ad = e.Handle(t0.Add(4*time.Minute), sol)
	req = msg(dhcpv6.Request, duidA, asIA(ad.Reply.IAs[0]))
	req.ReconfAccept, req.ReconfKey = true, key16b
	if d := e.Handle(t0.Add(4*time.Minute), req); string(d.Reply.ReconfKey) != string(key16b) {
		t.Fatalf("new binding after Release: key %x, want a fresh one %x", d.Reply.ReconfKey, key16b)
	}
}
