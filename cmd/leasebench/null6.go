package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"

	"golang.org/x/net/ipv6"

	"github.com/leased/leased/dhcpv6"
)

// The DHCPv6 null server answers every Solicit with an Advertise (a Reply
// with Rapid Commit when the Solicit asks for it) and every Request, Renew,
// Rebind or Release with a Reply, with an address and a prefix derived from
// the client's DUID, no state, no disk, no key. It answers both kinds of
// message a DHCPv6 server gets:
//
//   - relayed: a Relay-forward (leasebench -6, RFC 8357 Relay Source Port)
//     gets a Relay-reply to the source address and port;
//   - direct: a client's message sent to ff02::1:2 from its link-local
//     address (perfdhcp -6 -l IFACE, real clients) gets its answer at that
//     link-local address on port 546. With --iface the socket joins
//     All_DHCP_Relay_Agents_and_Servers on that interface.
//
// It is the floor of bench/compare6: what any server pays on this machine
// to read and write these packets through the kernel.

// null6 is the null server's fixed configuration; it keeps no state per
// client.
type null6 struct {
	duid []byte
	// prefix is the /64 the derived addresses are in (the first 8 bytes).
	prefix [8]byte
	// clientPort is where direct replies go: 546 (RFC 8415 §7.2); tests
	// over loopback set their own.
	clientPort int
}

func newNull6() *null6 {
	return &null6{
		duid:       dhcpv6.AppendDUIDLL(nil, dhcpv6.HTypeEthernet, []byte{0x02, 0, 0, 0, 0, 1}),
		prefix:     [8]byte{0xfd, 0x77},
		clientPort: dhcpv6.ClientPort,
	}
}

// nullServe6 runs the null server with its defaults (addresses in
// fd77::/64) until ctx ends, then closes conn.
func nullServe6(ctx context.Context, conn *net.UDPConn) { newNull6().serve(ctx, conn) }

// listenNull6 opens the null server's socket on ap. With iface it joins
// ff02::1:2 on that interface (so direct Solicits reach it) and takes the
// /64 of the interface's first global address for the derived addresses.
func listenNull6(ap netip.AddrPort, iface string) (*net.UDPConn, *null6, error) {
	s := newNull6()
	conn, err := listenReuse(ap)
	if err != nil {
		return nil, nil, err
	}
	if iface == "" {
		return conn, s, nil
	}
	ifi, err := net.InterfaceByName(iface)
	if err == nil {
		err = ipv6.NewPacketConn(conn).JoinGroup(ifi, net.UDPAddrFromAddrPort(netip.AddrPortFrom(dhcpv6.AllRelayAgentsAndServers, 0)))
	}
	if err != nil {
		conn.Close()
		return nil, nil, fmt.Errorf("--iface %s: join %v: %w", iface, dhcpv6.AllRelayAgentsAndServers, err)
	}
	if addrs, err := ifi.Addrs(); err == nil {
		for _, a := range addrs {
			if p, err := netip.ParsePrefix(a.String()); err == nil && p.Addr().Is6() && !p.Addr().Is4In6() && p.Addr().IsGlobalUnicast() {
				b := p.Addr().As16()
				copy(s.prefix[:], b[:8])
				break
			}
		}
	}
	return conn, s, nil
}

// serve answers until ctx ends, then closes conn: one goroutine, recvmmsg
// and sendmmsg in batches of batchLen, no state.
func (s *null6) serve(ctx context.Context, conn *net.UDPConn) {
	var m dhcpv6.Message
	var w dhcpv6.Writer
	serveBatches(ctx, conn, ipv6.NewPacketConn(conn), func(req []byte, from net.Addr, buf []byte) ([]byte, net.Addr) {
		if m.Decode(req) != nil {
			return nil, nil
		}
		pkt, direct, ok := s.answer(&w, &m, buf)
		if !ok {
			return nil, nil
		}
		if direct {
			// A client's own message: the answer goes to its source
			// address (link-local, with its zone) on the client port
			// (RFC 8415 §7.2).
			if ua, ok := from.(*net.UDPAddr); ok {
				ua.Port = s.clientPort
			}
		}
		return pkt, from
	})
}

// answer writes into dst the answer to m, if m is a client message a
// server answers: in a Relay-reply when m came relayed (direct false),
// bare when the client sent it itself (direct true).
func (s *null6) answer(w *dhcpv6.Writer, m *dhcpv6.Message, dst []byte) (pkt []byte, direct, ok bool) {
	relays := m.Relays()
	if len(relays) > 0 && relays[0].Type != dhcpv6.RelayForward {
		return nil, false, false
	}
	cid, sid := m.ClientID(), m.ServerID()
	if len(cid) == 0 {
		// RFC 8415 §16.2, §16.4, §16.6, §16.8, §16.9: a Solicit,
		// Request, Renew, Rebind or Release without a Client
		// Identifier MUST be discarded.
		return nil, false, false
	}
	var t dhcpv6.MessageType
	rapid := false
	switch m.Type {
	case dhcpv6.Solicit, dhcpv6.Rebind:
		// §16.2, §16.8: MUST be discarded when it has a Server
		// Identifier.
		if sid != nil {
			return nil, false, false
		}
		t = dhcpv6.Reply
		if m.Type == dhcpv6.Solicit && !m.RapidCommit() {
			t = dhcpv6.Advertise
		}
		rapid = m.Type == dhcpv6.Solicit && m.RapidCommit()
	case dhcpv6.Request, dhcpv6.Renew, dhcpv6.Release:
		// §16.4, §16.6, §16.9: MUST be discarded unless its Server
		// Identifier is this server's DUID.
		if !bytes.Equal(sid, s.duid) {
			return nil, false, false
		}
		t = dhcpv6.Reply
	default:
		return nil, false, false
	}
	var a [16]byte
	copy(a[:8], s.prefix[:])
	copy(a[10:], cid[max(0, len(cid)-6):])
	w.Reset(dst)
	if len(relays) > 0 {
		r := &relays[0]
		w.RelayHeader(dhcpv6.RelayReply, r.HopCount, r.LinkAddr, r.PeerAddr)
		if id := r.InterfaceID(); id != nil {
			w.Option(dhcpv6.OptInterfaceID, id)
		}
		w.BeginOption(dhcpv6.OptRelayMsg)
	}
	w.Header(t, m.TransactionID)
	w.Option(dhcpv6.OptServerID, s.duid)
	w.Option(dhcpv6.OptClientID, cid)
	if rapid {
		w.OptionEmpty(dhcpv6.OptRapidCommit)
	}
	if m.Type != dhcpv6.Release {
		if ia, ok := m.IANA(); ok {
			w.BeginIA(dhcpv6.OptIANA, ia.IAID, 1800, 2880)
			w.BeginIAAddr(netip.AddrFrom16(a), 3600, 7200)
			w.EndOption()
			w.EndOption()
		}
		if ia, ok := m.IAPD(); ok {
			var p [16]byte
			p[0], p[1], p[2] = 0xfd, 0x77, 0x01
			copy(p[2:8], cid[max(0, len(cid)-6):])
			w.BeginIA(dhcpv6.OptIAPD, ia.IAID, 1800, 2880)
			w.BeginIAPrefix(netip.PrefixFrom(netip.AddrFrom16(p), 64), 3600, 7200)
			w.EndOption()
			w.EndOption()
		}
	}
	if len(relays) > 0 {
		w.EndOption()
	}
	pkt, err := w.End()
	if err != nil {
		return nil, false, false
	}
	return pkt, len(relays) == 0, true
}
