package dhcpv4

import (
	"encoding/binary"
	"strconv"
)

// Authentication option constants (RFC 3118 §2, RFC 6704 §3.1).
const (
	AuthProtoConfigToken    uint8 = 0 // RFC 3118 §4
	AuthProtoDelayed        uint8 = 1 // RFC 3118 §5
	AuthProtoReconfigureKey uint8 = 3 // RFC 6704 §3.1

	AuthAlgHMACMD5 uint8 = 1 // RFC 6704 §3.1 (and 145's algorithm list)

	AuthRDMMonotonic uint8 = 0 // RFC 3118 §2: monotonically increasing counter

	// RFC 6704 §3.1 Authentication Information types for protocol 3.
	AuthInfoReconfigureKey uint8 = 1 // the key, in DHCPACK only
	AuthInfoHMACMD5        uint8 = 2 // HMAC-MD5 digest of the message

	// authFixedLen is protocol, algorithm, RDM and the 8-byte replay
	// detection field.
	authFixedLen = 11
	// AuthReconfigureInfoLen is the RFC 6704 information field: type byte
	// plus 16-byte key or digest.
	AuthReconfigureInfoLen = 17
)

// Auth is option 90 (RFC 3118 §2).
type Auth struct {
	Protocol        uint8
	Algorithm       uint8
	RDM             uint8
	ReplayDetection uint64
	// Info is the Authentication Information field. For protocol 3
	// (RFC 6704) it is one type byte (1 key, 2 HMAC-MD5) and 16 bytes.
	Info []byte
}

// ParseAuth decodes an option 90 value; Info aliases v.
func ParseAuth(v []byte) (Auth, error) {
	if len(v) < authFixedLen {
		return Auth{}, &DecodeError{Field: "option 90", Offset: 0, Kind: ErrBadLength,
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

// AppendAuth appends the option 90 value of a to dst.
func AppendAuth(dst []byte, a Auth) []byte {
	dst = append(dst, a.Protocol, a.Algorithm, a.RDM)
	dst = binary.BigEndian.AppendUint64(dst, a.ReplayDetection)
	return append(dst, a.Info...)
}

// Auth returns option 90 decoded. ok is false when the option is absent or
// shorter than its fixed part.
func (m *Message) Auth() (a Auth, ok bool) {
	v, present := m.Option(OptAuthentication)
	if !present {
		return Auth{}, false
	}
	a, err := ParseAuth(v)
	return a, err == nil
}

// AuthInfoOffset returns the packet offset of the Authentication
// Information field of option 90 and its length, when the option occurred
// exactly once (a split option has no contiguous field to authenticate).
func (m *Message) AuthInfoOffset() (off, n int, ok bool) {
	o, ok := m.OptionOffset(OptAuthentication)
	if !ok {
		return 0, 0, false
	}
	v, _ := m.Option(OptAuthentication)
	if len(v) < authFixedLen {
		return 0, 0, false
	}
	return o + authFixedLen, len(v) - authFixedLen, true
}

// OptionAuth writes option 90 and returns the offset, in the encoded
// message, of its Authentication Information field, so that a MAC can be
// computed over the finished message and patched in place. The option must
// fit in one instance (Info at most 244 bytes). It returns -1 on error.
func (w *Writer) OptionAuth(a Auth) int {
	if len(a.Info) > 255-authFixedLen {
		w.fail(&EncodeError{Field: "option 90", Reason: "authentication information longer than 244 bytes"})
		return -1
	}
	var fixed [authFixedLen]byte
	fixed[0], fixed[1], fixed[2] = a.Protocol, a.Algorithm, a.RDM
	binary.BigEndian.PutUint64(fixed[3:], a.ReplayDetection)
	w.begin(OptAuthentication, authFixedLen+len(a.Info))
	w.put(fixed[:])
	off := w.n
	w.put(a.Info)
	if w.err != nil {
		return -1
	}
	return off
}

// AuthHMACInput copies pkt into dst (reusing its capacity) and prepares
// the copy as HMAC input: hops and giaddr are set to zero, as relays change
// them (RFC 3118 §5), and pkt[zeroOff:zeroOff+zeroLen] — the MAC field
// inside the Authentication Information — is zeroed. Which bytes hold the
// MAC depends on the protocol (RFC 6704: the 16 bytes after the type byte).
func AuthHMACInput(dst, pkt []byte, zeroOff, zeroLen int) ([]byte, error) {
	if len(pkt) < FixedLen || zeroOff < FixedLen || zeroLen < 0 || zeroOff+zeroLen > len(pkt) {
		return dst, &EncodeError{Field: "option 90", Reason: "MAC field outside the options of the message"}
	}
	dst = append(dst[:0], pkt...)
	dst[offHops] = 0
	clear(dst[offGIAddr : offGIAddr+4])
	clear(dst[zeroOff : zeroOff+zeroLen])
	return dst, nil
}
