package pgtest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) {
	if os.Getenv("PGTEST_ORPHAN") == "1" {
		orphan()
	}
	Main(m)
}

// orphan starts a server, prints its PID and directory, and exits without
// stopping it (a test binary that panicked or timed out).
func orphan() {
	bin, err := Bin()
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	s, err := start(bin)
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	fmt.Println(s.PID(), s.Dir())
	os.Exit(3)
}

// TestOrphanStops: when the test process dies without stopping its
// server, the server shuts down by itself (parent-death signal).
func TestOrphanStops(t *testing.T) {
	if _, err := Bin(); err != nil {
		unavailable(t, err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "PGTEST_ORPHAN=1")
	out, _ := cmd.Output()
	var pid int
	var dir string
	if _, err := fmt.Sscan(string(out), &pid, &dir); err != nil || pid == 0 {
		t.Fatalf("child output %q: %v", out, err)
	}
	defer os.RemoveAll(dir)
	deadline := time.Now().Add(30 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGQUIT) // the server this test's child started
			t.Fatalf("postmaster %d of a dead test process still running after 30 s", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestServer: the server runs with the settings durability depends on, as
// an unprivileged user, without TCP, and a fresh database is empty.
func TestServer(t *testing.T) {
	dsn := DB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for name, want := range map[string]string{
		"fsync": "on", "synchronous_commit": "on", "listen_addresses": "", "port": "5432",
	} {
		var got string
		if err := conn.QueryRow(ctx, "SELECT current_setting($1)", name).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("fresh database has %d tables", n)
	}
	if os.Geteuid() == 0 {
		st, err := os.Stat(Shared(t).Dir() + "/data")
		if err != nil {
			t.Fatal(err)
		}
		if uid := statUID(st); uid == 0 {
			t.Errorf("data directory owned by root")
		}
	}
	// A second database is another, empty one.
	dsn2 := DB(t)
	if dsn2 == dsn {
		t.Fatalf("DB returned the same DSN twice: %s", dsn)
	}
}

// TestStopStart: a private server stops by its PID and starts again on the
// same data; what was committed is still there.
func TestStopStart(t *testing.T) {
	s := New(t)
	dsn := s.CreateDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	exec := func(sql string) error {
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, sql)
		return err
	}
	if err := exec("CREATE TABLE t (x int); INSERT INTO t VALUES (42)"); err != nil {
		t.Fatal(err)
	}
	pid := s.PID()
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if s.PID() != 0 {
		t.Fatal("PID after Stop")
	}
	if err := processAlive(pid); err == nil {
		t.Fatalf("postmaster %d still alive after Stop", pid)
	}
	if err := exec("SELECT 1"); err == nil {
		t.Fatal("connected to a stopped server")
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	if err := exec("DO $$ BEGIN IF (SELECT x FROM t) <> 42 THEN RAISE 'lost'; END IF; END $$"); err != nil {
		t.Fatal(err)
	}
	if err := s.Crash(); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatalf("start after crash: %v", err)
	}
	if err := exec("SELECT x FROM t"); err != nil {
		t.Fatal(err)
	}
}
