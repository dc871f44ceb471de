// Package memlimit keeps leased's resident memory proportional to its live
// heap instead of to twice of it, and keeps a small heap from being
// collected every few megabytes.
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
//
// The other end, a small live heap, has the opposite problem: at GOGC=100
// a server with 6 MB live collects every 6 MB allocated, at 6,000 DHCPv4
// exchanges/s about ten times per 4 s, each cycle marking for 2–10 ms on
// the server's one core — the size of the 2 ms p99 target (issue #15,
// docs/BENCHMARKS.md). The GC floor (Policy.GCHeadroom) gives the
// collector a goal of at least live + GCHeadroom: every Interval GOGC is
// set to GCHeadroom/live (as a percentage, at least 100 and at most what
// keeps the runtime's minimum heap, 4 MB × GOGC/100, at GCHeadroom). From
// GCHeadroom live upwards GOGC is 100 again and the memory limit above
// decides, so large servers are unchanged. The cost is resident memory on
// small servers under load: the heap now grows by up to 64 MiB of garbage
// between collections instead of by the live heap. Measured with 2,000
// clients at 6,000 exchanges/s (docs/BENCHMARKS.md, "#15 part 4"): 88–95 MB
// resident instead of 54–73 MB for DHCPv4, 99–121 instead of 71–76 MB for
// DHCPv6 (docs/operator-guide.md). An idle server allocates little and
// stays smaller.
// GOGC is raised only from a live heap measured by a collection that ended
// after Run started (leased starts Run once its store is loaded), so a
// reading from the small heap of before a restore never multiplies the
// restored one; between two readings the goal can exceed live + GCHeadroom
// only by what the live heap grew in one Interval times the ratio used.
// An operator's GOGC or GOMEMLIMIT turns the floor off (leased checks
// GOGCSet and EnvSet).
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
	// GCHeadroom is the GC floor: the collector's goal is at least
	// live + GCHeadroom (bytes) while the live heap is smaller than it;
	// 0 leaves GOGC alone.
	GCHeadroom int64
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
//
// The GC floor of 64 MiB: at 6,000 DHCPv4 exchanges/s with ~6–11 MB live,
// GOGC=100 ran ~10 collections per 4 s; with the floor about one per
// 64 MiB allocated (docs/BENCHMARKS.md, "#15 part 4").
var Default = Policy{Factor: 1.1, Headroom: 24 << 20, Floor: 128 << 20, Interval: time.Second, GCHeadroom: 64 << 20}

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

// heapMinimum is the Go runtime's minimum heap goal at GOGC=100 (4 MB,
// runtime/mgcpacer.go: defaultHeapMinimum); it scales with GOGC, so a
// GOGC of g never lets the heap goal fall below 4 MB × g/100.
const heapMinimum = 4 << 20

// Percent returns the GOGC that gives a collector goal of about live +
// p.GCHeadroom: 100 (Go's default) when there is no floor or the live heap
// is at least GCHeadroom, else GCHeadroom/live as a percentage, at most
// 100 × GCHeadroom / 4 MB (the runtime's minimum heap grows with GOGC: a
// higher value would set a goal above live + GCHeadroom for a tiny heap).
func Percent(live int64, p Policy) int {
	if p.GCHeadroom <= 0 || live >= p.GCHeadroom {
		return 100
	}
	most := int(min(p.GCHeadroom/(heapMinimum/100), math.MaxInt32))
	if live <= 0 {
		return max(100, most)
	}
	pct := (p.GCHeadroom*100 + live - 1) / live // rounded up
	return int(max(100, min(pct, int64(most))))
}

// EnvSet reports whether the operator set GOMEMLIMIT, which then wins.
func EnvSet() bool { return os.Getenv("GOMEMLIMIT") != "" }

// GOGCSet reports whether the operator set GOGC, which then wins over the
// GC floor (Policy.GCHeadroom).
func GOGCSet() bool { return os.Getenv("GOGC") != "" }

const (
	liveMetric   = "/gc/heap/live:bytes"
	cyclesMetric = "/gc/cycles/total:gc-cycles"
)

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

// Cycles returns the number of completed GC cycles.
func Cycles() uint64 {
	s := []metrics.Sample{{Name: cyclesMetric}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

// Runtime is what Run reads and sets; a nil field means the Go runtime's
// (debug.SetMemoryLimit, debug.SetGCPercent, LiveHeap, Cycles). Tests pass
// their own.
type Runtime struct {
	SetMemoryLimit func(int64) int64
	SetGCPercent   func(int) int
	LiveHeap       func() int64
	Cycles         func() uint64
}

// Run applies p until ctx ends, then removes the limit it set and puts
// GOGC back to what it was. The caller leaves the memory limit alone when
// GOMEMLIMIT is set (EnvSet), and p.GCHeadroom at 0 when GOGC is set
// (GOGCSet).
func Run(ctx context.Context, p Policy, rt Runtime) {
	if rt.SetMemoryLimit == nil {
		rt.SetMemoryLimit = debug.SetMemoryLimit
	}
	if rt.SetGCPercent == nil {
		rt.SetGCPercent = debug.SetGCPercent
	}
	if rt.LiveHeap == nil {
		rt.LiveHeap = LiveHeap
	}
	if rt.Cycles == nil {
		rt.Cycles = Cycles
	}
	if p.Interval <= 0 {
		p.Interval = time.Second
	}
	cur := int64(math.MaxInt64)
	// The GC floor waits for a collection that ended after Run started:
	// the live heap read before it may be that of before the store was
	// loaded, and GOGC from it would multiply the loaded heap.
	startCycles := rt.Cycles()
	pct, origPct := 100, 0
	pctSet := false
	apply := func() {
		live := rt.LiveHeap()
		l := Limit(live, p)
		// Move only on a change of more than 1/32 to avoid churn.
		if d := l - cur; d > cur/32 || -d > cur/32 || (l == math.MaxInt64) != (cur == math.MaxInt64) {
			rt.SetMemoryLimit(l)
			cur = l
		}
		if p.GCHeadroom <= 0 || rt.Cycles() == startCycles {
			return
		}
		// Also at most a 1/32 step: GOGC is an integer percentage.
		if g := Percent(live, p); g != pct && (g-pct > pct/32 || pct-g > pct/32 || g == 100) {
			if !pctSet {
				origPct, pctSet = rt.SetGCPercent(g), true
			} else {
				rt.SetGCPercent(g)
			}
			pct = g
		}
	}
	apply()
	t := time.NewTicker(p.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			if cur != math.MaxInt64 {
				rt.SetMemoryLimit(math.MaxInt64)
			}
			if pctSet && pct != origPct {
				rt.SetGCPercent(origPct)
			}
			return
		case <-t.C:
			apply()
		}
	}
}
