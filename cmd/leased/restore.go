package main

import (
	"os"
	"runtime/debug"

	"github.com/leased/leased/config"
	"github.com/leased/leased/lease"
	"github.com/leased/leased/lease6"
	"github.com/leased/leased/store"
)

// restoreGCPercent is the collector's GOGC while the stored leases are
// loaded (issue #17). The heap then only grows (engine records and
// indexes) and little of it is garbage, so collections at GOGC=100 mostly
// rescan what is live; 400 runs about a third as many. The previous
// setting returns right after (the memory limit starts after the load).
// An explicit GOGC in the environment is left alone.
const restoreGCPercent = 400

// Optional store methods restoreLeases uses when present (store/wal).
type (
	// borrowLoader yields records whose byte slices alias the store's
	// memory until the callback returns; the engines copy what they keep.
	borrowLoader interface {
		LoadBorrowed(fn func(*lease.Lease) error) error
	}
	// recoveredCounter tells how many records Load will yield.
	recoveredCounter interface{ Recovered() int }
)

// restoreLeases loads every stored lease into the engine of its family.
// Records of a family the configuration does not serve are returned as
// held (kept as they are and written back by every compaction).
func restoreLeases(st store.Store, cfg *config.Config, eng *lease.Engine, eng6 *lease6.Engine) (restored, restored6 int, held []lease.Lease, err error) {
	if os.Getenv("GOGC") == "" {
		defer debug.SetGCPercent(debug.SetGCPercent(restoreGCPercent))
	}
	if rc, ok := st.(recoveredCounter); ok && cfg.HasDHCPv4() {
		eng.Reserve(rc.Recovered())
	}
	v4 := cfg.HasDHCPv4()
	add := func(l *lease.Lease) error {
		switch {
		case !l.IsV6() && v4:
			eng.Restore(*l)
			restored++
		case l.IsV6() && eng6 != nil:
			eng6.Restore(*l)
			restored6++
		default:
			held = append(held, l.Clone())
		}
		return nil
	}
	if bl, ok := st.(borrowLoader); ok {
		err = bl.LoadBorrowed(add)
	} else {
		err = st.Load(func(l lease.Lease) error { return add(&l) })
	}
	return restored, restored6, held, err
}
