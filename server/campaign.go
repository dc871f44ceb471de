package server

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"iter"
	"net/netip"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/leased/leased/dhcpv4"
	"github.com/leased/leased/lease"
	"github.com/leased/leased/reconf"
	"github.com/leased/leased/store"
)

// CampaignConfig is the server's reconfiguration campaign configuration.
type CampaignConfig struct {
	// Resume running campaigns after a restart; false marks them halted
	// (their pending clients aborted) at start.
	Resume bool
	// Pools holds per-pool campaign defaults and the reload trigger.
	Pools map[string]PoolCampaign
	// Defaults4 and Defaults6 are the global campaign defaults of each
	// family (config dhcpv4.forcerenew, dhcpv6.reconfigure). A pool's
	// options come from, in order of precedence: what the operator's
	// command gave explicitly (Options.Given), the pool's Override, the
	// family's Defaults, and reconf's family defaults.
	Defaults4, Defaults6 reconf.Override
	// Retention is how long a finished campaign is remembered after it
	// ended (0: DefaultCampaignRetention); Keep the most finished
	// campaigns remembered (0: DefaultCampaignKeep). Older ones are
	// pruned from memory and the store.
	Retention time.Duration
	Keep      int
}

// Defaults of CampaignConfig.Retention and Keep.
const (
	DefaultCampaignRetention = 7 * 24 * time.Hour
	DefaultCampaignKeep      = 100
)

// PoolCampaign is one pool's campaign settings.
type PoolCampaign struct {
	// Override replaces the campaign options it sets for this pool's
	// clients (attempts, interval, pace, on-failure, force-NAK), unless
	// the campaign request carries its own override for the pool.
	Override reconf.Override
	// OnChange starts a campaign when a reload changes the pool's options
	// (all its bound leases) or sections (the leases whose address is no
	// longer in a section).
	OnChange bool
	// V6: a DHCPv6 pool (its global defaults are Defaults6).
	V6 bool
}

const (
	// campaignIdle bounds the campaign loop's sleep when nothing is due.
	campaignIdle = 30 * time.Second
	// campaignWorkers bounds the FORCERENEW sends (each a commit of the
	// replay counter, then a send) in flight at once, so group commit
	// shares fsyncs without a goroutine per client.
	campaignWorkers = 64
	// maxRecordRetry bounds campaign records kept for a retry after a
	// failed commit.
	maxRecordRetry = 1 << 20
)

// campaignState is the server's part of campaign handling.
type campaignState struct {
	mgr  *reconf.Manager
	cfg  CampaignConfig
	cfgM sync.Mutex

	leaseCfg *lease.Config // the engine's configuration, for reload diffs (under cfgM)

	recMu    sync.Mutex // serialises draining and committing records
	recRetry []reconf.Record
	recBuf   []reconf.Record // flushRecords' scratch (under recMu)
	blobBuf  []store.Blob
	// idMark is the highest ID of a campaign forgotten (deleted or
	// pruned), persisted as the idMarkKey blob so that IDs are never
	// reused, even after a compaction dropped every record of it.
	idMark uint32

	activeMu sync.Mutex  // serialises writers of active
	active   atomic.Bool // a campaign is running: observe client messages
	kick     chan struct{}

	// cl is the cluster part (campaign_cluster.go); nil for a single
	// server.
	cl *campaignCluster

	// sender batches campaign FORCERENEWs (forcerenew.go: campaignSender).
	senderOnce sync.Once
	sender     *replyBatcher
	senderErr  error
}

// initCampaigns creates the manager and restores persisted campaigns.
func (s *Server) initCampaigns(opts *Options) error {
	c := &s.camp
	c.mgr = reconf.NewManager()
	c.kick = make(chan struct{}, 1)
	c.cfg = opts.Campaigns
	if opts.Config != nil {
		lc := *opts.Config
		c.leaseCfg = &lc
	}
	var recs []reconf.Record
	headers := map[uint32]bool{}
	bad := 0
	maxID := uint32(0)
	err := s.st.LoadBlobs(func(b store.Blob) error {
		if s.noteBlob6(b) {
			return nil
		}
		if b.Kind != store.BlobReconf {
			return nil
		}
		if bytes.Equal(b.Key, idMarkKey) && len(b.Value) == 4 {
			c.idMark = binary.BigEndian.Uint32(b.Value)
			maxID = max(maxID, c.idMark)
			return nil
		}
		var r reconf.Record
		if err := r.UnmarshalBinary(b.Value); err != nil {
			bad++
			return nil
		}
		if id, addr, _ := r.Key(); !addr.IsValid() {
			headers[id] = true
		}
		maxID = max(maxID, r.Campaign())
		recs = append(recs, r)
		return nil
	})
	if err != nil {
		return fmt.Errorf("server: load campaigns: %w", err)
	}
	// A forgotten campaign leaves client records without their header
	// until the next compaction: they are gone, not inconsistent.
	recs = slices.DeleteFunc(recs, func(r reconf.Record) bool { return !headers[r.Campaign()] })
	if bad > 0 {
		s.log.Error("campaign records that do not decode were skipped", "records", bad)
	}
	// Client records of a deleted campaign stay in the store until the
	// next compaction: a new campaign must not take its ID.
	c.mgr.ReserveIDs(maxID)
	// In a cluster a campaign is restored by the server that takes its
	// leadership (campaign_cluster.go), whatever Resume says.
	cluster := s.initCampaignCluster(opts, recs, maxID)
	if len(recs) > 0 && !cluster {
		if err := c.mgr.Restore(recs, s.now(), c.cfg.Resume); err != nil {
			s.log.Warn("campaign restore", "err", err)
		}
		for _, st := range c.mgr.List() {
			s.log.Info("campaign restored", "id", st.ID, "state", st.State.String(), "selector", st.Selector.String(),
				"clients", st.Clients, "pending", st.Counts.Pending, "resume", c.cfg.Resume)
		}
		s.pruneCampaigns(s.now())
		if err := s.flushRecords(context.Background()); err != nil {
			s.log.Error("campaign restore records not persisted", "err", err)
		}
	}
	s.updateActive()
	s.reg.MustRegister(&campaignCollector{
		mgr: c.mgr,
		outcomes: prometheus.NewDesc("leased_campaign_outcomes_total",
			"Clients of reconfiguration campaigns by outcome (every campaign the server knows).", []string{"outcome"}, nil),
		pending: prometheus.NewDesc("leased_campaign_pending",
			"Clients of running campaigns still waiting for an outcome.", nil, nil),
		running: prometheus.NewDesc("leased_campaigns_running",
			"Reconfiguration campaigns running.", nil, nil),
	})
	return nil
}

// campaignCollector reports campaign metrics from the manager at scrape
// time, so they are consistent with the API and survive a restart.
type campaignCollector struct {
	mgr                        *reconf.Manager
	outcomes, pending, running *prometheus.Desc
}

func (cc *campaignCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- cc.outcomes
	ch <- cc.pending
	ch <- cc.running
}

func (cc *campaignCollector) Collect(ch chan<- prometheus.Metric) {
	var sum [reconf.NumOutcomes]int // per outcome, over every campaign
	running, pending := 0, 0
	for _, st := range cc.mgr.List() {
		for _, o := range reconf.Outcomes() {
			sum[o] += st.Counts.Get(o)
		}
		if st.State == reconf.Running {
			running++
			pending += st.Counts.Pending
		}
	}
	for _, o := range reconf.Outcomes() {
		if o == reconf.Pending {
			continue
		}
		ch <- prometheus.MustNewConstMetric(cc.outcomes, prometheus.CounterValue, float64(sum[o]), o.String())
	}
	ch <- prometheus.MustNewConstMetric(cc.pending, prometheus.GaugeValue, float64(pending))
	ch <- prometheus.MustNewConstMetric(cc.running, prometheus.GaugeValue, float64(running))
}

// recordBlob is the store form of a campaign record: key = campaign id
// (header) or campaign id + address (client), value = its encoding. A
// forget record deletes the header; its clients' records are dropped at
// the next restore or compaction.
func recordBlob(r *reconf.Record) (store.Blob, error) {
	b, _, err := encodeRecordBlob(make([]byte, 0, 64), r) // grown when it needs more
	return b, err
}

// blobChunk is the size of the byte chunks flushRecords encodes a batch of
// campaign records into (their keys and values share them: one allocation
// per ~200 records instead of two per record).
const blobChunk = 16 << 10

// appendRecordBlob is recordBlob encoding the key and value into arena
// (a new chunk when it has little room left) and returning the arena
// grown. The blob's slices are capped at their length and arena is never
// written below its length again, so each blob owns its bytes (a store
// may keep them).
func appendRecordBlob(arena []byte, r *reconf.Record) (store.Blob, []byte, error) {
	if cap(arena)-len(arena) < 128 {
		arena = make([]byte, 0, blobChunk)
	}
	return encodeRecordBlob(arena, r)
}

// encodeRecordBlob appends r's key and value to buf and returns the blob
// (its slices capped at their length) and buf grown.
func encodeRecordBlob(arena []byte, r *reconf.Record) (store.Blob, []byte, error) {
	id, addr, forget := r.Key()
	k0 := len(arena)
	arena = binary.BigEndian.AppendUint32(arena, id)
	switch {
	case addr.Is4():
		a := addr.As4()
		arena = append(arena, a[:]...)
	case addr.IsValid():
		a := addr.As16() // a DHCPv6 client: a longer key, no clash
		arena = append(arena, a[:]...)
	}
	key := arena[k0:len(arena):len(arena)]
	if forget {
		return store.Blob{Kind: store.BlobReconf, Key: key}, arena, nil
	}
	v0 := len(arena)
	// When the value outgrows the chunk, append moves on to a new array:
	// key stays valid in the old one.
	arena, err := r.AppendBinary(arena)
	if err != nil {
		return store.Blob{}, arena[:v0], err
	}
	return store.Blob{Kind: store.BlobReconf, Key: key, Value: arena[v0:len(arena):len(arena)]}, arena, nil
}

// idMarkKey is the key of the campaign ID high-water mark blob (campaign
// ID 0, never used by a campaign).
var idMarkKey = []byte{0, 0, 0, 0}

func (c *campaignState) idMarkBlob() store.Blob {
	return store.Blob{Kind: store.BlobReconf, Key: idMarkKey, Value: binary.BigEndian.AppendUint32(nil, c.idMark)}
}

// flushRecords makes the manager's new records durable. Records of a
// failed commit are kept and retried with the next flush.
func (s *Server) flushRecords(ctx context.Context) error {
	c := &s.camp
	c.recMu.Lock()
	defer c.recMu.Unlock()
	// recBuf and blobBuf are reused from flush to flush (a campaign
	// flushes at every tick); the blobs' bytes are not (appendRecordBlob).
	recs := c.mgr.AppendRecords(append(c.recBuf[:0], c.recRetry...))
	c.recRetry = nil
	defer func() {
		clear(recs) // no references to headers and keys kept
		c.recBuf = recs[:0]
		if cap(recs) > keepFlushCap {
			c.recBuf = nil // a campaign's start: not kept
		}
	}()
	if len(recs) == 0 {
		return nil
	}
	blobs := slices.Grow(c.blobBuf[:0], len(recs)+1)
	defer func() {
		clear(blobs)
		c.blobBuf = blobs[:0]
		if cap(blobs) > keepFlushCap {
			c.blobBuf = nil
		}
	}()
	forgot := false
	var arena []byte
	for i := range recs {
		b, a, err := appendRecordBlob(arena, &recs[i])
		arena = a
		if err != nil {
			s.log.Error("campaign record does not encode; dropped", "campaign", recs[i].Campaign(), "err", err)
			continue
		}
		blobs = append(blobs, b)
		if id, _, forget := recs[i].Key(); forget {
			c.idMark, forgot = max(c.idMark, id), true
		}
	}
	if forgot {
		blobs = append(blobs, c.idMarkBlob())
	}
	if err := s.persistCampaignBlobs(ctx, blobs); err != nil {
		if len(recs) <= maxRecordRetry {
			c.recRetry = slices.Clone(recs)
		}
		return err
	}
	return nil
}

// keepFlushCap bounds the slices flushRecords keeps for the next flush.
const keepFlushCap = 1 << 14

// campaignBlobs yields the whole campaign state for a compaction. Records
// drained but not yet committed are covered by the snapshot taken here,
// under the same lock, so they are discarded.
func (s *Server) campaignBlobs() iter.Seq[store.Blob] {
	return func(yield func(store.Blob) bool) {
		c := &s.camp
		c.recMu.Lock()
		_ = c.mgr.Records()
		c.recRetry = nil
		snap := c.mgr.Snapshot()
		c.recMu.Unlock()
		if c.idMark > 0 && !yield(c.idMarkBlob()) {
			return
		}
		for i := range snap {
			b, err := recordBlob(&snap[i])
			if err != nil || len(b.Value) == 0 {
				continue
			}
			if !yield(b) {
				return
			}
		}
	}
}

// pruneCampaigns forgets finished campaigns past the retention or beyond
// the count kept; the next flush makes that durable (tombstones).
func (s *Server) pruneCampaigns(now time.Time) {
	c := &s.camp
	c.cfgM.Lock()
	age, keep := cmp.Or(c.cfg.Retention, DefaultCampaignRetention), cmp.Or(c.cfg.Keep, DefaultCampaignKeep)
	c.cfgM.Unlock()
	if ids := c.mgr.Prune(now, age, keep); len(ids) > 0 {
		s.log.Info("finished campaigns pruned", "ids", ids, "retention", age, "keep", keep)
	}
}

// campaignCompactFactor: while a campaign runs, a compaction waits until
// this many times Options.CompactEvery records were committed since the
// last one (instead of once), so that it does not fall into the middle of
// the campaign: a 100,000-client campaign commits ~300,000 records (a
// replay value and a renewal per client, campaign progress), i.e. three
// compactions of the whole store with the default CompactEvery. The log
// still cannot grow without bound: at the factor a compaction runs even
// while the campaign does, and the first commit after the campaign ended
// starts the one that waited.
const campaignCompactFactor = 8

// compactAfter returns how many committed records since the last
// compaction start the next one (noteCommitted): every, or
// campaignCompactFactor × every while a campaign runs.
func (s *Server) compactAfter(every int) int64 {
	if s.campaignsActive() {
		return int64(every) * campaignCompactFactor
	}
	return int64(every)
}

// wakeCampaigns makes the campaign loop run now.
func (s *Server) wakeCampaigns() {
	select {
	case s.camp.kick <- struct{}{}:
	default:
	}
}

// updateActive recomputes whether client messages must be observed.
func (s *Server) updateActive() {
	c := &s.camp
	c.activeMu.Lock()
	defer c.activeMu.Unlock()
	running := func(st reconf.CampaignStatus) bool { return st.State == reconf.Running }
	active := slices.ContainsFunc(c.mgr.List(), running)
	if !active && c.cl != nil {
		active = slices.ContainsFunc(c.cl.mirrorMgr().List(), running) // others' clients: report what they do
	}
	if c.active.Swap(active) && !active {
		s.noteCommitted(0) // the compaction deferred during the campaign (compactAfter)
	}
}

func (s *Server) campaignsActive() bool { return s.camp.active.Load() }

// campaignLoop runs due campaign actions until stop is closed, sleeping
// until the manager's next wake-up (at most campaignIdle) or a kick.
func (s *Server) campaignLoop(stop <-chan struct{}) {
	if s.camp.cl != nil {
		done := make(chan struct{})
		go func() {
			defer close(done)
			s.campaignClusterLoop(stop)
		}()
		defer func() { <-done }()
	}
	for {
		now := s.now()
		s.campaignTick(now)
		wait := campaignIdle
		if next := s.camp.mgr.NextWake(now); !next.IsZero() {
			wait = min(max(next.Sub(s.now()), time.Millisecond), campaignIdle)
		}
		wake := s.after(wait) // the injected clock's (Options.Clock)
		select {
		case <-stop:
			if err := s.flushRecords(context.Background()); err != nil {
				s.log.Error("campaign records not persisted at shutdown", "err", err)
			}
			return
		case <-s.camp.kick:
		case <-wake:
		}
	}
}

// campaignTick executes what is due: the records describing the actions
// are made durable first, then FORCERENEWs go out (bounded concurrency)
// and failure outcomes are applied.
func (s *Server) campaignTick(now time.Time) {
	ctx := context.Background()
	s.pruneCampaigns(now)
	acts := s.camp.mgr.Due(now)
	if err := s.flushRecords(ctx); err != nil {
		if len(acts) > 0 {
			// Durable before acting: these sends are skipped (the manager
			// counts them as sent; later attempts follow the schedule).
			s.log.Error("campaign actions skipped: their state could not be persisted", "actions", len(acts))
		}
		s.updateActive()
		return
	}
	if len(acts) > 0 {
		s.runActions(ctx, now, acts)
		if err := s.flushRecords(ctx); err != nil {
			s.log.Error("campaign records after actions not persisted", "err", err)
		}
	}
	s.updateActive()
}

// runActions executes acts: the DHCPv4 FORCERENEWs of a single server in
// batches of campaignBatch (one commit of their replay values, one
// sendmmsg: forceRenewBatch), everything else one action at a time; at
// most campaignWorkers batches or actions at once, so that group commit
// shares fsyncs without a goroutine per client.
func (s *Server) runActions(ctx context.Context, now time.Time, acts []reconf.Action) {
	sem := make(chan struct{}, campaignWorkers)
	var wg sync.WaitGroup
	do := func(f func()) {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			f()
		}()
	}
	// A cluster server re-reads each client's row first (refreshLease);
	// those go one at a time.
	batched := s.camp.cl == nil && s.cpath == nil
	var batch []*reconf.Action
	for i := range acts {
		a := &acts[i]
		if !batched || a.Kind != reconf.SendForceRenew || a.V6() {
			do(func() { s.runAction(ctx, now, a) })
			continue
		}
		batch = append(batch, a)
		if len(batch) == campaignBatch {
			b := batch
			s.waitBacklog()
			do(func() { s.runForceRenews(ctx, now, b) })
			batch = nil
		}
	}
	if len(batch) > 0 {
		do(func() { s.runForceRenews(ctx, now, batch) })
	}
	wg.Wait()
}

// runForceRenews sends the FORCERENEWs of acts (DHCPv4, one server)
// together, to the clients whose lease is still theirs and bound.
func (s *Server) runForceRenews(ctx context.Context, now time.Time, acts []*reconf.Action) {
	sc := frScratchPool.Get().(*frScratch) // forcerenew.go
	addrs := sc.addrs[:0]
	for _, a := range acts {
		if s.leaseStillBound(now, a) {
			addrs = append(addrs, a.Addr)
		}
	}
	if len(addrs) > 0 {
		s.forceRenewBatch(ctx, addrs)
	}
	sc.addrs = addrs[:0]
	sc.put()
}

// leaseStillBound reports whether the lease at a's address is still bound
// to a's client; if not, it reports to the campaign what happened to it
// instead (no FORCERENEW is sent then).
func (s *Server) leaseStillBound(now time.Time, a *reconf.Action) bool {
	l, ok := s.lookup(a.Addr)
	ours := ok && bytes.Equal(l.ClientID, a.Key)
	if ours && l.State == lease.StateBound {
		return true
	}
	ev := reconf.EvDeleted
	switch {
	case ours && l.State == lease.StateExpired:
		ev = reconf.EvExpired
	case ours && l.State == lease.StateReleased:
		ev = reconf.EvRelease
	case ok && l.State == lease.StateDeclined: // the engine clears the client of a declined address
		ev = reconf.EvDecline
	}
	s.camp.mgr.Observe(now, reconf.Event{Kind: ev, Addr: a.Addr, Key: a.Key})
	s.log.Info("campaign: lease changed, no forcerenew", "campaign", a.Campaign, "addr", a.Addr, "event", ev.String())
	return false
}

// runAction executes one campaign action after checking that the lease at
// its address still belongs to the action's client.
func (s *Server) runAction(ctx context.Context, now time.Time, a *reconf.Action) {
	if s.refreshLease(ctx, now, a) { // cluster: the row, as the server that served the client last wrote it
		return // it renewed through another server
	}
	if a.V6() && s.v6 != nil {
		s.runAction6(ctx, now, a)
		return
	}
	switch a.Kind {
	case reconf.SendForceRenew:
		if !s.leaseStillBound(now, a) {
			return
		}
		// One message per attempt; the engine alternates the xid between
		// attempts when the client has a previous one (Engine.ForceRenew).
		if _, err := s.forceRenewOnce(ctx, a.Addr); err != nil {
			// ForceRenew counted and logged it; a client that lost its
			// key stays pending until its attempts are exhausted.
			s.log.Debug("campaign forcerenew failed", "campaign", a.Campaign, "addr", a.Addr, "attempt", a.Attempt, "err", err)
		}
	case reconf.DeleteLease:
		l, ok := s.lookup(a.Addr)
		if !ok || !bytes.Equal(l.ClientID, a.Key) {
			s.log.Info("campaign: on-failure delete skipped, lease no longer the client's", "campaign", a.Campaign, "addr", a.Addr)
			return
		}
		if err := s.DeleteLease(ctx, a.Addr); err != nil {
			s.log.Error("campaign: on-failure delete", "campaign", a.Campaign, "addr", a.Addr, "err", err)
			return
		}
		s.log.Info("campaign: lease deleted (no response)", "campaign", a.Campaign, "addr", a.Addr)
	case reconf.RecycleLease:
		if err := s.recycle(ctx, now, a.Addr, a.Key); err != nil {
			s.log.Info("campaign: recycle not applied", "campaign", a.Campaign, "addr", a.Addr, "err", err)
			return
		}
		s.log.Info("campaign: lease recycled", "campaign", a.Campaign, "addr", a.Addr)
	}
}

// recycle ends the binding of addr now (the client is kept in the record
// so it can get the address back) and makes that durable.
func (s *Server) recycle(ctx context.Context, now time.Time, addr netip.Addr, key []byte) error {
	if s.isV6Addr(addr) {
		return s.recycle6(ctx, now, addr, key)
	}
	d, err := s.eng.Recycle(now, addr, key)
	if err != nil {
		return err
	}
	if err := s.commit(ctx, &d, "recycle "+addr.String()); err != nil {
		return err
	}
	return nil
}

// requestKey is the client key of req as the engine records it
// (lease.Lease.ClientID): option 61, else htype and chaddr.
func requestKey(buf []byte, req *lease.Request) []byte {
	if len(req.ClientID) > 0 {
		return append(buf, req.ClientID...)
	}
	return append(append(buf, req.HType), req.HWAddr...)
}

// forceNAK sets req.ForceNAK when a renew, rebind or init-reboot comes from
// a client that a running ForceNAK campaign is reconfiguring.
func (s *Server) forceNAK(req *lease.Request) {
	if isSet(req.ServerID) {
		return // SELECTING: the DORA that follows the NAK
	}
	a := req.CIAddr
	if !isSet(a) {
		a = req.RequestedIP
	}
	if isSet(a) && (s.camp.mgr.ShouldNAK(a) || s.camp.cl != nil && s.camp.cl.mirrorMgr().ShouldNAK(a)) {
		req.ForceNAK = true
	}
}

// observe reports a client message and the engine's answer (d, as sent)
// to the campaign manager: see the events table in reconf/README.md.
func (s *Server) observe(req *lease.Request, d *lease.Decision) {
	var kb [64]byte // stays on the stack: observeEvent copies what it keeps
	key := requestKey(kb[:0], req)
	now := s.now()
	changed := false
	obs := func(k reconf.EventKind, a netip.Addr) {
		if s.observeEvent(now, k, a, key, false) {
			changed = true
		}
	}
	switch req.Type {
	case dhcpv4.Discover:
		obs(reconf.EvDiscover, netip.Addr{})
	case dhcpv4.Request:
		switch {
		case isSet(req.ServerID):
		case isSet(req.CIAddr) && req.Unicast:
			obs(reconf.EvRequestRenew, req.CIAddr)
		case isSet(req.CIAddr):
			obs(reconf.EvRequestRebind, req.CIAddr)
		case isSet(req.RequestedIP):
			obs(reconf.EvRequestInitReboot, req.RequestedIP)
		}
		if d.HasReply {
			switch d.Reply.Type {
			case dhcpv4.Ack:
				obs(reconf.EvAck, d.Reply.YIAddr)
			case dhcpv4.Nak:
				obs(reconf.EvNak, netip.Addr{})
			}
		}
	case dhcpv4.Release:
		if len(d.Persist) > 0 {
			obs(reconf.EvRelease, req.CIAddr)
		}
	case dhcpv4.Decline:
		if len(d.Persist) > 0 {
			obs(reconf.EvDecline, req.RequestedIP)
		}
	case dhcpv4.Inform:
		if d.HasReply {
			obs(reconf.EvInform, req.CIAddr)
		}
	}
	if changed {
		s.wakeCampaigns()
	}
}

// observeEvent gives ev to the campaign of this server that has the
// client pending, else (cluster) reports it to the leader of the campaign
// led elsewhere that has it. It reports whether this server's campaigns
// changed.
//
// It takes the event's fields rather than a reconf.Event so that key,
// often a buffer on the caller's stack, does not escape: only the
// cluster's copy (observeCluster) is kept.
func (s *Server) observeEvent(now time.Time, kind reconf.EventKind, addr netip.Addr, key []byte, v6 bool) bool {
	if s.camp.mgr.Note(now, reconf.Event{Kind: kind, Addr: addr, Key: key, V6: v6}) {
		return true
	}
	if s.camp.cl != nil {
		s.observeCluster(now, reconf.Event{Kind: kind, Addr: addr, Key: bytes.Clone(key), V6: v6})
	}
	return false
}

// observeRecords reports expired and deleted leases among committed
// records (expiry loop, operator delete).
func (s *Server) observeRecords(recs []lease.Lease) {
	now := s.now()
	changed := false
	for i := range recs {
		r := &recs[i]
		var k reconf.EventKind
		switch r.State {
		case lease.StateExpired:
			k = reconf.EvExpired
		case lease.StateDeleted, lease.StateQuarantined: // a delete or recycle of a valid lease quarantines it
			k = reconf.EvDeleted
		default:
			continue
		}
		if s.observeEvent(now, k, r.Addr, r.ClientID, false) {
			changed = true
		}
	}
	if changed {
		s.wakeCampaigns()
	}
}

// withPoolDefaults adds to opts, for each configured pool the request
// does not override itself, the pool's settings over its family's global
// defaults, except the fields the command gave explicitly (opts.Given):
// command > pool > global > reconf's family defaults. It marks token and
// insecure pools AssumeCapable (no RFC 6704 key tells capability there).
func (s *Server) withPoolDefaults(opts reconf.Options) reconf.Options {
	c := &s.camp
	c.cfgM.Lock()
	defer c.cfgM.Unlock()
	pools := make(map[string]reconf.Override, len(opts.Pools))
	for k, v := range opts.Pools {
		pools[k] = v
	}
	for name, pc := range c.cfg.Pools {
		if _, ok := pools[name]; !ok {
			global := c.cfg.Defaults4
			if pc.V6 {
				global = c.cfg.Defaults6
			}
			pools[name] = pc.Override.Over(global).Without(opts.Given)
		}
	}
	if c.leaseCfg != nil {
		for i := range c.leaseCfg.Pools {
			p := &c.leaseCfg.Pools[i]
			if p.ForceRenew.Mode == lease.AuthRFC6704 {
				continue
			}
			ov := pools[p.Name]
			if ov.AssumeCapable == nil {
				yes := true
				ov.AssumeCapable = &yes
			}
			pools[p.Name] = ov
		}
	}
	if len(pools) > 0 {
		opts.Pools = pools
	}
	return opts
}

// start begins a campaign over leases (nil: every lease) and persists its
// start before returning.
func (s *Server) start(ctx context.Context, sel reconf.Selector, opts reconf.Options, leases []lease.Lease, why string) (reconf.CampaignStatus, error) {
	if s.camp.cl != nil {
		return s.startCampaignCluster(ctx, sel, opts, leases, why)
	}
	return s.startLocal(ctx, sel, opts, leases, why, nil)
}

// startLocal starts the campaign in this server's manager; accept (when
// set) may refuse a started campaign, which is then dropped unstored.
func (s *Server) startLocal(ctx context.Context, sel reconf.Selector, opts reconf.Options, leases []lease.Lease, why string,
	accept func(*reconf.CampaignStatus) error) (reconf.CampaignStatus, error) {
	if leases == nil {
		leases = s.Leases(lease.Filter{})
	}
	c := &s.camp
	c.activeMu.Lock()
	st, err := c.mgr.Start(s.now(), sel, opts, leases)
	if err == nil && accept != nil {
		if err = accept(st); err != nil && !st.Existing {
			_ = c.mgr.Drop(st.ID)
		}
	}
	if err == nil {
		c.active.Store(true)
	}
	c.activeMu.Unlock()
	if err != nil {
		return reconf.CampaignStatus{}, err
	}
	if st.Existing {
		s.log.Info("campaign already running; nothing started", "id", st.ID, "why", why, "selector", st.Selector.String(),
			"clients", st.Clients, "pending", st.Counts.Pending)
		return *st, nil
	}
	// Zero attempts or interval mean each client's family default.
	attempts, interval := any(st.Options.Attempts), any(st.Options.Interval)
	if st.Options.Attempts == 0 {
		attempts = fmt.Sprintf("family default (v4 %d, v6 %d)", reconf.DefaultAttempts, reconf.DefaultAttempts6)
	}
	if st.Options.Interval == 0 {
		interval = fmt.Sprintf("family default (v4 %s, v6 %s)", reconf.DefaultInterval, reconf.DefaultInterval6)
	}
	s.log.Info("campaign started", "id", st.ID, "why", why, "selector", st.Selector.String(), "pools", st.Pools,
		"clients", st.Clients, "not_capable", st.Counts.NotCapable, "attempts", attempts,
		"interval", interval, "pace", st.Options.Pace, "on_failure", st.Options.OnFailure.String(),
		"force_nak", st.Options.ForceNAK)
	err = s.flushRecords(ctx)
	s.wakeCampaigns()
	return *st, err
}

// StartCampaign starts a FORCERENEW campaign over the bound leases sel
// matches. Errors: *reconf.OverlapError, reconf.ErrNoClients,
// reconf.ErrSelector, invalid options; a store error after the campaign
// started (it runs; its start may not be durable).
func (s *Server) StartCampaign(ctx context.Context, sel reconf.Selector, opts reconf.Options) (reconf.CampaignStatus, error) {
	return s.start(ctx, sel, s.withPoolDefaults(opts), nil, "operator")
}

// Campaign returns one campaign (reconf.ErrNotFound when unknown). In a
// cluster a campaign led elsewhere is as of the last heartbeat.
func (s *Server) Campaign(id uint32) (reconf.CampaignStatus, error) {
	st, err := s.camp.mgr.Status(id)
	if err != nil && s.camp.cl != nil {
		return s.camp.cl.mirrorMgr().Status(id)
	}
	return st, err
}

// Campaigns lists every campaign by ID (in a cluster, those led elsewhere
// too).
func (s *Server) Campaigns() []reconf.CampaignStatus { return s.clusterCampaigns(s.camp.mgr.List()) }

// StopCampaign stops a running campaign: pending clients become aborted,
// leases stay as they are.
func (s *Server) StopCampaign(ctx context.Context, id uint32) (reconf.CampaignStatus, error) {
	st, err := s.camp.mgr.Stop(s.now(), id)
	if errors.Is(err, reconf.ErrNotFound) && s.camp.cl != nil {
		return s.stopElsewhere(ctx, id) // cluster: led by another server
	}
	if err != nil {
		return reconf.CampaignStatus{}, err
	}
	s.log.Info("campaign stopped", "id", id, "aborted", st.Counts.Aborted)
	err = s.flushRecords(ctx)
	s.updateActive()
	s.wakeCampaigns()
	return *st, err
}

// DeleteCampaign forgets a finished campaign, in memory and in the store
// (reconf.ErrNotFound; reconf.ErrRunning for a running one: stop it
// first).
func (s *Server) DeleteCampaign(ctx context.Context, id uint32) error {
	err := s.camp.mgr.Forget(id)
	if errors.Is(err, reconf.ErrNotFound) && s.camp.cl != nil {
		return s.deleteElsewhere(ctx, id) // cluster: run by another server
	}
	if err != nil {
		return err
	}
	s.log.Info("campaign deleted", "id", id)
	return s.flushRecords(ctx)
}

// CampaignClients returns the clients of a campaign matching f.
func (s *Server) CampaignClients(id uint32, f reconf.ClientFilter) ([]reconf.ClientProgress, error) {
	cs, err := s.camp.mgr.Clients(id, f)
	if err != nil && s.camp.cl != nil {
		return s.camp.cl.mirrorMgr().Clients(id, f)
	}
	return cs, err
}

// Disconnect reconfigures the client bound to addr with a forced NAK (it
// must come back with a DORA) and applies onFailure if it does not:
// instead of silently deleting a subscriber's lease, it is made to renew
// and learn its new state (Junos AAA-triggered reconfiguration). A client
// that cannot be sent a FORCERENEW gets onFailure at once (restore: left
// alone).
func (s *Server) Disconnect(ctx context.Context, addr netip.Addr, onFailure reconf.OnFailure) (reconf.CampaignStatus, error) {
	s.refreshAddr(ctx, addr) // cluster: another server may have served it
	l, ok := s.lookup(addr)
	if !ok || l.State != lease.StateBound {
		return reconf.CampaignStatus{}, fmt.Errorf("%w (no bound lease at %s)", reconf.ErrNoClients, addr)
	}
	opts := s.withPoolDefaults(reconf.DefaultOptions())
	if ov, ok := opts.Pools[l.Pool]; ok {
		opts = opts.Apply(&ov)
	}
	opts.Pools = nil
	if p := s.poolAuth(l.Pool); p != lease.AuthRFC6704 {
		opts.AssumeCapable = true
	}
	opts.ForceNAK = true
	opts.OnFailure = onFailure
	opts.RecycleNotCapable = onFailure == reconf.Recycle
	st, err := s.start(ctx, reconf.Selector{Client: addr.String()}, opts, nil, "disconnect")
	if err != nil {
		return st, err
	}
	if st.Counts.NotCapable > 0 && onFailure == reconf.Delete {
		// The client ignores FORCERENEW/Reconfigure: its binding is
		// deleted now. The engine quarantines a still-valid address until
		// the old expiry (the client keeps using it), and the campaign
		// says deleted, with the client not capable.
		addrs := []netip.Addr{addr}
		if cs, err := s.camp.mgr.Clients(st.ID, reconf.ClientFilter{}); err == nil && len(cs) == 1 {
			addrs = append([]netip.Addr{cs[0].Addr}, cs[0].More...)
		}
		for _, a := range addrs {
			if err := s.DeleteLease(ctx, a); err != nil {
				return st, err
			}
		}
		d, err := s.camp.mgr.Deleted(s.now(), st.ID, addrs[0])
		if err != nil {
			return st, err
		}
		st = d
		if err := s.flushRecords(ctx); err != nil {
			return st, err
		}
		s.log.Info("disconnect: client cannot be reconfigured; lease deleted, address held until the old expiry",
			"addr", addr, "campaign", st.ID, "until", l.Expiry)
	}
	return st, nil
}

func (s *Server) poolAuth(name string) lease.AuthMode {
	c := &s.camp
	c.cfgM.Lock()
	defer c.cfgM.Unlock()
	if c.leaseCfg != nil {
		for i := range c.leaseCfg.Pools {
			if c.leaseCfg.Pools[i].Name == name {
				return c.leaseCfg.Pools[i].ForceRenew.Mode
			}
		}
	}
	return lease.AuthRFC6704
}

// SetCampaignConfig replaces the campaign configuration (on reload, before
// Reload so that its trigger sees the new settings). Resume only matters
// at start.
func (s *Server) SetCampaignConfig(cc CampaignConfig) {
	c := &s.camp
	c.cfgM.Lock()
	c.cfg = cc
	c.cfgM.Unlock()
}

// poolOptionsEqual reports whether two versions of a pool give clients the
// same configuration (everything but name, sections, exclusions,
// reservations, relays and FORCERENEW authentication).
func poolOptionsEqual(a, b lease.Pool) bool {
	for _, p := range []*lease.Pool{&a, &b} {
		p.Name, p.Sections, p.Exclude, p.Reservations, p.Relays = "", nil, nil, nil, nil
		p.ForceRenew = lease.ForceRenewAuth{}
	}
	return reflect.DeepEqual(a, b)
}

// inSections reports whether a lies in one of p's sections or is reserved.
func inSections(p *lease.Pool, a netip.Addr) bool {
	for _, sec := range p.Sections {
		if a.Compare(sec.Start) >= 0 && a.Compare(sec.End) <= 0 {
			return !slices.Contains(p.Exclude, a)
		}
	}
	for _, r := range p.Reservations {
		if r.Addr == a {
			return true
		}
	}
	return len(p.Sections) == 0 && p.Subnet.Contains(a)
}

// reloadTrigger starts a campaign for every pool with OnChange whose
// options or sections changed between old and cfg.
func (s *Server) reloadTrigger(old, cfg *lease.Config) {
	c := &s.camp
	c.cfgM.Lock()
	pcs := c.cfg.Pools
	c.cfgM.Unlock()
	for i := range cfg.Pools {
		np := &cfg.Pools[i]
		pc, ok := pcs[np.Name]
		if !ok || !pc.OnChange {
			continue
		}
		oi := slices.IndexFunc(old.Pools, func(p lease.Pool) bool { return p.Name == np.Name })
		if oi < 0 {
			continue
		}
		op := &old.Pools[oi]
		optsChanged := !poolOptionsEqual(*op, *np)
		secChanged := !reflect.DeepEqual(op.Sections, np.Sections) || !reflect.DeepEqual(op.Exclude, np.Exclude) ||
			!reflect.DeepEqual(op.Reservations, np.Reservations)
		if !optsChanged && !secChanged {
			continue
		}
		all := s.clusterLeases(np.Name) // cluster: the database's, not only those served here
		if all == nil {
			all = s.eng.Leases(lease.Filter{Pool: np.Name, States: []lease.State{lease.StateBound}})
		}
		why := "reload: pool options changed"
		leases := all
		if !optsChanged {
			why = "reload: pool sections changed"
			leases = slices.DeleteFunc(all, func(l lease.Lease) bool { return inSections(np, l.Addr) })
		}
		if len(leases) == 0 {
			s.log.Info("reload: pool changed, no lease affected; no campaign", "pool", np.Name, "change", why)
			continue
		}
		opts := s.withPoolDefaults(reconf.DefaultOptions())
		st, err := s.start(context.Background(), reconf.Selector{Pool: np.Name}, opts, leases, why)
		if err != nil {
			s.log.Warn("reload: campaign for changed pool not started", "pool", np.Name, "change", why, "err", err)
			continue
		}
		s.log.Info("reload: campaign started for changed pool", "pool", np.Name, "change", why, "id", st.ID, "clients", st.Clients)
	}
}
