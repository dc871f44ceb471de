package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/leased/leased/api"
	"github.com/leased/leased/reconf"
)

// campaigns is backend plus api.Campaigns. Campaign(id) plays script: each
// call returns the next status (the last one repeats), so --wait sees a
// campaign progress.
type campaigns struct {
	*backend
	cmu      sync.Mutex
	sel      reconf.Selector
	opts     reconf.Options
	script   []reconf.CampaignStatus
	calls    int
	list     []reconf.CampaignStatus
	startErr error
	stopped  []uint32
	filter   reconf.ClientFilter
	clients  []reconf.ClientProgress
	disc     netip.Addr
	discOF   reconf.OnFailure
}

func (c *campaigns) StartCampaign(_ context.Context, sel reconf.Selector, opts reconf.Options) (reconf.CampaignStatus, error) {
	c.cmu.Lock()
	defer c.cmu.Unlock()
	c.sel, c.opts = sel, opts
	if c.startErr != nil {
		return reconf.CampaignStatus{}, c.startErr
	}
	st := c.script[0]
	st.Selector, st.Options = sel, opts
	for i := range c.script {
		c.script[i].Selector, c.script[i].Options = sel, opts
	}
	c.calls = 1
	return st, nil
}

func (c *campaigns) Campaign(id uint32) (reconf.CampaignStatus, error) {
	c.cmu.Lock()
	defer c.cmu.Unlock()
	if len(c.script) == 0 || id != c.script[0].ID {
		return reconf.CampaignStatus{}, reconf.ErrNotFound
	}
	st := c.script[min(c.calls, len(c.script)-1)]
	c.calls++
	return st, nil
}

func (c *campaigns) Campaigns() []reconf.CampaignStatus {
	c.cmu.Lock()
	defer c.cmu.Unlock()
	return c.list
}

func (c *campaigns) StopCampaign(_ context.Context, id uint32) (reconf.CampaignStatus, error) {
	c.cmu.Lock()
	defer c.cmu.Unlock()
	for _, st := range c.list {
		if st.ID == id {
			c.stopped = append(c.stopped, id)
			st.State, st.Ended = reconf.Stopped, st.Created.Add(4*time.Second)
			st.Counts.Aborted, st.Counts.Pending = st.Counts.Pending, 0
			return st, nil
		}
	}
	return reconf.CampaignStatus{}, reconf.ErrNotFound
}

func (c *campaigns) DeleteCampaign(_ context.Context, id uint32) error {
	c.cmu.Lock()
	defer c.cmu.Unlock()
	for i, st := range c.list {
		if st.ID == id {
			if st.State == reconf.Running {
				return fmt.Errorf("%w: campaign %d: stop it first", reconf.ErrRunning, id)
			}
			c.list = append(c.list[:i:i], c.list[i+1:]...)
			return nil
		}
	}
	return fmt.Errorf("%w: %d", reconf.ErrNotFound, id)
}

func (c *campaigns) CampaignClients(id uint32, f reconf.ClientFilter) ([]reconf.ClientProgress, error) {
	c.cmu.Lock()
	defer c.cmu.Unlock()
	c.filter = f
	if id != 3 {
		return nil, reconf.ErrNotFound
	}
	return c.clients, nil
}

func (c *campaigns) Disconnect(_ context.Context, addr netip.Addr, of reconf.OnFailure) (reconf.CampaignStatus, error) {
	c.cmu.Lock()
	defer c.cmu.Unlock()
	c.disc, c.discOF = addr, of
	o := reconf.DefaultOptions()
	o.ForceNAK, o.OnFailure = true, of
	return reconf.CampaignStatus{ID: 4, Selector: reconf.Selector{Client: addr.String()}, Options: o, Created: now,
		Pools: []string{"office"}, Clients: 1, Counts: reconf.Counts{Pending: 1}}, nil
}

var _ api.Campaigns = (*campaigns)(nil)

// progress is a campaign over three office clients, one of them not
// capable: sent, half answered, done.
func progress(final reconf.Counts) []reconf.CampaignStatus {
	base := reconf.CampaignStatus{ID: 3, State: reconf.Running, Created: now.Add(-2 * time.Second), Pools: []string{"office"}, Clients: 3}
	a, b, c := base, base, base
	nc := final.NotCapable
	a.Counts = reconf.Counts{Pending: 3 - nc, NotCapable: nc}
	b.Sent, b.Counts = 2, reconf.Counts{Pending: 2 - nc, Renewed: 1, NotCapable: nc}
	c.Sent, c.Counts, c.State, c.Ended = 3, final, reconf.Done, now.Add(5*time.Second)
	return []reconf.CampaignStatus{a, b, b, c}
}

func withCampaigns(t *testing.T, c *campaigns) string {
	t.Helper()
	old := pollEvery
	pollEvery = time.Millisecond
	t.Cleanup(func() { pollEvery = old })
	return serve(t, c)
}

func TestStartWait(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tty    bool
		final  reconf.Counts
		code   int
		stderr string
	}{
		{"wait", false, reconf.Counts{Renewed: 2, NotCapable: 1}, 1,
			"leasectl: 1 of 3 clients did not take the new configuration: 1 not_capable (see 'leasectl forcerenew clients 3 --outcome not_capable')\n"},
		{"wait-tty", true, reconf.Counts{Renewed: 1, Rebound: 1, Informed: 1}, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &campaigns{backend: newBackend(), script: progress(tc.final)}
			sock := withCampaigns(t, c)
			old := isTerminal
			isTerminal = func(io.Writer) bool { return tc.tty }
			defer func() { isTerminal = old }()
			r := leasectl(t, nil, "--socket", sock, "forcerenew", "start", "--pool", "office", "--wait", "--attempts", "3", "--interval", "1s")
			if r.code != tc.code || r.stderr != tc.stderr {
				t.Errorf("exit %d, stderr %q; want %d, %q", r.code, r.stderr, tc.code, tc.stderr)
			}
			golden(t, "forcerenew-"+tc.name, r.stdout)
			want := reconf.DefaultOptions()
			want.Attempts, want.Interval = 3, time.Second
			want.Given = reconf.FieldAttempts | reconf.FieldInterval // flags given beat pool settings
			if diff := cmp.Diff(want, c.opts); diff != "" || c.sel.Pool != "office" || c.sel.Section != nil {
				t.Errorf("selector %+v, options (-want +got):\n%s", c.sel, diff)
			}
		})
	}
}

func TestStartFlags(t *testing.T) {
	c := &campaigns{backend: newBackend(), script: progress(reconf.Counts{Renewed: 3})}
	sock := withCampaigns(t, c)
	r := leasectl(t, nil, "--socket", sock, "forcerenew", "start", "--pool", "office", "--section", "1", "--range", "10.0.0.10-10.0.0.50",
		"--recycle", "--pace", "0", "--force-nak", "--recycle-not-capable")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	golden(t, "forcerenew-start", r.stdout)
	one := 1
	wantSel := reconf.Selector{Pool: "office", Section: &one, From: netip.MustParseAddr("10.0.0.10"), To: netip.MustParseAddr("10.0.0.50")}
	if diff := cmp.Diff(wantSel, c.sel, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("selector (-want +got):\n%s", diff)
	}
	want := reconf.DefaultOptions()
	want.Attempts, want.Interval = 0, 0 // not given: each family's default
	want.Pace, want.OnFailure, want.ForceNAK, want.RecycleNotCapable = 0, reconf.Recycle, true, true
	want.Given = reconf.FieldPace | reconf.FieldOnFailure | reconf.FieldForceNAK | reconf.FieldRecycleNotCapable
	if diff := cmp.Diff(want, c.opts); diff != "" {
		t.Errorf("options (-want +got):\n%s", diff)
	}

	r = leasectl(t, nil, "--socket", sock, "forcerenew", "start", "--client", "52:54:00:12:34:56", "--on-failure", "delete", "--json")
	var camp api.Campaign
	if err := json.Unmarshal([]byte(r.stdout), &camp); err != nil || r.code != 0 || c.sel.Client != "52:54:00:12:34:56" || c.opts.OnFailure != reconf.Delete {
		t.Errorf("--client --json: exit %d, %v, %q, %+v", r.code, err, r.stdout, c.opts)
	}
	r = leasectl(t, nil, "--socket", sock, "forcerenew", "start", "--all")
	if r.code != 0 || c.sel != (reconf.Selector{}) {
		t.Errorf("--all: exit %d, %s, selector %+v", r.code, r.stderr, c.sel)
	}

	for _, tc := range []struct {
		args []string
		text string
	}{
		{nil, "say which clients"},
		{[]string{"--all", "--pool", "office"}, "--all cannot be combined"},
		{[]string{"--section", "1"}, "--section needs --pool"},
		{[]string{"--pool", "office", "--recycle", "--on-failure", "delete"}, "exclusive"},
		{[]string{"--pool", "office", "--on-failure", "explode"}, `--on-failure "explode"`},
		{[]string{"--pool", "office", "--attempts", "0"}, "--attempts 0"},
		{[]string{"--pool", "office", "--interval", "0s"}, "--interval 0s"},
		{[]string{"--range", "10.0.0.9-10.0.0.1"}, "--range"},
		{[]string{"--client", "aa:bb:cc:dd:ee:ff", "--range", "10.0.0.1-10.0.0.2"}, "--client cannot be combined"},
	} {
		r := leasectl(t, nil, append([]string{"--socket", sock, "forcerenew", "start"}, tc.args...)...)
		if r.code != 2 || !strings.Contains(r.stderr, tc.text) {
			t.Errorf("%v: exit %d, stderr %q", tc.args, r.code, r.stderr)
		}
	}
}

func TestStartOverlap(t *testing.T) {
	running := reconf.CampaignStatus{ID: 1, Selector: reconf.Selector{Pool: "office"}, Created: now, Clients: 6, Sent: 5,
		Counts: reconf.Counts{Pending: 5, Renewed: 1}}
	c := &campaigns{backend: newBackend(), startErr: &reconf.OverlapError{Pool: "office", Running: running}}
	sock := withCampaigns(t, c)
	r := leasectl(t, nil, "--socket", sock, "forcerenew", "start", "--pool", "office", "--wait")
	want := `leasectl: reconf: pool "office" already has running campaign 1 (pool office, started 2026-03-01T12:00:00Z): 1 of 6 clients done, 5 pending, 5 FORCERENEW sent` + "\n"
	if r.code != 1 || r.stderr != want || r.stdout != "" {
		t.Errorf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}

func campaignList() []reconf.CampaignStatus {
	one := 1
	return []reconf.CampaignStatus{
		{ID: 1, Selector: reconf.Selector{Pool: "office"}, Options: reconf.DefaultOptions(), State: reconf.Done,
			Created: now.Add(-2 * time.Hour), Ended: now.Add(-2*time.Hour + 31*time.Second), Pools: []string{"office"},
			Clients: 3, Sent: 4, Counts: reconf.Counts{Renewed: 2, NotCapable: 1}},
		{ID: 2, Selector: reconf.Selector{Pool: "lab", Section: &one, From: netip.MustParseAddr("10.1.0.5"), To: netip.MustParseAddr("10.1.0.7")},
			Options: reconf.Options{Attempts: 3, Interval: time.Second, Pace: 0, OnFailure: reconf.Recycle, ForceNAK: true},
			State:   reconf.Running, Created: now.Add(-5 * time.Second), Pools: []string{"lab"},
			Clients: 3, Sent: 4, Counts: reconf.Counts{Pending: 2, Rebound: 1}},
	}
}

func TestStatusClientsStop(t *testing.T) {
	c := &campaigns{backend: newBackend(), list: campaignList(), script: campaignList()[1:],
		clients: []reconf.ClientProgress{
			{Addr: netip.MustParseAddr("10.0.0.10"), Key: []byte{1, 0x52, 0x54, 0, 0x12, 0x34, 0x56}, Pool: "office", Capable: true, Sent: 1,
				Outcome: reconf.Renewed, Last: reconf.EvAck, When: now.Add(-90 * time.Second)},
			{Addr: netip.MustParseAddr("10.0.0.11"), Key: []byte{1, 2, 0, 0, 0, 0, 0x11}, Pool: "office", Capable: false,
				Outcome: reconf.NotCapable, Last: reconf.EvSelected, When: now.Add(-2 * time.Minute)},
			{Addr: netip.MustParseAddr("10.0.0.13"), Key: []byte{1, 2, 0, 0, 0, 0, 0x13}, Pool: "office", Capable: true, Sent: 2,
				Next: now.Add(4 * time.Second), Outcome: reconf.Pending, Last: reconf.EvForceRenew, When: now.Add(-2 * time.Second)},
		}}
	c.script[0].ID = 2
	sock := withCampaigns(t, c)
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"forcerenew-status", []string{"forcerenew", "status"}},
		{"forcerenew-status-one", []string{"forcerenew", "status", "2"}},
		{"forcerenew-clients", []string{"forcerenew", "clients", "3", "--outcome", "renewed,not_capable", "--outcome", "pending"}},
		{"forcerenew-stop", []string{"forcerenew", "stop", "--pool", "lab"}},
		{"disconnect", []string{"disconnect", "10.0.0.10", "--on-failure", "recycle"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := leasectl(t, nil, append([]string{"--socket", sock}, tc.args...)...)
			if r.code != 0 || r.stderr != "" {
				t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
			}
			golden(t, tc.name, r.stdout)
		})
	}
	if len(c.stopped) != 1 || c.stopped[0] != 2 {
		t.Errorf("stopped %v, want [2] (the running campaign of pool lab)", c.stopped)
	}
	if diff := cmp.Diff([]reconf.Outcome{reconf.Renewed, reconf.NotCapable, reconf.Pending}, c.filter.Outcomes); diff != "" {
		t.Errorf("outcome filter (-want +got):\n%s", diff)
	}
	if c.disc != netip.MustParseAddr("10.0.0.10") || c.discOF != reconf.Recycle {
		t.Errorf("disconnect got %v %v", c.disc, c.discOF)
	}

	for _, tc := range []struct {
		args []string
		code int
		text string
	}{
		{[]string{"forcerenew", "stop", "--pool", "office"}, 1, `no running campaign covers pool "office"`},
		{[]string{"forcerenew", "stop", "9"}, 1, "no such campaign"},
		{[]string{"forcerenew", "stop"}, 2, "an id or --pool"},
		{[]string{"forcerenew", "stop", "2", "--pool", "lab"}, 2, "not both"},
		{[]string{"forcerenew", "status", "x"}, 2, "not a campaign id"},
		{[]string{"forcerenew", "status", "7"}, 1, "no such campaign"},
		{[]string{"forcerenew", "clients"}, 2, "needs one campaign id"},
		{[]string{"forcerenew", "clients", "3", "--outcome", "won"}, 2, `--outcome "won": unknown outcome`},
		{[]string{"disconnect", "10.0.0.10", "--on-failure", "restore"}, 2, "want delete or recycle"},
	} {
		r := leasectl(t, nil, append([]string{"--socket", sock}, tc.args...)...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.text) {
			t.Errorf("%v: exit %d, stderr %q", tc.args, r.code, r.stderr)
		}
	}
}

// A backend without campaigns: the 501 message reaches the operator.
func TestCampaignsNotImplemented(t *testing.T) {
	sock := serve(t, newBackend())
	r := leasectl(t, nil, "--socket", sock, "forcerenew", "status")
	if r.code != 1 || !strings.Contains(r.stderr, "does not run FORCERENEW campaigns") {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestCampaignBound(t *testing.T) {
	pace := 100
	c := api.Campaign{Clients: 1000, Options: api.CampaignOptions{Attempts: 8, Interval: "2s", Pace: &pace}}
	// (2^8-1)·2 s + 2 s·2^7 + 1000/100 s·8 + 10 s
	if got, want := campaignBound(c), 510*time.Second+256*time.Second+80*time.Second+10*time.Second; got != want {
		t.Errorf("bound %v, want %v", got, want)
	}
}
