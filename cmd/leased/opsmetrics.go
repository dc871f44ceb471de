package main

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/leased/leased/internal/buildinfo"
)

// opsMetrics are the daemon's own metrics: which build runs, and how its
// configuration reloads went.
type opsMetrics struct {
	reloads     *prometheus.CounterVec
	lastSuccess prometheus.Gauge
}

func newOpsMetrics(reg prometheus.Registerer, started time.Time) *opsMetrics {
	info := buildinfo.Get()
	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "leased_build_info",
		Help: "Always 1; the labels say which build of leased runs (version, Go version, VCS revision).",
		ConstLabels: prometheus.Labels{"version": info.Version, "goversion": info.GoVersion,
			"revision": info.ShortRevision()},
	})
	build.Set(1)
	m := &opsMetrics{
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "leased_config_reloads_total",
			Help: "Configuration reloads (SIGHUP), by result: success (applied; parts that need a restart or that the DHCPv6 engine refused are in health) or failure (the file or the DHCPv4 engine refused it; the running configuration kept).",
		}, []string{"result"}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "leased_config_last_reload_success_timestamp_seconds",
			Help: "Unix time of the last configuration load that was applied (the start, then each successful reload).",
		}),
	}
	m.reloads.WithLabelValues("success")
	m.reloads.WithLabelValues("failure")
	m.lastSuccess.Set(float64(started.UnixNano()) / 1e9)
	reg.MustRegister(build, m.reloads, m.lastSuccess)
	return m
}

// reloaded counts one reload; ok when the configuration was applied.
func (m *opsMetrics) reloaded(ok bool, now time.Time) {
	if !ok {
		m.reloads.WithLabelValues("failure").Inc()
		return
	}
	m.lastSuccess.Set(float64(now.UnixNano()) / 1e9) // before the count, so a watcher of the count finds it set
	m.reloads.WithLabelValues("success").Inc()
}
