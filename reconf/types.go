// Package reconf is the reconfiguration campaign engine for DHCPv4 and
// DHCPv6: it decides which bound clients a campaign covers, when each of
// them gets a FORCERENEW (RFC 3203) or a Reconfigure (RFC 8415 §18.3.11),
// how often and how fast, what every event that arrives meanwhile means
// for that client, and what happens to the leases of clients that never
// come back.
//
// A campaign may cover clients of both families (a selector resolves to a
// family by the leases it matches; Selector.Family restricts it). A
// DHCPv4 client is one lease; a DHCPv6 client is one DUID, with every
// binding of it the selector matched (its IA_NA addresses and delegated
// prefixes): one Reconfigure makes it renew them all.
//
// Like package lease it is pure: no sockets, no goroutines, no clock. The
// server reports what the lease engine did (Observe), asks what to send
// (Due, NextWake), executes the returned actions, and persists the records
// the manager produces (Records). See README.md for the events table.
package reconf

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/leased/leased/dhcpv6"
)

// Defaults for Options fields left zero. DHCPv4 has no standard values
// (these are Junos' FORCERENEW defaults); the DHCPv6 ones are RFC 8415
// §7.6's REC_MAX_RC and REC_TIMEOUT (Junos uses the same). They happen to
// be equal; each family's clients take their own when Attempts or
// Interval is zero.
const (
	DefaultAttempts = 8               // DHCPv4 FORCERENEW messages per client
	DefaultInterval = 2 * time.Second // DHCPv4 first retransmission wait
	DefaultPace     = 1000

	DefaultAttempts6 = 8               // REC_MAX_RC (RFC 8415 §7.6)
	DefaultInterval6 = 2 * time.Second // REC_TIMEOUT (RFC 8415 §7.6)

	// MaxAttempts and MaxInterval bound the retry schedule so the doubled
	// waits stay far inside time.Duration.
	MaxAttempts = 20
	MaxInterval = time.Hour
	// MaxPace bounds Pace (the pacer keeps the last Pace send times).
	MaxPace = 100000
)

// OnFailure is what happens to the lease of a client that never answered
// (attempts exhausted).
type OnFailure uint8

const (
	// Restore leaves the lease as it is (Junos default).
	Restore OnFailure = iota
	// Delete removes the binding (Junos clear-on-abort): the server calls
	// the lease engine's Delete.
	Delete
	// Recycle reclaims the address for the pool (Huawei `recycle`).
	Recycle
)

var onFailureNames = [...]string{"restore", "delete", "recycle"}

func (f OnFailure) String() string {
	if int(f) < len(onFailureNames) {
		return onFailureNames[f]
	}
	return fmt.Sprintf("onfailure(%d)", uint8(f))
}

// ParseOnFailure is the inverse of String.
func ParseOnFailure(s string) (OnFailure, error) {
	for i, n := range onFailureNames {
		if n == s {
			return OnFailure(i), nil
		}
	}
	return 0, fmt.Errorf("reconf: on-failure %q: want restore, delete or recycle", s)
}

func (f OnFailure) MarshalText() ([]byte, error) { return []byte(f.String()), nil }

func (f *OnFailure) UnmarshalText(b []byte) error {
	v, err := ParseOnFailure(string(b))
	if err == nil {
		*f = v
	}
	return err
}

// ReconfMsg is the message a DHCPv6 client is asked to answer a
// Reconfigure with (Reconfigure Message option 19, RFC 8415 §21.19).
type ReconfMsg uint8

const (
	// ReconfRenew (the default): the client renews all its IAs. dhcpcd
	// acts on it only when bound.
	ReconfRenew ReconfMsg = iota
	// ReconfRebind: the client rebinds (odhcp6c; dhcpcd 9.4 ignores it).
	ReconfRebind
	// ReconfInformationRequest: the client asks for configuration only
	// (dhcpcd acts on it only in stateless mode).
	ReconfInformationRequest
	numReconfMsgs
)

var reconfMsgNames = [...]string{"renew", "rebind", "information-request"}

func (r ReconfMsg) String() string {
	if r < numReconfMsgs {
		return reconfMsgNames[r]
	}
	return fmt.Sprintf("reconfmsg(%d)", uint8(r))
}

// MessageType is the option 19 value: dhcpv6.Renew, Rebind or
// InformationRequest.
func (r ReconfMsg) MessageType() dhcpv6.MessageType {
	switch r {
	case ReconfRebind:
		return dhcpv6.Rebind
	case ReconfInformationRequest:
		return dhcpv6.InformationRequest
	}
	return dhcpv6.Renew
}

// ParseReconfMsg is the inverse of String.
func ParseReconfMsg(s string) (ReconfMsg, error) {
	for i, n := range reconfMsgNames {
		if n == s {
			return ReconfMsg(i), nil
		}
	}
	return 0, fmt.Errorf("reconf: reconfigure message %q: want renew, rebind or information-request", s)
}

func (r ReconfMsg) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

func (r *ReconfMsg) UnmarshalText(b []byte) error {
	v, err := ParseReconfMsg(string(b))
	if err == nil {
		*r = v
	}
	return err
}

// Options control one campaign. Start from DefaultOptions: a zero Pace
// means unlimited, while zero Attempts and Interval mean the defaults of
// each client's family (DefaultAttempts/DefaultInterval for DHCPv4,
// DefaultAttempts6/DefaultInterval6 for DHCPv6).
type Options struct {
	// Attempts is the number of FORCERENEW / Reconfigure messages sent to
	// a client that does not react (0: the family's default, at most
	// MaxAttempts).
	Attempts int `json:"attempts"`
	// Interval is the wait after the first message; each further wait
	// doubles (2 s, 4 s, 8 s, ...; RFC 8415 §15 without the random
	// factor). After the last attempt the client gets one more doubled
	// wait before it counts as no_response. 0: the family's default.
	Interval time.Duration `json:"interval"`
	// Pace is the maximum number of FORCERENEW messages per second, per
	// pool of the campaign: sends are spread evenly (one every 1/Pace s,
	// catching up at most a second of timer lateness) and no one-second
	// window ever holds more than Pace. 0 means unlimited.
	Pace int `json:"pace"`
	// OnFailure is applied to clients whose attempts are exhausted.
	OnFailure OnFailure `json:"on_failure"`
	// ForceNAK makes ShouldNAK true for every client of the campaign that
	// comes back with a renew/rebind/init-reboot, so it re-DISCOVERs and
	// takes a fresh configuration (Junos behaviour). For DHCPv6 clients
	// (ShouldNAK / ShouldForceRebind) the server answers their Renew or
	// Rebind with lifetime 0 (lease6.Request.ForceRebind), so they
	// Solicit again.
	ForceNAK bool `json:"force_nak,omitempty"`
	// RecycleNotCapable applies Recycle to clients that cannot be
	// reconfigured (no reconfigure key), as soon as the campaign starts.
	RecycleNotCapable bool `json:"recycle_not_capable,omitempty"`
	// AssumeCapable treats every selected client as able to act on a
	// FORCERENEW even without an RFC 6704 key in its lease: for pools that
	// authenticate with an RFC 3118 token or are explicitly insecure.
	AssumeCapable bool `json:"assume_capable,omitempty"`
	// ReconfMsg is the Reconfigure Message option of the DHCPv6
	// Reconfigures (default renew); DHCPv4 clients ignore it.
	ReconfMsg ReconfMsg `json:"reconf_msg,omitempty"`
	// Pools overrides fields per pool (Junos per-group settings).
	Pools map[string]Override `json:"pools,omitempty"`
	// Given are the fields the operator's command set explicitly. The
	// server resolves each pool's options with the precedence command
	// (Given) > pool setting > global default > the family defaults; the
	// manager itself ignores Given (it is not persisted).
	Given Fields `json:"-"`
}

// Fields is a set of Options fields (Options.Given, Override.Without).
type Fields uint16

const (
	FieldAttempts Fields = 1 << iota
	FieldInterval
	FieldPace
	FieldOnFailure
	FieldForceNAK
	FieldRecycleNotCapable
	FieldAssumeCapable
	FieldReconfMsg
)

// Override replaces the fields it sets (non-nil) of a campaign's Options for
// the clients of one pool.
type Override struct {
	Attempts          *int           `json:"attempts,omitempty"`
	Interval          *time.Duration `json:"interval,omitempty"`
	Pace              *int           `json:"pace,omitempty"`
	OnFailure         *OnFailure     `json:"on_failure,omitempty"`
	ForceNAK          *bool          `json:"force_nak,omitempty"`
	RecycleNotCapable *bool          `json:"recycle_not_capable,omitempty"`
	AssumeCapable     *bool          `json:"assume_capable,omitempty"`
	// ReconfMsg: the pool's Reconfigure Message (config dhcpv6 pool
	// reconfigure.message).
	ReconfMsg *ReconfMsg `json:"reconf_msg,omitempty"`
}

// Over returns ov with the fields it leaves unset taken from base: a pool
// setting (ov) over a global default (base).
func (ov Override) Over(base Override) Override {
	if ov.Attempts == nil {
		ov.Attempts = base.Attempts
	}
	if ov.Interval == nil {
		ov.Interval = base.Interval
	}
	if ov.Pace == nil {
		ov.Pace = base.Pace
	}
	if ov.OnFailure == nil {
		ov.OnFailure = base.OnFailure
	}
	if ov.ForceNAK == nil {
		ov.ForceNAK = base.ForceNAK
	}
	if ov.RecycleNotCapable == nil {
		ov.RecycleNotCapable = base.RecycleNotCapable
	}
	if ov.AssumeCapable == nil {
		ov.AssumeCapable = base.AssumeCapable
	}
	if ov.ReconfMsg == nil {
		ov.ReconfMsg = base.ReconfMsg
	}
	return ov
}

// Without returns ov with the fields in f unset: what a command gave
// explicitly is not overridden by a pool or global setting.
func (ov Override) Without(f Fields) Override {
	if f&FieldAttempts != 0 {
		ov.Attempts = nil
	}
	if f&FieldInterval != 0 {
		ov.Interval = nil
	}
	if f&FieldPace != 0 {
		ov.Pace = nil
	}
	if f&FieldOnFailure != 0 {
		ov.OnFailure = nil
	}
	if f&FieldForceNAK != 0 {
		ov.ForceNAK = nil
	}
	if f&FieldRecycleNotCapable != 0 {
		ov.RecycleNotCapable = nil
	}
	if f&FieldAssumeCapable != 0 {
		ov.AssumeCapable = nil
	}
	if f&FieldReconfMsg != 0 {
		ov.ReconfMsg = nil
	}
	return ov
}

// DefaultOptions returns 8 attempts, 2 s doubling, 1000 messages/s per
// pool, restore on failure, Reconfigure Message renew: the defaults of
// both families (DefaultAttempts = DefaultAttempts6, DefaultInterval =
// DefaultInterval6).
func DefaultOptions() Options {
	return Options{Attempts: DefaultAttempts, Interval: DefaultInterval, Pace: DefaultPace}
}

// Apply returns o with the fields ov sets replaced.
func (o Options) Apply(ov *Override) Options {
	if ov.Attempts != nil {
		o.Attempts = *ov.Attempts
	}
	if ov.Interval != nil {
		o.Interval = *ov.Interval
	}
	if ov.Pace != nil {
		o.Pace = *ov.Pace
	}
	if ov.OnFailure != nil {
		o.OnFailure = *ov.OnFailure
	}
	if ov.ForceNAK != nil {
		o.ForceNAK = *ov.ForceNAK
	}
	if ov.RecycleNotCapable != nil {
		o.RecycleNotCapable = *ov.RecycleNotCapable
	}
	if ov.AssumeCapable != nil {
		o.AssumeCapable = *ov.AssumeCapable
	}
	if ov.ReconfMsg != nil {
		o.ReconfMsg = *ov.ReconfMsg
	}
	return o
}

// forPool returns o with pool's override applied and the defaults of the
// pool's family filled in (Pools dropped).
func (o Options) forPool(pool string, v6 bool) Options {
	if ov, ok := o.Pools[pool]; ok {
		o = o.Apply(&ov)
	}
	o.Pools, o.Given = nil, 0
	if o.Attempts == 0 {
		o.Attempts = DefaultAttempts
		if v6 {
			o.Attempts = DefaultAttempts6
		}
	}
	if o.Interval == 0 {
		o.Interval = DefaultInterval
		if v6 {
			o.Interval = DefaultInterval6
		}
	}
	return o
}

func (o Options) validate() error {
	check := func(where string, r Options) error {
		switch {
		case r.Attempts < 1 || r.Attempts > MaxAttempts:
			return fmt.Errorf("reconf: %sattempts %d: want 1..%d", where, r.Attempts, MaxAttempts)
		case r.Interval < time.Millisecond || r.Interval > MaxInterval:
			return fmt.Errorf("reconf: %sinterval %v: want 1ms..%v", where, r.Interval, MaxInterval)
		case r.Pace < 0 || r.Pace > MaxPace:
			return fmt.Errorf("reconf: %space %d: want 0..%d (0 = unlimited)", where, r.Pace, MaxPace)
		case r.OnFailure > Recycle:
			return fmt.Errorf("reconf: %son-failure %d: want restore, delete or recycle", where, r.OnFailure)
		case r.ReconfMsg >= numReconfMsgs:
			return fmt.Errorf("reconf: %sreconfigure message %d: want renew, rebind or information-request", where, r.ReconfMsg)
		}
		return nil
	}
	for _, v6 := range []bool{false, true} {
		if err := check("", o.forPool("", v6)); err != nil {
			return err
		}
		for p := range o.Pools {
			if err := check("pool "+p+": ", o.forPool(p, v6)); err != nil {
				return err
			}
		}
	}
	return nil
}

func (o *Options) equal(p *Options) bool {
	a, b := o.forPool("", false), p.forPool("", false)
	if a.Attempts != b.Attempts || a.Interval != b.Interval || a.Pace != b.Pace || a.OnFailure != b.OnFailure ||
		a.ReconfMsg != b.ReconfMsg ||
		a.ForceNAK != b.ForceNAK || a.RecycleNotCapable != b.RecycleNotCapable || a.AssumeCapable != b.AssumeCapable ||
		len(o.Pools) != len(p.Pools) {
		return false
	}
	for k, v := range o.Pools {
		w, ok := p.Pools[k]
		if !ok || !v.equal(&w) {
			return false
		}
	}
	return true
}

func eqPtr[T comparable](a, b *T) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func (v *Override) equal(w *Override) bool {
	return eqPtr(v.Attempts, w.Attempts) && eqPtr(v.Interval, w.Interval) && eqPtr(v.Pace, w.Pace) &&
		eqPtr(v.OnFailure, w.OnFailure) && eqPtr(v.ForceNAK, w.ForceNAK) &&
		eqPtr(v.RecycleNotCapable, w.RecycleNotCapable) && eqPtr(v.AssumeCapable, w.AssumeCapable) &&
		eqPtr(v.ReconfMsg, w.ReconfMsg)
}

// State of a campaign.
type State uint8

const (
	// Running: FORCERENEWs are being sent or answers awaited.
	Running State = iota
	// Done: every client has an outcome.
	Done
	// Stopped by the operator; clients still pending became aborted.
	Stopped
	// Halted: the server restarted while it ran and was configured not to
	// resume it; clients still pending became aborted.
	Halted
)

var stateNames = [...]string{"running", "done", "stopped", "halted"}

func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("state(%d)", uint8(s))
}

func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Outcome is where a client of a campaign stands.
type Outcome uint8

const (
	Pending    Outcome = iota // FORCERENEW/Reconfigure scheduled/sent, or NAKed and re-DISCOVERing/Soliciting
	Renewed                   // ACK (v6: Reply) to its renew/rebind/init-reboot on the same address
	Rebound                   // NAK (v6: lifetime 0) or own DISCOVER/Solicit, then a completed DORA/Solicit-Request
	Informed                  // answered with DHCPINFORM (RFC 3203 §3); v6: Information-request to a renew/rebind campaign
	NoResponse                // attempts exhausted; OnFailure applied
	NotCapable                // no reconfigure key: it would ignore FORCERENEW
	Aborted                   // campaign stopped or halted before an answer
	Released                  // client sent DHCPRELEASE
	Declined                  // client sent DHCPDECLINE
	Expired                   // its lease expired
	Deleted                   // operator deleted its lease
	numOutcomes
)

var outcomeNames = [...]string{"pending", "renewed", "rebound", "informed", "no_response", "not_capable",
	"aborted", "released", "declined", "expired", "deleted"}

func (o Outcome) String() string {
	if int(o) < len(outcomeNames) {
		return outcomeNames[o]
	}
	return fmt.Sprintf("outcome(%d)", uint8(o))
}

// ParseOutcome is the inverse of String.
func ParseOutcome(s string) (Outcome, error) {
	for i, n := range outcomeNames {
		if n == s {
			return Outcome(i), nil
		}
	}
	return 0, fmt.Errorf("reconf: unknown outcome %q", s)
}

func (o Outcome) MarshalText() ([]byte, error) { return []byte(o.String()), nil }

// NumOutcomes is the number of outcomes: an array indexed by Outcome
// (e.g. sums over campaigns) is [NumOutcomes]T.
const NumOutcomes = int(numOutcomes)

// Outcomes lists every outcome in order (for metrics and tables).
func Outcomes() []Outcome {
	out := make([]Outcome, numOutcomes)
	for i := range out {
		out[i] = Outcome(i)
	}
	return out
}

// EventKind names what happened to a client. The kinds from Discover to
// Deleted are reported by the server through Observe; the others are the
// manager's own and appear only as ClientProgress.Last.
//
// DHCPv6 messages map onto the same kinds (set Event.V6):
//
//	Solicit                                   EvDiscover
//	Renew / Rebind                            EvRequestRenew / EvRequestRebind
//	Reply extending the client's bindings     EvAck: renewed; rebound after a
//	  (to Renew, Rebind, or Request)            Solicit or a lifetime-0 Reply
//	Reply with lifetime 0 or NoBinding to     EvNak (the client must Solicit)
//	  a Renew or Rebind
//	Reply to an Information-request           EvInform: renewed in a campaign
//	                                            with ReconfMsg information-request
//	Release / Decline                         EvRelease / EvDecline
//	binding expired / deleted                 EvExpired / EvDeleted
//
// Request (after Advertise) and Confirm need not be reported: the Reply to
// a Request is the EvAck that matters, and a Confirm changes no lifetime.
type EventKind uint8

const (
	EvNone EventKind = iota
	EvDiscover
	EvRequestRenew
	EvRequestRebind
	EvRequestInitReboot
	EvAck
	EvNak
	EvRelease
	EvDecline
	EvInform
	EvExpired
	EvDeleted
	// manager events
	EvSelected   // campaign started with this client
	EvForceRenew // FORCERENEW (v6: Reconfigure) sent
	EvTimeout    // attempts (or the wait for a DORA) exhausted
	EvStop       // operator stopped the campaign
	EvHalt       // restart without resume
	numEvents
)

var eventNames = [...]string{"none", "discover", "request-renew", "request-rebind", "request-init-reboot",
	"ack", "nak", "release", "decline", "inform", "expired", "deleted",
	"selected", "forcerenew", "timeout", "stop", "halt"}

func (k EventKind) String() string {
	if int(k) < len(eventNames) {
		return eventNames[k]
	}
	return fmt.Sprintf("event(%d)", uint8(k))
}

func (k EventKind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// Event is what the server tells the manager about a client: the message
// it sent and what the lease engine answered.
type Event struct {
	Kind EventKind
	// Addr is the lease address concerned: ciaddr/requested address of a
	// request, yiaddr of an ACK, the address released, declined, expired
	// or deleted. May be invalid for DISCOVER. For DHCPv6: any binding of
	// the client (an IA_NA address or a delegated prefix's first address),
	// or invalid.
	Addr netip.Addr
	// Key is the client key (option 61, else htype+chaddr), as in
	// lease.Lease.ClientID; for DHCPv6 the DUID. May be empty for
	// expired/deleted (then the client is found by Addr).
	Key []byte
	// V6: the event is about a DHCPv6 client (Key is a DUID). Implied when
	// Addr is an IPv6 address; set it when Addr is invalid.
	V6 bool
}

// ActionKind is what the server must do for a campaign.
type ActionKind uint8

const (
	// SendForceRenew: build an authenticated FORCERENEW for the lease at
	// Addr (chaddr and xid from the lease) and unicast it.
	SendForceRenew ActionKind = iota + 1
	// DeleteLease: Engine.Delete the binding at Addr (OnFailure delete);
	// for a DHCPv6 client also each address in More (lease6.Engine).
	DeleteLease
	// RecycleLease: return Addr to its pool (OnFailure recycle,
	// RecycleNotCapable); for a DHCPv6 client also each address in More.
	RecycleLease
	// SendReconfigure: DHCPv6 (RFC 8415 §18.3.11). Build the Reconfigure
	// for the client holding Addr with lease6.Engine.ReconfigureClient
	// (Reply.ReconfMsg = Msg.MessageType()), sign it with
	// auth.SignReconfigure6 and send it to the client, or through its
	// relay as a Relay-reply. One action per client and attempt, whatever
	// the number of its bindings.
	SendReconfigure
)

var actionNames = [...]string{"", "send-forcerenew", "delete-lease", "recycle-lease", "send-reconfigure"}

func (k ActionKind) String() string {
	if int(k) < len(actionNames) && k != 0 {
		return actionNames[k]
	}
	return fmt.Sprintf("action(%d)", uint8(k))
}

// Action is one thing the server executes. Check before executing that the
// lease at Addr still belongs to Key: the manager does not see the engine.
type Action struct {
	Kind     ActionKind
	Campaign uint32
	Addr     netip.Addr
	Key      []byte // client key (a copy); DHCPv6: the DUID
	Attempt  int    // SendForceRenew / SendReconfigure: 1 for the first message
	// Msg is the Reconfigure Message of a SendReconfigure.
	Msg ReconfMsg
	// More are the client's other selected bindings (DHCPv6 only: a
	// client with an IA_NA and an IA_PD, or several IAs); nil otherwise.
	More []netip.Addr
}

// V6 reports whether the action is about a DHCPv6 client.
func (a *Action) V6() bool { return a.Addr.Is6() && !a.Addr.Is4In6() }

// Counts are the clients of a campaign per outcome.
type Counts struct {
	Pending    int `json:"pending"`
	Renewed    int `json:"renewed"`
	Rebound    int `json:"rebound"`
	Informed   int `json:"informed"`
	NoResponse int `json:"no_response"`
	NotCapable int `json:"not_capable"`
	Aborted    int `json:"aborted"`
	Released   int `json:"released"`
	Declined   int `json:"declined"`
	Expired    int `json:"expired"`
	Deleted    int `json:"deleted"`
}

func countsOf(a *[numOutcomes]int) Counts {
	return Counts{a[Pending], a[Renewed], a[Rebound], a[Informed], a[NoResponse], a[NotCapable],
		a[Aborted], a[Released], a[Declined], a[Expired], a[Deleted]}
}

// Get returns the count of one outcome.
func (c Counts) Get(o Outcome) int {
	switch o {
	case Pending:
		return c.Pending
	case Renewed:
		return c.Renewed
	case Rebound:
		return c.Rebound
	case Informed:
		return c.Informed
	case NoResponse:
		return c.NoResponse
	case NotCapable:
		return c.NotCapable
	case Aborted:
		return c.Aborted
	case Released:
		return c.Released
	case Declined:
		return c.Declined
	case Expired:
		return c.Expired
	case Deleted:
		return c.Deleted
	}
	return 0
}

// CampaignStatus is a snapshot of one campaign.
type CampaignStatus struct {
	ID       uint32    `json:"id"`
	Selector Selector  `json:"selector"`
	Options  Options   `json:"options"`
	State    State     `json:"state"`
	Created  time.Time `json:"created"`
	Ended    time.Time `json:"ended,omitzero"` // zero while running
	Pools    []string  `json:"pools"`          // pools covered
	Clients  int       `json:"clients"`        // selected clients
	Sent     int       `json:"sent"`           // FORCERENEW / Reconfigure messages sent
	Counts   Counts    `json:"counts"`
	// PoolOptions are the options the clients of each pool actually get,
	// in Pools order: Options with the pool's override and the defaults
	// of the pool's family applied (Pools empty).
	PoolOptions []Options `json:"pool_options"`
	// Existing is set by Start when it returned an identical running
	// campaign instead of starting one.
	Existing bool `json:"existing,omitempty"`
}

// ClientProgress is one client of a campaign.
type ClientProgress struct {
	Campaign uint32     `json:"campaign"`
	Addr     netip.Addr `json:"addr"` // DHCPv6: its IA_NA address if selected, else its first prefix's
	// More are a DHCPv6 client's other selected bindings.
	More []netip.Addr `json:"more,omitempty"`
	Key  []byte       `json:"key"` // client key (option 61, else htype+chaddr); DHCPv6: DUID
	// Family is 4 or 6.
	Family  int       `json:"family"`
	Pool    string    `json:"pool"`
	Capable bool      `json:"capable"`
	Sent    int       `json:"sent"`          // FORCERENEW / Reconfigure messages sent
	Next    time.Time `json:"next,omitzero"` // next send or give-up time while pending
	Outcome Outcome   `json:"outcome"`
	Last    EventKind `json:"last"` // last thing that happened
	When    time.Time `json:"when"` // when it happened
}

// ClientFilter selects clients for Manager.Clients.
type ClientFilter struct {
	Outcomes []Outcome  // empty: all
	After    netip.Addr // only addresses above (paging; IPv4 sort before IPv6); invalid: from the start
	Limit    int        // 0: no limit
}

// Errors (match with errors.Is).
var (
	ErrNotFound   = errors.New("reconf: no such campaign")
	ErrNoClients  = errors.New("reconf: selector matches no bound lease")
	ErrOverlap    = errors.New("reconf: a running campaign covers the same pool")
	ErrNotRunning = errors.New("reconf: campaign is not running")
	ErrRunning    = errors.New("reconf: campaign is running")
	ErrSelector   = errors.New("reconf: invalid selector")
	ErrRecord     = errors.New("reconf: malformed record")
)

// OverlapError is returned by Start when a running campaign covers a pool
// the new one would: only one campaign per pool runs at a time (Huawei
// refuses a second `send forcerenew` the same way).
type OverlapError struct {
	Pool    string
	Running CampaignStatus
}

func (e *OverlapError) Error() string {
	r := &e.Running
	return fmt.Sprintf("reconf: pool %q already has running campaign %d (%s, started %s): %d of %d clients done, %d pending, %d FORCERENEW sent",
		e.Pool, r.ID, r.Selector, r.Created.UTC().Format(time.RFC3339), r.Clients-r.Counts.Pending, r.Clients,
		r.Counts.Pending, r.Sent)
}

func (e *OverlapError) Unwrap() error { return ErrOverlap }
