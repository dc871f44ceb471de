package pgtest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestSyncStandbyFailover: a synchronous standby holds every committed
// row when the primary is killed with SIGKILL; once promoted it takes
// writes, and a client with both hosts and target_session_attrs=read-write
// reaches whichever is the primary.
func TestSyncStandbyFailover(t *testing.T) {
	primary := New(t)
	dsn := primary.CreateDB(t)
	standby := primary.NewStandby(t, true)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	multi := MultiDSN(dbName(t, dsn), standby, primary) // the standby first: read-write must skip it
	conn, err := pgx.Connect(ctx, multi)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE t (n int PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	const n = 200
	for i := range n {
		if _, err := conn.Exec(ctx, "INSERT INTO t VALUES ($1)", i); err != nil {
			t.Fatal(err)
		}
	}
	conn.Close(ctx)
	if rec, err := standby.InRecovery(ctx); err != nil || !rec {
		t.Fatalf("standby in recovery: %v %v", rec, err)
	}

	if err := primary.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := standby.Promote(); err != nil {
		t.Fatal(err)
	}
	if rec, err := standby.InRecovery(ctx); err != nil || rec {
		t.Fatalf("promoted standby still in recovery: %v %v", rec, err)
	}
	conn, err = pgx.Connect(ctx, multi)
	if err != nil {
		t.Fatalf("read-write connection after the fail-over: %v", err)
	}
	defer conn.Close(ctx)
	var got int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM t").Scan(&got); err != nil {
		t.Fatal(err)
	}
	if got != n {
		t.Fatalf("promoted standby has %d of %d committed rows", got, n)
	}
	if _, err := conn.Exec(ctx, "INSERT INTO t VALUES ($1)", n); err != nil {
		t.Fatalf("write on the promoted standby: %v", err)
	}
	if err := primary.Kill(); err == nil {
		t.Fatal("Kill of a killed server did not fail")
	}
}

// TestSyncStandbyBlocksCommit: with the synchronous standby gone, a commit
// on the primary waits (it is not acknowledged without the standby's
// flush) — what makes "a promoted standby holds every ACKed lease" true.
func TestSyncStandbyBlocksCommit(t *testing.T) {
	primary := New(t)
	dsn := primary.CreateDB(t)
	standby := primary.NewStandby(t, true)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE TABLE t (n int)"); err != nil {
		t.Fatal(err)
	}
	if err := standby.Kill(); err != nil {
		t.Fatal(err)
	}
	wctx, wcancel := context.WithTimeout(ctx, 2*time.Second)
	defer wcancel()
	_, err = conn.Exec(wctx, "INSERT INTO t VALUES (1)")
	if err == nil || !errors.Is(wctx.Err(), context.DeadlineExceeded) {
		t.Fatalf("commit without the synchronous standby returned %v before 2 s", err)
	}
}

func dbName(t *testing.T, dsn string) string {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Database
}

// TestStopStreaming: rows committed after StopStreaming are not on the
// standby once it is promoted (what an asynchronous standby loses).
func TestStopStreaming(t *testing.T) {
	primary := New(t)
	dsn := primary.CreateDB(t)
	standby := primary.NewStandby(t, false)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE TABLE t (n int); INSERT INTO t VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	// The standby has the first row before it is cut off.
	sdsn := standby.DSN(dbName(t, dsn))
	deadline := time.Now().Add(20 * time.Second)
	for {
		sc, err := pgx.Connect(ctx, sdsn)
		var n int
		if err == nil {
			err = sc.QueryRow(ctx, "SELECT count(*) FROM t").Scan(&n)
			sc.Close(ctx)
		}
		if err == nil && n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("standby never got the first row: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := standby.StopStreaming(); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "INSERT INTO t VALUES (2)"); err != nil {
		t.Fatal(err)
	}
	if err := primary.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := standby.Promote(); err != nil {
		t.Fatal(err)
	}
	sc, err := pgx.Connect(ctx, sdsn)
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close(ctx)
	var n int
	if err := sc.QueryRow(ctx, "SELECT count(*) FROM t").Scan(&n); err != nil || n != 1 {
		t.Fatalf("promoted standby has %d rows (%v), want 1: the row after StopStreaming must be missing", n, err)
	}
}
