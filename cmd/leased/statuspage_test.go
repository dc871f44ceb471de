package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/leased/leased/api"
	"github.com/leased/leased/lease"
)

type pageBackend struct{}

func (pageBackend) Leases(lease.Filter) []lease.Lease { return nil }
func (pageBackend) Pools() []lease.PoolStats {
	return []lease.PoolStats{{Name: "office", Subnet: netip.MustParsePrefix("10.0.0.0/24"), Size: 10, Bound: 1}}
}
func (pageBackend) DeleteLease(context.Context, netip.Addr) error { return nil }
func (pageBackend) ForceRenew(context.Context, netip.Addr) error  { return nil }
func (pageBackend) Health() api.Health                            { return api.Health{Status: "ok"} }

// TestStatusMux: / redirects to the page, /status/ is the page, the rest
// is the API; on TCP the API wants the bearer token and the page the token
// or its login.
func TestStatusMux(t *testing.T) {
	sp := newStatusPage(pageBackend{})
	apiH := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(299) })
	do := func(h http.Handler, method, path, auth string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, path, nil)
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	u := sp.unix(apiH)
	if w := do(u, "GET", "/", ""); w.Code != http.StatusSeeOther || w.Header().Get("Location") != statusPrefix {
		t.Errorf("unix GET /: %d %q", w.Code, w.Header().Get("Location"))
	}
	if w := do(u, "GET", "/status/", ""); w.Code != 200 || !strings.Contains(w.Body.String(), `data-pool="office"`) {
		t.Errorf("unix GET /status/: %d\n%s", w.Code, w.Body.String())
	}
	if w := do(u, "GET", "/v1/pools", ""); w.Code != 299 {
		t.Errorf("unix GET /v1/pools did not reach the API: %d", w.Code)
	}
	tcp := sp.tcp("tok", apiH)
	for _, c := range []struct {
		path, auth string
		want       int
	}{
		{"/v1/pools", "", 401}, {"/v1/pools", "Bearer tok", 299},
		{"/status/", "", http.StatusSeeOther}, {"/status/", "Bearer tok", 200},
		{"/status/data.json", "", 401}, {"/status/login", "", 200},
	} {
		if w := do(tcp, "GET", c.path, c.auth); w.Code != c.want {
			t.Errorf("tcp GET %s (%q): %d, want %d", c.path, c.auth, w.Code, c.want)
		}
	}

	// The watcher records health changes and stops with its context.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { sp.watch(ctx); close(done) }()
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("watch did not stop")
	}

	start := time.Now()
	waitServing(pageBackend{}, 5*time.Second) // healthy: at once
	if time.Since(start) > time.Second {
		t.Errorf("waitServing on a serving backend took %v", time.Since(start))
	}

	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	notifyLog(log, nil)
	notifyLog(log, errors.New("sd_notify: boom"))
	if strings.Count(buf.String(), "systemd notification failed") != 1 || !strings.Contains(buf.String(), "boom") {
		t.Errorf("notifyLog wrote %q", buf.String())
	}
}
