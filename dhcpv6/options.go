package dhcpv6

import (
	"encoding/binary"
	"strconv"
)

// optHeaderLen is option-code and option-len (RFC 8415 §21.1).
const optHeaderLen = 4

// maxOptionDepth bounds encapsulated options (IA_NA → IAADDR → Status
// Code is 3 deep); deeper nesting of known containers is refused with
// ErrTooDeep so that decoding recursion is bounded.
const maxOptionDepth = 4

// Options is an area of DHCPv6 options: a sequence of option-code,
// option-len, data (RFC 8415 §21.1). It is used in place, without copying:
// the options of a message, of a relay layer, or encapsulated in an IA_NA,
// IA_PD, IAADDR or IAPREFIX. After a successful Message.Decode every
// Options it hands out is well formed; an Options built from other bytes
// reports framing errors through OptionIter.Err.
type Options []byte

// OptionIter walks an Options without allocating:
//
//	it := opts.Iter()
//	for it.Next() { use(it.Code(), it.Data()) }
//	if err := it.Err(); err != nil { ... }
type OptionIter struct {
	b      []byte
	i      int
	want   OptionCode
	filter bool
	code   OptionCode
	off    int
	data   []byte
	err    error
}

// Iter returns an iterator over every option, in order.
func (o Options) Iter() OptionIter { return OptionIter{b: o} }

// Filter returns an iterator over the options with the given code (e.g.
// every IA_NA of a message), in order.
func (o Options) Filter(code OptionCode) OptionIter {
	return OptionIter{b: o, want: code, filter: true}
}

// Next advances to the next option. It returns false at the end or on a
// malformed option (see Err).
func (it *OptionIter) Next() bool {
	for it.err == nil && it.i < len(it.b) {
		if it.i+optHeaderLen > len(it.b) {
			it.err = &DecodeError{Field: "option header", Offset: it.i, Kind: ErrTruncated,
				Reason: strconv.Itoa(len(it.b)-it.i) + " bytes left, an option header needs 4"}
			return false
		}
		code := OptionCode(binary.BigEndian.Uint16(it.b[it.i:]))
		n := int(binary.BigEndian.Uint16(it.b[it.i+2:]))
		end := it.i + optHeaderLen + n
		if end > len(it.b) {
			it.err = &DecodeError{Field: optField(code), Offset: it.i, Kind: ErrOptionOverrun,
				Reason: "length " + strconv.Itoa(n) + " runs past end of options (len " + strconv.Itoa(len(it.b)) + ")"}
			return false
		}
		off := it.i
		it.i = end
		if it.filter && code != it.want {
			continue
		}
		it.code, it.off, it.data = code, off, it.b[off+optHeaderLen:end:end]
		return true
	}
	return false
}

// Code is the current option code.
func (it *OptionIter) Code() OptionCode { return it.code }

// Data is the current option value (aliases the Options).
func (it *OptionIter) Data() []byte { return it.data }

// Offset is the offset of the current option's header in the Options.
func (it *OptionIter) Offset() int { return it.off }

// Err is the decoding error that stopped the iteration, if any.
func (it *OptionIter) Err() error { return it.err }

// Get returns the value of the first option with the given code.
func (o Options) Get(code OptionCode) ([]byte, bool) {
	it := o.Filter(code)
	if it.Next() {
		return it.Data(), true
	}
	return nil, false
}

// Has reports whether an option with the given code is present.
func (o Options) Has(code OptionCode) bool { _, ok := o.Get(code); return ok }

// Count is the number of options with the given code.
func (o Options) Count(code OptionCode) int {
	n := 0
	for it := o.Filter(code); it.Next(); {
		n++
	}
	return n
}

// Validate checks framing and the option rules Decode enforces (lengths of
// known options, their encapsulated options). Offsets in the error are
// relative to o.
func (o Options) Validate() error {
	var path optPath
	return validate(o, 0, &path)
}

// StatusCode returns the first Status Code option (RFC 8415 §21.13), as
// found in a message or inside an IA or address option.
func (o Options) StatusCode() (Status, bool) {
	v, ok := o.Get(OptStatusCode)
	if !ok || len(v) < 2 {
		return Status{}, false
	}
	return Status{Code: binary.BigEndian.Uint16(v), Message: v[2:len(v):len(v)]}, true
}

// Status is a Status Code option: a code and a UTF-8 message (RFC 8415
// §21.13). Message aliases the packet.
type Status struct {
	Code    uint16
	Message []byte
}

// optPath records the containers being validated, for error fields like
// "option 3/5/13" without allocating on the success path.
type optPath struct {
	codes [maxOptionDepth + 1]OptionCode
	n     int
}

func (p *optPath) field(code OptionCode) string {
	s := ""
	for _, c := range p.codes[:p.n] {
		s += strconv.Itoa(int(c)) + "/"
	}
	return "option " + s + strconv.Itoa(int(code))
}

// Rules for known options: minimum length, exact length, the
// length of the fixed part before encapsulated options (0 = none), and a
// value check.
type optRule struct {
	min    int
	fixed  bool // length must be exact
	exact  int
	nested int // fixed part length before encapsulated options; 0 = not a container
	mult   int // length must be a non-zero multiple of mult
	names  bool
	check  func(v []byte) (off int, reason string)
}

// ruleSize covers every code with a rule.
const ruleSize = 84

var rules = [ruleSize]optRule{
	// RFC 8415 §11.1: a DUID is a 2-byte type and at most 128 bytes.
	OptClientID:    {min: 3, check: checkDUID},
	OptServerID:    {min: 3, check: checkDUID},
	OptIANA:        {min: 12, nested: 12},
	OptIATA:        {min: 4, nested: 4},
	OptIAAddr:      {min: 24, nested: 24},
	OptORO:         {check: checkEven},
	OptPreference:  {fixed: true, exact: 1},
	OptElapsedTime: {fixed: true, exact: 2},
	OptAuth:        {min: authFixedLen},
	OptUnicast:     {fixed: true, exact: 16},
	OptStatusCode:  {min: 2},
	OptRapidCommit: {fixed: true, exact: 0},
	OptReconfMsg:   {fixed: true, exact: 1, check: checkReconfMsg},
	// RFC 8415 §21.20: option-len is 0.
	OptReconfAccept:        {fixed: true, exact: 0},
	OptSIPServerDomains:    {names: true},
	OptSIPServerAddrs:      {mult: 16},
	OptDNSServers:          {mult: 16},
	OptDomainList:          {names: true},
	OptIAPD:                {min: 12, nested: 12},
	OptIAPrefix:            {min: 25, nested: 25, check: checkPrefixLen},
	OptInfoRefreshTime:     {fixed: true, exact: 4},
	OptRemoteID:            {min: 5},
	OptSubscriberID:        {min: 1},
	OptClientFQDN:          {min: 1},
	OptClientLinkLayerAddr: {min: 3},
	OptSolMaxRT:            {fixed: true, exact: 4},
	OptInfMaxRT:            {fixed: true, exact: 4},
}

func checkDUID(v []byte) (int, string) {
	if len(v) > maxDUIDLen {
		return 0, "DUID length " + strconv.Itoa(len(v)) + " exceeds 130 (type + 128 bytes, RFC 8415 §11.1)"
	}
	return 0, ""
}

func checkEven(v []byte) (int, string) {
	if len(v)%2 != 0 {
		return 0, "length " + strconv.Itoa(len(v)) + " is not a multiple of 2"
	}
	return 0, ""
}

func checkReconfMsg(v []byte) (int, string) {
	// RFC 8415 §21.19: msg-type is Renew (5), Rebind (6) or
	// Information-request (11).
	switch MessageType(v[0]) {
	case Renew, Rebind, InformationRequest:
		return 0, ""
	}
	return 0, "reconfigure msg-type " + strconv.Itoa(int(v[0])) + " is not 5, 6 or 11"
}

func checkPrefixLen(v []byte) (int, string) {
	if v[8] > 128 {
		return 8, "prefix-length " + strconv.Itoa(int(v[8])) + " exceeds 128"
	}
	return 0, ""
}

// validate checks every option in b; base is b's offset in the packet.
func validate(b []byte, base int, path *optPath) error {
	for i := 0; i < len(b); {
		if i+optHeaderLen > len(b) {
			f := "option header"
			if path.n > 0 {
				f = "option " + pathString(path) + " option header"
			}
			return &DecodeError{Field: f, Offset: base + i, Kind: ErrTruncated,
				Reason: strconv.Itoa(len(b)-i) + " bytes left, an option header needs 4"}
		}
		code := OptionCode(binary.BigEndian.Uint16(b[i:]))
		n := int(binary.BigEndian.Uint16(b[i+2:]))
		off := base + i
		if i+optHeaderLen+n > len(b) {
			return &DecodeError{Field: path.field(code), Offset: off, Kind: ErrOptionOverrun,
				Reason: "length " + strconv.Itoa(n) + " runs past end of " + areaName(path) + " (ends at offset " + strconv.Itoa(base+len(b)) + ")"}
		}
		v := b[i+optHeaderLen : i+optHeaderLen+n]
		i += optHeaderLen + n
		if int(code) >= ruleSize {
			continue
		}
		r := &rules[code]
		switch {
		case r.fixed && n != r.exact:
			return &DecodeError{Field: path.field(code), Offset: off, Kind: ErrBadLength,
				Reason: "length " + strconv.Itoa(n) + " is not " + strconv.Itoa(r.exact)}
		case n < r.min:
			return &DecodeError{Field: path.field(code), Offset: off, Kind: ErrBadLength,
				Reason: "length " + strconv.Itoa(n) + " is shorter than " + strconv.Itoa(r.min)}
		case r.mult > 0 && (n == 0 || n%r.mult != 0):
			return &DecodeError{Field: path.field(code), Offset: off, Kind: ErrBadLength,
				Reason: "length " + strconv.Itoa(n) + " is not a non-zero multiple of " + strconv.Itoa(r.mult)}
		}
		if r.check != nil {
			if voff, reason := r.check(v); reason != "" {
				return &DecodeError{Field: path.field(code), Offset: off + optHeaderLen + voff, Kind: ErrBadValue, Reason: reason}
			}
		}
		if r.names {
			if voff, reason := checkNames(v); reason != "" {
				return &DecodeError{Field: path.field(code), Offset: off + optHeaderLen + voff, Kind: ErrBadValue, Reason: reason}
			}
		}
		if r.nested > 0 {
			if path.n >= maxOptionDepth {
				return &DecodeError{Field: path.field(code), Offset: off, Kind: ErrTooDeep,
					Reason: "options nested more than " + strconv.Itoa(maxOptionDepth) + " deep"}
			}
			path.codes[path.n] = code
			path.n++
			err := validate(v[r.nested:], off+optHeaderLen+r.nested, path)
			path.n--
			if err != nil {
				return err
			}
		}
	}
	return nil
}

func areaName(p *optPath) string {
	if p.n == 0 {
		return "options"
	}
	return "option " + strconv.Itoa(int(p.codes[p.n-1]))
}

func pathString(p *optPath) string {
	s := ""
	for i, c := range p.codes[:p.n] {
		if i > 0 {
			s += "/"
		}
		s += strconv.Itoa(int(c))
	}
	return s
}
