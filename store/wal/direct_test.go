package wal

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/leased/leased/lease"
)

// directAvailable says whether files in dir can be written with O_DIRECT
// (false on tmpfs, which reports no direct I/O alignment): what the
// default store is expected to use there.
func directAvailable(t *testing.T, dir string) bool {
	t.Helper()
	path := filepath.Join(dir, "probe")
	f, err := osFS{}.create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(path)
	defer f.Close()
	d, err := f.Direct()
	t.Logf("O_DIRECT in %s: block %d, memory alignment %d, err %v", dir, d.block, d.memAlign, err)
	return err == nil
}

// directDir returns a new temporary directory whose files can be written
// with O_DIRECT: under TMPDIR, or else under /var/tmp (TMPDIR on tmpfs);
// the test is skipped, with the reason, when neither is on such a file
// system.
func directDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if directAvailable(t, dir) {
		return dir
	}
	dir, err := os.MkdirTemp("/var/tmp", "leased-wal-test-")
	if err != nil {
		t.Skipf("TMPDIR cannot be written with O_DIRECT and /var/tmp is not usable (%v)", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if !directAvailable(t, dir) {
		t.Skip("neither TMPDIR nor /var/tmp can be written with O_DIRECT (tmpfs?): the direct path cannot be tested here")
	}
	return dir
}

// directBatches is the sequence of commits TestDirectWritesReadBack makes:
// sizes chosen so that batches end inside a block, exactly on a block
// boundary (by padding with one more commit when they do not), span
// several blocks, and exceed the writer's aligned buffer (written in
// pieces before the one fdatasync).
var directBatches = []int{1, 1, 2, 3, 27, 1, 1, 2000, 1, 5, 30, 1}

// TestDirectWritesReadBack: commits written through O_DIRECT (issue #15)
// leave exactly the bytes the buffered path leaves (same frames, zeros
// after them: the on-disk format does not change); a reader of the page
// cache — a mapping made before the writes, as recovery's, and ordinary
// reads — sees them at once (the direct write invalidates the cached
// pages); after a reopen the writer reads the committed part of the last
// block back and goes on; Load returns everything.
func TestDirectWritesReadBack(t *testing.T) {
	dirD, dirB := directDir(t), t.TempDir()
	var lb logBuf
	wd := open(t, dirD, Options{Logger: lb.logger(), LatencyBudget: -1})
	wb := open(t, dirB, Options{noDirect: true, LatencyBudget: -1})
	loadAll(t, wd)
	loadAll(t, wb)
	if !strings.Contains(lb.String(), "O_DIRECT") {
		t.Errorf("the write path is not logged:\n%s", lb.String())
	}
	segD, segB := segPath(dirD, 1), segPath(dirB, 1)

	// A read-only shared mapping of the segment, faulted in before the
	// writes: it must show them afterwards.
	f, err := os.Open(segD)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := f.Stat()
	mapped, err := unix.Mmap(int(f.Fd()), 0, int(st.Size()), unix.PROT_READ, unix.MAP_SHARED)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(mapped)
	var sum byte
	for i := 0; i < len(mapped); i += 4096 {
		sum += mapped[i]
	}
	_ = sum

	var want []lease.Lease
	i := 0
	both := func(n int) {
		t.Helper()
		recs := make([]lease.Lease, n)
		for k := range recs {
			recs[k] = sample(i)
			i++
		}
		commit(t, wd, recs...)
		commit(t, wb, recs...)
		want = append(want, recs...)
	}
	same := func(when string) {
		t.Helper()
		d, err := os.ReadFile(segD)
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(segB)
		if err != nil {
			t.Fatal(err)
		}
		end := zeroFrom(b)
		if zeroFrom(d) != end || !bytes.Equal(d[:end], b[:end]) {
			t.Fatalf("%s: direct segment differs from the buffered one (records end at %d vs %d)", when, zeroFrom(d), end)
		}
		if lim := min(len(mapped), len(d)); !bytes.Equal(mapped[:lim], d[:lim]) {
			t.Fatalf("%s: a mapping made before the direct writes shows other bytes than a read", when)
		}
	}
	blk := int64(4096)
	wd.wmu.Lock()
	if wd.dio.block > 0 {
		blk = int64(wd.dio.block)
	}
	wd.wmu.Unlock()
	for _, n := range directBatches {
		both(n)
		same("after a commit")
		// Once, pad the records to end exactly on a block boundary, so
		// that the next batch starts a fresh block (nothing to rewrite).
		if end := dataEnd(t, segD); n == 30 && end%blk != 0 {
			pad := blk - end%blk
			for pad > 0 && pad < frameHeaderSize+64 {
				pad += blk
			}
			commitPadded(t, wd, wb, int(pad), &i, &want)
			same("after a commit ending on a block boundary")
			if end := dataEnd(t, segD); end%blk != 0 {
				t.Fatalf("padding left the records ending at %d, not on a %d-byte boundary", end, blk)
			}
		}
	}
	st1 := wd.Stats()
	if !st1.DirectIO || st1.DirectBatches != st1.Batches {
		t.Errorf("%d of %d batches written directly (DirectIO %v)", st1.DirectBatches, st1.Batches, st1.DirectIO)
	}
	// Reopen: the writer reads the committed part of the last block back.
	wd.Close()
	wb.Close()
	wd = open(t, dirD, Options{LatencyBudget: -1})
	wb = open(t, dirB, Options{noDirect: true, LatencyBudget: -1})
	diff(t, byAddr(want...), loadAll(t, wd))
	loadAll(t, wb)
	for _, n := range []int{1, 3, 40} {
		both(n)
		same("after a reopen")
	}
	if st := wd.Stats(); st.DirectBatches != 3 {
		t.Errorf("%d of 3 batches after the reopen written directly", st.DirectBatches)
	}
	wb.Close()
	diff(t, byAddr(want...), reopen(t, wd, dirD))
}

// commitPadded commits one record to both stores whose frame is pad bytes
// long (its hostname is the padding).
func commitPadded(t *testing.T, wd, wb *WAL, pad int, i *int, want *[]lease.Lease) {
	t.Helper()
	l := sample(*i)
	*i++
	frame, err := appendLeaseFrame(nil, &l)
	if err != nil {
		t.Fatal(err)
	}
	host, base := l.Hostname, len(frame)
	// The hostname's length prefix may grow by a byte: try around the
	// estimate.
	for extra := max(0, pad-base-4); len(frame) != pad; extra++ {
		if extra > pad-base+4 {
			t.Fatalf("cannot pad a %d-byte frame to %d bytes", base, pad)
		}
		l.Hostname = host + strings.Repeat("p", extra)
		if frame, err = appendLeaseFrame(nil, &l); err != nil {
			t.Fatal(err)
		}
	}
	commit(t, wd, l)
	commit(t, wb, l)
	*want = append(*want, l)
}

// TestDirectRefusedFallsBack: where O_DIRECT is refused (here injected;
// tmpfs in TestDirectTmpfs) commits go through the page cache as before
// issue #15, the store says so once, and everything reads back.
func TestDirectRefusedFallsBack(t *testing.T) {
	dir := t.TempDir()
	var lb logBuf
	w := open(t, dir, Options{fs: &faultFS{refuseDirect: true}, Logger: lb.logger()})
	loadAll(t, w)
	var want []lease.Lease
	for i := range 50 {
		commit(t, w, sample(i))
		want = append(want, sample(i))
	}
	rotate(t, w)
	commit(t, w, sample(50))
	want = append(want, sample(50))
	if st := w.Stats(); st.DirectIO || st.DirectBatches != 0 || st.Batches != 51 {
		t.Errorf("O_DIRECT refused, yet DirectIO %v and %d of %d batches direct", st.DirectIO, st.DirectBatches, st.Batches)
	}
	if n := strings.Count(lb.String(), "no O_DIRECT"); n != 1 {
		t.Errorf("buffered path logged %d times, want once:\n%s", n, lb.String())
	}
	diff(t, byAddr(want...), reopen(t, w, dir))
}

// TestDirectTmpfs: on tmpfs (no direct I/O alignment reported) the store
// uses the buffered path and works.
func TestDirectTmpfs(t *testing.T) {
	var fs unix.Statfs_t
	if err := unix.Statfs("/dev/shm", &fs); err != nil || fs.Type != unix.TMPFS_MAGIC {
		t.Skipf("no tmpfs at /dev/shm (%v): the fallback is covered by TestDirectRefusedFallsBack", err)
	}
	dir, err := os.MkdirTemp("/dev/shm", "leased-wal-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	var lb logBuf
	w := open(t, dir, Options{Logger: lb.logger()})
	loadAll(t, w)
	commit(t, w, sample(1), sample(2))
	commit(t, w, sample(3))
	if st := w.Stats(); st.DirectIO || st.DirectBatches != 0 {
		t.Errorf("tmpfs: DirectIO %v, %d batches direct", st.DirectIO, st.DirectBatches)
	}
	if !strings.Contains(lb.String(), "no O_DIRECT") {
		t.Errorf("buffered path not logged:\n%s", lb.String())
	}
	diff(t, byAddr(sample(1), sample(2), sample(3)), reopen(t, w, dir))
}

// TestDirectLoggedOnce: rotations (compaction) open new segments; the
// write path is logged once, not per segment, and every segment is
// written directly.
func TestDirectLoggedOnce(t *testing.T) {
	dir := directDir(t)
	var lb logBuf
	w := open(t, dir, Options{Logger: lb.logger()})
	loadAll(t, w)
	for i := range 3 {
		commit(t, w, sample(i))
		rotate(t, w)
	}
	commit(t, w, sample(3))
	if st := w.Stats(); !st.DirectIO || st.DirectBatches != st.Batches {
		t.Errorf("DirectIO %v, %d of %d batches direct", st.DirectIO, st.DirectBatches, st.Batches)
	}
	if n := strings.Count(lb.String(), "O_DIRECT"); n != 1 {
		t.Errorf("write path logged %d times, want once:\n%s", n, lb.String())
	}
	diff(t, byAddr(sample(0), sample(1), sample(2), sample(3)), reopen(t, w, dir))
}

// TestDirectAfterBufferedStore: a segment preallocated by the buffered
// path (its room ending off any block boundary, as stores written before
// issue #15 part 4 do) is reopened with O_DIRECT: the writer writes
// directly inside the room, grows it to a block boundary when it runs
// out, and everything reads back.
func TestDirectAfterBufferedStore(t *testing.T) {
	const chunk = 16 << 10
	dir := directDir(t)
	w := open(t, dir, Options{noDirect: true, Preallocate: chunk})
	loadAll(t, w)
	var want []lease.Lease
	i := 0
	add := func(w *WAL, n int) {
		t.Helper()
		recs := make([]lease.Lease, n)
		for k := range recs {
			recs[k] = sample(i)
			i++
		}
		commit(t, w, recs...)
		want = append(want, recs...)
	}
	add(w, 20)
	w.Close()
	seg := segPath(dir, 1)
	st, _ := os.Stat(seg)
	if st.Size()%4096 == 0 {
		t.Fatalf("the buffered store's segment is %d bytes: want a size off the block boundary for this test", st.Size())
	}
	w = open(t, dir, Options{Preallocate: chunk})
	diff(t, byAddr(want...), loadAll(t, w))
	for _, n := range []int{1, 2, 5, 40, 1, 90, 3} { // past the first room
		add(w, n)
	}
	s := w.Stats()
	if !s.DirectIO || s.DirectBatches == 0 {
		t.Errorf("reopened with O_DIRECT available: DirectIO %v, %d of %d batches direct", s.DirectIO, s.DirectBatches, s.Batches)
	}
	w.Close()
	// Grown past the first room, to a block boundary.
	if st, _ := os.Stat(seg); st.Size() <= chunk+headerSize || st.Size()%int64(max(4096, os.Getpagesize())) != 0 {
		t.Errorf("segment is %d bytes after growing past %d: want a larger size on a block and page boundary", st.Size(), chunk+headerSize)
	}
	w = open(t, dir, Options{})
	diff(t, byAddr(want...), loadAll(t, w))
	w.Close()
}
