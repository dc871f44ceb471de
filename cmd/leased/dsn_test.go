package main

import (
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// TestWithConnectTimeout: store.postgres.connect_timeout reaches the
// connection settings of keyword and URL DSNs, several hosts included,
// and a connect_timeout in the DSN wins.
func TestWithConnectTimeout(t *testing.T) {
	t.Setenv("PGCONNECT_TIMEOUT", "")
	for _, tc := range []struct {
		dsn  string
		want time.Duration
	}{
		{"host=db1,db2 dbname=leased target_session_attrs=read-write", 5 * time.Second},
		{"postgres://leased@db1,db2/leased?target_session_attrs=read-write", 5 * time.Second},
		{"postgresql://db1/leased", 5 * time.Second},
		{"host=db1 connect_timeout=2", 2 * time.Second},
		{"postgres://db1/leased?connect_timeout=3", 3 * time.Second},
	} {
		got := withConnectTimeout(tc.dsn, 5*time.Second)
		pc, err := pgconn.ParseConfig(got)
		if err != nil {
			t.Errorf("%q -> %q: %v", tc.dsn, got, err)
			continue
		}
		if pc.ConnectTimeout != tc.want || len(pc.Fallbacks) != len(mustParse(t, tc.dsn).Fallbacks) {
			t.Errorf("%q -> %q: connect timeout %v, %d fallbacks", tc.dsn, got, pc.ConnectTimeout, len(pc.Fallbacks))
		}
	}
	if got := withConnectTimeout("host=db port=x", time.Second); got != "host=db port=x" {
		t.Errorf("a malformed DSN was changed: %q", got)
	}
}

func mustParse(t *testing.T, dsn string) *pgconn.Config {
	t.Helper()
	pc, err := pgconn.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	return pc
}
