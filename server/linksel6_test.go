package server

import (
	"context"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/leased/leased/dhcpv6"
	"github.com/leased/leased/lease"
	"github.com/leased/leased/lease6"
	"github.com/leased/leased/store/wal"
)

// runCfg6 starts a Server with DHCPv6 on lo for cfg, with an empty WAL.
func runCfg6(t *testing.T, cfg lease6.Config) *Server {
	t.Helper()
	st, err := wal.Open(t.TempDir(), wal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	eng6, err := lease6.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := lease.New(loopConfig())
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Options{
		Interfaces: []string{"lo"}, Port: -1, Engine: eng, Store: st,
		Logger: testLogger(t), Registry: prometheus.NewRegistry(),
		V6: &V6Options{Interfaces: []string{"lo"}, Port: -1, Engine: eng6, Config: &cfg},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	var once sync.Once
	t.Cleanup(func() {
		once.Do(func() {
			cancel()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Error("Run did not stop")
			}
		})
	})
	return s
}

// relayVia wraps msg in one Relay-forward with the given link-address and
// Interface-ID (nil: none), plus the Relay Source Port option.
func relayVia(t *testing.T, msg []byte, link netip.Addr, ifid []byte) []byte {
	t.Helper()
	var w dhcpv6.Writer
	w.Reset(make([]byte, 0, 2048))
	w.RelayHeader(dhcpv6.RelayForward, 0, link, clientLL)
	if ifid != nil {
		w.Option(dhcpv6.OptInterfaceID, ifid)
	}
	w.OptionUint16(OptRelaySourcePort, 0)
	w.BeginOption(dhcpv6.OptRelayMsg)
	var m dhcpv6.Message
	if err := m.Decode(msg); err != nil {
		t.Fatal(err)
	}
	w.Header(m.Type, m.TransactionID)
	for it := m.Options().Iter(); it.Next(); {
		w.Option(it.Code(), it.Data())
	}
	w.EndOption()
	out, err := w.End()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Through a relay on loopback: the Interface-ID selects its pool; a
// link-address in no pool (::, or the server's own) falls back to the pool
// of the interface the packet arrived on (lo); an Information-request from
// an unknown link gets the global options (RFC 3736).
func TestV6LinkSelectionRelayed(t *testing.T) {
	cfg := v6Config()
	cfg.DNS = []netip.Addr{netip.MustParseAddr("fd00::53")}
	cfg.Pools[0].DNS = nil // inherits the global DNS
	cfg.Pools = append(cfg.Pools,
		lease6.Pool{Name: "port6", Subnet: netip.MustParsePrefix("fd79::/64"), InterfaceID: []byte("ge-0/0/9"),
			Ranges: []lease6.Range{{Start: netip.MustParseAddr("fd79::10"), End: netip.MustParseAddr("fd79::20")}}},
		lease6.Pool{Name: "lo6", Subnet: netip.MustParsePrefix("fd7a::/64"), Interface: "lo",
			Ranges: []lease6.Range{{Start: netip.MustParseAddr("fd7a::10"), End: netip.MustParseAddr("fd7a::20")}}})
	s := runCfg6(t, cfg)
	relay := newRelay6(t, s.Port6())
	exchange := func(pkt []byte) *dhcpv6.Message {
		t.Helper()
		if _, err := relay.conn.WriteToUDPAddrPort(pkt, relay.server); err != nil {
			t.Fatal(err)
		}
		m, ok := relay.recv(2 * time.Second)
		if !ok {
			t.Fatal("no reply")
		}
		return m
	}
	tests := []struct {
		name string
		link string
		ifid []byte
		want string
	}{
		{"link-address", "fd77::1", nil, "fd77::/64"},
		{"interface-id before link-address", "fd77::1", []byte("ge-0/0/9"), "fd79::/64"},
		{"unspecified link-address: arrival interface", "::", nil, "fd7a::/64"},
		{"server's own address: arrival interface", "::1", nil, "fd7a::/64"},
		{"unknown link-address: arrival interface", "fd99::1", nil, "fd7a::/64"},
	}
	for i, tt := range tests {
		c := &client6{duid: []byte{0, 3, 0, 1, 2, 0, 0, 0, 9, byte(i)}}
		adv := exchange(relayVia(t, c.msg(t, dhcpv6.Solicit, uint32(0x100+i), false), netip.MustParseAddr(tt.link), tt.ifid))
		if a, _, _, _ := bindings(t, adv); adv.Type != dhcpv6.Advertise || !netip.MustParsePrefix(tt.want).Contains(a) {
			t.Errorf("%s: %v advertised %v, want an address of %s", tt.name, adv.Type, a, tt.want)
		}
	}

	// Stateless service without a pool: only the lo6 fallback would match,
	// so drop it and ask from an unknown link.
	cfg.Pools = cfg.Pools[:2]
	if err := s.Reload6(cfg, nil); err != nil {
		t.Fatal(err)
	}
	var w dhcpv6.Writer
	w.Reset(make([]byte, 0, 256))
	w.Header(dhcpv6.InformationRequest, 0x77)
	w.OptionUint16(dhcpv6.OptElapsedTime, 0)
	w.OptionCodes(dhcpv6.OptORO, dhcpv6.OptDNSServers)
	ir, err := w.End()
	if err != nil {
		t.Fatal(err)
	}
	rep := exchange(relayVia(t, ir, netip.MustParseAddr("fd99::1"), nil))
	if dns := rep.DNSServers(); rep.Type != dhcpv6.Reply || dns.Len() != 1 || dns.At(0) != cfg.DNS[0] {
		t.Fatalf("stateless reply %v, DNS %x", rep.Type, []byte(dns))
	}
	// office6 inherits the global DNS.
	rep = exchange(relayVia(t, ir, netip.MustParseAddr("fd77::1"), nil))
	if dns := rep.DNSServers(); dns.Len() != 1 || dns.At(0) != cfg.DNS[0] {
		t.Fatalf("office6 reply DNS %x", []byte(dns))
	}
}

// Client classes on the wire: a user class (option 15) from the client and
// a relay's remote-id (option 37) select class options and pools.
func TestV6ClassesRelayed(t *testing.T) {
	cfg := v6Config()
	cfg.Classes = []lease6.Class{
		{Name: "ipxe", Match: lease6.ClassMatch{UserClass: lease6.StrMatch{Op: lease6.OpExact, Value: []byte("iPXE")}},
			DNS: []netip.Addr{netip.MustParseAddr("fd77::bbbb")}},
		{Name: "olt", Match: lease6.ClassMatch{RemoteID: lease6.StrMatch{Op: lease6.OpPrefix, Value: []byte("olt1:")}}},
		{Name: "cust", Match: lease6.ClassMatch{SubscriberID: lease6.StrMatch{Op: lease6.OpExact, Value: []byte("cust-9")}}},
	}
	cfg.Pools[0].Allow = []string{"olt", "cust"}
	s := runCfg6(t, cfg)
	relay := newRelay6(t, s.Port6())
	subscriberID := ""
	solicit := func(duid []byte, userClass bool, remoteID string) (*dhcpv6.Message, bool) {
		t.Helper()
		var w dhcpv6.Writer
		w.Reset(make([]byte, 0, 512))
		w.Header(dhcpv6.Solicit, 0x42)
		w.Option(dhcpv6.OptClientID, duid)
		w.OptionUint16(dhcpv6.OptElapsedTime, 0)
		w.BeginIA(dhcpv6.OptIANA, 1, 0, 0)
		w.EndOption()
		if userClass {
			w.Option(dhcpv6.OptUserClass, []byte{0, 4, 'i', 'P', 'X', 'E'})
		}
		inner, err := w.End()
		if err != nil {
			t.Fatal(err)
		}
		w.Reset(make([]byte, 0, 1024))
		w.RelayHeader(dhcpv6.RelayForward, 0, relayLink, clientLL)
		if remoteID != "" {
			w.Option(dhcpv6.OptRemoteID, append([]byte{0, 0, 0x0d, 0xe9}, remoteID...))
		}
		if subscriberID != "" {
			w.Option(dhcpv6.OptSubscriberID, []byte(subscriberID))
		}
		w.OptionUint16(OptRelaySourcePort, 0)
		w.Option(dhcpv6.OptRelayMsg, inner)
		pkt, err := w.End()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := relay.conn.WriteToUDPAddrPort(pkt, relay.server); err != nil {
			t.Fatal(err)
		}
		return relay.recv(time.Second)
	}
	if _, ok := solicit([]byte{0, 3, 0, 1, 2, 0, 0, 0, 8, 1}, true, ""); ok {
		t.Fatal("a client outside class olt was answered")
	}
	adv, ok := solicit([]byte{0, 3, 0, 1, 2, 0, 0, 0, 8, 2}, true, "olt1:port3")
	if !ok {
		t.Fatal("no Advertise for an olt client")
	}
	if dns := adv.DNSServers(); dns.Len() != 1 || dns.At(0) != netip.MustParseAddr("fd77::bbbb") {
		t.Fatalf("ipxe member DNS %x", []byte(dns))
	}
	adv, ok = solicit([]byte{0, 3, 0, 1, 2, 0, 0, 0, 8, 3}, false, "olt1:port4")
	if !ok {
		t.Fatal("no Advertise for an olt client without user class")
	}
	if dns := adv.DNSServers(); dns.Len() != 1 || dns.At(0) != netip.MustParseAddr("fd77::1") {
		t.Fatalf("non-member DNS %x", []byte(dns))
	}
	// A relay's Subscriber-ID (option 38, RFC 4580) selects class cust.
	subscriberID = "cust-8"
	if _, ok := solicit([]byte{0, 3, 0, 1, 2, 0, 0, 0, 8, 4}, false, ""); ok {
		t.Fatal("subscriber-id cust-8 was answered; only cust-9 is in class cust")
	}
	subscriberID = "cust-9"
	if _, ok := solicit([]byte{0, 3, 0, 1, 2, 0, 0, 0, 8, 5}, false, ""); !ok {
		t.Fatal("no Advertise for subscriber-id cust-9 (class cust)")
	}
}
