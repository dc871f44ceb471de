package dhcpv6

import (
	"encoding/binary"
	"net/netip"
	"strconv"
)

// maxOptionLen is the largest option-len (16 bits, RFC 8415 §21.1).
const maxOptionLen = 0xffff

// maxOpen bounds the options a Writer can have open at once: a relay
// message option per relay layer plus encapsulated IA options.
const maxOpen = MaxRelayDepth + maxOptionDepth + 2

// Writer encodes a DHCPv6 packet into a caller-provided buffer without
// allocating. Options that contain options (IA_NA, IA_PD, IAADDR,
// IAPREFIX, Relay Message) are written between BeginOption (or a
// Begin* helper) and EndOption, which back-patches the length. Errors are
// sticky: after the first error every call is a no-op and End returns
// that error, so a reply can be written as a flat sequence of calls and
// checked once.
//
//	var w dhcpv6.Writer
//	w.Reset(buf[:0])
//	w.Header(dhcpv6.Reply, xid)
//	w.Option(dhcpv6.OptServerID, serverDUID)
//	w.Option(dhcpv6.OptClientID, clientDUID)
//	w.BeginIA(dhcpv6.OptIANA, iaid, t1, t2)
//	w.BeginIAAddr(addr, preferred, valid)
//	w.EndOption()
//	w.EndOption()
//	pkt, err := w.End()
//
// A Relay-reply is written the same way: RelayHeader, its options,
// BeginOption(OptRelayMsg), the inner message's Header and options,
// EndOption.
type Writer struct {
	buf []byte // full capacity of the destination
	n   int
	err error

	open  [maxOpen]int32 // offsets of the headers of open options
	depth int
	// hdrAt is where a message header is expected: 0 after Reset, just
	// after an open Relay Message option's header, -1 when none is.
	hdrAt int
}

// Reset starts a new packet in dst[:cap(dst)].
func (w *Writer) Reset(dst []byte) {
	w.buf, w.n, w.err, w.depth, w.hdrAt = dst[:cap(dst)], 0, nil, 0, 0
}

// Len is the number of bytes written so far.
func (w *Writer) Len() int { return w.n }

// Err returns the first error, if any.
func (w *Writer) Err() error { return w.err }

func (w *Writer) fail(err error) {
	if w.err == nil {
		w.err = err
	}
}

func (w *Writer) grow(n int) []byte {
	if w.err != nil {
		return nil
	}
	if w.n+n > len(w.buf) {
		w.fail(ErrShortBuffer)
		return nil
	}
	b := w.buf[w.n : w.n+n]
	w.n += n
	return b
}

func (w *Writer) put(p []byte) {
	if b := w.grow(len(p)); b != nil {
		copy(b, p)
	}
}

func (w *Writer) headerPlace(field string) bool {
	if w.err != nil {
		return false
	}
	if w.n != w.hdrAt {
		w.fail(&EncodeError{Field: field, Reason: "a header must come first in the packet or in a Relay Message option"})
		return false
	}
	return true
}

// Header writes msg-type and the 24-bit transaction-id of a client/server
// message (RFC 8415 §8): first in the packet or first in a Relay Message
// option.
func (w *Writer) Header(t MessageType, xid uint32) {
	if !w.headerPlace("header") {
		return
	}
	if t == 0 || t.IsRelay() {
		w.fail(&EncodeError{Field: "header", Reason: "msg-type " + strconv.Itoa(int(t)) + " is not a client/server message (use RelayHeader for 12, 13)"})
		return
	}
	if xid > 0xffffff {
		w.fail(&EncodeError{Field: "transaction-id", Reason: "wider than 24 bits"})
		return
	}
	if b := w.grow(HeaderLen); b != nil {
		b[0], b[1], b[2], b[3] = byte(t), byte(xid>>16), byte(xid>>8), byte(xid)
		w.hdrAt = -1
	}
}

// RelayHeader writes the header of a Relay-forward or Relay-reply (RFC
// 8415 §9). An invalid (zero) netip.Addr is written as ::.
func (w *Writer) RelayHeader(t MessageType, hopCount uint8, linkAddr, peerAddr netip.Addr) {
	if !w.headerPlace("relay header") {
		return
	}
	if !t.IsRelay() {
		w.fail(&EncodeError{Field: "relay header", Reason: "msg-type " + strconv.Itoa(int(t)) + " is not 12 or 13"})
		return
	}
	for _, a := range [2]netip.Addr{linkAddr, peerAddr} {
		if a.IsValid() && !a.Is6() {
			w.fail(&EncodeError{Field: "relay header", Reason: "address " + a.String() + " is not IPv6"})
			return
		}
	}
	b := w.grow(RelayHeaderLen)
	if b == nil {
		return
	}
	b[0], b[1] = byte(t), hopCount
	clear(b[2:])
	if linkAddr.IsValid() {
		a := linkAddr.As16()
		copy(b[2:18], a[:])
	}
	if peerAddr.IsValid() {
		a := peerAddr.As16()
		copy(b[18:34], a[:])
	}
	w.hdrAt = -1
}

func (w *Writer) optionPlace(code OptionCode) bool {
	if w.err != nil {
		return false
	}
	if w.hdrAt >= 0 {
		w.fail(&EncodeError{Field: optField(code), Reason: "the message header must be written before options"})
		return false
	}
	return true
}

// BeginOption opens an option whose value the following calls write; the
// matching EndOption sets its length. Inside OptRelayMsg the next call
// must be Header or RelayHeader.
func (w *Writer) BeginOption(code OptionCode) {
	if !w.optionPlace(code) {
		return
	}
	if w.depth == maxOpen {
		w.fail(&EncodeError{Field: optField(code), Reason: "more than " + strconv.Itoa(maxOpen) + " options open"})
		return
	}
	b := w.grow(optHeaderLen)
	if b == nil {
		return
	}
	binary.BigEndian.PutUint16(b, uint16(code))
	b[2], b[3] = 0, 0
	w.open[w.depth] = int32(w.n - optHeaderLen)
	w.depth++
	if code == OptRelayMsg {
		w.hdrAt = w.n
	}
}

// EndOption closes the innermost open option and back-patches its length.
func (w *Writer) EndOption() {
	if w.err != nil {
		return
	}
	if w.depth == 0 {
		w.fail(&EncodeError{Field: "EndOption", Reason: "no option is open"})
		return
	}
	w.depth--
	start := int(w.open[w.depth])
	code := OptionCode(binary.BigEndian.Uint16(w.buf[start:]))
	if w.hdrAt >= 0 {
		w.fail(&EncodeError{Field: optField(code), Reason: "relay message option holds no message"})
		return
	}
	n := w.n - start - optHeaderLen
	if n > maxOptionLen {
		w.fail(&EncodeError{Field: optField(code), Reason: "value of " + strconv.Itoa(n) + " bytes exceeds 65535"})
		return
	}
	binary.BigEndian.PutUint16(w.buf[start+2:], uint16(n))
}

// Option writes option code with value data.
func (w *Writer) Option(code OptionCode, data []byte) {
	if !w.optionPlace(code) {
		return
	}
	if len(data) > maxOptionLen {
		w.fail(&EncodeError{Field: optField(code), Reason: "value of " + strconv.Itoa(len(data)) + " bytes exceeds 65535"})
		return
	}
	b := w.grow(optHeaderLen + len(data))
	if b == nil {
		return
	}
	binary.BigEndian.PutUint16(b, uint16(code))
	binary.BigEndian.PutUint16(b[2:], uint16(len(data)))
	copy(b[optHeaderLen:], data)
}

// OptionString writes a text option without allocating.
func (w *Writer) OptionString(code OptionCode, s string) {
	w.BeginOption(code)
	if b := w.grow(len(s)); b != nil {
		copy(b, s)
	}
	w.EndOption()
}

// OptionEmpty writes an option with no value (14 Rapid Commit, 20
// Reconfigure Accept).
func (w *Writer) OptionEmpty(code OptionCode) { w.Option(code, nil) }

// OptionUint8 writes a one-byte option (7 Preference, 19 Reconfigure
// Message).
func (w *Writer) OptionUint8(code OptionCode, v uint8) {
	var b [1]byte
	b[0] = v
	w.Option(code, b[:])
}

// OptionUint16 writes a 16-bit option (8 Elapsed Time).
func (w *Writer) OptionUint16(code OptionCode, v uint16) {
	var b [2]byte
	binary.BigEndian.PutUint16(b[:], v)
	w.Option(code, b[:])
}

// OptionUint32 writes a 32-bit option (32, 82 SOL_MAX_RT, 83).
func (w *Writer) OptionUint32(code OptionCode, v uint32) {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], v)
	w.Option(code, b[:])
}

// OptionAddrs writes a list of IPv6 addresses (12 with one address, 22,
// 23).
func (w *Writer) OptionAddrs(code OptionCode, addrs ...netip.Addr) {
	if !w.optionPlace(code) {
		return
	}
	if len(addrs) == 0 {
		w.fail(&EncodeError{Field: optField(code), Reason: "empty address list"})
		return
	}
	w.BeginOption(code)
	for i, a := range addrs {
		if !a.Is6() {
			w.fail(&EncodeError{Field: optField(code), Reason: "address " + strconv.Itoa(i) + " (" + a.String() + ") is not IPv6"})
			return
		}
		v := a.As16()
		w.put(v[:])
	}
	w.EndOption()
}

// OptionCodes writes a list of option codes (6 Option Request).
func (w *Writer) OptionCodes(code OptionCode, codes ...OptionCode) {
	w.BeginOption(code)
	for _, c := range codes {
		var b [2]byte
		binary.BigEndian.PutUint16(b[:], uint16(c))
		w.put(b[:])
	}
	w.EndOption()
}

// StatusCode writes option 13 (RFC 8415 §21.13).
func (w *Writer) StatusCode(code uint16, msg string) {
	w.BeginOption(OptStatusCode)
	var b [2]byte
	binary.BigEndian.PutUint16(b[:], code)
	w.put(b[:])
	if p := w.grow(len(msg)); p != nil {
		copy(p, msg)
	}
	w.EndOption()
}

// BeginIA opens an IA_NA or IA_PD (RFC 8415 §21.4, §21.21); write its
// IAADDR / IAPREFIX / Status Code options, then EndOption.
func (w *Writer) BeginIA(code OptionCode, iaid, t1, t2 uint32) {
	if code != OptIANA && code != OptIAPD {
		w.fail(&EncodeError{Field: optField(code), Reason: "BeginIA takes OptIANA or OptIAPD"})
		return
	}
	w.BeginOption(code)
	var b [12]byte
	binary.BigEndian.PutUint32(b[:], iaid)
	binary.BigEndian.PutUint32(b[4:], t1)
	binary.BigEndian.PutUint32(b[8:], t2)
	w.put(b[:])
}

// BeginIAAddr opens an IAADDR (RFC 8415 §21.6); close it with EndOption
// (after an optional Status Code).
func (w *Writer) BeginIAAddr(addr netip.Addr, preferred, valid uint32) {
	if w.err == nil && !addr.Is6() {
		w.fail(&EncodeError{Field: "option 5", Reason: "address " + addr.String() + " is not IPv6"})
		return
	}
	w.BeginOption(OptIAAddr)
	var b [24]byte
	a := addr.As16()
	copy(b[:], a[:])
	binary.BigEndian.PutUint32(b[16:], preferred)
	binary.BigEndian.PutUint32(b[20:], valid)
	w.put(b[:])
}

// BeginIAPrefix opens an IAPREFIX (RFC 8415 §21.22); close it with
// EndOption. The prefix is written masked.
func (w *Writer) BeginIAPrefix(prefix netip.Prefix, preferred, valid uint32) {
	if w.err == nil && (!prefix.IsValid() || !prefix.Addr().Is6()) {
		w.fail(&EncodeError{Field: "option 26", Reason: "prefix " + prefix.String() + " is not an IPv6 prefix"})
		return
	}
	w.BeginOption(OptIAPrefix)
	var b [25]byte
	binary.BigEndian.PutUint32(b[:], preferred)
	binary.BigEndian.PutUint32(b[4:], valid)
	b[8] = byte(prefix.Bits())
	a := prefix.Masked().Addr().As16()
	copy(b[9:], a[:])
	w.put(b[:])
}

// OptionDomainList writes fully qualified names in wire form (24 Domain
// List, 21 SIP domains) without allocating.
func (w *Writer) OptionDomainList(code OptionCode, names ...string) {
	w.BeginOption(code)
	for _, name := range names {
		w.putName(name, true)
	}
	w.EndOption()
}

// OptionFQDN writes option 39 (RFC 4704 §4): flags and the name in wire
// form, fully qualified when it ends with a dot, else partial.
func (w *Writer) OptionFQDN(flags uint8, name string) {
	w.BeginOption(OptClientFQDN)
	w.put([]byte{flags})
	full := len(name) > 0 && name[len(name)-1] == '.'
	w.putName(name, full)
	w.EndOption()
}

// putName writes a dotted name (trailing dot optional) as labels, and the
// zero label when terminate is set.
func (w *Writer) putName(name string, terminate bool) {
	if len(name) > 0 && name[len(name)-1] == '.' {
		name = name[:len(name)-1]
	}
	if len(name)+1 >= maxNameLen {
		w.fail(&EncodeError{Field: "domain name", Reason: "longer than 253 characters"})
		return
	}
	for len(name) > 0 && w.err == nil {
		l := len(name)
		for i := 0; i < len(name); i++ {
			if name[i] == '.' {
				l = i
				break
			}
		}
		if l == 0 || l > 63 {
			w.fail(&EncodeError{Field: "domain name", Reason: "label of length " + strconv.Itoa(l)})
			return
		}
		b := w.grow(1 + l)
		if b == nil {
			return
		}
		b[0] = byte(l)
		copy(b[1:], name[:l])
		name = name[l:]
		if len(name) > 0 {
			name = name[1:]
			if len(name) == 0 {
				w.fail(&EncodeError{Field: "domain name", Reason: "empty label"})
				return
			}
		}
	}
	if terminate {
		if b := w.grow(1); b != nil {
			b[0] = 0
		}
	}
}

// End returns the packet, or the first error. Every option must have been
// closed.
func (w *Writer) End() ([]byte, error) {
	if w.err == nil && w.hdrAt >= 0 {
		w.fail(&EncodeError{Field: "header", Reason: "not written"})
	}
	if w.err == nil && w.depth != 0 {
		code := OptionCode(binary.BigEndian.Uint16(w.buf[w.open[w.depth-1]:]))
		w.fail(&EncodeError{Field: optField(code), Reason: "not closed with EndOption"})
	}
	if w.err != nil {
		return nil, w.err
	}
	return w.buf[:w.n], nil
}
