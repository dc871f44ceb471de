package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/leased/leased/internal/netns"
)

// Binaries built once per test run by TestMain.
var (
	binDir      string
	leasedBin   string
	leasectlBin string
	buildErr    error
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	var err error
	binDir, err = os.MkdirTemp("", "leased-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(binDir)
	leasedBin = filepath.Join(binDir, "leased")
	leasectlBin = filepath.Join(binDir, "leasectl")
	if dir := os.Getenv("LEASED_E2E_BIN"); dir != "" {
		// Prebuilt binaries (e.g. from another checkout) instead of
		// building this one.
		leasedBin = filepath.Join(dir, "leased")
		leasectlBin = filepath.Join(dir, "leasectl")
		return m.Run()
	}
	buildErr = build()
	return m.Run()
}

// build compiles the two commands from the module root (the parent of
// this package's directory).
func build() error {
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	root := filepath.Dir(wd)
	gobin, err := exec.LookPath("go")
	if err != nil {
		gobin = "/usr/local/go/bin/go"
	}
	var errs []string
	for _, c := range []struct{ out, pkg string }{{leasedBin, "./cmd/leased"}, {leasectlBin, "./cmd/leasectl"}} {
		cmd := exec.Command(gobin, "build", "-o", c.out, c.pkg)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			errs = append(errs, fmt.Sprintf("go build %s: %v\n%s", c.pkg, err, out))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "\n"))
	}
	return nil
}

// requireEnv stops a test that cannot run here: not root or a tool
// missing skips with the reason outside CI and fails under CI; a failed
// build of leased/leasectl always fails.
func requireEnv(t *testing.T, tools ...string) {
	t.Helper()
	netns.Require(t, tools...)
	if buildErr != nil {
		t.Fatalf("building the binaries failed:\n%v", buildErr)
	}
}
