package e2e

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/leased/leased/internal/browser"
)

// TestStatusPage: the status page (api/status) in headless Chromium with
// real leased and dhcpcd clients. The browser runs in the test's network
// namespace and reaches leased's control socket (a file, so reachable
// across namespaces) through a reverse proxy on loopback. The page shows
// the pool's bound count once both clients are bound; then the clients
// stop (their leases stay bound) and a campaign with 3 attempts 2 s apart
// runs for ~6 s: its sent count rises on the page while it is running,
// and it ends no_response, all without the page being reloaded.
func TestStatusPage(t *testing.T) {
	e := newEnv(t, "dhcpcd", "ss")
	ctx := browser.New(t)
	srv := e.startLeasedWith(gateway, "")
	a := e.startDhcpcdIn("dhcpcd-a", e.clientNS(0))
	b := e.startDhcpcdIn("dhcpcd-b", e.clientNS(1))
	evA, _ := a.waitEvent(20*time.Second, 0, "BOUND")
	evB, _ := b.waitEvent(20*time.Second, 0, "BOUND")
	srv.waitState(evA.addr(), "bound", 5*time.Second)
	srv.waitState(evB.addr(), "bound", 5*time.Second)

	proxy := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: "leased"})
	proxy.Transport = &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", srv.sock)
	}}
	web := httptest.NewServer(proxy)
	defer web.Close()

	poll := func(what, expr string, d time.Duration) {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, d+5*time.Second)
		defer cancel()
		if err := chromedp.Do(sctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(d), chromedp.WithPollingInterval(100*time.Millisecond))); err != nil {
			page, _ := chromedp.Run(ctx, chromedp.Evaluate[string]("document.body.innerText"))
			e.fatalf("page: %s: %v\npage text:\n%s", what, err, page)
		}
	}
	eval := func(expr string) string {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		s, err := chromedp.Run(sctx, chromedp.Evaluate[string](expr))
		if err != nil {
			e.fatalf("evaluate %s: %v", expr, err)
		}
		return s
	}
	sctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	if err := chromedp.Do(sctx, chromedp.Navigate(web.URL+"/"), chromedp.WaitVisible(chromedp.ID("pools"))); err != nil {
		e.fatalf("open %s/: %v", web.URL, err)
	}
	cancel()
	// A mark that a reload would erase.
	eval(`window.leasedMark = "kept"; "ok"`)
	poll("office shows 2 bound", `document.querySelector('tr.pool[data-pool="office"] td.bound')?.textContent === "2"`, 5*time.Second)
	if got := eval(`document.getElementById("health").textContent`); got != "ok" {
		e.fatalf("health on the page: %q", got)
	}

	a.stop()
	b.stop()
	code, out, errs := srv.leasectl("forcerenew", "start", "--pool", "office", "--attempts", "3", "--interval", "2s")
	if code != 0 {
		e.fatalf("campaign: exit %d\n%s%s", code, out, errs)
	}
	const sent = `Number(document.querySelector('.campaign[data-id="1"] .sent')?.textContent ?? -1)`
	const state = `document.querySelector('.campaign[data-id="1"] .state')?.textContent`
	poll("campaign 1 running", state+` === "running"`, 5*time.Second)
	first, _ := strconv.Atoi(eval(`String(` + sent + `)`))
	t.Logf("campaign 1 on the page: running, %d sent", first)
	poll("campaign 1 sends more while running", `(`+state+` === "running") && `+sent+` > `+strconv.Itoa(first), 6*time.Second)
	poll("campaign 1 ends", state+` === "done"`, 15*time.Second)
	legend := eval(`document.querySelector('.campaign[data-id="1"] .outcomes').textContent`)
	if !strings.Contains(legend, "no_response 2") {
		e.fatalf("campaign 1 outcomes on the page: %q, want no_response 2", legend)
	}
	// The events come from a watcher sampling once a second: they may
	// trail the campaign's own row by up to a second.
	for _, want := range []string{"campaign 1 started", "campaign 1 done"} {
		poll("recent events list "+want, `document.getElementById("events").textContent.includes("`+want+`")`, 5*time.Second)
	}
	if got := eval(`String(window.leasedMark)`); got != "kept" {
		e.fatalf("the page was reloaded (mark %q): it must update in place", got)
	}
}
