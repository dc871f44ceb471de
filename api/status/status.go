// Package status is leased's read-only status page: pools and sections
// with utilisation bars, campaigns with per-outcome progress, recent
// events and health. The page is rendered on the server (html/template)
// from the same Backend the control API uses; a small script (assets/
// status.js) polls data.json every second and redraws the parts that
// change, so the page updates without a reload. Everything is embedded in
// the binary; nothing is fetched from elsewhere (Content-Security-Policy
// default-src 'self').
//
// Routes (under the prefix given to New, "/status/" in leased):
//
//	GET  {prefix}            the page
//	GET  {prefix}data.json   health, pools, campaigns, events (what the script polls)
//	GET  {prefix}login       the token form (TCP only, see Auth)
//	POST {prefix}login       token=… sets the session cookie
//	GET  {prefix}assets/…    status.js, status.css
package status

import (
	"cmp"
	"embed"
	"encoding/json"
	"html/template"
	"io/fs"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/leased/leased/api"
	"github.com/leased/leased/reconf"
)

//go:embed assets/*.js assets/*.css assets/*.html
var assets embed.FS

var page = template.Must(template.New("status.html").Funcs(template.FuncMap{
	"pct": func(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) },
	"bar": func(f float64) int { return int(min(max(f, 0), 100) + 0.5) },
}).ParseFS(assets, "assets/status.html"))

// CSP is the Content-Security-Policy of every answer: the page, its
// script and its style come from leased itself, and nothing else loads.
const CSP = "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"

// Data is what the page shows and data.json returns.
type Data struct {
	Health    api.Health     `json:"health"`
	Pools     []api.Pool     `json:"pools"`
	Campaigns []api.Campaign `json:"campaigns"`
	Events    []Event        `json:"events"`
	// Outcomes are the campaign outcome names in display order.
	Outcomes []string  `json:"outcomes"`
	Time     time.Time `json:"time"`
}

// Handler serves the status page.
type Handler struct {
	b      api.Backend
	c      api.Campaigns // nil: no campaigns shown
	ev     *Events
	prefix string
	mux    *http.ServeMux
}

// New returns the status page of b under prefix (which ends in "/"). ev
// holds the recent events shown (nil: none); Watch feeds it from b.
func New(b api.Backend, ev *Events, prefix string) *Handler {
	h := &Handler{b: b, ev: ev, prefix: prefix, mux: http.NewServeMux()}
	h.c, _ = b.(api.Campaigns)
	sub, _ := fs.Sub(assets, "assets")
	h.mux.HandleFunc("GET "+prefix+"{$}", h.page)
	h.mux.HandleFunc("GET "+prefix+"data.json", h.data)
	h.mux.Handle("GET "+prefix+"assets/", http.StripPrefix(prefix+"assets/", http.FileServerFS(sub)))
	return h
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	setHeaders(w)
	h.mux.ServeHTTP(w, r)
}

func setHeaders(w http.ResponseWriter) {
	w.Header().Set("Content-Security-Policy", CSP)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.Header().Set("Cache-Control", "no-store")
}

// Snapshot collects what the page shows now.
func (h *Handler) Snapshot() Data {
	d := Data{Health: h.b.Health(), Outcomes: api.OutcomeNames(), Time: time.Now().UTC().Truncate(time.Second)}
	ps := h.b.Pools()
	d.Pools = make([]api.Pool, 0, len(ps))
	for i := range ps {
		d.Pools = append(d.Pools, api.PoolFromStats(&ps[i]))
	}
	d.Campaigns = []api.Campaign{}
	if h.c != nil {
		sts := h.c.Campaigns()
		// Running first, then newest first.
		slices.SortFunc(sts, func(a, b reconf.CampaignStatus) int {
			ra, rb := a.State == reconf.Running, b.State == reconf.Running
			if ra != rb {
				if ra {
					return -1
				}
				return 1
			}
			return cmp.Compare(b.ID, a.ID)
		})
		for i := range sts {
			d.Campaigns = append(d.Campaigns, api.CampaignFromStatus(&sts[i]))
		}
	}
	d.Events = []Event{}
	if h.ev != nil {
		d.Events = h.ev.Recent()
	}
	return d
}

func (h *Handler) page(w http.ResponseWriter, r *http.Request) {
	d := h.Snapshot()
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := page.Execute(w, struct {
		Data
		Prefix string
	}{d, h.prefix}); err != nil {
		// Headers are gone; the truncated page shows it.
		return
	}
}

func (h *Handler) data(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	_ = enc.Encode(h.Snapshot())
}
