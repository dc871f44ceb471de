package e2e

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/leased/leased/dhcpv4"
	"github.com/leased/leased/internal/netns"
	"github.com/leased/leased/leasequery"
)

// lqQuery builds a leasequery message as a relay agent would (giaddr =
// the requestor): by IP when ip is set, else by MAC.
func lqQuery(t *testing.T, typ dhcpv4.MessageType, xid uint32, giaddr, ip netip.Addr, mac []byte, prl ...byte) []byte {
	t.Helper()
	h := dhcpv4.Header{Op: dhcpv4.BootRequest, XID: xid, GIAddr: giaddr, CIAddr: ip}
	if mac != nil {
		h.HType, h.HLen = 1, uint8(len(mac))
		copy(h.CHAddr[:], mac)
	}
	var w dhcpv4.Writer
	w.Reset(make([]byte, 0, 600))
	w.Header(&h)
	w.OptionByte(dhcpv4.OptMessageType, byte(typ))
	if len(prl) > 0 {
		w.Option(dhcpv4.OptParamRequestList, prl)
	}
	b, err := w.End()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestLeaseQuery: dhcpcd binds; a requestor built with leased's codec,
// in the client namespace at an allowed address, asks over UDP by IP and
// by MAC (DHCPLEASEACTIVE with dhcpcd's address, MAC and remaining lease
// time), for a free pool address (DHCPLEASEUNASSIGNED) and a foreign one
// (DHCPLEASEUNKNOWN); a requestor not on the list gets nothing; over TCP
// a bulk query by MAC (RFC 6926) gets the binding and
// DHCPLEASEQUERYDONE, and a connection from a requestor not on the list
// is closed.
func TestLeaseQuery(t *testing.T) {
	e := newEnv(t, "dhcpcd", "ss")
	allowed, other := netip.MustParseAddr("10.77.0.2"), netip.MustParseAddr("10.77.0.3")
	srv := e.newLeasedTop(fmt.Sprintf("leasequery:\n  requestors: [%s]\n  bulk_listen: %s:67\n", allowed, netns.ServerPrefix.Addr()))
	defer srv.Stop()
	c := e.startDhcpcd("dhcpcd", false)
	ev, _ := c.waitEvent(15*time.Second, 0, "BOUND")
	addr := checkBoundVars(e, ev)
	l := srv.waitState(addr, "bound", 5*time.Second)
	hw, err := net.ParseMAC(l.HWAddr)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []netip.Addr{allowed, other} {
		e.top.Client.AddAddr(netns.ClientIf, netip.PrefixFrom(a, 16))
	}
	server := net.UDPAddrFromAddrPort(netip.AddrPortFrom(netns.ServerPrefix.Addr(), 67))
	ask := func(from netip.Addr, pkt []byte) *dhcpv4.Message {
		conn, err := e.top.Client.ListenUDP(netip.AddrPortFrom(from, 67))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if _, err := conn.WriteToUDP(pkt, server); err != nil {
			t.Fatal(err)
		}
		conn.SetReadDeadline(time.Now().Add(3 * time.Second))
		b := make([]byte, 1500)
		n, _, err := conn.ReadFromUDP(b)
		if err != nil {
			return nil
		}
		var m dhcpv4.Message
		if err := m.Decode(b[:n]); err != nil {
			e.fatalf("answer does not decode: %v", err)
		}
		return &m
	}

	for _, tc := range []struct {
		name string
		ip   netip.Addr
		mac  []byte
		want dhcpv4.MessageType
	}{
		{"by ip", addr, nil, leasequery.TypeLeaseActive},
		{"by mac", netip.IPv4Unspecified(), hw, leasequery.TypeLeaseActive},
		{"free pool address", netip.MustParseAddr("10.77.2.200"), nil, leasequery.TypeLeaseUnassigned},
		{"foreign address", netip.MustParseAddr("192.0.2.1"), nil, leasequery.TypeLeaseUnknown},
	} {
		m := ask(allowed, lqQuery(t, leasequery.TypeLeaseQuery, 0xabc, allowed, tc.ip, tc.mac))
		if m == nil {
			e.fatalf("%s: no answer", tc.name)
		}
		if m.Type() != tc.want || m.XID != 0xabc {
			e.fatalf("%s: %v xid %#x, want %v", tc.name, m.Type(), m.XID, tc.want)
		}
		if tc.want == leasequery.TypeLeaseActive {
			lt, _ := m.LeaseTime()
			if m.CIAddr != addr || string(m.HWAddr()) != string(hw) || lt == 0 || lt > 120 {
				e.fatalf("%s: LEASEACTIVE ciaddr %v chaddr %x lease time %d, want %v %x ≤120", tc.name, m.CIAddr, m.HWAddr(), lt, addr, hw)
			}
		}
	}
	if m := ask(other, lqQuery(t, leasequery.TypeLeaseQuery, 0xabd, other, addr, nil)); m != nil {
		e.fatalf("requestor %v not on the list got %v", other, m.Type())
	}

	// Bulk over TCP, by MAC.
	dial := func(from netip.Addr) net.Conn {
		var conn net.Conn
		err := e.top.Client.Do(func() error {
			d := net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(from, 0)), Timeout: 3 * time.Second}
			var err error
			conn, err = d.Dial("tcp", netip.AddrPortFrom(netns.ServerPrefix.Addr(), 67).String())
			return err
		})
		if err != nil {
			e.fatalf("dial bulk leasequery from %v: %v", from, err)
		}
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		return conn
	}
	conn := dial(allowed)
	defer conn.Close()
	q := lqQuery(t, leasequery.TypeBulkLeaseQuery, 0x5150, netip.Addr{}, netip.Addr{}, hw)
	conn.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(q))), q...))
	var got []string
	for len(got) < 10 {
		var l [2]byte
		if _, err := io.ReadFull(conn, l[:]); err != nil {
			e.fatalf("bulk answer after %v: %v", got, err)
		}
		b := make([]byte, binary.BigEndian.Uint16(l[:]))
		if _, err := io.ReadFull(conn, b); err != nil {
			e.fatalf("bulk answer: %v", err)
		}
		var m dhcpv4.Message
		if err := m.Decode(b); err != nil || m.XID != 0x5150 {
			e.fatalf("bulk answer %v xid %#x", err, m.XID)
		}
		got = append(got, fmt.Sprintf("%d %v", m.Type(), m.CIAddr))
		if m.Type() == leasequery.TypeLeaseQueryDone {
			break
		}
	}
	if want := fmt.Sprintf("13 %v,15 0.0.0.0", addr); strings.Join(got, ",") != want {
		e.fatalf("bulk by MAC: %v, want %s", got, want)
	}
	refused := dial(other)
	defer refused.Close()
	refused.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(q))), q...))
	if n, err := refused.Read(make([]byte, 16)); err == nil {
		e.fatalf("bulk connection from %v not on the list read %d octets", other, n)
	}
}
