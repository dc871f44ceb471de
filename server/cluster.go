package server

// The cluster control plane (issue #12, docs/cluster.md): several leased
// servers on one PostgreSQL database. This file holds the per-server
// state: the block claims of each pool (new clients only get addresses
// of this server's own claims), the heartbeat that extends them and reads
// the live set of servers for the RFC 3074 load-balancing filter
// (balance.go), and the take-over of a dead server's claims.
//
// Everything here runs off the packet path, on two goroutines: the
// heartbeat (clusterLoop: extend, live set, take-over, idle release,
// reservations) and the claims (claimLoop: free-address checks and block
// claims), so that a claim never waits for a heartbeat's round trips; the
// state they share is under clusterState.mu. The engines are told the
// claimed ranges with SetClaims, which takes the engine's own lock like
// every other engine call.

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/leased/leased/lease"
	"github.com/leased/leased/lease6"
	"github.com/leased/leased/store/postgres"
)

// Cluster defaults (ClusterOptions).
const (
	DefaultClusterHeartbeat = 5 * time.Second
	DefaultClusterBlockSize = 64
	MinClusterBlockSize     = 16
	// DefaultClusterIdleRelease is ClusterOptions.IdleRelease's default.
	DefaultClusterIdleRelease = 10 * time.Minute
)

// ClusterOptions turn on the cluster control plane (Options.Cluster; nil:
// a single server, nothing changes).
type ClusterOptions struct {
	// Store is the PostgreSQL store opened with Options.Cluster (the same
	// value as Options.Store).
	Store *postgres.Store
	// Heartbeat is how often the server extends its claims, refreshes
	// the live set and looks for dead servers; 0 means
	// DefaultClusterHeartbeat (5 s). The store's own heartbeat row
	// (postgres.Options.Heartbeat) should use the same period.
	Heartbeat time.Duration
	// TakeOverAfter is how long a server's heartbeat may be silent before
	// the others take over its claims, and the lifetime of a claim from
	// its last extension; 0 means 3 × Heartbeat.
	TakeOverAfter time.Duration
	// BlockSize is the number of addresses (delegated prefixes for
	// IA_PD) claimed at a time; 0 means DefaultClusterBlockSize (64),
	// at least MinClusterBlockSize (16).
	BlockSize int
	// LowWater: a new block is claimed when the free addresses in the
	// pool's claims drop below it; 0 means BlockSize/4.
	LowWater int
	// AnswerAfterSecs is the RFC 3074 secs fallback: a server answers a
	// DHCPv4 client whose hash belongs to another server once the
	// client's secs field reaches it (0: never answer for others).
	AnswerAfterSecs uint16
	// Check is how often the free addresses in the claims are checked
	// against LowWater between heartbeats; 0 means the smaller of
	// Heartbeat/4 and 250 ms.
	Check time.Duration
	// IdleRelease: a pool that allocated nothing for this long gives
	// back the claims it does not need (it keeps LowWater free), so that
	// a server short of addresses can claim them; 0 means
	// DefaultClusterIdleRelease (10 min), negative never.
	IdleRelease time.Duration
}

// withDefaults fills the zero fields of o.
func (o ClusterOptions) withDefaults() ClusterOptions {
	if o.Heartbeat <= 0 {
		o.Heartbeat = DefaultClusterHeartbeat
	}
	if o.TakeOverAfter <= 0 {
		o.TakeOverAfter = 3 * o.Heartbeat
	}
	if o.BlockSize <= 0 {
		o.BlockSize = DefaultClusterBlockSize
	}
	if o.BlockSize < MinClusterBlockSize {
		o.BlockSize = MinClusterBlockSize
	}
	if o.LowWater <= 0 {
		o.LowWater = max(1, o.BlockSize/4)
	}
	if o.Check <= 0 {
		o.Check = min(o.Heartbeat/4, 250*time.Millisecond)
	}
	if o.IdleRelease == 0 {
		o.IdleRelease = DefaultClusterIdleRelease
	}
	return o
}

// maxClaimsPerRound bounds the blocks one pool claims in one check (a
// pool whose new blocks are full of other servers' leases).
const maxClaimsPerRound = 4

// claimEngine4 is the DHCPv4 engine's cluster hook (lease/claims.go).
type claimEngine4 interface {
	SetClaims(pool string, rs []lease.Range)
	FreeInClaims(pool string) (free int, restricted bool)
	Adopt(l lease.Lease)
}

// claimEngine6 is the DHCPv6 engine's cluster hook (lease6/claims.go).
type claimEngine6 interface {
	SetClaims(pool string, kind lease6.IAKind, rs []lease.Range)
	FreeInClaims(pool string, kind lease6.IAKind, limit int) (free int, restricted bool)
	Adopt(l lease.Lease)
}

// poolKey names what claims are made for: a DHCPv4 pool, or a DHCPv6
// pool's IA_NA ranges or its IA_PD prefixes.
type poolKey struct {
	v6   bool
	kind lease6.IAKind // v6 only
	name string
}

func (k poolKey) family() string {
	if k.v6 {
		return "dhcpv6"
	}
	return "dhcpv4"
}

// kindLabel is the kind label of the pool gauges (metrics.go).
func (k poolKey) kindLabel() string {
	if k.v6 && k.kind == lease6.IAPD {
		return "prefixes"
	}
	return "addresses"
}

// claimTarget is one poolKey of the running configuration with what
// ClaimBlock claims from.
type claimTarget struct {
	key  poolKey
	pool postgres.ClaimPool
}

// heldClaim is a claim of this server and when it stops allocating from
// it (by its own clock) unless it is extended before.
type heldClaim struct {
	c        postgres.Claim
	key      poolKey
	deadline time.Time
	timer    *time.Timer // drops the claim at deadline (armDeadlineLocked)
	// added: when this server started allocating from it (addClaim).
	added time.Time
	// draining: since when the engine no longer allocates from the claim
	// (an idle release, clusterRelease); it stays in the database,
	// extended, until releaseDrain passed, so that a commit of an
	// allocation made just before still finds it owned.
	draining time.Time
}

// armDeadlineLocked sets h's deadline and the timer that stops the
// allocation from it then, whatever the control loop is doing (a
// heartbeat blocked on an unreachable database included). cs.mu held.
func (s *Server) armDeadlineLocked(id int64, h *heldClaim, d time.Time) {
	h.deadline = d
	if h.timer != nil {
		h.timer.Stop()
	}
	h.timer = time.AfterFunc(time.Until(d), func() { s.claimDeadline(id, d) })
}

// claimDeadline drops claim id if its deadline d was not moved since.
func (s *Server) claimDeadline(id int64, d time.Time) {
	cs := s.cluster
	cs.mu.Lock()
	defer cs.mu.Unlock()
	h, ok := cs.held[id]
	if !ok || !h.deadline.Equal(d) {
		return
	}
	s.removeClaimLocked(id)
	s.log.Warn("cluster: claim not extended in time; no longer allocating from it",
		"pool", h.key.name, "family", h.key.family(), "first", h.c.First, "last", h.c.Last)
}

// removeClaimLocked forgets claim id and tells the engine. cs.mu held.
func (s *Server) removeClaimLocked(id int64) {
	cs := s.cluster
	h, ok := cs.held[id]
	if !ok {
		return
	}
	if h.timer != nil {
		h.timer.Stop()
	}
	delete(cs.held, id)
	s.applyClaimsLocked(h.key, time.Now())
}

// poolClaimState is the claim manager's view of one poolKey.
type poolClaimState struct {
	free      int       // free in claims at the last check
	checked   time.Time // when free was read
	rate      float64   // allocations per second, moving average of the checks
	exhausted time.Time // last ErrNoFreeBlock or failure: no new claim before a heartbeat passed
	logged    time.Time // last exhaustion warning (rate limit)
	exhaustN  uint64    // ErrNoFreeBlock results
	errN      uint64    // other claim failures
	lastAlloc time.Time // last check that saw the free count drop (or a claim taken); idle since
	low       float64   // the low-water mark of the last check
	released  uint64    // claims given back idle
	// Cold claims (claimwait.go): dry is when a client message last
	// found no free address in the pool's claims (it waits for a claim),
	// demand how many did since the rate was last sampled (unmet demand
	// the free count cannot show), grow the size of the block claimed
	// last while the pool keeps running dry (doubled at each claim,
	// claimAhead).
	dry    time.Time
	demand int
	grow   int
}

// clusterState is the running control plane of a Server with
// Options.Cluster (nil otherwise).
type clusterState struct {
	opts ClusterOptions
	st   *postgres.Store
	eng4 claimEngine4 // nil without DHCPv4 pools
	eng6 claimEngine6 // nil without DHCPv6
	wake chan struct{}

	mu    sync.Mutex
	held  map[int64]*heldClaim
	pools map[poolKey]*poolClaimState // every key SetClaims was called for
	live  []string                    // sorted names of the live servers, this one included
	// orphans: sorted names of the servers not live that hold claims
	orphans []string
	// hbFail is the current run of failed heartbeats (extend, live set,
	// take-over); zero once one succeeds.
	hbFail fault
	fenced bool // the store's epoch was superseded: another process took over this name
	// resSig: the runtime reservation rows last applied
	// (clusterReservations; under s.res.mu, not mu).
	resSig resSig

	takeOvers atomic.Uint64
	// heldLogged: a held take-over was logged (takeOversHeld); reset
	// when take-overs are allowed again.
	heldLogged atomic.Bool
	hbFailures atomic.Uint64
	claimed    atomic.Uint64

	// gen counts the changes of the claim sets told to the engines (and
	// failed claims); each one wakes the claim waiters (claimwait.go),
	// which re-decide the messages parked for a claim.
	gen     atomic.Uint64
	waiters []claimWaiters
	// claimLat: how long a claim took (ClaimBlockLoad, seconds), moving
	// average; the claim manager claims this much further ahead.
	claimLat float64
	// claimTime: the duration of every claim that succeeded
	// (leased_cluster_claim_duration_seconds).
	claimTime prometheus.Histogram
	// budget4: DHCPv4 offers left before a pool's free addresses drop
	// below its low-water mark (clusterTopUp sets it, noteOffer4 counts
	// it down).
	budget4 atomic.Int64
}

// claimWaiters is what the claim manager sees of a lane's claimWaiter.
type claimWaiters interface {
	signal()
	waiting(key poolKey) int
}

// noteClaimLatency adds a claim's duration to claimLat.
func (cs *clusterState) noteClaimLatency(d time.Duration) {
	cs.claimTime.Observe(d.Seconds())
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.claimLat == 0 {
		cs.claimLat = d.Seconds()
		return
	}
	cs.claimLat = 0.7*cs.claimLat + 0.3*d.Seconds()
}

// waitingFor counts the messages parked for a claim of key.
func (cs *clusterState) waitingFor(key poolKey) int {
	n := 0
	for _, w := range cs.waiters {
		n += w.waiting(key)
	}
	return n
}

// claimsChanged moves gen and wakes the claim waiters.
func (cs *clusterState) claimsChanged() {
	cs.gen.Add(1)
	for _, w := range cs.waiters {
		w.signal()
	}
}

// claimable reports whether a message that found no free address in the
// claims of keys may wait for a claim: one of the pools is one this
// server claims blocks of, the server is not fenced, and that pool's last
// claim did not fail less than a heartbeat ago (every block claimed, or
// the database failing: waiting would only delay the drop). park: a
// message is being parked — the first such pool (the engine's order: the
// one its claim serves first) ran dry (claimAhead), and the message counts
// as demand in its allocation rate.
func (cs *clusterState) claimable(keys []poolKey, now time.Time, park bool) bool {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.fenced || cs.st.Fenced() {
		return false
	}
	for _, key := range keys {
		ps := cs.pools[key]
		if ps == nil {
			continue
		}
		if !ps.exhausted.IsZero() && now.Sub(ps.exhausted) < cs.opts.Heartbeat {
			continue
		}
		if park {
			ps.dry = now
			ps.demand++
		}
		return true
	}
	return false
}

// newCluster sets up the control plane of s (at the end of New, once the
// engines and the configuration are known): every configured pool gets an
// empty claim set, so nothing is allocated before a block is claimed.
func (s *Server) newCluster(o ClusterOptions) (*clusterState, error) {
	cs, err := newClusterState(o)
	if err != nil {
		return nil, err
	}
	if len(s.opts.Interfaces) > 0 {
		e, ok := s.eng.(claimEngine4)
		if !ok {
			return nil, fmt.Errorf("server: cluster mode: the DHCPv4 engine %T has no claim hooks (SetClaims, FreeInClaims, Adopt)", s.eng)
		}
		if s.opts.Config == nil {
			return nil, errors.New("server: cluster mode needs Options.Config (the pools to claim blocks of)")
		}
		cs.eng4 = e
	}
	if s.v6 != nil {
		e, ok := s.v6.eng.(claimEngine6)
		if !ok {
			return nil, fmt.Errorf("server: cluster mode: the DHCPv6 engine %T has no claim hooks (SetClaims, FreeInClaims, Adopt)", s.v6.eng)
		}
		if s.v6.cfg == nil {
			return nil, errors.New("server: cluster mode needs V6Options.Config (the pools to claim blocks of)")
		}
		cs.eng6 = e
	}
	s.cluster = cs
	s.clusterSync()
	s.reg.MustRegister(&clusterCollector{s: s}, cs.claimTime)
	return cs, nil
}

// newClusterState checks o and fills its defaults.
func newClusterState(o ClusterOptions) (*clusterState, error) {
	if o.Store == nil {
		return nil, errors.New("server: ClusterOptions.Store is required")
	}
	o = o.withDefaults()
	return &clusterState{opts: o, st: o.Store, wake: make(chan struct{}, 1),
		held: map[int64]*heldClaim{}, pools: map[poolKey]*poolClaimState{}, live: []string{o.Store.ServerName()},
		claimTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "leased_cluster_claim_duration_seconds",
			Help:    "How long a block claim took (the claim and the read of the block's leases, one round trip), claims that succeeded.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 12),
		})}, nil
}

// targets lists what the running configuration claims blocks of.
func (s *Server) clusterTargets() []claimTarget {
	cs := s.cluster
	var out []claimTarget
	if cs.eng4 != nil {
		s.camp.cfgM.Lock()
		if c := s.camp.leaseCfg; c != nil {
			for _, p := range c.Pools {
				t := claimTarget{key: poolKey{name: p.Name}, pool: postgres.ClaimPool{Name: p.Name}}
				for _, sec := range p.Sections {
					t.pool.Ranges = append(t.pool.Ranges, postgres.Range{First: sec.Start, Last: sec.End})
				}
				slices.SortFunc(t.pool.Ranges, func(a, b postgres.Range) int { return a.First.Compare(b.First) })
				if len(t.pool.Ranges) > 0 {
					out = append(out, t)
				}
			}
		}
		s.camp.cfgM.Unlock()
	}
	if cs.eng6 != nil {
		v := s.v6
		v.cfgMu.Lock()
		if c := v.cfg; c != nil {
			for _, p := range c.Pools {
				if len(p.Ranges) > 0 {
					t := claimTarget{key: poolKey{v6: true, kind: lease6.IANA, name: p.Name}, pool: postgres.ClaimPool{Name: p.Name}}
					for _, r := range p.Ranges {
						t.pool.Ranges = append(t.pool.Ranges, postgres.Range{First: r.Start, Last: r.End})
					}
					slices.SortFunc(t.pool.Ranges, func(a, b postgres.Range) int { return a.First.Compare(b.First) })
					out = append(out, t)
				}
				if p.PD != nil {
					pre := p.PD.Prefix.Masked()
					out = append(out, claimTarget{key: poolKey{v6: true, kind: lease6.IAPD, name: p.Name},
						pool: postgres.ClaimPool{Name: p.Name, PrefixLen: uint8(p.PD.Length),
							Ranges: []postgres.Range{{First: pre.Addr(), Last: lastAddr(pre)}}}})
				}
			}
		}
		v.cfgMu.Unlock()
	}
	return out
}

// lastAddr is the last address of p.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// targetOf finds the target whose ranges hold a.
func targetOf(ts []claimTarget, a netip.Addr) (claimTarget, bool) {
	for _, t := range ts {
		for _, r := range t.pool.Ranges {
			if r.First.BitLen() == a.BitLen() && r.First.Compare(a) <= 0 && a.Compare(r.Last) <= 0 {
				return t, true
			}
		}
	}
	return claimTarget{}, false
}

// clusterSync gives every configured pool that has no claim set yet an
// empty one (no allocation before a block is claimed) and wakes the claim
// manager. Called by New and before a reload applies a configuration
// (Reload, Reload6), so a pool a reload adds never allocates outside
// claims.
func (s *Server) clusterSync() {
	s.clusterSyncTargets(s.clusterTargets())
}

func (s *Server) clusterSyncTargets(ts []claimTarget) {
	cs := s.cluster
	if cs == nil {
		return
	}
	cs.mu.Lock()
	for _, t := range ts {
		if _, ok := cs.pools[t.key]; !ok {
			cs.pools[t.key] = &poolClaimState{}
			s.applyClaimsLocked(t.key, time.Now())
		}
	}
	cs.mu.Unlock()
	cs.poke()
}

// clusterReload4 and clusterReload6 run before a reload hands the engine
// a configuration: its new pools get an empty claim set first.
func (s *Server) clusterReload4(cfg lease.Config) {
	if s.cluster == nil || s.cluster.eng4 == nil {
		return
	}
	var ts []claimTarget
	for _, p := range cfg.Pools {
		ts = append(ts, claimTarget{key: poolKey{name: p.Name}})
	}
	s.clusterSyncTargets(ts)
}

func (s *Server) clusterReload6(cfg lease6.Config) {
	if s.cluster == nil || s.cluster.eng6 == nil {
		return
	}
	var ts []claimTarget
	for _, p := range cfg.Pools {
		ts = append(ts, claimTarget{key: poolKey{v6: true, kind: lease6.IANA, name: p.Name}},
			claimTarget{key: poolKey{v6: true, kind: lease6.IAPD, name: p.Name}})
	}
	s.clusterSyncTargets(ts)
}

// poke wakes the claim manager (non-blocking).
func (cs *clusterState) poke() {
	select {
	case cs.wake <- struct{}{}:
	default:
	}
}

// applyClaimsLocked tells the engine the ranges of key's claims that are
// still before their deadline. cs.mu held.
func (s *Server) applyClaimsLocked(key poolKey, now time.Time) {
	cs := s.cluster
	var rs []lease.Range
	for _, h := range cs.held {
		if h.key == key && now.Before(h.deadline) && h.draining.IsZero() {
			rs = append(rs, lease.Range{First: h.c.First, Last: h.c.Last})
		}
	}
	if key.v6 {
		if cs.eng6 != nil {
			cs.eng6.SetClaims(key.name, key.kind, rs)
		}
		cs.claimsChanged()
		return
	}
	if cs.eng4 != nil {
		cs.eng4.SetClaims(key.name, rs)
	}
	cs.claimsChanged()
}

// adopt makes l (a database row) the engine's record.
func (cs *clusterState) adopt(l lease.Lease) {
	if l.IsV6() {
		if cs.eng6 != nil {
			// The row replaces the cached record whatever the seqs
			// (they are not comparable across servers).
			cs.eng6.Adopt(l)
		}
		return
	}
	if cs.eng4 != nil {
		cs.eng4.Adopt(l)
	}
}

// load reads the leases inside c and adopts them: before the engine may
// allocate from a claim it must know every lease in it.
func (cs *clusterState) load(ctx context.Context, c postgres.Claim) error {
	return cs.st.LeasesIn(ctx, c.First, c.Last, func(l lease.Lease) error {
		cs.adopt(l)
		return nil
	})
}

// opTimeout bounds one control-plane database call.
func (cs *clusterState) opTimeout() time.Duration {
	return max(cs.opts.Heartbeat, 2*time.Second)
}

// startCluster runs the first heartbeat and claim round (so the server
// has blocks before it answers) and then the loop, until stop is closed;
// the returned channel is closed when the loop has returned.
func (s *Server) startCluster(stop <-chan struct{}) <-chan struct{} {
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-stop
		cancel()
	}()
	s.clusterHeartbeat(ctx)
	s.clusterTopUp(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer cancel()
		var wg sync.WaitGroup
		wg.Go(func() { s.claimLoop(ctx) })
		s.clusterLoop(ctx)
		wg.Wait()
		// Stopped: the deadline timers end with the loop (the claims stay
		// in the database for a survivor to take over).
		cs := s.cluster
		cs.mu.Lock()
		for _, h := range cs.held {
			if h.timer != nil {
				h.timer.Stop()
			}
		}
		cs.mu.Unlock()
	}()
	return done
}

// clusterLoop: a heartbeat every Heartbeat (then a poke of the claim
// loop), until ctx ends.
func (s *Server) clusterLoop(ctx context.Context) {
	cs := s.cluster
	hb := time.NewTicker(cs.opts.Heartbeat)
	defer hb.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-hb.C:
			s.clusterHeartbeat(ctx)
			s.clusterRelease(ctx)
			s.clusterReservations(ctx)
			cs.poke()
		}
	}
}

// claimLoop: a free-address check (and the claims it needs) every Check
// or when poked, until ctx ends. It runs beside clusterLoop, so that a
// claim a parked DISCOVER waits for never waits for a heartbeat's round
// trips (extend, live set, dead servers, reservations) on a saturated
// core.
func (s *Server) claimLoop(ctx context.Context) {
	cs := s.cluster
	check := time.NewTicker(cs.opts.Check)
	defer check.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-check.C:
		case <-cs.wake:
		}
		s.clusterTopUp(ctx)
	}
}

// clusterHeartbeat extends this server's claims, drops those it could not
// extend in time, reads the live servers and takes over dead ones. The
// first failing step ends the round (the database is likely away); health
// reports the failure until a round succeeds.
func (s *Server) clusterHeartbeat(ctx context.Context) {
	cs := s.cluster
	if cs.st.Fenced() {
		// Another process holds this name's epoch: nothing this one
		// writes is accepted any more (health: cluster_fenced).
		s.dropAllClaims("this server was fenced (its epoch superseded)")
		cs.mu.Lock()
		cs.fenced = true
		cs.mu.Unlock()
		return
	}
	err := s.clusterHeartbeatSteps(ctx)
	now := time.Now()
	cs.mu.Lock()
	if err == nil {
		if !cs.hbFail.since.IsZero() {
			s.log.Info("cluster: heartbeat succeeds again", "failed", cs.hbFail.count, "since", cs.hbFail.since)
		}
		cs.hbFail = fault{}
		cs.mu.Unlock()
		return
	}
	if ctx.Err() != nil { // stopping
		cs.mu.Unlock()
		return
	}
	first := cs.hbFail.since.IsZero()
	cs.hbFail.note(now, err)
	if errors.Is(err, postgres.ErrFenced) {
		cs.fenced = true
	}
	cs.mu.Unlock()
	cs.hbFailures.Add(1)
	if first {
		s.log.Error("cluster: heartbeat failed", "err", err)
	} else {
		s.log.Debug("cluster: heartbeat failed", "err", err)
	}
}

func (s *Server) clusterHeartbeatSteps(ctx context.Context) error {
	cs := s.cluster
	ttl := cs.opts.TakeOverAfter
	// The deadline counts from before the request: the database's expiry
	// is at least that late.
	start := time.Now()
	deadline := start.Add(ttl - cs.opts.Heartbeat/2)
	octx, cancel := context.WithTimeout(ctx, cs.opTimeout())
	claims, err := cs.st.ExtendClaims(octx, ttl)
	cancel()
	if err != nil {
		if errors.Is(err, postgres.ErrFenced) {
			s.dropAllClaims("this server was fenced (its epoch superseded)")
		}
		return err
	}
	targets := s.clusterTargets()
	var unknown []postgres.Claim
	cs.mu.Lock()
	got := map[int64]bool{}
	for _, c := range claims {
		got[c.ID] = true
		if h, ok := cs.held[c.ID]; ok {
			h.c = c
			s.armDeadlineLocked(c.ID, h, deadline)
			continue
		}
		unknown = append(unknown, c)
	}
	for id, h := range cs.held {
		// Released, or taken by another server — unless claimed after
		// the extension started (claimLoop runs beside the heartbeat: the
		// UPDATE may not have seen it).
		if !got[id] && h.added.Before(start) {
			s.removeClaimLocked(id)
		}
	}
	cs.mu.Unlock()
	// Claims this server holds but did not know (handed over to it, or
	// claimed by a call whose answer was lost): load, then allocate.
	for _, c := range unknown {
		if err := s.addClaim(ctx, targets, c, deadline, false); err != nil {
			return err
		}
	}

	octx, cancel = context.WithTimeout(ctx, cs.opTimeout())
	servers, err := cs.st.Servers(octx, ttl)
	cancel()
	if err != nil {
		return err
	}
	live := []string{cs.st.ServerName()}
	// Orphans: not live, yet holding claims — counted dead but not taken
	// over (the take-over below may block or fail: both servers stalled by
	// a slow database count each other dead, and one of them wins). Their
	// clients now hash to the live servers, which have not loaded their
	// leases: a DISCOVER of theirs is read through (servedElsewhere), so
	// the client is offered its current binding (RFC 2131 §4.3.1), not a
	// second address.
	var orphans []string
	for _, si := range servers {
		if si.Name == cs.st.ServerName() {
			continue
		}
		switch {
		case si.State == postgres.ServerLive:
			live = append(live, si.Name)
		case si.Blocks > 0:
			orphans = append(orphans, si.Name)
		}
	}
	slices.Sort(live)
	slices.Sort(orphans)
	cs.mu.Lock()
	changed := !slices.Equal(live, cs.live) || !slices.Equal(orphans, cs.orphans)
	cs.live, cs.orphans = live, orphans
	cs.mu.Unlock()
	if changed {
		s.log.Info("cluster: live servers", "servers", live, "orphans", orphans)
		s.publishLive(live, orphans)
	}

	octx, cancel = context.WithTimeout(ctx, cs.opTimeout())
	dead, err := cs.st.DeadServers(octx, ttl)
	cancel()
	if err != nil {
		return err
	}
	blocks := map[string]int{}
	for _, si := range servers {
		blocks[si.Name] = si.Blocks
	}
	held, why := s.takeOversHeld(time.Now())
	for _, d := range dead {
		// A dead server without claims needs no take-over (its clients'
		// renewals reach any server); taking it over at every heartbeat
		// would only raise its epoch again and again.
		if b, ok := blocks[d]; ok && b == 0 {
			continue
		}
		if held {
			// Its clients are served meanwhile: it is an orphan, whose
			// clients' DISCOVERs and Solicits are read through.
			if cs.heldLogged.CompareAndSwap(false, true) {
				s.log.Warn("cluster: not taking over a server counted dead: "+why, "dead", d)
			}
			continue
		}
		if err := s.takeOver(ctx, targets, d); err != nil {
			return err
		}
	}
	return nil
}

// takeOversHeld reports whether this server must not take others over
// now, and why. A slow database — a fail-over to a promoted standby, a
// saturated machine — stalls every server's heartbeat at once; when it
// recovers, the first server to run its heartbeat round sees the others
// as late as it was itself and, taking one over, fences a healthy server
// (docs/cluster.md "Both servers stalled"). So a server takes nobody over
// while its own heartbeat is stalled (more than two periods since the
// database last accepted it), nor until the others had a heartbeat
// period and an operation's timeout to refresh theirs after its own
// resumed. A server that really died stays silent past that and is taken
// over then: the take-over comes at most Heartbeat + opTimeout later, and
// only after this server's own stall.
func (s *Server) takeOversHeld(now time.Time) (bool, string) {
	cs := s.cluster
	last, resumed := cs.st.HeartbeatStall()
	switch {
	case now.Sub(last) > 2*cs.opts.Heartbeat:
		return true, "this server's own heartbeat is stalled (the database is slow or away: others may only look dead)"
	case !resumed.IsZero() && now.Sub(resumed) < cs.opts.Heartbeat+cs.opTimeout():
		return true, "this server's own heartbeat resumed only now after a stall: the others get a heartbeat period to refresh theirs"
	}
	cs.heldLogged.Store(false)
	return false, ""
}

// takeOver moves the claims of dead server d to this one (two survivors
// racing: the store lets one win, the other gets ErrNotDead or nothing)
// and loads their leases before allocating from them.
func (s *Server) takeOver(ctx context.Context, targets []claimTarget, d string) error {
	cs := s.cluster
	ttl := cs.opts.TakeOverAfter
	deadline := time.Now().Add(ttl - cs.opts.Heartbeat/2)
	octx, cancel := context.WithTimeout(ctx, cs.opTimeout())
	moved, err := cs.st.TakeOver(octx, d, ttl, ttl)
	cancel()
	if errors.Is(err, postgres.ErrNotDead) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(moved) == 0 {
		return nil // another survivor was first
	}
	cs.takeOvers.Add(1)
	s.log.Warn("cluster: took over a dead server", "server", d, "claims", len(moved))
	for _, c := range moved {
		if err := s.addClaim(ctx, targets, c, deadline, false); err != nil {
			return err
		}
	}
	return nil
}

// addClaim loads the leases of c (unless loaded: the claim read them),
// then lets the engine allocate from it. A claim of no configured pool is
// released.
func (s *Server) addClaim(ctx context.Context, targets []claimTarget, c postgres.Claim, deadline time.Time, loaded bool) error {
	cs := s.cluster
	t, ok := targetOf(targets, c.First)
	if !ok {
		octx, cancel := context.WithTimeout(ctx, cs.opTimeout())
		defer cancel()
		s.log.Info("cluster: releasing a claim of no configured pool", "pool", c.Pool, "first", c.First, "last", c.Last)
		if err := cs.st.ReleaseClaim(octx, c.ID); err != nil {
			s.log.Warn("cluster: release claim", "err", err)
		}
		return nil
	}
	if !loaded {
		octx, cancel := context.WithTimeout(ctx, cs.opTimeout())
		err := cs.load(octx, c)
		cancel()
		if err != nil {
			return fmt.Errorf("load the leases of claim %s-%s: %w", c.First, c.Last, err)
		}
	}
	cs.mu.Lock()
	if old, ok := cs.held[c.ID]; ok && old.timer != nil {
		old.timer.Stop()
	}
	h := &heldClaim{c: c, key: t.key, added: time.Now()}
	cs.held[c.ID] = h
	s.armDeadlineLocked(c.ID, h, deadline)
	if _, ok := cs.pools[t.key]; !ok {
		cs.pools[t.key] = &poolClaimState{}
	}
	s.applyClaimsLocked(t.key, time.Now())
	cs.mu.Unlock()
	return nil
}

// dropAllClaims stops allocating from every claim.
func (s *Server) dropAllClaims(why string) {
	cs := s.cluster
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if len(cs.held) == 0 {
		return
	}
	keys := map[poolKey]bool{}
	for id, h := range cs.held {
		keys[h.key] = true
		if h.timer != nil {
			h.timer.Stop()
		}
		delete(cs.held, id)
	}
	for k := range keys {
		s.applyClaimsLocked(k, time.Now())
	}
	s.log.Error("cluster: no longer allocating from any claim", "reason", why)
}

// freeIn asks the engine how many addresses of key's claims are free.
func (cs *clusterState) freeIn(key poolKey) int {
	if key.v6 {
		if cs.eng6 == nil {
			return 0
		}
		n, _ := cs.eng6.FreeInClaims(key.name, key.kind, 1<<20)
		return n
	}
	if cs.eng4 == nil {
		return 0
	}
	n, _ := cs.eng4.FreeInClaims(key.name)
	return n
}

// rateWindow: a pool keeps at least the addresses its recent allocation
// rate uses up in this long free in its claims (more than LowWater when
// clients arrive faster than a check and a claim take), up to a quarter
// of its share of the pool among the live servers.
const rateWindow = time.Second

// clusterTopUp claims blocks for every pool whose claims have fewer free
// addresses than LowWater, or than its recent allocation rate uses in
// rateWindow. A pool with nothing left to claim is retried after a
// heartbeat; the warning is logged at most once a minute per pool.
func (s *Server) clusterTopUp(ctx context.Context) {
	cs := s.cluster
	if cs.st.Fenced() {
		return
	}
	targets := s.clusterTargets()
	budget4 := int64(1) << 40
	for _, t := range targets {
		for range maxClaimsPerRound {
			free := cs.freeIn(t.key)
			waiting := cs.waitingFor(t.key)
			now := time.Now()
			cs.mu.Lock()
			ps := cs.pools[t.key]
			if ps == nil {
				ps = &poolClaimState{}
				cs.pools[t.key] = ps
				s.applyClaimsLocked(t.key, now)
			}
			if ps.lastAlloc.IsZero() || (!ps.checked.IsZero() && free < ps.free) {
				ps.lastAlloc = now // allocation (or an offer): not idle
			}
			// The rate is sampled at most every rateSample (a check woken
			// by a waiting message or the low-water budget may come
			// milliseconds after the last); messages that waited for a
			// claim count as the demand the free count could not show.
			if dt := now.Sub(ps.checked); ps.checked.IsZero() || dt >= rateSample {
				if !ps.checked.IsZero() {
					used := float64(max(ps.free-free, 0) + ps.demand)
					ps.rate = 0.7*ps.rate + 0.3*used/dt.Seconds()
				}
				ps.free, ps.checked, ps.demand = free, now, 0
			}
			// The rate's mark is capped at a quarter of the pool's share
			// among the live servers: a burst on one server must not
			// claim the pool away from the others.
			share := poolUnits(t.pool) / int64(4*max(1, len(cs.live)))
			low := max(cs.opts.LowWater, int(min(int64(ps.rate*rateWindow.Seconds())+1, share)))
			// Claim further ahead when claims are slow (a saturated core):
			// what stays free must last until the next claim has returned
			// — twice a claim's recent latency, plus a check.
			lead := 2*cs.claimLat + cs.opts.Check.Seconds()
			low = max(low, int(min(int64(ps.rate*lead)+1, share)))
			// Claim ahead while the pool keeps running dry (claimwait.go):
			// keep half of the last grown block free.
			dry := !ps.dry.IsZero() && now.Sub(ps.dry) < dryWindow
			if dry {
				low = max(low, int(min(int64(ps.grow/2), share)))
			} else {
				ps.grow = 0
			}
			ps.low = float64(low)
			wait := !ps.exhausted.IsZero() && now.Sub(ps.exhausted) < cs.opts.Heartbeat
			size := 0
			if free < low && !wait {
				size = cs.blockSizeLocked(t, ps.rate)
				if dry {
					ps.grow = cs.claimAheadLocked(t, ps.grow)
					size = max(size, ps.grow)
					// One claim for the messages waiting now and those
					// arriving while it is under way (same caps).
					need := int64(waiting) + int64(ps.rate*2*cs.claimLat) + 1
					limit := min(int64(maxBlockFactor*cs.opts.BlockSize), share)
					size = max(size, int(min(need, limit)))
				}
			}
			cs.mu.Unlock()
			if !t.key.v6 {
				// The low-water mark is crossed after free-low+1 more
				// offers: decide4 counts them down and wakes the manager
				// then (noteOffer), not at the next check.
				budget4 = min(budget4, int64(max(free-low+1, 1)))
			}
			if size == 0 || ctx.Err() != nil {
				break
			}
			if !s.claimOne(ctx, t, size) {
				break
			}
		}
	}
	cs.budget4.Store(budget4)
}

// noteOffer4 counts an OFFER down from the low-water budget (decide4, cluster
// mode) and wakes the claim manager when a pool reaches its low-water
// mark, so that the next block is claimed before the claims run dry.
func (cs *clusterState) noteOffer4() {
	if cs.budget4.Add(-1) == 0 {
		cs.poke()
	}
}

// rateSample is the shortest interval over which a pool's allocation
// rate is sampled.
const rateSample = 100 * time.Millisecond

// Claim ahead (cold claims, claimwait.go): while a pool keeps running dry
// — a client message found no free address in its claims less than
// dryWindow ago — each block claimed is twice the one before (from
// 2 × BlockSize), up to maxBlockFactor × BlockSize and a quarter of the
// pool's share among the live servers (the fairness cap of blockSize: a
// burst on one server must not claim the pool away from the others), and
// the low-water mark is half the last block. A server started into a
// full load (or every client back after a power cut) reaches blocks of
// 64 × BlockSize after six claims instead of waiting for the allocation
// rate's moving average.
const dryWindow = 2 * time.Second

// claimAheadLocked is the next block size of t while it runs dry, after a
// block of last (0: none yet). cs.mu held.
func (cs *clusterState) claimAheadLocked(t claimTarget, last int) int {
	size := cs.opts.BlockSize
	limit := min(int64(maxBlockFactor*size), poolUnits(t.pool)/int64(4*max(1, len(cs.live))))
	return int(max(int64(size), min(int64(max(2*last, 2*size)), limit)))
}

// Adaptive block size: a pool whose clients arrive faster than blocks of
// BlockSize can be claimed gets blocks of what its allocation rate uses in
// blockWindow, at most maxBlockFactor × BlockSize and at most a quarter
// of the pool's share among the live servers (a burst on one server must
// not claim the pool away from the others).
const (
	blockWindow    = 10 * time.Second
	maxBlockFactor = 64
)

// blockSize is the size of the next block of t at allocation rate rate
// (addresses per second).
func (s *Server) blockSize(t claimTarget, rate float64) int {
	cs := s.cluster
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return cs.blockSizeLocked(t, rate)
}

// blockSizeLocked is blockSize with cs.mu held.
func (cs *clusterState) blockSizeLocked(t claimTarget, rate float64) int {
	size := cs.opts.BlockSize
	want := int(min(rate*blockWindow.Seconds(), float64(maxBlockFactor*size)))
	if want <= size {
		return size
	}
	share := poolUnits(t.pool) / int64(4*max(1, len(cs.live)))
	return int(max(int64(size), min(int64(want), share)))
}

// poolUnits is how many addresses (prefixes) p's ranges hold, saturated
// at 2^40.
func poolUnits(p postgres.ClaimPool) int64 {
	const limit = int64(1) << 40
	var n int64
	for _, r := range p.Ranges {
		lo, hi := new(big.Int).SetBytes(r.First.AsSlice()), new(big.Int).SetBytes(r.Last.AsSlice())
		d := hi.Sub(hi, lo)
		if p.PrefixLen > 0 {
			d.Rsh(d, uint(r.First.BitLen()-int(p.PrefixLen)))
		}
		if !d.IsInt64() || d.Int64() >= limit-n {
			return limit
		}
		n += d.Int64() + 1
	}
	return n
}

// claimOne claims one block of t and allocates from it; false when none
// could be claimed.
func (s *Server) claimOne(ctx context.Context, t claimTarget, size int) bool {
	cs := s.cluster
	ttl := cs.opts.TakeOverAfter
	deadline := time.Now().Add(ttl - cs.opts.Heartbeat/2)
	octx, cancel := context.WithTimeout(ctx, cs.opTimeout())
	// One round trip on the store's claim connection: the claim and the
	// read of the block's leases (adopted before the engine may allocate
	// from the block).
	start := time.Now()
	c, err := cs.st.ClaimBlockLoad(octx, t.pool, size, ttl, func(l lease.Lease) error {
		cs.adopt(l)
		return nil
	})
	cancel()
	if err == nil {
		cs.noteClaimLatency(time.Since(start))
		err = s.addClaim(ctx, []claimTarget{t}, c, deadline, true)
	}
	free := -1
	if err == nil {
		free = cs.freeIn(t.key)
	}
	now := time.Now()
	cs.mu.Lock()
	ps := cs.pools[t.key]
	if err == nil {
		ps.exhausted = time.Time{}
		ps.free = free     // the rate counts allocations, not this claim
		ps.lastAlloc = now // a claim is demand: not idle
		cs.mu.Unlock()
		cs.claimed.Add(1)
		s.log.Info("cluster: claimed a block", "pool", t.key.name, "family", t.key.family(), "kind", t.key.kindLabel(),
			"first", c.First, "last", c.Last, "size", size)
		return true
	}
	// Messages waiting for a claim of this pool are dropped now rather
	// than at their deadline (claimable: not for a heartbeat).
	defer cs.claimsChanged()
	switch {
	case errors.Is(err, postgres.ErrNoFreeBlock):
		ps.exhausted = now
		ps.exhaustN++
		logIt := now.Sub(ps.logged) >= time.Minute
		if logIt {
			ps.logged = now
		}
		cs.mu.Unlock()
		if logIt {
			s.log.Warn("cluster: pool exhausted for this server: every block is claimed (new clients get no address from it here)",
				"pool", t.key.name, "family", t.key.family(), "kind", t.key.kindLabel())
		}
	default:
		ps.errN++
		ps.exhausted = now // retried after a heartbeat, not at every check
		logIt := now.Sub(ps.logged) >= time.Minute
		if logIt {
			ps.logged = now
		}
		cs.mu.Unlock()
		if logIt && ctx.Err() == nil {
			s.log.Warn("cluster: could not claim a block (retried every heartbeat, logged once a minute)",
				"pool", t.key.name, "family", t.key.family(), "kind", t.key.kindLabel(), "err", err)
		}
	}
	return false
}

// releaseDrain is how long a claim taken out of the engine stays in the
// database (extended) before ReleaseClaim: a client offered an address of
// it just before (DISCOVER) can still commit its REQUEST there. A later
// REQUEST is refused by the conditional write (not owner) and NAKed —
// a retry, never a duplicate.
func (cs *clusterState) releaseDrain() time.Duration {
	return max(cs.opts.Heartbeat, 2*time.Second)
}

// clusterRelease gives back what idle pools do not need (issue #12,
// docs/cluster.md "Return"): each heartbeat it releases the claims whose
// drain ended, then, for every pool that allocated nothing for
// IdleRelease, takes out of the engine every claim (highest first) whose
// removal leaves at least the pool's low-water mark free — SetClaims
// without it first, so nothing new is allocated from it, ReleaseClaim
// after releaseDrain. A claim whose removal would leave too little free
// goes back at once. A pool is examined once per IdleRelease.
func (s *Server) clusterRelease(ctx context.Context) {
	cs := s.cluster
	if cs.opts.IdleRelease < 0 || cs.st.Fenced() || ctx.Err() != nil {
		return
	}
	now := time.Now()
	cs.mu.Lock()
	var due []int64
	for id, h := range cs.held {
		if !h.draining.IsZero() && now.Sub(h.draining) >= cs.releaseDrain() {
			due = append(due, id)
		}
	}
	cs.mu.Unlock()
	slices.Sort(due)
	for _, id := range due {
		octx, cancel := context.WithTimeout(ctx, cs.opTimeout())
		err := cs.st.ReleaseClaim(octx, id)
		cancel()
		if err != nil {
			// Retried at the next heartbeat; a claim no longer ours
			// leaves with the next ExtendClaims.
			s.log.Warn("cluster: release an idle claim", "id", id, "err", err)
			return
		}
		cs.mu.Lock()
		if h, ok := cs.held[id]; ok {
			if ps := cs.pools[h.key]; ps != nil {
				ps.released++
			}
			s.removeClaimLocked(id)
			s.log.Info("cluster: released an idle claim", "pool", h.key.name, "family", h.key.family(), "kind", h.key.kindLabel(),
				"first", h.c.First, "last", h.c.Last)
		}
		cs.mu.Unlock()
	}

	type cand struct {
		id    int64
		first netip.Addr
	}
	cs.mu.Lock()
	byKey := map[poolKey][]cand{}
	for k, ps := range cs.pools {
		if ps.lastAlloc.IsZero() || now.Sub(ps.lastAlloc) < cs.opts.IdleRelease {
			continue
		}
		ps.lastAlloc = now // examined: again after another idle period
		for id, h := range cs.held {
			if h.key == k && h.draining.IsZero() && now.Before(h.deadline) {
				byKey[k] = append(byKey[k], cand{id, h.c.First})
			}
		}
	}
	cs.mu.Unlock()
	for k, cands := range byKey {
		slices.SortFunc(cands, func(a, b cand) int { return b.first.Compare(a.first) })
		for _, c := range cands {
			cs.mu.Lock()
			h, ok := cs.held[c.id]
			ps := cs.pools[k]
			if !ok || ps == nil {
				cs.mu.Unlock()
				continue
			}
			h.draining = now
			s.applyClaimsLocked(k, now)
			cs.mu.Unlock()
			free := cs.freeIn(k)
			cs.mu.Lock()
			if float64(free) < max(ps.low, float64(cs.opts.LowWater)) {
				h.draining = time.Time{} // needed: back at once
				s.applyClaimsLocked(k, time.Now())
				free = -1
			} else {
				ps.free = free // a release is not an allocation
			}
			cs.mu.Unlock()
			if free >= 0 {
				s.log.Info("cluster: pool idle; returning a claim it does not need", "pool", k.name, "family", k.family(),
					"kind", k.kindLabel(), "first", h.c.First, "last", h.c.Last, "free_left", free)
			}
		}
	}
}

// clusterHealth adds the control plane's reasons: heartbeats failing
// (degraded: the database is unreachable or failing; nothing is ACKed
// that was not committed, and claims stop being allocated from at their
// expiry) and fencing (failing: another process holds this name).
func (s *Server) clusterHealth(add func(code string, since time.Time, format string, a ...any)) {
	cs := s.cluster
	if cs == nil {
		return
	}
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.fenced || cs.st.Fenced() {
		add(reasonClusterFenced, cs.hbFail.since, "another leased registered server_name %q with a newer epoch (or took this server over): this one commits nothing; stop it",
			cs.st.ServerName())
	}
	if f := cs.hbFail; !f.since.IsZero() {
		add(reasonClusterHeartbeat, f.since, "the last %d cluster heartbeats failed (the last at %s): %s; the database is unreachable or failing: no lease is acknowledged unless committed, claims not extended stop being allocated from",
			f.count, stamp(f.last), f.err)
	}
}

// ClusterLive returns the sorted names of the live servers of the
// cluster as of the last heartbeat, this server included (nil without
// cluster mode).
func (s *Server) ClusterLive() []string {
	cs := s.cluster
	if cs == nil {
		return nil
	}
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return slices.Clone(cs.live)
}

// clusterCollector reports the control plane at scrape time: claims held
// and free addresses in them per pool (every configured pool from 0),
// blocks claimed, take-overs and heartbeat failures.
type clusterCollector struct{ s *Server }

var (
	descClusterClaims = prometheus.NewDesc("leased_cluster_claims",
		"Address blocks (claims) this server holds in a pool and allocates new clients from.", poolLabels, nil)
	descClusterFree = prometheus.NewDesc("leased_cluster_claim_free",
		"Free addresses (kind=prefixes: delegable prefixes) in this server's claims of a pool at the last check; a new block is claimed below cluster.block_size/4.", poolLabels, nil)
	descClusterClaimFailures = prometheus.NewDesc("leased_cluster_claim_failures_total",
		"Blocks this server could not claim, by pool and reason (exhausted: every block of the pool is claimed; error: the database failed).",
		append(slices.Clone(poolLabels), "reason"), nil)
	descClusterReleased = prometheus.NewDesc("leased_cluster_claims_released_total",
		"Claims of a pool this server gave back after the pool allocated nothing for cluster.idle_release.", poolLabels, nil)
	descClusterClaimed = prometheus.NewDesc("leased_cluster_blocks_claimed_total",
		"Address blocks this server claimed.", nil, nil)
	descClusterTakeOvers = prometheus.NewDesc("leased_cluster_takeovers_total",
		"Dead servers whose claims this server took over.", nil, nil)
	descClusterHBFailures = prometheus.NewDesc("leased_cluster_heartbeat_failures_total",
		"Cluster heartbeats (claim extension, live set, dead servers) that failed.", nil, nil)
)

func (c *clusterCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descClusterClaims, descClusterFree, descClusterClaimFailures, descClusterReleased,
		descClusterClaimed, descClusterTakeOvers, descClusterHBFailures} {
		ch <- d
	}
}

func (c *clusterCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.s
	cs := s.cluster
	targets := s.clusterTargets()
	cs.mu.Lock()
	for _, t := range targets {
		k := t.key
		n := 0
		for _, h := range cs.held {
			if h.key == k {
				n++
			}
		}
		var ps poolClaimState
		if p := cs.pools[k]; p != nil {
			ps = *p
		}
		labels := []string{k.family(), k.name, k.kindLabel()}
		ch <- prometheus.MustNewConstMetric(descClusterClaims, prometheus.GaugeValue, float64(n), labels...)
		ch <- prometheus.MustNewConstMetric(descClusterFree, prometheus.GaugeValue, float64(ps.free), labels...)
		ch <- prometheus.MustNewConstMetric(descClusterClaimFailures, prometheus.CounterValue, float64(ps.exhaustN), append(labels, "exhausted")...)
		ch <- prometheus.MustNewConstMetric(descClusterClaimFailures, prometheus.CounterValue, float64(ps.errN), append(labels, "error")...)
		ch <- prometheus.MustNewConstMetric(descClusterReleased, prometheus.CounterValue, float64(ps.released), labels...)
	}
	cs.mu.Unlock()
	ch <- prometheus.MustNewConstMetric(descClusterClaimed, prometheus.CounterValue, float64(cs.claimed.Load()))
	ch <- prometheus.MustNewConstMetric(descClusterTakeOvers, prometheus.CounterValue, float64(cs.takeOvers.Load()))
	ch <- prometheus.MustNewConstMetric(descClusterHBFailures, prometheus.CounterValue, float64(cs.hbFailures.Load()))
}

// publishLive hands the live set and the orphans to the RFC 3074 filter
// (balance.go).
func (s *Server) publishLive(names, orphans []string) {
	s.setLiveServersOrphans(names, orphans)
}
