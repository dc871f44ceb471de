package leasequery

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/leased/leased/dhcpv4"
)

// Requestors is the access list: the addresses allowed to query.
type Requestors []netip.Prefix

// Allowed reports whether a may query.
func (r Requestors) Allowed(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range r {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Metrics counts leasequery answers; one set per server, on a registry
// passed in.
type Metrics struct {
	queries *prometheus.CounterVec
}

// NewMetrics registers leased_leasequery_queries_total on reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{queries: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "leased_leasequery_queries_total",
		Help: "Leasequery requests by family (4, 6), transport (udp, tcp) and result (active, unassigned, unknown, the bulk query type, malformed, refused, error).",
	}, []string{"family", "transport", "result"})}
	if reg != nil {
		if err := reg.Register(m.queries); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// Count adds one query to the counter.
func (m *Metrics) Count(family, transport, result string) {
	if m != nil {
		m.queries.WithLabelValues(family, transport, result).Inc()
	}
}

// maxBulkMessage bounds one framed message (RFC 6926 §7.1: a 2-octet
// length precedes each message).
const maxBulkMessage = 0xffff

// BulkServer serves bulk leasequery on TCP: DHCPv4 (RFC 6926, port 67)
// or DHCPv6 (RFC 5460, port 547), with the same framing.
type BulkServer struct {
	// Family is 4 or 6.
	Family int
	// Answer answers one framed query; it calls emit per message.
	Answer func(now time.Time, from, local netip.Addr, msg []byte, emit func([]byte) error) (kind string, err error)
	// Requestors may connect; others are closed at once (RFC 6926 §8).
	Requestors Requestors
	// MaxConns bounds concurrent connections (RFC 6926 §7.2 lets a
	// server limit them); 0 means 10.
	MaxConns int
	// Idle closes a connection without a query for this long; 0 means
	// 60 s.
	Idle    time.Duration
	Log     *slog.Logger
	Metrics *Metrics

	mu    sync.Mutex
	conns int
}

// Serve accepts connections on ln until ctx ends; it closes ln then.
func (s *BulkServer) Serve(ctx context.Context, ln net.Listener) error {
	if s.MaxConns <= 0 {
		s.MaxConns = 10
	}
	if s.Idle <= 0 {
		s.Idle = 60 * time.Second
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	go func() {
		<-ctx.Done()
		ln.Close()
	}()
	fam := fmt.Sprint(s.Family)
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			return err
		}
		ap, _ := netip.ParseAddrPort(c.RemoteAddr().String())
		if !s.Requestors.Allowed(ap.Addr()) {
			s.Metrics.Count(fam, "tcp", "refused")
			s.Log.Warn("leasequery: connection from a requestor not allowed; closed", "family", s.Family, "from", ap)
			c.Close()
			continue
		}
		s.mu.Lock()
		full := s.conns >= s.MaxConns
		if !full {
			s.conns++
		}
		s.mu.Unlock()
		if full {
			s.Metrics.Count(fam, "tcp", "too_many_connections")
			s.Log.Warn("leasequery: too many bulk connections; closed", "family", s.Family, "from", ap, "max", s.MaxConns)
			c.Close()
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				s.mu.Lock()
				s.conns--
				s.mu.Unlock()
			}()
			local, _ := netip.ParseAddrPort(c.LocalAddr().String())
			s.serveConn(ctx, c, ap.Addr().Unmap(), local.Addr().Unmap())
		}()
	}
}

func (s *BulkServer) serveConn(ctx context.Context, c net.Conn, from, local netip.Addr) {
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	r := bufio.NewReader(c)
	w := bufio.NewWriter(c)
	fam := fmt.Sprint(s.Family)
	buf := make([]byte, maxBulkMessage)
	for {
		c.SetReadDeadline(time.Now().Add(s.Idle))
		var hdr [2]byte
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return // closed, idle or cut: nothing to answer
		}
		n := int(binary.BigEndian.Uint16(hdr[:]))
		if _, err := io.ReadFull(r, buf[:n]); err != nil {
			return
		}
		c.SetWriteDeadline(time.Now().Add(s.Idle))
		emit := func(msg []byte) error {
			if len(msg) > maxBulkMessage {
				return fmt.Errorf("message of %d octets", len(msg))
			}
			var l [2]byte
			binary.BigEndian.PutUint16(l[:], uint16(len(msg)))
			if _, err := w.Write(l[:]); err != nil {
				return err
			}
			_, err := w.Write(msg)
			return err
		}
		kind, err := s.Answer(time.Now(), from, local, buf[:n], emit)
		if err == nil {
			err = w.Flush()
		}
		if err != nil {
			s.Metrics.Count(fam, "tcp", "error")
			s.Log.Warn("leasequery: bulk answer cut", "family", s.Family, "from", from, "err", err)
			return
		}
		s.Metrics.Count(fam, "tcp", kind)
		s.Log.Info("leasequery: bulk query answered", "family", s.Family, "from", from, "query", kind)
	}
}

// Answer4 adapts Server4 to BulkServer.Answer: it decodes the DHCPv4
// message and answers it; an undecodable message ends the connection.
func (s *Server4) Answer4(now time.Time, _, local netip.Addr, msg []byte, emit func([]byte) error) (string, error) {
	var m dhcpv4.Message
	if err := m.Decode(msg); err != nil {
		return "", fmt.Errorf("undecodable query: %w", err)
	}
	kind, _, err := s.Bulk(now, &m, local, emit)
	return kind, err
}
