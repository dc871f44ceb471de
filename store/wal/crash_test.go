package wal

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leased/leased/lease"
)

// TestCrashCopy simulates kill -9: while many goroutines commit, the data
// files are copied at a random moment (the bytes written so far, possibly
// a torn batch at the end). The copy must open without help and hold every
// commit acknowledged before the copy began.
func TestCrashCopy(t *testing.T) {
	for round := range 8 {
		dir := t.TempDir()
		w := open(t, dir, Options{})
		var mu sync.Mutex
		var acked []lease.Lease
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for g := range 16 {
			wg.Go(func() {
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					if i >= 5000 {
						return
					}
					n := 1 + (i % 3)
					recs := make([]lease.Lease, n)
					for k := range recs {
						recs[k] = sample(g<<16 | i<<2 | k)
					}
					if err := w.Commit(context.Background(), recs); err != nil {
						if !errors.Is(err, ErrClosed) {
							t.Error(err)
						}
						return
					}
					mu.Lock()
					acked = append(acked, recs...)
					mu.Unlock()
				}
			})
		}
		r := rand.New(rand.NewPCG(uint64(round), 7))
		time.Sleep(time.Duration(5+r.IntN(40)) * time.Millisecond)
		mu.Lock()
		before := append([]lease.Lease(nil), acked...)
		mu.Unlock()
		// Everything acknowledged so far lies within the first s0 bytes
		// (the records end where the preallocated zeros begin).
		seg := filepath.Join(dir, segName(1))
		s0 := dataEnd(t, seg)
		crash := copyDir(t, dir)
		close(stop)
		wg.Wait()
		w.Close()

		seg = filepath.Join(crash, segName(1))
		end := dataEnd(t, seg)
		if round%2 == 1 && end > s0 {
			// Power loss rather than kill -9: unacknowledged bytes after
			// s0 are lost from an arbitrary point on, usually inside a
			// frame; in place, the preallocated zeros are left there.
			cut := s0 + r.Int64N(end-s0)
			b, err := os.ReadFile(seg)
			if err != nil {
				t.Fatal(err)
			}
			clear(b[cut:])
			if err := os.WriteFile(seg, b, 0o600); err != nil {
				t.Fatal(err)
			}
			end = cut
		}
		var lb logBuf
		w2, err := Open(crash, Options{Logger: lb.logger()})
		if err != nil {
			t.Fatalf("round %d: Open of the crash copy: %v", round, err)
		}
		got := loadAll(t, w2)
		w2.Close()
		t.Logf("round %d: %d acknowledged before the copy, %d recovered, copy's records end at %d, %d after repair",
			round, len(before), len(got), end, dataEnd(t, seg))
		for _, l := range before {
			g, ok := got[l.Addr]
			if !ok {
				t.Fatalf("round %d: acknowledged record %s lost", round, l.Addr)
			}
			if g.Seq != l.Seq {
				t.Fatalf("round %d: %s has seq %d, want %d", round, l.Addr, g.Seq, l.Seq)
			}
		}
	}
}

// copyFiles copies the data files of src to dst (a kill -9 leaves exactly
// what the calls made so far wrote, page cache included).
func copyFiles(src, dst string) error {
	ents, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if e.Name() == lockName {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// TestCrashAtEverySyscall: kill -9 between any two file-system calls of
// the WAL — creating the first segment, appending, rotating after a failed
// sync, every step of a manifest update, writing and renaming a snapshot,
// compaction's removals, reopening — leaves a directory that opens without
// help (the manifest never causes a false refusal) and holds every record
// acknowledged before the kill.
func TestCrashAtEverySyscall(t *testing.T) {
	dir := t.TempDir()
	base := t.TempDir()
	fs := &faultFS{}
	var mu sync.Mutex
	var acked []lease.Lease
	type point struct {
		at    string
		dir   string
		acked int
	}
	var points []point
	fs.before = func(op, path string) {
		mu.Lock()
		defer mu.Unlock()
		p := point{at: fmt.Sprintf("#%d %s %s", len(points), op, filepath.Base(path)), acked: len(acked)}
		p.dir = filepath.Join(base, fmt.Sprint(len(points)))
		if err := os.Mkdir(p.dir, 0o700); err == nil {
			if err := copyFiles(dir, p.dir); err != nil {
				t.Errorf("%s: copy: %v", p.at, err)
			}
		}
		points = append(points, p)
	}
	ack := func(w *WAL, from, to int) {
		for i := from; i < to; i++ {
			commit(t, w, sample(i))
			mu.Lock()
			acked = append(acked, sample(i))
			mu.Unlock()
		}
	}
	compact := func(w *WAL) {
		mu.Lock()
		all := slices.Clone(acked)
		mu.Unlock()
		if err := w.Compact(slices.Values(all), nil); err != nil {
			t.Fatal(err)
		}
	}
	w := open(t, dir, Options{fs: fs})
	loadAll(t, w)
	ack(w, 0, 5)
	compact(w)
	ack(w, 5, 10)
	fs.set(func(fs *faultFS) { fs.failSync = 1 }) // poison: the next batch rotates
	if err := w.Commit(context.Background(), []lease.Lease{sample(1000)}); err == nil {
		t.Fatal("commit succeeded despite the injected fsync error")
	}
	ack(w, 10, 15)
	fs.set(func(fs *faultFS) { fs.failCreate = 1 }) // a compaction that fails
	if err := w.Compact(slices.Values([]lease.Lease{sample(0)}), nil); err == nil {
		t.Fatal("compaction succeeded despite the injected create error")
	}
	ack(w, 15, 20)
	compact(w)
	ack(w, 20, 25)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	w = open(t, dir, Options{fs: fs})
	loadAll(t, w)
	ack(w, 25, 30)
	compact(w)
	ack(w, 30, 35)
	fs.set(func(fs *faultFS) { fs.before = nil })
	w.Close()

	if len(points) < 60 {
		t.Fatalf("only %d kill points", len(points))
	}
	for _, p := range points {
		var lb logBuf
		w, err := Open(p.dir, Options{Logger: lb.logger()})
		if err != nil {
			t.Errorf("kill at %s: Open: %v", p.at, err)
			continue
		}
		got := loadAll(t, w)
		w.Close()
		for _, l := range acked[:p.acked] {
			if g, ok := got[l.Addr]; !ok || g.Seq != l.Seq {
				t.Errorf("kill at %s: acknowledged %s lost", p.at, l.Addr)
				break
			}
		}
		if strings.Contains(lb.String(), "SKIPPING") {
			t.Errorf("kill at %s: recovery skipped data:\n%s", p.at, lb.String())
		}
	}
	t.Logf("%d kill points, each reopened without an error", len(points))
}
