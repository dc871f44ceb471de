package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/leased/leased/internal/buildinfo"
)

func TestVersion(t *testing.T) {
	b := newBackend()
	b.health.Version, b.health.Revision = "v1.4.0", "17496e8abcde-dirty"
	sock := serve(t, b)
	r := leasectl(t, nil, "--socket", sock, "version")
	want := "leasectl " + buildinfo.Get().String() + "\nleased   v1.4.0 (revision 17496e8abcde-dirty)\n"
	if r.code != 0 || r.stdout != want {
		t.Errorf("version: exit %d, stdout %q, want %q (stderr %q)", r.code, r.stdout, want, r.stderr)
	}
	r = leasectl(t, nil, "--socket", sock, "--json", "version")
	var v versionJSON
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil || r.code != 0 {
		t.Fatalf("version --json: exit %d, %v: %s", r.code, err, r.stdout)
	}
	if v.Server == nil || v.Server.Version != "v1.4.0" || v.Server.Revision != "17496e8abcde-dirty" || v.Client.Version == "" || v.Client.GoVersion == "" {
		t.Errorf("version --json: %+v", v)
	}
	// --client does not ask leased; without it an unreachable leased is
	// an error (exit 1) after leasectl's own line.
	r = leasectl(t, nil, "--socket", sock+".missing", "version", "--client")
	if r.code != 0 || strings.Contains(r.stdout, "leased ") || !strings.HasPrefix(r.stdout, "leasectl ") {
		t.Errorf("version --client: exit %d, stdout %q", r.code, r.stdout)
	}
	r = leasectl(t, nil, "--socket", sock+".missing", "version")
	if r.code != 1 || !strings.HasPrefix(r.stdout, "leasectl ") || r.stderr == "" {
		t.Errorf("version, leased unreachable: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}
