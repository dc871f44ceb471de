package lease

import "errors"

// ErrNotFound is returned (wrapped) when an operation names an address or
// client the engine holds no lease for.
var ErrNotFound = errors.New("lease: not found")
