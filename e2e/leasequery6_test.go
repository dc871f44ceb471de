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

	"github.com/leased/leased/dhcpv6"
	"github.com/leased/leased/internal/netns"
	"github.com/leased/leased/leasequery"
)

// lq6Query builds a DHCPv6 LEASEQUERY (RFC 5007) with leased's codec.
func lq6Query(t *testing.T, xid uint32, typ uint8, link netip.Addr, qopts []byte) []byte {
	t.Helper()
	var w dhcpv6.Writer
	w.Reset(make([]byte, 0, 600))
	w.Header(leasequery.TypeLeaseQuery6, xid)
	w.Option(dhcpv6.OptClientID, []byte{0, 3, 0, 1, 2, 0, 0, 0, 0, 0xee})
	w.Option(leasequery.OptLQQuery, leasequery.LQQuery(typ, link, qopts))
	b, err := w.End()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// clientData lists the addresses and prefixes in OPTION_CLIENT_DATA.
func clientData(m *dhcpv6.Message) (duid []byte, got []string) {
	cd, ok := m.Option(leasequery.OptClientData)
	if !ok {
		return nil, nil
	}
	it := dhcpv6.Options(cd).Iter()
	for it.Next() {
		switch it.Code() {
		case dhcpv6.OptClientID:
			duid = it.Data()
		case dhcpv6.OptIAAddr:
			a, _ := dhcpv6.ParseIAAddr(it.Data())
			got = append(got, a.Addr.String())
		case dhcpv6.OptIAPrefix:
			p, _ := dhcpv6.ParseIAPrefix(it.Data())
			got = append(got, p.Prefix.String())
		}
	}
	return duid, got
}

// TestLeaseQuery6: dhcpcd binds an address and a delegated prefix; a
// requestor built with leased's codec asks by address (RFC 5007) over UDP
// and gets LEASEQUERY-REPLY with dhcpcd's DUID, address and prefix; an
// address on no configured link gets NotConfigured; a requestor not on the
// list gets nothing; over TCP (RFC 5460) a query by link address gets the
// binding and LEASEQUERY-DONE.
func TestLeaseQuery6(t *testing.T) {
	e := newEnv(t, "dhcpcd", "ss")
	allowed, other := netip.MustParseAddr("fd77::2"), netip.MustParseAddr("fd77::3")
	cfg := defaultConfig6()
	// The last pool's Extra ends the file: a top-level section after it.
	cfg.Pools[0].Extra = fmt.Sprintf("leasequery:\n  requestors: [%s]\n  bulk_listen: \"off\"\n  bulk_listen6: \"[%s]:547\"\n",
		allowed, netns.ServerPrefix6.Addr())
	srv := e.startLeased6(cfg)
	c := e.startDhcpcd6("dhcpcd6", dhcpcd6Opts{PD: true})
	ev, _ := c.waitEvent(15*time.Second, 0, "BOUND6")
	addr, pd := checkBound6(e, ev, true, true, dns6)
	srv.waitState6(netip.PrefixFrom(addr, 128), "bound", 5*time.Second)
	duid := strings.ToLower(ev.Vars["new_dhcp6_client_id"])
	for _, a := range []netip.Addr{allowed, other} {
		e.top.Client.AddAddr(netns.ClientIf, netip.PrefixFrom(a, 64))
	}
	server := netip.AddrPortFrom(netns.ServerPrefix6.Addr(), 547)
	ask := func(from netip.Addr, pkt []byte) *dhcpv6.Message {
		conn, err := e.top.Client.ListenUDP(netip.AddrPortFrom(from, 0))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if _, err := conn.WriteToUDPAddrPort(pkt, server); err != nil {
			t.Fatal(err)
		}
		conn.SetReadDeadline(time.Now().Add(3 * time.Second))
		b := make([]byte, 1500)
		n, _, err := conn.ReadFromUDPAddrPort(b)
		if err != nil {
			return nil
		}
		var m dhcpv6.Message
		if err := m.Decode(b[:n]); err != nil {
			e.fatalf("answer does not decode: %v", err)
		}
		return &m
	}
	ia := func(a netip.Addr) []byte {
		v := a.As16()
		return leasequery.Opt6(dhcpv6.OptIAAddr, append(v[:], make([]byte, 8)...))
	}
	m := ask(allowed, lq6Query(t, 0x42, leasequery.QueryByAddress, netip.IPv6Unspecified(), ia(addr)))
	if m == nil || m.Type != leasequery.TypeLeaseQueryReply6 || m.TransactionID != 0x42 {
		e.fatalf("query by address: %+v", m)
	}
	id, got := clientData(m)
	if fmt.Sprintf("%x", id) != strings.ReplaceAll(duid, ":", "") || strings.Join(got, " ") != addr.String()+" "+pd.String() {
		e.fatalf("client data: DUID %x addresses %v, want %s, %v and %v", id, got, duid, addr, pd)
	}
	m = ask(allowed, lq6Query(t, 0x43, leasequery.QueryByAddress, netip.IPv6Unspecified(), ia(netip.MustParseAddr("2001:db8::1"))))
	if st, ok := m.StatusCode(); m == nil || !ok || st.Code != leasequery.Status6NotConfigured {
		e.fatalf("foreign address: want status NotConfigured, got %+v", m)
	}
	if m := ask(other, lq6Query(t, 0x44, leasequery.QueryByAddress, netip.IPv6Unspecified(), ia(addr))); m != nil {
		e.fatalf("requestor %v not on the list got %v", other, m.Type)
	}

	// Bulk over TCP by link address.
	var conn net.Conn
	if err := e.top.Client.Do(func() error {
		d := net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(allowed, 0)), Timeout: 3 * time.Second}
		var err error
		conn, err = d.Dial("tcp", server.String())
		return err
	}); err != nil {
		e.fatalf("dial bulk leasequery: %v", err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	q := lq6Query(t, 0x45, leasequery.QueryByLinkAddress, netns.ServerPrefix6.Addr(), nil)
	conn.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(q))), q...))
	var types []string
	for len(types) < 10 {
		var l [2]byte
		if _, err := io.ReadFull(conn, l[:]); err != nil {
			e.fatalf("bulk answer after %v: %v", types, err)
		}
		b := make([]byte, binary.BigEndian.Uint16(l[:]))
		if _, err := io.ReadFull(conn, b); err != nil {
			e.fatalf("bulk answer: %v", err)
		}
		var m dhcpv6.Message
		if err := m.Decode(b); err != nil {
			e.fatalf("bulk answer: %v", err)
		}
		_, got := clientData(&m)
		types = append(types, fmt.Sprintf("%d%v", m.Type, got))
		if m.Type == leasequery.TypeLeaseQueryDone6 {
			break
		}
	}
	if want := fmt.Sprintf("15[%v %v],16[]", addr, pd); strings.Join(types, ",") != want {
		e.fatalf("bulk by link: %v, want %s", types, want)
	}
}
