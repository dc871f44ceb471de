package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/leased/leased/config"
	"github.com/leased/leased/store"
	"github.com/leased/leased/store/postgres"
	"github.com/leased/leased/store/wal"
)

// storeOpenTimeout bounds connecting to PostgreSQL and migrating its
// schema at start.
const storeOpenTimeout = 60 * time.Second

// clusterMaxConns bounds the PostgreSQL connections of a server in
// cluster mode (postgres.Options.MaxConns).
const clusterMaxConns = 12

// withConnectTimeout adds connect_timeout (whole seconds, at least 1) to
// dsn unless it sets one (or PGCONNECT_TIMEOUT does): one connection
// attempt to a host that does not answer then fails in seconds instead of
// the system's TCP timeout, and with several hosts the next is tried.
func withConnectTimeout(dsn string, d time.Duration) string {
	if d <= 0 {
		return dsn
	}
	pc, err := pgconn.ParseConfig(dsn)
	if err != nil || pc.ConnectTimeout != 0 {
		return dsn // an error is Open's to report
	}
	secs := strconv.Itoa(max(1, int(d.Round(time.Second)/time.Second)))
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return dsn
		}
		q := u.Query()
		q.Set("connect_timeout", secs)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return strings.TrimSpace(dsn) + " connect_timeout=" + secs
}

// openStore opens the configured lease store: PostgreSQL when
// store.postgres.dsn is set, else the embedded log in data_dir. It returns
// the store and its name for Health (never the DSN: it may hold a
// password).
func openStore(cfg *config.Config, path string, log *slog.Logger) (store.Store, string, error) {
	if cfg.Store.UsesPostgres() {
		ctx, cancel := context.WithTimeout(context.Background(), storeOpenTimeout)
		defer cancel()
		opts := postgres.Options{
			ServerName:    cfg.ServerName,
			Version:       version,
			Logger:        log,
			CommitTimeout: cfg.Store.Postgres.CommitTimeout.D(),
			// Without a cluster section one server per database: a
			// second name with a live heartbeat is refused (two servers
			// pointed at one database by mistake).
			Exclusive: true,
		}
		if cfg.ClusterEnabled() {
			// Several servers share the database: safety comes from block
			// claims and conditional writes (docs/cluster.md).
			opts.Exclusive, opts.Cluster = false, true
			opts.Heartbeat = cfg.Cluster.Heartbeat.D()
			// Connections: the 2 batch writers, the read-through workers
			// (4 per family, server/readthrough.go), the control plane
			// and the heartbeat, so that the heartbeat does not wait
			// behind read-throughs under load. Block claims do not count
			// here: a cluster store claims on a connection of its own
			// (store/postgres, one more per server).
			opts.MaxConns = clusterMaxConns
		}
		st, err := postgres.Open(ctx, withConnectTimeout(cfg.Store.Postgres.DSN, cfg.Store.Postgres.ConnectTimeout.D()), opts)
		if err != nil {
			return nil, "", err
		}
		log.Info("lease store: postgresql", "server_name", cfg.ServerName, "epoch", st.Epoch(),
			"schema_version", postgres.SchemaVersion(), "cluster", cfg.ClusterEnabled())
		return st, "postgres (server " + cfg.ServerName + ")", nil
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, "", fmt.Errorf("data dir: %w", err)
	}
	wopts := wal.Options{
		Logger:        log,
		AllowDataLoss: cfg.Store.DataLossAllowed(),
		OverrideHint: fmt.Sprintf("restore every file of %s from one backup, or set store.allow_data_loss: true in %s for one start to accept losing these leases",
			cfg.DataDir, path),
	}
	if !cfg.Store.FsyncEnabled() {
		wopts.SyncMode = wal.NoSync
	}
	st, err := wal.Open(cfg.DataDir, wopts)
	if err != nil {
		return nil, "", err
	}
	return st, "wal " + cfg.DataDir, nil
}
