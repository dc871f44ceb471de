package config

import (
	"strings"
	"testing"
	"time"
)

// TestCluster: the cluster section's defaults, and its errors naming file,
// line and field: cluster mode without PostgreSQL or without an explicit
// server_name, out-of-range values.
func TestCluster(t *testing.T) {
	pg := []string{"server_name: dhcp-a", "store:", "  postgres:", "    dsn: dbname=leased"} // lines 6-9
	c, err := Parse("t.yaml", []byte(doc(append(pg, "cluster: {}")...)))
	if err != nil {
		t.Fatal(err)
	}
	cl := c.Cluster
	if !c.ClusterEnabled() || cl.Heartbeat.D() != 5*time.Second || cl.TakeOverAfter.D() != 15*time.Second ||
		cl.BlockSize != 64 || cl.AnswerAfterSecs != 10 {
		t.Errorf("defaults: enabled %v %+v", c.ClusterEnabled(), *cl)
	}
	if c.Store.Postgres.ConnectTimeout.D() != 5*time.Second || c.Store.Postgres.CommitTimeout.D() != 10*time.Second {
		t.Errorf("postgres timeouts %v %v", c.Store.Postgres.ConnectTimeout, c.Store.Postgres.CommitTimeout)
	}
	c, err = Parse("t.yaml", []byte(doc(append(pg, "cluster:", "  heartbeat: 200ms", "  block_size: 16")...)))
	if err != nil {
		t.Fatal(err)
	}
	if c.Cluster.TakeOverAfter.D() != 600*time.Millisecond || c.Cluster.BlockSize != 16 {
		t.Errorf("take_over_after follows heartbeat: %+v", *c.Cluster)
	}
	c, err = Parse("t.yaml", []byte(doc("cluster:", "  enabled: false")))
	if err != nil || c.ClusterEnabled() {
		t.Errorf("enabled: false without postgres: %v, enabled %v", err, c != nil && c.ClusterEnabled())
	}
	if c, err := Parse("t.yaml", []byte(doc(pg...))); err != nil || c.ClusterEnabled() {
		t.Errorf("no cluster section: %v", err)
	}

	for _, tc := range []struct {
		name, in string
		line     int
		field    string
		msg      string
	}{
		{"no postgres", doc("server_name: a", "cluster:", "  heartbeat: 1s"), 7, "cluster", "needs store.postgres.dsn"},
		{"no server_name", doc("store:", "  postgres:", "    dsn: dbname=x", "cluster:", "  enabled: true"), 10, "cluster.enabled", "server_name set explicitly"},
		{"heartbeat", doc(append(pg, "cluster:", "  heartbeat: 2m")...), 11, "cluster.heartbeat", "100ms to 1m"},
		{"take over", doc(append(pg, "cluster:", "  heartbeat: 2s", "  take_over_after: 3s")...), 12, "cluster.take_over_after", "at least twice"},
		{"block size", doc(append(pg, "cluster:", "  block_size: 8")...), 11, "cluster.block_size", "16 to 65536"},
		{"secs", doc(append(pg, "cluster:", "  answer_after_secs: 70000")...), 11, "cluster.answer_after_secs", "0 (never) to 65535"},
		{"connect timeout", doc("store:", "  postgres:", "    dsn: dbname=x", "    connect_timeout: 10m"), 9, "store.postgres.connect_timeout", "1s to 5m"},
		{"commit timeout", doc("store:", "  postgres:", "    dsn: dbname=x", "    commit_timeout: 100ms"), 9, "store.postgres.commit_timeout", "1s to 5m"},
		{"unknown key", doc(append(pg, "cluster:", "  heartbeats: 1s")...), 11, "cluster.heartbeats", `did you mean "heartbeat"`},
	} {
		_, err := Parse("t.yaml", []byte(tc.in))
		errs := Errors(err)
		if len(errs) != 1 {
			t.Errorf("%s: errors %v", tc.name, err)
			continue
		}
		e := errs[0]
		if e.File != "t.yaml" || e.Line != tc.line || e.Field != tc.field || !strings.Contains(e.Msg, tc.msg) {
			t.Errorf("%s: got %s, want t.yaml:%d: %s: …%s…", tc.name, e, tc.line, tc.field, tc.msg)
		}
	}
}

// TestClusterExample: examples/leased-cluster.yaml is valid and in
// cluster mode.
func TestClusterExample(t *testing.T) {
	c, err := Load("../examples/leased-cluster.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !c.ClusterEnabled() || c.ServerName != "dhcp-a" || !c.Store.UsesPostgres() || c.Cluster.TakeOverAfter.D() != 15*time.Second {
		t.Errorf("cluster %v server_name %q postgres %v %+v", c.ClusterEnabled(), c.ServerName, c.Store.UsesPostgres(), c.Cluster)
	}
}
