package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// lockedBuffer is a bytes.Buffer safe for the daemon's logger and the test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func writeConfig(t *testing.T, dir, body string) string {
	t.Helper()
	p := filepath.Join(dir, "leased.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func validConfig(dir, pool string) string {
	return fmt.Sprintf(`data_dir: %s/data
control:
  socket: %s/run/control.sock
dhcpv4:
  interfaces: [lo]
  port: 0
  pools:
    - name: %s
      subnet: 127.0.0.0/24
      gateway: 127.0.0.1
      sections:
        - {index: 0, start: 127.0.0.100, end: 127.0.0.200}
`, dir, dir, pool)
}

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	var out, errb bytes.Buffer
	if code := run([]string{"--config", writeConfig(t, dir, validConfig(dir, "a")), "--check"}, &out, &errb, nil); code != 0 {
		t.Fatalf("exit %d, stderr %s", code, errb.String())
	}
	if out.String() != "config OK\n" {
		t.Errorf("stdout %q", out.String())
	}

	bad := strings.Replace(validConfig(dir, "a"), "gateway: 127.0.0.1", "gateway: 10.0.0.1\n      mtu: 20", 1)
	out.Reset()
	errb.Reset()
	p := writeConfig(t, dir, bad)
	if code := run([]string{"--config", p, "--check"}, &out, &errb, nil); code != 1 {
		t.Fatalf("exit %d for an invalid config", code)
	}
	lines := strings.Split(strings.TrimSpace(errb.String()), "\n")
	if len(lines) < 2 {
		t.Errorf("want one line per error (gateway and mtu), got %q", errb.String())
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, p+":") {
			t.Errorf("error line %q does not name the file and line", l)
		}
	}
	if out.Len() != 0 {
		t.Errorf("stdout %q for an invalid config", out.String())
	}

	errb.Reset()
	if code := run([]string{"--config", filepath.Join(dir, "missing.yaml"), "--check"}, &out, &errb, nil); code != 1 || errb.Len() == 0 {
		t.Errorf("missing file: exit %d stderr %q", code, errb.String())
	}
}

func health(t *testing.T, sock string) (int, map[string]any) {
	t.Helper()
	c := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		},
	}}
	resp, err := c.Get("http://leased/v1/health")
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	var h map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&h)
	return resp.StatusCode, h
}

func TestServeReloadStop(t *testing.T) {
	dir := t.TempDir()
	path := writeConfig(t, dir, validConfig(dir, "first"))
	sock := filepath.Join(dir, "run", "control.sock")
	sigs := make(chan os.Signal, 1)
	var stderr lockedBuffer
	done := make(chan int, 1)
	go func() { done <- run([]string{"--config", path, "--log-format", "json"}, os.Stdout, &stderr, sigs) }()
	t.Cleanup(func() {
		select {
		case sigs <- syscall.SIGTERM:
		default:
		}
	})

	deadline := time.Now().Add(20 * time.Second)
	for {
		code, h := health(t, sock)
		if code == 200 && h["status"] == "ok" {
			if h["pools"] != float64(1) {
				t.Errorf("health %v", h)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("control API never healthy; log:\n%s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(stderr.String(), `"msg":"serving"`) {
		t.Errorf("no serving line in log:\n%s", stderr.String())
	}
	if fi, err := os.Stat(sock); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("control socket: %v %v", fi, err)
	}

	waitLog := func(s string) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for !strings.Contains(stderr.String(), s) {
			if time.Now().After(deadline) {
				t.Fatalf("log never showed %q:\n%s", s, stderr.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}

	// An invalid file on SIGHUP: errors logged, old config kept.
	writeConfig(t, dir, strings.Replace(validConfig(dir, "first"), "127.0.0.1\n", "not-an-address\n", 1))
	sigs <- syscall.SIGHUP
	waitLog("keeping the running configuration")
	if code, _ := health(t, sock); code != 200 {
		t.Fatalf("unhealthy after a rejected reload")
	}

	// A valid file with a second pool and another interface list.
	two := validConfig(dir, "first") + `    - name: second
      subnet: 127.0.1.0/24
      sections:
        - {index: 0, start: 127.0.1.10, end: 127.0.1.20}
`
	writeConfig(t, dir, strings.Replace(two, "interfaces: [lo]", "interfaces: [lo, lo2]", 1))
	sigs <- syscall.SIGHUP
	waitLog(`"msg":"reloaded"`)
	waitLog("need a restart")
	if _, h := health(t, sock); h["pools"] != float64(2) {
		t.Errorf("pools after reload: %v", h)
	}

	sigs <- syscall.SIGTERM
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d; log:\n%s", code, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("leased did not stop within 10s of SIGTERM")
	}
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Errorf("control socket left behind: %v", err)
	}
	if !strings.Contains(stderr.String(), `"msg":"stopped"`) {
		t.Errorf("no stopped line:\n%s", stderr.String())
	}
}

func TestMinProcs(t *testing.T) {
	for _, tc := range []struct {
		env     string
		current int
		want    int
	}{
		{"", 1, minGoProcs},
		{"", 2, minGoProcs},
		{"", 8, 0},
		{"1", 1, 0}, // the operator's explicit choice wins
		{"junk", 1, minGoProcs},
	} {
		if got := minProcs(tc.env, tc.current); got != tc.want {
			t.Errorf("minProcs(%q, %d) = %d, want %d", tc.env, tc.current, got, tc.want)
		}
	}
}
