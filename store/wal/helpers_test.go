package wal

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/leased/leased/lease"
)

// cmpLeases compares lease records; nil and empty slices are the same
// record (the encoding does not keep the difference).
// netip.Addr compares with ==.
var cmpLeases = cmp.Options{
	cmpopts.EquateEmpty(),
	cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
}

// logBuf is a concurrency-safe log sink for assertions on log lines.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *logBuf) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)

// sample returns a lease with every field set, distinct per i.
func sample(i int) lease.Lease {
	start := t0.Add(time.Duration(i) * time.Second)
	return lease.Lease{
		Seq:                    uint64(i) + 1,
		Addr:                   netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}),
		ClientID:               []byte{1, 0x02, 0x42, byte(i >> 8), byte(i), 0xaa, 0xbb},
		HType:                  1,
		HWAddr:                 []byte{0x02, 0x42, byte(i >> 8), byte(i), 0xaa, 0xbb},
		Hostname:               fmt.Sprintf("host-%d", i),
		Pool:                   "campus",
		Section:                i%3 - 1,
		State:                  lease.StateBound,
		Start:                  start,
		T1:                     start.Add(30 * time.Minute),
		T2:                     start.Add(52*time.Minute + 30*time.Second),
		Expiry:                 start.Add(time.Hour),
		XID:                    0xdeadbeef ^ uint32(i),
		GIAddr:                 netip.MustParseAddr("192.0.2.1"),
		RelayInfo:              []byte{1, 4, 'e', 't', 'h', '0', 2, 2, 0, byte(i)},
		ForceRenewNonceCapable: i%2 == 0,
		ReconfKey:              bytes.Repeat([]byte{byte(i)}, 16),
		ReplayCounter:          uint64(i) << 32,
	}
}

func open(t testing.TB, dir string, opts Options) *WAL {
	t.Helper()
	w, err := Open(dir, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return w
}

func commit(t testing.TB, w *WAL, recs ...lease.Lease) {
	t.Helper()
	if err := w.Commit(context.Background(), recs); err != nil {
		t.Fatalf("Commit: %v", err)
	}
}

// loadAll runs Load and returns the records by address.
func loadAll(t testing.TB, w *WAL) map[netip.Addr]lease.Lease {
	t.Helper()
	got := make(map[netip.Addr]lease.Lease)
	err := w.Load(func(l lease.Lease) error {
		if _, dup := got[l.Addr]; dup {
			return fmt.Errorf("address %s yielded twice", l.Addr)
		}
		got[l.Addr] = l
		return nil
	})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return got
}

// reopen closes w, opens dir again and loads it.
func reopen(t testing.TB, w *WAL, dir string) map[netip.Addr]lease.Lease {
	t.Helper()
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	w2 := open(t, dir, Options{})
	defer w2.Close()
	return loadAll(t, w2)
}

func byAddr(recs ...lease.Lease) map[netip.Addr]lease.Lease {
	m := make(map[netip.Addr]lease.Lease)
	for _, r := range recs {
		m[r.Addr] = r
	}
	return m
}

func segPath(dir string, n uint64) string { return filepath.Join(dir, segName(n)) }

// dataEnd returns where the zeros at the end of the file at path begin:
// the end of the records in a preallocated segment.
func dataEnd(t testing.TB, path string) int64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return int64(zeroFrom(b))
}

// writeAtEnd writes b where the records of the segment at path end (into
// its preallocated zeros), as the writer would.
func writeAtEnd(t testing.TB, path string, b []byte) {
	t.Helper()
	end := dataEnd(t, path)
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, end); err != nil {
		t.Fatal(err)
	}
}

// copyDir copies the data files of src into a new temporary directory.
func copyDir(t testing.TB, src string) string {
	t.Helper()
	dst := t.TempDir()
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.Name() == lockName {
			continue
		}
		in, err := os.Open(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out, err := os.OpenFile(filepath.Join(dst, e.Name()), os.O_CREATE|os.O_WRONLY, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(out, in); err != nil {
			t.Fatal(err)
		}
		in.Close()
		out.Close()
	}
	return dst
}

func diff(t testing.TB, want, got map[netip.Addr]lease.Lease) {
	t.Helper()
	if d := cmp.Diff(want, got, cmpLeases); d != "" {
		t.Errorf("recovered records differ (-want +got):\n%s", d)
	}
}

// syncWait yields for a moment while a test waits (boundedly) for
// goroutines to reach a state.
func syncWait() { time.Sleep(100 * time.Microsecond) }

// recv and send bound a test's channel waits.
func recv(t testing.TB, ch <-chan struct{}) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatal("timed out waiting")
	}
}

func send(t testing.TB, ch chan<- struct{}) {
	t.Helper()
	select {
	case ch <- struct{}{}:
	case <-time.After(10 * time.Second):
		t.Fatal("timed out waiting")
	}
}
