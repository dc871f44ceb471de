package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"testing"
	"time"

	"github.com/leased/leased/internal/pgtest"
)

// TestDemoClusterScript runs scripts/demo-cluster.sh (`make
// demo-cluster`) with this test's binaries: two servers on one private
// PostgreSQL, three dhcpcd, one server killed with SIGKILL, every client
// keeps its address through the other, which takes over the dead
// server's blocks, and the FORCERENEW campaign the dead server led
// finishes on the survivor with every client renewed. The script makes and removes its own
// namespaces and database and stops what it starts by PID.
func TestDemoClusterScript(t *testing.T) {
	requireEnv(t, "dhcpcd", "unshare", "setsid", "setpriv")
	if _, err := pgtest.Bin(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%v (CI is set: not skipping)", err)
		}
		t.Skipf("skipping: %v", err)
	}
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Dir(filepath.Dir(file))
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(root, "scripts", "demo-cluster.sh"))
	cmd.Dir = root
	cmd.Env = append(cmd.Environ(), "LEASED_BIN="+filepath.Dir(leasedBin))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("scripts/demo-cluster.sh: %v\n%s", err, out)
	}
	for _, want := range []string{
		`c0: \S+ BOUND ip=10\.77\.1\.\d+ server=10\.77\.0\.[12]`,
		`c1: \S+ BOUND ip=10\.77\.1\.\d+ server=10\.77\.0\.[12]`,
		`c2: \S+ BOUND ip=10\.77\.1\.\d+ server=10\.77\.0\.[12]`,
		`c\d: bound (10\.77\.1\.\d+) at first; now: \S+ (RENEW|REBIND) ip=10\.77\.1\.\d+ server=10\.77\.0\.[12]`,
		`no client lost its address`,
		`(?m)^[ab] +dead +\S+ ago +2 +0 +0 `, // the victim: dead, fenced (epoch 2), no blocks left
		`progress: +3/3 done .*renewed 3 `,
		`campaign \d+ survived the failover: finished on [ab]`,
		`demo-cluster: done`,
	} {
		if !regexp.MustCompile(want).Match(out) {
			t.Errorf("demo output lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("demo output:\n%s", out)
	}
}
