package e2e

// The experiment of issue #12 (docs/cluster.md, "FORCERENEW and
// Reconfigure from another server"): what real dhcpcd accepts when the
// FORCERENEW / Reconfigure comes from a server other than the one that
// gave its lease, and where its renewal goes afterwards. The messages are
// built here (key, xid, chaddr from the lease) and sent from a second
// address of the server namespace; a packet capture on the server's link
// shows where dhcpcd sends its renewal. Each test fails if dhcpcd's
// behaviour differs from the table in docs/cluster.md.

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/leased/leased/auth"
	"github.com/leased/leased/dhcpv4"
	"github.com/leased/leased/dhcpv6"
	"github.com/leased/leased/internal/netns"
)

// capPkt is one DHCP message seen on the wire by wireCapture.
type capPkt struct {
	At       time.Time
	Src, Dst netip.Addr
	DstPort  uint16
	Type     string     // message type name
	CIAddr   netip.Addr // DHCPv4
	ServerID string     // DHCPv4: option 54 address; DHCPv6: Server ID DUID in hex ("" when absent)
}

func (p capPkt) String() string {
	return fmt.Sprintf("%s %v -> %v:%d ciaddr=%v server_id=%s", p.Type, p.Src, p.Dst, p.DstPort, p.CIAddr, p.ServerID)
}

// wireCapture records the DHCPv4/DHCPv6 messages (UDP ports 67, 68, 546,
// 547) crossing one interface of a namespace the test created, through an
// AF_PACKET socket; it stops when the test ends.
type wireCapture struct {
	mu   sync.Mutex
	pkts []capPkt
}

func (e *env) capture(ns *netns.NS, ifname string) *wireCapture {
	e.t.Helper()
	htons := func(v uint16) uint16 { return v<<8 | v>>8 }
	var fd int
	err := ns.Do(func() error {
		ifi, err := net.InterfaceByName(ifname)
		if err != nil {
			return err
		}
		fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ALL)))
		if err != nil {
			return err
		}
		if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifi.Index}); err != nil {
			unix.Close(fd)
			return err
		}
		tv := unix.NsecToTimeval((200 * time.Millisecond).Nanoseconds())
		return unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	})
	if err != nil {
		e.t.Fatalf("packet capture on %s: %v", ifname, err)
	}
	c := &wireCapture{}
	var stop atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 65536)
		for !stop.Load() { // bounded: every read times out after 200 ms
			n, _, err := unix.Recvfrom(fd, buf, 0)
			if err != nil {
				continue
			}
			if p, ok := parseCapture(buf[:n]); ok {
				c.mu.Lock()
				c.pkts = append(c.pkts, p)
				c.mu.Unlock()
			}
		}
	}()
	e.t.Cleanup(func() {
		stop.Store(true)
		<-done
		unix.Close(fd)
	})
	return c
}

// parseCapture decodes an IPv4 or IPv6 packet carrying a DHCP message.
func parseCapture(b []byte) (capPkt, bool) {
	var p capPkt
	var udp []byte
	switch {
	case len(b) >= 20 && b[0]>>4 == 4:
		ihl := int(b[0]&15) * 4
		if b[9] != syscall.IPPROTO_UDP || len(b) < ihl+8 {
			return p, false
		}
		p.Src, p.Dst = netip.AddrFrom4([4]byte(b[12:16])), netip.AddrFrom4([4]byte(b[16:20]))
		udp = b[ihl:]
	case len(b) >= 48 && b[0]>>4 == 6:
		if b[6] != syscall.IPPROTO_UDP {
			return p, false
		}
		p.Src, p.Dst = netip.AddrFrom16([16]byte(b[8:24])), netip.AddrFrom16([16]byte(b[24:40]))
		udp = b[40:]
	default:
		return p, false
	}
	p.DstPort = binary.BigEndian.Uint16(udp[2:4])
	payload := udp[8:]
	p.At = time.Now()
	switch p.DstPort {
	case 67, 68:
		var m dhcpv4.Message
		if m.Decode(payload) != nil {
			return p, false
		}
		p.Type, p.CIAddr = m.Type().String(), m.CIAddr
		if sid, ok := m.ServerID(); ok {
			p.ServerID = sid.String()
		}
	case 546, 547:
		var m dhcpv6.Message
		if m.Decode(payload) != nil {
			return p, false
		}
		p.Type = m.Type.String()
		if sid := m.ServerID(); len(sid) > 0 {
			p.ServerID = fmt.Sprintf("%x", []byte(sid))
		}
	default:
		return p, false
	}
	return p, true
}

// since returns the messages captured at or after t that match keep.
func (c *wireCapture) since(t time.Time, keep func(capPkt) bool) []capPkt {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []capPkt
	for _, p := range c.pkts {
		if !p.At.Before(t) && keep(p) {
			out = append(out, p)
		}
	}
	return out
}

// forceRenewFrom is a FORCERENEW to addr (xid, chaddr hw) with server
// identifier sid (none when invalid), signed with key (RFC 6704) and
// replay detection value replay.
func forceRenewFrom(t *testing.T, addr netip.Addr, xid uint32, hw []byte, sid netip.Addr, replay uint64, key []byte) []byte {
	t.Helper()
	h := dhcpv4.Header{Op: dhcpv4.BootReply, HType: 1, HLen: uint8(len(hw)), XID: xid, CIAddr: addr}
	copy(h.CHAddr[:], hw)
	var w dhcpv4.Writer
	w.Reset(make([]byte, 0, 600))
	w.Header(&h)
	w.OptionByte(dhcpv4.OptMessageType, byte(dhcpv4.ForceRenew))
	if sid.IsValid() {
		w.OptionAddr(dhcpv4.OptServerID, sid)
	}
	off := auth.WriteForceRenewOption(&w, replay)
	pkt, err := w.End()
	if err != nil {
		t.Fatal(err)
	}
	if err := auth.SignHMACMD5(pkt, off, key, nil); err != nil {
		t.Fatal(err)
	}
	return pkt
}

// TestForceRenewOtherServer: dhcpcd bound by leased at 10.77.0.1 (server
// identifier 10.77.0.1) gets FORCERENEWs from another address of the
// server's link, 10.77.0.2 (another cluster server):
//
//   - option 54 = 10.77.0.2, the right key: accepted ("Force Renew from
//     10.77.0.2"), and the renewal goes unicast to 10.77.0.1 (the lease's
//     server identifier), not to the sender;
//   - option 54 = 10.77.0.1 (the lease's server): accepted, same;
//   - no option 54: accepted, same;
//   - option 54 = 10.77.0.2 with a wrong key: "authentication failed",
//     no renewal;
//   - the lease's server is dead (SIGSTOP): a FORCERENEW from 10.77.0.2 is
//     accepted, dhcpcd retransmits its renewal unicast to 10.77.0.1 only,
//     and broadcasts (REBINDING, ciaddr set) only at T2 of its lease,
//     where any server may answer.
//
// What the cluster relies on: any server holding the lease row (key,
// xid, replay counter) can send the FORCERENEW with its own source address
// and server identifier; the client's renewal reaches the server that
// ACKed it last, so that server must be alive or the outcome waits for T2.
func TestForceRenewOtherServer(t *testing.T) {
	t.Parallel() // waits on client timers, little CPU: see README.md
	e := newEnv(t, "dhcpcd", "ss")
	cfg := defaultConfig()
	cfg.LeaseTime, cfg.T1, cfg.T2 = "60s", "25s", "32s"
	srv := e.startLeased(cfg)
	serverA := netns.ServerPrefix.Addr() // 10.77.0.1: leased, the lease's server identifier
	serverB := netip.MustParseAddr("10.77.0.2")
	e.top.Server.AddAddr(netns.ServerIf, netip.PrefixFrom(serverB, netns.ServerPrefix.Bits()))
	wire := e.capture(e.top.Server, netns.ServerIf)

	c := e.startDhcpcd("dhcpcd", false)
	ev, n := c.waitEvent(15*time.Second, 0, "BOUND")
	addr := checkBoundVars(e, ev)
	srv.waitState(addr, "bound", 5*time.Second)
	if got := ev.Vars["new_dhcp_server_identifier"]; got != "" && got != serverA.String() {
		e.fatalf("dhcpcd bound with server identifier %s, want %s", got, serverA)
	}
	connB, err := e.top.Server.ListenUDP(netip.AddrPortFrom(serverB, 0))
	if err != nil {
		e.fatalf("%v", err)
	}
	to := netip.AddrPortFrom(addr, dhcpv4.ClientPort)
	fresh := func() (uint32, []byte, []byte) {
		d := srv.detail(addr)
		var xid uint32
		if _, err := fmt.Sscanf(d.XID, "0x%x", &xid); err != nil {
			e.fatalf("xid %q: %v", d.XID, err)
		}
		hw, err := netipHW(d.HWAddr)
		if err != nil {
			e.fatalf("%v", err)
		}
		key, err := c.leaseKey()
		if err != nil {
			e.fatalf("dhcpcd's DHCPACK: %v", err)
		}
		return xid, hw, key
	}
	renewals := func(since time.Time) []capPkt {
		return wire.since(since, func(p capPkt) bool {
			return p.Type == "REQUEST" && p.Src == addr && p.CIAddr == addr
		})
	}
	logCount := func(s string) int { return strings.Count(netns.TailFile(c.log, 100000), s) }

	accepted := []struct {
		name string
		sid  netip.Addr
	}{
		{"server id of the sender", serverB},
		{"server id of the lease's server", serverA},
		{"no server id", netip.Addr{}},
	}
	for _, tc := range accepted {
		xid, hw, key := fresh()
		// dhcpcd 9.4.1 (log_dhcp) logs "Force Renew from from X" with X
		// the option 54 address, or "Force Renew from via S" with S the
		// source address when there is no option 54.
		logged := "Force Renew from via " + serverB.String()
		if tc.sid.IsValid() {
			logged = "Force Renew from from " + tc.sid.String()
		}
		before := logCount(logged)
		start := time.Now()
		if _, err := connB.WriteToUDPAddrPort(forceRenewFrom(t, addr, xid, hw, tc.sid, auth.TimeFloor(time.Now()), key), to); err != nil {
			e.fatalf("send: %v", err)
		}
		ev, n = c.waitEvent(5*time.Second, n, "RENEW")
		if ev.addr() != addr {
			e.fatalf("%s: RENEW gave %v, want %v", tc.name, ev.addr(), addr)
		}
		if logCount(logged) <= before {
			e.fatalf("%s: dhcpcd renewed but did not log %q", tc.name, logged)
		}
		frs := wire.since(start, func(p capPkt) bool { return p.Type == "FORCERENEW" })
		wantSID := ""
		if tc.sid.IsValid() {
			wantSID = tc.sid.String()
		}
		if len(frs) != 1 || frs[0].Src != serverB || frs[0].ServerID != wantSID {
			e.fatalf("%s: FORCERENEWs on the wire %v, want one from %v", tc.name, frs, serverB)
		}
		rs := renewals(start)
		if len(rs) == 0 {
			e.fatalf("%s: no renewing REQUEST captured", tc.name)
		}
		for _, r := range rs {
			if r.Dst != serverA {
				e.fatalf("%s: renewal %v sent to %v, want the lease's server identifier %v", tc.name, r, r.Dst, serverA)
			}
		}
		t.Logf("%s: accepted; renewal %v", tc.name, rs[0])
	}

	// A wrong key from the other server: refused, whatever its server id.
	xid, hw, _ := fresh()
	failed := logCount("authentication failed")
	start := time.Now()
	if _, err := connB.WriteToUDPAddrPort(forceRenewFrom(t, addr, xid, hw, serverB, auth.TimeFloor(time.Now()), []byte("0123456789abcdef")), to); err != nil {
		e.fatalf("send: %v", err)
	}
	time.Sleep(2 * time.Second)
	if len(c.events()) > n || len(renewals(start)) > 0 {
		e.fatalf("dhcpcd acted on a FORCERENEW signed with a wrong key: hook %s", c.reasons())
	}
	if logCount("authentication failed") <= failed {
		e.fatalf("dhcpcd did not log the authentication failure:\n%s", netns.TailFile(c.log, 20))
	}
	t.Logf("wrong key: refused (authentication failed)")

	// The lease's server is dead (stopped); the other server sends.
	xid, hw, key := fresh()
	lastAck := time.Now() // the renewal above was the last ACK (within ~2 s)
	if l, ok := srv.Lease(addr); ok {
		lastAck = l.Expires.Add(-60 * time.Second)
	}
	if err := srv.proc.Signal(syscall.SIGSTOP); err != nil {
		e.fatalf("SIGSTOP leased: %v", err)
	}
	resumed := false
	resume := func() {
		if !resumed {
			resumed = true
			if err := srv.proc.Signal(syscall.SIGCONT); err != nil {
				t.Errorf("SIGCONT leased: %v", err)
			}
		}
	}
	defer resume()
	start = time.Now()
	if _, err := connB.WriteToUDPAddrPort(forceRenewFrom(t, addr, xid, hw, serverB, auth.TimeFloor(time.Now()), key), to); err != nil {
		e.fatalf("send: %v", err)
	}
	t2 := lastAck.Add(32 * time.Second)
	var rebind capPkt
	e.waitFor(time.Until(t2)+10*time.Second, "dhcpcd to broadcast a REBINDING REQUEST", func() bool {
		for _, r := range renewals(start) {
			if r.Dst == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
				rebind = r
				return true
			}
		}
		return false
	})
	var unicast []capPkt
	for _, r := range renewals(start) {
		if r.At.Before(rebind.At) {
			if r.Dst != serverA {
				e.fatalf("while the lease's server was dead dhcpcd sent %v before T2, want only unicast to %v", r, serverA)
			}
			unicast = append(unicast, r)
		}
	}
	if len(unicast) < 2 {
		e.fatalf("dead server: %d unicast renewals to %v before the broadcast, want the renewal and retransmissions: %v", len(unicast), serverA, unicast)
	}
	if early := t2.Sub(rebind.At); early > 3*time.Second {
		e.fatalf("dhcpcd broadcast its REQUEST at %v, %v before T2 (%v)", rebind.At.Format(time.TimeOnly), early, t2.Format(time.TimeOnly))
	}
	t.Logf("dead server: %d unicast renewals to %v (first %v after the FORCERENEW), REBINDING broadcast %v after it (T2 at %v)",
		len(unicast), serverA, unicast[0].At.Sub(start).Round(time.Millisecond), rebind.At.Sub(start).Round(time.Millisecond),
		t2.Sub(start).Round(time.Second))
	resume()
	c.waitEvent(10*time.Second, n, "RENEW", "REBIND")
	for _, sub := range []string{"Force Renew", "authentication", "rebinding"} {
		for _, line := range logLines(c.log, sub) {
			t.Logf("dhcpcd: %s", line)
		}
	}
	srv.Stop()
}

// TestReconfigureOtherServer6: dhcpcd -6 bound by leased (server DUID D)
// gets Reconfigures from another link-local address of the server's
// link (fe80::2, another cluster server):
//
//   - Server ID = another DUID, the right key: accepted ("RECONFIGURE6
//     from fe80::2"), and its Renew (multicast to ff02::1:2) names D, the
//     server of its lease — a server with another DUID must ignore it
//     (RFC 8415 §16.6), so cluster servers must share one DUID;
//   - Server ID = D from fe80::2: accepted, same;
//   - from a global address (fd77::2): dropped ("not LL");
//   - the lease's server dead (SIGSTOP), a Reconfigure from fe80::2: the
//     Renew names D and is retransmitted until T2, then a Rebind without
//     Server ID goes out, which any server may answer.
func TestReconfigureOtherServer6(t *testing.T) {
	t.Parallel() // waits on client timers, little CPU: see README.md
	e := newEnv(t, "dhcpcd", "ss")
	cfg := defaultConfig6()
	cfg.T1, cfg.T2 = "25s", "30s" // valid lifetime 120 s
	srv := e.startLeased6(cfg)
	otherLL := netip.MustParseAddr("fe80::2")
	otherGlobal := netip.MustParseAddr("fd77::2")
	e.top.Server.AddAddr(netns.ServerIf, netip.PrefixFrom(otherLL, 64))
	e.top.Server.AddAddr(netns.ServerIf, netip.PrefixFrom(otherGlobal, 64))
	wire := e.capture(e.top.Server, netns.ServerIf)

	c := e.startDhcpcd6("dhcpcd6", dhcpcd6Opts{})
	ev, n := c.waitEvent(15*time.Second, 0, "BOUND6")
	addr, _ := checkBound6(e, ev, true, false, dns6)
	srv.waitState6(netip.PrefixFrom(addr, 128), "bound", 5*time.Second)
	reply, err := c.reply()
	if err != nil {
		e.fatalf("%v", err)
	}
	serverDUID, clientID := append([]byte(nil), reply.ServerID()...), append([]byte(nil), reply.ClientID()...)
	otherDUID := []byte{0, 3, 0, 1, 0x02, 0xee, 0, 0, 0, 2} // DUID-LL of another server
	cll, err := e.top.Client.LinkLocal(netns.ClientIf)
	if err != nil {
		e.fatalf("%v", err)
	}
	to := netip.AddrPortFrom(cll.WithZone(netns.ServerIf), 546)
	connLL, err := e.top.Server.ListenUDP(netip.AddrPortFrom(otherLL.WithZone(netns.ServerIf), 0))
	if err != nil {
		e.fatalf("%v", err)
	}
	connGlobal, err := e.top.Server.ListenUDP(netip.AddrPortFrom(otherGlobal, 0))
	if err != nil {
		e.fatalf("%v", err)
	}
	renews := func(since time.Time) []capPkt {
		return wire.since(since, func(p capPkt) bool { return p.Type == dhcpv6.Renew.String() && p.DstPort == 547 })
	}
	logCount := func(s string) int { return strings.Count(netns.TailFile(c.log, 100000), s) }

	// From a global address: dropped before authentication.
	key, _, err := c.reconfigureKey()
	if err != nil {
		e.fatalf("dhcpcd's Reply: %v", err)
	}
	notLL := logCount("not LL")
	start := time.Now()
	if _, err := connGlobal.WriteToUDPAddrPort(reconfigurePacket(t, otherDUID, clientID, dhcpv6.Renew, auth.TimeFloor(time.Now()), key), to); err != nil {
		e.fatalf("send: %v", err)
	}
	time.Sleep(2 * time.Second)
	if len(c.events()) > n || len(renews(start)) > 0 || logCount("not LL") <= notLL {
		e.fatalf("Reconfigure from a global address: want it dropped with \"not LL\"; hook %s\n%s", c.reasons(), netns.TailFile(c.log, 20))
	}
	t.Logf("from %v (not link-local): dropped", otherGlobal)

	for _, tc := range []struct {
		name string
		sid  []byte
	}{
		{"another server's DUID", otherDUID},
		{"the lease's server DUID", serverDUID},
	} {
		key, _, err := c.reconfigureKey()
		if err != nil {
			e.fatalf("dhcpcd's Reply: %v", err)
		}
		before := logCount("RECONFIGURE6 from " + otherLL.String())
		start := time.Now()
		if _, err := connLL.WriteToUDPAddrPort(reconfigurePacket(t, tc.sid, clientID, dhcpv6.Renew, auth.TimeFloor(time.Now()), key), to); err != nil {
			e.fatalf("send: %v", err)
		}
		ev, n = c.waitEvent(5*time.Second, n, "RENEW6")
		checkBound6(e, ev, true, false, dns6)
		if logCount("RECONFIGURE6 from "+otherLL.String()) <= before {
			e.fatalf("%s: dhcpcd renewed but did not log the Reconfigure from %v", tc.name, otherLL)
		}
		rs := renews(start)
		if len(rs) == 0 {
			e.fatalf("%s: no Renew captured", tc.name)
		}
		for _, r := range rs {
			if r.ServerID != fmt.Sprintf("%x", serverDUID) {
				e.fatalf("%s: Renew %v names server %s, want the lease's server %x", tc.name, r, r.ServerID, serverDUID)
			}
		}
		t.Logf("%s: accepted; Renew %v", tc.name, rs[0])
	}
	// The lease's server is dead (stopped): the Renew still names it and
	// is retransmitted until T2, then dhcpcd sends a Rebind (no Server
	// ID), which any server may answer.
	lastReply := time.Now()
	if x, ok := srv.Lease6(netip.PrefixFrom(addr, 128)); ok {
		lastReply = x.Expires.Add(-120 * time.Second) // valid lifetime 120 s
	}
	key, _, err = c.reconfigureKey()
	if err != nil {
		e.fatalf("dhcpcd's Reply: %v", err)
	}
	if err := srv.proc.Signal(syscall.SIGSTOP); err != nil {
		e.fatalf("SIGSTOP leased: %v", err)
	}
	resumed := false
	resume := func() {
		if !resumed {
			resumed = true
			if err := srv.proc.Signal(syscall.SIGCONT); err != nil {
				t.Errorf("SIGCONT leased: %v", err)
			}
		}
	}
	defer resume()
	start = time.Now()
	if _, err := connLL.WriteToUDPAddrPort(reconfigurePacket(t, otherDUID, clientID, dhcpv6.Renew, auth.TimeFloor(time.Now()), key), to); err != nil {
		e.fatalf("send: %v", err)
	}
	t2 := lastReply.Add(30 * time.Second)
	var rebind capPkt
	e.waitFor(time.Until(t2)+10*time.Second, "dhcpcd to send a Rebind", func() bool {
		for _, p := range wire.since(start, func(p capPkt) bool { return p.Type == dhcpv6.Rebind.String() && p.DstPort == 547 }) {
			rebind = p
			return true
		}
		return false
	})
	var before []capPkt
	for _, r := range renews(start) {
		if r.At.Before(rebind.At) {
			if r.ServerID != fmt.Sprintf("%x", serverDUID) {
				e.fatalf("dead server: Renew %v names %s, want the lease's server %x", r, r.ServerID, serverDUID)
			}
			before = append(before, r)
		}
	}
	if len(before) < 2 {
		e.fatalf("dead server: %d Renews before the Rebind, want the Renew and retransmissions: %v", len(before), before)
	}
	if rebind.ServerID != "" {
		e.fatalf("the Rebind names server %s; RFC 8415 §18.2.5: no Server ID", rebind.ServerID)
	}
	if early := t2.Sub(rebind.At); early > 3*time.Second {
		e.fatalf("dhcpcd sent its Rebind %v before T2", early)
	}
	t.Logf("dead server: %d Renews naming %x (first %v after the Reconfigure), Rebind %v after it (T2 at %v)",
		len(before), serverDUID, before[0].At.Sub(start).Round(time.Millisecond), rebind.At.Sub(start).Round(time.Millisecond),
		t2.Sub(start).Round(time.Second))
	resume()
	c.waitEvent(10*time.Second, n, "RENEW6", "REBIND6")

	for _, sub := range []string{"RECONFIGURE6", "authentication"} {
		for _, line := range logLines(c.log, sub) {
			t.Logf("dhcpcd: %s", line)
		}
	}
	srv.Stop()
}

// TestClusterCampaignKill (issue #12): two leased in cluster mode on one
// link and one PostgreSQL, four dhcpcd bound through either. A campaign
// started on srv0 is led by srv0 (campaign_leaders); srv0 is killed
// (SIGKILL) while it paces its FORCERENEWs (1/s), after the first; srv1
// takes the lead and finishes the campaign: its FORCERENEWs (from
// 10.77.0.2, option 54 its own) are accepted by dhcpcd; the clients whose
// last ACK came from srv1 renew through it at once, a client of the dead
// srv0 renews to srv0 until T2 and then rebinds through srv1; every
// client ends renewed with its address.
func TestClusterCampaignKill(t *testing.T) {
	const clients = 4
	c := newClusterEnv(t, 2, clients, "dhcpcd")
	sc := clusterPool("60s", "30s", "38s")
	for i := range 2 {
		c.startServer(i, clusterOn(sc, "debug"))
	}
	c.settle()
	cs := make([]*dhcpcd, clients)
	for j := range cs {
		cs[j] = c.startLinkDhcpcd(j, false)
	}
	addrs := c.allBound(cs, 30*time.Second)
	acks := c.tap.lastACKs()
	served := make([]string, clients)
	for j := range cs {
		served[j] = acks[macHex(netns.LinkClientMAC(j))].Server
	}
	t.Logf("clients' last ACK from: %v", served)
	seen := make([]int, clients)
	for j, d := range cs {
		seen[j] = len(d.events())
	}
	a, b := c.servers[0], c.servers[1]

	start := time.Now()
	code, out, errs := a.leasectl("--json", "forcerenew", "start", "--pool", "office", "--attempts", "8", "--interval", "2s", "--pace", "1")
	var st campaignJSON
	if code != 0 || json.Unmarshal([]byte(out), &st) != nil || st.ID == 0 {
		c.fatalf("leasectl forcerenew start on srv0: exit %d\n%s\n%s", code, out, errs)
	}
	leader := func() string {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		conn := c.dbConn(ctx)
		defer conn.Close(ctx)
		var name string
		// campaign_leaders keeps the last leader's row; the lock says
		// whether its session still lives.
		err := conn.QueryRow(ctx, `SELECT c.leader FROM campaign_leaders c WHERE c.campaign = $1 AND EXISTS (
			SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted AND l.pid = c.pid)`, strconv.Itoa(int(st.ID))).Scan(&name)
		if err != nil {
			return ""
		}
		return name
	}
	if got := leader(); got != serverName(0) {
		c.fatalf("campaign %d led by %q, want %s", st.ID, got, serverName(0))
	}
	// Clients are sent to in address order, srv0's block first: srv0 has
	// sent its first FORCERENEW (to one of its own clients) and dies
	// before the second, so srv1 sends to a client of the dead srv0.
	time.Sleep(500 * time.Millisecond)
	a.Kill9()
	killed := time.Now()
	c.waitFor(10*time.Second, "srv1 to lead the campaign", func() bool { return leader() == serverName(1) })
	t.Logf("srv1 leads campaign %d %v after srv0 was killed", st.ID, time.Since(killed).Round(100*time.Millisecond))

	c.waitFor(60*time.Second, "the campaign to finish on srv1", func() bool { return b.campaign(st.ID).State == "done" })
	fin := b.campaign(st.ID)
	if fin.Counts["renewed"]+fin.Counts["rebound"] != clients {
		c.fatalf("campaign %d on srv1: %v, want %d renewed", st.ID, fin.Counts, clients)
	}
	for addr, cl := range b.campaignClients(st.ID) {
		if cl.Outcome != "renewed" && cl.Outcome != "rebound" {
			c.fatalf("client %v: %s", addr, cl.Outcome)
		}
	}
	forced, orphans := 0, 0
	for j, d := range cs {
		ev, _ := d.waitEvent(5*time.Second, seen[j], "RENEW", "REBIND")
		if ev.addr() != addrs[j] {
			c.fatalf("dhcpcd%d: %s %v, want %v; hook %s", j, ev.Reason, ev.addr(), addrs[j], d.reasons())
		}
		if n := len(logLines(d.log, "Force Renew from from 10.77.0.2")); n > 0 {
			forced++
			if served[j] == serverName(0) {
				// A client of the dead server: its renewal went to
				// 10.77.0.1 until T2, then it rebound through srv1.
				orphans++
				if a := c.tap.lastACKs()[macHex(netns.LinkClientMAC(j))]; a.Server != serverName(1) || a.YIAddr != addrs[j] {
					c.fatalf("dhcpcd%d (srv0's) after srv1's FORCERENEW: last ACK %v from %s, want %v from srv1", j, a.YIAddr, a.Server, addrs[j])
				}
			}
		}
		t.Logf("dhcpcd%d (last ACK from %s): %s of %v; FORCERENEWs accepted from srv0 %d, from srv1 %d", j, served[j], ev.Reason, addrs[j],
			len(logLines(d.log, "Force Renew from from 10.77.0.1")), len(logLines(d.log, "Force Renew from from 10.77.0.2")))
	}
	if forced == 0 || orphans == 0 {
		c.fatalf("dhcpcd took %d FORCERENEWs from srv1 (10.77.0.2) after the take-over, %d of them clients of the dead srv0; want both > 0", forced, orphans)
	}
	t.Logf("campaign %d done on srv1 %v after its start: %v", st.ID, time.Since(start).Round(100*time.Millisecond), fin.Counts)
	b.Stop()
}

// TestClusterCampaignKill6 (issue #12): as TestClusterCampaignKill for
// DHCPv6. Two leased in cluster mode sharing one server DUID, four
// dhcpcd -6 (IA_NA + IA_PD, Reconfigure Accept). A paced Reconfigure
// campaign started on srv0 loses srv0 to SIGKILL after its first message;
// srv1 leads and sends the rest from its own link-local address. Every
// client renews (RENEW6, same bindings) well before T2, also those whose
// last Reply came from srv0: their Renew names the shared DUID, which srv1
// answers — unlike DHCPv4, no wait for T2 (TestReconfigureOtherServer6:
// with a DUID of its own srv1 would have to ignore it).
func TestClusterCampaignKill6(t *testing.T) {
	const clients = 4
	c := newClusterEnv(t, 2, clients, "dhcpcd")
	v6 := defaultConfig6()
	v6.Preferred, v6.Valid, v6.T1, v6.T2 = "60s", "90s", "40s", "60s"
	sc := clusterPool("10m", "", "")
	for i := range 2 {
		o := clusterOn(sc, "debug")
		o.V6 = &v6
		c.startServer(i, o)
	}
	c.settle()
	cs := make([]*dhcpcd6, clients)
	for j := range cs {
		cs[j] = c.startLinkDhcpcd6(j)
	}
	addrs := make([]netip.Addr, clients)
	for j, d := range cs {
		ev, _ := d.waitEvent(30*time.Second, 0, "BOUND6")
		addrs[j], _, _ = ev.v6()
	}
	seen := make([]int, clients)
	for j, d := range cs {
		seen[j] = len(d.events())
	}
	duids := map[string]bool{}
	for j, d := range cs {
		r, err := d.reply()
		if err != nil {
			c.fatalf("dhcpcd6-%d: %v", j, err)
		}
		duids[fmt.Sprintf("%x", []byte(r.ServerID()))] = true
	}
	if len(duids) != 1 {
		c.fatalf("the clients' Replies name %d server DUIDs, want the cluster's one: %v", len(duids), duids)
	}
	a, b := c.servers[0], c.servers[1]

	start := time.Now()
	code, out, errs := a.leasectl("--json", "reconfigure", "start", "--family", "6", "--pool", "office6", "--attempts", "8", "--interval", "2s", "--pace", "1")
	var st campaignJSON
	if code != 0 || json.Unmarshal([]byte(out), &st) != nil || st.ID == 0 {
		c.fatalf("leasectl reconfigure start on srv0: exit %d\n%s\n%s", code, out, errs)
	}
	time.Sleep(500 * time.Millisecond)
	a.Kill9()
	killed := time.Now()
	// A Renew sent while srv1 still counted srv0 live (RFC 3074 hash: its
	// bucket) is answered at the retransmission (REN_TIMEOUT 10 s). srv1
	// may not know the campaign yet (it learns it at its next heartbeat
	// or when it takes the lead): until it does, the campaign is not done.
	c.waitFor(40*time.Second, "the campaign to finish on srv1", func() bool {
		cur, ok := b.knownCampaign(st.ID)
		return ok && cur.State == "done"
	})
	fin := b.campaign(st.ID)
	if fin.Counts["renewed"] != clients {
		c.fatalf("campaign %d on srv1: %v, want %d renewed", st.ID, fin.Counts, clients)
	}
	llB, err := c.link.Servers[1].LinkLocal(netns.ServerIf)
	llB = llB.WithZone("")
	if err != nil {
		c.fatalf("%v", err)
	}
	fromB := 0
	for j, d := range cs {
		ev, _ := d.waitEvent(5*time.Second, seen[j], "RENEW6", "REBIND6")
		if a, _, _ := ev.v6(); a != addrs[j] {
			c.fatalf("dhcpcd6-%d: %s %v, want %v; hook %s", j, ev.Reason, a, addrs[j], d.reasons())
		}
		if ev.Reason != "RENEW6" {
			c.fatalf("dhcpcd6-%d: %s, want RENEW6 (its Renew answered by srv1, not a Rebind at T2)", j, ev.Reason)
		}
		if len(logLines(d.log, "RECONFIGURE6 from "+llB.String())) > 0 {
			fromB++
		}
	}
	if fromB < clients-1 {
		c.fatalf("%d clients acted on a Reconfigure from srv1 (%v), want at least %d (srv0 died after its first)", fromB, llB, clients-1)
	}
	t.Logf("%d clients renewed after a Reconfigure from srv1 (%v)", fromB, llB)
	t.Logf("campaign %d done on srv1 %v after its start (%v after srv0 was killed): %v", st.ID,
		time.Since(start).Round(100*time.Millisecond), time.Since(killed).Round(100*time.Millisecond), fin.Counts)
	b.Stop()
}
