package memlimit

import (
	"context"
	"math"
	"runtime"
	"runtime/debug"
	"sync"
	"testing"
	"time"
)

const mib = 1 << 20

func TestLimit(t *testing.T) {
	p := Default
	for _, c := range []struct {
		live, want int64
	}{
		{0, math.MaxInt64},
		{-5, math.MaxInt64},
		{50 * mib, math.MaxInt64},           // 2×live < floor: GOGC decides
		{64 * mib, 128 * mib},               // 2×live = floor
		{90 * mib, 128 * mib},               // live×1.1+24 < floor
		{170 * mib, 170*mib*11/10 + 24*mib}, // 1M v4 leases
		{1 << 40, (1<<40)*11/10 + 24*mib},
	} {
		got := Limit(c.live, p)
		// float rounding: allow a byte
		if d := got - c.want; d > 1 || d < -1 {
			t.Errorf("Limit(%d MiB) = %d, want %d", c.live/mib, got, c.want)
		}
	}
	if got := Limit(math.MaxInt64, p); got != math.MaxInt64 {
		t.Errorf("Limit(max) = %d", got)
	}
}

func TestRunFollowsLiveHeapAndResets(t *testing.T) {
	var mu sync.Mutex
	live := int64(10 * mib)
	var sets []int64
	set := func(v int64) int64 {
		mu.Lock()
		sets = append(sets, v)
		mu.Unlock()
		return 0
	}
	get := func() int64 { mu.Lock(); defer mu.Unlock(); return live }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		Run(ctx, Policy{Factor: 1.1, Headroom: mib, Floor: 64 * mib, Interval: time.Millisecond}, Runtime{SetMemoryLimit: set, LiveHeap: get,
			SetGCPercent: func(int) int { t.Error("GOGC set without a GC floor"); return 100 }, Cycles: func() uint64 { return 1 }})
		close(done)
	}()

	wait := func(what string, ok func([]int64) bool) { t.Helper(); waitRecorded(t, &mu, &sets, "sets", what, ok) }
	// 10 MiB live: no limit is ever set.
	time.Sleep(20 * time.Millisecond)
	mu.Lock()
	if len(sets) != 0 {
		t.Fatalf("limit set for a small heap: %v", sets)
	}
	live = 200 * mib
	mu.Unlock()
	want := int64(200*mib*1.1) + mib
	wait("grown heap", func(s []int64) bool { return len(s) > 0 && s[len(s)-1] == want })
	// A change under 1/32 does not move the limit.
	mu.Lock()
	n := len(sets)
	live = 201 * mib
	mu.Unlock()
	time.Sleep(20 * time.Millisecond)
	mu.Lock()
	if len(sets) != n {
		t.Errorf("limit moved for a 0.5%% change: %v", sets[n:])
	}
	mu.Unlock()
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not stop")
	}
	mu.Lock()
	defer mu.Unlock()
	if sets[len(sets)-1] != math.MaxInt64 {
		t.Errorf("limit not removed at stop: %v", sets)
	}
}

var keep []byte

func TestLiveHeapReadsRuntime(t *testing.T) {
	keep = make([]byte, 64*mib)
	for i := range keep {
		keep[i] = byte(i)
	}
	runtime.GC()
	if got := LiveHeap(); got < 64*mib {
		t.Fatalf("LiveHeap = %d MiB with 64 MiB retained", got/mib)
	}
	keep = nil
}

func TestPercent(t *testing.T) {
	p := Default // GCHeadroom 64 MiB
	for _, c := range []struct {
		live int64
		want int
	}{
		{0, 1600},             // nothing measured: the most (runtime minimum heap 4 MB × 16 = 64 MiB)
		{1 * mib, 1600},       // 6400 % would make the runtime's minimum heap 256 MiB
		{4 * mib, 1600},       // goal 4 + 64 MiB
		{6 * mib, 1067},       // the #15 server at 6,000/s: goal ~ 70 MiB instead of 12
		{32 * mib, 200},       // goal 96 MiB
		{60 * mib, 107},       // rounded up
		{64 * mib, 100},       // from GCHeadroom on: Go's default, the memory limit decides
		{170 * mib, 100},      // 1M leases: unchanged
		{-1, 1600},            // nonsense reads as nothing measured
		{1 << 40, 100},        // huge
		{64*mib - 1, 101},     // just below
		{64 * mib / 50, 1600}, // capped
	} {
		if got := Percent(c.live, p); got != c.want {
			t.Errorf("Percent(%d bytes) = %d, want %d", c.live, got, c.want)
		}
	}
	p.GCHeadroom = 0
	if got := Percent(mib, p); got != 100 {
		t.Errorf("no floor: Percent = %d, want 100", got)
	}
}

// TestRunGCFloor: GOGC follows the live heap only after a collection that
// ended after Run started (a reading from before the store was loaded
// must not multiply the loaded heap), moves back to 100 when the live
// heap reaches GCHeadroom, and is restored at stop.
func TestRunGCFloor(t *testing.T) {
	var mu sync.Mutex
	live, cycles := int64(2*mib), uint64(7)
	var pcts []int
	rt := Runtime{
		SetMemoryLimit: func(int64) int64 { return 0 },
		SetGCPercent: func(v int) int {
			mu.Lock()
			defer mu.Unlock()
			pcts = append(pcts, v)
			return 150 // what it was before Run
		},
		LiveHeap: func() int64 { mu.Lock(); defer mu.Unlock(); return live },
		Cycles:   func() uint64 { mu.Lock(); defer mu.Unlock(); return cycles },
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		Run(ctx, Policy{Factor: 1.1, Headroom: mib, Floor: 128 * mib, Interval: time.Millisecond, GCHeadroom: 64 * mib}, rt)
		close(done)
	}()
	wait := func(what string, ok func([]int) bool) {
		t.Helper()
		waitRecorded(t, &mu, &pcts, "GOGC set to", what, ok)
	}
	time.Sleep(20 * time.Millisecond)
	mu.Lock()
	if len(pcts) != 0 {
		t.Fatalf("GOGC set before a collection ended after Run started: %v", pcts)
	}
	live, cycles = 8*mib, 8
	mu.Unlock()
	wait("after a collection", func(p []int) bool { return len(p) > 0 && p[len(p)-1] == 800 })
	mu.Lock()
	live = 100 * mib
	mu.Unlock()
	wait("large heap", func(p []int) bool { return p[len(p)-1] == 100 })
	mu.Lock()
	live = 16 * mib
	mu.Unlock()
	wait("shrunk heap", func(p []int) bool { return p[len(p)-1] == 400 })
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not stop")
	}
	mu.Lock()
	defer mu.Unlock()
	if pcts[len(pcts)-1] != 150 {
		t.Errorf("GOGC not restored at stop: %v", pcts)
	}
}

var sink []byte

// TestGCFloorCollectsLess: with the real runtime and a small live heap,
// allocating 256 MiB of garbage takes dozens of collections at GOGC=100
// and a handful at the floor's GOGC.
func TestGCFloorCollectsLess(t *testing.T) {
	churn := func() uint64 {
		runtime.GC()
		before := Cycles()
		for range 256 * 16 {
			sink = make([]byte, 64<<10)
		}
		sink = nil
		return Cycles() - before
	}
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	base := churn()
	runtime.GC()
	pct := Percent(LiveHeap(), Default)
	debug.SetGCPercent(pct)
	floor := churn()
	t.Logf("256 MiB of garbage, live %d KiB: %d collections at GOGC=100, %d at GOGC=%d", LiveHeap()>>10, base, floor, pct)
	if pct <= 100 || floor*4 > base {
		t.Errorf("GC floor: %d collections at GOGC=%d, want under a quarter of GOGC=100's %d", floor, pct, base)
	}
}

// waitRecorded polls (up to ~2 s) until ok holds for the values a fake
// runtime hook recorded in *got under mu, else fails naming them.
func waitRecorded[T any](t *testing.T, mu *sync.Mutex, got *[]T, name, what string, ok func([]T) bool) {
	t.Helper()
	for range 2000 {
		mu.Lock()
		good := ok(*got)
		mu.Unlock()
		if good {
			return
		}
		time.Sleep(time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	t.Fatalf("%s: %s %v", what, name, *got)
}
