package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/leased/leased/internal/pgtest"
	"github.com/leased/leased/lease"
)

// TestLinger: with Options.Linger a commit is sent at once when no batch
// is in flight, however long Linger is; while one is in flight, the other
// writer waits for its batch to fill (MaxBatch here) instead of sending
// each request alone.
func TestLinger(t *testing.T) {
	s := open(t, pgtest.DB(t), Options{Linger: time.Minute, MaxBatch: 4})
	ctx := context.Background()
	start := time.Now()
	commit(t, s, sample(0))
	if d := time.Since(start); d > 20*time.Second {
		t.Fatalf("a commit with nothing in flight took %v (Linger %v)", d, s.opts.Linger)
	}
	// Hold the next batch in flight: its fence takes this server's row
	// FOR SHARE, which waits for this transaction's FOR UPDATE.
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "SELECT 1 FROM servers WHERE server_name = $1 FOR UPDATE", s.opts.ServerName); err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 5)
	go func() { errs <- s.Commit(ctx, []lease.Lease{sample(1)}) }()
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("after 20 s: %s", what)
			}
			time.Sleep(time.Millisecond)
		}
	}
	waitFor("first batch in flight", func() bool { return s.inflight.Load() == 1 })
	for i := 2; i <= 5; i++ {
		go func() { errs <- s.Commit(ctx, []lease.Lease{sample(i)}) }()
	}
	// The second writer sends once MaxBatch records are queued.
	waitFor("second batch in flight", func() bool { return s.inflight.Load() == 2 })
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if st := s.Stats(); st.Transactions != 3 || st.Records != 6 {
		t.Errorf("stats %+v, want 3 transactions (1, 1, then 4 records together) and 6 records", st)
	}
}
