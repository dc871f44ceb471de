package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/leased/leased/internal/pgtest"
	"github.com/leased/leased/store"
	"github.com/leased/leased/store/wal"
)

// TestStoreDumpPostgres: `leased store dump --dsn` reads a real
// PostgreSQL (internal/pgtest) while nothing else holds it and prints the
// same leases and blobs as the dump of the log they were copied from
// (JSON lines compared; blob order may differ), a runtime reservation
// with its JSON; the table names the store's rows; the DSN is never
// printed; a database that does not exist is an error naming it.
func TestStoreDumpPostgres(t *testing.T) {
	ls, bs := copyRecords()
	bs = append(bs, store.Blob{Kind: store.BlobReservation, Key: append([]byte{4}, "10.20.9.9"...),
		Value: []byte(`{"family":4,"address":"10.20.9.9","hwaddr":"02:00:00:00:09:09","added":"2026-05-01T08:00:00Z"}`)})
	walDir := filepath.Join(t.TempDir(), "data")
	w, err := wal.Open(walDir, wal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := w.Commit(ctx, ls); err != nil {
		t.Fatal(err)
	}
	if err := w.CommitBlobs(ctx, bs); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	dsn := pgtest.DB(t)
	if code, _, errs := runStore("copy", "--from", "wal:"+walDir, "--to", "postgres:"+dsn); code != 0 {
		t.Fatalf("copy to postgres: exit %d: %s", code, errs)
	}

	dump := func(args ...string) (leases, blobs []string) {
		t.Helper()
		code, out, errs := runStore(append([]string{"dump", "--json"}, args...)...)
		if code != 0 {
			t.Fatalf("dump %v: exit %d: %s", args, code, errs)
		}
		if strings.Contains(out+errs, dsn) {
			t.Errorf("the DSN was printed")
		}
		sc := bufio.NewScanner(strings.NewReader(out))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var l dumpLine
			dec := json.NewDecoder(strings.NewReader(sc.Text()))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&l); err != nil {
				t.Fatalf("line %q: %v", sc.Text(), err)
			}
			switch {
			case l.Lease != nil:
				leases = append(leases, sc.Text())
			case l.Blob != nil:
				blobs = append(blobs, sc.Text())
			default:
				t.Fatalf("line %q is neither a lease nor a blob", sc.Text())
			}
		}
		slices.Sort(blobs)
		return leases, blobs
	}
	pgLeases, pgBlobs := dump("--dsn", dsn)
	walLeases, walBlobs := dump("--data-dir", walDir)
	if len(pgLeases) != len(ls) || len(pgBlobs) != 3 {
		t.Fatalf("postgres dump: %d leases and %d blobs, want %d and 3 (a campaign, the DUID, a reservation)", len(pgLeases), len(pgBlobs), len(ls))
	}
	if !slices.Equal(pgLeases, walLeases) {
		for i := range min(len(pgLeases), len(walLeases)) {
			if pgLeases[i] != walLeases[i] {
				t.Fatalf("lease line %d differs:\npostgres %s\nlog      %s", i, pgLeases[i], walLeases[i])
			}
		}
		t.Fatalf("postgres dumped %d leases, the log %d", len(pgLeases), len(walLeases))
	}
	if !slices.Equal(pgBlobs, walBlobs) {
		t.Errorf("blobs differ:\npostgres %q\nlog      %q", pgBlobs, walBlobs)
	}
	if !slices.ContainsFunc(pgBlobs, func(s string) bool {
		return strings.Contains(s, `"kind":"reservation"`) && strings.Contains(s, `"reservation":{"family":4,"address":"10.20.9.9"`)
	}) {
		t.Errorf("no reservation blob with its JSON in %q", pgBlobs)
	}

	code, out, errs := runStore("dump", "--dsn", dsn)
	if code != 0 {
		t.Fatalf("dump (table): exit %d: %s", code, errs)
	}
	for _, want := range []string{"ADDRESS", "10.20.0.1 ", "fd78:0:6::/56", "h1 ", "2500 leases", "campaign", "server_duid", "reservation  v4 10.20.9.9"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%.600s", want, out)
		}
	}
	var errb bytes.Buffer
	bad := strings.Replace(dsn, "dbname=", "dbname=nosuch", 1)
	if bad == dsn {
		bad = dsn + " dbname=nosuchdb"
	}
	if code := run([]string{"store", "dump", "--dsn", bad}, &bytes.Buffer{}, &errb, nil); code != 1 || errb.Len() == 0 {
		t.Errorf("dump of a missing database: exit %d, stderr %q; want 1 with the reason", code, errb.String())
	}
}
