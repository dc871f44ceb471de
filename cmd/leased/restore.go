package main

import (
	"github.com/leased/leased/config"
	"github.com/leased/leased/lease"
	"github.com/leased/leased/lease6"
	"github.com/leased/leased/store"
)

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
// held (kept as they are and written back by every compaction). GOGC 400
// during the load was measured too (issue #17, docs/BENCHMARKS.md): no
// difference beyond this machine's noise, so the collector keeps its
// settings.
func restoreLeases(st store.Store, cfg *config.Config, eng *lease.Engine, eng6 *lease6.Engine) (restored, restored6 int, held []lease.Lease, err error) {
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
