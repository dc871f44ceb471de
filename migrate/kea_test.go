package migrate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/leased/leased/config"
)

// checkOffline is what `leased --check --offline` runs on a file.
func checkOffline(t *testing.T, name string, y []byte) {
	t.Helper()
	if _, err := config.Parse(name, y); err != nil {
		t.Fatalf("%s: the converted configuration does not pass leased --check --offline:\n%v\n%s", name, err, y)
	}
}

func TestKeaExamples(t *testing.T) {
	files, _ := filepath.Glob("testdata/kea*.conf")
	js, _ := filepath.Glob("testdata/kea*.json")
	files = append(files, js...)
	if len(files) < 5 {
		t.Fatalf("testdata has %d Kea examples", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			r, err := FromKea(filepath.Base(f), src)
			if err != nil {
				t.Fatal(err)
			}
			checkOffline(t, f+".yaml", r.YAML)
			for _, it := range r.Skipped {
				if !strings.HasPrefix(it.Where, filepath.Base(f)+":") || lineOf(it.Where) < 1 {
					t.Errorf("report item without a source line: %v", it)
				}
			}
			if testing.Verbose() {
				t.Logf("\n%s", r.YAML)
				for _, it := range r.Skipped {
					t.Log(it)
				}
			}
		})
	}
}

func TestDhcpdExamples(t *testing.T) {
	files, _ := filepath.Glob("testdata/dhcpd*.conf")
	if len(files) < 4 {
		t.Fatalf("testdata has %d dhcpd examples", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			r, err := FromDhcpd(filepath.Base(f), src)
			if err != nil {
				t.Fatal(err)
			}
			if testing.Verbose() {
				t.Logf("\n%s", r.YAML)
				for _, it := range r.Skipped {
					t.Log(it)
				}
			}
			for _, it := range r.Skipped {
				if lineOf(it.Where) < 1 {
					t.Errorf("report item without a source line: %v", it)
				}
			}
			if strings.HasSuffix(f, "dhcpd.conf") {
				return // no subnet is declared (all commented out): nothing to check
			}
			checkOffline(t, f+".yaml", r.YAML)
		})
	}
}
