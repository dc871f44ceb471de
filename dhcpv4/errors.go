package dhcpv4

import (
	"errors"
	"strconv"
)

// Sentinel error kinds. A *DecodeError wraps exactly one of them, so callers
// match with errors.Is(err, ErrTruncated) and read Field/Offset for detail.
var (
	ErrTruncated     = errors.New("truncated packet")
	ErrBadCookie     = errors.New("bad magic cookie")
	ErrOptionOverrun = errors.New("option runs past end of field")
	ErrNoMessageType = errors.New("no DHCP message type (option 53)")
	ErrBadHLen       = errors.New("hardware address length exceeds 16")
	ErrBadOp         = errors.New("bad op code")
	ErrBadLength     = errors.New("bad option length")
	// ErrBadValue is an option whose length is right but whose content is
	// not (an overload value other than 1..3, a bad name or route).
	ErrBadValue = errors.New("bad option value")
)

// DecodeError describes why a packet or an option could not be decoded.
type DecodeError struct {
	Field  string // "packet", "op", "hlen", "cookie", "option 51", ...
	Offset int    // byte offset in the packet (or in the option data for option parsers)
	Reason string
	Kind   error // one of the Err* sentinels
}

func (e *DecodeError) Error() string {
	return "dhcpv4: " + e.Field + " at offset " + strconv.Itoa(e.Offset) + ": " + e.Reason
}

// Unwrap returns the sentinel kind, for errors.Is.
func (e *DecodeError) Unwrap() error { return e.Kind }

func optField(code OptionCode) string { return "option " + strconv.Itoa(int(code)) }

func errOpt(kind error, code OptionCode, off int, reason string) error {
	return &DecodeError{Field: optField(code), Offset: off, Reason: reason, Kind: kind}
}

// ErrShortBuffer is returned by the Writer when the destination buffer is
// too small for the message.
var ErrShortBuffer = errors.New("dhcpv4: encode buffer too small")

// EncodeError describes an encoding mistake by the caller (a value that
// cannot be represented on the wire).
type EncodeError struct {
	Field  string
	Reason string
}

func (e *EncodeError) Error() string { return "dhcpv4: encode " + e.Field + ": " + e.Reason }
