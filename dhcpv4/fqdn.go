package dhcpv4

import (
	"strconv"
)

// Client FQDN flags (RFC 4702 §2.1).
const (
	FQDNFlagS = 0x01 // server should perform the A RR (forward) update
	FQDNFlagO = 0x02 // server overrode the client's S bit
	FQDNFlagE = 0x04 // name is in canonical wire format (RFC 1035 §3.1)
	FQDNFlagN = 0x08 // server should not perform any DNS update
)

// FQDN is option 81 (RFC 4702 §2). Name is the raw domain name field:
// ASCII text when Flags&FQDNFlagE is clear, canonical wire encoding when
// set. Use DomainName to read it in either form.
type FQDN struct {
	Flags  uint8
	RCode1 uint8 // deprecated, 0 or 255 (RFC 4702 §2.2)
	RCode2 uint8
	Name   []byte
}

// ParseFQDN decodes an option 81 value; Name aliases v.
func ParseFQDN(v []byte) (FQDN, error) {
	if len(v) < 3 {
		return FQDN{}, &DecodeError{Field: "option 81", Offset: 0, Kind: ErrBadLength,
			Reason: "length " + strconv.Itoa(len(v)) + " is shorter than 3"}
	}
	return FQDN{Flags: v[0], RCode1: v[1], RCode2: v[2], Name: v[3:len(v):len(v)]}, nil
}

// DomainName returns the name as dotted text (without the trailing dot),
// decoding the wire form when the E flag is set. A wire name may be
// partial (no terminating zero label, RFC 4702 §2.3).
func (f FQDN) DomainName() (string, error) {
	if f.Flags&FQDNFlagE == 0 {
		return string(f.Name), nil
	}
	var buf [255]byte
	out, err := appendWireName(buf[:0], f.Name, 0, nil, true)
	if err != nil {
		return "", err
	}
	return string(out), nil
}

// AppendFQDN appends the value of option 81 to dst. The name is written
// in wire format when f.Flags has FQDNFlagE (f.Name is then dotted text
// that is converted; a trailing dot makes it fully qualified), else as is.
func AppendFQDN(dst []byte, f FQDN) ([]byte, error) {
	dst = append(dst, f.Flags, f.RCode1, f.RCode2)
	if f.Flags&FQDNFlagE == 0 {
		return append(dst, f.Name...), nil
	}
	name := string(f.Name)
	full := len(name) > 0 && name[len(name)-1] == '.'
	if full {
		name = name[:len(name)-1]
	}
	var err error
	dst, err = appendLabels(dst, name)
	if err != nil {
		return dst, err
	}
	if full {
		dst = append(dst, 0)
	}
	return dst, nil
}
