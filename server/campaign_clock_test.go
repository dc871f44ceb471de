package server

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/leased/leased/reconf"
)

// fakeClock is a Clock that moves only when the test advances it.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []fakeWaiter
}

type fakeWaiter struct {
	at time.Time
	ch chan time.Time
}

func newFakeClock(now time.Time) *fakeClock { return &fakeClock{now: now} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.waiters = append(c.waiters, fakeWaiter{at: c.now.Add(d), ch: ch})
	return ch
}

// Advance moves the clock by d and fires the timers that are due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if !w.at.After(c.now) {
			w.ch <- c.now
		} else {
			kept = append(kept, w)
		}
	}
	c.waiters = kept
}

// TestCampaignFakeClock: campaign timing follows the injected clock, not
// wall time. A silent client of a campaign with 3 attempts 10 minutes
// apart (sends at 0, +10 min, +30 min; no_response at +70 min of fake
// time; the expiry tick, on the wall clock, is held off) gets its attempts
// when the test moves the clock, and none before: the test takes
// milliseconds.
func TestCampaignFakeClock(t *testing.T) {
	clk := newFakeClock(time.Now())
	n := newSimNetWith(t, t.TempDir(), campConfig(), CampaignConfig{}, nil, func(o *Options) {
		o.Clock = clk
		o.ExpireInterval = time.Hour // no expiry tick while the clock moves
	})
	c := n.bind(1, 0)[0]
	n.setSilent(true, c)
	o := fast()
	o.Attempts, o.Interval = 3, 10*time.Minute
	start := time.Now()
	st, err := n.s.StartCampaign(context.Background(), reconf.Selector{Pool: "loop"}, o)
	if err != nil {
		t.Fatal(err)
	}
	sent := func(want int) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			p := outcomes(t, n.s, st.ID)[c.addr]
			if int(p.Sent) == want && n.get(c).frs == want {
				return
			}
			if int(p.Sent) > want || time.Now().After(deadline) {
				t.Fatalf("after %d sends due: progress %+v, %d FORCERENEWs received", want, p, n.get(c).frs)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	sent(1) // at once
	clk.Advance(9 * time.Minute)
	n.s.wakeCampaigns() // the loop recomputes its wake-up: nothing due yet
	clk.Advance(59 * time.Second)
	if p := outcomes(t, n.s, st.ID)[c.addr]; p.Sent != 1 {
		t.Fatalf("second attempt before its time: %+v", p)
	}
	clk.Advance(time.Second) // +10 min
	sent(2)
	clk.Advance(20 * time.Minute) // +30 min
	sent(3)
	clk.Advance(40 * time.Minute) // +70 min: attempts exhausted
	end := n.waitDone(st.ID, 5*time.Second)
	if end.Counts.NoResponse != 1 {
		t.Fatalf("counts %+v, want the silent client no_response", end.Counts)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("70 minutes of campaign took %v of wall time", d)
	}
}
