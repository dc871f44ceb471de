package main

import (
	"context"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/leased/leased/api"
	"github.com/leased/leased/api/status"
)

// statusPrefix is where the status page is served, on the unix socket and
// the TCP listener.
const statusPrefix = "/status/"

// statusPage is the status page (api/status) beside the control API.
type statusPage struct {
	b      api.Backend
	events *status.Events
	page   *status.Handler
}

func newStatusPage(b api.Backend) *statusPage {
	ev := status.NewEvents(200)
	return &statusPage{b: b, events: ev, page: status.New(b, ev, statusPrefix)}
}

// watch feeds the page's recent events until ctx ends.
func (s *statusPage) watch(ctx context.Context) { status.Watch(ctx, s.b, s.events, time.Second) }

// mux serves the page under /status/ (and / redirects to it) and the API
// elsewhere; page is the page handler, guarded on TCP.
func (s *statusPage) mux(apiHandler, page http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/" && r.Method == http.MethodGet:
			http.Redirect(w, r, statusPrefix, http.StatusSeeOther)
		case strings.HasPrefix(r.URL.Path, statusPrefix):
			page.ServeHTTP(w, r)
		default:
			apiHandler.ServeHTTP(w, r)
		}
	})
}

// unix is the unix socket's handler: its file mode is the access control.
func (s *statusPage) unix(apiHandler http.Handler) http.Handler { return s.mux(apiHandler, s.page) }

// tcp is the TCP listener's handler: the API behind the bearer token, the
// page behind the token or the login cookie (status.Auth).
func (s *statusPage) tcp(token string, apiHandler http.Handler) http.Handler {
	return s.mux(api.RequireToken(token, apiHandler), status.Auth(token, statusPrefix, s.page))
}

// notifyLog logs a failed sd_notify (systemd would then time the start
// out, so the reason must be visible).
func notifyLog(log *slog.Logger, err error) {
	if err != nil {
		log.Warn("systemd notification failed", "err", err)
	}
}

// waitServing waits, at most d, until h's health no longer says
// "starting" (Run has started serving), so that READY=1 means serving.
func waitServing(h interface{ Health() api.Health }, d time.Duration) {
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		if !slices.ContainsFunc(h.Health().Reasons, func(r api.HealthReason) bool { return r.Code == "starting" }) {
			return
		}
	}
}
