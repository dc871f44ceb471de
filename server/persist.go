package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/leased/leased/lease"
	"github.com/leased/leased/store"
	"github.com/leased/leased/store/postgres"
)

// The one persist path. Every durable write of lease records — client
// requests of either family, expiry, operator deletes, FORCERENEW and
// Reconfigure replay values, campaign recycles — goes through persist;
// campaign state and the server DUID (blobs) through persistBlobs. Both
// observe the commit latency, report to health, count failures and
// committed records, log a failure once and return the store's error
// wrapped (%w), so that callers (and the API) see context.Canceled,
// store.ErrFenced and the like as they are.

// persist makes recs durable. On success it counts them, may start a
// compaction and passes them to the lease event hook; on failure it
// counts and logs, and the caller must undo its decision (Revert) and send
// nothing. what names the caller in the log and in the error.
func (s *Server) persist(ctx context.Context, recs []lease.Lease, what string) error {
	if len(recs) == 0 {
		return nil
	}
	start := time.Now()
	err := s.st.Commit(ctx, recs)
	if err := s.stored(start, len(recs), what, err); err != nil {
		return err
	}
	s.leasesCommitted(recs) // lease event hook (leaseevents.go)
	return nil
}

// persistBlobs makes blobs durable, with the same accounting as persist.
func (s *Server) persistBlobs(ctx context.Context, blobs []store.Blob, what string) error {
	if len(blobs) == 0 {
		return nil
	}
	start := time.Now()
	err := s.st.CommitBlobs(ctx, blobs)
	return s.stored(start, len(blobs), what, err)
}

// stored accounts for one store commit of n records that started at
// start and returned err.
func (s *Server) stored(start time.Time, n int, what string, err error) error {
	s.m.observeCommit(time.Since(start))
	if err != nil && s.cpath != nil && errors.Is(err, postgres.ErrRejected) {
		// Cluster arbitration (readthrough.go): the database worked and
		// refused a write of a stale cache. Not a store failure.
		s.commitResult(nil)
		return fmt.Errorf("server: %s: store commit: %w", what, err)
	}
	s.commitResult(err)
	if err != nil {
		s.m.commitFail.Inc()
		s.commitErrors.Add(1)
		s.log.Error("store commit failed; decision reverted, nothing sent", "what", what, "records", n, "err", err)
		return fmt.Errorf("server: %s: store commit: %w", what, err)
	}
	s.m.committed.Add(float64(n))
	s.noteCommitted(n)
	return nil
}

// commit makes a DHCPv4 decision durable; on failure it reverts d.
func (s *Server) commit(ctx context.Context, d *lease.Decision, what string) error {
	if err := s.persist(ctx, d.Persist, what); err != nil {
		s.eng.Revert(d)
		if s.cpath != nil {
			s.adoptRejected(err, d.Persist) // readthrough.go
		}
		return err
	}
	return nil
}
