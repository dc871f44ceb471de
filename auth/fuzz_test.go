package auth

import (
	"bytes"
	"testing"

	"github.com/leased/leased/dhcpv4"
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
