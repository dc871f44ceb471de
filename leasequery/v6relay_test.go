package leasequery

import (
	"bytes"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/leased/leased/dhcpv6"
)

// fakeRelays reads the test's RelayInfo "relayIDs|remoteIDs|peer|msg",
// the ids separated by commas.
func fakeRelays(ri []byte, withData bool) (relayIDs, remoteIDs [][]byte, peer netip.Addr, msg []byte) {
	f := strings.Split(string(ri), "|")
	if len(f) != 4 {
		return nil, nil, netip.Addr{}, nil
	}
	for _, id := range strings.Split(f[0], ",") {
		if id != "" {
			relayIDs = append(relayIDs, []byte(id))
		}
	}
	for _, id := range strings.Split(f[1], ",") {
		if id != "" {
			remoteIDs = append(remoteIDs, []byte(id))
		}
	}
	if withData {
		peer, msg = netip.MustParseAddr(f[2]), []byte(f[3])
	}
	return relayIDs, remoteIDs, peer, msg
}

// TestBulk6RelayRemote: RFC 5460 bulk queries by relay id (type 3) and by
// remote id (type 5) return the clients whose last message came through
// that relay, in any layer (or carried that Remote-ID: enterprise number
// and remote-id both), optionally on one link; OPTION_LQ_RELAY_DATA is added to the
// client data when the query's OPTION_ORO asks for it (RFC 5007
// §4.1.2.4), from the client's most recent binding.
func TestBulk6RelayRemote(t *testing.T) {
	src := source6()
	src[0].RelayInfo = []byte("relay1|\x00\x00\x00\x09port1|2001:db8::1|old")
	src[1].RelayInfo = []byte("relay1|\x00\x00\x00\x09port1|2001:db8::1|new")
	src[0].Start = src[0].Start.Add(-time.Second)                                // src[1] is the client's latest binding
	src[2].RelayInfo = []byte("relay2,agg|\x00\x00\x00\x09port1|2001:db8::2|l2") // behind relay2, then agg
	src[3].RelayInfo = []byte("relay1|\x00\x00\x00\x0aport1|2001:db8::1|b")
	src[4].RelayInfo = []byte("relay1||2001:db8::1|released") // not active: never listed
	s := &Server6{Source: src, ServerID: srvDUID, Relays: fakeRelays}
	run := func(m *dhcpv6.Message) []string {
		var out []string
		if _, err := s.Bulk(now, m, func(b []byte) error { out = append(out, summary6(t, b)); return nil }); err != nil {
			t.Fatal(err)
		}
		return out
	}
	any6 := netip.IPv6Unspecified()
	for _, tc := range []struct {
		name string
		m    *dhcpv6.Message
		want []string
	}{
		{"relay 1", lq6(t, QueryByRelayID, any6, Opt6(OptRelayID, []byte("relay1"))),
			[]string{"15 client a 2001:db8:1::10 2001:db8:1:100::/56 clt 20", "17 client b 2001:db8:1::11 clt 20", "16"}},
		{"relay 1 on link 2", lq6(t, QueryByRelayID, link2.Addr(), Opt6(OptRelayID, []byte("relay1"))), []string{"15"}},
		{"relay 2", lq6(t, QueryByRelayID, any6, Opt6(OptRelayID, []byte("relay2"))), []string{"15 client a 2001:db8:2::20 clt 20", "16"}},
		{"an upstream relay (second layer)", lq6(t, QueryByRelayID, any6, Opt6(OptRelayID, []byte("agg"))), []string{"15 client a 2001:db8:2::20 clt 20", "16"}},
		{"unknown relay", lq6(t, QueryByRelayID, any6, Opt6(OptRelayID, []byte("relay9"))), []string{"15"}},
		{"remote id, enterprise 9", lq6(t, QueryByRemoteID, any6, Opt6(dhcpv6.OptRemoteID, []byte("\x00\x00\x00\x09port1"))),
			[]string{"15 client a 2001:db8:1::10 2001:db8:1:100::/56 2001:db8:2::20 clt 20", "16"}},
		{"remote id, enterprise 10", lq6(t, QueryByRemoteID, any6, Opt6(dhcpv6.OptRemoteID, []byte("\x00\x00\x00\x0aport1"))),
			[]string{"15 client b 2001:db8:1::11 clt 20", "16"}},
		{"remote id on link 1", lq6(t, QueryByRemoteID, link1.Addr(), Opt6(dhcpv6.OptRemoteID, []byte("\x00\x00\x00\x09port1"))),
			[]string{"15 client a 2001:db8:1::10 2001:db8:1:100::/56 clt 20", "16"}},
		{"relay id without the option", lq6(t, QueryByRelayID, any6, nil), []string{"15 status 8"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := run(tc.m); !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}

	// Relay data on request: the client's latest binding's.
	oro := Opt6(dhcpv6.OptORO, []byte{0, byte(OptLQRelayData)})
	var replies [][]byte
	if _, err := s.Bulk(now, lq6(t, QueryByRelayID, any6, append(Opt6(OptRelayID, []byte("relay1")), oro...)), func(b []byte) error {
		replies = append(replies, b)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want := [][]byte{append(netip.MustParseAddr("2001:db8::1").AsSlice(), "new"...), append(netip.MustParseAddr("2001:db8::1").AsSlice(), "b"...), nil}
	if len(replies) != len(want) {
		t.Fatalf("%d replies", len(replies))
	}
	for i, b := range replies {
		var m dhcpv6.Message
		if err := m.Decode(b); err != nil {
			t.Fatal(err)
		}
		cd, _ := m.Option(OptClientData)
		rd, _ := dhcpv6.Options(cd).Get(OptLQRelayData)
		if !bytes.Equal(rd, want[i]) {
			t.Errorf("reply %d: relay data %q, want %q", i, rd, want[i])
		}
	}
	// Not asked for: none.
	replies = nil
	s.Bulk(now, lq6(t, QueryByRelayID, any6, Opt6(OptRelayID, []byte("relay1"))), func(b []byte) error { replies = append(replies, b); return nil })
	if bytes.Contains(replies[0], []byte("new")) {
		t.Error("relay data sent without OPTION_ORO asking for it")
	}
	// Without a Relays reader nothing matches.
	s.Relays = nil
	if got := run(lq6(t, QueryByRelayID, any6, Opt6(OptRelayID, []byte("relay1")))); !slices.Equal(got, []string{"15"}) {
		t.Errorf("without Relays: %q", got)
	}
}
