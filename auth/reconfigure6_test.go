package auth

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"net/netip"
	"testing"

	"github.com/leased/leased/dhcpv6"
)

var (
	serverDUID6 = []byte{0x00, 0x03, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01} // DUID-LL 02:00:00:00:00:01
	clientDUID6 = []byte{0x00, 0x03, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02} // DUID-LL 02:00:00:00:00:02
)

// reconfigure6Fixture is the Reconfigure buildReconfigure6 writes with
// replay 0x0000000100000002, before signing.
const reconfigure6Fixture = "" +
	"0a000000" + // msg-type 10 RECONFIGURE, transaction-id 0 (RFC 8415 §18.3.11)
	"0002000a" + "00030001020000000001" + // option 2 Server ID, len 10, DUID-LL
	"0001000a" + "00030001020000000002" + // option 1 Client ID, len 10, DUID-LL
	"00130001" + "05" + // option 19 Reconfigure Message, len 1: Renew
	"000b001c" + // option 11 Authentication, len 28
	"03" + "01" + "00" + // protocol 3 RKAP, algorithm 1 HMAC-MD5, RDM 0
	"0000000100000002" + // replay detection
	"02" + // type 2: HMAC-MD5 digest
	"00000000000000000000000000000000" // digest placeholder

// reconfigure6Digest is HMAC-MD5 of the fixture keyed with testKey,
// computed with Python's hmac module:
//
//	hmac.new(bytes(range(16)), fixture, hashlib.md5).hexdigest()
const reconfigure6Digest = "9f9fa9d6ca2d3567674d164e64878431"

// buildReconfigure6 writes a Reconfigure (unsigned) and returns it with the
// information offset.
func buildReconfigure6(t testing.TB, msgType dhcpv6.MessageType, replay uint64) ([]byte, int) {
	t.Helper()
	var w dhcpv6.Writer
	w.Reset(make([]byte, 0, 512))
	w.Header(dhcpv6.Reconfigure, 0)
	w.Option(dhcpv6.OptServerID, serverDUID6)
	w.Option(dhcpv6.OptClientID, clientDUID6)
	w.OptionUint8(dhcpv6.OptReconfMsg, uint8(msgType))
	off := WriteReconfigureOption6(&w, replay)
	pkt, err := w.End()
	if err != nil {
		t.Fatal(err)
	}
	return pkt, off
}

// buildRelayed6 wraps the same Reconfigure in two Relay-reply layers (each
// with an Interface-ID before the Relay Message) and returns the packet
// and the information offset into it.
func buildRelayed6(t testing.TB, replay uint64) ([]byte, int) {
	t.Helper()
	var w dhcpv6.Writer
	w.Reset(make([]byte, 0, 512))
	link := netip.MustParseAddr("2001:db8::1")
	peer := netip.MustParseAddr("fe80::2")
	w.RelayHeader(dhcpv6.RelayReply, 1, link, peer)
	w.Option(dhcpv6.OptInterfaceID, []byte("outer"))
	w.BeginOption(dhcpv6.OptRelayMsg)
	w.RelayHeader(dhcpv6.RelayReply, 0, link, peer)
	w.Option(dhcpv6.OptInterfaceID, []byte("eth0"))
	w.BeginOption(dhcpv6.OptRelayMsg)
	w.Header(dhcpv6.Reconfigure, 0)
	w.Option(dhcpv6.OptServerID, serverDUID6)
	w.Option(dhcpv6.OptClientID, clientDUID6)
	w.OptionUint8(dhcpv6.OptReconfMsg, uint8(dhcpv6.Renew))
	off := WriteReconfigureOption6(&w, replay)
	w.EndOption()
	w.EndOption()
	pkt, err := w.End()
	if err != nil {
		t.Fatal(err)
	}
	return pkt, off
}

func decode6(t testing.TB, pkt []byte) *dhcpv6.Message {
	t.Helper()
	var m dhcpv6.Message
	if err := m.Decode(pkt); err != nil {
		t.Fatalf("decode: %v", err)
	}
	return &m
}

// refDigest6 is crypto/hmac over msg with msg[infoOff+1:infoOff+17] zeroed.
func refDigest6(msg []byte, infoOff int, key []byte) []byte {
	c := bytes.Clone(msg)
	clear(c[infoOff+1 : infoOff+17])
	h := hmac.New(md5.New, key)
	h.Write(c)
	return h.Sum(nil)
}

// dhcpcdValidate6 re-implements, step by step, what dhcpcd 9.4.1 does with
// an RKAP Reconfigure (src/dhcp6.c dhcp6_recvif -> src/auth.c
// dhcp_auth_validate with mp = 6): find the first option 11 of the
// message (dhcp6_findmoption over the options after the 4-byte header),
// check protocol 3, 17 bytes of information, type 2 and algorithm 1,
// copy the whole received message (m, mlen: the UDP payload the client
// got, i.e. the Reconfigure without relay layers), memset the 16 bytes
// after the type byte to zero — nothing else is zeroed for DHCPv6 (the
// hops/giaddr zeroing is "if (mp == 4)") — compute hmac("md5", key) over
// all of it and compare with the received digest.
func dhcpcdValidate6(m, key []byte) bool {
	opts := m[4:]
	for len(opts) >= 4 {
		code := binary.BigEndian.Uint16(opts)
		l := int(binary.BigEndian.Uint16(opts[2:]))
		if len(opts)-4 < l {
			return false
		}
		if code == 11 {
			d := opts[4 : 4+l]
			if len(d) < 11 || d[0] != 3 || len(d)-11 != 17 || d[11] != 2 || d[1] != 1 {
				return false
			}
			dataOff := len(m) - len(opts) + 4 + 12 // offset of the MAC in m
			mm := bytes.Clone(m)
			clear(mm[dataOff : dataOff+16])
			h := hmac.New(md5.New, key)
			h.Write(mm)
			return hmac.Equal(h.Sum(nil), m[dataOff:dataOff+16])
		}
		opts = opts[4+l:]
	}
	return false
}

func TestReconfigure6Fixture(t *testing.T) {
	pkt, off := buildReconfigure6(t, dhcpv6.Renew, 0x0000000100000002)
	if got := hex.EncodeToString(pkt); got != reconfigure6Fixture {
		t.Fatalf("Reconfigure bytes\n got %s\nwant %s", got, reconfigure6Fixture)
	}
	if want := len(pkt) - 17; off != want {
		t.Fatalf("info offset %d, want %d", off, want)
	}
}

func TestSignReconfigure6KnownAnswer(t *testing.T) {
	pkt, off := buildReconfigure6(t, dhcpv6.Renew, 0x0000000100000002)
	ref := refDigest6(pkt, off, testKey)
	if hex.EncodeToString(ref) != reconfigure6Digest {
		t.Fatalf("crypto/hmac gives %x, Python gave %s", ref, reconfigure6Digest)
	}
	if err := SignReconfigure6(pkt, off, testKey, nil); err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(pkt[off+1:]); got != reconfigure6Digest {
		t.Fatalf("digest %s, want %s", got, reconfigure6Digest)
	}
	// Everything but the digest is unchanged.
	want, _ := hex.DecodeString(reconfigure6Fixture)
	if !bytes.Equal(pkt[:off+1], want[:off+1]) {
		t.Fatal("signing changed bytes outside the digest")
	}
	if !dhcpcdValidate6(pkt, testKey) {
		t.Fatal("dhcpcd's algorithm rejects the signed Reconfigure")
	}
	// Signing again (digest now non-zero) gives the same digest: the
	// placeholder's content does not matter.
	if err := SignReconfigure6(pkt, off, testKey, nil); err != nil || hex.EncodeToString(pkt[off+1:]) != reconfigure6Digest {
		t.Fatalf("re-sign: %v %x", err, pkt[off+1:])
	}
}

func TestSignReconfigure6Relayed(t *testing.T) {
	direct, doff := buildReconfigure6(t, dhcpv6.Renew, 42)
	if err := SignReconfigure6(direct, doff, testKey, nil); err != nil {
		t.Fatal(err)
	}
	pkt, off := buildRelayed6(t, 42)
	if err := SignReconfigure6(pkt, off, testKey, nil); err != nil {
		t.Fatal(err)
	}
	m := decode6(t, pkt)
	if len(m.Relays()) != 2 || m.Type != dhcpv6.Reconfigure {
		t.Fatalf("decoded %d relays, type %v", len(m.Relays()), m.Type)
	}
	// The relay delivers exactly the inner message: its digest must be the
	// one of the same Reconfigure sent directly.
	if !bytes.Equal(m.Bytes(), direct) {
		t.Fatalf("inner message differs from the direct one\n got %x\nwant %x", m.Bytes(), direct)
	}
	if !dhcpcdValidate6(m.Bytes(), testKey) {
		t.Fatal("dhcpcd's algorithm rejects the relayed Reconfigure")
	}
	if v, err := VerifyReconfigure6(m, testKey, 41, nil); err != nil || v != 42 {
		t.Fatalf("verify relayed: %d %v", v, err)
	}
}

func TestVerifyReconfigure6(t *testing.T) {
	sign := func(pkt []byte, off int) []byte {
		if err := SignReconfigure6(pkt, off, testKey, nil); err != nil {
			t.Fatal(err)
		}
		return pkt
	}
	good := sign(buildReconfigure6(t, dhcpv6.Renew, 100))
	if v, err := VerifyReconfigure6(decode6(t, good), testKey, 99, nil); err != nil || v != 100 {
		t.Fatalf("good: %d %v", v, err)
	}
	otherKey := bytes.Repeat([]byte{0xaa}, 16)
	tampered := bytes.Clone(good)
	tampered[len(tampered)-20] ^= 1 // a byte of the replay detection field
	tamperedDUID := bytes.Clone(good)
	tamperedDUID[13] ^= 1
	// Type 1 (a key) in a Reconfigure.
	keyInReconf, koff := buildReconfigure6(t, dhcpv6.Renew, 100)
	keyInReconf[koff] = dhcpv6.AuthInfoReconfigureKey
	// A Reply carrying a signed-looking option.
	reply := bytes.Clone(good)
	reply[0] = byte(dhcpv6.Reply)
	// Wrong protocol / algorithm / RDM.
	proto := bytes.Clone(good)
	proto[len(proto)-28] = 2
	alg := bytes.Clone(good)
	alg[len(alg)-27] = 2
	rdm := bytes.Clone(good)
	rdm[len(rdm)-26] = 1
	// No option 11.
	noAuth, _ := buildReconfigure6(t, dhcpv6.Renew, 1)
	noAuth = noAuth[:len(noAuth)-32]

	cases := []struct {
		name string
		pkt  []byte
		key  []byte
		last uint64
		want error
	}{
		{"wrong key", good, otherKey, 0, ErrDigest},
		{"tampered auth field", tampered, testKey, 0, ErrDigest},
		{"tampered client id", tamperedDUID, testKey, 0, ErrDigest},
		{"replay equal", good, testKey, 100, ErrReplay},
		{"replay older", good, testKey, 101, ErrReplay},
		{"key type in reconfigure", keyInReconf, testKey, 0, ErrInfoType},
		{"reply", reply, testKey, 0, ErrMessageType},
		{"protocol", proto, testKey, 0, ErrProtocol},
		{"algorithm", alg, testKey, 0, ErrAlgorithm},
		{"rdm", rdm, testKey, 0, ErrRDM},
		{"no auth", noAuth, testKey, 0, ErrNoAuth},
		{"key length", good, testKey[:8], 0, ErrKeyLength},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := VerifyReconfigure6(decode6(t, c.pkt), c.key, c.last, nil)
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("%T is not *Error", err)
			}
		})
	}
	// dhcpcd agrees on the tampered ones.
	for _, p := range [][]byte{tampered, tamperedDUID} {
		if dhcpcdValidate6(p, testKey) {
			t.Fatal("dhcpcd's algorithm accepts a tampered Reconfigure")
		}
	}
}

func TestSignReconfigure6Errors(t *testing.T) {
	pkt, off := buildReconfigure6(t, dhcpv6.Renew, 5)
	keyType, koff := buildReconfigure6(t, dhcpv6.Renew, 5)
	keyType[koff] = dhcpv6.AuthInfoReconfigureKey
	reply := bytes.Clone(pkt)
	reply[0] = byte(dhcpv6.Reply)
	relayNoMsg := make([]byte, dhcpv6.RelayHeaderLen)
	relayNoMsg[0] = byte(dhcpv6.RelayReply)
	cases := []struct {
		name string
		pkt  []byte
		off  int
		key  []byte
		want error
	}{
		{"key length", pkt, off, testKey[:15], ErrKeyLength},
		{"offset not the option", pkt, off - 1, testKey, ErrMalformed},
		{"offset past end", pkt, len(pkt), testKey, ErrMalformed},
		{"negative offset", pkt, -1, testKey, ErrMalformed},
		{"type 1", keyType, koff, testKey, ErrInfoType},
		{"not a reconfigure", reply, off, testKey, ErrMessageType},
		{"truncated", pkt[:3], 0, testKey, ErrMalformed},
		{"relay without relay message", relayNoMsg, 0, testKey, ErrMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := bytes.Clone(c.pkt)
			err := SignReconfigure6(c.pkt, c.off, c.key, nil)
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
			if !bytes.Equal(before, c.pkt) {
				t.Fatal("a failed sign changed the packet")
			}
		})
	}
}

func TestKeyOption6(t *testing.T) {
	var w dhcpv6.Writer
	w.Reset(make([]byte, 0, 256))
	w.Header(dhcpv6.Reply, 0x123456)
	w.Option(dhcpv6.OptServerID, serverDUID6)
	w.Option(dhcpv6.OptClientID, clientDUID6)
	WriteKeyOption6(&w, [16]byte(testKey), 0x0102030405060708)
	pkt, err := w.End()
	if err != nil {
		t.Fatal(err)
	}
	const want = "000b001c" + "030100" + "0102030405060708" + "01" + "000102030405060708090a0b0c0d0e0f"
	if got := hex.EncodeToString(pkt[len(pkt)-32:]); got != want {
		t.Fatalf("option 11\n got %s\nwant %s", got, want)
	}
	k, r, err := ReplyKey6(decode6(t, pkt))
	if err != nil || !bytes.Equal(k[:], testKey) || r != 0x0102030405060708 {
		t.Fatalf("ReplyKey6: %x %x %v", k, r, err)
	}
	// A Reconfigure is not where a key is taken from; nor a type 2 option.
	pkt[0] = byte(dhcpv6.Advertise)
	if _, _, err := ReplyKey6(decode6(t, pkt)); !errors.Is(err, ErrMessageType) {
		t.Fatalf("key from Advertise: %v", err)
	}
	signed, _ := buildReconfigure6(t, dhcpv6.Renew, 1)
	signed[0] = byte(dhcpv6.Reply)
	if _, _, err := ReplyKey6(decode6(t, signed)); !errors.Is(err, ErrInfoType) {
		t.Fatalf("type 2 as key: %v", err)
	}
}

// TestReconfigure6KeyFlow follows one client: it takes the key from a
// Reply, then verifies two Reconfigures with increasing counters and
// rejects the first one replayed.
func TestReconfigure6KeyFlow(t *testing.T) {
	var w dhcpv6.Writer
	w.Reset(make([]byte, 0, 256))
	w.Header(dhcpv6.Reply, 1)
	w.Option(dhcpv6.OptServerID, serverDUID6)
	w.Option(dhcpv6.OptClientID, clientDUID6)
	w.OptionEmpty(dhcpv6.OptReconfAccept)
	WriteKeyOption6(&w, [16]byte(testKey), 10)
	reply, err := w.End()
	if err != nil {
		t.Fatal(err)
	}
	key, last, err := ReplyKey6(decode6(t, reply))
	if err != nil {
		t.Fatal(err)
	}
	first, off := buildReconfigure6(t, dhcpv6.Renew, 11)
	if err := SignReconfigure6(first, off, testKey, nil); err != nil {
		t.Fatal(err)
	}
	if last, err = VerifyReconfigure6(decode6(t, first), key[:], last, nil); err != nil {
		t.Fatal(err)
	}
	second, off := buildReconfigure6(t, dhcpv6.InformationRequest, 12)
	if err := SignReconfigure6(second, off, testKey, nil); err != nil {
		t.Fatal(err)
	}
	if last, err = VerifyReconfigure6(decode6(t, second), key[:], last, nil); err != nil || last != 12 {
		t.Fatal(last, err)
	}
	if _, err := VerifyReconfigure6(decode6(t, first), key[:], last, nil); !errors.Is(err, ErrReplay) {
		t.Fatalf("replayed first Reconfigure: %v", err)
	}
}

func TestZeroAllocs6(t *testing.T) {
	buf := make([]byte, 0, 512)
	scratch := make([]byte, 0, ScratchLen(512))
	relayed, roff := buildRelayed6(t, 9)
	var m dhcpv6.Message
	var w dhcpv6.Writer
	key := [16]byte(testKey)
	var off int
	allocs := testing.AllocsPerRun(100, func() {
		w.Reset(buf)
		w.Header(dhcpv6.Reply, 1)
		WriteKeyOption6(&w, key, 7)
		w.Reset(buf)
		w.Header(dhcpv6.Reconfigure, 0)
		w.Option(dhcpv6.OptServerID, serverDUID6)
		w.Option(dhcpv6.OptClientID, clientDUID6)
		off = WriteReconfigureOption6(&w, 8)
		pkt, _ := w.End()
		if err := SignReconfigure6(pkt, off, testKey, scratch); err != nil {
			t.Fatal(err)
		}
		if err := SignReconfigure6(relayed, roff, testKey, scratch); err != nil {
			t.Fatal(err)
		}
		if err := m.Decode(pkt); err != nil {
			t.Fatal(err)
		}
		if _, err := VerifyReconfigure6(&m, testKey, 1, scratch); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per write+sign+verify, want 0", allocs)
	}
}

func BenchmarkSignReconfigure6(b *testing.B) {
	pkt, off := buildRelayed6(b, 9)
	scratch := make([]byte, 0, ScratchLen(len(pkt)))
	b.ReportAllocs()
	for b.Loop() {
		if err := SignReconfigure6(pkt, off, testKey, scratch); err != nil {
			b.Fatal(err)
		}
	}
}
