package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/leased/leased/api"
	"github.com/leased/leased/store/wal"
)

// TestStoreDump: every lease of a log directory, in address order, as a
// table and as JSON lines (no reconfigure key), blobs summarised; refused
// while another process (leased) holds the directory.
func TestStoreDump(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	ls, bs := copyRecords()
	w, err := wal.Open(dir, wal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(context.Background(), ls); err != nil {
		t.Fatal(err)
	}
	if err := w.CommitBlobs(context.Background(), bs); err != nil {
		t.Fatal(err)
	}

	// Held by a live store: refused, naming why.
	var out, errb bytes.Buffer
	if code := run([]string{"store", "dump", "--data-dir", dir}, &out, &errb, nil); code != 1 || !strings.Contains(errb.String(), "in use by another process") {
		t.Fatalf("dump of a held store: exit %d, stderr %q; want 1, in use", code, errb.String())
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	out.Reset()
	errb.Reset()
	if code := run([]string{"store", "dump", "--data-dir", dir, "--json"}, &out, &errb, nil); code != 0 {
		t.Fatalf("dump --json: exit %d: %s", code, errb.String())
	}
	if strings.Contains(out.String(), "0123456789abcdef") || strings.Contains(out.String(), "reconf") {
		t.Error("the dump prints reconfigure keys")
	}
	var leases []api.Lease
	blobs := map[string]int{}
	sc := bufio.NewScanner(&out)
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
			leases = append(leases, *l.Lease)
		case l.Blob != nil:
			blobs[l.Blob.Kind+" "+l.Blob.Key] = l.Blob.Bytes
		}
	}
	if len(leases) != len(ls) {
		t.Fatalf("%d leases dumped, want %d", len(leases), len(ls))
	}
	for i := 1; i < len(leases); i++ {
		if leases[i-1].Address.Compare(leases[i].Address) >= 0 {
			t.Fatalf("not in address order at %d: %v, %v", i, leases[i-1].Address, leases[i].Address)
		}
	}
	byAddr := map[string]api.Lease{}
	for _, l := range leases {
		byAddr[l.Address.String()] = l
	}
	for _, l := range ls {
		got, ok := byAddr[l.Addr.String()]
		if !ok || got.Hostname != l.Hostname || got.Pool != l.Pool || got.State != l.State.String() {
			t.Fatalf("lease %v: dumped %+v", l.Addr, got)
		}
	}
	// c1 overwritten (10 bytes), c2 deleted, the DUID.
	want := map[string]int{"campaign 6331": 10, "server_duid 7365727665722d64756964": 8}
	if len(blobs) != len(want) {
		t.Errorf("blobs %v, want %v", blobs, want)
	}
	for k, n := range want {
		if blobs[k] != n {
			t.Errorf("blob %s: %d bytes, want %d (all: %v)", k, blobs[k], n, blobs)
		}
	}

	out.Reset()
	if code := run([]string{"store", "dump", "--data-dir", dir}, &out, &errb, nil); code != 0 {
		t.Fatalf("dump: exit %d: %s", code, errb.String())
	}
	text := out.String()
	for _, want := range []string{"ADDRESS", "10.20.0.1 ", "fd78:0:6::/56", "h1 ", "2500 leases", "campaign", "server_duid"} {
		if !strings.Contains(text, want) {
			t.Errorf("table lacks %q:\n%.600s", want, text)
		}
	}
	if code := run([]string{"store", "dump"}, &out, &errb, nil); code != 2 {
		t.Errorf("dump without a store: exit %d, want 2", code)
	}
}
