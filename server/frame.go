package server

import (
	"encoding/binary"
	"errors"
	"net/netip"
)

// Sizes of the headers AppendFrame writes.
const (
	ethHeaderLen  = 14
	ipv4HeaderLen = 20
	udpHeaderLen  = 8
	frameOverhead = ethHeaderLen + ipv4HeaderLen + udpHeaderLen
	etherTypeIPv4 = 0x0800
)

// FrameAddrs are the link, network and transport addresses of a frame.
type FrameAddrs struct {
	SrcMAC, DstMAC [6]byte
	Src, Dst       netip.Addr // IPv4
	SrcPort        uint16
	DstPort        uint16
}

var errFrameAddrs = errors.New("server: frame needs IPv4 source and destination")

// AppendFrame appends an Ethernet II frame carrying an IPv4 packet
// (TTL 64, no options, DF clear, header checksum) carrying a UDP datagram
// (with checksum) whose payload is payload. It is how a reply reaches a
// client that has no address yet (RFC 2131 §4.1: "unicasts ... to the
// client's hardware address and 'yiaddr' address").
func AppendFrame(dst []byte, a *FrameAddrs, payload []byte) ([]byte, error) {
	if !a.Src.Is4() || !a.Dst.Is4() {
		return dst, errFrameAddrs
	}
	udpLen := udpHeaderLen + len(payload)
	ipLen := ipv4HeaderLen + udpLen
	if ipLen > 0xffff {
		return dst, errors.New("server: frame payload too large")
	}
	start := len(dst)
	dst = append(dst, make([]byte, frameOverhead)...)
	f := dst[start:]

	// Ethernet.
	copy(f[0:6], a.DstMAC[:])
	copy(f[6:12], a.SrcMAC[:])
	binary.BigEndian.PutUint16(f[12:14], etherTypeIPv4)

	// IPv4 (RFC 791).
	ip := f[ethHeaderLen : ethHeaderLen+ipv4HeaderLen]
	ip[0] = 0x45 // version 4, IHL 5
	ip[1] = 0    // DSCP/ECN
	binary.BigEndian.PutUint16(ip[2:4], uint16(ipLen))
	binary.BigEndian.PutUint16(ip[4:6], 0) // identification (not fragmented)
	binary.BigEndian.PutUint16(ip[6:8], 0) // flags, fragment offset
	ip[8] = 64                             // TTL
	ip[9] = 17                             // UDP
	ip[10], ip[11] = 0, 0
	src4, dst4 := a.Src.As4(), a.Dst.As4()
	copy(ip[12:16], src4[:])
	copy(ip[16:20], dst4[:])
	binary.BigEndian.PutUint16(ip[10:12], ^fold(sum16(0, ip)))

	// UDP (RFC 768).
	udp := f[ethHeaderLen+ipv4HeaderLen:]
	binary.BigEndian.PutUint16(udp[0:2], a.SrcPort)
	binary.BigEndian.PutUint16(udp[2:4], a.DstPort)
	binary.BigEndian.PutUint16(udp[4:6], uint16(udpLen))
	udp[6], udp[7] = 0, 0
	dst = append(dst, payload...)

	udp = dst[start+ethHeaderLen+ipv4HeaderLen:]
	binary.BigEndian.PutUint16(udp[6:8], udpChecksum(src4, dst4, udp))
	return dst, nil
}

// udpChecksum computes the UDP checksum over the pseudo header and seg
// (header with a zero checksum field, and payload). A result of zero is
// sent as 0xffff (RFC 768: zero means "no checksum").
func udpChecksum(src, dst [4]byte, seg []byte) uint16 {
	var s uint32
	s = sum16(s, src[:])
	s = sum16(s, dst[:])
	s += 17
	s += uint32(len(seg))
	s = sum16(s, seg)
	c := ^fold(s)
	if c == 0 {
		c = 0xffff
	}
	return c
}

// sum16 adds b as big-endian 16-bit words (odd length padded with zero).
func sum16(s uint32, b []byte) uint32 {
	n := len(b) &^ 1
	for i := 0; i < n; i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)&1 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	return s
}

func fold(s uint32) uint16 {
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return uint16(s)
}
