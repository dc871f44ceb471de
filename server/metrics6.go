package server

import (
	"strconv"

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

	// status counts Status Code options sent (RFC 8415 §21.13) by code:
	// leased_status_codes_total{family="dhcpv6",status}.
	status      [numStatus6]prometheus.Counter
	statusOther *prometheus.CounterVec // a code the engine never sends today
}

// statusNames6 are the status codes of RFC 8415 §21.13 by value; the
// engine (lease6) sends all of them but UnspecFail, which is therefore
// not initialised (an exported series that cannot move would mislead).
var statusNames6 = [...]string{
	dhcpv6.StatusSuccess:       "Success",
	dhcpv6.StatusUnspecFail:    "UnspecFail",
	dhcpv6.StatusNoAddrsAvail:  "NoAddrsAvail",
	dhcpv6.StatusNoBinding:     "NoBinding",
	dhcpv6.StatusNotOnLink:     "NotOnLink",
	dhcpv6.StatusUseMulticast:  "UseMulticast",
	dhcpv6.StatusNoPrefixAvail: "NoPrefixAvail",
}

const numStatus6 = len(statusNames6)

// statusSent counts the Status Code options of a sent reply: the
// message-level one and each IA's.
func (m *metrics6) statusSent(r *lease6.Reply) {
	if r.HasStatus {
		m.countStatus(r.Status)
	}
	for i := range r.IAs {
		if r.IAs[i].HasStatus {
			m.countStatus(r.IAs[i].Status)
		}
	}
}

func (m *metrics6) countStatus(code uint16) {
	if int(code) < numStatus6 && m.status[code] != nil {
		m.status[code].Inc()
		return
	}
	name := strconv.Itoa(int(code))
	if int(code) < numStatus6 {
		name = statusNames6[code]
	}
	m.statusOther.WithLabelValues(name).Inc()
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
	statusVec := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "leased_status_codes_total",
		Help: "DHCPv6 Status Code options sent (RFC 8415 §21.13), message-level and per IA, by status " +
			"(the DHCPv6 counterpart of leased_naks_total).",
		ConstLabels: family6,
	}, []string{"status"})
	m.statusOther = statusVec
	for _, c := range []uint16{dhcpv6.StatusSuccess, dhcpv6.StatusNoAddrsAvail, dhcpv6.StatusNoBinding,
		dhcpv6.StatusNotOnLink, dhcpv6.StatusUseMulticast, dhcpv6.StatusNoPrefixAvail} {
		m.status[c] = statusVec.WithLabelValues(statusNames6[c])
	}
	reg.MustRegister(recv, sent, via, m.dropped, m.reconfSent, m.reconfFailed, statusVec)
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
