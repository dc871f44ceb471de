package server

import (
	"bytes"
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/leased/leased/auth"
	"github.com/leased/leased/dhcpv4"
)

// TestForgedRenewalForceRenew (issue #10 item 3): after a forged renewal
// (the victim's chaddr and ciaddr, another xid), the ACK to it carries the
// victim's own reconfigure key, and the one-shot FORCERENEW goes out twice,
// with the forged xid and with the victim's, both signed with the key the
// victim holds, so the victim accepts the one with its xid.
func TestForgedRenewalForceRenew(t *testing.T) {
	s, _, _, relay, _ := runReal(t, t.TempDir(), false)
	sid := netip.MustParseAddr("127.0.0.1")
	hmac := []byte{dhcpv4.AuthAlgHMACMD5}

	relay.send(clientMsg{typ: dhcpv4.Discover, xid: 0x1111, mac: mac1, nonce: hmac})
	offer, _, ok := relay.recv(2 * time.Second)
	if !ok {
		t.Fatal("no OFFER")
	}
	yi := offer.YIAddr
	relay.send(clientMsg{typ: dhcpv4.Request, xid: 0x2222, mac: mac1, reqIP: yi, serverID: sid, nonce: hmac})
	ack, _, ok := relay.recv(2 * time.Second)
	if !ok || ack.Type() != dhcpv4.Ack {
		t.Fatal("no ACK")
	}
	a, ok := ack.Auth()
	if !ok || len(a.Info) != 17 {
		t.Fatalf("ACK without a reconfigure key: %+v", a)
	}
	key := append([]byte(nil), a.Info[1:]...)

	// The forgery.
	relay.send(clientMsg{typ: dhcpv4.Request, xid: 0xbad, mac: mac1, ciaddr: yi, nonce: hmac})
	fack, _, ok := relay.recv(2 * time.Second)
	if !ok || fack.Type() != dhcpv4.Ack {
		t.Fatal("no ACK to the forged renewal")
	}
	if fa, ok := fack.Auth(); !ok || len(fa.Info) != 17 || !bytes.Equal(fa.Info[1:], key) {
		t.Fatalf("ACK to the forged renewal carries key %x, want the binding's key %x", fa.Info, key)
	}

	cl, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(yi, dhcpv4.ClientPort)))
	if err != nil {
		skipUnlessCI(t, "cannot listen on %v:68 (needs root): %v", yi, err)
	}
	defer cl.Close()
	if err := s.ForceRenew(context.Background(), yi); err != nil {
		t.Fatalf("ForceRenew: %v", err)
	}
	buf := make([]byte, 1500)
	var xids []uint32
	for range 2 {
		_ = cl.SetReadDeadline(time.Now().Add(2 * time.Second))
		n, _, err := cl.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatalf("FORCERENEWs received %#x, want 2: %v", xids, err)
		}
		var m dhcpv4.Message
		if err := m.Decode(buf[:n]); err != nil || m.Type() != dhcpv4.ForceRenew {
			t.Fatalf("not a FORCERENEW: %v", err)
		}
		if _, err := auth.VerifyHMACMD5(&m, key, a.ReplayDetection, nil); err != nil {
			t.Fatalf("FORCERENEW xid %#x not signed with the victim's key: %v", m.XID, err)
		}
		xids = append(xids, m.XID)
	}
	if xids[0] != 0xbad || xids[1] != 0x2222 {
		t.Fatalf("FORCERENEW xids %#x, want 0xbad then the victim's 0x2222", xids)
	}
}
