package server

import (
	"encoding/binary"
	"errors"
	"net/netip"

	"github.com/leased/leased/dhcpv6"
)

// OptRelaySourcePort is the Relay Source Port option (RFC 8357 §5.2): a
// relay that sends from a port other than 547 adds it to its
// Relay-forward, and the server answers to that source port.
const OptRelaySourcePort dhcpv6.OptionCode = 135

// hop6 is one relay layer of a return path, outermost first.
type hop6 struct {
	hopCount   uint8
	link, peer netip.Addr
	ifaceID    []byte // option 18, echoed in the Relay-reply (RFC 8415 §19.3)
}

// path6 is how a message reaches a client: directly on a served interface
// (to = the client's source address and port), or through relays (to = the
// outermost relay's address and the port it listens on, hops the layers
// to wrap the message in, outermost first).
type path6 struct {
	iface string // the served interface the message arrived on
	to    netip.AddrPort
	hops  [dhcpv6.MaxRelayDepth]hop6
	n     int
}

func (p *path6) relayed() bool { return p.n > 0 }

// fromMessage fills p from a decoded message that arrived on ifc from
// src. Slices alias the packet.
func (p *path6) fromMessage(m *dhcpv6.Message, ifc string, src netip.AddrPort) {
	p.iface, p.n = ifc, 0
	rs := m.Relays()
	if len(rs) == 0 {
		p.to = src
		return
	}
	port := uint16(dhcpv6.ServerPort)
	// RFC 8357 §5.2: a Relay-forward with the Relay Source Port option is
	// answered to the port it came from.
	if rs[0].Options.Has(OptRelaySourcePort) {
		port = src.Port()
	}
	p.to = netip.AddrPortFrom(src.Addr(), port)
	for i := range rs {
		p.hops[i] = hop6{hopCount: rs[i].HopCount, link: rs[i].LinkAddr, peer: rs[i].PeerAddr, ifaceID: rs[i].InterfaceID()}
	}
	p.n = len(rs)
}

// Return path wire form (lease.Lease.RelayInfo of a DHCPv6 binding),
// version 1:
//
//	byte    version (1)
//	byte    interface name length, name
//	16+2    destination address and port (client or outermost relay)
//	byte    relay layers n (0: direct)
//	n times byte hop-count, 16 link-address, 16 peer-address,
//	        2-byte interface-id length, interface-id
const pathVersion = 1

var errBadPath = errors.New("server: bad DHCPv6 return path")

// appendPath appends the wire form of p to b.
func appendPath(b []byte, p *path6) []byte {
	b = append(b, pathVersion, byte(min(len(p.iface), 255)))
	b = append(b, p.iface[:min(len(p.iface), 255)]...)
	a := p.to.Addr().As16()
	b = append(b, a[:]...)
	b = binary.BigEndian.AppendUint16(b, p.to.Port())
	b = append(b, byte(p.n))
	for i := range p.n {
		h := &p.hops[i]
		b = append(b, h.hopCount)
		l, q := h.link.As16(), h.peer.As16()
		b = append(b, l[:]...)
		b = append(b, q[:]...)
		n := min(len(h.ifaceID), 0xffff)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
		b = append(b, h.ifaceID[:n]...)
	}
	return b
}

// parsePath decodes a return path; slices alias b.
func parsePath(b []byte, p *path6) error {
	*p = path6{}
	take := func(n int) []byte {
		if len(b) < n {
			return nil
		}
		v := b[:n]
		b = b[n:]
		return v
	}
	v := take(2)
	if v == nil || v[0] != pathVersion {
		return errBadPath
	}
	name := take(int(v[1]))
	if name == nil && v[1] != 0 {
		return errBadPath
	}
	p.iface = string(name)
	v = take(19)
	if v == nil {
		return errBadPath
	}
	p.to = netip.AddrPortFrom(netip.AddrFrom16([16]byte(v[:16])).Unmap(), binary.BigEndian.Uint16(v[16:18]))
	if v[18] > dhcpv6.MaxRelayDepth {
		return errBadPath
	}
	p.n = int(v[18])
	for i := range p.n {
		v = take(35)
		if v == nil {
			return errBadPath
		}
		h := &p.hops[i]
		h.hopCount = v[0]
		h.link = netip.AddrFrom16([16]byte(v[1:17]))
		h.peer = netip.AddrFrom16([16]byte(v[17:33]))
		n := int(binary.BigEndian.Uint16(v[33:35]))
		if n > 0 {
			if h.ifaceID = take(n); h.ifaceID == nil {
				return errBadPath
			}
		}
	}
	if len(b) != 0 {
		return errBadPath
	}
	return nil
}
