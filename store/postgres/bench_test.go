package postgres

import (
	"context"
	"os"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leased/leased/internal/pgtest"
	"github.com/leased/leased/lease"
)

// benchCommit commits one lease per Commit call from 1 or 64 concurrent
// committers against the harness's PostgreSQL (fsync and
// synchronous_commit on). Run:
//
//	go test -run '^$' -bench Commit -benchtime 5s ./store/postgres/
func benchCommit(b *testing.B, writers int, opts Options) {
	s := open(b, pgtest.DB(b), opts)
	var next atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	if writers > 1 {
		b.SetParallelism((writers + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
		b.RunParallel(func(pb *testing.PB) {
			recs := make([]lease.Lease, 1)
			for pb.Next() {
				recs[0] = sample(int(next.Add(1)))
				if err := s.Commit(context.Background(), recs); err != nil {
					b.Error(err)
					return
				}
			}
		})
	} else {
		recs := make([]lease.Lease, 1)
		for i := 0; b.Loop(); i++ {
			recs[0] = sample(i)
			if err := s.Commit(context.Background(), recs); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commits/s")
	if st := s.Stats(); st.Transactions > 0 {
		b.ReportMetric(float64(st.Commits)/float64(st.Transactions), "commits/tx")
	}
}

func BenchmarkCommitSequential(b *testing.B) { benchCommit(b, 1, Options{}) }
func BenchmarkCommitParallel(b *testing.B)   { benchCommit(b, 64, Options{}) }

// One writer goroutine (one transaction in flight) for comparison with
// the default two.
func BenchmarkCommitParallel1Writer(b *testing.B) { benchCommit(b, 64, Options{Writers: 1}) }

// Without Options.Linger (a batch is sent at once even while another is in
// flight), as before the linger existed.
func BenchmarkCommitParallelNoLinger(b *testing.B) { benchCommit(b, 64, Options{Linger: -1}) }

// TestLoadMany measures committing and loading many leases. It takes
// tens of seconds: LEASED_PG_MANY=200000 go test -run TestLoadMany -v ./store/postgres/
func TestLoadMany(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("LEASED_PG_MANY"))
	if n <= 0 {
		t.Skip("set LEASED_PG_MANY=N to measure N leases")
	}
	s := open(t, pgtest.DB(t), Options{})
	const batch = 1000
	recs := make([]lease.Lease, batch)
	start := time.Now()
	for i := 0; i < n; i += batch {
		for k := range recs {
			recs[k] = sample(i + k)
		}
		commit(t, s, recs...)
	}
	t.Logf("committed %d leases in %v (batches of %d)", n, time.Since(start), batch)
	start = time.Now()
	got := 0
	if err := s.Load(func(lease.Lease) error { got++; return nil }); err != nil {
		t.Fatal(err)
	}
	if got != n {
		t.Fatalf("loaded %d, want %d", got, n)
	}
	var size string
	if err := s.pool.QueryRow(context.Background(), "SELECT pg_size_pretty(pg_total_relation_size('leases'))").Scan(&size); err != nil {
		t.Fatal(err)
	}
	t.Logf("loaded %d leases in %v; table with indexes %s", n, time.Since(start), size)
}
