package server

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// DHCPv6 socket design: like DHCPv4, one UDP socket bound to [::]:547 with
// IPV6_RECVPKTINFO shared by the readers. The kernel reports per packet
// the ingress ifindex (to drop unserved interfaces and pick the pool of a
// direct client) and the destination address (ff02::1:2 or one of ours:
// unicast, RFC 8415 §16). Replies to direct clients leave through the
// ingress interface (ipi6_ifindex) towards the client's link-local
// source; replies to relays are routed normally.

// listenUDP6 opens the DHCPv6 server socket on port (0: any free port).
func listenUDP6(port int) (*net.UDPConn, error) {
	lc := net.ListenConfig{Control: func(network, address string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			for _, o := range [...][3]int{
				{unix.SOL_SOCKET, unix.SO_REUSEADDR, 1},
				{unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 1},
				{unix.IPPROTO_IPV6, unix.IPV6_RECVPKTINFO, 1},
				// The server never sends multicast; if it did (a future
				// Reconfigure to a group), it stays on the link and does
				// not come back to our own socket.
				{unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_HOPS, 1},
				{unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_LOOP, 0},
			} {
				if serr = unix.SetsockoptInt(int(fd), o[0], o[1], o[2]); serr != nil {
					serr = fmt.Errorf("setsockopt %d/%d: %w", o[0], o[1], serr)
					return
				}
			}
			setRecvBuffer(int(fd), recvBufferBytes)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	pc, err := lc.ListenPacket(context.Background(), "udp6", fmt.Sprintf("[::]:%d", port))
	if err != nil {
		return nil, err
	}
	return pc.(*net.UDPConn), nil
}

// joinGroup6 joins the multicast group on the interface ifindex
// (RFC 8415 §7.1: servers listen on All_DHCP_Relay_Agents_and_Servers).
func joinGroup6(conn *net.UDPConn, ifindex int, group netip.Addr) error {
	rc, err := conn.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	err = rc.Control(func(fd uintptr) {
		mreq := &unix.IPv6Mreq{Multiaddr: group.As16(), Interface: uint32(ifindex)}
		serr = unix.SetsockoptIPv6Mreq(int(fd), unix.IPPROTO_IPV6, unix.IPV6_JOIN_GROUP, mreq)
	})
	if err != nil {
		return err
	}
	return serr
}

// pktInfo6 is what IPV6_PKTINFO says of a received packet (ipv6(7)).
type pktInfo6 struct {
	IfIndex int
	Dst     netip.Addr // the header destination address
}

// parsePktInfo6 finds IPV6_PKTINFO in the ancillary data without
// allocating.
func parsePktInfo6(oob []byte) (pktInfo6, bool) {
	hdr := unix.SizeofCmsghdr
	for len(oob) >= hdr {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
		l := int(h.Len)
		if l < hdr || l > len(oob) {
			return pktInfo6{}, false
		}
		if h.Level == unix.IPPROTO_IPV6 && h.Type == unix.IPV6_PKTINFO && l >= hdr+unix.SizeofInet6Pktinfo {
			d := oob[cmsgAlignUp(hdr):]
			return pktInfo6{
				Dst:     netip.AddrFrom16([16]byte(d[0:16])),
				IfIndex: int(int32(binary.NativeEndian.Uint32(d[16:20]))),
			}, true
		}
		next := cmsgAlignUp(l)
		if next >= len(oob) {
			break
		}
		oob = oob[next:]
	}
	return pktInfo6{}, false
}

// oobSize6 is large enough for one IPV6_PKTINFO control message.
var oobSize6 = unix.CmsgSpace(unix.SizeofInet6Pktinfo)

// putPktInfo6 writes an IPV6_PKTINFO control message choosing the
// outgoing interface (0: routing) and source address (invalid: the
// kernel's choice) into b (at least oobSize6 bytes, pointer-aligned).
func putPktInfo6(b []byte, ifindex int, src netip.Addr) []byte {
	b = b[:oobSize6]
	clear(b)
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
	h.Level = unix.IPPROTO_IPV6
	h.Type = unix.IPV6_PKTINFO
	h.SetLen(unix.CmsgLen(unix.SizeofInet6Pktinfo))
	d := b[cmsgAlignUp(unix.SizeofCmsghdr):]
	if src.Is6() && !src.Is4In6() {
		a := src.As16()
		copy(d[0:16], a[:])
	}
	binary.NativeEndian.PutUint32(d[16:20], uint32(int32(ifindex)))
	return b
}
