package server

import (
	"encoding/hex"

	"github.com/leased/leased/api"
	"github.com/leased/leased/internal/buildinfo"
)

var _ api.Backend = (*Server)(nil)

// Health reports the server's state for GET /v1/health: "ok",
// "degraded" or "failing" with its reasons (health.go).
func (s *Server) Health() api.Health {
	h := api.Health{
		Version:       s.opts.Version,
		Revision:      buildinfo.Get().ShortRevision(),
		UptimeSeconds: s.Uptime().Seconds(),
		Store:         s.opts.StoreName,
		CommitErrors:  s.commitErrors.Load(),
	}
	if d := s.ServerDUID(); d != nil {
		h.ServerDUID = hex.EncodeToString(d)
	}
	h.Status, h.Reasons = s.healthStatus()
	h.Message = healthSummary(h.Reasons)
	for _, p := range s.Pools() {
		h.Pools++
		h.Leases += p.Bound
	}
	return h
}
