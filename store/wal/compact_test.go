package wal

import (
	"context"
	"fmt"
	"iter"
	"math/rand/v2"
	"net/netip"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/leased/leased/lease"
)

// model stands in for the engine: it changes its state, then commits.
type model struct {
	mu  sync.Mutex
	seq uint64
	m   map[netip.Addr]lease.Lease
}

func (m *model) change(i int, tag string, del bool) lease.Lease {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.seq++
	l := sample(i)
	l.Seq, l.Hostname = m.seq, tag
	if del {
		l.State = lease.StateDeleted
		delete(m.m, l.Addr)
	} else {
		m.m[l.Addr] = l
	}
	return l
}

func (m *model) all() iter.Seq[lease.Lease] {
	return func(yield func(lease.Lease) bool) {
		m.mu.Lock()
		recs := make([]lease.Lease, 0, len(m.m))
		for _, l := range m.m {
			recs = append(recs, l)
		}
		m.mu.Unlock()
		for _, l := range recs {
			if !yield(l) {
				return
			}
		}
	}
}

func TestCompactWithConcurrentCommits(t *testing.T) {
	dir := t.TempDir()
	w := open(t, dir, Options{})
	loadAll(t, w)
	m := &model{m: make(map[netip.Addr]lease.Lease)}
	const writers, addrs, rounds = 8, 40, 150
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := range writers {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(g), 1))
			for i := range rounds {
				a := g*addrs + r.IntN(addrs)
				l := m.change(a, fmt.Sprintf("g%d-%d", g, i), r.IntN(10) == 0)
				if err := w.Commit(context.Background(), []lease.Lease{l}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	var compactions int
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
			if err := w.Compact(m.all(), nil); err != nil {
				t.Error(err)
				return
			}
			compactions++
		}
	})
	// Writers finish on their own; then stop the compactor.
	deadline := time.After(60 * time.Second)
	for {
		m.mu.Lock()
		done := m.seq == writers*rounds
		m.mu.Unlock()
		if done {
			break
		}
		select {
		case <-deadline:
			t.Fatal("writers did not finish")
		case <-time.After(time.Millisecond):
		}
	}
	close(stop)
	wg.Wait()
	if compactions == 0 {
		t.Fatal("no compaction ran")
	}
	st := w.Stats()
	t.Logf("%d compactions, stats %+v", compactions, st)

	// Only the newest snapshot and the segments from its number on remain.
	df, err := listDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(df.snapshots) != 1 || df.snapshots[0] != st.Snapshot {
		t.Errorf("snapshots %v, want only %d", df.snapshots, st.Snapshot)
	}
	for _, s := range df.segments {
		if s < st.Snapshot {
			t.Errorf("segment %d survived snapshot %d", s, st.Snapshot)
		}
	}
	want := m.m
	diff(t, want, reopen(t, w, dir))

	// A restart after compaction keeps working: commit, compact, restart.
	w = open(t, dir, Options{})
	diff(t, want, loadAll(t, w))
	l := m.change(5, "after", false)
	commit(t, w, l)
	if err := w.Compact(m.all(), nil); err != nil {
		t.Fatal(err)
	}
	diff(t, m.m, reopen(t, w, dir))
}

// A crash after the snapshot became durable but before old files were
// removed, and one while the snapshot was still a temporary file.
func TestCompactInterrupted(t *testing.T) {
	dir := t.TempDir()
	w := open(t, dir, Options{})
	recs := []lease.Lease{sample(1), sample(2), sample(3)}
	commit(t, w, recs...)
	old := copyDir(t, dir)
	if err := w.Compact(m3(recs), nil); err != nil {
		t.Fatal(err)
	}
	commit(t, w, sample(4))
	st := w.Stats()
	w.Close()

	// Old segment back in place: recovery removes it and loads the same.
	for _, s := range []uint64{1} {
		b, err := os.ReadFile(segPath(old, s))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(segPath(dir, s), b, 0o600)
	}
	// And a leftover temporary snapshot.
	os.WriteFile(dir+"/"+snapTmpName(st.Segment+1), []byte("partial"), 0o600)
	w = open(t, dir, Options{})
	diff(t, byAddr(append(recs, sample(4))...), loadAll(t, w))
	w.Close()
	df, _ := listDir(dir)
	if len(df.tmps) != 0 || df.segments[0] != st.Snapshot {
		t.Errorf("leftovers not removed: %+v", df)
	}
}

func m3(recs []lease.Lease) iter.Seq[lease.Lease] {
	return func(yield func(lease.Lease) bool) {
		for _, l := range recs {
			if !yield(l) {
				return
			}
		}
	}
}
