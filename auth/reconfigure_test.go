package auth

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/leased/leased/dhcpv4"
)

var (
	testKey = []byte{0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f}
	testMAC = [16]byte{0x02, 0x42, 0xac, 0x11, 0x00, 0x02}
	testSID = netip.MustParseAddr("10.0.0.254")
)

// fxForceRenew is the unsigned FORCERENEW built by buildForceRenew with
// replay 2, field by field (the same message as dhcpv4's fixture).
const fxForceRenew = `
02 01 06 00          # BOOTREPLY, htype 1, hlen 6, hops 0
0badcafe             # xid of the client's last transaction (dhcpcd checks it)
0000 0000            # secs, flags
0a000032             # ciaddr: the leased address
00000000 00000000 00000000 # yiaddr, siaddr, giaddr
0242ac110002 00*10   # chaddr (dhcpcd checks it)
00*64 00*128         # sname, file
63825363             # magic cookie
35 01 09             # 53: FORCERENEW (RFC 3203)
36 04 0a0000fe       # 54: server identifier
5a 1c 03 01 00       # 90, length 28: protocol 3, algorithm 1 HMAC-MD5, RDM 0
   0000000000000002  #   replay detection 2
   02 00*16          #   type 2 HMAC-MD5, digest placeholder (zero)
ff                   # end
pad300`

// goldenDigest is HMAC-MD5 with key 00 01 .. 0f over fxForceRenew as is
// (hops, giaddr and the digest are already zero there), computed outside
// Go with Python's hmac module:
//
//	hmac.new(bytes(range(16)), pkt, hashlib.md5).hexdigest()
const goldenDigest = "05980b6ae1582672cccf9d5fb6682bb1"

// mustHex decodes a fixture: hex digits, "# comments", "00*N" repeats and a
// final "padN" that zero-fills to N bytes.
func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	var out []byte
	for line := range strings.Lines(s) {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		for _, f := range strings.Fields(line) {
			if n, ok := strings.CutPrefix(f, "pad"); ok {
				var want int
				for _, c := range n {
					want = want*10 + int(c-'0')
				}
				for len(out) < want {
					out = append(out, 0)
				}
				continue
			}
			if b, cnt, ok := strings.Cut(f, "*"); ok {
				var k int
				for _, c := range cnt {
					k = k*10 + int(c-'0')
				}
				v, err := hex.DecodeString(b)
				if err != nil {
					t.Fatalf("fixture %q: %v", f, err)
				}
				out = append(out, bytes.Repeat(v, k)...)
				continue
			}
			v, err := hex.DecodeString(f)
			if err != nil {
				t.Fatalf("fixture %q: %v", f, err)
			}
			out = append(out, v...)
		}
	}
	return out
}

// buildForceRenew encodes a FORCERENEW with an unsigned option 90 and
// returns it with the information offset.
func buildForceRenew(t testing.TB, h dhcpv4.Header, replay uint64) ([]byte, int) {
	t.Helper()
	var w dhcpv4.Writer
	w.Reset(make([]byte, 0, 600))
	w.Header(&h)
	w.OptionByte(dhcpv4.OptMessageType, byte(dhcpv4.ForceRenew))
	w.OptionAddr(dhcpv4.OptServerID, testSID)
	off := WriteForceRenewOption(&w, replay)
	pkt, err := w.End()
	if err != nil {
		t.Fatal(err)
	}
	return pkt, off
}

func frHeader() dhcpv4.Header {
	return dhcpv4.Header{Op: dhcpv4.BootReply, HType: 1, HLen: 6, XID: 0x0badcafe,
		CIAddr: netip.MustParseAddr("10.0.0.50"), CHAddr: testMAC}
}

// refDigest computes the digest independently of the package: a copy of
// pkt with hops, giaddr and the 16 digest bytes zeroed by hand, through
// crypto/hmac.
func refDigest(pkt []byte, infoOff int, key []byte) []byte {
	c := bytes.Clone(pkt)
	c[3] = 0                                        // hops
	copy(c[24:28], []byte{0, 0, 0, 0})              // giaddr
	copy(c[infoOff+1:infoOff+17], make([]byte, 16)) // digest
	mac := hmac.New(md5.New, key)
	mac.Write(c)
	return mac.Sum(nil)
}

func decode(t testing.TB, pkt []byte) *dhcpv4.Message {
	t.Helper()
	m := new(dhcpv4.Message)
	if err := m.Decode(pkt); err != nil {
		t.Fatalf("decode: %v", err)
	}
	return m
}

func TestHMACMD5RFC2104Vectors(t *testing.T) {
	long := bytes.Repeat([]byte{0xaa}, 80) // longer than the block: hashed first
	ref := hmac.New(md5.New, long)
	ref.Write([]byte("Test Using Larger Than Block-Size Key - Hash Key First"))
	for _, tc := range []struct {
		key, data []byte
		want      string
	}{
		// RFC 2104 Appendix / RFC 2202 §2 test cases 1-3.
		{bytes.Repeat([]byte{0x0b}, 16), []byte("Hi There"), "9294727a3638bb1c13f48ef8158bfc9d"},
		{[]byte("Jefe"), []byte("what do ya want for nothing?"), "750c783e6ab0b503eaa86e310a5db738"},
		{bytes.Repeat([]byte{0xaa}, 16), bytes.Repeat([]byte{0xdd}, 50), "56be34521d144c88dbb8c733f0e8b3f6"},
		// RFC 2202 §2 test case 6, checked against crypto/hmac as well.
		{long, []byte("Test Using Larger Than Block-Size Key - Hash Key First"), "6b1ab7fe4bd7bf8f0b62e6ce61b9d0cd"},
	} {
		if tc.want == "6b1ab7fe4bd7bf8f0b62e6ce61b9d0cd" && hex.EncodeToString(ref.Sum(nil)) != tc.want {
			t.Fatalf("crypto/hmac disagrees with RFC 2202 case 6")
		}
		buf := append(make([]byte, md5Block), tc.data...)
		got := hmacMD5(tc.key, buf)
		if hex.EncodeToString(got[:]) != tc.want {
			t.Errorf("HMAC-MD5(%x, %q) = %x, want %s", tc.key, tc.data, got, tc.want)
		}
	}
}

func TestForceRenewFixture(t *testing.T) {
	pkt, off := buildForceRenew(t, frHeader(), 2)
	if want := mustHex(t, fxForceRenew); !bytes.Equal(pkt, want) {
		t.Fatalf("FORCERENEW:\n got %x\nwant %x", pkt, want)
	}
	if off != 240+3+6+13 {
		t.Errorf("info offset %d, want 262", off)
	}
}

func TestSignKnownAnswer(t *testing.T) {
	pkt, off := buildForceRenew(t, frHeader(), 2)
	if err := SignHMACMD5(pkt, off, testKey, nil); err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(pkt[off+1 : off+17]); got != goldenDigest {
		t.Errorf("digest %s, want %s (Python hmac)", got, goldenDigest)
	}
	if ref := refDigest(pkt, off, testKey); !bytes.Equal(pkt[off+1:off+17], ref) {
		t.Errorf("digest %x, crypto/hmac over the hand-zeroed copy %x", pkt[off+1:off+17], ref)
	}
	// Only the digest changed.
	want := mustHex(t, fxForceRenew)
	copy(want[off+1:], pkt[off+1:off+17])
	if !bytes.Equal(pkt, want) {
		t.Errorf("signing changed bytes outside the digest")
	}
}

// TestSignExcludesHopsGIAddr: a relayed message (hops, giaddr set) and a
// stale placeholder sign to the same digest as the clean message, as
// RFC 3118 §5 prescribes and dhcpcd computes.
func TestSignExcludesHopsGIAddr(t *testing.T) {
	h := frHeader()
	h.Hops = 3
	h.GIAddr = netip.MustParseAddr("192.0.2.1")
	pkt, off := buildForceRenew(t, h, 2)
	copy(pkt[off+1:], bytes.Repeat([]byte{0xee}, 16)) // stale placeholder
	if err := SignHMACMD5(pkt, off, testKey, make([]byte, 0, 1024)); err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(pkt[off+1 : off+17]); got != goldenDigest {
		t.Errorf("digest %s, want %s", got, goldenDigest)
	}
	if ref := refDigest(pkt, off, testKey); !bytes.Equal(pkt[off+1:off+17], ref) {
		t.Errorf("digest %x, reference %x", pkt[off+1:off+17], ref)
	}
	if pkt[3] != 3 || pkt[24] != 192 {
		t.Errorf("hops/giaddr modified in the sent packet")
	}
}

func TestSignVerifyRoundTrip(t *testing.T) {
	scratch := make([]byte, 0, ScratchLen(600))
	for _, replay := range []uint64{1, 2, 1 << 40, ^uint64(0)} {
		pkt, off := buildForceRenew(t, frHeader(), replay)
		if err := SignHMACMD5(pkt, off, testKey, scratch); err != nil {
			t.Fatal(err)
		}
		got, err := VerifyHMACMD5(decode(t, pkt), testKey, replay-1, scratch)
		if err != nil || got != replay {
			t.Errorf("replay %d: verify = %d, %v", replay, got, err)
		}
	}
}

// TestTamper flips every byte of a signed FORCERENEW in turn: verification
// must fail, except for hops and giaddr, which RFC 3118 §5 excludes so that
// relays may change them.
func TestTamper(t *testing.T) {
	signed, off := buildForceRenew(t, frHeader(), 7)
	if err := SignHMACMD5(signed, off, testKey, nil); err != nil {
		t.Fatal(err)
	}
	scratch := make([]byte, 0, ScratchLen(len(signed)))
	var m dhcpv4.Message
	for i := range signed {
		for _, x := range []byte{0x01, 0x80, 0xff} {
			pkt := bytes.Clone(signed)
			pkt[i] ^= x
			excluded := i == 3 || (i >= 24 && i < 28)
			if err := m.Decode(pkt); err != nil {
				if excluded {
					t.Fatalf("byte %d ^%#x: decode failed: %v", i, x, err)
				}
				continue // a client drops it before authentication
			}
			_, err := VerifyHMACMD5(&m, testKey, 6, scratch)
			if excluded && err != nil {
				t.Errorf("byte %d ^%#x (hops/giaddr): verify failed: %v", i, x, err)
			}
			if !excluded && err == nil {
				t.Errorf("byte %d ^%#x: tampered message verified", i, x)
			}
		}
	}
}

func TestVerifyErrors(t *testing.T) {
	// sign builds a FORCERENEW with option 90 a, signed by the reference
	// implementation so that only the field under test is wrong.
	sign := func(a dhcpv4.Auth, mt dhcpv4.MessageType) []byte {
		h := frHeader()
		var w dhcpv4.Writer
		w.Reset(make([]byte, 0, 600))
		w.Header(&h)
		w.OptionByte(dhcpv4.OptMessageType, byte(mt))
		off := w.OptionAuth(a)
		pkt, err := w.End()
		if err != nil {
			t.Fatal(err)
		}
		if len(a.Info) == 17 {
			copy(pkt[off+1:], refDigest(pkt, off, testKey))
		}
		return pkt
	}
	good := ForceRenewOption(10)
	with := func(f func(*dhcpv4.Auth)) dhcpv4.Auth {
		a := good
		a.Info = bytes.Clone(good.Info)
		f(&a)
		return a
	}
	noAuth := func() []byte {
		h := frHeader()
		var w dhcpv4.Writer
		w.Reset(make([]byte, 0, 600))
		w.Header(&h)
		w.OptionByte(dhcpv4.OptMessageType, byte(dhcpv4.ForceRenew))
		pkt, _ := w.End()
		return pkt
	}()
	tamperedDigest := sign(good, dhcpv4.ForceRenew)
	tamperedDigest[len(tamperedDigest)-5] ^= 1 // a padding byte, covered by the MAC

	for _, tc := range []struct {
		name string
		pkt  []byte
		key  []byte
		last uint64
		want error
	}{
		{"valid", sign(good, dhcpv4.ForceRenew), testKey, 9, nil},
		{"no option 90", noAuth, testKey, 0, ErrNoAuth},
		{"token protocol", sign(with(func(a *dhcpv4.Auth) { a.Protocol = 0 }), dhcpv4.ForceRenew), testKey, 0, ErrProtocol},
		{"delayed protocol", sign(with(func(a *dhcpv4.Auth) { a.Protocol = 1 }), dhcpv4.ForceRenew), testKey, 0, ErrProtocol},
		{"algorithm 2", sign(with(func(a *dhcpv4.Auth) { a.Algorithm = 2 }), dhcpv4.ForceRenew), testKey, 0, ErrAlgorithm},
		{"RDM 1", sign(with(func(a *dhcpv4.Auth) { a.RDM = 1 }), dhcpv4.ForceRenew), testKey, 0, ErrRDM},
		{"type 1 key", sign(with(func(a *dhcpv4.Auth) { a.Info[0] = 1 }), dhcpv4.ForceRenew), testKey, 0, ErrInfoType},
		{"type 3", sign(with(func(a *dhcpv4.Auth) { a.Info[0] = 3 }), dhcpv4.ForceRenew), testKey, 0, ErrInfoType},
		{"short info", sign(with(func(a *dhcpv4.Auth) { a.Info = a.Info[:16] }), dhcpv4.ForceRenew), testKey, 0, ErrMalformed},
		{"HMAC in an ACK", sign(good, dhcpv4.Ack), testKey, 0, ErrMessageType},
		{"replay equal", sign(good, dhcpv4.ForceRenew), testKey, 10, ErrReplay},
		{"replay lower", sign(good, dhcpv4.ForceRenew), testKey, 11, ErrReplay},
		{"wrong key", sign(good, dhcpv4.ForceRenew), bytes.Repeat([]byte{1}, 16), 0, ErrDigest},
		{"padding changed", tamperedDigest, testKey, 0, ErrDigest},
		{"short key", sign(good, dhcpv4.ForceRenew), testKey[:15], 0, ErrKeyLength},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := VerifyHMACMD5(decode(t, tc.pkt), tc.key, tc.last, nil)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if tc.want == nil && got != 10 {
				t.Errorf("replay = %d, want 10", got)
			}
			if err != nil {
				var e *Error
				if !errors.As(err, &e) || e.Error() == "" {
					t.Errorf("error %v is not a described *Error", err)
				}
			}
		})
	}
}

// TestVerifySplitOption: option 90 split into two instances (RFC 3396)
// has no contiguous digest field; dhcpcd rejects it and so do we.
func TestVerifySplitOption(t *testing.T) {
	pkt, off := buildForceRenew(t, frHeader(), 5)
	if err := SignHMACMD5(pkt, off, testKey, nil); err != nil {
		t.Fatal(err)
	}
	// Rewrite "5a 1c <28 bytes>" as "5a 0e <14> 5a 0e <14>".
	start := off - optHeadLen
	val := bytes.Clone(pkt[start+2 : start+2+28])
	split := append([]byte{90, 14}, val[:14]...)
	split = append(split, 90, 14)
	split = append(split, val[14:]...)
	out := append(bytes.Clone(pkt[:start]), split...)
	out = append(out, pkt[start+30:]...)
	_, err := VerifyHMACMD5(decode(t, out), testKey, 0, nil)
	if !errors.Is(err, ErrMalformed) {
		t.Fatalf("split option: err = %v, want ErrMalformed", err)
	}
}

func TestSignErrors(t *testing.T) {
	pkt, off := buildForceRenew(t, frHeader(), 2)
	for _, tc := range []struct {
		name string
		pkt  []byte
		off  int
		key  []byte
		want error
	}{
		{"offset in header", pkt, 10, testKey, ErrMalformed},
		{"offset past end", pkt, len(pkt) - 5, testKey, ErrMalformed},
		{"offset not at option 90", pkt, off + 1, testKey, ErrMalformed},
		{"negative offset", pkt, -1, testKey, ErrMalformed},
		{"short key", pkt, off, testKey[:8], ErrKeyLength},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := bytes.Clone(tc.pkt)
			if err := SignHMACMD5(tc.pkt, tc.off, tc.key, nil); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if !bytes.Equal(before, tc.pkt) {
				t.Errorf("failed sign modified the packet")
			}
		})
	}
	// A type 1 key option must not be "signed" (that would overwrite the key).
	var w dhcpv4.Writer
	w.Reset(make([]byte, 0, 600))
	h := frHeader()
	w.Header(&h)
	w.OptionByte(dhcpv4.OptMessageType, byte(dhcpv4.Ack))
	kOff := w.OptionAuth(KeyOption([16]byte(testKey), 3))
	ack, err := w.End()
	if err != nil {
		t.Fatal(err)
	}
	if err := SignHMACMD5(ack, kOff, testKey, nil); !errors.Is(err, ErrInfoType) {
		t.Fatalf("signing a key option: err = %v, want ErrInfoType", err)
	}
	// An option 90 longer than RFC 6704's 28 bytes is not a FORCERENEW
	// MAC field (dhcpcd: information must be exactly 17 bytes).
	long := ForceRenewOption(3)
	long.Info = append(long.Info, 0)
	w.Reset(make([]byte, 0, 600))
	w.Header(&h)
	lOff := w.OptionAuth(long)
	lpkt, err := w.End()
	if err != nil {
		t.Fatal(err)
	}
	if err := SignHMACMD5(lpkt, lOff, testKey, nil); !errors.Is(err, ErrMalformed) {
		t.Fatalf("signing a 29-byte option: err = %v, want ErrMalformed", err)
	}
}

func TestKeyOption(t *testing.T) {
	key, err := NewReconfigureKey(bytes.NewReader(testKey))
	if err != nil || !bytes.Equal(key[:], testKey) {
		t.Fatalf("NewReconfigureKey = %x, %v", key, err)
	}
	if _, err := NewReconfigureKey(bytes.NewReader(testKey[:10])); err == nil {
		t.Fatalf("short random source accepted")
	}
	a := KeyOption(key, 0x0102030405060708)
	want := mustHex(t, `
03 01 00             # protocol 3, algorithm 1 HMAC-MD5, RDM 0 (RFC 6704 §3)
0102030405060708     # replay detection
01                   # type 1: reconfigure key
000102030405060708090a0b0c0d0e0f`)
	if got := dhcpv4.AppendAuth(nil, a); !bytes.Equal(got, want) {
		t.Errorf("KeyOption value %x, want %x", got, want)
	}
	// WriteKeyOption writes the same option.
	var w1, w2 dhcpv4.Writer
	w1.Reset(make([]byte, 0, 400))
	w2.Reset(make([]byte, 0, 400))
	h := frHeader()
	w1.Header(&h)
	w2.Header(&h)
	w1.OptionAuth(a)
	WriteKeyOption(&w2, key, 0x0102030405060708)
	p1, err1 := w1.End()
	p2, err2 := w2.End()
	if err1 != nil || err2 != nil || !bytes.Equal(p1, p2) {
		t.Errorf("WriteKeyOption differs from OptionAuth(KeyOption): %v %v", err1, err2)
	}
	// ForceRenewOption is the placeholder WriteForceRenewOption writes.
	fr := dhcpv4.AppendAuth(nil, ForceRenewOption(2))
	if p := mustHex(t, fxForceRenew); !bytes.Contains(p, append([]byte{90, 28}, fr...)) {
		t.Errorf("ForceRenewOption %x not in the fixture", fr)
	}
}

func TestZeroAllocs(t *testing.T) {
	pkt, off := buildForceRenew(t, frHeader(), 2)
	scratch := make([]byte, 0, ScratchLen(len(pkt)))
	var m dhcpv4.Message
	if err := SignHMACMD5(pkt, off, testKey, scratch); err != nil {
		t.Fatal(err)
	}
	if err := m.Decode(pkt); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 0, 600)
	var w dhcpv4.Writer
	h := frHeader()
	key := [16]byte(testKey)
	for name, f := range map[string]func(){
		"SignHMACMD5": func() {
			if err := SignHMACMD5(pkt, off, testKey, scratch); err != nil {
				t.Fatal(err)
			}
		},
		"VerifyHMACMD5": func() {
			if _, err := VerifyHMACMD5(&m, testKey, 1, scratch); err != nil {
				t.Fatal(err)
			}
		},
		"WriteForceRenewOption": func() {
			w.Reset(buf)
			w.Header(&h)
			WriteForceRenewOption(&w, 9)
			WriteKeyOption(&w, key, 9)
		},
	} {
		if n := testing.AllocsPerRun(100, f); n != 0 {
			t.Errorf("%s: %v allocs, want 0", name, n)
		}
	}
}

func BenchmarkSignHMACMD5(b *testing.B) {
	pkt, off := buildForceRenew(b, frHeader(), 2)
	scratch := make([]byte, 0, ScratchLen(len(pkt)))
	b.SetBytes(int64(len(pkt)))
	b.ReportAllocs()
	for b.Loop() {
		if err := SignHMACMD5(pkt, off, testKey, scratch); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyHMACMD5(b *testing.B) {
	pkt, off := buildForceRenew(b, frHeader(), 2)
	scratch := make([]byte, 0, ScratchLen(len(pkt)))
	if err := SignHMACMD5(pkt, off, testKey, scratch); err != nil {
		b.Fatal(err)
	}
	var m dhcpv4.Message
	if err := m.Decode(pkt); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := VerifyHMACMD5(&m, testKey, 1, scratch); err != nil {
			b.Fatal(err)
		}
	}
}
