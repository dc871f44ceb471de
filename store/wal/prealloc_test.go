package wal

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/leased/leased/lease"
)

// TestPreallocatedInPlace: a segment is allocated, zero-filled and synced
// ahead of its records (issue #15), commits write into that space without
// changing the file's size, the room grows in the background when less
// than half a chunk is left, and everything reads back.
func TestPreallocatedInPlace(t *testing.T) {
	const chunk = 16 << 10
	dir := t.TempDir()
	w := open(t, dir, Options{Preallocate: chunk})
	seg := segPath(dir, w.Stats().Segment)
	size := func() int64 {
		st, err := os.Stat(seg)
		if err != nil {
			t.Fatal(err)
		}
		return st.Size()
	}
	if got := size(); got != headerSize+chunk {
		t.Fatalf("new segment is %d bytes, want header + %d preallocated", got, chunk)
	}
	commit(t, w, sample(0))
	if got := size(); got != headerSize+chunk {
		t.Errorf("after one commit the segment is %d bytes, want %d: written in place", got, headerSize+chunk)
	}
	var want []lease.Lease
	want = append(want, sample(0))
	// Past half the room the grower extends the file, ahead of the writer.
	for i := 1; dataEnd(t, seg) < 3*chunk; i++ {
		commit(t, w, sample(i))
		want = append(want, sample(i))
	}
	end := dataEnd(t, seg)
	var sz int64
	for range 1000 { // bounded: the grower runs in the background
		if sz = size(); sz-end >= chunk/2 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if sz-end < chunk/2 || (sz-headerSize)%chunk != 0 {
		t.Errorf("records end at %d, file is %d bytes: room not kept at >= half a chunk in whole chunks", end, sz)
	}
	diff(t, byAddr(want...), reopen(t, w, dir))
}

// TestZeroTailIsEnd: reopening a store whose segment ends in preallocated
// zeros reports nothing (no torn tail, nothing truncated) and goes on
// writing in place where the records end.
func TestZeroTailIsEnd(t *testing.T) {
	dir := t.TempDir()
	w := open(t, dir, Options{})
	commit(t, w, sample(1), sample(2))
	w.Close()
	seg := segPath(dir, 1)
	end := dataEnd(t, seg)
	st0, _ := os.Stat(seg)
	var lb logBuf
	w = open(t, dir, Options{Logger: lb.logger()})
	diff(t, byAddr(sample(1), sample(2)), loadAll(t, w))
	for _, bad := range []string{"torn", "truncat", "ignoring", "SKIPPING"} {
		if strings.Contains(lb.String(), bad) {
			t.Errorf("reopening a zero tail logged %q:\n%s", bad, lb.String())
		}
	}
	commit(t, w, sample(3))
	w.Close()
	st1, _ := os.Stat(seg)
	if st1.Size() != st0.Size() || dataEnd(t, seg) <= end {
		t.Errorf("segment %d → %d bytes, records end %d → %d: want the same size, written in place after the old records",
			st0.Size(), st1.Size(), end, dataEnd(t, seg))
	}
	w = open(t, dir, Options{})
	defer w.Close()
	diff(t, byAddr(sample(1), sample(2), sample(3)), loadAll(t, w))
}

// TestZeroTailRules: zeros end the log only when nothing but zeros
// follows. Zeros then an intact record are corruption (refused, as damage
// followed by intact records always is); zeros then garbage at the end of
// the last segment are a torn write (cut off, earlier records kept).
func TestZeroTailRules(t *testing.T) {
	l := sample(9)
	frame, _ := appendLeaseFrame(nil, &l)
	for _, tt := range []struct {
		name   string
		after  []byte // written 100 bytes after the records' end
		refuse bool
	}{
		{"zeros then an intact record", frame, true},
		{"zeros then garbage", []byte("garbage left by a torn write"), false},
		{"zeros then a torn record", frame[:len(frame)-4], false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			_, path := writeRecords(t, dir, 3)
			end := dataEnd(t, path)
			f, err := os.OpenFile(path, os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.WriteAt(tt.after, end+100); err != nil {
				t.Fatal(err)
			}
			f.Close()
			var lb logBuf
			w, err := Open(dir, Options{Logger: lb.logger()})
			if tt.refuse {
				var ce *CorruptError
				if !errors.As(err, &ce) || ce.Path != path || ce.Offset != end {
					t.Fatalf("Open = %v, want a *CorruptError at %s:%d", err, path, end)
				}
				return
			}
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			diff(t, byAddr(sample(0), sample(1), sample(2)), loadAll(t, w))
			if !strings.Contains(lb.String(), "truncated torn tail") {
				t.Errorf("torn tail not reported:\n%s", lb.String())
			}
			commit(t, w, sample(4))
			diff(t, byAddr(sample(0), sample(1), sample(2), sample(4)), reopen(t, w, dir))
		})
	}
}

// TestZeroTailOfEarlierSegment: a segment left behind by a rotation ends
// in preallocated zeros; recovery reads it up to the length the next
// segment recorded without a word. Non-zero bytes there (a failed batch)
// are still reported.
func TestZeroTailOfEarlierSegment(t *testing.T) {
	for _, garbage := range []bool{false, true} {
		dir := t.TempDir()
		w := open(t, dir, Options{})
		commit(t, w, sample(1))
		rotate(t, w)
		commit(t, w, sample(2))
		w.Close()
		if garbage {
			writeAtEnd(t, segPath(dir, 1), []byte("a failed batch"))
		}
		var lb logBuf
		w = open(t, dir, Options{Logger: lb.logger()})
		diff(t, byAddr(sample(1), sample(2)), loadAll(t, w))
		w.Close()
		if warned := strings.Contains(lb.String(), "ignoring the end of a segment"); warned != garbage {
			t.Errorf("garbage after the durable length %v: warned %v:\n%s", garbage, warned, lb.String())
		}
	}
}

// TestPreallocFailure: when space cannot be preallocated (disk full),
// commits still succeed, growing the file as before, and recover.
func TestPreallocFailure(t *testing.T) {
	const chunk = 8 << 10
	dir := t.TempDir()
	fs := &faultFS{failPrealloc: 1000}
	var lb logBuf
	w := open(t, dir, Options{fs: fs, Preallocate: chunk, Logger: lb.logger()})
	var want []lease.Lease
	for i := range 200 { // several chunks' worth
		commit(t, w, sample(i))
		want = append(want, sample(i))
	}
	if !strings.Contains(lb.String(), "preallocate") {
		t.Errorf("failure to preallocate not logged:\n%s", lb.String())
	}
	seg := segPath(dir, w.Stats().Segment)
	if st, _ := os.Stat(seg); st.Size() != dataEnd(t, seg) {
		t.Errorf("segment is %d bytes, records end at %d: want a file grown by its writes", st.Size(), dataEnd(t, seg))
	}
	fs.set(func(fs *faultFS) { fs.failPrealloc = 0 })
	diff(t, byAddr(want...), reopen(t, w, dir))
}

// TestNeverUsedPreallocatedSegment: a segment created (header and
// preallocated zeros durable) just before a crash, before the manifest
// named it, holds no record: Open removes it.
func TestNeverUsedPreallocatedSegment(t *testing.T) {
	dir := t.TempDir()
	w := open(t, dir, Options{})
	commit(t, w, sample(1))
	w.Close()
	// What createSegment leaves before its manifest update: segment 2,
	// linked to 1, with preallocated zeros.
	b := appendLinkedHeader(nil, magicSegment, uint64(dataEnd(t, segPath(dir, 1))), linkSegment, 1)
	b = append(b, make([]byte, 64<<10)...)
	if err := os.WriteFile(segPath(dir, 2), b, 0o600); err != nil {
		t.Fatal(err)
	}
	var lb logBuf
	w = open(t, dir, Options{Logger: lb.logger()})
	diff(t, byAddr(sample(1)), loadAll(t, w))
	w.Close()
	if _, err := os.Stat(segPath(dir, 2)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("never-used segment 2 still there (%v):\n%s", err, lb.String())
	}
	if _, err := os.Stat(filepath.Join(dir, segName(3))); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("unexpected segment 3")
	}
}
