package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v4"

	"github.com/leased/leased/lease"
	"github.com/leased/leased/reconf"
)

// fakeCampaigns is a Backend that also implements Campaigns: it records
// what the handler passed and answers with canned statuses or errors.
type fakeCampaigns struct {
	*fakeBackend
	cmu      sync.Mutex
	sel      reconf.Selector
	opts     reconf.Options
	startErr error
	list     []reconf.CampaignStatus
	clients  []reconf.ClientProgress
	filter   reconf.ClientFilter
	stopErr  error
	discAddr netip.Addr
	discOF   reconf.OnFailure
	discErr  error
}

var _ Campaigns = (*fakeCampaigns)(nil)

func (f *fakeCampaigns) StartCampaign(_ context.Context, sel reconf.Selector, opts reconf.Options) (reconf.CampaignStatus, error) {
	f.cmu.Lock()
	defer f.cmu.Unlock()
	f.sel, f.opts = sel, opts
	if f.startErr != nil {
		return reconf.CampaignStatus{}, f.startErr
	}
	st := reconf.CampaignStatus{ID: uint32(len(f.list) + 1), Selector: sel, Options: opts, State: reconf.Running,
		Created: t0, Pools: []string{"office"}, Clients: 3, Sent: 2, Counts: reconf.Counts{Pending: 2, NotCapable: 1}}
	f.list = append(f.list, st)
	return st, nil
}

func (f *fakeCampaigns) Campaign(id uint32) (reconf.CampaignStatus, error) {
	f.cmu.Lock()
	defer f.cmu.Unlock()
	for _, c := range f.list {
		if c.ID == id {
			return c, nil
		}
	}
	return reconf.CampaignStatus{}, fmt.Errorf("campaign %d: %w", id, reconf.ErrNotFound)
}

func (f *fakeCampaigns) Campaigns() []reconf.CampaignStatus {
	f.cmu.Lock()
	defer f.cmu.Unlock()
	return append([]reconf.CampaignStatus(nil), f.list...)
}

func (f *fakeCampaigns) StopCampaign(_ context.Context, id uint32) (reconf.CampaignStatus, error) {
	f.cmu.Lock()
	defer f.cmu.Unlock()
	if f.stopErr != nil {
		return reconf.CampaignStatus{}, f.stopErr
	}
	for i, c := range f.list {
		if c.ID == id {
			if c.State != reconf.Running {
				return c, reconf.ErrNotRunning
			}
			c.State, c.Ended = reconf.Stopped, t0.Add(3*time.Second)
			c.Counts.Aborted, c.Counts.Pending = c.Counts.Pending, 0
			f.list[i] = c
			return c, nil
		}
	}
	return reconf.CampaignStatus{}, reconf.ErrNotFound
}

func (f *fakeCampaigns) DeleteCampaign(_ context.Context, id uint32) error {
	f.cmu.Lock()
	defer f.cmu.Unlock()
	for i, c := range f.list {
		if c.ID == id {
			if c.State == reconf.Running {
				return fmt.Errorf("%w: campaign %d: stop it first", reconf.ErrRunning, id)
			}
			f.list = append(f.list[:i], f.list[i+1:]...)
			return nil
		}
	}
	return fmt.Errorf("%w: %d", reconf.ErrNotFound, id)
}

func (f *fakeCampaigns) CampaignClients(id uint32, fl reconf.ClientFilter) ([]reconf.ClientProgress, error) {
	f.cmu.Lock()
	defer f.cmu.Unlock()
	f.filter = fl
	if id != 1 {
		return nil, reconf.ErrNotFound
	}
	return f.clients, nil
}

func (f *fakeCampaigns) Disconnect(_ context.Context, addr netip.Addr, of reconf.OnFailure) (reconf.CampaignStatus, error) {
	f.cmu.Lock()
	defer f.cmu.Unlock()
	f.discAddr, f.discOF = addr, of
	if f.discErr != nil {
		return reconf.CampaignStatus{}, f.discErr
	}
	o := reconf.DefaultOptions()
	o.ForceNAK, o.OnFailure = true, of
	return reconf.CampaignStatus{ID: 9, Selector: reconf.Selector{Client: addr.String()}, Options: o, State: reconf.Running,
		Created: t0, Pools: []string{"office"}, Clients: 1, Counts: reconf.Counts{Pending: 1}}, nil
}

func post(t *testing.T, h http.Handler, target, body string) answer {
	t.Helper()
	r := httptest.NewRequest("POST", target, strings.NewReader(body))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return answer{w.Code, w.Header(), w.Body.String()}
}

func TestStartCampaign(t *testing.T) {
	two, one := 2, 1
	for _, tc := range []struct {
		name, body string
		code       int
		sel        reconf.Selector
		opts       func(*reconf.Options)
		err        string // substring of the error text
	}{
		{name: "pool defaults", body: `{"selector":{"pool":"office"}}`, code: 201, sel: reconf.Selector{Pool: "office"}},
		{name: "all options", body: `{"selector":{"pool":"office","section":1,"from":"10.0.0.10","to":"10.0.0.50"},
			"options":{"attempts":3,"interval":"1s","pace":0,"on_failure":"recycle","force_nak":true,"recycle_not_capable":true}}`,
			code: 201, sel: reconf.Selector{Pool: "office", Section: &one, From: netip.MustParseAddr("10.0.0.10"), To: netip.MustParseAddr("10.0.0.50")},
			opts: func(o *reconf.Options) {
				o.Attempts, o.Interval, o.Pace, o.OnFailure, o.ForceNAK, o.RecycleNotCapable = 3, time.Second, 0, reconf.Recycle, true, true
				o.Given = reconf.FieldAttempts | reconf.FieldInterval | reconf.FieldPace | reconf.FieldOnFailure | reconf.FieldForceNAK | reconf.FieldRecycleNotCapable
			}},
		{name: "all", body: `{"selector":{"all":true},"options":{"on_failure":"delete","pace":50}}`, code: 201,
			opts: func(o *reconf.Options) {
				o.OnFailure, o.Pace = reconf.Delete, 50
				o.Given = reconf.FieldOnFailure | reconf.FieldPace
			}},
		{name: "client", body: `{"selector":{"client":"52:54:00:12:34:56"}}`, code: 201, sel: reconf.Selector{Client: "52:54:00:12:34:56"}},
		{name: "section 2", body: `{"selector":{"pool":"lab","section":2}}`, code: 201, sel: reconf.Selector{Pool: "lab", Section: &two}},

		{name: "unknown fields named", body: `{"selector":{"pool":"office","sectoin":1},"options":{"retries":3},"dry":true}`, code: 400,
			err: "unknown field(s) dry, selector.sectoin, options.retries"},
		{name: "empty selector", body: `{"selector":{}}`, code: 400, err: "all: true"},
		{name: "no selector", body: `{"options":{}}`, code: 400, err: "selector: missing"},
		{name: "all plus pool", body: `{"selector":{"all":true,"pool":"office"}}`, code: 400, err: "all cannot be combined"},
		{name: "section without pool", body: `{"selector":{"section":1}}`, code: 400, err: "needs selector.pool"},
		{name: "half range", body: `{"selector":{"from":"10.0.0.1"}}`, code: 400, err: "both from and to"},
		{name: "reversed range", body: `{"selector":{"from":"10.0.0.9","to":"10.0.0.1"}}`, code: 400, err: "below from"},
		{name: "v6 range", body: `{"selector":{"from":"fd77::1:0","to":"fd77::1:ffff"}}`, code: 201,
			sel: reconf.Selector{From: netip.MustParseAddr("fd77::1:0"), To: netip.MustParseAddr("fd77::1:ffff")}},
		{name: "v6 client by DUID", body: `{"selector":{"client":"00:03:00:01:52:54:00:ab:cd:ef"}}`, code: 201,
			sel: reconf.Selector{Client: "00:03:00:01:52:54:00:ab:cd:ef"}},
		{name: "v6 client by address", body: `{"selector":{"client":"fd77::1:5","family":6}}`, code: 201, sel: reconf.Selector{Client: "fd77::1:5", Family: 6}},
		{name: "family 6 all", body: `{"selector":{"all":true,"family":6}}`, code: 201, sel: reconf.Selector{Family: 6}},
		{name: "family 6 alone", body: `{"selector":{"family":6}}`, code: 201, sel: reconf.Selector{Family: 6}},
		{name: "family 4 pool", body: `{"selector":{"pool":"office","family":4}}`, code: 201, sel: reconf.Selector{Pool: "office", Family: 4}},
		{name: "mixed range", body: `{"selector":{"from":"10.0.0.1","to":"fd77::2"}}`, code: 400, err: "one family"},
		{name: "family 5", body: `{"selector":{"all":true,"family":5}}`, code: 400, err: "selector.family: 5, want 4 or 6"},
		{name: "family vs range", body: `{"selector":{"from":"10.0.0.1","to":"10.0.0.2","family":6}}`, code: 400, err: "contradicts the range"},
		{name: "family vs client", body: `{"selector":{"client":"10.0.0.12","family":6}}`, code: 400, err: "contradicts client"},
		{name: "bad client", body: `{"selector":{"client":"xyz"}}`, code: 400, err: "selector.client"},
		{name: "unknown pool", body: `{"selector":{"pool":"garage"}}`, code: 400, err: `unknown pool "garage" (valid: office, lab)`},
		{name: "attempts", body: `{"selector":{"all":true},"options":{"attempts":21}}`, code: 400, err: "options.attempts: 21, want 1..20"},
		{name: "interval", body: `{"selector":{"all":true},"options":{"interval":"2"}}`, code: 400, err: "options.interval"},
		{name: "interval too long", body: `{"selector":{"all":true},"options":{"interval":"2h"}}`, code: 400, err: "options.interval"},
		{name: "pace", body: `{"selector":{"all":true},"options":{"pace":-1}}`, code: 400, err: "options.pace"},
		{name: "on_failure", body: `{"selector":{"all":true},"options":{"on_failure":"explode"}}`, code: 400, err: "want restore, delete or recycle"},
		{name: "wrong type", body: `{"selector":{"pool":7}}`, code: 400, err: "body:"},
		{name: "not json", body: `pool=office`, code: 400, err: "not a JSON object"},
		{name: "trailing", body: `{"selector":{"all":true}} {}`, code: 400, err: "not a JSON object"},
		{name: "array", body: `[]`, code: 400, err: "not a JSON object"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeCampaigns{fakeBackend: testBackend()}
			a := post(t, NewHandler(f, nil, nil), "/v1/campaigns", tc.body)
			if a.code != tc.code {
				t.Fatalf("code %d, want %d: %s", a.code, tc.code, a.body)
			}
			if tc.code != 201 {
				if e := errorText(t, a); !strings.Contains(e, tc.err) {
					t.Errorf("error %q does not contain %q", e, tc.err)
				}
				return
			}
			want := reconf.DefaultOptions()
			want.Attempts, want.Interval = 0, 0 // each client's family default
			if tc.opts != nil {
				tc.opts(&want)
			}
			if diff := cmp.Diff(tc.sel, f.sel, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
				t.Errorf("selector (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(want, f.opts); diff != "" {
				t.Errorf("options (-want +got):\n%s", diff)
			}
			var c Campaign
			if err := json.Unmarshal([]byte(a.body), &c); err != nil {
				t.Fatal(err)
			}
			wantIv := want.Interval
			if wantIv == 0 {
				wantIv = reconf.DefaultInterval
			}
			if c.ID != 1 || c.State != "running" || c.Options.Interval != wantIv.String() || *c.Options.Pace != want.Pace ||
				c.Options.OnFailure != want.OnFailure.String() || c.Counts.NotCapable != 1 {
				t.Errorf("answer %s", a.body)
			}
		})
	}
}

func TestStartCampaignErrors(t *testing.T) {
	running := reconf.CampaignStatus{ID: 4, Selector: reconf.Selector{Pool: "office"}, Created: t0, Clients: 6, Sent: 5,
		Counts: reconf.Counts{Pending: 5, Renewed: 1}}
	for _, tc := range []struct {
		err  error
		code int
		text string
	}{
		{&reconf.OverlapError{Pool: "office", Running: running}, 409,
			`reconf: pool "office" already has running campaign 4 (pool office, started 2026-03-01T12:00:00Z): 1 of 6 clients done, 5 pending, 5 FORCERENEW sent`},
		{fmt.Errorf("start: %w", reconf.ErrNoClients), 400, "selector matches no bound lease"},
		{fmt.Errorf("%w: bad", reconf.ErrSelector), 400, "invalid selector"},
		{context.DeadlineExceeded, 503, "start campaign: context deadline exceeded"},
		{errors.New("disk on fire"), 500, "start campaign: disk on fire"},
	} {
		f := &fakeCampaigns{fakeBackend: testBackend(), startErr: tc.err}
		a := post(t, NewHandler(f, nil, nil), "/v1/campaigns", `{"selector":{"pool":"office"}}`)
		if a.code != tc.code || !strings.Contains(errorText(t, a), tc.text) {
			t.Errorf("%v: %d %s", tc.err, a.code, a.body)
		}
	}
}

func TestCampaignQueries(t *testing.T) {
	f := &fakeCampaigns{fakeBackend: testBackend()}
	h := NewHandler(f, nil, nil)
	if a := call(t, h, "GET", "/v1/campaigns"); a.code != 200 || strings.TrimSpace(a.body) != "[]" {
		t.Errorf("empty list: %d %q", a.code, a.body)
	}
	post(t, h, "/v1/campaigns", `{"selector":{"pool":"office"}}`)
	post(t, h, "/v1/campaigns", `{"selector":{"pool":"lab"}}`)
	var list []Campaign
	a := call(t, h, "GET", "/v1/campaigns")
	if err := json.Unmarshal([]byte(a.body), &list); err != nil || len(list) != 2 || list[0].ID != 1 || list[1].Description != "pool lab" {
		t.Errorf("list: %v %s", err, a.body)
	}
	a = call(t, h, "GET", "/v1/campaigns/2")
	var c Campaign
	if err := json.Unmarshal([]byte(a.body), &c); err != nil || a.code != 200 || c.ID != 2 || c.Selector.Pool != "lab" || c.Selector.All {
		t.Errorf("get: %d %s", a.code, a.body)
	}
	if a := call(t, h, "GET", "/v1/campaigns/7"); a.code != 404 || !strings.Contains(errorText(t, a), "no such campaign") {
		t.Errorf("unknown id: %d %s", a.code, a.body)
	}
	for _, bad := range []string{"0", "x", "-1", "99999999999"} {
		if a := call(t, h, "GET", "/v1/campaigns/"+bad); a.code != 400 || !strings.HasPrefix(errorText(t, a), "id: ") {
			t.Errorf("id %s: %d %s", bad, a.code, a.body)
		}
	}

	// Stop, then stop again (not running: 409), unknown: 404.
	a = post(t, h, "/v1/campaigns/1/stop", "")
	if err := json.Unmarshal([]byte(a.body), &c); err != nil || a.code != 200 || c.State != "stopped" || c.Counts.Aborted != 2 || c.Ended.IsZero() {
		t.Errorf("stop: %d %s", a.code, a.body)
	}
	if a := post(t, h, "/v1/campaigns/1/stop", ""); a.code != 409 || !strings.Contains(errorText(t, a), "not running") {
		t.Errorf("stop again: %d %s", a.code, a.body)
	}
	if a := post(t, h, "/v1/campaigns/5/stop", ""); a.code != 404 {
		t.Errorf("stop unknown: %d %s", a.code, a.body)
	}
	if a := call(t, h, "GET", "/v1/campaigns/1/stop"); a.code != 405 || a.header.Get("Allow") != "POST" {
		t.Errorf("GET stop: %d %v", a.code, a.header)
	}
}

func TestCampaignClients(t *testing.T) {
	f := &fakeCampaigns{fakeBackend: testBackend(), clients: []reconf.ClientProgress{
		{Campaign: 1, Addr: netip.MustParseAddr("10.0.0.12"), Key: []byte{1, 0x52, 0x54, 0, 0x12, 0x34, 0x56}, Pool: "office", Capable: true,
			Sent: 1, Outcome: reconf.Renewed, Last: reconf.EvAck, When: t0.Add(1500 * time.Millisecond)},
		{Campaign: 1, Addr: netip.MustParseAddr("10.0.0.13"), Key: []byte{1, 2}, Pool: "office", Sent: 2, Next: t0.Add(6 * time.Second),
			Outcome: reconf.Pending, Last: reconf.EvForceRenew, When: t0.Add(2 * time.Second)},
	}}
	h := NewHandler(f, nil, nil)
	a := call(t, h, "GET", "/v1/campaigns/1/clients?outcome=renewed,pending&outcome=no_response&after=10.0.0.1&limit=5")
	var got []CampaignClient
	if err := json.Unmarshal([]byte(a.body), &got); err != nil || a.code != 200 {
		t.Fatalf("%d %s", a.code, a.body)
	}
	want := []CampaignClient{
		{Address: netip.MustParseAddr("10.0.0.12"), Family: 4, ClientID: "01525400123456", Pool: "office", Capable: true, Sent: 1,
			Outcome: "renewed", Last: "ack", When: t0.Add(1500 * time.Millisecond)},
		{Address: netip.MustParseAddr("10.0.0.13"), Family: 4, ClientID: "0102", Pool: "office", Sent: 2, Next: t0.Add(6 * time.Second),
			Outcome: "pending", Last: "forcerenew", When: t0.Add(2 * time.Second)},
	}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("clients (-want +got):\n%s", diff)
	}
	wantF := reconf.ClientFilter{Outcomes: []reconf.Outcome{reconf.Renewed, reconf.Pending, reconf.NoResponse},
		After: netip.MustParseAddr("10.0.0.1"), Limit: 5}
	if diff := cmp.Diff(wantF, f.filter, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("filter (-want +got):\n%s", diff)
	}
	for q, text := range map[string]string{
		"outcome=won":     `outcome: unknown outcome "won" (valid: pending, renewed`,
		"after=10.0":      "after: ",
		"limit=0":         "limit: ",
		"limit=1&limit=2": "limit: given 2 times",
		"state=bound":     `unknown query parameter "state"`,
	} {
		if a := call(t, h, "GET", "/v1/campaigns/1/clients?"+q); a.code != 400 || !strings.Contains(errorText(t, a), text) {
			t.Errorf("%s: %d %s", q, a.code, a.body)
		}
	}
	if a := call(t, h, "GET", "/v1/campaigns/2/clients"); a.code != 404 {
		t.Errorf("unknown campaign: %d %s", a.code, a.body)
	}
}

func TestDisconnect(t *testing.T) {
	f := &fakeCampaigns{fakeBackend: testBackend()}
	h := NewHandler(f, nil, nil)
	a := post(t, h, "/v1/leases/10.0.0.12/disconnect", "")
	var c Campaign
	if err := json.Unmarshal([]byte(a.body), &c); err != nil || a.code != 200 || c.ID != 9 || c.Options.ForceNAK == nil || !*c.Options.ForceNAK ||
		c.Options.OnFailure != "delete" || c.Description != "client 10.0.0.12" {
		t.Errorf("disconnect: %d %s", a.code, a.body)
	}
	if f.discAddr != netip.MustParseAddr("10.0.0.12") || f.discOF != reconf.Delete {
		t.Errorf("backend got %v %v", f.discAddr, f.discOF)
	}
	if a := post(t, h, "/v1/leases/10.0.0.12/disconnect?on_failure=recycle", ""); a.code != 200 || f.discOF != reconf.Recycle {
		t.Errorf("recycle: %d %v", a.code, f.discOF)
	}
	for q, text := range map[string]string{
		"on_failure=restore":                   `on_failure: "restore", want delete (default) or recycle`,
		"now=1":                                `unknown query parameter "now"`,
		"on_failure=delete&on_failure=recycle": "more than once",
	} {
		if a := post(t, h, "/v1/leases/10.0.0.12/disconnect?"+q, ""); a.code != 400 || !strings.Contains(errorText(t, a), text) {
			t.Errorf("%s: %d %s", q, a.code, a.body)
		}
	}
	if a := post(t, h, "/v1/leases/10.0/disconnect", ""); a.code != 400 {
		t.Errorf("bad address: %d", a.code)
	}
	f.discErr = fmt.Errorf("x: %w", reconf.ErrNoClients)
	if a := post(t, h, "/v1/leases/10.0.0.99/disconnect", ""); a.code != 404 || errorText(t, a) != "no bound lease for 10.0.0.99" {
		t.Errorf("no lease: %d %s", a.code, a.body)
	}
	f.discErr = fmt.Errorf("x: %w", lease.ErrNotFound)
	if a := post(t, h, "/v1/leases/10.0.0.99/disconnect", ""); a.code != 404 {
		t.Errorf("not found: %d %s", a.code, a.body)
	}
	f.discErr = &reconf.OverlapError{Pool: "office", Running: reconf.CampaignStatus{ID: 1, Created: t0}}
	if a := post(t, h, "/v1/leases/10.0.0.12/disconnect", ""); a.code != 409 || !strings.Contains(errorText(t, a), "running campaign 1") {
		t.Errorf("overlap: %d %s", a.code, a.body)
	}
}

// Without Campaigns in the backend every campaign route answers 501.
func TestCampaignsNotImplemented(t *testing.T) {
	h := NewHandler(testBackend(), nil, nil)
	for _, rt := range routes {
		if !strings.Contains(rt.path, "campaign") && !strings.HasSuffix(rt.path, "/disconnect") {
			continue
		}
		target := strings.NewReplacer("{id}", "1", "{address}", "10.0.0.12").Replace(rt.path)
		r := httptest.NewRequest(rt.method, target, strings.NewReader(`{"selector":{"all":true}}`))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		a := answer{w.Code, w.Header(), w.Body.String()}
		if a.code != 501 || !strings.Contains(errorText(t, a), "does not run FORCERENEW campaigns") {
			t.Errorf("%s %s: %d %s", rt.method, target, a.code, a.body)
		}
	}
}

// TestOpenAPICampaignFields is TestOpenAPIJSONFields for the campaign
// schemas.
func TestOpenAPICampaignFields(t *testing.T) {
	raw, err := os.ReadFile("openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]any `yaml:"properties"`
				Enum       []string       `yaml:"enum"`
			} `yaml:"schemas"`
		} `yaml:"components"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	one, pace := 1, 5
	sel := CampaignSelector{All: true, Pool: "p", Section: &one, PrefixPool: "p", From: netip.MustParseAddr("10.0.0.1"), To: netip.MustParseAddr("10.0.0.2"), Client: "c", Family: 4}
	yes := true
	opts := CampaignOptions{Attempts: 1, Interval: "1s", Pace: &pace, OnFailure: "delete", ReconfMsg: "rebind", ForceNAK: &yes, RecycleNotCapable: &yes}
	full := map[string]any{
		"Campaign":         Campaign{Ended: t0, Existing: true, OptionsPerPool: true},
		"CampaignClient":   CampaignClient{Next: t0, When: t0, More: []netip.Addr{netip.MustParseAddr("fd77::1")}},
		"CampaignSelector": sel,
		"CampaignOptions":  opts,
		"CampaignRequest":  CampaignRequest{Selector: sel, Options: opts},
		"Counts":           reconf.Counts{},
	}
	for name, v := range full {
		b, _ := json.Marshal(v)
		var m map[string]any
		json.Unmarshal(b, &m)
		props := doc.Components.Schemas[name].Properties
		for k := range m {
			if _, ok := props[k]; !ok {
				t.Errorf("%s.%s is emitted but not in openapi.yaml", name, k)
			}
		}
		for k := range props {
			if _, ok := m[k]; !ok {
				t.Errorf("%s.%s is documented but never emitted", name, k)
			}
		}
	}
	if diff := cmp.Diff(OutcomeNames(), doc.Components.Schemas["Outcome"].Enum); diff != "" {
		t.Errorf("Outcome enum (-go +openapi):\n%s", diff)
	}
}
