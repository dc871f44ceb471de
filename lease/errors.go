package lease

import (
	"errors"
	"net/netip"
)

// ErrNotFound is returned (wrapped) when an operation names an address or
// client the engine holds no lease for.
var ErrNotFound = errors.New("lease: not found")

// ErrNotCapable is wrapped by a *NotCapableError: the client cannot be
// sent an authenticated FORCERENEW.
var ErrNotCapable = errors.New("lease: client cannot receive FORCERENEW")

// ErrNotBound is returned (wrapped) when a FORCERENEW is asked for an
// address whose lease is not bound.
var ErrNotBound = errors.New("lease: lease is not bound")

// NotCapableError says why the client of Addr cannot be sent a FORCERENEW.
type NotCapableError struct {
	Addr   netip.Addr
	Reason string
}

func (e *NotCapableError) Error() string {
	return "lease: " + e.Addr.String() + ": client cannot receive FORCERENEW: " + e.Reason
}

func (e *NotCapableError) Unwrap() error { return ErrNotCapable }
