package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// missingIfaceConfig is validConfig with a DHCPv4 interface and a DHCPv6
// section whose interfaces do not exist on any host.
func missingIfaceConfig(dir string) string {
	return strings.Replace(validConfig(dir, "a"), "interfaces: [lo]", "interfaces: [lo, nosuch4x0]", 1) + `dhcpv6:
  interfaces: [nosuch6x0]
  port: 0
  pools:
    - name: v6
      subnet: fd77::/64
      ranges:
        - {start: "fd77::100", end: "fd77::1ff"}
`
}

// TestCheckInterfaces: --check names every configured interface this host
// lacks, with file, line and field, and --check --offline skips the host.
func TestCheckInterfaces(t *testing.T) {
	dir := t.TempDir()
	p := writeConfig(t, dir, missingIfaceConfig(dir))
	var out, errb bytes.Buffer
	if code := run([]string{"--config", p, "--check"}, &out, &errb, nil); code != 1 {
		t.Fatalf("--check exit %d for missing interfaces; stdout %q stderr %q", code, out.String(), errb.String())
	}
	if out.Len() != 0 {
		t.Errorf("stdout %q for missing interfaces", out.String())
	}
	for _, want := range []string{
		p + `:5: dhcpv4.interfaces[1]: no network interface "nosuch4x0" on this host`,
		p + `:14: dhcpv6.interfaces[0]: no network interface "nosuch6x0" on this host`,
		"--offline",
	} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, errb.String())
		}
	}
	if strings.Contains(errb.String(), `"lo"`) {
		t.Errorf("the existing interface lo is reported:\n%s", errb.String())
	}

	out.Reset()
	errb.Reset()
	if code := run([]string{"--config", p, "--check", "--offline"}, &out, &errb, nil); code != 0 || out.String() != "config OK (offline: interfaces not checked)\n" {
		t.Errorf("--check --offline: exit %d stdout %q stderr %q", code, out.String(), errb.String())
	}
	errb.Reset()
	if code := run([]string{"--config", p, "--offline"}, &out, &errb, nil); code != 2 || !strings.Contains(errb.String(), "--offline") {
		t.Errorf("--offline without --check: exit %d stderr %q", code, errb.String())
	}
}

// TestStartMissingInterface: leased refuses to start before it creates
// the data directory or opens the store, naming the interface.
func TestStartMissingInterface(t *testing.T) {
	dir := t.TempDir()
	p := writeConfig(t, dir, strings.Replace(validConfig(dir, "a"), "interfaces: [lo]", "interfaces: [nosuch4x0]", 1))
	var out, errb bytes.Buffer
	if code := run([]string{"--config", p}, &out, &errb, nil); code != 1 {
		t.Fatalf("exit %d; stderr %s", code, errb.String())
	}
	if want := p + `:5: dhcpv4.interfaces[0]: no network interface "nosuch4x0" on this host`; !strings.Contains(errb.String(), want) {
		t.Errorf("stderr lacks %q:\n%s", want, errb.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "data")); !os.IsNotExist(err) {
		t.Errorf("data dir touched before the interface check: %v", err)
	}
}
