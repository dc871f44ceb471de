package main

import (
	"context"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/leased/leased/api"
	"github.com/leased/leased/lease"
	"github.com/leased/leased/reconf"
)

// mgrCampaigns runs campaigns on a real reconf.Manager over one bound
// lease in office and one in lab; pool settings apply like the server's
// (fields the command gave explicitly win).
type mgrCampaigns struct {
	*campaigns
	m     *reconf.Manager
	pools map[string]reconf.Override
}

func newMgrCampaigns(pools map[string]reconf.Override) *mgrCampaigns {
	return &mgrCampaigns{campaigns: &campaigns{backend: newBackend()}, m: reconf.NewManager(), pools: pools}
}

func (f *mgrCampaigns) StartCampaign(_ context.Context, sel reconf.Selector, opts reconf.Options) (reconf.CampaignStatus, error) {
	opts.Pools = map[string]reconf.Override{}
	for p, ov := range f.pools {
		opts.Pools[p] = ov.Without(opts.Given)
	}
	var ls []lease.Lease
	for _, a := range []struct{ addr, pool string }{{"10.0.0.10", "office"}, {"10.1.0.5", "lab"}} {
		ls = append(ls, lease.Lease{Addr: netip.MustParseAddr(a.addr), ClientID: []byte(a.addr), Pool: a.pool,
			State: lease.StateBound, Expiry: now.Add(time.Hour), ReconfKey: []byte("k")})
	}
	st, err := f.m.Start(now.Add(-3*time.Second), sel, opts, ls)
	if err != nil {
		return reconf.CampaignStatus{}, err
	}
	return *st, nil
}

func (f *mgrCampaigns) Campaign(id uint32) (reconf.CampaignStatus, error) { return f.m.Status(id) }
func (f *mgrCampaigns) Campaigns() []reconf.CampaignStatus                { return f.m.List() }
func (f *mgrCampaigns) StopCampaign(_ context.Context, id uint32) (reconf.CampaignStatus, error) {
	st, err := f.m.Stop(now, id)
	if err != nil {
		return reconf.CampaignStatus{}, err
	}
	return *st, nil
}
func (f *mgrCampaigns) DeleteCampaign(_ context.Context, id uint32) error { return f.m.Forget(id) }

var _ api.Campaigns = (*mgrCampaigns)(nil)

// TestStartEffectiveOptions: start, status and --json show the options in
// effect: the pool's attempts and interval (2 × 1 s) where no flag was
// given, the flag's pace where one was; per pool when the pools differ.
func TestStartEffectiveOptions(t *testing.T) {
	f := newMgrCampaigns(map[string]reconf.Override{"office": {Attempts: new(2), Interval: new(time.Second), Pace: new(7)}})
	sock := serve(t, f)
	r := leasectl(t, nil, "--socket", sock, "forcerenew", "start", "--pool", "office", "--pace", "10")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	golden(t, "forcerenew-start-effective", r.stdout)
	r = leasectl(t, nil, "--socket", sock, "forcerenew", "status", "1", "--json")
	var c api.Campaign
	if err := json.Unmarshal([]byte(r.stdout), &c); err != nil || c.Options.Attempts != 2 || c.Options.Interval != "1s" ||
		*c.Options.Pace != 10 || len(c.PoolOptions) != 1 || c.PoolOptions[0].Attempts != 2 {
		t.Errorf("status --json: %v %s", err, r.stdout)
	}
	leasectl(t, nil, "--socket", sock, "forcerenew", "stop", "1")

	r = leasectl(t, nil, "--socket", sock, "forcerenew", "start", "--all", "--on-failure", "delete")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	golden(t, "forcerenew-start-per-pool", r.stdout)
	r = leasectl(t, nil, "--socket", sock, "forcerenew", "status", "2")
	golden(t, "forcerenew-status-per-pool", r.stdout)
}

// TestStartAlreadyRunning: the same start again says the campaign is
// already running, with its progress, and exits 0; --json carries
// existing: true.
func TestStartAlreadyRunning(t *testing.T) {
	f := newMgrCampaigns(nil)
	sock := serve(t, f)
	args := []string{"--socket", sock, "forcerenew", "start", "--pool", "office", "--attempts", "3"}
	if r := leasectl(t, nil, args...); r.code != 0 || !strings.HasPrefix(r.stdout, "campaign 1 started") {
		t.Fatalf("first start: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	r := leasectl(t, nil, args...)
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("same start again: exit %d, stderr %q", r.code, r.stderr)
	}
	golden(t, "forcerenew-start-again", r.stdout)
	r = leasectl(t, nil, append(args, "--json")...)
	var c api.Campaign
	if err := json.Unmarshal([]byte(r.stdout), &c); err != nil || !c.Existing || c.ID != 1 {
		t.Errorf("--json: %v %s", err, r.stdout)
	}
	// a different campaign over the same pool: an error naming the running one
	r = leasectl(t, nil, "--socket", sock, "forcerenew", "start", "--pool", "office", "--attempts", "4")
	if r.code != 1 || !strings.Contains(r.stderr, "already has running campaign 1") {
		t.Errorf("overlapping start: exit %d, stderr %q", r.code, r.stderr)
	}
}

// TestDeleteCampaignCommand: delete refuses a running campaign (naming
// the stop command), deletes a finished one, and says so when unknown;
// under both parents.
func TestDeleteCampaignCommand(t *testing.T) {
	f := newMgrCampaigns(nil)
	sock := serve(t, f)
	if r := leasectl(t, nil, "--socket", sock, "forcerenew", "start", "--pool", "office"); r.code != 0 {
		t.Fatalf("start: %s", r.stderr)
	}
	r := leasectl(t, nil, "--socket", sock, "forcerenew", "delete", "1")
	if r.code != 1 || r.stderr != "leasectl: campaign 1 is running: stop it first with 'leasectl forcerenew stop 1'\n" {
		t.Errorf("delete running: exit %d, stderr %q", r.code, r.stderr)
	}
	leasectl(t, nil, "--socket", sock, "forcerenew", "stop", "1")
	r = leasectl(t, nil, "--socket", sock, "forcerenew", "delete", "1")
	if r.code != 0 || r.stdout != "campaign 1 deleted\n" {
		t.Errorf("delete: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	if _, err := f.m.Status(1); err == nil {
		t.Error("campaign 1 still known")
	}
	r = leasectl(t, nil, "--socket", sock, "reconfigure", "delete", "1")
	if r.code != 1 || !strings.Contains(r.stderr, "no such campaign") {
		t.Errorf("delete unknown: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := leasectl(t, nil, "--socket", sock, "reconfigure", "start", "--pool", "lab"); r.code != 0 {
		t.Fatalf("start lab: %s", r.stderr)
	}
	leasectl(t, nil, "--socket", sock, "reconfigure", "stop", "2")
	if r := leasectl(t, nil, "--socket", sock, "reconfigure", "delete", "2"); r.code != 0 || r.stdout != "campaign 2 deleted\n" {
		t.Errorf("reconfigure delete: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	if r := leasectl(t, nil, "--socket", sock, "forcerenew", "delete"); r.code != 2 {
		t.Errorf("delete without id: exit %d", r.code)
	}
}
