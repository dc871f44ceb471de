package dhcpv4

import (
	"encoding/binary"
	"iter"
	"net/netip"
	"strconv"
)

// Fixed layout of a BOOTP/DHCP message (RFC 2131 §2, figure 1).
const (
	offOp      = 0
	offHType   = 1
	offHLen    = 2
	offHops    = 3
	offXID     = 4
	offSecs    = 8
	offFlags   = 10
	offCIAddr  = 12
	offYIAddr  = 16
	offSIAddr  = 20
	offGIAddr  = 24
	offCHAddr  = 28
	offSName   = 44
	offFile    = 108
	offCookie  = 236
	offOptions = 240

	lenSName = 64
	lenFile  = 128

	// FixedLen is the BOOTP fixed part (236 bytes) plus the magic cookie.
	FixedLen = offOptions
	// MinPacketLen is the smallest BOOTP message relays and old clients
	// accept (RFC 951; RFC 1542 §2.1). End pads to it.
	MinPacketLen = 300
)

// MagicCookie is 99.130.83.99 (RFC 2131 §3, RFC 2132 §2).
var MagicCookie = [4]byte{99, 130, 83, 99}

// Overload values of option 52 (RFC 2132 §9.3).
const (
	OverloadFile  = 1
	OverloadSName = 2
	OverloadBoth  = 3
)

// Header is the fixed part of a DHCP message.
type Header struct {
	Op    OpCode
	HType uint8
	HLen  uint8
	Hops  uint8
	XID   uint32
	Secs  uint16
	Flags uint16

	// Addresses are IPv4; 0.0.0.0 on the wire decodes to 0.0.0.0, and an
	// invalid (zero) netip.Addr encodes as 0.0.0.0.
	CIAddr, YIAddr, SIAddr, GIAddr netip.Addr

	CHAddr [16]byte
	// SName and File are the NUL-terminated strings of the sname and file
	// fields, without the NUL. They are nil when the field carries options
	// (option 52 overload). Decoded values alias the packet.
	SName, File []byte
}

// Broadcast reports the BROADCAST flag (RFC 2131 §2).
func (h *Header) Broadcast() bool { return h.Flags&FlagBroadcast != 0 }

// HWAddr is chaddr[:hlen] (hlen is at most 16 after a successful Decode).
func (h *Header) HWAddr() []byte {
	n := min(int(h.HLen), len(h.CHAddr))
	return h.CHAddr[:n]
}

// optRef locates the value of one option code: in the packet, or, when the
// option occurred several times (RFC 3396), in the Message's scratch buffer.
type optRef struct {
	pos     uint32 // offset of the first instance's code byte in the packet
	off     uint32 // offset of the value in the packet or in scratch
	n       uint32 // value length (sum of all instances)
	fill    uint32 // bytes copied so far while concatenating
	cnt     uint32 // number of instances, 0 = absent
	scratch bool
}

// Message is a decoded DHCP message: the header plus an O(1) index of the
// options. The zero value is ready to use; reuse one Message per goroutine
// so that decoding does not allocate in the steady state.
//
// Slices returned by a Message (SName, File, Option values, accessors)
// alias the packet passed to Decode or the Message's own scratch buffer:
// they are valid until the next Decode and must not be modified if the
// packet is reused. Copy what you keep.
type Message struct {
	Header

	pkt     []byte
	opts    [256]optRef
	order   []OptionCode // codes in order of first appearance
	scratch []byte       // concatenated RFC 3396 options
	ovl     uint8        // option 52 value, 0 when absent
}

// Reset clears the message, keeping its buffers for reuse.
func (m *Message) Reset() {
	for _, c := range m.order {
		m.opts[c] = optRef{}
	}
	m.order = m.order[:0]
	m.scratch = m.scratch[:0]
	m.pkt = nil
	m.ovl = 0
	m.Header = Header{}
}

// Decode resets m and fills it from the packet b. Slices in m alias b (see
// Message). It never panics; errors are *DecodeError values matching one
// of the Err* sentinels with errors.Is.
//
// A packet without option 53 is a BOOTP message: Decode fills m completely
// and returns an error matching ErrNoMessageType, so a caller that serves
// BOOTP may ignore that error.
func (m *Message) Decode(b []byte) error {
	m.Reset()
	if len(b) < FixedLen {
		return &DecodeError{Field: "packet", Offset: len(b), Kind: ErrTruncated,
			Reason: "length " + strconv.Itoa(len(b)) + " is shorter than the 240-byte BOOTP header and cookie"}
	}
	op := OpCode(b[offOp])
	if op != BootRequest && op != BootReply {
		return &DecodeError{Field: "op", Offset: offOp, Kind: ErrBadOp,
			Reason: "op " + strconv.Itoa(int(op)) + " is neither BOOTREQUEST (1) nor BOOTREPLY (2)"}
	}
	if b[offHLen] > 16 {
		return &DecodeError{Field: "hlen", Offset: offHLen, Kind: ErrBadHLen,
			Reason: "hlen " + strconv.Itoa(int(b[offHLen])) + " exceeds the 16-byte chaddr field"}
	}
	if [4]byte(b[offCookie:offOptions]) != MagicCookie {
		return &DecodeError{Field: "cookie", Offset: offCookie, Kind: ErrBadCookie,
			Reason: "magic cookie is not 99.130.83.99"}
	}
	m.pkt = b
	h := &m.Header
	h.Op = op
	h.HType = b[offHType]
	h.HLen = b[offHLen]
	h.Hops = b[offHops]
	h.XID = binary.BigEndian.Uint32(b[offXID:])
	h.Secs = binary.BigEndian.Uint16(b[offSecs:])
	h.Flags = binary.BigEndian.Uint16(b[offFlags:])
	h.CIAddr = netip.AddrFrom4([4]byte(b[offCIAddr:]))
	h.YIAddr = netip.AddrFrom4([4]byte(b[offYIAddr:]))
	h.SIAddr = netip.AddrFrom4([4]byte(b[offSIAddr:]))
	h.GIAddr = netip.AddrFrom4([4]byte(b[offGIAddr:]))
	copy(h.CHAddr[:], b[offCHAddr:offSName])

	// Pass 1: index every option instance. The options field comes first,
	// then file, then sname (RFC 2131 §4.1; RFC 3396 §7).
	if err := m.scan(offOptions, len(b), false); err != nil {
		return err
	}
	if r := &m.opts[OptOverload]; r.cnt > 0 {
		if r.cnt != 1 || r.n != 1 {
			return errOpt(ErrBadLength, OptOverload, int(r.pos), "length must be 1")
		}
		m.ovl = b[r.off]
		if m.ovl < OverloadFile || m.ovl > OverloadBoth {
			return errOpt(ErrBadValue, OptOverload, int(r.pos), "overload value "+strconv.Itoa(int(m.ovl))+" is not 1, 2 or 3")
		}
	}
	if m.ovl&OverloadFile != 0 {
		if err := m.scan(offFile, offFile+lenFile, false); err != nil {
			return err
		}
	} else {
		h.File = cstring(b[offFile : offFile+lenFile])
	}
	if m.ovl&OverloadSName != 0 {
		if err := m.scan(offSName, offSName+lenSName, false); err != nil {
			return err
		}
	} else {
		h.SName = cstring(b[offSName : offSName+lenSName])
	}

	// Pass 2, only when a code occurred more than once: concatenate its
	// instances in order into scratch (RFC 3396 §7).
	need := 0
	for _, c := range m.order {
		if r := &m.opts[c]; r.cnt > 1 {
			r.scratch = true
			r.off = uint32(need)
			need += int(r.n)
		}
	}
	if need > 0 {
		if cap(m.scratch) < need {
			m.scratch = make([]byte, need)
		}
		m.scratch = m.scratch[:need]
		// The copy pass walks exactly the bytes the first pass already
		// accepted (same bounds, same overload flags), so it cannot fail;
		// its error results are ignored on purpose.
		m.scan(offOptions, len(b), true)
		if m.ovl&OverloadFile != 0 {
			m.scan(offFile, offFile+lenFile, true)
		}
		if m.ovl&OverloadSName != 0 {
			m.scan(offSName, offSName+lenSName, true)
		}
	}

	if err := m.validate(); err != nil {
		return err
	}
	if m.opts[OptMessageType].cnt == 0 {
		return &DecodeError{Field: optField(OptMessageType), Offset: offOptions, Kind: ErrNoMessageType,
			Reason: "message has no DHCP message type option (BOOTP)"}
	}
	return nil
}

// scan walks the options in m.pkt[start:end]. In the first pass it indexes
// them; with copy set it concatenates repeated options into scratch (the
// packet was already validated by the first pass).
func (m *Message) scan(start, end int, copyPass bool) error {
	b := m.pkt
	// Each iteration consumes at least one byte, so the loop is bounded by
	// the field length.
	for i := start; i < end; {
		code := OptionCode(b[i])
		if code == OptPad {
			i++
			continue
		}
		if code == OptEnd {
			return nil
		}
		if i+1 >= end {
			return errOpt(ErrOptionOverrun, code, i, "length byte missing at end of "+fieldEnd(start, end))
		}
		n := int(b[i+1])
		if i+2+n > end {
			return errOpt(ErrOptionOverrun, code, i, "length "+strconv.Itoa(n)+" runs past end of "+fieldEnd(start, end))
		}
		r := &m.opts[code]
		if copyPass {
			if r.scratch {
				copy(m.scratch[r.off+r.fill:], b[i+2:i+2+n])
				r.fill += uint32(n)
			}
		} else {
			if r.cnt == 0 {
				r.pos = uint32(i)
				r.off = uint32(i + 2)
				m.order = append(m.order, code)
			}
			r.n += uint32(n)
			r.cnt++
		}
		i += 2 + n
	}
	return nil
}

func fieldEnd(start, end int) string {
	switch start {
	case offFile:
		return "file field (ends at offset " + strconv.Itoa(end) + ")"
	case offSName:
		return "sname field (ends at offset " + strconv.Itoa(end) + ")"
	}
	return "packet (len " + strconv.Itoa(end) + ")"
}

// fixedLen gives the required length of options with a fixed size
// (RFC 2132 §3, §9) and 0 for others; listLen options must be a non-empty
// multiple of 4.
var fixedLen = [256]uint8{
	OptSubnetMask:     4,
	OptBroadcastAddr:  4,
	OptRequestedIP:    4,
	OptLeaseTime:      4,
	OptMessageType:    1,
	OptServerID:       4,
	OptMaxMessageSize: 2,
	OptRenewalTime:    4,
	OptRebindingTime:  4,
	OptInterfaceMTU:   2,
}

var listLen = [256]bool{
	OptRouter:     true,
	OptDNS:        true,
	OptNTPServers: true,
}

func (m *Message) validate() error {
	for _, c := range m.order {
		r := &m.opts[c]
		if want := fixedLen[c]; want != 0 && r.n != uint32(want) {
			return errOpt(ErrBadLength, c, int(r.pos), "length "+strconv.Itoa(int(r.n))+" is not "+strconv.Itoa(int(want)))
		}
		if listLen[c] && (r.n == 0 || r.n%4 != 0) {
			return errOpt(ErrBadLength, c, int(r.pos), "length "+strconv.Itoa(int(r.n))+" is not a non-zero multiple of 4")
		}
	}
	return nil
}

func cstring(b []byte) []byte {
	for i, c := range b {
		if c == 0 {
			if i == 0 {
				return nil
			}
			return b[:i:i]
		}
	}
	return b[:len(b):len(b)]
}

func (m *Message) value(r *optRef) []byte {
	if r.scratch {
		return m.scratch[r.off : r.off+r.n : r.off+r.n]
	}
	return m.pkt[r.off : r.off+r.n : r.off+r.n]
}

// Option returns the value of option code, concatenated over all its
// instances (RFC 3396), in O(1). Pad and End are never present.
func (m *Message) Option(code OptionCode) ([]byte, bool) {
	r := &m.opts[code]
	if r.cnt == 0 {
		return nil, false
	}
	return m.value(r), true
}

// Has reports whether option code is present.
func (m *Message) Has(code OptionCode) bool { return m.opts[code].cnt != 0 }

// OptionOffset returns the packet offset of the value of option code when
// it occurred exactly once (so its bytes are contiguous in the packet).
// It lets a caller patch or zero an option in place, e.g. the
// authentication information for an HMAC (RFC 3118 §5).
func (m *Message) OptionOffset(code OptionCode) (int, bool) {
	r := &m.opts[code]
	if r.cnt != 1 {
		return 0, false
	}
	return int(r.off), true
}

// Overload returns the value of option 52 (0 when absent).
func (m *Message) Overload() uint8 { return m.ovl }

// NumOptions is the number of distinct option codes present.
func (m *Message) NumOptions() int { return len(m.order) }

// Options yields every option (concatenated) in order of first
// appearance, including 52 if present.
func (m *Message) Options() iter.Seq2[OptionCode, []byte] {
	return func(yield func(OptionCode, []byte) bool) {
		for _, c := range m.order {
			if !yield(c, m.value(&m.opts[c])) {
				return
			}
		}
	}
}

// Packet returns the bytes passed to the last successful Decode.
func (m *Message) Packet() []byte { return m.pkt }

// Encode writes m back into dst: the header and every option in order of
// first appearance, unknown options as raw bytes. Options are written in
// the options field only (option 52 is dropped and sname/file carry the
// Header's SName and File). It returns the encoded bytes, a prefix of
// dst[:cap(dst)].
func (m *Message) Encode(dst []byte) ([]byte, error) {
	var w Writer
	w.Reset(dst)
	w.Header(&m.Header)
	for _, c := range m.order {
		if c == OptOverload {
			continue
		}
		w.Option(c, m.value(&m.opts[c]))
	}
	return w.End()
}
