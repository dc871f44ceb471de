package lease6

import "github.com/leased/leased/lease"

// undoRec is one record's state before a decision, for Revert.
type undoRec struct {
	had bool
	rec lease.Lease
}
