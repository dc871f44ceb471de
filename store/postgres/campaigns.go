package postgres

// Campaigns across the cluster (issue #12, docs/cluster.md "Campaigns"):
// campaign IDs unique across the servers, the leader's advisory lock with
// a liveness check, and the outcome rows every server reports for the
// leader (migration 0003).

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/leased/leased/store"
)

// NextCampaignID returns a campaign ID no server sharing the database has
// taken, at least atLeast (the highest ID this server knows + 1, so IDs of
// campaigns started before the cluster are never reused).
func (s *Store) NextCampaignID(ctx context.Context, atLeast uint32) (uint32, error) {
	var id int64
	err := s.pool.QueryRow(ctx, `UPDATE campaign_ids SET next = greatest(next, $1::int8) + 1 RETURNING next - 1`,
		max(int64(atLeast), 1)).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("postgres: next campaign id: %w", err)
	}
	if id < 1 || id > 1<<32-1 {
		return 0, fmt.Errorf("postgres: next campaign id: %d is out of range", id)
	}
	return uint32(id), nil
}

// campaignStartClass is the first key of the advisory lock (second key 0)
// that serialises campaign starts across servers ("ls"; campaigns' own
// locks are campaignLockClass).
const campaignStartClass = 0x6c73

// LockCampaignStarts waits (bounded by ctx) until no other server is
// starting a campaign, and holds that until unlock is called: a server
// checks the running campaigns and stores its new one under it, so two
// servers cannot start overlapping campaigns at the same moment.
func (s *Store) LockCampaignStarts(ctx context.Context) (unlock func(), err error) {
	pc, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("postgres: lock campaign starts: %w", err)
	}
	conn := pc.Hijack()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1, 0)", campaignStartClass); err != nil {
		conn.Close(context.Background())
		return nil, fmt.Errorf("postgres: lock campaign starts: %w", err)
	}
	return func() { endLockSession(conn) }, nil
}

// CampaignGeneration changes whenever a server takes a campaign ID (a
// campaign is starting somewhere): one row read, cheap enough for every
// tick of every server.
func (s *Store) CampaignGeneration(ctx context.Context) (int64, error) {
	var next int64
	if err := s.pool.QueryRow(ctx, `SELECT next FROM campaign_ids`).Scan(&next); err != nil {
		return 0, fmt.Errorf("postgres: campaign generation: %w", err)
	}
	return next, nil
}

// BlobsVersion is the highest seq of the blobs of kind (0: none): it
// changes whenever one of them is written (every write takes a new seq);
// a delete alone does not change it unless it removes the highest. A
// server reads the campaign rows again only when it moved or a campaign
// ID was taken (CampaignGeneration).
func (s *Store) BlobsVersion(ctx context.Context, kind uint8) (int64, error) {
	var v int64
	if err := s.pool.QueryRow(ctx, `SELECT coalesce(max(seq), 0) FROM blobs WHERE kind = $1`, int16(kind)).Scan(&v); err != nil {
		return 0, fmt.Errorf("postgres: blobs version: %w", err)
	}
	return v, nil
}

// CampaignLock is the leadership of one campaign: the session advisory
// lock (0x6c6c, hashtext(id)) held on a connection of its own, as
// LeadCampaign takes it, with a liveness check.
type CampaignLock struct {
	mu   sync.Mutex // a pgx.Conn serves one caller at a time
	conn *pgx.Conn
	id   string
}

// LockCampaign tries to take the leadership of campaign id (the same lock
// and campaign_leaders row as LeadCampaign). ok is false when another
// session holds it.
func (s *Store) LockCampaign(ctx context.Context, id string) (l *CampaignLock, ok bool, err error) {
	pc, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("postgres: lock campaign %q: %w", id, err)
	}
	conn := pc.Hijack() // never back in the pool: the lock lives with this session
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
			return nil, false, fmt.Errorf("postgres: lock campaign %q: %w", id, err)
		}
		return nil, false, nil
	}
	return &CampaignLock{conn: conn, id: id}, true, nil
}

// Alive checks that the lock's session is still there (a round trip on
// its connection). An error means the leadership is lost: the session
// ended (backend terminated, network, database restart) and with it the
// lock, which another server may hold now. Not safe for concurrent use
// with itself or Release.
func (l *CampaignLock) Alive(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn.IsClosed() {
		return fmt.Errorf("postgres: campaign %q: lock connection closed", l.id)
	}
	if _, err := l.conn.Exec(ctx, "SELECT 1"); err != nil {
		return fmt.Errorf("postgres: campaign %q: lock connection: %w", l.id, err)
	}
	return nil
}

// Release gives the leadership up (ends the session).
func (l *CampaignLock) Release() {
	l.mu.Lock()
	defer l.mu.Unlock()
	endLockSession(l.conn)
}

// CommitBlobs writes the campaign's rows (blobs; an empty value deletes)
// in one transaction on the lock's own session: the write is fenced by the
// leadership — once the session is gone (and the lock with it, perhaps
// taken by another server) it fails and writes nothing, so a leader that
// lost its lock can never overwrite what its successor stored.
func (l *CampaignLock) CommitBlobs(ctx context.Context, blobs []store.Blob) error {
	if len(blobs) == 0 {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	// One batch: one implicit transaction (pgx), all or nothing.
	var b pgx.Batch
	ps := make([]*store.Blob, len(blobs))
	for i := range blobs {
		ps[i] = &blobs[i]
	}
	queueBlobs(&b, ps)
	if err := l.conn.SendBatch(ctx, &b).Close(); err != nil {
		return fmt.Errorf("postgres: campaign %q: write its rows on the lock's session: %w", l.id, err)
	}
	return nil
}

// Outcome is one client event a server observed for a campaign
// (campaign_outcomes).
type Outcome struct {
	ID       int64 // set when read
	Campaign uint32
	Event    uint8      // reconf.EventKind
	Addr     netip.Addr // invalid: none
	Client   []byte     // client key (reconf.Event.Key)
	V6       bool
	At       time.Time
	Server   string // the server that observed it (set by ReportOutcomes)
}

// ReportOutcomes stores observed events for the campaigns' leaders, in one
// statement.
func (s *Store) ReportOutcomes(ctx context.Context, os []Outcome) error {
	if len(os) == 0 {
		return nil
	}
	camp := make([]int64, len(os))
	addr := make([]*netip.Addr, len(os))
	client := make([][]byte, len(os))
	v6 := make([]bool, len(os))
	ev := make([]int16, len(os))
	at := make([]int64, len(os))
	for i := range os {
		o := &os[i]
		if o.Campaign == 0 {
			return errors.New("postgres: report outcomes: campaign 0")
		}
		camp[i], client[i], v6[i], ev[i], at[i] = int64(o.Campaign), o.Client, o.V6, int16(o.Event), o.At.UnixNano()
		if o.Addr.IsValid() {
			a := o.Addr
			addr[i] = &a
		}
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO campaign_outcomes (campaign, addr, client, v6, event, at_ns, server_name)
		SELECT c, a, k, v, e, t, $7 FROM unnest($1::int8[], $2::inet[], $3::bytea[], $4::bool[], $5::int2[], $6::int8[]) AS u(c, a, k, v, e, t)`,
		camp, addr, client, v6, ev, at, s.opts.ServerName)
	if err != nil {
		return fmt.Errorf("postgres: report outcomes: %w", err)
	}
	return nil
}

// Outcomes returns up to limit reported events of the campaigns, in the
// order they were reported (id).
func (s *Store) Outcomes(ctx context.Context, campaigns []uint32, limit int) ([]Outcome, error) {
	ids := make([]int64, len(campaigns))
	for i, c := range campaigns {
		ids[i] = int64(c)
	}
	rows, err := s.pool.Query(ctx, `SELECT id, campaign, addr, client, v6, event, at_ns, server_name FROM campaign_outcomes
		WHERE campaign = ANY($1) ORDER BY id LIMIT $2`, ids, limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: outcomes: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Outcome, error) {
		var o Outcome
		var camp, at int64
		var ev int16
		var addr *netip.Prefix
		if err := r.Scan(&o.ID, &camp, &addr, &o.Client, &o.V6, &ev, &at, &o.Server); err != nil {
			return o, err
		}
		o.Campaign, o.Event, o.At = uint32(camp), uint8(ev), time.Unix(0, at)
		if addr != nil {
			o.Addr = addr.Addr()
		}
		return o, nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: outcomes: %w", err)
	}
	return out, nil
}

// DeleteOutcomes removes the campaigns' reported events up to id upTo
// (the leader applied them and stored the campaign state they led to).
func (s *Store) DeleteOutcomes(ctx context.Context, campaigns []uint32, upTo int64) error {
	ids := make([]int64, len(campaigns))
	for i, c := range campaigns {
		ids[i] = int64(c)
	}
	if _, err := s.pool.Exec(ctx, `DELETE FROM campaign_outcomes WHERE campaign = ANY($1) AND id <= $2`, ids, upTo); err != nil {
		return fmt.Errorf("postgres: delete outcomes: %w", err)
	}
	return nil
}
