package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// EnsureBlob stores value under (kind, key) unless a value is there
// already, and returns the stored value: the first writer wins, whoever
// it is. The servers of a cluster share one DHCPv6 server DUID this way
// (docs/cluster.md "Campaigns": a client's Renew names its server's DUID)
// even when two start at once on an empty database.
func (s *Store) EnsureBlob(ctx context.Context, kind uint8, key, value []byte) ([]byte, error) {
	if len(value) == 0 {
		return nil, fmt.Errorf("postgres: ensure blob: empty value")
	}
	if key == nil {
		key = []byte{}
	}
	var got []byte
	var err error
	// A concurrent first insert committed after this statement's snapshot
	// makes the insert do nothing and the select see nothing: again.
	for range 3 {
		err = s.pool.QueryRow(ctx, `WITH ins AS (
				INSERT INTO blobs (kind, key, value, seq, updated) VALUES ($1, $2, $3, nextval('blobs_seq'), now())
				ON CONFLICT (kind, key) DO NOTHING RETURNING value)
			SELECT value FROM ins UNION ALL SELECT value FROM blobs WHERE kind = $1 AND key = $2 LIMIT 1`,
			int16(kind), key, value).Scan(&got)
		if !errors.Is(err, pgx.ErrNoRows) {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: ensure blob: %w", err)
	}
	return got, nil
}
