package reconf

// queue is a binary min-heap of (time, client index), ordered by time then
// index (address order, since clients are sorted by address). Entries are
// deleted lazily: an entry whose time no longer equals its client's next,
// or whose client left the queue's phase, is skipped when it surfaces.
type queue []entry

type entry struct {
	at int64
	i  int32
}

func (e entry) less(f entry) bool { return e.at < f.at || e.at == f.at && e.i < f.i }

func (q *queue) push(e entry) {
	*q = append(*q, e)
	h := *q
	j := len(h) - 1
	for j > 0 {
		p := (j - 1) / 2
		if !h[j].less(h[p]) {
			break
		}
		h[j], h[p] = h[p], h[j]
		j = p
	}
}

func (q queue) peek() (entry, bool) {
	if len(q) == 0 {
		return entry{}, false
	}
	return q[0], true
}

func (q *queue) pop() entry {
	h := *q
	top := h[0]
	n := len(h) - 1
	h[0] = h[n]
	h = h[:n]
	j := 0
	for {
		l := 2*j + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && h[r].less(h[l]) {
			m = r
		}
		if !h[m].less(h[j]) {
			break
		}
		h[j], h[m] = h[m], h[j]
		j = m
	}
	*q = h
	return top
}
