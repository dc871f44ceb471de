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
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/leased/leased/config"
	"github.com/leased/leased/dhcpv4"
	"github.com/leased/leased/dhcpv6"
	"github.com/leased/leased/lease"
	"github.com/leased/leased/leasequery"
	"github.com/leased/leased/server"
)

// lqSource implements leasequery.Source with a *server.Server.
type lqSource struct {
	srv   *server.Server
	pools *poolCache
}

// poolCache keeps the pools' names and subnets for 10 s: Server.Pools
// counts every lease, too much to do for each query.
type poolCache struct {
	mu   sync.Mutex
	at   time.Time
	list []lease.PoolStats
}

func (c *poolCache) get(srv *server.Server) []lease.PoolStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.list == nil || time.Since(c.at) > 10*time.Second {
		c.list, c.at = srv.Pools(), time.Now()
	}
	return c.list
}

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
	for _, p := range s.pools.get(s.srv) {
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

func (s lqSource) poolSubnets() map[string]netip.Prefix {
	m := map[string]netip.Prefix{}
	for _, p := range s.pools.get(s.srv) {
		m[p.Name] = p.Subnet
	}
	return m
}

func (s lqSource) Bindings6(f func(*leasequery.Binding6) bool) {
	subnets := s.poolSubnets()
	for _, l := range s.srv.Leases(lease.Filter{}) {
		if !l.IsV6() {
			continue
		}
		b := leasequery.Binding6{Binding: bindingOf(&l), Link: subnets[l.Pool]}
		if !f(&b) {
			return
		}
	}
}

func (s lqSource) Links6() []netip.Prefix {
	var out []netip.Prefix
	for _, p := range s.pools.get(s.srv) {
		if p.Subnet.Addr().Is6() {
			out = append(out, p.Subnet)
		}
	}
	return out
}

// startLeaseQuery installs the DHCPv4 and DHCPv6 hooks and starts the
// bulk listeners that are not off. It returns their addresses.
func startLeaseQuery(ctx context.Context, lc *config.LeaseQuery, srv *server.Server, log *slog.Logger, reg prometheus.Registerer) ([]net.Addr, error) {
	log = log.With("component", "leasequery")
	m, err := leasequery.NewMetrics(reg)
	if err != nil {
		return nil, err
	}
	allowed := leasequery.Requestors(lc.Prefixes())
	src := lqSource{srv: srv, pools: &poolCache{}}
	s4 := &leasequery.Server4{Source: src}
	// Queries on the DHCP ports are answered by one worker off the reader
	// goroutines (a query by MAC or client id scans the leases); a full
	// queue drops the query (counted).
	work := make(chan func(), 64)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case f := <-work:
				f()
			}
		}
	}()
	queue := func(family string, f func()) {
		select {
		case work <- f:
		default:
			m.Count(family, "udp", "dropped")
		}
	}
	srv.SetLeaseQuery4(func(pkt []byte, local netip.Addr, reply func([]byte)) {
		queue("4", func() {
			var msg dhcpv4.Message
			if err := msg.Decode(pkt); err != nil {
				m.Count("4", "udp", "malformed")
				return
			}
			// RFC 4388 §6.3: the answer goes to giaddr; only configured
			// requestors get one.
			if !allowed.Allowed(msg.GIAddr) {
				m.Count("4", "udp", "refused")
				log.Warn("leasequery: requestor not allowed", "giaddr", msg.GIAddr)
				return
			}
			a, err := s4.Query(time.Now(), &msg, local)
			if err != nil || len(a.Replies) != 1 {
				m.Count("4", "udp", "error")
				log.Warn("leasequery: no answer", "giaddr", msg.GIAddr, "err", err)
				return
			}
			m.Count("4", "udp", a.Kind)
			log.Info("leasequery: answered", "giaddr", msg.GIAddr, "xid", fmt.Sprintf("%#08x", msg.XID), "answer", a.Kind)
			reply(a.Replies[0])
		})
	})
	var s6 *leasequery.Server6
	if duid := srv.ServerDUID(); len(duid) > 0 {
		// Relay-ID, Remote-ID and relay data from the bindings' return paths.
		s6 = &leasequery.Server6{Source: src, ServerID: duid, Relays: server.RelayData6}
		srv.SetLeaseQuery6(func(pkt []byte, from netip.Addr, reply func([]byte)) {
			queue("6", func() {
				if !allowed.Allowed(from) {
					m.Count("6", "udp", "refused")
					log.Warn("leasequery: requestor not allowed", "from", from)
					return
				}
				var msg dhcpv6.Message
				if err := msg.Decode(pkt); err != nil {
					m.Count("6", "udp", "malformed")
					return
				}
				out, kind, err := s6.Query(time.Now(), &msg)
				if err != nil {
					m.Count("6", "udp", "error")
					log.Warn("leasequery: no answer", "from", from, "err", err)
					return
				}
				m.Count("6", "udp", kind)
				log.Info("leasequery: answered", "family", 6, "from", from, "xid", fmt.Sprintf("%#06x", msg.TransactionID), "answer", kind)
				reply(out)
			})
		})
	}
	var addrs []net.Addr
	for _, l := range []struct {
		family int
		addr   string
		key    string
		answer func(time.Time, netip.Addr, netip.Addr, []byte, func([]byte) error) (string, error)
	}{{4, lc.BulkListen, "bulk_listen", s4.Answer4}, {6, lc.BulkListen6, "bulk_listen6", nil}} {
		if l.family == 6 && s6 != nil {
			l.answer = s6.Answer6
		}
		if l.addr == "off" || l.answer == nil {
			continue
		}
		ln, err := net.Listen("tcp", l.addr)
		if err != nil {
			return addrs, fmt.Errorf("leasequery.%s: %w", l.key, err)
		}
		bs := &leasequery.BulkServer{Family: l.family, Answer: l.answer, Requestors: allowed, MaxConns: lc.MaxConnections,
			Log: log, Metrics: m}
		go func() {
			if err := bs.Serve(ctx, ln); err != nil {
				log.Error("leasequery: bulk listener stopped", "family", bs.Family, "err", err)
			}
		}()
		addrs = append(addrs, ln.Addr())
	}
	return addrs, nil
}
