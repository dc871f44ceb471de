package memlimit

import (
	"context"
	"math"
	"runtime"
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
		Run(ctx, Policy{Factor: 1.1, Headroom: mib, Floor: 64 * mib, Interval: time.Millisecond}, set, get)
		close(done)
	}()

	wait := func(what string, ok func([]int64) bool) {
		t.Helper()
		for i := 0; i < 2000; i++ {
			mu.Lock()
			good := ok(sets)
			mu.Unlock()
			if good {
				return
			}
			time.Sleep(time.Millisecond)
		}
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("%s: sets %v", what, sets)
	}
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
