package postgres

// The cluster API (issue #12, docs/cluster.md): block claims, conditional
// lease writes, take-over of a dead server, read-through lookups, campaign
// leadership and the listings of leasectl cluster.

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"net/netip"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/leased/leased/lease"
	"github.com/leased/leased/store"
)

// ErrRejected is wrapped by the *RejectedError of a cluster Commit whose
// records the database refused (see Options.Cluster).
var ErrRejected = errors.New("postgres: lease write rejected")

// ErrNoFreeBlock: ClaimBlock found no unclaimed address in the pool.
var ErrNoFreeBlock = errors.New("postgres: no unclaimed block left in the pool")

// ErrNotDead: TakeOver refused a server whose heartbeat is recent.
var ErrNotDead = errors.New("postgres: server is alive")

// RejectedError names the address whose write was refused in cluster mode
// and why: "not owner" (a new binding outside this server's claims),
// "held by another client", "held elsewhere" (freeing a lease another
// server holds). None of the Commit call's records were written; the
// other calls of the batch were.
type RejectedError struct {
	Addr   netip.Addr
	Reason string
}

func (e *RejectedError) Error() string {
	return fmt.Sprintf("postgres: lease write for %s rejected: %s", e.Addr, e.Reason)
}

func (e *RejectedError) Unwrap() error { return ErrRejected }

// Is makes a refused write a lease.ErrConflict too, so that the API
// answers an operator's delete of a lease another server holds with 409,
// not 500, without knowing this package.
func (e *RejectedError) Is(target error) bool { return target == lease.ErrConflict }

// commitOwned calls leased_commit_owned (migration 0002): the records
// after the server name, epoch and group array, in upsertLeases' order.
const commitOwned = `SELECT addr, reason FROM leased_commit_owned($1, $2, $3, $4::inet[], $5::int2[], $6::int2[],
	$7::int8[], $8::int2[], $9::text[], $10::int4[], $11::bytea[], $12::int2[], $13::bytea[], $14::text[],
	$15::int8[], $16::int8[], $17::int8[], $18::int8[], $19::int8[], $20::int8[], $21::int8[], $22::inet[],
	$23::bytea[], $24::bool[], $25::bytea[], $26::int8[], $27::int8[])`

// writeOwned is write for Options.Cluster: one transaction as well, but
// the leases go through leased_commit_owned, which writes every Commit
// call's records all or none and reports the refused ones; the refused
// calls get a *RejectedError, the others succeed.
func (s *Store) writeOwned(batch []*request) error {
	type item struct {
		l   *lease.Lease
		req int
	}
	var items []item
	var blobs []*store.Blob
	for ri, r := range batch {
		for i := range r.leases {
			items = append(items, item{&r.leases[i], ri})
		}
		for i := range r.blobs {
			blobs = append(blobs, &r.blobs[i])
		}
	}
	slices.SortStableFunc(items, func(a, b item) int { return a.l.Addr.Compare(b.l.Addr) })
	// Requests sharing an address form one group (all or none): union-find.
	parent := make([]int, len(batch))
	for i := range parent {
		parent[i] = i
	}
	find := func(i int) int {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	for i := 1; i < len(items); i++ {
		if items[i].l.Addr == items[i-1].l.Addr {
			parent[find(items[i].req)] = find(items[i-1].req)
		}
	}
	b := &pgx.Batch{}
	if len(items) == 0 { // leased_commit_owned fences itself
		b.Queue("SELECT leased_fence($1, $2)", s.opts.ServerName, s.epoch)
	}
	if len(blobs) > 0 {
		b.Queue("SELECT pg_advisory_xact_lock($1)", blobLock)
	}
	var rejected map[netip.Addr]string
	if len(items) > 0 {
		var cols leaseCols
		var grp []int32
		for i := 0; i < len(items); {
			best, j := items[i], i+1
			for ; j < len(items) && items[j].l.Addr == best.l.Addr; j++ {
				if items[j].l.Seq >= best.l.Seq {
					best = items[j]
				}
			}
			cols.add(best.l)
			grp = append(grp, int32(find(best.req)))
			i = j
		}
		args := append([]any{s.opts.ServerName, s.epoch, grp}, cols.args(s.opts.ServerName)...)
		args = args[:len(args)-1] // the function takes the server name once
		q := commitOwned
		if s.ownedSQL != "" {
			q = s.ownedSQL
		}
		b.Queue(q, args...).Query(func(rows pgx.Rows) error {
			rejected = map[netip.Addr]string{}
			var a netip.Prefix
			var why string
			_, err := pgx.ForEachRow(rows, []any{&a, &why}, func() error {
				if old, ok := rejected[a.Addr()]; !ok || old == "group" {
					rejected[a.Addr()] = why
				}
				return nil
			})
			return err
		})
	}
	queueBlobs(b, blobs)
	n := len(items) + len(blobs)
	if err := s.sendBatch(b, n); err != nil {
		return err
	}
	for _, r := range batch {
		for i := range r.leases {
			why, ok := rejected[r.leases[i].Addr]
			if !ok {
				continue
			}
			if r.rejected == nil || r.rejected.(*RejectedError).Reason == "group" {
				r.rejected = &RejectedError{Addr: r.leases[i].Addr, Reason: why}
			}
		}
		if r.rejected != nil {
			n -= len(r.leases)
		}
	}
	if len(rejected) > 0 {
		s.log.Debug("postgres: cluster commit: records rejected", "addresses", len(rejected))
	}
	s.txs.Add(1)
	s.records.Add(uint64(n))
	return nil
}

// Range is an inclusive interval of addresses of one family.
type Range struct {
	First, Last netip.Addr
}

// ClaimPool describes what ClaimBlock may claim from: the pool's name, its
// allocatable ranges (sections, IA_NA ranges, or a delegation prefix's
// whole span) and, for IA_PD, the delegated prefix length (0: single
// addresses). Blocks are aligned to prefixes of that length from each
// range's first address.
type ClaimPool struct {
	Name      string
	Ranges    []Range
	PrefixLen uint8
}

// Claim is one row of the claims table.
type Claim struct {
	ID          int64
	Pool        string
	First, Last netip.Addr
	Owner       string
	Epoch       int64
	Claimed     time.Time
	Expires     time.Time
}

// span returns the numeric interval of [first, last] as the claims table
// stores it (DHCPv4 as is, DHCPv6 offset by 2^32 so the families never
// overlap), as two decimal strings.
func span(first, last netip.Addr) (string, string) {
	return addrNum(first).String(), addrNum(last).String()
}

var v6Offset = new(big.Int).Lsh(big.NewInt(1), 32)

func addrNum(a netip.Addr) *big.Int {
	x := new(big.Int).SetBytes(a.AsSlice())
	if a.Is6() {
		x.Add(x, v6Offset)
	}
	return x
}

// claimLockClass is the first key of the two-key advisory locks leased
// takes per pool (ClaimBlock) and per campaign (LeadCampaign).
const (
	claimLockClass    = 0x6c63 // "lc"
	campaignLockClass = 0x6c6c // "ll"
)

const claimColumns = `id, pool, first, last, owner, epoch, claimed, expires`

func scanClaims(rows pgx.Rows) ([]Claim, error) {
	var out []Claim
	var c Claim
	var first, last netip.Prefix
	_, err := pgx.ForEachRow(rows, []any{&c.ID, &c.Pool, &first, &last, &c.Owner, &c.Epoch, &c.Claimed, &c.Expires}, func() error {
		c.First, c.Last = first.Addr(), last.Addr()
		out = append(out, c)
		return nil
	})
	return out, err
}

// ClaimBlock claims for this server, until ttl from now, the first
// unclaimed run of size addresses (prefixes, with PrefixLen) of p's
// ranges; when no run that long is left, the first shorter one. Expired
// claims of p are removed first. Two servers claiming at once never get
// overlapping blocks: the exclusion constraint of the claims table forbids
// it, and a per-pool advisory lock makes them wait for each other instead
// of failing. ErrNoFreeBlock when everything is claimed; ErrFenced when
// this server's epoch was superseded.
func (s *Store) ClaimBlock(ctx context.Context, p ClaimPool, size int, ttl time.Duration) (Claim, error) {
	return s.ClaimBlockLoad(ctx, p, size, ttl, nil)
}

// claimBlockSQL is one claim (leased_claim_block, migration 0007): the
// fence, the pool's advisory lock, the delete of its expired claims, the
// search for a free run and the insert, in one statement.
const claimBlockSQL = `SELECT ` + claimColumns + ` FROM leased_claim_block($1, $2, $3, $4::int2,
	$5::text[]::numeric[], $6::text[]::numeric[], $7::text::numeric, $8::int4, $9::float8)`

// claimLeasesSQL reads the leases of the block the statement before it in
// the same transaction claimed (leased.claim_id; none: no row).
const claimLeasesSQL = `SELECT ` + leaseColumns + ` FROM leases,
	(SELECT first, last FROM claims WHERE id = nullif(current_setting('leased.claim_id', true), '')::int8) c
	WHERE leases.addr >= c.first AND leases.addr <= c.last AND leases.state <> $1`

// ClaimBlockLoad is ClaimBlock that also calls fn (unless nil) for every
// lease row (tombstones excluded) inside the claimed block, as LeasesIn
// would: the claim and the read are one pipelined batch, one round trip
// and one transaction, on the store's claim connection (a cluster store
// keeps one for claims alone, so that a claim never waits for a
// connection behind commits). fn runs before the transaction has
// committed; what it receives are rows of the database either way (a
// failed claim adopted nothing that is not there).
func (s *Store) ClaimBlockLoad(ctx context.Context, p ClaimPool, size int, ttl time.Duration, fn func(lease.Lease) error) (Claim, error) {
	if size <= 0 || len(p.Ranges) == 0 {
		return Claim{}, fmt.Errorf("postgres: claim block in pool %q: size %d, %d ranges", p.Name, size, len(p.Ranges))
	}
	if s.opts.NoRegister {
		return Claim{}, errors.New("store opened with NoRegister: not a cluster member")
	}
	fam := int16(4)
	if p.Ranges[0].First.Is6() {
		fam = 6
	}
	unit := big.NewInt(1)
	if p.PrefixLen > 0 {
		unit.Lsh(unit, uint(128-int(p.PrefixLen)))
	}
	rs := slices.Clone(p.Ranges)
	slices.SortFunc(rs, func(a, b Range) int { return a.First.Compare(b.First) })
	lo, hi := make([]string, len(rs)), make([]string, len(rs))
	for i, r := range rs {
		if r.First.Is6() != (fam == 6) || r.Last.Is6() != (fam == 6) {
			return Claim{}, fmt.Errorf("postgres: claim block in pool %q: ranges of both families", p.Name)
		}
		lo[i], hi[i] = span(r.First, r.Last)
	}
	var cs []Claim
	b := &pgx.Batch{}
	b.Queue(claimBlockSQL, s.opts.ServerName, s.epoch, p.Name, fam, lo, hi, unit.String(), int32(size), ttl.Seconds()).
		Query(func(rows pgx.Rows) error {
			var err error
			cs, err = scanClaims(rows)
			return err
		})
	if fn != nil {
		b.Queue(claimLeasesSQL, int16(lease.StateDeleted)).Query(func(rows pgx.Rows) error {
			return scanLeases(rows, fn)
		})
	}
	cp := s.claimPool
	if cp == nil {
		cp = s.pool
	}
	err := cp.SendBatch(ctx, b).Close()
	if pe, ok := errors.AsType[*pgconn.PgError](err); ok && pe.Code == fencedCode {
		s.fenced.Store(true)
		err = fmt.Errorf("%w (%s)", ErrFenced, pe.Message)
	}
	if err == nil && len(cs) == 0 {
		err = ErrNoFreeBlock
	}
	if err != nil {
		return Claim{}, fmt.Errorf("postgres: claim block in pool %q: %w", p.Name, err)
	}
	return cs[0], nil
}

// tx runs fn in a transaction that first checks this server's epoch
// (leased_fence): a fenced server changes nothing.
func (s *Store) tx(ctx context.Context, fn func(pgx.Tx) error) error {
	if s.opts.NoRegister {
		return errors.New("store opened with NoRegister: not a cluster member")
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT leased_fence($1, $2)", s.opts.ServerName, s.epoch); err != nil {
			return err
		}
		return fn(tx)
	})
	if pe, ok := errors.AsType[*pgconn.PgError](err); ok && pe.Code == fencedCode {
		s.fenced.Store(true)
		return fmt.Errorf("%w (%s)", ErrFenced, pe.Message)
	}
	return err
}

// ExtendClaims pushes the expiry of every claim this server holds to ttl
// from now and returns them. A server extends its claims well before they
// expire (docs/cluster.md: every heartbeat) and stops allocating from a
// claim it could not extend before its expiry.
func (s *Store) ExtendClaims(ctx context.Context, ttl time.Duration) ([]Claim, error) {
	var out []Claim
	err := s.tx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `UPDATE claims SET expires = now() + make_interval(secs => $3)
			WHERE owner = $1 AND epoch = $2 RETURNING `+claimColumns, s.opts.ServerName, s.epoch, ttl.Seconds())
		if err != nil {
			return err
		}
		out, err = scanClaims(rows)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: extend claims: %w", err)
	}
	slices.SortFunc(out, func(a, b Claim) int { return a.First.Compare(b.First) })
	return out, nil
}

// ReleaseClaim gives back claim id (this server's). The leases inside stay;
// only the right to allocate new clients there ends.
func (s *Store) ReleaseClaim(ctx context.Context, id int64) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, "DELETE FROM claims WHERE id = $1 AND owner = $2 AND epoch = $3", id, s.opts.ServerName, s.epoch)
		if err != nil {
			return fmt.Errorf("postgres: release claim %d: %w", id, err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("postgres: release claim %d: not held by %s", id, s.opts.ServerName)
		}
		return nil
	})
}

// HandOver gives claim id (this server's) to server to (a live one) at its
// current epoch, with the claim's expiry unchanged: load moved there.
func (s *Store) HandOver(ctx context.Context, id int64, to string) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE claims SET owner = $4, epoch = (SELECT epoch FROM servers WHERE server_name = $4)
			WHERE id = $1 AND owner = $2 AND epoch = $3 AND EXISTS (SELECT 1 FROM servers WHERE server_name = $4 AND stopped IS NULL)`,
			id, s.opts.ServerName, s.epoch, to)
		if err != nil {
			return fmt.Errorf("postgres: hand claim %d over to %s: %w", id, to, err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("postgres: hand claim %d over to %s: not held by %s, or %s not running", id, to, s.opts.ServerName, to)
		}
		return nil
	})
}

// Claims lists every claim, by address.
func (s *Store) Claims(ctx context.Context) ([]Claim, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+claimColumns+` FROM claims ORDER BY family, first`)
	if err != nil {
		return nil, fmt.Errorf("postgres: claims: %w", err)
	}
	cs, err := scanClaims(rows)
	if err != nil {
		return nil, fmt.Errorf("postgres: claims: %w", err)
	}
	return cs, nil
}

// Server states in ServerInfo.State.
const (
	ServerLive    = "live"
	ServerDead    = "dead"
	ServerStopped = "stopped"
)

// ServerInfo is one row of the servers table as leasectl cluster shows it.
type ServerInfo struct {
	Name      string
	State     string // ServerLive, ServerDead, ServerStopped
	Heartbeat time.Time
	Age       time.Duration // since the heartbeat, by the database's clock
	Epoch     int64
	Started   time.Time
	Version   string
	Blocks    int // claims held
	Addresses string
}

// Servers lists the servers sharing the database; one whose heartbeat is
// older than deadAfter (and that did not stop cleanly) is dead.
func (s *Store) Servers(ctx context.Context, deadAfter time.Duration) ([]ServerInfo, error) {
	rows, err := s.pool.Query(ctx, `SELECT s.server_name, s.heartbeat, extract(epoch FROM now() - s.heartbeat)::float8,
			s.epoch, s.started, s.version, s.stopped IS NOT NULL,
			(SELECT count(*) FROM claims c WHERE c.owner = s.server_name)::int8,
			coalesce((SELECT sum(upper(c.span) - lower(c.span) + 1) FROM claims c WHERE c.owner = s.server_name), 0)::text
		FROM servers s ORDER BY s.server_name`)
	if err != nil {
		return nil, fmt.Errorf("postgres: servers: %w", err)
	}
	var out []ServerInfo
	var si ServerInfo
	var age float64
	var stopped bool
	var blocks int64
	_, err = pgx.ForEachRow(rows, []any{&si.Name, &si.Heartbeat, &age, &si.Epoch, &si.Started, &si.Version, &stopped, &blocks, &si.Addresses}, func() error {
		si.Age = time.Duration(age * float64(time.Second))
		si.Blocks = int(blocks)
		switch {
		case stopped:
			si.State = ServerStopped
		case si.Age > deadAfter:
			si.State = ServerDead
		default:
			si.State = ServerLive
		}
		out = append(out, si)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: servers: %w", err)
	}
	return out, nil
}

// DeadServers names the servers (other than this one) whose heartbeat is
// older than olderThan and that did not stop cleanly, or that stopped but
// still hold claims.
func (s *Store) DeadServers(ctx context.Context, olderThan time.Duration) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT server_name FROM servers s WHERE server_name <> $1
		AND ((stopped IS NULL AND heartbeat < now() - make_interval(secs => $2))
		  OR (stopped IS NOT NULL AND EXISTS (SELECT 1 FROM claims c WHERE c.owner = s.server_name)))
		ORDER BY server_name`, s.opts.ServerName, olderThan.Seconds())
	if err != nil {
		return nil, fmt.Errorf("postgres: dead servers: %w", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("postgres: dead servers: %w", err)
	}
	return names, nil
}

// TakeOver takes over server dead, in one transaction: it raises dead's
// epoch (from then on every commit of the old process fails with
// ErrFenced; a batch of it in flight is waited for, as leased_fence holds
// its servers row FOR SHARE) and moves dead's claims to this server, to
// expire ttl from now. It refuses (ErrNotDead) unless dead's heartbeat is
// older than olderThan or it stopped cleanly. The moved claims are
// returned: the caller loads their leases (LeasesIn) and allocates from
// them.
func (s *Store) TakeOver(ctx context.Context, dead string, olderThan, ttl time.Duration) ([]Claim, error) {
	if dead == s.opts.ServerName {
		return nil, fmt.Errorf("postgres: take over %q: that is this server", dead)
	}
	var out []Claim
	err := s.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE servers SET epoch = epoch + 1 WHERE server_name = $1
			AND (stopped IS NOT NULL OR heartbeat < now() - make_interval(secs => $2))`, dead, olderThan.Seconds())
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("%w: %q has a heartbeat younger than %v (or is unknown)", ErrNotDead, dead, olderThan)
		}
		rows, err := tx.Query(ctx, `UPDATE claims SET owner = $2, epoch = $3, expires = now() + make_interval(secs => $4)
			WHERE owner = $1 RETURNING `+claimColumns, dead, s.opts.ServerName, s.epoch, ttl.Seconds())
		if err != nil {
			return err
		}
		out, err = scanClaims(rows)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: take over %q: %w", dead, err)
	}
	s.log.Info("postgres: took over a dead server", "dead", dead, "claims", len(out))
	return out, nil
}

// LookupLease reads the row of addr (read-through: a server answering a
// client it has not seen). ok is false when there is none or it is a
// tombstone.
func (s *Store) LookupLease(ctx context.Context, addr netip.Addr) (l lease.Lease, ok bool, err error) {
	err = s.query(ctx, `SELECT `+leaseColumns+` FROM leases WHERE addr = $1 AND state <> $2`, func(x lease.Lease) error {
		l, ok = x, true
		return nil
	}, addr.WithZone(""), int16(lease.StateDeleted))
	return l, ok, err
}

// LookupClient reads the rows of client id (DHCPv4 client key, DHCPv6
// DUID), tombstones excluded.
func (s *Store) LookupClient(ctx context.Context, clientID []byte) ([]lease.Lease, error) {
	var out []lease.Lease
	err := s.query(ctx, `SELECT `+leaseColumns+` FROM leases WHERE client_id = $1 AND state <> $2`, func(x lease.Lease) error {
		out = append(out, x)
		return nil
	}, clientID, int16(lease.StateDeleted))
	return out, err
}

// LeasesIn calls fn for every row (tombstones excluded) with an address in
// [first, last]: what a server loads after claiming or taking over a block.
func (s *Store) LeasesIn(ctx context.Context, first, last netip.Addr, fn func(lease.Lease) error) error {
	return s.query(ctx, `SELECT `+leaseColumns+` FROM leases WHERE addr >= $1 AND addr <= $2 AND state <> $3`, fn,
		first.WithZone(""), last.WithZone(""), int16(lease.StateDeleted))
}

// LeadCampaign tries to become the leader of campaign id: it takes the
// campaign's session advisory lock on a connection of its own, held until
// release is called or that connection dies (then another server's
// LeadCampaign succeeds). ok is false when another session leads. The
// leadership is recorded in campaign_leaders for the listings (CampaignLeaders
// shows it only while the session holding the lock is alive).
func (s *Store) LeadCampaign(ctx context.Context, id string) (release func(), ok bool, err error) {
	pc, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("postgres: lead campaign %q: %w", id, err)
	}
	conn := pc.Hijack() // a connection of its own, never back in the pool
	var got bool
	var pid int32
	err = conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1, hashtext($2)), pg_backend_pid()", campaignLockClass, id).Scan(&got, &pid)
	if err == nil && got {
		_, err = conn.Exec(ctx, `INSERT INTO campaign_leaders (campaign, leader, pid, since) VALUES ($1, $2, $3, now())
			ON CONFLICT (campaign) DO UPDATE SET leader = excluded.leader, pid = excluded.pid, since = excluded.since`,
			id, s.opts.ServerName, pid)
	}
	if err != nil || !got {
		conn.Close(context.Background())
		if err != nil {
			return nil, false, fmt.Errorf("postgres: lead campaign %q: %w", id, err)
		}
		return nil, false, nil
	}
	return func() { endLockSession(conn) }, true, nil
}

// endLockSession gives up the advisory locks of a hijacked lock
// connection and closes it. The explicit unlock is synchronous: closing
// alone ends the session only once the backend has exited, a moment
// after Close returns, during which pg_locks (and so the listings, and
// another server's pg_try_advisory_lock) still see the lock.
func endLockSession(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _ = conn.Exec(ctx, "SELECT pg_advisory_unlock_all()") // on error, Close ends the session anyway
	conn.Close(ctx)
}

// CampaignLeader is one campaign and the server leading it.
type CampaignLeader struct {
	Campaign string
	Leader   string
	Since    time.Time
}

// CampaignLeaders lists the campaigns whose leader still holds the lock
// (its session is alive).
func (s *Store) CampaignLeaders(ctx context.Context) ([]CampaignLeader, error) {
	rows, err := s.pool.Query(ctx, `SELECT c.campaign, c.leader, c.since FROM campaign_leaders c
		WHERE EXISTS (SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted AND l.pid = c.pid
			AND l.classid = $1 AND l.objid = (hashtext(c.campaign)::int8 & 4294967295)::text::oid AND l.objsubid = 2)
		ORDER BY c.campaign`, campaignLockClass)
	if err != nil {
		return nil, fmt.Errorf("postgres: campaign leaders: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (CampaignLeader, error) {
		var c CampaignLeader
		err := r.Scan(&c.Campaign, &c.Leader, &c.Since)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: campaign leaders: %w", err)
	}
	return out, nil
}

// ServerName is this server's name (Options.ServerName).
func (s *Store) ServerName() string { return s.opts.ServerName }

// BlobsSignature is a cheap fingerprint of the blobs of kind: how many
// there are and the highest seq among them. Every upsert takes a new seq
// (the highest) and every delete lowers the count, so any change between
// two calls changes the pair — what a cluster server compares each
// heartbeat before re-reading the runtime reservations (issue #12).
func (s *Store) BlobsSignature(ctx context.Context, kind uint8) (n, maxSeq int64, err error) {
	err = s.pool.QueryRow(ctx, `SELECT count(*), coalesce(max(seq), 0) FROM blobs WHERE kind = $1`, int16(kind)).Scan(&n, &maxSeq)
	if err != nil {
		return 0, 0, fmt.Errorf("postgres: blobs signature: %w", err)
	}
	return n, maxSeq, nil
}

// BlobsOf returns the blobs of kind in the order they were last written,
// with their BlobsSignature as of the same read.
func (s *Store) BlobsOf(ctx context.Context, kind uint8) (blobs []store.Blob, n, maxSeq int64, err error) {
	rows, err := s.pool.Query(ctx, `SELECT key, value, seq FROM blobs WHERE kind = $1 ORDER BY seq`, int16(kind))
	if err != nil {
		return nil, 0, 0, fmt.Errorf("postgres: blobs of kind %d: %w", kind, err)
	}
	var key, value []byte
	var seq int64
	_, err = pgx.ForEachRow(rows, []any{&key, &value, &seq}, func() error {
		blobs = append(blobs, store.Blob{Kind: kind, Key: slices.Clone(key), Value: slices.Clone(value)})
		maxSeq = max(maxSeq, seq)
		return nil
	})
	if err != nil {
		return nil, 0, 0, fmt.Errorf("postgres: blobs of kind %d: %w", kind, err)
	}
	return blobs, int64(len(blobs)), maxSeq, nil
}
