package api

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/leased/leased/lease"
	"github.com/leased/leased/reconf"
)

// mgrCampaigns runs campaigns on a real reconf.Manager over two bound
// leases (office, lab), with per-pool settings like the server's (the
// command's explicit fields win over them).
type mgrCampaigns struct {
	*fakeCampaigns
	m     *reconf.Manager
	pools map[string]reconf.Override
}

func newMgrCampaigns(pools map[string]reconf.Override) *mgrCampaigns {
	return &mgrCampaigns{fakeCampaigns: &fakeCampaigns{fakeBackend: testBackend()}, m: reconf.NewManager(), pools: pools}
}

func (f *mgrCampaigns) StartCampaign(_ context.Context, sel reconf.Selector, opts reconf.Options) (reconf.CampaignStatus, error) {
	opts.Pools = map[string]reconf.Override{}
	for p, ov := range f.pools {
		opts.Pools[p] = ov.Without(opts.Given)
	}
	var ls []lease.Lease
	for _, a := range []struct{ addr, pool string }{{"10.0.0.12", "office"}, {"10.1.0.9", "lab"}} {
		ls = append(ls, lease.Lease{Addr: netip.MustParseAddr(a.addr), ClientID: []byte(a.addr), Pool: a.pool,
			State: lease.StateBound, Expiry: t0.Add(time.Hour), ReconfKey: []byte("k")})
	}
	st, err := f.m.Start(t0, sel, opts, ls)
	if err != nil {
		return reconf.CampaignStatus{}, err
	}
	return *st, nil
}

func (f *mgrCampaigns) Campaign(id uint32) (reconf.CampaignStatus, error) { return f.m.Status(id) }
func (f *mgrCampaigns) Campaigns() []reconf.CampaignStatus                { return f.m.List() }
func (f *mgrCampaigns) StopCampaign(_ context.Context, id uint32) (reconf.CampaignStatus, error) {
	st, err := f.m.Stop(t0.Add(time.Second), id)
	if err != nil {
		return reconf.CampaignStatus{}, err
	}
	return *st, nil
}
func (f *mgrCampaigns) DeleteCampaign(_ context.Context, id uint32) error { return f.m.Forget(id) }

// TestCampaignEffectiveOptions: the campaign object shows the options in
// effect, not the ones requested: a pool setting where the command gave
// nothing, the command's value where it gave one, per pool when the pools
// differ.
func TestCampaignEffectiveOptions(t *testing.T) {
	f := newMgrCampaigns(map[string]reconf.Override{"office": {Attempts: new(2), Interval: new(time.Second), OnFailure: new(reconf.Delete)}})
	h := NewHandler(f, nil, nil)

	// office alone: attempts and interval from the pool, on_failure from the command
	a := post(t, h, "/v1/campaigns", `{"selector":{"pool":"office"},"options":{"on_failure":"recycle"}}`)
	var c Campaign
	if err := json.Unmarshal([]byte(a.body), &c); err != nil || a.code != 201 {
		t.Fatalf("start: %d %s", a.code, a.body)
	}
	if o := c.Options; o.Attempts != 2 || o.Interval != "1s" || o.OnFailure != "recycle" || *o.Pace != 1000 || c.OptionsPerPool ||
		len(c.PoolOptions) != 1 || c.PoolOptions[0].Pool != "office" || c.PoolOptions[0].Attempts != 2 {
		t.Errorf("office: options %+v, per pool %v %+v; want 2 attempts from 1s, recycle", o, c.OptionsPerPool, c.PoolOptions)
	}
	if _, err := f.StopCampaign(context.Background(), c.ID); err != nil {
		t.Fatal(err)
	}

	// both pools: they differ, so per pool
	a = post(t, h, "/v1/campaigns", `{"selector":{"all":true},"options":{"pace":5}}`)
	c = Campaign{}
	if err := json.Unmarshal([]byte(a.body), &c); err != nil || a.code != 201 {
		t.Fatalf("start all: %d %s", a.code, a.body)
	}
	if !c.OptionsPerPool || len(c.PoolOptions) != 2 {
		t.Fatalf("all: options_per_pool %v, pool_options %+v", c.OptionsPerPool, c.PoolOptions)
	}
	lab, office := c.PoolOptions[0], c.PoolOptions[1]
	if lab.Pool != "lab" || lab.Attempts != 8 || lab.Interval != "2s" || lab.OnFailure != "restore" || *lab.Pace != 5 ||
		office.Pool != "office" || office.Attempts != 2 || office.Interval != "1s" || office.OnFailure != "delete" || *office.Pace != 5 {
		t.Errorf("pool options %+v", c.PoolOptions)
	}
	if c.Options.Attempts != 8 || *c.Options.Pace != 5 {
		t.Errorf("campaign-level options %+v, want the command's over the built-in defaults", c.Options)
	}
	// GET shows the same
	r := httptest.NewRequest("GET", "/v1/campaigns/2", nil)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	var g Campaign
	if err := json.Unmarshal(w.Body.Bytes(), &g); err != nil || !g.OptionsPerPool || len(g.PoolOptions) != 2 || g.PoolOptions[1].Attempts != 2 {
		t.Errorf("GET: %s", w.Body.String())
	}
}

// TestCampaignStartExisting: the same start again answers 200 with the
// running campaign and existing: true; a different one overlapping the
// same pool is a 409 naming it.
func TestCampaignStartExisting(t *testing.T) {
	f := newMgrCampaigns(nil)
	h := NewHandler(f, nil, nil)
	body := `{"selector":{"pool":"office"},"options":{"attempts":3}}`
	a := post(t, h, "/v1/campaigns", body)
	if a.code != 201 {
		t.Fatalf("start: %d %s", a.code, a.body)
	}
	a = post(t, h, "/v1/campaigns", body)
	var c Campaign
	if err := json.Unmarshal([]byte(a.body), &c); err != nil || a.code != 200 || !c.Existing || c.ID != 1 || c.State != "running" {
		t.Errorf("same start again: %d %s; want 200, campaign 1, existing", a.code, a.body)
	}
	a = post(t, h, "/v1/campaigns", `{"selector":{"pool":"office"},"options":{"attempts":4}}`)
	if e := errorText(t, a); a.code != 409 || !strings.Contains(e, "running campaign 1") {
		t.Errorf("different overlapping start: %d %q", a.code, e)
	}
}

// TestDeleteCampaign: DELETE /v1/campaigns/{id}: 409 while running, 204
// once finished, then 404.
func TestDeleteCampaign(t *testing.T) {
	f := newMgrCampaigns(nil)
	h := NewHandler(f, nil, nil)
	if a := post(t, h, "/v1/campaigns", `{"selector":{"pool":"office"}}`); a.code != 201 {
		t.Fatalf("start: %d %s", a.code, a.body)
	}
	del := func(target string) answer {
		r := httptest.NewRequest("DELETE", target, nil)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return answer{w.Code, w.Header(), w.Body.String()}
	}
	a := del("/v1/campaigns/1")
	if e := errorText(t, a); a.code != 409 || !strings.Contains(e, "campaign 1 is running: stop it first") {
		t.Errorf("delete running: %d %q", a.code, e)
	}
	if a := post(t, h, "/v1/campaigns/1/stop", ""); a.code != 200 {
		t.Fatalf("stop: %d %s", a.code, a.body)
	}
	if a := del("/v1/campaigns/1"); a.code != 204 || a.body != "" {
		t.Errorf("delete finished: %d %q", a.code, a.body)
	}
	if a := del("/v1/campaigns/1"); a.code != 404 {
		t.Errorf("delete again: %d %s", a.code, a.body)
	}
	if a := del("/v1/campaigns/x"); a.code != 400 {
		t.Errorf("delete bad id: %d %s", a.code, a.body)
	}
	if _, err := f.Campaign(1); err == nil {
		t.Errorf("campaign 1 still known")
	}
}
