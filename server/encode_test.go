package server

import (
	"bytes"
	"net/netip"
	"testing"
	"time"

	"github.com/leased/leased/dhcpv4"
	"github.com/leased/leased/lease"
)

func testPool() *lease.Pool {
	return &lease.Pool{
		Name:         "p",
		Subnet:       netip.MustParsePrefix("192.0.2.0/24"),
		Gateway:      netip.MustParseAddr("192.0.2.1"),
		DNS:          []netip.Addr{netip.MustParseAddr("192.0.2.53"), netip.MustParseAddr("192.0.2.54")},
		DomainName:   "example.net",
		DomainSearch: []string{"example.net", "corp.example.net"},
		NTP:          []netip.Addr{netip.MustParseAddr("192.0.2.123")},
		MTU:          1400,
		Routes: []lease.Route{
			{Dest: netip.MustParsePrefix("10.0.0.0/8"), Gateway: netip.MustParseAddr("192.0.2.2")},
			{Dest: netip.MustParsePrefix("0.0.0.0/0"), Gateway: netip.MustParseAddr("192.0.2.1")},
		},
		TFTPServer: "tftp.example.net",
		BootFile:   "pxelinux.0",
		RawOptions: []lease.RawOption{{Code: 252, Data: []byte("http://wpad/wpad.dat")}},
	}
}

func decodeReply(t *testing.T, b []byte) *dhcpv4.Message {
	t.Helper()
	m := new(dhcpv4.Message)
	if err := m.Decode(b); err != nil {
		t.Fatalf("decode own reply: %v", err)
	}
	return m
}

func codes(m *dhcpv4.Message) []dhcpv4.OptionCode {
	var cs []dhcpv4.OptionCode
	for c := range m.Options() {
		cs = append(cs, c)
	}
	return cs
}

func TestEncodeAckOptionsInOrder(t *testing.T) {
	po, errs := buildPoolOptions(testPool())
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	req := dhcpv4.Header{HType: 1, HLen: 6, XID: 0xdeadbeef, Flags: 0, CIAddr: netip.MustParseAddr("192.0.2.10"), GIAddr: netip.IPv4Unspecified(), CHAddr: [16]byte{2, 1, 2, 3, 4, 5}}
	r := lease.Reply{Type: dhcpv4.Ack, YIAddr: netip.MustParseAddr("192.0.2.10"), LeaseTime: time.Hour, T1: 30 * time.Minute, T2: 3150 * time.Second}
	sid := netip.MustParseAddr("192.0.2.1")
	var w dhcpv4.Writer
	b, err := encodeReply(&w, make([]byte, 0, 1500), &req, &r, sid, []byte{1, 1, 'x'}, nil, po)
	if err != nil {
		t.Fatal(err)
	}
	m := decodeReply(t, b)
	want := []dhcpv4.OptionCode{53, 54, 51, 58, 59, 1, 3, 6, 15, 119, 42, 26, 121, 66, 67, 28, 252, 82}
	if got := codes(m); !equalCodes(got, want) {
		t.Fatalf("options %v, want %v", got, want)
	}
	if m.Op != dhcpv4.BootReply || m.XID != 0xdeadbeef || m.CIAddr != req.CIAddr || m.YIAddr != r.YIAddr || m.CHAddr != req.CHAddr {
		t.Errorf("header %+v", m.Header)
	}
	if v, _ := m.Uint32(dhcpv4.OptRebindingTime); v != 3150 {
		t.Errorf("T2 %d", v)
	}
	if v, _ := m.Option(dhcpv4.OptBroadcastAddr); !bytes.Equal(v, []byte{192, 0, 2, 255}) {
		t.Errorf("broadcast %v", v)
	}
	if v, _ := m.Option(dhcpv4.OptInterfaceMTU); !bytes.Equal(v, []byte{0x05, 0x78}) {
		t.Errorf("mtu %v", v)
	}
	rs, err := dhcpv4.ParseClasslessRoutes(func() []byte { v, _ := m.Option(dhcpv4.OptClasslessRoutes); return v }())
	if err != nil || len(rs) != 2 || rs[0].Dest != netip.MustParsePrefix("10.0.0.0/8") {
		t.Errorf("routes %v %v", rs, err)
	}
	ds, err := dhcpv4.ParseDomainSearch(func() []byte { v, _ := m.Option(dhcpv4.OptDomainSearch); return v }())
	if err != nil || len(ds) != 2 || ds[1] != "corp.example.net" {
		t.Errorf("search %v %v", ds, err)
	}
}

func equalCodes(a, b []dhcpv4.OptionCode) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestEncodeInformAckHasNoLeaseTime(t *testing.T) {
	po, _ := buildPoolOptions(testPool())
	req := dhcpv4.Header{HType: 1, HLen: 6, CIAddr: netip.MustParseAddr("192.0.2.77")}
	r := lease.Reply{Type: dhcpv4.Ack} // INFORM: no yiaddr, no times
	var w dhcpv4.Writer
	b, err := encodeReply(&w, make([]byte, 0, 1500), &req, &r, netip.MustParseAddr("192.0.2.1"), nil, nil, po)
	if err != nil {
		t.Fatal(err)
	}
	m := decodeReply(t, b)
	for _, c := range []dhcpv4.OptionCode{51, 58, 59} {
		if m.Has(c) {
			t.Errorf("INFORM ACK carries option %d (RFC 2131 §4.3.5)", c)
		}
	}
	if !m.Has(dhcpv4.OptDNS) || m.YIAddr != netip.IPv4Unspecified() || m.CIAddr != req.CIAddr {
		t.Errorf("INFORM ACK: dns %v yiaddr %v ciaddr %v", m.Has(dhcpv4.OptDNS), m.YIAddr, m.CIAddr)
	}
}

func TestEncodeNak(t *testing.T) {
	po, _ := buildPoolOptions(testPool())
	req := dhcpv4.Header{HType: 1, HLen: 6, CIAddr: netip.MustParseAddr("192.0.2.77"), GIAddr: netip.MustParseAddr("198.51.100.1")}
	r := lease.Reply{Type: dhcpv4.Nak, YIAddr: netip.MustParseAddr("192.0.2.77"), LeaseTime: time.Hour, Message: "wrong network"}
	var w dhcpv4.Writer
	// Even with a pool and times, a NAK carries only 53, 54, 56, 82.
	b, err := encodeReply(&w, make([]byte, 0, 1500), &req, &r, netip.MustParseAddr("192.0.2.1"), []byte{1, 1, 'x'}, nil, po)
	if err != nil {
		t.Fatal(err)
	}
	m := decodeReply(t, b)
	if got, want := codes(m), []dhcpv4.OptionCode{53, 54, 56, 82}; !equalCodes(got, want) {
		t.Fatalf("NAK options %v, want %v", got, want)
	}
	if m.YIAddr != netip.IPv4Unspecified() || m.CIAddr != netip.IPv4Unspecified() || m.Flags&dhcpv4.FlagBroadcast == 0 {
		t.Errorf("NAK yiaddr %v ciaddr %v flags %#x", m.YIAddr, m.CIAddr, m.Flags)
	}
}

func TestBuildPoolOptionsSmallSubnets(t *testing.T) {
	for _, c := range []struct {
		prefix    string
		mask      []byte
		broadcast bool
	}{
		{"192.0.2.0/30", []byte{255, 255, 255, 252}, true},
		{"192.0.2.0/31", []byte{255, 255, 255, 254}, false},
		{"192.0.2.1/32", []byte{255, 255, 255, 255}, false},
	} {
		po, _ := buildPoolOptions(&lease.Pool{Name: "x", Subnet: netip.MustParsePrefix(c.prefix)})
		var mask []byte
		var bc bool
		for _, o := range po.opts {
			switch o.code {
			case dhcpv4.OptSubnetMask:
				mask = o.data
			case dhcpv4.OptBroadcastAddr:
				bc = true
			}
		}
		if !bytes.Equal(mask, c.mask) || bc != c.broadcast {
			t.Errorf("%s: mask %v broadcast %v", c.prefix, mask, bc)
		}
	}
}

func TestEncodeReplyAllocs(t *testing.T) {
	po, _ := buildPoolOptions(testPool())
	req := dhcpv4.Header{HType: 1, HLen: 6, XID: 1}
	r := lease.Reply{Type: dhcpv4.Offer, YIAddr: netip.MustParseAddr("192.0.2.10"), LeaseTime: time.Hour, T1: time.Minute, T2: 2 * time.Minute}
	var w dhcpv4.Writer
	buf := make([]byte, 0, 1500)
	relay := []byte{1, 1, 'x'}
	cid := []byte{1, 2, 1, 2, 3, 4, 5}
	sid := netip.MustParseAddr("192.0.2.1")
	if n := testing.AllocsPerRun(200, func() {
		_, _ = encodeReply(&w, buf, &req, &r, sid, relay, cid, po)
	}); n != 0 {
		t.Fatalf("encodeReply allocates %v times", n)
	}
}

func TestFillRequest(t *testing.T) {
	ifc := &iface{name: "eth0", index: 3, addr: netip.MustParseAddr("192.0.2.1"), prefix: netip.MustParsePrefix("192.0.2.0/24")}
	ours := func(a netip.Addr) bool {
		return a == netip.MustParseAddr("192.0.2.1") || a == netip.MustParseAddr("198.51.100.1")
	}
	a := netip.MustParseAddr
	tests := []struct {
		name       string
		msg        clientMsg
		pi         pktInfo
		unicast    bool
		serverAddr netip.Addr
		sidOurs    bool
	}{
		{"broadcast discover", clientMsg{typ: dhcpv4.Discover, mac: mac1}, pktInfo{IfIndex: 3, Dst: limitedBroadcast, Local: a("192.0.2.1")}, false, a("192.0.2.1"), false},
		{"directed broadcast", clientMsg{typ: dhcpv4.Request, mac: mac1, ciaddr: a("192.0.2.9")}, pktInfo{IfIndex: 3, Dst: a("192.0.2.255"), Local: a("192.0.2.1")}, false, a("192.0.2.1"), false},
		{"renewing unicast", clientMsg{typ: dhcpv4.Request, mac: mac1, ciaddr: a("192.0.2.9")}, pktInfo{IfIndex: 3, Dst: a("192.0.2.1"), Local: a("192.0.2.1")}, true, a("192.0.2.1"), false},
		{"selecting other server", clientMsg{typ: dhcpv4.Request, mac: mac1, serverID: a("192.0.2.200"), reqIP: a("192.0.2.9")}, pktInfo{IfIndex: 3, Dst: limitedBroadcast}, false, a("192.0.2.1"), false},
		{"relayed to second address", clientMsg{typ: dhcpv4.Request, mac: mac1, giaddr: a("10.9.0.1"), serverID: a("198.51.100.1"), reqIP: a("10.9.0.5"), relay: relay1}, pktInfo{IfIndex: 3, Dst: a("198.51.100.1"), Local: a("198.51.100.1")}, true, a("198.51.100.1"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m dhcpv4.Message
			if err := m.Decode(buildMsg(t, tt.msg)); err != nil {
				t.Fatal(err)
			}
			var req lease.Request
			fillRequest(&req, &m, ifc, tt.pi, ours)
			if req.Unicast != tt.unicast || req.ServerAddr != tt.serverAddr || req.ServerIDOurs != tt.sidOurs {
				t.Errorf("unicast %v serverAddr %v sidOurs %v; want %v %v %v", req.Unicast, req.ServerAddr, req.ServerIDOurs, tt.unicast, tt.serverAddr, tt.sidOurs)
			}
			if req.LinkAddr != ifc.addr || req.Type != tt.msg.typ || !bytes.Equal(req.HWAddr, mac1[:]) ||
				!bytes.Equal(req.ClientID, append([]byte{1}, mac1[:]...)) || string(req.Hostname) != "host1" {
				t.Errorf("request %+v", req)
			}
			if tt.msg.reqIP.IsValid() && req.RequestedIP != tt.msg.reqIP {
				t.Errorf("requested ip %v", req.RequestedIP)
			}
			if tt.msg.serverID.IsValid() != req.ServerID.IsValid() {
				t.Errorf("server id %v", req.ServerID)
			}
			if !bytes.Equal(req.RelayInfo, tt.msg.relay) {
				t.Errorf("relay info %x", req.RelayInfo)
			}
		})
	}
}
