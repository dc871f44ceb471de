package server

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/leased/leased/api"
	"github.com/leased/leased/lease"
	"github.com/leased/leased/lease6"
)

// TestDeleteErrorsOneStatus: a DHCPv4 and a DHCPv6 delete that fail the
// same way (a cancelled context, a failing store) return the store's error
// wrapped, revert the engine, and the API answers them with one status
// (503 for a cancelled or timed-out request, 500 for a store failure).
func TestDeleteErrorsOneStatus(t *testing.T) {
	st := &memStore{}
	eng6, err := lease6.New(v6Config())
	if err != nil {
		t.Fatal(err)
	}
	s, _ := run6(t, st, eng6)
	now := time.Now()
	a4 := netip.MustParseAddr("127.0.0.150")
	a6 := netip.MustParseAddr("fd77::1:5")
	s.eng.(*lease.Engine).Restore(lease.Lease{Seq: 1, Addr: a4, ClientID: []byte{1, 2, 3, 4, 5, 6, 7}, Pool: "loop",
		State: lease.StateBound, Start: now, Expiry: now.Add(time.Hour)})
	eng6.Restore(lease.Lease{Seq: 1, Addr: a6, ClientID: []byte{0, 4, 1, 2, 3, 4}, Pool: "office6", IAID: 1,
		State: lease.StateBound, Start: now, Preferred: now.Add(time.Hour), Expiry: now.Add(2 * time.Hour)})
	for _, a := range []netip.Addr{a4, a6} {
		if _, ok := s.Lookup(a); !ok {
			t.Fatalf("%s not restored", a)
		}
	}
	h := api.NewHandler(s, nil, slog.New(slog.DiscardHandler))
	del := func(ctx context.Context, a netip.Addr) int {
		req := httptest.NewRequestWithContext(ctx, http.MethodDelete, "/v1/leases/"+a.String(), nil)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}

	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, a := range []netip.Addr{a4, a6} {
		if err := s.DeleteLease(cancelled, a); !errors.Is(err, context.Canceled) {
			t.Errorf("delete %s, cancelled: %v, want context.Canceled wrapped", a, err)
		}
		if code := del(cancelled, a); code != http.StatusServiceUnavailable {
			t.Errorf("API delete %s, cancelled: %d, want 503", a, code)
		}
		if l, ok := s.Lookup(a); !ok || l.State != lease.StateBound {
			t.Errorf("%s after a failed delete: %+v %v, want it bound (reverted)", a, l, ok)
		}
	}

	st.fail.Store(true)
	for _, a := range []netip.Addr{a4, a6} {
		if err := s.DeleteLease(context.Background(), a); !errors.Is(err, errDisk) {
			t.Errorf("delete %s, failing store: %v, want the store's error wrapped", a, err)
		}
		if code := del(context.Background(), a); code != http.StatusInternalServerError {
			t.Errorf("API delete %s, failing store: %d, want 500", a, code)
		}
	}
	if got := counterValue(s.m.commitFail); got != 8 {
		t.Errorf("commit failures counted: %v, want 8", got)
	}

	st.fail.Store(false)
	for _, a := range []netip.Addr{a4, a6} {
		if code := del(context.Background(), a); code != http.StatusNoContent {
			t.Errorf("API delete %s: %d, want 204", a, code)
		}
		if l, ok := s.Lookup(a); ok && l.State == lease.StateBound {
			t.Errorf("%s still bound after the delete", a)
		}
	}
}
