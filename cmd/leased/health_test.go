package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestReloadFailureHealth: a rejected SIGHUP reload makes health
// "degraded" (HTTP 200: still serving) with reason reload_failed naming
// the file, line and error; the next good reload clears it.
func TestReloadFailureHealth(t *testing.T) {
	dir := t.TempDir()
	path := writeConfig(t, dir, validConfig(dir, "first"))
	sock := filepath.Join(dir, "run", "control.sock")
	sigs := make(chan os.Signal, 1)
	var stderr lockedBuffer
	done := make(chan int, 1)
	go func() { done <- run([]string{"--config", path}, os.Stdout, &stderr, sigs) }()
	defer func() {
		sigs <- syscall.SIGTERM
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("leased did not stop within 10s")
		}
	}()
	waitHealth := func(what string, ok func(code int, h map[string]any) bool) (int, map[string]any) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			code, h := health(t, sock)
			if ok(code, h) {
				return code, h
			}
			if time.Now().After(deadline) {
				t.Fatalf("health never %s: %d %v; log:\n%s", what, code, h, stderr.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitHealth("ok", func(code int, h map[string]any) bool { return code == 200 && h["status"] == "ok" })

	writeConfig(t, dir, strings.Replace(validConfig(dir, "first"), "gateway: 127.0.0.1\n", "gateway: not-an-address\n", 1))
	sigs <- syscall.SIGHUP
	code, h := waitHealth("degraded", func(_ int, h map[string]any) bool { return h["status"] == "degraded" })
	if code != 200 {
		t.Errorf("degraded health answered %d, want 200 (still serving)", code)
	}
	rs, _ := h["reasons"].([]any)
	if len(rs) != 1 {
		t.Fatalf("reasons %v", h["reasons"])
	}
	r := rs[0].(map[string]any)
	want := fmt.Sprintf("reload of %s failed, still running the previous configuration: %s:10: dhcpv4.pools[0].gateway:", path, path)
	if r["code"] != "reload_failed" || r["severity"] != "degraded" || !strings.Contains(fmt.Sprint(r["message"]), want) || r["since"] == nil {
		t.Errorf("reason %v, want message containing %q", r, want)
	}

	writeConfig(t, dir, validConfig(dir, "first"))
	sigs <- syscall.SIGHUP
	waitHealth("ok again", func(code int, h map[string]any) bool {
		return code == 200 && h["status"] == "ok" && h["reasons"] == nil
	})

	// A file whose interfaces differ: pools reload, the interfaces wait
	// for a restart, and health says so until the file matches again.
	writeConfig(t, dir, strings.Replace(validConfig(dir, "first"), "interfaces: [lo]", "interfaces: [lo, lo2]", 1))
	sigs <- syscall.SIGHUP
	_, h = waitHealth("restart_needed", func(_ int, h map[string]any) bool { return h["status"] == "degraded" })
	rs, _ = h["reasons"].([]any)
	if len(rs) != 1 || rs[0].(map[string]any)["code"] != "restart_needed" ||
		!strings.Contains(fmt.Sprint(rs[0].(map[string]any)["message"]), path+" changes dhcpv4.interfaces/port, which only a restart applies") {
		t.Errorf("reasons %v", h["reasons"])
	}
	writeConfig(t, dir, validConfig(dir, "first"))
	sigs <- syscall.SIGHUP
	waitHealth("ok after reverting", func(code int, h map[string]any) bool {
		return code == 200 && h["status"] == "ok" && h["reasons"] == nil
	})
}
