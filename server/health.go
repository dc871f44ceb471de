package server

import (
	"fmt"
	"net"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/leased/leased/api"
)

// DefaultHealthWindow is how long store commit failures keep the server
// "degraded" after commits succeed again, and a failed socket read after
// it happened (Options.HealthWindow).
const DefaultHealthWindow = 60 * time.Second

// Health statuses, from best to worst (api.Health.Status).
const (
	healthOK       = "ok"
	healthDegraded = "degraded"
	healthFailing  = "failing"
)

// Health reason codes (api.HealthReason.Code, label values of
// leased_health_reason). Each has one severity.
const (
	reasonStarting         = "starting"                  // failing: Run has not started serving yet
	reasonDraining         = "draining"                  // failing: shutting down
	reasonCommitFailing    = "store_commit_failing"      // failing: the most recent store commit failed
	reasonCommitErrors     = "store_commit_errors"       // degraded: commits failed and recovered within the window
	reasonCompactionFailed = "store_compaction_failed"   // degraded: the most recent compaction failed
	reasonListenerDown     = "listener_down"             // failing: a socket reader stopped with an error
	reasonListenerErrors   = "listener_errors"           // degraded: a socket read failed within the window
	reasonReloadFailed     = "reload_failed"             // degraded: the last reload failed; the running config is not the file
	reasonRestartNeeded    = "restart_needed"            // degraded: the file changes settings that only a restart applies
	reasonInterfaceDown    = "interface_down"            // degraded: a served interface is gone, down or without carrier
	reasonClusterFenced    = "cluster_fenced"            // failing: another process holds this server's name (or took it over)
	reasonClusterHeartbeat = "cluster_heartbeat_failing" // degraded: the cluster heartbeat (claims, live set) fails: the database is unreachable
	reasonClusterReads     = "cluster_read_errors"       // degraded: a cluster read-through failed within the window (its packet was dropped)
)

// healthReasons lists every reason code with its severity, in the order
// Health reports them.
var healthReasons = []struct{ code, severity string }{
	{reasonStarting, healthFailing},
	{reasonDraining, healthFailing},
	{reasonCommitFailing, healthFailing},
	{reasonListenerDown, healthFailing},
	{reasonClusterFenced, healthFailing},
	{reasonCommitErrors, healthDegraded},
	{reasonCompactionFailed, healthDegraded},
	{reasonListenerErrors, healthDegraded},
	{reasonReloadFailed, healthDegraded},
	{reasonRestartNeeded, healthDegraded},
	{reasonInterfaceDown, healthDegraded},
	{reasonClusterHeartbeat, healthDegraded},
	{reasonClusterReads, healthDegraded},
}

// fault is one observed problem: when it began, when it was last seen
// and the last error.
type fault struct {
	since, last time.Time
	count       uint64
	err         string
}

func (f *fault) note(now time.Time, err error) {
	if f.since.IsZero() {
		f.since = now
	}
	f.last = now
	f.count++
	f.err = err.Error()
}

// healthState is what Health derives the status from. Store commits,
// compactions, socket readers and reloads report to it; the zero value is
// ready.
type healthState struct {
	mu sync.Mutex
	// commitFailing is the current run of failed commits (since: first
	// failure of the run); zero once a commit succeeds.
	commitFailing fault
	commitBad     atomic.Bool // commitFailing is set (read without mu)
	// commitLastRun is the last run of failures that ended, at
	// commitRecovered (degraded for the window after that).
	commitLastRun   fault
	commitRecovered time.Time
	compaction      fault            // zero once a compaction succeeds
	listenerDown    map[string]fault // by family ("dhcpv4", "dhcpv6")
	readErrors      map[string]fault // by family; reported while last is within the window
	clusterReads    map[string]fault // failed cluster read-throughs by family; as readErrors
	reload          fault            // zero once a reload succeeds
	restart         fault            // settings a reload could not apply; zero when none
}

// commitResult records the outcome of one store commit (leases or blobs).
// A success while no failure is pending costs one atomic load (hot path).
func (s *Server) commitResult(err error) {
	h := &s.health
	if err == nil {
		if !h.commitBad.Load() {
			return
		}
		now := s.now()
		h.mu.Lock()
		if f := h.commitFailing; !f.since.IsZero() {
			h.commitLastRun, h.commitRecovered = f, now
		}
		h.commitFailing = fault{}
		h.commitBad.Store(false)
		h.mu.Unlock()
		return
	}
	now := s.now()
	h.mu.Lock()
	defer h.mu.Unlock()
	h.commitFailing.note(now, err)
	h.commitBad.Store(true)
}

// compactionResult records the outcome of one store compaction.
func (s *Server) compactionResult(err error) {
	h := &s.health
	now := s.now()
	h.mu.Lock()
	defer h.mu.Unlock()
	if err == nil {
		h.compaction = fault{}
		return
	}
	h.compaction.note(now, err)
}

// readerStopped records that a socket reader of family returned because
// its socket failed (not because the server is stopping): nothing more is
// read from that socket until a restart.
func (s *Server) readerStopped(family string, err error) {
	s.log.Error("socket reader stopped; restart leased to serve "+family+" again", "family", family, "err", err)
	h := &s.health
	now := s.now()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.listenerDown == nil {
		h.listenerDown = map[string]fault{}
	}
	f := h.listenerDown[family]
	f.note(now, err)
	h.listenerDown[family] = f
}

// readFailed records a failed socket read that the reader retries.
func (s *Server) readFailed(family string, err error) {
	s.noteWindowed(&s.health.readErrors, family, err)
}

// readThroughFailed records a cluster read-through that failed or timed
// out: its packet was dropped, so the database trouble shows in Health
// even when no commit was attempted (a server that only dropped
// DISCOVERs during an outage).
func (s *Server) readThroughFailed(family string, err error) {
	s.noteWindowed(&s.health.clusterReads, family, err)
}

// noteWindowed notes err in (*m)[family], starting a new episode when the
// last one is older than the health window.
func (s *Server) noteWindowed(m *map[string]fault, family string, err error) {
	h := &s.health
	now := s.now()
	h.mu.Lock()
	defer h.mu.Unlock()
	if *m == nil {
		*m = map[string]fault{}
	}
	f := (*m)[family]
	if !f.last.IsZero() && now.Sub(f.last) > s.healthWindow() {
		f = fault{} // a new episode
	}
	f.note(now, err)
	(*m)[family] = f
}

// ReloadResult records the outcome of a configuration reload (SIGHUP) for
// Health: after a failure the running configuration is not the file,
// which Health reports as reason reload_failed (status degraded) with the
// error and its time until a reload succeeds. what names the file.
func (s *Server) ReloadResult(what string, err error) {
	h := &s.health
	now := s.now()
	h.mu.Lock()
	defer h.mu.Unlock()
	if err == nil {
		h.reload = fault{}
		return
	}
	h.reload.note(now, fmt.Errorf("reload of %s failed, still running the previous configuration: %w", what, err))
}

// RestartNeeded records, after a reload, the settings of the file that
// only a restart applies (interfaces, ports, data_dir, ...), for Health:
// reason restart_needed (status degraded) while there are any. An empty
// list clears it. what names the file.
func (s *Server) RestartNeeded(what string, settings []string) {
	h := &s.health
	now := s.now()
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(settings) == 0 {
		h.restart = fault{}
		return
	}
	since := h.restart.since
	h.restart = fault{}
	h.restart.note(now, fmt.Errorf("%s changes %s, which only a restart applies; still running the previous ones", what, strings.Join(settings, ", ")))
	if !since.IsZero() {
		h.restart.since = since
	}
}

func (s *Server) healthWindow() time.Duration {
	if s.opts.HealthWindow > 0 {
		return s.opts.HealthWindow
	}
	return DefaultHealthWindow
}

// healthStatus derives the status and its reasons (in healthReasons order).
func (s *Server) healthStatus() (string, []api.HealthReason) {
	now := s.now()
	window := s.healthWindow()
	var rs []api.HealthReason
	add := func(code string, since time.Time, format string, a ...any) {
		rs = append(rs, api.HealthReason{Code: code, Message: fmt.Sprintf(format, a...), Since: since.UTC()})
	}
	switch {
	case s.stopped.Load():
		add(reasonDraining, time.Time{}, "shutting down: finishing in-flight commits")
	case !s.running.Load():
		add(reasonStarting, time.Time{}, "not serving yet")
	}
	h := &s.health
	h.mu.Lock()
	if f := h.commitFailing; !f.since.IsZero() {
		add(reasonCommitFailing, f.since, "the last %d store commits failed (the last at %s): %s; no lease is acknowledged until a commit succeeds",
			f.count, stamp(f.last), f.err)
	}
	for _, fam := range sortedKeys(h.listenerDown) {
		f := h.listenerDown[fam]
		add(reasonListenerDown, f.since, "%s socket reader stopped at %s: %s; restart leased", fam, stamp(f.last), f.err)
	}
	if r := h.commitLastRun; h.commitFailing.since.IsZero() && !r.since.IsZero() && now.Sub(h.commitRecovered) <= window {
		add(reasonCommitErrors, r.since, "%d store commits failed from %s to %s: %s; commits succeed again since %s (reported for %s after recovery)",
			r.count, stamp(r.since), stamp(r.last), r.err, stamp(h.commitRecovered), window)
	}
	if f := h.compaction; !f.since.IsZero() {
		add(reasonCompactionFailed, f.since, "the last %d store compactions failed (the last at %s): %s; the store grows until one succeeds",
			f.count, stamp(f.last), f.err)
	}
	for _, fam := range sortedKeys(h.readErrors) {
		f := h.readErrors[fam]
		if now.Sub(f.last) <= window {
			add(reasonListenerErrors, f.since, "%d %s socket reads failed (the last at %s, within the last %s): %s",
				f.count, fam, stamp(f.last), window, f.err)
		}
	}
	for _, fam := range sortedKeys(h.clusterReads) {
		f := h.clusterReads[fam]
		if now.Sub(f.last) <= window {
			add(reasonClusterReads, f.since, "%d %s cluster read-throughs failed, their packets dropped (the last at %s, within the last %s): %s",
				f.count, fam, stamp(f.last), window, f.err)
		}
	}
	if f := h.reload; !f.since.IsZero() {
		add(reasonReloadFailed, f.since, "%s (at %s)", f.err, stamp(f.last))
	}
	if f := h.restart; !f.since.IsZero() {
		add(reasonRestartNeeded, f.since, "%s (reloaded at %s)", f.err, stamp(f.last))
	}
	h.mu.Unlock()
	for _, msg := range s.interfacesDown() {
		add(reasonInterfaceDown, time.Time{}, "%s", msg)
	}
	s.clusterHealth(add) // cluster.go

	sev := map[string]string{}
	for _, r := range healthReasons {
		sev[r.code] = r.severity
	}
	status := healthOK
	for i := range rs {
		rs[i].Severity = sev[rs[i].Code]
		if rs[i].Severity == healthFailing {
			status = healthFailing
		} else if status == healthOK {
			status = healthDegraded
		}
	}
	return status, rs
}

// interfacesDown says, per served interface (DHCPv4 and DHCPv6) that is
// gone, administratively down or without carrier, what is wrong. Clients
// on that link get no answers while it lasts. One link dump per call.
func (s *Server) interfacesDown() []string {
	type served struct {
		name  string
		index int
	}
	var want []served
	for _, ifc := range s.ifaces {
		want = append(want, served{ifc.name, ifc.index})
	}
	if s.v6 != nil {
		for _, ifc := range s.v6.ifaces {
			if !slices.ContainsFunc(want, func(w served) bool { return w.index == ifc.index }) {
				want = append(want, served{ifc.name, ifc.index})
			}
		}
	}
	if len(want) == 0 {
		return nil
	}
	ifs, err := net.Interfaces()
	if err != nil {
		return nil // cannot tell; the sockets' own errors are reported
	}
	var out []string
	for _, w := range want {
		i := slices.IndexFunc(ifs, func(ni net.Interface) bool { return ni.Index == w.index })
		switch {
		case i < 0:
			out = append(out, fmt.Sprintf("interface %s (index %d) is gone; restart leased once it is back", w.name, w.index))
		case ifs[i].Flags&net.FlagUp == 0:
			out = append(out, fmt.Sprintf("interface %s is administratively down: its clients get no answers", w.name))
		case ifs[i].Flags&net.FlagRunning == 0:
			out = append(out, fmt.Sprintf("interface %s has no carrier (link down): its clients get no answers", w.name))
		}
	}
	return out
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func sortedKeys(m map[string]fault) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// healthSummary joins the reasons' messages (api.Health.Message).
func healthSummary(rs []api.HealthReason) string {
	ms := make([]string, len(rs))
	for i, r := range rs {
		ms[i] = r.Code + ": " + r.Message
	}
	return strings.Join(ms, "; ")
}

// healthCollector reports the health at scrape time:
// leased_health_status{status} (1 for the current status, 0 for the other
// two) and leased_health_reason{reason} (1 while the reason holds), every
// label value always present.
type healthCollector struct{ s *Server }

var (
	descHealthStatus = prometheus.NewDesc("leased_health_status",
		"Health as GET /v1/health reports it: 1 for the current status (ok, degraded, failing), 0 for the others.",
		[]string{"status"}, nil)
	descHealthReason = prometheus.NewDesc("leased_health_reason",
		"1 while a health reason holds (see docs/operator-guide.md, Health), else 0.",
		[]string{"reason", "severity"}, nil)
)

func (c healthCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descHealthStatus
	ch <- descHealthReason
}

func (c healthCollector) Collect(ch chan<- prometheus.Metric) {
	status, rs := c.s.healthStatus()
	for _, st := range []string{healthOK, healthDegraded, healthFailing} {
		ch <- prometheus.MustNewConstMetric(descHealthStatus, prometheus.GaugeValue, b2f(st == status), st)
	}
	for _, r := range healthReasons {
		on := false
		for _, x := range rs {
			on = on || x.Code == r.code
		}
		ch <- prometheus.MustNewConstMetric(descHealthReason, prometheus.GaugeValue, b2f(on), r.code, r.severity)
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
