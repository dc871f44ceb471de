package e2e

import (
	"bytes"
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

// bulk6 sends one bulk leasequery (RFC 5460 §5.1: 2-octet length, then
// the message) on conn and reads the answers up to LEASEQUERY-DONE or a
// LEASEQUERY-REPLY without client data (nothing found).
func bulk6(e *env, conn net.Conn, q []byte) []*dhcpv6.Message {
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(q))), q...)); err != nil {
		e.fatalf("bulk leasequery: %v", err)
	}
	var out []*dhcpv6.Message
	for len(out) < 10 {
		var l [2]byte
		if _, err := io.ReadFull(conn, l[:]); err != nil {
			e.fatalf("bulk answer after %d messages: %v", len(out), err)
		}
		b := make([]byte, binary.BigEndian.Uint16(l[:]))
		if _, err := io.ReadFull(conn, b); err != nil {
			e.fatalf("bulk answer: %v", err)
		}
		m := new(dhcpv6.Message)
		if err := m.Decode(b); err != nil {
			e.fatalf("bulk answer: %v", err)
		}
		out = append(out, m)
		if _, data := m.Option(leasequery.OptClientData); m.Type == leasequery.TypeLeaseQueryDone6 || (len(out) == 1 && !data) {
			break
		}
	}
	return out
}

// TestLeaseQuery6Relay: dhcpcd -6 binds an address and a prefix through
// dibbler-relay (Debian dibbler-relay), configured to add a Relay-ID
// (OPTION_RELAY_ID, RFC 5460) and a Remote-ID (RFC 4649, enterprise 9) to
// its Relay-forward. A requestor built with leased's codec, in the relay's
// namespace, asks over TCP (RFC 5460) by relay id and by remote id, asking
// for OPTION_LQ_RELAY_DATA: LEASEQUERY-REPLY carries dhcpcd's DUID, its
// address and prefix, and the relay data (the relay's address and its
// Relay-forward without dhcpcd's message, with the relay's options), then
// LEASEQUERY-DONE; another relay id, or the same remote-id under another
// enterprise number, finds nothing. leased restarts and answers the same
// (the relay options are stored with the bindings).
func TestLeaseQuery6Relay(t *testing.T) {
	e := newEnvRelayed(t, "dhcpcd", "dibbler-relay", "ss")
	cfg := defaultConfig6()
	branch := netip.MustParsePrefix("fd78::/64")
	branchPD := netip.MustParsePrefix("fd78:100::/40")
	requestor := netns.RelayUpPrefix6.Addr()
	cfg.Pools = append(cfg.Pools, Pool6{Name: "branch6", Subnet: branch.String(), DNS: []string{"fd78::53"},
		Ranges: [][2]string{{"fd78::1:0", "fd78::1:ffff"}}, PD: branchPD.String(), PDLen: 56,
		Extra: fmt.Sprintf("leasequery:\n  requestors: [%s]\n  bulk_listen: \"off\"\n  bulk_listen6: \"[%s]:547\"\n",
			requestor, netns.ServerPrefix6.Addr())})
	srv := e.startLeased6(cfg)
	relayID := []byte{0, 3, 0, 1, 0x02, 0, 0, 0, 0, 0x77}
	remoteID := []byte{0, 0, 0, 9, 'p', 'o', 'r', 't', '7'}
	e.startDibblerRelay6("option relay-id 00:03:00:01:02:00:00:00:00:77", "option remote-id 9-0x706f727437")

	c := e.startDhcpcd6("dhcpcd6", dhcpcd6Opts{PD: true})
	ev, _ := c.waitEvent(20*time.Second, 0, "BOUND6")
	addr, pd, _ := ev.v6()
	if !branch.Contains(addr) || !branchPD.Contains(pd.Addr()) {
		e.fatalf("BOUND6 through the relay: %v %v, want branch6's", addr, pd)
	}
	srv.waitState6(netip.PrefixFrom(addr, 128), "bound", 5*time.Second)
	srv.waitState6(pd, "bound", 5*time.Second)
	duid := strings.ReplaceAll(strings.ToLower(ev.Vars["new_dhcp6_client_id"]), ":", "")

	server := netip.AddrPortFrom(netns.ServerPrefix6.Addr(), 547)
	dial := func() net.Conn {
		var conn net.Conn
		if err := e.top.Relay.Do(func() error {
			d := net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(requestor, 0)), Timeout: 3 * time.Second}
			var err error
			conn, err = d.Dial("tcp", server.String())
			return err
		}); err != nil {
			e.fatalf("dial bulk leasequery: %v", err)
		}
		return conn
	}
	oro := leasequery.Opt6(dhcpv6.OptORO, []byte{0, byte(leasequery.OptLQRelayData)})
	byRelay := leasequery.Opt6(leasequery.OptRelayID, relayID)
	byRemote := leasequery.Opt6(dhcpv6.OptRemoteID, remoteID)
	check := func(what string, ms []*dhcpv6.Message) {
		t.Helper()
		if len(ms) != 2 || ms[0].Type != leasequery.TypeLeaseQueryReply6 || ms[1].Type != leasequery.TypeLeaseQueryDone6 {
			e.fatalf("%s: %d messages, want LEASEQUERY-REPLY and LEASEQUERY-DONE", what, len(ms))
		}
		id, got := clientData(ms[0])
		if fmt.Sprintf("%x", id) != duid || strings.Join(got, " ") != addr.String()+" "+pd.String() {
			e.fatalf("%s: client data %x %v, want %s %v %v", what, id, got, duid, addr, pd)
		}
		cd, _ := ms[0].Option(leasequery.OptClientData)
		rd, ok := dhcpv6.Options(cd).Get(leasequery.OptLQRelayData)
		if !ok || len(rd) < 16+34 {
			e.fatalf("%s: no relay data in %x", what, cd)
		}
		// peer-address, then the Relay-forward: msg-type, hop-count,
		// link-address, peer-address, options (RFC 8415 §9) — without a
		// Relay Message option, the client's message being left out.
		peer := netip.AddrFrom16([16]byte(rd[:16]))
		opts := dhcpv6.Options(rd[16+34:])
		rid, _ := opts.Get(leasequery.OptRelayID)
		rem, _ := opts.Get(dhcpv6.OptRemoteID)
		iid, _ := opts.Get(dhcpv6.OptInterfaceID)
		link := netip.AddrFrom16([16]byte(rd[16+2 : 16+18]))
		if peer != requestor || dhcpv6.MessageType(rd[16]) != dhcpv6.RelayForward || link != netip.MustParseAddr("fd78::1") ||
			!bytes.Equal(rid, relayID) || !bytes.Equal(rem, remoteID) || !bytes.Equal(iid, []byte{0, 0, 0x15, 0xb3}) || // dibbler: 5555 as 4 octets
			opts.Has(dhcpv6.OptRelayMsg) || opts.Validate() != nil {
			e.fatalf("%s: relay data peer %v link %v relay-id %x remote-id %x interface-id %x, options %x", what, peer, link, rid, rem, iid, []byte(opts))
		}
	}
	for round := range 2 {
		conn := dial()
		check("by relay id", bulk6(e, conn, lq6Query(t, 0x50, leasequery.QueryByRelayID, netip.IPv6Unspecified(), append(byRelay, oro...))))
		check("by remote id", bulk6(e, conn, lq6Query(t, 0x51, leasequery.QueryByRemoteID, netip.IPv6Unspecified(), append(byRemote, oro...))))
		check("by relay id on the branch link", bulk6(e, conn, lq6Query(t, 0x52, leasequery.QueryByRelayID, netip.MustParseAddr("fd78::1"), append(byRelay, oro...))))
		for _, q := range [][]byte{
			lq6Query(t, 0x53, leasequery.QueryByRelayID, netip.IPv6Unspecified(), leasequery.Opt6(leasequery.OptRelayID, []byte{0, 3, 0, 1, 2, 0, 0, 0, 0, 0x78})),
			lq6Query(t, 0x54, leasequery.QueryByRemoteID, netip.IPv6Unspecified(), leasequery.Opt6(dhcpv6.OptRemoteID, append([]byte{0, 0, 0, 10}, remoteID[4:]...))),
			lq6Query(t, 0x55, leasequery.QueryByRelayID, netns.ServerPrefix6.Addr(), byRelay), // another link
		} {
			if ms := bulk6(e, conn, q); len(ms) != 1 || ms[0].Type != leasequery.TypeLeaseQueryReply6 || ms[0].Options().Has(leasequery.OptClientData) {
				e.fatalf("query %x: %d messages, want one LEASEQUERY-REPLY without client data", ms[0].TransactionID, len(ms))
			}
		}
		conn.Close()
		if round == 0 {
			srv.Stop()
			srv.Start6()
		}
	}
}
