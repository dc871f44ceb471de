package api

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/leased/leased/lease"
	"github.com/leased/leased/reconf"
)

// campaigns6 is a campaign backend with DHCPv4 pools (office, lab), a
// DHCPv6 pool that delegates prefixes (office6, office6/pd) and one that
// does not (lab6).
func campaigns6() *fakeCampaigns {
	b := testBackend6().fakeBackend
	b.pools = append(b.pools, lease.PoolStats{Name: "lab6", Subnet: netip.MustParsePrefix("fd88::/64"), Size: 256})
	return &fakeCampaigns{fakeBackend: b}
}

func TestStartCampaign6(t *testing.T) {
	addr := netip.MustParseAddr
	for _, tc := range []struct {
		name, body string
		code       int
		sel        reconf.Selector
		msg        reconf.ReconfMsg
		err        string // substring of the error text
	}{
		{name: "family 6", body: `{"selector":{"family":6}}`, code: 201, sel: reconf.Selector{Family: 6}},
		{name: "v6 pool", body: `{"selector":{"pool":"office6"}}`, code: 201, sel: reconf.Selector{Pool: "office6"}},
		{name: "prefix pool", body: `{"selector":{"prefix_pool":"office6"}}`, code: 201, sel: reconf.Selector{PrefixPool: "office6"}},
		{name: "prefix pool and same pool", body: `{"selector":{"prefix_pool":"office6","pool":"office6","family":6}}`, code: 201,
			sel: reconf.Selector{Pool: "office6", PrefixPool: "office6", Family: 6}},
		{name: "prefix pool with range", body: `{"selector":{"prefix_pool":"office6","from":"fd77:100::","to":"fd77:100:0:ff00::"}}`, code: 201,
			sel: reconf.Selector{PrefixPool: "office6", From: addr("fd77:100::"), To: addr("fd77:100:0:ff00::")}},
		{name: "v6 range", body: `{"selector":{"from":"fd77::1:0","to":"fd77::1:ff","family":6}}`, code: 201,
			sel: reconf.Selector{From: addr("fd77::1:0"), To: addr("fd77::1:ff"), Family: 6}},
		{name: "DUID", body: `{"selector":{"client":"00:03:00:01:52:54:00:ab:cd:ef","family":6}}`, code: 201,
			sel: reconf.Selector{Client: "00:03:00:01:52:54:00:ab:cd:ef", Family: 6}},
		{name: "rebind", body: `{"selector":{"pool":"office6"},"options":{"reconf_msg":"rebind"}}`, code: 201,
			sel: reconf.Selector{Pool: "office6"}, msg: reconf.ReconfRebind},
		{name: "information-request", body: `{"selector":{"family":6},"options":{"reconf_msg":"information-request"}}`, code: 201,
			sel: reconf.Selector{Family: 6}, msg: reconf.ReconfInformationRequest},
		{name: "renew explicit", body: `{"selector":{"prefix_pool":"office6"},"options":{"reconf_msg":"renew"}}`, code: 201,
			sel: reconf.Selector{PrefixPool: "office6"}, msg: reconf.ReconfRenew},
		// Selectors that may match both families take reconf_msg.
		{name: "reconf_msg with all", body: `{"selector":{"all":true},"options":{"reconf_msg":"rebind"}}`, code: 201, msg: reconf.ReconfRebind},
		{name: "reconf_msg with MAC", body: `{"selector":{"client":"52:54:00:ab:cd:ef"},"options":{"reconf_msg":"rebind"}}`, code: 201,
			sel: reconf.Selector{Client: "52:54:00:ab:cd:ef"}, msg: reconf.ReconfRebind},

		{name: "bad reconf_msg", body: `{"selector":{"family":6},"options":{"reconf_msg":"reboot"}}`, code: 400,
			err: `options.reconf_msg: "reboot", want renew, rebind or information-request`},
		{name: "reconf_msg family 4", body: `{"selector":{"family":4},"options":{"reconf_msg":"rebind"}}`, code: 400,
			err: "options.reconf_msg: only DHCPv6 clients get a Reconfigure, and this selector (family 4) matches DHCPv4 clients only"},
		{name: "reconf_msg v4 pool", body: `{"selector":{"pool":"office"},"options":{"reconf_msg":"renew"}}`, code: 400,
			err: "selector (pool office) matches DHCPv4 clients only"},
		{name: "reconf_msg v4 range", body: `{"selector":{"from":"10.0.0.1","to":"10.0.0.9"},"options":{"reconf_msg":"rebind"}}`, code: 400,
			err: "matches DHCPv4 clients only"},
		{name: "reconf_msg v4 client", body: `{"selector":{"client":"10.0.0.12"},"options":{"reconf_msg":"rebind"}}`, code: 400,
			err: "matches DHCPv4 clients only"},
		{name: "unknown prefix pool", body: `{"selector":{"prefix_pool":"garage"}}`, code: 400,
			err: `selector.prefix_pool: unknown pool "garage" (valid: office6)`},
		{name: "prefix pool without delegation", body: `{"selector":{"prefix_pool":"lab6"}}`, code: 400,
			err: `selector.prefix_pool: pool "lab6" (DHCPv6) delegates no prefixes`},
		{name: "prefix pool of a v4 pool", body: `{"selector":{"prefix_pool":"office"}}`, code: 400,
			err: `pool "office" (DHCPv4) delegates no prefixes`},
		{name: "prefix pool and other pool", body: `{"selector":{"prefix_pool":"office6","pool":"lab6"}}`, code: 400,
			err: `selector.prefix_pool: "office6" and selector.pool "lab6" differ`},
		{name: "prefix pool family 4", body: `{"selector":{"prefix_pool":"office6","family":4}}`, code: 400,
			err: "delegated prefixes are DHCPv6, family 4 contradicts it"},
		{name: "prefix pool v4 range", body: `{"selector":{"prefix_pool":"office6","from":"10.0.0.1","to":"10.0.0.2"}}`, code: 400,
			err: "delegated prefixes are IPv6"},
		{name: "prefix pool and client", body: `{"selector":{"prefix_pool":"office6","client":"00:03:00:01:52:54:00:ab:cd:ef"}}`, code: 400,
			err: "selector.client: cannot be combined with a section, prefix_pool or range"},
		{name: "prefix pool and section", body: `{"selector":{"prefix_pool":"office6","pool":"office6","section":0}}`, code: 400,
			err: "DHCPv6 pools have no sections"},
		{name: "section of a v6 pool", body: `{"selector":{"pool":"office6","section":0}}`, code: 400,
			err: `selector.section: pool "office6" is DHCPv6, which has no sections`},
		{name: "pd entry as pool", body: `{"selector":{"pool":"office6/pd"}}`, code: 400,
			err: `selector.pool: "office6/pd" is the prefix delegation of pool "office6"; use "prefix_pool": "office6"`},
		{name: "family 6 with v4 pool", body: `{"selector":{"pool":"office","family":6}}`, code: 400,
			err: `selector: pool "office" is a DHCPv4 pool; the selector asks for family 6`},
		{name: "family 4 with v6 pool", body: `{"selector":{"pool":"office6","family":4}}`, code: 400,
			err: `pool "office6" is a DHCPv6 pool; the selector asks for family 4`},
		{name: "all with prefix pool", body: `{"selector":{"all":true,"prefix_pool":"office6"}}`, code: 400, err: "all cannot be combined"},
		{name: "reconf_msg wrong type", body: `{"selector":{"family":6},"options":{"reconf_msg":2}}`, code: 400, err: "body:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := campaigns6()
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
			if diff := cmp.Diff(tc.sel, f.sel, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
				t.Errorf("selector (-want +got):\n%s", diff)
			}
			if f.opts.ReconfMsg != tc.msg || f.opts.Attempts != 0 || f.opts.Interval != 0 {
				t.Errorf("options %+v, want reconf_msg %v and attempts/interval left to the family defaults", f.opts, tc.msg)
			}
			var c Campaign
			if err := json.Unmarshal([]byte(a.body), &c); err != nil {
				t.Fatal(err)
			}
			if c.Options.ReconfMsg != tc.msg.String() || c.Options.Attempts != reconf.DefaultAttempts6 ||
				c.Options.Interval != reconf.DefaultInterval6.String() {
				t.Errorf("answer options %+v", c.Options)
			}
		})
	}
}

// The answer describes a family selector as the family (not as a range),
// shows prefix_pool, and leaves reconf_msg out for DHCPv4-only campaigns.
func TestCampaignJSON6(t *testing.T) {
	f := campaigns6()
	h := NewHandler(f, nil, nil)
	for _, body := range []string{
		`{"selector":{"family":6},"options":{"reconf_msg":"rebind"}}`,
		`{"selector":{"prefix_pool":"office6"}}`,
		`{"selector":{"pool":"office"}}`,
		`{"selector":{"all":true,"family":4}}`,
		`{"selector":{"all":true}}`,
	} {
		if a := post(t, h, "/v1/campaigns", body); a.code != 201 {
			t.Fatalf("%s: %d %s", body, a.code, a.body)
		}
	}
	var list []map[string]any
	a := call(t, h, "GET", "/v1/campaigns")
	if err := json.Unmarshal([]byte(a.body), &list); err != nil || len(list) != 5 {
		t.Fatalf("%v %s", err, a.body)
	}
	type view struct {
		Desc      string
		Selector  map[string]any
		ReconfMsg any
	}
	var got []view
	for _, c := range list {
		o := c["options"].(map[string]any)
		got = append(got, view{c["description"].(string), c["selector"].(map[string]any), o["reconf_msg"]})
	}
	want := []view{
		{"family 6", map[string]any{"all": true, "family": 6.0}, "rebind"},
		{"prefix-pool office6", map[string]any{"prefix_pool": "office6"}, "renew"},
		{"pool office", map[string]any{"pool": "office"}, nil},
		{"family 4", map[string]any{"all": true, "family": 4.0}, nil},
		{"all", map[string]any{"all": true}, "renew"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("campaigns (-want +got):\n%s", diff)
	}
	// Families come from the pools covered (the fake covers "office").
	for _, c := range list {
		if !cmp.Equal(c["families"], []any{4.0}) {
			t.Errorf("%s: families %v, want [4] (pool office)", c["description"], c["families"])
		}
	}
	f.cmu.Lock()
	f.list[0].Pools = []string{"office6"}
	f.list[1].Pools = []string{"office6", "office", "gone"}
	f.list[2].Pools = nil // covered pools unknown: the selector's family, if any
	f.list[3].Pools = nil
	f.cmu.Unlock()
	for id, want := range map[int]string{1: "[6]", 2: "[4 6]", 3: "[]", 4: "[4]"} {
		a := call(t, h, "GET", fmt.Sprintf("/v1/campaigns/%d", id))
		var c struct{ Families []int }
		if err := json.Unmarshal([]byte(a.body), &c); err != nil || c.Families == nil || fmt.Sprint(c.Families) != want {
			t.Errorf("campaign %d: families %v, want %s (%v)", id, c.Families, want, err)
		}
	}
	// An answer's selector and options, sent back, start the same campaign.
	for _, c := range list {
		body, _ := json.Marshal(map[string]any{"selector": c["selector"], "options": c["options"]})
		if a := post(t, h, "/v1/campaigns", string(body)); a.code != 201 {
			t.Errorf("round trip %s: %d %s", body, a.code, a.body)
		}
	}
}

func TestCampaignClients6(t *testing.T) {
	duid := []byte{0, 3, 0, 1, 0x52, 0x54, 0, 0xab, 0xcd, 0xef}
	f := campaigns6()
	f.clients = []reconf.ClientProgress{
		{Campaign: 1, Addr: na6, More: []netip.Addr{pd6.Addr()}, Key: duid, Family: 6, Pool: "office6", Capable: true, Sent: 1,
			Outcome: reconf.Renewed, Last: reconf.EvAck, When: t0.Add(time.Second)},
		{Campaign: 1, Addr: netip.MustParseAddr("fd77:100:0:200::"), Key: []byte{0, 3, 0, 1, 2}, Family: 6, Pool: "office6",
			Outcome: reconf.NotCapable, Last: reconf.EvSelected, When: t0},
	}
	h := NewHandler(f, nil, nil)
	a := call(t, h, "GET", "/v1/campaigns/1/clients?after=fd77::1:0")
	if a.code != 200 {
		t.Fatalf("%d %s", a.code, a.body)
	}
	if f.filter.After != netip.MustParseAddr("fd77::1:0") {
		t.Errorf("after = %v", f.filter.After)
	}
	var raw []map[string]any
	if err := json.Unmarshal([]byte(a.body), &raw); err != nil || len(raw) != 2 {
		t.Fatalf("%v %s", err, a.body)
	}
	if raw[0]["family"] != 6.0 || raw[0]["client_id"] != "00030001525400abcdef" ||
		!cmp.Equal(raw[0]["more"], []any{"fd77:100:0:100::"}) || raw[0]["address"] != "fd77::1:5" {
		t.Errorf("client 0: %v", raw[0])
	}
	if _, ok := raw[1]["more"]; ok || raw[1]["family"] != 6.0 {
		t.Errorf("client 1 (one binding): %v", raw[1])
	}
	for q, text := range map[string]string{
		"after=fd77::1%25eth0": "after: ",
		"after=fd77::1:0:":     "after: ",
	} {
		if a := call(t, h, "GET", "/v1/campaigns/1/clients?"+q); a.code != 400 || !strings.Contains(errorText(t, a), text) {
			t.Errorf("%s: %d %s", q, a.code, a.body)
		}
	}
}
