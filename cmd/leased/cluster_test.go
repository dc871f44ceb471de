package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/leased/leased/api"
	"github.com/leased/leased/config"
	"github.com/leased/leased/internal/pgtest"
	"github.com/leased/leased/store/postgres"
	"github.com/leased/leased/store/wal"
)

// TestClusterStatus: GET /v1/cluster from the PostgreSQL store — servers
// with their state and blocks, campaign leaders — and 501 with the log.
func TestClusterStatus(t *testing.T) {
	dsn := pgtest.DB(t)
	ctx := context.Background()
	openPG := func(name string) *postgres.Store {
		s, err := postgres.Open(ctx, dsn, postgres.Options{ServerName: name, Cluster: true, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	a, b := openPG("dhcp-a"), openPG("dhcp-b")
	pool := postgres.ClaimPool{Name: "office", Ranges: []postgres.Range{{First: netip.MustParseAddr("10.0.0.10"), Last: netip.MustParseAddr("10.0.0.200")}}}
	if _, err := a.ClaimBlock(ctx, pool, 64, time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := b.ClaimBlock(ctx, pool, 64, time.Minute); err != nil {
		t.Fatal(err)
	}
	rel, ok, err := b.LeadCampaign(ctx, "3")
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	defer rel()
	if _, err := a.Pool().Exec(ctx, "UPDATE servers SET heartbeat = now() - interval '1 minute' WHERE server_name = 'dhcp-b'"); err != nil {
		t.Fatal(err)
	}

	be := withCluster(nil, a, &config.Config{})
	if _, ok := be.(api.Cluster); !ok {
		t.Fatal("withCluster(postgres) does not implement api.Cluster")
	}
	rec := httptest.NewRecorder()
	api.NewHandler(be, nil, nil).ServeHTTP(rec, httptest.NewRequest("GET", "/v1/cluster", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /v1/cluster: %d %s", rec.Code, rec.Body)
	}
	var st api.ClusterStatus
	if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil {
		t.Fatal(err)
	}
	if st.Server != "dhcp-a" || len(st.Servers) != 2 ||
		st.Servers[0].Name != "dhcp-a" || st.Servers[0].State != "live" || len(st.Servers[0].Blocks) != 1 ||
		st.Servers[0].Blocks[0].First != netip.MustParseAddr("10.0.0.10") || st.Servers[0].Blocks[0].Last != netip.MustParseAddr("10.0.0.73") ||
		st.Servers[1].State != "dead" || len(st.Servers[1].Blocks) != 1 ||
		len(st.Campaigns) != 1 || st.Campaigns[0].Leader != "dhcp-b" {
		t.Errorf("cluster %s", rec.Body)
	}

	w, err := wal.Open(t.TempDir(), wal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, ok := withCluster(nil, w, &config.Config{}).(api.Cluster); ok {
		t.Error("withCluster(wal) implements api.Cluster")
	}
}
