package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
