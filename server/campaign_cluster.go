package server

// Campaigns across the cluster (issue #12, docs/cluster.md "Campaigns").
// With Options.Cluster every campaign is led by the one server holding
// its advisory lock (postgres.LockCampaign): only the leader's manager
// (campaignState.mgr) holds it, runs its sends and stores its records
// (blob rows). The others keep a read-only mirror of the campaigns led
// elsewhere, rebuilt from the blob rows every heartbeat, which serves the
// listings and tells them which client messages to report: an event the
// mirror matches is written as a campaign_outcomes row (in batches, off
// the reply path) that the leader applies to its manager. Every
// heartbeat a server also checks its leaderships (a round trip on the
// lock's session: when it is gone, so is the lock, and the campaign is
// dropped from memory without a record) and tries to lead the running
// campaigns nobody leads, resuming them from their rows (Manager.Adopt).
// A campaign started through any server's API is led by that server.
//
// Who sends: the experiment of issue #12 (e2e/forcerenew_cluster_test.go)
// showed that dhcpcd takes a FORCERENEW from any address of the link with
// any server identifier, as long as xid, chaddr and the RFC 6704 key are
// those of its last transaction; the leader therefore reads the lease's
// row (xid, key, replay counter: whoever served the client last wrote
// them) before each send and sends from its own address.

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/leased/leased/lease"
	"github.com/leased/leased/reconf"
	"github.com/leased/leased/store"
	"github.com/leased/leased/store/postgres"
)

// outcomeStop is the event of a campaign_outcomes row asking the leader to
// stop the campaign (StopCampaign on another server); reconf.EventKind
// values are small.
const outcomeStop = 255

const (
	// campaignOutcomeTick bounds how long an observed event waits before
	// it is reported, and how often a leader reads the reported events
	// and checks its leaderships.
	campaignOutcomeTick = time.Second
	// maxOutcomesRead bounds the reported events a leader applies per
	// tick; maxOutcomesQueued the events a server keeps while the
	// database does not take them.
	maxOutcomesRead   = 10000
	maxOutcomesQueued = 1 << 16
	// lostBackoff: see campaignCluster.lost.
	lostBackoff = 3
)

// campaignCluster is the cluster part of campaignState (nil for a single
// server).
type campaignCluster struct {
	st        *postgres.Store
	heartbeat time.Duration // leadership polling and mirror refresh
	tick      time.Duration // outcome reports and reads, lock checks

	startMu sync.Mutex // serialises starts (ID from the database, then Start)

	mu      sync.Mutex
	leading map[uint32]*postgres.CampaignLock // campaigns this server leads (in campaignState.mgr)
	// lost holds when this server lost a campaign's lock: it leaves the
	// campaign to the others for lostBackoff × heartbeat (a server whose
	// database connection failed is the worse leader), then may take it
	// again if nobody did.
	lost   map[uint32]time.Time
	dirty  bool            // the mirror must be rebuilt (a campaign was dropped here)
	mirror *reconf.Manager // campaigns led elsewhere; never run, never stored
	maxID  uint32          // highest campaign ID seen in the store

	// hbMu serialises heartbeats (the loop's, and those of a stop or
	// delete through this server); rows, running and rowsVer are the
	// campaign rows as last read (under hbMu).
	hbMu    sync.Mutex
	rows    map[uint32][]reconf.Record
	running []uint32
	rowsVer int64

	// events counts campaign events by path: reported (observed here for
	// a campaign led elsewhere, written), applied (written by another
	// server, applied to a campaign led here), lease_row (a renewal
	// through another server found in the lease's row).
	events *prometheus.CounterVec

	outMu   sync.Mutex
	out     []postgres.Outcome // observed, not yet reported
	dropped int                // events lost because the queue was full
	kick    chan struct{}
}

// initCampaignCluster turns on the cluster mode of campaigns when the
// server has a cluster store; recs are the campaign records loaded from
// it, which go to the mirror (a campaign is led only after its lock is
// taken, by the loop).
func (s *Server) initCampaignCluster(opts *Options, recs []reconf.Record, maxID uint32) bool {
	if opts.Cluster == nil || opts.Cluster.Store == nil {
		return false
	}
	hb := opts.Cluster.Heartbeat
	if hb <= 0 {
		hb = DefaultClusterHeartbeat
	}
	cc := &campaignCluster{
		st: opts.Cluster.Store, heartbeat: hb, tick: min(hb, campaignOutcomeTick),
		leading: map[uint32]*postgres.CampaignLock{}, lost: map[uint32]time.Time{}, maxID: maxID, kick: make(chan struct{}, 1),
	}
	cc.mirror = newMirror(recs, s.now())
	cc.events = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "leased_campaign_cluster_events_total",
		Help: "Client events of campaigns across the cluster by path: reported (observed here for a campaign led elsewhere), applied (reported by another server for a campaign led here), lease_row (a renewal through another server found in the lease row).",
	}, []string{"path"})
	for _, p := range []string{"reported", "applied", "lease_row"} {
		cc.events.WithLabelValues(p)
	}
	s.reg.MustRegister(cc.events)
	s.camp.cl = cc
	return true
}

// newMirror builds a read-only manager of the campaigns in recs.
func newMirror(recs []reconf.Record, now time.Time) *reconf.Manager {
	m := reconf.NewManager()
	if len(recs) > 0 {
		_ = m.Restore(recs, now, true) // inconsistent records: the leader reports them
		_ = m.Records()
	}
	return m
}

// campaignClusterLoop runs the cluster part of campaigns until stop is
// closed: report observed events, apply the reported ones, check and take
// leaderships. At the end it reports what is queued and gives its
// leaderships up (the campaigns' state is stored; another server resumes
// them).
func (s *Server) campaignClusterLoop(stop <-chan struct{}) {
	cc := s.camp.cl
	ctx := context.Background()
	tick := time.NewTicker(cc.tick)
	defer tick.Stop()
	gen, _ := cc.st.CampaignGeneration(ctx)
	s.campaignHeartbeat(ctx)
	lastHB := time.Now()
	for {
		select {
		case <-stop:
			s.reportOutcomes(ctx)
			s.releaseCampaigns(ctx)
			return
		case <-cc.kick:
			// Let a burst of observations gather into one statement.
			select {
			case <-stop:
			case <-time.After(20 * time.Millisecond):
			}
			s.reportOutcomes(ctx)
		case <-tick.C:
			s.reportOutcomes(ctx)
			s.checkLeaderships(ctx)
			s.applyOutcomes(ctx)
			// A campaign started anywhere takes a new ID: read the rows
			// now rather than at the next heartbeat, so that its clients'
			// messages through this server are reported from the start.
			g, err := cc.st.CampaignGeneration(ctx)
			if time.Since(lastHB) >= cc.heartbeat || err == nil && g != gen {
				if err == nil {
					gen = g
				}
				s.campaignHeartbeat(ctx)
				lastHB = time.Now()
			}
		}
	}
}

func campaignLockID(id uint32) string { return strconv.FormatUint(uint64(id), 10) }

// led reports whether this server leads campaign id.
func (cc *campaignCluster) led(id uint32) bool {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return cc.leading[id] != nil
}

func (cc *campaignCluster) mirrorMgr() *reconf.Manager {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return cc.mirror
}

// checkLeaderships drops the campaigns whose lock session is gone: the
// lock went with it and another server may lead them now. Nothing is
// stored for them from here on (records not yet stored are discarded:
// the new leader resumes from the rows).
func (s *Server) checkLeaderships(ctx context.Context) {
	cc := s.camp.cl
	cc.mu.Lock()
	ids := make([]uint32, 0, len(cc.leading))
	for id := range cc.leading {
		ids = append(ids, id)
	}
	cc.mu.Unlock()
	for _, id := range ids {
		cc.mu.Lock()
		l := cc.leading[id]
		cc.mu.Unlock()
		cctx, cancel := context.WithTimeout(ctx, cc.heartbeat)
		err := l.Alive(cctx)
		cancel()
		if err == nil {
			continue
		}
		s.loseCampaign(id, l)
		s.log.Warn("campaign leadership lost; another server resumes it", "id", id, "err", err)
	}
}

// loseCampaign forgets campaign id in memory (no record) and closes its
// lock.
func (s *Server) loseCampaign(id uint32, l *postgres.CampaignLock) {
	c := &s.camp
	cc := c.cl
	c.recMu.Lock() // no store write of its records is in flight or follows
	_ = c.mgr.Drop(id)
	c.recRetry = slices.DeleteFunc(c.recRetry, func(r reconf.Record) bool { return r.Campaign() == id })
	c.recMu.Unlock()
	cc.mu.Lock()
	delete(cc.leading, id)
	cc.lost[id] = time.Now()
	cc.dirty = true
	cc.mu.Unlock()
	l.Release()
	s.updateActive()
}

// releaseCampaigns gives every leadership up at shutdown, after the
// campaign loop stored the records.
func (s *Server) releaseCampaigns(ctx context.Context) {
	cc := s.camp.cl
	if err := s.flushRecords(ctx); err != nil {
		s.log.Error("campaign records not persisted before giving the leaderships up", "err", err)
	}
	cc.mu.Lock()
	ls := cc.leading
	cc.leading = map[uint32]*postgres.CampaignLock{}
	cc.mu.Unlock()
	for id, l := range ls {
		l.Release()
		s.log.Info("campaign leadership released", "id", id)
	}
}

// campaignHeartbeat reads the campaign rows: it takes the leadership of
// running campaigns nobody leads (resuming them), releases the
// leaderships of campaigns this server finished, and rebuilds the mirror
// of the campaigns led elsewhere.
func (s *Server) campaignHeartbeat(ctx context.Context) {
	c := &s.camp
	cc := c.cl
	cc.hbMu.Lock()
	defer cc.hbMu.Unlock()
	now := s.now()
	// The rows are read again only when one was written since (every
	// write, tombstones included — they come with the ID mark — takes a
	// new seq): a cluster keeps finished campaigns for days.
	ver, verr := cc.st.BlobsVersion(ctx, store.BlobReconf)
	cc.mu.Lock()
	dirty := cc.dirty // a campaign left this server's manager: it belongs in the mirror
	cc.dirty = false
	cc.mu.Unlock()
	fresh := verr != nil || cc.rows == nil || ver != cc.rowsVer || dirty
	byID, running := cc.rows, cc.running
	if fresh {
		var maxID uint32
		var err error
		byID, maxID, err = loadCampaignRecords(cc.st)
		if err != nil {
			s.log.Warn("campaign rows not read", "err", err)
			return
		}
		cc.mu.Lock()
		cc.maxID = max(cc.maxID, maxID)
		cc.mu.Unlock()
		c.mgr.ReserveIDs(maxID)
		// What the rows say is running (a throw-away manager decodes them).
		var all []reconf.Record
		for _, rs := range byID {
			all = append(all, rs...)
		}
		running = nil
		for _, st := range newMirror(all, now).List() {
			if st.State == reconf.Running {
				running = append(running, st.ID)
			}
		}
		cc.rows, cc.running, cc.rowsVer = byID, running, ver
		if verr != nil {
			cc.rows = nil // read again next time
		}
	}
	// Campaigns whose leader's session lives need no lock attempt (each
	// attempt costs a connection of its own).
	live := map[string]bool{}
	if ls, err := cc.st.CampaignLeaders(ctx); err == nil {
		for _, l := range ls {
			live[l.Campaign] = true
		}
	}
	changed := false
	for _, id := range running {
		if cc.led(id) || live[campaignLockID(id)] {
			continue
		}
		if _, err := c.mgr.Status(id); err == nil {
			continue // finished here, rows not yet showing it
		}
		cc.mu.Lock()
		lostAt, lost := cc.lost[id]
		cc.mu.Unlock()
		if lost && time.Since(lostAt) < lostBackoff*cc.heartbeat {
			continue
		}
		lctx, cancel := context.WithTimeout(ctx, cc.heartbeat)
		l, ok, err := cc.st.LockCampaign(lctx, campaignLockID(id))
		cancel()
		if err != nil {
			s.log.Warn("campaign leadership not tried", "id", id, "err", err)
			continue
		}
		if !ok {
			continue // led elsewhere
		}
		// Read the rows again under the lock: the last leader may have
		// stored more before its session ended.
		byID2, _, err := loadCampaignRecords(cc.st)
		if err == nil {
			byID = byID2
		}
		if err != nil || len(byID[id]) == 0 {
			l.Release()
			s.log.Warn("campaign rows not read after taking its leadership; released", "id", id, "err", err)
			continue
		}
		cc.mu.Lock()
		cc.leading[id] = l // before Adopt: its records are written on the lock's session
		cc.mu.Unlock()
		c.recMu.Lock()
		err = c.mgr.Adopt(byID[id], now)
		c.recMu.Unlock()
		if err != nil {
			// Inconsistent records are skipped by Adopt; the campaign
			// runs with the rest. An ID already here cannot happen.
			s.log.Warn("campaign resumed with errors", "id", id, "err", err)
		}
		if _, err := c.mgr.Status(id); err != nil {
			cc.mu.Lock()
			delete(cc.leading, id)
			cc.mu.Unlock()
			l.Release()
			continue
		}
		cc.rows = nil // this server holds it now: the next heartbeat reads the rows again
		st, _ := c.mgr.Status(id)
		s.log.Info("campaign leadership taken; resuming", "id", id, "state", st.State.String(), "clients", st.Clients,
			"pending", st.Counts.Pending, "sent", st.Sent)
		changed = true
	}

	// Finished campaigns led here: their rows say so once stored; then the
	// leadership and their reported events go.
	cc.mu.Lock()
	var done []uint32
	for id := range cc.leading {
		if st, err := c.mgr.Status(id); err != nil || st.State != reconf.Running {
			done = append(done, id)
		}
	}
	cc.mu.Unlock()
	if len(done) > 0 {
		if err := s.flushRecords(ctx); err == nil {
			_ = cc.st.DeleteOutcomes(ctx, done, 1<<62)
			for _, id := range done {
				cc.mu.Lock()
				l := cc.leading[id]
				delete(cc.leading, id)
				cc.mu.Unlock()
				if l != nil {
					l.Release()
				}
			}
		}
	}

	// Finished campaigns held here whose rows are gone were deleted or
	// pruned by another server: forget them here too (no record).
	for _, st := range c.mgr.List() {
		if _, ok := byID[st.ID]; !ok && st.State != reconf.Running && !cc.led(st.ID) {
			c.recMu.Lock()
			_ = c.mgr.Drop(st.ID)
			c.recMu.Unlock()
		}
	}

	// The mirror: every campaign this server does not hold in its manager.
	if fresh || changed {
		var others []reconf.Record
		for id, rs := range byID {
			if _, err := c.mgr.Status(id); err != nil {
				others = append(others, rs...)
			}
		}
		m := newMirror(others, now)
		cc.mu.Lock()
		cc.mirror = m
		cc.mu.Unlock()
	}
	s.pruneMirror(ctx, cc.mirrorMgr(), now)
	s.updateActive()
	if changed {
		s.wakeCampaigns()
	}
}

// loadCampaignRecords reads every campaign record of the store by
// campaign, and the highest campaign ID they name.
func loadCampaignRecords(st *postgres.Store) (map[uint32][]reconf.Record, uint32, error) {
	byID := map[uint32][]reconf.Record{}
	maxID := uint32(0)
	headers := map[uint32]bool{}
	err := st.LoadBlobs(func(b store.Blob) error {
		if b.Kind != store.BlobReconf || len(b.Value) == 0 {
			return nil
		}
		if len(b.Key) == len(idMarkKey) && string(b.Key) == string(idMarkKey) {
			if len(b.Value) == 4 {
				maxID = max(maxID, uint32(b.Value[0])<<24|uint32(b.Value[1])<<16|uint32(b.Value[2])<<8|uint32(b.Value[3]))
			}
			return nil
		}
		var r reconf.Record
		if r.UnmarshalBinary(b.Value) != nil {
			return nil
		}
		id, addr, _ := r.Key()
		if !addr.IsValid() {
			headers[id] = true
		}
		maxID = max(maxID, id)
		byID[id] = append(byID[id], r)
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	for id := range byID {
		if !headers[id] {
			delete(byID, id) // a forgotten campaign's leftovers
		}
	}
	// Restore wants a campaign's header before its clients.
	for id, rs := range byID {
		slices.SortStableFunc(rs, func(a, b reconf.Record) int {
			_, aa, _ := a.Key()
			_, ba, _ := b.Key()
			switch {
			case !aa.IsValid() && ba.IsValid():
				return -1
			case aa.IsValid() && !ba.IsValid():
				return 1
			}
			return 0
		})
		byID[id] = rs
	}
	return byID, maxID, nil
}

// observeCluster reports ev to the leader of the campaign led elsewhere
// that has the client pending (the mirror matches it); it returns whether
// one does.
func (s *Server) observeCluster(now time.Time, ev reconf.Event) bool {
	cc := s.camp.cl
	if cc == nil {
		return false
	}
	p, ok := cc.mirrorMgr().Observe(now, ev)
	if !ok {
		return false
	}
	o := postgres.Outcome{Campaign: p.Campaign, Event: uint8(ev.Kind), Addr: ev.Addr, Client: append([]byte(nil), ev.Key...), V6: ev.V6, At: now}
	cc.outMu.Lock()
	if len(cc.out) < maxOutcomesQueued {
		cc.out = append(cc.out, o)
	} else {
		cc.dropped++
	}
	cc.outMu.Unlock()
	select {
	case cc.kick <- struct{}{}:
	default:
	}
	return true
}

// reportOutcomes writes the queued observations (one statement); on
// failure they stay queued for the next tick.
func (s *Server) reportOutcomes(ctx context.Context) {
	cc := s.camp.cl
	cc.outMu.Lock()
	out, dropped := cc.out, cc.dropped
	cc.out, cc.dropped = nil, 0
	cc.outMu.Unlock()
	if dropped > 0 {
		s.log.Error("campaign outcomes not reported: queue full (database unreachable?)", "events", dropped)
	}
	if len(out) == 0 {
		return
	}
	rctx, cancel := context.WithTimeout(ctx, cc.heartbeat)
	defer cancel()
	if err := cc.st.ReportOutcomes(rctx, out); err != nil {
		s.log.Warn("campaign outcomes not reported; retrying", "events", len(out), "err", err)
		cc.outMu.Lock()
		cc.out = append(out, cc.out...)
		if n := len(cc.out) - maxOutcomesQueued; n > 0 {
			cc.out, cc.dropped = cc.out[n:], cc.dropped+n
		}
		cc.outMu.Unlock()
		return
	}
	cc.events.WithLabelValues("reported").Add(float64(len(out)))
	s.log.Debug("campaign outcomes reported", "events", len(out))
}

// applyOutcomes gives the leader's manager the events other servers
// reported for the campaigns it leads, stores the resulting state, then
// deletes the events applied.
func (s *Server) applyOutcomes(ctx context.Context) {
	c := &s.camp
	cc := c.cl
	cc.mu.Lock()
	ids := make([]uint32, 0, len(cc.leading))
	for id := range cc.leading {
		ids = append(ids, id)
	}
	cc.mu.Unlock()
	if len(ids) == 0 {
		return
	}
	rctx, cancel := context.WithTimeout(ctx, cc.heartbeat)
	defer cancel()
	os, err := cc.st.Outcomes(rctx, ids, maxOutcomesRead)
	if err != nil {
		s.log.Warn("reported campaign outcomes not read", "err", err)
		return
	}
	if len(os) == 0 {
		return
	}
	applied := 0
	for _, o := range os {
		if o.Event == outcomeStop {
			if st, err := c.mgr.Stop(s.now(), o.Campaign); err == nil {
				s.log.Info("campaign stopped", "id", o.Campaign, "aborted", st.Counts.Aborted, "requested_through", o.Server)
				applied++
			}
			continue
		}
		ev := reconf.Event{Kind: reconf.EventKind(o.Event), Addr: o.Addr, Key: o.Client, V6: o.V6}
		if _, ok := c.mgr.Observe(o.At, ev); ok {
			applied++
			cc.events.WithLabelValues("applied").Inc()
		}
	}
	if err := s.flushRecords(rctx); err != nil {
		s.log.Warn("campaign state after reported outcomes not stored; they are applied again", "err", err)
		return
	}
	if err := cc.st.DeleteOutcomes(rctx, ids, os[len(os)-1].ID); err != nil {
		s.log.Warn("applied campaign outcomes not deleted", "err", err)
	}
	s.log.Debug("reported campaign outcomes applied", "events", len(os), "changed", applied)
	s.updateActive()
	s.wakeCampaigns()
}

// startCampaignCluster is start for a cluster server: the campaign selects from
// the leases of the database (this server's memory holds only what it
// served), takes an ID no server has, and is led by this server.
func (s *Server) startCampaignCluster(ctx context.Context, sel reconf.Selector, opts reconf.Options, leases []lease.Lease, why string) (reconf.CampaignStatus, error) {
	c := &s.camp
	cc := c.cl
	cc.startMu.Lock()
	defer cc.startMu.Unlock()
	if leases == nil {
		all, err := loadAllLeases(cc.st)
		if err != nil {
			return reconf.CampaignStatus{}, fmt.Errorf("server: campaign: read the leases: %w", err)
		}
		leases = all
	}
	// One start at a time across the cluster, checked against the rows as
	// they are now and stored before the next: two servers (say, both
	// reloading the same configuration change) cannot start overlapping
	// campaigns.
	unlock, err := cc.st.LockCampaignStarts(ctx)
	if err != nil {
		return reconf.CampaignStatus{}, err
	}
	defer unlock()
	m := cc.mirrorMgr()
	if byID, _, err := loadCampaignRecords(cc.st); err == nil {
		var others []reconf.Record
		for id, rs := range byID {
			if _, err := c.mgr.Status(id); err != nil {
				others = append(others, rs...)
			}
		}
		m = newMirror(others, s.now())
	}
	// A campaign led elsewhere on one of the pools: the same refusal a
	// single server gives (one running campaign per pool).
	if m != nil {
		probe := reconf.NewManager()
		if st, err := probe.Start(s.now(), sel, opts, leases); err == nil {
			for _, p := range st.Pools {
				if r, ok := m.Running(p); ok {
					return reconf.CampaignStatus{}, &reconf.OverlapError{Pool: p, Running: r}
				}
			}
		}
	}
	cc.mu.Lock()
	atLeast := cc.maxID + 1
	cc.mu.Unlock()
	id, err := cc.st.NextCampaignID(ctx, atLeast)
	if err != nil {
		return reconf.CampaignStatus{}, err
	}
	l, ok, err := cc.st.LockCampaign(ctx, campaignLockID(id))
	if err == nil && !ok {
		err = fmt.Errorf("server: campaign %d: its lock is held elsewhere", id)
	}
	if err != nil {
		return reconf.CampaignStatus{}, err
	}
	c.mgr.ReserveIDs(id - 1)
	led := false
	st, err := s.startLocal(ctx, sel, opts, leases, why, func(st *reconf.CampaignStatus) error {
		if st.Existing {
			return nil
		}
		if st.ID != id {
			return fmt.Errorf("server: campaign got id %d, want %d from the database", st.ID, id)
		}
		cc.mu.Lock()
		cc.leading[id] = l
		cc.maxID = max(cc.maxID, id)
		cc.mu.Unlock()
		led = true
		return nil
	})
	if !led {
		l.Release()
	}
	return st, err
}

// campaignAdopter is an engine that takes a row read from the database in place
// of its cached record (lease.Engine.Adopt, lease6.Engine.Adopt).
type campaignAdopter interface{ Adopt(l lease.Lease) }

// loadAllLeases reads every lease row of the database.
func loadAllLeases(st *postgres.Store) ([]lease.Lease, error) {
	var out []lease.Lease
	err := st.Load(func(l lease.Lease) error {
		out = append(out, l)
		return nil
	})
	return out, err
}

// clusterLeases returns the bound DHCPv4 leases of pool in the database
// (a cluster server's memory holds only those it served or read); nil for
// a single server or when the rows cannot be read.
func (s *Server) clusterLeases(pool string) []lease.Lease {
	cc := s.camp.cl
	if cc == nil {
		return nil
	}
	all, err := loadAllLeases(cc.st)
	if err != nil {
		s.log.Warn("campaign: lease rows not read; selecting from this server's leases", "pool", pool, "err", err)
		return nil
	}
	out := []lease.Lease{}
	for _, l := range all {
		if l.Pool == pool && l.State == lease.StateBound && !l.IsV6() {
			out = append(out, l)
		}
	}
	return out
}

// refreshAddr makes the row of addr the engine's record (cluster), as
// before a campaign action.
func (s *Server) refreshAddr(ctx context.Context, addr netip.Addr) {
	if s.camp.cl == nil {
		return
	}
	a := reconf.Action{Kind: reconf.DeleteLease, Addr: addr} // no send: only the read
	s.refreshLease(ctx, s.now(), &a)
}

// refreshLease reads the row of a's address before a campaign acts on it
// and makes it the engine's record: another server may have served the
// client since (its xid, key and replay counter are in the row). From the
// second attempt on, a row of the same client, bound, with another xid
// than the record this server had means the client renewed through
// another server since the last attempt: that is reported to the
// campaign as an ACK and refreshLease returns true (nothing to send).
// This covers an outcome the serving server could not report (its view
// of the campaign was not there yet).
func (s *Server) refreshLease(ctx context.Context, now time.Time, a *reconf.Action) bool {
	cc := s.camp.cl
	if cc == nil {
		return false
	}
	rctx, cancel := context.WithTimeout(ctx, cc.heartbeat)
	defer cancel()
	l, ok, err := cc.st.LookupLease(rctx, a.Addr)
	if err != nil {
		s.log.Warn("campaign: lease row not read; acting on the cached record", "addr", a.Addr, "err", err)
		return false
	}
	if !ok {
		return false
	}
	cached, had := s.lookup(a.Addr)
	if s.isV6Addr(a.Addr) {
		if s.v6 == nil {
			return false
		}
		if e, ok := s.v6.eng.(campaignAdopter); ok {
			e.Adopt(l)
		}
	} else if e, ok := s.eng.(campaignAdopter); ok {
		e.Adopt(l)
	}
	send := a.Kind == reconf.SendForceRenew || a.Kind == reconf.SendReconfigure
	if !send || a.Attempt < 2 || !had || l.State != lease.StateBound || cached.State != lease.StateBound ||
		!bytes.Equal(l.ClientID, a.Key) || !bytes.Equal(cached.ClientID, a.Key) || l.XID == cached.XID || a.V6() {
		return false
	}
	ev := reconf.Event{Kind: reconf.EvRequestRenew, Addr: a.Addr, Key: a.Key}
	s.camp.mgr.Observe(now, ev)
	ev.Kind = reconf.EvAck
	if _, ok := s.camp.mgr.Observe(now, ev); !ok {
		return false
	}
	cc.events.WithLabelValues("lease_row").Inc()
	s.log.Info("campaign: client renewed through another server (its lease row), no forcerenew", "campaign", a.Campaign,
		"addr", a.Addr, "xid", fmt.Sprintf("0x%08x", l.XID))
	return true
}

// clusterCampaigns adds the campaigns led elsewhere to list (by ID).
func (s *Server) clusterCampaigns(list []reconf.CampaignStatus) []reconf.CampaignStatus {
	cc := s.camp.cl
	if cc == nil {
		return list
	}
	for _, st := range cc.mirrorMgr().List() {
		if !slices.ContainsFunc(list, func(x reconf.CampaignStatus) bool { return x.ID == st.ID }) {
			list = append(list, st)
		}
	}
	slices.SortFunc(list, func(a, b reconf.CampaignStatus) int { return cmp.Compare(a.ID, b.ID) })
	return list
}

// stopElsewhere stops a campaign another server leads: the request is a
// campaign_outcomes row its leader applies within a tick; it waits (5 s at
// most) until the rows say the campaign ended and returns that state.
func (s *Server) stopElsewhere(ctx context.Context, id uint32) (reconf.CampaignStatus, error) {
	cc := s.camp.cl
	st, err := cc.mirrorMgr().Status(id)
	if err != nil {
		return reconf.CampaignStatus{}, err
	}
	if st.State != reconf.Running {
		return reconf.CampaignStatus{}, fmt.Errorf("%w: campaign %d is %s", reconf.ErrNotRunning, id, st.State)
	}
	if err := cc.st.ReportOutcomes(ctx, []postgres.Outcome{{Campaign: id, Event: outcomeStop, At: s.now()}}); err != nil {
		return reconf.CampaignStatus{}, err
	}
	s.log.Info("campaign stop requested from its leader", "id", id)
	deadline := time.Now().Add(5 * time.Second)
	for {
		byID, _, err := loadCampaignRecords(cc.st)
		if err == nil {
			m := newMirror(byID[id], s.now())
			if st, err := m.Status(id); err == nil && st.State != reconf.Running {
				s.campaignHeartbeat(ctx) // the mirror shows it stopped from now on
				return st, nil
			}
		}
		if time.Now().After(deadline) {
			return reconf.CampaignStatus{}, fmt.Errorf("server: campaign %d: stop requested, but its leader has not applied it within 5 s (no leader alive? the next one applies it)", id)
		}
		select {
		case <-ctx.Done():
			return reconf.CampaignStatus{}, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// deleteElsewhere forgets a finished campaign this server does not hold
// (another server ran it): a tombstone row, as the leader's Forget would
// write.
func (s *Server) deleteElsewhere(ctx context.Context, id uint32) error {
	cc := s.camp.cl
	st, err := cc.mirrorMgr().Status(id)
	if err != nil {
		return err
	}
	if st.State == reconf.Running {
		return fmt.Errorf("%w: campaign %d is running: stop it first", reconf.ErrRunning, id)
	}
	if err := s.forgetRows(ctx, []uint32{id}); err != nil {
		return err
	}
	s.log.Info("campaign deleted", "id", id)
	s.campaignHeartbeat(ctx)
	return nil
}

// forgetRows writes the tombstones of campaigns (and raises the ID mark,
// so that no ID is reused even with campaign_ids reset).
func (s *Server) forgetRows(ctx context.Context, ids []uint32) error {
	blobs := make([]store.Blob, 0, len(ids)+1)
	for _, id := range ids {
		r := reconf.ForgetRecord(id)
		b, err := recordBlob(&r)
		if err != nil {
			return err
		}
		blobs = append(blobs, b)
	}
	c := &s.camp
	c.recMu.Lock()
	defer c.recMu.Unlock()
	c.idMark = max(c.idMark, slices.Max(ids))
	return s.persistBlobs(ctx, append(blobs, c.idMarkBlob()), "campaign state")
}

// pruneMirror forgets, in the rows, the finished campaigns of the mirror
// past the retention (CampaignConfig.Retention, Keep): those this server
// does not hold in its manager, which its own pruning does not see. Every
// server may do it; the tombstones are the same.
func (s *Server) pruneMirror(ctx context.Context, m *reconf.Manager, now time.Time) {
	c := &s.camp
	c.cfgM.Lock()
	age, keep := cmp.Or(c.cfg.Retention, DefaultCampaignRetention), cmp.Or(c.cfg.Keep, DefaultCampaignKeep)
	c.cfgM.Unlock()
	ids := m.Prune(now, age, keep)
	_ = m.Records()
	if len(ids) == 0 {
		return
	}
	if err := s.forgetRows(ctx, ids); err != nil {
		s.log.Warn("finished campaigns not pruned", "ids", ids, "err", err)
		return
	}
	s.log.Info("finished campaigns pruned", "ids", ids, "retention", age, "keep", keep)
}

// persistCampaignBlobs stores campaign rows. In a cluster the rows of a
// campaign this server leads are written on its lock's session
// (CampaignLock.CommitBlobs), fenced by the leadership: a leader that
// lost its lock cannot overwrite its successor's rows. The rest (the ID
// mark, tombstones of finished campaigns) goes the usual way.
func (s *Server) persistCampaignBlobs(ctx context.Context, blobs []store.Blob) error {
	cc := s.camp.cl
	if cc == nil {
		return s.persistBlobs(ctx, blobs, "campaign state")
	}
	var rest []store.Blob
	led := map[*postgres.CampaignLock][]store.Blob{}
	cc.mu.Lock()
	for _, b := range blobs {
		var l *postgres.CampaignLock
		if len(b.Key) >= 4 {
			l = cc.leading[binary.BigEndian.Uint32(b.Key)]
		}
		if l != nil {
			led[l] = append(led[l], b)
		} else {
			rest = append(rest, b)
		}
	}
	cc.mu.Unlock()
	var errs []error
	for l, bs := range led {
		if err := l.CommitBlobs(ctx, bs); err != nil {
			errs = append(errs, err)
		}
	}
	if err := s.persistBlobs(ctx, rest, "campaign state"); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
