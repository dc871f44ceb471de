package main

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/leased/leased/api"
)

// clusterBackend is the test backend with a cluster (api.Cluster).
type clusterBackend struct {
	*backend
	st api.ClusterStatus
}

func (b clusterBackend) ClusterStatus(context.Context) (api.ClusterStatus, error) { return b.st, nil }

func TestClusterGolden(t *testing.T) {
	ad := netip.MustParseAddr
	st := api.ClusterStatus{Server: "dhcp-a", Servers: []api.ClusterServer{
		{Name: "dhcp-a", State: "live", HeartbeatAgeSeconds: 1.2, Epoch: 4, Version: "0.1.0", Blocks: []api.ClusterBlock{
			{Pool: "office", First: ad("10.0.0.10"), Last: ad("10.0.0.73"), Expires: now.Add(14 * time.Second)},
			{Pool: "pd", First: ad("2001:db8::"), Last: ad("2001:db8:0:ff:ffff:ffff:ffff:ffff"), Expires: now.Add(15 * time.Second)},
		}},
		{Name: "dhcp-b", State: "dead", HeartbeatAgeSeconds: 47, Epoch: 2, Version: "0.1.0", Blocks: []api.ClusterBlock{
			{Pool: "office", First: ad("10.0.0.74"), Last: ad("10.0.0.137"), Expires: now.Add(-32 * time.Second)},
		}},
		{Name: "dhcp-c", State: "stopped", HeartbeatAgeSeconds: 3700, Epoch: 9},
	}, Campaigns: []api.ClusterCampaign{{Campaign: "3", Leader: "dhcp-a", Since: now.Add(-5 * time.Minute)}}}
	sock := serve(t, clusterBackend{newBackend(), st})
	r := leasectl(t, nil, "--socket", sock, "cluster")
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	golden(t, "cluster", r.stdout)

	// A server whose store is not shared: the API's 501 is an error.
	r = leasectl(t, nil, "--socket", serve(t, newBackend()), "cluster")
	if r.code != 1 || r.stdout != "" {
		t.Errorf("no cluster: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}
