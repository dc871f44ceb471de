package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ListenUnix listens on the unix socket path for the control API. It
// creates the parent directory (0755) when missing, removes a stale socket
// left by a process that died, and refuses to take over a socket another
// process still answers on, or a path that is not a socket. The socket
// gets mode (0600 when zero) before anyone can connect to it: it is bound
// under a temporary name, chmodded, then renamed into place. Closing the
// listener removes the socket.
func ListenUnix(path string, mode os.FileMode) (net.Listener, error) {
	if mode == 0 {
		mode = 0o600
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("api: control socket directory: %w", err)
	}
	fi, err := os.Lstat(path)
	switch {
	case err == nil && fi.Mode().Type() != fs.ModeSocket:
		return nil, fmt.Errorf("api: control socket %s: exists and is not a socket (%s); remove it or choose another path", path, fi.Mode().Type())
	case err == nil:
		c, derr := net.DialTimeout("unix", path, time.Second)
		if derr == nil {
			c.Close()
			return nil, fmt.Errorf("api: control socket %s: in use by a running process (another leased?)", path)
		}
		if !errors.Is(derr, syscall.ECONNREFUSED) {
			return nil, fmt.Errorf("api: control socket %s: exists and cannot tell whether it is stale: %w", path, derr)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("api: remove stale control socket: %w", err)
		}
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("api: control socket: %w", err)
	}

	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp"+strconv.Itoa(os.Getpid()))
	os.Remove(tmp) // left by an earlier crash of this same pid number; ours to remove
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: tmp, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("api: listen on control socket: %w", err)
	}
	l.SetUnlinkOnClose(false)
	if err := os.Chmod(tmp, mode); err != nil {
		l.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("api: chmod control socket: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		l.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("api: control socket: %w", err)
	}
	return &unixListener{UnixListener: l, path: path}, nil
}

// unixListener reports the socket's final path and removes it on Close.
type unixListener struct {
	*net.UnixListener
	path string
}

func (l *unixListener) Addr() net.Addr { return &net.UnixAddr{Name: l.path, Net: "unix"} }

func (l *unixListener) Close() error {
	err := l.UnixListener.Close()
	if rerr := os.Remove(l.path); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) && err == nil {
		err = rerr
	}
	return err
}

// RequireToken wraps h so that only requests carrying
// "Authorization: Bearer <token>" reach it; others get 401. The comparison
// takes the same time whatever the token's length or content. An empty
// token refuses every request (fail closed).
func RequireToken(token string, h http.Handler) http.Handler {
	want := sha256.Sum256([]byte(token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := bearer(r.Header.Get("Authorization"))
		gotSum := sha256.Sum256([]byte(got))
		if !ok || token == "" || subtle.ConstantTimeCompare(gotSum[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="leased"`)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"error":"missing or wrong bearer token (Authorization: Bearer <token>)"}` + "\n"))
			return
		}
		h.ServeHTTP(w, r)
	})
}

// ScrapeToken puts a second, scrape-only token in front of next (the
// handler behind the admin token): a request whose bearer token is
// scrapeToken may GET (or HEAD) /metrics, served by metrics, and gets 403
// for anything else; every other request goes to next, which checks the
// admin token (so the admin token also reaches /metrics). An empty
// scrapeToken returns next unchanged. Prometheus needs read access to
// /metrics, not the power to delete leases or start campaigns.
func ScrapeToken(scrapeToken string, metrics, next http.Handler) http.Handler {
	if scrapeToken == "" {
		return next
	}
	want := sha256.Sum256([]byte(scrapeToken))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := bearer(r.Header.Get("Authorization"))
		gotSum := sha256.Sum256([]byte(got))
		if !ok || subtle.ConstantTimeCompare(gotSum[:], want[:]) != 1 {
			next.ServeHTTP(w, r)
			return
		}
		if r.URL.Path != "/metrics" || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			w.Write([]byte(`{"error":"the scrape token only allows GET /metrics"}` + "\n"))
			return
		}
		metrics.ServeHTTP(w, r)
	})
}

func bearer(h string) (string, bool) {
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}
