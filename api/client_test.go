package api

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"
)

// serveUnix serves h on a fresh control socket in a temp dir and returns
// its path; the server stops at the end of the test.
func serveUnix(t *testing.T, h http.Handler) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "run", "leased", "control.sock")
	l, err := ListenUnix(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(l) }()
	t.Cleanup(func() {
		srv.Close()
		<-done
	})
	return path
}

func TestListenUnix(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run", "leased")
	path := filepath.Join(dir, "control.sock")
	l, err := ListenUnix(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := l.Addr().String(); got != path {
		t.Errorf("Addr = %s, want %s", got, path)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %v, want socket 0600", fi.Mode())
	}
	if di, err := os.Stat(dir); err != nil || di.Mode().Perm() != 0o755 {
		t.Errorf("dir mode %v (%v), want 0755", di.Mode(), err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("directory holds %d entries, want only the socket", len(ents))
	}

	// A second server must not steal a live socket.
	accepted := make(chan struct{})
	go func(l net.Listener) {
		defer close(accepted)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}(l)
	if _, err := ListenUnix(path, 0); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Errorf("second listen on a live socket: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	<-accepted
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket left after Close: %v", err)
	}

	// A stale socket (its process died: nobody listens) is replaced.
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Bind(fd, &syscall.SockaddrUnix{Name: path}); err != nil {
		t.Fatal(err)
	}
	syscall.Close(fd)
	l, err = ListenUnix(path, 0o660)
	if err != nil {
		t.Fatalf("stale socket: %v", err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o660 {
		t.Errorf("mode %v, want 0660", fi.Mode().Perm())
	}
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatalf("dial replaced socket: %v", err)
	}
	c.Close()
	l.Close()

	// A regular file is never removed.
	os.WriteFile(path, []byte("keep"), 0o644)
	if _, err := ListenUnix(path, 0); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("regular file: %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "keep" {
		t.Error("regular file was touched")
	}
}

func TestClientUnix(t *testing.T) {
	b := testBackend()
	path := serveUnix(t, NewHandler(b, nil, nil))
	c := NewUnixClient(path, 5*time.Second)
	ctx := context.Background()

	h, err := c.Health(ctx)
	if err != nil || !reflect.DeepEqual(h, b.health) {
		t.Errorf("Health = %+v, %v", h, err)
	}
	b.health.Status = "draining"
	if h, err := c.Health(ctx); err != nil || h.Status != "draining" {
		t.Errorf("503 health = %+v, %v; want the body without error", h, err)
	}

	sec := 0
	ls, err := c.Leases(ctx, LeaseQuery{Pool: "office", Section: &sec, States: []string{"bound", "declined"},
		From: netip.MustParseAddr("10.0.0.0"), To: netip.MustParseAddr("10.0.0.255"), Client: "52:54:00:12:34:56"})
	if err != nil || len(ls) != 1 || ls[0].Hostname != "printer" || !ls[0].Expires.Equal(t0.Add(time.Hour)) {
		t.Errorf("Leases = %+v, %v", ls, err)
	}
	f := b.filters[len(b.filters)-1]
	if f.Pool != "office" || *f.Section != 0 || len(f.States) != 2 || f.Client != "52:54:00:12:34:56" || f.To != netip.MustParseAddr("10.0.0.255") {
		t.Errorf("filter sent: %+v", f)
	}

	_, err = c.Leases(ctx, LeaseQuery{States: []string{"bogus"}})
	var se *StatusError
	if !errors.As(err, &se) || se.Code != 400 || !strings.HasPrefix(se.Message, "state: unknown state") {
		t.Errorf("bad state: %v", err)
	}

	l, err := c.Lease(ctx, netip.MustParseAddr("10.0.0.12"))
	if err != nil || l.XID != "0x1234abcd" || *l.Section != 0 {
		t.Errorf("Lease = %+v, %v", l, err)
	}
	if err := c.DeleteLease(ctx, netip.MustParseAddr("10.0.0.12")); err != nil {
		t.Errorf("DeleteLease: %v", err)
	}
	_, err = c.Lease(ctx, netip.MustParseAddr("10.0.0.12"))
	if !errors.As(err, &se) || se.Code != 404 || se.Message != "no lease for 10.0.0.12" {
		t.Errorf("deleted lease: %v", err)
	}
	ps, err := c.Pools(ctx)
	if err != nil || len(ps) != 2 || ps[0].UsedPercent != 76.5 || len(ps[1].Sections) != 2 {
		t.Errorf("Pools = %+v, %v", ps, err)
	}
}

func TestClientErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nothing.sock")
	_, err := NewUnixClient(missing, time.Second).Health(context.Background())
	var ce *ConnError
	if !errors.As(err, &ce) || ce.Where != missing || !errors.Is(err, syscall.ENOENT) {
		t.Errorf("missing socket: %v", err)
	}

	// A server that never answers: the timeout bounds the call.
	stall := make(chan struct{})
	path := serveUnix(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-stall:
		case <-r.Context().Done():
		}
	}))
	defer close(stall)
	start := time.Now()
	_, err = NewUnixClient(path, 100*time.Millisecond).Pools(context.Background())
	if !errors.As(err, &ce) || time.Since(start) > 5*time.Second {
		t.Errorf("stalled server: %v after %v", err, time.Since(start))
	}

	// A non-JSON error body (a proxy, an old server) still gives a message.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "bad gateway", http.StatusBadGateway)
	}))
	defer srv.Close()
	c, err := NewTCPClient(srv.URL, "", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Pools(context.Background())
	var se *StatusError
	if !errors.As(err, &se) || se.Code != 502 || se.Message != "bad gateway" {
		t.Errorf("plain error: %v", err)
	}

	for _, bad := range []string{"", "leased:8067", "ftp://x", "http://"} {
		if _, err := NewTCPClient(bad, "", 0); err == nil {
			t.Errorf("NewTCPClient(%q) accepted", bad)
		}
	}
}

func TestClientTCPToken(t *testing.T) {
	srv := httptest.NewServer(RequireToken("s3cret", NewHandler(testBackend(), nil, nil)))
	defer srv.Close()
	good, _ := NewTCPClient(srv.URL+"/", "s3cret", time.Second)
	if _, err := good.Health(context.Background()); err != nil {
		t.Errorf("with token: %v", err)
	}
	bad, _ := NewTCPClient(srv.URL, "wrong", time.Second)
	_, err := bad.Health(context.Background())
	var se *StatusError
	if !errors.As(err, &se) || se.Code != 401 || !strings.Contains(se.Message, "bearer token") {
		t.Errorf("wrong token: %v", err)
	}
}
