package main

import (
	"bytes"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/leased/leased/config"
	"github.com/leased/leased/lease"
	"github.com/leased/leased/lease6"
	"github.com/leased/leased/store/wal"
)

// The lease files in migrate/testdata were written by Kea 2.2 and dhcpd
// 4.4.3 on 2026-12-04 with one-day leases.
var importNow = time.Date(2026, 12, 4, 13, 0, 0, 0, time.UTC)

func importConfig(t *testing.T, v4subnet, sectionStart string) string {
	t.Helper()
	dir := t.TempDir()
	y := `data_dir: ` + filepath.Join(dir, "data") + `
dhcpv4:
  interfaces: [eth0]
  pools:
    - name: lan
      subnet: ` + v4subnet + `
      sections: [{index: 0, start: ` + sectionStart + `, end: 10.99.0.120}]
dhcpv6:
  interfaces: [eth0]
  pools:
    - name: lan6
      subnet: fd99::/64
      ranges: [{start: "fd99::100", end: "fd99::1ff"}]
      prefix_delegation: {prefix: "fd98::/48", length: 56}
`
	p := filepath.Join(dir, "leased.yaml")
	if err := os.WriteFile(p, []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func runImport(t *testing.T, cfg, from, file string, force bool) (int, string, string) {
	t.Helper()
	args := []string{"--from", from, "--config", cfg}
	if force {
		args = append(args, "--force")
	}
	args = append(args, file)
	var out, errb bytes.Buffer
	code := storeImport(args, &out, &errb, importNow)
	return code, out.String(), errb.String()
}

// restored loads the store of cfg into fresh engines, as leased does at
// start.
func restored(t *testing.T, cfgPath string) (*lease.Engine, *lease6.Engine) {
	t.Helper()
	c, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	st, err := wal.Open(c.DataDir, wal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	e4, err := lease.New(c.Lease())
	if err != nil {
		t.Fatal(err)
	}
	e6, err := lease6.New(c.Lease6())
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Load(func(l lease.Lease) error {
		if l.IsV6() {
			e6.Restore(l)
		} else {
			e4.Restore(l)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return e4, e6
}

const td = "../../migrate/testdata/"

func TestStoreImport(t *testing.T) {
	cfg := importConfig(t, "10.99.0.0/24", "10.99.0.100")
	if code, out, errb := runImport(t, cfg, "kea-csv", td+"kea-leases4.csv", false); code != 0 || !strings.Contains(out, "imported 25 leases") {
		t.Fatalf("kea v4: exit %d\n%s%s", code, out, errb)
	}
	if code, out, errb := runImport(t, cfg, "kea-csv", td+"kea-leases6.csv", false); code != 0 || !strings.Contains(out, "imported 50 leases") {
		t.Fatalf("kea v6: exit %d\n%s%s", code, out, errb)
	}
	if code, out, errb := runImport(t, cfg, "isc-dhcpd-leases", td+"dhcpd.leases", false); code != 0 || !strings.Contains(out, "imported 3 leases") {
		t.Fatalf("dhcpd: exit %d\n%s%s", code, out, errb)
	}
	// Importing the same file again conflicts with nothing.
	if code, out, errb := runImport(t, cfg, "kea-csv", td+"kea-leases4.csv", false); code != 0 {
		t.Fatalf("kea v4 again: exit %d\n%s%s", code, out, errb)
	}
	e4, e6 := restored(t, cfg)
	l, ok := e4.Lookup(netip.MustParseAddr("10.99.0.100"))
	if !ok || l.State != lease.StateBound || l.Pool != "lan" || l.Section != 0 || len(l.HWAddr) != 6 {
		t.Fatalf("10.99.0.100 after import: %+v %v", l, ok)
	}
	l, ok = e4.Lookup(netip.MustParseAddr("10.99.0.51"))
	if !ok || l.State != lease.StateBound || l.Hostname != "client-2" || l.Section != -1 {
		t.Fatalf("10.99.0.51 (dhcpd) after import: %+v %v", l, ok)
	}
	l, ok = e6.Lookup(netip.MustParseAddr("fd98::"))
	if !ok || l.State != lease.StateBound || l.PrefixLen != 56 || l.Pool != "lan6" {
		t.Fatalf("fd98::/56 after import: %+v %v", l, ok)
	}
	if got := len(e6.Leases(lease.Filter{Pool: "lan6"})); got != 50 {
		t.Fatalf("%d DHCPv6 bindings, want 50", got)
	}
}

func TestStoreImportConflicts(t *testing.T) {
	// 10.99.0.112/28: Kea's leases 10.99.0.100-111 are outside every
	// pool.
	cfg := importConfig(t, "10.99.0.112/28", "10.99.0.112")
	code, out, errb := runImport(t, cfg, "kea-csv", td+"kea-leases4.csv", false)
	if code != 1 || strings.Count(errb, "is outside every dhcpv4 pool") != 12 {
		t.Fatalf("exit %d, want 12 outside-pool conflicts\n%s%s", code, out, errb)
	}
	if e4, _ := restored(t, cfg); len(e4.Leases(lease.Filter{})) != 0 {
		t.Fatal("a refused import wrote leases")
	}
	code, out, errb = runImport(t, cfg, "kea-csv", td+"kea-leases4.csv", true)
	if code != 0 || !strings.Contains(out, "imported 13 leases") || !strings.Contains(out, "12 conflicts skipped") {
		t.Fatalf("--force: exit %d\n%s%s", code, out, errb)
	}
	e4, _ := restored(t, cfg)
	if n := len(e4.Leases(lease.Filter{})); n != 13 {
		t.Fatalf("--force imported %d leases, want the 13 inside 10.99.0.112/28", n)
	}

	// An address the store binds to another client, and a client the
	// store binds elsewhere.
	other := filepath.Join(t.TempDir(), "other.leases")
	os.WriteFile(other, []byte(`lease 10.99.0.112 { starts 5 2026/12/04 12:00:00; ends 6 2026/12/05 12:00:00; binding state active; hardware ethernet 52:54:00:aa:bb:cc; }
lease 10.99.0.125 { starts 5 2026/12/04 12:00:00; ends 6 2026/12/05 12:00:00; binding state active; hardware ethernet 00:0c:01:02:03:10; }
lease 10.99.0.126 { starts 5 2026/12/04 12:00:00; ends 6 2026/12/05 12:00:00; binding state active; hardware ethernet 52:54:00:aa:bb:dd; }
lease 10.99.0.127 { starts 5 2026/12/04 12:00:00; ends 6 2026/12/05 12:00:00; binding state active; hardware ethernet 52:54:00:aa:bb:dd; }
`), 0o644)
	code, _, errb = runImport(t, cfg, "isc-dhcpd-leases", other, false)
	for _, want := range []string{
		"other.leases:1: 10.99.0.112 is bound in the store to another client",
		"other.leases:2: the client of 10.99.0.125 already holds 10.99.0.112 in the store",
		"other.leases:4: the client of 10.99.0.127 also has an active lease at",
	} {
		if !strings.Contains(errb, want) {
			t.Errorf("missing %q in:\n%s", want, errb)
		}
	}
	if code != 1 {
		t.Fatalf("exit %d", code)
	}
}

// DHCPv6 leases of dhcpd -6 (migrate/testdata/dhcpd6.leases, written by
// dhcpd 4.4.3 for three dhclient -6 -N -P; the third released) with
// --from isc-dhcpd-leases, and their conflicts.
func TestStoreImportDhcpd6(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "leased.yaml")
	if err := os.WriteFile(cfg, []byte(`data_dir: `+filepath.Join(dir, "data")+`
dhcpv6:
  interfaces: [eth0]
  pools:
    - name: lan6
      subnet: fd99::/64
      ranges: [{start: "fd99::50", end: "fd99::5f"}]
      prefix_delegation: {prefix: "fd98::/48", length: 56}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	now := importNow.Add(time.Hour) // after the leases were written
	run := func(file string, force bool) (int, string, string) {
		args := []string{"--from", "isc-dhcpd-leases", "--config", cfg}
		if force {
			args = append(args, "--force")
		}
		var out, errb bytes.Buffer
		code := storeImport(append(args, file), &out, &errb, now)
		return code, out.String(), errb.String()
	}
	if code, out, errb := run(td+"dhcpd6.leases", false); code != 0 || !strings.Contains(out, "imported 4 leases") {
		t.Fatalf("dhcpd6: exit %d\n%s%s", code, out, errb)
	}
	_, e6 := restored(t, cfg)
	l, ok := e6.Lookup(netip.MustParseAddr("fd99::59"))
	if !ok || l.State != lease.StateBound || l.Pool != "lan6" || l.IAID != 0x00990602 || len(l.ClientID) != 10 {
		t.Fatalf("fd99::59 after import: %+v %v", l, ok)
	}
	l, ok = e6.Lookup(netip.MustParseAddr("fd98:0:0:ff00::"))
	if !ok || l.PrefixLen != 56 || l.IAID != 0x00990601 {
		t.Fatalf("fd98:0:0:ff00::/56 after import: %+v %v", l, ok)
	}
	if _, ok := e6.Lookup(netip.MustParseAddr("fd99::5e")); ok {
		t.Fatal("the released fd99::5e was imported")
	}

	// fd99::56 is bound in the store to the first client; fd97::1 is in
	// no pool.
	other := filepath.Join(dir, "other6.leases")
	os.WriteFile(other, []byte(`authoring-byte-order little-endian;
ia-na "\007\000\000\000\000\003\000\001RT\000\252\273\314" { cltt 5 2026/12/04 13:30:00;
  iaaddr fd99::56 { binding state active; preferred-life 3000; max-life 86400; ends 6 2026/12/05 13:30:00; } }
ia-na "\010\000\000\000\000\003\000\001RT\000\252\273\315" { cltt 5 2026/12/04 13:30:00;
  iaaddr fd97::1 { binding state active; preferred-life 3000; max-life 86400; ends 6 2026/12/05 13:30:00; } }
ia-na "\011\000\000\000\000\003\000\001RT\000\252\273\316" { cltt 5 2026/12/04 13:30:00;
  iaaddr fd99::5a { binding state active; preferred-life 3000; max-life 86400; ends 6 2026/12/05 13:30:00; } }
`), 0o644)
	code, out, errb := run(other, false)
	for _, want := range []string{"other6.leases:3: fd99::56 is bound in the store to another client", "other6.leases:5: fd97::1 is outside every dhcpv6 pool"} {
		if !strings.Contains(errb, want) {
			t.Errorf("missing %q in:\n%s", want, errb)
		}
	}
	if code != 1 {
		t.Fatalf("exit %d\n%s%s", code, out, errb)
	}
	if code, out, errb := run(other, true); code != 0 || !strings.Contains(out, "imported 1 leases") {
		t.Fatalf("--force: exit %d\n%s%s", code, out, errb)
	}
}
