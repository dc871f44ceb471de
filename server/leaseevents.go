package server

// The lease event hook: after a lease change is durable, the installed
// function sees its records (dynamic DNS, wired in cmd/leased). It is
// called from persist (persist.go: every DHCPv4/DHCPv6 request, expiry,
// delete, recycle and FORCERENEW/Reconfigure commit), after the commit
// succeeded and before any reply is sent; it must not block.

import "github.com/leased/leased/lease"

// LeaseHook receives the records of one committed batch. It runs on the
// committing goroutine, before the reply leaves: it must return at once
// (hand the records to a bounded queue; drop and count when full) and
// must not keep recs or their slices (copy what it needs).
type LeaseHook func(recs []lease.Lease)

// SetLeaseHook installs h (nil removes it).
func (s *Server) SetLeaseHook(h LeaseHook) {
	if h == nil {
		s.leaseHook.Store(nil)
		return
	}
	s.leaseHook.Store(&h)
}

// leasesCommitted passes committed records to the hook, if any.
func (s *Server) leasesCommitted(recs []lease.Lease) {
	if h := s.leaseHook.Load(); h != nil && len(recs) > 0 {
		(*h)(recs)
	}
}
