package server

// DHCPv6 leasequery (RFC 5007) arrives on the DHCPv6 port: handle6 hands
// a LEASEQUERY to the function installed here (package leasequery, wired
// in cmd/leased) and sends its answer back to the requestor. This file
// and the marked lines in handle6 are the whole hook.

import (
	"net/netip"

	"github.com/leased/leased/dhcpv6"
)

// msgLeaseQuery6 is LEASEQUERY (RFC 5007 §4.2).
const msgLeaseQuery6 dhcpv6.MessageType = 14

// LeaseQuery6Func answers a LEASEQUERY: m is the decoded query, from the
// requestor's address. It returns the encoded LEASEQUERY-REPLY, or nil to
// drop the query. It runs on a reader goroutine: it must not block.
type LeaseQuery6Func func(m *dhcpv6.Message, from netip.Addr) []byte

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
	out := (*fp)(&p.msg, p.src.Addr())
	if out == nil {
		s.v6.m.drop("leasequery_refused")
		return true
	}
	if p.src.Addr().IsLinkLocalUnicast() {
		s.v6.batch.send(out, p.src, true, ifc.index, netip.Addr{}, 1, 0, false)
	} else {
		s.v6.batch.send(out, p.src, false, 0, netip.Addr{}, 0, 0, false)
	}
	return true
}
