package api

import (
	"context"
	"net/http"
	"net/netip"
	"time"
)

// Cluster is implemented by a Backend whose store is shared with other
// leased servers (PostgreSQL, docs/cluster.md): GET /v1/cluster lists the
// servers, the blocks each holds and the campaigns' leaders. Without it the
// route answers 501.
type Cluster interface {
	ClusterStatus(ctx context.Context) (ClusterStatus, error)
}

// ClusterStatus is the body of GET /v1/cluster.
type ClusterStatus struct {
	// Server is the name of the server answering.
	Server    string            `json:"server"`
	Servers   []ClusterServer   `json:"servers"`
	Campaigns []ClusterCampaign `json:"campaigns"`
}

// ClusterServer is one server sharing the database.
type ClusterServer struct {
	Name string `json:"name"`
	// State: live (recent heartbeat), dead (heartbeat older than the
	// take-over delay, no clean stop) or stopped (clean stop).
	State               string         `json:"state"`
	HeartbeatAgeSeconds float64        `json:"heartbeat_age_seconds"`
	Epoch               int64          `json:"epoch"`
	Version             string         `json:"version"`
	Blocks              []ClusterBlock `json:"blocks"`
}

// ClusterBlock is one claimed block of addresses (or delegable prefixes).
type ClusterBlock struct {
	Pool    string     `json:"pool"`
	First   netip.Addr `json:"first"`
	Last    netip.Addr `json:"last"`
	Expires time.Time  `json:"expires"`
}

// ClusterCampaign is a running campaign and the server leading it.
type ClusterCampaign struct {
	Campaign string    `json:"campaign"`
	Leader   string    `json:"leader"`
	Since    time.Time `json:"since"`
}

func (h *handler) cluster(w http.ResponseWriter, r *http.Request) {
	if h.cl == nil {
		h.fail(w, r, http.StatusNotImplemented, "this server does not share its store with other servers (the store is not PostgreSQL)")
		return
	}
	st, err := h.cl.ClusterStatus(r.Context())
	if err != nil {
		h.fail(w, r, http.StatusServiceUnavailable, "cluster state unavailable: "+err.Error())
		return
	}
	if st.Servers == nil {
		st.Servers = []ClusterServer{}
	}
	for i := range st.Servers {
		if st.Servers[i].Blocks == nil {
			st.Servers[i].Blocks = []ClusterBlock{}
		}
	}
	if st.Campaigns == nil {
		st.Campaigns = []ClusterCampaign{}
	}
	h.writeJSON(w, r, http.StatusOK, st)
}

// Cluster returns GET /v1/cluster.
func (c *Client) Cluster(ctx context.Context) (ClusterStatus, error) {
	var st ClusterStatus
	err := c.do(ctx, http.MethodGet, "/v1/cluster", nil, &st, http.StatusOK)
	return st, err
}
