package main

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestBucketsContiguous(t *testing.T) {
	// Every value falls in a bucket whose range contains it, and bucket
	// ranges tile the line without gaps.
	var prevHi uint64
	for b := 0; b < histBuckets-subBuckets; b++ {
		lo, hi := bucketRange(b)
		if b > 0 && lo != prevHi+1 {
			t.Fatalf("bucket %d starts at %d, previous ended at %d", b, lo, prevHi)
		}
		prevHi = hi
		if bucketOf(lo) != b || bucketOf(hi) != b {
			t.Fatalf("bucket %d [%d,%d]: bucketOf(lo)=%d bucketOf(hi)=%d", b, lo, hi, bucketOf(lo), bucketOf(hi))
		}
		if b > 2*subBuckets && float64(hi-lo+1)/float64(lo) > 1.0/subBuckets+1e-9 {
			t.Fatalf("bucket %d [%d,%d] wider than 1/%d of its value", b, lo, hi, subBuckets)
		}
	}
	if bucketOf(math.MaxUint64) >= histBuckets {
		t.Fatal("max value out of range")
	}
}

func TestQuantileExactSmall(t *testing.T) {
	var h hist
	for v := 1; v <= 10; v++ {
		h.record(time.Duration(v) * time.Microsecond)
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 5 * time.Microsecond}, {0.9, 9 * time.Microsecond}, {0.99, 10 * time.Microsecond}, {0, time.Microsecond}, {1, 10 * time.Microsecond}} {
		if got := h.quantile(c.q); got != c.want {
			t.Errorf("q%.2f = %v, want %v", c.q, got, c.want)
		}
	}
	if h.mean() != 5*time.Microsecond {
		t.Errorf("mean %v", h.mean())
	}
	var empty hist
	if empty.quantile(0.5) != 0 {
		t.Error("empty histogram")
	}
}

// TestQuantileVsSorted compares against exact percentiles of random
// log-normal-ish latencies: within the bucket resolution.
func TestQuantileVsSorted(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var a, b hist
	var all []time.Duration
	for i := range 100_000 {
		d := time.Duration(math.Exp(r.NormFloat64()*1.5+6)) * time.Microsecond
		all = append(all, d)
		if i%2 == 0 {
			a.record(d)
		} else {
			b.record(d)
		}
	}
	a.merge(&b)
	slices.Sort(all)
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999} {
		exact := all[int(math.Ceil(q*float64(len(all))))-1]
		got := a.quantile(q)
		if got < exact || float64(got-exact) > float64(exact)/subBuckets+float64(time.Microsecond) {
			t.Errorf("q%v: got %v, exact %v (allowed +%.1f%%)", q, got, exact, 100.0/subBuckets)
		}
	}
	if a.n != uint64(len(all)) || time.Duration(a.max)*time.Microsecond != all[len(all)-1].Truncate(time.Microsecond) {
		t.Errorf("n %d max %d", a.n, a.max)
	}
}
