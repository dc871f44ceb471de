package auth

import (
	"sync"
	"testing"
	"time"
)

func TestTimeFloor(t *testing.T) {
	for _, tc := range []struct {
		t    time.Time
		want uint64
	}{
		{time.Unix(0, 0), 0},
		{time.Unix(-5, 0), 0},
		{time.Unix(1, 0), 1 << 32},
		{time.Unix(1, 500_000_000), 1<<32 | 1<<31},
		{time.Unix(1_700_000_000, 250_000_000), 1_700_000_000<<32 | 1<<30},
		// The seconds field is 32 bits: past 2106 the floor saturates.
		{time.Unix(1<<32, 0), ^uint64(0)},
	} {
		if got := TimeFloor(tc.t); got != tc.want {
			t.Errorf("TimeFloor(%v) = %#x, want %#x", tc.t, got, tc.want)
		}
	}
	// Monotone in t at nanosecond steps within a second.
	base := time.Unix(1_700_000_000, 0)
	prev := TimeFloor(base)
	for ns := 1; ns < 1000; ns++ {
		v := TimeFloor(base.Add(time.Duration(ns)))
		if v <= prev {
			t.Fatalf("floor not increasing at +%dns: %#x <= %#x", ns, v, prev)
		}
		prev = v
	}
}

func TestCounterNext(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	c := NewCounter(0)
	v1 := c.Next(now, 0)
	if v1 != TimeFloor(now) {
		t.Errorf("first value %#x, want the time floor %#x", v1, TimeFloor(now))
	}
	// Same instant: still strictly increasing.
	v2 := c.Next(now, 0)
	if v2 != v1+1 {
		t.Errorf("second value %#x, want %#x", v2, v1+1)
	}
	// Clock stepped back: still increasing.
	v3 := c.Next(now.Add(-time.Hour), 0)
	if v3 <= v2 {
		t.Errorf("after clock step back %#x <= %#x", v3, v2)
	}
	// Client's own persisted value ahead of everything: exceed it.
	ahead := v3 + 1000
	if v := c.Next(now, ahead); v != ahead+1 {
		t.Errorf("with client last %#x got %#x", ahead, v)
	}
	// Time moved forward: jump to the floor.
	later := now.Add(time.Minute)
	if v := c.Next(later, 0); v != TimeFloor(later) {
		t.Errorf("later %#x, want floor %#x", v, TimeFloor(later))
	}
	if c.Last() != TimeFloor(later) {
		t.Errorf("Last %#x", c.Last())
	}
}

// TestCounterRestart models the two ways a restart avoids reuse (see
// Counter): seeding from persisted values, and the time floor.
func TestCounterRestart(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	c := NewCounter(0)
	var sent []uint64
	for range 1000 { // a burst of FORCERENEWs at one instant, none persisted
		sent = append(sent, c.Next(t0, 0))
	}
	maxSent := sent[len(sent)-1]

	// Restart 1 ms later, nothing persisted: the time floor is past them.
	r := NewCounter(0)
	if v := r.Next(t0.Add(time.Millisecond), 0); v <= maxSent {
		t.Errorf("after restart %#x <= last sent %#x", v, maxSent)
	}

	// Restart with the clock stepped back an hour but values persisted:
	// seed and Observe keep it above them.
	r = NewCounter(sent[10])
	r.Observe(maxSent)
	r.Observe(5) // lower values do not lower it
	if v := r.Next(t0.Add(-time.Hour), 0); v != maxSent+1 {
		t.Errorf("seeded restart %#x, want %#x", v, maxSent+1)
	}
	// Or only the client's record is known.
	r = NewCounter(0)
	if v := r.Next(t0.Add(-time.Hour), maxSent); v != maxSent+1 {
		t.Errorf("client-last restart %#x, want %#x", v, maxSent+1)
	}
}

func TestCounterSaturates(t *testing.T) {
	c := NewCounter(^uint64(0) - 1)
	if v := c.Next(time.Unix(0, 0), 0); v != ^uint64(0) {
		t.Errorf("%#x", v)
	}
	if v := c.Next(time.Unix(0, 0), ^uint64(0)); v != ^uint64(0) {
		t.Errorf("did not saturate: %#x", v)
	}
}

func TestCounterConcurrent(t *testing.T) {
	c := NewCounter(0)
	now := time.Unix(1_700_000_000, 0)
	const workers, per = 8, 2000
	out := make([][]uint64, workers)
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() {
			for range per {
				out[i] = append(out[i], c.Next(now, 0))
			}
		})
	}
	wg.Wait()
	seen := make(map[uint64]bool, workers*per)
	for _, vs := range out {
		for j, v := range vs {
			if seen[v] {
				t.Fatalf("value %#x handed out twice", v)
			}
			seen[v] = true
			if j > 0 && v <= vs[j-1] {
				t.Fatalf("not increasing within a goroutine")
			}
		}
	}
	if c.Last() != TimeFloor(now)+workers*per-1 {
		t.Errorf("Last %#x, want %#x", c.Last(), TimeFloor(now)+workers*per-1)
	}
}
