// Package pgtest starts a private PostgreSQL server for tests: Debian's
// binaries (/usr/lib/postgresql/N/bin, the highest N), a data directory in a
// fresh temporary directory, trust authentication, a unix socket in that
// directory and no TCP listener (listen_addresses=”), fsync and
// synchronous_commit on. The system's own cluster is never used.
//
// PostgreSQL refuses to run as root; when the test runs as root, initdb
// and postgres run as the "postgres" system user (the Debian package
// creates it) and the temporary directory is chowned to it.
//
// One server per test package is usual: call [Main] from TestMain, then
// [DB] in each test for a fresh database. [New] starts a private server a
// test may stop and restart (database outages). [Server.NewStandby] adds a
// streaming (optionally synchronous) standby for fail-over tests:
// [Server.Kill] is a SIGKILL of the primary, [Server.Promote] promotes the
// standby, [MultiDSN] lists both with target_session_attrs=read-write.
//
// Without the binaries a test is skipped with the reason, or fails when the
// environment variable CI is set (the project's rule for e2e tools).
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Port is the port number in the socket's name (.s.PGSQL.5432). No TCP
// port is opened; the socket directory is private, so it never clashes.
const Port = 5432

// Server is a running PostgreSQL started by this package.
type Server struct {
	bin     string // directory of initdb, postgres, pg_ctl
	dir     string // temporary directory: data/, the socket, postgres.log
	cred    *syscall.Credential
	cmd     *exec.Cmd
	exited  chan struct{}
	mu      sync.Mutex
	stopped bool
}

// Bin returns the directory of the newest installed PostgreSQL binaries,
// or an error saying what is missing.
func Bin() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	best, bestV := "", -1
	for _, d := range dirs {
		v, err := strconv.Atoi(filepath.Base(filepath.Dir(d)))
		if err != nil {
			continue
		}
		if _, err := os.Stat(filepath.Join(d, "initdb")); err != nil {
			continue
		}
		if _, err := os.Stat(filepath.Join(d, "postgres")); err != nil {
			continue
		}
		if v > bestV {
			best, bestV = d, v
		}
	}
	if best == "" {
		return "", errors.New("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb; scripts/deps.sh installs the Debian package postgresql)")
	}
	return best, nil
}

// unavailable skips tb, or fails it under CI.
func unavailable(tb testing.TB, err error) {
	tb.Helper()
	if os.Getenv("CI") != "" {
		tb.Fatalf("pgtest: %v (CI is set: not skipping)", err)
	}
	tb.Skipf("pgtest: %v", err)
}

// New starts a private server for tb, stopped at tb's cleanup.
func New(tb testing.TB) *Server {
	tb.Helper()
	bin, err := Bin()
	if err != nil {
		unavailable(tb, err)
	}
	s, err := start(bin)
	if err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("pgtest: %v", err)
		}
	})
	return s
}

var (
	sharedOnce sync.Once
	shared     *Server
	sharedErr  error
	sharedSkip error
	dbCount    atomic.Int64
)

// Main runs the package's tests (m.Run) and stops the shared server, if
// one was started, then exits. Call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	if shared != nil {
		if err := shared.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "pgtest:", err)
			if code == 0 {
				code = 1
			}
		}
	}
	os.Exit(code)
}

// Shared returns the package's server, started by the first call. The
// package must stop it with [Main].
func Shared(tb testing.TB) *Server {
	tb.Helper()
	sharedOnce.Do(func() {
		bin, err := Bin()
		if err != nil {
			sharedSkip = err
			return
		}
		shared, sharedErr = start(bin)
	})
	if sharedSkip != nil {
		unavailable(tb, sharedSkip)
	}
	if sharedErr != nil {
		tb.Fatalf("pgtest: %v", sharedErr)
	}
	return shared
}

// DB creates a fresh database on the shared server and returns its DSN.
func DB(tb testing.TB) string {
	tb.Helper()
	return Shared(tb).CreateDB(tb)
}

var nonWord = regexp.MustCompile(`[^a-z0-9_]+`)

// CreateDB creates a fresh, empty database named after the test and
// returns its DSN.
func (s *Server) CreateDB(tb testing.TB) string {
	tb.Helper()
	name := nonWord.ReplaceAllString(strings.ToLower(tb.Name()), "_")
	if len(name) > 40 {
		name = name[:40]
	}
	name = fmt.Sprintf("t%d_%s", dbCount.Add(1), name)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.DSN("postgres"))
	if err != nil {
		tb.Fatalf("pgtest: connect: %v", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		tb.Fatalf("pgtest: create database %s: %v", name, err)
	}
	return s.DSN(name)
}

// DSN is the libpq connection string of database db on s (unix socket).
func (s *Server) DSN(db string) string {
	return fmt.Sprintf("host=%s port=%d user=postgres dbname=%s sslmode=disable", s.dir, Port, db)
}

// Dir is the temporary directory: data/, the socket and postgres.log.
func (s *Server) Dir() string { return s.dir }

func start(bin string) (*Server, error) {
	s := &Server{bin: bin}
	dir, err := os.MkdirTemp("", "pgtest-")
	if err != nil {
		return nil, err
	}
	s.dir = dir
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("running as root and no postgres user to run PostgreSQL as: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		s.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	// initdb --no-sync only skips syncing the files initdb writes; the
	// server itself runs with fsync on.
	out, err := s.command("initdb", "-D", s.data(), "-U", "postgres", "--auth=trust", "-E", "UTF8",
		"--locale=C", "--no-sync", "--no-instructions").CombinedOutput()
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	if err := s.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return s, nil
}

func (s *Server) data() string { return filepath.Join(s.dir, "data") }

func (s *Server) command(name string, args ...string) *exec.Cmd {
	c := exec.Command(filepath.Join(s.bin, name), args...)
	c.Dir = s.dir
	c.Env = []string{"PATH=/usr/bin:/bin", "LC_ALL=C"}
	if s.cred != nil {
		c.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	}
	return c
}

// Start (re)starts the server on its data directory and waits until it
// accepts connections (at most 60 s).
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil && !s.stopped {
		return errors.New("already running")
	}
	logf, err := os.OpenFile(filepath.Join(s.dir, "postgres.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	c := s.command("postgres", "-D", s.data(), "-k", s.dir, "-p", strconv.Itoa(Port),
		"-c", "listen_addresses=",
		"-c", "fsync=on",
		"-c", "synchronous_commit=on",
		"-c", "max_connections=200",
		"-c", "shared_buffers=32MB",
		"-c", "unix_socket_permissions=0777")
	c.Stdout, c.Stderr = logf, logf
	if c.SysProcAttr == nil {
		c.SysProcAttr = &syscall.SysProcAttr{}
	}
	c.SysProcAttr.Setpgid = true // a terminal's ^C reaches the test, not the server
	// If the test process dies (a panic, go test's timeout) the server
	// gets SIGQUIT (immediate shutdown) instead of running on. The signal
	// follows the thread that started it, so that thread stays locked to
	// the goroutine that waits for the server.
	c.SysProcAttr.Pdeathsig = syscall.SIGQUIT
	started := make(chan error, 1)
	exited := make(chan struct{})
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with this goroutine, after the server
		if err := c.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		c.Wait()
		close(exited)
	}()
	err = <-started
	logf.Close()
	if err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	s.cmd, s.stopped = c, false
	s.exited = exited

	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		conn, err := pgx.Connect(ctx, s.DSN("postgres"))
		cancel()
		if err == nil {
			conn.Close(context.Background())
			return nil
		}
		select {
		case <-exited:
			s.stopped = true
			return fmt.Errorf("postgres exited at start:\n%s", s.logTail())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.stopLocked()
			return fmt.Errorf("postgres not ready after 60 s: %v\n%s", err, s.logTail())
		}
	}
}

func (s *Server) logTail() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "postgres.log"))
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// Stop stops the server (pg_ctl stop -m fast, at most 30 s; then SIGKILL
// to the PID this package started). The data directory is kept: Start
// runs it again.
func (s *Server) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stopLocked()
}

// Crash stops the server the way a crash would: an immediate shutdown
// (pg_ctl stop -m immediate: every backend is killed, no checkpoint is
// written), so the next Start runs crash recovery from the WAL.
func (s *Server) Crash() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stopMode("immediate")
}

func (s *Server) stopLocked() error { return s.stopMode("fast") }

func (s *Server) stopMode(mode string) error {
	if s.cmd == nil || s.stopped {
		return nil
	}
	out, err := s.command("pg_ctl", "stop", "-D", s.data(), "-m", mode, "-t", "30", "-w").CombinedOutput()
	var werr error
	if err != nil {
		werr = fmt.Errorf("pg_ctl stop: %v: %s", err, strings.TrimSpace(string(out)))
	}
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		<-s.exited
		werr = errors.Join(werr, fmt.Errorf("postgres pid %d killed: did not stop", s.cmd.Process.Pid))
	}
	s.stopped = true
	return werr
}

// Close stops the server and removes its directory.
func (s *Server) Close() error {
	err := s.Stop()
	if rerr := os.RemoveAll(s.dir); rerr != nil {
		err = errors.Join(err, rerr)
	}
	return err
}

// PID is the postmaster's process id (0 when stopped).
func (s *Server) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil || s.stopped {
		return 0
	}
	return s.cmd.Process.Pid
}
