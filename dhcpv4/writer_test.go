package dhcpv4

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"
)

var (
	testMAC    = [16]byte{0x02, 0x42, 0xac, 0x11, 0x00, 0x02}
	testKey    = []byte{0x01, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}
	testRelay  = []byte{1, 4, 'e', 't', 'h', '0', 2, 6, 0x02, 0x42, 0xac, 0x11, 0x00, 0x02, 5, 4, 10, 0, 0, 0}
	testRoutes = []byte{24, 192, 168, 1, 10, 0, 0, 1, 0, 10, 0, 0, 1}
)

// writeAck encodes the fxAck fixture the way a server would.
func writeAck(w *Writer, buf []byte) ([]byte, int, error) {
	h := Header{Op: BootReply, HType: 1, HLen: 6, Hops: 1, XID: 0x0badcafe,
		YIAddr: netip.AddrFrom4([4]byte{10, 0, 0, 50}), GIAddr: netip.AddrFrom4([4]byte{10, 0, 0, 1}), CHAddr: testMAC}
	w.Reset(buf)
	w.Header(&h)
	w.OptionByte(OptMessageType, byte(Ack))
	w.OptionAddr(OptServerID, netip.AddrFrom4([4]byte{10, 0, 0, 254}))
	w.OptionUint32(OptLeaseTime, 3600)
	w.OptionUint32(OptRenewalTime, 1800)
	w.OptionUint32(OptRebindingTime, 3150)
	w.OptionAddr(OptSubnetMask, netip.AddrFrom4([4]byte{255, 255, 255, 0}))
	w.OptionAddr(OptRouter, netip.AddrFrom4([4]byte{10, 0, 0, 1}))
	w.OptionAddrs(OptDNS, netip.AddrFrom4([4]byte{10, 0, 0, 1}))
	w.Option(OptClasslessRoutes, testRoutes)
	off := w.OptionAuth(Auth{Protocol: AuthProtoReconfigureKey, Algorithm: AuthAlgHMACMD5, ReplayDetection: 1, Info: testKey})
	w.Option(OptRelayAgentInfo, testRelay)
	out, err := w.End()
	return out, off, err
}

func TestWriterGolden(t *testing.T) {
	var w Writer
	buf := make([]byte, 0, 1500)
	sid := a4("10.0.0.254")

	t.Run("ack", func(t *testing.T) {
		out, off, err := writeAck(&w, buf)
		if err != nil {
			t.Fatal(err)
		}
		want := mustHex(t, fxAck)
		if !bytes.Equal(out, want) {
			t.Fatalf("ACK:\n got %x\nwant %x", out, want)
		}
		var m Message
		if err := m.Decode(out); err != nil {
			t.Fatal(err)
		}
		moff, n, ok := m.AuthInfoOffset()
		if !ok || moff != off || n != AuthReconfigureInfoLen || !bytes.Equal(out[off:off+n], testKey) {
			t.Errorf("auth info offset: writer %d, message %d/%d/%v", off, moff, n, ok)
		}
	})
	t.Run("offer", func(t *testing.T) {
		h := Header{Op: BootReply, HType: 1, HLen: 6, XID: 0xa1b2c3d4, Flags: FlagBroadcast, YIAddr: a4("10.0.0.50"), CHAddr: testMAC}
		w.Reset(buf)
		w.Header(&h)
		w.OptionByte(OptMessageType, byte(Offer))
		w.OptionAddr(OptServerID, sid)
		w.OptionUint32(OptLeaseTime, 3600)
		w.OptionUint32(OptRenewalTime, 1800)
		w.OptionUint32(OptRebindingTime, 3150)
		w.OptionAddr(OptSubnetMask, a4("255.255.255.0"))
		w.OptionAddr(OptRouter, a4("10.0.0.1"))
		w.OptionAddrs(OptDNS, a4("10.0.0.1"), a4("10.0.0.2"))
		w.OptionString(OptDomainName, "example.net")
		out, err := w.End()
		if err != nil {
			t.Fatal(err)
		}
		if want := mustHex(t, fxOffer); !bytes.Equal(out, want) {
			t.Fatalf("OFFER:\n got %x\nwant %x", out, want)
		}
	})
	t.Run("nak", func(t *testing.T) {
		h := Header{Op: BootReply, HType: 1, HLen: 6, XID: 0x0badcafe, Flags: FlagBroadcast, CHAddr: testMAC}
		w.Reset(buf)
		w.Header(&h)
		w.OptionByte(OptMessageType, byte(Nak))
		w.OptionAddr(OptServerID, sid)
		w.OptionString(OptMessage, "address not ours..")
		out, err := w.End()
		if err != nil {
			t.Fatal(err)
		}
		if want := mustHex(t, fxNak); !bytes.Equal(out, want) {
			t.Fatalf("NAK:\n got %x\nwant %x", out, want)
		}
	})
	t.Run("forcerenew", func(t *testing.T) {
		h := Header{Op: BootReply, HType: 1, HLen: 6, XID: 0x0badcafe, CIAddr: a4("10.0.0.50"), CHAddr: testMAC}
		w.Reset(buf)
		w.Header(&h)
		w.OptionByte(OptMessageType, byte(ForceRenew))
		w.OptionAddr(OptServerID, sid)
		info := make([]byte, AuthReconfigureInfoLen)
		info[0] = AuthInfoHMACMD5
		off := w.OptionAuth(Auth{Protocol: AuthProtoReconfigureKey, Algorithm: AuthAlgHMACMD5, ReplayDetection: 2, Info: info})
		out, err := w.End()
		if err != nil {
			t.Fatal(err)
		}
		if want := mustHex(t, fxForceRenew); !bytes.Equal(out, want) {
			t.Fatalf("FORCERENEW:\n got %x\nwant %x", out, want)
		}
		if out[off] != AuthInfoHMACMD5 {
			t.Errorf("auth info offset %d points at %#x", off, out[off])
		}
	})
}

func TestWriterLongOptionSplit(t *testing.T) {
	var w Writer
	long := bytes.Repeat([]byte{'x'}, 600)
	w.Reset(make([]byte, 0, 1500))
	w.Header(&Header{Op: BootReply})
	w.OptionByte(OptMessageType, byte(Ack))
	w.Option(OptDomainSearch, long)
	out, err := w.End()
	if err != nil {
		t.Fatal(err)
	}
	// RFC 3396 §5: 255 + 255 + 90, consecutive instances of code 119.
	o := out[offOptions+3:]
	if o[0] != 119 || o[1] != 255 || o[257] != 119 || o[258] != 255 || o[514] != 119 || o[515] != 90 || o[606] != 255 {
		t.Fatalf("split layout wrong: % x", o[:8])
	}
	var m Message
	if err := m.Decode(out); err != nil {
		t.Fatal(err)
	}
	if v, _ := m.Option(OptDomainSearch); !bytes.Equal(v, long) {
		t.Errorf("concatenated value has %d bytes, want 600", len(v))
	}
	// 63 addresses (252 bytes) + 1 splits too; decoding gives them back.
	addrs := make([]netip.Addr, 70)
	for i := range addrs {
		addrs[i] = netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)})
	}
	w.Reset(make([]byte, 0, 1500))
	w.Header(&Header{Op: BootReply})
	w.OptionByte(OptMessageType, byte(Ack))
	w.OptionAddrs(OptDNS, addrs...)
	out, err = w.End()
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Decode(out); err != nil {
		t.Fatal(err)
	}
	v, _ := m.Option(OptDNS)
	got, err := AppendAddrs(nil, v)
	if err != nil || len(got) != 70 || got[69] != addrs[69] {
		t.Errorf("addresses: %d %v", len(got), err)
	}
}

func TestWriterErrors(t *testing.T) {
	var w Writer
	// Too small for the header: no panic, ErrShortBuffer.
	w.Reset(make([]byte, 0, 100))
	w.Header(&Header{Op: BootRequest})
	w.OptionByte(OptMessageType, 1)
	if _, err := w.End(); !errors.Is(err, ErrShortBuffer) {
		t.Errorf("small buffer: %v", err)
	}
	// Room for options but not for the 300-byte padding.
	w.Reset(make([]byte, 0, 260))
	w.Header(&Header{Op: BootRequest})
	w.OptionByte(OptMessageType, 1)
	if _, err := w.End(); !errors.Is(err, ErrShortBuffer) {
		t.Errorf("no room for padding: %v", err)
	}
	// Every size from 0 to the full message fails cleanly or succeeds.
	full := len(mustHex(t, fxAck))
	for n := 0; n < full+10; n++ {
		_, _, err := writeAck(&w, make([]byte, 0, n))
		if (err == nil) != (n >= full) {
			t.Fatalf("cap %d: %v", n, err)
		}
	}
	cases := map[string]func(w *Writer){
		"ipv6 header":       func(w *Writer) { w.Header(&Header{YIAddr: a4("::1")}) },
		"ipv6 option":       func(w *Writer) { w.Header(&Header{}); w.OptionAddr(OptRouter, a4("::1")) },
		"option before hdr": func(w *Writer) { w.OptionByte(OptMessageType, 1) },
		"pad option":        func(w *Writer) { w.Header(&Header{}); w.Option(OptPad, nil) },
		"end option":        func(w *Writer) { w.Header(&Header{}); w.Option(OptEnd, []byte{1}) },
		"long sname":        func(w *Writer) { w.Header(&Header{SName: make([]byte, 65)}) },
		"long file":         func(w *Writer) { w.Header(&Header{File: make([]byte, 129)}) },
		"hlen":              func(w *Writer) { w.Header(&Header{HLen: 17}) },
		"empty addrs":       func(w *Writer) { w.Header(&Header{}); w.OptionAddrs(OptDNS) },
		"long auth":         func(w *Writer) { w.Header(&Header{}); w.OptionAuth(Auth{Info: make([]byte, 245)}) },
		"header twice":      func(w *Writer) { w.Header(&Header{}); w.Header(&Header{}) },
	}
	for name, f := range cases {
		w.Reset(make([]byte, 0, 1500))
		f(&w)
		var ee *EncodeError
		if _, err := w.End(); !errors.As(err, &ee) {
			t.Errorf("%s: err = %v, want *EncodeError", name, err)
		}
	}
}

func TestWriterZeroLengthAndMapped(t *testing.T) {
	var w Writer
	w.Reset(make([]byte, 0, 600))
	w.Header(&Header{Op: BootReply, YIAddr: a4("::ffff:10.0.0.9")})
	w.OptionByte(OptMessageType, byte(Ack))
	w.Option(80, nil) // rapid commit: zero length
	out, err := w.End()
	if err != nil {
		t.Fatal(err)
	}
	var m Message
	if err := m.Decode(out); err != nil {
		t.Fatal(err)
	}
	if v, ok := m.Option(80); !ok || len(v) != 0 {
		t.Errorf("option 80: %v %v", v, ok)
	}
	if m.YIAddr != a4("10.0.0.9") {
		t.Errorf("yiaddr %v", m.YIAddr)
	}
	if len(out) != MinPacketLen {
		t.Errorf("len %d, want padded to 300", len(out))
	}
}

func TestAuthHMACInput(t *testing.T) {
	var w Writer
	pkt, off, err := writeAck(&w, make([]byte, 0, 600))
	if err != nil {
		t.Fatal(err)
	}
	in, err := AuthHMACInput(nil, pkt, off+1, 16)
	if err != nil {
		t.Fatal(err)
	}
	if in[offHops] != 0 || !bytes.Equal(in[offGIAddr:offGIAddr+4], []byte{0, 0, 0, 0}) {
		t.Errorf("hops/giaddr not zeroed")
	}
	if in[off] != 1 || !bytes.Equal(in[off+1:off+17], make([]byte, 16)) {
		t.Errorf("MAC field not zeroed")
	}
	if pkt[offHops] != 1 || pkt[off+2] != 1 {
		t.Errorf("input packet modified")
	}
	if !bytes.Equal(in[off+17:], pkt[off+17:]) || !bytes.Equal(in[offOptions:off], pkt[offOptions:off]) {
		t.Errorf("other bytes changed")
	}
	if _, err := AuthHMACInput(nil, pkt, 10, 4); err == nil {
		t.Errorf("zeroing inside the header accepted")
	}
	if _, err := AuthHMACInput(nil, pkt, len(pkt)-2, 4); err == nil {
		t.Errorf("zeroing past the end accepted")
	}
}
