package dhcpv6

import (
	"encoding/binary"
	"strconv"
)

// Authentication option constants (RFC 8415 §21.11, §20.4).
const (
	AuthProtoDelayed        uint8 = 2 // RFC 3315 §21.4 (obsolete)
	AuthProtoReconfigureKey uint8 = 3 // RFC 8415 §20.4, Reconfiguration Key Authentication Protocol

	AuthAlgHMACMD5 uint8 = 1 // RFC 8415 §20.4

	AuthRDMMonotonic uint8 = 0 // RFC 8415 §20.2: monotonically increasing counter

	// RFC 8415 §20.4 Authentication Information types for protocol 3.
	AuthInfoReconfigureKey uint8 = 1 // the key, in a Reply
	AuthInfoHMACMD5        uint8 = 2 // HMAC-MD5 digest of a Reconfigure

	// authFixedLen is protocol, algorithm, RDM and the 8-byte replay
	// detection field.
	authFixedLen = 11
	// AuthReconfigureInfoLen is the RKAP information field: type byte plus
	// 16-byte key or digest (RFC 8415 §20.4).
	AuthReconfigureInfoLen = 17
)

// Auth is option 11 (RFC 8415 §21.11).
type Auth struct {
	Protocol        uint8
	Algorithm       uint8
	RDM             uint8
	ReplayDetection uint64
	// Info is the Authentication Information field. For protocol 3 (RKAP,
	// §20.4) it is one type byte (1 key, 2 HMAC-MD5) and 16 bytes.
	Info []byte
}

// ParseAuth decodes an option 11 value; Info aliases v.
func ParseAuth(v []byte) (Auth, error) {
	if len(v) < authFixedLen {
		return Auth{}, &DecodeError{Field: "option 11", Offset: 0, Kind: ErrBadLength,
			Reason: "length " + strconv.Itoa(len(v)) + " is shorter than 11"}
	}
	return Auth{
		Protocol:        v[0],
		Algorithm:       v[1],
		RDM:             v[2],
		ReplayDetection: binary.BigEndian.Uint64(v[3:]),
		Info:            v[authFixedLen:len(v):len(v)],
	}, nil
}

// AppendAuth appends the option 11 value of a to dst.
func AppendAuth(dst []byte, a Auth) []byte {
	dst = append(dst, a.Protocol, a.Algorithm, a.RDM)
	dst = binary.BigEndian.AppendUint64(dst, a.ReplayDetection)
	return append(dst, a.Info...)
}

// ReconfigureKey returns the RKAP information of a: its type (key or
// HMAC-MD5) and 16-byte value, when a is protocol 3, algorithm 1, RDM 0
// and the information field is 17 bytes (RFC 8415 §20.4).
func (a Auth) ReconfigureKey() (typ uint8, value []byte, ok bool) {
	if a.Protocol != AuthProtoReconfigureKey || a.Algorithm != AuthAlgHMACMD5 || a.RDM != AuthRDMMonotonic ||
		len(a.Info) != AuthReconfigureInfoLen {
		return 0, nil, false
	}
	return a.Info[0], a.Info[1:], true
}

// Auth returns option 11 of the client/server message. ok is false when
// the option is absent.
func (m *Message) Auth() (a Auth, ok bool) {
	v, present := m.Option(OptAuth)
	if !present {
		return Auth{}, false
	}
	a, err := ParseAuth(v)
	return a, err == nil
}

// AuthInfoOffset returns the offset in Bytes() of the Authentication
// Information field of the first option 11, and its length. For RKAP the
// MAC is the 16 bytes after the type byte: zero them in a copy of Bytes()
// (AuthHMACInput) to verify a Reconfigure (RFC 8415 §20.4).
func (m *Message) AuthInfoOffset() (off, n int, ok bool) {
	o, ok := m.OptionOffset(OptAuth)
	if !ok {
		return 0, 0, false
	}
	v, _ := m.Option(OptAuth)
	return o + authFixedLen, len(v) - authFixedLen, true
}

// OptionAuth writes option 11 and returns the offset, in the encoded
// packet, of its Authentication Information field, so that a MAC can be
// computed over the finished message and patched in place. It returns -1
// on error.
func (w *Writer) OptionAuth(a Auth) int {
	if len(a.Info) > maxOptionLen-authFixedLen {
		w.fail(&EncodeError{Field: "option 11", Reason: "authentication information too long"})
		return -1
	}
	w.BeginOption(OptAuth)
	var fixed [authFixedLen]byte
	fixed[0], fixed[1], fixed[2] = a.Protocol, a.Algorithm, a.RDM
	binary.BigEndian.PutUint64(fixed[3:], a.ReplayDetection)
	w.put(fixed[:])
	off := w.n
	w.put(a.Info)
	w.EndOption()
	if w.err != nil {
		return -1
	}
	return off
}

// AuthHMACInput copies msg (a client/server message, without relay
// layers) into dst, reusing its capacity, and zeroes
// msg[zeroOff:zeroOff+zeroLen] in the copy: the HMAC-MD5 of RKAP is
// computed over the Reconfigure with the MAC field set to zero (RFC 8415
// §20.4). DHCPv6 has no field that relays change inside a relayed
// message, so nothing else is zeroed.
func AuthHMACInput(dst, msg []byte, zeroOff, zeroLen int) ([]byte, error) {
	if len(msg) < HeaderLen || zeroOff < HeaderLen || zeroLen < 0 || zeroOff+zeroLen > len(msg) {
		return dst, &EncodeError{Field: "option 11", Reason: "MAC field outside the options of the message"}
	}
	dst = append(dst[:0], msg...)
	clear(dst[zeroOff : zeroOff+zeroLen])
	return dst, nil
}
