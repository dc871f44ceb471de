package server

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/leased/leased/reconf"
)

// TestCampaignPrecedence: the options a pool's clients get are the
// command's explicit ones, else the pool's setting, else the family's
// global default, else reconf's family default; a flag left unset does
// not override the pool. The status shows the effective values.
func TestCampaignPrecedence(t *testing.T) {
	global := reconf.Override{Attempts: ptr(5), Interval: ptr(3 * time.Second), Pace: ptr(50), OnFailure: ptr(reconf.Recycle)}
	for _, tc := range []struct {
		name string
		pool reconf.Override
		glob reconf.Override
		cmd  func(*reconf.Options)
		want reconf.Options
	}{
		{name: "built-in", want: reconf.Options{Attempts: 8, Interval: 2 * time.Second, Pace: 1000}},
		{name: "global", glob: global, want: reconf.Options{Attempts: 5, Interval: 3 * time.Second, Pace: 50, OnFailure: reconf.Recycle}},
		{name: "pool beats global", glob: global,
			pool: reconf.Override{Attempts: ptr(2), Interval: ptr(time.Second), ForceNAK: ptr(true)},
			want: reconf.Options{Attempts: 2, Interval: time.Second, Pace: 50, OnFailure: reconf.Recycle, ForceNAK: true}},
		{name: "flag beats pool", glob: global,
			pool: reconf.Override{Attempts: ptr(2), Interval: ptr(time.Second), ForceNAK: ptr(true), OnFailure: ptr(reconf.Delete)},
			cmd: func(o *reconf.Options) {
				o.Attempts, o.Pace, o.ForceNAK, o.OnFailure = 8, 1000, false, reconf.Restore
				o.Given = reconf.FieldAttempts | reconf.FieldPace | reconf.FieldForceNAK | reconf.FieldOnFailure
			},
			want: reconf.Options{Attempts: 8, Interval: time.Second, Pace: 1000, OnFailure: reconf.Restore}},
		{name: "unset flag does not override", pool: reconf.Override{Attempts: ptr(2), Interval: ptr(time.Second)},
			cmd:  func(o *reconf.Options) { o.Pace, o.Given = 0, reconf.FieldPace },
			want: reconf.Options{Attempts: 2, Interval: time.Second, Pace: 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := newSimNet(t, t.TempDir(), campConfig(), CampaignConfig{Defaults4: tc.glob, Defaults6: reconf.Override{Attempts: ptr(19)},
				Pools: map[string]PoolCampaign{"loop": {Override: tc.pool}}}, nil)
			n.bind(1, 0)
			o := reconf.DefaultOptions() // what the API makes of a request: attempts and interval 0 unless given
			o.Attempts, o.Interval = 0, 0
			if tc.cmd != nil {
				tc.cmd(&o)
			}
			st, err := n.s.StartCampaign(context.Background(), reconf.Selector{Pool: "loop"}, o)
			if err != nil {
				t.Fatal(err)
			}
			defer n.s.StopCampaign(context.Background(), st.ID)
			if len(st.PoolOptions) != 1 {
				t.Fatalf("pool options %+v", st.PoolOptions)
			}
			got := st.PoolOptions[0]
			got.AssumeCapable = false
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("effective options %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestCampaignIdempotentStart: the same start again returns the running
// campaign marked Existing, and starts nothing.
func TestCampaignIdempotentStart(t *testing.T) {
	n := newSimNet(t, t.TempDir(), campConfig(), CampaignConfig{}, nil)
	n.bind(2, 0)
	n.setSilent(true)
	o := fast()
	o.Interval = time.Second
	st, err := n.s.StartCampaign(context.Background(), reconf.Selector{Pool: "loop"}, o)
	if err != nil || st.Existing {
		t.Fatalf("start: %+v, %v", st, err)
	}
	again, err := n.s.StartCampaign(context.Background(), reconf.Selector{Pool: "loop"}, o)
	if err != nil || !again.Existing || again.ID != st.ID {
		t.Fatalf("same start again: %+v, %v; want campaign %d existing", again, err, st.ID)
	}
	if l := n.s.Campaigns(); len(l) != 1 {
		t.Errorf("%d campaigns, want 1", len(l))
	}
	n.s.StopCampaign(context.Background(), st.ID)
}

// TestCampaignDeleteAndPrune: a finished campaign is deleted (404 after,
// ErrRunning for a running one), pruned by age and by count from the
// server's clock, and neither comes back after a restart or a compaction;
// a new campaign does not reuse a deleted one's ID.
func TestCampaignDeleteAndPrune(t *testing.T) {
	dir := t.TempDir()
	cc := CampaignConfig{Resume: true, Retention: time.Hour, Keep: 10}
	n := newSimNet(t, dir, campConfig(), cc, nil)
	cs := n.bind(5, 0)
	n.setSilent(true, cs...)
	ctx := context.Background()
	var ids []uint32
	slow := fast()
	slow.Interval = time.Minute
	for i, c := range cs {
		st, err := n.s.StartCampaign(ctx, reconf.Selector{Client: c.addr.String()}, slow)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, st.ID)
		if i < 4 { // the last one keeps running
			if _, err := n.s.StopCampaign(ctx, st.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := n.s.DeleteCampaign(ctx, ids[4]); !errors.Is(err, reconf.ErrRunning) {
		t.Fatalf("delete running: %v, want ErrRunning", err)
	}
	if err := n.s.DeleteCampaign(ctx, 999); !errors.Is(err, reconf.ErrNotFound) {
		t.Fatalf("delete unknown: %v, want ErrNotFound", err)
	}
	if err := n.s.DeleteCampaign(ctx, ids[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := n.s.Campaign(ids[0]); !errors.Is(err, reconf.ErrNotFound) {
		t.Fatalf("deleted campaign still there: %v", err)
	}
	// count: 3 finished, keep 2 -> the oldest (ids[1]) goes
	cc.Keep = 2
	n.s.SetCampaignConfig(cc)
	n.s.pruneCampaigns(time.Now())
	if _, err := n.s.Campaign(ids[1]); !errors.Is(err, reconf.ErrNotFound) {
		t.Fatalf("campaign beyond keep not pruned: %v", err)
	}
	if err := n.s.flushRecords(ctx); err != nil {
		t.Fatal(err)
	}
	fr := n.fr
	n.stop()

	n2 := newSimNet(t, dir, campConfig(), cc, fr)
	left := func(s *Server) (out []uint32) {
		for _, st := range s.Campaigns() {
			out = append(out, st.ID)
		}
		return out
	}
	if got := left(n2.s); len(got) != 3 || got[0] != ids[2] || got[1] != ids[3] || got[2] != ids[4] {
		t.Fatalf("after restart: campaigns %v, want %v", got, ids[2:])
	}
	if _, err := n2.s.StopCampaign(ctx, ids[4]); err != nil {
		t.Fatal(err)
	}
	// age: two hours later the whole retention (1h) has passed
	n2.s.pruneCampaigns(time.Now().Add(2 * time.Hour))
	if got := left(n2.s); len(got) != 0 {
		t.Fatalf("after the retention: campaigns %v, want none", got)
	}
	if err := n2.s.flushRecords(ctx); err != nil {
		t.Fatal(err)
	}
	if err := n2.s.compact(); err != nil {
		t.Fatal(err)
	}
	n2.stop()

	n3 := newSimNet(t, dir, campConfig(), cc, fr)
	if got := left(n3.s); len(got) != 0 {
		t.Fatalf("after compaction and restart: campaigns %v, want none", got)
	}
	st, err := n3.s.StartCampaign(ctx, reconf.Selector{Pool: "loop"}, fast())
	if err != nil {
		t.Fatal(err)
	}
	n3.s.StopCampaign(ctx, st.ID)
	if st.ID <= ids[0] {
		t.Errorf("new campaign id %d reuses an old one (last was %d)", st.ID, ids[4])
	}
}
