package dhcpv4

import (
	"encoding/binary"
	"net/netip"
	"strconv"
)

// Writer encodes a DHCP message into a caller-provided buffer without
// allocating. Errors are sticky: after the first error every call is a
// no-op and End returns that error, so a reply can be written as a flat
// sequence of calls and checked once.
//
//	var w dhcpv4.Writer
//	w.Reset(buf[:0])
//	w.Header(&h)
//	w.OptionByte(dhcpv4.OptMessageType, byte(dhcpv4.Ack))
//	w.OptionAddr(dhcpv4.OptServerID, sid)
//	pkt, err := w.End()
type Writer struct {
	buf []byte // full capacity of the destination
	n   int
	err error

	// streaming state of the option being written (see begin/put)
	code    OptionCode
	left    int // value bytes not yet written
	instOff int // bytes left in the current instance
}

// Reset starts a new message in dst[:cap(dst)].
func (w *Writer) Reset(dst []byte) {
	*w = Writer{buf: dst[:cap(dst)]}
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

func putAddr4(b []byte, a netip.Addr, field string) error {
	switch {
	case !a.IsValid():
		clear(b[:4])
	case a.Is4() || a.Is4In6():
		v := a.Unmap().As4()
		copy(b, v[:])
	default:
		return &EncodeError{Field: field, Reason: "address " + a.String() + " is not IPv4"}
	}
	return nil
}

// Header writes the 236-byte fixed part and the magic cookie. It must be
// the first call after Reset.
func (w *Writer) Header(h *Header) {
	if w.err == nil && w.n != 0 {
		w.fail(&EncodeError{Field: "header", Reason: "must be written first"})
	}
	if len(h.SName) > lenSName {
		w.fail(&EncodeError{Field: "sname", Reason: "longer than 64 bytes"})
	}
	if len(h.File) > lenFile {
		w.fail(&EncodeError{Field: "file", Reason: "longer than 128 bytes"})
	}
	if h.HLen > 16 {
		w.fail(&EncodeError{Field: "hlen", Reason: "greater than 16"})
	}
	b := w.grow(FixedLen)
	if b == nil {
		return
	}
	b[offOp] = byte(h.Op)
	b[offHType] = h.HType
	b[offHLen] = h.HLen
	b[offHops] = h.Hops
	binary.BigEndian.PutUint32(b[offXID:], h.XID)
	binary.BigEndian.PutUint16(b[offSecs:], h.Secs)
	binary.BigEndian.PutUint16(b[offFlags:], h.Flags)
	for _, f := range [...]struct {
		off  int
		a    netip.Addr
		name string
	}{{offCIAddr, h.CIAddr, "ciaddr"}, {offYIAddr, h.YIAddr, "yiaddr"}, {offSIAddr, h.SIAddr, "siaddr"}, {offGIAddr, h.GIAddr, "giaddr"}} {
		if err := putAddr4(b[f.off:], f.a, f.name); err != nil {
			w.fail(err)
		}
	}
	copy(b[offCHAddr:offSName], h.CHAddr[:])
	clear(b[offSName:offCookie])
	copy(b[offSName:offSName+lenSName], h.SName)
	copy(b[offFile:offFile+lenFile], h.File)
	copy(b[offCookie:], MagicCookie[:])
}

// begin starts an option whose value is total bytes long; put then writes
// the value in as many pieces as convenient. Values longer than 255 bytes
// are split into consecutive instances of the same code (RFC 3396 §5).
func (w *Writer) begin(code OptionCode, total int) {
	if w.err != nil {
		return
	}
	if w.n < FixedLen {
		w.fail(&EncodeError{Field: optField(code), Reason: "Header must be written before options"})
		return
	}
	if code == OptPad || code == OptEnd {
		w.fail(&EncodeError{Field: optField(code), Reason: "pad and end are not options with values"})
		return
	}
	if w.left != 0 {
		w.fail(&EncodeError{Field: optField(w.code), Reason: "value shorter than announced"})
		return
	}
	w.code, w.left, w.instOff = code, total, 0
	if total == 0 {
		// A zero-length option (e.g. rapid commit) is one instance.
		if b := w.grow(2); b != nil {
			b[0], b[1] = byte(code), 0
		}
	}
}

func (w *Writer) put(p []byte) {
	for len(p) > 0 && w.err == nil {
		if w.left < len(p) {
			w.fail(&EncodeError{Field: optField(w.code), Reason: "value longer than announced"})
			return
		}
		if w.instOff == 0 {
			n := min(w.left, 255)
			b := w.grow(2)
			if b == nil {
				return
			}
			b[0], b[1] = byte(w.code), byte(n)
			w.instOff = n
		}
		n := min(len(p), w.instOff)
		b := w.grow(n)
		if b == nil {
			return
		}
		copy(b, p[:n])
		p = p[n:]
		w.left -= n
		w.instOff -= n
	}
}

func (w *Writer) putByte(v byte) {
	var b [1]byte
	b[0] = v
	w.put(b[:])
}

// Option writes option code with value data, split into several instances
// when data is longer than 255 bytes (RFC 3396).
func (w *Writer) Option(code OptionCode, data []byte) {
	w.begin(code, len(data))
	w.put(data)
}

// OptionString writes a text option (12, 15, 56, 60, 66, 67, ...).
// RFC 2132 §2: text options are not NUL-terminated.
func (w *Writer) OptionString(code OptionCode, s string) {
	w.begin(code, len(s))
	var tmp [64]byte
	for len(s) > 0 && w.err == nil {
		n := copy(tmp[:], s)
		w.put(tmp[:n])
		s = s[n:]
	}
}

// OptionByte writes a one-byte option (53, 52, ...).
func (w *Writer) OptionByte(code OptionCode, v uint8) {
	w.begin(code, 1)
	w.putByte(v)
}

// OptionUint16 writes a 16-bit big-endian option (57, 26).
func (w *Writer) OptionUint16(code OptionCode, v uint16) {
	var b [2]byte
	binary.BigEndian.PutUint16(b[:], v)
	w.Option(code, b[:])
}

// OptionUint32 writes a 32-bit big-endian option (51, 58, 59).
func (w *Writer) OptionUint32(code OptionCode, v uint32) {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], v)
	w.Option(code, b[:])
}

// OptionAddr writes one IPv4 address (1, 28, 50, 54).
func (w *Writer) OptionAddr(code OptionCode, a netip.Addr) {
	w.OptionAddrs(code, a)
}

// OptionAddrs writes a list of IPv4 addresses (3, 6, 42, ...).
func (w *Writer) OptionAddrs(code OptionCode, addrs ...netip.Addr) {
	if w.err != nil {
		return
	}
	if len(addrs) == 0 {
		w.fail(&EncodeError{Field: optField(code), Reason: "empty address list"})
		return
	}
	w.begin(code, 4*len(addrs))
	for i, a := range addrs {
		if !a.Is4() && !a.Is4In6() {
			w.fail(&EncodeError{Field: optField(code), Reason: "address " + strconv.Itoa(i) + " (" + a.String() + ") is not IPv4"})
			return
		}
		v := a.Unmap().As4()
		w.put(v[:])
	}
}

// End writes the End option, pads the message with zeros to the 300-byte
// BOOTP minimum (RFC 1542 §2.1) and returns it, or the first error.
func (w *Writer) End() ([]byte, error) {
	if w.err == nil && w.n < FixedLen {
		w.fail(&EncodeError{Field: "header", Reason: "not written"})
	}
	if w.err == nil && w.left != 0 {
		w.fail(&EncodeError{Field: optField(w.code), Reason: "value shorter than announced"})
	}
	if b := w.grow(1); b != nil {
		b[0] = byte(OptEnd)
	}
	if w.err == nil && w.n < MinPacketLen {
		b := w.grow(MinPacketLen - w.n)
		clear(b)
	}
	if w.err != nil {
		return nil, w.err
	}
	return w.buf[:w.n], nil
}
