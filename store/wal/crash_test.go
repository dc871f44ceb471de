package wal

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
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
		// Everything acknowledged so far lies within the first s0 bytes.
		s0, err := os.Stat(filepath.Join(dir, segName(1)))
		if err != nil {
			t.Fatal(err)
		}
		crash := copyDir(t, dir)
		close(stop)
		wg.Wait()
		w.Close()

		seg := filepath.Join(crash, segName(1))
		st, _ := os.Stat(seg)
		if round%2 == 1 && st.Size() > s0.Size() {
			// Power loss rather than kill -9: unacknowledged bytes after
			// s0 are cut at an arbitrary point, usually inside a frame.
			cut := s0.Size() + r.Int64N(st.Size()-s0.Size())
			if err := os.Truncate(seg, cut); err != nil {
				t.Fatal(err)
			}
			st, _ = os.Stat(seg)
		}
		var lb logBuf
		w2, err := Open(crash, Options{Logger: lb.logger()})
		if err != nil {
			t.Fatalf("round %d: Open of the crash copy: %v", round, err)
		}
		got := loadAll(t, w2)
		w2.Close()
		after, _ := os.Stat(seg)
		t.Logf("round %d: %d acknowledged before the copy, %d recovered, copy %d bytes, %d after repair",
			round, len(before), len(got), st.Size(), after.Size())
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
