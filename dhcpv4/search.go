package dhcpv4

import (
	"strconv"
	"strings"
)

// maxNameLen is the longest domain name in wire form (RFC 1035 §3.1).
const maxNameLen = 255

// ParseDomainSearch decodes option 119 (RFC 3397 §2): a list of RFC 1035
// names with compression pointers, which are offsets into the option value
// (the concatenation of all its instances, RFC 3396).
func ParseDomainSearch(v []byte) ([]string, error) {
	var names []string
	var buf [maxNameLen]byte
	for i := 0; i < len(v); {
		var next int
		out, err := appendWireName(buf[:0], v, i, &next, false)
		if err != nil {
			return nil, err
		}
		names = append(names, string(out))
		i = next
	}
	return names, nil
}

// appendWireName decodes the RFC 1035 name starting at v[start] as dotted
// text. If next is non-nil it receives the offset just after the name in
// the original position (before any pointer jump). With partial set, a name
// that ends without a zero label is accepted (RFC 4702 §2.3) and pointers
// are not allowed.
func appendWireName(dst, v []byte, start int, next *int, partial bool) ([]byte, error) {
	bad := func(off int, kind error, reason string) error {
		f := "option 119"
		if partial {
			f = "option 81"
		}
		return &DecodeError{Field: f, Offset: off, Kind: kind, Reason: reason}
	}
	i := start
	jumped := false
	wire := 0
	// Each label or pointer is visited at most once per byte of v: jumps
	// must go strictly backwards, so the loop is bounded by len(v).
	limit := start
	for {
		if i >= len(v) {
			if partial {
				if next != nil {
					*next = i
				}
				return dst, nil
			}
			return dst, bad(i, ErrOptionOverrun, "name runs past end of option (len "+strconv.Itoa(len(v))+")")
		}
		l := int(v[i])
		switch {
		case l == 0:
			if next != nil && !jumped {
				*next = i + 1
			}
			return dst, nil
		case l&0xC0 == 0xC0:
			if partial {
				return dst, bad(i, ErrBadValue, "compression pointer not allowed")
			}
			if i+1 >= len(v) {
				return dst, bad(i, ErrOptionOverrun, "compression pointer truncated")
			}
			p := (l&0x3F)<<8 | int(v[i+1])
			if p >= limit {
				return dst, bad(i, ErrBadValue, "compression pointer "+strconv.Itoa(p)+" does not point backwards")
			}
			if next != nil && !jumped {
				*next = i + 2
			}
			jumped = true
			limit = p
			i = p
		case l&0xC0 != 0:
			return dst, bad(i, ErrBadValue, "reserved label type")
		default:
			if i+1+l > len(v) {
				return dst, bad(i, ErrOptionOverrun, "label length "+strconv.Itoa(l)+" runs past end of option (len "+strconv.Itoa(len(v))+")")
			}
			wire += 1 + l
			if wire+1 > maxNameLen {
				return dst, bad(i, ErrBadValue, "name longer than 255 bytes")
			}
			if len(dst) > 0 {
				dst = append(dst, '.')
			}
			dst = append(dst, v[i+1:i+1+l]...)
			i += 1 + l
			if !jumped {
				limit = i
			}
		}
	}
}

// appendLabels appends the labels of a dotted name (no terminating zero).
func appendLabels(dst []byte, name string) ([]byte, error) {
	if name == "" {
		return dst, nil
	}
	if len(name)+2 > maxNameLen {
		return dst, &EncodeError{Field: "domain name", Reason: "longer than 253 characters"}
	}
	for label := range strings.SplitSeq(name, ".") {
		if len(label) == 0 || len(label) > 63 {
			return dst, &EncodeError{Field: "domain name", Reason: "label " + strconv.Quote(label) + " must be 1..63 bytes"}
		}
		dst = append(dst, byte(len(label)))
		dst = append(dst, label...)
	}
	return dst, nil
}

// AppendDomainSearch appends the option 119 value for names (dotted, a
// trailing dot is optional) to dst, without compression. The result may
// exceed 255 bytes; Writer.Option splits it (RFC 3396).
func AppendDomainSearch(dst []byte, names []string) ([]byte, error) {
	for _, n := range names {
		n = strings.TrimSuffix(n, ".")
		var err error
		if dst, err = appendLabels(dst, n); err != nil {
			return dst, err
		}
		dst = append(dst, 0)
	}
	return dst, nil
}
