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
	"time"

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
	// AllowDataLoss makes Open accept damage that is not a torn tail (a
	// damaged record, snapshot or header) and files missing from the
	// chain snapshot → first segment → … → last segment, logging each
	// loudly, instead of failing. Records in what was damaged or missing
	// are lost. Open then writes a snapshot of what it recovered and sets
	// the old files aside (renamed *.lost), so the next Open needs no
	// override. Off by default: the operator decides.
	AllowDataLoss bool
	// AllowCorruptMiddle is the former name of AllowDataLoss (either
	// enables it). Deprecated: use AllowDataLoss.
	AllowCorruptMiddle bool
	// OverrideHint ends the text of a *CorruptError: how the operator
	// restores or overrides (leased names its config key and file). Empty:
	// DefaultOverrideHint.
	OverrideHint string
	// MaxBatch caps the bytes one write(2) carries (default 4 MiB). A
	// single Commit larger than this is still written in one piece.
	MaxBatch int
	// Preallocate is how far ahead of the records a segment is
	// allocated, zero-filled and synced, so that a commit writes in place
	// and its fdatasync flushes data only (no journal commit for a new
	// size or new blocks). The room grows by this much in the background
	// when less than half of it is left. 0: 4 MiB; negative: none (the
	// file grows with every write, as before issue #15).
	Preallocate int64
	// LatencyBudget is what the group commit may cost a request at the
	// high percentile. Whenever commits arrive often enough that waiting
	// would at least double the batch, the writer waits for company up to
	// min(LatencyBudget/4, LatencyBudget - 2 × the measured flush time)
	// before it writes, so several requests share one fdatasync. 0: 2 ms
	// (issue #15: p99 REQUEST→ACK ≤ 2 ms); negative: never wait.
	LatencyBudget time.Duration

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
	// FlushTime is the time spent writing and syncing batches since Open
	// (÷ Batches: the mean flush latency).
	FlushTime time.Duration
	// Waited is the time the writer waited for company since Open
	// (Options.LatencyBudget), WaitedBatches how many batches it waited for.
	Waited        time.Duration
	WaitedBatches uint64
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
	closed bool
	wake   chan struct{}
	done   chan struct{} // writer exited
	// want > 0 while the writer waits for company: an enqueue that makes
	// the queue this long wakes it early. arrivals counts enqueues.
	want     int
	arrivals uint64

	// wmu guards the segment being appended to. The writer holds it for a
	// whole batch; Compact holds it to rotate.
	wmu      sync.Mutex
	seg      writeFile
	segNum   uint64
	segOff   int64 // bytes known durable in seg
	poisoned error // a write or sync failed on seg: never use it again
	wbuf     []byte
	space    *segSpace // seg's preallocated room; nil without preallocation
	chunk    int64     // Options.Preallocate
	growCh   chan *segSpace
	growDone chan struct{}

	nextSeg uint64 // number of the next segment created; guarded by wmu

	// manMu serialises manifest updates; man is the manifest last
	// renamed into place.
	manMu sync.Mutex
	man   manifest

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
	flushNanos atomic.Int64
	waitNanos  atomic.Int64
	waits      atomic.Uint64
	closeOnce  sync.Once
	closeErr   error
	reqPool    sync.Pool
	maxBatch   int
	segNumPub  atomic.Uint64
	budget     time.Duration // Options.LatencyBudget; < 0: never wait
}

// firstPrealloc is how much a new segment gets preallocated before it is
// used (~1,900 records); the grower adds Options.Preallocate from there.
const firstPrealloc = 256 << 10

// segSpace is the preallocated room of the segment being appended to:
// [0, size) is allocated, and every byte of it after the records is zero
// and durable. The writer writes below size without a lock; the grower
// goroutine extends size (mu held), and whoever closes the segment takes
// mu first, so no extension runs on a closed file. Only the writer writes
// beyond size (mu held): when the grower fell behind or failed.
type segSpace struct {
	mu     sync.Mutex
	f      writeFile
	num    uint64
	size   atomic.Int64
	used   atomic.Int64 // end of the records (the writer's offset)
	closed bool         // guarded by mu
	failed bool         // guarded by mu: growing failed; the writer grows the file itself
}

// request is one Commit waiting for the writer.
type request struct {
	buf  []byte
	n    int
	done chan error
	// cb, when set, is a CommitAsync's completion: the writer calls it
	// instead of sending on done, and recycles the request itself.
	cb func(error)
	at time.Time // when it was queued: the wait for company counts it
}

// Open opens (creating if needed) the store in dir and recovers its state:
// the newest snapshot, then every later segment, the highest Seq of each
// address winning. A torn tail of the last segment is truncated. Other
// damage, and a file missing from the chain the segment headers and the
// manifest describe, fails Open with a *CorruptError naming the file,
// unless opts.AllowDataLoss. The recovered records are yielded by Load.
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
	w.chunk = opts.Preallocate
	if w.chunk == 0 {
		w.chunk = 4 << 20
	}
	w.budget = opts.LatencyBudget
	if w.budget == 0 {
		w.budget = 2 * time.Millisecond
	}
	w.growCh = make(chan *segSpace, 1)
	w.growDone = make(chan struct{})

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
		if w.seg != nil {
			w.closeSegment()
		}
		lock.Close()
		return nil, err
	}
	go w.writer()
	go w.grower()
	return w, nil
}

func (w *WAL) open() error {
	allow := w.opts.AllowDataLoss || w.opts.AllowCorruptMiddle
	r, err := recoverDir(w.dir, allow, w.opts.OverrideHint, w.log)
	if err != nil {
		return err
	}
	if len(r.lost) > 0 {
		if err := w.rebase(r); err != nil {
			return err
		}
		if r, err = recoverDir(w.dir, false, w.opts.OverrideHint, w.log); err != nil {
			return fmt.Errorf("wal: reopening after setting the damaged files aside: %w", err)
		}
	}
	for _, p := range r.staleRemoved {
		if err := w.fs.remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("wal: %w", err)
		}
	}
	if len(r.staleRemoved) > 0 {
		if err := w.fs.syncDir(w.dir); err != nil {
			return err
		}
	}
	w.nextSeg = r.nextSeg
	// The manifest describes what recovery proved (a store from an older
	// leased gets its first one here), before any segment is created.
	m := manifest{snap: r.snapNum, first: r.first}
	if r.tailSeg {
		m.last = r.tailNum
	} else if m.first == 0 {
		m.first = max(r.snapNum, w.nextSeg)
	}
	if _, err := writeManifest(w.fs, w.dir, m); err != nil {
		return err
	}
	w.man = m
	if r.tailSeg {
		f, err := w.fs.openWrite(filepath.Join(w.dir, segName(r.tailNum)))
		if err != nil {
			return fmt.Errorf("wal: %w", err)
		}
		w.seg, w.segNum, w.segOff = f, r.tailNum, r.tailValid
		if w.chunk > 0 {
			// Recovery left [tailValid, size) zero (a zero tail is the end
			// of the log; a torn tail was cut off).
			size, err := f.Size()
			if err != nil {
				return fmt.Errorf("wal: %w", err)
			}
			w.space = &segSpace{f: f, num: r.tailNum}
			w.space.size.Store(max(size, r.tailValid))
			w.space.used.Store(r.tailValid)
			if size-r.tailValid < w.chunk/2 {
				w.preallocate(w.space, w.chunk)
			}
		}
	} else {
		l := linkEmpty
		if r.snapNum != 0 {
			l = linkSnapshot
		}
		if err := w.createSegment(l, r.snapNum, prevUnknown); err != nil {
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
		"addresses", r.rec.live, "blobs", len(r.blobs), "replayed_records", r.segRecords)
	return nil
}

// rebase follows a recovery that accepted data loss: it writes what was
// recovered as a new snapshot, renames every older segment and snapshot to
// *.lost (kept for the operator, never read again) and starts a manifest
// at the new snapshot, so the next Open proves an unbroken chain again. A
// crash in the middle leaves the new snapshot as the newest, and the next
// Open removes the older files as stale.
func (w *WAL) rebase(r *recovery) error {
	n := max(r.nextSeg, r.snapNum+1)
	var all []lease.Lease
	all = make([]lease.Lease, 0, r.rec.live)
	if err := r.rec.load(false, func(l *lease.Lease) error { all = append(all, *l); return nil }); err != nil {
		return fmt.Errorf("wal: reading what recovery kept: %w", err)
	}
	ents := make([]blobEnt, 0, len(r.blobs))
	for _, b := range r.blobs {
		ents = append(ents, b)
	}
	slices.SortFunc(ents, func(a, b blobEnt) int { return cmp.Compare(a.pos, b.pos) })
	blobs := func(yield func(store.Blob) bool) {
		for _, b := range ents {
			if !yield(store.Blob{Kind: b.kind, Key: []byte(b.key), Value: b.value}) {
				return
			}
		}
	}
	count, err := w.writeSnapshot(n, slices.Values(all), blobs)
	if err != nil {
		return fmt.Errorf("wal: writing the recovered state after accepting data loss: %w", err)
	}
	df, err := listDir(w.dir)
	if err != nil {
		return err
	}
	var aside []string
	for _, path := range append(names(df.segments, segName), names(df.snapshots, snapName)...) {
		if filepath.Base(path) == snapName(n) {
			continue
		}
		path = filepath.Join(w.dir, path)
		if err := w.fs.rename(path, path+lostSuffix); err != nil {
			return fmt.Errorf("wal: setting aside %s: %w", path, err)
		}
		aside = append(aside, filepath.Base(path)+lostSuffix)
	}
	if _, err := writeManifest(w.fs, w.dir, manifest{snap: n, first: n}); err != nil {
		return err
	}
	w.log.Error("wal: STARTED WITHOUT LOST DATA (store.allow_data_loss is set): what was recovered is now snapshot "+fmt.Sprint(n)+
		"; the older files are kept as *.lost; remove store.allow_data_loss from the configuration",
		"dir", w.dir, "snapshot", n, "records", count, "lost", r.lost, "set_aside", aside)
	return nil
}

func names(nums []uint64, name func(uint64) string) []string {
	out := make([]string, len(nums))
	for i, n := range nums {
		out[i] = name(n)
	}
	return out
}

// createSegment creates the next segment, continuing from l (from: the
// segment or snapshot number), makes its header and directory entry
// durable, records it in the manifest, and makes it the one appended to.
// prev is the durable length of the segment it replaces. A number is never
// reused, even when creation fails: a later segment links past an
// abandoned one, which recovery removes. The caller holds wmu (or is Open).
func (w *WAL) createSegment(l link, from uint64, prev uint64) error {
	n := w.nextSeg
	w.nextSeg++
	var dist uint32
	if l == linkSegment || l == linkSnapshot {
		if from > n || n-from > 1<<31 {
			return fmt.Errorf("wal: create segment %d: cannot link to %d", n, from)
		}
		dist = uint32(n - from)
	}
	path := filepath.Join(w.dir, segName(n))
	f, err := w.fs.create(path)
	if err != nil {
		return fmt.Errorf("wal: create segment: %w", err)
	}
	hdr := appendLinkedHeader(nil, magicSegment, prev, l, dist)
	if _, err = f.WriteAt(hdr, 0); err == nil {
		if w.chunk > 0 {
			// Best effort: without it, commits grow the file. A first
			// piece only (this may run under wmu, in a compaction's
			// rotation): the grower adds whole chunks from the first
			// commit on.
			if perr := f.Prealloc(headerSize, min(w.chunk, firstPrealloc)); perr != nil {
				w.log.Warn("wal: could not preallocate a new segment; commits will grow it (slower fdatasync)", "file", path, "err", perr)
			}
		}
		err = f.Sync()
	}
	if err == nil {
		err = w.fs.syncDir(w.dir)
	}
	renamed := false
	if err == nil {
		// Only now may the manifest name it: its header is durable.
		w.manMu.Lock()
		m := w.man
		m.last = n
		if renamed, err = writeManifest(w.fs, w.dir, m); renamed {
			w.man = m
		}
		w.manMu.Unlock()
	}
	if err != nil && !renamed {
		f.Close()
		// Never appended to or acknowledged, and not in the manifest.
		// Best effort; recovery removes an empty segment off the chain.
		w.fs.remove(path)
		return fmt.Errorf("wal: create segment %s: %w", path, err)
	}
	// The manifest may name it: from here on it must be the segment
	// appended to, even if the manifest's directory sync failed.
	if w.seg != nil {
		if cerr := w.closeSegment(); cerr != nil {
			w.log.Warn("wal: closing old segment", "segment", w.segNum, "err", cerr)
		}
	}
	w.seg, w.segNum, w.segOff, w.poisoned = f, n, headerSize, nil
	if w.chunk > 0 {
		w.space = &segSpace{f: f, num: n}
		w.space.used.Store(headerSize)
		if size, serr := f.Size(); serr == nil {
			w.space.size.Store(max(size, headerSize))
		} else {
			w.space.size.Store(headerSize)
		}
	}
	w.segNumPub.Store(n)
	if err != nil {
		return fmt.Errorf("wal: segment %s created: %w", path, err)
	}
	return nil
}

// Load calls fn with the recovered record of every live address (deleted
// ones excluded), then releases the recovered state. It may be called once,
// before Compact.
func (w *WAL) Load(fn func(lease.Lease) error) error {
	rec, err := w.takeRecovered("Load")
	if err != nil {
		return err
	}
	return rec.load(false, func(l *lease.Lease) error { return fn(*l) })
}

// LoadBorrowed is Load without copying: the byte slices of the record fn
// gets (ClientID, HWAddr, RelayInfo, ReconfKey) alias the store's mapped
// files and are valid only until fn returns, and the record itself is
// reused for the next call; Hostname and Pool are ordinary strings. It
// saves an allocation per record for a caller that copies what it keeps
// (lease.Engine.Restore, lease6.Engine.Restore). Load and LoadBorrowed
// together may be called once.
func (w *WAL) LoadBorrowed(fn func(*lease.Lease) error) error {
	rec, err := w.takeRecovered("LoadBorrowed")
	if err != nil {
		return err
	}
	return rec.load(true, fn)
}

// Recovered is the number of records Load will yield (0 once it ran): a
// size hint for the caller's indexes.
func (w *WAL) Recovered() int {
	w.loadMu.Lock()
	defer w.loadMu.Unlock()
	if w.rec == nil {
		return 0
	}
	return w.rec.live
}

func (w *WAL) takeRecovered(op string) (*recovered, error) {
	w.loadMu.Lock()
	rec := w.rec
	w.rec = nil
	w.loadMu.Unlock()
	if rec == nil {
		return nil, fmt.Errorf("wal: %s: recovered state already released (Load called twice, or after Compact)", op)
	}
	return rec, nil
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

// CommitAsync is Commit without the wait (issue #15): recs are encoded
// and queued now, and done is called exactly once with what Commit would
// have returned — nil only after the batch holding recs was written and
// fdatasync'd — unless CommitAsync itself returns an error (closed,
// a record that cannot be encoded), in which case done is never called
// and nothing was queued. recs may be reused as soon as it returns.
//
// done runs on the writer goroutine, between two batches: it must be
// quick and must not block, and must never wait for a commit (the writer
// would wait for itself). A server hands the result to a goroutine of its
// own; what it saves is a goroutine parked per commit and its wake-up.
func (w *WAL) CommitAsync(recs []lease.Lease, done func(error)) error {
	if done == nil {
		return errors.New("wal: CommitAsync without a completion")
	}
	if len(recs) == 0 {
		done(nil)
		return nil
	}
	r, err := encodeRequest(w, recs, appendLeaseFrame)
	if err != nil {
		return err
	}
	r.cb = done
	if !w.queueRequest(r) {
		r.cb = nil
		w.reqPool.Put(r)
		return ErrClosed
	}
	return nil
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
	r, err := encodeRequest(w, items, appendFrame)
	if err != nil {
		return err
	}
	return w.enqueue(r)
}

// encodeRequest encodes items into a pooled request.
func encodeRequest[T any](w *WAL, items []T, appendFrame func([]byte, *T) ([]byte, error)) (*request, error) {
	r := w.reqPool.Get().(*request)
	r.buf = r.buf[:0]
	for i := range items {
		var err error
		if r.buf, err = appendFrame(r.buf, &items[i]); err != nil {
			w.reqPool.Put(r)
			return nil, err
		}
	}
	r.n = len(items)
	return r, nil
}

// enqueue hands an encoded request to the writer and waits for its outcome.
func (w *WAL) enqueue(r *request) error {
	if !w.queueRequest(r) {
		w.reqPool.Put(r)
		return ErrClosed
	}
	err := <-r.done
	w.recycle(r)
	if err == nil {
		w.commits.Add(1)
	}
	return err
}

// recycle returns a request whose outcome was delivered to the pool.
func (w *WAL) recycle(r *request) {
	if cap(r.buf) <= 64<<10 {
		w.reqPool.Put(r)
	}
}

// queueRequest puts r in the writer's queue and wakes the writer if it
// should; false when the store is closed (r not queued).
func (w *WAL) queueRequest(r *request) bool {
	r.at = time.Now()
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return false
	}
	w.queue = append(w.queue, r)
	w.arrivals++
	// While the writer waits for company it needs waking only when the
	// batch it waits for is complete (one wake-up per batch, not one per
	// request).
	signal := w.want == 0 || len(w.queue) >= w.want
	w.mu.Unlock()
	if signal {
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
	return true
}

// writer is the single goroutine that writes and syncs batches.
func (w *WAL) writer() {
	defer close(w.done)
	var batch []*request
	var g groupPacer
	timer := time.NewTimer(time.Hour)
	timer.Stop()
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
		now := time.Now()
		g.busyUntil(now, w.arrivals)
		if wait, want := g.linger(w.budget, len(w.queue), now.Sub(w.queue[0].at)); wait > 0 && !w.closed {
			// Wait for company (Options.LatencyBudget): the enqueue that
			// completes the batch, or the timer, wakes the writer.
			w.want = want
			select { // a wake left from before the wait would end it early
			case <-w.wake:
			default:
			}
			w.mu.Unlock()
			timer.Reset(wait)
			select {
			case <-w.wake:
			case <-timer.C:
			}
			timer.Stop()
			w.mu.Lock()
			w.want = 0
			waited := time.Since(now)
			w.waitNanos.Add(int64(waited))
			w.waits.Add(1)
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

		start := time.Now()
		err := w.writeBatch(batch)
		flush := time.Since(start)
		w.flushNanos.Add(int64(flush))
		if err == nil {
			g.flushed(flush)
		}
		for _, r := range batch {
			if cb := r.cb; cb != nil {
				r.cb = nil
				if err == nil {
					w.commits.Add(1)
				}
				w.recycle(r)
				cb(err)
				continue
			}
			r.done <- err
		}
		clear(batch)
		w.mu.Lock()
		g.busyUntil(time.Now(), w.arrivals)
		g.idle()
		w.mu.Unlock()
	}
}

// groupPacer decides how long the writer waits for company. It keeps an
// estimate of the rate at which commits arrive while others are in
// flight — counted only while the writer is busy (waiting for company,
// writing, syncing), never while it is idle — and of the flush time
// (moving mean and mean deviation of write + fdatasync, as TCP estimates
// its round-trip time). Counting only busy time is what makes the wait
// safe: committers that each wait for their own commit before the next
// (a closed loop) never arrive while the writer is busy, so their rate
// reads as zero and nobody waits for company that cannot come; requests
// from a network arrive whatever the writer does.
type groupPacer struct {
	from     time.Time // start of the current busy stretch; zero when idle
	arrivals uint64    // enqueues counted up to from
	rate     float64   // commits per second while busy
	flush    float64   // seconds
	dev      float64   // seconds
}

// pacerWindow is the busy time over which the rate is averaged.
const pacerWindow = 50 * time.Millisecond

// busyUntil ends (and restarts at now) a busy stretch, adding the enqueues
// counted during it to the rate.
func (g *groupPacer) busyUntil(now time.Time, arrivals uint64) {
	if !g.from.IsZero() {
		dt := now.Sub(g.from)
		if dt < 20*time.Microsecond {
			return // too short to measure; counted in the next stretch
		}
		sample := float64(arrivals-g.arrivals) / dt.Seconds()
		a := min(1, float64(dt)/float64(pacerWindow))
		g.rate += a * (sample - g.rate)
	}
	g.from, g.arrivals = now, arrivals
}

// idle marks the writer idle (the queue may be empty): time until the
// next busyUntil is not counted.
func (g *groupPacer) idle() { g.from = time.Time{} }

// flushed adds one successful write + fdatasync of d to the estimate.
func (g *groupPacer) flushed(d time.Duration) {
	x := d.Seconds()
	if g.flush == 0 {
		g.flush, g.dev = x, x/2
		return
	}
	e := x - g.flush
	g.flush += e / 8
	if e < 0 {
		e = -e
	}
	g.dev += (e - g.dev) / 4
}

// linger returns how long to wait for company with queued requests in
// the queue, the oldest of them queued oldest ago, and the queue length
// that ends the wait early; 0 when the batch should be written now. A
// request that arrives just after a batch started waits for that flush,
// the wait and its own flush: the wait is at most budget − 2 × (flush +
// 2 × deviation), and at most budget/4 so the rest of the exchange (read,
// engine, send) keeps its share. And the oldest request, queued oldest
// ago, is written at most budget/2 after it arrived (issue #15): one that
// already waited through a slow flush is not kept waiting for company on
// top of it (that sum is what the high percentiles are made of), while
// after an ordinary flush (oldest < budget/4) the wait is unchanged — a
// wait shortened by every request's age made batches smaller and cost
// 10–14 % more CPU per exchange at 6,000/s (docs/BENCHMARKS.md). It waits
// only when the expected arrivals during the wait at least double the
// batch: otherwise the wait costs latency for little.
func (g *groupPacer) linger(budget time.Duration, queued int, oldest time.Duration) (time.Duration, int) {
	if budget <= 0 || g.rate == 0 {
		return 0, 0
	}
	hi := time.Duration((g.flush + 2*g.dev) * float64(time.Second))
	wait := min(budget/4, budget-2*hi, budget/2-max(0, oldest))
	if wait < 20*time.Microsecond {
		return 0, 0
	}
	expect := g.rate * wait.Seconds()
	if expect < float64(max(1, queued)) {
		return 0, 0
	}
	return wait, queued + int(expect)
}

// preallocate grows sp by n bytes (the caller is the grower, or the
// writer when the room ran out). On failure the writer grows the file
// with its writes instead.
func (w *WAL) preallocate(sp *segSpace, n int64) {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	w.growLocked(sp, n)
}

func (w *WAL) growLocked(sp *segSpace, n int64) bool {
	if sp.closed || sp.failed {
		return false
	}
	size := sp.size.Load()
	if err := sp.f.Prealloc(size, n); err != nil {
		sp.failed = true
		w.log.Warn("wal: could not preallocate segment space; commits will grow the file (slower fdatasync)",
			"segment", sp.num, "offset", size, "bytes", n, "err", err)
		return false
	}
	sp.size.Store(size + n)
	return true
}

// grower preallocates segment space off the commit path: the writer
// hands it the segment whose room fell below half a chunk.
func (w *WAL) grower() {
	defer close(w.growDone)
	for sp := range w.growCh {
		sp.mu.Lock()
		if sp.size.Load()-sp.used.Load() < w.chunk/2 {
			w.growLocked(sp, w.chunk)
		}
		sp.mu.Unlock()
	}
}

// closeSegment closes seg once no extension runs on it. The caller holds
// wmu (or is Open or Close).
func (w *WAL) closeSegment() error {
	if sp := w.space; sp != nil {
		sp.mu.Lock()
		sp.closed = true
		sp.mu.Unlock()
		w.space = nil
	}
	return w.seg.Close()
}

func (w *WAL) writeBatch(batch []*request) error {
	w.wmu.Lock()
	defer w.wmu.Unlock()
	if w.poisoned != nil {
		// fsyncgate: after a failed write or sync the kernel may have
		// dropped our dirty pages and a later sync on the same file can
		// report success for data that is gone. Never reuse that file.
		if err := w.createSegment(linkSegment, w.segNum, uint64(w.segOff)); err != nil {
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
	end := w.segOff + int64(len(buf))
	sp := w.space
	if sp != nil && end > sp.size.Load() {
		// The room ran out (the grower fell behind, failed, or the batch
		// is larger than half a chunk): grow it now, holding sp.mu until
		// the batch is written so that no extension writes zeros where
		// this batch goes.
		sp.mu.Lock()
		if size := sp.size.Load(); end > size {
			w.growLocked(sp, (end-size+w.chunk-1)/w.chunk*w.chunk)
		}
		defer sp.mu.Unlock()
	}
	n, err := w.seg.WriteAt(buf, w.segOff)
	if err == nil && n != len(buf) {
		err = io.ErrShortWrite
	}
	if err == nil {
		// Durable before reply (DESIGN.md): nobody is acknowledged
		// before the batch is on stable storage.
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
	w.segOff = end
	if sp != nil {
		if end > sp.size.Load() { // written past the room (growing failed): the file grew
			sp.size.Store(end)
		}
		sp.used.Store(end)
		if sp.size.Load()-end < w.chunk/2 {
			select {
			case w.growCh <- sp:
			default:
			}
		}
	}
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
	err := w.createSegment(linkSegment, w.segNum, uint64(w.segOff))
	n := w.segNum
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
	// snap-N.db is durable: record it, then everything before segment N
	// is redundant.
	w.manMu.Lock()
	m := w.man
	m.snap, m.first = n, n
	renamed, err := writeManifest(w.fs, w.dir, m)
	if renamed {
		w.man = m
	}
	w.manMu.Unlock()
	if err != nil {
		return fmt.Errorf("wal: compact: snapshot %d written, older files kept: %w", n, err)
	}
	df, err := listDir(w.dir)
	if err != nil {
		return err
	}
	removed := 0
	for _, s := range df.snapshots {
		if s < n {
			if err := w.fs.remove(filepath.Join(w.dir, snapName(s))); err != nil {
				return fmt.Errorf("wal: compact: %w", err)
			}
			removed++
		}
	}
	for _, s := range df.segments {
		if s < n {
			if err := w.fs.remove(filepath.Join(w.dir, segName(s))); err != nil {
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
	if err = w.fs.rename(tmp, final); err != nil {
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
		FlushTime:            time.Duration(w.flushNanos.Load()),
		Waited:               time.Duration(w.waitNanos.Load()),
		WaitedBatches:        w.waits.Load(),
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
		close(w.growCh) // only the writer sends on it
		<-w.growDone
		w.wmu.Lock()
		if w.seg != nil {
			w.closeErr = w.closeSegment()
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
