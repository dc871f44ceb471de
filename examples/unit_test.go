// Package examples holds the example configuration and systemd unit; its
// tests check them with the tools that consume them.
package examples

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// needTool skips without the tool, or fails under CI (the project's rule).
func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s not found (CI)", name)
		}
		t.Skipf("%s not found: systemd is not installed here", name)
	}
	return p
}

// unitCopy writes the unit with its ExecStart binary replaced by a leased
// built for the test (verify checks that the commands exist).
func unitCopy(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "leased")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/leased").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	b, err := os.ReadFile("leased.service")
	if err != nil {
		t.Fatal(err)
	}
	unit := filepath.Join(dir, "leased.service")
	if err := os.WriteFile(unit, []byte(strings.ReplaceAll(string(b), "/usr/local/sbin/leased", bin)), 0o644); err != nil {
		t.Fatal(err)
	}
	return unit
}

// TestUnitVerify: systemd-analyze verify accepts the unit (no unknown
// setting, commands exist). Man pages are checked where the Debian package
// installs them (TestDeb in packaging/).
func TestUnitVerify(t *testing.T) {
	sa := needTool(t, "systemd-analyze")
	out, err := exec.Command(sa, "verify", "--man=no", unitCopy(t)).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}

var exposure = regexp.MustCompile(`Overall exposure level for leased.service: ([0-9.]+) (\w+)`)

// TestUnitSecurity: systemd-analyze security rates the unit OK or better
// (it rated 6.5 MEDIUM when leased ran as root).
func TestUnitSecurity(t *testing.T) {
	sa := needTool(t, "systemd-analyze")
	out, err := exec.Command(sa, "security", "--offline=yes", "--no-pager", unitCopy(t)).CombinedOutput()
	m := exposure.FindSubmatch(out)
	if m == nil {
		t.Fatalf("systemd-analyze security: %v\n%s", err, out)
	}
	score, _ := strconv.ParseFloat(string(m[1]), 64)
	t.Logf("systemd-analyze security: %s %s", m[1], m[2])
	switch string(m[2]) {
	case "PERFECT", "SAFE", "OK":
	default:
		t.Errorf("exposure %.1f %s, want OK or better\n%s", score, m[2], out)
	}
	if !strings.Contains(string(out), "✓ User=/DynamicUser=") {
		t.Errorf("not run as an unprivileged user:\n%s", out)
	}
}
