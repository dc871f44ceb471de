package das

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/leased/leased/radius"
)

type call struct {
	action string
	addr   netip.Addr
}

// fakeSessions holds a fixed set of bindings and records the actions.
type fakeSessions struct {
	all   []Session
	calls []call
	err   error
}

func (f *fakeSessions) Candidates(*Query) []Session { return f.all }
func (f *fakeSessions) do(a string, s Session) error {
	f.calls = append(f.calls, call{a, s.Addr})
	return f.err
}
func (f *fakeSessions) Delete(_ context.Context, s Session) error      { return f.do("delete", s) }
func (f *fakeSessions) Disconnect(_ context.Context, s Session) error  { return f.do("disconnect", s) }
func (f *fakeSessions) Reconfigure(_ context.Context, s Session) error { return f.do("reconfigure", s) }

var (
	secret = []byte("testing123")
	nasSrc = netip.MustParseAddrPort("192.0.2.1:40000")
	now    = time.Unix(1_800_000_000, 0)
	mac1   = []byte{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}
)

func bindings() []Session {
	return []Session{
		{Addr: netip.MustParseAddr("10.77.1.10"), HWAddr: mac1, Pool: "office",
			RelayInfo: []byte{1, 4, 'p', 'o', 'r', 't', 2, 3, 'r', 'e', 'm'}},
		{Addr: netip.MustParseAddr("10.77.1.11"), HWAddr: []byte{2, 0, 0, 0, 0, 2}, Pool: "office"},
		// DUID-LL of mac1 (RFC 8415 §11.4).
		{Addr: netip.MustParseAddr("2001:db8::10"), ClientID: append([]byte{0, 3, 0, 1}, mac1...), Pool: "v6"},
		{Addr: netip.MustParseAddr("2001:db8:1:100::"), Prefix: netip.MustParsePrefix("2001:db8:1:100::/56"),
			ClientID: append([]byte{0, 3, 0, 1}, mac1...), Pool: "pd"},
	}
}

func newServer(t *testing.T, cfg Config) (*Server, *fakeSessions, *prometheus.Registry) {
	t.Helper()
	if cfg.Clients == nil {
		cfg.Clients = []NAS{{Name: "bng1", Prefix: netip.MustParsePrefix("192.0.2.0/24"), Secret: secret}}
	}
	f := &fakeSessions{all: bindings()}
	reg := prometheus.NewRegistry()
	s, err := New(cfg, f, slog.New(slog.NewTextHandler(io.Discard, nil)), reg)
	if err != nil {
		t.Fatal(err)
	}
	return s, f, reg
}

type attr struct {
	t uint8
	v []byte
}

func ts(t time.Time) attr {
	return attr{radius.EventTimestamp, binary.BigEndian.AppendUint32(nil, uint32(t.Unix()))}
}

func ip(s string) attr { return attr{radius.FramedIPAddress, netip.MustParseAddr(s).AsSlice()} }

func vsa(typ uint8, v string) attr {
	b := binary.BigEndian.AppendUint32(nil, VendorDSLForum)
	b = append(b, typ, byte(2+len(v)))
	return attr{radius.VendorSpecific, append(b, v...)}
}

func request(t *testing.T, code radius.Code, id uint8, sec []byte, attrs ...attr) []byte {
	t.Helper()
	b := radius.NewBuilder(code, id)
	for _, a := range attrs {
		if err := b.Add(a.t, a.v); err != nil {
			t.Fatal(err)
		}
	}
	return b.Request(sec)
}

// reply parses and verifies an answer and returns its code and Error-Cause.
func reply(t *testing.T, req, resp []byte) (radius.Code, uint32) {
	t.Helper()
	if resp == nil {
		t.Fatal("no reply")
	}
	q, _ := radius.Parse(req)
	p, err := radius.Parse(resp)
	if err != nil {
		t.Fatal(err)
	}
	if p.ID != q.ID {
		t.Errorf("reply id %d, want %d", p.ID, q.ID)
	}
	if !radius.VerifyResponse(&p, q.Authenticator, secret) || !radius.VerifyMessageAuthenticator(&p, secret, &q.Authenticator) {
		t.Error("reply authenticators do not verify")
	}
	var cause uint32
	if v, ok := p.Get(radius.ErrorCause); ok && len(v) == 4 {
		cause = binary.BigEndian.Uint32(v)
	}
	return p.Code, cause
}

func TestDisconnect(t *testing.T) {
	for _, tc := range []struct {
		name   string
		action DisconnectAction
		want   string
	}{{"delete", ActionDelete, "delete"}, {"reconfigure", ActionReconfigure, "disconnect"}} {
		t.Run(tc.name, func(t *testing.T) {
			s, f, reg := newServer(t, Config{Disconnect: tc.action})
			req := request(t, radius.DisconnectRequest, 9, secret, ip("10.77.1.10"), ts(now),
				attr{radius.ProxyState, []byte{1}}, attr{radius.ProxyState, []byte{2, 3}})
			resp := s.Handle(context.Background(), now, nasSrc, req)
			if c, cause := reply(t, req, resp); c != radius.DisconnectACK || cause != 0 {
				t.Fatalf("reply %v cause %d", c, cause)
			}
			want := []call{{tc.want, netip.MustParseAddr("10.77.1.10")}}
			if fmt.Sprint(f.calls) != fmt.Sprint(want) {
				t.Errorf("calls %v, want %v", f.calls, want)
			}
			// Proxy-State copied in order (RFC 5176 §3).
			p, _ := radius.Parse(resp)
			var ps [][]byte
			p.Attributes(func(a radius.Attribute) bool {
				if a.Type == radius.ProxyState {
					ps = append(ps, a.Value)
				}
				return true
			})
			if fmt.Sprint(ps) != "[[1] [2 3]]" {
				t.Errorf("Proxy-State %v", ps)
			}
			if n := value(s.m.requests.WithLabelValues("disconnect", "ack", "")); n != 1 {
				t.Errorf("ack counter %v", n)
			}
			_ = reg
		})
	}
}

func TestCoAMatching(t *testing.T) {
	for _, tc := range []struct {
		name  string
		attrs []attr
		want  []string
	}{
		{"mac dashes v4 and v6", []attr{{radius.CallingStationID, []byte("52-54-00-12-34-56")}},
			[]string{"10.77.1.10", "2001:db8::10", "2001:db8:1:100::"}},
		{"mac cisco dots", []attr{{radius.CallingStationID, []byte("5254.0012.3456")}},
			[]string{"10.77.1.10", "2001:db8::10", "2001:db8:1:100::"}},
		{"ip and mac", []attr{ip("10.77.1.10"), {radius.CallingStationID, []byte("52:54:00:12:34:56")}}, []string{"10.77.1.10"}},
		{"delegated prefix", []attr{{radius.DelegatedIPv6Prefix, []byte{0, 56, 0x20, 0x01, 0x0d, 0xb8, 0, 1, 1, 0}}}, []string{"2001:db8:1:100::"}},
		{"framed prefix holds ia_na", []attr{{radius.FramedIPv6Prefix, []byte{0, 64, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0}}}, []string{"2001:db8::10"}},
		{"circuit id", []attr{vsa(1, "port")}, []string{"10.77.1.10"}},
		{"circuit and remote id", []attr{vsa(1, "port"), vsa(2, "rem")}, []string{"10.77.1.10"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, f, _ := newServer(t, Config{})
			req := request(t, radius.CoARequest, 1, secret, append(tc.attrs, ts(now))...)
			if c, cause := reply(t, req, s.Handle(context.Background(), now, nasSrc, req)); c != radius.CoAACK {
				t.Fatalf("reply %v cause %d", c, cause)
			}
			var got []string
			for _, c := range f.calls {
				if c.action != "reconfigure" {
					t.Errorf("action %s", c.action)
				}
				got = append(got, c.addr.String())
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("reconfigured %v, want %v", got, tc.want)
			}
		})
	}
}

func TestNAK(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cfg   Config
		err   error
		code  radius.Code
		attrs []attr
		cause uint32
	}{
		{"unsupported attribute", Config{}, nil, radius.DisconnectRequest, []attr{ip("10.77.1.10"), {radius.UserName, []byte("bob")}}, radius.CauseUnsupportedAttribute},
		{"unsupported vendor", Config{}, nil, radius.CoARequest, []attr{ip("10.77.1.10"), vsa(9, "x")}, radius.CauseUnsupportedAttribute},
		{"service type", Config{}, nil, radius.CoARequest, []attr{ip("10.77.1.10"), {radius.ServiceType, []byte{0, 0, 0, 17}}}, radius.CauseUnsupportedService},
		{"no identification", Config{}, nil, radius.DisconnectRequest, nil, radius.CauseMissingAttribute},
		{"nas identifier", Config{NASIdentifier: "leased-a"}, nil, radius.CoARequest, []attr{ip("10.77.1.10"), {radius.NASIdentifier, []byte("leased-b")}}, radius.CauseNASIdentificationMismatch},
		{"nas address", Config{NASAddrs: []netip.Addr{netip.MustParseAddr("192.0.2.53")}}, nil, radius.CoARequest, []attr{ip("10.77.1.10"), {radius.NASIPAddress, []byte{192, 0, 2, 54}}}, radius.CauseNASIdentificationMismatch},
		{"no session", Config{}, nil, radius.DisconnectRequest, []attr{ip("10.77.1.99")}, radius.CauseSessionContextNotFound},
		{"bad mac", Config{}, nil, radius.DisconnectRequest, []attr{{radius.CallingStationID, []byte("bob")}}, radius.CauseInvalidAttributeValue},
		{"delete fails", Config{}, errors.New("store down"), radius.DisconnectRequest, []attr{ip("10.77.1.10")}, radius.CauseSessionNotRemovable},
		{"reconfigure busy", Config{}, ErrBusy, radius.CoARequest, []attr{ip("10.77.1.10")}, radius.CauseResourcesUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, f, _ := newServer(t, tc.cfg)
			f.err = tc.err
			req := request(t, tc.code, 3, secret, append(tc.attrs, ts(now))...)
			c, cause := reply(t, req, s.Handle(context.Background(), now, nasSrc, req))
			if c != tc.code+2 || cause != tc.cause {
				t.Errorf("reply %v cause %d, want %v %d", c, cause, tc.code+2, tc.cause)
			}
			if tc.err == nil && len(f.calls) > 0 {
				t.Errorf("acted: %v", f.calls)
			}
		})
	}
}

// Requests RFC 5176 says to discard silently get no answer and change
// nothing.
func TestDiscard(t *testing.T) {
	good := func(t *testing.T) []byte {
		return request(t, radius.DisconnectRequest, 5, secret, ip("10.77.1.10"), ts(now))
	}
	noMA := func(t *testing.T) []byte { // a valid request authenticator, no Message-Authenticator
		b := []byte{byte(radius.DisconnectRequest), 5, 0, 0}
		b = append(b, make([]byte, 16)...)
		b = append(b, radius.FramedIPAddress, 6, 10, 77, 1, 10)
		binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
		h := append(bytes.Clone(b), secret...)
		sum := md5sum(h)
		copy(b[4:], sum[:])
		return b
	}
	for _, tc := range []struct {
		name   string
		cfg    Config
		src    netip.AddrPort
		req    func(*testing.T) []byte
		reason string
	}{
		{"wrong secret", Config{}, nasSrc, func(t *testing.T) []byte {
			return request(t, radius.DisconnectRequest, 5, []byte("wrong"), ip("10.77.1.10"), ts(now))
		}, "bad_authenticator"},
		{"unknown client", Config{}, netip.MustParseAddrPort("198.51.100.1:1"), good, "unknown_client"},
		{"no message authenticator", Config{}, nasSrc, noMA, "bad_message_authenticator"},
		{"old timestamp", Config{}, nasSrc, func(t *testing.T) []byte {
			return request(t, radius.DisconnectRequest, 5, secret, ip("10.77.1.10"), ts(now.Add(-301*time.Second)))
		}, "event_timestamp_outside_window"},
		{"future timestamp", Config{Window: time.Minute}, nasSrc, func(t *testing.T) []byte {
			return request(t, radius.DisconnectRequest, 5, secret, ip("10.77.1.10"), ts(now.Add(61*time.Second)))
		}, "event_timestamp_outside_window"},
		{"missing timestamp", Config{}, nasSrc, func(t *testing.T) []byte {
			return request(t, radius.DisconnectRequest, 5, secret, ip("10.77.1.10"))
		}, "missing_event_timestamp"},
		{"access request", Config{}, nasSrc, func(t *testing.T) []byte {
			return request(t, radius.AccessRequest, 5, secret, ip("10.77.1.10"), ts(now))
		}, "unsupported_code"},
		{"truncated", Config{}, nasSrc, func(t *testing.T) []byte { return good(t)[:30] }, "malformed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, f, _ := newServer(t, tc.cfg)
			if r := s.Handle(context.Background(), now, tc.src, tc.req(t)); r != nil {
				t.Errorf("answered %x", r)
			}
			if len(f.calls) > 0 {
				t.Errorf("acted: %v", f.calls)
			}
			var n float64
			for _, code := range []string{"disconnect", "other", "unknown"} {
				n += value(s.m.requests.WithLabelValues(code, "discarded", tc.reason))
			}
			if n != 1 {
				t.Errorf("discarded{reason=%s} = %v", tc.reason, n)
			}
		})
	}
	t.Run("missing timestamp allowed", func(t *testing.T) {
		s, f, _ := newServer(t, Config{AllowMissingTimestamp: true})
		req := request(t, radius.DisconnectRequest, 5, secret, ip("10.77.1.10"))
		if c, _ := reply(t, req, s.Handle(context.Background(), now, nasSrc, req)); c != radius.DisconnectACK || len(f.calls) != 1 {
			t.Errorf("reply %v, calls %v", c, f.calls)
		}
	})
}

// A retransmission (same source port and Identifier) gets the cached
// answer without a second action; the same packet from elsewhere, or after
// the retransmission window, is a replay and gets nothing.
func TestDuplicates(t *testing.T) {
	s, f, _ := newServer(t, Config{})
	req := request(t, radius.DisconnectRequest, 7, secret, ip("10.77.1.10"), ts(now))
	first := s.Handle(context.Background(), now, nasSrc, req)
	if c, _ := reply(t, req, first); c != radius.DisconnectACK {
		t.Fatal(c)
	}
	again := s.Handle(context.Background(), now.Add(time.Second), nasSrc, req)
	if !bytes.Equal(first, again) {
		t.Error("retransmission not answered with the same reply")
	}
	other := netip.AddrPortFrom(nasSrc.Addr(), nasSrc.Port()+1)
	if r := s.Handle(context.Background(), now.Add(2*time.Second), other, req); r != nil {
		t.Error("replay from another port answered")
	}
	if r := s.Handle(context.Background(), now.Add(time.Minute), nasSrc, req); r != nil {
		t.Error("replay after the retransmission window answered")
	}
	if len(f.calls) != 1 {
		t.Errorf("acted %d times: %v", len(f.calls), f.calls)
	}
	if n := value(s.m.requests.WithLabelValues("disconnect", "discarded", "replay")); n != 2 {
		t.Errorf("replays counted %v", n)
	}
	// After the Event-Timestamp window the entry is gone, and the
	// timestamp now refuses the packet.
	if r := s.Handle(context.Background(), now.Add(10*time.Minute), nasSrc, req); r != nil {
		t.Error("answered after the window")
	}
}

func TestParseMAC(t *testing.T) {
	for _, in := range []string{"52:54:00:12:34:56", "52-54-00-12-34-56", "5254.0012.3456", "525400123456", "52-54-00-12-34-56 "} {
		m, err := ParseMAC(strings.ToUpper(in))
		if err != nil || !bytes.Equal(m, mac1) {
			t.Errorf("%q: %x %v", in, m, err)
		}
	}
	for _, in := range []string{"", "bob", "52:54:00:12:34", "52:54:00:12:34:5g"} {
		if _, err := ParseMAC(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}

func value(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		panic(err)
	}
	return m.GetCounter().GetValue()
}
