package postgres

import (
	"context"
	"fmt"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leased/leased/internal/pgtest"
	"github.com/leased/leased/lease"
)

// allocator hands out the addresses of a member's claims in order,
// claiming the next block of blockSize when the current one is used up.
type allocator struct {
	st   *Store
	mu   sync.Mutex
	cur  netip.Addr
	last netip.Addr
	n    atomic.Int64 // claims made
}

var benchPool = ClaimPool{Name: "bench", Ranges: []Range{{netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.255.255.254")}}}

func (a *allocator) next(ctx context.Context, blockSize int) (netip.Addr, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.cur.IsValid() || a.last.Less(a.cur) {
		c, err := a.st.ClaimBlock(ctx, benchPool, blockSize, time.Hour)
		if err != nil {
			return netip.Addr{}, err
		}
		a.n.Add(1)
		a.cur, a.last = c.First, c.Last
	}
	x := a.cur
	a.cur = a.cur.Next()
	return x, nil
}

// benchCluster: 64 concurrent committers spread over servers cluster
// members (each its own Store: connections, writers, batches), each
// committing one new binding per Commit inside its member's claims
// (conditional commit), claiming blocks of 256 as it goes. Run:
//
//	go test -run '^$' -bench Cluster -benchtime 5s ./store/postgres/
//
// With old, the members commit through migration 0002's version of
// leased_commit_owned (installOld), for a comparison in the same run.
func benchCluster(b *testing.B, servers int, opts Options, old bool) {
	dsn := pgtest.DB(b)
	ms := make([]*allocator, servers)
	for i := range ms {
		o := opts
		o.ServerName, o.Cluster = fmt.Sprintf("s%d", i), true
		ms[i] = &allocator{st: open(b, dsn, o)}
		if old {
			if i == 0 {
				installOld(b, ms[i].st)
			}
			ms[i].st.ownedSQL = strings.Replace(commitOwned, "leased_commit_owned(", "leased_commit_owned_0002(", 1)
		}
	}
	var next atomic.Int64
	ctx := context.Background()
	b.ReportAllocs()
	b.SetParallelism((64 + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		g := int(next.Add(1))
		m := ms[g%servers]
		recs := make([]lease.Lease, 1)
		i := g << 20 // distinct clients
		for pb.Next() {
			a, err := m.next(ctx, 256)
			if err != nil {
				b.Error(err)
				return
			}
			l := sample(i)
			i++
			l.Addr, l.Pool = a, "bench"
			l.ClientID = []byte{1, byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)}
			l.Start, l.Expiry = time.Now(), time.Now().Add(time.Hour)
			recs[0] = l
			if err := m.st.Commit(ctx, recs); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commits/s")
	var txs, commits, claims int64
	for _, m := range ms {
		st := m.st.Stats()
		txs += int64(st.Transactions)
		commits += int64(st.Commits)
		claims += m.n.Load()
	}
	if txs > 0 {
		b.ReportMetric(float64(commits)/float64(txs), "commits/tx")
	}
	b.ReportMetric(float64(claims), "claims")
}

func BenchmarkClusterCommit1(b *testing.B) { benchCluster(b, 1, Options{}, false) }
func BenchmarkClusterCommit2(b *testing.B) { benchCluster(b, 2, Options{}, false) }
func BenchmarkClusterCommit3(b *testing.B) { benchCluster(b, 3, Options{}, false) }

// Three servers with one transaction in flight each: the same number of
// transactions in flight as one server with two, and larger batches.
func BenchmarkClusterCommit3Writers1(b *testing.B) { benchCluster(b, 3, Options{Writers: 1}, false) }

// Without Options.Linger (send a batch at once even while another is in
// flight).
func BenchmarkClusterCommit1NoLinger(b *testing.B) { benchCluster(b, 1, Options{Linger: -1}, false) }
func BenchmarkClusterCommit3NoLinger(b *testing.B) { benchCluster(b, 3, Options{Linger: -1}, false) }

// As before issue #12's rework: migration 0002's function, no linger.
func BenchmarkClusterCommit1Fn0002(b *testing.B) { benchCluster(b, 1, Options{Linger: -1}, true) }
func BenchmarkClusterCommit2Fn0002(b *testing.B) { benchCluster(b, 2, Options{Linger: -1}, true) }
func BenchmarkClusterCommit3Fn0002(b *testing.B) { benchCluster(b, 3, Options{Linger: -1}, true) }

// installOld creates migration 0002's leased_commit_owned as
// leased_commit_owned_0002, for benchmarks comparing it with the current
// one in the same run.
func installOld(tb testing.TB, s *Store) {
	tb.Helper()
	b, err := migrationFS.ReadFile("migrations/0002_cluster.sql")
	if err != nil {
		tb.Fatal(err)
	}
	src := string(b)
	i := strings.Index(src, "CREATE FUNCTION leased_commit_owned(")
	j := strings.Index(src[i:], "\n$$;\n")
	if i < 0 || j < 0 {
		tb.Fatal("leased_commit_owned not found in 0002_cluster.sql")
	}
	fn := strings.Replace(src[i:i+j+5], "leased_commit_owned(", "leased_commit_owned_0002(", 1)
	if _, err := s.pool.Exec(context.Background(), fn); err != nil {
		tb.Fatal(err)
	}
}
