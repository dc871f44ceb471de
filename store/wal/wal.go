// Package wal is leased's embedded lease store: an append-only log of
// CRC-framed lease records with group commit, plus snapshots written by
// compaction. See README.md for the file format and the recovery rules.
package wal

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/leased/leased/lease"
	"github.com/leased/leased/store"
)

var _ store.Store = (*WAL)(nil)

// ErrClosed is returned by operations on a closed WAL.
var ErrClosed = errors.New("wal: closed")

// SyncMode says how Commit makes data durable.
type SyncMode int

const (
	// SyncData (the default) fdatasyncs after every batch: Commit returns
	// only once its records are on stable storage.
	SyncData SyncMode = iota
	// NoSync never syncs. UNSAFE: acknowledged leases are lost on power
	// failure or kernel crash. For benchmarks only.
	NoSync
)

// Options configure a WAL. The zero value is the production setting.
type Options struct {
	// Logger receives recovery and error reports. Nil discards them.
	Logger *slog.Logger
	// SyncMode defaults to SyncData. NoSync is unsafe (benchmarks only).
	SyncMode SyncMode
	// AllowCorruptMiddle makes Open skip damaged records that are not a
	// torn tail (logging each loudly) instead of failing. Records in the
	// damaged range are lost. Off by default: the operator decides.
	AllowCorruptMiddle bool
	// MaxBatch caps the bytes one write(2) carries (default 4 MiB). A
	// single Commit larger than this is still written in one piece.
	MaxBatch int

	fs fileSystem // tests inject failures here; nil means the OS
}

// Stats are counters for the server's compaction policy and metrics.
type Stats struct {
	Segment              uint64 // number of the segment being appended to
	Snapshot             uint64 // number of the newest snapshot, 0 if none
	BytesSinceSnapshot   int64  // bytes in the segments a restart replays
	RecordsSinceSnapshot int64  // records in those segments
	Commits              uint64 // successful Commit calls since Open
	Batches              uint64 // successful write+sync rounds since Open
	Failures             uint64 // batches that failed to write or sync
}

// WAL is a store.Store on local disk. All methods are safe for concurrent
// use.
type WAL struct {
	dir  string
	opts Options
	log  *slog.Logger
	fs   fileSystem
	lock *os.File

	// The commit queue.
	mu     sync.Mutex
	queue  []*request
	spare  []*request
	closed bool
	wake   chan struct{}
	done   chan struct{} // writer exited

	// wmu guards the segment being appended to. The writer holds it for a
	// whole batch; Compact holds it to rotate.
	wmu      sync.Mutex
	seg      writeFile
	segNum   uint64
	segOff   int64 // bytes known durable in seg
	poisoned error // a write or sync failed on seg: never use it again
	wbuf     []byte

	compactMu sync.Mutex // one Compact at a time; Close waits for it
	loadMu    sync.Mutex
	rec       *recovered     // until Load or Compact
	blobs     recoveredBlobs // until LoadBlobs or Compact
	blobsRead bool

	snapNum    atomic.Uint64
	bytesSince atomic.Int64
	recsSince  atomic.Int64
	commits    atomic.Uint64
	batches    atomic.Uint64
	failures   atomic.Uint64
	closeOnce  sync.Once
	closeErr   error
	reqPool    sync.Pool
	maxBatch   int
	segNumPub  atomic.Uint64
}

// request is one Commit waiting for the writer.
type request struct {
	buf  []byte
	n    int
	done chan error
}

// Open opens (creating if needed) the store in dir and recovers its state:
// the newest snapshot, then every later segment, the highest Seq of each
// address winning. A torn tail of the last segment is truncated. Other
// damage fails Open with a *CorruptError naming file and offset, unless
// opts.AllowCorruptMiddle. The recovered records are yielded by Load.
func Open(dir string, opts Options) (*WAL, error) {
	w := &WAL{
		dir:  dir,
		opts: opts,
		log:  opts.Logger,
		fs:   opts.fs,
		wake: make(chan struct{}, 1),
		done: make(chan struct{}),
	}
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	if w.fs == nil {
		w.fs = osFS{noSync: opts.SyncMode == NoSync}
	}
	w.maxBatch = opts.MaxBatch
	if w.maxBatch <= 0 {
		w.maxBatch = 4 << 20
	}
	w.reqPool.New = func() any { return &request{done: make(chan error, 1)} }

	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("wal: %w", err)
	}
	if st, err := os.Stat(dir); err == nil && st.Mode().Perm()&0o077 != 0 {
		w.log.Warn("wal: data directory is accessible to other users", "dir", dir, "mode", st.Mode().Perm())
	}
	lock, err := os.OpenFile(filepath.Join(dir, lockName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("wal: %w", err)
	}
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		lock.Close()
		return nil, fmt.Errorf("wal: %s is in use by another process: %w", dir, err)
	}
	w.lock = lock
	if err := w.open(); err != nil {
		lock.Close()
		return nil, err
	}
	go w.writer()
	return w, nil
}

func (w *WAL) open() error {
	r, err := recoverDir(w.dir, w.opts.AllowCorruptMiddle, w.log)
	if err != nil {
		return err
	}
	for _, p := range r.staleRemoved {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("wal: %w", err)
		}
	}
	if len(r.staleRemoved) > 0 {
		if err := w.fs.syncDir(w.dir); err != nil {
			return err
		}
	}
	if r.tailSeg {
		f, err := w.fs.openAppend(filepath.Join(w.dir, segName(r.tailNum)))
		if err != nil {
			return fmt.Errorf("wal: %w", err)
		}
		w.seg, w.segNum, w.segOff = f, r.tailNum, r.tailValid
	} else {
		n := max(r.snapNum, r.lastSeg+1)
		if err := w.createSegment(n, prevUnknown); err != nil {
			return err
		}
	}
	w.segNumPub.Store(w.segNum)
	w.snapNum.Store(r.snapNum)
	w.bytesSince.Store(r.segBytes)
	w.recsSince.Store(r.segRecords)
	w.rec = &r.rec
	w.blobs = r.blobs
	w.log.Info("wal: opened", "dir", w.dir, "snapshot", r.snapNum, "segment", w.segNum,
		"addresses", len(r.rec.index), "blobs", len(r.blobs), "replayed_records", r.segRecords)
	return nil
}

// createSegment creates segment n, makes its header and directory entry
// durable, and makes it the one appended to. prev is the durable length of
// the segment it replaces. The caller holds wmu (or is Open).
func (w *WAL) createSegment(n uint64, prev uint64) error {
	path := filepath.Join(w.dir, segName(n))
	f, err := w.fs.create(path)
	if err != nil {
		return fmt.Errorf("wal: create segment: %w", err)
	}
	hdr := appendHeader(nil, magicSegment, prev)
	if _, err = f.Write(hdr); err == nil {
		err = f.Sync()
	}
	if err == nil {
		err = w.fs.syncDir(w.dir)
	}
	if err != nil {
		f.Close()
		// Never appended to or acknowledged: remove it so a retry can use
		// the same number. Best effort; recovery tolerates a torn header.
		os.Remove(path)
		return fmt.Errorf("wal: create segment %s: %w", path, err)
	}
	if w.seg != nil {
		if cerr := w.seg.Close(); cerr != nil {
			w.log.Warn("wal: closing old segment", "segment", w.segNum, "err", cerr)
		}
	}
	w.seg, w.segNum, w.segOff, w.poisoned = f, n, headerSize, nil
	w.segNumPub.Store(n)
	return nil
}

// Load calls fn with the recovered record of every live address (deleted
// ones excluded), then releases the recovered state. It may be called once,
// before Compact.
func (w *WAL) Load(fn func(lease.Lease) error) error {
	w.loadMu.Lock()
	rec := w.rec
	w.rec = nil
	w.loadMu.Unlock()
	if rec == nil {
		return errors.New("wal: Load: recovered state already released (Load called twice, or after Compact)")
	}
	return rec.load(fn)
}

// LoadBlobs calls fn with the recovered last version of every live blob
// key, in the order those versions were written. It may be called once,
// before Compact; fn must not keep the slices.
func (w *WAL) LoadBlobs(fn func(store.Blob) error) error {
	w.loadMu.Lock()
	bs, read := w.blobs, w.blobsRead
	w.blobs, w.blobsRead = nil, true
	w.loadMu.Unlock()
	if read {
		return errors.New("wal: LoadBlobs: recovered blobs already released (called twice, or after Compact)")
	}
	ents := make([]blobEnt, 0, len(bs))
	for _, b := range bs {
		ents = append(ents, b)
	}
	slices.SortFunc(ents, func(a, b blobEnt) int { return cmp.Compare(a.pos, b.pos) })
	for _, b := range ents {
		if err := fn(store.Blob{Kind: b.kind, Key: []byte(b.key), Value: b.value}); err != nil {
			return err
		}
	}
	return nil
}

// CommitBlobs makes blobs durable with the same guarantees as Commit.
func (w *WAL) CommitBlobs(ctx context.Context, blobs []store.Blob) error {
	return commitFrames(w, ctx, blobs, appendBlobFrame)
}

// Commit makes recs durable: it returns nil only after they have been
// written and fdatasync'd. Concurrent Commits share one write and one
// sync. On error nothing of recs may be considered durable. ctx is only
// checked before the records are queued: once queued, Commit waits for the
// outcome, so that a caller never abandons records that may still reach
// disk.
func (w *WAL) Commit(ctx context.Context, recs []lease.Lease) error {
	return commitFrames(w, ctx, recs, appendLeaseFrame)
}

// commitFrames encodes items with appendFrame into one request and waits
// for it to be durable.
func commitFrames[T any](w *WAL, ctx context.Context, items []T, appendFrame func([]byte, *T) ([]byte, error)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(items) == 0 {
		return nil
	}
	r := w.reqPool.Get().(*request)
	r.buf = r.buf[:0]
	for i := range items {
		var err error
		if r.buf, err = appendFrame(r.buf, &items[i]); err != nil {
			w.reqPool.Put(r)
			return err
		}
	}
	r.n = len(items)
	return w.enqueue(r)
}

// enqueue hands an encoded request to the writer and waits for its outcome.
func (w *WAL) enqueue(r *request) error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		w.reqPool.Put(r)
		return ErrClosed
	}
	w.queue = append(w.queue, r)
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
	err := <-r.done
	if cap(r.buf) <= 64<<10 {
		w.reqPool.Put(r)
	}
	if err == nil {
		w.commits.Add(1)
	}
	return err
}

// writer is the single goroutine that writes and syncs batches.
func (w *WAL) writer() {
	defer close(w.done)
	var batch []*request
	for {
		w.mu.Lock()
		for len(w.queue) == 0 && !w.closed {
			w.mu.Unlock()
			<-w.wake
			w.mu.Lock()
		}
		if len(w.queue) == 0 { // closed and drained
			w.mu.Unlock()
			return
		}
		size, take := 0, 0
		for take < len(w.queue) && (take == 0 || size+len(w.queue[take].buf) <= w.maxBatch) {
			size += len(w.queue[take].buf)
			take++
		}
		batch = append(batch[:0], w.queue[:take]...)
		rest := copy(w.queue, w.queue[take:])
		clear(w.queue[rest:])
		w.queue = w.queue[:rest]
		w.mu.Unlock()

		err := w.writeBatch(batch)
		for _, r := range batch {
			r.done <- err
		}
		clear(batch)
	}
}

func (w *WAL) writeBatch(batch []*request) error {
	w.wmu.Lock()
	defer w.wmu.Unlock()
	if w.poisoned != nil {
		// fsyncgate: after a failed write or sync the kernel may have
		// dropped our dirty pages and a later sync on the same file can
		// report success for data that is gone. Never reuse that file.
		if err := w.createSegment(w.segNum+1, uint64(w.segOff)); err != nil {
			w.failures.Add(1)
			return fmt.Errorf("%w (segment poisoned by: %v)", err, w.poisoned)
		}
		w.log.Info("wal: rotated away from failed segment", "segment", w.segNum)
	}
	var buf []byte
	records := 0
	if len(batch) == 1 {
		buf = batch[0].buf
	} else {
		w.wbuf = w.wbuf[:0]
		for _, r := range batch {
			w.wbuf = append(w.wbuf, r.buf...)
		}
		buf = w.wbuf
	}
	for _, r := range batch {
		records += r.n
	}
	n, err := w.seg.Write(buf)
	if err == nil && n != len(buf) {
		err = io.ErrShortWrite
	}
	if err == nil {
		err = w.seg.Sync()
	}
	if cap(w.wbuf) > 4*w.maxBatch {
		w.wbuf = nil
	}
	if err != nil {
		w.poisoned = err
		w.failures.Add(1)
		w.log.Error("wal: commit failed; segment poisoned, will rotate", "segment", w.segNum, "records", records, "err", err)
		return fmt.Errorf("wal: commit %d records: %w", records, err)
	}
	w.segOff += int64(len(buf))
	w.bytesSince.Add(int64(len(buf)))
	w.recsSince.Add(int64(records))
	w.batches.Add(1)
	return nil
}

// Compact writes a snapshot of all and removes the history it replaces.
// It first rotates to a new segment N; all must be the engine's state
// taken after Compact was called (the caller passes an iterator that is
// run now). Records committed meanwhile land in segment N and are replayed
// on top of snap-N.db (highest Seq wins), so nothing is lost.
func (w *WAL) Compact(all iter.Seq[lease.Lease], blobs iter.Seq[store.Blob]) error {
	w.compactMu.Lock()
	defer w.compactMu.Unlock()
	w.loadMu.Lock()
	w.rec = nil // the files it refers to are about to go
	w.blobs, w.blobsRead = nil, true
	w.loadMu.Unlock()

	w.mu.Lock()
	closed := w.closed
	w.mu.Unlock()
	if closed {
		return ErrClosed
	}
	w.wmu.Lock()
	n := w.segNum + 1
	err := w.createSegment(n, uint64(w.segOff))
	var bytesBefore, recsBefore int64
	if err == nil {
		bytesBefore, recsBefore = w.bytesSince.Swap(headerSize), w.recsSince.Swap(0)
	}
	w.wmu.Unlock()
	if err != nil {
		return err
	}
	count, err := w.writeSnapshot(n, all, blobs)
	if err != nil {
		// The old history is still complete: put the counters back.
		w.bytesSince.Add(bytesBefore)
		w.recsSince.Add(recsBefore)
		return err
	}
	w.snapNum.Store(n)
	// snap-N.db is durable: everything before segment N is redundant.
	df, err := listDir(w.dir)
	if err != nil {
		return err
	}
	removed := 0
	for _, s := range df.snapshots {
		if s < n {
			if err := os.Remove(filepath.Join(w.dir, snapName(s))); err != nil {
				return fmt.Errorf("wal: compact: %w", err)
			}
			removed++
		}
	}
	for _, s := range df.segments {
		if s < n {
			if err := os.Remove(filepath.Join(w.dir, segName(s))); err != nil {
				return fmt.Errorf("wal: compact: %w", err)
			}
			removed++
		}
	}
	if err := w.fs.syncDir(w.dir); err != nil {
		return err
	}
	w.log.Info("wal: compacted", "snapshot", n, "records", count, "files_removed", removed)
	return nil
}

func (w *WAL) writeSnapshot(n uint64, all iter.Seq[lease.Lease], blobs iter.Seq[store.Blob]) (count uint64, err error) {
	tmp := filepath.Join(w.dir, snapTmpName(n))
	f, err := w.fs.create(tmp)
	if err != nil {
		return 0, fmt.Errorf("wal: snapshot: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	buf := appendHeader(make([]byte, 0, 1<<20), magicSnapshot, prevUnknown)
	for l := range all {
		if l.State == lease.StateOffered { // never persisted
			continue
		}
		if buf, err = appendLeaseFrame(buf, &l); err != nil {
			return 0, fmt.Errorf("wal: snapshot: %w", err)
		}
		count++
		if len(buf) >= 1<<20 {
			if _, err = f.Write(buf); err != nil {
				return 0, fmt.Errorf("wal: snapshot: %w", err)
			}
			buf = buf[:0]
		}
	}
	if blobs != nil {
		for b := range blobs {
			if len(b.Value) == 0 { // a tombstone: the key is simply absent
				continue
			}
			if buf, err = appendBlobFrame(buf, &b); err != nil {
				return 0, fmt.Errorf("wal: snapshot: %w", err)
			}
			count++
			if len(buf) >= 1<<20 {
				if _, err = f.Write(buf); err != nil {
					return 0, fmt.Errorf("wal: snapshot: %w", err)
				}
				buf = buf[:0]
			}
		}
	}
	var end [10]byte
	buf = appendFrame(buf, kindSnapEnd, end[:putUvarint(end[:], count)])
	if _, err = f.Write(buf); err != nil {
		return 0, fmt.Errorf("wal: snapshot: %w", err)
	}
	if err = f.Sync(); err != nil {
		return 0, fmt.Errorf("wal: snapshot: %w", err)
	}
	if err = f.Close(); err != nil {
		return 0, fmt.Errorf("wal: snapshot: %w", err)
	}
	final := filepath.Join(w.dir, snapName(n))
	if err = os.Rename(tmp, final); err != nil {
		return 0, fmt.Errorf("wal: snapshot: %w", err)
	}
	if err = w.fs.syncDir(w.dir); err != nil {
		return 0, err
	}
	return count, nil
}

// Stats returns counters; the server uses BytesSinceSnapshot and
// RecordsSinceSnapshot to decide when to Compact.
func (w *WAL) Stats() Stats {
	return Stats{
		Segment:              w.segNumPub.Load(),
		Snapshot:             w.snapNum.Load(),
		BytesSinceSnapshot:   w.bytesSince.Load(),
		RecordsSinceSnapshot: w.recsSince.Load(),
		Commits:              w.commits.Load(),
		Batches:              w.batches.Load(),
		Failures:             w.failures.Load(),
	}
}

// Close waits for queued commits to finish (each gets its real outcome),
// then closes the files. Commits after Close return ErrClosed.
func (w *WAL) Close() error {
	w.closeOnce.Do(func() {
		w.compactMu.Lock()
		defer w.compactMu.Unlock()
		w.mu.Lock()
		w.closed = true
		w.mu.Unlock()
		select {
		case w.wake <- struct{}{}:
		default:
		}
		<-w.done
		w.wmu.Lock()
		if w.seg != nil {
			w.closeErr = w.seg.Close()
			w.seg = nil
		}
		w.wmu.Unlock()
		w.lock.Close() // releases the flock
		w.loadMu.Lock()
		w.rec = nil
		w.blobs, w.blobsRead = nil, true
		w.loadMu.Unlock()
	})
	return w.closeErr
}
