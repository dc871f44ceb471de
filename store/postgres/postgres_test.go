package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/leased/leased/internal/pgtest"
	"github.com/leased/leased/lease"
	"github.com/leased/leased/store"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

var cmpLeases = cmp.Options{
	cmpopts.EquateEmpty(),
	cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)

// sample returns a DHCPv4 lease with every field set, distinct per i
// (the same shape as store/wal's sample).
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
		PrevXID:                0x01020304 + uint32(i),
		GIAddr:                 netip.MustParseAddr("192.0.2.1"),
		RelayInfo:              []byte{1, 4, 'e', 't', 'h', '0', 2, 2, 0, byte(i)},
		ForceRenewNonceCapable: i%2 == 0,
		ReconfKey:              bytes.Repeat([]byte{byte(i)}, 16),
		ReplayCounter:          uint64(i) << 32,
	}
}

// sampleV6: an IA_NA address for even i, a delegated /56 for odd i.
func sampleV6(i int) lease.Lease {
	l := sample(i)
	l.Addr = netip.AddrFrom16([16]byte{0xfd, 0x77, 14: byte(i >> 8), 15: byte(i)})
	l.ClientID = []byte{0, 3, 0, 1, 2, 0, 0, 0, byte(i >> 8), byte(i)}
	l.HType, l.HWAddr, l.PrevXID = 0, nil, 0
	l.Section = -1
	l.GIAddr = netip.MustParseAddr("fe80::1")
	l.IAID = uint32(i) + 1
	l.Preferred = l.Start.Add(40 * time.Minute)
	if i%2 == 1 {
		l.Addr = netip.AddrFrom16([16]byte{0xfd, 0x77, 0x01, byte(i >> 8), byte(i)})
		l.PrefixLen = 56
	}
	return l
}

func open(t testing.TB, dsn string, opts Options) *Store {
	t.Helper()
	if opts.ServerName == "" {
		opts.ServerName = "test"
	}
	if opts.Logger == nil && !testing.Verbose() {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, err := Open(ctx, dsn, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func commit(t testing.TB, s *Store, recs ...lease.Lease) {
	t.Helper()
	if err := s.Commit(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
}

func loadAll(t testing.TB, s *Store) map[netip.Addr]lease.Lease {
	t.Helper()
	m := map[netip.Addr]lease.Lease{}
	if err := s.Load(func(l lease.Lease) error {
		if _, dup := m[l.Addr]; dup {
			t.Errorf("Load yielded %s twice", l.Addr)
		}
		m[l.Addr] = l
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return m
}

func byAddr(recs ...lease.Lease) map[netip.Addr]lease.Lease {
	m := map[netip.Addr]lease.Lease{}
	for _, l := range recs {
		m[l.Addr] = l
	}
	return m
}

func diff(t testing.TB, want, got map[netip.Addr]lease.Lease) {
	t.Helper()
	if d := cmp.Diff(want, got, cmpLeases); d != "" {
		t.Errorf("leases (-want +got):\n%s", d)
	}
}

// TestRoundTrip: every field of v4 and v6 records survives the database,
// including the extremes the WAL's encoding tests use.
func TestRoundTrip(t *testing.T) {
	dsn := pgtest.DB(t)
	s := open(t, dsn, Options{})
	recs := []lease.Lease{
		sample(7),
		sample(8),
		sampleV6(9),  // delegated prefix
		sampleV6(10), // IA_NA
		{Seq: 1, Addr: netip.MustParseAddr("10.1.0.1")},
		{Seq: 2, Addr: netip.MustParseAddr("::ffff:10.0.0.1"), GIAddr: netip.MustParseAddr("2001:db8::2")},
		{Seq: 3, Addr: netip.MustParseAddr("10.0.0.3"), Start: time.Unix(0, 0).UTC(), Expiry: time.Unix(-5, 7).UTC()},
		{Seq: 4, Addr: netip.MustParseAddr("10.0.0.4"), State: lease.StateDeclined, Expiry: t0},
		{Seq: math.MaxInt64, Addr: netip.MustParseAddr("255.255.255.255"), Section: math.MaxInt32, XID: math.MaxUint32,
			PrevXID: math.MaxUint32, ReplayCounter: math.MaxUint64, HType: 255, Expiry: time.Unix(0, math.MaxInt64).UTC(),
			Start: time.Unix(0, math.MinInt64+1).UTC(), Hostname: string(bytes.Repeat([]byte{'h'}, 255)),
			ClientID: make([]byte, 255), RelayInfo: make([]byte, 255), ReconfKey: make([]byte, 16), Pool: "p"},
		{Seq: 6, Addr: netip.MustParseAddr("2001:db8::ffff"), IAID: math.MaxUint32, PrefixLen: 128,
			Preferred: time.Unix(1, 1).UTC(), Section: math.MinInt32, State: lease.StateQuarantined},
		{Seq: 7, Addr: netip.MustParseAddr("fd00::"), PrefixLen: 48, Hostname: "ünïcode ✓", Pool: "pd"},
	}
	for st := lease.StateFree; st.Valid(); st++ {
		if st == lease.StateDeleted {
			continue
		}
		recs = append(recs, lease.Lease{Seq: 100 + uint64(st), Addr: netip.AddrFrom4([4]byte{10, 9, 0, byte(st)}), State: st})
	}
	// Random records: every field random, both families.
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 200 {
		recs = append(recs, randomLease(rng, i))
	}
	commit(t, s, recs...)
	diff(t, byAddr(recs...), loadAll(t, s))
	// A second store on the same database (another process, a restart)
	// reads the same.
	s2 := open(t, dsn, Options{ServerName: "other"})
	diff(t, byAddr(recs...), loadAll(t, s2))
}

func randomBytes(rng *rand.Rand, max int) []byte {
	n := rng.IntN(max + 1)
	if n == 0 {
		return nil
	}
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

func randomTime(rng *rand.Rand) time.Time {
	if rng.IntN(5) == 0 {
		return time.Time{}
	}
	return time.Unix(0, rng.Int64()-rng.Int64()/2).UTC()
}

// randomLease: distinct address per i (v4 for even i, v6 for odd).
func randomLease(rng *rand.Rand, i int) lease.Lease {
	l := lease.Lease{
		Seq:                    rng.Uint64N(math.MaxInt64),
		ClientID:               randomBytes(rng, 64),
		HType:                  uint8(rng.Uint32()),
		HWAddr:                 randomBytes(rng, 16),
		Hostname:               fmt.Sprintf("h%x", rng.Uint64()),
		Pool:                   fmt.Sprintf("pool-%d", rng.IntN(4)),
		Section:                int(int32(rng.Uint32())),
		State:                  lease.State(rng.IntN(int(lease.StateQuarantined) + 1)),
		Start:                  randomTime(rng),
		T1:                     randomTime(rng),
		T2:                     randomTime(rng),
		Expiry:                 randomTime(rng),
		XID:                    rng.Uint32(),
		PrevXID:                rng.Uint32(),
		RelayInfo:              randomBytes(rng, 100),
		ForceRenewNonceCapable: rng.IntN(2) == 0,
		ReconfKey:              randomBytes(rng, 16),
		ReplayCounter:          rng.Uint64(),
	}
	if l.State == lease.StateDeleted {
		l.State = lease.StateBound
	}
	if i%2 == 0 {
		l.Addr = netip.AddrFrom4([4]byte{172, 16, byte(i >> 8), byte(i)})
		if rng.IntN(2) == 0 {
			l.GIAddr = netip.AddrFrom4([4]byte{192, 0, 2, byte(rng.Uint32())})
		}
	} else {
		l.Addr = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 8: byte(rng.Uint32()), 14: byte(i >> 8), 15: byte(i)})
		l.IAID = rng.Uint32()
		l.PrefixLen = uint8(rng.IntN(129))
		l.Preferred = randomTime(rng)
		if rng.IntN(2) == 0 {
			l.GIAddr = netip.AddrFrom16([16]byte{0xfe, 0x80, 15: byte(rng.Uint32())})
		}
	}
	return l
}

// TestRejects: what the schema cannot hold is refused before it reaches
// the database, for the caller only.
func TestRejects(t *testing.T) {
	s := open(t, pgtest.DB(t), Options{})
	for _, l := range []lease.Lease{
		{Seq: 1},
		{Seq: math.MaxInt64 + 1, Addr: netip.MustParseAddr("10.0.0.1")},
		{Seq: 1, Addr: netip.MustParseAddr("10.0.0.1"), PrefixLen: 24},
		{Seq: 1, Addr: netip.MustParseAddr("10.0.0.1"), Hostname: "a\x00b"},
	} {
		if err := s.Commit(context.Background(), []lease.Lease{l}); err == nil {
			t.Errorf("Commit(%+v) succeeded", l)
		}
	}
	if got := loadAll(t, s); len(got) != 0 {
		t.Errorf("rejected records stored: %v", got)
	}
}

// TestHighestSeqWins: per address the record with the highest seq is kept
// whatever the order of the commits; equal seq: the later commit wins.
func TestHighestSeqWins(t *testing.T) {
	s := open(t, pgtest.DB(t), Options{})
	a := sample(1)
	older, newer := a, a
	older.Seq, older.Hostname = 5, "older"
	newer.Seq, newer.Hostname = 9, "newer"
	commit(t, s, newer)
	commit(t, s, older) // late, lower seq: ignored
	diff(t, byAddr(newer), loadAll(t, s))
	same := newer
	same.Hostname = "same seq, later"
	commit(t, s, same)
	diff(t, byAddr(same), loadAll(t, s))
	// Within one commit too.
	b1, b2 := sample(2), sample(2)
	b1.Seq, b2.Seq = 20, 10
	commit(t, s, b1, b2)
	diff(t, byAddr(same, b1), loadAll(t, s))
}

// TestTombstones: a deleted record removes the address from Load and
// stays as a tombstone, so a late lower-seq record cannot resurrect it;
// Compact purges old tombstones and nothing else.
func TestTombstones(t *testing.T) {
	dsn := pgtest.DB(t)
	s := open(t, dsn, Options{TombstoneAge: time.Millisecond})
	a, b := sample(1), sample(2)
	commit(t, s, a, b)
	del := a
	del.Seq, del.State = 10, lease.StateDeleted
	commit(t, s, del)
	diff(t, byAddr(b), loadAll(t, s))
	late := a
	late.Seq = 9
	commit(t, s, late)
	diff(t, byAddr(b), loadAll(t, s))
	// A free record is a record (Load returns it), not a tombstone.
	free := b
	free.Seq, free.State = 11, lease.StateFree
	commit(t, s, free)
	diff(t, byAddr(free), loadAll(t, s))
	// Re-binding after a delete (higher seq) brings it back.
	again := a
	again.Seq = 12
	commit(t, s, again)
	diff(t, byAddr(free, again), loadAll(t, s))

	del2 := b
	del2.Seq, del2.State = 13, lease.StateDeleted
	commit(t, s, del2)
	rows := func() int {
		var n int
		if err := s.pool.QueryRow(context.Background(), "SELECT count(*) FROM leases").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := rows(); n != 2 {
		t.Fatalf("%d rows before Compact, want 2 (one tombstone)", n)
	}
	time.Sleep(5 * time.Millisecond)
	if err := s.Compact(nil, nil); err != nil {
		t.Fatal(err)
	}
	if n := rows(); n != 1 {
		t.Errorf("%d rows after Compact, want 1 (tombstone purged)", n)
	}
	diff(t, byAddr(again), loadAll(t, s))
}

// TestCompactConcurrent: records committed while Compact runs are kept.
func TestCompactConcurrent(t *testing.T) {
	s := open(t, pgtest.DB(t), Options{TombstoneAge: time.Nanosecond})
	var want []lease.Lease
	var mu sync.Mutex
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				l := sample(w*10000 + i)
				if err := s.Commit(context.Background(), []lease.Lease{l}); err != nil {
					t.Error(err)
					return
				}
				// and a tombstone for another address, so Compact has work
				d := sample(500000 + w*10000 + i)
				d.State = lease.StateDeleted
				if err := s.Commit(context.Background(), []lease.Lease{d}); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				want = append(want, l)
				mu.Unlock()
			}
		})
	}
	for range 20 {
		if err := s.Compact(nil, nil); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	if len(want) < 50 {
		t.Fatalf("only %d commits during the test", len(want))
	}
	diff(t, byAddr(want...), loadAll(t, s))
}

func blobsOf(t testing.TB, s *Store) []store.Blob {
	t.Helper()
	var out []store.Blob
	if err := s.LoadBlobs(func(b store.Blob) error {
		out = append(out, store.Blob{Kind: b.Kind, Key: bytes.Clone(b.Key), Value: bytes.Clone(b.Value)})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestBlobs: last write wins per (kind, key), an empty value deletes the
// key, LoadBlobs yields in the order of the last writes; the empty key
// (the server DUID) works.
func TestBlobs(t *testing.T) {
	s := open(t, pgtest.DB(t), Options{})
	ctx := context.Background()
	bl := func(kind uint8, key, value string) store.Blob {
		return store.Blob{Kind: kind, Key: []byte(key), Value: []byte(value)}
	}
	must := func(bs ...store.Blob) {
		t.Helper()
		if err := s.CommitBlobs(ctx, bs); err != nil {
			t.Fatal(err)
		}
	}
	must(bl(1, "a", "a1"), bl(1, "b", "b1"), bl(2, "", "duid"))
	must(bl(1, "a", "a2"))
	must(bl(1, "b", ""), bl(1, "c", "c1"), bl(1, "c", "c2")) // delete b; c twice in one call: last wins
	must(bl(2, "a", "other kind"))
	must(bl(1, "gone", "x"), bl(1, "gone", "")) // created and deleted in one call
	want := []store.Blob{bl(2, "", "duid"), bl(1, "a", "a2"), bl(1, "c", "c2"), bl(2, "a", "other kind")}
	if d := cmp.Diff(want, blobsOf(t, s), cmpopts.EquateEmpty()); d != "" {
		t.Errorf("blobs (-want +got):\n%s", d)
	}
	// Within one call, the order of the call (not of the keys).
	must(bl(1, "z", "z1"), bl(1, "y", "y1"))
	got := blobsOf(t, s)
	if n := len(got); n < 2 || string(got[n-2].Key) != "z" || string(got[n-1].Key) != "y" {
		t.Errorf("blobs of one call out of order: %v", got)
	}
	// Sequential writes of one key keep their order.
	for i := range 50 {
		must(bl(1, "seq", fmt.Sprint(i)))
	}
	got = blobsOf(t, s)
	if last := got[len(got)-1]; string(last.Value) != "49" {
		t.Errorf("last blob %q = %q, want 49", last.Key, last.Value)
	}
}

// TestGroupCommit: concurrent commits share transactions.
func TestGroupCommit(t *testing.T) {
	s := open(t, pgtest.DB(t), Options{})
	const writers, each = 64, 20
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				if err := s.Commit(context.Background(), []lease.Lease{sample(w*each + i)}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	st := s.Stats()
	t.Logf("%+v", st)
	if st.Commits != writers*each || st.Records != writers*each {
		t.Fatalf("stats %+v, want %d commits and records", st, writers*each)
	}
	if st.Transactions > st.Commits/4 {
		t.Errorf("%d transactions for %d concurrent commits: not grouped", st.Transactions, st.Commits)
	}
	if n := len(loadAll(t, s)); n != writers*each {
		t.Errorf("%d leases loaded, want %d", n, writers*each)
	}
}

// waitQueued waits (bounded) until n requests are queued.
func waitQueued(t *testing.T, s *Store, n int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		s.mu.Lock()
		q := len(s.queue)
		s.mu.Unlock()
		if q >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d requests queued after 20 s, want %d", q, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestFailedBatch: a transaction that fails (a constraint the test adds
// rejects one record) fails every caller of its batch, and none of the
// batch's records is stored; the next batch works.
func TestFailedBatch(t *testing.T) {
	s := open(t, pgtest.DB(t), Options{Writers: 1})
	ctx := context.Background()
	if _, err := s.pool.Exec(ctx, `ALTER TABLE leases ADD CONSTRAINT test_poison CHECK (pool <> 'poison')`); err != nil {
		t.Fatal(err)
	}
	// Hold the only writer in a transaction blocked on a table lock, so
	// the next requests queue up and form one batch.
	locker, err := s.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := locker.Exec(ctx, "LOCK TABLE leases IN EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	plug := make(chan error, 1)
	go func() { plug <- s.Commit(ctx, []lease.Lease{sample(1000)}) }()
	// Wait (bounded) until the writer's transaction waits for the lock.
	for deadline := time.Now().Add(20 * time.Second); ; {
		var waiting int
		if err := s.pool.QueryRow(ctx, "SELECT count(*) FROM pg_locks WHERE NOT granted").Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the plug commit never waited for the lock")
		}
		time.Sleep(5 * time.Millisecond)
	}
	const n = 10
	errs := make(chan error, n)
	for i := range n {
		l := sample(i)
		if i == n/2 {
			l.Pool = "poison"
		}
		go func() { errs <- s.Commit(ctx, []lease.Lease{l}) }()
	}
	waitQueued(t, s, n)
	if err := locker.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-plug; err != nil {
		t.Fatalf("plug commit: %v", err)
	}
	for range n {
		err := <-errs
		if err == nil {
			t.Error("a commit of the failed batch succeeded")
		} else if !bytes.Contains([]byte(err.Error()), []byte("postgres: commit 10 records")) {
			t.Errorf("error %q lacks context", err)
		}
	}
	diff(t, byAddr(sample(1000)), loadAll(t, s))
	if st := s.Stats(); st.Failed != 1 {
		t.Errorf("stats %+v, want 1 failed transaction", st)
	}
	commit(t, s, sample(3))
	diff(t, byAddr(sample(1000), sample(3)), loadAll(t, s))
}

// TestDatabaseDown: while the database is stopped Commit fails (never a
// false success); once it is back, the next Commit reconnects and works;
// what was acknowledged survived a crash of the database server.
func TestDatabaseDown(t *testing.T) {
	srv := pgtest.New(t)
	s := open(t, srv.CreateDB(t), Options{CommitTimeout: 5 * time.Second})
	commit(t, s, sample(1))
	if err := srv.Crash(); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(context.Background(), []lease.Lease{sample(2)}); err == nil {
		t.Fatal("Commit succeeded with the database down")
	} else {
		t.Logf("down: %v", err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	var err error
	for range 3 { // a pooled connection may still be the dead one: one retry
		if err = s.Commit(context.Background(), []lease.Lease{sample(3)}); err == nil {
			break
		}
		t.Logf("after restart: %v", err)
	}
	if err != nil {
		t.Fatalf("Commit after the database came back: %v", err)
	}
	diff(t, byAddr(sample(1), sample(3)), loadAll(t, s))
}

// TestMigrateConcurrent: servers opening a fresh database at once all
// succeed, the schema is applied once, and each server is registered.
func TestMigrateConcurrent(t *testing.T) {
	dsn := pgtest.DB(t)
	const n = 8
	var wg sync.WaitGroup
	stores := make([]*Store, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			stores[i], errs[i] = Open(ctx, dsn, Options{ServerName: fmt.Sprintf("srv%d", i)})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("server %d: %v", i, err)
		}
		defer stores[i].Close()
	}
	var versions, servers int
	ctx := context.Background()
	if err := stores[0].pool.QueryRow(ctx, "SELECT count(*) FROM schema_version").Scan(&versions); err != nil {
		t.Fatal(err)
	}
	if versions != SchemaVersion() {
		t.Errorf("%d schema_version rows, want %d", versions, SchemaVersion())
	}
	if err := stores[0].pool.QueryRow(ctx, "SELECT count(*) FROM servers").Scan(&servers); err != nil {
		t.Fatal(err)
	}
	if servers != n {
		t.Errorf("%d servers registered, want %d", servers, n)
	}
	// A restart of one server takes a new epoch.
	e := stores[3].Epoch()
	stores[3].Close()
	again := open(t, dsn, Options{ServerName: "srv3"})
	if again.Epoch() != e+1 {
		t.Errorf("epoch after restart %d, want %d", again.Epoch(), e+1)
	}
}

// TestNewerSchemaRefused: a database migrated by a newer leased is not
// touched by an older one.
func TestNewerSchemaRefused(t *testing.T) {
	dsn := pgtest.DB(t)
	s := open(t, dsn, Options{})
	if _, err := s.pool.Exec(context.Background(), "INSERT INTO schema_version (version, name) VALUES (999, 'future')"); err != nil {
		t.Fatal(err)
	}
	_, err := Open(context.Background(), dsn, Options{ServerName: "old"})
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("newer than this leased knows")) {
		t.Fatalf("Open = %v, want a refusal", err)
	}
}

// TestConstraints: the database itself refuses two rows for one address
// and a network where an address belongs, whatever a buggy writer sends.
func TestConstraints(t *testing.T) {
	s := open(t, pgtest.DB(t), Options{})
	ctx := context.Background()
	commit(t, s, sample(1))
	for _, q := range []string{
		`INSERT INTO leases (addr, family, seq, state) VALUES ('10.0.0.1', 4, 1, 2)`,
		`INSERT INTO leases (addr, family, seq, state) VALUES ('10.0.0.0/24', 4, 1, 2)`,
		`INSERT INTO leases (addr, family, seq, state) VALUES ('10.0.0.9', 6, 1, 2)`,
		`INSERT INTO leases (addr, family, seq, state, prefix_len) VALUES ('10.0.0.9', 4, 1, 2, 24)`,
	} {
		if _, err := s.pool.Exec(ctx, q); err == nil {
			t.Errorf("%s: accepted", q)
		}
	}
}

// TestParseDSN: libpq forms pgx must accept, including several hosts
// with target_session_attrs, and malformed ones it must refuse.
func TestParseDSN(t *testing.T) {
	for _, ok := range []string{
		"host=/run/postgresql dbname=leased",
		"postgres://leased@db1:5432,db2:5432/leased?target_session_attrs=read-write",
		"host=db1,db2 port=5432,5433 dbname=leased user=leased target_session_attrs=read-write",
	} {
		if err := ParseDSN(ok); err != nil {
			t.Errorf("ParseDSN(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "host=db1 port=notaport", "postgres://[::1", "host=a target_session_attrs=bogus"} {
		if err := ParseDSN(bad); err == nil {
			t.Errorf("ParseDSN(%q) accepted", bad)
		}
	}
}

// TestClose: commits queued before Close finish; after it, ErrClosed.
func TestClose(t *testing.T) {
	dsn := pgtest.DB(t)
	s := open(t, dsn, Options{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var ok []lease.Lease
	for i := range 32 {
		wg.Go(func() {
			if err := s.Commit(context.Background(), []lease.Lease{sample(i)}); err == nil {
				mu.Lock()
				ok = append(ok, sample(i))
				mu.Unlock()
			} else if !errors.Is(err, ErrClosed) {
				t.Error(err)
			}
		})
	}
	time.Sleep(5 * time.Millisecond)
	s.Close()
	wg.Wait()
	if err := s.Commit(context.Background(), []lease.Lease{sample(99)}); !errors.Is(err, ErrClosed) {
		t.Errorf("Commit after Close = %v", err)
	}
	s2 := open(t, dsn, Options{})
	diff(t, byAddr(ok...), loadAll(t, s2))
}

// TestFencing: a second process registering the same server name takes a
// newer epoch; from then on the first one's commits fail with ErrFenced
// (nothing of them stored), its heartbeat notices, and the second one
// writes and heartbeats normally. Tools (NoRegister) are not fenced.
func TestFencing(t *testing.T) {
	dsn := pgtest.DB(t)
	ctx := context.Background()
	a := open(t, dsn, Options{ServerName: "x", Heartbeat: 20 * time.Millisecond})
	commit(t, a, sample(1))
	var hb0 time.Time
	if err := a.pool.QueryRow(ctx, "SELECT heartbeat FROM servers WHERE server_name = 'x'").Scan(&hb0); err != nil {
		t.Fatal(err)
	}
	b := open(t, dsn, Options{ServerName: "x", Heartbeat: 20 * time.Millisecond})
	if b.Epoch() != a.Epoch()+1 {
		t.Fatalf("epochs %d then %d", a.Epoch(), b.Epoch())
	}
	err := a.Commit(ctx, []lease.Lease{sample(2)})
	if !errors.Is(err, ErrFenced) {
		t.Fatalf("commit of the superseded process = %v, want ErrFenced", err)
	}
	commit(t, b, sample(3))
	for deadline := time.Now().Add(10 * time.Second); !a.Fenced(); {
		if time.Now().After(deadline) {
			t.Fatal("the superseded process never noticed it is fenced")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if b.Fenced() {
		t.Error("the newer process reports fenced")
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		var hb time.Time
		if err := b.pool.QueryRow(ctx, "SELECT heartbeat FROM servers WHERE server_name = 'x'").Scan(&hb); err != nil {
			t.Fatal(err)
		}
		if hb.After(hb0) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("heartbeat never advanced")
		}
		time.Sleep(5 * time.Millisecond)
	}
	tool := open(t, dsn, Options{ServerName: "x", NoRegister: true})
	commit(t, tool, sample(4))
	diff(t, byAddr(sample(1), sample(3), sample(4)), loadAll(t, b))
}

// TestExclusive: an exclusive server refuses a database another live
// server uses, and accepts it once that one stopped cleanly or its
// heartbeat is stale; a restart under the same name is not refused.
func TestExclusive(t *testing.T) {
	dsn := pgtest.DB(t)
	ctx := context.Background()
	refused := func(name, other string) {
		t.Helper()
		s, err := Open(ctx, dsn, Options{ServerName: name, Exclusive: true})
		if err == nil {
			s.Close()
			t.Fatalf("%s opened while %s is live", name, other)
		}
		if !strings.Contains(err.Error(), fmt.Sprintf("server %q is using this database", other)) {
			t.Fatalf("%s: %v", name, err)
		}
	}
	a, err := Open(ctx, dsn, Options{ServerName: "a", Exclusive: true})
	if err != nil {
		t.Fatal(err)
	}
	refused("b", "a")
	again, err := Open(ctx, dsn, Options{ServerName: "a", Exclusive: true}) // a restart of a
	if err != nil {
		t.Fatal(err)
	}
	if again.Epoch() != a.Epoch()+1 {
		t.Errorf("epoch %d after %d", again.Epoch(), a.Epoch())
	}
	a.Close()
	refused("b", "a") // the old process's Close does not mark the new one stopped
	again.Close()
	b := open(t, dsn, Options{ServerName: "b", Exclusive: true})
	b.Close()

	// A server that died: fresh heartbeat refuses, stale one does not.
	if _, err := b.pool.Exec(ctx, "SELECT 1"); err == nil {
		t.Fatal("pool usable after Close")
	}
	admin := open(t, dsn, Options{ServerName: "admin", NoRegister: true})
	if _, err := admin.pool.Exec(ctx, `INSERT INTO servers (server_name, started, heartbeat) VALUES ('dead', now(), now())`); err != nil {
		t.Fatal(err)
	}
	refused("c", "dead")
	if _, err := admin.pool.Exec(ctx, `UPDATE servers SET heartbeat = now() - interval '1 minute' WHERE server_name = 'dead'`); err != nil {
		t.Fatal(err)
	}
	open(t, dsn, Options{ServerName: "c", Exclusive: true})
}

// TestMultiHostDSN: a connection string with several hosts and
// target_session_attrs=read-write connects to the one that answers and is
// writable (here the first host does not exist).
func TestMultiHostDSN(t *testing.T) {
	srv := pgtest.Shared(t)
	dsn := srv.CreateDB(t)
	dsn = strings.Replace(dsn, "host="+srv.Dir(), "host="+t.TempDir()+"/nothing,"+srv.Dir(), 1)
	dsn = strings.Replace(dsn, fmt.Sprintf("port=%d", pgtest.Port), fmt.Sprintf("port=%d,%d", pgtest.Port, pgtest.Port), 1)
	dsn += " target_session_attrs=read-write"
	if !strings.Contains(dsn, "nothing,") || !strings.Contains(dsn, ",5432") {
		t.Fatalf("DSN not rewritten: %s", dsn)
	}
	s := open(t, dsn, Options{})
	commit(t, s, sample(1))
	diff(t, byAddr(sample(1)), loadAll(t, s))
}
