package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/leased/leased/internal/netns"
)

// TestNullServer6 runs every DHCPv6 scenario the null server can answer
// over loopback: leasebench's own ceiling path, the relay encapsulation and
// the Relay-reply matching.
func TestNullServer6(t *testing.T) {
	if testing.Short() {
		t.Skip("uses loopback sockets")
	}
	for _, tc := range []struct {
		scenario string
		args     []string
	}{
		{"solicit", nil},
		{"solicit", []string{"--rapid-commit", "--ia", "both"}},
		{"renew", []string{"--ia", "pd"}},
		{"release", nil},
	} {
		t.Run(tc.scenario+strings.Join(tc.args, ""), func(t *testing.T) {
			var out, errb strings.Builder
			js := filepath.Join(t.TempDir(), "r.json")
			args := append([]string{"-6", "--null", "--clients", "100", "--count", "500", "--duration", "0",
				"--sockets", "2", "--quiet", "--json", js}, tc.args...)
			code := run(t.Context(), append(args, tc.scenario), &out, &errb)
			if code != 0 {
				t.Fatalf("exit %d\n%s%s", code, out.String(), errb.String())
			}
			var r Result
			b, _ := os.ReadFile(js)
			if err := json.Unmarshal(b, &r); err != nil {
				t.Fatal(err)
			}
			checkAll(t, r, 500)
			if r.Family != 6 || r.BytesPerClient < 100 || r.Dropped != 0 {
				t.Errorf("family %d, %d B per client, %d replies dropped", r.Family, r.BytesPerClient, r.Dropped)
			}
		})
	}
}

// TestFlags6 checks the DHCPv6 flag refusals, before any socket is opened.
func TestFlags6(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--family", "5", "solicit"}, 2, "want 4 or 6"},
		{[]string{"-6", "--server6", "127.0.0.1:547", "solicit"}, 2, "--server6"},
		{[]string{"-6", "--link", "10.0.0.1", "solicit"}, 2, "--link"},
		{[]string{"-6", "dora"}, 1, "unknown DHCPv6 scenario"},
		{[]string{"-6", "--ia", "ta", "solicit"}, 1, "--ia"},
		{[]string{"-6", "--iface", "lo", "solicit"}, 1, "DHCPv4 only"},
		{[]string{"-6", "--null", "reconfigure"}, 1, "needs leased"},
	} {
		var out, errb strings.Builder
		code := run(t.Context(), append([]string{"--quiet"}, tc.args...), &out, &errb)
		if code != tc.code || !strings.Contains(errb.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q, want %d and %q", tc.args, code, errb.String(), tc.code, tc.want)
		}
	}
}

// smokeConfig6 serves DHCPv4 as smokeConfig does and DHCPv6 to relays on
// loopback: leasebench's default link-address fd77::1 selects pool bench6.
const smokeConfig6 = smokeConfig + `dhcpv6:
  interfaces: [lo]
  rapid_commit: true
  pools:
    - name: bench6
      subnet: fd77::/64
      dns: [fd77::1]
      ranges: [{start: "fd77::1:0", end: "fd77::1:ffff"}]
      prefix_delegation: {prefix: "fd77:100::/40", length: 56}
`

// TestSmoke6 runs every DHCPv6 scenario against leased in a namespace:
// leasebench relays to [::1]:547 from unprivileged ports (RFC 8357), and
// every exchange must complete.
func TestSmoke6(t *testing.T) {
	if testing.Short() {
		t.Skip("smoke test needs leased, root and a network namespace (-short)")
	}
	netns.Require(t, "ip", "ss")
	buildBins(t)
	top := netns.New(t)
	s := &smoke{t: t, ns: top.Server, dir: top.Dir}
	s.startLeased(smokeConfig6)
	common := []string{"-6", "--clients", "200", "--count", "400", "--duration", "0", "--timeout", "1s", "--window", "32", "--retries", "2"}
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"solicit", []string{"--rate", "2000", "solicit"}},
		{"solicit-pd-rapid", []string{"--ia", "both", "--rapid-commit", "solicit"}},
		{"renew", []string{"--ia", "both", "renew"}},
		{"release", []string{"release"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := s.bench(append(append([]string{}, common...), tc.args...)...)
			checkAll(t, r, 400)
			if r.Family != 6 || r.Dropped != 0 {
				t.Errorf("family %d, %d replies dropped", r.Family, r.Dropped)
			}
			t.Logf("%s: %.0f/s p50 %.3f ms", tc.name, r.AchievedRate, r.LatencyMs.P50)
		})
	}
	// The reconfigure storm: every client verifies leased's HMAC-MD5 with
	// the key of its Reply and renews; through one campaign, and through
	// one POST /v1/leases/{addr}/reconfigure per client.
	for _, via := range []string{"lease", "campaign"} {
		t.Run("reconfigure-"+via, func(t *testing.T) {
			r := s.bench("-6", "--clients", "100", "--duration", "15s", "--pool", "bench6", "--timeout", "1s", "--via", via, "reconfigure")
			checkAll(t, r, 100)
			if r.PrepareSeconds <= 0 || r.ForceRenewMethod == "" || strings.Contains(r.ForceRenewMethod, "fail") && !strings.Contains(r.ForceRenewMethod, "(0 failed)") {
				t.Errorf("prepare %.2f s, method %q", r.PrepareSeconds, r.ForceRenewMethod)
			}
			t.Logf("reconfigure storm via %s: %d clients in %.2f s, p99 %.1f ms", via, r.Completed, r.Seconds, r.LatencyMs.P99)
		})
	}
}
