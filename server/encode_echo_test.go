package server

import (
	"bytes"
	"net/netip"
	"testing"
	"time"

	"github.com/leased/leased/dhcpv4"
	"github.com/leased/leased/lease"
)

// TestEncodeEchoesClientID: RFC 6842 §3: "the server MUST" return the
// client identifier (option 61) the client sent in DHCPOFFER, DHCPACK and
// DHCPNAK. Byte-exact: 61, length, the identifier, right after option 54.
func TestEncodeEchoesClientID(t *testing.T) {
	po, _ := buildPoolOptions(testPool())
	sid := netip.MustParseAddr("192.0.2.1")
	cid := []byte{0xff, 0, 0, 0, 1, 0, 3, 0, 1, 2, 1, 2, 3, 4, 5} // RFC 4361 form
	req := dhcpv4.Header{HType: 1, HLen: 6, XID: 7, CHAddr: [16]byte{2, 1, 2, 3, 4, 5}}
	for _, r := range []lease.Reply{
		{Type: dhcpv4.Offer, YIAddr: netip.MustParseAddr("192.0.2.10"), LeaseTime: time.Hour},
		{Type: dhcpv4.Ack, YIAddr: netip.MustParseAddr("192.0.2.10"), LeaseTime: time.Hour},
		{Type: dhcpv4.Ack}, // INFORM
		{Type: dhcpv4.Nak, Message: "no"},
	} {
		var w dhcpv4.Writer
		b, err := encodeReply(&w, make([]byte, 0, 1500), &req, &r, sid, []byte{1, 1, 'x'}, cid, po)
		if err != nil {
			t.Fatal(err)
		}
		// Options start after the 236-byte header and the magic cookie:
		// 53 (3 bytes), 54 (6 bytes), then 61.
		want := append([]byte{byte(dhcpv4.OptClientID), byte(len(cid))}, cid...)
		if off := 240 + 3 + 6; len(b) < off+len(want) || !bytes.Equal(b[off:off+len(want)], want) {
			t.Fatalf("%v: bytes after 53 and 54 are % x, want % x", r.Type, b[240+9:min(len(b), 240+9+len(want))], want)
		}
		m := decodeReply(t, b)
		if got := m.ClientID(); !bytes.Equal(got, cid) {
			t.Fatalf("%v: option 61 %x, want %x", r.Type, got, cid)
		}
		if cs := codes(m); cs[len(cs)-1] != dhcpv4.OptRelayAgentInfo {
			t.Fatalf("%v: option 82 not last: %v", r.Type, cs)
		}
	}
	// A client that sent no option 61 gets none.
	var w dhcpv4.Writer
	r := lease.Reply{Type: dhcpv4.Ack, YIAddr: netip.MustParseAddr("192.0.2.10"), LeaseTime: time.Hour}
	b, err := encodeReply(&w, make([]byte, 0, 1500), &req, &r, sid, nil, nil, po)
	if err != nil {
		t.Fatal(err)
	}
	if decodeReply(t, b).Has(dhcpv4.OptClientID) {
		t.Fatal("option 61 in a reply to a client that sent none")
	}
}

// TestServerEchoesClientID: through the real server (relay path), the
// OFFER, ACK and NAK each carry the client's option 61 (RFC 6842 §3).
func TestServerEchoesClientID(t *testing.T) {
	_, _, _, relay, _ := runReal(t, t.TempDir(), false)
	sid := netip.MustParseAddr("127.0.0.1")
	want := append([]byte{1}, mac1[:]...) // buildMsg sends htype 1 + chaddr as option 61
	relay.send(clientMsg{typ: dhcpv4.Discover, xid: 1, mac: mac1})
	offer, _, ok := relay.recv(2 * time.Second)
	if !ok || offer.Type() != dhcpv4.Offer || !bytes.Equal(offer.ClientID(), want) {
		t.Fatalf("OFFER (ok %v): option 61 %x, want %x", ok, offer.ClientID(), want)
	}
	relay.send(clientMsg{typ: dhcpv4.Request, xid: 1, mac: mac1, reqIP: offer.YIAddr, serverID: sid})
	ack, _, ok := relay.recv(2 * time.Second)
	if !ok || ack.Type() != dhcpv4.Ack || !bytes.Equal(ack.ClientID(), want) {
		t.Fatalf("ACK (ok %v): option 61 %x, want %x", ok, ack.ClientID(), want)
	}
	// INIT-REBOOT for an address of another network: NAK.
	relay.send(clientMsg{typ: dhcpv4.Request, xid: 2, mac: mac1, reqIP: netip.MustParseAddr("198.51.100.7")})
	nak, _, ok := relay.recv(2 * time.Second)
	if !ok || nak.Type() != dhcpv4.Nak || !bytes.Equal(nak.ClientID(), want) {
		t.Fatalf("NAK (ok %v, type %v): option 61 %x, want %x", ok, nak.Type(), nak.ClientID(), want)
	}
}
