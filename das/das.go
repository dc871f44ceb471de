// Package das is leased's RADIUS Dynamic Authorization Server (RFC 5176):
// an AAA server (or a proxy) sends Disconnect-Request or CoA-Request for a
// subscriber, and leased deletes or reconfigures the subscriber's DHCP
// bindings. The decision logic (Server.Handle) is pure apart from the
// Sessions it is given and the clock passed in; Serve adds the UDP socket.
//
// The package knows nothing of leased's server: what it needs is the
// Sessions interface, implemented by an adapter in cmd/leased.
package das

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/leased/leased/radius"
)

// Session is one DHCP binding of a subscriber.
type Session struct {
	// Addr is the leased address (DHCPv4, DHCPv6 IA_NA) or the first
	// address of a delegated prefix.
	Addr netip.Addr
	// Prefix is the delegated prefix of an IA_PD binding (invalid
	// otherwise).
	Prefix netip.Prefix
	// HWAddr is the client's hardware address (DHCPv4 chaddr) when known.
	HWAddr []byte
	// ClientID is the DHCPv4 client identifier or the DHCPv6 DUID.
	ClientID []byte
	// RelayInfo is the raw relay agent information option (DHCPv4 option
	// 82) of the client's last request.
	RelayInfo []byte
	// Pool names the binding's pool (for logs).
	Pool string
}

// IsV6 reports whether s is a DHCPv6 binding.
func (s *Session) IsV6() bool { return s.Addr.Is6() && !s.Addr.Is4In6() }

// Sessions is what the DAS needs from the DHCP server.
type Sessions interface {
	// Candidates returns bound sessions that may match q; a superset is
	// fine (Handle keeps those that match), missing one is not.
	Candidates(q *Query) []Session
	// Delete removes the binding durably before returning (a still-valid
	// address stays quarantined until its old expiry).
	Delete(ctx context.Context, s Session) error
	// Disconnect makes the client come back (FORCERENEW/Reconfigure with
	// a forced NAK) and deletes the binding if it does not.
	Disconnect(ctx context.Context, s Session) error
	// Reconfigure makes the client renew now (FORCERENEW/Reconfigure with
	// retries) so that it takes its current configuration.
	Reconfigure(ctx context.Context, s Session) error
}

// ErrNotCapable is wrapped by a Sessions error when the client cannot be
// reconfigured (it ignores FORCERENEW/Reconfigure).
var ErrNotCapable = errors.New("das: client cannot be reconfigured")

// ErrBusy is wrapped by a Sessions error when the action cannot be started
// now (e.g. another reconfiguration runs on the pool).
var ErrBusy = errors.New("das: busy")

// DisconnectAction is what a Disconnect-Request does.
type DisconnectAction int

const (
	// ActionDelete deletes the bindings (default).
	ActionDelete DisconnectAction = iota
	// ActionReconfigure reconfigures with a forced NAK instead, deleting
	// only a client that does not come back (Junos' reconfigure instead
	// of delete on RADIUS-initiated disconnect).
	ActionReconfigure
)

// NAS is one Dynamic Authorization Client allowed to send requests.
type NAS struct {
	// Name labels the NAS in logs.
	Name string
	// Prefix holds the source addresses the NAS sends from.
	Prefix netip.Prefix
	// Secret is the shared secret (RFC 2865 §3).
	Secret []byte
}

// Config configures a Server.
type Config struct {
	Clients []NAS
	// Disconnect is what a Disconnect-Request does.
	Disconnect DisconnectAction
	// Window is how far Event-Timestamp may be from the clock (RFC 5176
	// §3.4); 0 means DefaultWindow.
	Window time.Duration
	// AllowMissingTimestamp accepts requests without Event-Timestamp
	// (replay protection then rests on the duplicate cache alone).
	AllowMissingTimestamp bool
	// NASIdentifier, when set, must equal a request's NAS-Identifier.
	NASIdentifier string
	// NASAddrs, when set, must hold a request's NAS-IP-Address or
	// NAS-IPv6-Address.
	NASAddrs []netip.Addr
	// Timeout bounds one request's action (default 10 s).
	Timeout time.Duration
}

// DefaultWindow is the default Event-Timestamp window (RFC 5176 §3.4
// suggests 300 s).
const DefaultWindow = 300 * time.Second

// maxCache bounds the duplicate cache (one entry per request seen within
// the window).
const maxCache = 1 << 16

// retransmitWindow is how long an identical request from the same source
// port and Identifier is a retransmission answered from the cache (RFC
// 5080 §2.2.2) rather than a replay.
const retransmitWindow = 30 * time.Second

// Server handles Disconnect-Request and CoA-Request.
type Server struct {
	cfg  Config
	sess Sessions
	log  *slog.Logger
	m    *metrics

	mu    sync.Mutex
	cache map[cacheKey]*cached
	swept time.Time
}

type cacheKey struct {
	nas  string
	auth [16]byte
}

type cached struct {
	src     netip.AddrPort
	id      uint8
	reply   []byte // nil: discarded, or not answered yet
	seen    time.Time
	expires time.Time
}

type metrics struct {
	requests *prometheus.CounterVec
}

// New returns a Server. reg receives leased_radius_requests_total.
func New(cfg Config, sess Sessions, log *slog.Logger, reg prometheus.Registerer) (*Server, error) {
	if cfg.Window <= 0 {
		cfg.Window = DefaultWindow
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	for i, n := range cfg.Clients {
		if len(n.Secret) == 0 {
			return nil, fmt.Errorf("das: client %d (%s): empty secret", i, n.Name)
		}
	}
	m := &metrics{requests: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "leased_radius_requests_total",
		Help: "RADIUS Dynamic Authorization requests (RFC 5176) by code, result (ack, nak, discarded) and reason (Error-Cause of a NAK, why a request was discarded).",
	}, []string{"code", "result", "reason"})}
	if reg != nil {
		if err := reg.Register(m.requests); err != nil {
			return nil, err
		}
	}
	return &Server{cfg: cfg, sess: sess, log: log, m: m, cache: map[cacheKey]*cached{}}, nil
}

// Serve answers requests on conn until ctx ends; it closes conn then.
func (s *Server) Serve(ctx context.Context, conn net.PacketConn) error {
	go func() {
		<-ctx.Done()
		conn.Close()
	}()
	buf := make([]byte, radius.MaxLen+1)
	for {
		n, from, err := conn.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		ua, ok := from.(*net.UDPAddr)
		if !ok {
			continue
		}
		src := ua.AddrPort()
		src = netip.AddrPortFrom(src.Addr().Unmap(), src.Port())
		if reply := s.Handle(ctx, time.Now(), src, buf[:n]); reply != nil {
			if _, err := conn.WriteTo(reply, from); err != nil {
				s.log.Warn("radius: reply not sent", "to", src, "err", err)
			}
		}
	}
}

// Handle decides on one datagram from src received at now and returns the
// reply to send (nil: silently discarded, as RFC 5176 requires for an
// unknown client, a bad authenticator or a replay).
func (s *Server) Handle(ctx context.Context, now time.Time, src netip.AddrPort, b []byte) []byte {
	nas := s.nasOf(src.Addr())
	if nas == nil {
		// RFC 2865 §3: requests from unknown clients are silently discarded.
		s.discard("unknown", "unknown_client", src, nil, 0)
		return nil
	}
	p, err := radius.Parse(b)
	if err != nil {
		s.discard("unknown", "malformed", src, nas, 0)
		return nil
	}
	code := codeLabel(p.Code)
	if p.Code != radius.DisconnectRequest && p.Code != radius.CoARequest {
		s.discard(code, "unsupported_code", src, nas, p.ID)
		return nil
	}
	// RFC 5176 §2.3 / §3.5: a request whose Request Authenticator does not
	// verify is silently discarded.
	if !radius.VerifyRequest(&p, nas.Secret) {
		s.discard(code, "bad_authenticator", src, nas, p.ID)
		return nil
	}
	// RFC 3579 §3.2: a missing or invalid Message-Authenticator (leased
	// requires one) means silent discard.
	if !radius.VerifyMessageAuthenticator(&p, nas.Secret, nil) {
		s.discard(code, "bad_message_authenticator", src, nas, p.ID)
		return nil
	}
	// Duplicate detection (RFC 5080 §2.2.2): the same request again from
	// the same port and Identifier is a retransmission and gets the same
	// answer, without acting twice; anything else with an authenticator
	// already seen inside the window is a replay.
	key := cacheKey{nas: nas.Name, auth: p.Authenticator}
	s.mu.Lock()
	s.expire(now)
	if c, ok := s.cache[key]; ok {
		reply := c.reply
		retrans := c.src == src && c.id == p.ID && now.Sub(c.seen) < retransmitWindow
		s.mu.Unlock()
		if retrans && reply != nil {
			s.count(code, "retransmission", "")
			s.log.Info("radius: retransmission answered from cache", "nas", nas.Name, "src", src, "code", p.Code.String(), "id", p.ID)
			return reply
		}
		s.discard(code, "replay", src, nas, p.ID)
		return nil
	}
	if len(s.cache) >= maxCache {
		s.mu.Unlock()
		return s.answer(&p, nas, src, nil, radius.CauseResourcesUnavailable, "duplicate cache full")
	}
	c := &cached{src: src, id: p.ID, seen: now, expires: now.Add(max(s.cfg.Window, retransmitWindow))}
	s.cache[key] = c
	s.mu.Unlock()

	// RFC 5176 §3.4: Event-Timestamp outside the window, or missing where
	// required, is silently discarded (replay protection).
	ts, hasTS := p.Get(radius.EventTimestamp)
	switch {
	case hasTS && len(ts) != 4:
		s.discard(code, "bad_event_timestamp", src, nas, p.ID)
		return nil
	case hasTS:
		t := time.Unix(int64(binary.BigEndian.Uint32(ts)), 0)
		if d := now.Sub(t); d > s.cfg.Window || d < -s.cfg.Window {
			s.discard(code, "event_timestamp_outside_window", src, nas, p.ID)
			return nil
		}
	case !s.cfg.AllowMissingTimestamp:
		s.discard(code, "missing_event_timestamp", src, nas, p.ID)
		return nil
	}

	reply := s.decide(ctx, &p, nas, src)
	s.mu.Lock()
	c.reply = reply
	s.mu.Unlock()
	return reply
}

// expire drops cache entries past their window, at most once a second.
func (s *Server) expire(now time.Time) {
	if now.Sub(s.swept) < time.Second && len(s.cache) < maxCache {
		return
	}
	s.swept = now
	for k, c := range s.cache {
		if now.After(c.expires) {
			delete(s.cache, k)
		}
	}
}

// decide parses the identification, finds the sessions and acts.
func (s *Server) decide(ctx context.Context, p *radius.Packet, nas *NAS, src netip.AddrPort) []byte {
	q, cause, why := s.query(p)
	if cause != 0 {
		return s.answer(p, nas, src, nil, cause, why)
	}
	var matched []Session
	for _, ss := range s.sess.Candidates(&q) {
		if q.Match(&ss) {
			matched = append(matched, ss)
		}
	}
	if len(matched) == 0 {
		return s.answer(p, nas, src, &q, radius.CauseSessionContextNotFound, "no bound lease matches")
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	for _, ss := range matched {
		var err error
		action := "reconfigure"
		switch {
		case p.Code == radius.CoARequest:
			err = s.sess.Reconfigure(ctx, ss)
		case s.cfg.Disconnect == ActionReconfigure:
			action = "disconnect"
			err = s.sess.Disconnect(ctx, ss)
		default:
			action = "delete"
			err = s.sess.Delete(ctx, ss)
		}
		if err != nil {
			cause := radius.CauseResourcesUnavailable
			if p.Code == radius.DisconnectRequest && !errors.Is(err, ErrBusy) {
				cause = radius.CauseSessionNotRemovable
			}
			return s.answer(p, nas, src, &q, cause, fmt.Sprintf("%s %s: %v", action, ss.Addr, err))
		}
		s.log.Info("radius: "+action, "nas", nas.Name, "code", p.Code.String(), "id", p.ID, "addr", ss.Addr, "pool", ss.Pool)
	}
	return s.answer(p, nas, src, &q, 0, fmt.Sprintf("%d bindings", len(matched)))
}

// answer builds the ACK (cause 0) or NAK with Error-Cause, logs and counts.
func (s *Server) answer(p *radius.Packet, nas *NAS, src netip.AddrPort, q *Query, cause uint32, detail string) []byte {
	code := radius.DisconnectACK
	if p.Code == radius.CoARequest {
		code = radius.CoAACK
	}
	result, reason := "ack", ""
	if cause != 0 {
		code++ // the NAK follows its ACK (RFC 5176 §3)
		result, reason = "nak", fmt.Sprint(cause)
	}
	b := radius.NewBuilder(code, p.ID)
	if cause != 0 {
		_ = b.AddUint32(radius.ErrorCause, cause)
	}
	// RFC 5176 §3 (RFC 2865 §5.33): Proxy-State attributes are copied
	// unmodified and in order into the response.
	p.Attributes(func(a radius.Attribute) bool {
		if a.Type == radius.ProxyState {
			_ = b.Add(a.Type, a.Value)
		}
		return true
	})
	out := b.Response(p.Authenticator, nas.Secret)
	s.count(codeLabel(p.Code), result, reason)
	args := []any{"nas", nas.Name, "src", src, "code", p.Code.String(), "id", p.ID, "reply", code.String(), "detail", detail}
	if cause != 0 {
		args = append(args, "error_cause", cause)
	}
	if q != nil {
		args = append(args, "query", q.String())
	}
	if cause != 0 {
		s.log.Warn("radius: request refused", args...)
	} else {
		s.log.Info("radius: request done", args...)
	}
	return out
}

func (s *Server) discard(code, reason string, src netip.AddrPort, nas *NAS, id uint8) {
	s.count(code, "discarded", reason)
	name := ""
	if nas != nil {
		name = nas.Name
	}
	s.log.Warn("radius: request discarded", "reason", reason, "src", src, "nas", name, "code", code, "id", id)
}

func (s *Server) count(code, result, reason string) {
	s.m.requests.WithLabelValues(code, result, reason).Inc()
}

func codeLabel(c radius.Code) string {
	switch c {
	case radius.DisconnectRequest:
		return "disconnect"
	case radius.CoARequest:
		return "coa"
	}
	return "other"
}

func (s *Server) nasOf(a netip.Addr) *NAS {
	for i := range s.cfg.Clients {
		if s.cfg.Clients[i].Prefix.Contains(a) {
			return &s.cfg.Clients[i]
		}
	}
	return nil
}

// Vendor attributes of the DSL Forum (RFC 4679 §4): Agent-Circuit-Id and
// Agent-Remote-Id carry the relay's option 82 circuit and remote ids.
const (
	VendorDSLForum = 3561
	dslCircuitID   = 1
	dslRemoteID    = 2
)

// query reads the request's session identification (RFC 5176 §3) and
// checks what leased supports; a cause != 0 is the NAK to send.
func (s *Server) query(p *radius.Packet) (q Query, cause uint32, why string) {
	bad := func(c uint32, format string, args ...any) {
		if cause == 0 {
			cause, why = c, fmt.Sprintf(format, args...)
		}
	}
	p.Attributes(func(a radius.Attribute) bool {
		switch a.Type {
		case radius.MessageAuthenticator, radius.EventTimestamp, radius.ProxyState:
		case radius.NASIdentifier:
			if s.cfg.NASIdentifier != "" && string(a.Value) != s.cfg.NASIdentifier {
				bad(radius.CauseNASIdentificationMismatch, "NAS-Identifier %q is not %q", a.Value, s.cfg.NASIdentifier)
			}
		case radius.NASIPAddress, radius.NASIPv6Address:
			ip, ok := netip.AddrFromSlice(a.Value)
			if !ok || (a.Type == radius.NASIPAddress) != ip.Is4() {
				bad(radius.CauseInvalidAttributeValue, "attribute %d: not an address", a.Type)
			} else if len(s.cfg.NASAddrs) > 0 && !containsAddr(s.cfg.NASAddrs, ip) {
				bad(radius.CauseNASIdentificationMismatch, "NAS address %s is not this server's", ip)
			}
		case radius.FramedIPAddress:
			ip, ok := netip.AddrFromSlice(a.Value)
			if !ok || !ip.Is4() {
				bad(radius.CauseInvalidAttributeValue, "Framed-IP-Address: %d octets", len(a.Value))
			} else {
				q.Addrs = append(q.Addrs, ip)
			}
		case radius.FramedIPv6Prefix, radius.DelegatedIPv6Prefix:
			pfx, err := ParsePrefixAttr(a.Value)
			if err != nil {
				bad(radius.CauseInvalidAttributeValue, "attribute %d: %v", a.Type, err)
			} else {
				q.Prefixes = append(q.Prefixes, pfx)
			}
		case radius.ServiceType:
			// RFC 5176 §3.2: Service-Type (e.g. Authorize Only, 17) asks
			// for a service this DAS does not offer.
			bad(radius.CauseUnsupportedService, "Service-Type is not supported")
		case radius.CallingStationID:
			mac, err := ParseMAC(string(a.Value))
			if err != nil {
				bad(radius.CauseInvalidAttributeValue, "Calling-Station-Id %q: %v", a.Value, err)
			} else {
				q.MAC = mac
			}
		case radius.VendorSpecific:
			err := radius.ParseVSA(a.Value, func(v radius.VSA) {
				switch {
				case v.Vendor == VendorDSLForum && v.Type == dslCircuitID:
					q.CircuitID = bytes.Clone(v.Value)
				case v.Vendor == VendorDSLForum && v.Type == dslRemoteID:
					q.RemoteID = bytes.Clone(v.Value)
				default:
					bad(radius.CauseUnsupportedAttribute, "vendor %d attribute %d", v.Vendor, v.Type)
				}
			})
			if err != nil {
				bad(radius.CauseInvalidAttributeValue, "Vendor-Specific: %v", err)
			}
		default:
			// RFC 5176 §3.5: 401 for an attribute the DAS does not
			// support; acting while ignoring it (a User-Name, a policy
			// to apply) could hit the wrong subscriber or do less than
			// asked.
			bad(radius.CauseUnsupportedAttribute, "attribute %d is not supported", a.Type)
		}
		return true
	})
	if cause == 0 && q.Empty() {
		bad(radius.CauseMissingAttribute, "no session identification (Framed-IP-Address, Framed-IPv6-Prefix, Delegated-IPv6-Prefix, Calling-Station-Id, Agent-Circuit-Id, Agent-Remote-Id)")
	}
	return q, cause, why
}

func containsAddr(as []netip.Addr, a netip.Addr) bool {
	for _, x := range as {
		if x == a {
			return true
		}
	}
	return false
}

// ParsePrefixAttr decodes Framed-IPv6-Prefix / Delegated-IPv6-Prefix (RFC
// 3162 §2.3, RFC 4818 §3): reserved octet, prefix length, prefix octets.
func ParsePrefixAttr(v []byte) (netip.Prefix, error) {
	if len(v) < 2 || len(v) > 18 || v[1] > 128 {
		return netip.Prefix{}, errors.New("bad length")
	}
	var a [16]byte
	copy(a[:], v[2:])
	if int(v[1]+7)/8 > len(v)-2 {
		return netip.Prefix{}, errors.New("prefix shorter than its length")
	}
	return netip.PrefixFrom(netip.AddrFrom16(a), int(v[1])).Masked(), nil
}

// ParseMAC reads a MAC address as NASes write it in Calling-Station-Id:
// 52:54:00:12:34:56, 52-54-00-12-34-56, 5254.0012.3456, 525400123456, in
// either case.
func ParseMAC(s string) ([]byte, error) {
	h := strings.Map(func(r rune) rune {
		switch r {
		case ':', '-', '.':
			return -1
		}
		return r
	}, strings.TrimSpace(s))
	if len(h) != 12 {
		return nil, errors.New("not a MAC address")
	}
	var out [6]byte
	for i := range out {
		hi, ok1 := unhex(h[2*i])
		lo, ok2 := unhex(h[2*i+1])
		if !ok1 || !ok2 {
			return nil, errors.New("not a MAC address")
		}
		out[i] = hi<<4 | lo
	}
	return out[:], nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
