// Package deadline is the binary min-heap of deadlines both lease engines
// keep for offer holds and lease expiry.
//
// Entries are never updated in place: a renewal pushes a new entry and the
// old one is discarded when it surfaces, because the record's deadline no
// longer matches it (lazy deletion). A heap therefore holds at most about
// one entry per lease per renewal within one lease time.
package deadline

// Entry is one pending deadline: Key (an address) ends at Exp (Unix ns).
type Entry[K any] struct {
	Exp int64
	Key K
}

// Heap is a binary min-heap of entries ordered by Exp.
type Heap[K any] []Entry[K]

// Push adds e.
func (h *Heap[K]) Push(e Entry[K]) {
	*h = append(*h, e)
	s := *h
	i := len(s) - 1
	for i > 0 {
		p := (i - 1) / 2
		if s[p].Exp <= s[i].Exp {
			break
		}
		s[p], s[i] = s[i], s[p]
		i = p
	}
}

// Peek returns the earliest entry; ok is false when the heap is empty.
func (h Heap[K]) Peek() (Entry[K], bool) {
	if len(h) == 0 {
		return Entry[K]{}, false
	}
	return h[0], true
}

// Pop removes and returns the earliest entry; the heap must not be empty.
func (h *Heap[K]) Pop() Entry[K] {
	s := *h
	top := s[0]
	n := len(s) - 1
	s[0] = s[n]
	s = s[:n]
	i := 0
	for {
		l, r, m := 2*i+1, 2*i+2, i
		if l < n && s[l].Exp < s[m].Exp {
			m = l
		}
		if r < n && s[r].Exp < s[m].Exp {
			m = r
		}
		if m == i {
			break
		}
		s[i], s[m] = s[m], s[i]
		i = m
	}
	if cap(s) > 1024 && len(s) < cap(s)/4 { // give back a burst's memory
		s = append(make([]Entry[K], 0, cap(s)/2), s...)
	}
	*h = s
	return top
}
