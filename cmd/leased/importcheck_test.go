package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/leased/leased/migrate"
)

// The configurations leasectl import writes from the real Kea 2.2 and ISC
// dhcpd example files pass `leased --check --offline`.
func TestImportedConfigsCheck(t *testing.T) {
	files, _ := filepath.Glob("../../migrate/testdata/*")
	n := 0
	for _, f := range files {
		base := filepath.Base(f)
		var conv func(string, []byte) (*migrate.Result, error)
		switch {
		case strings.HasSuffix(base, ".csv") || strings.HasSuffix(base, ".leases") || strings.HasSuffix(base, ".sh") || strings.HasSuffix(base, ".md"):
			continue // lease files, scripts
		case strings.HasPrefix(base, "kea"):
			conv = migrate.FromKea
		case strings.HasPrefix(base, "dhcpd") && base != "dhcpd.conf": // dhcpd.conf declares no subnet
			conv = migrate.FromDhcpd
		default:
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		r, err := conv(base, src)
		if err != nil {
			t.Fatalf("%s: %v", base, err)
		}
		p := filepath.Join(t.TempDir(), base+".yaml")
		if err := os.WriteFile(p, r.YAML, 0o644); err != nil {
			t.Fatal(err)
		}
		var out, errb bytes.Buffer
		if code := run([]string{"--config", p, "--check", "--offline"}, &out, &errb, nil); code != 0 {
			t.Errorf("%s: leased --check --offline exit %d: %s%s\n%s", base, code, out.String(), errb.String(), r.YAML)
		}
		n++
	}
	if n < 10 {
		t.Fatalf("only %d converted examples checked", n)
	}
}
