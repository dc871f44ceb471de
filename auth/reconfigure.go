package auth

import (
	"crypto/md5"
	"crypto/subtle"
	"fmt"
	"io"

	"github.com/leased/leased/dhcpv4"
)

// KeyLen is the length of an RFC 6704 reconfigure key and of its HMAC-MD5
// digest.
const KeyLen = 16

const (
	md5Block = 64 // HMAC block size for MD5 (RFC 2104 §2)

	// Layout of option 90 around the information offset returned by
	// dhcpv4.Writer.OptionAuth: code, length, protocol, algorithm, RDM,
	// 8-byte replay detection, then the information field.
	optHeadLen  = 2 + 11
	reconfOptLn = 11 + dhcpv4.AuthReconfigureInfoLen
)

// NewReconfigureKey reads a fresh 16-byte reconfigure key from r
// (crypto/rand.Reader in production). RFC 6704 §3 requires a key per
// client that an attacker cannot guess.
func NewReconfigureKey(r io.Reader) ([KeyLen]byte, error) {
	var k [KeyLen]byte
	if _, err := io.ReadFull(r, k[:]); err != nil {
		return k, fmt.Errorf("auth: reading reconfigure key: %w", err)
	}
	return k, nil
}

// KeyOption is option 90 carrying the reconfigure key for a DHCPACK
// (RFC 6704 §3: protocol 3, algorithm 1, RDM 0, type 1). It must only be
// sent in a DHCPACK: dhcpcd rejects an OFFER that carries it. The Info
// slice is freshly allocated; WriteKeyOption avoids that.
func KeyOption(key [KeyLen]byte, replay uint64) dhcpv4.Auth {
	info := make([]byte, dhcpv4.AuthReconfigureInfoLen)
	info[0] = dhcpv4.AuthInfoReconfigureKey
	copy(info[1:], key[:])
	return reconfAuth(replay, info)
}

// WriteKeyOption writes KeyOption(key, replay) to w without allocating.
func WriteKeyOption(w *dhcpv4.Writer, key [KeyLen]byte, replay uint64) {
	var info [dhcpv4.AuthReconfigureInfoLen]byte
	info[0] = dhcpv4.AuthInfoReconfigureKey
	copy(info[1:], key[:])
	w.OptionAuth(reconfAuth(replay, info[:]))
}

// ForceRenewOption is option 90 for a FORCERENEW with an all-zero digest
// placeholder (type 2), to be filled by SignHMACMD5 once the message is
// complete. The Info slice is freshly allocated; WriteForceRenewOption
// avoids that.
func ForceRenewOption(replay uint64) dhcpv4.Auth {
	info := make([]byte, dhcpv4.AuthReconfigureInfoLen)
	info[0] = dhcpv4.AuthInfoHMACMD5
	return reconfAuth(replay, info)
}

// WriteForceRenewOption writes ForceRenewOption(replay) to w without
// allocating and returns the offset of the information field to pass to
// SignHMACMD5 (-1 when w has failed).
func WriteForceRenewOption(w *dhcpv4.Writer, replay uint64) int {
	var info [dhcpv4.AuthReconfigureInfoLen]byte
	info[0] = dhcpv4.AuthInfoHMACMD5
	return w.OptionAuth(reconfAuth(replay, info[:]))
}

func reconfAuth(replay uint64, info []byte) dhcpv4.Auth {
	return dhcpv4.Auth{
		Protocol:        dhcpv4.AuthProtoReconfigureKey,
		Algorithm:       dhcpv4.AuthAlgHMACMD5,
		RDM:             dhcpv4.AuthRDMMonotonic,
		ReplayDetection: replay,
		Info:            info,
	}
}

// ScratchLen is the scratch capacity with which SignHMACMD5 and
// VerifyHMACMD5 do not allocate for a packet of n bytes.
func ScratchLen(n int) int { return md5Block + n }

// SignHMACMD5 computes the RFC 6704 HMAC-MD5 of a finished FORCERENEW and
// writes it into the message in place. pkt is the complete encoded message
// exactly as it will be sent (after Writer.End, padding included); infoOff
// is the offset returned by Writer.OptionAuth / WriteForceRenewOption; key
// is the client's 16-byte reconfigure key. scratch is reused when its
// capacity is at least ScratchLen(len(pkt)).
//
// The digest covers the whole message with the 16 digest bytes, hops and
// giaddr taken as zero (RFC 6704 §3, RFC 3118 §5), so relays may change
// hops and giaddr and the digest placeholder's old content does not matter.
func SignHMACMD5(pkt []byte, infoOff int, key []byte, scratch []byte) error {
	if len(key) != KeyLen {
		return fail(ErrKeyLength, uint64(len(key)), KeyLen)
	}
	// The information offset must point into a single option 90 of the
	// reconfigure-key protocol with type 2 and a full 16-byte digest.
	start := infoOff - optHeadLen
	if start < dhcpv4.FixedLen || infoOff+dhcpv4.AuthReconfigureInfoLen > len(pkt) ||
		pkt[start] != byte(dhcpv4.OptAuthentication) || pkt[start+1] != reconfOptLn {
		return fail(ErrMalformed, 0, 0)
	}
	a, _ := dhcpv4.ParseAuth(pkt[start+2 : infoOff+dhcpv4.AuthReconfigureInfoLen])
	if err := checkReconf(a, dhcpv4.AuthInfoHMACMD5); err != nil {
		return err
	}
	sum, err := forceRenewMAC(key, pkt, infoOff, scratch)
	if err != nil {
		return err
	}
	copy(pkt[infoOff+1:], sum[:])
	return nil
}

// VerifyHMACMD5 checks an RFC 6704 authenticated FORCERENEW as a client
// does: option 90 present once, protocol 3, algorithm 1 (HMAC-MD5), RDM 0,
// type 2 with a 16-byte digest, message type FORCERENEW, a replay
// detection value greater than last (the value of the last message
// authenticated from this server; 0 when none), and the digest. On success
// it returns the message's replay detection value, which the caller
// records as the new last. Errors are *Error values (see Err*).
//
// It is stricter than dhcpcd 9.4 (see the package documentation), so a
// message it accepts is accepted by dhcpcd too.
func VerifyHMACMD5(m *dhcpv4.Message, key []byte, last uint64, scratch []byte) (uint64, error) {
	if len(key) != KeyLen {
		return 0, fail(ErrKeyLength, uint64(len(key)), KeyLen)
	}
	v, ok := m.Option(dhcpv4.OptAuthentication)
	if !ok {
		return 0, fail(ErrNoAuth, 0, 0)
	}
	a, err := dhcpv4.ParseAuth(v)
	if err != nil {
		return 0, fail(ErrMalformed, 0, 0)
	}
	if err := checkReconf(a, dhcpv4.AuthInfoHMACMD5); err != nil {
		return 0, err
	}
	// RFC 6704 §3: the HMAC type is only sent in a FORCERENEW.
	if t, ok := m.Option(dhcpv4.OptMessageType); !ok || len(t) != 1 || dhcpv4.MessageType(t[0]) != dhcpv4.ForceRenew {
		var got uint64
		if len(t) == 1 {
			got = uint64(t[0])
		}
		return 0, fail(ErrMessageType, got, uint64(dhcpv4.ForceRenew))
	}
	// RFC 3118 §2 (erratum 3474): the counter MUST strictly increase.
	if a.ReplayDetection <= last {
		return 0, fail(ErrReplay, a.ReplayDetection, last)
	}
	// A split option has no contiguous field to authenticate (dhcpcd: ERANGE).
	off, n, ok := m.AuthInfoOffset()
	if !ok || n != dhcpv4.AuthReconfigureInfoLen {
		return 0, fail(ErrMalformed, 0, 0)
	}
	pkt := m.Packet()
	sum, err := forceRenewMAC(key, pkt, off, scratch)
	if err != nil {
		return 0, fail(ErrMalformed, 0, 0)
	}
	if subtle.ConstantTimeCompare(sum[:], pkt[off+1:off+1+KeyLen]) != 1 {
		return 0, fail(ErrDigest, 0, 0)
	}
	return a.ReplayDetection, nil
}

// checkReconf checks the fixed fields of an RFC 6704 option 90.
func checkReconf(a dhcpv4.Auth, infoType uint8) error {
	switch {
	case a.Protocol != dhcpv4.AuthProtoReconfigureKey:
		return fail(ErrProtocol, uint64(a.Protocol), uint64(dhcpv4.AuthProtoReconfigureKey))
	case a.Algorithm != dhcpv4.AuthAlgHMACMD5:
		return fail(ErrAlgorithm, uint64(a.Algorithm), uint64(dhcpv4.AuthAlgHMACMD5))
	case a.RDM != dhcpv4.AuthRDMMonotonic:
		return fail(ErrRDM, uint64(a.RDM), uint64(dhcpv4.AuthRDMMonotonic))
	case len(a.Info) != dhcpv4.AuthReconfigureInfoLen:
		return fail(ErrMalformed, 0, 0)
	case a.Info[0] != infoType:
		return fail(ErrInfoType, uint64(a.Info[0]), uint64(infoType))
	}
	return nil
}

// forceRenewMAC is HMAC-MD5(key, pkt with hops, giaddr and the digest at
// pkt[infoOff+1:infoOff+17] zeroed).
func forceRenewMAC(key, pkt []byte, infoOff int, scratch []byte) ([KeyLen]byte, error) {
	need := ScratchLen(len(pkt))
	if cap(scratch) < need {
		scratch = make([]byte, 0, need)
	}
	// RFC 3118 §5: hops and giaddr are zero for the MAC computation, and
	// the MAC field itself is zero.
	if _, err := dhcpv4.AuthHMACInput(scratch[md5Block:md5Block], pkt, infoOff+1, KeyLen); err != nil {
		return [KeyLen]byte{}, err
	}
	return hmacMD5(key, scratch[:need]), nil
}

// hmacMD5 computes HMAC-MD5 (RFC 2104) of buf[md5Block:] keyed with key,
// using buf[:md5Block] as room for the inner padded key, so that the inner
// hash is one md5.Sum over a contiguous buffer and nothing is allocated.
// It overwrites buf[:md5Block].
func hmacMD5(key, buf []byte) [md5.Size]byte {
	var k [md5Block]byte
	if len(key) > md5Block {
		s := md5.Sum(key)
		copy(k[:], s[:])
	} else {
		copy(k[:], key)
	}
	for i := range md5Block {
		buf[i] = k[i] ^ 0x36
	}
	inner := md5.Sum(buf)
	var outer [md5Block + md5.Size]byte
	for i := range md5Block {
		outer[i] = k[i] ^ 0x5c
	}
	copy(outer[md5Block:], inner[:])
	clear(k[:])
	clear(buf[:md5Block])
	return md5.Sum(outer[:])
}
