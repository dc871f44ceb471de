package ddns

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
)

// Config configures an Updater.
type Config struct {
	// Server is the primary authoritative server, host:port.
	Server string
	// Forward is the zone of the clients' names (e.g. "lan.example."),
	// the zone the forward updates go to.
	Forward string
	// QualifySuffix is the domain every name ends in: Forward (when
	// empty) or a domain under it (e.g. "dyn.lan.example."). A client's
	// name becomes <label>.<QualifySuffix>.
	QualifySuffix string
	// ReplaceClientName is when a generated label replaces the client's
	// (see ClientLabel): "never" (or ""), "always", "when-present",
	// "when-not-present".
	ReplaceClientName string
	// GeneratedPrefix starts generated labels; "myhost" when empty.
	GeneratedPrefix string
	// Reverse4 and Reverse6 are the reverse zones for PTR records (e.g.
	// "77.10.in-addr.arpa."); "" leaves PTR records of that family alone.
	Reverse4, Reverse6 string
	// KeyName, Algorithm (e.g. "hmac-sha256") and Secret (base64) sign
	// every update with TSIG; an empty KeyName sends unsigned updates.
	KeyName, Algorithm, Secret string
	// TTL of the records added; 0 means 300 s.
	TTL uint32
	// QueueSize bounds the events waiting; 0 means 4096.
	QueueSize int
	// Attempts per event before giving up; 0 means 5.
	Attempts int
	// Retry is the wait before the first retry, doubling; 0 means 2 s.
	Retry time.Duration
	// Timeout of one DNS exchange; 0 means 3 s.
	Timeout time.Duration
}

// Event is a lease change, after its commit.
type Event struct {
	// Bound: the client holds Addr (add or keep its names); false: the
	// binding ended (remove them).
	Bound bool
	Addr  netip.Addr
	// Hostname is the client's host name (option 12, or the name of its
	// FQDN option); "" means no forward name.
	Hostname string
	Client   Client
	// PTROnly: the client updates its A/AAAA record itself (FQDN option
	// S=0); only the PTR is the server's.
	PTROnly bool
}

// Updater applies Events to DNS, one worker, in order.
type Updater struct {
	cfg    Config
	log    *slog.Logger
	q      chan Event
	client *dns.Client
	m      struct {
		updates *prometheus.CounterVec
		dropped prometheus.Counter
	}
	mu         sync.Mutex
	last       map[netip.Addr]eventKey // last event queued per address (Enqueue)
	droppedLog time.Time
	// worker state
	applied map[netip.Addr]Binding // what DNS holds for an address, as far as we know
	gen     map[netip.Addr]uint64
	retries []retry
}

type retry struct {
	ev      Event
	gen     uint64
	attempt int
	due     time.Time
}

// New returns an Updater; reg receives its counters.
func New(cfg Config, log *slog.Logger, reg prometheus.Registerer) (*Updater, error) {
	if cfg.Server == "" || cfg.Forward == "" {
		return nil, errors.New("ddns: server and forward zone are required")
	}
	cfg.Forward = dns.Fqdn(cfg.Forward)
	if cfg.QualifySuffix == "" {
		cfg.QualifySuffix = cfg.Forward
	}
	cfg.QualifySuffix = dns.Fqdn(cfg.QualifySuffix)
	if !dns.IsSubDomain(cfg.Forward, cfg.QualifySuffix) {
		return nil, fmt.Errorf("ddns: qualify suffix %s is not in the forward zone %s", cfg.QualifySuffix, cfg.Forward)
	}
	switch cfg.ReplaceClientName {
	case "", "never", "always", "when-present", "when-not-present", "when-absent":
	default:
		return nil, fmt.Errorf("ddns: replace client name %q: want never, always, when-present or when-not-present", cfg.ReplaceClientName)
	}
	if cfg.Reverse4 != "" {
		cfg.Reverse4 = dns.Fqdn(cfg.Reverse4)
	}
	if cfg.Reverse6 != "" {
		cfg.Reverse6 = dns.Fqdn(cfg.Reverse6)
	}
	if cfg.TTL == 0 {
		cfg.TTL = 300
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = 4096
	}
	if cfg.Attempts <= 0 {
		cfg.Attempts = 5
	}
	if cfg.Retry <= 0 {
		cfg.Retry = 2 * time.Second
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 3 * time.Second
	}
	u := &Updater{cfg: cfg, log: log, q: make(chan Event, cfg.QueueSize),
		applied: map[netip.Addr]Binding{}, gen: map[netip.Addr]uint64{}, last: map[netip.Addr]eventKey{}}
	u.client = &dns.Client{Net: "udp", Timeout: cfg.Timeout}
	if cfg.KeyName != "" {
		u.cfg.KeyName = dns.Fqdn(cfg.KeyName)
		u.cfg.Algorithm = dns.Fqdn(cfg.Algorithm)
		u.client.TsigSecret = map[string]string{u.cfg.KeyName: cfg.Secret}
	}
	u.m.updates = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "leased_ddns_updates_total",
		Help: "Dynamic DNS work by result: added, replaced, removed, conflict (the name belongs to another client: left alone), skipped (nothing to change), retry, failed (attempts exhausted).",
	}, []string{"result"})
	u.m.dropped = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "leased_ddns_dropped_total",
		Help: "Lease events not queued for dynamic DNS because the queue was full.",
	})
	if reg != nil {
		for _, c := range []prometheus.Collector{u.m.updates, u.m.dropped} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return u, nil
}

// Enqueue queues ev without blocking; a full queue drops it (counted;
// logged at most every 10 s) and returns false. An event identical to the
// last one queued for its address (a renewal: same state, name and
// client) is not queued again: renewals do not fill the queue.
func (u *Updater) Enqueue(ev Event) bool {
	k := eventKey{bound: ev.Bound, host: Label(ev.Hostname), v6: ev.Client.V6, id: string(ev.Client.ClientID),
		hw: string(ev.Client.HWAddr), htype: ev.Client.HType, ptrOnly: ev.PTROnly}
	u.mu.Lock()
	if last, ok := u.last[ev.Addr]; ok && last == k {
		u.mu.Unlock()
		return true
	}
	u.mu.Unlock()
	select {
	case u.q <- ev:
		u.mu.Lock()
		if ev.Bound {
			u.last[ev.Addr] = k
		} else {
			delete(u.last, ev.Addr)
		}
		u.mu.Unlock()
		return true
	default:
		u.m.dropped.Inc()
		u.mu.Lock()
		now := time.Now()
		logIt := now.Sub(u.droppedLog) >= 10*time.Second
		if logIt {
			u.droppedLog = now
		}
		u.mu.Unlock()
		if logIt {
			u.log.Warn("ddns: queue full; lease events dropped (leased_ddns_dropped_total counts them)", "addr", ev.Addr, "bound", ev.Bound, "queue", cap(u.q))
		}
		return false
	}
}

// forget lets the next event for a be queued even if it repeats the last
// one (after an event was given up).
func (u *Updater) forget(a netip.Addr) {
	u.mu.Lock()
	delete(u.last, a)
	u.mu.Unlock()
}

type eventKey struct {
	bound, v6 bool
	ptrOnly   bool
	host      string
	id, hw    string
	htype     uint8
}

// Run applies queued events until ctx ends.
func (u *Updater) Run(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		wait := time.Hour
		if len(u.retries) > 0 {
			wait = max(time.Until(u.retries[0].due), 0)
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case ev := <-u.q:
			u.gen[ev.Addr]++
			u.try(ctx, retry{ev: ev, gen: u.gen[ev.Addr], attempt: 1})
		case <-timer.C:
			now := time.Now()
			for len(u.retries) > 0 && !u.retries[0].due.After(now) {
				r := u.retries[0]
				u.retries = u.retries[1:]
				if u.gen[r.ev.Addr] != r.gen {
					continue // a later event for the address superseded it
				}
				u.try(ctx, r)
			}
		}
	}
}

func (u *Updater) try(ctx context.Context, r retry) {
	err := u.apply(ctx, r.ev)
	if err == nil {
		return
	}
	if r.attempt >= u.cfg.Attempts {
		u.m.updates.WithLabelValues("failed").Inc()
		u.forget(r.ev.Addr)
		u.log.Error("ddns: update failed; giving up", "addr", r.ev.Addr, "bound", r.ev.Bound, "attempts", r.attempt, "err", err)
		return
	}
	u.m.updates.WithLabelValues("retry").Inc()
	r.due = time.Now().Add(u.cfg.Retry << (r.attempt - 1))
	r.attempt++
	u.log.Warn("ddns: update failed; will retry", "addr", r.ev.Addr, "bound", r.ev.Bound, "attempt", r.attempt-1, "retry_at", r.due, "err", err)
	i := len(u.retries)
	for i > 0 && u.retries[i-1].due.After(r.due) {
		i--
	}
	u.retries = append(u.retries, retry{})
	copy(u.retries[i+1:], u.retries[i:])
	u.retries[i] = r
}

func (u *Updater) binding(ev *Event) Binding {
	b := Binding{Addr: ev.Addr, Client: ev.Client, PTROnly: ev.PTROnly}
	if l := ClientLabel(ev.Hostname, ev.Addr, u.cfg.ReplaceClientName, u.cfg.GeneratedPrefix); l != "" {
		b.FQDN = l + "." + u.cfg.QualifySuffix
	}
	return b
}

func (u *Updater) reverseZone(a netip.Addr) string {
	if a.Is4() {
		return u.cfg.Reverse4
	}
	return u.cfg.Reverse6
}

func same(a, b *Binding) bool {
	if a.FQDN != b.FQDN || a.PTROnly != b.PTROnly {
		return false
	}
	da, _ := DHCID(&a.Client, a.FQDN)
	db, _ := DHCID(&b.Client, b.FQDN)
	return da == db
}

// apply makes DNS match ev; an error means: retry.
func (u *Updater) apply(ctx context.Context, ev Event) error {
	b := u.binding(&ev)
	prev, had := u.applied[ev.Addr]
	if ev.Bound {
		if had && same(&prev, &b) {
			u.m.updates.WithLabelValues("skipped").Inc()
			return nil
		}
		if had {
			if err := u.remove(ctx, &prev); err != nil {
				return err
			}
			delete(u.applied, ev.Addr)
		}
		if b.FQDN == "" {
			return nil
		}
		return u.add(ctx, &b)
	}
	if had {
		b = prev
	}
	if b.FQDN == "" {
		return nil
	}
	if err := u.remove(ctx, &b); err != nil {
		return err
	}
	delete(u.applied, ev.Addr)
	return nil
}

// add runs RFC 4703 §5.3: add if the name is free, replace if the DHCID
// is ours, else leave the other client's name alone; then the PTR.
func (u *Updater) add(ctx context.Context, b *Binding) error {
	if b.PTROnly {
		return u.ptr(ctx, b, "added")
	}
	m, err := AddNew(u.cfg.Forward, b, u.cfg.TTL)
	if err != nil {
		return err
	}
	r, err := u.exchange(ctx, m)
	if err != nil {
		return err
	}
	result := "added"
	switch r.Rcode {
	case dns.RcodeSuccess:
	case dns.RcodeYXDomain:
		m, err := Replace(u.cfg.Forward, b, u.cfg.TTL)
		if err != nil {
			return err
		}
		r, err := u.exchange(ctx, m)
		if err != nil {
			return err
		}
		switch r.Rcode {
		case dns.RcodeSuccess:
			result = "replaced"
		case dns.RcodeNXRrset:
			// RFC 4703 §5.3.1: the name belongs to another client
			// (another DHCID, or none): leave it, and do not touch the
			// PTR either.
			u.m.updates.WithLabelValues("conflict").Inc()
			u.log.Warn("ddns: name in use by another client; left alone", "name", b.FQDN, "addr", b.Addr)
			return nil
		default:
			return rcodeErr("replace "+b.FQDN, r)
		}
	default:
		return rcodeErr("add "+b.FQDN, r)
	}
	return u.ptr(ctx, b, result)
}

// ptr sets the PTR of b (when a reverse zone is configured) and records b
// as applied; result is the counter label.
func (u *Updater) ptr(ctx context.Context, b *Binding, result string) error {
	u.applied[b.Addr] = *b
	if z := u.reverseZone(b.Addr); z != "" {
		r, err := u.exchange(ctx, SetPTR(z, b, u.cfg.TTL))
		if err != nil {
			return err
		}
		if r.Rcode != dns.RcodeSuccess {
			return rcodeErr("ptr "+ReverseName(b.Addr), r)
		}
	}
	u.m.updates.WithLabelValues(result).Inc()
	u.log.Info("ddns: "+result, "name", b.FQDN, "addr", b.Addr, "ptr_only", b.PTROnly)
	return nil
}

// remove runs RFC 4703 §5.5: delete the address record and then the DHCID
// only while the DHCID is ours; then the PTR if it still names us.
func (u *Updater) remove(ctx context.Context, b *Binding) error {
	if b.PTROnly {
		// The A/AAAA record is the client's (S=0): only the PTR is ours.
		return u.removePTR(ctx, b)
	}
	m, err := RemoveAddr(u.cfg.Forward, b)
	if err != nil {
		return err
	}
	r, err := u.exchange(ctx, m)
	if err != nil {
		return err
	}
	switch r.Rcode {
	case dns.RcodeSuccess:
		m, err := RemoveDHCID(u.cfg.Forward, b)
		if err != nil {
			return err
		}
		r, err := u.exchange(ctx, m)
		if err != nil {
			return err
		}
		if r.Rcode != dns.RcodeSuccess && r.Rcode != dns.RcodeNXRrset && r.Rcode != dns.RcodeYXRrset {
			return rcodeErr("remove DHCID "+b.FQDN, r)
		}
	case dns.RcodeNXRrset:
		// Not (or no longer) ours: nothing to remove.
		u.m.updates.WithLabelValues("skipped").Inc()
		return nil
	default:
		return rcodeErr("remove "+b.FQDN, r)
	}
	return u.removePTR(ctx, b)
}

// removePTR removes the PTR of b if it still names b's client.
func (u *Updater) removePTR(ctx context.Context, b *Binding) error {
	if z := u.reverseZone(b.Addr); z != "" {
		r, err := u.exchange(ctx, RemovePTR(z, b))
		if err != nil {
			return err
		}
		if r.Rcode != dns.RcodeSuccess {
			return rcodeErr("remove ptr "+ReverseName(b.Addr), r)
		}
	}
	u.m.updates.WithLabelValues("removed").Inc()
	u.log.Info("ddns: removed", "name", b.FQDN, "addr", b.Addr)
	return nil
}

func (u *Updater) exchange(ctx context.Context, m *dns.Msg) (*dns.Msg, error) {
	if u.cfg.KeyName != "" {
		m.SetTsig(u.cfg.KeyName, u.cfg.Algorithm, 300, time.Now().Unix())
	}
	r, _, err := u.client.ExchangeContext(ctx, m, u.cfg.Server)
	if err != nil {
		return nil, fmt.Errorf("dns %s: %w", u.cfg.Server, err)
	}
	return r, nil
}
