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

// TestEncodeHostname (issue #10 item 8): the reservation's host name is
// option 12 in OFFER and ACK (byte-exact, after the pool's options), never
// in a NAK; no option 12 without one; still no allocation.
func TestEncodeHostname(t *testing.T) {
	po, _ := buildPoolOptions(testPool())
	sid := netip.MustParseAddr("192.0.2.1")
	req := dhcpv4.Header{HType: 1, HLen: 6, XID: 7}
	want := append([]byte{byte(dhcpv4.OptHostname), 9}, "printer-1"...)
	for _, r := range []lease.Reply{
		{Type: dhcpv4.Offer, YIAddr: netip.MustParseAddr("192.0.2.10"), LeaseTime: time.Hour, Hostname: "printer-1"},
		{Type: dhcpv4.Ack, YIAddr: netip.MustParseAddr("192.0.2.10"), LeaseTime: time.Hour, Hostname: "printer-1"},
		{Type: dhcpv4.Ack, Hostname: "printer-1"}, // INFORM
	} {
		var w dhcpv4.Writer
		b, err := encodeReply(&w, make([]byte, 0, 1500), &req, &r, sid, nil, nil, po)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(b[240:], want) {
			t.Fatalf("%v: no option 12 bytes % x in % x", r.Type, want, b[240:])
		}
		m := decodeReply(t, b)
		if cs := codes(m); cs[len(cs)-1] != dhcpv4.OptHostname || string(m.Hostname()) != "printer-1" {
			t.Fatalf("%v: options %v hostname %q", r.Type, cs, m.Hostname())
		}
	}
	var w dhcpv4.Writer
	nak := lease.Reply{Type: dhcpv4.Nak, Hostname: "printer-1", Message: "no"}
	b, _ := encodeReply(&w, make([]byte, 0, 1500), &req, &nak, sid, nil, nil, po)
	if decodeReply(t, b).Has(dhcpv4.OptHostname) {
		t.Fatal("option 12 in a NAK")
	}
	plain := lease.Reply{Type: dhcpv4.Ack, YIAddr: netip.MustParseAddr("192.0.2.10"), LeaseTime: time.Hour}
	b, _ = encodeReply(&w, make([]byte, 0, 1500), &req, &plain, sid, nil, nil, po)
	if decodeReply(t, b).Has(dhcpv4.OptHostname) {
		t.Fatal("option 12 without a reserved host name")
	}
	r := lease.Reply{Type: dhcpv4.Ack, YIAddr: netip.MustParseAddr("192.0.2.10"), LeaseTime: time.Hour, Hostname: "printer-1"}
	buf := make([]byte, 0, 1500)
	if n := testing.AllocsPerRun(100, func() { _, _ = encodeReply(&w, buf, &req, &r, sid, nil, nil, po) }); n != 0 {
		t.Fatalf("encodeReply with a host name allocates %v times", n)
	}
}

// TestServerSendsReservedHostname: through the real server, a reserved
// client's OFFER and ACK carry option 12 with the reservation's host name
// (docs/config.md promises it); another client's do not.
func TestServerSendsReservedHostname(t *testing.T) {
	cfg := loopConfig()
	cfg.Pools[0].Reservations = []lease.Reservation{{HWAddr: mac1[:], Addr: netip.MustParseAddr("127.0.0.60"), Hostname: "printer-1"}}
	_, _, _, relay, _ := runRealConfig(t, t.TempDir(), cfg)
	sid := netip.MustParseAddr("127.0.0.1")
	relay.send(clientMsg{typ: dhcpv4.Discover, xid: 1, mac: mac1})
	offer, _, ok := relay.recv(2 * time.Second)
	if !ok || offer.Type() != dhcpv4.Offer || offer.YIAddr != netip.MustParseAddr("127.0.0.60") || string(offer.Hostname()) != "printer-1" {
		t.Fatalf("OFFER (ok %v): yiaddr %v hostname %q, want 127.0.0.60 printer-1", ok, offer.YIAddr, offer.Hostname())
	}
	relay.send(clientMsg{typ: dhcpv4.Request, xid: 1, mac: mac1, reqIP: offer.YIAddr, serverID: sid})
	ack, _, ok := relay.recv(2 * time.Second)
	if !ok || ack.Type() != dhcpv4.Ack || string(ack.Hostname()) != "printer-1" {
		t.Fatalf("ACK (ok %v): hostname %q, want printer-1", ok, ack.Hostname())
	}
	other := [6]byte{2, 9, 9, 9, 9, 9}
	relay.send(clientMsg{typ: dhcpv4.Discover, xid: 2, mac: other})
	o2, _, ok := relay.recv(2 * time.Second)
	if !ok || o2.Has(dhcpv4.OptHostname) {
		t.Fatalf("OFFER to an unreserved client (ok %v) carries option 12 %q", ok, o2.Hostname())
	}
}
