package dhcpv6

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"errors"
	"net/netip"
	"testing"
)

var (
	testClientDUID = mustHexDUID("0001 0001 2c4e6b3a 0242ac110002")
	testServerDUID = mustHexDUID("0003 0001 0200000000fe")
	testAddr       = netip.MustParseAddr("fd77::1:10")
	testDNS        = netip.MustParseAddr("fd77::1")
	testKey        = [16]byte{0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff}
)

func mustHexDUID(s string) DUID {
	b, err := parseHex(s)
	if err != nil {
		panic(err)
	}
	return b
}

// writeReply builds fxReply with the Writer.
func writeReply(w *Writer, buf []byte) ([]byte, int, error) {
	w.Reset(buf)
	w.Header(Reply, 0x0badca)
	w.Option(OptServerID, testServerDUID)
	w.Option(OptClientID, testClientDUID)
	w.BeginIA(OptIANA, 0xac110002, 3600, 7200)
	w.BeginIAAddr(testAddr, 7200, 10800)
	w.StatusCode(StatusSuccess, "ok")
	w.EndOption()
	w.EndOption()
	var info [AuthReconfigureInfoLen]byte
	info[0] = AuthInfoReconfigureKey
	copy(info[1:], testKey[:])
	off := w.OptionAuth(Auth{Protocol: AuthProtoReconfigureKey, Algorithm: AuthAlgHMACMD5, RDM: AuthRDMMonotonic, ReplayDetection: 1, Info: info[:]})
	w.OptionAddrs(OptDNSServers, testDNS)
	w.OptionUint32(OptSolMaxRT, 3600)
	w.StatusCode(StatusSuccess, "all good")
	out, err := w.End()
	return out, off, err
}

func TestWriterReplyGolden(t *testing.T) {
	var w Writer
	out, off, err := writeReply(&w, make([]byte, 0, 1500))
	if err != nil {
		t.Fatal(err)
	}
	if want := mustHex(t, fxReply); !bytes.Equal(out, want) {
		t.Fatalf("reply differs from fixture:\n got %x\nwant %x", out, want)
	}
	var m Message
	if err := m.Decode(out); err != nil {
		t.Fatal(err)
	}
	moff, n, ok := m.AuthInfoOffset()
	if !ok || moff != off || n != AuthReconfigureInfoLen {
		t.Fatalf("AuthInfoOffset = %d %d %v, Writer said %d", moff, n, ok, off)
	}
	a, _ := m.Auth()
	typ, key, ok := a.ReconfigureKey()
	if !ok || typ != AuthInfoReconfigureKey || !bytes.Equal(key, testKey[:]) || a.ReplayDetection != 1 {
		t.Errorf("reconfigure key: %v %d %x", ok, typ, key)
	}
}

// writeReconfigure builds an HMAC-signed Reconfigure, optionally inside a
// Relay-reply, and returns the packet and the bounds of the inner message.
func writeReconfigure(w *Writer, buf []byte, relay bool) (pkt []byte, start, macOff int, err error) {
	w.Reset(buf)
	if relay {
		w.RelayHeader(RelayReply, 0, netip.MustParseAddr("fd77::1"), netip.MustParseAddr("fe80::42:acff:fe11:2"))
		w.Option(OptInterfaceID, []byte("eth1"))
		w.BeginOption(OptRelayMsg)
	}
	start = w.Len()
	w.Header(Reconfigure, 0)
	w.Option(OptServerID, testServerDUID)
	w.Option(OptClientID, testClientDUID)
	w.OptionUint8(OptReconfMsg, uint8(Renew))
	var info [AuthReconfigureInfoLen]byte
	info[0] = AuthInfoHMACMD5
	macOff = w.OptionAuth(Auth{Protocol: AuthProtoReconfigureKey, Algorithm: AuthAlgHMACMD5, ReplayDetection: 2, Info: info[:]}) + 1
	if relay {
		w.EndOption()
	}
	pkt, err = w.End()
	return pkt, start, macOff, err
}

// TestReconfigureHMACInPlace signs a Reconfigure the way a server does
// (RFC 8415 §20.4: HMAC-MD5 over the message with the MAC field zero,
// patched in place) and verifies it the way a client does, directly and
// through a Relay-reply.
func TestReconfigureHMACInPlace(t *testing.T) {
	for _, relay := range []bool{false, true} {
		var w Writer
		pkt, start, macOff, err := writeReconfigure(&w, make([]byte, 0, 512), relay)
		if err != nil {
			t.Fatal(err)
		}
		mac := hmac.New(md5.New, testKey[:])
		mac.Write(pkt[start:]) // MAC field is still zero
		copy(pkt[macOff:], mac.Sum(nil))

		var m Message
		if err := m.Decode(pkt); err != nil {
			t.Fatal(err)
		}
		if m.Type != Reconfigure || len(m.Relays()) != map[bool]int{false: 0, true: 1}[relay] {
			t.Fatalf("decoded %v with %d relays", m.Type, len(m.Relays()))
		}
		if rt, ok := m.ReconfigureMessage(); !ok || rt != Renew {
			t.Errorf("reconfigure message = %v %v", rt, ok)
		}
		off, n, ok := m.AuthInfoOffset()
		if !ok || n != AuthReconfigureInfoLen || m.Offset()+off+1 != macOff {
			t.Fatalf("AuthInfoOffset %d %d %v (message at %d, MAC at %d)", off, n, ok, m.Offset(), macOff)
		}
		in, err := AuthHMACInput(nil, m.Bytes(), off+1, 16)
		if err != nil {
			t.Fatal(err)
		}
		check := hmac.New(md5.New, testKey[:])
		check.Write(in)
		a, _ := m.Auth()
		typ, got, _ := a.ReconfigureKey()
		if typ != AuthInfoHMACMD5 || !hmac.Equal(check.Sum(nil), got) {
			t.Errorf("relay=%v: HMAC does not verify", relay)
		}
		// A changed byte must not verify.
		in[5] ^= 1
		check.Reset()
		check.Write(in)
		if hmac.Equal(check.Sum(nil), got) {
			t.Errorf("relay=%v: tampered message verifies", relay)
		}
	}
}

func TestWriterRelayReplyGolden(t *testing.T) {
	var w Writer
	w.Reset(make([]byte, 0, 512))
	w.RelayHeader(RelayReply, 1, netip.Addr{}, netip.MustParseAddr("fe80::1"))
	w.Option(OptInterfaceID, []byte("up-1"))
	w.BeginOption(OptRelayMsg)
	w.RelayHeader(RelayReply, 0, netip.MustParseAddr("fd77::1"), netip.MustParseAddr("fe80::42:acff:fe11:2"))
	w.Option(OptInterfaceID, []byte("eth1"))
	w.BeginOption(OptRelayMsg)
	w.Header(Advertise, 0xa1b2c3)
	w.Option(OptServerID, testServerDUID)
	w.Option(OptClientID, testClientDUID)
	w.BeginIA(OptIANA, 0xac110002, 3600, 7200)
	w.BeginIAAddr(testAddr, 7200, 10800)
	w.EndOption()
	w.EndOption()
	w.EndOption()
	w.EndOption()
	out, err := w.End()
	if err != nil {
		t.Fatal(err)
	}
	if want := mustHex(t, fxRelayReply); !bytes.Equal(out, want) {
		t.Fatalf("relay-reply differs:\n got %x\nwant %x", out, want)
	}
}

func TestWriterAdvertiseGolden(t *testing.T) {
	var w Writer
	w.Reset(make([]byte, 0, 512))
	w.Header(Advertise, 0xa1b2c3)
	w.Option(OptClientID, testClientDUID)
	w.Option(OptServerID, testServerDUID)
	w.BeginIA(OptIANA, 0xac110002, 3600, 7200)
	w.BeginIAAddr(testAddr, 7200, 10800)
	w.EndOption()
	w.EndOption()
	w.BeginIA(OptIAPD, 1, 3600, 7200)
	w.BeginIAPrefix(netip.MustParsePrefix("fd77:100:0:1ff::/56"), 7200, 10800) // masked on write
	w.EndOption()
	w.EndOption()
	w.OptionUint8(OptPreference, 255)
	w.OptionAddrs(OptDNSServers, testDNS)
	w.OptionDomainList(OptDomainList, "campus.example.")
	out, err := w.End()
	if err != nil {
		t.Fatal(err)
	}
	if want := mustHex(t, fxAdvertise); !bytes.Equal(out, want) {
		t.Fatalf("advertise differs:\n got %x\nwant %x", out, want)
	}
}

func TestWriterSolicitGolden(t *testing.T) {
	var w Writer
	w.Reset(make([]byte, 0, 512))
	w.Header(Solicit, 0xa1b2c3)
	w.Option(OptClientID, testClientDUID)
	w.OptionCodes(OptORO, OptDNSServers, OptDomainList, OptClientFQDN, OptSolMaxRT)
	w.OptionUint16(OptElapsedTime, 0)
	w.OptionEmpty(OptReconfAccept)
	w.OptionEmpty(OptRapidCommit)
	w.OptionFQDN(FQDNFlagS, "box1")
	w.BeginIA(OptIANA, 0xac110002, 0, 0)
	w.EndOption()
	w.BeginIA(OptIAPD, 1, 0, 0)
	w.BeginIAPrefix(netip.PrefixFrom(netip.IPv6Unspecified(), 56), 0, 0)
	w.EndOption()
	w.EndOption()
	out, err := w.End()
	if err != nil {
		t.Fatal(err)
	}
	if want := mustHex(t, fxSolicit); !bytes.Equal(out, want) {
		t.Fatalf("solicit differs:\n got %x\nwant %x", out, want)
	}
}

func TestWriterErrors(t *testing.T) {
	v4 := netip.MustParseAddr("10.0.0.1")
	tests := []struct {
		name  string
		write func(w *Writer)
		want  error  // sentinel, or nil for *EncodeError
		field string // EncodeError.Field
	}{
		{"no header", func(w *Writer) {}, nil, "header"},
		{"option before header", func(w *Writer) { w.Option(OptClientID, []byte{1}) }, nil, "option 1"},
		{"two headers", func(w *Writer) { w.Header(Solicit, 1); w.Header(Solicit, 1) }, nil, "header"},
		{"relay type in Header", func(w *Writer) { w.Header(RelayForward, 1) }, nil, "header"},
		{"xid 25 bits", func(w *Writer) { w.Header(Solicit, 1<<24) }, nil, "transaction-id"},
		{"client type in RelayHeader", func(w *Writer) { w.RelayHeader(Solicit, 0, netip.Addr{}, netip.Addr{}) }, nil, "relay header"},
		{"IPv4 peer", func(w *Writer) { w.RelayHeader(RelayReply, 0, netip.Addr{}, v4) }, nil, "relay header"},
		{"unclosed IA", func(w *Writer) { w.Header(Reply, 1); w.BeginIA(OptIANA, 1, 2, 3) }, nil, "option 3"},
		{"EndOption without Begin", func(w *Writer) { w.Header(Reply, 1); w.EndOption() }, nil, "EndOption"},
		{"empty relay message", func(w *Writer) {
			w.RelayHeader(RelayReply, 0, netip.Addr{}, netip.Addr{})
			w.BeginOption(OptRelayMsg)
			w.EndOption()
		}, nil, "option 9"},
		{"option before inner header", func(w *Writer) {
			w.RelayHeader(RelayReply, 0, netip.Addr{}, netip.Addr{})
			w.BeginOption(OptRelayMsg)
			w.Option(OptClientID, []byte{1})
		}, nil, "option 1"},
		{"IPv4 DNS", func(w *Writer) { w.Header(Reply, 1); w.OptionAddrs(OptDNSServers, v4) }, nil, "option 23"},
		{"empty DNS", func(w *Writer) { w.Header(Reply, 1); w.OptionAddrs(OptDNSServers) }, nil, "option 23"},
		{"IPv4 IAADDR", func(w *Writer) { w.Header(Reply, 1); w.BeginIAAddr(v4, 1, 2) }, nil, "option 5"},
		{"BeginIA with code 5", func(w *Writer) { w.Header(Reply, 1); w.BeginIA(OptIAAddr, 1, 2, 3) }, nil, "option 5"},
		{"value over 65535", func(w *Writer) { w.Header(Reply, 1); w.Option(OptVendorOpts, make([]byte, 70000)) }, nil, "option 17"},
		{"bad domain label", func(w *Writer) { w.Header(Reply, 1); w.OptionDomainList(OptDomainList, "a..b") }, nil, "domain name"},
		{"short buffer", func(w *Writer) { w.Header(Reply, 1); w.Option(OptVendorOpts, make([]byte, 600)) }, ErrShortBuffer, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var w Writer
			w.Reset(make([]byte, 0, 512))
			tt.write(&w)
			out, err := w.End()
			if err == nil || out != nil {
				t.Fatalf("End = %x, %v; want an error", out, err)
			}
			if tt.want != nil {
				if !errors.Is(err, tt.want) {
					t.Fatalf("err = %v, want %v", err, tt.want)
				}
				return
			}
			var ee *EncodeError
			if !errors.As(err, &ee) || ee.Field != tt.field {
				t.Fatalf("err = %#v (%v), want EncodeError on %q", err, err, tt.field)
			}
		})
	}
}
