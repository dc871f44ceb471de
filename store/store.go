// Package store defines where leases are made durable. The engine never
// imports it: the server asks the engine for a decision, commits the
// decision's records through a Store, and only then sends the reply.
package store

import (
	"context"
	"iter"

	"github.com/leased/leased/lease"
)

// Store persists lease records.
//
// Commit returns only once every record is durable (fsync'd or committed):
// that is the "durable before reply" promise. Implementations group-commit,
// so concurrent Commit calls share one fsync. A non-nil error means none of
// the batch may be considered durable.
type Store interface {
	// Load calls fn for the current record of every address, as recovered
	// at open. It is called once, before serving.
	Load(fn func(lease.Lease) error) error
	// Commit makes the records durable.
	Commit(ctx context.Context, recs []lease.Lease) error
	// Compact replaces the history with the given full state. all must
	// yield the current record of every address the engine knows; records
	// committed concurrently with Compact are not lost.
	Compact(all iter.Seq[lease.Lease]) error
	Close() error
}
