package e2e

import (
	"context"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"testing"
	"time"
)

// TestDemoScript runs scripts/demo.sh — the README's main command after
// make build — with this test's binaries, so a change that breaks the demo
// fails make test (as the interface check in --check once did). The script
// makes and removes its own namespaces and stops what it starts.
func TestDemoScript(t *testing.T) {
	requireEnv(t, "dhcpcd", "dhclient", "udhcpc", "unshare")
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Dir(filepath.Dir(file))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(root, "scripts", "demo.sh"))
	cmd.Dir = root
	cmd.Env = append(cmd.Environ(), "LEASED_BIN="+filepath.Dir(leasedBin))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("scripts/demo.sh: %v\n%s", err, out)
	}
	// What the demo promises to show: every client bound, the v4 campaign
	// renewing dhcpcd with the new DNS, the v6 Reconfigure doing the same.
	for _, want := range []string{
		`dhcpcd: +\S+ BOUND ip=10\.77\.`,
		`dhclient: +\S+ BOUND ip=10\.77\.`,
		`udhcpc: +\S+ bound ip=10\.77\.`,
		`dhcpcd: +\S+ RENEW ip=10\.77\.\S+ router=10\.77\.0\.1 dns=10\.77\.0\.53`,
		`dhcpcd6: +\S+ BOUND6 addr=fd77::`,
		`dhcpcd6: +\S+ RENEW6 addr=fd77::\S+ prefix=fd77:100::/56 dns=fd77::53`,
	} {
		if !regexp.MustCompile(want).Match(out) {
			t.Errorf("demo output lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("demo output:\n%s", out)
	}
}
