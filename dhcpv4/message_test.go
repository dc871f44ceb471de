package dhcpv4

import (
	"bytes"
	"encoding/hex"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var a4 = netip.MustParseAddr

func optionsOf(m *Message) map[OptionCode]string {
	got := map[OptionCode]string{}
	for c, v := range m.Options() {
		got[c] = hex.EncodeToString(v)
	}
	return got
}

func TestDecodeFixtures(t *testing.T) {
	zero := a4("0.0.0.0")
	mac := [16]byte{0x02, 0x42, 0xac, 0x11, 0x00, 0x02}
	tests := []struct {
		name   string
		hex    string
		header Header
		typ    MessageType
		opts   map[OptionCode]string
	}{
		{"discover", fxDiscover,
			Header{Op: BootRequest, HType: 1, HLen: 6, XID: 0xa1b2c3d4, Secs: 3, Flags: FlagBroadcast,
				CIAddr: zero, YIAddr: zero, SIAddr: zero, GIAddr: zero, CHAddr: mac},
			Discover, map[OptionCode]string{53: "01", 61: "010242ac110002", 55: "0103060c0f1c2a79", 57: "05dc",
				12: hex.EncodeToString([]byte("box1")), 60: hex.EncodeToString([]byte("dhcpcd-9.4.1")), 145: "01"}},
		{"request", fxRequest,
			Header{Op: BootRequest, HType: 1, HLen: 6, Hops: 1, XID: 0x0badcafe,
				CIAddr: zero, YIAddr: zero, SIAddr: zero, GIAddr: a4("10.0.0.1"), CHAddr: mac},
			Request, map[OptionCode]string{53: "03", 61: "010242ac110002", 50: "0a000032", 54: "0a0000fe",
				12: hex.EncodeToString([]byte("box1")), 55: "0103060f",
				82: "0104" + hex.EncodeToString([]byte("eth0")) + "02060242ac11000205040a000000"}},
		{"offer", fxOffer,
			Header{Op: BootReply, HType: 1, HLen: 6, XID: 0xa1b2c3d4, Flags: FlagBroadcast,
				CIAddr: zero, YIAddr: a4("10.0.0.50"), SIAddr: zero, GIAddr: zero, CHAddr: mac},
			Offer, map[OptionCode]string{53: "02", 54: "0a0000fe", 51: "00000e10", 58: "00000708", 59: "00000c4e",
				1: "ffffff00", 3: "0a000001", 6: "0a0000010a000002", 15: hex.EncodeToString([]byte("example.net"))}},
		{"nak", fxNak,
			Header{Op: BootReply, HType: 1, HLen: 6, XID: 0x0badcafe, Flags: FlagBroadcast,
				CIAddr: zero, YIAddr: zero, SIAddr: zero, GIAddr: zero, CHAddr: mac},
			Nak, map[OptionCode]string{53: "06", 54: "0a0000fe", 56: hex.EncodeToString([]byte("address not ours.."))}},
		{"release", fxRelease,
			Header{Op: BootRequest, HType: 1, HLen: 6, XID: 0x11223344,
				CIAddr: a4("10.0.0.50"), YIAddr: zero, SIAddr: zero, GIAddr: zero, CHAddr: mac},
			Release, map[OptionCode]string{53: "07", 54: "0a0000fe", 61: "010242ac110002"}},
		{"decline", fxDecline,
			Header{Op: BootRequest, HType: 1, HLen: 6, XID: 0x55667788,
				CIAddr: zero, YIAddr: zero, SIAddr: zero, GIAddr: zero, CHAddr: mac},
			Decline, map[OptionCode]string{53: "04", 50: "0a000032", 54: "0a0000fe", 61: "010242ac110002"}},
		{"inform", fxInform,
			Header{Op: BootRequest, HType: 1, HLen: 6, XID: 0x99aabbcc,
				CIAddr: a4("10.0.0.99"), YIAddr: zero, SIAddr: zero, GIAddr: zero,
				CHAddr: [16]byte{0x02, 0x42, 0xac, 0x11, 0x00, 0x03}},
			Inform, map[OptionCode]string{53: "08", 55: "060f2a"}},
		{"forcerenew", fxForceRenew,
			Header{Op: BootReply, HType: 1, HLen: 6, XID: 0x0badcafe,
				CIAddr: a4("10.0.0.50"), YIAddr: zero, SIAddr: zero, GIAddr: zero, CHAddr: mac},
			ForceRenew, map[OptionCode]string{53: "09", 54: "0a0000fe",
				90: "030100000000000000000202" + "00000000000000000000000000000000"}},
		{"overload", fxOverload,
			Header{Op: BootRequest, HType: 1, HLen: 6, XID: 0x01020304,
				CIAddr: zero, YIAddr: zero, SIAddr: zero, GIAddr: zero, CHAddr: mac},
			Discover, map[OptionCode]string{53: "01", 52: "03",
				12: hex.EncodeToString([]byte("1box-x")), 82: "01000b040a0000fe"}},
	}
	var m Message
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := mustHex(t, tt.hex)
			if err := m.Decode(b); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.header, m.Header, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
				t.Errorf("header (-want +got):\n%s", diff)
			}
			if m.Type() != tt.typ {
				t.Errorf("Type() = %v, want %v", m.Type(), tt.typ)
			}
			if diff := cmp.Diff(tt.opts, optionsOf(&m)); diff != "" {
				t.Errorf("options (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEncodeReproducesFixtures(t *testing.T) {
	var m Message
	buf := make([]byte, 1500)
	for _, fx := range allFixtures {
		if fx.name == "overload" {
			continue // Encode never overloads; see TestEncodeOverloaded
		}
		t.Run(fx.name, func(t *testing.T) {
			b := mustHex(t, fx.hex)
			if err := m.Decode(b); err != nil {
				t.Fatal(err)
			}
			out, err := m.Encode(buf[:0])
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out, b) {
				t.Errorf("Encode differs from fixture:\n got %x\nwant %x", out, b)
			}
		})
	}
}

func TestEncodeOverloaded(t *testing.T) {
	var m, m2 Message
	if err := m.Decode(mustHex(t, fxOverload)); err != nil {
		t.Fatal(err)
	}
	out, err := m.Encode(make([]byte, 0, 600))
	if err != nil {
		t.Fatal(err)
	}
	if err := m2.Decode(out); err != nil {
		t.Fatal(err)
	}
	if m2.Overload() != 0 || m2.Has(OptOverload) {
		t.Errorf("re-encoded message still overloaded")
	}
	want := optionsOf(&m)
	delete(want, OptOverload)
	if diff := cmp.Diff(want, optionsOf(&m2)); diff != "" {
		t.Errorf("options (-want +got):\n%s", diff)
	}
	if m.SName != nil || m.File != nil {
		t.Errorf("overloaded sname/file should read as nil, got %q %q", m.SName, m.File)
	}
	// RFC 3396 concatenation goes through scratch: not contiguous in the packet.
	if _, ok := m.OptionOffset(OptHostname); ok {
		t.Errorf("OptionOffset of a split option should be unavailable")
	}
}

func TestAccessors(t *testing.T) {
	var m Message
	if err := m.Decode(mustHex(t, fxRequest)); err != nil {
		t.Fatal(err)
	}
	if ip, ok := m.RequestedIP(); !ok || ip != a4("10.0.0.50") {
		t.Errorf("RequestedIP = %v %v", ip, ok)
	}
	if ip, ok := m.ServerID(); !ok || ip != a4("10.0.0.254") {
		t.Errorf("ServerID = %v %v", ip, ok)
	}
	if got := m.ClientID(); !bytes.Equal(got, []byte{1, 2, 0x42, 0xac, 0x11, 0, 2}) {
		t.Errorf("ClientID = %x", got)
	}
	if string(m.Hostname()) != "box1" {
		t.Errorf("Hostname = %q", m.Hostname())
	}
	if !bytes.Equal(m.ParamRequestList(), []byte{1, 3, 6, 15}) || !m.Requested(OptDNS) || m.Requested(OptNTPServers) {
		t.Errorf("PRL = %v", m.ParamRequestList())
	}
	if _, ok := m.LeaseTime(); ok {
		t.Errorf("LeaseTime present in REQUEST fixture")
	}
	if !bytes.Equal(m.HWAddr(), []byte{2, 0x42, 0xac, 0x11, 0, 2}) {
		t.Errorf("HWAddr = %x", m.HWAddr())
	}
	if m.Broadcast() {
		t.Errorf("Broadcast set")
	}
	ri := RelayInfo(m.RelayAgentInfo())
	if string(ri.CircuitID()) != "eth0" {
		t.Errorf("circuit id %q", ri.CircuitID())
	}
	if ls, ok := ri.LinkSelection(); !ok || ls != a4("10.0.0.0") {
		t.Errorf("link selection %v %v", ls, ok)
	}
	if m.ForceRenewNonceCapable() != nil {
		t.Errorf("145 present")
	}

	if err := m.Decode(mustHex(t, fxDiscover)); err != nil {
		t.Fatal(err)
	}
	if mms, ok := m.MaxMessageSize(); !ok || mms != 1500 {
		t.Errorf("MaxMessageSize = %d %v", mms, ok)
	}
	if string(m.VendorClass()) != "dhcpcd-9.4.1" {
		t.Errorf("VendorClass = %q", m.VendorClass())
	}
	if !NonceCapable(m.ForceRenewNonceCapable(), AuthAlgHMACMD5) {
		t.Errorf("145 = %x", m.ForceRenewNonceCapable())
	}
	if !m.Broadcast() {
		t.Errorf("Broadcast not set")
	}

	if err := m.Decode(mustHex(t, fxOffer)); err != nil {
		t.Fatal(err)
	}
	if lt, ok := m.LeaseTime(); !ok || lt != 3600 {
		t.Errorf("LeaseTime = %d %v", lt, ok)
	}
	dns, err := AppendAddrs(nil, func() []byte { v, _ := m.Option(OptDNS); return v }())
	if err != nil || len(dns) != 2 || dns[1] != a4("10.0.0.2") {
		t.Errorf("DNS = %v %v", dns, err)
	}
}

func TestDecodeResetsPreviousMessage(t *testing.T) {
	var m Message
	if err := m.Decode(mustHex(t, fxRequest)); err != nil {
		t.Fatal(err)
	}
	if err := m.Decode(mustHex(t, fxInform)); err != nil {
		t.Fatal(err)
	}
	if m.Has(OptRelayAgentInfo) || m.Has(OptClientID) || m.NumOptions() != 2 {
		t.Errorf("options leaked from the previous decode: %v", optionsOf(&m))
	}
	// A failed decode leaves no options behind either.
	if err := m.Decode([]byte{1, 2, 3}); err == nil {
		t.Fatal("short packet decoded")
	}
	if m.NumOptions() != 0 || m.Type() != 0 {
		t.Errorf("state after failed decode: %v", optionsOf(&m))
	}
}
