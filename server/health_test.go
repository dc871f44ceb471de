package server

import (
	"errors"
	"iter"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/leased/leased/api"
	"github.com/leased/leased/dhcpv4"
	"github.com/leased/leased/internal/netns"
	"github.com/leased/leased/lease"
	"github.com/leased/leased/store"
)

// healthGauges returns every leased_health_status and leased_health_reason
// sample as "name{value}" → value (value: the status or the reason label).
func healthGauges(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "leased_health_status" && mf.GetName() != "leased_health_reason" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "status" || lp.GetName() == "reason" {
					out[mf.GetName()+"{"+lp.GetValue()+"}"] = m.GetGauge().GetValue()
				}
			}
		}
	}
	return out
}

// collectHealth is healthGauges from healthCollector.Collect called on
// this goroutine.
func collectHealth(t *testing.T, s *Server) map[string]float64 {
	ch := make(chan prometheus.Metric, 64)
	healthCollector{s}.Collect(ch)
	close(ch)
	out := map[string]float64{}
	for m := range ch {
		var d dto.Metric
		if err := m.Write(&d); err != nil {
			t.Error(err)
			continue
		}
		name := "leased_health_status"
		if strings.Contains(m.Desc().String(), `"leased_health_reason"`) {
			name = "leased_health_reason"
		}
		for _, lp := range d.GetLabel() {
			if lp.GetName() == "status" || lp.GetName() == "reason" {
				out[name+"{"+lp.GetValue()+"}"] = d.GetGauge().GetValue()
			}
		}
	}
	return out
}

// checkHealth compares Health and the gauges with the wanted status and
// reason codes (in order).
func checkHealth(t *testing.T, s *Server, status string, codes ...string) api.Health {
	t.Helper()
	h := s.Health()
	var got []string
	for _, r := range h.Reasons {
		got = append(got, r.Code)
	}
	if h.Status != status || strings.Join(got, ",") != strings.Join(codes, ",") {
		t.Errorf("health %s %v, want %s %v (message %q)", h.Status, got, status, codes, h.Message)
	}
	g := healthGauges(t, s.Registry())
	// Every label value is always present.
	if len(g) != 3+len(healthReasons) {
		t.Errorf("health gauges %v: want 3 statuses and %d reasons", g, len(healthReasons))
	}
	for _, st := range []string{"ok", "degraded", "failing"} {
		want := 0.0
		if st == status {
			want = 1
		}
		if v, ok := g["leased_health_status{"+st+"}"]; !ok || v != want {
			t.Errorf("leased_health_status{status=%q} = %v (present %v), want %v", st, v, ok, want)
		}
	}
	for _, r := range healthReasons {
		want := 0.0
		for _, c := range codes {
			if c == r.code {
				want = 1
			}
		}
		if v, ok := g["leased_health_reason{"+r.code+"}"]; !ok || v != want {
			t.Errorf("leased_health_reason{reason=%q} = %v (present %v), want %v", r.code, v, ok, want)
		}
	}
	return h
}

// TestHealthStoreCommits: while commits fail the server is failing (the
// metric too); after a commit succeeds it is degraded for HealthWindow,
// then ok.
func TestHealthStoreCommits(t *testing.T) {
	st := &memStore{}
	eng := newScriptEngine()
	const window = 400 * time.Millisecond
	s, relay, stop := startServer(t, eng, st, func(o *Options) { o.HealthWindow = window })
	waitFor(t, "running", func() bool { return s.running.Load() })
	checkHealth(t, s, "ok")

	relay.send(clientMsg{typ: dhcpv4.Discover, xid: 1, mac: mac1})
	if _, _, ok := relay.recv(2 * time.Second); !ok {
		t.Fatal("no OFFER")
	}
	st.fail.Store(true)
	req := clientMsg{typ: dhcpv4.Request, xid: 2, mac: mac1, reqIP: netip.MustParseAddr("127.0.0.100")}
	for range 2 {
		relay.send(req)
		if m, _, ok := relay.recv(300 * time.Millisecond); ok {
			t.Fatalf("got %v although the commit failed", m.Type())
		}
	}
	h := checkHealth(t, s, "failing", reasonCommitFailing)
	if len(h.Reasons) == 1 {
		r := h.Reasons[0]
		if r.Severity != "failing" || !strings.Contains(r.Message, errDisk.Error()) ||
			!strings.Contains(r.Message, "the last 2 store commits failed") || r.Since.IsZero() {
			t.Errorf("reason %+v", r)
		}
		if !strings.Contains(h.Message, reasonCommitFailing+": ") {
			t.Errorf("message %q", h.Message)
		}
	}
	// Still failing after the window: the last commit failed, nothing has
	// shown the store works again.
	time.Sleep(window + 50*time.Millisecond)
	checkHealth(t, s, "failing", reasonCommitFailing)

	st.fail.Store(false)
	relay.send(req)
	if m, _, ok := relay.recv(2 * time.Second); !ok || m.Type() != dhcpv4.Ack {
		t.Fatal("no ACK after recovery")
	}
	h = checkHealth(t, s, "degraded", reasonCommitErrors)
	if len(h.Reasons) == 1 && (h.Reasons[0].Severity != "degraded" || !strings.Contains(h.Reasons[0].Message, errDisk.Error())) {
		t.Errorf("reason %+v", h.Reasons[0])
	}
	deadline := time.Now().Add(5 * time.Second)
	for s.Health().Status != "ok" && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	checkHealth(t, s, "ok")

	stop()
	checkHealth(t, s, "failing", reasonDraining)
}

// compactFailStore is a memStore whose Compact fails while fail is set.
type compactFailStore struct {
	*memStore
	compactFail atomic.Bool
}

func (c *compactFailStore) Compact(all iter.Seq[lease.Lease], blobs iter.Seq[store.Blob]) error {
	if c.compactFail.Load() {
		return errors.New("test: compaction: no space left on device")
	}
	return c.memStore.Compact(all, blobs)
}

// TestHealthCompactionAndListener: a failed compaction degrades until one
// succeeds; a socket reader that stops on a closed socket makes the
// server failing.
func TestHealthCompactionAndListener(t *testing.T) {
	ms := &memStore{}
	st := &compactFailStore{memStore: ms}
	eng := newScriptEngine()
	opts := Options{Interfaces: []string{"lo"}, Port: -1, Engine: eng, Store: st, Logger: testLogger(t), Registry: prometheus.NewRegistry(), Readers: 2}
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	checkHealth(t, s, "failing", reasonStarting)
	s.running.Store(true) // as Run does; the readers are started below
	st.compactFail.Store(true)
	if err := s.compact(); err == nil {
		t.Fatal("compaction did not fail")
	}
	h := checkHealth(t, s, "degraded", reasonCompactionFailed)
	if len(h.Reasons) == 1 && !strings.Contains(h.Reasons[0].Message, "no space left") {
		t.Errorf("reason %+v", h.Reasons[0])
	}
	st.compactFail.Store(false)
	if err := s.compact(); err != nil {
		t.Fatal(err)
	}
	checkHealth(t, s, "ok")

	done := make(chan struct{})
	go func() {
		defer close(done)
		s.l4.readLoop()
	}()
	s.conn.Close()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("reader did not stop on a closed socket")
	}
	h = checkHealth(t, s, "failing", reasonListenerDown)
	if len(h.Reasons) == 1 && !strings.Contains(h.Reasons[0].Message, "dhcpv4 socket reader stopped") {
		t.Errorf("reason %+v", h.Reasons[0])
	}
	s.closeRaw()
}

// TestHealthReload: a failed reload degrades with its error and time until
// a reload succeeds.
func TestHealthReload(t *testing.T) {
	st := &memStore{}
	s, _, _ := startServer(t, newScriptEngine(), st, nil)
	waitFor(t, "running", func() bool { return s.running.Load() })
	s.ReloadResult("/etc/leased/leased.yaml", errors.New("leased.yaml:3: dhcpv4.pools[0].gateway: bad"))
	h := checkHealth(t, s, "degraded", reasonReloadFailed)
	if len(h.Reasons) == 1 {
		r := h.Reasons[0]
		if !strings.Contains(r.Message, "reload of /etc/leased/leased.yaml failed, still running the previous configuration: leased.yaml:3: dhcpv4.pools[0].gateway: bad (at 20") || r.Since.IsZero() {
			t.Errorf("reason %+v", r)
		}
	}
	s.ReloadResult("/etc/leased/leased.yaml", nil)
	checkHealth(t, s, "ok")

	s.RestartNeeded("/etc/leased/leased.yaml", []string{"dhcpv4.interfaces/port", "data_dir/control/store"})
	h = checkHealth(t, s, "degraded", reasonRestartNeeded)
	if len(h.Reasons) == 1 && !strings.Contains(h.Reasons[0].Message,
		"/etc/leased/leased.yaml changes dhcpv4.interfaces/port, data_dir/control/store, which only a restart applies") {
		t.Errorf("reason %+v", h.Reasons[0])
	}
	s.RestartNeeded("/etc/leased/leased.yaml", nil)
	checkHealth(t, s, "ok")
}

// TestHealthInterfaceDown: a served interface without carrier (its veth
// peer down) or administratively down degrades health, in the API and the
// metric, until it is up again.
func TestHealthInterfaceDown(t *testing.T) {
	netns.Require(t)
	topo := netns.New(t)
	var s *Server
	if err := topo.Server.Do(func() error {
		var err error
		s, err = New(Options{Interfaces: []string{netns.ServerIf}, Port: -1, Engine: newScriptEngine(), Store: &memStore{},
			Logger: testLogger(t), Registry: prometheus.NewRegistry()})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.closeConn(); s.closeRaw() })
	s.running.Store(true) // serving as far as health is concerned
	// Health and the gauges as seen from the server's namespace.
	get := func() (api.Health, map[string]float64) {
		t.Helper()
		var h api.Health
		var g map[string]float64
		if err := topo.Server.Do(func() error {
			// Registry.Gather runs collectors on goroutines of its own,
			// outside this namespace: collect on this one.
			h, g = s.Health(), collectHealth(t, s)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return h, g
	}
	want := func(status, msg string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			h, g := get()
			ok := h.Status == status && (msg == "" && len(h.Reasons) == 0 ||
				len(h.Reasons) == 1 && h.Reasons[0].Code == reasonInterfaceDown && strings.Contains(h.Reasons[0].Message, msg))
			on := 0.0
			if msg != "" {
				on = 1
			}
			if ok && g["leased_health_reason{"+reasonInterfaceDown+"}"] == on && g["leased_health_status{"+status+"}"] == 1 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("health %s %+v gauges %v, want %s %q", h.Status, h.Reasons, g, status, msg)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	want("ok", "")
	topo.Client.MustRun("ip", "link", "set", netns.ClientIf, "down")
	want("degraded", "interface "+netns.ServerIf+" has no carrier")
	topo.Client.MustRun("ip", "link", "set", netns.ClientIf, "up")
	want("ok", "")
	topo.Server.MustRun("ip", "link", "set", netns.ServerIf, "down")
	want("degraded", "interface "+netns.ServerIf+" is administratively down")
	topo.Server.MustRun("ip", "link", "set", netns.ServerIf, "up")
	want("ok", "")
}
