package main

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestVersionBuilt builds leased as the Makefile does (-ldflags -X with a
// version, VCS stamp on) and checks that --version and the running
// server's /v1/health carry that version and this checkout's revision.
func TestVersionBuilt(t *testing.T) {
	if testing.Short() {
		t.Skip("builds leased")
	}
	head, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		t.Skipf("not in a git checkout (or no git): %v", err)
	}
	rev := strings.TrimSpace(string(head))[:12]
	dir := t.TempDir()
	bin := filepath.Join(dir, "leased")
	build := exec.Command("go", "build", "-buildvcs=true", "-o", bin,
		"-ldflags", "-X github.com/leased/leased/internal/buildinfo.version=v9.8.7-test", ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		t.Fatal(err)
	}
	if v := string(out); !strings.HasPrefix(v, "leased v9.8.7-test (revision "+rev) {
		t.Errorf("--version: %q, want leased v9.8.7-test (revision %s…", v, rev)
	}

	path := writeConfig(t, dir, validConfig(dir, "v"))
	cmd := exec.Command(bin, "--config", path)
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			t.Error("leased did not stop within 10s")
		}
	}()
	sock := filepath.Join(dir, "run", "control.sock")
	deadline := time.Now().Add(10 * time.Second)
	for {
		if code, h := health(t, sock); code == 200 {
			if h["version"] != "v9.8.7-test" || !strings.HasPrefix(fmt.Sprint(h["revision"]), rev) {
				t.Errorf("health version %v revision %v, want v9.8.7-test and %s…", h["version"], h["revision"], rev)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("leased did not answer health within 10s; log:\n%s", stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(stderr.String(), `"version":"v9.8.7-test","revision":"`+rev) {
		t.Errorf("the serving line does not name the version and revision:\n%s", stderr.String())
	}
}
