package server

// DHCPv6 leasequery (RFC 5007) arrives on the DHCPv6 port: handle6 hands
// a copy of a LEASEQUERY to the function installed here (package
// leasequery, wired in cmd/leased), which answers later, off the reader
// goroutine, through the reply function it is given. This file and the
// marked lines in handle6 are the whole hook.

import (
	"bytes"
	"encoding/binary"
	"net/netip"

	"github.com/leased/leased/dhcpv6"
)

// msgLeaseQuery6 is LEASEQUERY (RFC 5007 §4.2).
const msgLeaseQuery6 dhcpv6.MessageType = 14

// LeaseQuery6Func receives a LEASEQUERY: pkt is a copy of the message
// (the function may keep it), from the requestor's address. It runs on a
// reader goroutine and must return at once; it answers, from any
// goroutine, by calling reply with the encoded LEASEQUERY-REPLY, which is
// sent back to the requestor. Not calling reply drops the query.
type LeaseQuery6Func func(pkt []byte, from netip.Addr, reply func([]byte))

// SetLeaseQuery6 installs f; nil (the default) drops LEASEQUERY as any
// unknown message type.
func (s *Server) SetLeaseQuery6(f LeaseQuery6Func) {
	if f == nil {
		s.lq6.Store(nil)
		return
	}
	s.lq6.Store(&f)
}

// leaseQuery6 answers p if it is a LEASEQUERY sent directly (not relayed,
// RFC 5007 §4.3.1: the requestor unicasts to the server) and a handler is
// installed; it reports whether p was taken. The answer goes back to the
// source address and port.
func (s *Server) leaseQuery6(p *inPacket6, ifc *iface6) bool {
	fp := s.lq6.Load()
	if fp == nil || p.msg.Type != msgLeaseQuery6 || len(p.msg.Relays()) > 0 {
		return false
	}
	src, index, b := p.src, ifc.index, s.v6.batch
	(*fp)(bytes.Clone(p.buf[:p.n]), src.Addr(), func(out []byte) {
		if src.Addr().IsLinkLocalUnicast() {
			b.send(out, outSpec{to: src, pktInfo: true, ifindex: index, kind: via6Direct})
		} else {
			b.send(out, outSpec{to: src, kind: via6Relay})
		}
	})
	return true
}

// optRelayID is OPTION_RELAY_ID (RFC 5460 §5.4.1): the DUID of the relay
// agent, in its Relay-forward.
const optRelayID dhcpv6.OptionCode = 53

// RelayData6 reads what the return path of a DHCPv6 binding
// (lease.Lease.RelayInfo) tells bulk leasequery (RFC 5460) about the
// relays of the client's last message (it is leasequery.Server6.Relays):
// the Relay-ID options (DUIDs) and the Remote-ID options (RFC 4649 §3:
// enterprise number, then the remote-id) of every relay layer that
// included one, innermost (closest to the client) first — RFC 5460 §5.4.1
// lets the server associate the Relay-ID options of the Relay-forward
// messages with the bindings that result (the slices alias relayInfo);
// and, when withData, OPTION_LQ_RELAY_DATA's content (RFC 5007
// §4.1.2.4): the address of the relay the message came from (the
// outermost) and that Relay-forward, its layers as received without the
// client's message. A binding whose client talked to the server
// directly, or a path that does not parse, has none of them.
func RelayData6(relayInfo []byte, withData bool) (relayIDs, remoteIDs [][]byte, peer netip.Addr, msg []byte) {
	var p path6
	if err := parsePath(relayInfo, &p); err != nil || !p.relayed() {
		return nil, nil, netip.Addr{}, nil
	}
	for i := p.n - 1; i >= 0; i-- {
		for it := p.hops[i].opts.Iter(); it.Next(); {
			switch v := it.Data(); {
			case it.Code() == optRelayID && len(v) > 0:
				relayIDs = append(relayIDs, v)
			case it.Code() == dhcpv6.OptRemoteID && len(v) > 4:
				remoteIDs = append(remoteIDs, v)
			}
		}
	}
	if withData {
		peer, msg = p.to.Addr(), relayForward(&p, 0)
	}
	return relayIDs, remoteIDs, peer, msg
}

// relayForward encodes layer i of p and the layers inside it as a
// Relay-forward (RFC 8415 §9): header, the stored options, and the next
// layer in a Relay Message option; the innermost layer ends without one
// (the client's message is not kept).
func relayForward(p *path6, i int) []byte {
	h := &p.hops[i]
	b := []byte{byte(dhcpv6.RelayForward), h.hopCount}
	l, q := h.link.As16(), h.peer.As16()
	b = append(b, l[:]...)
	b = append(b, q[:]...)
	if h.opts == nil && h.ifaceID != nil { // version 1 path
		b = binary.BigEndian.AppendUint16(b, uint16(dhcpv6.OptInterfaceID))
		b = binary.BigEndian.AppendUint16(b, uint16(len(h.ifaceID)))
		b = append(b, h.ifaceID...)
	}
	b = append(b, h.opts...)
	if i+1 < p.n {
		inner := relayForward(p, i+1)
		b = binary.BigEndian.AppendUint16(b, uint16(dhcpv6.OptRelayMsg))
		b = binary.BigEndian.AppendUint16(b, uint16(min(len(inner), 0xffff)))
		b = append(b, inner...)
	}
	return b
}
