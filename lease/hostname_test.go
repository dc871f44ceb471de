package lease

import (
	"testing"

	"github.com/leased/leased/dhcpv4"
)

// TestReservationHostnameInReplies (issue #10 item 8): a reservation's
// hostname goes to its client as option 12 in the OFFER, the ACK and the
// ACK of a DHCPINFORM (RFC 2131 §3.4: an INFORMing client asks for its
// local configuration, which includes its name); other clients get none,
// whatever host name they sent.
func TestReservationHostnameInReplies(t *testing.T) {
	cfg := lanConfig()
	cfg.Pools[0].Reservations = []Reservation{{HWAddr: mac(40), Addr: ip("10.0.0.40"), Hostname: "printer-1"}}
	e := newEngine(t, cfg)

	o := e.Handle(t0, discover(mac(40)))
	wantReply(t, o, dhcpv4.Offer, ip("10.0.0.40"))
	if o.Reply.Hostname != "printer-1" {
		t.Fatalf("OFFER hostname %q, want printer-1", o.Reply.Hostname)
	}
	req := selecting(mac(40), o.Reply.YIAddr)
	req.Hostname = []byte("client-says") // the client's own option 12 does not override
	a := e.Handle(t0, req)
	wantReply(t, a, dhcpv4.Ack, ip("10.0.0.40"))
	if a.Reply.Hostname != "printer-1" {
		t.Fatalf("ACK hostname %q, want printer-1", a.Reply.Hostname)
	}
	inf := msg(dhcpv4.Inform, mac(40))
	inf.CIAddr = ip("10.0.0.40")
	if d := e.Handle(t0, inf); !d.HasReply || d.Reply.Hostname != "printer-1" {
		t.Fatalf("INFORM ACK hostname %q (reply %v), want printer-1", d.Reply.Hostname, d.HasReply)
	}

	// Not reserved: no option 12, even when the client sent a name.
	d := discover(mac(41))
	d.Hostname = []byte("laptop")
	o = e.Handle(t0, d)
	if o.Reply.Hostname != "" {
		t.Fatalf("OFFER to an unreserved client carries hostname %q", o.Reply.Hostname)
	}
	r := selecting(mac(41), o.Reply.YIAddr)
	r.Hostname = []byte("laptop")
	if a := e.Handle(t0, r); a.Reply.Hostname != "" {
		t.Fatalf("ACK to an unreserved client carries hostname %q", a.Reply.Hostname)
	}
}
