package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"os"
	"testing"

	"go.yaml.in/yaml/v4"
)

// clusterBackend is testBackend with a fixed cluster.
type clusterBackend struct {
	Backend
	st  ClusterStatus
	err error
}

func (b clusterBackend) ClusterStatus(context.Context) (ClusterStatus, error) { return b.st, b.err }

func TestCluster(t *testing.T) {
	// Without the interface: 501.
	if a := call(t, NewHandler(testBackend(), nil, nil), "GET", "/v1/cluster"); a.code != 501 {
		t.Errorf("no cluster: %d %s", a.code, a.body)
	}
	st := ClusterStatus{Server: "a", Servers: []ClusterServer{
		{Name: "a", State: "live", HeartbeatAgeSeconds: 1.5, Epoch: 3, Version: "0.1.0",
			Blocks: []ClusterBlock{{Pool: "office", First: netip.MustParseAddr("10.0.0.10"), Last: netip.MustParseAddr("10.0.0.73"), Expires: t0}}},
		{Name: "b", State: "dead", HeartbeatAgeSeconds: 40, Epoch: 1},
	}, Campaigns: []ClusterCampaign{{Campaign: "7", Leader: "a", Since: t0}}}
	a := call(t, NewHandler(clusterBackend{Backend: testBackend(), st: st}, nil, nil), "GET", "/v1/cluster")
	if a.code != 200 {
		t.Fatalf("GET /v1/cluster: %d %s", a.code, a.body)
	}
	var got ClusterStatus
	if err := json.Unmarshal([]byte(a.body), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Servers) != 2 || got.Servers[1].Blocks == nil || got.Servers[0].Blocks[0].Last != st.Servers[0].Blocks[0].Last ||
		got.Campaigns[0].Leader != "a" {
		t.Errorf("body %s", a.body)
	}
	a = call(t, NewHandler(clusterBackend{Backend: testBackend(), err: errors.New("database down")}, nil, nil), "GET", "/v1/cluster")
	if a.code != 503 {
		t.Errorf("database down: %d %s", a.code, a.body)
	}

	// Every field emitted is documented and every documented one emitted.
	raw, err := os.ReadFile("openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]any `yaml:"properties"`
			} `yaml:"schemas"`
		} `yaml:"components"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	for name, v := range map[string]any{"Cluster": st, "ClusterServer": st.Servers[0], "ClusterBlock": st.Servers[0].Blocks[0], "ClusterCampaign": st.Campaigns[0]} {
		b, _ := json.Marshal(v)
		var m map[string]any
		json.Unmarshal(b, &m)
		props := doc.Components.Schemas[name].Properties
		if props == nil {
			t.Errorf("schema %s missing", name)
		}
		for k := range m {
			if _, ok := props[k]; !ok {
				t.Errorf("%s.%s is emitted but not in openapi.yaml", name, k)
			}
		}
		for k := range props {
			if _, ok := m[k]; !ok {
				t.Errorf("%s.%s is documented but never emitted", name, k)
			}
		}
	}
}
