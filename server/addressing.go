package server

import (
	"net/netip"

	"github.com/leased/leased/dhcpv4"
)

// DestKind says how a reply leaves the server.
type DestKind uint8

const (
	// DestRelay: UDP unicast to the relay agent named in giaddr, server port.
	DestRelay DestKind = iota + 1
	// DestUnicast: UDP unicast to the client's ciaddr, client port.
	DestUnicast
	// DestBroadcast: UDP to 255.255.255.255:68 out of the ingress interface.
	DestBroadcast
	// DestHardware: a raw Ethernet frame to chaddr carrying an IPv4/UDP
	// packet for yiaddr; the client has no address yet, so the kernel
	// cannot resolve it with ARP.
	DestHardware
)

func (k DestKind) String() string {
	switch k {
	case DestRelay:
		return "relay"
	case DestUnicast:
		return "unicast"
	case DestBroadcast:
		return "broadcast"
	case DestHardware:
		return "hardware"
	}
	return "invalid"
}

// Dest is where one reply goes.
type Dest struct {
	Kind DestKind
	// Addr is the UDP destination (for DestHardware: yiaddr and the client
	// port, used in the IPv4/UDP headers of the frame).
	Addr netip.AddrPort
	// HWAddr is the Ethernet destination for DestHardware.
	HWAddr [6]byte
}

// ReplyTarget is what the addressing decision looks at.
type ReplyTarget struct {
	Type   dhcpv4.MessageType // type of the reply
	GIAddr netip.Addr
	CIAddr netip.Addr
	YIAddr netip.Addr
	Flags  uint16
	HType  uint8
	HLen   uint8
	CHAddr [16]byte
}

var limitedBroadcast = netip.AddrFrom4([4]byte{255, 255, 255, 255})

// isSet reports whether a is a valid, non-zero IPv4 address.
func isSet(a netip.Addr) bool { return a.IsValid() && !a.IsUnspecified() }

// ReplyDest decides where a reply goes, RFC 2131 §4.1 ("If the 'giaddr'
// field in a DHCP message from a client is non-zero, the server sends any
// return messages to the 'DHCP server' port on the BOOTP relay agent ...").
// relayPort is the UDP port of relay agents (67; tests use another).
func ReplyDest(t *ReplyTarget, relayPort uint16) Dest {
	switch {
	case isSet(t.GIAddr):
		return Dest{Kind: DestRelay, Addr: netip.AddrPortFrom(t.GIAddr, relayPort)}
	case t.Type == dhcpv4.Nak:
		// RFC 2131 §4.1: "In all cases, when 'giaddr' is zero, the server
		// broadcasts any DHCPNAK messages to 0xffffffff."
		return Dest{Kind: DestBroadcast, Addr: netip.AddrPortFrom(limitedBroadcast, dhcpv4.ClientPort)}
	case isSet(t.CIAddr):
		return Dest{Kind: DestUnicast, Addr: netip.AddrPortFrom(t.CIAddr, dhcpv4.ClientPort)}
	case t.Flags&dhcpv4.FlagBroadcast != 0:
		return Dest{Kind: DestBroadcast, Addr: netip.AddrPortFrom(limitedBroadcast, dhcpv4.ClientPort)}
	case t.HType == 1 && t.HLen == 6 && isSet(t.YIAddr) && t.YIAddr.Is4():
		d := Dest{Kind: DestHardware, Addr: netip.AddrPortFrom(t.YIAddr, dhcpv4.ClientPort)}
		copy(d.HWAddr[:], t.CHAddr[:6])
		return d
	default:
		// Not Ethernet (or nothing to unicast to): a frame cannot be built
		// for this link type, so broadcast.
		return Dest{Kind: DestBroadcast, Addr: netip.AddrPortFrom(limitedBroadcast, dhcpv4.ClientPort)}
	}
}

// NakCopyDest says whether a NAK also goes, as a unicast copy, to the
// client's ciaddr. RFC 2131 §4.1 has the server broadcast every NAK when
// giaddr is zero, but a client in RENEWING or REBINDING may listen only on
// a socket bound to its leased address (dhcpcd does), which a broadcast to
// 255.255.255.255 never reaches: it would retry and time out instead of
// restarting at INIT. The copy is sent in addition to the broadcast, so
// clients that follow the RFC still get the broadcast; a second NAK for the
// same xid is harmless.
func NakCopyDest(t *ReplyTarget) (Dest, bool) {
	if t.Type != dhcpv4.Nak || isSet(t.GIAddr) || !isSet(t.CIAddr) {
		return Dest{}, false
	}
	return Dest{Kind: DestUnicast, Addr: netip.AddrPortFrom(t.CIAddr, dhcpv4.ClientPort)}, true
}
