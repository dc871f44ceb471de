package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

const v6Section = `dhcpv6:
  interfaces: [lo]
  port: 0
  pools:
    - name: office6
      subnet: fd77::/64
      dns: [fd77::1]
      ranges: [{start: "fd77::1:0", end: "fd77::1:ffff"}]
      prefix_delegation: {prefix: "fd77:100::/40", length: 56}
`

// serveOnce runs leased with the config at path until it logged
// "serving" lines, then stops it and returns the log.
func serveOnce(t *testing.T, path, sock string, after func()) string {
	t.Helper()
	sigs := make(chan os.Signal, 2)
	var stderr lockedBuffer
	done := make(chan int, 1)
	go func() { done <- run([]string{"--config", path, "--log-format", "json"}, os.Stdout, &stderr, sigs) }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		code, h := health(t, sock)
		if code == 200 && h["status"] == "ok" {
			break
		}
		if time.Now().After(deadline) {
			sigs <- syscall.SIGTERM
			t.Fatalf("control API never healthy; log:\n%s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if after != nil {
		after()
	}
	sigs <- syscall.SIGTERM
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d; log:\n%s", code, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("leased did not stop")
	}
	return stderr.String()
}

// serverDUID returns the server_duid of the "serving dhcpv6" log line.
func serverDUID(t *testing.T, log string) string {
	t.Helper()
	for _, line := range strings.Split(log, "\n") {
		if !strings.Contains(line, `"msg":"serving dhcpv6"`) {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatal(err)
		}
		s, _ := m["server_duid"].(string)
		return s
	}
	t.Fatalf("no serving dhcpv6 line:\n%s", log)
	return ""
}

func TestServeDHCPv6(t *testing.T) {
	dir := t.TempDir()
	path := writeConfig(t, dir, validConfig(dir, "first")+v6Section)
	sock := filepath.Join(dir, "run", "control.sock")
	log1 := serveOnce(t, path, sock, func() {
		// DHCPv4 pool + office6 + office6/pd.
		if _, h := health(t, sock); h["pools"] != float64(3) {
			t.Errorf("health %v", h)
		}
	})
	d1 := serverDUID(t, log1)
	if len(d1) != len("00:04:")+16*3-1 || !strings.HasPrefix(d1, "00:04:") {
		t.Errorf("server DUID %q is not a DUID-UUID", d1)
	}
	log2 := serveOnce(t, path, sock, nil)
	if d2 := serverDUID(t, log2); d2 != d1 {
		t.Errorf("server DUID changed across restart: %s -> %s", d1, d2)
	}
	// --check validates the dhcpv6 pools with the engine too.
	bad := strings.Replace(validConfig(dir, "first")+v6Section, "length: 56", "length: 30", 1)
	var out, errb lockedBuffer
	if code := run([]string{"--config", writeConfig(t, dir, bad), "--check"}, &out, &errb, nil); code != 1 {
		t.Errorf("--check of a bad dhcpv6 section: exit %d (%s)", code, errb.String())
	}
}
