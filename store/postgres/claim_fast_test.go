package postgres

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/leased/leased/internal/pgtest"
	"github.com/leased/leased/lease"
)

// TestClaimOwnConnection: a cluster store claims on a connection of its
// own. Every connection of the store's pool is taken (as by commits
// stalled on a slow disk, read-throughs and campaign lock sessions): a
// claim and the read of its block's leases still complete at once. Before
// (claims on the shared pool) the claim waited for a free connection
// until its context ended.
func TestClaimOwnConnection(t *testing.T) {
	dsn := pgtest.DB(t)
	a := open(t, dsn, Options{ServerName: "a", Cluster: true, MaxConns: 3})
	ctx := context.Background()
	// A lease in the block to come, written before the pool is taken.
	other := open(t, dsn, Options{ServerName: "w", NoRegister: true})
	l := bound("10.1.0.12", 9, 1)
	if err := other.Commit(ctx, []lease.Lease{l}); err != nil {
		t.Fatal(err)
	}
	var held []interface{ Release() }
	for range 3 {
		c, err := a.Pool().Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	defer func() {
		for _, c := range held {
			c.Release()
		}
	}()
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	start := time.Now()
	var got []netip.Addr
	c, err := a.ClaimBlockLoad(cctx, pool4, 16, time.Minute, func(x lease.Lease) error {
		got = append(got, x.Addr)
		return nil
	})
	took := time.Since(start)
	if err != nil {
		t.Fatalf("claim with every pool connection taken: %v after %v", err, took)
	}
	t.Logf("claim %v-%v in %v with the pool's %d connections taken", c.First, c.Last, took, len(held))
	if c.First != netip.MustParseAddr("10.1.0.10") || c.Last != netip.MustParseAddr("10.1.0.25") {
		t.Errorf("claimed %v-%v, want 10.1.0.10-10.1.0.25", c.First, c.Last)
	}
	if len(got) != 1 || got[0] != l.Addr {
		t.Errorf("leases of the block %v, want [%v]", got, l.Addr)
	}
}

// countingProxy forwards TCP to PostgreSQL's unix socket and counts the
// client's writes that the server answered: every time the client sends
// after having received, one round trip.
type countingProxy struct {
	ln    net.Listener
	sock  string
	trips atomic.Int64
	wg    sync.WaitGroup
}

func newCountingProxy(t *testing.T, sock string) *countingProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &countingProxy{ln: ln, sock: sock}
	p.wg.Go(p.accept)
	t.Cleanup(func() {
		ln.Close()
		p.wg.Wait()
	})
	return p
}

func (p *countingProxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("unix", p.sock)
		if err != nil {
			c.Close()
			continue
		}
		// answered: the server wrote since the client last did.
		var answered atomic.Bool
		answered.Store(true)
		p.wg.Go(func() {
			defer s.Close()
			buf := make([]byte, 64<<10)
			for {
				n, err := c.Read(buf)
				if n > 0 {
					if answered.Swap(false) {
						p.trips.Add(1)
					}
					if _, err := s.Write(buf[:n]); err != nil {
						return
					}
				}
				if err != nil {
					return
				}
			}
		})
		p.wg.Go(func() {
			defer c.Close()
			buf := make([]byte, 64<<10)
			for {
				n, err := s.Read(buf)
				if n > 0 {
					answered.Store(true)
					if _, err := c.Write(buf[:n]); err != nil {
						return
					}
				}
				if err != nil {
					return
				}
			}
		})
	}
}

// TestClaimOneRoundTrip: a claim and the read of its block's leases cost
// one round trip to PostgreSQL (leased_claim_block, migration 0007, and
// the lease read pipelined in the same batch), counted at a TCP proxy in
// front of the private server, once the statements are prepared (the
// first claim of a connection prepares them). Before, a claim was a
// transaction of seven round trips (BEGIN, fence, lock, delete, scan,
// insert, COMMIT) and the lease read an eighth: on a saturated core each
// one waits for the backend and for leased to be scheduled again.
func TestClaimOneRoundTrip(t *testing.T) {
	dsn := pgtest.DB(t)
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	sock := cfg.Host + "/.s.PGSQL." + strconv.Itoa(int(cfg.Port))
	px := newCountingProxy(t, sock)
	tcp := "host=127.0.0.1 port=" + strconv.Itoa(px.ln.Addr().(*net.TCPAddr).Port) + " user=" + cfg.User +
		" dbname=" + cfg.Database + " sslmode=disable"
	// No heartbeat during the test: only the claims talk.
	a := open(t, tcp, Options{ServerName: "a", Cluster: true, Heartbeat: time.Hour})
	ctx := context.Background()
	load := func(lease.Lease) error { return nil }
	if _, err := a.ClaimBlockLoad(ctx, pool4, 8, time.Minute, load); err != nil { // prepares
		t.Fatal(err)
	}
	for i := range 5 {
		before := px.trips.Load()
		c, err := a.ClaimBlockLoad(ctx, pool4, 8, time.Minute, load)
		if err != nil {
			t.Fatal(err)
		}
		// The proxy counts a trip when the client writes; the answer has
		// been read when ClaimBlockLoad returned.
		if n := px.trips.Load() - before; n != 1 {
			t.Errorf("claim %d (%v-%v): %d round trips, want 1", i, c.First, c.Last, n)
		}
	}
	// ErrNoFreeBlock costs one round trip too.
	small := ClaimPool{Name: "small", Ranges: []Range{{netip.MustParseAddr("10.9.0.1"), netip.MustParseAddr("10.9.0.4")}}}
	if _, err := a.ClaimBlockLoad(ctx, small, 8, time.Minute, load); err != nil {
		t.Fatal(err)
	}
	before := px.trips.Load()
	if _, err := a.ClaimBlockLoad(ctx, small, 8, time.Minute, load); !errors.Is(err, ErrNoFreeBlock) {
		t.Fatalf("claim of an exhausted pool: %v, want ErrNoFreeBlock", err)
	}
	if n := px.trips.Load() - before; n != 1 {
		t.Errorf("exhausted claim: %d round trips, want 1", n)
	}
}
