package server

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/leased/leased/dhcpv6"
	"github.com/leased/leased/lease6"
)

// Delivery paths of a DHCPv6 datagram (outSpec.kind, the index into
// metrics6.sentVia: leased_replies_sent_by_path_total{family="dhcpv6",path}).
const (
	via6Relay  DestKind = iota // "relay": a Relay-reply to the outermost relay, routed
	via6Direct                 // "direct": to a client on a served link, out of its interface
	numVia6
)

// metrics6 are the DHCPv6 service's own counters; commit, expiry and pool
// metrics are shared with DHCPv4.
type metrics6 struct {
	received  [14]prometheus.Counter // by message type 0..13 (0: unknown)
	sent      [14]prometheus.Counter
	sentVia   [numVia6]prometheus.Counter // by delivery path
	dropped   *prometheus.CounterVec
	dropFixed map[string]prometheus.Counter

	reconfSent   prometheus.Counter
	reconfFailed *prometheus.CounterVec
}

func newMetrics6(reg prometheus.Registerer) *metrics6 {
	m := &metrics6{
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name:        "leased_packets_dropped_total",
			Help:        helpDropped,
			ConstLabels: family6,
		}, []string{"reason"}),
		dropFixed: map[string]prometheus.Counter{},
		reconfSent: prometheus.NewCounter(prometheus.CounterOpts{
			Name:        "leased_reconfigure_sent_total",
			Help:        helpReconfSent,
			ConstLabels: family6,
		}),
		reconfFailed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name:        "leased_reconfigure_failed_total",
			Help:        helpReconfFailed,
			ConstLabels: family6,
		}, []string{"reason"}),
	}
	for _, r := range []string{frNotFound, frNotBound, frNotCapable, frCommit, frEncode, frSend} {
		m.reconfFailed.WithLabelValues(r)
	}
	recv := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name:        "leased_packets_received_total",
		Help:        helpReceived,
		ConstLabels: family6,
	}, []string{"type"})
	sent := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name:        "leased_replies_sent_total",
		Help:        helpSent,
		ConstLabels: family6,
	}, []string{"type"})
	via := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name:        "leased_replies_sent_by_path_total",
		Help:        helpSentByPath,
		ConstLabels: family6,
	}, []string{"path"})
	m.sentVia[via6Relay], m.sentVia[via6Direct] = via.WithLabelValues("relay"), via.WithLabelValues("direct")
	for i := range m.received {
		name := "UNKNOWN"
		if i > 0 {
			name = dhcpv6.MessageType(i).String()
		}
		m.received[i] = recv.WithLabelValues(name)
		m.sent[i] = sent.WithLabelValues(name)
	}
	for _, r := range []string{drop6Decode, drop6Interface, drop6BadType, drop6NoClientID, drop6NoServerID,
		drop6ServerIDSet, drop6NotOurs, drop6Unicast, drop6Overload, drop6Commit, drop6Encode, drop6Send, drop6Shutdown} {
		m.dropFixed[r] = m.dropped.WithLabelValues(r)
	}
	// The engine's drop reasons that are not validation drops
	// (validationDrop6 counts those under the labels above).
	for _, r := range []string{lease6.DropNoPool, lease6.DropConfirmEmpty, lease6.DropInfoReqWithIA,
		lease6.DropNoReconfigureAccept, lease6.DropClassDenied} {
		m.dropFixed["engine_"+r] = m.dropped.WithLabelValues("engine_" + r)
	}
	reg.MustRegister(recv, sent, via, m.dropped, m.reconfSent, m.reconfFailed)
	return m
}

func typeIndex6(t dhcpv6.MessageType) int {
	if int(t) < 14 {
		return int(t)
	}
	return 0
}

func (m *metrics6) drop(reason string) {
	if c, ok := m.dropFixed[reason]; ok {
		c.Inc()
		return
	}
	m.dropped.WithLabelValues(reason).Inc()
}
