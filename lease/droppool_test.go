package lease

import "testing"

// TestDropPool: a DISCOVER the pool cannot serve names the pool in the
// decision (the server logs it and warns about exhaustion).
func TestDropPool(t *testing.T) {
	e := newEngine(t, lanConfig())
	for i := range 20 {
		if d := e.Handle(t0, discover(mac(i))); !d.HasReply {
			t.Fatalf("client %d: no offer (%s)", i, d.Drop)
		}
	}
	d := e.Handle(t0, discover(mac(99)))
	wantDrop(t, d, DropPoolExhausted)
	if d.DropPool != lanConfig().Pools[0].Name {
		t.Errorf("DropPool %q, want %q", d.DropPool, lanConfig().Pools[0].Name)
	}
	if d := e.Handle(t0, discover(mac(0))); d.DropPool != "" {
		t.Errorf("an offer carries DropPool %q", d.DropPool)
	}
}

// TestNakReasons: every NAK reason has its option 56 text, and a NAK
// carries both.
func TestNakReasons(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range NakReasons() {
		if nakMessages[r] == "" || seen[nakMessages[r]] {
			t.Errorf("reason %q: message %q missing or shared", r, nakMessages[r])
		}
		seen[nakMessages[r]] = true
	}
	if len(nakMessages) != len(NakReasons()) {
		t.Errorf("%d messages, %d reasons", len(nakMessages), len(NakReasons()))
	}
	d := nak(&Request{}, NakNoBinding)
	if d.Reply.NakReason != NakNoBinding || d.Reply.Message != "no binding for this client" {
		t.Errorf("nak: %+v", d.Reply)
	}
}
