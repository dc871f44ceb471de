package config

import "time"

// Cluster defaults (the cluster section, docs/cluster.md).
const (
	DefaultClusterHeartbeat       = Duration(5 * time.Second)
	DefaultClusterBlockSize       = 64
	MinClusterBlockSize           = 16
	MaxClusterBlockSize           = 1 << 16
	DefaultClusterAnswerAfterSecs = 10
	DefaultClusterIdleRelease     = Duration(10 * time.Minute)
	DefaultPostgresConnectTimeout = Duration(5 * time.Second)
	DefaultPostgresCommitTimeout  = Duration(10 * time.Second)
)

// Cluster configures several leased servers sharing one PostgreSQL
// database (issue #12, docs/cluster.md): block claims, heartbeat,
// take-over of a dead server's blocks, RFC 3074 load balancing. Optional:
// without this section (or with enabled: false) the server is alone on
// its store, and a second server registered on the same database is
// refused. Requires store.postgres.dsn and an explicit server_name.
type Cluster struct {
	// Enabled turns cluster mode on. Default true when the section is
	// present; false keeps the settings but runs as a single server.
	Enabled *bool `yaml:"enabled"`
	// Heartbeat is how often the server refreshes its heartbeat row,
	// extends its block claims, reads the set of live servers and looks
	// for dead ones, 100ms to 1m. Default 5s. Every server of a cluster
	// should use the same value.
	Heartbeat Duration `yaml:"heartbeat"`
	// TakeOverAfter is how long a server's heartbeat may be silent before
	// the others count it dead, take over its address blocks and stop
	// leaving its share of broadcasts to it; also the lifetime of a block
	// claim from its last extension. At least 2 × heartbeat. Default
	// 3 × heartbeat.
	TakeOverAfter Duration `yaml:"take_over_after"`
	// BlockSize is how many addresses (DHCPv6 IA_PD: delegated prefixes)
	// the server claims from a pool at a time, 16 to 65536. Default 64.
	// A new block is claimed when fewer than a quarter of a block are
	// left free in the server's claims of the pool.
	BlockSize int `yaml:"block_size"`
	// AnswerAfterSecs: a server also answers a DHCPv4 broadcast that the
	// RFC 3074 load-balancing hash gives to another server once the
	// client's secs field reaches this many seconds (the other may be
	// dying before take_over_after), 0 to 65535; 0 never. Default 10.
	AnswerAfterSecs int `yaml:"answer_after_secs"`
	// IdleRelease: a pool of this server that allocated nothing for this
	// long gives back the blocks it does not need (keeping a quarter of a
	// block free), so that a server short of addresses can claim them;
	// 0 never, else 1s to 24h. Default 10m.
	IdleRelease Duration `yaml:"idle_release"`
}

// ClusterEnabled reports whether the cluster section turns cluster mode
// on.
func (c *Config) ClusterEnabled() bool {
	return c.Cluster != nil && (c.Cluster.Enabled == nil || *c.Cluster.Enabled)
}

func (c *Config) applyClusterDefaults() {
	if !c.has("store.postgres.connect_timeout") {
		c.Store.Postgres.ConnectTimeout = DefaultPostgresConnectTimeout
	}
	if !c.has("store.postgres.commit_timeout") {
		c.Store.Postgres.CommitTimeout = DefaultPostgresCommitTimeout
	}
	cl := c.Cluster
	if cl == nil {
		return
	}
	if !c.has("cluster.heartbeat") {
		cl.Heartbeat = DefaultClusterHeartbeat
	}
	if !c.has("cluster.take_over_after") {
		cl.TakeOverAfter = 3 * cl.Heartbeat
	}
	if !c.has("cluster.block_size") {
		cl.BlockSize = DefaultClusterBlockSize
	}
	if !c.has("cluster.answer_after_secs") {
		cl.AnswerAfterSecs = DefaultClusterAnswerAfterSecs
	}
	if !c.has("cluster.idle_release") {
		cl.IdleRelease = DefaultClusterIdleRelease
	}
}

// cluster checks the cluster section and the PostgreSQL timeouts.
func (v *validator) cluster(c *Config) {
	pg := &c.Store.Postgres
	if d := pg.ConnectTimeout.D(); d < time.Second || d > 5*time.Minute {
		v.errorf("store.postgres.connect_timeout", "%s: use 1s to 5m, e.g. 5s", pg.ConnectTimeout)
	}
	if d := pg.CommitTimeout.D(); d < time.Second || d > 5*time.Minute {
		v.errorf("store.postgres.commit_timeout", "%s: use 1s to 5m, e.g. 10s", pg.CommitTimeout)
	}
	cl := c.Cluster
	if cl == nil {
		return
	}
	hb := cl.Heartbeat.D()
	if hb < 100*time.Millisecond || hb > time.Minute {
		v.errorf("cluster.heartbeat", "%s: use 100ms to 1m, e.g. 5s", cl.Heartbeat)
	}
	if cl.TakeOverAfter.D() < 2*hb {
		v.errorf("cluster.take_over_after", "%s: must be at least twice cluster.heartbeat (%s), e.g. %s", cl.TakeOverAfter, cl.Heartbeat, 3*cl.Heartbeat)
	}
	if cl.BlockSize < MinClusterBlockSize || cl.BlockSize > MaxClusterBlockSize {
		v.errorf("cluster.block_size", "%d: use %d to %d addresses, e.g. %d", cl.BlockSize, MinClusterBlockSize, MaxClusterBlockSize, DefaultClusterBlockSize)
	}
	if cl.AnswerAfterSecs < 0 || cl.AnswerAfterSecs > 65535 {
		v.errorf("cluster.answer_after_secs", "%d: use 0 (never) to 65535 seconds, e.g. %d", cl.AnswerAfterSecs, DefaultClusterAnswerAfterSecs)
	}
	if d := cl.IdleRelease.D(); d != 0 && (d < time.Second || d > 24*time.Hour) {
		v.errorf("cluster.idle_release", "%s: use 0 (never) or 1s to 24h, e.g. 10m", cl.IdleRelease)
	}
	if !c.ClusterEnabled() {
		return
	}
	field := "cluster"
	if c.has("cluster.enabled") {
		field = "cluster.enabled"
	}
	if !c.Store.UsesPostgres() {
		v.errorf(field, "cluster mode needs store.postgres.dsn: the servers of a cluster share one PostgreSQL database (the embedded log serves one server)")
	}
	if !c.has("server_name") {
		v.errorf(field, "cluster mode needs server_name set explicitly (unique among the servers sharing the database), e.g. server_name: dhcp-a")
	}
}
