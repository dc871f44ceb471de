package main

import (
	"math"
	"math/bits"
	"time"
)

// hist is a latency histogram with log-linear buckets (HDR-like): values in
// microseconds, each power of two split into subBuckets linear buckets, so
// a reported percentile is within 1/subBuckets (3.1 %) of the true value.
// Fixed size, no allocation per sample; merge by adding counts.
type hist struct {
	counts [histBuckets]uint64
	n      uint64
	sum    uint64 // µs
	max    uint64 // µs
}

const (
	subBits     = 5
	subBuckets  = 1 << subBits
	histBuckets = (64 - subBits + 1) * subBuckets
)

// bucketOf returns the bucket index of v (µs). Values below 2·subBuckets
// get one bucket each; above, v = m<<s with m in [subBuckets, 2·subBuckets)
// lands in bucket (s+1)·subBuckets + m - subBuckets, covering [m<<s, (m+1)<<s).
func bucketOf(v uint64) int {
	if v < 2*subBuckets {
		return int(v)
	}
	s := bits.Len64(v) - (subBits + 1)
	m := v >> uint(s)
	return (s+1)*subBuckets + int(m-subBuckets)
}

// bucketRange returns the smallest and largest value of bucket b.
func bucketRange(b int) (lo, hi uint64) {
	if b < 2*subBuckets {
		return uint64(b), uint64(b)
	}
	s := b/subBuckets - 1
	m := uint64(b%subBuckets + subBuckets)
	return m << uint(s), (m+1)<<uint(s) - 1
}

func (h *hist) record(d time.Duration) {
	v := uint64(max(d.Microseconds(), 0))
	h.counts[bucketOf(v)]++
	h.n++
	h.sum += v
	h.max = max(h.max, v)
}

func (h *hist) merge(o *hist) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.sum += o.sum
	h.max = max(h.max, o.max)
}

// quantile returns the value at quantile q (0..1): the upper edge of the
// bucket holding the ceil(q·n)-th smallest sample, capped at the maximum
// seen. 0 when empty.
func (h *hist) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	rank = min(max(rank, 1), h.n)
	var seen uint64
	for b, c := range h.counts {
		seen += c
		if seen >= rank {
			_, hi := bucketRange(b)
			return time.Duration(min(hi, h.max)) * time.Microsecond
		}
	}
	return time.Duration(h.max) * time.Microsecond
}

func (h *hist) mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return time.Duration(h.sum/h.n) * time.Microsecond
}
