package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/leased/leased/api"
	"github.com/leased/leased/lease"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// backend is an in-memory api.Backend: leasectl is tested against the real
// HTTP handler over a real unix socket, with this standing in for leased.
type backend struct {
	mu     sync.Mutex
	leases []lease.Lease
	pools  []lease.PoolStats
	health api.Health
	last   lease.Filter
}

func (b *backend) Leases(f lease.Filter) []lease.Lease {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.last = f
	var out []lease.Lease
	for _, l := range b.leases {
		if f.Pool != "" && l.Pool != f.Pool || f.From.IsValid() && l.Addr.Less(f.From) || f.To.IsValid() && f.To.Less(l.Addr) {
			continue
		}
		if len(f.States) > 0 && !slices.Contains(f.States, l.State) {
			continue
		}
		out = append(out, l)
	}
	return out
}

func (b *backend) Pools() []lease.PoolStats { return b.pools }
func (b *backend) Health() api.Health       { return b.health }

func (b *backend) DeleteLease(_ context.Context, a netip.Addr) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, l := range b.leases {
		if l.Addr == a {
			b.leases = slices.Delete(b.leases, i, i+1)
			return nil
		}
	}
	return fmt.Errorf("delete %s: %w", a, lease.ErrNotFound)
}

func (b *backend) ForceRenew(_ context.Context, a netip.Addr) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, l := range b.leases {
		if l.Addr != a {
			continue
		}
		if !l.ForceRenewNonceCapable {
			return &lease.NotCapableError{Addr: a, Reason: "it never received a reconfigure key"}
		}
		return nil
	}
	return fmt.Errorf("forcerenew %s: %w", a, lease.ErrNotFound)
}

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func newBackend() *backend {
	ad := netip.MustParseAddr
	return &backend{
		health: api.Health{Status: "ok", Version: "0.1.0", UptimeSeconds: 7384, Leases: 2, Pools: 2, Store: "wal /var/lib/leased"},
		leases: []lease.Lease{
			{Addr: ad("10.0.0.10"), HType: 1, HWAddr: []byte{0x52, 0x54, 0, 0x12, 0x34, 0x56}, ClientID: []byte{1, 0x52, 0x54, 0, 0x12, 0x34, 0x56},
				Hostname: "printer", Pool: "office", Section: 0, State: lease.StateBound, XID: 0xdeadbeef,
				Start: now.Add(-time.Second), T1: now.Add(30 * time.Minute), T2: now.Add(52 * time.Minute), Expiry: now.Add(59*time.Minute + 59*time.Second),
				GIAddr: ad("10.0.0.1"), RelayInfo: []byte{1, 2, 'a', 'b'}, ForceRenewNonceCapable: true},
			{Addr: ad("10.0.0.11"), HType: 1, HWAddr: []byte{2, 0, 0, 0, 0, 0x11}, ClientID: []byte{1, 2, 0, 0, 0, 0, 0x11},
				Hostname: "laptop-of-someone", Pool: "office", Section: 0, State: lease.StateBound, Expiry: now.Add(26*time.Hour + 3*time.Minute)},
			{Addr: ad("10.0.0.12"), Pool: "office", Section: -1, State: lease.StateDeclined, Expiry: now.Add(42 * time.Second)},
			{Addr: ad("10.1.0.5"), HType: 1, HWAddr: []byte{2, 0, 0, 0, 1, 5}, Pool: "lab", Section: 3, State: lease.StateExpired, Expiry: now.Add(-3*time.Hour - 5*time.Minute)},
		},
		pools: []lease.PoolStats{
			{Name: "office", Subnet: netip.MustParsePrefix("10.0.0.0/24"), Size: 240, Bound: 2, Declined: 1,
				Sections: []lease.SectionStats{
					{Index: 0, Start: ad("10.0.0.10"), End: ad("10.0.0.109"), Size: 100, Bound: 2},
					{Index: 1, Start: ad("10.0.0.110"), End: ad("10.0.0.249"), Size: 140, Declined: 1},
				}},
			{Name: "lab", Subnet: netip.MustParsePrefix("10.1.0.0/24"), Size: 3, Bound: 3,
				Sections: []lease.SectionStats{{Index: 3, Start: ad("10.1.0.5"), End: ad("10.1.0.7"), Size: 3, Bound: 3}}},
		},
	}
}

// serve runs the real API handler for b on a unix socket in a temp dir.
func serve(t *testing.T, b api.Backend) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "control.sock")
	l, err := api.ListenUnix(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: api.NewHandler(b, nil, nil), ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(l) }()
	t.Cleanup(func() { srv.Close(); <-done })
	return path
}

type result struct {
	code           int
	stdout, stderr string
}

func leasectl(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	getenv := func(k string) string { return env[k] }
	code := run(context.Background(), args, &out, &errb, getenv, func() time.Time { return now })
	return result{code, out.String(), errb.String()}
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		os.MkdirAll("testdata", 0o755)
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s (-want +got):\n%s", path, diff)
	}
}

func TestTables(t *testing.T) {
	b := newBackend()
	sock := serve(t, b)
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"leases", []string{"leases"}},
		{"pools", []string{"pools"}},
		{"lease", []string{"lease", "10.0.0.10"}},
		{"health", []string{"health"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := leasectl(t, nil, append([]string{"--socket", sock}, tc.args...)...)
			if r.code != 0 || r.stderr != "" {
				t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
			}
			golden(t, tc.name, r.stdout)
		})
	}
}

func TestLeasesFlags(t *testing.T) {
	b := newBackend()
	sock := serve(t, b)
	env := map[string]string{"LEASED_SOCKET": sock} // the env var replaces --socket
	r := leasectl(t, env, "leases", "--pool", "office", "--section", "0", "--range", "10.0.0.0-10.0.0.11",
		"--client", "52:54:00:12:34:56", "--state", "bound", "--state", "declined,expired")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	zero := 0
	want := lease.Filter{Pool: "office", Section: &zero, From: netip.MustParseAddr("10.0.0.0"), To: netip.MustParseAddr("10.0.0.11"),
		Client: "52:54:00:12:34:56", States: []lease.State{lease.StateBound, lease.StateDeclined, lease.StateExpired}}
	if diff := cmp.Diff(want, b.last, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("filter (-want +got):\n%s", diff)
	}

	r = leasectl(t, env, "leases", "--range", "10.0.0.8/30", "--json")
	var ls []api.Lease
	if err := json.Unmarshal([]byte(r.stdout), &ls); err != nil || r.code != 0 {
		t.Fatalf("--json: %v, exit %d, %q", err, r.code, r.stdout)
	}
	if len(ls) != 2 || ls[0].Address.String() != "10.0.0.10" || ls[1].Hostname != "laptop-of-someone" {
		t.Errorf("--json leases: %+v", ls)
	}
	if b.last.From != netip.MustParseAddr("10.0.0.8") || b.last.To != netip.MustParseAddr("10.0.0.11") {
		t.Errorf("prefix range sent as %v-%v", b.last.From, b.last.To)
	}

	r = leasectl(t, env, "leases", "--state", "bound", "--pool", "lab")
	if r.code != 0 || r.stdout != "no leases match\n" {
		t.Errorf("empty result: %d %q", r.code, r.stdout)
	}
}

func TestForceRenewSend(t *testing.T) {
	b := newBackend()
	sock := serve(t, b)
	r := leasectl(t, nil, "--socket", sock, "forcerenew", "send", "10.0.0.10")
	if r.code != 0 || r.stdout != "FORCERENEW sent to 10.0.0.10\n" || r.stderr != "" {
		t.Fatalf("send: %+v", r)
	}
	r = leasectl(t, nil, "--socket", sock, "--json", "forcerenew", "send", "10.0.0.10")
	if r.code != 0 || !strings.Contains(r.stdout, `"status": "sent"`) {
		t.Fatalf("send --json: %+v", r)
	}
	var notCapable string
	for _, l := range b.leases {
		if !l.ForceRenewNonceCapable {
			notCapable = l.Addr.String()
			break
		}
	}
	if notCapable == "" {
		t.Fatal("test backend has no client without a key")
	}
	r = leasectl(t, nil, "--socket", sock, "forcerenew", "send", notCapable)
	if r.code != 1 || !strings.Contains(r.stderr, "client cannot receive FORCERENEW: it never received a reconfigure key") {
		t.Fatalf("not capable: %+v", r)
	}
	r = leasectl(t, nil, "--socket", sock, "forcerenew", "send", "10.9.9.9")
	if r.code != 1 || r.stderr != "leasectl: no lease for 10.9.9.9\n" {
		t.Fatalf("unknown: %+v", r)
	}
	r = leasectl(t, nil, "--socket", sock, "forcerenew", "send", "banana")
	if r.code != 2 {
		t.Fatalf("bad address: %+v", r)
	}
	r = leasectl(t, nil, "--socket", sock, "forcerenew")
	if r.code != 2 || r.stdout != "" || !strings.Contains(r.stderr, "send") {
		t.Fatalf("parent without a command: %+v", r)
	}
}

func TestDeleteAndErrors(t *testing.T) {
	b := newBackend()
	sock := serve(t, b)
	r := leasectl(t, nil, "--socket", sock, "delete", "10.0.0.11")
	if r.code != 0 || r.stdout != "deleted lease 10.0.0.11\n" {
		t.Fatalf("delete: %+v", r)
	}
	if len(b.leases) != 3 {
		t.Errorf("backend still holds %d leases", len(b.leases))
	}

	missing := filepath.Join(t.TempDir(), "none.sock")
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"delete again", []string{"--socket", sock, "delete", "10.0.0.11"}, 1, "leasectl: no lease for 10.0.0.11\n"},
		{"lease absent", []string{"--socket", sock, "lease", "10.9.9.9"}, 1, "leasectl: no lease for 10.9.9.9\n"},
		{"server-side validation", []string{"--socket", sock, "leases", "--pool", "nope"}, 1,
			"leasectl: --pool: unknown pool \"nope\" (valid: office, lab)\n"},
		{"bad state", []string{"--socket", sock, "leases", "--state", "bond"}, 2,
			"leasectl: --state \"bond\": unknown state (valid: free, offered, bound, released, expired, declined, deleted, quarantined) (see 'leasectl leases --help')\n"},
		{"no server", []string{"--socket", missing, "pools"}, 1,
			"leasectl: cannot reach leased at " + missing + ": no such file (is leased running? --socket sets the path)\n"},
		{"bad address", []string{"--socket", sock, "lease", "10.0.0"}, 2,
			"leasectl: \"10.0.0\" is not an IPv4 or IPv6 address (see 'leasectl lease --help')\n"},
		{"missing address", []string{"--socket", sock, "delete"}, 2,
			"leasectl: leasectl delete needs one address or delegated prefix, got 0 arguments (see 'leasectl delete --help')\n"},
		{"unknown command", []string{"lease-list"}, 2, "leasectl: unknown command \"lease-list\" (see 'leasectl --help')\n"},
		{"unknown flag", []string{"pools", "--pool", "x"}, 2, "leasectl: unknown flag: --pool (see 'leasectl pools --help')\n"},
		{"bad range", []string{"leases", "--range", "10.0.0.1-"}, 2,
			"leasectl: --range: \"10.0.0.1-\" is not A-B with addresses of one family (like 10.0.0.10-10.0.0.50 or fd77::1:0-fd77::1:ff) (see 'leasectl leases --help')\n"},
		{"bad section", []string{"leases", "--section", "-1"}, 2,
			"leasectl: --section must be a section number (0 or more), got -1 (see 'leasectl leases --help')\n"},
		{"token without url", []string{"--token-file", "/x", "health"}, 2,
			"leasectl: --token-file needs --url (the unix socket needs no token) (see 'leasectl health --help')\n"},
		{"extra arg", []string{"--socket", sock, "pools", "x"}, 2,
			"leasectl: leasectl pools takes no arguments, got \"x\" (see 'leasectl pools --help')\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := leasectl(t, nil, tc.args...)
			if r.code != tc.code || r.stderr != tc.stderr {
				t.Errorf("exit %d stderr %q\nwant %d %q", r.code, r.stderr, tc.code, tc.stderr)
			}
			if r.stdout != "" {
				t.Errorf("stdout %q on error", r.stdout)
			}
		})
	}
}

func TestUnhealthy(t *testing.T) {
	b := newBackend()
	b.health.Status, b.health.Message = "starting", "recovering 1200000 leases"
	sock := serve(t, b)
	r := leasectl(t, nil, "--socket", sock, "health", "--json")
	var h api.Health
	if err := json.Unmarshal([]byte(r.stdout), &h); err != nil || h.Status != "starting" {
		t.Errorf("health --json: %v %q", err, r.stdout)
	}
	if r.code != 1 || r.stderr != "leasectl: leased is not healthy: starting (recovering 1200000 leases)\n" {
		t.Errorf("exit %d stderr %q", r.code, r.stderr)
	}
}

func TestTimeout(t *testing.T) {
	stall := make(chan struct{})
	path := filepath.Join(t.TempDir(), "slow.sock")
	l, err := api.ListenUnix(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-stall:
		case <-r.Context().Done():
		}
	})}
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(l) }()
	defer func() { close(stall); srv.Close(); <-done }()

	start := time.Now()
	r := leasectl(t, nil, "--socket", path, "--timeout", "150ms", "pools")
	want := "leasectl: cannot reach leased at " + path + ": no answer within 150ms (--timeout sets the limit)\n"
	if r.code != 1 || r.stderr != want {
		t.Errorf("exit %d stderr %q, want %q", r.code, r.stderr, want)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
}

func TestTCPWithToken(t *testing.T) {
	b := newBackend()
	srv := httptest.NewServer(api.RequireToken("s3cret", api.NewHandler(b, nil, nil)))
	defer srv.Close()
	dir := t.TempDir()
	good := filepath.Join(dir, "token")
	os.WriteFile(good, []byte("s3cret\n"), 0o600)
	bad := filepath.Join(dir, "bad")
	os.WriteFile(bad, []byte("guess"), 0o600)

	r := leasectl(t, nil, "--url", srv.URL, "--token-file", good, "pools")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "POOL") {
		t.Errorf("good token: %+v", r)
	}
	r = leasectl(t, map[string]string{"LEASED_URL": srv.URL, "LEASED_TOKEN_FILE": bad}, "pools")
	if r.code != 1 || r.stderr != "leasectl: missing or wrong bearer token (Authorization: Bearer <token>) (--token-file names the file holding it)\n" {
		t.Errorf("bad token: %+v", r)
	}
	r = leasectl(t, nil, "--url", srv.URL, "--token-file", filepath.Join(dir, "absent"), "pools")
	if r.code != 1 || !strings.Contains(r.stderr, "read token: open ") {
		t.Errorf("missing token file: %+v", r)
	}
	r = leasectl(t, nil, "--url", "dhcp1:8067", "pools")
	if r.code != 2 || !strings.Contains(r.stderr, "--url: url \"dhcp1:8067\": want http://host:port") {
		t.Errorf("bad url: %+v", r)
	}
}

func TestRelative(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{59*time.Minute + 59*time.Second, "in 59m"},
		{42 * time.Second, "in 42s"},
		{0, "in 0s"},
		{2 * time.Hour, "in 2h"},
		{2*time.Hour + 5*time.Minute + 30*time.Second, "in 2h5m"},
		{26*time.Hour + 3*time.Minute, "in 1d2h"},
		{72 * time.Hour, "in 3d"},
		{-3*time.Hour - 5*time.Minute, "3h5m ago"},
		{-90 * time.Second, "1m ago"},
	} {
		if got := relative(now.Add(tc.d), now); got != tc.want {
			t.Errorf("relative(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
	if got := relative(time.Time{}, now); got != "-" {
		t.Errorf("zero time: %q", got)
	}
}

func TestCompletion(t *testing.T) {
	sock := serve(t, newBackend())
	r := leasectl(t, nil, "__complete", "--socket", sock, "leases", "--pool", "")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "office\nlab\n") {
		t.Errorf("pool completion: %+v", r)
	}
	r = leasectl(t, nil, "__complete", "leases", "--state", "")
	if !strings.HasPrefix(r.stdout, "free\noffered\nbound\n") {
		t.Errorf("state completion: %q", r.stdout)
	}
	r = leasectl(t, nil, "completion", "bash")
	if r.code != 0 || !strings.Contains(r.stdout, "__start_leasectl") {
		t.Errorf("bash completion script: exit %d, %d bytes", r.code, len(r.stdout))
	}
}

func TestHealthShowsServerDUID(t *testing.T) {
	b := newBackend()
	b.health.ServerDUID = "000400112233445566778899aabbccddeeff"
	sock := serve(t, b)
	r := leasectl(t, nil, "--socket", sock, "health")
	if r.code != 0 || !strings.Contains(r.stdout, "dhcpv6 duid:    000400112233445566778899aabbccddeeff\n") {
		t.Errorf("exit %d, stdout %q", r.code, r.stdout)
	}
}
