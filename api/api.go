// Package api is leased's control API: HTTP/JSON on a unix socket (and,
// optionally, TCP with a bearer token), the Prometheus /metrics endpoint,
// and the Go client leasectl and leasebench use. api/openapi.yaml is the
// contract; a test keeps it and the registered routes in step.
package api

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/leased/leased/lease"
)

// Backend is what the control API needs of the running server.
type Backend interface {
	// Leases returns the records matching f.
	Leases(f lease.Filter) []lease.Lease
	// Pools returns the utilisation of every pool.
	Pools() []lease.PoolStats
	// DeleteLease removes the lease of addr. The deletion is durable
	// before it returns; the error wraps lease.ErrNotFound when there is
	// no lease for addr.
	DeleteLease(ctx context.Context, addr netip.Addr) error
	// ForceRenew sends one DHCPFORCERENEW (RFC 3203) to the client bound
	// to addr and returns once it is sent. The error wraps
	// lease.ErrNotFound (no lease), lease.ErrNotBound or
	// lease.ErrNotCapable (the client never received a reconfigure key).
	ForceRenew(ctx context.Context, addr netip.Addr) error
	// Health reports the server's state.
	Health() Health
}

// Reconfigurer is implemented by a Backend that serves DHCPv6:
// SendReconfigure sends one authenticated Reconfigure (RFC 8415 §18.3.11) to the client
// bound to addr (an IA_NA address or the first address of a delegated
// prefix) and returns once it is sent, with the same errors as
// Backend.ForceRenew.
type Reconfigurer interface {
	SendReconfigure(ctx context.Context, addr netip.Addr) error
}

// ErrWrongFamily is returned (wrapped) for an operation of one family on
// an address of the other, e.g. a FORCERENEW (DHCPv4) for an IPv6
// address: the API answers 400.
var ErrWrongFamily = errors.New("wrong address family for this operation")

//go:embed openapi.yaml
var openAPI []byte

// route is one endpoint. The routes table is the single place endpoints
// are registered, and TestOpenAPICoversRoutes checks it against
// openapi.yaml.
type route struct {
	method, path string
	name         string // metric label
	handler      func(*handler, http.ResponseWriter, *http.Request)
}

var routes = []route{
	{"GET", "/v1/health", "health", (*handler).health},
	{"GET", "/v1/leases", "leases", (*handler).leases},
	{"GET", "/v1/leases/{address}", "lease", (*handler).lease},
	{"DELETE", "/v1/leases/{address}", "delete_lease", (*handler).deleteLease},
	{"POST", "/v1/leases/{address}/forcerenew", "forcerenew", (*handler).forceRenew},
	{"POST", "/v1/leases/{address}/reconfigure", "reconfigure", (*handler).reconfigure},
	{"POST", "/v1/leases/{address}/disconnect", "disconnect", (*handler).disconnect},
	{"POST", "/v1/campaigns", "start_campaign", (*handler).startCampaign},
	{"GET", "/v1/campaigns", "campaigns", (*handler).listCampaigns},
	{"GET", "/v1/campaigns/{id}", "campaign", (*handler).getCampaign},
	{"DELETE", "/v1/campaigns/{id}", "delete_campaign", (*handler).deleteCampaign},
	{"POST", "/v1/campaigns/{id}/stop", "stop_campaign", (*handler).stopCampaign},
	{"GET", "/v1/campaigns/{id}/clients", "campaign_clients", (*handler).campaignClients},
	{"GET", "/v1/pools", "pools", (*handler).pools},
	{"GET", "/v1/reservations", "reservations", (*handler).listReservations},
	{"POST", "/v1/reservations", "add_reservation", (*handler).addReservation},
	{"DELETE", "/v1/reservations/{address}", "delete_reservation", (*handler).deleteReservation},
	{"GET", "/v1/cluster", "cluster", (*handler).cluster},
	{"GET", "/v1/openapi.yaml", "openapi", (*handler).openapi},
	{"GET", "/metrics", "metrics", nil}, // promhttp, see NewHandler
}

type handler struct {
	b        Backend
	c        Campaigns // nil: the campaign routes answer 501
	cl       Cluster   // nil: GET /v1/cluster answers 501
	log      *slog.Logger
	metrics  http.Handler
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

// NewHandler returns the control API's HTTP handler. reg receives the
// API's own metrics (leased_api_requests_total,
// leased_api_request_duration_seconds) and is what /metrics serves; nil
// means a fresh registry. log may be nil. When b also implements
// Campaigns, the campaign routes are served; otherwise they answer 501.
func NewHandler(b Backend, reg *prometheus.Registry, log *slog.Logger) http.Handler {
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &handler{
		b:   b,
		log: log,
		requests: registerOrReuse(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "leased_api_requests_total",
			Help: "Control API requests by route and HTTP status code.",
		}, []string{"route", "code"})),
		latency: registerOrReuse(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "leased_api_request_duration_seconds",
			Help:    "Control API request latency by route.",
			Buckets: []float64{.0001, .0005, .001, .005, .01, .05, .1, .5, 1, 5},
		}, []string{"route"})),
	}
	h.c, _ = b.(Campaigns)
	h.cl, _ = b.(Cluster)
	h.metrics = promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelError)})

	mux := http.NewServeMux()
	allowed := map[string][]string{}
	for _, rt := range routes {
		mux.Handle(rt.method+" "+rt.path, h.instrument(rt))
		allowed[rt.path] = append(allowed[rt.path], rt.method)
	}
	// A known path with another method: 405 with Allow, as JSON. The
	// method-less pattern is less specific than the ones above, so it only
	// catches the methods they do not.
	for path, methods := range allowed {
		if slices.Contains(methods, "GET") {
			methods = append(methods, "HEAD")
		}
		allow := strings.Join(methods, ", ")
		mux.Handle(path, h.instrument(route{path: path, name: "method_not_allowed",
			handler: func(h *handler, w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Allow", allow)
				h.fail(w, r, http.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed on %s (allowed: %s)", r.Method, path, allow))
			}}))
	}
	mux.Handle("/", h.instrument(route{path: "/", name: "not_found",
		handler: func(h *handler, w http.ResponseWriter, r *http.Request) {
			h.fail(w, r, http.StatusNotFound, fmt.Sprintf("no endpoint %s (see GET /v1/openapi.yaml)", r.URL.Path))
		}}))
	return mux
}

// registerOrReuse registers c, or returns the collector already registered
// under its name (NewHandler called twice with one registry).
func registerOrReuse[C prometheus.Collector](reg *prometheus.Registry, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if old, ok := are.ExistingCollector.(C); ok {
				return old
			}
		}
		panic(fmt.Sprintf("api: register metric: %v", err)) // a programming error: a name clash inside leased
	}
	return c
}

// statusWriter records the status code for metrics and the log.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (h *handler) instrument(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			// A bug behind the API answers 500 instead of a dropped
			// connection; net/http's own abort signal passes through.
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				h.log.LogAttrs(r.Context(), slog.LevelError, "api: panic", slog.Any("panic", v), slog.String("stack", string(debug.Stack())))
				h.requests.WithLabelValues(rt.name, "500").Inc()
				if sw.code == 0 {
					h.fail(sw, r, http.StatusInternalServerError, fmt.Sprintf("internal error: %v", v))
				}
			}
		}()
		if rt.handler == nil {
			h.metrics.ServeHTTP(sw, r)
		} else {
			rt.handler(h, sw, r)
		}
		if sw.code == 0 {
			sw.code = http.StatusOK
		}
		d := time.Since(start)
		h.requests.WithLabelValues(rt.name, strconv.Itoa(sw.code)).Inc()
		h.latency.WithLabelValues(rt.name).Observe(d.Seconds())
		h.log.LogAttrs(r.Context(), slog.LevelDebug, "api request",
			slog.String("method", r.Method), slog.String("path", r.URL.RequestURI()),
			slog.Int("status", sw.code), slog.Duration("duration", d))
	})
}

func (h *handler) writeJSON(w http.ResponseWriter, r *http.Request, code int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		h.fail(w, r, http.StatusInternalServerError, "encode response: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	if r.Method != http.MethodHead {
		w.Write(append(b, '\n'))
	}
}

func (h *handler) fail(w http.ResponseWriter, r *http.Request, code int, msg string) {
	if code >= 500 {
		h.log.LogAttrs(r.Context(), slog.LevelError, "api error",
			slog.String("method", r.Method), slog.String("path", r.URL.RequestURI()),
			slog.Int("status", code), slog.String("error", msg))
	}
	b, _ := json.Marshal(Error{Error: msg})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	if r.Method != http.MethodHead {
		w.Write(append(b, '\n'))
	}
}

func (h *handler) health(w http.ResponseWriter, r *http.Request) {
	hl := h.b.Health()
	// Degraded still serves: a load balancer or readiness probe keeps it.
	code := http.StatusServiceUnavailable
	if hl.Status == "ok" || hl.Status == "degraded" {
		code = http.StatusOK
	}
	h.writeJSON(w, r, code, hl)
}

func (h *handler) openapi(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/yaml")
	w.Write(openAPI)
}

// leaseParams are the query parameters GET /v1/leases accepts.
var leaseParams = []string{"pool", "section", "from", "to", "client", "state", "family"}

func (h *handler) leases(w http.ResponseWriter, r *http.Request) {
	f, err := h.parseFilter(r)
	if err != nil {
		h.fail(w, r, http.StatusBadRequest, err.Error())
		return
	}
	fam, err := parseFamily(r.URL.Query())
	if err != nil {
		h.fail(w, r, http.StatusBadRequest, err.Error())
		return
	}
	if fam != 0 && f.From.IsValid() && familyOf(f.From) != fam {
		h.fail(w, r, http.StatusBadRequest, fmt.Sprintf("family: %d contradicts from %s", fam, f.From))
		return
	}
	recs := h.b.Leases(f)
	if fam != 0 {
		recs = slices.DeleteFunc(recs, func(l lease.Lease) bool { return familyOf(l.Addr) != fam })
	}
	// IPv4 before IPv6 (netip orders by family first), then by address.
	slices.SortFunc(recs, func(a, b lease.Lease) int { return a.Addr.Compare(b.Addr) })
	h.writeLeaseList(w, r, recs)
}

// writeLeaseList streams a JSON array with one lease object per line, so a
// list of a million leases is neither built in memory nor indented.
func (h *handler) writeLeaseList(w http.ResponseWriter, r *http.Request, recs []lease.Lease) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	var obj bytes.Buffer
	enc := json.NewEncoder(&obj)
	bw.WriteString("[")
	for i := range recs {
		if i > 0 {
			bw.WriteString(",")
		}
		bw.WriteString("\n")
		obj.Reset()
		if err := enc.Encode(LeaseFromRecord(&recs[i])); err != nil {
			// The status is sent; the truncated array tells the client.
			h.log.LogAttrs(r.Context(), slog.LevelError, "api: encode lease", slog.String("error", err.Error()))
			return
		}
		bw.Write(obj.Bytes()[:obj.Len()-1]) // without Encode's newline
	}
	if len(recs) > 0 {
		bw.WriteString("\n")
	}
	bw.WriteString("]\n")
	if err := bw.Flush(); err != nil {
		h.log.LogAttrs(r.Context(), slog.LevelDebug, "api: write lease list", slog.String("error", err.Error()))
	}
}

// parseFamily reads ?family=4|6 (0 when absent: both families).
func parseFamily(q url.Values) (int, error) {
	if !q.Has("family") {
		return 0, nil
	}
	switch v := q.Get("family"); v {
	case "4", "v4", "ipv4":
		return 4, nil
	case "6", "v6", "ipv6":
		return 6, nil
	default:
		return 0, fmt.Errorf("family: %q, want 4 or 6", v)
	}
}

// familyOf is 4 for an IPv4 address, 6 for an IPv6 one.
func familyOf(a netip.Addr) int {
	if a.Is6() && !a.Is4In6() {
		return 6
	}
	return 4
}

// parseFilter turns the query string into a lease.Filter, or an error
// naming the parameter and what would be valid.
func (h *handler) parseFilter(r *http.Request) (lease.Filter, error) {
	var f lease.Filter
	q := r.URL.Query()
	for k, v := range q {
		if !slices.Contains(leaseParams, k) {
			return f, fmt.Errorf("unknown query parameter %q (valid: %s)", k, strings.Join(leaseParams, ", "))
		}
		if k != "state" && len(v) > 1 {
			return f, fmt.Errorf("%s: given %d times, at most once allowed", k, len(v))
		}
	}
	var pools []lease.PoolStats
	if q.Has("pool") || q.Has("section") {
		pools = h.b.Pools()
	}
	if q.Has("pool") {
		f.Pool = q.Get("pool")
		if !slices.ContainsFunc(pools, func(p lease.PoolStats) bool { return p.Name == f.Pool }) {
			return f, fmt.Errorf("pool: unknown pool %q (valid: %s)", f.Pool, poolNames(pools))
		}
	}
	if q.Has("section") {
		s := q.Get("section")
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return f, fmt.Errorf("section: %q is not a section number (a non-negative integer)", s)
		}
		var valid []int
		for _, p := range pools {
			if f.Pool != "" && p.Name != f.Pool {
				continue
			}
			for _, sec := range p.Sections {
				if !slices.Contains(valid, sec.Index) {
					valid = append(valid, sec.Index)
				}
			}
		}
		if !slices.Contains(valid, n) {
			slices.Sort(valid)
			where := "any pool"
			if f.Pool != "" {
				where = "pool " + strconv.Quote(f.Pool)
			}
			return f, fmt.Errorf("section: no section %d in %s (valid: %s)", n, where, joinInts(valid))
		}
		f.Section = &n
	}
	for _, name := range []string{"from", "to"} {
		if !q.Has(name) {
			continue
		}
		a, err := parseIP(q.Get(name))
		if err != nil {
			return f, fmt.Errorf("%s: %v", name, err)
		}
		if name == "from" {
			f.From = a
		} else {
			f.To = a
		}
	}
	if f.From.IsValid() && f.To.IsValid() && f.From.Is4() != f.To.Is4() {
		return f, fmt.Errorf("to: %s and from %s are of different families", f.To, f.From)
	}
	if f.From.IsValid() && f.To.IsValid() && f.To.Less(f.From) {
		return f, fmt.Errorf("to: %s is below from %s (the range is inclusive, from <= to)", f.To, f.From)
	}
	if q.Has("client") {
		c := strings.TrimSpace(q.Get("client"))
		if !validClient(c) {
			return f, fmt.Errorf("client: %q is not a hardware address (aa:bb:cc:dd:ee:ff), a client id or DUID in hex (01aabbccddeeff) or an IP address", q.Get("client"))
		}
		f.Client = c
	}
	for _, v := range q["state"] {
		for s := range strings.SplitSeq(v, ",") {
			st, ok := lease.ParseState(strings.TrimSpace(s))
			if !ok {
				return f, fmt.Errorf("state: unknown state %q (valid: %s)", s, strings.Join(StateNames(), ", "))
			}
			if !slices.Contains(f.States, st) {
				f.States = append(f.States, st)
			}
		}
	}
	return f, nil
}

// StateNames lists the lease states the API accepts in ?state=.
func StateNames() []string {
	var names []string
	for s := lease.StateFree; s.Valid(); s++ {
		names = append(names, s.String())
	}
	return names
}

// parseIP parses an IPv4 or IPv6 address (no zone).
func parseIP(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("%q is not an IP address (like 192.0.2.10 or 2001:db8::10)", s)
	}
	return a.Unmap(), nil
}

// validClient reports whether s is a hardware address (aa:bb:cc:dd:ee:ff,
// aa-bb-.., aabb.ccdd.eeff), a hex client id or DUID, or an IP address:
// the forms lease.Filter.Client matches.
func validClient(s string) bool {
	if s == "" {
		return false
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Zone() == ""
	}
	if strings.Contains(s, ".") { // Cisco style aabb.ccdd.eeff
		for g := range strings.SplitSeq(s, ".") {
			if len(g) != 4 || ParseHex(g) == nil {
				return false
			}
		}
		return true
	}
	return ParseHex(s) != nil
}

// ParseHex decodes hex with optional ':' or '-' separators between bytes
// ("aa:bb:cc", "aa-bb-cc", "aabbcc"); nil when s is not such a string.
func ParseHex(s string) []byte {
	if s == "" {
		return nil
	}
	var out []byte
	if strings.ContainsAny(s, ":-") {
		for p := range strings.FieldsFuncSeq(s, func(r rune) bool { return r == ':' || r == '-' }) {
			if len(p) != 2 {
				return nil
			}
			b, ok := hexByte(p)
			if !ok {
				return nil
			}
			out = append(out, b)
		}
		if strings.Count(s, ":")+strings.Count(s, "-") != len(out)-1 {
			return nil
		}
		return out
	}
	if len(s)%2 != 0 {
		return nil
	}
	for i := 0; i < len(s); i += 2 {
		b, ok := hexByte(s[i : i+2])
		if !ok {
			return nil
		}
		out = append(out, b)
	}
	return out
}

func hexByte(s string) (byte, bool) {
	v, err := strconv.ParseUint(s, 16, 8)
	return byte(v), err == nil
}

func poolNames(pools []lease.PoolStats) string {
	if len(pools) == 0 {
		return "none configured"
	}
	names := make([]string, len(pools))
	for i, p := range pools {
		names[i] = p.Name
	}
	return strings.Join(names, ", ")
}

func joinInts(v []int) string {
	if len(v) == 0 {
		return "none"
	}
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ", ")
}

// pathAddr reads {address}: an IPv4 or IPv6 address, or a delegated
// prefix ("fd77:100::/56", "/" escaped as %2F in the URL). For a prefix
// it returns its first address (the key of an IA_PD record) and its
// length; plen is 0 for an address.
func (h *handler) pathAddr(w http.ResponseWriter, r *http.Request) (a netip.Addr, plen int, ok bool) {
	s := r.PathValue("address")
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil || !p.Addr().Is6() || p.Addr().Is4In6() || p.Masked() != p {
			h.fail(w, r, http.StatusBadRequest, fmt.Sprintf("address: %q is not an IP address or a delegated IPv6 prefix (like 2001:db8:100::/56)", s))
			return a, 0, false
		}
		return p.Addr(), p.Bits(), true
	}
	a, err := parseIP(s)
	if err != nil {
		h.fail(w, r, http.StatusBadRequest, "address: "+err.Error())
		return a, 0, false
	}
	return a, 0, true
}

// findLease returns the record of a (with prefix length plen when not 0)
// in a lookup state.
func (h *handler) findLease(a netip.Addr, plen int) (lease.Lease, bool) {
	for _, l := range h.b.Leases(lease.Filter{From: a, To: a, States: lookupStates}) {
		if l.Addr == a && (plen == 0 || int(l.PrefixLen) == plen) {
			return l, true
		}
	}
	return lease.Lease{}, false
}

func target(a netip.Addr, plen int) string {
	if plen > 0 {
		return netip.PrefixFrom(a, plen).String()
	}
	return a.String()
}

// lookupStates is every state a single-address lookup shows: all but the
// tombstone.
var lookupStates = []lease.State{lease.StateFree, lease.StateOffered, lease.StateBound,
	lease.StateReleased, lease.StateExpired, lease.StateDeclined, lease.StateQuarantined}

func (h *handler) lease(w http.ResponseWriter, r *http.Request) {
	a, plen, ok := h.pathAddr(w, r)
	if !ok {
		return
	}
	if l, ok := h.findLease(a, plen); ok {
		h.writeJSON(w, r, http.StatusOK, LeaseFromRecord(&l))
		return
	}
	h.fail(w, r, http.StatusNotFound, "no lease for "+target(a, plen))
}

func (h *handler) deleteLease(w http.ResponseWriter, r *http.Request) {
	a, plen, ok := h.pathAddr(w, r)
	if !ok {
		return
	}
	if plen > 0 {
		// The record is keyed by the prefix's first address; refuse a
		// length that is not the delegated one rather than delete another
		// binding.
		if l, found := h.findLease(a, 0); found && int(l.PrefixLen) != plen {
			h.fail(w, r, http.StatusNotFound, fmt.Sprintf("no lease for %s (%s is bound as %s)", target(a, plen), a, target(a, int(l.PrefixLen))))
			return
		}
	}
	err := h.b.DeleteLease(r.Context(), a)
	switch code := errStatus(err); {
	case err == nil:
		h.log.LogAttrs(r.Context(), slog.LevelInfo, "lease deleted by operator", slog.String("address", a.String()))
		w.WriteHeader(http.StatusNoContent)
	case code == http.StatusNotFound:
		h.fail(w, r, code, "no lease for "+a.String())
	default:
		h.fail(w, r, code, "delete "+a.String()+": "+err.Error())
	}
}

// errStatus is the one mapping of a Backend error to an HTTP status, the
// same for both families and every lease operation: no such lease 404; a
// lease in the wrong state or a client that cannot be reconfigured 409; a
// request cancelled or timed out (also while its store commit waited) 503;
// anything else, a store failure included, 500. Backends return the
// store's error wrapped (%w) so that it is recognised here.
func errStatus(err error) int {
	switch {
	case err == nil:
		return http.StatusOK
	case errors.Is(err, lease.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, ErrWrongFamily):
		return http.StatusBadRequest
	case errors.Is(err, lease.ErrNotBound), errors.Is(err, lease.ErrNotCapable),
		errors.Is(err, lease.ErrConflict): // e.g. a cluster's database refused the write
		return http.StatusConflict
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}

func (h *handler) pools(w http.ResponseWriter, r *http.Request) {
	ps := h.b.Pools()
	out := make([]Pool, 0, len(ps))
	for i := range ps {
		out = append(out, PoolFromStats(&ps[i]))
	}
	h.writeJSON(w, r, http.StatusOK, out)
}

// forceRenew is the DHCPv4 name of reconfigure; for a DHCPv6 binding it
// sends a Reconfigure as reconfigure does.
func (h *handler) forceRenew(w http.ResponseWriter, r *http.Request) { h.reconfigure(w, r) }

// reconfigure is the family-neutral single-client send: FORCERENEW for an
// IPv4 lease, Reconfigure for a DHCPv6 one.
func (h *handler) reconfigure(w http.ResponseWriter, r *http.Request) {
	a, plen, ok := h.pathAddr(w, r)
	if !ok {
		return
	}
	what := "forcerenew"
	var err error
	if familyOf(a) == 6 {
		what = "reconfigure"
		rc, ok := h.b.(Reconfigurer)
		if !ok {
			h.fail(w, r, http.StatusNotImplemented, "this server does not serve DHCPv6 (its backend does not implement api.Reconfigurer)")
			return
		}
		if plen > 0 {
			if l, found := h.findLease(a, 0); found && int(l.PrefixLen) != plen {
				h.fail(w, r, http.StatusNotFound, fmt.Sprintf("no lease for %s (%s is bound as %s)", target(a, plen), a, target(a, int(l.PrefixLen))))
				return
			}
		}
		err = rc.SendReconfigure(r.Context(), a)
	} else {
		err = h.b.ForceRenew(r.Context(), a)
	}
	t := target(a, plen)
	switch code := errStatus(err); code {
	case http.StatusOK:
		h.log.LogAttrs(r.Context(), slog.LevelInfo, what+" sent by operator", slog.String("address", t))
		h.writeJSON(w, r, http.StatusOK, ForceRenewResult{Address: a, Status: "sent"})
	case http.StatusNotFound:
		h.fail(w, r, code, "no lease for "+t)
	case http.StatusConflict:
		h.fail(w, r, code, err.Error())
	default:
		h.fail(w, r, code, what+" "+t+": "+err.Error())
	}
}
