package reconf

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestOverridePrecedence: a pool setting over a global default (Over), and
// what the command gave explicitly removed from both (Without), applied to
// the command's options: command > pool > global > family default.
func TestOverridePrecedence(t *testing.T) {
	global := Override{Attempts: ptr(5), Interval: ptr(3 * time.Second), Pace: ptr(50), OnFailure: ptr(Recycle)}
	pool := Override{Attempts: ptr(2), Interval: ptr(time.Second), ForceNAK: ptr(true)}
	cmd := DefaultOptions()
	cmd.Attempts, cmd.Interval = 0, 0
	cmd.Attempts, cmd.Given = 7, FieldAttempts // --attempts 7 only

	ov := pool.Over(global).Without(cmd.Given)
	got := cmd.Apply(&ov).forPool("", false)
	want := Options{Attempts: 7, Interval: time.Second, Pace: 50, OnFailure: Recycle, ForceNAK: true}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("command attempts, pool interval/force-nak, global pace/on-failure (-want +got):\n%s", diff)
	}

	// nothing given: pool over global over the family defaults
	cmd = Options{Pace: DefaultPace}
	ov = Override{}.Over(Override{}).Without(0)
	if got := cmd.Apply(&ov).forPool("", true); got.Attempts != DefaultAttempts6 || got.Interval != DefaultInterval6 {
		t.Errorf("no setting at any level: %+v, want the DHCPv6 defaults", got)
	}
	ov = Override{}.Over(global)
	if got := cmd.Apply(&ov).forPool("", false); got.Attempts != 5 || got.Pace != 50 || got.OnFailure != Recycle {
		t.Errorf("global only: %+v", got)
	}
	// an explicit value equal to the built-in default still beats the pool
	cmd = Options{Attempts: 8, Pace: DefaultPace, Given: FieldAttempts | FieldPace | FieldOnFailure | FieldForceNAK}
	ov = pool.Over(global).Without(cmd.Given)
	if got := cmd.Apply(&ov); got.Attempts != 8 || got.Pace != DefaultPace || got.OnFailure != Restore || got.ForceNAK {
		t.Errorf("explicit defaults: %+v, want attempts 8, pace 1000, restore, no force NAK", got)
	}
}

// TestStatusPoolOptions: the status carries the options each pool's clients
// actually get, overrides and family defaults applied.
func TestStatusPoolOptions(t *testing.T) {
	m := NewManager()
	o := Options{Pace: 10, Pools: map[string]Override{"office": {Attempts: ptr(2), Interval: ptr(time.Second)}}}
	st := start(t, m, t0, Selector{}, o, fixture())
	if !slices.Equal(st.Pools, []string{"lab", "office"}) {
		t.Fatalf("pools %v", st.Pools)
	}
	want := []Options{
		{Attempts: DefaultAttempts, Interval: DefaultInterval, Pace: 10},
		{Attempts: 2, Interval: time.Second, Pace: 10},
	}
	if diff := cmp.Diff(want, st.PoolOptions); diff != "" {
		t.Errorf("PoolOptions (-want +got):\n%s", diff)
	}
	// after a restart the same effective values
	m2 := NewManager()
	if err := m2.Restore(m.Records(), at(time.Second), true); err != nil {
		t.Fatal(err)
	}
	got, err := m2.Status(st.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got.PoolOptions); diff != "" {
		t.Errorf("restored PoolOptions (-want +got):\n%s", diff)
	}
}

// TestStartExisting: an identical start returns the running campaign
// marked Existing; a new one is not.
func TestStartExisting(t *testing.T) {
	m := NewManager()
	o := DefaultOptions()
	st := start(t, m, t0, Selector{Pool: "office"}, o, fixture())
	if st.Existing {
		t.Errorf("new campaign marked existing")
	}
	m.Due(t0)
	again := start(t, m, at(time.Second), Selector{Pool: "office"}, o, fixture())
	if !again.Existing || again.ID != st.ID || again.Sent == 0 {
		t.Errorf("identical start: %+v, want campaign %d existing with its progress", again, st.ID)
	}
	if s, _ := m.Status(st.ID); s.Existing {
		t.Errorf("Status marks the campaign existing")
	}
}

// TestPrune: finished campaigns are forgotten by age and by count; running
// ones never; each leaves a tombstone so a restore does not bring it back.
func TestPrune(t *testing.T) {
	m := NewManager()
	ls := fixture()
	// campaigns 1..4, one per client, stopped at 0:01, 0:11, 0:21, 0:31
	clients := []string{"10.0.0.10", "10.0.0.11", "10.0.0.12", "10.0.0.13"}
	for i, c := range clients {
		st := start(t, m, at(time.Duration(i)*10*time.Minute), Selector{Client: c}, DefaultOptions(), ls)
		if _, err := m.Stop(at(time.Duration(i)*10*time.Minute+time.Minute), st.ID); err != nil {
			t.Fatal(err)
		}
	}
	running := start(t, m, at(-48*time.Hour), Selector{Pool: "lab"}, DefaultOptions(), ls) // id 5, old but running
	m.Records()

	// age: at 0:40, a 25 min retention forgets campaigns ended at 0:01 and 0:11
	now := at(40 * time.Minute)
	if got := m.Prune(now, 25*time.Minute, 0); !slices.Equal(got, []uint32{1, 2}) {
		t.Errorf("Prune by age = %v, want [1 2]", got)
	}
	if got := m.Prune(now, 25*time.Minute, 0); got != nil {
		t.Errorf("second Prune = %v, want nothing", got)
	}
	// count: keep the newest finished one
	if got := m.Prune(now, 0, 1); !slices.Equal(got, []uint32{3}) {
		t.Errorf("Prune keep 1 = %v, want [3]", got)
	}
	var ids []uint32
	for _, st := range m.List() {
		ids = append(ids, st.ID)
	}
	if !slices.Equal(ids, []uint32{4, running.ID}) {
		t.Errorf("left %v, want [4 %d]", ids, running.ID)
	}
	if _, err := m.Status(1); !errors.Is(err, ErrNotFound) {
		t.Errorf("Status(pruned) = %v", err)
	}
	recs := m.Records()
	forgot := 0
	for _, r := range recs {
		if _, _, f := r.Key(); f {
			forgot++
		}
	}
	if forgot != 3 {
		t.Errorf("%d tombstones, want 3", forgot)
	}
	// Forget of a running campaign: ErrRunning
	if err := m.Forget(running.ID); !errors.Is(err, ErrRunning) {
		t.Errorf("Forget(running) = %v, want ErrRunning", err)
	}
	// IDs are not reused after ReserveIDs
	m2 := NewManager()
	m2.ReserveIDs(9)
	if st := start(t, m2, t0, Selector{Pool: "lab"}, DefaultOptions(), ls); st.ID != 10 {
		t.Errorf("first ID after ReserveIDs(9) = %d, want 10", st.ID)
	}
}
