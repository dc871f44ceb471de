package auth

import (
	"crypto/subtle"
	"encoding/binary"

	"github.com/leased/leased/dhcpv6"
)

// DHCPv6 Reconfiguration Key Authentication Protocol (RKAP, RFC 8415
// §20.4). The server hands each client that sent Reconfigure Accept a
// 16-byte key in a Reply (option 11: protocol 3, algorithm 1 HMAC-MD5,
// RDM 0, type 1 + key) and signs every Reconfigure with it (type 2 +
// HMAC-MD5 over the whole client/server message with the 16 digest bytes
// zeroed). The replay detection value of both is the client's strictly
// increasing counter (Counter), as for RFC 6704.

const (
	// authOpt6Head is the distance from option 11's code to its
	// information field.
	authOpt6Head = 4 + 11
)

func rkap(replay uint64, info []byte) dhcpv6.Auth {
	return dhcpv6.Auth{
		Protocol:        dhcpv6.AuthProtoReconfigureKey,
		Algorithm:       dhcpv6.AuthAlgHMACMD5,
		RDM:             dhcpv6.AuthRDMMonotonic,
		ReplayDetection: replay,
		Info:            info,
	}
}

// WriteKeyOption6 writes the Reply's option 11 carrying the client's
// reconfigure key (RFC 8415 §20.4.1: protocol 3, algorithm 1, RDM 0,
// replay detection replay, type 1 and the 16-byte key) to w without
// allocating. Send it only in a Reply to a client that sent Reconfigure
// Accept (option 20), and only in a Reply that binds (§20.4.1: "the
// server includes ... in a Reply message"); dhcpcd accepts a type 1 key
// only in a Reply.
func WriteKeyOption6(w *dhcpv6.Writer, key [KeyLen]byte, replay uint64) {
	var info [dhcpv6.AuthReconfigureInfoLen]byte
	info[0] = dhcpv6.AuthInfoReconfigureKey
	copy(info[1:], key[:])
	w.OptionAuth(rkap(replay, info[:]))
}

// WriteReconfigureOption6 writes a Reconfigure's option 11 with type 2
// (HMAC-MD5) and an all-zero digest placeholder, without allocating, and
// returns the offset in the packet of its information field (-1 when w
// has failed). Pass the offset and the finished packet to
// SignReconfigure6. It works the same inside a Relay-reply (the offset is
// into the whole packet).
func WriteReconfigureOption6(w *dhcpv6.Writer, replay uint64) int {
	var info [dhcpv6.AuthReconfigureInfoLen]byte
	info[0] = dhcpv6.AuthInfoHMACMD5
	return w.OptionAuth(rkap(replay, info[:]))
}

// SignReconfigure6 computes the RKAP HMAC-MD5 of a finished Reconfigure and
// writes it into the packet in place (RFC 8415 §20.4.2). pkt is the packet
// exactly as it will be sent: a Reconfigure, or a Relay-reply (any number
// of layers) whose innermost message is the Reconfigure; infoOff is the
// offset WriteReconfigureOption6 (Writer.OptionAuth) returned; key is the
// client's 16-byte reconfigure key. scratch is reused when its capacity
// is at least ScratchLen(len(pkt)); then nothing is allocated.
//
// The digest covers the Reconfigure (the client/server message, not the
// relay layers the relay strips) with the 16 digest bytes zero (§20.4.2,
// §21.11); nothing else is zeroed in DHCPv6. The option must be the first
// option 11 of the message (clients check only that one: dhcpcd and
// odhcp6c).
func SignReconfigure6(pkt []byte, infoOff int, key, scratch []byte) error {
	if len(key) != KeyLen {
		return fail(ErrKeyLength, uint64(len(key)), KeyLen)
	}
	start, end, ok := innerMessage6(pkt)
	if !ok {
		return fail(ErrMalformed, 0, 0)
	}
	msg := pkt[start:end]
	if dhcpv6.MessageType(msg[0]) != dhcpv6.Reconfigure {
		return fail(ErrMessageType, uint64(msg[0]), uint64(dhcpv6.Reconfigure))
	}
	off, n, found := firstAuth6(msg)
	if !found || off != infoOff-start || n != dhcpv6.AuthReconfigureInfoLen {
		return fail(ErrMalformed, 0, 0)
	}
	a, _ := dhcpv6.ParseAuth(msg[off-11 : off+n])
	if err := checkReconf6(a, dhcpv6.AuthInfoHMACMD5); err != nil {
		return err
	}
	sum := reconfigureMAC6(key, msg, off, scratch)
	copy(msg[off+1:], sum[:])
	return nil
}

// VerifyReconfigure6 checks an RKAP-authenticated Reconfigure as a client
// does (tests, leasebench's simulated clients): message type Reconfigure,
// option 11 present, protocol 3, algorithm 1, RDM 0, type 2 with a
// 16-byte digest, a replay detection value greater than last (the value
// of the last message authenticated from this server, 0 when none;
// RFC 8415 §20.3: the client MUST discard a message whose value is not
// greater) and the digest over m.Bytes() with the digest zeroed. On
// success it returns the replay detection value for the caller to record.
// Errors are *Error values (see Err*).
//
// It is stricter than dhcpcd 9.4 (see the package documentation): a
// Reconfigure it accepts, dhcpcd accepts too.
func VerifyReconfigure6(m *dhcpv6.Message, key []byte, last uint64, scratch []byte) (uint64, error) {
	if len(key) != KeyLen {
		return 0, fail(ErrKeyLength, uint64(len(key)), KeyLen)
	}
	if m.Type != dhcpv6.Reconfigure {
		return 0, fail(ErrMessageType, uint64(m.Type), uint64(dhcpv6.Reconfigure))
	}
	a, ok := m.Auth()
	if !ok {
		if m.Has(dhcpv6.OptAuth) {
			return 0, fail(ErrMalformed, 0, 0)
		}
		return 0, fail(ErrNoAuth, 0, 0)
	}
	if err := checkReconf6(a, dhcpv6.AuthInfoHMACMD5); err != nil {
		return 0, err
	}
	// RFC 8415 §20.3: strictly greater than the last value seen.
	if a.ReplayDetection <= last {
		return 0, fail(ErrReplay, a.ReplayDetection, last)
	}
	off, n, ok := m.AuthInfoOffset()
	if !ok || n != dhcpv6.AuthReconfigureInfoLen {
		return 0, fail(ErrMalformed, 0, 0)
	}
	msg := m.Bytes()
	sum := reconfigureMAC6(key, msg, off, scratch)
	if subtle.ConstantTimeCompare(sum[:], msg[off+1:off+1+KeyLen]) != 1 {
		return 0, fail(ErrDigest, 0, 0)
	}
	return a.ReplayDetection, nil
}

// ReplyKey6 returns the reconfigure key and replay detection value of a
// Reply's option 11 (RFC 8415 §20.4.1), as a client takes them: message
// type Reply, protocol 3, algorithm 1, RDM 0, type 1. Errors are *Error
// values.
func ReplyKey6(m *dhcpv6.Message) (key [KeyLen]byte, replay uint64, err error) {
	if m.Type != dhcpv6.Reply {
		return key, 0, fail(ErrMessageType, uint64(m.Type), uint64(dhcpv6.Reply))
	}
	a, ok := m.Auth()
	if !ok {
		if m.Has(dhcpv6.OptAuth) {
			return key, 0, fail(ErrMalformed, 0, 0)
		}
		return key, 0, fail(ErrNoAuth, 0, 0)
	}
	if err := checkReconf6(a, dhcpv6.AuthInfoReconfigureKey); err != nil {
		return key, 0, err
	}
	copy(key[:], a.Info[1:])
	return key, a.ReplayDetection, nil
}

// checkReconf6 checks the fixed fields of an RKAP option 11.
func checkReconf6(a dhcpv6.Auth, infoType uint8) error {
	switch {
	case a.Protocol != dhcpv6.AuthProtoReconfigureKey:
		return fail(ErrProtocol, uint64(a.Protocol), uint64(dhcpv6.AuthProtoReconfigureKey))
	case a.Algorithm != dhcpv6.AuthAlgHMACMD5:
		return fail(ErrAlgorithm, uint64(a.Algorithm), uint64(dhcpv6.AuthAlgHMACMD5))
	case a.RDM != dhcpv6.AuthRDMMonotonic:
		return fail(ErrRDM, uint64(a.RDM), uint64(dhcpv6.AuthRDMMonotonic))
	case len(a.Info) != dhcpv6.AuthReconfigureInfoLen:
		return fail(ErrMalformed, 0, 0)
	case a.Info[0] != infoType:
		return fail(ErrInfoType, uint64(a.Info[0]), uint64(infoType))
	}
	return nil
}

// reconfigureMAC6 is HMAC-MD5(key, msg with msg[infoOff+1:infoOff+17]
// zeroed). The caller has checked the bounds.
func reconfigureMAC6(key, msg []byte, infoOff int, scratch []byte) [KeyLen]byte {
	need := ScratchLen(len(msg))
	if cap(scratch) < need {
		scratch = make([]byte, 0, need)
	}
	buf := append(scratch[:md5Block], msg...)
	clear(buf[md5Block+infoOff+1 : md5Block+infoOff+1+KeyLen])
	return hmacMD5(key, buf)
}

// innerMessage6 returns the bounds of the client/server message of a
// DHCPv6 packet: pkt itself, or the content of the Relay Message option
// of each relay layer in turn (RFC 8415 §9). ok is false for a packet
// that is truncated, too deep or has no (or more than one) Relay Message
// option in a relay layer.
func innerMessage6(pkt []byte) (start, end int, ok bool) {
	start, end = 0, len(pkt)
	for depth := 0; ; depth++ {
		if end-start < dhcpv6.HeaderLen {
			return 0, 0, false
		}
		if !dhcpv6.MessageType(pkt[start]).IsRelay() {
			return start, end, true
		}
		if depth == dhcpv6.MaxRelayDepth || end-start < dhcpv6.RelayHeaderLen {
			return 0, 0, false
		}
		found := false
		var s, e int
		for o := start + dhcpv6.RelayHeaderLen; o < end; {
			if end-o < 4 {
				return 0, 0, false
			}
			code := binary.BigEndian.Uint16(pkt[o:])
			n := int(binary.BigEndian.Uint16(pkt[o+2:]))
			if end-o-4 < n {
				return 0, 0, false
			}
			if dhcpv6.OptionCode(code) == dhcpv6.OptRelayMsg {
				if found {
					return 0, 0, false
				}
				found, s, e = true, o+4, o+4+n
			}
			o += 4 + n
		}
		if !found {
			return 0, 0, false
		}
		start, end = s, e
	}
}

// firstAuth6 finds the first option 11 among the top-level options of a
// client/server message and returns the offset (in msg) and length of its
// information field. found is false when there is none, when it is too
// short to have one, or when the options are malformed before it.
func firstAuth6(msg []byte) (off, n int, found bool) {
	for o := dhcpv6.HeaderLen; o < len(msg); {
		if len(msg)-o < 4 {
			return 0, 0, false
		}
		code := binary.BigEndian.Uint16(msg[o:])
		l := int(binary.BigEndian.Uint16(msg[o+2:]))
		if len(msg)-o-4 < l {
			return 0, 0, false
		}
		if dhcpv6.OptionCode(code) == dhcpv6.OptAuth {
			if l < 11 {
				return 0, 0, false
			}
			return o + authOpt6Head, l - 11, true
		}
		o += 4 + l
	}
	return 0, 0, false
}
