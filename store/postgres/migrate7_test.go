package postgres

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/leased/leased/internal/pgtest"
)

// TestUpgradeFrom6: a database at schema version 6 (the migrations before
// 0007, applied as a binary of that version did, with a server and a claim
// it wrote) is upgraded by Open to the current version, and claims made
// with leased_claim_block respect the claim written before the upgrade.
func TestUpgradeFrom6(t *testing.T) {
	dsn := pgtest.DB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) < 7 || ms[6].name != "0007_claim_block.sql" {
		t.Fatalf("migration 7 is %v", ms[6:])
	}
	if _, err := conn.Exec(ctx, `CREATE TABLE schema_version (
		version integer PRIMARY KEY, name text NOT NULL, applied timestamptz NOT NULL DEFAULT now())`); err != nil {
		t.Fatal(err)
	}
	for _, m := range ms[:6] {
		if _, err := conn.Exec(ctx, m.sql); err != nil {
			t.Fatalf("%s: %v", m.name, err)
		}
		if _, err := conn.Exec(ctx, "INSERT INTO schema_version (version, name) VALUES ($1, $2)", m.version, m.name); err != nil {
			t.Fatal(err)
		}
	}
	// What a version-6 server left: its row and a claim (the INSERT of
	// the former ClaimBlock) of 10.1.0.10-10.1.0.25.
	if _, err := conn.Exec(ctx, `INSERT INTO servers (server_name, started, heartbeat) VALUES ('old', now(), now())`); err != nil {
		t.Fatal(err)
	}
	first, last := netip.MustParseAddr("10.1.0.10"), netip.MustParseAddr("10.1.0.25")
	lo, hi := span(first, last)
	if _, err := conn.Exec(ctx, `INSERT INTO claims (pool, family, first, last, span, owner, epoch, expires)
		VALUES ('campus', 4, $1, $2, numrange($3::numeric, $4::numeric, '[]'), 'old', 1, now() + interval '1 hour')`,
		first, last, lo, hi); err != nil {
		t.Fatal(err)
	}

	a := clusterOpen(t, dsn, "a")
	var v int
	if err := conn.QueryRow(ctx, "SELECT max(version) FROM schema_version").Scan(&v); err != nil {
		t.Fatal(err)
	}
	if v != SchemaVersion() || v < 7 {
		t.Fatalf("schema version %d after Open, want %d", v, SchemaVersion())
	}
	c, err := a.ClaimBlock(ctx, pool4, 16, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if c.First != netip.MustParseAddr("10.1.0.26") || c.Last != netip.MustParseAddr("10.1.0.41") {
		t.Errorf("first claim after the upgrade %v-%v, want 10.1.0.26-10.1.0.41 (after the old server's)", c.First, c.Last)
	}
	cs, err := a.Claims(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 2 || cs[0].Owner != "old" || cs[1].Owner != "a" {
		t.Errorf("claims after the upgrade: %+v", cs)
	}
}
