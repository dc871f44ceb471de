package dhcpv6

import (
	"encoding/binary"
	"encoding/hex"
	"strconv"
	"strings"
)

// DUIDType is the 2-byte type of a DUID (RFC 8415 §11.1, RFC 6355).
type DUIDType uint16

const (
	DUIDLLT  DUIDType = 1 // link-layer address plus time, RFC 8415 §11.2
	DUIDEN   DUIDType = 2 // enterprise number, §11.3
	DUIDLL   DUIDType = 3 // link-layer address, §11.4
	DUIDUUID DUIDType = 4 // UUID, §11.5 and RFC 6355
)

func (t DUIDType) String() string {
	switch t {
	case DUIDLLT:
		return "DUID-LLT"
	case DUIDEN:
		return "DUID-EN"
	case DUIDLL:
		return "DUID-LL"
	case DUIDUUID:
		return "DUID-UUID"
	}
	return "DUID-" + strconv.Itoa(int(t))
}

// maxDUIDLen is the type plus at most 128 bytes (RFC 8415 §11.1).
const maxDUIDLen = 130

// HTypeEthernet is the hardware type of Ethernet (IANA ARP parameters),
// used in DUID-LLT, DUID-LL and option 79.
const HTypeEthernet uint16 = 1

// DUID is a DHCP Unique Identifier in wire form (RFC 8415 §11). Servers
// compare DUIDs as opaque byte strings (§11); the accessors below read the
// structure of the four defined types. A DUID from a Message aliases the
// packet: copy it to keep it.
type DUID []byte

// Type is the DUID type, 0 when d is shorter than 2 bytes.
func (d DUID) Type() DUIDType {
	if len(d) < 2 {
		return 0
	}
	return DUIDType(binary.BigEndian.Uint16(d))
}

// Validate checks the length rules of the defined types (RFC 8415 §11.2-
// §11.5); a DUID of another type only needs a type and at most 128 bytes.
func (d DUID) Validate() error {
	bad := func(reason string) error {
		return &DecodeError{Field: "DUID", Offset: 0, Kind: ErrBadLength, Reason: reason}
	}
	if len(d) < 3 || len(d) > maxDUIDLen {
		return bad("length " + strconv.Itoa(len(d)) + " is not 3..130")
	}
	switch d.Type() {
	case DUIDLLT:
		if len(d) < 9 {
			return bad("DUID-LLT length " + strconv.Itoa(len(d)) + " is shorter than 9 (type, hardware type, time, address)")
		}
	case DUIDEN:
		if len(d) < 7 {
			return bad("DUID-EN length " + strconv.Itoa(len(d)) + " is shorter than 7 (type, enterprise number, identifier)")
		}
	case DUIDLL:
		if len(d) < 5 {
			return bad("DUID-LL length " + strconv.Itoa(len(d)) + " is shorter than 5 (type, hardware type, address)")
		}
	case DUIDUUID:
		if len(d) != 18 {
			return bad("DUID-UUID length " + strconv.Itoa(len(d)) + " is not 18 (RFC 6355 §4)")
		}
	}
	return nil
}

// LinkLayer returns the hardware type and link-layer address of a DUID-LLT
// or DUID-LL.
func (d DUID) LinkLayer() (htype uint16, addr []byte, ok bool) {
	switch {
	case d.Type() == DUIDLLT && len(d) >= 9:
		return binary.BigEndian.Uint16(d[2:]), d[8:len(d):len(d)], true
	case d.Type() == DUIDLL && len(d) >= 5:
		return binary.BigEndian.Uint16(d[2:]), d[4:len(d):len(d)], true
	}
	return 0, nil, false
}

// Time returns the time field of a DUID-LLT: seconds since midnight UTC,
// 1 January 2000, modulo 2^32 (RFC 8415 §11.2).
func (d DUID) Time() (uint32, bool) {
	if d.Type() != DUIDLLT || len(d) < 9 {
		return 0, false
	}
	return binary.BigEndian.Uint32(d[4:]), true
}

// Enterprise returns the enterprise number and identifier of a DUID-EN.
func (d DUID) Enterprise() (num uint32, id []byte, ok bool) {
	if d.Type() != DUIDEN || len(d) < 7 {
		return 0, nil, false
	}
	return binary.BigEndian.Uint32(d[2:]), d[6:len(d):len(d)], true
}

// UUID returns the 16-byte UUID of a DUID-UUID (RFC 6355).
func (d DUID) UUID() ([16]byte, bool) {
	if d.Type() != DUIDUUID || len(d) != 18 {
		return [16]byte{}, false
	}
	return [16]byte(d[2:]), true
}

// String formats d as colon-separated hex bytes ("00:03:00:01:02:42:..."),
// the form Kea and ISC dhcpd print and ParseDUID reads.
func (d DUID) String() string {
	if len(d) == 0 {
		return ""
	}
	var b strings.Builder
	b.Grow(3*len(d) - 1)
	for i, c := range d {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}

const hexDigits = "0123456789abcdef"

// ParseDUID reads a DUID written as hex bytes, separated by colons or
// dashes or not at all ("00:03:00:01:02:42:ac:11:00:02", "000300010242ac110002"),
// and validates it.
func ParseDUID(s string) (DUID, error) {
	clean := strings.NewReplacer(":", "", "-", "").Replace(s)
	b, err := hex.DecodeString(clean)
	if err != nil {
		return nil, &DecodeError{Field: "DUID", Offset: 0, Kind: ErrBadValue, Reason: "not hex bytes: " + strconv.Quote(s)}
	}
	d := DUID(b)
	if err := d.Validate(); err != nil {
		return nil, err
	}
	return d, nil
}

// AppendDUIDLLT appends a DUID-LLT (RFC 8415 §11.2).
func AppendDUIDLLT(dst []byte, htype uint16, t uint32, addr []byte) []byte {
	dst = binary.BigEndian.AppendUint16(dst, uint16(DUIDLLT))
	dst = binary.BigEndian.AppendUint16(dst, htype)
	dst = binary.BigEndian.AppendUint32(dst, t)
	return append(dst, addr...)
}

// AppendDUIDLL appends a DUID-LL (RFC 8415 §11.4).
func AppendDUIDLL(dst []byte, htype uint16, addr []byte) []byte {
	dst = binary.BigEndian.AppendUint16(dst, uint16(DUIDLL))
	dst = binary.BigEndian.AppendUint16(dst, htype)
	return append(dst, addr...)
}

// AppendDUIDEN appends a DUID-EN (RFC 8415 §11.3).
func AppendDUIDEN(dst []byte, enterprise uint32, id []byte) []byte {
	dst = binary.BigEndian.AppendUint16(dst, uint16(DUIDEN))
	dst = binary.BigEndian.AppendUint32(dst, enterprise)
	return append(dst, id...)
}

// AppendDUIDUUID appends a DUID-UUID (RFC 6355 §4).
func AppendDUIDUUID(dst []byte, uuid [16]byte) []byte {
	dst = binary.BigEndian.AppendUint16(dst, uint16(DUIDUUID))
	return append(dst, uuid[:]...)
}
