package server

// The cluster control plane (issue #12, docs/cluster.md): several leased
// servers on one PostgreSQL database. This file holds the per-server
// state: the block claims of each pool (allocation only from its own
// claims), the heartbeat that extends them and keeps the live set of
// servers for the RFC 3074 load-balancing filter (balance.go), and the
// take-over of a dead server's claims.

import (
	"errors"
	"time"

	"github.com/leased/leased/store/postgres"
)

// Cluster defaults (ClusterOptions).
const (
	DefaultClusterHeartbeat = 5 * time.Second
	DefaultClusterBlockSize = 64
	MinClusterBlockSize     = 16
)

// ClusterOptions turn on the cluster control plane (Options.Cluster; nil:
// a single server, nothing changes).
type ClusterOptions struct {
	// Store is the PostgreSQL store opened with Options.Cluster (the same
	// value as Options.Store).
	Store *postgres.Store
	// Heartbeat is how often the server extends its claims, refreshes
	// the live set and looks for dead servers; 0 means
	// DefaultClusterHeartbeat (5 s).
	Heartbeat time.Duration
	// TakeOverAfter is how long a server's heartbeat may be silent before
	// the others take over its claims, and the lifetime of a claim from
	// its last extension; 0 means 3 × Heartbeat.
	TakeOverAfter time.Duration
	// BlockSize is the number of addresses (delegated prefixes for
	// IA_PD) claimed at a time; 0 means DefaultClusterBlockSize (64),
	// at least MinClusterBlockSize (16).
	BlockSize int
	// LowWater: a new block is claimed when the free addresses in the
	// pool's claims drop below it; 0 means BlockSize/4.
	LowWater int
	// AnswerAfterSecs is the RFC 3074 secs fallback: a server answers a
	// DHCPv4 client whose hash belongs to another server once the
	// client's secs field reaches it (0: never answer for others).
	AnswerAfterSecs uint16
}

// withDefaults fills the zero fields of o.
func (o ClusterOptions) withDefaults() ClusterOptions {
	if o.Heartbeat <= 0 {
		o.Heartbeat = DefaultClusterHeartbeat
	}
	if o.TakeOverAfter <= 0 {
		o.TakeOverAfter = 3 * o.Heartbeat
	}
	if o.BlockSize <= 0 {
		o.BlockSize = DefaultClusterBlockSize
	}
	if o.BlockSize < MinClusterBlockSize {
		o.BlockSize = MinClusterBlockSize
	}
	if o.LowWater <= 0 {
		o.LowWater = max(1, o.BlockSize/4)
	}
	return o
}

// clusterState is the running control plane of a Server with
// Options.Cluster (nil otherwise).
type clusterState struct {
	opts ClusterOptions
	st   *postgres.Store
}

func newClusterState(o ClusterOptions) (*clusterState, error) {
	if o.Store == nil {
		return nil, errors.New("server: ClusterOptions.Store is required")
	}
	o = o.withDefaults()
	return &clusterState{opts: o, st: o.Store}, nil
}
