package auth

import (
	"errors"
	"strconv"
)

// Error kinds. Every error returned by a verifier is an *Error whose Kind is
// one of these, so callers match with errors.Is and count by reason.
var (
	ErrNoAuth      = errors.New("auth: no authentication option")
	ErrMalformed   = errors.New("auth: malformed authentication option")
	ErrProtocol    = errors.New("auth: wrong protocol")
	ErrAlgorithm   = errors.New("auth: wrong algorithm")
	ErrRDM         = errors.New("auth: wrong replay detection method")
	ErrInfoType    = errors.New("auth: wrong authentication information type")
	ErrMessageType = errors.New("auth: authentication not valid in this message type")
	ErrReplay      = errors.New("auth: replay detection value not greater than the last seen")
	ErrDigest      = errors.New("auth: bad digest")
	ErrToken       = errors.New("auth: token mismatch")
	ErrKeyLength   = errors.New("auth: key is not 16 bytes")
)

// Error is a failed check, with the offending value when there is one.
type Error struct {
	Kind error  // one of the Err* values above
	Got  uint64 // the value found (protocol, algorithm, counter, ...), when meaningful
	Want uint64 // the value expected, or for ErrReplay the last seen counter
}

func (e *Error) Error() string {
	switch e.Kind {
	case ErrProtocol, ErrAlgorithm, ErrRDM, ErrInfoType, ErrMessageType:
		return e.Kind.Error() + " " + strconv.FormatUint(e.Got, 10) + ", want " + strconv.FormatUint(e.Want, 10)
	case ErrReplay:
		return e.Kind.Error() + ": got " + strconv.FormatUint(e.Got, 10) + ", last " + strconv.FormatUint(e.Want, 10)
	}
	return e.Kind.Error()
}

func (e *Error) Unwrap() error { return e.Kind }

func fail(kind error, got, want uint64) error { return &Error{Kind: kind, Got: got, Want: want} }
