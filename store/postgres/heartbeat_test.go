package postgres

import (
	"testing"
	"time"
)

// TestHeartbeatStall: HeartbeatStall reports the last accepted heartbeat,
// and the time one resumed after a gap of more than two periods — not
// after an ordinary period (server/cluster.go holds take-overs on it).
func TestHeartbeatStall(t *testing.T) {
	s := &Store{opts: Options{Heartbeat: 100 * time.Millisecond}}
	if last, resumed := s.HeartbeatStall(); !last.IsZero() || !resumed.IsZero() {
		t.Fatalf("before any heartbeat: %v %v, want zero times", last, resumed)
	}
	t0 := time.Date(2026, 12, 4, 22, 0, 0, 0, time.UTC)
	s.beaten(t0) // registered
	s.beaten(t0.Add(100 * time.Millisecond))
	s.beaten(t0.Add(250 * time.Millisecond)) // 150 ms: late, not a stall
	if last, resumed := s.HeartbeatStall(); !last.Equal(t0.Add(250*time.Millisecond)) || !resumed.IsZero() {
		t.Fatalf("ordinary beats: last %v resumed %v", last, resumed)
	}
	back := t0.Add(time.Second) // 750 ms without a heartbeat
	s.beaten(back)
	s.beaten(back.Add(100 * time.Millisecond))
	if last, resumed := s.HeartbeatStall(); !last.Equal(back.Add(100*time.Millisecond)) || !resumed.Equal(back) {
		t.Fatalf("after a stall: last %v resumed %v, want resumed %v", last, resumed, back)
	}
}
