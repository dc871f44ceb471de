package lease6

import "net/netip"

// timer is one pending deadline: the record (or offer) at addr ends at exp.
// Entries are never updated in place; a renewal pushes a new entry and the
// stale one is skipped when it surfaces because the record's deadline no
// longer matches (lazy deletion), as in package lease.
type timer struct {
	exp  int64
	addr netip.Addr
}

// timers is a binary min-heap ordered by exp.
type timers []timer

func (h *timers) push(t timer) {
	*h = append(*h, t)
	s := *h
	i := len(s) - 1
	for i > 0 {
		p := (i - 1) / 2
		if s[p].exp <= s[i].exp {
			break
		}
		s[p], s[i] = s[i], s[p]
		i = p
	}
}

func (h timers) peek() (timer, bool) {
	if len(h) == 0 {
		return timer{}, false
	}
	return h[0], true
}

func (h *timers) pop() timer {
	s := *h
	top := s[0]
	n := len(s) - 1
	s[0] = s[n]
	s = s[:n]
	i := 0
	for {
		l, r, m := 2*i+1, 2*i+2, i
		if l < n && s[l].exp < s[m].exp {
			m = l
		}
		if r < n && s[r].exp < s[m].exp {
			m = r
		}
		if m == i {
			break
		}
		s[i], s[m] = s[m], s[i]
		i = m
	}
	if cap(s) > 1024 && len(s) < cap(s)/4 {
		s = append(make([]timer, 0, cap(s)/2), s...)
	}
	*h = s
	return top
}
