package api

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestScrapeToken: behind ScrapeToken(RequireToken(admin)), the admin token
// reaches everything, /metrics included; the scrape token reaches GET and
// HEAD /metrics only (403 elsewhere, also for writes); other tokens 401.
func TestScrapeToken(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "leased_test_total", Help: "t"})
	reg.MustRegister(c)
	h := NewHandler(testBackend(), reg, nil)
	srv := ScrapeToken("scrape-tok", h, RequireToken("admin-tok", h))
	for _, tc := range []struct {
		token, method, path string
		want                int
	}{
		{"admin-tok", "GET", "/metrics", 200},
		{"admin-tok", "GET", "/v1/leases", 200},
		{"admin-tok", "GET", "/v1/health", 200},
		{"scrape-tok", "GET", "/metrics", 200},
		{"scrape-tok", "HEAD", "/metrics", 200},
		{"scrape-tok", "GET", "/v1/leases", 403},
		{"scrape-tok", "GET", "/v1/health", 403},
		{"scrape-tok", "DELETE", "/v1/leases/10.0.0.10", 403},
		{"scrape-tok", "POST", "/v1/forcerenew/campaigns", 403},
		{"scrape-tok", "POST", "/metrics", 403},
		{"scrape-tok", "GET", "/metrics/../v1/leases", 403},
		{"scrape-to", "GET", "/metrics", 401},
		{"", "GET", "/metrics", 401},
		{"other", "GET", "/v1/leases", 401},
	} {
		r := httptest.NewRequest(tc.method, tc.path, nil)
		if tc.token != "" {
			r.Header.Set("Authorization", "Bearer "+tc.token)
		}
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, r)
		if w.Code != tc.want {
			t.Errorf("%s %s with %q: %d, want %d: %s", tc.method, tc.path, tc.token, w.Code, tc.want, w.Body)
		}
		if tc.want == 200 && tc.path == "/metrics" && tc.method == "GET" && !strings.Contains(w.Body.String(), "leased_test_total") {
			t.Errorf("%s %s with %q: no metrics in the body", tc.method, tc.path, tc.token)
		}
	}
	// Without a scrape token the admin handler is returned as it is.
	if got := ScrapeToken("", h, h); got == nil {
		t.Fatal("nil handler")
	}
	r := httptest.NewRequest("GET", "/metrics", nil)
	r.Header.Set("Authorization", "Bearer ")
	w := httptest.NewRecorder()
	ScrapeToken("", h, RequireToken("admin-tok", h)).ServeHTTP(w, r)
	if w.Code != http.StatusUnauthorized {
		t.Errorf("empty scrape token: an empty bearer got %d, want 401", w.Code)
	}
}
