package dhcpv6

import (
	"strconv"
	"strings"
)

// maxNameLen is the longest domain name in wire form (RFC 1035 §3.1).
const maxNameLen = 255

// DHCPv6 carries domain names in RFC 1035 wire form without compression
// (RFC 8415 §10): options 21 and 24 are lists of fully qualified names,
// option 39 holds one name that may be partial (RFC 4704 §4.2).

// checkNames validates a list of uncompressed, fully qualified wire names
// (options 21, 24) without allocating.
func checkNames(v []byte) (int, string) {
	for i := 0; i < len(v); {
		start := i
		for {
			if i >= len(v) {
				return start, "name runs past end of option (no zero label)"
			}
			l := int(v[i])
			if l == 0 {
				i++
				break
			}
			if l > 63 {
				// RFC 8415 §10: compression MUST NOT be used.
				return i, "label length " + strconv.Itoa(l) + " exceeds 63 (compression is not allowed)"
			}
			i += 1 + l
			if i-start >= maxNameLen {
				return start, "name longer than 255 bytes"
			}
		}
	}
	return 0, ""
}

// appendName decodes the wire name at v[i:] as dotted text (no trailing
// dot). With partial set, running out of bytes ends the name (RFC 4704
// §4.2). It returns the offset after the name and whether it ended with
// the zero label.
func appendName(dst, v []byte, i int, partial bool, field string) ([]byte, int, bool, error) {
	start := i
	for {
		if i >= len(v) {
			if partial {
				return dst, i, false, nil
			}
			return dst, i, false, &DecodeError{Field: field, Offset: start, Kind: ErrOptionOverrun, Reason: "name runs past end of option (no zero label)"}
		}
		l := int(v[i])
		if l == 0 {
			return dst, i + 1, true, nil
		}
		if l > 63 {
			return dst, i, false, &DecodeError{Field: field, Offset: i, Kind: ErrBadValue,
				Reason: "label length " + strconv.Itoa(l) + " exceeds 63 (compression is not allowed)"}
		}
		if i+1+l > len(v) {
			return dst, i, false, &DecodeError{Field: field, Offset: i, Kind: ErrOptionOverrun, Reason: "label runs past end of option"}
		}
		if i+1+l-start >= maxNameLen {
			return dst, i, false, &DecodeError{Field: field, Offset: start, Kind: ErrBadValue, Reason: "name longer than 255 bytes"}
		}
		if i > start {
			dst = append(dst, '.')
		}
		dst = append(dst, v[i+1:i+1+l]...)
		i += 1 + l
	}
}

// ParseDomainList decodes option 24 (RFC 3646 §4) or 21 (RFC 3319 §3.1):
// fully qualified names, returned without the trailing dot.
func ParseDomainList(v []byte) ([]string, error) {
	var names []string
	var buf [maxNameLen]byte
	for i := 0; i < len(v); {
		out, next, _, err := appendName(buf[:0], v, i, false, "domain list")
		if err != nil {
			return nil, err
		}
		names = append(names, string(out))
		i = next
	}
	return names, nil
}

// appendLabels appends the labels of a dotted name (no trailing dot, may
// be empty for the root) in wire form, without the terminating zero.
func appendLabels(dst []byte, name string) ([]byte, error) {
	if name == "" {
		return dst, nil
	}
	if len(name)+1 >= maxNameLen {
		return dst, &EncodeError{Field: "domain name", Reason: "longer than 253 characters"}
	}
	for label := range strings.SplitSeq(name, ".") {
		if label == "" || len(label) > 63 {
			return dst, &EncodeError{Field: "domain name", Reason: "label of length " + strconv.Itoa(len(label)) + " in " + strconv.Quote(name)}
		}
		dst = append(dst, byte(len(label)))
		dst = append(dst, label...)
	}
	return dst, nil
}

// AppendDomainList appends fully qualified names (a trailing dot is
// optional) in wire form, the value of option 24 or 21.
func AppendDomainList(dst []byte, names ...string) ([]byte, error) {
	for _, n := range names {
		var err error
		if dst, err = appendLabels(dst, strings.TrimSuffix(n, ".")); err != nil {
			return dst, err
		}
		dst = append(dst, 0)
	}
	return dst, nil
}

// Client FQDN flags (RFC 4704 §4.1).
const (
	FQDNFlagS = 0x01 // server should perform the AAAA RR (forward) update
	FQDNFlagO = 0x02 // server overrode the client's S bit
	FQDNFlagN = 0x04 // server should not perform any DNS update
)

// FQDN is option 39 (RFC 4704 §4). Name is the wire-form domain name,
// which may be partial (no terminating zero label). It aliases the packet.
type FQDN struct {
	Flags uint8
	Name  []byte
}

// ParseFQDN decodes an option 39 value; Name aliases v.
func ParseFQDN(v []byte) (FQDN, error) {
	if len(v) < 1 {
		return FQDN{}, &DecodeError{Field: "option 39", Offset: 0, Kind: ErrBadLength, Reason: "length 0, the flags byte is missing"}
	}
	return FQDN{Flags: v[0], Name: v[1:len(v):len(v)]}, nil
}

// DomainName returns the name as dotted text without a trailing dot, and
// whether it is fully qualified (ends with the zero label).
func (f FQDN) DomainName() (name string, full bool, err error) {
	var buf [maxNameLen]byte
	out, next, full, err := appendName(buf[:0], f.Name, 0, true, "option 39")
	if err != nil {
		return "", false, err
	}
	if next != len(f.Name) {
		return "", false, &DecodeError{Field: "option 39", Offset: 1 + next, Kind: ErrBadValue, Reason: "bytes after the terminating zero label"}
	}
	return string(out), full, nil
}

// AppendFQDN appends the value of option 39: flags and the name in wire
// form; a trailing dot makes it fully qualified, else it is partial.
func AppendFQDN(dst []byte, flags uint8, name string) ([]byte, error) {
	dst = append(dst, flags)
	full := strings.HasSuffix(name, ".")
	dst, err := appendLabels(dst, strings.TrimSuffix(name, "."))
	if err != nil {
		return dst, err
	}
	if full {
		dst = append(dst, 0)
	}
	return dst, nil
}
