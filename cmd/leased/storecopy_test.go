package main

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/leased/leased/internal/pgtest"
	"github.com/leased/leased/lease"
	"github.com/leased/leased/store"
	"github.com/leased/leased/store/postgres"
	"github.com/leased/leased/store/wal"
)

// copyRecords: v4 and v6 records with every field set, a tombstone, and
// blobs (one overwritten, one deleted).
func copyRecords() ([]lease.Lease, []store.Blob) {
	t0 := time.Date(2026, 5, 1, 8, 0, 0, 987654321, time.UTC)
	var ls []lease.Lease
	for i := range 2500 { // more than one copy batch
		l := lease.Lease{
			Seq: uint64(i + 1), Addr: netip.AddrFrom4([4]byte{10, 20, byte(i >> 8), byte(i)}),
			ClientID: []byte{1, 2, 0, 0, byte(i >> 8), byte(i)}, HType: 1, HWAddr: []byte{2, 0, 0, 0, byte(i >> 8), byte(i)},
			Hostname: fmt.Sprintf("h%d", i), Pool: "a", Section: i % 2, State: lease.StateBound,
			Start: t0, T1: t0.Add(time.Minute), T2: t0.Add(2 * time.Minute), Expiry: t0.Add(time.Hour),
			XID: uint32(i) * 7, PrevXID: uint32(i), GIAddr: netip.MustParseAddr("192.0.2.9"), RelayInfo: []byte{1, 2, 3, byte(i)},
			ForceRenewNonceCapable: true, ReconfKey: []byte("0123456789abcdef"), ReplayCounter: uint64(i) << 40,
		}
		if i%3 == 0 { // DHCPv6: IA_NA, or a delegated prefix
			l.Addr = netip.AddrFrom16([16]byte{0xfd, 0x77, 12: byte(i >> 8), 13: byte(i), 15: 1})
			l.HType, l.HWAddr, l.PrevXID, l.Section = 0, nil, 0, -1
			l.GIAddr = netip.MustParseAddr("fe80::1")
			l.IAID, l.Preferred = uint32(i)+9, t0.Add(30*time.Minute)
			if i%2 == 0 {
				l.Addr = netip.AddrFrom16([16]byte{0xfd, 0x78, 4: byte(i >> 8), 5: byte(i)})
				l.PrefixLen = 56
			}
		}
		ls = append(ls, l)
	}
	bs := []store.Blob{
		{Kind: store.BlobServerDUID, Key: []byte("server-duid"), Value: []byte{0, 1, 0, 1, 9, 9, 9, 9}},
		{Kind: store.BlobReconf, Key: []byte("c1"), Value: []byte("one")},
		{Kind: store.BlobReconf, Key: []byte("c2"), Value: []byte("two")},
		{Kind: store.BlobReconf, Key: []byte("c1"), Value: []byte("one, later")},
		{Kind: store.BlobReconf, Key: []byte("c2")}, // deleted
	}
	return ls, bs
}

var cmpCopy = cmp.Options{cmpopts.EquateEmpty(), cmp.Comparer(func(a, b netip.Addr) bool { return a == b })}

func storeContents(t *testing.T, st store.Store) (map[netip.Addr]lease.Lease, []store.Blob) {
	t.Helper()
	m := map[netip.Addr]lease.Lease{}
	if err := st.Load(func(l lease.Lease) error { m[l.Addr] = l; return nil }); err != nil {
		t.Fatal(err)
	}
	var bs []store.Blob
	if err := st.LoadBlobs(func(b store.Blob) error {
		bs = append(bs, store.Blob{Kind: b.Kind, Key: bytes.Clone(b.Key), Value: bytes.Clone(b.Value)})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return m, bs
}

func runStore(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(append([]string{"store"}, args...), &out, &errb, nil)
	return code, out.String(), errb.String()
}

// TestStoreCopy: leases and blobs go from a real log directory to a real
// PostgreSQL and back unchanged; a non-empty destination is refused
// without --force.
func TestStoreCopy(t *testing.T) {
	ls, bs := copyRecords()
	dir := t.TempDir()
	walDir := filepath.Join(dir, "data")
	w, err := wal.Open(walDir, wal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := w.Commit(ctx, ls); err != nil {
		t.Fatal(err)
	}
	tomb := lease.Lease{Seq: 9999, Addr: ls[1].Addr, State: lease.StateDeleted}
	if err := w.Commit(ctx, []lease.Lease{tomb}); err != nil {
		t.Fatal(err)
	}
	if err := w.CommitBlobs(ctx, bs); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	w, err = wal.Open(walDir, wal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	wantLeases, wantBlobs := storeContents(t, w)
	w.Close()
	if len(wantLeases) != len(ls)-1 || len(wantBlobs) != 2 {
		t.Fatalf("log holds %d leases and %d blobs, want %d and 2", len(wantLeases), len(wantBlobs), len(ls)-1)
	}

	dsn := pgtest.DB(t)
	code, out, errs := runStore("copy", "--from", "wal:"+walDir, "--to", "postgres:"+dsn)
	if code != 0 {
		t.Fatalf("wal -> postgres: exit %d: %s", code, errs)
	}
	if want := fmt.Sprintf("copied %d leases and 2 blobs from wal:%s to postgres\n", len(wantLeases), walDir); out != want {
		t.Errorf("stdout %q, want %q", out, want)
	}
	if strings.Contains(out+errs, dsn) {
		t.Errorf("the DSN was printed: %q", out+errs)
	}
	pg, err := postgres.Open(ctx, dsn, postgres.Options{ServerName: "check", NoRegister: true})
	if err != nil {
		t.Fatal(err)
	}
	gotLeases, gotBlobs := storeContents(t, pg)
	pg.Close()
	if d := cmp.Diff(wantLeases, gotLeases, cmpCopy); d != "" {
		t.Errorf("leases in PostgreSQL (-log +postgres):\n%s", d)
	}
	if d := cmp.Diff(wantBlobs, gotBlobs, cmpCopy); d != "" {
		t.Errorf("blobs in PostgreSQL (-log +postgres):\n%s", d)
	}

	// Again into the same database: refused, then merged with --force.
	code, _, errs = runStore("copy", "--from", "wal:"+walDir, "--to", "postgres:"+dsn)
	if code != 1 || !strings.Contains(errs, "without --force") || strings.Contains(errs, dsn) {
		t.Errorf("copy into a non-empty database: exit %d %q", code, errs)
	}
	if code, _, errs = runStore("copy", "--from", "wal:"+walDir, "--to", "postgres:"+dsn, "--force"); code != 0 {
		t.Errorf("--force: exit %d %s", code, errs)
	}

	// Back: PostgreSQL to a new log directory.
	back := filepath.Join(dir, "back")
	if code, out, errs = runStore("copy", "--from", "postgres:"+dsn, "--to", "wal:"+back); code != 0 {
		t.Fatalf("postgres -> wal: exit %d: %s", code, errs)
	}
	if !strings.HasPrefix(out, fmt.Sprintf("copied %d leases and 2 blobs", len(wantLeases))) {
		t.Errorf("stdout %q", out)
	}
	w2, err := wal.Open(back, wal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	gotLeases, gotBlobs = storeContents(t, w2)
	w2.Close()
	if d := cmp.Diff(wantLeases, gotLeases, cmpCopy); d != "" {
		t.Errorf("leases copied back (-log +copy):\n%s", d)
	}
	if d := cmp.Diff(wantBlobs, gotBlobs, cmpCopy); d != "" {
		t.Errorf("blobs copied back (-log +copy):\n%s", d)
	}
	// And the log is not empty any more.
	if code, _, errs = runStore("copy", "--from", "postgres:"+dsn, "--to", "wal:"+back); code != 1 || !strings.Contains(errs, "without --force") {
		t.Errorf("copy into a non-empty log: exit %d %q", code, errs)
	}
}

// TestStoreCopyUsage: malformed invocations are refused before anything
// is opened.
func TestStoreCopyUsage(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{nil, 2, "usage: leased store copy"},
		{[]string{"move"}, 2, "usage"},
		{[]string{"copy", "--from", "wal:" + dir}, 2, "usage"},
		{[]string{"copy", "--from", "wal:" + dir, "--to", "wal:" + dir}, 2, "the same store"},
		{[]string{"copy", "--from", "mysql:x", "--to", "wal:" + dir + "/y"}, 1, "unknown store kind"},
		{[]string{"copy", "--from", "wal:" + dir + "/missing", "--to", "wal:" + dir + "/y"}, 1, "not a directory"},
		{[]string{"copy", "--from", "wal:" + dir, "--to", "postgres:host=x port=notaport"}, 1, "connection string"},
	} {
		code, _, errs := runStore(tc.args...)
		if code != tc.code || !strings.Contains(errs, tc.msg) {
			t.Errorf("%v: exit %d %q, want %d %q", tc.args, code, errs, tc.code, tc.msg)
		}
	}
}
