package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSystemdNotify: with NOTIFY_SOCKET set, leased sends READY=1 once
// the control socket answers, RELOADING=1 (with MONOTONIC_USEC) and
// READY=1 around a SIGHUP reload (and says when one was refused), and
// STOPPING=1 on SIGTERM.
func TestSystemdNotify(t *testing.T) {
	dir := t.TempDir()
	ns := filepath.Join(dir, "notify")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: ns, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	read := func(what string) string {
		t.Helper()
		buf := make([]byte, 4096)
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, err := c.Read(buf)
		if err != nil {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		return string(buf[:n])
	}
	t.Setenv("NOTIFY_SOCKET", ns)
	path := writeConfig(t, dir, validConfig(dir, "first"))
	sock := filepath.Join(dir, "run", "control.sock")
	sigs := make(chan os.Signal, 1)
	var stderr lockedBuffer
	done := make(chan int, 1)
	go func() { done <- run([]string{"--config", path}, io.Discard, &stderr, sigs) }()

	got := read("READY=1")
	if !strings.HasPrefix(got, "READY=1\nSTATUS=serving 1 DHCPv4 pools, 0 leases restored") {
		t.Fatalf("first notification %q", got)
	}
	if code, _ := health(t, sock); code != 200 { // READY=1 came after the socket opened
		t.Errorf("health right after READY=1: %d", code)
	}
	sigs <- syscall.SIGHUP
	if got := read("RELOADING=1"); !strings.HasPrefix(got, "RELOADING=1\n") || !strings.Contains(got, "MONOTONIC_USEC=") {
		t.Errorf("reload began with %q", got)
	}
	if got := read("READY=1 after reload"); got != "READY=1\nSTATUS=configuration reloaded\n" {
		t.Errorf("reload ended with %q", got)
	}
	writeConfig(t, dir, strings.Replace(validConfig(dir, "first"), "gateway: 127.0.0.1\n", "gateway: nope\n", 1))
	sigs <- syscall.SIGHUP
	read("RELOADING=1")
	if got := read("READY=1 after a refused reload"); !strings.HasPrefix(got, "READY=1\nSTATUS=reload failed") {
		t.Errorf("refused reload ended with %q", got)
	}
	sigs <- syscall.SIGTERM
	if got := read("STOPPING=1"); !strings.HasPrefix(got, "STOPPING=1\n") {
		t.Errorf("stop sent %q", got)
	}
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("exit %d:\n%s", code, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("leased did not stop")
	}
}

// TestStatusPageServed: the status page on the control socket (no login)
// and on control.http (token or login cookie; the API still wants the
// bearer token).
func TestStatusPageServed(t *testing.T) {
	dir := t.TempDir()
	tokFile := filepath.Join(dir, "token")
	os.WriteFile(tokFile, []byte("tok-123\n"), 0o600)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg := strings.Replace(validConfig(dir, "office"), "control:\n", "control:\n  http: "+addr+"\n  token_file: "+tokFile+"\n", 1)
	path := writeConfig(t, dir, cfg)
	sock := filepath.Join(dir, "run", "control.sock")
	sigs := make(chan os.Signal, 1)
	var stderr lockedBuffer
	done := make(chan int, 1)
	go func() { done <- run([]string{"--config", path}, io.Discard, &stderr, sigs) }()
	defer func() {
		sigs <- syscall.SIGTERM
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("leased did not stop")
		}
	}()
	unixc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		}}, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	var body string
	deadline := time.Now().Add(20 * time.Second)
	for {
		r, err := unixc.Get("http://leased/status/")
		if err == nil {
			b, _ := io.ReadAll(r.Body)
			r.Body.Close()
			body = string(b)
			if r.StatusCode == 200 {
				if csp := r.Header.Get("Content-Security-Policy"); !strings.HasPrefix(csp, "default-src 'self'") {
					t.Errorf("CSP %q", csp)
				}
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("status page over the socket: %v %q\n%s", err, body, stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(body, `data-pool="office"`) || !strings.Contains(body, "Recent events") {
		t.Errorf("page lacks the pool or events:\n%s", body)
	}
	if r, err := unixc.Get("http://leased/"); err != nil || r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/status/" {
		t.Errorf("GET / on the socket: %v %v", err, r)
	}

	// leased serves the control socket before it listens on control.http
	// (the token file is read in between): wait for the TCP listener too.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		c, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("control.http %s never accepted a connection: %v\n%s", addr, err, stderr.String())
		}
	}
	tcp := &http.Client{Timeout: 2 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(p, auth string) int {
		req, _ := http.NewRequest("GET", "http://"+addr+p, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		r, err := tcp.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", p, err)
		}
		r.Body.Close()
		return r.StatusCode
	}
	if code := get("/status/data.json", ""); code != 401 {
		t.Errorf("TCP data.json without the token: %d, want 401", code)
	}
	if code := get("/status/", ""); code != http.StatusSeeOther {
		t.Errorf("TCP page without the token: %d, want 303 to the login form", code)
	}
	if code := get("/status/data.json", "Bearer tok-123"); code != 200 {
		t.Errorf("TCP data.json with the token: %d", code)
	}
	if code := get("/v1/health", ""); code != 401 {
		t.Errorf("TCP API without the token: %d, want 401", code)
	}
}
