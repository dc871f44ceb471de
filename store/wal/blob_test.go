package wal

import (
	"context"
	"fmt"
	"os"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/leased/leased/lease"
	"github.com/leased/leased/store"
)

func blob(key, value string) store.Blob {
	return store.Blob{Kind: store.BlobReconf, Key: []byte(key), Value: []byte(value)}
}

func commitBlobs(t testing.TB, w *WAL, bs ...store.Blob) {
	t.Helper()
	if err := w.CommitBlobs(context.Background(), bs); err != nil {
		t.Fatalf("CommitBlobs: %v", err)
	}
}

// loadBlobs returns "key=value" in LoadBlobs order.
func loadBlobs(t testing.TB, w *WAL) []string {
	t.Helper()
	var out []string
	if err := w.LoadBlobs(func(b store.Blob) error {
		if b.Kind != store.BlobReconf {
			return fmt.Errorf("kind %d", b.Kind)
		}
		out = append(out, string(b.Key)+"="+string(b.Value))
		return nil
	}); err != nil {
		t.Fatalf("LoadBlobs: %v", err)
	}
	return out
}

// TestBlobsRecovered: blobs and leases interleaved in a segment; after a
// reopen the last version of each key wins, a tombstone removes its key,
// order is that of the last writes, and leases are unaffected.
func TestBlobsRecovered(t *testing.T) {
	dir := t.TempDir()
	w := open(t, dir, Options{})
	commitBlobs(t, w, blob("a", "1"), blob("b", "1"))
	commit(t, w, sample(1), sample(2))
	commitBlobs(t, w, blob("a", "2"), blob("c", "1"), blob("d", "1"))
	commitBlobs(t, w, store.Blob{Kind: store.BlobReconf, Key: []byte("c")}) // tombstone
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	w = open(t, dir, Options{})
	defer w.Close()
	if d := cmp.Diff([]string{"b=1", "a=2", "d=1"}, loadBlobs(t, w)); d != "" {
		t.Errorf("blobs (-want +got):\n%s", d)
	}
	diff(t, byAddr(sample(1), sample(2)), loadAll(t, w))
	if err := w.LoadBlobs(func(store.Blob) error { return nil }); err == nil {
		t.Error("second LoadBlobs succeeded")
	}
	if err := w.CommitBlobs(context.Background(), []store.Blob{{Kind: 1}}); err == nil {
		t.Error("blob without key committed")
	}
}

// TestBlobsCompaction: a snapshot carries both kinds; blobs committed
// after the rotation replay on top of it; tombstones are not written to
// the snapshot; old files go.
func TestBlobsCompaction(t *testing.T) {
	dir := t.TempDir()
	w := open(t, dir, Options{})
	for i := range 50 {
		commit(t, w, sample(i))
		commitBlobs(t, w, blob(fmt.Sprint("k", i%5), fmt.Sprint(i)))
	}
	leases := make([]lease.Lease, 50)
	for i := range leases {
		leases[i] = sample(i)
	}
	snapBlobs := []store.Blob{blob("k0", "45"), blob("k1", "46"), blob("gone", "")}
	if err := w.Compact(slices.Values(leases), slices.Values(snapBlobs)); err != nil {
		t.Fatal(err)
	}
	commitBlobs(t, w, blob("k1", "after"), blob("new", "x"))
	commitBlobs(t, w, store.Blob{Kind: store.BlobReconf, Key: []byte("k0")})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(dir)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if d := cmp.Diff([]string{"LOCK", manifestName, snapName(2), segName(2)}, names); d != "" {
		t.Errorf("files after compaction (-want +got):\n%s", d)
	}
	w = open(t, dir, Options{})
	defer w.Close()
	if d := cmp.Diff([]string{"k1=after", "new=x"}, loadBlobs(t, w)); d != "" {
		t.Errorf("blobs (-want +got):\n%s", d)
	}
	diff(t, byAddr(leases...), loadAll(t, w))
}

// TestBlobsOldLog: a log written without blobs (the format before blobs
// existed: leases only) opens and yields no blobs.
func TestBlobsOldLog(t *testing.T) {
	dir := t.TempDir()
	data := appendHeader(nil, magicSegment, prevUnknown)
	for i := range 3 {
		l := sample(i)
		data, _ = appendLeaseFrame(data, &l)
	}
	if err := os.WriteFile(segPath(dir, 1), data, 0o600); err != nil {
		t.Fatal(err)
	}
	w := open(t, dir, Options{})
	defer w.Close()
	if got := loadBlobs(t, w); len(got) != 0 {
		t.Errorf("blobs from a leases-only log: %v", got)
	}
	diff(t, byAddr(sample(0), sample(1), sample(2)), loadAll(t, w))
}

// TestBlobsTornTail: a blob frame cut by a crash at the end of the log is
// dropped (it was never acknowledged); earlier blobs stay.
func TestBlobsTornTail(t *testing.T) {
	dir := t.TempDir()
	w := open(t, dir, Options{})
	commitBlobs(t, w, blob("a", "1"))
	commitBlobs(t, w, blob("a", "2-a-longer-value"))
	w.Close()
	if err := os.Truncate(segPath(dir, 1), dataEnd(t, segPath(dir, 1))-3); err != nil {
		t.Fatal(err)
	}
	w = open(t, dir, Options{})
	defer w.Close()
	if d := cmp.Diff([]string{"a=1"}, loadBlobs(t, w)); d != "" {
		t.Errorf("blobs (-want +got):\n%s", d)
	}
}

// TestBlobFrameRoundTrip checks the payload codec and its rejections.
func TestBlobFrameRoundTrip(t *testing.T) {
	b := store.Blob{Kind: 7, Key: []byte{0, 1, 2}, Value: []byte("value")}
	f, err := appendBlobFrame(nil, &b)
	if err != nil {
		t.Fatal(err)
	}
	k, p, n, st := parseFrame(f)
	if st != frameOK || k != KindBlob || n != len(f) {
		t.Fatalf("parseFrame: kind %d status %v n %d", k, st, n)
	}
	got, err := decodeBlob(p)
	if err != nil || got.Kind != 7 || string(got.Key) != string(b.Key) || string(got.Value) != "value" {
		t.Fatalf("decodeBlob = %+v, %v", got, err)
	}
	for _, bad := range [][]byte{{}, {2, 1, 1, 'k'}, {1, 1, 0}, {1, 1, 5, 'k'}} {
		if _, err := decodeBlob(bad); err == nil {
			t.Errorf("decodeBlob(%x) succeeded", bad)
		}
	}
	if _, err := appendBlobFrame(nil, &store.Blob{Kind: 1, Key: []byte("k"), Value: make([]byte, maxPayload)}); err == nil {
		t.Error("oversized blob accepted")
	}
}
