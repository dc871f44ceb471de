// Package store defines where leases are made durable. The engine never
// imports it: the server asks the engine for a decision, commits the
// decision's records through a Store, and only then sends the reply.
package store

import (
	"context"
	"iter"

	"github.com/leased/leased/lease"
)

// Blob kinds. A kind is a namespace for keys; the store does not interpret
// values.
const (
	// BlobReconf holds reconfiguration campaign state (package reconf
	// records, encoded with their MarshalBinary).
	BlobReconf uint8 = 1
	// BlobServerDUID holds the server's DHCPv6 DUID (RFC 8415 §11): made
	// once, at the first start with DHCPv6, and never changed. Key empty.
	BlobServerDUID uint8 = 2
	// BlobReservation holds a runtime reservation added through the
	// control API (package server: key = the family byte 4 or 6 and the
	// reserved address or prefix in text, value = its JSON form, an
	// api.Reservation). A tombstone is a deleted one.
	BlobReservation uint8 = 3
)

// Blob is a keyed opaque record persisted next to the leases: state that
// is not a lease but must survive a restart (reconfiguration campaigns).
// For each (Kind, Key) the last committed Blob wins; one with an empty
// Value is a tombstone that removes the key.
type Blob struct {
	Kind  uint8
	Key   []byte
	Value []byte
}

// Store persists lease records and blobs.
//
// Commit returns only once every record is durable (fsync'd or committed):
// that is the "durable before reply" promise. Implementations group-commit,
// so concurrent Commit calls share one fsync. A non-nil error means none of
// the batch may be considered durable.
type Store interface {
	// Load calls fn for the current record of every address, as recovered
	// at open. It is called once, before serving.
	Load(fn func(lease.Lease) error) error
	// LoadBlobs calls fn for the current blob of every live (Kind, Key),
	// in the order their last versions were committed. It is called once,
	// before serving; fn must not keep the slices.
	LoadBlobs(fn func(Blob) error) error
	// Commit makes the records durable.
	Commit(ctx context.Context, recs []lease.Lease) error
	// CommitBlobs makes the blobs durable, with the same promise as Commit.
	// Blobs of one key committed by sequential calls keep their order.
	CommitBlobs(ctx context.Context, blobs []Blob) error
	// Compact replaces the history with the given full state. all must
	// yield the current record of every address the engine knows and
	// blobs every live blob (nil: none); records and blobs committed
	// concurrently with Compact are not lost.
	Compact(all iter.Seq[lease.Lease], blobs iter.Seq[Blob]) error
	Close() error
}
