// Package memlimit keeps leased's resident memory proportional to its live
// heap instead of to twice of it.
//
// With the default GOGC=100 the Go collector lets the heap grow to twice
// the live heap before it collects, so a server holding 233 MB of lease
// records (1,000,000 leases) sits at ~450 MB resident. A fixed GOMEMLIMIT
// fixes that for one size and makes the collector run continuously for a
// larger deployment whose live heap outgrows it. Auto instead follows the
// live heap: every Interval it sets the soft memory limit to
// max(Floor, live×Factor + Headroom). Below Floor nothing changes (GOGC
// decides, as usual); above it the heap may exceed the live heap by about
// (Factor−1)×live + Headroom before a collection. The limit only moves the
// collection trigger: it is raised as soon as the live heap grows, so the
// collector never has to run back to back to stay under it (and the
// runtime caps collector CPU under a memory limit at about 50 % anyway).
package memlimit

import (
	"context"
	"math"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// Policy is how the limit follows the live heap.
type Policy struct {
	Factor   float64       // limit = live×Factor + Headroom; ≥ 1
	Headroom int64         // bytes
	Floor    int64         // never set a limit below this (bytes)
	Interval time.Duration // how often the live heap is read
}

// Default is leased's policy. At 1,000,000 DHCPv4 leases (~170 MB live
// since the 96-byte records) the limit is ~211 MB, resident ~224 MB after
// binding (issue #17's ≤ 250 MB; with the former 256 MiB floor it was
// 257–259 MB, the floor and not the leases). With less than 64 MiB live
// there is no limit (GOGC's goal, twice the live heap, is under the
// floor); from 64 to ~95 MiB live the limit is the 128 MiB floor. The
// collector's extra work at 1M leases was not measurable (bench/storms
// with GOMEMLIMIT=220MiB: 38.3 ms of CPU per 1,000 exchanges, 34–41
// without; docs/BENCHMARKS.md).
var Default = Policy{Factor: 1.1, Headroom: 24 << 20, Floor: 128 << 20, Interval: time.Second}

// Limit returns the soft memory limit for a live heap of live bytes, or
// math.MaxInt64 (no limit) while live×Factor + Headroom is below Floor
// and GOGC alone keeps the heap small enough.
func Limit(live int64, p Policy) int64 {
	if live < 0 {
		live = 0
	}
	l := float64(live)*p.Factor + float64(p.Headroom)
	if l >= math.MaxInt64 {
		return math.MaxInt64
	}
	if int64(l) < p.Floor {
		// Under the floor the GOGC goal (2 × live) is at most about
		// 2 × Floor / Factor: let it be.
		if 2*live < p.Floor {
			return math.MaxInt64
		}
		return p.Floor
	}
	return int64(l)
}

// EnvSet reports whether the operator set GOMEMLIMIT, which then wins.
func EnvSet() bool { return os.Getenv("GOMEMLIMIT") != "" }

const liveMetric = "/gc/heap/live:bytes"

// LiveHeap returns the live heap as measured by the last collection.
func LiveHeap() int64 {
	s := []metrics.Sample{{Name: liveMetric}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	v := s[0].Value.Uint64()
	if v > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(v)
}

// Run applies p until ctx ends, then removes the limit it set. It does
// nothing when GOMEMLIMIT is set. set and live are debug.SetMemoryLimit
// and LiveHeap in production (tests pass their own).
func Run(ctx context.Context, p Policy, set func(int64) int64, live func() int64) {
	if set == nil {
		set = debug.SetMemoryLimit
	}
	if live == nil {
		live = LiveHeap
	}
	if p.Interval <= 0 {
		p.Interval = time.Second
	}
	cur := int64(math.MaxInt64)
	apply := func() {
		l := Limit(live(), p)
		// Move only on a change of more than 1/32 to avoid churn.
		if d := l - cur; d > cur/32 || -d > cur/32 || (l == math.MaxInt64) != (cur == math.MaxInt64) {
			set(l)
			cur = l
		}
	}
	apply()
	t := time.NewTicker(p.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			if cur != math.MaxInt64 {
				set(math.MaxInt64)
			}
			return
		case <-t.C:
			apply()
		}
	}
}
