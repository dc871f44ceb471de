package wal

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/leased/leased/lease"
)

// faultFS wraps the real file layer and fails chosen operations, the way
// a full or failing disk would.
type faultFS struct {
	osFS
	mu         sync.Mutex
	failWrite  int  // fail the next n writes
	partial    bool // a failing write first writes half its bytes
	failSync   int  // fail the next n syncs
	failCreate int  // fail the next n creates
	syncs      int
	// gate, when set, makes every Sync wait for a value from it; entered
	// receives a value when a Sync starts waiting.
	gate    chan struct{}
	entered chan struct{}
	// before, when set, is called before every file-system call that
	// changes the directory or a file (create, write, sync, directory
	// sync, rename, remove): a kill -9 can happen at any of these points.
	before func(op, path string)
	// failCreateOf fails the next create of a file with this base name;
	// failSyncDir fails the next n directory syncs.
	failCreateOf string
	failSyncDir  int
	failPrealloc int // fail the next n preallocations
}

func (fs *faultFS) hook(op, path string) {
	fs.mu.Lock()
	before := fs.before
	fs.mu.Unlock()
	if before != nil {
		before(op, path)
	}
}

func (fs *faultFS) syncDir(dir string) error {
	fs.hook("syncdir", dir)
	fs.mu.Lock()
	fail := fs.failSyncDir > 0
	if fail {
		fs.failSyncDir--
	}
	fs.mu.Unlock()
	if fail {
		fs.osFS.syncDir(dir)
		return &pathErr{"fsync", dir, syscall.EIO}
	}
	return fs.osFS.syncDir(dir)
}

func (fs *faultFS) rename(from, to string) error {
	fs.hook("rename", from)
	return fs.osFS.rename(from, to)
}

func (fs *faultFS) remove(path string) error {
	fs.hook("remove", path)
	return fs.osFS.remove(path)
}

type faultFile struct {
	writeFile
	fs *faultFS
}

func (fs *faultFS) create(path string) (writeFile, error) {
	fs.hook("create", path)
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.failCreate > 0 {
		fs.failCreate--
		return nil, &pathErr{"create", path, syscall.ENOSPC}
	}
	if fs.failCreateOf != "" && filepath.Base(path) == fs.failCreateOf {
		fs.failCreateOf = ""
		return nil, &pathErr{"create", path, syscall.ENOSPC}
	}
	f, err := fs.osFS.create(path)
	if err != nil {
		return nil, err
	}
	return &faultFile{f, fs}, nil
}

func (fs *faultFS) openWrite(path string) (writeFile, error) {
	f, err := fs.osFS.openWrite(path)
	if err != nil {
		return nil, err
	}
	return &faultFile{f, fs}, nil
}

type pathErr struct {
	op, path string
	err      error
}

func (e *pathErr) Error() string { return e.op + " " + e.path + ": " + e.err.Error() }
func (e *pathErr) Unwrap() error { return e.err }

func (f *faultFile) Write(p []byte) (int, error) {
	return f.write(p, func(p []byte) (int, error) { return f.writeFile.Write(p) })
}

func (f *faultFile) WriteAt(p []byte, off int64) (int, error) {
	return f.write(p, func(p []byte) (int, error) { return f.writeFile.WriteAt(p, off) })
}

// Prealloc is a kill point too; it does not fail (a failure only makes
// commits grow the file, TestPreallocFailure).
func (f *faultFile) Prealloc(off, n int64) error {
	f.fs.hook("prealloc", "")
	f.fs.mu.Lock()
	fail := f.fs.failPrealloc > 0
	if fail {
		f.fs.failPrealloc--
	}
	f.fs.mu.Unlock()
	if fail {
		return syscall.ENOSPC
	}
	return f.writeFile.Prealloc(off, n)
}

func (f *faultFile) write(p []byte, write func([]byte) (int, error)) (int, error) {
	f.fs.hook("write", "")
	f.fs.mu.Lock()
	fail, partial := f.fs.failWrite > 0, f.fs.partial
	if fail {
		f.fs.failWrite--
	}
	f.fs.mu.Unlock()
	if !fail {
		return write(p)
	}
	n := 0
	if partial {
		n, _ = write(p[:len(p)/2])
	}
	return n, syscall.EIO
}

func (f *faultFile) Sync() error {
	f.fs.hook("sync", "")
	f.fs.mu.Lock()
	gate, entered := f.fs.gate, f.fs.entered
	fail := f.fs.failSync > 0
	if fail {
		f.fs.failSync--
	}
	f.fs.syncs++
	f.fs.mu.Unlock()
	if gate != nil {
		entered <- struct{}{}
		select { // bounded: a test that forgets to release fails, not hangs
		case <-gate:
		case <-time.After(10 * time.Second):
			return syscall.ETIMEDOUT
		}
	}
	if fail {
		// Like Linux after writeback failed: the data may or may not be on
		// disk, and the error is reported once.
		f.writeFile.Sync()
		return syscall.EIO
	}
	return f.writeFile.Sync()
}

func (fs *faultFS) set(fn func(*faultFS)) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fn(fs)
}

func TestFailuresThenRecovery(t *testing.T) {
	tests := []struct {
		name   string
		inject func(*faultFS)
	}{
		{"fsync error", func(fs *faultFS) { fs.failSync = 1 }},
		{"write error", func(fs *faultFS) { fs.failWrite = 1 }},
		{"short write error", func(fs *faultFS) { fs.failWrite, fs.partial = 1, true }},
		{"fsync error, then rotation fails once", func(fs *faultFS) { fs.failSync, fs.failCreate = 1, 1 }},
		{"fsync error twice in a row", func(fs *faultFS) { fs.failSync = 2 }},
		// The rotation's manifest update fails before its rename: the new
		// segment is abandoned, the retry takes the next number.
		{"fsync error, then the manifest update fails", func(fs *faultFS) { fs.failSync, fs.failCreateOf = 1, manifestTmp }},
		// The directory sync after the manifest's rename fails: the
		// manifest may name the new segment, so the writer must use it.
		{"fsync error, then the manifest's directory sync fails", func(fs *faultFS) {
			fs.failSync = 1
			fs.before = func(op, path string) {
				if op == "rename" && filepath.Base(path) == manifestTmp {
					fs.set(func(fs *faultFS) { fs.failSyncDir, fs.before = 1, nil })
				}
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			fs := &faultFS{}
			var lb logBuf
			w := open(t, dir, Options{fs: fs, Logger: lb.logger()})
			loadAll(t, w)
			commit(t, w, sample(1), sample(2))
			seg := w.Stats().Segment

			fs.set(tt.inject)
			failed := sample(3)
			if err := w.Commit(context.Background(), []lease.Lease{failed}); err == nil {
				t.Fatal("Commit succeeded despite the injected failure")
			}
			// Later commits succeed once the disk recovers; a failing
			// retry (rotation or second sync) returns its error too.
			var err error
			var ok []lease.Lease
			for i := range 4 {
				l := sample(10 + i)
				if err = w.Commit(context.Background(), []lease.Lease{l}); err == nil {
					ok = append(ok, l)
				}
			}
			if len(ok) < 3 {
				t.Fatalf("only %d of 4 later commits succeeded; last error %v", len(ok), err)
			}
			st := w.Stats()
			if st.Segment == seg {
				t.Errorf("still writing to segment %d after a failure", seg)
			}
			if st.Failures == 0 {
				t.Error("failure not counted")
			}
			if !strings.Contains(lb.String(), "poisoned") {
				t.Errorf("failure not logged:\n%s", lb.String())
			}
			// The failed record was never acknowledged and must not come
			// back: recovery ignores the failed batch's bytes.
			var lb2 logBuf
			w.Close()
			w2 := open(t, dir, Options{Logger: lb2.logger()})
			got := loadAll(t, w2)
			w2.Close()
			diff(t, byAddr(append([]lease.Lease{sample(1), sample(2)}, ok...)...), got)
		})
	}
}

// The writer groups everything queued while a sync is in progress into the
// next write and sync.
func TestGroupCommit(t *testing.T) {
	dir := t.TempDir()
	fs := &faultFS{}
	w := open(t, dir, Options{fs: fs})
	gate, entered := make(chan struct{}), make(chan struct{}, 1)
	fs.set(func(fs *faultFS) { fs.gate, fs.entered = gate, entered })

	var wg sync.WaitGroup
	wg.Go(func() { commit(t, w, sample(0)) })
	<-entered // the first batch is syncing
	const n = 63
	for i := 1; i <= n; i++ {
		wg.Go(func() { commit(t, w, sample(i)) })
	}
	// Wait (bounded) until every committer is queued.
	for range 10000 {
		w.mu.Lock()
		q := len(w.queue)
		w.mu.Unlock()
		if q == n {
			break
		}
		syncWait()
	}
	send(t, gate)
	recv(t, entered)
	send(t, gate)
	wg.Wait()
	st := w.Stats()
	if st.Batches != 2 || st.Commits != n+1 {
		t.Errorf("%d commits in %d batches, want %d in 2", st.Commits, st.Batches, n+1)
	}
	fs.set(func(fs *faultFS) { fs.gate = nil })
	var want []lease.Lease
	for i := range n + 1 {
		want = append(want, sample(i))
	}
	diff(t, byAddr(want...), reopen(t, w, dir))
}

func TestMaxBatchSplits(t *testing.T) {
	dir := t.TempDir()
	fs := &faultFS{}
	l := sample(1) // samples 1..6 encode to the same size
	frame, _ := appendLeaseFrame(nil, &l)
	w := open(t, dir, Options{fs: fs, MaxBatch: 2 * len(frame)})
	gate, entered := make(chan struct{}), make(chan struct{}, 1)
	fs.set(func(fs *faultFS) { fs.gate, fs.entered = gate, entered })
	var wg sync.WaitGroup
	wg.Go(func() { commit(t, w, sample(0)) })
	recv(t, entered)
	for i := 1; i <= 6; i++ {
		wg.Go(func() { commit(t, w, sample(i)) })
	}
	for range 10000 {
		w.mu.Lock()
		q := len(w.queue)
		w.mu.Unlock()
		if q == 6 {
			break
		}
		syncWait()
	}
	send(t, gate) // the first batch
	for range 3 { // ceil(6/2) more, two records each
		recv(t, entered)
		send(t, gate)
	}
	wg.Wait()
	if st := w.Stats(); st.Batches != 4 {
		t.Errorf("%d batches, want 4 (MaxBatch of two records)", st.Batches)
	}
	w.Close()
}

func TestCompactFailureKeepsHistory(t *testing.T) {
	dir := t.TempDir()
	fs := &faultFS{}
	w := open(t, dir, Options{fs: fs})
	all := []lease.Lease{sample(1), sample(2)}
	commit(t, w, all...)
	fs.set(func(fs *faultFS) { fs.failCreate = 1 })
	if err := w.Compact(slices.Values(all), nil); err == nil {
		t.Fatal("Compact succeeded with create failing")
	}
	bad := slices.Values([]lease.Lease{sample(3), {Seq: 1}}) // unencodable
	if err := w.Compact(bad, nil); err == nil {
		t.Fatal("Compact of an unencodable record succeeded")
	}
	commit(t, w, sample(4))
	if st := w.Stats(); st.Snapshot != 0 || st.RecordsSinceSnapshot != 3 {
		t.Errorf("stats after failed compactions: %+v", st)
	}
	diff(t, byAddr(sample(1), sample(2), sample(4)), reopen(t, w, dir))
}

var errStop = errors.New("stop")

func TestLoadStopsOnError(t *testing.T) {
	dir := t.TempDir()
	w := open(t, dir, Options{})
	commit(t, w, sample(1), sample(2))
	w.Close()
	w = open(t, dir, Options{})
	defer w.Close()
	n := 0
	err := w.Load(func(lease.Lease) error { n++; return errStop })
	if !errors.Is(err, errStop) || n != 1 {
		t.Errorf("Load = %v after %d calls", err, n)
	}
}
