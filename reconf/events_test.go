package reconf

import (
	"net/netip"
	"testing"
	"time"
)

// TestEvents checks every row of the events table in README.md. Each case
// starts a campaign on 10.1.0.5 (Attempts 3, Interval 2 s: sends at 0, 2,
// 6 s, give up at 14 s), sends the first FORCERENEW at t0, then feeds the
// steps; the clock ticks (Due) every 500 ms until 60 s.
func TestEvents(t *testing.T) {
	const a5 = "10.1.0.5"
	k5 := key(a5)
	type step struct {
		at   time.Duration
		ev   Event
		ok   bool // Observe matched a pending client
		nak  bool // ShouldNAK(10.1.0.5) just before the step
		want Outcome
	}
	ev := func(k EventKind, addr string, key []byte) Event {
		var a netip.Addr
		if addr != "" {
			a = ip(addr)
		}
		return Event{Kind: k, Addr: a, Key: key}
	}
	tests := []struct {
		name      string
		opts      Options
		steps     []step
		outcome   Outcome
		last      EventKind
		sends     int           // FORCERENEWs sent in total
		actions   []ActionKind  // non-send actions from Due
		endedAt   time.Duration // when the outcome was set
		wantState State
	}{
		{name: "renew then ack: renewed",
			steps: []step{
				{at: 1 * time.Second, ev: ev(EvRequestRenew, a5, k5), ok: true, want: Pending},
				{at: 1 * time.Second, ev: ev(EvAck, a5, k5), ok: true, want: Renewed},
			},
			outcome: Renewed, last: EvAck, sends: 1, endedAt: time.Second, wantState: Done},
		{name: "rebind then ack: renewed",
			steps: []step{
				{at: 3 * time.Second, ev: ev(EvRequestRebind, a5, k5), ok: true, want: Pending},
				{at: 3 * time.Second, ev: ev(EvAck, a5, k5), ok: true, want: Renewed},
			},
			outcome: Renewed, last: EvAck, sends: 2, endedAt: 3 * time.Second, wantState: Done},
		{name: "init-reboot then ack: renewed",
			steps: []step{
				{at: 1 * time.Second, ev: ev(EvRequestInitReboot, a5, k5), ok: true, want: Pending},
				{at: 1 * time.Second, ev: ev(EvAck, a5, k5), ok: true, want: Renewed},
			},
			outcome: Renewed, last: EvAck, sends: 1, endedAt: time.Second, wantState: Done},
		{name: "request without answer: FORCERENEW goes on",
			steps: []step{
				{at: 1 * time.Second, ev: ev(EvRequestRenew, a5, k5), ok: true, want: Pending},
			},
			outcome: NoResponse, last: EvTimeout, sends: 3, endedAt: 14 * time.Second, wantState: Done},
		{name: "renew NAKed (address no longer valid), DORA: rebound",
			steps: []step{
				{at: 1 * time.Second, ev: ev(EvRequestRenew, a5, k5), ok: true, want: Pending},
				{at: 1 * time.Second, ev: ev(EvNak, a5, k5), ok: true, want: Pending},
				{at: 1500 * time.Millisecond, ev: ev(EvDiscover, "", k5), ok: true, want: Pending},
				{at: 1600 * time.Millisecond, ev: ev(EvAck, "10.1.0.77", k5), ok: true, want: Rebound},
			},
			outcome: Rebound, last: EvAck, sends: 1, endedAt: 1600 * time.Millisecond, wantState: Done},
		{name: "ForceNAK: NAK asked, then DORA to the same address: rebound",
			opts: Options{ForceNAK: true},
			steps: []step{
				{at: 1 * time.Second, ev: ev(EvRequestRenew, a5, k5), ok: true, nak: true, want: Pending},
				{at: 1 * time.Second, ev: ev(EvNak, a5, k5), ok: true, nak: true, want: Pending},
				{at: 2 * time.Second, ev: ev(EvDiscover, "", k5), ok: true, nak: false, want: Pending},
				{at: 2 * time.Second, ev: ev(EvAck, a5, k5), ok: true, nak: false, want: Rebound},
			},
			outcome: Rebound, last: EvAck, sends: 1, endedAt: 2 * time.Second, wantState: Done},
		{name: "ForceNAK, NAK missed, client renews the same address again: renewed",
			opts: Options{ForceNAK: true},
			steps: []step{
				{at: 1 * time.Second, ev: ev(EvRequestRenew, a5, k5), ok: true, nak: true, want: Pending},
				{at: 1 * time.Second, ev: ev(EvNak, a5, k5), ok: true, nak: true, want: Pending},
				{at: 4 * time.Second, ev: ev(EvRequestRenew, a5, k5), ok: true, nak: false, want: Pending},
				{at: 4 * time.Second, ev: ev(EvAck, a5, k5), ok: true, nak: false, want: Renewed},
			},
			outcome: Renewed, last: EvAck, sends: 1, endedAt: 4 * time.Second, wantState: Done},
		{name: "NAK but no DORA: no_response after the longest wait, on-failure applied",
			opts: Options{OnFailure: Delete},
			steps: []step{
				{at: 1 * time.Second, ev: ev(EvNak, a5, k5), ok: true, want: Pending},
			},
			// DORA wait = Interval << (Attempts-1) = 8 s after the NAK.
			outcome: NoResponse, last: EvTimeout, sends: 1, actions: []ActionKind{DeleteLease}, endedAt: 9 * time.Second, wantState: Done},
		{name: "DISCOVER without NAK (client restarted): FORCERENEW stops, DORA: rebound",
			steps: []step{
				{at: 1 * time.Second, ev: ev(EvDiscover, "", k5), ok: true, want: Pending},
				{at: 5 * time.Second, ev: ev(EvAck, a5, k5), ok: true, want: Rebound},
			},
			outcome: Rebound, last: EvAck, sends: 1, endedAt: 5 * time.Second, wantState: Done},
		{name: "INFORM: informed",
			steps:   []step{{at: 1 * time.Second, ev: ev(EvInform, a5, k5), ok: true, want: Informed}},
			outcome: Informed, last: EvInform, sends: 1, endedAt: time.Second, wantState: Done},
		{name: "RELEASE: released, no on-failure action",
			opts:    Options{OnFailure: Recycle},
			steps:   []step{{at: 1 * time.Second, ev: ev(EvRelease, a5, k5), ok: true, want: Released}},
			outcome: Released, last: EvRelease, sends: 1, endedAt: time.Second, wantState: Done},
		{name: "DECLINE: declined",
			steps:   []step{{at: 1 * time.Second, ev: ev(EvDecline, a5, k5), ok: true, want: Declined}},
			outcome: Declined, last: EvDecline, sends: 1, endedAt: time.Second, wantState: Done},
		{name: "lease expired (reported by address only): expired",
			opts:    Options{OnFailure: Delete},
			steps:   []step{{at: 4 * time.Second, ev: ev(EvExpired, a5, nil), ok: true, want: Expired}},
			outcome: Expired, last: EvExpired, sends: 2, endedAt: 4 * time.Second, wantState: Done},
		{name: "operator deleted the lease: deleted",
			steps:   []step{{at: 7 * time.Second, ev: ev(EvDeleted, a5, k5), ok: true, want: Deleted}},
			outcome: Deleted, last: EvDeleted, sends: 3, endedAt: 7 * time.Second, wantState: Done},
		{name: "events after the outcome are ignored",
			steps: []step{
				{at: 1 * time.Second, ev: ev(EvAck, a5, k5), ok: true, want: Renewed},
				{at: 2 * time.Second, ev: ev(EvRelease, a5, k5), ok: false},
				{at: 3 * time.Second, ev: ev(EvNak, a5, k5), ok: false},
			},
			outcome: Renewed, last: EvAck, sends: 1, endedAt: time.Second, wantState: Done},
		{name: "another client at the same address is not this one",
			steps: []step{
				{at: 1 * time.Second, ev: ev(EvAck, a5, key("10.9.9.9")), ok: false},
				{at: 1 * time.Second, ev: ev(EvRelease, "10.9.9.9", nil), ok: false},
				{at: 1 * time.Second, ev: Event{Kind: EvForceRenew, Addr: ip(a5), Key: k5}, ok: false}, // not a server event
			},
			outcome: NoResponse, last: EvTimeout, sends: 3, endedAt: 14 * time.Second, wantState: Done},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := NewManager()
			o := tc.opts
			o.Attempts, o.Interval = 3, 2*time.Second
			st := start(t, m, t0, Selector{Client: a5}, o, fixture())
			sends := 0
			var acts []ActionKind
			tick := func(d time.Duration) {
				for _, a := range m.Due(at(d)) {
					if a.Kind == SendForceRenew {
						sends++
					} else {
						acts = append(acts, a.Kind)
					}
				}
			}
			steps := tc.steps
			for d := time.Duration(0); d <= 60*time.Second; d += 100 * time.Millisecond {
				for len(steps) > 0 && steps[0].at == d {
					s := steps[0]
					steps = steps[1:]
					if got := m.ShouldNAK(ip(a5)); got != s.nak {
						t.Errorf("at %v before %v: ShouldNAK = %v, want %v", d, s.ev.Kind, got, s.nak)
					}
					p, ok := m.Observe(at(d), s.ev)
					if ok != s.ok || ok && p.Outcome != s.want {
						t.Errorf("at %v Observe(%v) = %v %v, want %v %v", d, s.ev.Kind, p.Outcome, ok, s.want, s.ok)
					}
				}
				tick(d)
			}
			p := progress(t, m, st.ID, a5)
			if p.Outcome != tc.outcome || p.Last != tc.last || p.Sent != tc.sends || !p.When.Equal(at(tc.endedAt)) {
				t.Errorf("progress %+v\nwant outcome %v last %v sent %d when %v", p, tc.outcome, tc.last, tc.sends, tc.endedAt)
			}
			if sends != tc.sends {
				t.Errorf("%d FORCERENEW sent, want %d", sends, tc.sends)
			}
			if len(acts) != len(tc.actions) || len(acts) > 0 && acts[0] != tc.actions[0] {
				t.Errorf("actions %v, want %v", acts, tc.actions)
			}
			s, _ := m.Status(st.ID)
			if s.State != tc.wantState || s.Counts.Get(tc.outcome) != 1 || s.Counts.Pending != 0 {
				t.Errorf("status %+v", s)
			}
			if m.ShouldNAK(ip(a5)) {
				t.Error("ShouldNAK after the outcome")
			}
		})
	}
}

// TestEventsDuringRestart: the table's last row (the server restarting)
// lives in TestRestore; the same command again in TestIdempotentStart.

func TestShouldNAKOnlyForcedCampaigns(t *testing.T) {
	m := NewManager()
	ls := fixture()
	start(t, m, t0, Selector{Pool: "office"}, DefaultOptions(), ls)
	start(t, m, t0, Selector{Pool: "lab"}, Options{ForceNAK: true}, ls)
	if m.ShouldNAK(ip("10.0.0.10")) {
		t.Error("ShouldNAK for a campaign without ForceNAK")
	}
	// Before its first FORCERENEW too: a natural renew gets the NAK.
	if !m.ShouldNAK(ip("10.1.0.5")) {
		t.Error("ShouldNAK false for a ForceNAK campaign client")
	}
	if m.ShouldNAK(ip("10.9.9.9")) || m.ShouldNAK(netip.Addr{}) {
		t.Error("ShouldNAK for an address in no campaign")
	}
}
