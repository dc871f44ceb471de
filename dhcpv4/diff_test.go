package dhcpv4

// Differential test against github.com/insomniacslk/dhcp/dhcpv4 (test-only
// oracle): both decoders must agree on every field both understand, and
// each must parse what the other encodes.

import (
	"bytes"
	"net"
	"net/netip"
	"sort"
	"testing"

	idhcp "github.com/insomniacslk/dhcp/dhcpv4"
)

func netIPEq(a netip.Addr, b net.IP) bool {
	b4 := b.To4()
	return b4 != nil && a == netip.AddrFrom4([4]byte(b4))
}

// agree compares our decoded message with insomniacslk's.
func agree(t *testing.T, m *Message, d *idhcp.DHCPv4) {
	t.Helper()
	if byte(m.Op) != byte(d.OpCode) || uint16(m.HType) != uint16(d.HWType) || m.Hops != d.HopCount ||
		[4]byte(d.TransactionID) != [4]byte{byte(m.XID >> 24), byte(m.XID >> 16), byte(m.XID >> 8), byte(m.XID)} ||
		m.Secs != d.NumSeconds || m.Flags != d.Flags || m.Broadcast() != d.IsBroadcast() {
		t.Errorf("fixed header differs: ours %+v theirs %v", m.Header, d)
	}
	for _, p := range []struct {
		name string
		a    netip.Addr
		b    net.IP
	}{{"ciaddr", m.CIAddr, d.ClientIPAddr}, {"yiaddr", m.YIAddr, d.YourIPAddr}, {"siaddr", m.SIAddr, d.ServerIPAddr}, {"giaddr", m.GIAddr, d.GatewayIPAddr}} {
		if !netIPEq(p.a, p.b) {
			t.Errorf("%s: ours %v theirs %v", p.name, p.a, p.b)
		}
	}
	if !bytes.Equal(m.HWAddr(), d.ClientHWAddr) {
		t.Errorf("chaddr: ours %x theirs %x", m.HWAddr(), d.ClientHWAddr)
	}
	if m.Overload() == 0 && (string(m.SName) != d.ServerHostName || string(m.File) != d.BootFileName) {
		t.Errorf("sname/file: ours %q %q theirs %q %q", m.SName, m.File, d.ServerHostName, d.BootFileName)
	}
	if uint8(m.Type()) != uint8(d.MessageType()) {
		t.Errorf("type: ours %v theirs %v", m.Type(), d.MessageType())
	}
	if ip, ok := m.RequestedIP(); ok != (d.RequestedIPAddress() != nil) || (ok && !netIPEq(ip, d.RequestedIPAddress())) {
		t.Errorf("requested IP: ours %v theirs %v", ip, d.RequestedIPAddress())
	}
	if ip, ok := m.ServerID(); ok != (d.ServerIdentifier() != nil) || (ok && !netIPEq(ip, d.ServerIdentifier())) {
		t.Errorf("server id: ours %v theirs %v", ip, d.ServerIdentifier())
	}
	if !bytes.Equal(m.ClientID(), d.GetOneOption(idhcp.OptionClientIdentifier)) {
		t.Errorf("client id differs")
	}
	if string(m.Hostname()) != d.HostName() {
		t.Errorf("hostname: ours %q theirs %q", m.Hostname(), d.HostName())
	}
	var prl []byte
	for _, c := range d.ParameterRequestList() {
		prl = append(prl, c.Code())
	}
	if !bytes.Equal(m.ParamRequestList(), prl) {
		t.Errorf("PRL: ours %v theirs %v", m.ParamRequestList(), prl)
	}
	if lt, ok := m.LeaseTime(); d.IPAddressLeaseTime(0) != 0 || ok {
		if int64(lt) != int64(d.IPAddressLeaseTime(0).Seconds()) {
			t.Errorf("lease time: ours %d theirs %v", lt, d.IPAddressLeaseTime(0))
		}
	}
	if mms, ok := m.MaxMessageSize(); ok {
		if theirs, err := d.MaxMessageSize(); err != nil || theirs != mms {
			t.Errorf("max message size: ours %d theirs %d %v", mms, theirs, err)
		}
	}
	if string(m.VendorClass()) != d.ClassIdentifier() {
		t.Errorf("vendor class: ours %q theirs %q", m.VendorClass(), d.ClassIdentifier())
	}
	if ri := d.RelayAgentInfo(); ri != nil {
		n := 0
		it := RelayInfo(m.RelayAgentInfo()).Iter()
		for it.Next() {
			n++
			if !bytes.Equal(it.Data(), ri.Get(idhcp.GenericOptionCode(it.Code()))) {
				t.Errorf("relay sub-option %d: ours %x theirs %x", it.Code(), it.Data(), ri.Get(idhcp.GenericOptionCode(it.Code())))
			}
		}
		if it.Err() != nil || n != len(ri.Options) {
			t.Errorf("relay sub-options: ours %d (%v) theirs %d", n, it.Err(), len(ri.Options))
		}
	} else if m.Has(OptRelayAgentInfo) {
		t.Errorf("relay info: only we see it")
	}
	// Every option, raw.
	if m.Overload() == 0 {
		if len(d.Options) != m.NumOptions() {
			t.Errorf("option count: ours %d theirs %d", m.NumOptions(), len(d.Options))
		}
		for code, v := range d.Options {
			if ours, ok := m.Option(OptionCode(code)); !ok || !bytes.Equal(ours, v) {
				t.Errorf("option %d: ours %x theirs %x", code, ours, v)
			}
		}
	}
}

func TestDifferentialFixtures(t *testing.T) {
	var m, m2 Message
	for _, fx := range allFixtures {
		if fx.name == "overload" {
			continue // insomniacslk does not implement option overload
		}
		t.Run(fx.name, func(t *testing.T) {
			pkt := mustHex(t, fx.hex)
			if err := m.Decode(pkt); err != nil {
				t.Fatal(err)
			}
			d, err := idhcp.FromBytes(pkt)
			if err != nil {
				t.Fatal(err)
			}
			agree(t, &m, d)
			// They parse what we encode; we parse what they encode.
			out, err := m.Encode(make([]byte, 0, 1500))
			if err != nil {
				t.Fatal(err)
			}
			d2, err := idhcp.FromBytes(out)
			if err != nil {
				t.Fatalf("insomniacslk cannot parse our encoding: %v", err)
			}
			agree(t, &m, d2)
			if err := m2.Decode(d.ToBytes()); err != nil {
				t.Fatalf("we cannot parse insomniacslk's encoding: %v", err)
			}
			agree(t, &m2, d)
		})
	}
}

func TestDifferentialBuiltByInsomniacslk(t *testing.T) {
	hw := net.HardwareAddr{0x02, 0x42, 0xac, 0x11, 0x00, 0x07}
	search := make([]string, 0, 40)
	for i := range 40 {
		search = append(search, "zone"+string(rune('a'+i%26))+".campus.example.org")
	}
	disc, err := idhcp.NewDiscovery(hw,
		idhcp.WithRequestedOptions(idhcp.OptionRouter, idhcp.OptionDomainNameServer, idhcp.OptionClasslessStaticRoute),
		idhcp.WithOption(idhcp.OptHostName("laptop-7")),
		idhcp.WithOption(idhcp.OptClassIdentifier("udhcp 1.36")),
		idhcp.WithOption(idhcp.OptClientIdentifier([]byte{0xff, 1, 2, 3, 4, 0, 1, 0, 1})),
		idhcp.WithOption(idhcp.OptMaxMessageSize(1400)),
		idhcp.WithGeneric(idhcp.GenericOptionCode(OptForceRenewNonceCap), []byte{1}),
	)
	if err != nil {
		t.Fatal(err)
	}
	relayed, err := idhcp.New(
		idhcp.WithMessageType(idhcp.MessageTypeRequest),
		idhcp.WithHwAddr(hw),
		idhcp.WithRelay(net.IPv4(10, 9, 8, 1)),
		idhcp.WithOption(idhcp.OptRequestedIPAddress(net.IPv4(10, 9, 8, 50))),
		idhcp.WithOption(idhcp.OptServerIdentifier(net.IPv4(10, 9, 8, 254))),
		idhcp.WithOption(idhcp.OptRelayAgentInfo(
			idhcp.OptGeneric(idhcp.GenericOptionCode(1), []byte("eth1:100")),
			idhcp.OptGeneric(idhcp.GenericOptionCode(2), []byte("cpe-42")),
			idhcp.OptGeneric(idhcp.GenericOptionCode(5), []byte{10, 9, 8, 0}),
			idhcp.OptGeneric(idhcp.GenericOptionCode(11), []byte{10, 9, 8, 254}),
		)),
	)
	if err != nil {
		t.Fatal(err)
	}
	ack, err := idhcp.NewReplyFromRequest(relayed,
		idhcp.WithMessageType(idhcp.MessageTypeAck),
		idhcp.WithYourIP(net.IPv4(10, 9, 8, 50)),
		idhcp.WithLeaseTime(86400),
		idhcp.WithNetmask(net.CIDRMask(24, 32)),
		idhcp.WithRouter(net.IPv4(10, 9, 8, 1)),
		idhcp.WithDNS(net.IPv4(10, 9, 8, 2), net.IPv4(10, 9, 8, 3)),
		idhcp.WithDomainSearchList(search...), // > 255 bytes: RFC 3396 split
		idhcp.WithOption(idhcp.OptClasslessStaticRoute(&idhcp.Route{
			Dest: &net.IPNet{IP: net.IPv4(192, 168, 0, 0), Mask: net.CIDRMask(16, 32)}, Router: net.IPv4(10, 9, 8, 1)})),
	)
	if err != nil {
		t.Fatal(err)
	}
	ack.ServerHostName = "dhcp1"
	ack.BootFileName = "pxelinux.0"

	var m Message
	for _, d := range []*idhcp.DHCPv4{disc, relayed, ack} {
		t.Run(d.MessageType().String(), func(t *testing.T) {
			pkt := d.ToBytes()
			if err := m.Decode(pkt); err != nil {
				t.Fatal(err)
			}
			agree(t, &m, d)
			out, err := m.Encode(make([]byte, 0, 2000))
			if err != nil {
				t.Fatal(err)
			}
			d2, err := idhcp.FromBytes(out)
			if err != nil {
				t.Fatal(err)
			}
			agree(t, &m, d2)
		})
	}

	// Option families both implement.
	if err := m.Decode(ack.ToBytes()); err != nil {
		t.Fatal(err)
	}
	v, _ := m.Option(OptDomainSearch)
	names, err := ParseDomainSearch(v)
	if err != nil || len(v) <= 255 {
		t.Fatalf("domain search: %d bytes, %v", len(v), err)
	}
	theirs := ack.DomainSearch().Labels
	if !equalStrings(names, theirs) {
		t.Errorf("domain search: ours %q theirs %q", names, theirs)
	}
	v, _ = m.Option(OptClasslessRoutes)
	routes, err := ParseClasslessRoutes(v)
	if err != nil || len(routes) != 1 || routes[0].Dest != netip.MustParsePrefix("192.168.0.0/16") || routes[0].Router != a4("10.9.8.1") {
		t.Errorf("routes %v %v", routes, err)
	}
	ri := RelayInfo(m.RelayAgentInfo())
	if sid, ok := ri.ServerIDOverride(); !ok || sid != a4("10.9.8.254") || string(ri.RemoteID()) != "cpe-42" {
		t.Errorf("relay echo: %v %q", sid, ri.RemoteID())
	}

	// Our encodings of option families parse in insomniacslk.
	var w Writer
	enc, _ := AppendDomainSearch(nil, search)
	rt, _ := AppendClasslessRoutes(nil, []Route{{netip.MustParsePrefix("0.0.0.0/0"), a4("10.0.0.1")}, {netip.MustParsePrefix("172.16.0.0/12"), a4("10.0.0.2")}})
	w.Reset(make([]byte, 0, 2000))
	w.Header(&Header{Op: BootReply, HType: 1, HLen: 6, CHAddr: testMAC})
	w.OptionByte(OptMessageType, byte(Offer))
	w.Option(OptDomainSearch, enc)
	w.Option(OptClasslessRoutes, rt)
	out, err := w.End()
	if err != nil {
		t.Fatal(err)
	}
	d, err := idhcp.FromBytes(out)
	if err != nil {
		t.Fatal(err)
	}
	if !equalStrings(d.DomainSearch().Labels, search) {
		t.Errorf("insomniacslk reads our search list as %q", d.DomainSearch().Labels)
	}
	if rs := d.ClasslessStaticRoute(); len(rs) != 2 || rs[1].Dest.String() != "172.16.0.0/12" || !rs[1].Router.Equal(net.IPv4(10, 0, 0, 2)) {
		t.Errorf("insomniacslk reads our routes as %v", rs)
	}
}

func equalStrings(a, b []string) bool {
	a, b = append([]string(nil), a...), append([]string(nil), b...)
	sort.Strings(a)
	sort.Strings(b)
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
