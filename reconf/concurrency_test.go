package reconf

import (
	"sync"
	"testing"
	"time"
)

// TestConcurrentUse exercises every method from several goroutines (run
// with -race); the counts must still add up.
func TestConcurrentUse(t *testing.T) {
	ls := bigLeases(2000)
	m := NewManager()
	st := start(t, m, t0, Selector{}, Options{Attempts: 2, Interval: time.Second, Pace: 0}, ls)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := g; i < len(ls); i += 4 {
				d := time.Duration(i) * time.Millisecond
				switch i % 3 {
				case 0:
					m.Observe(at(d), Event{Kind: EvAck, Addr: ls[i].Addr, Key: ls[i].ClientID})
				case 1:
					m.ShouldNAK(ls[i].Addr)
					m.Observe(at(d), Event{Kind: EvRelease, Addr: ls[i].Addr})
				}
				if i%100 == 0 {
					m.Status(st.ID)
					m.Clients(st.ID, ClientFilter{Limit: 10})
					m.NextWake(at(d))
					m.Records()
				}
			}
		})
	}
	wg.Go(func() {
		for d := time.Duration(0); d < 10*time.Second; d += 50 * time.Millisecond {
			m.Due(at(d))
			m.List()
		}
	})
	wg.Wait()
	for d := 10 * time.Second; d < time.Minute; d += time.Second {
		m.Due(at(d))
	}
	s, _ := m.Status(st.ID)
	total := 0
	for _, o := range Outcomes() {
		total += s.Counts.Get(o)
	}
	// The Due goroutine runs concurrently with the observers, so a client
	// may exhaust its attempts before its ACK or RELEASE is observed: which
	// of the two outcomes each client gets depends on scheduling, but every
	// client gets exactly one, and no other.
	c := s.Counts
	if total != len(ls) || c.Pending != 0 ||
		c.Renewed+c.Rebound > 667 || c.Released > 667 ||
		c.Renewed+c.Rebound+c.Released+c.NoResponse != len(ls) {
		t.Errorf("counts %+v (total %d)", c, total)
	}
}
