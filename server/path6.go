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
	// opts are the layer's options (from a message: all of them, the
	// Relay Message option included, which appendPath leaves out; from a
	// stored path: without it). Bulk leasequery (RFC 5460) matches their
	// Relay-ID and Remote-ID and returns them as relay data (RFC 5007
	// §4.1.2.4). nil: only ifaceID is known (a version 1 path).
	opts dhcpv6.Options
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
		p.hops[i] = hop6{hopCount: rs[i].HopCount, link: rs[i].LinkAddr, peer: rs[i].PeerAddr, ifaceID: rs[i].InterfaceID(),
			opts: rs[i].Options}
	}
	p.n = len(rs)
}

// Return path wire form (lease.Lease.RelayInfo of a DHCPv6 binding),
// version 2:
//
//	byte    version (2)
//	byte    interface name length, name
//	16+2    destination address and port (client or outermost relay)
//	byte    relay layers n (0: direct)
//	n times byte hop-count, 16 link-address, 16 peer-address,
//	        2-byte options length, the layer's options without the
//	        Relay Message option (Interface-Id, Remote-Id, Relay-ID, ...)
//
// Version 1 (written before bulk leasequery by relay id and remote id)
// has, per layer, the 2-byte interface-id length and the interface-id in
// place of the options; parsePath reads both, so bindings stored by an
// older binary keep their return path (their relays' other options are
// unknown until the client's next message).
const (
	pathVersion1 = 1
	pathVersion  = 2
)

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
		at := len(b)
		b = append(b, 0, 0)
		if h.opts == nil && h.ifaceID != nil {
			b = binary.BigEndian.AppendUint16(b, uint16(dhcpv6.OptInterfaceID))
			b = binary.BigEndian.AppendUint16(b, uint16(len(h.ifaceID)))
			b = append(b, h.ifaceID...)
		}
		for it := h.opts.Iter(); it.Next(); {
			if it.Code() == dhcpv6.OptRelayMsg {
				continue // the client's message (or the next layer) is not kept
			}
			b = append(b, h.opts[it.Offset():it.Offset()+4+len(it.Data())]...)
		}
		// A decoded layer's options fit a message: less than 64 KiB.
		binary.BigEndian.PutUint16(b[at:], uint16(min(len(b)-at-2, 0xffff)))
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
	if v == nil || (v[0] != pathVersion && v[0] != pathVersion1) {
		return errBadPath
	}
	version := v[0]
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
		var f []byte
		if n > 0 {
			if f = take(n); f == nil {
				return errBadPath
			}
		}
		if version == pathVersion1 {
			h.ifaceID = f
			continue
		}
		h.opts = dhcpv6.Options(f)
		if f == nil {
			h.opts = dhcpv6.Options{}
		}
		if err := h.opts.Validate(); err != nil || h.opts.Has(dhcpv6.OptRelayMsg) {
			return errBadPath // never written: the Relay Message option is left out
		}
		h.ifaceID, _ = h.opts.Get(dhcpv6.OptInterfaceID)
	}
	if len(b) != 0 {
		return errBadPath
	}
	return nil
}
