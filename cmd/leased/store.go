package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/leased/leased/config"
	"github.com/leased/leased/store"
	"github.com/leased/leased/store/postgres"
	"github.com/leased/leased/store/wal"
)

// storeOpenTimeout bounds connecting to PostgreSQL and migrating its
// schema at start.
const storeOpenTimeout = 60 * time.Second

// openStore opens the configured lease store: PostgreSQL when
// store.postgres.dsn is set, else the embedded log in data_dir. It returns
// the store and its name for Health (never the DSN: it may hold a
// password).
func openStore(cfg *config.Config, path string, log *slog.Logger) (store.Store, string, error) {
	if cfg.Store.UsesPostgres() {
		ctx, cancel := context.WithTimeout(context.Background(), storeOpenTimeout)
		defer cancel()
		st, err := postgres.Open(ctx, cfg.Store.Postgres.DSN, postgres.Options{
			ServerName: cfg.ServerName,
			Version:    version,
			Logger:     log,
			// One server per database until the cluster work lets
			// several share it (issue #12).
			Exclusive: true,
		})
		if err != nil {
			return nil, "", err
		}
		log.Info("lease store: postgresql", "server_name", cfg.ServerName, "epoch", st.Epoch(),
			"schema_version", postgres.SchemaVersion())
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
