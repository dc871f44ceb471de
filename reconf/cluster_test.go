package reconf

import (
	"errors"
	"testing"
	"time"
)

// TestAdoptDrop: a campaign handed from one manager to another through its
// records (a cluster server taking over the leadership): Adopt on a
// manager running another campaign resumes it where it was (outcomes,
// sends, next attempt); Drop on the old manager forgets it without a
// record (the store keeps the state the new leader writes), discards its
// queued records and unindexes its clients.
func TestAdoptDrop(t *testing.T) {
	o := DefaultOptions()
	o.Attempts, o.Interval, o.Pace = 4, time.Second, 0
	a := NewManager()
	st := start(t, a, at(0), Selector{Pool: "office"}, o, fixture())
	if got := len(a.Due(at(0))); got != st.Clients-st.Counts.NotCapable {
		t.Fatalf("first sends: %d, want %d", got, st.Clients-st.Counts.NotCapable)
	}
	if _, ok := a.Observe(at(100*time.Millisecond), Event{Kind: EvAck, Addr: ip("10.0.0.10"), Key: key("10.0.0.10")}); !ok {
		t.Fatal("ACK of 10.0.0.10 not observed")
	}
	recs := a.Records()

	// b runs its own campaign on another pool, then adopts a's.
	b := NewManager()
	b.ReserveIDs(st.ID)
	own := start(t, b, at(0), Selector{Pool: "lab"}, o, fixture())
	if err := b.Adopt(recs, at(200*time.Millisecond)); err != nil {
		t.Fatalf("Adopt: %v", err)
	}
	got, err := b.Status(st.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != Running || got.Counts.Renewed != 1 || got.Counts.Pending != st.Counts.Pending-1 || got.Sent != st.Clients-st.Counts.NotCapable {
		t.Fatalf("adopted status %+v, want running, 1 renewed, %d pending, %d sent", got, st.Counts.Pending-1, st.Clients-st.Counts.NotCapable)
	}
	if _, err := b.Status(own.ID); err != nil {
		t.Fatalf("b's own campaign after Adopt: %v", err)
	}
	if p := progress(t, b, st.ID, "10.0.0.10"); p.Outcome != Renewed {
		t.Fatalf("10.0.0.10 on b: %v, want renewed", p.Outcome)
	}
	// The next attempt comes from b, at the time a scheduled it.
	for _, x := range b.Due(at(500 * time.Millisecond)) {
		if x.Campaign == st.ID {
			t.Fatalf("b sends before the second attempt is due: %v", x)
		}
	}
	due := b.Due(at(1100 * time.Millisecond))
	n := 0
	for _, x := range due {
		if x.Campaign == st.ID {
			n++
		}
	}
	if n != st.Counts.Pending-1 {
		t.Fatalf("second attempts on b: %d, want %d", n, st.Counts.Pending-1)
	}
	if _, ok := b.Observe(at(1200*time.Millisecond), Event{Kind: EvAck, Addr: ip("10.0.0.11"), Key: key("10.0.0.11")}); !ok {
		t.Fatal("b does not observe a pending client of the adopted campaign")
	}
	if err := b.Adopt(recs, at(time.Second)); err == nil {
		t.Fatal("a second Adopt of the same campaign succeeded")
	}

	// a lost the leadership: Drop.
	if _, ok := a.Observe(at(300*time.Millisecond), Event{Kind: EvAck, Addr: ip("10.0.0.12"), Key: key("10.0.0.12")}); !ok {
		t.Fatal("ACK of 10.0.0.12 not observed on a")
	}
	if err := a.Drop(st.ID); err != nil {
		t.Fatal(err)
	}
	if recs := a.Records(); len(recs) != 0 {
		t.Fatalf("records after Drop: %d, want none (not even a tombstone)", len(recs))
	}
	if _, err := a.Status(st.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Status after Drop: %v, want ErrNotFound", err)
	}
	if _, ok := a.Observe(at(400*time.Millisecond), Event{Kind: EvAck, Addr: ip("10.0.0.13"), Key: key("10.0.0.13")}); ok {
		t.Fatal("a still observes clients of a dropped campaign")
	}
	if due := a.Due(at(time.Hour)); len(due) != 0 {
		t.Fatalf("a still acts for a dropped campaign: %v", due)
	}
	// The pool is free again on a: a new campaign may start there.
	if _, err := a.Start(at(time.Second), Selector{Pool: "office", Section: ptr(1)}, o, fixture()); err != nil {
		t.Fatalf("Start on the pool of a dropped campaign: %v", err)
	}
	if err := a.Drop(999); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Drop(unknown): %v", err)
	}
}

// TestForgetRecord: ForgetRecord removes a campaign at Restore like the
// tombstone Forget writes.
func TestForgetRecord(t *testing.T) {
	o := DefaultOptions()
	a := NewManager()
	st := start(t, a, at(0), Selector{Pool: "lab"}, o, fixture())
	recs := append(a.Records(), ForgetRecord(st.ID))
	if id, _, forget := recs[len(recs)-1].Key(); id != st.ID || !forget {
		t.Fatalf("ForgetRecord key: %d %v", id, forget)
	}
	b := NewManager()
	if err := b.Restore(recs, at(time.Second), true); err != nil {
		t.Fatal(err)
	}
	if l := b.List(); len(l) != 0 {
		t.Fatalf("after a ForgetRecord: %d campaigns restored", len(l))
	}
}
