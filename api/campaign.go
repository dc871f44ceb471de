package api

import (
	"bytes"
	"cmp"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/leased/leased/lease"
	"github.com/leased/leased/reconf"
)

// Campaigns is what the control API needs of a server that runs
// FORCERENEW campaigns (package reconf). NewHandler serves the /v1/campaigns
// routes and POST /v1/leases/{address}/disconnect when its Backend also
// implements Campaigns, and answers 501 otherwise.
type Campaigns interface {
	// StartCampaign starts a campaign over the bound leases sel matches.
	// A *reconf.OverlapError when a running campaign covers one of the
	// same pools; reconf.ErrNoClients or reconf.ErrSelector when sel
	// selects nothing or is invalid. Starting the same selector and
	// options as a running campaign returns that campaign.
	StartCampaign(ctx context.Context, sel reconf.Selector, opts reconf.Options) (reconf.CampaignStatus, error)
	// Campaign returns one campaign; reconf.ErrNotFound when unknown.
	Campaign(id uint32) (reconf.CampaignStatus, error)
	// Campaigns returns every campaign the server remembers.
	Campaigns() []reconf.CampaignStatus
	// StopCampaign stops a running campaign: its pending clients become
	// aborted. reconf.ErrNotFound, reconf.ErrNotRunning.
	StopCampaign(ctx context.Context, id uint32) (reconf.CampaignStatus, error)
	// DeleteCampaign forgets a finished campaign (memory and store).
	// reconf.ErrNotFound; reconf.ErrRunning for a running one.
	DeleteCampaign(ctx context.Context, id uint32) error
	// CampaignClients returns the clients of one campaign in address
	// order; reconf.ErrNotFound when unknown.
	CampaignClients(id uint32, f reconf.ClientFilter) ([]reconf.ClientProgress, error)
	// Disconnect reconfigures the client bound to addr with ForceNAK and
	// applies onFailure (delete or recycle) if it does not come back,
	// instead of a silent deletion.
	Disconnect(ctx context.Context, addr netip.Addr, onFailure reconf.OnFailure) (reconf.CampaignStatus, error)
}

// CampaignRequest is the body of POST /v1/campaigns.
type CampaignRequest struct {
	Selector CampaignSelector `json:"selector"`
	Options  CampaignOptions  `json:"options"`
}

// CampaignSelector chooses the bound leases of a campaign. Exactly one
// form: all; pool; pool + section; pool + section + range; range
// (optionally with pool); prefix pool (optionally with a range); client.
// Family may restrict any form, and alone stands for all of a family.
type CampaignSelector struct {
	// All selects every bound lease of the server; it cannot be combined
	// with another field, and a request that sets no field must set it
	// (an empty selector is refused rather than meaning everything).
	All     bool   `json:"all,omitempty"`
	Pool    string `json:"pool,omitempty"`
	Section *int   `json:"section,omitempty"` // DHCPv4 pools only
	// PrefixPool selects the delegated prefixes (IA_PD bindings) of one
	// DHCPv6 pool; pool, if also given, must name the same pool.
	PrefixPool string `json:"prefix_pool,omitempty"`
	// From and To are an inclusive range of one family; both or neither.
	// A delegated prefix is in the range when its first address is.
	From netip.Addr `json:"from,omitzero"`
	To   netip.Addr `json:"to,omitzero"`
	// Client is one client: leased address (IPv4 or IPv6), hardware
	// address, client id or DHCPv6 DUID in hex.
	Client string `json:"client,omitempty"`
	// Family restricts the campaign to DHCPv4 (4: FORCERENEW) or DHCPv6
	// (6: Reconfigure) clients; 0 for both (reconf.Selector.Family).
	Family int `json:"family,omitempty"`
}

// CampaignOptions are a campaign's settings. In a request every field is
// optional, and a field given beats the pool's setting (config
// dhcpv4.pools[].forcerenew, dhcpv6.pools[].reconfigure), which beats the
// family's global default (dhcpv4.forcerenew, dhcpv6.reconfigure), which
// beats the built-in defaults: attempts and interval the family's (8 and
// "2s" doubling for both: reconf.DefaultAttempts, DefaultAttempts6 = RFC
// 8415 REC_MAX_RC), pace 1000 messages/s (0 = unlimited), on_failure
// "restore", reconf_msg "renew". In an answer every field is set, except
// reconf_msg for DHCPv4 clients, and the values are the effective ones.
type CampaignOptions struct {
	Attempts          int    `json:"attempts,omitempty"`
	Interval          string `json:"interval,omitempty"` // Go duration: "2s", "500ms"
	Pace              *int   `json:"pace,omitempty"`
	OnFailure         string `json:"on_failure,omitempty"` // restore, delete, recycle
	ForceNAK          *bool  `json:"force_nak,omitempty"`
	RecycleNotCapable *bool  `json:"recycle_not_capable,omitempty"`
	// ReconfMsg is what the DHCPv6 Reconfigures ask the clients to do
	// (Reconfigure Message option, RFC 8415 §21.19): renew (default),
	// rebind or information-request. Refused for a campaign that selects
	// DHCPv4 clients only.
	ReconfMsg string `json:"reconf_msg,omitempty"`
}

// Campaign is the JSON form of a campaign's status.
type Campaign struct {
	ID uint32 `json:"id"`
	// Description is the selector in words: "pool office section 1".
	Description string           `json:"description"`
	Selector    CampaignSelector `json:"selector"`
	// Options are the effective options of the campaign's clients when
	// every pool has the same; otherwise OptionsPerPool is set and Options
	// are the command's values over the built-in defaults, while each
	// pool's clients get its PoolOptions.
	Options CampaignOptions `json:"options"`
	// OptionsPerPool: the pools of the campaign have different effective
	// options (see PoolOptions).
	OptionsPerPool bool `json:"options_per_pool,omitempty"`
	// PoolOptions are the options each pool's clients actually get
	// (command > pool setting > global default > built-in), in Pools
	// order.
	PoolOptions []PoolOptions `json:"pool_options"`
	// Existing: an answer to a start identical to this running campaign,
	// which was returned instead of starting another.
	Existing bool      `json:"existing,omitempty"`
	State    string    `json:"state"` // running, done, stopped, halted
	Created  time.Time `json:"created"`
	Ended    time.Time `json:"ended,omitzero"`
	Pools    []string  `json:"pools"`
	// Families are the address families of the pools covered (4, 6 or
	// both), or, when those are unknown, the one the selector names.
	Families []int         `json:"families"`
	Clients  int           `json:"clients"` // clients selected
	Sent     int           `json:"sent"`    // FORCERENEW messages sent
	Counts   reconf.Counts `json:"counts"`  // clients per outcome
}

// PoolOptions are the effective options of one pool of a campaign.
type PoolOptions struct {
	Pool string `json:"pool"`
	CampaignOptions
}

// CampaignClient is one client of a campaign: a DHCPv4 lease, or a
// DHCPv6 client (one DUID) with every binding of it the selector matched.
type CampaignClient struct {
	// Address is the lease address; for a DHCPv6 client its IA_NA
	// address if one was selected, else its first delegated prefix's
	// first address.
	Address netip.Addr `json:"address"`
	// More are a DHCPv6 client's other selected bindings (addresses, and
	// first addresses of delegated prefixes); absent otherwise.
	More     []netip.Addr `json:"more,omitempty"`
	Family   int          `json:"family"`    // 4 or 6
	ClientID string       `json:"client_id"` // client key in hex (option 61, else htype+chaddr); DHCPv6: the DUID
	Pool     string       `json:"pool"`
	Capable  bool         `json:"capable"` // can act on an authenticated FORCERENEW
	Sent     int          `json:"sent"`    // FORCERENEW messages sent to it
	Next     time.Time    `json:"next,omitzero"`
	Outcome  string       `json:"outcome"`
	Last     string       `json:"last"` // last event
	When     time.Time    `json:"when,omitzero"`
}

// Succeeded reports whether o is an outcome in which the client took the
// new configuration: renewed, rebound or informed.
func Succeeded(outcome string) bool {
	return outcome == "renewed" || outcome == "rebound" || outcome == "informed"
}

// OutcomeNames lists every campaign client outcome, in order.
func OutcomeNames() []string {
	var out []string
	for _, o := range reconf.Outcomes() {
		out = append(out, o.String())
	}
	return out
}

// CampaignFromStatus converts the manager's status to its JSON form.
// Options.ReconfMsg is left out when the selector alone says the campaign
// is DHCPv4-only (family 4, an IPv4 range or client address); the
// handler also leaves it out for DHCPv4 pools.
func CampaignFromStatus(s *reconf.CampaignStatus) Campaign {
	return campaignFrom(s, nil)
}

// optionsJSON is the JSON form of effective options; reconf_msg only when
// withMsg.
func optionsJSON(o *reconf.Options, withMsg bool) CampaignOptions {
	pace, nak, rnc := o.Pace, o.ForceNAK, o.RecycleNotCapable
	c := CampaignOptions{
		Attempts: o.Attempts, Interval: o.Interval.String(), Pace: &pace, OnFailure: o.OnFailure.String(),
		ForceNAK: &nak, RecycleNotCapable: &rnc,
	}
	if withMsg {
		c.ReconfMsg = o.ReconfMsg.String()
	}
	return c
}

func sameOptions(a, b *CampaignOptions) bool {
	return a.Attempts == b.Attempts && a.Interval == b.Interval && *a.Pace == *b.Pace && a.OnFailure == b.OnFailure &&
		*a.ForceNAK == *b.ForceNAK && *a.RecycleNotCapable == *b.RecycleNotCapable && a.ReconfMsg == b.ReconfMsg
}

// campaignFrom is CampaignFromStatus with the family of each pool when
// poolFamily knows it (0: unknown), for reconf_msg (DHCPv6 pools only).
func campaignFrom(s *reconf.CampaignStatus, poolFamily func(string) int) Campaign {
	o := s.Options
	sel := &s.Selector
	fam := selectorFamily(sel)
	v6 := fam == 6
	if fam == 0 && poolFamily != nil {
		// every pool of the campaign is DHCPv6: its defaults are v6's
		v6 = len(s.Pools) > 0 && !slices.ContainsFunc(s.Pools, func(p string) bool { return poolFamily(p) != 6 })
	}
	eff := o
	eff.Pools = nil
	if len(s.PoolOptions) == 0 {
		// a status without effective values (not from the manager)
		if ov, ok := o.Pools[sel.Pool]; ok && sel.Pool != "" {
			eff = eff.Apply(&ov)
		}
	}
	if eff.Attempts == 0 {
		eff.Attempts = reconf.DefaultAttempts
		if v6 {
			eff.Attempts = reconf.DefaultAttempts6
		}
	}
	if eff.Interval == 0 {
		eff.Interval = reconf.DefaultInterval
		if v6 {
			eff.Interval = reconf.DefaultInterval6
		}
	}
	c := Campaign{
		ID:          s.ID,
		Description: sel.String(),
		Selector: CampaignSelector{
			All:  sel.Pool == "" && sel.Section == nil && sel.PrefixPool == "" && !sel.From.IsValid() && sel.Client == "",
			Pool: sel.Pool, Section: sel.Section, PrefixPool: sel.PrefixPool, From: sel.From, To: sel.To, Client: sel.Client,
			Family: sel.Family,
		},
		Options:  optionsJSON(&eff, fam != 4),
		Existing: s.Existing,
		State:    s.State.String(),
		Created:  utcMilli(s.Created),
		Ended:    utcMilli(s.Ended),
		Pools:    s.Pools,
		Clients:  s.Clients,
		Sent:     s.Sent,
		Counts:   s.Counts,
	}
	if c.Pools == nil {
		c.Pools = []string{}
	}
	c.PoolOptions = []PoolOptions{}
	for i, p := range s.Pools {
		if i >= len(s.PoolOptions) {
			break
		}
		pf := 0
		if poolFamily != nil {
			pf = poolFamily(p)
		}
		withMsg := pf == 6 || pf == 0 && fam != 4
		c.PoolOptions = append(c.PoolOptions, PoolOptions{Pool: p, CampaignOptions: optionsJSON(&s.PoolOptions[i], withMsg)})
	}
	if len(c.PoolOptions) > 0 {
		first := &c.PoolOptions[0].CampaignOptions
		same := true
		for i := 1; i < len(c.PoolOptions); i++ {
			// reconf_msg only matters for DHCPv6 pools
			a, b := *first, c.PoolOptions[i].CampaignOptions
			if a.ReconfMsg == "" || b.ReconfMsg == "" {
				a.ReconfMsg, b.ReconfMsg = "", ""
			}
			same = same && sameOptions(&a, &b)
		}
		if same {
			msg := ""
			for _, po := range c.PoolOptions {
				msg = cmp.Or(msg, po.ReconfMsg)
			}
			c.Options = *first
			c.Options.ReconfMsg = msg
		} else {
			c.OptionsPerPool = true
		}
	}
	c.Families = []int{}
	if fam != 0 {
		c.Families = []int{fam}
	}
	return c
}

// selectorFamily is the one family a selector can match by its own
// fields (4 or 6), or 0 when it may match both. Pools are not consulted.
func selectorFamily(s *reconf.Selector) int {
	switch {
	case s.Family != 0:
		return s.Family
	case s.PrefixPool != "":
		return 6
	case s.From.IsValid():
		return familyOf(s.From)
	}
	if a, err := netip.ParseAddr(s.Client); err == nil {
		return familyOf(a)
	}
	return 0
}

// CampaignClientFromProgress converts one client's progress to JSON form.
func CampaignClientFromProgress(p *reconf.ClientProgress) CampaignClient {
	fam := p.Family
	if fam == 0 {
		fam = familyOf(p.Addr)
	}
	return CampaignClient{
		Address:  p.Addr,
		More:     p.More,
		Family:   fam,
		ClientID: hex.EncodeToString(p.Key),
		Pool:     p.Pool,
		Capable:  p.Capable,
		Sent:     p.Sent,
		Next:     utcMilli(p.Next),
		Outcome:  p.Outcome.String(),
		Last:     p.Last.String(),
		When:     utcMilli(p.When),
	}
}

func utcMilli(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC().Truncate(time.Millisecond)
}

// maxBody bounds a request body.
const maxBody = 64 << 10

var (
	requestFields  = []string{"selector", "options"}
	selectorFields = []string{"all", "pool", "section", "prefix_pool", "from", "to", "client", "family"}
	optionFields   = []string{"attempts", "interval", "pace", "on_failure", "force_nak", "recycle_not_capable", "reconf_msg"}
)

// unknownFields returns the keys of obj not in known, sorted, with prefix.
func unknownFields(obj map[string]json.RawMessage, known []string, prefix string) []string {
	var bad []string
	for k := range obj {
		if !slices.Contains(known, k) {
			bad = append(bad, prefix+k)
		}
	}
	slices.Sort(bad)
	return bad
}

// decodeCampaignRequest decodes body strictly: one JSON object, no unknown
// fields at any level (all of them named in the error).
func decodeCampaignRequest(body []byte) (CampaignRequest, error) {
	var req CampaignRequest
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return req, fmt.Errorf("body: not a JSON object: %v", err)
	}
	if top == nil {
		return req, errors.New("body: want a JSON object with \"selector\" and optional \"options\"")
	}
	bad := unknownFields(top, requestFields, "")
	for _, part := range []struct {
		name  string
		known []string
	}{{"selector", selectorFields}, {"options", optionFields}} {
		raw, ok := top[part.name]
		if !ok || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
			continue
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(raw, &obj); err != nil {
			return req, fmt.Errorf("%s: want a JSON object", part.name)
		}
		bad = append(bad, unknownFields(obj, part.known, part.name+".")...)
	}
	if len(bad) > 0 {
		return req, fmt.Errorf("unknown field(s) %s (valid: selector {%s}, options {%s})",
			strings.Join(bad, ", "), strings.Join(selectorFields, ", "), strings.Join(optionFields, ", "))
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return req, fmt.Errorf("body: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return req, errors.New("body: data after the JSON object")
	}
	if _, ok := top["selector"]; !ok {
		return req, errors.New("selector: missing (use {\"all\": true} to select every bound lease)")
	}
	return req, nil
}

// ToReconf validates s and converts it to a reconf.Selector. Pool names
// are checked by the handler (it knows the pools).
func (s CampaignSelector) ToReconf() (reconf.Selector, error) {
	sel := reconf.Selector{Pool: s.Pool, Section: s.Section, PrefixPool: s.PrefixPool, From: s.From, To: s.To,
		Client: strings.TrimSpace(s.Client), Family: s.Family}
	set := s.Pool != "" || s.Section != nil || s.PrefixPool != "" || s.From.IsValid() || s.To.IsValid() || s.Client != ""
	switch {
	case s.All && set:
		return sel, errors.New("selector: all cannot be combined with pool, section, prefix_pool, range or client (family may restrict it)")
	case !s.All && !set && s.Family == 0:
		return sel, errors.New("selector: empty; give pool, section, prefix_pool, from/to, client or family, or all: true for every bound lease")
	case s.Family != 0 && s.Family != 4 && s.Family != 6:
		return sel, fmt.Errorf("selector.family: %d, want 4 or 6 (or leave it out for both)", s.Family)
	case s.Section != nil && s.Pool == "":
		return sel, errors.New("selector.section: needs selector.pool (section numbers are per pool)")
	case s.Section != nil && *s.Section < 0:
		return sel, fmt.Errorf("selector.section: %d is not a section number (0 or more)", *s.Section)
	case s.PrefixPool != "" && s.Pool != "" && s.Pool != s.PrefixPool:
		return sel, fmt.Errorf("selector.prefix_pool: %q and selector.pool %q differ (prefix_pool alone selects the pool's delegated prefixes)", s.PrefixPool, s.Pool)
	case s.PrefixPool != "" && s.Family == 4:
		return sel, errors.New("selector.prefix_pool: delegated prefixes are DHCPv6, family 4 contradicts it")
	case s.PrefixPool != "" && s.Section != nil:
		return sel, errors.New("selector.section: DHCPv6 pools have no sections; cannot be combined with prefix_pool")
	case s.From.IsValid() != s.To.IsValid():
		return sel, errors.New("selector: a range needs both from and to")
	case s.From.IsValid() && (s.From.Zone() != "" || s.To.Zone() != "" || familyOf(s.From) != familyOf(s.To)):
		return sel, errors.New("selector: from and to must be addresses of one family, without zone")
	case s.Family != 0 && s.From.IsValid() && familyOf(s.From) != s.Family:
		return sel, fmt.Errorf("selector.family: %d contradicts the range %s-%s", s.Family, s.From, s.To)
	case s.PrefixPool != "" && s.From.IsValid() && familyOf(s.From) != 6:
		return sel, fmt.Errorf("selector.prefix_pool: delegated prefixes are IPv6, the range %s-%s is not", s.From, s.To)
	case s.From.IsValid() && s.To.Less(s.From):
		return sel, fmt.Errorf("selector.to: %s is below from %s (the range is inclusive)", s.To, s.From)
	case s.Client != "" && (s.Section != nil || s.From.IsValid() || s.PrefixPool != ""):
		return sel, errors.New("selector.client: cannot be combined with a section, prefix_pool or range")
	case s.Client != "" && !validClient(sel.Client):
		return sel, fmt.Errorf("selector.client: %q is not a hardware address (aa:bb:cc:dd:ee:ff), a client id or DUID in hex (01aabbccddeeff) or an IP address", s.Client)
	}
	if a, err := netip.ParseAddr(sel.Client); err == nil && s.Family != 0 && familyOf(a) != s.Family {
		return sel, fmt.Errorf("selector.family: %d contradicts client %s", s.Family, a)
	}
	return sel, nil
}

// checkPools validates the pool names of sel against the configured pools
// (a DHCPv6 pool that delegates prefixes appears as "<name>" and
// "<name>/pd") and returns the family the selector is confined to: 4 or
// 6, or 0 when it may match clients of both.
func checkPools(sel *reconf.Selector, pools []lease.PoolStats) (int, error) {
	find := func(name string) (p lease.PoolStats, ok bool) {
		i := slices.IndexFunc(pools, func(p lease.PoolStats) bool { return p.Name == name })
		if i < 0 {
			return p, false
		}
		return pools[i], true
	}
	fam := selectorFamily(sel)
	if sel.Pool != "" {
		if base, ok := strings.CutSuffix(sel.Pool, PDSuffix); ok {
			return 0, fmt.Errorf("selector.pool: %q is the prefix delegation of pool %q; use \"prefix_pool\": %q", sel.Pool, base, base)
		}
		p, ok := find(sel.Pool)
		if !ok {
			return 0, fmt.Errorf("selector.pool: unknown pool %q (valid: %s)", sel.Pool, poolNames(pools))
		}
		pf := familyOf(p.Subnet.Addr())
		if fam != 0 && fam != pf {
			return 0, fmt.Errorf("selector: pool %q is a DHCPv%d pool; the selector asks for family %d", sel.Pool, pf, fam)
		}
		if pf == 6 && sel.Section != nil {
			return 0, fmt.Errorf("selector.section: pool %q is DHCPv6, which has no sections", sel.Pool)
		}
		fam = pf
	}
	if sel.PrefixPool != "" {
		if _, ok := find(sel.PrefixPool + PDSuffix); !ok {
			if p, ok := find(sel.PrefixPool); ok {
				return 0, fmt.Errorf("selector.prefix_pool: pool %q (DHCPv%d) delegates no prefixes", sel.PrefixPool, familyOf(p.Subnet.Addr()))
			}
			return 0, fmt.Errorf("selector.prefix_pool: unknown pool %q (valid: %s)", sel.PrefixPool, pdPoolNames(pools))
		}
	}
	return fam, nil
}

// pdPoolNames lists the pools that delegate prefixes.
func pdPoolNames(pools []lease.PoolStats) string {
	var names []string
	for _, p := range pools {
		if base, ok := strings.CutSuffix(p.Name, PDSuffix); ok {
			names = append(names, base)
		}
	}
	if len(names) == 0 {
		return "none delegates prefixes"
	}
	return strings.Join(names, ", ")
}

// ToReconf validates o and returns reconf options: defaults from
// reconf.DefaultOptions for fields left unset, except attempts and
// interval, left zero so that each client gets its family's defaults
// (reconf.DefaultAttempts / DefaultAttempts6, DefaultInterval /
// DefaultInterval6).
func (o CampaignOptions) ToReconf() (reconf.Options, error) {
	r := reconf.DefaultOptions()
	r.Attempts, r.Interval = 0, 0
	for _, g := range []struct {
		set bool
		f   reconf.Fields
	}{{o.Attempts != 0, reconf.FieldAttempts}, {o.Interval != "", reconf.FieldInterval}, {o.Pace != nil, reconf.FieldPace},
		{o.OnFailure != "", reconf.FieldOnFailure}, {o.ForceNAK != nil, reconf.FieldForceNAK},
		{o.RecycleNotCapable != nil, reconf.FieldRecycleNotCapable}, {o.ReconfMsg != "", reconf.FieldReconfMsg}} {
		if g.set {
			r.Given |= g.f
		}
	}
	if o.Attempts != 0 {
		if o.Attempts < 1 || o.Attempts > reconf.MaxAttempts {
			return r, fmt.Errorf("options.attempts: %d, want 1..%d", o.Attempts, reconf.MaxAttempts)
		}
		r.Attempts = o.Attempts
	}
	if o.Interval != "" {
		d, err := time.ParseDuration(o.Interval)
		if err != nil || d < time.Millisecond || d > reconf.MaxInterval {
			return r, fmt.Errorf("options.interval: %q, want a duration from 1ms to %v like \"2s\"", o.Interval, reconf.MaxInterval)
		}
		r.Interval = d
	}
	if o.Pace != nil {
		if *o.Pace < 0 || *o.Pace > reconf.MaxPace {
			return r, fmt.Errorf("options.pace: %d, want 0..%d FORCERENEW per second (0 = unlimited)", *o.Pace, reconf.MaxPace)
		}
		r.Pace = *o.Pace
	}
	if o.OnFailure != "" {
		f, err := reconf.ParseOnFailure(o.OnFailure)
		if err != nil {
			return r, fmt.Errorf("options.on_failure: %q, want restore, delete or recycle", o.OnFailure)
		}
		r.OnFailure = f
	}
	if o.ReconfMsg != "" {
		m, err := reconf.ParseReconfMsg(o.ReconfMsg)
		if err != nil {
			return r, fmt.Errorf("options.reconf_msg: %q, want renew, rebind or information-request", o.ReconfMsg)
		}
		r.ReconfMsg = m
	}
	r.ForceNAK = o.ForceNAK != nil && *o.ForceNAK
	r.RecycleNotCapable = o.RecycleNotCapable != nil && *o.RecycleNotCapable
	return r, nil
}

// campaignJSON is CampaignFromStatus with the families of the pools
// covered, and without reconf_msg when the selector's pool is a DHCPv4
// pool (a DHCPv4-only campaign).
func (h *handler) campaignJSON(s *reconf.CampaignStatus) Campaign {
	pools := h.b.Pools()
	c := campaignFrom(s, func(name string) int {
		if i := slices.IndexFunc(pools, func(p lease.PoolStats) bool { return p.Name == name }); i >= 0 {
			return familyOf(pools[i].Subnet.Addr())
		}
		return 0
	})
	if c.Options.ReconfMsg != "" && s.Selector.Pool != "" {
		if fam, err := checkPools(&s.Selector, pools); err == nil && fam == 4 {
			c.Options.ReconfMsg = ""
		}
	}
	var fams []int
	for _, name := range s.Pools {
		if i := slices.IndexFunc(pools, func(p lease.PoolStats) bool { return p.Name == name }); i >= 0 {
			if f := familyOf(pools[i].Subnet.Addr()); !slices.Contains(fams, f) {
				fams = append(fams, f)
			}
		}
	}
	if len(fams) > 0 {
		slices.Sort(fams)
		c.Families = fams
	}
	return c
}

// campaigns returns the Campaigns side of the backend, or answers 501.
func (h *handler) campaigns(w http.ResponseWriter, r *http.Request) (Campaigns, bool) {
	if h.c == nil {
		h.fail(w, r, http.StatusNotImplemented, "this server does not run FORCERENEW campaigns (its backend does not implement api.Campaigns)")
		return nil, false
	}
	return h.c, true
}

// campaignError answers err from a Campaigns call.
func (h *handler) campaignError(w http.ResponseWriter, r *http.Request, what string, err error) {
	var oe *reconf.OverlapError
	switch {
	case errors.As(err, &oe):
		h.fail(w, r, http.StatusConflict, err.Error())
	case errors.Is(err, reconf.ErrNotFound):
		h.fail(w, r, http.StatusNotFound, err.Error())
	case errors.Is(err, reconf.ErrNotRunning), errors.Is(err, reconf.ErrRunning):
		h.fail(w, r, http.StatusConflict, err.Error())
	case errors.Is(err, reconf.ErrNoClients), errors.Is(err, reconf.ErrSelector):
		h.fail(w, r, http.StatusBadRequest, err.Error())
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		h.fail(w, r, http.StatusServiceUnavailable, what+": "+err.Error())
	default:
		h.fail(w, r, http.StatusInternalServerError, what+": "+err.Error())
	}
}

func (h *handler) startCampaign(w http.ResponseWriter, r *http.Request) {
	c, ok := h.campaigns(w, r)
	if !ok {
		return
	}
	body, ok := h.jsonBody(w, r, "POST /v1/campaigns takes no query parameters (the selector and options go in the JSON body)")
	if !ok {
		return
	}
	req, err := decodeCampaignRequest(body)
	if err != nil {
		h.fail(w, r, http.StatusBadRequest, err.Error())
		return
	}
	sel, err := req.Selector.ToReconf()
	if err != nil {
		h.fail(w, r, http.StatusBadRequest, err.Error())
		return
	}
	fam, err := checkPools(&sel, h.b.Pools())
	if err != nil {
		h.fail(w, r, http.StatusBadRequest, err.Error())
		return
	}
	opts, err := req.Options.ToReconf()
	if err != nil {
		h.fail(w, r, http.StatusBadRequest, err.Error())
		return
	}
	if req.Options.ReconfMsg != "" && fam == 4 {
		h.fail(w, r, http.StatusBadRequest, fmt.Sprintf("options.reconf_msg: only DHCPv6 clients get a Reconfigure, and this selector (%s) matches DHCPv4 clients only (they get FORCERENEW); leave reconf_msg out", sel))
		return
	}
	st, err := c.StartCampaign(r.Context(), sel, opts)
	if err != nil {
		h.campaignError(w, r, "start campaign", err)
		return
	}
	if st.Existing {
		// The same command again: idempotent, the running campaign.
		h.log.LogAttrs(r.Context(), slog.LevelInfo, "campaign start repeated: already running",
			slog.Uint64("campaign", uint64(st.ID)), slog.String("selector", st.Selector.String()))
		h.writeJSON(w, r, http.StatusOK, h.campaignJSON(&st))
		return
	}
	h.log.LogAttrs(r.Context(), slog.LevelInfo, "campaign started by operator",
		slog.Uint64("campaign", uint64(st.ID)), slog.String("selector", st.Selector.String()), slog.Int("clients", st.Clients))
	h.writeJSON(w, r, http.StatusCreated, h.campaignJSON(&st))
}

func (h *handler) listCampaigns(w http.ResponseWriter, r *http.Request) {
	c, ok := h.campaigns(w, r)
	if !ok {
		return
	}
	sts := c.Campaigns()
	slices.SortFunc(sts, func(a, b reconf.CampaignStatus) int { return int64cmp(int64(a.ID), int64(b.ID)) })
	out := make([]Campaign, 0, len(sts))
	for i := range sts {
		out = append(out, h.campaignJSON(&sts[i]))
	}
	h.writeJSON(w, r, http.StatusOK, out)
}

func int64cmp(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (h *handler) pathID(w http.ResponseWriter, r *http.Request) (uint32, bool) {
	s := r.PathValue("id")
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil || n == 0 {
		h.fail(w, r, http.StatusBadRequest, fmt.Sprintf("id: %q is not a campaign id (a positive integer)", s))
		return 0, false
	}
	return uint32(n), true
}

func (h *handler) getCampaign(w http.ResponseWriter, r *http.Request) {
	c, ok := h.campaigns(w, r)
	if !ok {
		return
	}
	id, ok := h.pathID(w, r)
	if !ok {
		return
	}
	st, err := c.Campaign(id)
	if err != nil {
		h.campaignError(w, r, "campaign "+strconv.Itoa(int(id)), err)
		return
	}
	h.writeJSON(w, r, http.StatusOK, h.campaignJSON(&st))
}

func (h *handler) stopCampaign(w http.ResponseWriter, r *http.Request) {
	c, ok := h.campaigns(w, r)
	if !ok {
		return
	}
	id, ok := h.pathID(w, r)
	if !ok {
		return
	}
	st, err := c.StopCampaign(r.Context(), id)
	if err != nil {
		h.campaignError(w, r, "stop campaign "+strconv.Itoa(int(id)), err)
		return
	}
	h.log.LogAttrs(r.Context(), slog.LevelInfo, "campaign stopped by operator", slog.Uint64("campaign", uint64(id)))
	h.writeJSON(w, r, http.StatusOK, h.campaignJSON(&st))
}

func (h *handler) deleteCampaign(w http.ResponseWriter, r *http.Request) {
	c, ok := h.campaigns(w, r)
	if !ok {
		return
	}
	id, ok := h.pathID(w, r)
	if !ok {
		return
	}
	err := c.DeleteCampaign(r.Context(), id)
	if errors.Is(err, reconf.ErrRunning) {
		h.fail(w, r, http.StatusConflict, fmt.Sprintf("campaign %d is running: stop it first (POST /v1/campaigns/%d/stop), then delete it", id, id))
		return
	}
	if err != nil {
		h.campaignError(w, r, "delete campaign "+strconv.Itoa(int(id)), err)
		return
	}
	h.log.LogAttrs(r.Context(), slog.LevelInfo, "campaign deleted by operator", slog.Uint64("campaign", uint64(id)))
	w.WriteHeader(http.StatusNoContent)
}

var clientParams = []string{"outcome", "after", "limit"}

func (h *handler) campaignClients(w http.ResponseWriter, r *http.Request) {
	c, ok := h.campaigns(w, r)
	if !ok {
		return
	}
	id, ok := h.pathID(w, r)
	if !ok {
		return
	}
	var f reconf.ClientFilter
	q := r.URL.Query()
	for k, v := range q {
		if !slices.Contains(clientParams, k) {
			h.fail(w, r, http.StatusBadRequest, fmt.Sprintf("unknown query parameter %q (valid: %s)", k, strings.Join(clientParams, ", ")))
			return
		}
		if k != "outcome" && len(v) > 1 {
			h.fail(w, r, http.StatusBadRequest, fmt.Sprintf("%s: given %d times, at most once allowed", k, len(v)))
			return
		}
	}
	for _, v := range q["outcome"] {
		for s := range strings.SplitSeq(v, ",") {
			o, err := reconf.ParseOutcome(strings.TrimSpace(s))
			if err != nil {
				h.fail(w, r, http.StatusBadRequest, fmt.Sprintf("outcome: unknown outcome %q (valid: %s)", s, strings.Join(OutcomeNames(), ", ")))
				return
			}
			if !slices.Contains(f.Outcomes, o) {
				f.Outcomes = append(f.Outcomes, o)
			}
		}
	}
	if q.Has("after") {
		// IPv4 clients sort before IPv6 ones (reconf.ClientFilter).
		a, err := parseIP(q.Get("after"))
		if err != nil {
			h.fail(w, r, http.StatusBadRequest, "after: "+err.Error())
			return
		}
		f.After = a
	}
	if q.Has("limit") {
		n, err := strconv.Atoi(q.Get("limit"))
		if err != nil || n < 1 {
			h.fail(w, r, http.StatusBadRequest, fmt.Sprintf("limit: %q is not a positive integer", q.Get("limit")))
			return
		}
		f.Limit = n
	}
	ps, err := c.CampaignClients(id, f)
	if err != nil {
		h.campaignError(w, r, "campaign "+strconv.Itoa(int(id)), err)
		return
	}
	out := make([]CampaignClient, 0, len(ps))
	for i := range ps {
		out = append(out, CampaignClientFromProgress(&ps[i]))
	}
	h.writeJSON(w, r, http.StatusOK, out)
}

func (h *handler) disconnect(w http.ResponseWriter, r *http.Request) {
	c, ok := h.campaigns(w, r)
	if !ok {
		return
	}
	a, _, ok := h.pathAddr(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	for k, v := range q {
		if k != "on_failure" {
			h.fail(w, r, http.StatusBadRequest, fmt.Sprintf("unknown query parameter %q (valid: on_failure)", k))
			return
		}
		if len(v) > 1 {
			h.fail(w, r, http.StatusBadRequest, "on_failure: given more than once")
			return
		}
	}
	of := reconf.Delete
	switch v := q.Get("on_failure"); v {
	case "", "delete":
	case "recycle":
		of = reconf.Recycle
	default:
		h.fail(w, r, http.StatusBadRequest, fmt.Sprintf("on_failure: %q, want delete (default) or recycle", v))
		return
	}
	st, err := c.Disconnect(r.Context(), a, of)
	switch {
	case err == nil:
	case errors.Is(err, lease.ErrNotFound), errors.Is(err, reconf.ErrNoClients):
		h.fail(w, r, http.StatusNotFound, "no bound lease for "+a.String())
		return
	default:
		h.campaignError(w, r, "disconnect "+a.String(), err)
		return
	}
	h.log.LogAttrs(r.Context(), slog.LevelInfo, "disconnect by operator",
		slog.String("address", a.String()), slog.String("on_failure", of.String()), slog.Uint64("campaign", uint64(st.ID)))
	h.writeJSON(w, r, http.StatusOK, h.campaignJSON(&st))
}

// jsonBody reads the JSON body of a POST that takes no query parameters
// (noQuery is the 400 message when it has some), at most maxBody bytes
// (413 beyond). It has answered the request when ok is false.
func (h *handler) jsonBody(w http.ResponseWriter, r *http.Request, noQuery string) (body []byte, ok bool) {
	if len(r.URL.Query()) > 0 {
		h.fail(w, r, http.StatusBadRequest, noQuery)
		return nil, false
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		h.fail(w, r, http.StatusBadRequest, "body: "+err.Error())
		return nil, false
	}
	if len(body) > maxBody {
		h.fail(w, r, http.StatusRequestEntityTooLarge, fmt.Sprintf("body: larger than %d bytes", maxBody))
		return nil, false
	}
	return body, true
}
