package dhcpv6

// Differential test against github.com/insomniacslk/dhcp/dhcpv6 (test-only
// oracle): both decoders must agree on every field both understand, and
// each must parse what the other encodes.

import (
	"bytes"
	"net"
	"net/netip"
	"testing"
	"time"

	idhcp "github.com/insomniacslk/dhcp/dhcpv6"
)

func ipEq(a netip.Addr, b net.IP) bool {
	b16 := b.To16()
	return b16 != nil && a == netip.AddrFrom16([16]byte(b16))
}

func secs(d time.Duration) uint32 { return uint32(d / time.Second) }

// agreeOptions compares an options area raw, option by option, in order.
func agreeOptions(t *testing.T, where string, ours Options, theirs idhcp.Options) {
	t.Helper()
	it := ours.Iter()
	i := 0
	for it.Next() {
		if i >= len(theirs) {
			t.Errorf("%s: we see option %d beyond their %d options", where, it.Code(), len(theirs))
			return
		}
		o := theirs[i]
		if uint16(o.Code()) != uint16(it.Code()) {
			t.Errorf("%s option #%d: code ours %d theirs %d", where, i, it.Code(), o.Code())
		} else if it.Code() != OptRelayMsg && !bytes.Equal(o.ToBytes(), it.Data()) {
			t.Errorf("%s option %d: ours %x theirs %x", where, it.Code(), it.Data(), o.ToBytes())
		}
		i++
	}
	if it.Err() != nil || i != len(theirs) {
		t.Errorf("%s: option count ours %d (%v) theirs %d", where, i, it.Err(), len(theirs))
	}
}

func agreeIA(t *testing.T, ia IA, iaid [4]byte, t1, t2 time.Duration) {
	t.Helper()
	if ia.IAID != uint32(iaid[0])<<24|uint32(iaid[1])<<16|uint32(iaid[2])<<8|uint32(iaid[3]) || ia.T1 != secs(t1) || ia.T2 != secs(t2) {
		t.Errorf("IA header: ours %d %d %d theirs %x %v %v", ia.IAID, ia.T1, ia.T2, iaid, t1, t2)
	}
}

// agreeMessage compares our client/server message with theirs.
func agreeMessage(t *testing.T, m *Message, d *idhcp.Message) {
	t.Helper()
	if uint8(m.Type) != uint8(d.MessageType) || [3]byte{byte(m.TransactionID >> 16), byte(m.TransactionID >> 8), byte(m.TransactionID)} != [3]byte(d.TransactionID) {
		t.Errorf("header: ours %v %06x theirs %v %x", m.Type, m.TransactionID, d.MessageType, d.TransactionID)
	}
	agreeOptions(t, "message", m.Options(), d.Options.Options)
	mo := d.Options
	if cid := mo.ClientID(); (cid == nil) != (m.ClientID() == nil) || (cid != nil && !bytes.Equal(cid.ToBytes(), m.ClientID())) {
		t.Errorf("client id: ours %v theirs %v", m.ClientID(), cid)
	}
	if sid := mo.ServerID(); (sid == nil) != (m.ServerID() == nil) || (sid != nil && !bytes.Equal(sid.ToBytes(), m.ServerID())) {
		t.Errorf("server id: ours %v theirs %v", m.ServerID(), sid)
	}
	if cid := mo.ClientID(); cid != nil && uint16(cid.DUIDType()) != uint16(m.ClientID().Type()) {
		t.Errorf("DUID type: ours %v theirs %v", m.ClientID().Type(), cid.DUIDType())
	}
	// IA_NA and their addresses.
	theirNA := mo.IANA()
	n := 0
	for it := m.Options().Filter(OptIANA); it.Next(); n++ {
		ia, err := ParseIA(it.Data())
		if err != nil || n >= len(theirNA) {
			t.Fatalf("IA_NA #%d: %v (they have %d)", n, err, len(theirNA))
		}
		agreeIA(t, ia, theirNA[n].IaId, theirNA[n].T1, theirNA[n].T2)
		addrs := theirNA[n].Options.Addresses()
		k := 0
		for at := ia.Addrs(); at.Next(); k++ {
			a, err := ParseIAAddr(at.Data())
			if err != nil || k >= len(addrs) {
				t.Fatalf("IAADDR #%d: %v", k, err)
			}
			if !ipEq(a.Addr, addrs[k].IPv6Addr) || a.PreferredLifetime != secs(addrs[k].PreferredLifetime) || a.ValidLifetime != secs(addrs[k].ValidLifetime) {
				t.Errorf("IAADDR: ours %+v theirs %v", a, addrs[k])
			}
			if st, ok := a.Options.StatusCode(); ok != (addrs[k].Options.Status() != nil) ||
				(ok && (st.Code != uint16(addrs[k].Options.Status().StatusCode) || string(st.Message) != addrs[k].Options.Status().StatusMessage)) {
				t.Errorf("IAADDR status: ours %v theirs %v", st, addrs[k].Options.Status())
			}
		}
		if k != len(addrs) {
			t.Errorf("IAADDR count: ours %d theirs %d", k, len(addrs))
		}
	}
	if n != len(theirNA) {
		t.Errorf("IA_NA count: ours %d theirs %d", n, len(theirNA))
	}
	// IA_PD and their prefixes.
	theirPD := mo.IAPD()
	n = 0
	for it := m.Options().Filter(OptIAPD); it.Next(); n++ {
		ia, err := ParseIA(it.Data())
		if err != nil || n >= len(theirPD) {
			t.Fatalf("IA_PD #%d: %v", n, err)
		}
		agreeIA(t, ia, theirPD[n].IaId, theirPD[n].T1, theirPD[n].T2)
		pfx := theirPD[n].Options.Prefixes()
		k := 0
		for pt := ia.Prefixes(); pt.Next(); k++ {
			p, err := ParseIAPrefix(pt.Data())
			if err != nil || k >= len(pfx) {
				t.Fatalf("IAPREFIX #%d: %v", k, err)
			}
			ones, _ := pfx[k].Prefix.Mask.Size()
			if p.Prefix.Bits() != ones || !ipEq(p.Prefix.Addr(), pfx[k].Prefix.IP) ||
				p.PreferredLifetime != secs(pfx[k].PreferredLifetime) || p.ValidLifetime != secs(pfx[k].ValidLifetime) {
				t.Errorf("IAPREFIX: ours %+v theirs %v", p, pfx[k])
			}
		}
		if k != len(pfx) {
			t.Errorf("IAPREFIX count: ours %d theirs %d", k, len(pfx))
		}
	}
	if n != len(theirPD) {
		t.Errorf("IA_PD count: ours %d theirs %d", n, len(theirPD))
	}
	// ORO.
	oro, theirORO := m.ORO(), mo.RequestedOptions()
	if oro.Len() != len(theirORO) {
		t.Errorf("ORO: ours %x theirs %v", []byte(oro), theirORO)
	}
	for i := range min(oro.Len(), len(theirORO)) {
		if uint16(oro.At(i)) != uint16(theirORO[i]) {
			t.Errorf("ORO[%d]: ours %d theirs %d", i, oro.At(i), theirORO[i])
		}
	}
	if et, ok := m.ElapsedTime(); ok && time.Duration(et)*10*time.Millisecond != mo.ElapsedTime() {
		t.Errorf("elapsed time: ours %d theirs %v", et, mo.ElapsedTime())
	}
	if p, ok := m.Preference(); ok && p != mo.Preference() {
		t.Errorf("preference: ours %d theirs %d", p, mo.Preference())
	}
	dns := m.DNSServers()
	if dns.Len() != len(mo.DNS()) {
		t.Errorf("DNS: ours %d theirs %v", dns.Len(), mo.DNS())
	}
	for i := range min(dns.Len(), len(mo.DNS())) {
		if !ipEq(dns.At(i), mo.DNS()[i]) {
			t.Errorf("DNS[%d]: ours %v theirs %v", i, dns.At(i), mo.DNS()[i])
		}
	}
	if l := mo.DomainSearchList(); l != nil {
		v, _ := m.Option(OptDomainList)
		names, err := ParseDomainList(v)
		if err != nil || len(names) != len(l.Labels) {
			t.Errorf("domain list: ours %q %v theirs %q", names, err, l.Labels)
		}
		for i := range min(len(names), len(l.Labels)) {
			if names[i] != l.Labels[i] {
				t.Errorf("domain list[%d]: ours %q theirs %q", i, names[i], l.Labels[i])
			}
		}
	}
	if st := mo.Status(); st != nil {
		ours, ok := m.StatusCode()
		if !ok || ours.Code != uint16(st.StatusCode) || string(ours.Message) != st.StatusMessage {
			t.Errorf("status: ours %v theirs %v", ours, st)
		}
	}
	if fq := mo.FQDN(); fq != nil {
		ours, ok := m.FQDN()
		name, _, err := ours.DomainName()
		if !ok || err != nil || ours.Flags != fq.Flags || len(fq.DomainName.Labels) != 1 || name != fq.DomainName.Labels[0] {
			t.Errorf("FQDN: ours %+v %q %v theirs %d %q", ours, name, err, fq.Flags, fq.DomainName.Labels)
		}
	}
}

// agree compares a whole packet: relay layers, then the inner message.
func agree(t *testing.T, m *Message, d idhcp.DHCPv6) {
	t.Helper()
	for i, r := range m.Relays() {
		rm, ok := d.(*idhcp.RelayMessage)
		if !ok {
			t.Fatalf("relay layer %d: they see %T", i, d)
		}
		if uint8(r.Type) != uint8(rm.MessageType) || r.HopCount != rm.HopCount || !ipEq(r.LinkAddr, rm.LinkAddr) || !ipEq(r.PeerAddr, rm.PeerAddr) {
			t.Errorf("relay %d header: ours %+v theirs %v", i, r, rm)
		}
		agreeOptions(t, "relay", r.Options, rm.Options.Options)
		if !bytes.Equal(r.InterfaceID(), rm.Options.InterfaceID()) {
			t.Errorf("relay %d interface-id: ours %q theirs %q", i, r.InterfaceID(), rm.Options.InterfaceID())
		}
		if rid := rm.Options.RemoteID(); rid != nil {
			ours, ok := r.RemoteID()
			if !ok || ours.Enterprise != rid.EnterpriseNumber || !bytes.Equal(ours.ID, rid.RemoteID) {
				t.Errorf("relay %d remote-id: ours %+v theirs %v", i, ours, rid)
			}
		}
		if ht, hw := rm.Options.ClientLinkLayerAddress(); hw != nil {
			ours, ok := r.LinkLayerAddr()
			if !ok || ours.HType != uint16(ht) || !bytes.Equal(ours.Addr, hw) {
				t.Errorf("relay %d link-layer: ours %+v theirs %v %v", i, ours, ht, hw)
			}
		}
		inner, err := rm.GetInnerMessage()
		if err != nil {
			t.Fatal(err)
		}
		if i == len(m.Relays())-1 {
			d = inner
		} else {
			d = rm.Options.RelayMessage()
		}
	}
	msg, ok := d.(*idhcp.Message)
	if !ok {
		t.Fatalf("inner: they see %T", d)
	}
	agreeMessage(t, m, msg)
}

func TestDifferentialFixtures(t *testing.T) {
	var m, m2 Message
	for _, fx := range allFixtures {
		t.Run(fx.name, func(t *testing.T) {
			pkt := mustHex(t, fx.hex)
			if err := m.Decode(pkt); err != nil {
				t.Fatal(err)
			}
			d, err := idhcp.FromBytes(pkt)
			if err != nil {
				t.Fatalf("insomniacslk: %v", err)
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
	sol, err := idhcp.NewSolicit(hw,
		idhcp.WithRapidCommit,
		idhcp.WithIAPD([4]byte{0, 0, 0, 9}),
		idhcp.WithFQDN(1, "laptop-7"),
		idhcp.WithRequestedOptions(idhcp.OptionDNSRecursiveNameServer, idhcp.OptionDomainSearchList),
	)
	if err != nil {
		t.Fatal(err)
	}
	adv, err := idhcp.NewAdvertiseFromSolicit(sol,
		idhcp.WithServerID(&idhcp.DUIDLL{HWType: 1, LinkLayerAddr: net.HardwareAddr{2, 0, 0, 0, 0, 0xfe}}),
		idhcp.WithIANA(idhcp.OptIAAddress{IPv6Addr: net.ParseIP("fd77::1:20"), PreferredLifetime: time.Hour, ValidLifetime: 2 * time.Hour}),
		idhcp.WithDNS(net.ParseIP("fd77::1"), net.ParseIP("fd77::2")),
		idhcp.WithDomainSearchList("campus.example", "lab.campus.example"),
	)
	if err != nil {
		t.Fatal(err)
	}
	req, err := idhcp.NewRequestFromAdvertise(adv)
	if err != nil {
		t.Fatal(err)
	}
	relayed, err := idhcp.EncapsulateRelay(req, idhcp.MessageTypeRelayForward, net.ParseIP("fd77::1"), net.ParseIP("fe80::42:acff:fe11:7"))
	if err != nil {
		t.Fatal(err)
	}
	relayed.AddOption(idhcp.OptInterfaceID([]byte("eth3")))
	relayed.AddOption(idhcp.OptClientLinkLayerAddress(1, hw))
	twice, err := idhcp.EncapsulateRelay(relayed, idhcp.MessageTypeRelayForward, net.IPv6zero, net.ParseIP("fe80::1"))
	if err != nil {
		t.Fatal(err)
	}
	var m Message
	for _, d := range []idhcp.DHCPv6{sol, adv, req, relayed, twice} {
		t.Run(d.Type().String(), func(t *testing.T) {
			if err := m.Decode(d.ToBytes()); err != nil {
				t.Fatal(err)
			}
			agree(t, &m, d)
		})
	}
	if len(m.Relays()) != 2 || m.Type != Request || m.Relays()[1].HopCount != 0 || m.Relays()[0].HopCount != 1 {
		t.Errorf("double relay: %d layers, inner %v, hops %+v", len(m.Relays()), m.Type, m.Relays())
	}
}
