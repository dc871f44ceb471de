package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/leased/leased/lease"
)

// TestErrStatus: engine and store errors map to the status an operator
// can act on; a write another server's lease refused (lease.ErrConflict,
// which postgres.RejectedError matches) is a conflict, not a 500.
func TestErrStatus(t *testing.T) {
	for _, c := range []struct {
		err  error
		want int
	}{
		{nil, http.StatusOK},
		{fmt.Errorf("x: %w", lease.ErrNotFound), http.StatusNotFound},
		{fmt.Errorf("x: %w", lease.ErrNotBound), http.StatusConflict},
		{fmt.Errorf("delete: %w", lease.ErrConflict), http.StatusConflict},
		{context.DeadlineExceeded, http.StatusServiceUnavailable},
		{errors.New("disk on fire"), http.StatusInternalServerError},
	} {
		if got := errStatus(c.err); got != c.want {
			t.Errorf("errStatus(%v) = %d, want %d", c.err, got, c.want)
		}
	}
}
