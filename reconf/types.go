// Package reconf is the DHCPv4 reconfiguration campaign engine: it decides
// which bound clients a campaign covers, when each of them gets a
// FORCERENEW (RFC 3203), how often and how fast, what every event that
// arrives meanwhile means for that client, and what happens to the leases
// of clients that never come back.
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
)

// Defaults for Options fields left zero.
const (
	DefaultAttempts = 8
	DefaultInterval = 2 * time.Second
	DefaultPace     = 1000

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

// Options control one campaign. Start from DefaultOptions: a zero Pace
// means unlimited, while zero Attempts and Interval mean the defaults.
type Options struct {
	// Attempts is the number of FORCERENEW messages sent to a client that
	// does not react (0: DefaultAttempts, at most MaxAttempts).
	Attempts int `json:"attempts"`
	// Interval is the wait after the first FORCERENEW; each further wait
	// doubles (2 s, 4 s, 8 s, ...). After the last attempt the client gets
	// one more doubled wait before it counts as no_response. 0:
	// DefaultInterval.
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
	// takes a fresh configuration (Junos behaviour).
	ForceNAK bool `json:"force_nak,omitempty"`
	// RecycleNotCapable applies Recycle to clients that cannot be
	// reconfigured (no reconfigure key), as soon as the campaign starts.
	RecycleNotCapable bool `json:"recycle_not_capable,omitempty"`
	// AssumeCapable treats every selected client as able to act on a
	// FORCERENEW even without an RFC 6704 key in its lease: for pools that
	// authenticate with an RFC 3118 token or are explicitly insecure.
	AssumeCapable bool `json:"assume_capable,omitempty"`
	// Pools overrides fields per pool (Junos per-group settings).
	Pools map[string]Override `json:"pools,omitempty"`
}

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
}

// DefaultOptions returns 8 attempts, 2 s doubling, 1000 FORCERENEW/s,
// restore on failure.
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
	return o
}

// forPool returns o with pool's override applied and defaults filled in
// (Pools dropped).
func (o Options) forPool(pool string) Options {
	if ov, ok := o.Pools[pool]; ok {
		o = o.Apply(&ov)
	}
	o.Pools = nil
	if o.Attempts == 0 {
		o.Attempts = DefaultAttempts
	}
	if o.Interval == 0 {
		o.Interval = DefaultInterval
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
		}
		return nil
	}
	if err := check("", o.forPool("")); err != nil {
		return err
	}
	for p := range o.Pools {
		if err := check("pool "+p+": ", o.forPool(p)); err != nil {
			return err
		}
	}
	return nil
}

func (o *Options) equal(p *Options) bool {
	a, b := o.forPool(""), p.forPool("")
	if a.Attempts != b.Attempts || a.Interval != b.Interval || a.Pace != b.Pace || a.OnFailure != b.OnFailure ||
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
		eqPtr(v.RecycleNotCapable, w.RecycleNotCapable) && eqPtr(v.AssumeCapable, w.AssumeCapable)
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
	Pending    Outcome = iota // FORCERENEW scheduled/sent, or NAKed and re-DISCOVERing
	Renewed                   // ACK to its renew/rebind/init-reboot on the same address
	Rebound                   // NAK (or own DISCOVER) then a completed DORA
	Informed                  // answered with DHCPINFORM (RFC 3203 §3)
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
	EvForceRenew // FORCERENEW sent
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
	// or deleted. May be invalid for DISCOVER.
	Addr netip.Addr
	// Key is the client key (option 61, else htype+chaddr), as in
	// lease.Lease.ClientID. May be empty for expired/deleted.
	Key []byte
}

// ActionKind is what the server must do for a campaign.
type ActionKind uint8

const (
	// SendForceRenew: build an authenticated FORCERENEW for the lease at
	// Addr (chaddr and xid from the lease) and unicast it.
	SendForceRenew ActionKind = iota + 1
	// DeleteLease: Engine.Delete the binding at Addr (OnFailure delete).
	DeleteLease
	// RecycleLease: return Addr to its pool (OnFailure recycle,
	// RecycleNotCapable).
	RecycleLease
)

var actionNames = [...]string{"", "send-forcerenew", "delete-lease", "recycle-lease"}

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
	Key      []byte // client key (a copy)
	Attempt  int    // SendForceRenew: 1 for the first message
}

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
	Sent     int       `json:"sent"`           // FORCERENEW messages sent
	Counts   Counts    `json:"counts"`
}

// ClientProgress is one client of a campaign.
type ClientProgress struct {
	Campaign uint32     `json:"campaign"`
	Addr     netip.Addr `json:"addr"`
	Key      []byte     `json:"key"` // client key (option 61, else htype+chaddr)
	Pool     string     `json:"pool"`
	Capable  bool       `json:"capable"`
	Sent     int        `json:"sent"`          // FORCERENEW messages sent
	Next     time.Time  `json:"next,omitzero"` // next send or give-up time while pending
	Outcome  Outcome    `json:"outcome"`
	Last     EventKind  `json:"last"` // last thing that happened
	When     time.Time  `json:"when"` // when it happened
}

// ClientFilter selects clients for Manager.Clients.
type ClientFilter struct {
	Outcomes []Outcome  // empty: all
	After    netip.Addr // only addresses above (paging); invalid: from the start
	Limit    int        // 0: no limit
}

// Errors (match with errors.Is).
var (
	ErrNotFound   = errors.New("reconf: no such campaign")
	ErrNoClients  = errors.New("reconf: selector matches no bound lease")
	ErrOverlap    = errors.New("reconf: a running campaign covers the same pool")
	ErrNotRunning = errors.New("reconf: campaign is not running")
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
