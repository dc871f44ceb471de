package reconf

import (
	"errors"
	"testing"
	"time"
)

// TestDeletedNotCapable (issue #10 item 4): when the server deletes the
// lease of a client that was not capable (leasectl disconnect of a udhcpc
// client), the campaign reports it deleted — not not_capable, which said
// nothing about the lease being gone — and its progress still says it
// could not be reconfigured (Capable false), also after a restart.
func TestDeletedNotCapable(t *testing.T) {
	m := NewManager()
	st := start(t, m, t0, Selector{Client: "10.0.1.15"}, Options{OnFailure: Delete, ForceNAK: true}, fixture())
	if st.Counts.NotCapable != 1 || st.State != Done {
		t.Fatalf("start: %+v", st)
	}
	got, err := m.Deleted(at(time.Second), st.ID, ip("10.0.1.15"))
	if err != nil {
		t.Fatal(err)
	}
	if got.Counts.Deleted != 1 || got.Counts.NotCapable != 0 || got.State != Done {
		t.Fatalf("status after delete: %+v", got)
	}
	p := progress(t, m, st.ID, "10.0.1.15")
	if p.Outcome != Deleted || p.Capable || p.Last != EvDeleted || !p.When.Equal(at(time.Second)) {
		t.Fatalf("progress %+v, want deleted, not capable", p)
	}
	m2 := NewManager()
	if err := m2.Restore(roundTrip(t, m.Records()), at(2*time.Second), true); err != nil {
		t.Fatal(err)
	}
	if p2 := progress(t, m2, st.ID, "10.0.1.15"); p2.Outcome != Deleted || p2.Capable {
		t.Fatalf("after restore %+v", p2)
	}
	if s2, _ := m2.Status(st.ID); s2.Counts.Deleted != 1 || s2.Counts.NotCapable != 0 {
		t.Fatalf("counts after restore %+v", s2.Counts)
	}
	// Only a not_capable client of an existing campaign.
	if _, err := m.Deleted(t0, st.ID, ip("10.0.1.15")); err == nil {
		t.Error("second Deleted accepted")
	}
	if _, err := m.Deleted(t0, st.ID+7, ip("10.0.1.15")); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown campaign: %v", err)
	}
	st2 := start(t, m, t0, Selector{Client: "10.0.0.10"}, Options{OnFailure: Delete}, fixture())
	if _, err := m.Deleted(t0, st2.ID, ip("10.0.0.11")); !errors.Is(err, ErrNotFound) {
		t.Errorf("address not in the campaign: %v", err)
	}
	if _, err := m.Deleted(t0, st2.ID, ip("10.0.0.10")); err == nil {
		t.Error("pending client accepted")
	}
}
