package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"go.yaml.in/yaml/v4"

	"github.com/leased/leased/lease"
)

// fakeBackend is an in-memory Backend for testing the HTTP layer. Its
// filtering is deliberately simple; the engine's is tested in package lease.
type fakeBackend struct {
	mu        sync.Mutex
	leases    []lease.Lease
	pools     []lease.PoolStats
	health    Health
	deleteErr error
	filters   []lease.Filter // every filter Leases was called with
	deleted   []netip.Addr
	renewErr  error
	renewed   []netip.Addr
}

func (b *fakeBackend) ForceRenew(ctx context.Context, a netip.Addr) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.renewErr != nil {
		return b.renewErr
	}
	for _, l := range b.leases {
		if l.Addr == a {
			b.renewed = append(b.renewed, a)
			return nil
		}
	}
	return fmt.Errorf("forcerenew %s: %w", a, lease.ErrNotFound)
}

func (b *fakeBackend) Leases(f lease.Filter) []lease.Lease {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.filters = append(b.filters, f)
	var out []lease.Lease
	for _, l := range b.leases {
		if f.Pool != "" && l.Pool != f.Pool ||
			f.Section != nil && l.Section != *f.Section ||
			f.From.IsValid() && l.Addr.Less(f.From) ||
			f.To.IsValid() && f.To.Less(l.Addr) {
			continue
		}
		if len(f.States) > 0 && !slices.Contains(f.States, l.State) ||
			len(f.States) == 0 && (l.State == lease.StateFree || l.State == lease.StateOffered || l.State == lease.StateDeleted) {
			continue
		}
		out = append(out, l.Clone())
	}
	return out
}

func (b *fakeBackend) Pools() []lease.PoolStats { return b.pools }
func (b *fakeBackend) Health() Health           { return b.health }

func (b *fakeBackend) DeleteLease(ctx context.Context, a netip.Addr) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.deleteErr != nil {
		return b.deleteErr
	}
	for i, l := range b.leases {
		if l.Addr == a {
			b.leases = slices.Delete(b.leases, i, i+1)
			b.deleted = append(b.deleted, a)
			return nil
		}
	}
	return fmt.Errorf("delete %s: %w", a, lease.ErrNotFound)
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func testBackend() *fakeBackend {
	return &fakeBackend{
		health: Health{Status: "ok", Version: "0.1.0", UptimeSeconds: 12.5, Leases: 2, Pools: 2, Store: "wal"},
		leases: []lease.Lease{
			{
				Seq: 7, Addr: netip.MustParseAddr("10.0.0.12"),
				ClientID: []byte{1, 0x52, 0x54, 0, 0x12, 0x34, 0x56}, HType: 1,
				HWAddr:   []byte{0x52, 0x54, 0, 0x12, 0x34, 0x56},
				Hostname: "printer", Pool: "office", Section: 0, State: lease.StateBound,
				Start: t0, T1: t0.Add(30 * time.Minute), T2: t0.Add(52*time.Minute + 30*time.Second), Expiry: t0.Add(time.Hour),
				XID: 0x1234abcd, GIAddr: netip.MustParseAddr("10.0.0.1"), RelayInfo: []byte{1, 3, 'e', 't', '0'},
				ForceRenewNonceCapable: true, ReconfKey: []byte("secret-key-never-shown"),
			},
			{
				Seq: 9, Addr: netip.MustParseAddr("10.0.0.5"), HType: 1,
				ClientID: []byte{1, 2, 3}, HWAddr: []byte{2, 0, 0, 0, 0, 5},
				Pool: "office", Section: -1, State: lease.StateDeclined,
				Expiry: t0.Add(time.Hour), GIAddr: netip.IPv4Unspecified(),
			},
			{
				Seq: 3, Addr: netip.MustParseAddr("10.1.0.9"), HType: 1, HWAddr: []byte{2, 0, 0, 0, 0, 9},
				Pool: "lab", Section: 1, State: lease.StateReleased,
			},
			{
				Seq: 4, Addr: netip.MustParseAddr("10.1.0.10"), Pool: "lab", Section: 1, State: lease.StateFree,
			},
		},
		pools: []lease.PoolStats{
			{Name: "office", Subnet: netip.MustParsePrefix("10.0.0.0/24"), Size: 200, Bound: 150, Declined: 1, Offered: 2,
				Sections: []lease.SectionStats{{Index: 0, Start: netip.MustParseAddr("10.0.0.10"), End: netip.MustParseAddr("10.0.0.209"), Size: 200, Bound: 150, Declined: 1, Offered: 2}}},
			{Name: "lab", Subnet: netip.MustParsePrefix("10.1.0.0/24"), Size: 3,
				Sections: []lease.SectionStats{
					{Index: 1, Start: netip.MustParseAddr("10.1.0.9"), End: netip.MustParseAddr("10.1.0.10"), Size: 2},
					{Index: 2, Start: netip.MustParseAddr("10.1.0.20"), End: netip.MustParseAddr("10.1.0.20"), Size: 1, Bound: 1},
				}},
		},
	}
}

type answer struct {
	code   int
	header http.Header
	body   string
}

func call(t *testing.T, h http.Handler, method, target string) answer {
	t.Helper()
	r := httptest.NewRequest(method, target, nil)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return answer{w.Code, w.Header(), w.Body.String()}
}

func errorText(t *testing.T, a answer) string {
	t.Helper()
	if ct := a.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("error Content-Type = %q, want application/json", ct)
	}
	var e Error
	if err := json.Unmarshal([]byte(a.body), &e); err != nil || e.Error == "" {
		t.Fatalf("error body %q is not {\"error\": ...}: %v", a.body, err)
	}
	return e.Error
}

func TestLeaseJSON(t *testing.T) {
	h := NewHandler(testBackend(), nil, nil)
	a := call(t, h, "GET", "/v1/leases/10.0.0.12")
	if a.code != 200 {
		t.Fatalf("code %d, body %s", a.code, a.body)
	}
	want := `{
  "family": 4,
  "address": "10.0.0.12",
  "hwaddr": "52:54:00:12:34:56",
  "htype": 1,
  "client_id": "01525400123456",
  "hostname": "printer",
  "pool": "office",
  "section": 0,
  "state": "bound",
  "start": "2026-03-01T12:00:00Z",
  "t1": "2026-03-01T12:30:00Z",
  "t2": "2026-03-01T12:52:30Z",
  "expires": "2026-03-01T13:00:00Z",
  "xid": "0x1234abcd",
  "giaddr": "10.0.0.1",
  "relay_info": "01036574 30",
  "forcerenew_capable": true,
  "seq": 7
}
`
	want = strings.Replace(want, "01036574 30", "0103657430", 1)
	if diff := cmp.Diff(want, a.body); diff != "" {
		t.Errorf("lease JSON (-want +got):\n%s", diff)
	}
	if strings.Contains(a.body, "secret") || strings.Contains(a.body, fmt.Sprintf("%x", "secret")) {
		t.Error("reconfigure key exposed")
	}

	// No section, unspecified giaddr, unset times: null / absent.
	a = call(t, h, "GET", "/v1/leases/10.0.0.5")
	var m map[string]any
	if err := json.Unmarshal([]byte(a.body), &m); err != nil {
		t.Fatal(err)
	}
	if v, ok := m["section"]; !ok || v != nil {
		t.Errorf("section = %v (present %v), want null", v, ok)
	}
	for _, k := range []string{"giaddr", "start", "t1", "t2"} {
		if _, ok := m[k]; ok {
			t.Errorf("%s present in %s", k, a.body)
		}
	}
	if m["expires"] != "2026-03-01T13:00:00Z" || m["state"] != "declined" || m["xid"] != "0x00000000" {
		t.Errorf("unexpected fields: %s", a.body)
	}
}

func TestLeaseLookup(t *testing.T) {
	b := testBackend()
	h := NewHandler(b, nil, nil)
	// A free record is still shown by a single-address lookup.
	if a := call(t, h, "GET", "/v1/leases/10.1.0.10"); a.code != 200 || !strings.Contains(a.body, `"state": "free"`) {
		t.Errorf("free record: %d %s", a.code, a.body)
	}
	a := call(t, h, "GET", "/v1/leases/10.0.0.99")
	if a.code != 404 || errorText(t, a) != "no lease for 10.0.0.99" {
		t.Errorf("absent: %d %s", a.code, a.body)
	}
	for _, bad := range []string{"10.0.0", "fe80::1%eth0", "host", "10.0.0.0/24", "fd77::1/56", "fd77::/x"} {
		a := call(t, h, "GET", "/v1/leases/"+url.PathEscape(bad))
		if a.code != 400 || !strings.HasPrefix(errorText(t, a), "address: ") {
			t.Errorf("%s: %d %s", bad, a.code, a.body)
		}
	}
}

func TestLeasesList(t *testing.T) {
	b := testBackend()
	h := NewHandler(b, nil, nil)
	a := call(t, h, "GET", "/v1/leases")
	var got []Lease
	if err := json.Unmarshal([]byte(a.body), &got); err != nil {
		t.Fatal(err)
	}
	var addrs []string
	for _, l := range got {
		addrs = append(addrs, l.Address.String())
	}
	// Address order (10.0.0.5 before 10.0.0.12), free record hidden by default.
	if diff := cmp.Diff([]string{"10.0.0.5", "10.0.0.12", "10.1.0.9"}, addrs); diff != "" {
		t.Errorf("addresses (-want +got):\n%s", diff)
	}
	b.leases = nil
	if a := call(t, h, "GET", "/v1/leases"); a.code != 200 || a.body != "[]\n" {
		t.Errorf("empty list: %d %q", a.code, a.body)
	}
}

func TestLeaseFilters(t *testing.T) {
	zero, one := 0, 1
	tests := []struct {
		query   string
		want    lease.Filter
		wantErr string // prefix of the 400 message; "" for success
	}{
		{query: "", want: lease.Filter{}},
		{query: "pool=office", want: lease.Filter{Pool: "office"}},
		{query: "pool=office&section=0", want: lease.Filter{Pool: "office", Section: &zero}},
		{query: "section=1", want: lease.Filter{Section: &one}},
		{query: "from=10.0.0.1&to=10.0.0.20", want: lease.Filter{From: netip.MustParseAddr("10.0.0.1"), To: netip.MustParseAddr("10.0.0.20")}},
		{query: "from=10.0.0.7", want: lease.Filter{From: netip.MustParseAddr("10.0.0.7")}},
		{query: "client=52:54:00:12:34:56", want: lease.Filter{Client: "52:54:00:12:34:56"}},
		{query: "client=52-54-00-12-34-56", want: lease.Filter{Client: "52-54-00-12-34-56"}},
		{query: "client=01525400123456", want: lease.Filter{Client: "01525400123456"}},
		{query: "client=5254.0012.3456", want: lease.Filter{Client: "5254.0012.3456"}},
		{query: "client=10.0.0.12", want: lease.Filter{Client: "10.0.0.12"}},
		{query: "state=bound&state=declined", want: lease.Filter{States: []lease.State{lease.StateBound, lease.StateDeclined}}},
		{query: "state=bound,expired,bound", want: lease.Filter{States: []lease.State{lease.StateBound, lease.StateExpired}}},

		{query: "pool=nope", wantErr: `pool: unknown pool "nope" (valid: office, lab)`},
		{query: "section=x", wantErr: `section: "x" is not a section number`},
		{query: "section=-1", wantErr: `section: "-1" is not a section number`},
		{query: "section=7", wantErr: "section: no section 7 in any pool (valid: 0, 1, 2)"},
		{query: "pool=lab&section=0", wantErr: `section: no section 0 in pool "lab" (valid: 1, 2)`},
		{query: "from=10.0.0.300", wantErr: `from: "10.0.0.300" is not an IP address`},
		{query: "to=2001:db8::1", want: lease.Filter{To: netip.MustParseAddr("2001:db8::1")}},
		{query: "from=2001:db8::1&to=2001:db8::ff", want: lease.Filter{From: netip.MustParseAddr("2001:db8::1"), To: netip.MustParseAddr("2001:db8::ff")}},
		{query: "from=10.0.0.1&to=2001:db8::1", wantErr: "to: 2001:db8::1 and from 10.0.0.1 are of different families"},
		{query: "client=2001:db8::5", want: lease.Filter{Client: "2001:db8::5"}},
		{query: "client=000300015254001234", want: lease.Filter{Client: "000300015254001234"}},
		{query: "family=6", want: lease.Filter{}},
		{query: "family=4&from=10.0.0.1", want: lease.Filter{From: netip.MustParseAddr("10.0.0.1")}},
		{query: "family=5", wantErr: `family: "5", want 4 or 6`},
		{query: "family=6&from=10.0.0.1", wantErr: "family: 6 contradicts from 10.0.0.1"},
		{query: "from=10.0.0.9&to=10.0.0.1", wantErr: "to: 10.0.0.1 is below from 10.0.0.9"},
		{query: "client=zz:zz", wantErr: `client: "zz:zz" is not a hardware address`},
		{query: "client=abc", wantErr: `client: "abc" is not`},
		{query: "client=5254.012.3456", wantErr: `client: "5254.012.3456" is not`},
		{query: "client=aa:::bb", wantErr: `client: "aa:::bb" is not`},
		{query: "client=", wantErr: `client: "" is not`},
		{query: "state=bond", wantErr: `state: unknown state "bond" (valid: free, offered, bound, released, expired, declined, deleted, quarantined)`},
		{query: "sectoin=1", wantErr: `unknown query parameter "sectoin" (valid: pool, section, from, to, client, state, family)`},
		{query: "pool=a&pool=b", wantErr: "pool: given 2 times"},
	}
	for _, tc := range tests {
		t.Run(tc.query, func(t *testing.T) {
			b := testBackend()
			a := call(t, NewHandler(b, nil, nil), "GET", "/v1/leases?"+tc.query)
			if tc.wantErr != "" {
				if a.code != 400 {
					t.Fatalf("code %d, want 400; body %s", a.code, a.body)
				}
				if msg := errorText(t, a); !strings.HasPrefix(msg, tc.wantErr) {
					t.Errorf("error %q, want prefix %q", msg, tc.wantErr)
				}
				if len(b.filters) != 0 {
					t.Error("backend queried despite a bad request")
				}
				return
			}
			if a.code != 200 {
				t.Fatalf("code %d, body %s", a.code, a.body)
			}
			if len(b.filters) != 1 {
				t.Fatalf("backend called %d times", len(b.filters))
			}
			if diff := cmp.Diff(tc.want, b.filters[0], cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
				t.Errorf("filter (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDelete(t *testing.T) {
	b := testBackend()
	h := NewHandler(b, nil, nil)
	if a := call(t, h, "DELETE", "/v1/leases/10.0.0.12"); a.code != 204 || a.body != "" {
		t.Fatalf("delete: %d %q", a.code, a.body)
	}
	if !slices.Equal(b.deleted, []netip.Addr{netip.MustParseAddr("10.0.0.12")}) {
		t.Errorf("deleted %v", b.deleted)
	}
	if a := call(t, h, "GET", "/v1/leases/10.0.0.12"); a.code != 404 {
		t.Errorf("after delete: %d", a.code)
	}
	a := call(t, h, "DELETE", "/v1/leases/10.0.0.12")
	if a.code != 404 || errorText(t, a) != "no lease for 10.0.0.12" {
		t.Errorf("second delete: %d %s", a.code, a.body)
	}
	if a := call(t, h, "DELETE", "/v1/leases/banana"); a.code != 400 {
		t.Errorf("bad address: %d", a.code)
	}

	b.deleteErr = errors.New("wal: write: no space left on device")
	a = call(t, h, "DELETE", "/v1/leases/10.0.0.5")
	if a.code != 500 || errorText(t, a) != "delete 10.0.0.5: wal: write: no space left on device" {
		t.Errorf("store failure: %d %s", a.code, a.body)
	}
	b.deleteErr = fmt.Errorf("commit: %w", context.DeadlineExceeded)
	if a := call(t, h, "DELETE", "/v1/leases/10.0.0.5"); a.code != 503 {
		t.Errorf("timeout: %d %s", a.code, a.body)
	}
}

func TestForceRenew(t *testing.T) {
	b := testBackend()
	h := NewHandler(b, nil, nil)
	a := call(t, h, "POST", "/v1/leases/10.0.0.12/forcerenew")
	if a.code != 200 || strings.TrimSpace(a.body) != "{\n  \"address\": \"10.0.0.12\",\n  \"status\": \"sent\"\n}" {
		t.Fatalf("forcerenew: %d %q", a.code, a.body)
	}
	if !slices.Equal(b.renewed, []netip.Addr{netip.MustParseAddr("10.0.0.12")}) {
		t.Errorf("renewed %v", b.renewed)
	}
	if a := call(t, h, "POST", "/v1/leases/10.0.0.99/forcerenew"); a.code != 404 || errorText(t, a) != "no lease for 10.0.0.99" {
		t.Errorf("unknown lease: %d %s", a.code, a.body)
	}
	if a := call(t, h, "GET", "/v1/leases/10.0.0.12/forcerenew"); a.code != 405 {
		t.Errorf("GET: %d", a.code)
	}
	if a := call(t, h, "POST", "/v1/leases/x/forcerenew"); a.code != 400 {
		t.Errorf("bad address: %d", a.code)
	}
	for _, tc := range []struct {
		err  error
		code int
	}{
		{&lease.NotCapableError{Addr: netip.MustParseAddr("10.0.0.12"), Reason: "it never received a reconfigure key"}, 409},
		{fmt.Errorf("x: %w", lease.ErrNotBound), 409},
		{fmt.Errorf("commit: %w", context.DeadlineExceeded), 503},
		{errors.New("wal: write: no space left on device"), 500},
	} {
		b.renewErr = tc.err
		a := call(t, h, "POST", "/v1/leases/10.0.0.12/forcerenew")
		if a.code != tc.code || !strings.Contains(errorText(t, a), tc.err.Error()) {
			t.Errorf("%v: %d %s, want %d", tc.err, a.code, a.body, tc.code)
		}
	}
}

func TestHealthAndPools(t *testing.T) {
	b := testBackend()
	h := NewHandler(b, nil, nil)
	a := call(t, h, "GET", "/v1/health")
	var hl Health
	if err := json.Unmarshal([]byte(a.body), &hl); a.code != 200 || err != nil || !cmp.Equal(hl, b.health) {
		t.Errorf("health: %d %s (%v)", a.code, a.body, err)
	}
	b.health.Status, b.health.Message = "starting", "recovering leases"
	if a := call(t, h, "GET", "/v1/health"); a.code != 503 || !strings.Contains(a.body, `"status": "starting"`) {
		t.Errorf("not ok: %d %s", a.code, a.body)
	}
	// Degraded still serves (200, a load balancer keeps it); failing is
	// 503 with its reasons.
	since := time.Date(2026, 12, 4, 11, 0, 0, 0, time.UTC)
	b.health.Status, b.health.Message = "degraded", "reload_failed: ..."
	b.health.Reasons = []HealthReason{{Code: "reload_failed", Severity: "degraded", Message: "reload of x failed", Since: since}}
	a = call(t, h, "GET", "/v1/health")
	hl = Health{}
	if err := json.Unmarshal([]byte(a.body), &hl); a.code != 200 || err != nil || !cmp.Equal(hl, b.health) {
		t.Errorf("degraded: %d %s (%v)", a.code, a.body, err)
	}
	b.health.Status = "failing"
	b.health.Reasons[0] = HealthReason{Code: "store_commit_failing", Severity: "failing", Message: "disk full", Since: since}
	if a := call(t, h, "GET", "/v1/health"); a.code != 503 || !strings.Contains(a.body, `"code": "store_commit_failing"`) {
		t.Errorf("failing: %d %s", a.code, a.body)
	}

	a = call(t, h, "GET", "/v1/pools")
	var ps []Pool
	if err := json.Unmarshal([]byte(a.body), &ps); err != nil {
		t.Fatal(err)
	}
	want := []Pool{
		{Name: "office", Family: 4, Kind: "addresses", Subnet: netip.MustParsePrefix("10.0.0.0/24"), Size: 200, Bound: 150, Declined: 1, Offered: 2, UsedPercent: 76.5,
			Sections: []Section{{Index: 0, Start: netip.MustParseAddr("10.0.0.10"), End: netip.MustParseAddr("10.0.0.209"), Size: 200, Bound: 150, Declined: 1, Offered: 2, UsedPercent: 76.5}}},
		{Name: "lab", Family: 4, Kind: "addresses", Subnet: netip.MustParsePrefix("10.1.0.0/24"), Size: 3, UsedPercent: 0,
			Sections: []Section{
				{Index: 1, Start: netip.MustParseAddr("10.1.0.9"), End: netip.MustParseAddr("10.1.0.10"), Size: 2},
				{Index: 2, Start: netip.MustParseAddr("10.1.0.20"), End: netip.MustParseAddr("10.1.0.20"), Size: 1, Bound: 1, UsedPercent: 100},
			}},
	}
	if diff := cmp.Diff(want, ps, cmp.Comparer(func(a, b netip.Addr) bool { return a == b }), cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
		t.Errorf("pools (-want +got):\n%s", diff)
	}
}

func TestPercent(t *testing.T) {
	for _, tc := range []struct {
		used, size int
		want       float64
	}{{0, 0, 0}, {1, 3, 33.3}, {2, 3, 66.6}, {199, 200, 99.5}, {999, 1000, 99.9}, {3, 3, 100}} {
		if got := percent(tc.used, tc.size); got != tc.want {
			t.Errorf("percent(%d, %d) = %v, want %v", tc.used, tc.size, got, tc.want)
		}
	}
}

func TestMethodAndPath(t *testing.T) {
	h := NewHandler(testBackend(), nil, nil)
	a := call(t, h, "POST", "/v1/leases")
	if a.code != 405 || a.header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST /v1/leases: %d Allow=%q", a.code, a.header.Get("Allow"))
	}
	if msg := errorText(t, a); msg != "method POST not allowed on /v1/leases (allowed: GET, HEAD)" {
		t.Errorf("405 message %q", msg)
	}
	a = call(t, h, "PUT", "/v1/leases/10.0.0.12")
	if a.code != 405 || a.header.Get("Allow") != "GET, DELETE, HEAD" {
		t.Errorf("PUT lease: %d Allow=%q", a.code, a.header.Get("Allow"))
	}
	a = call(t, h, "GET", "/v2/nothing")
	if a.code != 404 || !strings.Contains(errorText(t, a), "/v2/nothing") {
		t.Errorf("unknown path: %d %s", a.code, a.body)
	}
	if a := call(t, h, "HEAD", "/v1/health"); a.code != 200 || a.body != "" {
		t.Errorf("HEAD: %d %q", a.code, a.body)
	}
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "leased_test_total", Help: "x"})
	reg.MustRegister(c)
	c.Add(3)
	h := NewHandler(testBackend(), reg, nil)
	call(t, h, "GET", "/v1/health")
	call(t, h, "GET", "/v1/leases?state=bogus")
	// A second handler on the same registry shares the API metrics.
	NewHandler(testBackend(), reg, nil)
	a := call(t, h, "GET", "/metrics")
	for _, want := range []string{
		"leased_test_total 3",
		`leased_api_requests_total{code="200",route="health"} 1`,
		`leased_api_requests_total{code="400",route="leases"} 1`,
		`leased_api_request_duration_seconds_count{route="health"} 1`,
	} {
		if !strings.Contains(a.body, want) {
			t.Errorf("metrics lack %q:\n%s", want, a.body)
		}
	}
}

// TestOpenAPICoversRoutes keeps openapi.yaml and the routes table in step:
// every registered route is documented and every documented operation is
// registered.
func TestOpenAPICoversRoutes(t *testing.T) {
	raw, err := os.ReadFile("openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		OpenAPI string                            `yaml:"openapi"`
		Paths   map[string]map[string]yaml.Node   `yaml:"paths"`
		Comp    map[string]map[string]interface{} `yaml:"components"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.1.") {
		t.Errorf("openapi version %q, want 3.1.x", doc.OpenAPI)
	}
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			if method == "parameters" || method == "summary" || method == "description" {
				continue
			}
			documented[strings.ToUpper(method)+" "+path] = true
		}
	}
	registered := map[string]bool{}
	for _, rt := range routes {
		registered[rt.method+" "+rt.path] = true
		if !documented[rt.method+" "+rt.path] {
			t.Errorf("route %s %s is not in openapi.yaml", rt.method, rt.path)
		}
	}
	for op := range documented {
		if !registered[op] {
			t.Errorf("openapi.yaml documents %s, which is not registered", op)
		}
	}
	// Every schema the handler returns is described.
	for _, s := range []string{"Error", "Health", "Lease", "Pool", "Section", "State"} {
		if _, ok := doc.Comp["schemas"][s]; !ok {
			t.Errorf("schema %s missing", s)
		}
	}
	// The served document is the checked-in one.
	a := call(t, NewHandler(testBackend(), nil, nil), "GET", "/v1/openapi.yaml")
	if a.code != 200 || a.body != string(raw) {
		t.Errorf("GET /v1/openapi.yaml: %d, body differs from the file", a.code)
	}
}

// TestOpenAPIJSONFields checks that every JSON field the Go types emit is a
// documented property and every documented property exists in Go.
func TestOpenAPIJSONFields(t *testing.T) {
	raw, err := os.ReadFile("openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]any `yaml:"properties"`
			} `yaml:"schemas"`
		} `yaml:"components"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	sec := 1
	full := map[string]any{
		"Lease":        Lease{Section: &sec, Start: t0, T1: t0, T2: t0, Expires: t0, GIAddr: "10.0.0.1", Prefix: "fd77:100::/56", IAID: new(uint32(1)), DUID: "0003", Preferred: t0},
		"Health":       Health{Store: "x", Revision: "r", Message: "y", ServerDUID: "0004", Reasons: []HealthReason{{Since: t0}}},
		"HealthReason": HealthReason{Since: t0},
		"Pool":         Pool{},
		"Reservation": Reservation{Family: 6, Source: "runtime", Pool: "p", Address: netip.MustParseAddr("fd77::9"), Prefix: "fd77:100::/56",
			HWAddr: "a", ClientID: "b", CircuitID: "c", RemoteID: "d", DUID: "e", Hostname: "h", DNS: []netip.Addr{netip.MustParseAddr("fd77::1")},
			Added: t0, Problem: "x", Options: []ReservationOption{{Code: 252, Hex: "00"}}},
		"ReservationOption": ReservationOption{},
		"Section":           Section{},
		"Error":             Error{},
	}
	for name, v := range full {
		b, _ := json.Marshal(v)
		var m map[string]any
		json.Unmarshal(b, &m)
		props := doc.Components.Schemas[name].Properties
		for k := range m {
			if _, ok := props[k]; !ok {
				t.Errorf("%s.%s is emitted but not in openapi.yaml", name, k)
			}
		}
		for k := range props {
			if _, ok := m[k]; !ok {
				t.Errorf("%s.%s is documented but never emitted", name, k)
			}
		}
	}
}

func TestParseHex(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []byte
	}{
		{"aa:bb:cc", []byte{0xaa, 0xbb, 0xcc}},
		{"AA-BB", []byte{0xaa, 0xbb}},
		{"01aabb", []byte{1, 0xaa, 0xbb}},
		{"a:bb", nil}, {"aa:bb:", nil}, {":aa", nil}, {"aa::bb", nil}, {"abc", nil}, {"gg", nil}, {"", nil},
	} {
		if got := ParseHex(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("ParseHex(%q) = %x, want %x", tc.in, got, tc.want)
		}
	}
}

func TestRequireToken(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "PROTECTED") })
	for _, tc := range []struct {
		token, header string
		want          int
	}{
		{"s3cret", "Bearer s3cret", 200},
		{"s3cret", "bearer s3cret", 200},
		{"s3cret", "Bearer s3cre", 401},
		{"s3cret", "Bearer s3cret2", 401},
		{"s3cret", "Basic s3cret", 401},
		{"s3cret", "", 401},
		{"s3cret", "Bearer ", 401},
		{"", "Bearer ", 401},
		{"", "", 401},
	} {
		r := httptest.NewRequest("GET", "/v1/health", nil)
		if tc.header != "" {
			r.Header.Set("Authorization", tc.header)
		}
		w := httptest.NewRecorder()
		RequireToken(tc.token, ok).ServeHTTP(w, r)
		if w.Code != tc.want {
			t.Errorf("token %q header %q: %d, want %d", tc.token, tc.header, w.Code, tc.want)
		}
		if w.Code == 401 && (w.Header().Get("WWW-Authenticate") == "" || strings.Contains(w.Body.String(), "PROTECTED")) {
			t.Errorf("401 without challenge or with the protected body: %q", w.Body.String())
		}
	}
}

// BenchmarkLeases100k measures GET /v1/leases for 100 000 bound leases
// (the handler's share: conversion, sort, JSON encoding).
func BenchmarkLeases100k(b *testing.B) {
	fb := &fakeBackend{}
	base := testBackend().leases[0]
	for i := range 100_000 {
		l := base.Clone()
		l.Addr = netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		fb.leases = append(fb.leases, l)
	}
	h := NewHandler(fb, nil, nil)
	b.ReportAllocs()
	var size int
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/v1/leases", nil))
		if w.Code != 200 {
			b.Fatal(w.Code)
		}
		size = w.Body.Len()
	}
	b.ReportMetric(float64(size)/1e6, "MB/resp")
}

type panicBackend struct{ fakeBackend }

func (*panicBackend) Pools() []lease.PoolStats { panic("pools exploded") }

func TestPanicIs500(t *testing.T) {
	a := call(t, NewHandler(&panicBackend{}, nil, nil), "GET", "/v1/pools")
	if a.code != 500 || errorText(t, a) != "internal error: pools exploded" {
		t.Errorf("%d %s", a.code, a.body)
	}
}
