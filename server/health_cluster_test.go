package server

import (
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// TestHealthClusterReads: a failed cluster read-through (its packet
// dropped) makes the server degraded with cluster_read_errors for the
// health window, even though no commit failed: a server that only dropped
// DISCOVERs during a database outage must not report ok (the e2e stand-by
// fail-over showed one that did).
func TestHealthClusterReads(t *testing.T) {
	var now atomic.Int64
	now.Store(time.Date(2026, 12, 4, 15, 0, 0, 0, time.UTC).UnixNano())
	clock := func() time.Time { return time.Unix(0, now.Load()) }
	opts := Options{Interfaces: []string{"lo"}, Port: -1, Engine: newScriptEngine(), Store: &memStore{},
		Logger: testLogger(t), Registry: prometheus.NewRegistry(), Readers: 1, Now: clock, HealthWindow: time.Minute}
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.closeRaw()
	defer s.conn.Close()
	s.running.Store(true)
	checkHealth(t, s, "ok")

	s.readThroughFailed("dhcpv4", errors.New("context deadline exceeded"))
	now.Add(int64(10 * time.Second))
	s.readThroughFailed("dhcpv4", errors.New("context deadline exceeded"))
	h := checkHealth(t, s, "degraded", reasonClusterReads)
	if r := h.Reasons[0]; !strings.Contains(r.Message, "2 dhcpv4 cluster read-throughs failed") || r.Severity != "degraded" {
		t.Errorf("reason %+v", r)
	}
	if g := collectHealth(t, s); g["leased_health_reason{"+reasonClusterReads+"}"] != 1 {
		t.Errorf("leased_health_reason{%s} = %v", reasonClusterReads, g["leased_health_reason{"+reasonClusterReads+"}"])
	}
	now.Add(int64(61 * time.Second))
	checkHealth(t, s, "ok")
}
