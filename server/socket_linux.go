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

// Socket design: one UDP socket bound to 0.0.0.0:port with IP_PKTINFO,
// shared by all reader goroutines, rather than one SO_BINDTODEVICE socket
// per interface. IP_PKTINFO gives, per packet, the ingress ifindex and the
// header destination address, which we need anyway (Unicast, and the local
// address a relay sent to); with it one socket serves every interface, the
// kernel spreads packets over the readers, and a reply can be pinned to the
// ingress interface by setting ipi_ifindex on send (broadcasts), or just its
// source address via ipi_spec_dst (unicast, routed normally). Packets that
// arrive on interfaces we do not serve are dropped by ifindex and counted.

// recvBufferBytes is the socket receive buffer leased asks for. The
// kernel default (net.core.rmem_default, often 208 KiB) holds only ~600
// DHCP packets: a burst such as every client of a BNG coming back after a
// power cut (an INIT-REBOOT storm) overflows it and the kernel drops
// requests (UdpRcvbufErrors) before leased sees them. Each queued datagram
// is charged its skb truesize (1–2 KiB), not its 300-odd bytes, so 32 MiB
// holds roughly 20,000 requests. Measured with bench/storms (100,000
// clients in INIT-REBOOT at once): 8 MiB completed 99.1 % in 30 s, 32 MiB
// all of them in 6 s but with 34,000–46,000 UdpRcvbufErrors on the way,
// 128 MiB with 0–9,400 (issue #17, docs/BENCHMARKS.md: six runs each,
// alternated). The kernel doubles the value asked for (socket(7)), so
// this allows up to 256 MiB of queued datagrams per socket, bounded
// machine-wide by net.ipv4.udp_mem; the memory is used only while the
// queue is full, in a storm.
const recvBufferBytes = 128 << 20

// setRecvBuffer raises the receive buffer: SO_RCVBUFFORCE (root or
// CAP_NET_ADMIN) goes past net.core.rmem_max; otherwise SO_RCVBUF gives
// what rmem_max allows. Failure is not fatal: the default still works.
func setRecvBuffer(fd, n int) {
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, n) == nil {
		return
	}
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, n)
}

func listenUDP(port int) (*net.UDPConn, error) {
	lc := net.ListenConfig{Control: func(network, address string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			for _, o := range [...][3]int{
				{unix.SOL_SOCKET, unix.SO_REUSEADDR, 1},
				{unix.SOL_SOCKET, unix.SO_BROADCAST, 1},
				{unix.IPPROTO_IP, unix.IP_PKTINFO, 1},
			} {
				if serr = unix.SetsockoptInt(int(fd), o[0], o[1], o[2]); serr != nil {
					serr = fmt.Errorf("setsockopt %d/%d: %w", o[0], o[1], serr)
					return
				}
			}
			if serr != nil {
				return
			}
			setRecvBuffer(int(fd), recvBufferBytes)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	pc, err := lc.ListenPacket(context.Background(), "udp4", fmt.Sprintf("0.0.0.0:%d", port))
	if err != nil {
		return nil, err
	}
	return pc.(*net.UDPConn), nil
}

// pktInfo is what IP_PKTINFO says of a received packet (ip(7)).
type pktInfo struct {
	IfIndex int
	Local   netip.Addr // ipi_spec_dst: the local address (routing)
	Dst     netip.Addr // ipi_addr: the header destination address
}

const cmsgAlign = int(unsafe.Sizeof(uintptr(0)))

func cmsgAlignUp(n int) int { return (n + cmsgAlign - 1) &^ (cmsgAlign - 1) }

// parsePktInfo finds IP_PKTINFO in the ancillary data without allocating.
func parsePktInfo(oob []byte) (pktInfo, bool) {
	hdr := unix.SizeofCmsghdr
	for len(oob) >= hdr {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
		l := int(h.Len)
		if l < hdr || l > len(oob) {
			return pktInfo{}, false
		}
		if h.Level == unix.IPPROTO_IP && h.Type == unix.IP_PKTINFO && l >= hdr+unix.SizeofInet4Pktinfo {
			d := oob[cmsgAlignUp(hdr):]
			return pktInfo{
				IfIndex: int(int32(binary.NativeEndian.Uint32(d[0:4]))),
				Local:   netip.AddrFrom4([4]byte(d[4:8])),
				Dst:     netip.AddrFrom4([4]byte(d[8:12])),
			}, true
		}
		next := cmsgAlignUp(l)
		if next >= len(oob) {
			break
		}
		oob = oob[next:]
	}
	return pktInfo{}, false
}

// oobSize is large enough for one IP_PKTINFO control message.
var oobSize = unix.CmsgSpace(unix.SizeofInet4Pktinfo)

// putPktInfo writes an IP_PKTINFO control message choosing the outgoing
// interface (ifindex, 0 for routing) and source address into b, which must
// be at least oobSize bytes and pointer-aligned, and returns it.
func putPktInfo(b []byte, ifindex int, src netip.Addr) []byte {
	b = b[:oobSize]
	clear(b)
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
	h.Level = unix.IPPROTO_IP
	h.Type = unix.IP_PKTINFO
	h.SetLen(unix.CmsgLen(unix.SizeofInet4Pktinfo))
	d := b[cmsgAlignUp(unix.SizeofCmsghdr):]
	binary.NativeEndian.PutUint32(d[0:4], uint32(int32(ifindex)))
	if src.Is4() {
		a := src.As4()
		copy(d[4:8], a[:])
	}
	return b
}
