package server

import (
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/leased/leased/api"
	"github.com/leased/leased/dhcpv4"
	"github.com/leased/leased/lease"
)

// Drop reasons (label values of leased_packets_dropped_total{family="dhcpv4"}). Engine
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

// The per-family counters of DHCPv4 and DHCPv6 are one metric each with a
// family label ("dhcpv4", "dhcpv6"), so both families register the same
// name and help with their own constant label.
var (
	family4 = prometheus.Labels{"family": "dhcpv4"}
	family6 = prometheus.Labels{"family": "dhcpv6"}
)

const (
	helpReceived     = "Client messages received and decoded, by family and message type (DHCPv6: the innermost message)."
	helpSent         = "Messages sent to clients and relays, by family and message type (FORCERENEW and Reconfigure included)."
	helpSentByPath   = "Messages sent, by family and delivery path (dhcpv4: relay, unicast, broadcast, hardware; dhcpv6: relay, direct)."
	helpDropped      = "Packets received and not answered, by family and reason."
	helpReconfSent   = "Server-initiated reconfigure messages sent (DHCPv4 FORCERENEW, DHCPv6 Reconfigure), their replay value committed first."
	helpReconfFailed = "Reconfigure requests (FORCERENEW, Reconfigure) that sent nothing, by family and reason."
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
	naks             map[string]prometheus.Counter // by lease.NakReasons
	poolDrops        *poolDrops
}

func newMetrics(reg *prometheus.Registry, pools func() []lease.PoolStats) *metrics {
	m := &metrics{
		sentVia: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name:        "leased_replies_sent_by_path_total",
			Help:        helpSentByPath,
			ConstLabels: family4,
		}, []string{"path"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name:        "leased_packets_dropped_total",
			Help:        helpDropped,
			ConstLabels: family4,
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
			Name: "leased_inflight_commits",
			Help: "Requests (DHCPv4 and DHCPv6) waiting for their records to become durable.",
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
		poolDrops: &poolDrops{pools: pools},
		forceRenewSent: prometheus.NewCounter(prometheus.CounterOpts{
			Name:        "leased_reconfigure_sent_total",
			Help:        helpReconfSent,
			ConstLabels: family4,
		}),
		forceRenewFailed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name:        "leased_reconfigure_failed_total",
			Help:        helpReconfFailed,
			ConstLabels: family4,
		}, []string{"reason"}),
	}
	for _, r := range []string{frNotFound, frNotBound, frNotCapable, frCommit, frEncode, frSend} {
		m.forceRenewFailed.WithLabelValues(r)
	}
	naks := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name:        "leased_naks_total",
		Help:        "DHCPNAKs sent, by reason (the engine's; option 56 carries its text).",
		ConstLabels: family4,
	}, []string{"reason"})
	m.naks = map[string]prometheus.Counter{}
	for _, r := range lease.NakReasons() {
		m.naks[r] = naks.WithLabelValues(r)
	}
	recv := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name:        "leased_packets_received_total",
		Help:        helpReceived,
		ConstLabels: family4,
	}, []string{"type"})
	sent := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name:        "leased_replies_sent_total",
		Help:        helpSent,
		ConstLabels: family4,
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
	// Every label value that can occur starts at 0 (rate() and absent()
	// work from the first scrape): the engine's drop reasons, the
	// delivery paths, the compaction results.
	for _, r := range []string{lease.DropNoPool, lease.DropPoolExhausted, lease.DropOtherServer, lease.DropInitRebootUnknown,
		lease.DropRebindUnknown, lease.DropRebindForeign, lease.DropBadRequest, lease.DropNoClient, lease.DropUnknownType,
		lease.DropDeclineUnknown, lease.DropReleaseUnknown, lease.DropNotReconfigurable, lease.DropClassDenied,
		lease.DropBOOTPNotAllowed} {
		m.dropFixed["engine_"+r] = m.dropped.WithLabelValues("engine_" + r)
	}
	for _, k := range []DestKind{DestRelay, DestUnicast, DestBroadcast, DestHardware} {
		m.sentVia.WithLabelValues(k.String())
	}
	m.sentVia.WithLabelValues("nak_unicast_copy")
	m.compactions.WithLabelValues("ok")
	m.compactions.WithLabelValues("error")
	reg.MustRegister(recv, sent, naks, m.sentVia, m.dropped, m.commitFail, m.commitLatency,
		m.committed, m.inflight, m.expired, m.compactions, m.forceRenewSent, m.forceRenewFailed, &poolCollector{pools: pools}, m.poolDrops)
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

// Pool gauges: leased_pool_size{family,pool,kind} is what the pool can
// hand out and leased_pool_leases{family,pool,kind,state} splits it by
// state (free, offered, bound, declined: declined or quarantined,
// reserved: reserved for a client that holds none now; reserved addresses
// inside the ranges are part of the size and not free for others), so
// "pool 95 % full" is
//
//	sum without (state) (leased_pool_leases{state!="free"}) / leased_pool_size > 0.95
//
// kind is "addresses" (DHCPv4, DHCPv6 IA_NA) or "prefixes" (a DHCPv6
// pool's delegated prefixes, IA_PD: the engine's "<pool>/pd" entry).
var (
	poolLabels    = []string{"family", "pool", "kind"}
	descPoolSize  = prometheus.NewDesc("leased_pool_size", "Assignable addresses (kind=addresses) or delegable prefixes (kind=prefixes) of a pool.", poolLabels, nil)
	descPoolState = prometheus.NewDesc("leased_pool_leases", "Addresses or prefixes of a pool by state: free, offered (not yet requested), bound, declined (declined or quarantined), reserved (set aside for a client that holds none now).",
		append(slices.Clone(poolLabels), "state"), nil)
)

func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descPoolSize
	ch <- descPoolState
}

func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	for _, p := range c.pools() {
		family, kind, name := "dhcpv4", "addresses", p.Name
		if p.Subnet.Addr().Is6() {
			family = "dhcpv6"
			if n, ok := strings.CutSuffix(p.Name, api.PDSuffix); ok {
				kind, name = "prefixes", n
			}
		}
		free := max(p.Size-p.Bound-p.Declined-p.Offered-p.Reserved, 0)
		ch <- prometheus.MustNewConstMetric(descPoolSize, prometheus.GaugeValue, float64(p.Size), family, name, kind)
		for _, st := range [...]struct {
			state string
			n     int
		}{{"free", free}, {"offered", p.Offered}, {"bound", p.Bound}, {"declined", p.Declined}, {"reserved", p.Reserved}} {
			ch <- prometheus.MustNewConstMetric(descPoolState, prometheus.GaugeValue, float64(st.n), family, name, kind, st.state)
		}
	}
}
