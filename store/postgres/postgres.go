// Package postgres is the PostgreSQL implementation of store.Store: lease
// records and blobs in a database several leased servers may share
// (issue #12). The schema is created and migrated by Open; commits are
// grouped into one transaction per batch, sent as one pipelined pgx batch.
//
// See README.md for the schema, the commit path and what Compact means here.
package postgres

import (
	"cmp"
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"iter"
	"log/slog"
	"maps"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/leased/leased/lease"
	"github.com/leased/leased/store"
)

var _ store.Store = (*Store)(nil)

//go:embed migrations/*.sql
var migrationFS embed.FS

// migrationLock is the pg_advisory_xact_lock key taken while migrating
// (any fixed number; "leased" in ASCII).
const migrationLock int64 = 0x6c6561736564

// blobLock is the pg_advisory_xact_lock key serialising transactions that
// write blobs.
const blobLock int64 = 0x6c6561736564 + 1

// ErrClosed is returned by Commit and CommitBlobs after Close.
var ErrClosed = errors.New("postgres: store closed")

// ErrFenced is wrapped by the error of a commit refused because another
// process registered the same server name later (its epoch superseded
// this one's).
var ErrFenced = errors.New("postgres: fenced: another leased registered this server name with a newer epoch")

// fencedCode is the SQLSTATE leased_fence raises.
const fencedCode = "LF001"

// Options configure Open.
type Options struct {
	// ServerName names this server among those sharing the database
	// (top-level server_name). Required.
	ServerName string
	// Version is written to the servers table (informational).
	Version string
	// Logger receives store events; nil: slog.Default().
	Logger *slog.Logger
	// MaxBatch bounds the records (leases and blobs) of one transaction.
	// Default 2000.
	MaxBatch int
	// Writers is the number of transactions in flight at once. Default 2:
	// while one waits for its commit (the WAL flush), the next gathers.
	Writers int
	// CommitTimeout bounds one batch transaction; past it every caller of
	// the batch gets an error. Default 30 s.
	CommitTimeout time.Duration
	// TombstoneAge: Compact removes lease tombstones (state deleted)
	// written longer ago than this. Default 1 h.
	TombstoneAge time.Duration
	// MaxConns bounds the pool's connections. Default Writers + 2.
	MaxConns int32
	// NoRegister: do not register ServerName in the servers table (tools
	// such as leased store copy, which are not servers). ServerName is
	// still written as the writer of the rows they commit; their commits
	// are not fenced.
	NoRegister bool
	// Heartbeat is how often a registered server refreshes its
	// servers.heartbeat. Default 5 s.
	Heartbeat time.Duration
	// Exclusive: refuse to open while another registered server (another
	// name) has a heartbeat younger than 3 × Heartbeat and did not stop
	// cleanly. leased sets it until several servers may share a database.
	Exclusive bool
	// Linger: while another batch of this store is being committed, a
	// writer that finds fewer than MaxBatch records queued waits until
	// the oldest of them has waited this long (or MaxBatch are queued)
	// before it sends them: fewer, larger transactions under load, when
	// the cost is per transaction, for at most Linger more latency; with
	// nothing in flight it sends at once. Default 1 ms; negative: never
	// wait (docs/BENCHMARKS.md, PostgreSQL: at 1,000 DORA/s it made 2.4×
	// fewer transactions).
	Linger time.Duration
	// Cluster: lease writes are conditional on ownership (cluster.go,
	// docs/cluster.md): a record that would take another server's address
	// or overwrite a lease another server holds is rejected, its Commit
	// fails with a *RejectedError, and the rest of the batch commits.
	Cluster bool
}

// Stats are counters since Open.
type Stats struct {
	Commits      uint64 // Commit and CommitBlobs calls that succeeded
	Transactions uint64 // batch transactions committed
	Records      uint64 // leases and blobs committed
	Failed       uint64 // batch transactions that failed
}

// Store is a store.Store on PostgreSQL.
type Store struct {
	pool *pgxpool.Pool
	// claimPool is one connection of its own for ClaimBlock (cluster
	// mode): a claim never waits for a connection behind the commits,
	// read-throughs and lock sessions of pool. nil: pool.
	claimPool *pgxpool.Pool
	opts      Options
	log       *slog.Logger
	epoch     int64
	// inherited: claims of the previous incarnation kept at register.
	inherited int

	fenced atomic.Bool
	stopHB chan struct{}
	hbDone chan struct{}
	// beat and resumed (Unix nanoseconds): the last heartbeat the
	// database accepted, and the first one after a gap of more than two
	// periods (HeartbeatStall).
	beat, resumed atomic.Int64

	mu     sync.Mutex
	queue  []*request
	qsize  int // records in queue
	closed bool
	wake   chan struct{}
	wg     sync.WaitGroup

	commits, txs, records, failed atomic.Uint64
	inflight                      atomic.Int32 // batches being sent

	// ownedSQL replaces commitOwned when set (benchmarks comparing
	// versions of leased_commit_owned in one run).
	ownedSQL string
}

// request is one Commit or CommitBlobs call waiting for its batch.
type request struct {
	leases []lease.Lease
	blobs  []store.Blob
	done   chan error
	queued time.Time // when enqueued (Options.Linger)
	// rejected: set by a cluster batch that committed without this
	// request's records (cluster.go).
	rejected error
}

func (r *request) size() int { return len(r.leases) + len(r.blobs) }

// ParseDSN checks a libpq connection string (keyword=value or URL; several
// hosts and target_session_attrs accepted) without connecting.
func ParseDSN(dsn string) error {
	if strings.TrimSpace(dsn) == "" {
		return errors.New("empty connection string")
	}
	_, err := pgxpool.ParseConfig(dsn)
	return err
}

// Open connects, creates or migrates the schema, and registers the server
// in the servers table (its epoch grows by one at each Open).
func Open(ctx context.Context, dsn string, opts Options) (*Store, error) {
	if opts.ServerName == "" {
		return nil, errors.New("postgres: open: no server name")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 2000
	}
	if opts.Writers <= 0 {
		opts.Writers = 2
	}
	if opts.CommitTimeout <= 0 {
		opts.CommitTimeout = 30 * time.Second
	}
	if opts.TombstoneAge <= 0 {
		opts.TombstoneAge = time.Hour
	}
	if opts.MaxConns <= 0 {
		opts.MaxConns = int32(opts.Writers) + 2
	}
	if opts.Linger == 0 {
		opts.Linger = time.Millisecond
	}
	if opts.Heartbeat <= 0 {
		opts.Heartbeat = 5 * time.Second
	}
	pc, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: connection string: %w", err)
	}
	pc.MaxConns = opts.MaxConns
	if pc.ConnConfig.RuntimeParams == nil {
		pc.ConnConfig.RuntimeParams = map[string]string{}
	}
	// Durable before reply: whatever the server's default, our commits
	// wait for the WAL flush (and for synchronous standbys, if any).
	pc.ConnConfig.RuntimeParams["synchronous_commit"] = "on"
	pc.ConnConfig.RuntimeParams["application_name"] = "leased " + opts.ServerName
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	s := &Store{pool: pool, opts: opts, log: opts.Logger, wake: make(chan struct{}, 1)}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	if !opts.NoRegister {
		if err := s.register(ctx); err != nil {
			pool.Close()
			return nil, err
		}
	}
	if opts.Cluster && !opts.NoRegister {
		// Claims get a connection of their own (docs/cluster.md "Claim
		// life cycle"): parked DISCOVERs wait for them.
		cc := pc.Copy()
		cc.MaxConns, cc.MinConns = 1, 0
		cc.ConnConfig.RuntimeParams = maps.Clone(pc.ConnConfig.RuntimeParams)
		cc.ConnConfig.RuntimeParams["application_name"] = "leased " + opts.ServerName + " claims"
		s.claimPool, err = pgxpool.NewWithConfig(ctx, cc)
		if err != nil {
			pool.Close()
			return nil, fmt.Errorf("postgres: connect (claims): %w", err)
		}
	}
	s.wg.Add(opts.Writers)
	for range opts.Writers {
		go s.writer()
	}
	s.stopHB, s.hbDone = make(chan struct{}), make(chan struct{})
	if opts.NoRegister {
		close(s.hbDone)
	} else {
		go s.heartbeat()
	}
	return s, nil
}

// heartbeat refreshes servers.heartbeat while this process holds its
// epoch; once the epoch is superseded it stops and Fenced reports it.
func (s *Store) heartbeat() {
	defer close(s.hbDone)
	t := time.NewTicker(s.opts.Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-s.stopHB:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), s.opts.Heartbeat)
		tag, err := s.pool.Exec(ctx, "UPDATE servers SET heartbeat = now() WHERE server_name = $1 AND epoch = $2",
			s.opts.ServerName, s.epoch)
		cancel()
		switch {
		case err == nil && tag.RowsAffected() > 0:
			s.beaten(time.Now())
		case err != nil:
			s.log.Warn("postgres: heartbeat failed", "server_name", s.opts.ServerName, "err", err)
		case tag.RowsAffected() == 0:
			s.fenced.Store(true)
			s.log.Error("postgres: this server is fenced: another leased registered the same server_name with a newer epoch; commits are refused",
				"server_name", s.opts.ServerName, "epoch", s.epoch)
			return
		}
	}
}

// beaten records a heartbeat the database accepted at now.
func (s *Store) beaten(now time.Time) {
	if prev := s.beat.Swap(now.UnixNano()); prev != 0 && now.Sub(time.Unix(0, prev)) > 2*s.opts.Heartbeat {
		s.resumed.Store(now.UnixNano())
	}
}

// HeartbeatStall reports when this server's heartbeat last reached the
// database and when it last resumed after a gap of more than two
// periods (zero: never). A server whose own heartbeat stalls is counted
// dead by the others after their take-over delay — and a slow database
// stalls every server's at once, so then each sees the others as late as
// itself: a take-over decided on that view fences a healthy server
// (server/cluster.go, takeOversHeld).
func (s *Store) HeartbeatStall() (last, resumed time.Time) {
	at := func(ns int64) time.Time {
		if ns == 0 {
			return time.Time{}
		}
		return time.Unix(0, ns)
	}
	return at(s.beat.Load()), at(s.resumed.Load())
}

// Fenced reports whether the heartbeat found this server's epoch
// superseded (commits fail with ErrFenced from then on).
func (s *Store) Fenced() bool { return s.fenced.Load() }

// migrations lists the embedded migrations in version order.
func migrations() ([]migration, error) {
	ents, err := fs.ReadDir(migrationFS, "migrations")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, e := range ents {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || !strings.HasSuffix(e.Name(), ".sql") {
			return nil, fmt.Errorf("migration file %s: want NNNN_name.sql", e.Name())
		}
		b, err := migrationFS.ReadFile("migrations/" + e.Name())
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: e.Name(), sql: string(b)})
	}
	slices.SortFunc(ms, func(a, b migration) int { return cmp.Compare(a.version, b.version) })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("migration %s: version %d, want %d", m.name, m.version, i+1)
		}
	}
	return ms, nil
}

type migration struct {
	version int
	name    string
	sql     string
}

// SchemaVersion is the schema version this binary migrates to.
func SchemaVersion() int {
	ms, _ := migrations()
	return len(ms)
}

// migrate applies the missing migrations in one transaction holding an
// advisory lock, so servers starting at once migrate one after the other
// (the second finds nothing to do).
func (s *Store) migrate(ctx context.Context) error {
	ms, err := migrations()
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", migrationLock); err != nil {
		return fmt.Errorf("postgres: migrate: lock: %w", err)
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_version (
		version integer PRIMARY KEY, name text NOT NULL, applied timestamptz NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("postgres: migrate: schema_version: %w", err)
	}
	var cur int
	if err := tx.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM schema_version").Scan(&cur); err != nil {
		return fmt.Errorf("postgres: migrate: read version: %w", err)
	}
	if cur > len(ms) {
		return fmt.Errorf("postgres: the database schema is version %d, newer than this leased knows (%d): upgrade leased", cur, len(ms))
	}
	for _, m := range ms[cur:] {
		if _, err := tx.Exec(ctx, m.sql); err != nil {
			return fmt.Errorf("postgres: migration %s: %w", m.name, err)
		}
		if _, err := tx.Exec(ctx, "INSERT INTO schema_version (version, name) VALUES ($1, $2)", m.version, m.name); err != nil {
			return fmt.Errorf("postgres: migration %s: %w", m.name, err)
		}
		s.log.Info("postgres: schema migrated", "version", m.version, "migration", m.name)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: migrate: commit: %w", err)
	}
	return nil
}

// register inserts or refreshes this server's row and takes its new epoch.
func (s *Store) register(ctx context.Context) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("postgres: register server %q: %w", s.opts.ServerName, err)
	}
	defer tx.Rollback(context.Background())
	// The migration lock orders registrations too: of two exclusive
	// servers starting at once, the second sees the first.
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", migrationLock); err != nil {
		return fmt.Errorf("postgres: register server %q: %w", s.opts.ServerName, err)
	}
	if s.opts.Exclusive {
		var other string
		var age float64
		err := tx.QueryRow(ctx, `SELECT server_name, extract(epoch FROM now() - heartbeat)::float8 FROM servers
			WHERE server_name <> $1 AND stopped IS NULL AND heartbeat > now() - make_interval(secs => $2)
			ORDER BY heartbeat DESC LIMIT 1`, s.opts.ServerName, 3*s.opts.Heartbeat.Seconds()).Scan(&other, &age)
		switch {
		case err == nil:
			return fmt.Errorf("postgres: server %q is using this database (heartbeat %.1f s ago) and leased serves one server per database until cluster support exists: stop it, or give this server its name (server_name), or wait %v if it died",
				other, age, 3*s.opts.Heartbeat)
		case !errors.Is(err, pgx.ErrNoRows):
			return fmt.Errorf("postgres: register server %q: %w", s.opts.ServerName, err)
		}
	}
	err = tx.QueryRow(ctx, `INSERT INTO servers (server_name, started, heartbeat, epoch, version)
		VALUES ($1, now(), now(), 1, $2)
		ON CONFLICT (server_name) DO UPDATE SET started = now(), heartbeat = now(), stopped = NULL,
			epoch = servers.epoch + 1, version = excluded.version
		RETURNING epoch`, s.opts.ServerName, s.opts.Version).Scan(&s.epoch)
	if err != nil {
		return fmt.Errorf("postgres: register server %q: %w", s.opts.ServerName, err)
	}
	if s.opts.Cluster {
		// A restart with the same server_name is the same server: it
		// keeps the claims of its previous incarnation (issue #12,
		// docs/cluster.md), moved to the new epoch in the transaction
		// that raises it, so the old process is fenced (its epoch no
		// longer matches any claim nor the servers row) and the ranges
		// are not blocked until they expire. The server loads their
		// leases at its first ExtendClaims, before allocating.
		tag, err := tx.Exec(ctx, "UPDATE claims SET epoch = $2 WHERE owner = $1", s.opts.ServerName, s.epoch)
		if err != nil {
			return fmt.Errorf("postgres: register server %q: keep its claims: %w", s.opts.ServerName, err)
		}
		s.inherited = int(tag.RowsAffected())
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: register server %q: %w", s.opts.ServerName, err)
	}
	s.beaten(time.Now()) // registering set the heartbeat
	return nil
}

// Epoch is this server's epoch, taken at Open.
func (s *Store) Epoch() int64 { return s.epoch }

// Inherited is how many claims of this server's previous incarnation
// (same server_name) Open moved to the new epoch (cluster mode).
func (s *Store) Inherited() int { return s.inherited }

// Pool is the connection pool (for the cluster work and tools; leases go
// through Commit).
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Stats returns the counters.
func (s *Store) Stats() Stats {
	return Stats{Commits: s.commits.Load(), Transactions: s.txs.Load(), Records: s.records.Load(), Failed: s.failed.Load()}
}

const leaseColumns = `addr, family, prefix_len, seq, state, pool, section, client_id, htype, hwaddr, hostname,
	start_ns, t1_ns, t2_ns, expiry_ns, preferred_ns, xid, prev_xid, giaddr, relay_info, fr_nonce,
	reconf_key, replay_counter, iaid`

// upsertLeases writes a batch of records (one array per column, one
// element per address; unnest turns them back into rows) in one
// statement, each unless its row holds a higher seq. Equal seq: the
// later write wins, as in the WAL's recovery.
const upsertLeases = `INSERT INTO leases (` + leaseColumns + `, server_name, updated)
	SELECT u.*, $25, now() FROM unnest($1::inet[], $2::int2[], $3::int2[], $4::int8[], $5::int2[], $6::text[],
		$7::int4[], $8::bytea[], $9::int2[], $10::bytea[], $11::text[], $12::int8[], $13::int8[], $14::int8[],
		$15::int8[], $16::int8[], $17::int8[], $18::int8[], $19::inet[], $20::bytea[], $21::bool[], $22::bytea[],
		$23::int8[], $24::int8[]) AS u
	ON CONFLICT (addr) DO UPDATE SET
		family = excluded.family, prefix_len = excluded.prefix_len, seq = excluded.seq, state = excluded.state,
		pool = excluded.pool, section = excluded.section, client_id = excluded.client_id, htype = excluded.htype,
		hwaddr = excluded.hwaddr, hostname = excluded.hostname, start_ns = excluded.start_ns, t1_ns = excluded.t1_ns,
		t2_ns = excluded.t2_ns, expiry_ns = excluded.expiry_ns, preferred_ns = excluded.preferred_ns,
		xid = excluded.xid, prev_xid = excluded.prev_xid, giaddr = excluded.giaddr, relay_info = excluded.relay_info,
		fr_nonce = excluded.fr_nonce, reconf_key = excluded.reconf_key, replay_counter = excluded.replay_counter,
		iaid = excluded.iaid, server_name = excluded.server_name, updated = excluded.updated
	WHERE excluded.seq >= leases.seq`

const (
	upsertBlob = `INSERT INTO blobs (kind, key, value, seq, updated) VALUES ($1, $2, $3, nextval('blobs_seq'), now())
		ON CONFLICT (kind, key) DO UPDATE SET value = excluded.value, seq = excluded.seq, updated = excluded.updated`
	deleteBlob = `DELETE FROM blobs WHERE kind = $1 AND key = $2`
)

// checkLease rejects what the schema cannot hold exactly.
func checkLease(l *lease.Lease) error {
	switch {
	case !l.Addr.IsValid():
		return fmt.Errorf("record seq %d has no address", l.Seq)
	case l.Seq > math.MaxInt64:
		return fmt.Errorf("record %s: seq %d above 2^63-1", l.Addr, l.Seq)
	case l.PrefixLen > 128 || (l.PrefixLen != 0 && !l.Addr.Is6()):
		return fmt.Errorf("record %s: prefix length %d", l.Addr, l.PrefixLen)
	case l.Section < math.MinInt32 || l.Section > math.MaxInt32:
		return fmt.Errorf("record %s: section %d", l.Addr, l.Section)
	case l.DDNS > lease.DDNSNone:
		return fmt.Errorf("record %s: DDNS mode %d", l.Addr, l.DDNS)
	case strings.IndexByte(l.Hostname, 0) >= 0 || strings.IndexByte(l.Pool, 0) >= 0:
		return fmt.Errorf("record %s: NUL byte in hostname or pool (PostgreSQL text cannot hold it)", l.Addr)
	}
	return nil
}

func nsOrNil(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	ns := t.UnixNano()
	return &ns
}

func bytesOrNil(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

func family(a netip.Addr) int16 {
	if a.Is4() {
		return 4
	}
	return 6
}

// leaseColumns holds a batch of records column by column: the arguments
// of upsertLeases.
type leaseCols struct {
	addr                             []netip.Addr
	giaddr                           []*netip.Addr
	fam, plen, state, htype          []int16
	seq, xid, prevXID, rc, iaid      []int64
	section                          []int32
	pool, host                       []string
	clientID, hw, relay, key         [][]byte
	start, t1, t2, expiry, preferred []*int64
	nonce                            []bool
}

func (c *leaseCols) add(l *lease.Lease) {
	c.addr = append(c.addr, l.Addr.WithZone(""))
	var gi *netip.Addr
	if l.GIAddr.IsValid() {
		a := l.GIAddr.WithZone("")
		gi = &a
	}
	c.giaddr = append(c.giaddr, gi)
	c.fam = append(c.fam, family(l.Addr))
	c.plen = append(c.plen, int16(l.PrefixLen))
	c.state = append(c.state, int16(l.State))
	c.htype = append(c.htype, htypeColumn(l))
	c.seq = append(c.seq, int64(l.Seq))
	c.xid = append(c.xid, int64(l.XID))
	c.prevXID = append(c.prevXID, int64(l.PrevXID))
	c.rc = append(c.rc, int64(l.ReplayCounter))
	c.iaid = append(c.iaid, int64(l.IAID))
	c.section = append(c.section, int32(l.Section))
	c.pool = append(c.pool, l.Pool)
	c.host = append(c.host, l.Hostname)
	c.clientID = append(c.clientID, bytesOrNil(l.ClientID))
	c.hw = append(c.hw, bytesOrNil(l.HWAddr))
	c.relay = append(c.relay, bytesOrNil(l.RelayInfo))
	c.key = append(c.key, bytesOrNil(l.ReconfKey))
	c.start = append(c.start, nsOrNil(l.Start))
	c.t1 = append(c.t1, nsOrNil(l.T1))
	c.t2 = append(c.t2, nsOrNil(l.T2))
	c.expiry = append(c.expiry, nsOrNil(l.Expiry))
	c.preferred = append(c.preferred, nsOrNil(l.Preferred))
	c.nonce = append(c.nonce, l.ForceRenewNonceCapable)
}

func (c *leaseCols) args(server string) []any {
	return []any{c.addr, c.fam, c.plen, c.seq, c.state, c.pool, c.section, c.clientID, c.htype, c.hw, c.host,
		c.start, c.t1, c.t2, c.expiry, c.preferred, c.xid, c.prevXID, c.giaddr, c.relay, c.nonce, c.key, c.rc, c.iaid, server}
}

// Commit makes recs durable: it returns nil only after the transaction
// holding them committed (synchronous_commit on). Concurrent calls share
// one transaction; if it fails, every caller of that batch gets the
// error. ctx is honoured until the records are handed to a writer; from
// then on Commit waits for the outcome (bounded by Options.CommitTimeout),
// so the caller never reuses records a transaction may still be sending.
func (s *Store) Commit(ctx context.Context, recs []lease.Lease) error {
	for i := range recs {
		if err := checkLease(&recs[i]); err != nil {
			return fmt.Errorf("postgres: commit: %w", err)
		}
	}
	return s.enqueue(ctx, &request{leases: recs})
}

// CommitBlobs makes blobs durable with Commit's promise. Blobs of one key
// committed by sequential calls keep their order; an empty Value deletes
// the key.
func (s *Store) CommitBlobs(ctx context.Context, blobs []store.Blob) error {
	return s.enqueue(ctx, &request{blobs: blobs})
}

func (s *Store) enqueue(ctx context.Context, r *request) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if r.size() == 0 {
		return nil
	}
	r.done = make(chan error, 1)
	if s.opts.Linger > 0 {
		r.queued = time.Now()
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	s.queue = append(s.queue, r)
	s.qsize += r.size()
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
	err := <-r.done
	if err == nil {
		s.commits.Add(1)
	}
	return err
}

// lingerLocked returns how long take should still wait for the queue to
// fill (Options.Linger), 0 to take it now. s.mu is held.
func (s *Store) lingerLocked() time.Duration {
	if s.opts.Linger <= 0 || len(s.queue) == 0 || s.closed || s.inflight.Load() == 0 {
		return 0
	}
	if s.qsize >= s.opts.MaxBatch {
		return 0
	}
	return s.opts.Linger - time.Since(s.queue[0].queued)
}

// take removes up to MaxBatch records' worth of requests from the queue
// (at least one request). It blocks until there is one, or returns nil
// once the store is closed and the queue empty.
func (s *Store) take() []*request {
	for {
		s.mu.Lock()
		if wait := s.lingerLocked(); wait > 0 {
			s.mu.Unlock()
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-s.wake: // more queued: look again
				t.Stop()
			}
			continue
		}
		if len(s.queue) > 0 {
			n, size := 0, 0
			for n < len(s.queue) && (n == 0 || size+s.queue[n].size() <= s.opts.MaxBatch) {
				size += s.queue[n].size()
				n++
			}
			s.qsize -= size
			batch := slices.Clone(s.queue[:n])
			clear(s.queue[:n])
			s.queue = s.queue[n:]
			more := len(s.queue) > 0
			s.mu.Unlock()
			if more { // let another writer start on the rest
				select {
				case s.wake <- struct{}{}:
				default:
				}
			}
			return batch
		}
		closed := s.closed
		s.mu.Unlock()
		if closed {
			return nil
		}
		<-s.wake
	}
}

func (s *Store) writer() {
	defer s.wg.Done()
	for {
		batch := s.take()
		if batch == nil {
			select { // wake the other writers so they see closed too
			case s.wake <- struct{}{}:
			default:
			}
			return
		}
		s.inflight.Add(1)
		err := s.write(batch)
		if s.inflight.Add(-1) == 0 && s.opts.Linger > 0 {
			select { // a lingering writer need not wait any longer
			case s.wake <- struct{}{}:
			default:
			}
		}
		for _, r := range batch {
			if err == nil && r.rejected != nil {
				r.done <- r.rejected
				continue
			}
			r.done <- err
		}
	}
}

// write commits one batch in one transaction: one pipelined pgx batch of
// prepared statements whose implicit transaction ends at its Sync; the
// results are read only after PostgreSQL answered the Sync, that is after
// the commit is durable.
func (s *Store) write(batch []*request) error {
	if s.opts.Cluster && !s.opts.NoRegister {
		return s.writeOwned(batch)
	}
	var leases []*lease.Lease
	var blobs []*store.Blob
	for _, r := range batch {
		for i := range r.leases {
			leases = append(leases, &r.leases[i])
		}
		for i := range r.blobs {
			blobs = append(blobs, &r.blobs[i])
		}
	}
	// One lock order for every transaction (addresses ascending), so two
	// writers never deadlock; stable, so writes of one address keep their
	// order. Blobs keep the order they were committed in (LoadBlobs
	// yields that order, blobs_seq records it): a transaction writing
	// blobs first takes blobLock, so blob transactions (of every server)
	// run one at a time and their seqs follow their commits.
	slices.SortStableFunc(leases, func(a, b *lease.Lease) int { return a.Addr.Compare(b.Addr) })
	b := &pgx.Batch{}
	if !s.opts.NoRegister {
		b.Queue("SELECT leased_fence($1, $2)", s.opts.ServerName, s.epoch)
	}
	if len(blobs) > 0 {
		b.Queue("SELECT pg_advisory_xact_lock($1)", blobLock)
	}
	if len(leases) > 0 {
		// One row per address (one statement cannot update a row twice):
		// of several records of an address, the highest seq, the later on
		// equal seq; they are adjacent after the stable sort.
		var cols leaseCols
		for i := 0; i < len(leases); {
			best, j := leases[i], i+1
			for ; j < len(leases) && leases[j].Addr == best.Addr; j++ {
				if leases[j].Seq >= best.Seq {
					best = leases[j]
				}
			}
			cols.add(best)
			i = j
		}
		b.Queue(upsertLeases, cols.args(s.opts.ServerName)...)
	}
	queueBlobs(b, blobs)
	n := len(leases) + len(blobs)
	if err := s.sendBatch(b, n); err != nil {
		return err
	}
	s.txs.Add(1)
	s.records.Add(uint64(n))
	return nil
}

// Load calls fn for the current record of every live address (tombstones
// excluded), streaming the rows.
func (s *Store) Load(fn func(lease.Lease) error) error {
	return s.load(context.Background(), fn)
}

func (s *Store) load(ctx context.Context, fn func(lease.Lease) error) error {
	return s.query(ctx, `SELECT `+leaseColumns+` FROM leases WHERE state <> $1`, fn, int16(lease.StateDeleted))
}

// query streams the lease rows of sql (selecting leaseColumns) to fn.
func (s *Store) query(ctx context.Context, sql string, fn func(lease.Lease) error, args ...any) error {
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return fmt.Errorf("postgres: load leases: %w", err)
	}
	return scanLeases(rows, fn)
}

// scanLeases streams rows (selecting leaseColumns) to fn and closes them.
func scanLeases(rows pgx.Rows, fn func(lease.Lease) error) error {
	defer rows.Close()
	var (
		addr                         netip.Prefix
		giaddr                       *netip.Prefix
		fam, plen, state, htype      int16
		seq, xid, prevXID, rc, iaid  int64
		section                      int32
		start, t1, t2, expiry, pref  *int64
		pool, host                   string
		clientID, hw, relay, reconfK []byte
		nonce                        bool
	)
	dest := []any{&addr, &fam, &plen, &seq, &state, &pool, &section, &clientID, &htype, &hw, &host,
		&start, &t1, &t2, &expiry, &pref, &xid, &prevXID, &giaddr, &relay, &nonce, &reconfK, &rc, &iaid}
	n := 0
	for rows.Next() {
		giaddr, start, t1, t2, expiry, pref = nil, nil, nil, nil, nil, nil
		if err := rows.Scan(dest...); err != nil {
			return fmt.Errorf("postgres: load leases: row %d: %w", n, err)
		}
		l := lease.Lease{
			Seq: uint64(seq), Addr: addr.Addr(), ClientID: nilIfEmpty(clientID), HType: uint8(htype), DDNS: ddnsOf(htype),
			HWAddr: nilIfEmpty(hw), Hostname: host, Pool: pool, Section: int(section), State: lease.State(state),
			Start: fromNS(start), T1: fromNS(t1), T2: fromNS(t2), Expiry: fromNS(expiry),
			XID: uint32(xid), PrevXID: uint32(prevXID), RelayInfo: nilIfEmpty(relay),
			ForceRenewNonceCapable: nonce, ReconfKey: nilIfEmpty(reconfK), ReplayCounter: uint64(rc),
			IAID: uint32(iaid), PrefixLen: uint8(plen), Preferred: fromNS(pref), Reserved: htype&htypeReserved != 0,
		}
		if giaddr != nil {
			l.GIAddr = giaddr.Addr()
		}
		n++
		if err := fn(l); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("postgres: load leases after %d rows: %w", n, err)
	}
	return nil
}

// The htype column (smallint) holds the hardware type in its low 8 bits
// and lease.Lease.DDNS (who updates the binding's DNS records) in bits
// 8..9, so the mode needs no new column (and no change to the cluster
// commit function, whose parameters mirror the columns). Rows written
// before hold mode 0, DDNSBoth; an older binary reading a newer row takes
// the low 8 bits and loses only the mode. Bit 10 (htypeReserved) is
// lease.Lease.Reserved: leased_commit_owned (migration 0006) accepts such a
// record outside the writer's claims.
const (
	htypeDDNSShift = 8
	htypeReserved  = 1 << 10
)

func htypeColumn(l *lease.Lease) int16 {
	h := int16(l.HType) | int16(l.DDNS&3)<<htypeDDNSShift
	if l.Reserved {
		h |= htypeReserved
	}
	return h
}

func ddnsOf(htype int16) lease.DDNSMode {
	return lease.DDNSMode(htype>>htypeDDNSShift) & 3
}

func nilIfEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

func fromNS(p *int64) time.Time {
	if p == nil {
		return time.Time{}
	}
	return time.Unix(0, *p).UTC()
}

// LoadBlobs calls fn for every live blob in the order of their last
// writes, streaming the rows; fn must not keep the slices.
func (s *Store) LoadBlobs(fn func(store.Blob) error) error {
	ctx := context.Background()
	rows, err := s.pool.Query(ctx, `SELECT kind, key, value FROM blobs ORDER BY seq`)
	if err != nil {
		return fmt.Errorf("postgres: load blobs: %w", err)
	}
	defer rows.Close()
	var kind int16
	var key, value []byte
	for rows.Next() {
		if err := rows.Scan(&kind, &key, &value); err != nil {
			return fmt.Errorf("postgres: load blobs: %w", err)
		}
		if err := fn(store.Blob{Kind: uint8(kind), Key: key, Value: value}); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("postgres: load blobs: %w", err)
	}
	return nil
}

// Compact: the database keeps no history to compact, only the current row
// of every address and key, which concurrent commits update in place, so
// all and blobs are not read (the rows are already the state; rows other
// servers own must not be replaced by this server's view). What Compact
// does is remove lease tombstones older than Options.TombstoneAge; a
// younger tombstone stays so that a late record with a lower seq cannot
// bring the address back.
func (s *Store) Compact(all iter.Seq[lease.Lease], blobs iter.Seq[store.Blob]) error {
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.CommitTimeout)
	defer cancel()
	_, err := s.PurgeTombstones(ctx, s.opts.TombstoneAge)
	return err
}

// PurgeTombstones deletes lease tombstones written more than age ago and
// returns how many.
func (s *Store) PurgeTombstones(ctx context.Context, age time.Duration) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM leases WHERE state = $1 AND updated < now() - $2::interval`,
		int16(lease.StateDeleted), fmt.Sprintf("%d microseconds", age.Microseconds()))
	if err != nil {
		return 0, fmt.Errorf("postgres: compact: purge tombstones: %w", err)
	}
	return tag.RowsAffected(), nil
}

// Close finishes the queued commits, marks the server stopped (servers.stopped)
// unless it was fenced, then closes the connections.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	close(s.stopHB)
	<-s.hbDone
	select {
	case s.wake <- struct{}{}:
	default:
	}
	s.wg.Wait()
	if !s.opts.NoRegister && !s.fenced.Load() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, _ = s.pool.Exec(ctx, "UPDATE servers SET stopped = now() WHERE server_name = $1 AND epoch = $2",
			s.opts.ServerName, s.epoch)
		cancel()
	}
	if s.claimPool != nil {
		s.claimPool.Close()
	}
	s.pool.Close()
	return nil
}

// queueBlobs adds the blob writes of a batch: an empty value deletes the
// key (store.Blob's tombstone).
func queueBlobs(b *pgx.Batch, blobs []*store.Blob) {
	for _, bl := range blobs {
		key := bl.Key
		if key == nil {
			key = []byte{}
		}
		if len(bl.Value) == 0 {
			b.Queue(deleteBlob, int16(bl.Kind), key)
		} else {
			b.Queue(upsertBlob, int16(bl.Kind), key, bl.Value)
		}
	}
}

// sendBatch runs one batch as one transaction within the commit timeout.
// On failure it counts it, notes fencing (ErrFenced) and returns the error
// for every caller of the batch: none of its n records is acknowledged.
func (s *Store) sendBatch(b *pgx.Batch, n int) error {
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.CommitTimeout)
	defer cancel()
	err := s.pool.SendBatch(ctx, b).Close()
	if err == nil {
		return nil
	}
	s.failed.Add(1)
	if pe, ok := errors.AsType[*pgconn.PgError](err); ok && pe.Code == fencedCode {
		s.fenced.Store(true)
		err = fmt.Errorf("%w (%s)", ErrFenced, pe.Message)
	}
	s.log.Error("postgres: commit failed; no record of the batch is acknowledged", "records", n, "err", err)
	return fmt.Errorf("postgres: commit %d records: %w", n, err)
}
