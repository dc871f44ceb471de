package status

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/leased/leased/api"
	"github.com/leased/leased/reconf"
)

// Event is one line of the page's "recent events".
type Event struct {
	Time time.Time `json:"time"`
	// Kind is campaign, health or server.
	Kind    string `json:"kind"`
	Message string `json:"message"`
}

// Events is a bounded ring of recent events, newest last. It is fed off
// the request path: Watch samples the backend once a second and records
// what changed (a campaign started, progressed or ended; health changed
// state or gained a reason), and leased adds its own (reloads, start,
// stop) with Add. The zero value is not usable; call NewEvents.
type Events struct {
	mu   sync.Mutex
	ring []Event
	next int
	full bool
}

// NewEvents returns a ring that keeps the last n events.
func NewEvents(n int) *Events { return &Events{ring: make([]Event, max(n, 1))} }

// Add records one event now.
func (e *Events) Add(kind, msg string) {
	e.add(Event{Time: time.Now().UTC(), Kind: kind, Message: msg})
}

func (e *Events) add(ev Event) {
	e.mu.Lock()
	e.ring[e.next] = ev
	e.next++
	if e.next == len(e.ring) {
		e.next, e.full = 0, true
	}
	e.mu.Unlock()
}

// Recent returns the events held, newest first.
func (e *Events) Recent() []Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := e.next
	if e.full {
		n = len(e.ring)
	}
	out := make([]Event, 0, n)
	for i := 1; i <= n; i++ {
		out = append(out, e.ring[(e.next-i+len(e.ring))%len(e.ring)])
	}
	return out
}

// watcher remembers the last sample to report differences.
type watcher struct {
	ev        *Events
	status    string
	reasons   map[string]bool
	campaigns map[uint32]reconf.CampaignStatus
	first     bool
}

// Watch samples b every interval until ctx ends and adds an event for
// each change: health status and new reasons, campaigns started, their
// outcome counts moving, campaigns ending. It reads only what the API's
// GET routes read, so it never touches the packet path.
func Watch(ctx context.Context, b api.Backend, ev *Events, interval time.Duration) {
	w := &watcher{ev: ev, reasons: map[string]bool{}, campaigns: map[uint32]reconf.CampaignStatus{}, first: true}
	c, _ := b.(api.Campaigns)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		w.sample(b, c)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (w *watcher) sample(b api.Backend, c api.Campaigns) {
	h := b.Health()
	changed := h.Status != w.status // its message names the reasons
	if changed {
		msg := "health " + h.Status
		if h.Message != "" {
			msg += ": " + h.Message
		}
		if !(w.first && h.Status == "ok") {
			w.ev.Add("health", msg)
		}
		w.status = h.Status
	}
	now := map[string]bool{}
	for _, r := range h.Reasons {
		now[r.Code] = true
		if !w.reasons[r.Code] && !changed && !w.first {
			w.ev.Add("health", fmt.Sprintf("%s (%s): %s", r.Code, r.Severity, r.Message))
		}
	}
	w.reasons = now
	w.first = false
	if c == nil {
		return
	}
	cur := map[uint32]reconf.CampaignStatus{} // forgotten campaigns drop out
	defer func() { w.campaigns = cur }()
	for _, s := range c.Campaigns() {
		old, seen := w.campaigns[s.ID]
		cur[s.ID] = s
		switch {
		case !seen:
			if s.State == reconf.Running {
				w.ev.Add("campaign", fmt.Sprintf("campaign %d started: %s, %d clients", s.ID, s.Selector, s.Clients))
			}
		case old.State == reconf.Running && s.State != reconf.Running:
			w.ev.Add("campaign", fmt.Sprintf("campaign %d %s: %s", s.ID, s.State, counts(s.Counts)))
		case s.State == reconf.Running && (s.Counts != old.Counts || s.Sent != old.Sent):
			w.ev.Add("campaign", fmt.Sprintf("campaign %d: %d sent, %s", s.ID, s.Sent, counts(s.Counts)))
		}
	}
}

// counts lists the outcomes with a non-zero count: "pending 2, renewed 1".
func counts(c reconf.Counts) string {
	var parts []string
	for _, o := range reconf.Outcomes() {
		if n := c.Get(o); n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", o, n))
		}
	}
	if len(parts) == 0 {
		return "no clients"
	}
	return strings.Join(parts, ", ")
}
