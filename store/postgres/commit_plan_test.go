package postgres

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/leased/leased/internal/pgtest"
	"github.com/leased/leased/lease"
)

// TestCommitOwnedPlans: whatever the statistics of leases say, every
// statement of leased_commit_owned finds the batch's rows by primary-key
// probes. PL/pgSQL keeps the plans of a session; migration 0002's version,
// planned while the table was small, kept scanning all of leases for every
// batch as the table grew (5 ms per call at 10,000 rows, 50 ms at 90,000:
// docs/BENCHMARKS.md). The plans are read with auto_explain (nested
// statements, sent to this session as notices) after the function was
// called on an almost empty table and the table then grew, unanalysed.
func TestCommitOwnedPlans(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DB(t)
	s := clusterOpen(t, dsn, "a")
	c, err := s.ClaimBlock(ctx, benchPool, 1<<16, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	next := c.First
	batch := func(n int) []lease.Lease {
		recs := make([]lease.Lease, n)
		for i := range recs {
			recs[i] = sample(i)
			recs[i].Addr, recs[i].Pool = next, "bench"
			recs[i].ClientID = append([]byte{1}, next.AsSlice()...)
			next = next.Next()
		}
		return recs
	}
	cc, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var notices []string
	cc.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) {
		mu.Lock()
		notices = append(notices, n.Message)
		mu.Unlock()
	}
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	call := func(recs []lease.Lease) {
		t.Helper()
		var cols leaseCols
		grp := make([]int32, len(recs))
		for i := range recs {
			cols.add(&recs[i])
			grp[i] = int32(i)
		}
		args := append([]any{s.opts.ServerName, s.epoch, grp}, cols.args(s.opts.ServerName)...)
		rows, err := conn.Query(ctx, commitOwned, args[:len(args)-1]...)
		if err != nil {
			t.Fatal(err)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
	}
	// Plans made on a nearly empty table (PL/pgSQL switches to a cached
	// generic plan after five calls).
	for range 8 {
		call(batch(4))
	}
	for range 10 {
		commit(t, s, batch(1000)...)
	}
	for _, q := range []string{"LOAD 'auto_explain'", "SET auto_explain.log_min_duration = 0",
		"SET auto_explain.log_nested_statements = on", "SET auto_explain.log_level = notice"} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	mu.Lock()
	notices = nil
	mu.Unlock()
	call(batch(18))
	mu.Lock()
	defer mu.Unlock()
	plans := strings.Join(notices, "\n")
	if !strings.Contains(plans, "leases_pkey") {
		t.Fatalf("no plan probes leases by primary key; plans:\n%s", plans)
	}
	if strings.Contains(plans, "Seq Scan on leases") {
		t.Errorf("leased_commit_owned scans leases; plans:\n%s", plans)
	}
}
