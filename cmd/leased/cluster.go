package main

import (
	"context"
	"time"

	"github.com/leased/leased/api"
	"github.com/leased/leased/config"
	"github.com/leased/leased/server"
	"github.com/leased/leased/store"
	"github.com/leased/leased/store/postgres"
)

// clusterDeadAfter is how old a heartbeat makes a server dead in the
// listing without a cluster section: 3 heartbeats, the delay
// Options.Exclusive uses. With one it is cluster.take_over_after.
const clusterDeadAfter = 15 * time.Second

// clusterOptions turns the cluster section into the server's control
// plane options (nil without cluster mode).
func clusterOptions(cfg *config.Config, st store.Store) *server.ClusterOptions {
	pg, ok := st.(*postgres.Store)
	if !cfg.ClusterEnabled() || !ok {
		return nil
	}
	c := cfg.Cluster
	idle := c.IdleRelease.D()
	if idle == 0 {
		idle = -1 // cluster.idle_release: 0 never
	}
	return &server.ClusterOptions{
		IdleRelease:     idle,
		Store:           pg,
		Heartbeat:       c.Heartbeat.D(),
		TakeOverAfter:   c.TakeOverAfter.D(),
		BlockSize:       c.BlockSize,
		AnswerAfterSecs: uint16(c.AnswerAfterSecs),
	}
}

// clusterBackend adds GET /v1/cluster (api.Cluster) to the server's API
// backend when the store is PostgreSQL, read straight from the store
// until the server implements it (docs/cluster.md). Embedding the
// *server.Server keeps every other interface the API looks for.
type clusterBackend struct {
	*server.Server
	st        *postgres.Store
	deadAfter time.Duration
}

var _ api.Cluster = clusterBackend{}

// withCluster returns srv as the API backend, with the cluster listing
// when st is PostgreSQL.
func withCluster(srv *server.Server, st store.Store, cfg *config.Config) api.Backend {
	if pg, ok := st.(*postgres.Store); ok {
		dead := clusterDeadAfter
		if cfg.ClusterEnabled() {
			dead = cfg.Cluster.TakeOverAfter.D()
		}
		return clusterBackend{Server: srv, st: pg, deadAfter: dead}
	}
	return srv
}

func (b clusterBackend) ClusterStatus(ctx context.Context) (api.ClusterStatus, error) {
	return clusterStatus(ctx, b.st, b.deadAfter)
}

func clusterStatus(ctx context.Context, st *postgres.Store, deadAfter time.Duration) (api.ClusterStatus, error) {
	out := api.ClusterStatus{Server: st.ServerName()}
	servers, err := st.Servers(ctx, deadAfter)
	if err != nil {
		return out, err
	}
	claims, err := st.Claims(ctx)
	if err != nil {
		return out, err
	}
	leaders, err := st.CampaignLeaders(ctx)
	if err != nil {
		return out, err
	}
	for _, s := range servers {
		cs := api.ClusterServer{Name: s.Name, State: s.State, HeartbeatAgeSeconds: s.Age.Seconds(), Epoch: s.Epoch,
			Version: s.Version, Blocks: []api.ClusterBlock{}}
		for _, c := range claims {
			if c.Owner == s.Name {
				cs.Blocks = append(cs.Blocks, api.ClusterBlock{Pool: c.Pool, First: c.First, Last: c.Last, Expires: c.Expires.UTC()})
			}
		}
		out.Servers = append(out.Servers, cs)
	}
	for _, l := range leaders {
		out.Campaigns = append(out.Campaigns, api.ClusterCampaign{Campaign: l.Campaign, Leader: l.Leader, Since: l.Since.UTC()})
	}
	return out, nil
}
