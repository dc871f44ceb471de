package wal

import (
	"net/netip"
	"testing"

	"github.com/leased/leased/lease"
)

// TestLoadBorrowed: LoadBorrowed yields what Load yields (the winners of a
// snapshot plus segments, DHCPv4 and DHCPv6, with superseded records and
// tombstones on both sides of the snapshot), Recovered counts them, and a
// second load is refused.
func TestLoadBorrowed(t *testing.T) {
	dir := t.TempDir()
	w := open(t, dir, Options{})
	v6 := func(i int) lease.Lease {
		l := sample(i)
		l.Addr = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 14: byte(i >> 8), 15: byte(i)})
		l.IAID, l.PrefixLen = uint32(i), 64
		return l
	}
	var all []lease.Lease
	for i := range 40 {
		all = append(all, sample(i), v6(i))
	}
	commit(t, w, all...)
	seq := uint64(1000)
	next := func(l lease.Lease, st lease.State) lease.Lease {
		seq++
		l.Seq, l.State, l.Hostname = seq, st, "newer"
		return l
	}
	// Before the snapshot: superseded and deleted records.
	commit(t, w, next(sample(1), lease.StateExpired), next(v6(2), lease.StateDeleted), next(sample(3), lease.StateDeleted))
	if err := w.Load(func(lease.Lease) error { return nil }); err != nil {
		t.Fatal(err)
	}
	w.Close()
	w = open(t, dir, Options{})
	want := loadAll(t, w)
	snap := make([]lease.Lease, 0, len(want))
	for _, l := range want {
		snap = append(snap, l)
	}
	if err := w.Compact(func(yield func(lease.Lease) bool) {
		for _, l := range snap {
			if !yield(l) {
				return
			}
		}
	}, nil); err != nil {
		t.Fatal(err)
	}
	// After the snapshot: a record superseding one of the snapshot, a
	// tombstone, a new address, an older record that must lose, and the
	// same Seq written twice (the later one wins).
	late := []lease.Lease{next(sample(5), lease.StateReleased), next(v6(6), lease.StateDeleted), sample(100)}
	old := sample(7)
	old.Seq, old.Hostname = 1, "older"
	twice := next(v6(8), lease.StateBound)
	again := twice
	again.Hostname = "again"
	commit(t, w, append(late, old, twice, again)...)
	for _, l := range late {
		if l.State == lease.StateDeleted {
			delete(want, l.Addr)
		} else {
			want[l.Addr] = l
		}
	}
	want[again.Addr] = again
	w.Close()

	w = open(t, dir, Options{})
	if n := w.Recovered(); n != len(want) {
		t.Errorf("Recovered() = %d, want %d", n, len(want))
	}
	got := map[netip.Addr]lease.Lease{}
	if err := w.LoadBorrowed(func(l *lease.Lease) error {
		if _, dup := got[l.Addr]; dup {
			t.Errorf("%v yielded twice", l.Addr)
		}
		got[l.Addr] = l.Clone()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	diff(t, want, got)
	if w.Recovered() != 0 {
		t.Errorf("Recovered() after LoadBorrowed = %d, want 0", w.Recovered())
	}
	if err := w.Load(func(lease.Lease) error { return nil }); err == nil {
		t.Error("Load after LoadBorrowed succeeded")
	}
	w.Close()
	w = open(t, dir, Options{})
	defer w.Close()
	diff(t, want, loadAll(t, w))
}

// TestSnapshotCount: the end marker's count is found from the end of a
// snapshot, and anything else gives no hint.
func TestSnapshotCount(t *testing.T) {
	hdr := appendHeader(nil, magicSnapshot, 0)
	data := hdr
	for i := range 300 {
		var err error
		if data, err = appendLeaseFrame(data, func() *lease.Lease { l := sample(i); return &l }()); err != nil {
			t.Fatal(err)
		}
	}
	end := appendFrame(append([]byte(nil), data...), kindSnapEnd, []byte{0xac, 0x02}) // 300
	if got := snapshotCount(end); got != 300 {
		t.Errorf("snapshotCount = %d, want 300", got)
	}
	if got := snapshotCount(data); got != 0 {
		t.Errorf("snapshotCount without an end marker = %d, want 0", got)
	}
	if got := snapshotCount(end[:len(end)-1]); got != 0 {
		t.Errorf("snapshotCount of a torn end marker = %d, want 0", got)
	}
	if got := snapshotCount(hdr[:10]); got != 0 {
		t.Errorf("snapshotCount of a short file = %d, want 0", got)
	}
}

// TestSnapshotRepeatsAddress: a snapshot leased did not write may repeat
// an address; recovery then resolves it as any other records (highest Seq,
// later position on a tie), and a segment record with the same Seq as the
// snapshot's wins (later position).
func TestSnapshotRepeatsAddress(t *testing.T) {
	at := func(i int, seq uint64, host string) lease.Lease {
		l := sample(i)
		l.Seq, l.Hostname = seq, host
		return l
	}
	tests := []struct {
		name string
		snap []lease.Lease
		seg  []lease.Lease
		want []lease.Lease
	}{
		{"older copy later", []lease.Lease{at(1, 5, "new"), at(2, 6, "b"), at(1, 3, "old")}, nil,
			[]lease.Lease{at(1, 5, "new"), at(2, 6, "b")}},
		{"newer copy later", []lease.Lease{at(1, 3, "old"), at(2, 6, "b"), at(1, 5, "new")}, nil,
			[]lease.Lease{at(1, 5, "new"), at(2, 6, "b")}},
		{"same seq twice", []lease.Lease{at(1, 5, "first"), at(1, 5, "second")}, nil,
			[]lease.Lease{at(1, 5, "second")}},
		{"segment ties the snapshot", []lease.Lease{at(1, 5, "snap"), at(2, 6, "b")}, []lease.Lease{at(1, 5, "seg"), at(2, 4, "older")},
			[]lease.Lease{at(1, 5, "seg"), at(2, 6, "b")}},
		{"repeat then segment", []lease.Lease{at(1, 5, "a"), at(1, 7, "b"), at(3, 1, "c")}, []lease.Lease{at(1, 6, "seg"), at(3, 2, "seg3")},
			[]lease.Lease{at(1, 7, "b"), at(3, 2, "seg3")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			w := open(t, dir, Options{})
			if err := w.Load(func(lease.Lease) error { return nil }); err != nil {
				t.Fatal(err)
			}
			if err := w.Compact(func(yield func(lease.Lease) bool) {
				for _, l := range tt.snap {
					if !yield(l) {
						return
					}
				}
			}, nil); err != nil {
				t.Fatal(err)
			}
			if len(tt.seg) > 0 {
				commit(t, w, tt.seg...)
			}
			w.Close()
			w = open(t, dir, Options{})
			defer w.Close()
			if n := w.Recovered(); n != len(tt.want) {
				t.Errorf("Recovered() = %d, want %d", n, len(tt.want))
			}
			diff(t, byAddr(tt.want...), loadAll(t, w))
		})
	}
}
