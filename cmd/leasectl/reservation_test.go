package main

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leased/leased/api"
	"github.com/leased/leased/lease"
)

// resBackend is the test backend with runtime reservations
// (api.Reservations): it records what leasectl sent and refuses a taken
// address with lease.ErrConflict, as leased does (the real rules are
// server.TestRuntimeReservations4/6).
type resBackend struct {
	*backend
	mu   sync.Mutex
	list []api.Reservation
	sent []api.Reservation
}

func (b *resBackend) Reservations() []api.Reservation {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]api.Reservation(nil), b.list...)
}

func (b *resBackend) AddReservation(_ context.Context, r api.Reservation) (api.Reservation, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.sent = append(b.sent, r)
	for _, o := range b.list {
		if o.Target() == r.Target() {
			return r, fmt.Errorf("%w: %s is already reserved in pool office for %s", lease.ErrConflict, r.Target(), reservedFor(&o))
		}
	}
	r.Source, r.Pool, r.Added = api.SourceRuntime, "office", now.Add(-time.Minute)
	b.list = append(b.list, r)
	return r, nil
}

func (b *resBackend) DeleteReservation(_ context.Context, t string) (api.Reservation, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, o := range b.list {
		if o.Target() == t {
			if o.Source == api.SourceConfig {
				return o, fmt.Errorf("%w: %s is reserved in the configuration (pool office); edit the configuration file and reload", api.ErrConfigured, t)
			}
			b.list = append(b.list[:i], b.list[i+1:]...)
			return o, nil
		}
	}
	return api.Reservation{}, fmt.Errorf("%w: no runtime reservation for %s", lease.ErrNotFound, t)
}

func TestReservationCommands(t *testing.T) {
	b := &resBackend{backend: newBackend(), list: []api.Reservation{
		{Family: 4, Source: api.SourceConfig, Pool: "office", Address: netip.MustParseAddr("10.0.0.9"), HWAddr: "52:54:00:00:00:09", Hostname: "printer"},
		{Family: 4, Source: api.SourceRuntime, Address: netip.MustParseAddr("10.9.0.7"), HWAddr: "52:54:00:00:00:07", Added: now.Add(-3 * time.Hour),
			Problem: "10.9.0.7 is outside every pool's subnet"},
	}}
	sock := serve(t, b)
	r := leasectl(t, nil, "--socket", sock, "reservation", "add", "10.0.0.20", "--hwaddr", "52-54-00-12-34-56", "--hostname", "desk-1",
		"--option", "252=68747470")
	if r.code != 0 || r.stdout != "reserved 10.0.0.20 for hwaddr 52:54:00:12:34:56 in pool office\n" {
		t.Fatalf("add: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	r = leasectl(t, nil, "--socket", sock, "reservation", "add", "fd77::20", "--prefix", "fd77:100:ab::/56",
		"--duid", "00:03:00:01:52:54:00:12:34:56", "--dns", "fd77::53")
	if r.code != 0 {
		t.Fatalf("add v6: exit %d, stderr %q", r.code, r.stderr)
	}
	if o := b.sent[0].Options; len(o) != 1 || o[0].Code != 252 || o[0].Hex != "68:74:74:70" {
		t.Errorf("sent options %+v", o)
	}
	if got := b.sent[1]; got.Family != 6 || got.Prefix != "fd77:100:ab::/56" || got.DUID != "00:03:00:01:52:54:00:12:34:56" ||
		len(got.DNS) != 1 || got.Address != netip.MustParseAddr("fd77::20") {
		t.Errorf("sent %+v", got)
	}
	// leased's 409 is exit status 1 with its message.
	r = leasectl(t, nil, "--socket", sock, "reservation", "add", "10.0.0.20", "--hwaddr", "52:54:00:12:34:57")
	if r.code != 1 || !strings.Contains(r.stderr, "already reserved in pool office") {
		t.Errorf("conflict: exit %d, stderr %q", r.code, r.stderr)
	}
	// Usage errors are caught before anything is sent (exit status 2).
	for _, args := range [][]string{
		{"10.0.0.21"},
		{"10.0.0.21", "--duid", "00:03:00:01:52:54:00:12:34:56"},
		{"fd77::21", "--hwaddr", "52:54:00:12:34:56"},
		{"10.0.0.300", "--hwaddr", "52:54:00:12:34:56"},
		{"10.0.0.21", "--hwaddr", "52:54:00:12:34:56", "--option", "53=01"},
		{"10.0.0.21", "--hwaddr", "52:54:00:12:34:56", "--option", "nonsense"},
		{"fd77:100:ab::/56", "--prefix", "fd77:100:ac::/56", "--duid", "00:03:00:01:52:54:00:12:34:56"},
	} {
		n := len(b.sent)
		r = leasectl(t, nil, append([]string{"--socket", sock, "reservation", "add"}, args...)...)
		if r.code != 2 || len(b.sent) != n {
			t.Errorf("add %q: exit %d (stderr %q), want 2 and nothing sent", args, r.code, r.stderr)
		}
	}
	r = leasectl(t, nil, "--socket", sock, "reservation", "list")
	if r.code != 0 {
		t.Fatalf("list: exit %d, stderr %q", r.code, r.stderr)
	}
	golden(t, "reservation-list", r.stdout)
	r = leasectl(t, nil, "--socket", sock, "--json", "reservation", "list", "--source", "runtime", "--family", "6")
	if r.code != 0 || !strings.Contains(r.stdout, `"prefix": "fd77:100:ab::/56"`) || strings.Contains(r.stdout, "10.0.0.20") {
		t.Errorf("list --json --source runtime --family 6: exit %d, stdout %s", r.code, r.stdout)
	}

	r = leasectl(t, nil, "--socket", sock, "reservation", "delete", "10.0.0.9")
	if r.code != 1 || !strings.Contains(r.stderr, "edit the configuration file") {
		t.Errorf("delete configured: exit %d, stderr %q", r.code, r.stderr)
	}
	r = leasectl(t, nil, "--socket", sock, "reservation", "delete", "fd77::20")
	if r.code != 0 || r.stdout != "deleted reservation fd77::20\n" {
		t.Errorf("delete: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	r = leasectl(t, nil, "--socket", sock, "reservation", "delete", "fd77::20")
	if r.code != 1 || !strings.Contains(r.stderr, "no runtime reservation") {
		t.Errorf("delete again: exit %d, stderr %q", r.code, r.stderr)
	}
}
