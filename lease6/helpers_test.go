package lease6

import (
	"net/netip"
	"testing"
	"time"

	"github.com/leased/leased/dhcpv6"
	"github.com/leased/leased/lease"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

var (
	link   = netip.MustParseAddr("fd77::1")
	duidA  = []byte{0, 3, 0, 1, 2, 0, 0, 0, 0, 0xa}
	duidB  = []byte{0, 3, 0, 1, 2, 0, 0, 0, 0, 0xb}
	peerA  = netip.MustParseAddr("fe80::a")
	key16  = []byte("0123456789abcdef")
	key16b = []byte("fedcba9876543210")
)

func testConfig() Config {
	return Config{
		Preferred: time.Hour, Valid: 2 * time.Hour,
		OfferHold: 10 * time.Second, DeclineQuarantine: time.Hour,
		Pools: []Pool{{
			Name:        "office6",
			Subnet:      netip.MustParsePrefix("fd77::/64"),
			Ranges:      []Range{{Start: netip.MustParseAddr("fd77::1:0"), End: netip.MustParseAddr("fd77::1:ffff")}},
			PD:          &PrefixPool{Prefix: netip.MustParsePrefix("fd77:100::/40"), Length: 56},
			DNS:         []netip.Addr{netip.MustParseAddr("fd77::1")},
			Reconfigure: ReconfigureConfig{RequireAccept: true},
		}, {
			Name:   "lab6",
			Subnet: netip.MustParsePrefix("fd78::/64"),
			Ranges: []Range{{Start: netip.MustParseAddr("fd78::10"), End: netip.MustParseAddr("fd78::13")}},
		}},
	}
}

func newEngine(t testing.TB, cfg Config) *Engine {
	t.Helper()
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// msg builds a request on the office6 link.
func msg(typ dhcpv6.MessageType, duid []byte, ias ...IA) *Request {
	r := &Request{Type: typ, XID: 0x123456, ClientID: duid, IAs: ias, LinkAddr: link, Peer: peerA}
	switch typ {
	case dhcpv6.Request, dhcpv6.Renew, dhcpv6.Release, dhcpv6.Decline:
		r.ServerID, r.ServerIDOurs = []byte{0, 1}, true
	}
	return r
}

func na(iaid uint32, addrs ...string) IA {
	ia := IA{Kind: IANA, IAID: iaid}
	for _, a := range addrs {
		ia.Addrs = append(ia.Addrs, netip.MustParseAddr(a))
	}
	return ia
}

func pd(iaid uint32, pfx ...string) IA {
	ia := IA{Kind: IAPD, IAID: iaid}
	for _, p := range pfx {
		ia.Prefixes = append(ia.Prefixes, netip.MustParsePrefix(p))
	}
	return ia
}

// asIA turns a reply IA back into a request IA listing its bindings.
func asIA(r IAResult) IA {
	ia := IA{Kind: r.Kind, IAID: r.IAID}
	for _, b := range r.Bindings {
		if r.Kind == IANA {
			ia.Addrs = append(ia.Addrs, b.Addr)
		} else {
			ia.Prefixes = append(ia.Prefixes, b.Prefix)
		}
	}
	return ia
}

// bindClient runs Solicit → Request for duid and returns the Reply's IAs.
func bindClient(t testing.TB, e *Engine, now time.Time, duid []byte, ias ...IA) []IAResult {
	t.Helper()
	d := e.Handle(now, msg(dhcpv6.Solicit, duid, ias...))
	if !d.HasReply || d.Reply.Type != dhcpv6.Advertise {
		t.Fatalf("Solicit: %+v", d)
	}
	var req []IA
	for _, r := range d.Reply.IAs {
		req = append(req, asIA(r))
	}
	d = e.Handle(now, msg(dhcpv6.Request, duid, req...))
	if !d.HasReply || d.Reply.Type != dhcpv6.Reply {
		t.Fatalf("Request: %+v", d)
	}
	return d.Reply.IAs
}

func mustBound(t testing.TB, e *Engine, a netip.Addr, duid []byte) lease.Lease {
	t.Helper()
	l, ok := e.Lookup(a)
	if !ok || l.State != lease.StateBound || string(l.ClientID) != string(duid) {
		t.Fatalf("Lookup(%v) = %+v, %v; want bound to %x", a, l, ok, duid)
	}
	return l
}
