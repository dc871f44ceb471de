package dhcpv6

import (
	"errors"
	"strconv"
)

// Sentinel error kinds. A *DecodeError wraps exactly one of them, so callers
// match with errors.Is(err, ErrTruncated) and read Field/Offset for detail.
var (
	ErrTruncated     = errors.New("truncated packet")
	ErrOptionOverrun = errors.New("option runs past end of field")
	ErrBadLength     = errors.New("bad option length")
	// ErrBadValue is an option whose length is right but whose content is
	// not (a prefix length over 128, a bad domain name, ...).
	ErrBadValue = errors.New("bad option value")
	// ErrBadType is msg-type 0, which no RFC assigns.
	ErrBadType = errors.New("bad message type")
	// ErrNoRelayMessage is a Relay-forward or Relay-reply without exactly
	// one Relay Message option (RFC 8415 §9).
	ErrNoRelayMessage = errors.New("relay message option missing or repeated")
	// ErrTooDeep is nesting beyond MaxRelayDepth relay layers or
	// maxOptionDepth encapsulated options.
	ErrTooDeep = errors.New("nesting too deep")
)

// DecodeError describes why a packet or an option could not be decoded.
type DecodeError struct {
	Field  string // "packet", "msg-type", "relay header", "option 3", "option 3/5", ...
	Offset int    // byte offset in the packet (or in the option data for option parsers)
	Reason string
	Kind   error // one of the Err* sentinels
}

func (e *DecodeError) Error() string {
	return "dhcpv6: " + e.Field + " at offset " + strconv.Itoa(e.Offset) + ": " + e.Reason
}

// Unwrap returns the sentinel kind, for errors.Is.
func (e *DecodeError) Unwrap() error { return e.Kind }

// ErrShortBuffer is returned by the Writer when the destination buffer is
// too small for the message.
var ErrShortBuffer = errors.New("dhcpv6: encode buffer too small")

// EncodeError describes an encoding mistake by the caller (a value that
// cannot be represented on the wire, or calls in the wrong order).
type EncodeError struct {
	Field  string
	Reason string
}

func (e *EncodeError) Error() string { return "dhcpv6: encode " + e.Field + ": " + e.Reason }
