package server

// DHCPv4 leasequery (RFC 4388) arrives on the DHCP port like any request:
// handle hands a copy of a DHCPLEASEQUERY to the function installed here
// (package leasequery, wired in cmd/leased), which answers later, off the
// reader goroutine, through the reply function it is given. This file and
// the marked lines in handle are the whole hook.

import (
	"bytes"
	"net/netip"

	"github.com/leased/leased/dhcpv4"
)

// msgLeaseQuery is DHCPLEASEQUERY (RFC 4388 §6.1).
const msgLeaseQuery dhcpv4.MessageType = 10

// LeaseQuery4Func receives a DHCPLEASEQUERY: pkt is a copy of the packet
// (the function may keep it), local the address it arrived on (the server
// identifier to answer with). It runs on a reader goroutine and must
// return at once (queue the work, drop it when the queue is full); it
// answers, from any goroutine, by calling reply with the encoded answer,
// which is sent to giaddr at the relay port. Not calling reply drops the
// query.
type LeaseQuery4Func func(pkt []byte, local netip.Addr, reply func([]byte))

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
	dest := netip.AddrPortFrom(p.msg.GIAddr, s.relayPort)
	(*fp)(bytes.Clone(p.buf[:p.n]), local, func(out []byte) {
		s.batch.send(out, outSpec{to: dest, pktInfo: true, src: local, kind: DestRelay})
	})
	return true
}
