// Package radius is a small RADIUS packet codec (RFC 2865 §3, §5) with the
// authenticators a Dynamic Authorization Server needs: the Request
// Authenticator of CoA-Request and Disconnect-Request (RFC 5176 §2.3), the
// Response Authenticator of their ACKs and NAKs (RFC 2865 §3) and
// Message-Authenticator (RFC 3579 §3.2, RFC 5176 §3.3). It does not
// allocate per attribute: Packet keeps the raw bytes and Attributes walks
// them. It imports nothing of leased.
package radius

import (
	"crypto/hmac"
	"crypto/md5"
	"encoding/binary"
	"errors"
	"fmt"
)

// Code is the RADIUS packet type.
type Code uint8

// Codes of RFC 2865 and RFC 5176 §3.
const (
	AccessRequest     Code = 1
	AccessAccept      Code = 2
	AccessReject      Code = 3
	AccountingRequest Code = 4
	DisconnectRequest Code = 40
	DisconnectACK     Code = 41
	DisconnectNAK     Code = 42
	CoARequest        Code = 43
	CoAACK            Code = 44
	CoANAK            Code = 45
)

func (c Code) String() string {
	switch c {
	case AccessRequest:
		return "Access-Request"
	case AccessAccept:
		return "Access-Accept"
	case AccessReject:
		return "Access-Reject"
	case AccountingRequest:
		return "Accounting-Request"
	case DisconnectRequest:
		return "Disconnect-Request"
	case DisconnectACK:
		return "Disconnect-ACK"
	case DisconnectNAK:
		return "Disconnect-NAK"
	case CoARequest:
		return "CoA-Request"
	case CoAACK:
		return "CoA-ACK"
	case CoANAK:
		return "CoA-NAK"
	}
	return fmt.Sprintf("Code(%d)", uint8(c))
}

// Attribute types used by leased (RFC 2865 §5, RFC 2869, RFC 3162,
// RFC 4818, RFC 5176 §3.6).
const (
	UserName             uint8 = 1
	NASIPAddress         uint8 = 4
	NASPort              uint8 = 5
	ServiceType          uint8 = 6
	FramedIPAddress      uint8 = 8
	ReplyMessage         uint8 = 18
	State                uint8 = 24
	Class                uint8 = 25
	VendorSpecific       uint8 = 26
	CalledStationID      uint8 = 30
	CallingStationID     uint8 = 31
	NASIdentifier        uint8 = 32
	ProxyState           uint8 = 33
	AcctSessionID        uint8 = 44
	EventTimestamp       uint8 = 55
	NASPortType          uint8 = 61
	MessageAuthenticator uint8 = 80
	NASPortID            uint8 = 87
	NASIPv6Address       uint8 = 95
	FramedInterfaceID    uint8 = 96
	FramedIPv6Prefix     uint8 = 97
	ErrorCause           uint8 = 101
	DelegatedIPv6Prefix  uint8 = 123
)

// ErrorCause values (RFC 5176 §3.5).
const (
	CauseResidualContextRemoved    uint32 = 201
	CauseUnsupportedAttribute      uint32 = 401
	CauseMissingAttribute          uint32 = 402
	CauseNASIdentificationMismatch uint32 = 403
	CauseInvalidRequest            uint32 = 404
	CauseUnsupportedService        uint32 = 405
	CauseInvalidAttributeValue     uint32 = 407
	CauseAdministrativelyProhibit  uint32 = 501
	CauseSessionContextNotFound    uint32 = 503
	CauseSessionNotRemovable       uint32 = 504
	CauseResourcesUnavailable      uint32 = 506
)

// Sizes of RFC 2865 §3.
const (
	HeaderLen = 20
	MaxLen    = 4096
	authOff   = 4
	authLen   = 16
	maLen     = 18 // Message-Authenticator attribute: type, length, 16 octets
)

// Errors of Parse.
var (
	ErrShort     = errors.New("radius: packet shorter than its header or its Length field")
	ErrLength    = errors.New("radius: Length field out of range (20..4096)")
	ErrAttribute = errors.New("radius: attribute length out of range")
)

// Packet is a decoded view over a received packet's bytes: it aliases the
// buffer given to Parse.
type Packet struct {
	Code          Code
	ID            uint8
	Authenticator [authLen]byte
	// Raw is the packet up to its Length field (octets beyond it are
	// padding, RFC 2865 §3).
	Raw []byte
}

// Parse decodes b. Every attribute must have a length of at least 2 and
// the attributes must fill the packet exactly (RFC 2865 §5: a packet with
// an invalid attribute length is silently discarded by the caller).
func Parse(b []byte) (Packet, error) {
	var p Packet
	if len(b) < HeaderLen {
		return p, ErrShort
	}
	n := int(binary.BigEndian.Uint16(b[2:4]))
	if n < HeaderLen || n > MaxLen {
		return p, ErrLength
	}
	if len(b) < n {
		return p, ErrShort // RFC 2865 §3: shorter than Length: silently discard
	}
	b = b[:n]
	for a := b[HeaderLen:]; len(a) > 0; {
		if len(a) < 2 || a[1] < 2 || int(a[1]) > len(a) {
			return p, ErrAttribute
		}
		a = a[a[1]:]
	}
	p.Code, p.ID, p.Raw = Code(b[0]), b[1], b
	copy(p.Authenticator[:], b[authOff:authOff+authLen])
	return p, nil
}

// Attribute is one attribute of a packet; Value aliases the packet.
type Attribute struct {
	Type  uint8
	Value []byte
}

// Attributes calls f for every attribute in order until f returns false.
func (p *Packet) Attributes(f func(Attribute) bool) {
	for a := p.Raw[HeaderLen:]; len(a) >= 2; a = a[a[1]:] {
		if !f(Attribute{Type: a[0], Value: a[2:a[1]]}) {
			return
		}
	}
}

// Get returns the value of the first attribute of type t.
func (p *Packet) Get(t uint8) ([]byte, bool) {
	var v []byte
	ok := false
	p.Attributes(func(a Attribute) bool {
		if a.Type == t {
			v, ok = a.Value, true
			return false
		}
		return true
	})
	return v, ok
}

// Count is the number of attributes of type t.
func (p *Packet) Count(t uint8) int {
	n := 0
	p.Attributes(func(a Attribute) bool {
		if a.Type == t {
			n++
		}
		return true
	})
	return n
}

// VSA is one sub-attribute of a Vendor-Specific attribute in the format
// RFC 2865 §5.26 recommends (type, length, value).
type VSA struct {
	Vendor uint32
	Type   uint8
	Value  []byte
}

// ParseVSA splits the value of a Vendor-Specific attribute into its
// sub-attributes. It fails when the value is not in the recommended
// format.
func ParseVSA(v []byte, f func(VSA)) error {
	if len(v) < 4 {
		return ErrAttribute
	}
	vendor := binary.BigEndian.Uint32(v)
	rest := v[4:]
	for a := rest; len(a) > 0; a = a[a[1]:] {
		if len(a) < 2 || a[1] < 2 || int(a[1]) > len(a) {
			return ErrAttribute
		}
	}
	for a := rest; len(a) > 0; a = a[a[1]:] {
		f(VSA{Vendor: vendor, Type: a[0], Value: a[2:a[1]]})
	}
	return nil
}

// VerifyRequest checks the Request Authenticator of a CoA-Request or
// Disconnect-Request (RFC 5176 §2.3, as RFC 2866 §3 for
// Accounting-Request): MD5(Code+Identifier+Length+16 zero octets+
// Attributes+Secret).
func VerifyRequest(p *Packet, secret []byte) bool {
	h := md5.New()
	h.Write(p.Raw[:authOff])
	var zero [authLen]byte
	h.Write(zero[:])
	h.Write(p.Raw[HeaderLen:])
	h.Write(secret)
	var sum [authLen]byte
	return hmac.Equal(h.Sum(sum[:0]), p.Authenticator[:])
}

// VerifyMessageAuthenticator checks the Message-Authenticator attribute of
// p (RFC 3579 §3.2): HMAC-MD5 keyed with the secret over the packet with
// the attribute's value zeroed. For CoA-Request and Disconnect-Request the
// Authenticator field counts as 16 zero octets (RFC 5176 §3.3); for a
// response it is the request's authenticator (reqAuth). It returns false
// when the attribute is absent, repeated or not 16 octets long.
func VerifyMessageAuthenticator(p *Packet, secret []byte, reqAuth *[authLen]byte) bool {
	off, n := -1, 0
	for i := HeaderLen; i+2 <= len(p.Raw); i += int(p.Raw[i+1]) {
		if p.Raw[i] == MessageAuthenticator {
			off, n = i, n+1
			if p.Raw[i+1] != maLen {
				return false
			}
		}
	}
	if n != 1 { // RFC 3579 §3.2: at most one
		return false
	}
	buf := make([]byte, len(p.Raw))
	copy(buf, p.Raw)
	if reqAuth == nil {
		clear(buf[authOff : authOff+authLen])
	} else {
		copy(buf[authOff:], reqAuth[:])
	}
	clear(buf[off+2 : off+maLen])
	m := hmac.New(md5.New, secret)
	m.Write(buf)
	return hmac.Equal(m.Sum(nil), p.Raw[off+2:off+maLen])
}

// Builder encodes a packet. The zero Builder is not usable: use
// NewBuilder.
type Builder struct {
	b []byte
}

// NewBuilder starts a packet with code and id.
func NewBuilder(code Code, id uint8) *Builder {
	b := make([]byte, HeaderLen, 128)
	b[0], b[1] = byte(code), id
	return &Builder{b: b}
}

// Add appends an attribute; values longer than 253 octets are an error
// (RFC 2865 §5).
func (b *Builder) Add(t uint8, v []byte) error {
	if len(v) > 253 {
		return fmt.Errorf("radius: attribute %d: value of %d octets (at most 253)", t, len(v))
	}
	if len(b.b)+2+len(v) > MaxLen-maLen {
		return errors.New("radius: packet too long")
	}
	b.b = append(b.b, t, byte(2+len(v)))
	b.b = append(b.b, v...)
	return nil
}

// AddUint32 appends an integer attribute.
func (b *Builder) AddUint32(t uint8, v uint32) error {
	return b.Add(t, binary.BigEndian.AppendUint32(nil, v))
}

// Response finishes a reply (ACK or NAK) to a request whose Authenticator
// was reqAuth: it appends Message-Authenticator (computed with reqAuth in
// the Authenticator field, RFC 3579 §3.2) and sets the Response
// Authenticator MD5(Code+ID+Length+RequestAuth+Attributes+Secret)
// (RFC 2865 §3, RFC 5176 §2.3).
func (b *Builder) Response(reqAuth [authLen]byte, secret []byte) []byte {
	return b.finish(reqAuth, secret)
}

// Request finishes a CoA-Request or Disconnect-Request: Message-
// Authenticator over a zero Authenticator field (RFC 5176 §3.3), then the
// Request Authenticator of RFC 5176 §2.3. Used by tests and tools.
func (b *Builder) Request(secret []byte) []byte {
	return b.finish([authLen]byte{}, secret)
}

// finish appends Message-Authenticator computed with auth in the
// Authenticator field (zero for a request, the request's for a response),
// then replaces the field with MD5 over the packet and the secret. For a
// request MD5 runs over the zero field (RFC 5176 §2.3), for a response
// over the request's authenticator (RFC 2865 §3): both are what the field
// holds at that moment.
func (b *Builder) finish(auth [authLen]byte, secret []byte) []byte {
	out := append(b.b, MessageAuthenticator, maLen)
	ma := len(out)
	out = append(out, make([]byte, authLen)...)
	binary.BigEndian.PutUint16(out[2:4], uint16(len(out)))
	copy(out[authOff:], auth[:])
	m := hmac.New(md5.New, secret)
	m.Write(out)
	copy(out[ma:], m.Sum(nil))
	h := md5.New()
	h.Write(out)
	h.Write(secret)
	var sum [authLen]byte
	copy(out[authOff:], h.Sum(sum[:0]))
	return out
}

// VerifyResponse checks the Response Authenticator of a reply to a request
// whose Authenticator was reqAuth (RFC 2865 §3): MD5(Code+ID+Length+
// RequestAuth+Attributes+Secret). Used by requestors (tests, tools).
func VerifyResponse(p *Packet, reqAuth [authLen]byte, secret []byte) bool {
	h := md5.New()
	h.Write(p.Raw[:authOff])
	h.Write(reqAuth[:])
	h.Write(p.Raw[HeaderLen:])
	h.Write(secret)
	var sum [authLen]byte
	return hmac.Equal(h.Sum(sum[:0]), p.Authenticator[:])
}
