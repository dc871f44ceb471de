package wal

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/leased/leased/lease"
)

func TestRecoverAfterCleanClose(t *testing.T) {
	dir := t.TempDir()
	w := open(t, dir, Options{})
	if got := loadAll(t, w); len(got) != 0 {
		t.Fatalf("fresh store loaded %d records", len(got))
	}
	var want []lease.Lease
	for i := range 100 {
		want = append(want, sample(i))
	}
	commit(t, w, want[:60]...)
	for _, l := range want[60:] {
		commit(t, w, l)
	}
	diff(t, byAddr(want...), reopen(t, w, dir))

	// Open again, append to the reused segment, and recover again.
	w = open(t, dir, Options{})
	loadAll(t, w)
	more := sample(500)
	commit(t, w, more)
	diff(t, byAddr(append(want, more)...), reopen(t, w, dir))
}

func TestFilePermissions(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	w := open(t, dir, Options{})
	commit(t, w, sample(1))
	if err := w.Compact(slices.Values([]lease.Lease{sample(1)}), nil); err != nil {
		t.Fatal(err)
	}
	w.Close()
	st, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if p := st.Mode().Perm(); p != 0o700 {
		t.Errorf("dir mode %o, want 700", p)
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		info, _ := e.Info()
		if p := info.Mode().Perm(); p != 0o600 {
			t.Errorf("%s mode %o, want 600", e.Name(), p)
		}
	}
}

func TestSecondOpenIsRefused(t *testing.T) {
	dir := t.TempDir()
	w := open(t, dir, Options{})
	defer w.Close()
	if w2, err := Open(dir, Options{}); err == nil {
		w2.Close()
		t.Fatal("second Open of the same directory succeeded")
	}
}

func TestHighestSeqWins(t *testing.T) {
	a := sample(1)
	tests := []struct {
		name  string
		seqs  []uint64 // committed in this order, one Commit each
		state []lease.State
		want  uint64 // 0: address absent
	}{
		{"in order", []uint64{1, 2, 3}, nil, 3},
		{"out of order", []uint64{5, 3, 4}, nil, 5},
		{"tombstone wins", []uint64{1, 2}, []lease.State{lease.StateBound, lease.StateDeleted}, 0},
		{"older tombstone loses", []uint64{4, 2}, []lease.State{lease.StateBound, lease.StateDeleted}, 4},
		{"re-added after tombstone", []uint64{1, 2, 3}, []lease.State{lease.StateBound, lease.StateDeleted, lease.StateBound}, 3},
		{"late record after tombstone stays deleted", []uint64{5, 3}, []lease.State{lease.StateDeleted, lease.StateBound}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			w := open(t, dir, Options{})
			other := sample(2)
			commit(t, w, other)
			for i, s := range tt.seqs {
				l := a
				l.Seq = s
				l.Hostname = fmt.Sprintf("v%d", s)
				if tt.state != nil {
					l.State = tt.state[i]
				}
				commit(t, w, l)
			}
			want := byAddr(other)
			if tt.want != 0 {
				l := a
				l.Seq = tt.want
				l.Hostname = fmt.Sprintf("v%d", tt.want)
				want[l.Addr] = l
			}
			diff(t, want, reopen(t, w, dir))
		})
	}
}

// writeRecords commits n samples one per Commit and returns the frame
// offsets in the (single) segment and its path.
func writeRecords(t *testing.T, dir string, n int) (offs []int64, path string) {
	t.Helper()
	w := open(t, dir, Options{})
	off := int64(headerSize)
	for i := range n {
		l := sample(i)
		f, _ := appendLeaseFrame(nil, &l)
		offs = append(offs, off)
		off += int64(len(f))
		commit(t, w, l)
	}
	offs = append(offs, off)
	path = segPath(dir, w.Stats().Segment)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if end := dataEnd(t, path); end != off {
		t.Fatalf("segment's records end at %d, expected %d", end, off)
	}
	if st, _ := os.Stat(path); st.Size() < off+1<<20 {
		t.Fatalf("segment is %d bytes: not preallocated beyond its records (%d)", st.Size(), off)
	}
	return offs, path
}

func TestTornTailEveryOffset(t *testing.T) {
	const n = 5
	src := t.TempDir()
	offs, path := writeRecords(t, src, n)
	var want []lease.Lease
	for i := range n - 1 {
		want = append(want, sample(i))
	}
	last := offs[n-1]
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// A crash tears the last write: the file ends inside the frame (an
	// append that grew the file), or the frame's tail is still the zeros
	// of the preallocated space (a write in place).
	for _, zeroed := range []bool{false, true} {
		for cut := last; cut < offs[n]; cut++ {
			dir := copyDir(t, src)
			seg := filepath.Join(dir, filepath.Base(path))
			if zeroed {
				writeAtEnd(t, seg, nil)
				b, _ := os.ReadFile(seg)
				clear(b[cut:offs[n]])
				if err := os.WriteFile(seg, b, 0o600); err != nil {
					t.Fatal(err)
				}
			} else if err := os.Truncate(seg, cut); err != nil {
				t.Fatal(err)
			}
			var lb logBuf
			w, err := Open(dir, Options{Logger: lb.logger()})
			if err != nil {
				t.Fatalf("zeroed %v, cut at %d: Open: %v", zeroed, cut, err)
			}
			got := loadAll(t, w)
			if end := dataEnd(t, seg); end != last {
				t.Errorf("zeroed %v, cut at %d: records end at %d after recovery, want %d", zeroed, cut, end, last)
			}
			// What is dropped: the torn frame's bytes up to the cut, but
			// for zeros at their end (the start of the zero tail).
			torn := int64(zeroFrom(orig[last:cut]))
			if torn > 0 && !strings.Contains(lb.String(), fmt.Sprintf("bytes_dropped=%d", torn)) {
				t.Errorf("zeroed %v, cut at %d: log does not report %d bytes dropped:\n%s", zeroed, cut, torn, lb.String())
			}
			diff(t, byAddr(want...), got)
			// The store keeps working after the repair.
			commit(t, w, sample(n-1))
			diff(t, byAddr(append(want, sample(n-1))...), reopen(t, w, dir))
		}
	}
}

func TestCorruptLastRecordIsTruncated(t *testing.T) {
	src := t.TempDir()
	offs, path := writeRecords(t, src, 4)
	for _, at := range []int64{offs[3], offs[3] + 4, offs[3] + 8, offs[4] - 1} {
		dir := copyDir(t, src)
		flip(t, filepath.Join(dir, filepath.Base(path)), at)
		var lb logBuf
		w, err := Open(dir, Options{Logger: lb.logger()})
		if err != nil {
			t.Fatalf("flip at %d: %v", at, err)
		}
		diff(t, byAddr(sample(0), sample(1), sample(2)), loadAll(t, w))
		if !strings.Contains(lb.String(), fmt.Sprintf("bytes_dropped=%d", offs[4]-offs[3])) {
			t.Errorf("flip at %d: log:\n%s", at, lb.String())
		}
		w.Close()
	}
}

func flip(t *testing.T, path string, at int64) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[at] ^= 0x40
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestCorruptMiddle(t *testing.T) {
	const n = 6
	src := t.TempDir()
	offs, path := writeRecords(t, src, n)
	for _, victim := range []int{0, 2, n - 2} {
		for _, within := range []int64{0, 5, 9, 20} { // length, crc, kind, payload
			dir := copyDir(t, src)
			seg := filepath.Join(dir, filepath.Base(path))
			flip(t, seg, offs[victim]+within)

			_, err := Open(dir, Options{})
			var ce *CorruptError
			if !errors.As(err, &ce) {
				t.Fatalf("record %d byte %d: Open err = %v, want *CorruptError", victim, within, err)
			}
			if ce.Path != seg || ce.Offset != offs[victim] {
				t.Errorf("record %d byte %d: error names %s:%d, want %s:%d", victim, within, ce.Path, ce.Offset, seg, offs[victim])
			}
			if !strings.Contains(err.Error(), filepath.Base(path)) || !strings.Contains(err.Error(), fmt.Sprint(offs[victim])) {
				t.Errorf("error text lacks file or offset: %v", err)
			}
			before, _ := os.ReadFile(seg)

			var lb logBuf
			w, err := Open(dir, Options{AllowCorruptMiddle: true, Logger: lb.logger()})
			if err != nil {
				t.Fatalf("AllowCorruptMiddle: %v", err)
			}
			var want []lease.Lease
			for i := range n {
				if i != victim {
					want = append(want, sample(i))
				}
			}
			diff(t, byAddr(want...), loadAll(t, w))
			if !strings.Contains(lb.String(), "SKIPPING CORRUPT DATA") {
				t.Errorf("no loud log line:\n%s", lb.String())
			}
			w.Close()
			// The damaged segment is set aside unchanged for the operator,
			// and the next Open needs no override.
			if after, _ := os.ReadFile(seg + lostSuffix); string(after) != string(before) {
				t.Errorf("the damaged segment was not kept unchanged as %s", filepath.Base(seg)+lostSuffix)
			}
			w = open(t, dir, Options{})
			diff(t, byAddr(want...), loadAll(t, w))
			w.Close()
		}
	}
}

// Damage at the end of a segment that is not the last is corruption, not a
// torn tail.
func TestCorruptEndOfEarlierSegment(t *testing.T) {
	dir := t.TempDir()
	offs, path := writeRecords(t, dir, 3)
	// A later segment, as a rotation would create it (durable length unknown).
	next := segPath(dir, 2)
	l := sample(10)
	b := appendHeader(nil, magicSegment, prevUnknown)
	b, _ = appendLeaseFrame(b, &l)
	if err := os.WriteFile(next, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, offs[3]-3); err != nil {
		t.Fatal(err)
	}
	_, err := Open(dir, Options{})
	var ce *CorruptError
	if !errors.As(err, &ce) || ce.Path != path || ce.Offset != offs[2] {
		t.Fatalf("Open err = %v, want corruption in %s at %d", err, path, offs[2])
	}
	w := open(t, dir, Options{AllowCorruptMiddle: true})
	diff(t, byAddr(sample(0), sample(1), l), loadAll(t, w))
	w.Close()
}

func TestUnknownKindIsCorruption(t *testing.T) {
	dir := t.TempDir()
	_, path := writeRecords(t, dir, 2)
	l := sample(5)
	fr, _ := appendLeaseFrame(appendFrame(nil, Kind(77), []byte("campaign")), &l)
	writeAtEnd(t, path, fr)
	_, err := Open(dir, Options{})
	var ce *CorruptError
	if !errors.As(err, &ce) || !strings.Contains(ce.Reason, "unknown record kind") {
		t.Fatalf("Open err = %v, want unknown kind corruption", err)
	}
}

func TestSnapshotDamage(t *testing.T) {
	src := t.TempDir()
	w := open(t, src, Options{})
	all := []lease.Lease{sample(1), sample(2), sample(3)}
	commit(t, w, all...)
	if err := w.Compact(slices.Values(all), nil); err != nil {
		t.Fatal(err)
	}
	snap := filepath.Join(src, snapName(w.Stats().Snapshot))
	w.Close()
	st, _ := os.Stat(snap)
	tests := []struct {
		name   string
		damage func(path string)
	}{
		{"truncated (no end marker)", func(p string) { os.Truncate(p, st.Size()-12) }},
		{"bit flip", func(p string) { flip(t, p, headerSize+12) }},
		{"header", func(p string) { flip(t, p, 2) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := copyDir(t, src)
			tt.damage(filepath.Join(dir, filepath.Base(snap)))
			_, err := Open(dir, Options{})
			var ce *CorruptError
			if !errors.As(err, &ce) {
				t.Fatalf("Open err = %v, want *CorruptError", err)
			}
		})
	}
}

func TestCommitCancelledContext(t *testing.T) {
	dir := t.TempDir()
	w := open(t, dir, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := w.Commit(ctx, []lease.Lease{sample(1)}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Commit = %v, want context.Canceled", err)
	}
	if got := reopen(t, w, dir); len(got) != 0 {
		t.Errorf("cancelled commit was written: %v", got)
	}
}

func TestCommitRejectsBadRecord(t *testing.T) {
	dir := t.TempDir()
	w := open(t, dir, Options{})
	if err := w.Commit(context.Background(), []lease.Lease{sample(1), {Seq: 9}}); err == nil {
		t.Fatal("record without address accepted")
	}
	commit(t, w, sample(2))
	diff(t, byAddr(sample(2)), reopen(t, w, dir))
}

func TestCommitAfterClose(t *testing.T) {
	w := open(t, t.TempDir(), Options{})
	w.Close()
	if err := w.Commit(context.Background(), []lease.Lease{sample(1)}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Commit after Close = %v", err)
	}
	if err := w.Compact(slices.Values([]lease.Lease{}), nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("Compact after Close = %v", err)
	}
}

func TestLoadOnce(t *testing.T) {
	w := open(t, t.TempDir(), Options{})
	defer w.Close()
	loadAll(t, w)
	if err := w.Load(func(lease.Lease) error { return nil }); err == nil {
		t.Fatal("second Load succeeded")
	}
}

// 64 concurrent committers: every Commit returns nil and every record is
// there after a restart.
func TestConcurrentCommitters(t *testing.T) {
	dir := t.TempDir()
	w := open(t, dir, Options{})
	const writers, each = 64, 40
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for g := range writers {
		wg.Go(func() {
			for i := range each {
				if err := w.Commit(context.Background(), []lease.Lease{sample(g*each + i)}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	st := w.Stats()
	t.Logf("%d commits in %d batches", st.Commits, st.Batches)
	if st.Commits != writers*each || st.RecordsSinceSnapshot != writers*each {
		t.Errorf("stats %+v", st)
	}
	var want []lease.Lease
	for i := range writers * each {
		want = append(want, sample(i))
	}
	diff(t, byAddr(want...), reopen(t, w, dir))
}

// Close lets queued commits finish; each Commit gets its real outcome.
func TestCloseDrains(t *testing.T) {
	dir := t.TempDir()
	w := open(t, dir, Options{})
	var mu sync.Mutex
	var acked []lease.Lease
	var wg sync.WaitGroup
	for g := range 32 {
		wg.Go(func() {
			for i := range 20 {
				l := sample(g*20 + i)
				err := w.Commit(context.Background(), []lease.Lease{l})
				if errors.Is(err, ErrClosed) {
					return
				}
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				acked = append(acked, l)
				mu.Unlock()
			}
		})
	}
	w.Close()
	wg.Wait()
	w2 := open(t, dir, Options{})
	got := loadAll(t, w2)
	w2.Close()
	for _, l := range acked {
		if _, ok := got[l.Addr]; !ok {
			t.Errorf("acknowledged %s lost", l.Addr)
		}
	}
}
