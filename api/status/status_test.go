package status

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/leased/leased/api"
	"github.com/leased/leased/internal/browser"
	"github.com/leased/leased/lease"
)

// backend is a Backend whose numbers the test sets; the page reads it
// exactly as it reads the server (e2e TestStatusPage drives the real one).
type backend struct {
	mu     sync.Mutex
	bound  int
	health api.Health
}

func (b *backend) Leases(lease.Filter) []lease.Lease { return nil }
func (b *backend) Pools() []lease.PoolStats {
	b.mu.Lock()
	defer b.mu.Unlock()
	return []lease.PoolStats{{Name: "office", Subnet: netip.MustParsePrefix("10.0.0.0/24"), Size: 100, Bound: b.bound,
		Sections: []lease.SectionStats{{Index: 0, Start: netip.MustParseAddr("10.0.0.10"), End: netip.MustParseAddr("10.0.0.109"), Size: 100, Bound: b.bound}}}}
}
func (b *backend) DeleteLease(context.Context, netip.Addr) error { return nil }
func (b *backend) ForceRenew(context.Context, netip.Addr) error  { return nil }
func (b *backend) Health() api.Health {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.health
}
func (b *backend) set(bound int, h api.Health) {
	b.mu.Lock()
	b.bound, b.health = bound, h
	b.mu.Unlock()
}

const token = "s3cret-token"

func newServer(t *testing.T, b *backend, ev *Events) *httptest.Server {
	srv := httptest.NewServer(Auth(token, "/status/", New(b, ev, "/status/")))
	t.Cleanup(srv.Close)
	return srv
}

func noRedirect(jar http.CookieJar) *http.Client {
	return &http.Client{Jar: jar, Timeout: 5 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func TestAuth(t *testing.T) {
	b := &backend{bound: 7, health: api.Health{Status: "ok", Version: "test"}}
	srv := newServer(t, b, NewEvents(4))
	jar, _ := cookiejar.New(nil)
	c := noRedirect(jar)

	r, err := c.Get(srv.URL + "/status/")
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/status/login" {
		t.Errorf("GET /status/ without a token: %d → %q, want 303 → /status/login", r.StatusCode, r.Header.Get("Location"))
	}
	if csp := r.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
		t.Errorf("CSP %q", csp)
	}
	r, _ = c.Get(srv.URL + "/status/data.json")
	r.Body.Close()
	if r.StatusCode != http.StatusUnauthorized {
		t.Errorf("data.json without a token: %d, want 401", r.StatusCode)
	}
	r, _ = c.PostForm(srv.URL+"/status/login", url.Values{"token": {"wrong"}})
	r.Body.Close()
	if r.StatusCode != http.StatusUnauthorized || len(jar.Cookies(mustURL(srv.URL+"/status/"))) != 0 {
		t.Errorf("wrong token: %d, cookies %v; want 401 and none", r.StatusCode, jar.Cookies(mustURL(srv.URL+"/status/")))
	}
	r, _ = c.PostForm(srv.URL+"/status/login", url.Values{"token": {token}})
	r.Body.Close()
	var ck *http.Cookie
	for _, x := range r.Cookies() {
		if x.Name == CookieName {
			ck = x
		}
	}
	if r.StatusCode != http.StatusSeeOther || ck == nil {
		t.Fatalf("right token: %d, cookies %v; want 303 and %s", r.StatusCode, r.Cookies(), CookieName)
	}
	if !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/status/" || strings.Contains(ck.Value, token) {
		t.Errorf("cookie %+v: want HttpOnly, SameSite=Strict, Path=/status/, not the token", ck)
	}
	r, _ = c.Get(srv.URL + "/status/data.json")
	var d Data
	json.NewDecoder(r.Body).Decode(&d)
	r.Body.Close()
	if r.StatusCode != 200 || len(d.Pools) != 1 || d.Pools[0].Bound != 7 {
		t.Errorf("data.json with the cookie: %d %+v", r.StatusCode, d)
	}
	// Scripts pass the token as for the API.
	req, _ := http.NewRequest("GET", srv.URL+"/status/", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	r, _ = noRedirect(nil).Do(req)
	r.Body.Close()
	if r.StatusCode != 200 {
		t.Errorf("page with the bearer token: %d", r.StatusCode)
	}
	// The cookie's value is no bearer token.
	req.Header.Set("Authorization", "Bearer "+ck.Value)
	r, _ = noRedirect(nil).Do(req)
	r.Body.Close()
	if r.StatusCode == 200 {
		t.Error("the cookie value works as a bearer token")
	}
}

func mustURL(s string) *url.URL { u, _ := url.Parse(s); return u }

func TestEventsRing(t *testing.T) {
	ev := NewEvents(3)
	for _, m := range []string{"a", "b", "c", "d"} {
		ev.Add("server", m)
	}
	var got []string
	for _, e := range ev.Recent() {
		got = append(got, e.Message)
	}
	if strings.Join(got, "") != "dcb" {
		t.Errorf("Recent = %v, want d c b (newest first, 3 kept)", got)
	}
}

func TestWatchHealth(t *testing.T) {
	b := &backend{health: api.Health{Status: "ok"}}
	ev := NewEvents(10)
	w := &watcher{ev: ev, reasons: map[string]bool{}, first: true}
	w.sample(b, nil)
	if n := len(ev.Recent()); n != 0 {
		t.Fatalf("healthy start: %d events", n)
	}
	b.set(0, api.Health{Status: "degraded", Message: "reload_failed: bad file",
		Reasons: []api.HealthReason{{Code: "reload_failed", Severity: "degraded", Message: "bad file"}}})
	w.sample(b, nil)
	w.sample(b, nil) // no change: no event
	got := ev.Recent()
	if len(got) != 1 || got[0].Kind != "health" || got[0].Message != "health degraded: reload_failed: bad file" {
		t.Errorf("events %+v", got)
	}
}

// TestBrowserLogin drives headless Chromium: the login form, the page,
// and a change in the backend appearing without a reload (status.js).
func TestBrowserLogin(t *testing.T) {
	ctx := browser.New(t)
	b := &backend{bound: 3, health: api.Health{Status: "ok", Version: "test"}}
	ev := NewEvents(10)
	ev.Add("server", "serving 1 DHCPv4 pools")
	srv := newServer(t, b, ev)

	step := func(what string, a ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := chromedp.Do(sctx, a...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		s, err := chromedp.Run(sctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return s
	}
	step("open the page (redirected to the form)", chromedp.Navigate(srv.URL+"/status/"), chromedp.WaitVisible(chromedp.ID("#token")))
	step("wrong token", chromedp.SendKeys(chromedp.ID("#token"), "nope"), chromedp.Submit(chromedp.ID("#token")),
		chromedp.WaitVisible(chromedp.ID("#login-error")))
	step("log in", chromedp.SendKeys(chromedp.ID("#token"), token), chromedp.Submit(chromedp.ID("#token")),
		chromedp.WaitVisible(chromedp.ID("#pools")))
	if got := text(`tr.pool[data-pool="office"] td.bound`); got != "3" {
		t.Errorf("bound on the page: %q, want 3", got)
	}
	if got := text("#events"); !strings.Contains(got, "serving 1 DHCPv4 pools") {
		t.Errorf("events: %q", got)
	}
	// The backend changes; the page follows without a reload.
	b.set(42, api.Health{Status: "degraded", Version: "test",
		Reasons: []api.HealthReason{{Code: "reload_failed", Severity: "degraded", Message: "bad file"}}})
	step("page updates", chromedp.Poll[chromedp.Void](`document.querySelector('tr.pool[data-pool="office"] td.bound').textContent === "42" &&
		document.getElementById("health").textContent === "degraded"`, chromedp.WithPollingTimeout(8*time.Second)))
	if got := text("#reasons"); !strings.Contains(got, "reload_failed") {
		t.Errorf("reasons: %q", got)
	}
	if got := text(`tr.pool[data-pool="office"] .pct`); got != "42.0 %" {
		t.Errorf("used: %q", got)
	}
	if path := os.Getenv("LEASED_STATUS_SCREENSHOT"); path != "" { // a PNG to look at
		png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		if err == nil {
			err = os.WriteFile(path, png, 0o644)
		}
		if err != nil {
			t.Errorf("screenshot: %v", err)
		}
	}
}
