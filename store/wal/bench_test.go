package wal

import (
	"context"
	"os"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leased/leased/lease"
)

func benchCommit(b *testing.B, parallel bool, mode SyncMode) {
	w := open(b, b.TempDir(), Options{SyncMode: mode})
	defer w.Close()
	var next atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	if parallel {
		// ~64 concurrent committers, as with many clients in flight.
		b.SetParallelism((64 + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
		b.RunParallel(func(pb *testing.PB) {
			recs := make([]lease.Lease, 1)
			for pb.Next() {
				recs[0] = sample(int(next.Add(1)))
				if err := w.Commit(context.Background(), recs); err != nil {
					b.Error(err)
					return
				}
			}
		})
	} else {
		recs := make([]lease.Lease, 1)
		for i := 0; b.Loop(); i++ {
			recs[0] = sample(i)
			if err := w.Commit(context.Background(), recs); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commits/s")
	if st := w.Stats(); st.Batches > 0 {
		b.ReportMetric(float64(st.Commits)/float64(st.Batches), "commits/batch")
	}
}

func BenchmarkCommitParallel(b *testing.B)       { benchCommit(b, true, SyncData) }
func BenchmarkCommitSequential(b *testing.B)     { benchCommit(b, false, SyncData) }
func BenchmarkCommitParallelNoSync(b *testing.B) { benchCommit(b, true, NoSync) }

func BenchmarkEncodeLease(b *testing.B) {
	l := sample(1)
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = appendLeaseFrame(buf[:0], &l)
	}
}

// TestRecoverMillion measures file size and recovery time for 1,000,000
// leases, from segments and from a snapshot. It takes tens of seconds:
// run with LEASED_WAL_MILLION=1 go test -run TestRecoverMillion -v.
func TestRecoverMillion(t *testing.T) {
	if os.Getenv("LEASED_WAL_MILLION") == "" {
		t.Skip("set LEASED_WAL_MILLION=1 to measure recovery of 1,000,000 leases")
	}
	const total, batch = 1_000_000, 1000
	dir := t.TempDir()
	w := open(t, dir, Options{})
	recs := make([]lease.Lease, batch)
	start := time.Now()
	for i := 0; i < total; i += batch {
		for k := range recs {
			recs[k] = sample(i + k)
		}
		commit(t, w, recs...)
	}
	t.Logf("wrote %d records in %v (batches of %d, fdatasync each)", total, time.Since(start), batch)
	seg := w.Stats().BytesSinceSnapshot
	w.Close()
	t.Logf("segment bytes: %d (%.1f bytes/record)", seg, float64(seg)/total)

	measure := func(what string) *WAL {
		runtime.GC()
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		start := time.Now()
		w := open(t, dir, Options{})
		opened := time.Since(start)
		runtime.ReadMemStats(&m1)
		n := 0
		if err := w.Load(func(lease.Lease) error { n++; return nil }); err != nil {
			t.Fatal(err)
		}
		if n != total {
			t.Fatalf("%s: loaded %d, want %d", what, n, total)
		}
		t.Logf("%s: Open %v, Open+Load %v, heap after Open +%d MB", what, opened, time.Since(start),
			(int64(m1.HeapAlloc)-int64(m0.HeapAlloc))>>20)
		return w
	}
	w = measure("recovery from segment")
	start = time.Now()
	if err := w.Compact(func(yield func(lease.Lease) bool) {
		for i := range total {
			if !yield(sample(i)) {
				return
			}
		}
	}, nil); err != nil {
		t.Fatal(err)
	}
	t.Logf("compaction of %d records: %v", total, time.Since(start))
	st, _ := os.Stat(dir + "/" + snapName(w.Stats().Snapshot))
	t.Logf("snapshot bytes: %d", st.Size())
	w.Close()
	measure("recovery from snapshot").Close()
}
