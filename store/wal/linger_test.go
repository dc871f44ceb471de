package wal

import (
	"sync"
	"testing"
	"time"
)

// TestGroupCommitWaitsForCompany: commits arriving independently of each
// other (as requests from a network do) at 2,000/s, with a latency budget
// of 8 ms (a wait of at most 2 ms), share batches: the writer waits for
// company instead of syncing each alone, and never longer than the bound.
// Without a budget (negative) it does not wait. With fdatasync: the rate
// is learnt from arrivals while the writer is busy.
func TestGroupCommitWaitsForCompany(t *testing.T) {
	for _, tt := range []struct {
		budget time.Duration
		wait   bool
	}{{8 * time.Millisecond, true}, {-1, false}} {
		w := open(t, t.TempDir(), Options{LatencyBudget: tt.budget})
		const n, interval = 400, 500 * time.Microsecond
		var wg sync.WaitGroup
		start := time.Now()
		for i := range n {
			if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
				time.Sleep(d)
			}
			wg.Go(func() { commit(t, w, sample(i)) })
		}
		wg.Wait()
		st := w.Stats()
		w.Close()
		perBatch := float64(st.Commits) / float64(st.Batches)
		t.Logf("budget %v: %d commits in %d batches (%.1f per batch), waited %d times, %v in all",
			tt.budget, st.Commits, st.Batches, perBatch, st.WaitedBatches, st.Waited)
		if !tt.wait {
			if st.WaitedBatches != 0 {
				t.Errorf("budget %v: waited %d times", tt.budget, st.WaitedBatches)
			}
			continue
		}
		if st.WaitedBatches == 0 || perBatch < 1.5 {
			t.Errorf("budget %v: %.1f commits per batch, %d waits: the writer did not wait for company", tt.budget, perBatch, st.WaitedBatches)
		}
		// Each wait is at most budget/4 (2 ms), plus timer and scheduling
		// slack on a shared machine.
		if mean := st.Waited / time.Duration(max(1, st.WaitedBatches)); mean > tt.budget/4+2*time.Millisecond {
			t.Errorf("mean wait %v, bound %v", mean, tt.budget/4)
		}
	}
}

// TestNoWaitInClosedLoop: a committer that waits for each commit before
// the next never arrives while the writer is busy, so the writer never
// waits for it: one commit at a time costs no added latency.
func TestNoWaitInClosedLoop(t *testing.T) {
	w := open(t, t.TempDir(), Options{SyncMode: NoSync, LatencyBudget: 8 * time.Millisecond})
	defer w.Close()
	for i := range 300 {
		commit(t, w, sample(i))
	}
	if st := w.Stats(); st.WaitedBatches != 0 {
		t.Errorf("a single committer waited for company %d times (%v)", st.WaitedBatches, st.Waited)
	}
}

// TestPacerLinger checks the wait's bounds from the estimates.
func TestPacerLinger(t *testing.T) {
	for _, tt := range []struct {
		name        string
		rate, flush float64
		budget      time.Duration
		queued      int
		oldest      time.Duration // how long ago the oldest queued request arrived
		wait        time.Duration
		want        int
	}{
		{"3k/s, 0.25 ms flush", 3000, 250e-6, 2 * time.Millisecond, 1, 0, 500 * time.Microsecond, 2},
		{"8k/s, 0.25 ms flush, 3 queued", 8000, 250e-6, 2 * time.Millisecond, 3, 0, 500 * time.Microsecond, 7},
		{"batch would not double", 3000, 250e-6, 2 * time.Millisecond, 2, 0, 0, 0},
		{"slow disk: no room in the budget", 8000, 1e-3, 2 * time.Millisecond, 1, 0, 0, 0},
		{"0.8 ms flush: wait shrinks", 20000, 800e-6, 2 * time.Millisecond, 1, 0, 400 * time.Microsecond, 9},
		{"no rate", 0, 250e-6, 2 * time.Millisecond, 1, 0, 0, 0},
		{"no budget", 8000, 250e-6, -1, 1, 0, 0, 0},
		// Issue #15: the oldest request is written at most budget/2 after
		// it arrived; an ordinary flush's wait (oldest < budget/4) is kept.
		{"oldest waited an ordinary flush", 8000, 250e-6, 2 * time.Millisecond, 1, 300 * time.Microsecond, 500 * time.Microsecond, 5},
		{"oldest waited 0.7 ms", 8000, 250e-6, 2 * time.Millisecond, 1, 700 * time.Microsecond, 300 * time.Microsecond, 3},
		{"oldest waited through a slow flush", 8000, 250e-6, 2 * time.Millisecond, 1, 900 * time.Microsecond, 0, 0},
	} {
		g := groupPacer{rate: tt.rate, flush: tt.flush}
		wait, want := g.linger(tt.budget, tt.queued, tt.oldest)
		if d := wait - tt.wait; d > time.Microsecond || d < -time.Microsecond || want != tt.want {
			t.Errorf("%s: linger = %v, %d; want %v, %d", tt.name, wait, want, tt.wait, tt.want)
		}
	}
}
