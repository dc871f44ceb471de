package reconf

import (
	"bytes"
	"net/netip"
	"runtime"
	"testing"
	"time"
)

// TestRequestNotRecorded: a renewing request of a pending client changes
// its last event in memory only; the ACK that answers it is recorded (one
// record per outcome, not one per message seen).
func TestRequestNotRecorded(t *testing.T) {
	ls := bigLeases(2)
	m := NewManager()
	start(t, m, t0, Selector{Pool: "big"}, Options{Attempts: 2, Interval: time.Second}, ls)
	m.Due(t0)
	m.Records()
	ev := Event{Kind: EvRequestRenew, Addr: ls[0].Addr, Key: ls[0].ClientID}
	if !m.Note(at(time.Millisecond), ev) {
		t.Fatal("request of a pending client not noted")
	}
	if n := len(m.Records()); n != 0 {
		t.Errorf("a request produced %d records, want 0", n)
	}
	ev.Kind = EvAck
	if !m.Note(at(time.Millisecond), ev) {
		t.Fatal("ACK of a pending client not noted")
	}
	if n := len(m.Records()); n != 1 {
		t.Errorf("the ACK produced %d records, want 1", n)
	}
	if m.Note(at(time.Millisecond), ev) {
		t.Error("a finished client was noted again")
	}
}

// TestNoteAllocs: the server's per-message path (Note) allocates nothing.
func TestNoteAllocs(t *testing.T) {
	ls := bigLeases(1000)
	m := NewManager()
	start(t, m, t0, Selector{Pool: "big"}, Options{Attempts: 2, Interval: time.Second}, ls)
	m.Due(t0)
	m.Records()
	var recs []Record
	i := 0
	allocs := testing.AllocsPerRun(200, func() {
		l := &ls[i%len(ls)]
		i++
		m.Note(at(time.Millisecond), Event{Kind: EvRequestRenew, Addr: l.Addr, Key: l.ClientID})
		m.Note(at(time.Millisecond), Event{Kind: EvDeleted, Addr: netip.Addr{}, Key: []byte("no such client")})
		recs = m.AppendRecords(recs[:0])
	})
	if allocs != 0 {
		t.Errorf("Note + AppendRecords: %.1f allocations per run, want 0", allocs)
	}
}

// TestDueKeys: the keys of Due's actions come from shared chunks, yet each
// is a copy of its own (capacity = length: appending to one never writes
// into another), and Due allocates far less than once per action.
func TestDueKeys(t *testing.T) {
	const n = 5000
	ls := bigLeases(n)
	m := NewManager()
	start(t, m, t0, Selector{Pool: "big"}, Options{Attempts: 2, Interval: time.Second}, ls)
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	acts := m.Due(t0)
	runtime.ReadMemStats(&ms1)
	allocs := ms1.Mallocs - ms0.Mallocs
	if len(acts) != n {
		t.Fatalf("%d actions, want %d", len(acts), n)
	}
	if allocs > n/20 {
		t.Errorf("Due: %d allocations for %d actions", allocs, n)
	}
	keys := map[string]bool{}
	for i := range acts {
		a := &acts[i]
		if cap(a.Key) != len(a.Key) {
			t.Fatalf("action %d: key capacity %d > length %d", i, cap(a.Key), len(a.Key))
		}
		keys[string(a.Key)] = true
	}
	_ = append(acts[0].Key, 0xff) // must not write into acts[1].Key
	byAddr := map[netip.Addr][]byte{}
	for i := range ls {
		byAddr[ls[i].Addr] = ls[i].ClientID
	}
	for i := range acts {
		if want := byAddr[acts[i].Addr]; !bytes.Equal(acts[i].Key, want) {
			t.Fatalf("action %d for %v: key %x, want %x", i, acts[i].Addr, acts[i].Key, want)
		}
	}
	if len(keys) != n {
		t.Errorf("%d distinct keys, want %d", len(keys), n)
	}
}
