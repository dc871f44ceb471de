package reconf

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/leased/leased/lease"
)

func TestSelect(t *testing.T) {
	one, zero := 1, 0
	office0 := []string{"10.0.0.10", "10.0.0.11", "10.0.0.12", "10.0.0.13", "10.0.0.14"}
	office1 := []string{"10.0.1.10", "10.0.1.11", "10.0.1.12", "10.0.1.13", "10.0.1.14", "10.0.1.15"}
	lab := []string{"10.1.0.5", "10.1.0.6"}
	tests := []struct {
		name string
		sel  Selector
		want []string
	}{
		{"all", Selector{}, slices.Concat(office0, office1, lab)},
		{"pool", Selector{Pool: "office"}, slices.Concat(office0, office1)},
		{"section 0", Selector{Pool: "office", Section: &zero}, office0},
		{"section 1", Selector{Pool: "office", Section: &one}, office1},
		{"section+range", Selector{Pool: "office", Section: &one, From: ip("10.0.1.11"), To: ip("10.0.1.13")},
			[]string{"10.0.1.11", "10.0.1.12", "10.0.1.13"}},
		{"section+range outside section", Selector{Pool: "office", Section: &zero, From: ip("10.0.1.11"), To: ip("10.0.1.13")}, nil},
		{"range across pools", Selector{From: ip("10.0.1.14"), To: ip("10.1.0.5")}, []string{"10.0.1.14", "10.0.1.15", "10.1.0.5"}},
		{"range one address", Selector{From: ip("10.0.0.12"), To: ip("10.0.0.12")}, []string{"10.0.0.12"}},
		{"client by address", Selector{Client: "10.1.0.6"}, []string{"10.1.0.6"}},
		{"client by MAC", Selector{Client: "02:00:0a:00:00:0b"}, []string{"10.0.0.11"}},
		{"client by MAC dashes upper", Selector{Client: "02-00-0A-00-00-0B"}, []string{"10.0.0.11"}},
		{"client by MAC cisco", Selector{Client: "0200.0a00.000b"}, []string{"10.0.0.11"}},
		{"client by client id", Selector{Client: "0102000a00010c"}, []string{"10.0.1.12"}},
		{"client + pool mismatch", Selector{Pool: "lab", Client: "10.0.0.10"}, nil},
		{"released lease not selected", Selector{Client: "10.0.0.20"}, nil},
		{"expired bound lease not selected", Selector{Client: "10.0.0.21"}, nil},
		{"declined lease not selected", Selector{Client: "10.0.0.22"}, nil},
		{"unknown pool", Selector{Pool: "nope"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := NewManager()
			st, err := m.Start(t0, tc.sel, DefaultOptions(), fixture())
			if tc.want == nil {
				if !errors.Is(err, ErrNoClients) {
					t.Fatalf("Start = %v, %v; want ErrNoClients", st, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			cs, _ := m.Clients(st.ID, ClientFilter{})
			var got []string
			for _, c := range cs {
				got = append(got, c.Addr.String())
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("selected (-want +got):\n%s", d)
			}
			if st.Clients != len(tc.want) {
				t.Errorf("Clients = %d, want %d", st.Clients, len(tc.want))
			}
		})
	}
}

func TestSelectorErrors(t *testing.T) {
	one := 1
	neg := -1
	for _, sel := range []Selector{
		{Section: &one},
		{Pool: "office", Section: &neg},
		{From: ip("10.0.0.1")},
		{From: ip("10.0.0.9"), To: ip("10.0.0.1")},
		{From: ip("10.0.0.1"), To: ip("2001:db8::2")}, // one family per range
		{From: ip("2001:db8::1"), To: ip("2001:db8::2"), Family: 4},
		{PrefixPool: "office6", Pool: "other"},
		{PrefixPool: "office6", Family: 4},
		{Family: 5},
		{PrefixPool: "office6", Client: "000300010200000000aa"},
		{Pool: "office", Section: &one, Client: "10.0.0.1"},
		{Client: "not-a-mac"},
	} {
		_, err := NewManager().Start(t0, sel, DefaultOptions(), fixture())
		if !errors.Is(err, ErrSelector) {
			t.Errorf("Start(%+v) = %v, want ErrSelector", sel, err)
		}
	}
}

func TestOptionErrors(t *testing.T) {
	for _, o := range []Options{
		{Attempts: MaxAttempts + 1},
		{Attempts: -1},
		{Interval: time.Microsecond},
		{Interval: 2 * time.Hour},
		{Pace: -1},
		{OnFailure: 9},
		{Pools: map[string]Override{"lab": {Attempts: ptr(99)}}},
	} {
		if _, err := NewManager().Start(t0, Selector{}, o, fixture()); err == nil || errors.Is(err, ErrNoClients) {
			t.Errorf("Start(%+v) = %v, want an option error", o, err)
		}
	}
}

// TestSchedule: sends at 0, I, 3I, 7I, ... (waits I, 2I, 4I, ...), then one
// more doubled wait, then no_response and the on-failure action.
func TestSchedule(t *testing.T) {
	for _, tc := range []struct {
		opts     Options
		sends    []time.Duration
		giveUp   time.Duration
		wantKind ActionKind // 0: none (restore)
	}{
		{DefaultOptions(), []time.Duration{0, 2, 6, 14, 30, 62, 126, 254}, 510, 0},
		{Options{Attempts: 3, Interval: 2 * time.Second, OnFailure: Restore}, []time.Duration{0, 2, 6}, 14, 0},
		{Options{Attempts: 3, Interval: 2 * time.Second, OnFailure: Delete}, []time.Duration{0, 2, 6}, 14, DeleteLease},
		{Options{Attempts: 1, Interval: 5 * time.Second, OnFailure: Recycle}, []time.Duration{0}, 5, RecycleLease},
		{Options{Attempts: 2, Interval: time.Second, OnFailure: Delete,
			Pools: map[string]Override{"lab": {Attempts: ptr(4), OnFailure: ptr(Recycle)}}}, []time.Duration{0, 1, 3, 7}, 15, RecycleLease},
	} {
		t.Run(fmt.Sprintf("%d×%v/%v", tc.opts.Attempts, tc.opts.Interval, tc.opts.OnFailure), func(t *testing.T) {
			m := NewManager()
			st := start(t, m, t0, Selector{Client: "10.1.0.5"}, tc.opts, fixture())
			unit := time.Second
			var sends []time.Duration
			var final []Action
			// Tick every 250 ms for 20 minutes (bounded).
			for d := time.Duration(0); d <= 20*time.Minute; d += 250 * time.Millisecond {
				for _, a := range m.Due(at(d)) {
					if a.Kind == SendForceRenew {
						if a.Attempt != len(sends)+1 || a.Addr != ip("10.1.0.5") || string(a.Key) != string(key("10.1.0.5")) {
							t.Fatalf("send %+v", a)
						}
						sends = append(sends, d/unit)
						continue
					}
					final = append(final, a)
					if d != tc.giveUp*unit {
						t.Errorf("%v at %v, want at %v", a.Kind, d, tc.giveUp*unit)
					}
				}
				if w := m.NextWake(at(d)); !w.IsZero() && w.Before(at(d)) {
					t.Fatalf("NextWake %v before now %v", w, at(d))
				}
			}
			if d := cmp.Diff(tc.sends, sends); d != "" {
				t.Errorf("send times in s (-want +got):\n%s", d)
			}
			s, _ := m.Status(st.ID)
			if s.Counts.NoResponse != 1 || s.State != Done || s.Sent != len(tc.sends) || !s.Ended.Equal(at(tc.giveUp*unit)) {
				t.Errorf("status %+v", s)
			}
			p := progress(t, m, st.ID, "10.1.0.5")
			if p.Outcome != NoResponse || p.Last != EvTimeout || p.Sent != len(tc.sends) {
				t.Errorf("progress %+v", p)
			}
			switch {
			case tc.wantKind == 0 && len(final) != 0:
				t.Errorf("restore produced actions %+v", final)
			case tc.wantKind != 0 && (len(final) != 1 || final[0].Kind != tc.wantKind || final[0].Addr != ip("10.1.0.5")):
				t.Errorf("actions %+v, want one %v", final, tc.wantKind)
			}
			if !m.NextWake(at(time.Hour)).IsZero() {
				t.Error("NextWake after the campaign ended is not zero")
			}
		})
	}
}

// TestNextWake: the timer the server sets lands exactly on the schedule.
func TestNextWake(t *testing.T) {
	m := NewManager()
	start(t, m, t0, Selector{Client: "10.1.0.5"}, Options{Attempts: 2, Interval: 3 * time.Second}, fixture())
	var got []time.Duration
	now := t0
	for range 10 {
		w := m.NextWake(now)
		if w.IsZero() {
			break
		}
		now = w
		if as := m.Due(now); len(as) > 0 || w.Equal(at(9*time.Second)) {
			got = append(got, now.Sub(t0))
		}
	}
	want := []time.Duration{0, 3 * time.Second, 9 * time.Second} // send, send, give up
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("wake-ups (-want +got):\n%s", d)
	}
}

// TestPace: with a backlog, never more than Pace FORCERENEWs in any
// one-second window, and exactly Pace per second overall, however the
// server coalesces its wake-ups.
func TestPace(t *testing.T) {
	const clients = 3000
	var ls []lease.Lease
	for i := range clients {
		ls = append(ls, mkLease(fmt.Sprintf("10.2.%d.%d", i/250, i%250+1), "big", -1, true))
	}
	for _, tc := range []struct {
		pace int
		tick time.Duration
	}{
		{1000, time.Millisecond},
		{1000, 10 * time.Millisecond},
		{1000, 250 * time.Millisecond},
		{300, 7 * time.Millisecond},
		{3, 100 * time.Millisecond},
		{1, time.Second},
	} {
		t.Run(fmt.Sprintf("%d/s tick %v", tc.pace, tc.tick), func(t *testing.T) {
			m := NewManager()
			// Long interval: only first attempts inside the measurement.
			start(t, m, t0, Selector{}, Options{Attempts: 1, Interval: time.Hour, Pace: tc.pace}, ls)
			var times []time.Duration
			const secs = 3
			for d := time.Duration(0); d < secs*time.Second; d += tc.tick {
				for range m.Due(at(d)) {
					times = append(times, d)
				}
			}
			// Slots lie every 1/pace s from t0; a send happens at the first
			// tick at or after its slot, so at most one tick of lag.
			last := (secs*time.Second - 1) / tc.tick * tc.tick
			hi := min(clients, int(int64(last)*int64(tc.pace)/int64(time.Second))+1)
			lo := hi - int(int64(tc.tick)*int64(tc.pace)/int64(time.Second)) - 1
			if len(times) < lo || len(times) > hi {
				t.Errorf("%d sends in %d s, want %d..%d", len(times), secs, lo, hi)
			}
			if tc.tick == time.Millisecond && len(times) != secs*tc.pace {
				t.Errorf("%d sends in %d s at 1 ms ticks, want exactly %d", len(times), secs, secs*tc.pace)
			}
			for i := 0; i+tc.pace < len(times); i++ {
				if times[i+tc.pace]-times[i] < time.Second {
					t.Fatalf("sends %d..%d within %v (< 1 s)", i, i+tc.pace, times[i+tc.pace]-times[i])
				}
			}
		})
	}
	t.Run("unlimited", func(t *testing.T) {
		m := NewManager()
		start(t, m, t0, Selector{}, Options{Attempts: 1, Pace: 0}, ls)
		if n := len(m.Due(t0)); n != clients {
			t.Errorf("unlimited pace sent %d at once, want %d", n, clients)
		}
	})
	t.Run("no burst after idle", func(t *testing.T) {
		m := NewManager()
		start(t, m, t0, Selector{Pool: "big", From: ip("10.2.0.1"), To: ip("10.2.0.10")},
			Options{Attempts: 2, Interval: time.Minute, Pace: 1000}, ls)
		if n := len(m.Due(t0)); n != 1 {
			t.Fatalf("first Due sent %d, want 1 (slot at now only)", n)
		}
		m.Due(at(10 * time.Millisecond))
		// 60 s later all ten retries are due at once: the pace restarts at
		// now, so a single Due sends one.
		if n := len(m.Due(at(2 * time.Minute))); n != 1 {
			t.Errorf("Due after idle sent %d, want 1", n)
		}
		if w := m.NextWake(at(2 * time.Minute)); !w.Equal(at(2*time.Minute + time.Millisecond)) {
			t.Errorf("NextWake = %v, want now+1ms", w.Sub(t0))
		}
	})
	t.Run("per pool pace", func(t *testing.T) {
		ls2 := append(slices.Clone(ls[:100]), mkLease("10.1.0.5", "lab", -1, true), mkLease("10.1.0.6", "lab", -1, true))
		m := NewManager()
		start(t, m, t0, Selector{}, Options{Attempts: 1, Pace: 10, Pools: map[string]Override{"lab": {Pace: ptr(0)}}}, ls2)
		k := map[string]int{}
		for _, a := range m.Due(t0) {
			k[a.Addr.String()[:4]]++
		}
		if k["10.1"] != 2 || k["10.2"] != 1 {
			t.Errorf("sends per pool at t0: %v, want lab 2 (unlimited) big 1", k)
		}
	})
}

func TestNotCapable(t *testing.T) {
	for _, tc := range []struct {
		name    string
		opts    Options
		outcome Outcome
		recycle bool
	}{
		{"reported", DefaultOptions(), NotCapable, false},
		{"recycled", Options{RecycleNotCapable: true}, NotCapable, true},
		{"token pool", Options{Pools: map[string]Override{"office": {AssumeCapable: ptr(true)}}}, Pending, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := NewManager()
			st := start(t, m, t0, Selector{Pool: "office"}, tc.opts, fixture())
			if p := progress(t, m, st.ID, "10.0.1.15"); p.Outcome != tc.outcome || p.Capable != (tc.outcome == Pending) {
				t.Errorf("progress %+v, want %v", p, tc.outcome)
			}
			as := m.Due(t0)
			var rec []Action
			for _, a := range as {
				if a.Kind == RecycleLease {
					rec = append(rec, a)
				}
				if a.Kind == SendForceRenew && a.Addr == ip("10.0.1.15") && tc.outcome != Pending {
					t.Error("FORCERENEW sent to a client without a key")
				}
			}
			if tc.recycle != (len(rec) == 1) || tc.recycle && rec[0].Addr != ip("10.0.1.15") {
				t.Errorf("recycle actions %+v, want recycle=%v", rec, tc.recycle)
			}
			if st.Counts.NotCapable != map[bool]int{true: 1, false: 0}[tc.outcome == NotCapable] {
				t.Errorf("counts %+v", st.Counts)
			}
		})
	}
	t.Run("all not capable: done at once", func(t *testing.T) {
		m := NewManager()
		st := start(t, m, t0, Selector{Client: "10.0.1.15"}, Options{RecycleNotCapable: true}, fixture())
		if st.State != Done || !st.Ended.Equal(t0) {
			t.Errorf("status %+v", st)
		}
		if got := kinds(m.Due(t0)); got[RecycleLease] != 1 {
			t.Errorf("actions %v", got)
		}
		if _, ok := m.Running("office"); ok {
			t.Error("a done campaign still blocks its pool")
		}
	})
}

func TestOverlap(t *testing.T) {
	one := 1
	m := NewManager()
	ls := fixture()
	first := start(t, m, t0, Selector{Pool: "office", Section: &one}, DefaultOptions(), ls)
	m.Due(t0) // some progress to report: 1 send at t0, 4 more within 4 ms
	m.Due(at(10 * time.Millisecond))
	for _, sel := range []Selector{
		{Pool: "office"},
		{Pool: "office", Section: ptr(0)}, // one campaign per pool, whatever the section
		{},
		{From: ip("10.0.0.10"), To: ip("10.1.0.5")},
		{Client: "10.0.0.10"},
	} {
		_, err := m.Start(at(time.Second), sel, DefaultOptions(), ls)
		var oe *OverlapError
		if !errors.As(err, &oe) || !errors.Is(err, ErrOverlap) {
			t.Fatalf("Start(%s) = %v, want *OverlapError", sel, err)
		}
		want := `reconf: pool "office" already has running campaign 1 (pool office section 1, started 2026-03-01T12:00:00Z): 1 of 6 clients done, 5 pending, 5 FORCERENEW sent`
		if err.Error() != want {
			t.Errorf("error text\n got %s\nwant %s", err, want)
		}
		if oe.Running.ID != first.ID {
			t.Errorf("names campaign %d, want %d", oe.Running.ID, first.ID)
		}
	}
	// Same section, different options: still an overlap, not idempotent.
	if _, err := m.Start(t0, Selector{Pool: "office", Section: &one}, Options{Attempts: 2}, ls); !errors.Is(err, ErrOverlap) {
		t.Errorf("same selector other options: %v, want overlap", err)
	}
	// Another pool is independent.
	lab := start(t, m, t0, Selector{Pool: "lab"}, DefaultOptions(), ls)
	if lab.ID != 2 || len(m.List()) != 2 {
		t.Errorf("lab campaign %+v, list %d", lab, len(m.List()))
	}
}

func TestIdempotentStart(t *testing.T) {
	one := 1
	m := NewManager()
	ls := fixture()
	o := Options{Attempts: 3, Pace: 5, Pools: map[string]Override{"office": {ForceNAK: ptr(true)}}}
	a := start(t, m, t0, Selector{Pool: "office", Section: &one}, o, ls)
	m.Records()
	m.Due(t0)
	n := len(m.Records())
	// The operator repeats the command (with equal options built afresh).
	o2 := Options{Attempts: 3, Pace: 5, Pools: map[string]Override{"office": {ForceNAK: ptr(true)}}}
	b := start(t, m, at(100*time.Millisecond), Selector{Pool: "office", Section: &one}, o2, ls)
	if b.ID != a.ID || b.Sent != 1 || len(m.List()) != 1 {
		t.Errorf("repeat start = %+v, want campaign %d with its progress", b, a.ID)
	}
	if r := m.Records(); len(r) != 0 || n == 0 {
		t.Errorf("repeat start produced %d records", len(r))
	}
	// Pace 5/s: the next slot is at 200 ms, one send, as if nothing happened.
	if got := kinds(m.Due(at(200 * time.Millisecond))); got[SendForceRenew] != 1 {
		t.Errorf("after repeat start, sends %v: want one (the original pace, not doubled)", got)
	}
}

func TestStop(t *testing.T) {
	m := NewManager()
	ls := fixture()
	st := start(t, m, t0, Selector{Pool: "office"}, Options{ForceNAK: true}, ls)
	m.Due(t0)
	m.Observe(t0, Event{Kind: EvAck, Addr: ip("10.0.0.10"), Key: key("10.0.0.10")})
	if !m.ShouldNAK(ip("10.0.0.11")) {
		t.Fatal("ShouldNAK false before stop")
	}
	got, err := m.Stop(at(time.Second), st.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := Counts{Renewed: 1, Aborted: 9, NotCapable: 1}
	if got.Counts != want || got.State != Stopped || !got.Ended.Equal(at(time.Second)) {
		t.Errorf("after stop %+v, want counts %+v", got, want)
	}
	if p := progress(t, m, st.ID, "10.0.0.11"); p.Outcome != Aborted || p.Last != EvStop {
		t.Errorf("progress %+v", p)
	}
	if m.ShouldNAK(ip("10.0.0.11")) {
		t.Error("ShouldNAK after stop")
	}
	if as := m.Due(at(time.Hour)); len(as) != 0 {
		t.Errorf("actions after stop: %+v", as)
	}
	if _, ok := m.Observe(at(2*time.Second), Event{Kind: EvAck, Addr: ip("10.0.0.11"), Key: key("10.0.0.11")}); ok {
		t.Error("Observe matched a client of a stopped campaign")
	}
	if _, err := m.Stop(at(time.Second), st.ID); !errors.Is(err, ErrNotRunning) {
		t.Errorf("second stop: %v", err)
	}
	if _, err := m.Stop(at(time.Second), 99); !errors.Is(err, ErrNotFound) {
		t.Errorf("stop unknown: %v", err)
	}
	again := start(t, m, at(2*time.Second), Selector{Pool: "office"}, Options{ForceNAK: true}, ls)
	if again.ID == st.ID {
		t.Error("start after stop returned the stopped campaign")
	}
	if err := m.Forget(again.ID); err == nil || !strings.Contains(err.Error(), "running") {
		t.Errorf("Forget(running) = %v", err)
	}
	if err := m.Forget(st.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Status(st.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("status after forget: %v", err)
	}
}

func TestClientsFilter(t *testing.T) {
	m := NewManager()
	st := start(t, m, t0, Selector{Pool: "office"}, DefaultOptions(), fixture())
	nc, _ := m.Clients(st.ID, ClientFilter{Outcomes: []Outcome{NotCapable}})
	if len(nc) != 1 || nc[0].Addr != ip("10.0.1.15") {
		t.Errorf("not capable: %+v", nc)
	}
	page, _ := m.Clients(st.ID, ClientFilter{After: ip("10.0.0.13"), Limit: 3})
	var got []string
	for _, p := range page {
		got = append(got, p.Addr.String())
	}
	if d := cmp.Diff([]string{"10.0.0.14", "10.0.1.10", "10.0.1.11"}, got); d != "" {
		t.Errorf("page (-want +got):\n%s", d)
	}
	if _, err := m.Clients(42, ClientFilter{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown campaign: %v", err)
	}
}
