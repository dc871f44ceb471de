package deadline

import (
	"math/rand/v2"
	"slices"
	"testing"
)

func TestHeapPopsInOrderAndShrinks(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var h Heap[uint32]
	var want []int64
	for i := range 5000 {
		e := r.Int64N(1000) // many equal deadlines
		h.Push(Entry[uint32]{Exp: e, Key: uint32(i)})
		want = append(want, e)
	}
	slices.Sort(want)
	for i, w := range want {
		top, ok := h.Peek()
		if !ok || top.Exp != w {
			t.Fatalf("peek %d: %v %v, want %d", i, top, ok, w)
		}
		if got := h.Pop(); got != top {
			t.Fatalf("pop %d: %v, peek said %v", i, got, top)
		}
	}
	if _, ok := h.Peek(); ok || len(h) != 0 {
		t.Fatalf("heap not empty: %d", len(h))
	}
	if cap(h) > 2048 {
		t.Fatalf("capacity %d kept after draining 5000 entries", cap(h))
	}
}
