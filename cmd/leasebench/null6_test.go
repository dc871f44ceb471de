package main

import (
	"bytes"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/leased/leased/dhcpv6"
	"github.com/leased/leased/internal/netns"
)

// direct6 is a DHCPv6 client talking to the null server itself, as
// perfdhcp -6 does: no relay, its own socket.
type direct6 struct {
	t    *testing.T
	conn *net.UDPConn // receives the answers
	from *net.UDPConn // sends (conn when nil)
	to   netip.AddrPort
	duid []byte
	buf  []byte
}

// send sends a bare client message with an IA_NA (IAID 7) and, when sid
// is not nil, a Server Identifier.
func (c *direct6) send(typ dhcpv6.MessageType, xid uint32, sid []byte) {
	c.t.Helper()
	var w dhcpv6.Writer
	w.Reset(make([]byte, 0, 512))
	w.Header(typ, xid)
	w.Option(dhcpv6.OptClientID, c.duid)
	if sid != nil {
		w.Option(dhcpv6.OptServerID, sid)
	}
	w.OptionUint16(dhcpv6.OptElapsedTime, 0)
	w.BeginIA(dhcpv6.OptIANA, 7, 0, 0)
	w.EndOption()
	pkt, err := w.End()
	if err != nil {
		c.t.Fatal(err)
	}
	from := c.from
	if from == nil {
		from = c.conn
	}
	if _, err := from.WriteToUDPAddrPort(pkt, c.to); err != nil {
		c.t.Fatalf("send %v: %v", typ, err)
	}
}

// recv waits up to d for one reply and decodes it into m; false when none
// came.
func (c *direct6) recv(m *dhcpv6.Message, d time.Duration) bool {
	c.t.Helper()
	if c.buf == nil {
		c.buf = make([]byte, 1500)
	}
	_ = c.conn.SetReadDeadline(time.Now().Add(d))
	n, _, err := c.conn.ReadFromUDPAddrPort(c.buf)
	if err != nil {
		return false
	}
	if err := m.Decode(c.buf[:n]); err != nil {
		c.t.Fatalf("reply does not decode: %v", err)
	}
	return true
}

// exchange runs Solicit/Advertise/Request/Reply as a direct client and
// checks both answers: bare messages (no Relay-reply) with the client's
// transaction id, DUID and IA_NA, the server's DUID, and an address in
// want (a /64) derived from the DUID, the same in both. A Request naming
// another server and a Solicit naming a server get no answer (RFC 8415
// §16.4, §16.2).
func (c *direct6) exchange(want netip.Prefix) {
	c.t.Helper()
	var m dhcpv6.Message
	c.send(dhcpv6.Solicit, 0x1234, nil)
	if !c.recv(&m, 3*time.Second) {
		c.t.Fatal("no Advertise to a direct Solicit")
	}
	sid := bytes.Clone(m.ServerID())
	addr := c.check(&m, dhcpv6.Advertise, 0x1234, want)

	c.send(dhcpv6.Request, 0x1235, append(bytes.Clone(sid[:len(sid)-1]), sid[len(sid)-1]^1))
	c.send(dhcpv6.Solicit, 0x1236, sid)
	c.send(dhcpv6.Request, 0x1237, sid)
	if !c.recv(&m, 3*time.Second) {
		c.t.Fatal("no Reply to a direct Request")
	}
	if got := c.check(&m, dhcpv6.Reply, 0x1237, want); got != addr {
		c.t.Errorf("Reply gives %v, Advertise gave %v", got, addr)
	}
	if c.recv(&m, 200*time.Millisecond) {
		c.t.Errorf("unexpected %v xid %#x (a Request for another server or a Solicit with a Server ID was answered)", m.Type, m.TransactionID)
	}
}

func (c *direct6) check(m *dhcpv6.Message, typ dhcpv6.MessageType, xid uint32, want netip.Prefix) netip.Addr {
	c.t.Helper()
	if len(m.Relays()) != 0 || m.Type != typ || m.TransactionID != xid {
		c.t.Fatalf("got %v xid %#x with %d relay layers, want a bare %v xid %#x", m.Type, m.TransactionID, len(m.Relays()), typ, xid)
	}
	if !bytes.Equal(m.ClientID(), c.duid) || !bytes.Equal(m.ServerID(), newNull6().duid) {
		c.t.Errorf("%v: client id %x server id %x, want %x and %x", typ, m.ClientID(), m.ServerID(), c.duid, newNull6().duid)
	}
	ia, ok := m.IANA()
	if !ok || ia.IAID != 7 {
		c.t.Fatalf("%v: IA_NA %v (IAID %d), want IAID 7", typ, ok, ia.IAID)
	}
	it := ia.Addrs()
	if !it.Next() {
		c.t.Fatalf("%v: IA_NA without an address", typ)
	}
	a, err := dhcpv6.ParseIAAddr(it.Data())
	if err != nil {
		c.t.Fatal(err)
	}
	// The address is the /64 with the DUID's last six bytes (stateless).
	b := a.Addr.As16()
	if !want.Contains(a.Addr) || !bytes.Equal(b[10:], c.duid[len(c.duid)-6:]) || a.ValidLifetime == 0 {
		c.t.Errorf("%v: address %v valid %d s, want one in %v ending in %x", typ, a.Addr, a.ValidLifetime, want, c.duid[len(c.duid)-6:])
	}
	return a.Addr
}

// TestNullServer6Direct: the null server answers a client's own Solicit
// and Request (no relay) over loopback, at the client's source address on
// the client port (546 on a link; here the port of the test's second
// socket, not the one the messages come from).
func TestNullServer6Direct(t *testing.T) {
	conn, s, err := listenNull6(netip.MustParseAddrPort("[::1]:0"), "")
	if err != nil {
		t.Fatal(err)
	}
	cl, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	from, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback})
	if err != nil {
		t.Fatal(err)
	}
	defer from.Close()
	s.clientPort = cl.LocalAddr().(*net.UDPAddr).Port
	done := make(chan struct{})
	go func() { defer close(done); s.serve(t.Context(), conn) }()
	defer func() { conn.Close(); <-done }()
	c := &direct6{t: t, conn: cl, from: from, to: conn.LocalAddr().(*net.UDPAddr).AddrPort(),
		duid: dhcpv6.AppendDUIDLL(nil, dhcpv6.HTypeEthernet, []byte{0x02, 0, 0, 0xab, 0xcd, 0xef})}
	c.exchange(netip.MustParsePrefix("fd77::/64"))
}

// TestNullServer6Link: with --iface the null server joins ff02::1:2 on
// the server's interface of a namespace pair and answers a client that
// multicasts from its link-local address on port 546 (as perfdhcp -6 -l
// does), at that address and port, with addresses in the interface's /64.
func TestNullServer6Link(t *testing.T) {
	if testing.Short() {
		t.Skip("needs root and network namespaces (-short)")
	}
	netns.Require(t, "ip")
	top := netns.New(t)
	var conn *net.UDPConn
	var s *null6
	if err := top.Server.Do(func() (err error) {
		conn, s, err = listenNull6(netip.MustParseAddrPort("[::]:547"), netns.ServerIf)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); s.serve(t.Context(), conn) }()
	defer func() { conn.Close(); <-done }()

	ll, err := top.Client.WaitLinkLocal(netns.ClientIf, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := top.Client.ListenUDP(netip.AddrPortFrom(ll, dhcpv6.ClientPort))
	if err != nil {
		t.Fatal(err)
	}
	// The zone by number: the test process is not in the client's
	// namespace, so "vcli" names nothing here.
	var ifindex int
	if err := top.Client.Do(func() error {
		ni, err := net.InterfaceByName(netns.ClientIf)
		if err == nil {
			ifindex = ni.Index
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	to := netip.AddrPortFrom(dhcpv6.AllRelayAgentsAndServers.WithZone(strconv.Itoa(ifindex)), dhcpv6.ServerPort)
	c := &direct6{t: t, conn: cl, to: to,
		duid: dhcpv6.AppendDUIDLL(nil, dhcpv6.HTypeEthernet, []byte{0x02, 0, 0, 0x12, 0x34, 0x56})}
	c.exchange(netip.PrefixFrom(netns.ServerPrefix6.Masked().Addr(), 64))
}

// TestNullServerFlags6: --iface is refused without -6 (only DHCPv6
// clients multicast to ff02::1:2), and a missing interface is named.
func TestNullServerFlags6(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"null-server", "--iface", "lo"}, 2, "--iface is for -6"},
		{[]string{"null-server", "-6", "--iface", "no-such-if0", "--listen", "[::1]:0"}, 1, "--iface no-such-if0"},
	} {
		var out, errb strings.Builder
		code := run(t.Context(), tc.args, &out, &errb)
		if code != tc.code || !strings.Contains(errb.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q, want %d and %q", tc.args, code, errb.String(), tc.code, tc.want)
		}
	}
}
