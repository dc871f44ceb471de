package main

import (
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leased/leased/api"
)

// recorder stands in for leased: it records the fields each request
// sends (query parameters; JSON body keys as "selector.pool") and answers
// 400 with "FIELD: bad value" for the field in fail, else 400 "no".
type recorder struct {
	mu   sync.Mutex
	sent []string
	fail string
}

func (rc *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.sent = rc.sent[:0]
	for k := range r.URL.Query() {
		rc.sent = append(rc.sent, k)
	}
	if b, _ := io.ReadAll(r.Body); len(b) > 0 {
		var body map[string]map[string]any
		if err := json.Unmarshal(b, &body); err == nil {
			for part, m := range body {
				for k := range m {
					rc.sent = append(rc.sent, part+"."+k)
				}
			}
		}
	}
	sort.Strings(rc.sent)
	msg := "no"
	if rc.fail != "" {
		msg = rc.fail + ": bad value"
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	json.NewEncoder(w).Encode(api.Error{Error: msg})
}

func serveRecorder(t *testing.T, rc *recorder) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "rec.sock")
	l, err := api.ListenUnix(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: rc, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(l) }()
	t.Cleanup(func() { srv.Close(); <-done })
	return path
}

// flagOf is the flag apiFields or apiParams gives field.
func flagOf(field string) (string, bool) {
	for _, f := range apiFields {
		if f.field == field {
			return f.flag, true
		}
	}
	fl, ok := apiParams[field]
	return fl, ok
}

// TestAPIFieldsHaveFlags: every field each command sends (with every flag
// set) has an entry in the field → flag table naming a flag of that
// command, and an API error about the field comes out naming the flag,
// never the API's field name.
func TestAPIFieldsHaveFlags(t *testing.T) {
	rc := &recorder{}
	sock := serveRecorder(t, rc)
	for _, args := range [][]string{
		{"leases", "--pool", "office", "--section", "0", "--range", "10.0.0.0-10.0.0.11", "--client", "52:54:00:12:34:56", "--family", "4", "--state", "bound"},
		{"forcerenew", "start", "--pool", "office", "--section", "1", "--range", "10.0.0.0-10.0.0.9", "--family", "4",
			"--attempts", "3", "--interval", "1s", "--pace", "5", "--on-failure", "delete", "--force-nak", "--recycle-not-capable"},
		{"forcerenew", "start", "--client", "52:54:00:12:34:56", "--recycle"},
		{"forcerenew", "start", "--all"},
		{"reconfigure", "start", "--prefix-pool", "v6", "--message", "rebind", "--family", "6"},
		{"reconfigure", "start", "--pool", "v6", "--range", "fd77::1-fd77::9", "--message", "information-request"},
		{"forcerenew", "clients", "3", "--outcome", "renewed"},
		{"disconnect", "10.0.0.10", "--on-failure", "recycle"},
	} {
		rc.mu.Lock()
		rc.fail = ""
		rc.mu.Unlock()
		full := append([]string{"--socket", sock}, args...)
		if r := leasectl(t, nil, full...); r.code != 1 || r.stderr != "leasectl: no\n" {
			t.Fatalf("%v: exit %d stderr %q, want the recorder's answer", args, r.code, r.stderr)
		}
		rc.mu.Lock()
		sent := slices.Clone(rc.sent)
		rc.mu.Unlock()
		if len(sent) == 0 {
			t.Fatalf("%v sent no fields", args)
		}
		root := (&app{}).rootCommand(func(string) string { return "" })
		cmd, _, err := root.Find(args)
		if err != nil {
			t.Fatal(err)
		}
		for _, field := range sent {
			flag, ok := flagOf(field)
			if !ok {
				t.Errorf("%v sends %q: not in apiFields/apiParams", args, field)
				continue
			}
			if cmd.Flags().Lookup(strings.TrimPrefix(strings.TrimSpace(flag), "--")) == nil {
				t.Errorf("%v: %q maps to %s, which %s does not have", args, field, flag, cmd.CommandPath())
			}
			rc.mu.Lock()
			rc.fail = field
			rc.mu.Unlock()
			r := leasectl(t, nil, full...)
			if want := "leasectl: " + flag + ": bad value\n"; r.code != 1 || r.stderr != want {
				t.Errorf("%v, API error about %q: exit %d stderr %q, want %q", args, field, r.code, r.stderr, want)
			}
		}
	}
}

// TestFlagWords: the API's own messages (api/campaign.go, api/api.go) as
// leasectl shows them.
func TestFlagWords(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`options.reconf_msg: only DHCPv6 clients get a Reconfigure, and this selector (pool v4) matches DHCPv4 clients only (they get FORCERENEW); leave reconf_msg out`,
			`--message: only DHCPv6 clients get a Reconfigure, and this selector (pool v4) matches DHCPv4 clients only (they get FORCERENEW); leave --message out`},
		{`selector.pool: unknown pool "x" (valid: a, b)`, `--pool: unknown pool "x" (valid: a, b)`},
		{`selector.pool: "v6/pd" is the prefix delegation of pool "v6"; use "prefix_pool": "v6"`,
			`--pool: "v6/pd" is the prefix delegation of pool "v6"; use --prefix-pool "v6"`},
		{`selector.section: needs selector.pool (section numbers are per pool)`, `--section: needs --pool (section numbers are per pool)`},
		{`selector.prefix_pool: unknown pool "x" (valid: v6)`, `--prefix-pool: unknown pool "x" (valid: v6)`},
		{`selector.to: 10.0.0.1 is below from 10.0.0.9 (the range is inclusive)`, `--range: 10.0.0.1 is below from 10.0.0.9 (the range is inclusive)`},
		{`options.on_failure: "x", want restore, delete or recycle`, `--on-failure: "x", want restore, delete or recycle`},
		{`pool: unknown pool "nope" (valid: office, lab)`, `--pool: unknown pool "nope" (valid: office, lab)`},
		{`section: no section 9 in pool "office" (valid: 0, 1)`, `--section: no section 9 in pool "office" (valid: 0, 1)`},
		{`on_failure: "x", want delete (default) or recycle`, `--on-failure: "x", want delete (default) or recycle`},
		{`campaign 3 covers pool office`, `campaign 3 covers pool office`},
	} {
		if got := flagWords(tc.in); got != tc.want {
			t.Errorf("flagWords(%q)\n got %q\nwant %q", tc.in, got, tc.want)
		}
	}
}

// TestUsageExitStatus: no command, a group without its subcommand, and
// unknown --state / --outcome values are usage errors: status 2, help or
// the valid values on stderr, nothing on stdout.
func TestUsageExitStatus(t *testing.T) {
	sock := serve(t, newBackend())
	for _, tc := range []struct {
		name   string
		args   []string
		stderr []string
	}{
		{"no arguments", nil, []string{"Usage:\n  leasectl [flags]\n  leasectl [command]", "Available Commands:", "leasectl: leasectl needs a command (see 'leasectl --help')\n"}},
		{"only global flags", []string{"--socket", sock}, []string{"Available Commands:", "leasectl: leasectl needs a command"}},
		{"forcerenew alone", []string{"forcerenew"}, []string{"Available Commands:", "leasectl: leasectl forcerenew needs a command (see 'leasectl forcerenew --help')\n"}},
		{"reconfigure alone", []string{"reconfigure"}, []string{"leasectl: leasectl reconfigure needs a command"}},
		{"unknown state", []string{"--socket", sock, "leases", "--state", "bond"}, []string{
			"leasectl: --state \"bond\": unknown state (valid: " + strings.Join(api.StateNames(), ", ") + ") (see 'leasectl leases --help')\n"}},
		{"unknown outcome", []string{"--socket", sock, "forcerenew", "clients", "3", "--outcome", "renewd"}, []string{
			"leasectl: --outcome \"renewd\": unknown outcome (valid: " + strings.Join(api.OutcomeNames(), ", ") + ") (see 'leasectl forcerenew clients --help')\n"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := leasectl(t, nil, tc.args...)
			if r.code != 2 || r.stdout != "" {
				t.Errorf("exit %d stdout %q, want 2 and nothing", r.code, r.stdout)
			}
			for _, w := range tc.stderr {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
				}
			}
		})
	}
	// --help is not an error.
	if r := leasectl(t, nil, "--help"); r.code != 0 || !strings.Contains(r.stdout, "Available Commands:") || r.stderr != "" {
		t.Errorf("--help: exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
}

// TestHealthStatuses: the health table lists the reasons; the exit status
// is 0 ok, 3 degraded, 1 failing.
func TestHealthStatuses(t *testing.T) {
	since := time.Date(2026, 3, 1, 11, 58, 0, 0, time.UTC)
	for _, tc := range []struct {
		name    string
		status  string
		reasons []api.HealthReason
		code    int
		stderr  string
	}{
		{"ok", "ok", nil, 0, ""},
		{"degraded", "degraded", []api.HealthReason{
			{Code: "reload_failed", Severity: "degraded", Since: since,
				Message: "reload of /etc/leased/leased.yaml failed, still running the previous configuration: /etc/leased/leased.yaml:12: dhcpv4.pools[0].gateway: bad (at 2026-03-01T11:58:00Z)"},
		}, 3, "leasectl: leased is not healthy: degraded (reload_failed: reload of /etc/leased/leased.yaml failed"},
		{"failing", "failing", []api.HealthReason{
			{Code: "store_commit_failing", Severity: "failing", Since: since,
				Message: "the last 14999 store commits failed (the last at 2026-03-01T11:59:59Z): wal: write: no space left on device; no lease is acknowledged until a commit succeeds"},
			{Code: "reload_failed", Severity: "degraded", Since: since, Message: "reload of /etc/leased/leased.yaml failed"},
		}, 1, "leasectl: leased is not healthy: failing (store_commit_failing: the last 14999"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newBackend()
			b.health.Status, b.health.Reasons = tc.status, tc.reasons
			var ms []string
			for _, r := range tc.reasons {
				ms = append(ms, r.Code+": "+r.Message)
			}
			b.health.Message = strings.Join(ms, "; ")
			sock := serve(t, b)
			r := leasectl(t, nil, "--socket", sock, "health")
			if r.code != tc.code || !strings.HasPrefix(r.stderr, tc.stderr) || (tc.stderr == "") != (r.stderr == "") {
				t.Errorf("exit %d stderr %q, want %d %q", r.code, r.stderr, tc.code, tc.stderr)
			}
			golden(t, "health-"+tc.name, r.stdout)
			r = leasectl(t, nil, "--socket", sock, "--json", "health")
			var h api.Health
			if err := json.Unmarshal([]byte(r.stdout), &h); err != nil || r.code != tc.code || h.Status != tc.status || len(h.Reasons) != len(tc.reasons) {
				t.Errorf("--json: exit %d %v %s", r.code, err, r.stdout)
			}
		})
	}
}
