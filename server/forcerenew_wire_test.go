package server

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/md5"
	"encoding/binary"
	"net"
	"net/netip"
	"testing"
	"time"

	idhcp "github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/leased/leased/dhcpv4"
	"github.com/leased/leased/lease"
)

// TestForceRenewWireInsomniac: a FORCERENEW made by the real engine and the
// server's encoder (the bytes Server.ForceRenew sends), decoded by an
// independent codec (github.com/insomniacslk/dhcp): op BOOTREPLY, message
// type 9, the xid of the client's last transaction, its chaddr, ciaddr =
// the lease address, option 54, and option 90 byte for byte: protocol 3,
// algorithm 1 (HMAC-MD5), RDM 0, a replay value larger than the ACK's, type
// 2, and an HMAC-MD5 recomputed here with crypto/hmac over the message
// with the HMAC field (and hops, giaddr) zeroed (RFC 3118 §5, RFC 6704
// §3.3.2). Then the same through Server.ForceRenew on loopback.
func TestForceRenewWireInsomniac(t *testing.T) {
	eng, err := lease.New(loopConfig())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	sid := netip.MustParseAddr("127.0.0.1")
	hw := []byte{0x02, 0x00, 0x5e, 0x10, 0x20, 0x30}
	key := bytes.Repeat([]byte{0xa5}, 16)
	key[0] = 0x01
	base := lease.Request{HType: 1, HWAddr: hw, ClientID: append([]byte{1}, hw...),
		LinkAddr: sid, ServerAddr: sid, ForceRenewNonce: []byte{dhcpv4.AuthAlgHMACMD5}}
	disc := base
	disc.Type, disc.XID = dhcpv4.Discover, 0x0badf00d
	d := eng.Handle(now, &disc)
	if !d.HasReply || d.Reply.Type != dhcpv4.Offer {
		t.Fatalf("DISCOVER: %+v", d)
	}
	addr := d.Reply.YIAddr
	req := base
	req.Type, req.XID = dhcpv4.Request, 0x5eed1234
	req.RequestedIP, req.ServerID, req.ServerIDOurs = addr, sid, true
	req.ReconfKey = key
	d = eng.Handle(now, &req)
	if !d.HasReply || d.Reply.Type != dhcpv4.Ack || !bytes.Equal(d.Reply.ReconfKey, key) {
		t.Fatalf("REQUEST: %+v, want an ACK issuing the key", d.Reply)
	}
	ackReplay := d.Reply.Replay

	fr, err := eng.ForceRenew(now.Add(time.Minute), addr)
	if err != nil {
		t.Fatal(err)
	}
	var w dhcpv4.Writer
	pkt, err := encodeForceRenew(&w, make([]byte, 0, 576), &fr.Reply, sid)
	if err != nil {
		t.Fatal(err)
	}
	checkForceRenewWire(t, pkt, addr, 0x5eed1234, hw, sid, key, ackReplay)

	// The same fields on the packet Server.ForceRenew really sends.
	s, seng, _, relay, _ := runReal(t, t.TempDir(), false)
	relay.send(clientMsg{typ: dhcpv4.Discover, xid: 0x77, mac: mac1, nonce: []byte{dhcpv4.AuthAlgHMACMD5}})
	offer, _, ok := relay.recv(2 * time.Second)
	if !ok {
		t.Fatal("no OFFER")
	}
	relay.send(clientMsg{typ: dhcpv4.Request, xid: 0x78797a7b, mac: mac1, reqIP: offer.YIAddr, serverID: sid, nonce: []byte{dhcpv4.AuthAlgHMACMD5}})
	ack, _, ok := relay.recv(2 * time.Second)
	if !ok || ack.Type() != dhcpv4.Ack {
		t.Fatal("no ACK")
	}
	a, ok := ack.Auth()
	if !ok || len(a.Info) != 17 {
		t.Fatalf("ACK option 90: %+v %v", a, ok)
	}
	if l, _ := seng.Lookup(offer.YIAddr); !bytes.Equal(l.ReconfKey, a.Info[1:]) {
		t.Fatal("stored key differs from the ACK's")
	}
	cl, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(offer.YIAddr, dhcpv4.ClientPort)))
	if err != nil {
		t.Fatalf("listen on %v:68 (the test needs root, like the other loopback FORCERENEW tests): %v", offer.YIAddr, err)
	}
	defer cl.Close()
	if err := s.ForceRenew(context.Background(), offer.YIAddr); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1500)
	_ = cl.SetReadDeadline(time.Now().Add(2 * time.Second))
	n, err := cl.Read(buf)
	if err != nil {
		t.Fatalf("no FORCERENEW: %v", err)
	}
	checkForceRenewWire(t, buf[:n], offer.YIAddr, 0x78797a7b, mac1[:], sid, a.Info[1:], a.ReplayDetection)
}

func checkForceRenewWire(t *testing.T, pkt []byte, addr netip.Addr, xid uint32, hw []byte, sid netip.Addr, key []byte, ackReplay uint64) {
	t.Helper()
	m, err := idhcp.FromBytes(bytes.Clone(pkt))
	if err != nil {
		t.Fatalf("insomniacslk/dhcp cannot decode the FORCERENEW: %v", err)
	}
	if m.OpCode != idhcp.OpcodeBootReply {
		t.Errorf("op %v, want BootReply", m.OpCode)
	}
	if mt := m.MessageType(); mt != idhcp.MessageType(9) {
		t.Errorf("message type %d, want 9 (DHCPFORCERENEW, RFC 3203 §4)", mt)
	}
	if got := binary.BigEndian.Uint32(m.TransactionID[:]); got != xid {
		t.Errorf("xid %#x, want the client's last %#x", got, xid)
	}
	if m.HWType != 1 || !bytes.Equal(m.ClientHWAddr, hw) {
		t.Errorf("htype %v chaddr %x, want 1 %x", m.HWType, []byte(m.ClientHWAddr), hw)
	}
	if !m.ClientIPAddr.Equal(net.IP(addr.AsSlice())) {
		t.Errorf("ciaddr %v, want %v", m.ClientIPAddr, addr)
	}
	if !m.YourIPAddr.IsUnspecified() || !m.GatewayIPAddr.IsUnspecified() || m.HopCount != 0 {
		t.Errorf("yiaddr %v giaddr %v hops %d, want zero", m.YourIPAddr, m.GatewayIPAddr, m.HopCount)
	}
	if got := m.ServerIdentifier(); !got.Equal(net.IP(sid.AsSlice())) {
		t.Errorf("server identifier %v, want %v", got, sid)
	}
	o90 := m.Options.Get(idhcp.OptionAuthentication)
	if len(o90) != 28 {
		t.Fatalf("option 90 is %d bytes (%x), want 28", len(o90), o90)
	}
	// RFC 6704 §3.3.2: protocol 3, algorithm 1, RDM 0, replay, type 2, HMAC.
	if o90[0] != 3 || o90[1] != 1 || o90[2] != 0 || o90[11] != 2 {
		t.Errorf("option 90 head %x, want protocol 3 algorithm 1 RDM 0 ... type 2", o90[:12])
	}
	// RFC 3118 §2: the replay value increases monotonically.
	if r := binary.BigEndian.Uint64(o90[3:11]); r <= ackReplay {
		t.Errorf("replay %d not above the ACK's %d", r, ackReplay)
	}
	// Independent HMAC: find option 90 in the raw bytes, zero its HMAC, hops
	// and giaddr (RFC 3118 §5), and compare.
	off := rawOption(t, pkt, 90)
	if !bytes.Equal(pkt[off:off+28], o90) {
		t.Fatal("raw option 90 differs from the decoded one")
	}
	c := bytes.Clone(pkt)
	clear(c[off+12 : off+28])
	c[3] = 0
	clear(c[24:28])
	mac := hmac.New(md5.New, key)
	mac.Write(c)
	if want := mac.Sum(nil); !bytes.Equal(o90[12:], want) {
		t.Errorf("HMAC %x, independent HMAC-MD5 %x", o90[12:], want)
	}
	mac = hmac.New(md5.New, bytes.Repeat([]byte{0x11}, 16))
	mac.Write(c)
	if bytes.Equal(o90[12:], mac.Sum(nil)) {
		t.Error("the HMAC also matches another key")
	}
}

// rawOption returns the offset of option code's value in a DHCP packet.
func rawOption(t *testing.T, pkt []byte, code byte) int {
	t.Helper()
	for i := 240; i < len(pkt); {
		switch pkt[i] {
		case 0:
			i++
			continue
		case 255:
			t.Fatalf("option %d not in the packet", code)
		}
		if i+1 >= len(pkt) {
			break
		}
		if pkt[i] == code {
			return i + 2
		}
		i += 2 + int(pkt[i+1])
	}
	t.Fatalf("option %d not in the packet", code)
	return 0
}
