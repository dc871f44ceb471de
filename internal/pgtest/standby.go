package pgtest

// Streaming replication for fail-over tests (issue #12): a standby made
// from a running server with pg_basebackup -R, optionally synchronous (the
// primary's synchronous_standby_names names it, so a commit returns only
// once the standby has flushed it), promoted with pg_ctl promote after the
// primary was killed with SIGKILL.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// standbyName is the standby's application_name on the primary (its
// primary_conninfo), the name synchronous_standby_names lists.
const standbyName = "pgtest_standby"

// NewStandby makes a streaming-replication standby of s in a temporary
// directory of its own (pg_basebackup -R over s's unix socket, WAL
// streamed during the copy), starts it and waits until s sees it
// streaming. With sync, s then makes it its synchronous standby
// (synchronous_standby_names; synchronous_commit is on): from then on a
// commit on s returns only once the standby has flushed its WAL, and
// NewStandby waits until pg_stat_replication says sync. The standby is a
// hot standby (read-only connections) until Promote; it is stopped and
// removed at tb's cleanup.
func (s *Server) NewStandby(tb testing.TB, sync bool) *Server {
	tb.Helper()
	st, err := s.newStandby()
	if err != nil {
		tb.Fatalf("pgtest: standby: %v", err)
	}
	tb.Cleanup(func() {
		if err := st.Close(); err != nil {
			tb.Errorf("pgtest: standby: %v", err)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if sync {
		if err := s.execSQL(ctx, "ALTER SYSTEM SET synchronous_standby_names = '"+standbyName+"'", "SELECT pg_reload_conf()"); err != nil {
			tb.Fatalf("pgtest: make the standby synchronous: %v", err)
		}
	}
	want := "async"
	if sync {
		want = "sync"
	}
	if err := s.waitReplica(ctx, want); err != nil {
		tb.Fatalf("pgtest: standby: %v\n--- primary log\n%s\n--- standby log\n%s", err, s.logTail(), st.logTail())
	}
	return st
}

func (s *Server) newStandby() (*Server, error) {
	st := &Server{bin: s.bin, cred: s.cred}
	dir, err := os.MkdirTemp("", "pgtest-standby-")
	if err != nil {
		return nil, err
	}
	st.dir = dir
	if st.cred != nil {
		if err := os.Chown(dir, int(st.cred.Uid), int(st.cred.Gid)); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	// -R writes standby.signal and primary_conninfo (with the socket
	// directory as host); application_name is added so that
	// synchronous_standby_names can name this standby.
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	c := st.command("pg_basebackup", "-D", st.data(), "-R", "-X", "stream", "-c", "fast", "--no-sync",
		"-d", fmt.Sprintf("host=%s port=%d user=postgres application_name=%s", s.dir, Port, standbyName))
	out, err := runCtx(ctx, c)
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("pg_basebackup: %v\n%s", err, out)
	}
	if err := st.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return st, nil
}

// runCtx runs c, killing it when ctx ends, and returns its output.
func runCtx(ctx context.Context, c *exec.Cmd) ([]byte, error) {
	var b strings.Builder
	c.Stdout, c.Stderr = &b, &b
	if err := c.Start(); err != nil {
		return nil, err
	}
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	select {
	case err := <-done:
		return []byte(b.String()), err
	case <-ctx.Done():
		c.Process.Kill()
		<-done
		return []byte(b.String()), fmt.Errorf("%s: %w", c.Path, ctx.Err())
	}
}

// execSQL runs statements on the postgres database of s.
func (s *Server) execSQL(ctx context.Context, stmts ...string) error {
	conn, err := pgx.Connect(ctx, s.DSN("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	for _, q := range stmts {
		if _, err := conn.Exec(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	return nil
}

// waitReplica polls (every 50 ms, until ctx ends) until the primary s
// sees the standby streaming with sync_state want.
func (s *Server) waitReplica(ctx context.Context, want string) error {
	var last string
	for {
		conn, err := pgx.Connect(ctx, s.DSN("postgres"))
		if err == nil {
			var state, sync string
			err = conn.QueryRow(ctx, "SELECT state, sync_state FROM pg_stat_replication WHERE application_name = $1",
				standbyName).Scan(&state, &sync)
			conn.Close(context.Background())
			if err == nil && state == "streaming" && sync == want {
				return nil
			}
			last = fmt.Sprintf("state %q sync_state %q (%v)", state, sync, err)
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("standby not streaming as %s: %s", want, last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Promote ends recovery on a standby (pg_ctl promote, waiting at most
// 60 s): it becomes a primary that accepts writes.
func (s *Server) Promote() error {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	out, err := runCtx(ctx, s.command("pg_ctl", "promote", "-D", s.data(), "-w", "-t", "60"))
	if err != nil {
		return fmt.Errorf("pg_ctl promote: %v: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

// InRecovery reports whether s is a standby (pg_is_in_recovery()).
func (s *Server) InRecovery(ctx context.Context) (bool, error) {
	conn, err := pgx.Connect(ctx, s.DSN("postgres"))
	if err != nil {
		return false, err
	}
	defer conn.Close(context.Background())
	var r bool
	err = conn.QueryRow(ctx, "SELECT pg_is_in_recovery()").Scan(&r)
	return r, err
}

// Kill ends the server the way a dead machine would: SIGKILL to the
// postmaster this package started and to its process group (every
// backend, the WAL writer and the WAL senders at once: nothing is
// flushed or sent after it). The data directory stays.
func (s *Server) Kill() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil || s.stopped {
		return errors.New("not running")
	}
	pid := s.cmd.Process.Pid
	// The postmaster leads its own process group (Setpgid in Start).
	if err := syscall.Kill(-pid, syscall.SIGKILL); err != nil {
		return fmt.Errorf("kill -9 postgres group %d: %w", pid, err)
	}
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		return fmt.Errorf("postgres pid %d did not exit after SIGKILL", pid)
	}
	s.stopped = true
	return nil
}

// MultiDSN is a libpq connection string listing several servers as hosts
// of database db, in order, with target_session_attrs=read-write: a
// client connects to the first that accepts writes (the primary, or a
// promoted standby once the primary is gone).
func MultiDSN(db string, servers ...*Server) string {
	hosts := make([]string, len(servers))
	ports := make([]string, len(servers))
	for i, s := range servers {
		hosts[i] = s.dir
		ports[i] = fmt.Sprint(Port)
	}
	return fmt.Sprintf("host=%s port=%s user=postgres dbname=%s sslmode=disable target_session_attrs=read-write",
		strings.Join(hosts, ","), strings.Join(ports, ","), db)
}

// StopStreaming cuts a standby off its primary (primary_conninfo emptied
// and reloaded: the WAL receiver stops): from then on it misses what the
// primary commits, as an asynchronous standby that fell behind. For the
// negative control of fail-over tests.
func (s *Server) StopStreaming() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.execSQL(ctx, "ALTER SYSTEM SET primary_conninfo = ''", "SELECT pg_reload_conf()"); err != nil {
		return err
	}
	// Bounded wait until the WAL receiver is gone.
	for {
		conn, err := pgx.Connect(ctx, s.DSN("postgres"))
		if err == nil {
			var n int
			err = conn.QueryRow(ctx, "SELECT count(*) FROM pg_stat_wal_receiver").Scan(&n)
			conn.Close(context.Background())
			if err == nil && n == 0 {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("WAL receiver still running: %v", err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
