package main

import (
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

// tcpLeased is an in-process leased with its TCP listener.
type tcpLeased struct {
	url, path, body string
	sigs            chan os.Signal
	stderr          *lockedBuffer
}

// startTCP runs leased in-process with the TCP listener on a free port, the
// admin token "admin-tok" and, when scrape is set, the scrape-only token
// "scrape-tok"; it returns the listener's base URL.
func startTCP(t *testing.T, scrape bool) string { return startTCPLeased(t, scrape).url }

func startTCPLeased(t *testing.T, scrape bool) *tcpLeased {
	t.Helper()
	dir := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	os.WriteFile(filepath.Join(dir, "token"), []byte("admin-tok\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "scrape-token"), []byte("scrape-tok\n"), 0o600)
	body := validConfig(dir, "lan")
	extra := "  http: " + addr + "\n  token_file: " + filepath.Join(dir, "token") + "\n"
	if scrape {
		extra += "  metrics_token_file: " + filepath.Join(dir, "scrape-token") + "\n"
	}
	body = strings.Replace(body, "control:\n", "control:\n"+extra, 1)
	path := writeConfig(t, dir, body)
	sigs := make(chan os.Signal, 4)
	stderr := new(lockedBuffer)
	done := make(chan int, 1)
	go func() { done <- run([]string{"--config", path}, io.Discard, stderr, sigs) }()
	t.Cleanup(func() {
		sigs <- syscall.SIGTERM
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("leased did not stop within 10s")
		}
	})
	url := "http://" + addr
	deadline := time.Now().Add(10 * time.Second)
	for {
		if code, _ := get(t, url+"/v1/health", "admin-tok", "GET"); code == 200 {
			return &tcpLeased{url: url, path: path, body: body, sigs: sigs, stderr: stderr}
		}
		if time.Now().After(deadline) {
			t.Fatalf("leased's TCP listener did not answer within 10s; log:\n%s", stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func get(t *testing.T, url, token, method string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := (&http.Client{Timeout: 2 * time.Second}).Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestScrapeTokenTCP: control.metrics_token_file gives Prometheus GET
// /metrics and nothing else; the admin token reaches both.
func TestScrapeTokenTCP(t *testing.T) {
	url := startTCP(t, true)
	for _, tc := range []struct {
		token, method, path string
		want                int
	}{
		{"scrape-tok", "GET", "/metrics", 200},
		{"scrape-tok", "GET", "/v1/leases", 403},
		{"scrape-tok", "DELETE", "/v1/leases/127.0.0.100", 403},
		{"scrape-tok", "POST", "/v1/forcerenew/campaigns", 403},
		{"admin-tok", "GET", "/metrics", 200},
		{"admin-tok", "GET", "/v1/leases", 200},
		{"", "GET", "/metrics", 401},
		{"wrong", "GET", "/metrics", 401},
	} {
		code, body := get(t, url+tc.path, tc.token, tc.method)
		if code != tc.want {
			t.Errorf("%s %s with %q: %d, want %d: %s", tc.method, tc.path, tc.token, code, tc.want, body)
		}
		if code == 200 && tc.path == "/metrics" && !strings.Contains(body, "leased_") {
			t.Errorf("%s %s with %q: no leased metrics", tc.method, tc.path, tc.token)
		}
	}
}

// TestNoScrapeToken: without metrics_token_file the scrape token is just
// a wrong token.
func TestNoScrapeToken(t *testing.T) {
	url := startTCP(t, false)
	if code, _ := get(t, url+"/metrics", "scrape-tok", "GET"); code != 401 {
		t.Errorf("scrape token without metrics_token_file: %d, want 401", code)
	}
	if code, _ := get(t, url+"/metrics", "admin-tok", "GET"); code != 200 {
		t.Errorf("admin token on /metrics: %d, want 200", code)
	}
}
