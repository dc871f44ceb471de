package main

// Leasequery (package leasequery) on top of the server's public methods:
// the Source adapter, the DHCPv4 hook on the DHCP port and the bulk TCP
// listener. A rename in server/ touches only this file.

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/leased/leased/config"
	"github.com/leased/leased/dhcpv4"
	"github.com/leased/leased/lease"
	"github.com/leased/leased/leasequery"
	"github.com/leased/leased/server"
)

// lqSource implements leasequery.Source with a *server.Server.
type lqSource struct{ srv *server.Server }

var _ leasequery.Source = lqSource{}

func bindingOf(l *lease.Lease) leasequery.Binding {
	b := leasequery.Binding{Addr: l.Addr, PrefixLen: l.PrefixLen, HType: l.HType, HWAddr: l.HWAddr,
		RelayInfo: l.RelayInfo, Start: l.Start, Expiry: l.Expiry, T1: l.T1, T2: l.T2, Preferred: l.Preferred, IAID: l.IAID}
	// lease.Lease.ClientID is option 61 when sent, else htype+chaddr: only
	// the former is the client's identifier (RFC 4388 §6.4.1).
	if l.IsV6() || !(len(l.ClientID) == 1+len(l.HWAddr) && l.ClientID[0] == l.HType && bytes.Equal(l.ClientID[1:], l.HWAddr)) {
		b.ClientID = l.ClientID
	}
	switch l.State {
	case lease.StateBound:
		b.State = leasequery.Active
	case lease.StateReleased:
		b.State = leasequery.Released
	case lease.StateExpired:
		b.State = leasequery.Expired
	case lease.StateDeclined, lease.StateQuarantined:
		b.State = leasequery.Abandoned
	default:
		b.State = leasequery.Available
	}
	return b
}

func (s lqSource) Lookup4(a netip.Addr) (leasequery.Binding, bool, bool) {
	managed := false
	for _, p := range s.srv.Pools() {
		if p.Subnet.Contains(a) {
			managed = true
			break
		}
	}
	l, ok := s.srv.Lookup(a)
	if !ok || l.IsV6() || l.State == lease.StateDeleted || l.State == lease.StateOffered || l.State == lease.StateFree {
		return leasequery.Binding{}, false, managed
	}
	return bindingOf(&l), true, managed
}

func (s lqSource) Bindings4(f func(*leasequery.Binding) bool) {
	for _, l := range s.srv.Leases(lease.Filter{}) {
		if l.IsV6() {
			continue
		}
		b := bindingOf(&l)
		if !f(&b) {
			return
		}
	}
}

// startLeaseQuery installs the DHCPv4 hook and starts the bulk listener
// (unless bulk_listen is off). It returns the bulk address (nil when off).
func startLeaseQuery(ctx context.Context, lc *config.LeaseQuery, srv *server.Server, log *slog.Logger, reg prometheus.Registerer) (net.Addr, error) {
	log = log.With("component", "leasequery")
	m, err := leasequery.NewMetrics(reg)
	if err != nil {
		return nil, err
	}
	allowed := leasequery.Requestors(lc.Prefixes())
	s4 := &leasequery.Server4{Source: lqSource{srv}}
	srv.SetLeaseQuery4(func(msg *dhcpv4.Message, local netip.Addr) []byte {
		// RFC 4388 §6.3: the answer goes to giaddr; only configured
		// requestors get one.
		if !allowed.Allowed(msg.GIAddr) {
			m.Count("4", "udp", "refused")
			log.Warn("leasequery: requestor not allowed", "giaddr", msg.GIAddr)
			return nil
		}
		a, err := s4.Query(time.Now(), msg, local)
		if err != nil || len(a.Replies) != 1 {
			m.Count("4", "udp", "error")
			log.Warn("leasequery: no answer", "giaddr", msg.GIAddr, "err", err)
			return nil
		}
		m.Count("4", "udp", a.Kind)
		log.Info("leasequery: answered", "giaddr", msg.GIAddr, "xid", fmt.Sprintf("%#08x", msg.XID), "answer", a.Kind)
		return a.Replies[0]
	})
	if lc.BulkListen == "off" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", lc.BulkListen)
	if err != nil {
		return nil, fmt.Errorf("leasequery.bulk_listen: %w", err)
	}
	bs := &leasequery.BulkServer{Family: 4, Answer: s4.Answer4, Requestors: allowed, MaxConns: lc.MaxConnections,
		Log: log, Metrics: m}
	go func() {
		if err := bs.Serve(ctx, ln); err != nil {
			log.Error("leasequery: bulk listener stopped", "err", err)
		}
	}()
	return ln.Addr(), nil
}
