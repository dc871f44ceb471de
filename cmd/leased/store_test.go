package main

import (
	"bytes"
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/leased/leased/lease"
	"github.com/leased/leased/store/wal"
)

// storeLeases writes n bound leases of pool "a" to dataDir: the first half
// in a snapshot, the rest in the segment after it.
func storeLeases(t *testing.T, dataDir string, n int) {
	t.Helper()
	w, err := wal.Open(dataDir, wal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Load(func(lease.Lease) error { return nil }); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	var all []lease.Lease
	for i := range n {
		all = append(all, lease.Lease{
			Seq: uint64(i + 1), Addr: netip.AddrFrom4([4]byte{127, 0, 0, byte(100 + i)}),
			ClientID: []byte{1, 2, 0, 0, 0, 0, byte(i)}, HType: 1, HWAddr: []byte{2, 0, 0, 0, 0, byte(i)},
			Pool: "a", State: lease.StateBound, Start: now, Expiry: now.Add(time.Hour),
		})
	}
	if err := w.Commit(context.Background(), all[:n/2]); err != nil {
		t.Fatal(err)
	}
	if err := w.Compact(slices.Values(all[:n/2]), nil); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(context.Background(), all[n/2:]); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestRefusesMissingStoreFile (issue #10 items 1 and 13): with the newest
// snapshot gone leased refuses to start, naming the file and the config
// key and file that override it; with store.allow_data_loss it starts
// with what is left, and after that one start it needs no override.
func TestRefusesMissingStoreFile(t *testing.T) {
	dir := t.TempDir()
	dataDir := filepath.Join(dir, "data")
	storeLeases(t, dataDir, 40)
	snaps, _ := filepath.Glob(filepath.Join(dataDir, "snap-*.db"))
	if len(snaps) != 1 {
		t.Fatalf("snapshots %v, want one", snaps)
	}
	if err := os.Remove(snaps[0]); err != nil {
		t.Fatal(err)
	}
	path := writeConfig(t, dir, validConfig(dir, "a"))

	var out, errb bytes.Buffer
	done := make(chan int, 1)
	go func() { done <- run([]string{"--config", path, "--log-format", "text"}, &out, &errb, nil) }()
	select {
	case code := <-done:
		if code != 1 {
			t.Fatalf("exit %d, want 1; log:\n%s", code, errb.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("leased started (or hung) with its newest snapshot missing")
	}
	for _, s := range []string{filepath.Base(snaps[0]), "missing", "store.allow_data_loss: true in " + path, "restore every file of " + dataDir} {
		if !strings.Contains(errb.String(), s) {
			t.Errorf("refusal does not say %q:\n%s", s, errb.String())
		}
	}
	t.Logf("refusal:\n%s", errb.String())
	if strings.Contains(errb.String(), "AllowCorruptMiddle") || strings.Contains(errb.String(), "AllowDataLoss") {
		t.Errorf("refusal names a Go field:\n%s", errb.String())
	}

	sock := filepath.Join(dir, "run", "control.sock")
	body := validConfig(dir, "a") + "store:\n  allow_data_loss: true\n"
	writeConfig(t, dir, body)
	log := serveOnce(t, path, sock, nil)
	for _, s := range []string{"SKIPPING CORRUPT DATA", "STARTED WITHOUT LOST DATA", filepath.Base(snaps[0]), "store.allow_data_loss is true", `"leases_restored":20`} {
		if !strings.Contains(log, s) {
			t.Errorf("start with the override: log lacks %q:\n%s", s, log)
		}
	}

	writeConfig(t, dir, validConfig(dir, "a"))
	log = serveOnce(t, path, sock, nil)
	if !strings.Contains(log, `"leases_restored":20`) || strings.Contains(log, "SKIPPING") {
		t.Errorf("the start after the accepted loss:\n%s", log)
	}
}
