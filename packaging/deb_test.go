// Package packaging builds leased's Debian package (mkdeb.sh, make deb)
// and man pages (genman); its test builds the package and installs it
// into a throwaway root.
package packaging

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func need(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s not found (CI)", tool)
			}
			t.Skipf("%s not found: not a Debian system", tool)
		}
	}
}

func run(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestDeb: make deb's script builds a package whose metadata and contents
// are right; dpkg installs it into a throwaway root (never this machine's
// root) with its maintainer scripts; the installed leased reports the
// version and accepts the example configuration; the man pages render
// and name every flag of leased --help; the installed unit passes
// systemd-analyze verify including its man: Documentation= targets; and
// removal keeps the edited configuration (a conffile).
func TestDeb(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binaries (about a minute)")
	}
	need(t, "dpkg-deb", "dpkg", "man")
	dir := t.TempDir()
	const version = "1.2.3~test1"
	deb := strings.TrimSpace(run(t, []string{"VERSION=v" + version}, "./mkdeb.sh", filepath.Join(dir, "out")))
	if filepath.Base(deb) != "leased_"+version+"_"+strings.TrimSpace(run(t, nil, "dpkg", "--print-architecture"))+".deb" {
		t.Fatalf("package name %s", deb)
	}
	info := run(t, nil, "dpkg-deb", "--info", deb)
	for _, want := range []string{"Package: leased", "Version: " + version, "conffiles", "postinst", "Depends: procps"} {
		if !strings.Contains(info, want) {
			t.Errorf("dpkg-deb --info lacks %q:\n%s", want, info)
		}
	}
	contents := run(t, nil, "dpkg-deb", "--contents", deb)
	for _, want := range []string{"root/root", "./usr/sbin/leased", "./usr/bin/leasectl", "./lib/systemd/system/leased.service",
		"./etc/leased/leased.yaml", "./usr/share/man/man8/leased.8.gz", "./usr/share/man/man1/leasectl.1.gz",
		"./usr/share/doc/leased/operator-guide.md"} {
		if !strings.Contains(contents, want) {
			t.Errorf("dpkg-deb --contents lacks %q:\n%s", want, contents)
		}
	}

	// Install into a throwaway root: its own dpkg database; the
	// maintainer scripts run outside a chroot with DPKG_ROOT set, which
	// they honour (no systemctl on this host).
	root := filepath.Join(dir, "root")
	for _, d := range []string{"var/lib/dpkg/info", "var/lib/dpkg/updates", "var/log"} {
		os.MkdirAll(filepath.Join(root, d), 0o755)
	}
	for _, f := range []string{"var/lib/dpkg/status", "var/lib/dpkg/available"} {
		os.WriteFile(filepath.Join(root, f), nil, 0o644)
	}
	dpkg := []string{"--root=" + root, "--force-script-chrootless", "--log=/dev/null"}
	// The throwaway root has no packages, so the dependency on procps
	// (/bin/kill for ExecReload) cannot be met here: dpkg must name it and
	// is told to go on. scripts/deb-systemd-check.sh installs with it met
	// on a real Debian 12 under systemd.
	out := run(t, nil, "dpkg", append(dpkg, "--force-depends", "-i", deb)...)
	if !strings.Contains(out, "leased depends on procps") {
		t.Errorf("dpkg -i in an empty root did not report the procps dependency:\n%s", out)
	}
	if !strings.Contains(out, "Setting up leased ("+version+")") {
		t.Fatalf("dpkg -i:\n%s", out)
	}
	if st := run(t, nil, "dpkg", append(dpkg, "-s", "leased")...); !strings.Contains(st, "Status: install ok installed") {
		t.Fatalf("dpkg -s:\n%s", st)
	}
	leased := filepath.Join(root, "usr/sbin/leased")
	if v := run(t, nil, leased, "--version"); !strings.Contains(v, version) {
		t.Errorf("installed leased --version: %q, want %s", v, version)
	}
	cfg := filepath.Join(root, "etc/leased/leased.yaml")
	if out := run(t, nil, leased, "--config", cfg, "--check", "--offline"); !strings.Contains(out, "config OK") {
		t.Errorf("--check --offline of the example config: %q", out)
	}
	page := run(t, []string{"MANWIDTH=200"}, "man", "-l", filepath.Join(root, "usr/share/man/man8/leased.8.gz"))
	help, _ := exec.Command(leased, "--help").CombinedOutput()
	n := 0
	for _, l := range strings.Split(string(help), "\n") {
		if f, ok := strings.CutPrefix(l, "  -"); ok {
			name, _, _ := strings.Cut(f, " ")
			n++
			if !strings.Contains(page, "--"+name) {
				t.Errorf("leased.8 lacks --%s", name)
			}
		}
	}
	if n < 5 {
		t.Errorf("leased --help listed %d flags:\n%s", n, help)
	}
	ctl := run(t, []string{"MANWIDTH=200"}, "man", "-l", filepath.Join(root, "usr/share/man/man1/leasectl.1.gz"))
	for _, want := range []string{"leasectl leases", "leasectl forcerenew start", "leasectl reconfigure", "--socket"} {
		if !strings.Contains(ctl, want) {
			t.Errorf("leasectl.1 lacks %q", want)
		}
	}
	if _, err := exec.LookPath("systemd-analyze"); err == nil {
		// The installed unit, pointed at the installed binary; man:
		// targets looked up in the installed pages.
		b, _ := os.ReadFile(filepath.Join(root, "lib/systemd/system/leased.service"))
		if !strings.Contains(string(b), "ExecStart=/usr/sbin/leased ") {
			t.Errorf("installed unit does not run /usr/sbin/leased:\n%s", b)
		}
		unit := filepath.Join(dir, "unit", "leased.service")
		os.MkdirAll(filepath.Dir(unit), 0o755)
		os.WriteFile(unit, []byte(strings.ReplaceAll(string(b), "/usr/sbin/leased", leased)), 0o644)
		if out, err := exec.Command("env", "MANPATH="+filepath.Join(root, "usr/share/man"), "systemd-analyze", "verify", unit).CombinedOutput(); err != nil || len(out) > 0 {
			t.Errorf("systemd-analyze verify of the installed unit: %v\n%s", err, out)
		}
	}

	// Remove: files gone, the configuration (a conffile) kept.
	run(t, nil, "dpkg", append(dpkg, "-r", "leased")...)
	if _, err := os.Stat(leased); !os.IsNotExist(err) {
		t.Errorf("leased still installed after dpkg -r: %v", err)
	}
	if _, err := os.Stat(cfg); err != nil {
		t.Errorf("dpkg -r removed the configuration: %v", err)
	}

	// The same package on a clean Debian 12 booted with systemd as PID 1
	// (issue #14: "installs and starts on a clean Debian 12 in a test"):
	// scripts/deb-systemd-check.sh debootstraps a minimal bookworm from
	// the apt mirror (Debian packages only, 1-3 minutes), boots it with
	// systemd-nspawn --private-network (only the container's loopback is
	// served), installs the package, and checks Type=notify start, a
	// dynamic uid, leasectl health, reload, stop and removal.
	t.Run("systemd", func(t *testing.T) {
		if os.Getuid() != 0 {
			if os.Getenv("CI") != "" {
				t.Fatal("needs root (debootstrap, systemd-nspawn)")
			}
			t.Skip("needs root (debootstrap, systemd-nspawn)")
		}
		need(t, "debootstrap", "systemd-nspawn", "nsenter")
		cmd := exec.Command("../scripts/deb-systemd-check.sh")
		cmd.Env = append(os.Environ(), "DEB="+deb)
		out, err := cmd.CombinedOutput()
		t.Logf("%s", out)
		if err != nil {
			t.Fatalf("scripts/deb-systemd-check.sh: %v", err)
		}
		if !strings.Contains(string(out), "OK: installed, started (Type=notify, active running)") {
			t.Fatal("the check did not reach its end")
		}
	})
}
