// Package paged is the record arena both lease engines keep their records
// in: fixed-size pages, so indexes (int32) are stable, pointers to records
// stay valid and growth never copies.
//
// Growing one slice instead copied the whole arena, and with the old and
// the new array both alive the collector's heap goal (GOGC=100) doubled on
// top of them: ~750 MB resident at 1M DHCPv4 leases (docs/BENCHMARKS.md).
package paged

// PageBits: the arena grows by pages of 1<<PageBits records (4096).
const PageBits = 12

// Arena holds records of type T in pages.
type Arena[T any] struct {
	pages [][]T
	n     int
}

// Len is the number of records pushed.
func (a *Arena[T]) Len() int { return a.n }

// At returns the record at index i (0 ≤ i < Len).
func (a *Arena[T]) At(i int32) *T { return &a.pages[i>>PageBits][i&(1<<PageBits-1)] }

// Push appends r and returns its index.
func (a *Arena[T]) Push(r T) int32 {
	if a.n == len(a.pages)<<PageBits {
		a.pages = append(a.pages, make([]T, 1<<PageBits))
	}
	i := int32(a.n)
	a.n++
	*a.At(i) = r
	return i
}
