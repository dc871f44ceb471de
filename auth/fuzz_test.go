package auth

import (
	"bytes"
	"testing"

	"github.com/leased/leased/dhcpv4"
	"github.com/leased/leased/dhcpv6"
)

// FuzzVerify feeds arbitrary packets to both verifiers. They must never
// panic, and a packet VerifyHMACMD5 accepts must carry the digest an
// independent crypto/hmac computation gives.
//
// Seeds: a signed FORCERENEW; the same relayed (hops, giaddr set); an ACK
// with a reconfigure key; an ACK with a token; a FORCERENEW with a split
// option 90.
func FuzzVerify(f *testing.F) {
	signed, off := buildForceRenew(f, frHeader(), 7)
	if err := SignHMACMD5(signed, off, testKey, nil); err != nil {
		f.Fatal(err)
	}
	f.Add(signed)
	relayed := bytes.Clone(signed)
	relayed[3] = 2
	copy(relayed[24:], []byte{192, 0, 2, 1})
	f.Add(relayed)
	ka := KeyOption([16]byte(testKey), 8)
	f.Add(buildWithAuth(f, dhcpv4.Ack, &ka))
	ta := TokenOption([]byte("s3cret"), 9)
	f.Add(buildWithAuth(f, dhcpv4.Ack, &ta))
	start := off - optHeadLen
	split := append(bytes.Clone(signed[:start]), 90, 14)
	split = append(split, signed[start+2:start+16]...)
	split = append(split, 90, 14)
	split = append(split, signed[start+16:start+30]...)
	f.Add(append(split, signed[start+30:]...))

	scratch := make([]byte, 0, ScratchLen(1500))
	f.Fuzz(func(t *testing.T, pkt []byte) {
		var m dhcpv4.Message
		if m.Decode(pkt) != nil {
			return
		}
		if _, err := VerifyHMACMD5(&m, testKey, 0, scratch); err == nil {
			o, _, ok := m.AuthInfoOffset()
			if !ok {
				t.Fatalf("verified without a contiguous option 90")
			}
			p := m.Packet()
			if !bytes.Equal(refDigest(p, o, testKey), p[o+1:o+17]) {
				t.Fatalf("verified a digest crypto/hmac disagrees with")
			}
		}
		_, _ = VerifyToken(&m, []byte("s3cret"), 0)
		// Signing arbitrary bytes at the option 90 offset must not panic.
		if o, _, ok := m.AuthInfoOffset(); ok {
			_ = SignHMACMD5(bytes.Clone(pkt), o, testKey, scratch)
		}
	})
}

// FuzzVerifyReconfigure6 feeds arbitrary DHCPv6 packets to the RKAP
// verifier and signer. They must never panic; a packet VerifyReconfigure6
// accepts must carry the digest crypto/hmac computes and must pass
// dhcpcd's algorithm; signing at the offset of the first option 11 must
// either fail without touching the packet or produce a packet that
// verifies.
//
// Seeds: a signed Reconfigure; the same in two Relay-reply layers; a Reply
// with a key; a Reconfigure with a type 1 key; an unsigned Reconfigure.
func FuzzVerifyReconfigure6(f *testing.F) {
	signed, off := buildReconfigure6(f, dhcpv6.Renew, 7)
	if err := SignReconfigure6(signed, off, testKey, nil); err != nil {
		f.Fatal(err)
	}
	f.Add(signed)
	relayed, roff := buildRelayed6(f, 7)
	if err := SignReconfigure6(relayed, roff, testKey, nil); err != nil {
		f.Fatal(err)
	}
	f.Add(relayed)
	var w dhcpv6.Writer
	w.Reset(make([]byte, 0, 128))
	w.Header(dhcpv6.Reply, 1)
	w.Option(dhcpv6.OptClientID, clientDUID6)
	WriteKeyOption6(&w, [16]byte(testKey), 3)
	reply, _ := w.End()
	f.Add(bytes.Clone(reply))
	keyType, koff := buildReconfigure6(f, dhcpv6.Renew, 7)
	keyType[koff] = dhcpv6.AuthInfoReconfigureKey
	f.Add(keyType)
	unsigned, _ := buildReconfigure6(f, dhcpv6.Rebind, 8)
	f.Add(unsigned)

	scratch := make([]byte, 0, ScratchLen(1500))
	f.Fuzz(func(t *testing.T, pkt []byte) {
		var m dhcpv6.Message
		if m.Decode(pkt) != nil {
			return
		}
		if _, err := VerifyReconfigure6(&m, testKey, 0, scratch); err == nil {
			o, _, ok := m.AuthInfoOffset()
			if !ok {
				t.Fatal("verified without option 11")
			}
			msg := m.Bytes()
			if !bytes.Equal(refDigest6(msg, o, testKey), msg[o+1:o+17]) {
				t.Fatal("verified a digest crypto/hmac disagrees with")
			}
			if !dhcpcdValidate6(msg, testKey) {
				t.Fatal("verified a Reconfigure dhcpcd's algorithm rejects")
			}
		}
		_, _, _ = ReplyKey6(&m)
		o, _, ok := m.AuthInfoOffset()
		if !ok {
			return
		}
		p := bytes.Clone(pkt)
		if err := SignReconfigure6(p, m.Offset()+o, testKey, scratch); err != nil {
			if !bytes.Equal(p, pkt) {
				t.Fatal("a failed sign changed the packet")
			}
			return
		}
		var m2 dhcpv6.Message
		if err := m2.Decode(p); err != nil {
			t.Fatalf("signed packet no longer decodes: %v", err)
		}
		a, _ := m2.Auth()
		if _, err := VerifyReconfigure6(&m2, testKey, a.ReplayDetection-1, scratch); err != nil && a.ReplayDetection != 0 {
			t.Fatalf("signed packet does not verify: %v", err)
		}
	})
}
