package server

import (
	"encoding/hex"

	"github.com/leased/leased/api"
)

var _ api.Backend = (*Server)(nil)

// Health reports the server's state for GET /v1/health.
func (s *Server) Health() api.Health {
	h := api.Health{
		Status:        "ok",
		Version:       s.opts.Version,
		UptimeSeconds: s.Uptime().Seconds(),
		Store:         s.opts.StoreName,
		CommitErrors:  s.commitErrors.Load(),
	}
	if d := s.ServerDUID(); d != nil {
		h.ServerDUID = hex.EncodeToString(d)
	}
	switch {
	case s.stopped.Load():
		h.Status, h.Message = "draining", "shutting down: finishing in-flight commits"
	case !s.running.Load():
		h.Status, h.Message = "starting", "not serving yet"
	}
	for _, p := range s.Pools() {
		h.Pools++
		h.Leases += p.Bound
	}
	return h
}
