package server

// DHCPv4 leasequery (RFC 4388) arrives on the DHCP port like any request:
// handle hands a DHCPLEASEQUERY to the function installed here (package
// leasequery, wired in cmd/leased) and sends its answer back to the
// requestor. This file and the marked lines in handle are the whole hook.

import (
	"net/netip"

	"github.com/leased/leased/dhcpv4"
)

// msgLeaseQuery is DHCPLEASEQUERY (RFC 4388 §6.1).
const msgLeaseQuery dhcpv4.MessageType = 10

// LeaseQuery4Func answers a DHCPLEASEQUERY: m is the decoded query, local
// the address it arrived on (the server identifier to answer with). It
// returns the encoded answer, or nil to drop the query (a requestor not
// allowed, an undecodable query). It runs on a reader goroutine: it must
// not block.
type LeaseQuery4Func func(m *dhcpv4.Message, local netip.Addr) []byte

// SetLeaseQuery4 installs f; nil (the default) drops leasequery messages
// as any unknown message type.
func (s *Server) SetLeaseQuery4(f LeaseQuery4Func) {
	if f == nil {
		s.lq4.Store(nil)
		return
	}
	s.lq4.Store(&f)
}

// leaseQuery4 answers p if it is a DHCPLEASEQUERY and a handler is
// installed; it reports whether p was taken. The answer goes to giaddr
// at the server port (RFC 4388 §6.3: the requestor is a relay agent); a
// query without giaddr is dropped (RFC 4388 §6.2: giaddr MUST be set).
func (s *Server) leaseQuery4(sd *sender, p *inPacket, ifc *iface, pi pktInfo) bool {
	fp := s.lq4.Load()
	if fp == nil || p.msg.Type() != msgLeaseQuery {
		return false
	}
	if !isSet(p.msg.GIAddr) {
		s.m.drop("leasequery_no_giaddr")
		return true
	}
	local := ifc.addr
	if pi.Local.IsValid() && !pi.Local.IsUnspecified() {
		local = pi.Local
	}
	out := (*fp)(&p.msg, local)
	if out == nil {
		s.m.drop("leasequery_refused")
		return true
	}
	dest := netip.AddrPortFrom(p.msg.GIAddr, s.relayPort)
	s.batch.send(out, dest, true, 0, local, DestRelay, 0, false)
	return true
}
