package buildinfo

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
)

func TestFromBuildInfo(t *testing.T) {
	stamped := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/leased/leased", Version: "v0.0.0-20261204125900-17496e8abcde+dirty"},
		Settings: []debug.BuildSetting{
			{Key: "vcs", Value: "git"},
			{Key: "vcs.revision", Value: "17496e8abcdef0123456789abcdef0123456789a"},
			{Key: "vcs.time", Value: "2026-12-04T12:59:00Z"},
			{Key: "vcs.modified", Value: "true"},
		}}
	for _, tc := range []struct {
		name     string
		bi       *debug.BuildInfo
		override string
		want     Info
		str      string
	}{
		{"stamped", stamped, "", Info{Version: "v0.0.0-20261204125900-17496e8abcde+dirty", Revision: "17496e8abcdef0123456789abcdef0123456789a",
			Time: "2026-12-04T12:59:00Z", Modified: true, GoVersion: "go1.26.8"},
			"v0.0.0-20261204125900-17496e8abcde+dirty (revision 17496e8abcde-dirty, 2026-12-04T12:59:00Z, go1.26.8)"},
		{"ldflags wins", stamped, "v1.2.0", Info{Version: "v1.2.0", Revision: "17496e8abcdef0123456789abcdef0123456789a",
			Time: "2026-12-04T12:59:00Z", Modified: true, GoVersion: "go1.26.8"},
			"v1.2.0 (revision 17496e8abcde-dirty, 2026-12-04T12:59:00Z, go1.26.8)"},
		{"go test", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}}, "",
			Info{Version: "devel", GoVersion: "go1.26.8"}, "devel (go1.26.8)"},
	} {
		got := fromBuildInfo(tc.bi, tc.override)
		if got != tc.want {
			t.Errorf("%s: got %+v, want %+v", tc.name, got, tc.want)
		}
		if s := got.String(); s != tc.str {
			t.Errorf("%s: String %q, want %q", tc.name, s, tc.str)
		}
	}
}

// TestBuiltBinary builds a program printing Get() in this checkout, once
// plainly and once with the Makefile's -ldflags -X: the first carries the
// checkout's git revision, the second the given version.
func TestBuiltBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds binaries")
	}
	git, err := exec.LookPath("git")
	if err != nil {
		t.Skip("git not installed: no VCS stamp to check")
	}
	out, err := exec.Command(git, "rev-parse", "HEAD").Output()
	if err != nil {
		t.Skipf("not in a git checkout: %v", err)
	}
	head := strings.TrimSpace(string(out))
	dir := t.TempDir()
	main := filepath.Join("testdata", "printinfo")
	bin := filepath.Join(dir, "printinfo")
	build := func(args ...string) string {
		t.Helper()
		// -buildvcs=true: GOFLAGS may turn the stamp off (the Makefile
		// passes -buildvcs=auto for the same reason).
		cmd := exec.Command("go", append(append([]string{"build", "-buildvcs=true", "-o", bin}, args...), "./"+main)...)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build %v: %v\n%s", args, err, b)
		}
		b, err := exec.Command(bin).Output()
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}
	plain := build()
	if !strings.Contains(plain, "revision="+head) || strings.Contains(plain, "version=devel ") {
		t.Errorf("plain build: %s; want revision=%s and a stamped version", plain, head)
	}
	rel := build("-ldflags", "-X github.com/leased/leased/internal/buildinfo.version=v9.8.7-test")
	if !strings.HasPrefix(rel, "version=v9.8.7-test ") || !strings.Contains(rel, "revision="+head) {
		t.Errorf("-ldflags build: %s; want version=v9.8.7-test and revision=%s", rel, head)
	}
	if _, err := os.Stat(main); err != nil {
		t.Fatal(err)
	}
}
