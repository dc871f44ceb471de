package server

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/leased/leased/auth"
	"github.com/leased/leased/dhcpv4"
	"github.com/leased/leased/lease"
	"github.com/leased/leased/store/wal"
)

// TestForceRenewEndToEndLoopback: a relayed client announcing option 145
// gets no option 90 in the OFFER and a reconfigure key in the ACK; the key
// and replay value are in the WAL; Server.ForceRenew then sends a
// FORCERENEW to the lease address that a client verifies with that key
// (auth.VerifyHMACMD5), with the ACK's xid and the client's chaddr.
func TestForceRenewEndToEndLoopback(t *testing.T) {
	dir := t.TempDir()
	s, eng, _, relay, stop := runReal(t, dir, false)
	sid := netip.MustParseAddr("127.0.0.1")
	hmac := []byte{dhcpv4.AuthAlgHMACMD5}

	relay.send(clientMsg{typ: dhcpv4.Discover, xid: 0x1111, mac: mac1, nonce: hmac})
	offer, _, ok := relay.recv(2 * time.Second)
	if !ok || offer.Type() != dhcpv4.Offer {
		t.Fatal("no OFFER")
	}
	if offer.Has(dhcpv4.OptAuthentication) {
		t.Fatal("OFFER carries option 90: dhcpcd would refuse it (RFC 6704 §3.3.1: key in DHCPACK only)")
	}
	yi := offer.YIAddr
	relay.send(clientMsg{typ: dhcpv4.Request, xid: 0x2222, mac: mac1, reqIP: yi, serverID: sid, nonce: hmac})
	ack, _, ok := relay.recv(2 * time.Second)
	if !ok || ack.Type() != dhcpv4.Ack {
		t.Fatal("no ACK")
	}
	a, ok := ack.Auth()
	if !ok || a.Protocol != dhcpv4.AuthProtoReconfigureKey || a.Algorithm != dhcpv4.AuthAlgHMACMD5 ||
		a.RDM != dhcpv4.AuthRDMMonotonic || len(a.Info) != 17 || a.Info[0] != dhcpv4.AuthInfoReconfigureKey {
		t.Fatalf("ACK option 90 = %+v (present %v), want protocol 3 alg 1 RDM 0 type 1 + 16-byte key", a, ok)
	}
	key := append([]byte(nil), a.Info[1:]...)
	if bytes.Equal(key, make([]byte, 16)) {
		t.Fatal("all-zero key")
	}
	ackReplay := a.ReplayDetection
	ls := eng.Leases(lease.Filter{})
	if len(ls) != 1 || !bytes.Equal(ls[0].ReconfKey, key) || ls[0].ReplayCounter != ackReplay || ls[0].XID != 0x2222 {
		t.Fatalf("engine record %+v, want the ACK's key, replay %d and xid 0x2222", ls, ackReplay)
	}

	// The "client": listens on the lease address, port 68 (root only).
	cl, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(yi, dhcpv4.ClientPort)))
	if err != nil {
		skipUnlessCI(t, "cannot listen on %v:68 (needs root): %v", yi, err)
	}
	defer cl.Close()
	if err := s.ForceRenew(context.Background(), yi); err != nil {
		t.Fatalf("ForceRenew: %v", err)
	}
	buf := make([]byte, 1500)
	_ = cl.SetReadDeadline(time.Now().Add(2 * time.Second))
	n, from, err := cl.ReadFromUDPAddrPort(buf)
	if err != nil {
		t.Fatalf("no FORCERENEW at %v:68: %v", yi, err)
	}
	var m dhcpv4.Message
	if err := m.Decode(buf[:n]); err != nil {
		t.Fatalf("FORCERENEW does not decode: %v", err)
	}
	if from.Port() != uint16(s.Port()) || m.Op != dhcpv4.BootReply || m.Type() != dhcpv4.ForceRenew ||
		m.XID != 0x2222 || !bytes.Equal(m.HWAddr(), mac1[:]) || m.CIAddr != yi {
		t.Fatalf("FORCERENEW from %v op %v type %v xid %#x chaddr %x ciaddr %v", from, m.Op, m.Type(), m.XID, m.HWAddr(), m.CIAddr)
	}
	if id, _ := m.ServerID(); id != sid {
		t.Fatalf("server id %v, want %v", id, sid)
	}
	frReplay, err := auth.VerifyHMACMD5(&m, key, ackReplay, nil)
	if err != nil {
		t.Fatalf("client rejects the FORCERENEW: %v", err)
	}
	if _, err := auth.VerifyHMACMD5(&m, bytes.Repeat([]byte{7}, 16), ackReplay, nil); !errors.Is(err, auth.ErrDigest) {
		t.Fatalf("verified with a wrong key: %v", err)
	}

	// A client without option 145: typed not-capable error, nothing sent.
	other := [6]byte{2, 5, 5, 5, 5, 5}
	relay.send(clientMsg{typ: dhcpv4.Discover, xid: 3, mac: other})
	o2, _, _ := relay.recv(2 * time.Second)
	relay.send(clientMsg{typ: dhcpv4.Request, xid: 4, mac: other, reqIP: o2.YIAddr, serverID: sid})
	if ack2, _, ok := relay.recv(2 * time.Second); !ok || ack2.Has(dhcpv4.OptAuthentication) {
		t.Fatalf("ACK without option 145: ok=%v, option 90 present", ok)
	}
	err = s.ForceRenew(context.Background(), o2.YIAddr)
	var fe *ForceRenewError
	if !errors.Is(err, lease.ErrNotCapable) || !errors.As(err, &fe) || fe.Reason != frNotCapable {
		t.Fatalf("ForceRenew to a client without a key: %v", err)
	}
	if err := s.ForceRenew(context.Background(), netip.MustParseAddr("127.0.0.240")); !errors.Is(err, lease.ErrNotFound) {
		t.Fatalf("ForceRenew to no lease: %v", err)
	}
	if got := counter(t, s.Registry(), "leased_reconfigure_sent_total", "dhcpv4"); got != 1 {
		t.Errorf("forcerenew sent = %v, want 1", got)
	}
	if got := counter(t, s.Registry(), "leased_reconfigure_failed_total", "not_capable"); got != 1 {
		t.Errorf("forcerenew failed{not_capable} = %v, want 1", got)
	}

	// The FORCERENEW's replay value was durable before it was sent.
	stop()
	w, err := wal.Open(dir, wal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	var got lease.Lease
	if err := w.Load(func(l lease.Lease) error {
		if l.Addr == yi && l.Seq >= got.Seq {
			got = l
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if got.ReplayCounter != frReplay || !bytes.Equal(got.ReconfKey, key) || got.State != lease.StateBound {
		t.Fatalf("stored record %+v, want replay %d and the key", got, frReplay)
	}
}

// TestForceRenewTokenMode: a token pool puts option 90 protocol 0 with the
// token in OFFER, ACK and FORCERENEW, with increasing replay values.
func TestForceRenewTokenMode(t *testing.T) {
	cfg := loopConfig()
	cfg.Pools[0].ForceRenew = lease.ForceRenewAuth{Mode: lease.AuthToken, Token: []byte("s3cret")}
	s, _, _, relay, _ := runRealConfig(t, t.TempDir(), cfg)
	sid := netip.MustParseAddr("127.0.0.1")
	relay.send(clientMsg{typ: dhcpv4.Discover, xid: 1, mac: mac1})
	offer, _, ok := relay.recv(2 * time.Second)
	if !ok {
		t.Fatal("no OFFER")
	}
	r1, err := auth.VerifyToken(offer, []byte("s3cret"), 0)
	if err != nil {
		t.Fatalf("OFFER token: %v", err)
	}
	relay.send(clientMsg{typ: dhcpv4.Request, xid: 2, mac: mac1, reqIP: offer.YIAddr, serverID: sid})
	ack, _, ok := relay.recv(2 * time.Second)
	if !ok {
		t.Fatal("no ACK")
	}
	r2, err := auth.VerifyToken(ack, []byte("s3cret"), r1)
	if err != nil {
		t.Fatalf("ACK token: %v", err)
	}
	cl, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(offer.YIAddr, dhcpv4.ClientPort)))
	if err != nil {
		skipUnlessCI(t, "cannot listen on port 68: %v", err)
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
	var m dhcpv4.Message
	if err := m.Decode(buf[:n]); err != nil || m.Type() != dhcpv4.ForceRenew || m.XID != 2 {
		t.Fatalf("FORCERENEW: %v type %v xid %d", err, m.Type(), m.XID)
	}
	if _, err := auth.VerifyToken(&m, []byte("s3cret"), r2); err != nil {
		t.Fatalf("FORCERENEW token: %v", err)
	}
}
