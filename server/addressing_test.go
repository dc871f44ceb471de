package server

import (
	"net/netip"
	"testing"

	"github.com/leased/leased/dhcpv4"
)

func TestReplyDest(t *testing.T) {
	a := netip.MustParseAddr
	mac := [16]byte{0x02, 0, 0, 0, 0, 0x01}
	bcast := netip.MustParseAddrPort("255.255.255.255:68")
	tests := []struct {
		name string
		in   ReplyTarget
		want Dest
	}{
		{"relay offer", ReplyTarget{Type: dhcpv4.Offer, GIAddr: a("10.0.0.1"), YIAddr: a("10.0.0.5"), HType: 1, HLen: 6},
			Dest{Kind: DestRelay, Addr: netip.MustParseAddrPort("10.0.0.1:67")}},
		{"relay nak", ReplyTarget{Type: dhcpv4.Nak, GIAddr: a("10.0.0.1"), CIAddr: a("10.0.0.9")},
			Dest{Kind: DestRelay, Addr: netip.MustParseAddrPort("10.0.0.1:67")}},
		{"relay wins over ciaddr and broadcast flag", ReplyTarget{Type: dhcpv4.Ack, GIAddr: a("10.0.0.1"), CIAddr: a("10.0.0.9"), Flags: dhcpv4.FlagBroadcast},
			Dest{Kind: DestRelay, Addr: netip.MustParseAddrPort("10.0.0.1:67")}},
		{"nak without giaddr broadcast even with ciaddr", ReplyTarget{Type: dhcpv4.Nak, CIAddr: a("10.0.0.9"), GIAddr: a("0.0.0.0")},
			Dest{Kind: DestBroadcast, Addr: bcast}},
		{"renew ack to ciaddr", ReplyTarget{Type: dhcpv4.Ack, CIAddr: a("10.0.0.9"), YIAddr: a("10.0.0.9"), HType: 1, HLen: 6},
			Dest{Kind: DestUnicast, Addr: netip.MustParseAddrPort("10.0.0.9:68")}},
		{"ciaddr wins over broadcast flag", ReplyTarget{Type: dhcpv4.Ack, CIAddr: a("10.0.0.9"), Flags: dhcpv4.FlagBroadcast},
			Dest{Kind: DestUnicast, Addr: netip.MustParseAddrPort("10.0.0.9:68")}},
		{"broadcast flag", ReplyTarget{Type: dhcpv4.Offer, YIAddr: a("10.0.0.5"), Flags: dhcpv4.FlagBroadcast, HType: 1, HLen: 6, CHAddr: mac},
			Dest{Kind: DestBroadcast, Addr: bcast}},
		{"hardware unicast", ReplyTarget{Type: dhcpv4.Offer, YIAddr: a("10.0.0.5"), CIAddr: a("0.0.0.0"), GIAddr: a("0.0.0.0"), HType: 1, HLen: 6, CHAddr: mac},
			Dest{Kind: DestHardware, Addr: netip.MustParseAddrPort("10.0.0.5:68"), HWAddr: [6]byte{0x02, 0, 0, 0, 0, 0x01}}},
		{"htype not ethernet", ReplyTarget{Type: dhcpv4.Offer, YIAddr: a("10.0.0.5"), HType: 32, HLen: 6, CHAddr: mac},
			Dest{Kind: DestBroadcast, Addr: bcast}},
		{"hlen not 6", ReplyTarget{Type: dhcpv4.Offer, YIAddr: a("10.0.0.5"), HType: 1, HLen: 16, CHAddr: mac},
			Dest{Kind: DestBroadcast, Addr: bcast}},
		{"no yiaddr", ReplyTarget{Type: dhcpv4.Ack, HType: 1, HLen: 6, CHAddr: mac},
			Dest{Kind: DestBroadcast, Addr: bcast}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ReplyDest(&tt.in, 67); got != tt.want {
				t.Errorf("ReplyDest = %+v (%v), want %+v (%v)", got, got.Kind, tt.want, tt.want.Kind)
			}
		})
	}
}

func TestReplyDestRelayPort(t *testing.T) {
	in := ReplyTarget{Type: dhcpv4.Offer, GIAddr: netip.MustParseAddr("127.0.0.2")}
	if got := ReplyDest(&in, 10067); got.Addr.Port() != 10067 {
		t.Fatalf("port = %d, want 10067", got.Addr.Port())
	}
}

func TestNakCopyDest(t *testing.T) {
	ci := netip.MustParseAddr("10.77.1.5")
	gi := netip.MustParseAddr("10.99.0.2")
	for _, tc := range []struct {
		name string
		t    ReplyTarget
		want bool
	}{
		{"renewing NAK gets a unicast copy", ReplyTarget{Type: dhcpv4.Nak, CIAddr: ci}, true},
		{"selecting NAK (no ciaddr): broadcast only", ReplyTarget{Type: dhcpv4.Nak}, false},
		{"relayed NAK: relay only", ReplyTarget{Type: dhcpv4.Nak, CIAddr: ci, GIAddr: gi}, false},
		{"ACK: never", ReplyTarget{Type: dhcpv4.Ack, CIAddr: ci}, false},
	} {
		d, ok := NakCopyDest(&tc.t)
		if ok != tc.want {
			t.Errorf("%s: ok = %v, want %v", tc.name, ok, tc.want)
			continue
		}
		if ok && (d.Kind != DestUnicast || d.Addr != netip.AddrPortFrom(ci, dhcpv4.ClientPort)) {
			t.Errorf("%s: dest %+v, want unicast to %v:68", tc.name, d, ci)
		}
	}
}
