package server

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"
)

// parseFrame is an independent reader for what AppendFrame writes; it checks
// every length and checksum and returns the addresses and payload.
func parseFrame(t *testing.T, f []byte) (FrameAddrs, []byte) {
	return parseFrameCsum(t, f, true)
}

// parseFrameCsum is parseFrame; checkUDP false skips the UDP checksum, for
// frames the kernel sent with checksum offload (a veth peer's packet
// socket sees them before the checksum is completed).
func parseFrameCsum(t *testing.T, f []byte, checkUDP bool) (FrameAddrs, []byte) {
	t.Helper()
	var a FrameAddrs
	if len(f) < frameOverhead {
		t.Fatalf("frame of %d bytes too short", len(f))
	}
	copy(a.DstMAC[:], f[0:6])
	copy(a.SrcMAC[:], f[6:12])
	if et := binary.BigEndian.Uint16(f[12:14]); et != 0x0800 {
		t.Fatalf("ethertype %#x", et)
	}
	ip := f[14:]
	if ip[0] != 0x45 {
		t.Fatalf("version/ihl %#x", ip[0])
	}
	if ip[8] != 64 || ip[9] != 17 {
		t.Fatalf("ttl %d proto %d", ip[8], ip[9])
	}
	total := int(binary.BigEndian.Uint16(ip[2:4]))
	if total != len(ip) {
		t.Fatalf("ip total length %d, have %d", total, len(ip))
	}
	// The ones' complement sum over a header with a correct checksum is 0xffff.
	if s := fold(sum16(0, ip[:20])); s != 0xffff {
		t.Fatalf("ip header checksum wrong: sum %#x", s)
	}
	a.Src = netip.AddrFrom4([4]byte(ip[12:16]))
	a.Dst = netip.AddrFrom4([4]byte(ip[16:20]))
	udp := ip[20:]
	if l := int(binary.BigEndian.Uint16(udp[4:6])); l != len(udp) {
		t.Fatalf("udp length %d, have %d", l, len(udp))
	}
	if checkUDP {
		if binary.BigEndian.Uint16(udp[6:8]) == 0 {
			t.Fatal("udp checksum absent")
		}
		// Verify: sum of pseudo header + segment including checksum == 0xffff.
		var s uint32
		s = sum16(s, ip[12:20])
		s += 17 + uint32(len(udp))
		s = sum16(s, udp)
		if fold(s) != 0xffff {
			t.Fatalf("udp checksum wrong: sum %#x", fold(s))
		}
	}
	a.SrcPort = binary.BigEndian.Uint16(udp[0:2])
	a.DstPort = binary.BigEndian.Uint16(udp[2:4])
	return a, udp[8:]
}

func TestAppendFrame(t *testing.T) {
	in := FrameAddrs{
		SrcMAC:  [6]byte{0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee},
		DstMAC:  [6]byte{0x02, 0x11, 0x22, 0x33, 0x44, 0x55},
		Src:     netip.MustParseAddr("192.0.2.1"),
		Dst:     netip.MustParseAddr("192.0.2.77"),
		SrcPort: 67, DstPort: 68,
	}
	for _, n := range []int{0, 1, 300, 301, 576, 1400} {
		payload := make([]byte, n)
		for i := range payload {
			payload[i] = byte(i*7 + n)
		}
		prefix := []byte("keep")
		f, err := AppendFrame(append([]byte(nil), prefix...), &in, payload)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(f, prefix) {
			t.Fatal("prefix clobbered")
		}
		got, p := parseFrame(t, f[len(prefix):])
		if got != in {
			t.Errorf("n=%d: addrs %+v, want %+v", n, got, in)
		}
		if !bytes.Equal(p, payload) {
			t.Errorf("n=%d: payload differs", n)
		}
	}
}

// A known-answer IPv4 header checksum (the classic example from
// Wikipedia's "IPv4 header checksum" article: 45 00 00 73 00 00 40 00 40 11
// .. c0 a8 00 01 c0 a8 00 c7 -> b861).
func TestIPv4ChecksumKnownAnswer(t *testing.T) {
	h := []byte{0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0, 0, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7}
	if c := ^fold(sum16(0, h)); c != 0xb861 {
		t.Fatalf("checksum %#x, want 0xb861", c)
	}
}

func TestAppendFrameRejectsIPv6(t *testing.T) {
	a := FrameAddrs{Src: netip.MustParseAddr("::1"), Dst: netip.MustParseAddr("192.0.2.1")}
	if _, err := AppendFrame(nil, &a, nil); err == nil {
		t.Fatal("want error")
	}
}

func TestAppendFrameAllocs(t *testing.T) {
	a := FrameAddrs{Src: netip.MustParseAddr("192.0.2.1"), Dst: netip.MustParseAddr("192.0.2.2"), SrcPort: 67, DstPort: 68}
	buf := make([]byte, 0, 2048)
	payload := make([]byte, 300)
	n := testing.AllocsPerRun(100, func() {
		_, _ = AppendFrame(buf[:0], &a, payload)
	})
	if n != 0 {
		t.Fatalf("AppendFrame allocates %v times", n)
	}
}
