package postgres

import (
	"errors"
	"fmt"
	"net/netip"
	"testing"

	"github.com/leased/leased/lease"
)

// TestRejectedIsConflict: a refused cluster write is ErrRejected and, for
// callers that know only lease (the API), lease.ErrConflict.
func TestRejectedIsConflict(t *testing.T) {
	err := fmt.Errorf("commit: %w", &RejectedError{Addr: netip.MustParseAddr("10.0.0.1"), Reason: "held elsewhere"})
	if !errors.Is(err, ErrRejected) || !errors.Is(err, lease.ErrConflict) {
		t.Fatalf("errors.Is(%v): ErrRejected %v, lease.ErrConflict %v", err,
			errors.Is(err, ErrRejected), errors.Is(err, lease.ErrConflict))
	}
	if errors.Is(errors.New("other"), lease.ErrConflict) {
		t.Fatal("unrelated error matches")
	}
}
