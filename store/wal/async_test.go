package wal

import (
	"errors"
	"testing"
	"time"

	"github.com/leased/leased/lease"
)

// TestCommitAsync: CommitAsync's completion comes only after the batch's
// fdatasync returned (durable before reply), once per call, with the
// commits of one sync grouped, and a failed sync reaches every completion
// of its batch; after Close it refuses without calling back.
func TestCommitAsync(t *testing.T) {
	dir := t.TempDir()
	fs := &faultFS{}
	w := open(t, dir, Options{fs: fs, LatencyBudget: -1})
	loadAll(t, w)
	gate, entered := make(chan struct{}), make(chan struct{}, 1)
	fs.set(func(fs *faultFS) { fs.gate, fs.entered = gate, entered })

	done := make(chan error, 16)
	cb := func(err error) { done <- err }
	if err := w.CommitAsync([]lease.Lease{sample(0)}, cb); err != nil {
		t.Fatal(err)
	}
	recv(t, entered) // sample(0)'s batch is inside its sync
	const n = 5
	for i := 1; i <= n; i++ {
		if err := w.CommitAsync([]lease.Lease{sample(i)}, cb); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case err := <-done:
		t.Fatalf("completion (%v) before its sync returned", err)
	case <-time.After(20 * time.Millisecond):
	}
	send(t, gate) // the first sync returns
	if err := waitDone(t, done); err != nil {
		t.Fatalf("first commit: %v", err)
	}
	recv(t, entered) // the other five share the next sync
	select {
	case err := <-done:
		t.Fatalf("completion (%v) before its sync returned", err)
	case <-time.After(20 * time.Millisecond):
	}
	send(t, gate)
	for range n {
		if err := waitDone(t, done); err != nil {
			t.Fatalf("grouped commit: %v", err)
		}
	}
	if st := w.Stats(); st.Batches != 2 || st.Commits != n+1 {
		t.Errorf("%d commits in %d batches, want %d in 2", st.Commits, st.Batches, n+1)
	}

	// A failed sync: its completion gets the error, the record never
	// comes back.
	fs.set(func(fs *faultFS) { fs.gate, fs.failSync = nil, 1 })
	if err := w.CommitAsync([]lease.Lease{sample(100)}, cb); err != nil {
		t.Fatal(err)
	}
	if err := waitDone(t, done); err == nil {
		t.Fatal("completion of a failed sync reported success")
	}
	// The next batch rotates away from the poisoned segment (its header
	// records where the durable data ended: sample(100) is not replayed).
	if err := w.CommitAsync([]lease.Lease{sample(101)}, cb); err != nil {
		t.Fatal(err)
	}
	if err := waitDone(t, done); err != nil {
		t.Fatalf("commit after the failure: %v", err)
	}
	if err := w.CommitAsync(nil, cb); err != nil || waitDone(t, done) != nil {
		t.Error("empty CommitAsync did not complete at once with nil")
	}

	want := []lease.Lease{sample(101)}
	for i := range n + 1 {
		want = append(want, sample(i))
	}
	diff(t, byAddr(want...), reopen(t, w, dir))
	if err := w.CommitAsync([]lease.Lease{sample(7)}, cb); !errors.Is(err, ErrClosed) {
		t.Errorf("CommitAsync after Close = %v, want ErrClosed", err)
	}
	select {
	case err := <-done:
		t.Errorf("completion (%v) of a refused CommitAsync", err)
	case <-time.After(10 * time.Millisecond):
	}
}

func waitDone(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("timed out waiting for a completion")
		return nil
	}
}
