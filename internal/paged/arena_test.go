package paged

import "testing"

func TestArenaIndexesAndPointersStayValid(t *testing.T) {
	var a Arena[[2]int]
	first := a.At(a.Push([2]int{0, 0}))
	const n = 3<<PageBits + 17
	for i := 1; i < n; i++ {
		if got := a.Push([2]int{i, -i}); got != int32(i) {
			t.Fatalf("push %d returned index %d", i, got)
		}
	}
	if a.Len() != n {
		t.Fatalf("Len %d, want %d", a.Len(), n)
	}
	first[1] = 42 // a pointer taken before growth still points into the arena
	if a.At(0)[1] != 42 {
		t.Fatal("growth moved record 0")
	}
	for i := 1; i < n; i++ {
		if r := a.At(int32(i)); r[0] != i || r[1] != -i {
			t.Fatalf("record %d is %v", i, *r)
		}
	}
}
