package e2e

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/leased/leased/dhcpv4"
	"github.com/leased/leased/dhcpv6"
	"github.com/leased/leased/internal/netns"
)

// forgedRenewal is a renewing DHCPREQUEST as an attacker on the client's
// link would send it: the victim's client identifier, chaddr and ciaddr,
// option 145 (so leased issues a key), and the attacker's own xid.
func forgedRenewal(t *testing.T, addr netip.Addr, xid uint32, hw, clientID []byte) []byte {
	t.Helper()
	h := dhcpv4.Header{Op: dhcpv4.BootRequest, HType: 1, HLen: uint8(len(hw)), XID: xid, CIAddr: addr}
	copy(h.CHAddr[:], hw)
	var w dhcpv4.Writer
	w.Reset(make([]byte, 0, 600))
	w.Header(&h)
	w.OptionByte(dhcpv4.OptMessageType, byte(dhcpv4.Request))
	w.Option(dhcpv4.OptClientID, clientID)
	w.Option(dhcpv4.OptForceRenewNonceCap, []byte{dhcpv4.AuthAlgHMACMD5})
	pkt, err := w.End()
	if err != nil {
		t.Fatal(err)
	}
	return pkt
}

// TestDhcpcdForgedRenewal (issue #10 item 3): dhcpcd binds with an RFC
// 6704 key; an attacker on its link sends leased a renewing DHCPREQUEST
// with dhcpcd's client identifier, chaddr and address and a new xid, which
// leased ACKs (to dhcpcd's address; dhcpcd drops it: wrong xid). A
// FORCERENEW campaign must still make dhcpcd renew: leased kept the key
// dhcpcd holds and retries with dhcpcd's own xid. Before the fix the
// forged ACK carried a new key and the xid was the attacker's: every
// FORCERENEW was dropped and the campaign ended no_response.
func TestDhcpcdForgedRenewal(t *testing.T) {
	e := newEnv(t, "dhcpcd", "ss")
	srv := e.startLeasedWith(gateway, "")
	c := e.startDhcpcd("dhcpcd", false)
	ev, n := c.waitEvent(15*time.Second, 0, "BOUND")
	addr := checkBoundVars(e, ev)
	srv.waitState(addr, "bound", 5*time.Second)
	key, err := c.leaseKey()
	if err != nil {
		e.fatalf("dhcpcd's DHCPACK: %v", err)
	}
	raw := srv.leaseRaw(addr)
	cid, err := hex.DecodeString(fmt.Sprint(raw["client_id"]))
	if err != nil || len(cid) == 0 {
		e.fatalf("lease client_id %v: %v", raw["client_id"], err)
	}
	hw, err := netipHW(fmt.Sprint(raw["hwaddr"]))
	if err != nil {
		e.fatalf("%v", err)
	}
	realXID := srv.detail(addr).XID

	// The forgery, from the victim's own address on its link.
	const forgedXID = 0x0badf00d
	conn, err := e.top.Client.ListenUDP(netip.AddrPortFrom(addr, 0))
	if err != nil {
		e.fatalf("%v", err)
	}
	defer conn.Close()
	to := netip.AddrPortFrom(netns.ServerPrefix.Addr(), dhcpv4.ServerPort)
	if _, err := conn.WriteToUDPAddrPort(forgedRenewal(t, addr, forgedXID, hw, cid), to); err != nil {
		e.fatalf("send forged renewal: %v", err)
	}
	e.waitFor(5*time.Second, "leased to ACK the forged renewal (lease xid = the forged one)", func() bool {
		return srv.detail(addr).XID == fmt.Sprintf("0x%08x", forgedXID)
	})
	if got, err := c.leaseKey(); err != nil || !bytes.Equal(got, key) {
		e.fatalf("dhcpcd took the forged renewal's ACK: key %x (%v), had %x", got, err, key)
	}
	t.Logf("forged renewal ACKed: lease xid %s (dhcpcd's %s)", srv.detail(addr).XID, realXID)

	code, out, errs := srv.leasectl("forcerenew", "start", "--pool", "office", "--wait", "--attempts", "3", "--interval", "500ms")
	if code != 0 || !strings.Contains(out, "renewed  1") {
		e.fatalf("campaign after a forged renewal: exit %d, stdout %q, stderr %q; want exit 0, 1 renewed\ndhcpcd hook: %s",
			code, out, errs, c.reasons())
	}
	ev, _ = c.waitEvent(5*time.Second, n, "RENEW")
	if ev.addr() != addr {
		e.fatalf("RENEW gave %v, want %v", ev.addr(), addr)
	}
	if cl := srv.campaignClients(1); len(cl) != 1 || cl[addr].Outcome != "renewed" {
		e.fatalf("campaign clients: %+v", cl)
	}
	if got, err := c.leaseKey(); err != nil || !bytes.Equal(got, key) {
		e.fatalf("after the campaign dhcpcd holds key %x (%v), want the binding's key %x", got, err, key)
	}
	for _, line := range strings.Split(netns.TailFile(c.log, 200), "\n") {
		if strings.Contains(line, "xid") || strings.Contains(line, "Force Renew") || strings.Contains(line, "authentication") {
			t.Logf("dhcpcd: %s", line)
		}
	}
	srv.Stop()
}

// TestDhcpcd6ForgedRenew (issue #10 item 3, DHCPv6): dhcpcd -6 binds with
// an RFC 8415 §20.4 reconfigure key; an attacker on its link sends leased a
// Renew with dhcpcd's DUID, IA_NA and Reconfigure Accept and its own xid.
// The Reply to it must carry the key dhcpcd already holds (not a new one),
// and a Reconfigure campaign must still make dhcpcd renew (RENEW6, outcome
// renewed). Before the fix the Reply carried a new key, the Reconfigures
// were signed with it, dhcpcd discarded them ("authentication failed") and
// the campaign ended no_response.
func TestDhcpcd6ForgedRenew(t *testing.T) {
	e := newEnv(t, "dhcpcd", "ss")
	cfg := defaultConfig6()
	cfg.T1, cfg.T2 = "50s", "55s" // no renewal of dhcpcd's own in between
	srv := e.startLeased6(cfg)
	c := e.startDhcpcd6("dhcpcd6", dhcpcd6Opts{})
	ev, n := c.waitEvent(15*time.Second, 0, "BOUND6")
	addr, _ := checkBound6(e, ev, true, false, dns6)
	srv.waitState6(netip.PrefixFrom(addr, 128), "bound", 5*time.Second)
	key, _, err := c.reconfigureKey()
	if err != nil {
		e.fatalf("dhcpcd's Reply: %v", err)
	}
	reply, err := c.reply()
	if err != nil {
		e.fatalf("%v", err)
	}
	iana, ok := reply.Option(dhcpv6.OptIANA)
	if !ok {
		e.fatalf("dhcpcd's Reply has no IA_NA")
	}

	// The forged Renew, multicast on the client's link like a client's.
	var w dhcpv6.Writer
	w.Reset(make([]byte, 0, 512))
	w.Header(dhcpv6.Renew, 0xbadf00)
	w.Option(dhcpv6.OptClientID, reply.ClientID())
	w.Option(dhcpv6.OptServerID, reply.ServerID())
	w.OptionUint16(dhcpv6.OptElapsedTime, 0)
	w.OptionEmpty(dhcpv6.OptReconfAccept)
	w.Option(dhcpv6.OptIANA, iana)
	pkt, err := w.End()
	if err != nil {
		t.Fatal(err)
	}
	cll, err := e.top.Client.LinkLocal(netns.ClientIf)
	if err != nil {
		e.fatalf("%v", err)
	}
	conn, err := e.top.Client.ListenUDP(netip.AddrPortFrom(cll.WithZone(netns.ClientIf), 0))
	if err != nil {
		e.fatalf("%v", err)
	}
	to := netip.AddrPortFrom(netip.MustParseAddr("ff02::1:2").WithZone(netns.ClientIf), 547)
	if _, err := conn.WriteToUDPAddrPort(pkt, to); err != nil {
		e.fatalf("send forged Renew: %v", err)
	}
	buf := make([]byte, 1500)
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	nr, _, err := conn.ReadFromUDPAddrPort(buf)
	if err != nil {
		e.fatalf("no Reply to the forged Renew: %v", err)
	}
	var m dhcpv6.Message
	if err := m.Decode(buf[:nr]); err != nil || m.Type != dhcpv6.Reply {
		e.fatalf("answer to the forged Renew: %v %v", m.Type, err)
	}
	a, ok := m.Auth()
	if !ok || len(a.Info) != 17 || !bytes.Equal(a.Info[1:], key) {
		// Not fatal: the campaign below shows what this costs the client.
		t.Errorf("Reply to the forged Renew: option 11 %+v (present %v), want the key dhcpcd holds %x", a, ok, key)
	}

	code, out, errs := srv.leasectl(reconfigureStartArgs("office6")...)
	if code != 0 {
		e.fatalf("campaign after a forged Renew: exit %d\n%s\n%s\ndhcpcd hook: %s", code, out, errs, c.reasons())
	}
	ev, _ = c.waitEvent(5*time.Second, n, "RENEW6")
	if a, _ := checkBound6(e, ev, true, false, dns6); a != addr {
		e.fatalf("RENEW6 gave %v, want %v", a, addr)
	}
	if cl := srv.campaignClients(1); len(cl) != 1 || cl[addr].Outcome != "renewed" {
		e.fatalf("campaign clients: %+v", cl)
	}
	srv.Stop()
}
