package server

// DHCPv6 leasequery (RFC 5007) arrives on the DHCPv6 port: handle6 hands
// a copy of a LEASEQUERY to the function installed here (package
// leasequery, wired in cmd/leased), which answers later, off the reader
// goroutine, through the reply function it is given. This file and the
// marked lines in handle6 are the whole hook.

import (
	"bytes"
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
