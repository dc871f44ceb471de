package server

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/leased/leased/dhcpv4"
	"github.com/leased/leased/lease"
)

// Drop reasons (label values of leased_dhcpv4_packets_dropped_total). Engine
// decisions without a reply are counted as "engine_" + Decision.Drop.
const (
	dropDecode      = "decode"       // malformed packet
	dropBOOTP       = "bootp"        // no option 53: plain BOOTP is not served
	dropNotRequest  = "not_request"  // op is not BOOTREQUEST
	dropBadType     = "bad_type"     // a server-to-client message type from a client
	dropInterface   = "interface"    // arrived on an interface we do not serve
	dropOverload    = "overload"     // all in-flight commit slots busy
	dropCommit      = "commit_error" // store commit failed: no reply
	dropEncode      = "encode"       // reply could not be encoded
	dropSend        = "send_error"   // the kernel refused the reply
	dropShuttingDwn = "shutdown"     // arrived while draining
)

type metrics struct {
	received      [10]prometheus.Counter // by message type 0..9 (0: unknown)
	sent          [10]prometheus.Counter
	sentVia       *prometheus.CounterVec
	dropped       *prometheus.CounterVec
	dropFixed     map[string]prometheus.Counter
	commitFail    prometheus.Counter
	commitLatency prometheus.Histogram
	committed     prometheus.Counter
	inflight      prometheus.Gauge
	expired       prometheus.Counter
	compactions   *prometheus.CounterVec

	forceRenewSent   prometheus.Counter
	forceRenewFailed *prometheus.CounterVec
}

func newMetrics(reg *prometheus.Registry, pools func() []lease.PoolStats) *metrics {
	m := &metrics{
		sentVia: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "leased_dhcpv4_replies_sent_by_path_total",
			Help: "DHCPv4 replies sent, by delivery path (relay, unicast, broadcast, hardware).",
		}, []string{"path"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "leased_dhcpv4_packets_dropped_total",
			Help: "DHCPv4 packets received and not answered, by reason.",
		}, []string{"reason"}),
		commitFail: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "leased_store_commit_failures_total",
			Help: "Store commits that failed; the reply was not sent and the decision reverted.",
		}),
		commitLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "leased_store_commit_duration_seconds",
			Help:    "Time from handing records to the store to their being durable.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
		}),
		committed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "leased_store_records_committed_total",
			Help: "Lease records made durable.",
		}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "leased_dhcpv4_inflight_commits",
			Help: "Requests waiting for their records to become durable.",
		}),
		expired: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "leased_leases_expired_records_total",
			Help: "Records written by the expiry loop (expired leases, ended quarantines).",
		}),
		compactions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "leased_store_compactions_total",
			Help: "Store compactions, by result.",
		}, []string{"result"}),
		dropFixed: map[string]prometheus.Counter{},
		forceRenewSent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "leased_dhcpv4_forcerenew_sent_total",
			Help: "DHCPFORCERENEW messages sent (their replay value committed first).",
		}),
		forceRenewFailed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "leased_dhcpv4_forcerenew_failed_total",
			Help: "DHCPFORCERENEW requests that sent nothing, by reason.",
		}, []string{"reason"}),
	}
	for _, r := range []string{frNotFound, frNotBound, frNotCapable, frCommit, frEncode, frSend} {
		m.forceRenewFailed.WithLabelValues(r)
	}
	recv := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "leased_dhcpv4_packets_received_total",
		Help: "DHCPv4 client messages received and decoded, by message type.",
	}, []string{"type"})
	sent := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "leased_dhcpv4_replies_sent_total",
		Help: "DHCPv4 replies sent, by message type.",
	}, []string{"type"})
	for i := range m.received {
		name := "UNKNOWN"
		if i > 0 {
			name = dhcpv4.MessageType(i).String()
		}
		m.received[i] = recv.WithLabelValues(name)
		m.sent[i] = sent.WithLabelValues(name)
	}
	for _, r := range []string{dropDecode, dropBOOTP, dropNotRequest, dropBadType, dropInterface,
		dropOverload, dropCommit, dropEncode, dropSend, dropShuttingDwn} {
		m.dropFixed[r] = m.dropped.WithLabelValues(r)
	}
	reg.MustRegister(recv, sent, m.sentVia, m.dropped, m.commitFail, m.commitLatency,
		m.committed, m.inflight, m.expired, m.compactions, m.forceRenewSent, m.forceRenewFailed, &poolCollector{pools: pools})
	return m
}

func typeIndex(t dhcpv4.MessageType) int {
	if int(t) < 10 {
		return int(t)
	}
	return 0
}

// drop counts one dropped packet; reason is one of the drop* constants or
// an engine reason.
func (m *metrics) drop(reason string) {
	if c, ok := m.dropFixed[reason]; ok {
		c.Inc()
		return
	}
	m.dropped.WithLabelValues(reason).Inc()
}

func (m *metrics) observeCommit(d time.Duration) { m.commitLatency.Observe(d.Seconds()) }

// poolCollector reports pool utilisation at scrape time from the engine,
// so gauges follow pools added or removed by a reload.
type poolCollector struct {
	pools func() []lease.PoolStats
}

var (
	descPoolSize     = prometheus.NewDesc("leased_pool_addresses", "Assignable addresses in the pool.", []string{"pool"}, nil)
	descPoolBound    = prometheus.NewDesc("leased_pool_leases_bound", "Bound leases in the pool.", []string{"pool"}, nil)
	descPoolDeclined = prometheus.NewDesc("leased_pool_leases_declined", "Declined (quarantined) addresses in the pool.", []string{"pool"}, nil)
	descPoolOffered  = prometheus.NewDesc("leased_pool_leases_offered", "Addresses offered and not yet requested in the pool.", []string{"pool"}, nil)
)

func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descPoolSize
	ch <- descPoolBound
	ch <- descPoolDeclined
	ch <- descPoolOffered
}

func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	for _, p := range c.pools() {
		ch <- prometheus.MustNewConstMetric(descPoolSize, prometheus.GaugeValue, float64(p.Size), p.Name)
		ch <- prometheus.MustNewConstMetric(descPoolBound, prometheus.GaugeValue, float64(p.Bound), p.Name)
		ch <- prometheus.MustNewConstMetric(descPoolDeclined, prometheus.GaugeValue, float64(p.Declined), p.Name)
		ch <- prometheus.MustNewConstMetric(descPoolOffered, prometheus.GaugeValue, float64(p.Offered), p.Name)
	}
}
