package lease

import (
	"fmt"
	"net/netip"
	"regexp"
	"testing"
	"time"

	"github.com/leased/leased/dhcpv4"
)

func exact(s string) StrMatch  { return StrMatch{Op: OpExact, Value: []byte(s)} }
func prefix(s string) StrMatch { return StrMatch{Op: OpPrefix, Value: []byte(s)} }

// pxeConfig: one pool with BIOS/UEFI/iPXE classes as an operator would
// write them (iPXE first so that a chainloaded iPXE gets the script, not
// the binary again: no boot loop).
func pxeConfig() Config {
	cfg := lanConfig()
	cfg.Classes = []Class{
		{Name: "ipxe", Match: Match{UserClass: exact("iPXE")},
			Boot: Boot{File: []byte("http://10.0.0.5/boot.ipxe")}, LeaseTime: 5 * time.Minute},
		{Name: "bios", Match: Match{VendorClass: prefix("PXEClient"), Arch: []uint16{0}},
			Boot: Boot{NextServer: ip("10.0.0.5"), File: []byte("undionly.kpxe")}},
		{Name: "uefi", Match: Match{VendorClass: prefix("PXEClient"), Arch: []uint16{7, 9}},
			Boot:    Boot{NextServer: ip("10.0.0.5"), File: []byte("ipxe.efi")},
			Options: []RawOption{{Code: 66, Data: []byte("tftp-uefi")}}},
		{Name: "voip", Match: Match{VendorClass: StrMatch{Op: OpRegex, Re: regexp.MustCompile("^(Polycom|Yealink)")}}},
		{Name: "port7", Match: Match{CircuitID: exact("eth0/7"), Relays: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}}},
		{Name: "qemu", Match: Match{HWAddr: []byte{0x52, 0x54, 0x00}, HWBits: 24}},
		{Name: "reserved-only", Match: Match{Known: 1}},
		{Name: "tagged", Match: Match{Never: true}},
	}
	return cfg
}

func TestClassMatching(t *testing.T) {
	cfg := pxeConfig()
	cfg.Pools[0].Reservations = []Reservation{{HWAddr: mac(9), Addr: ip("10.0.0.99")}}
	e := newEngine(t, cfg)
	p := e.ps.list[0]
	names := func(m uint64) []string {
		var out []string
		for i, c := range e.ps.cls.list {
			if m&(1<<i) != 0 {
				out = append(out, c.Name)
			}
		}
		return out
	}
	arch := func(a uint16) []byte { return []byte{byte(a >> 8), byte(a)} }
	for _, tc := range []struct {
		name string
		req  Request
		want string
	}{
		{"bios", Request{VendorClass: []byte("PXEClient:Arch:00000:UNDI:002001"), ClientArch: arch(0)}, "[bios]"},
		{"uefi", Request{VendorClass: []byte("PXEClient:Arch:00007"), ClientArch: arch(7)}, "[uefi]"},
		{"uefi list", Request{VendorClass: []byte("PXEClient"), ClientArch: append(arch(6), arch(9)...)}, "[uefi]"},
		{"arch without vendor", Request{ClientArch: arch(0)}, "[]"},
		{"ipxe bare", Request{UserClass: []byte("iPXE"), VendorClass: []byte("PXEClient"), ClientArch: arch(7)}, "[ipxe uefi]"},
		{"ipxe rfc3004", Request{UserClass: []byte("\x03foo\x04iPXE")}, "[ipxe]"},
		{"ipxe prefix only", Request{UserClass: []byte("iPXE2")}, "[]"},
		{"voip regex", Request{VendorClass: []byte("Yealink SIP-T46")}, "[voip]"},
		{"voip not anchored", Request{VendorClass: []byte("x Yealink")}, "[]"},
		{"circuit via relay", Request{GIAddr: ip("192.0.2.1"), RelayInfo: []byte("\x02\x01r\x01\x06eth0/7")}, "[port7]"},
		{"circuit wrong relay", Request{GIAddr: ip("198.51.100.1"), RelayInfo: []byte("\x01\x06eth0/7")}, "[]"},
		{"circuit not relayed", Request{RelayInfo: []byte("\x01\x06eth0/7")}, "[]"},
		{"hw prefix", Request{HWAddr: []byte{0x52, 0x54, 0x00, 1, 2, 3}}, "[qemu]"},
		{"hw other", Request{HWAddr: []byte{0x52, 0x54, 0x01, 1, 2, 3}}, "[]"},
	} {
		// A client without a reservation (known: true rules fail).
		if got := fmt.Sprint(names(e.ps.cls.forPool(e.ps.cls.static(&tc.req), p, -1))); got != tc.want {
			t.Errorf("%s: classes %s, want %s", tc.name, got, tc.want)
		}
	}
	// known is settled per pool: reservation or not.
	static := e.ps.cls.static(&Request{})
	if m := e.ps.cls.forPool(static, p, -1); m != ClassUnknown {
		t.Errorf("unknown client: %x", m)
	}
	if m := e.ps.cls.forPool(static, p, 0); m&ClassKnown == 0 || fmt.Sprint(names(m)) != "[reserved-only]" {
		t.Errorf("known client: %x %v", m, names(m))
	}
}

// TestPXEBoot: the reply carries each class's boot fields and options;
// iPXE's own DISCOVER gets the script, so it does not chainload itself.
func TestPXEBoot(t *testing.T) {
	e := newEngine(t, pxeConfig())
	bios := discover(mac(1))
	bios.VendorClass, bios.ClientArch = []byte("PXEClient:Arch:00000"), []byte{0, 0}
	d := e.Handle(t0, bios)
	b := d.Reply.BootFor()
	if !d.HasReply || string(b.File) != "undionly.kpxe" || b.NextServer != ip("10.0.0.5") {
		t.Fatalf("BIOS: %+v boot %+v", d, b)
	}
	ipxe := discover(mac(1))
	ipxe.VendorClass, ipxe.ClientArch, ipxe.UserClass = []byte("PXEClient:Arch:00000"), []byte{0, 0}, []byte("iPXE")
	d = e.Handle(t0, ipxe)
	if b := d.Reply.BootFor(); string(b.File) != "http://10.0.0.5/boot.ipxe" || b.NextServer != ip("10.0.0.5") {
		t.Fatalf("iPXE got file %q next-server %v; want the script (a binary would loop)", b.File, b.NextServer)
	}
	if d.Reply.LeaseTime != 5*time.Minute || d.Reply.T1 != 150*time.Second {
		t.Errorf("class lease time: %v/%v", d.Reply.LeaseTime, d.Reply.T1)
	}
}

// TestPrecedence: reservation > class (first in order) > pool, field by field.
func TestPrecedence(t *testing.T) {
	cfg := pxeConfig()
	cfg.Pools[0].Boot = Boot{NextServer: ip("10.0.0.4"), ServerName: []byte("pool-sname"), File: []byte("pool.0")}
	cfg.Pools[0].Reservations = []Reservation{{HWAddr: mac(9), Addr: ip("10.0.0.99"),
		Boot: Boot{File: []byte("host.efi")}, Classes: []string{"tagged"}}}
	cfg.Classes[7].Boot = Boot{ServerName: []byte("tagged-sname")}
	e := newEngine(t, cfg)
	r := discover(mac(9))
	r.VendorClass, r.ClientArch = []byte("PXEClient"), []byte{0, 7}
	d := e.Handle(t0, r)
	b := d.Reply.BootFor()
	if string(b.File) != "host.efi" || b.NextServer != ip("10.0.0.5") || string(b.ServerName) != "tagged-sname" {
		t.Errorf("boot %q %v %q: want reservation file, uefi next-server, tagged sname", b.File, b.NextServer, b.ServerName)
	}
	if d.Reply.Reservation == nil || d.Reply.YIAddr != ip("10.0.0.99") {
		t.Errorf("reservation not in reply: %+v", d.Reply)
	}
	// A client with no class gets the pool's.
	d = e.Handle(t0, discover(mac(10)))
	if b := d.Reply.BootFor(); string(b.File) != "pool.0" || string(b.ServerName) != "pool-sname" {
		t.Errorf("pool boot %+v", b)
	}
}

// TestDenyUnknown: deny: [unknown] — a client without a reservation gets
// no OFFER (the IBM i "client not supported" case), nor an ACK.
func TestDenyUnknown(t *testing.T) {
	cfg := lanConfig()
	cfg.Pools[0].Deny = []string{"unknown"}
	cfg.Pools[0].Reservations = []Reservation{{HWAddr: mac(1), Addr: ip("10.0.0.50")}}
	e := newEngine(t, cfg)
	if d := e.Handle(t0, discover(mac(2))); d.HasReply || d.Drop != DropClassDenied {
		t.Errorf("unknown client: %+v", d)
	}
	if d := e.Handle(t0, selecting(mac(2), ip("10.0.0.10"))); d.HasReply || d.Drop != DropClassDenied {
		t.Errorf("unknown client's REQUEST: %+v", d)
	}
	if a := dora(t, e, t0, discover(mac(1))); a != ip("10.0.0.50") {
		t.Errorf("known client got %v", a)
	}
}

// TestAllowClass: a pool only for voip; others go to the next pool of the
// shared network.
func TestAllowClassSharedNetwork(t *testing.T) {
	cfg := lanConfig()
	cfg.Classes = []Class{{Name: "voip", Match: Match{VendorClass: prefix("Polycom")}}}
	cfg.Pools[0].Allow = []string{"voip"}
	cfg.Pools[0].SharedNetwork = "lan"
	cfg.Pools = append(cfg.Pools, Pool{Name: "data", Subnet: netip.MustParsePrefix("10.0.1.0/24"),
		Gateway: ip("10.0.1.1"), SharedNetwork: "lan",
		Sections: []Section{{Index: 0, Start: ip("10.0.1.10"), End: ip("10.0.1.11")}}})
	e := newEngine(t, cfg)
	phone := discover(mac(1))
	phone.VendorClass = []byte("Polycom VVX")
	if a := dora(t, e, t0, phone); !netip.MustParsePrefix("10.0.0.0/24").Contains(a) {
		t.Errorf("phone got %v", a)
	}
	// Not a phone: the voip pool refuses it, the data pool on the same link serves it.
	if a := dora(t, e, t0, discover(mac(2))); a != ip("10.0.1.10") {
		t.Errorf("PC got %v", a)
	}
	if a := dora(t, e, t0, discover(mac(3))); a != ip("10.0.1.11") {
		t.Errorf("PC got %v", a)
	}
	// data is full, and the voip pool refuses PCs.
	if d := e.Handle(t0, discover(mac(4))); d.HasReply || d.Drop != DropPoolExhausted {
		t.Errorf("4th PC: %+v", d)
	}
}

// TestSharedNetworkOverflow: the first subnet full, the next one serves;
// a client's lease in the second is honoured on renew, INIT-REBOOT and a
// new DISCOVER although the link selects the first.
func TestSharedNetworkOverflow(t *testing.T) {
	cfg := Config{LeaseTime: time.Hour, OfferHold: 10 * time.Second, Pools: []Pool{
		{Name: "a", Subnet: netip.MustParsePrefix("10.0.0.0/24"), Gateway: srv, SharedNetwork: "wire",
			Sections: []Section{{Index: 0, Start: ip("10.0.0.10"), End: ip("10.0.0.10")}}},
		{Name: "b", Subnet: netip.MustParsePrefix("10.0.1.0/24"), Gateway: ip("10.0.1.1"), SharedNetwork: "wire",
			Sections: []Section{{Index: 0, Start: ip("10.0.1.10"), End: ip("10.0.1.20")}}},
	}}
	e := newEngine(t, cfg)
	if a := dora(t, e, t0, discover(mac(1))); a != ip("10.0.0.10") {
		t.Fatalf("first client %v", a)
	}
	a2 := dora(t, e, t0, discover(mac(2)))
	if a2 != ip("10.0.1.10") {
		t.Fatalf("second client %v, want the next subnet", a2)
	}
	// Free room in a again: client 2 must still get its b lease back.
	e.Handle(t0, &Request{Type: dhcpv4.Release, HType: 1, HWAddr: mac(1), CIAddr: ip("10.0.0.10"), LinkAddr: srv, ServerAddr: srv})
	if d := e.Handle(t0, discover(mac(2))); d.Reply.YIAddr != a2 {
		t.Errorf("re-DISCOVER got %v, want its lease %v", d.Reply.YIAddr, a2)
	}
	if d := e.Handle(t0, initReboot(mac(2), a2)); d.Reply.Type != dhcpv4.Ack || d.Reply.Pool.Name != "b" {
		t.Errorf("INIT-REBOOT of the b lease on a's link: %+v", d)
	}
	if d := e.Handle(t0, renew(mac(2), a2, false)); d.Reply.Type != dhcpv4.Ack {
		t.Errorf("rebind: %+v", d)
	}
	// Without a shared network the second pool is not used.
	cfg.Pools[0].SharedNetwork, cfg.Pools[1].SharedNetwork = "", ""
	e = newEngine(t, cfg)
	dora(t, e, t0, discover(mac(1)))
	if d := e.Handle(t0, discover(mac(2))); d.HasReply {
		t.Errorf("no shared network: %+v", d)
	}
}

// TestBOOTP: a request without option 53 is bound at once (RFC 1534),
// only in a pool with BOOTP, infinite by default.
func TestBOOTP(t *testing.T) {
	cfg := lanConfig()
	e := newEngine(t, cfg)
	req := &Request{HType: 1, HWAddr: mac(1), XID: 7, LinkAddr: srv, ServerAddr: srv}
	if d := e.Handle(t0, req); d.HasReply || d.Drop != DropBOOTPNotAllowed {
		t.Fatalf("BOOTP without bootp: true: %+v", d)
	}
	cfg.Pools[0].BOOTP = true
	e = newEngine(t, cfg)
	d := e.Handle(t0, req)
	if !d.HasReply || !d.Reply.BOOTP || len(d.Persist) != 1 || d.Persist[0].State != StateBound {
		t.Fatalf("BOOTP: %+v", d)
	}
	if d.Reply.LeaseTime != InfiniteLease || !d.Persist[0].Expiry.After(t0.AddDate(99, 0, 0)) {
		t.Errorf("lease %v expiry %v, want infinite", d.Reply.LeaseTime, d.Persist[0].Expiry)
	}
	a := d.Reply.YIAddr
	// A retransmission gets the same address.
	if d := e.Handle(t0.Add(time.Second), req); d.Reply.YIAddr != a {
		t.Errorf("again: %v, want %v", d.Reply.YIAddr, a)
	}
	cfg.Pools[0].BOOTPLeaseTime = 2 * time.Hour
	e = newEngine(t, cfg)
	if d := e.Handle(t0, req); d.Reply.LeaseTime != 2*time.Hour || !d.Persist[0].Expiry.Equal(t0.Add(2*time.Hour)) {
		t.Errorf("configured BOOTP lease: %v %v", d.Reply.LeaseTime, d.Persist[0].Expiry)
	}
}

// TestReservationByRelayIDs: reservations keyed on option 82 circuit-id
// and remote-id (access networks), with their own options.
func TestReservationByRelayIDs(t *testing.T) {
	cfg := lanConfig()
	cfg.Pools[0].Relays = []netip.Addr{ip("192.0.2.1")}
	cfg.Pools[0].Reservations = []Reservation{
		{CircuitID: []byte("port-7"), Addr: ip("10.0.0.77"), Options: []RawOption{{Code: 6, Data: []byte{9, 9, 9, 9}}}},
		{RemoteID: []byte{0xaa, 0xbb}, Addr: ip("10.0.0.78"), Hostname: "cpe-78"},
	}
	e := newEngine(t, cfg)
	r := discover(mac(1))
	r.GIAddr, r.RelayInfo = ip("192.0.2.1"), []byte("\x01\x06port-7\x02\x01x")
	d := e.Handle(t0, r)
	if d.Reply.YIAddr != ip("10.0.0.77") || d.Reply.Reservation == nil || d.Reply.Reservation.Options[0].Code != 6 {
		t.Errorf("circuit-id reservation: %+v", d.Reply)
	}
	r = discover(mac(2))
	r.GIAddr, r.RelayInfo = ip("192.0.2.1"), []byte("\x01\x01z\x02\x02\xaa\xbb")
	if d := e.Handle(t0, r); d.Reply.YIAddr != ip("10.0.0.78") || d.Reply.Hostname != "cpe-78" {
		t.Errorf("remote-id reservation: %+v", d.Reply)
	}
}

// BenchmarkDORAClasses: DORA with 10 classes that do not match (every
// rule is evaluated) against the same with none (BenchmarkDORA).
func BenchmarkDORAClasses(b *testing.B) {
	for _, n := range []int{0, 10} {
		b.Run(fmt.Sprintf("classes=%d", n), func(b *testing.B) {
			cfg := bigConfig(8)
			for i := range n {
				cfg.Classes = append(cfg.Classes, Class{Name: fmt.Sprint("c", i), Match: Match{
					VendorClass: prefix(fmt.Sprint("vendor-", i)), UserClass: exact("iPXE"),
					Arch: []uint16{uint16(i)}, CircuitID: exact("x")}})
			}
			e := newEngine(b, cfg)
			d := &Request{Type: dhcpv4.Discover, HType: 1, LinkAddr: srv, ServerAddr: srv,
				VendorClass: []byte("dhcpcd-10.0.6:Linux-6.1:x86_64"), ClientArch: []byte{0, 7}}
			r := *d
			r.Type, r.ServerID, r.ServerIDOurs = dhcpv4.Request, srv, true
			hw := make([]byte, 6)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				copy(hw, bigMAC(i))
				d.HWAddr, r.HWAddr = hw, hw
				o := e.Handle(t0, d)
				r.RequestedIP = o.Reply.YIAddr
				if a := e.Handle(t0, &r); a.Reply.Type != dhcpv4.Ack {
					b.Fatalf("client %d: %+v", i, a)
				}
			}
		})
	}
}

// BenchmarkClassify: evaluating 10 class rules for one request (done
// once per message, with the per-pool known settlement).
func BenchmarkClassify(b *testing.B) {
	var cs []Class
	for i := range 10 {
		cs = append(cs, Class{Name: fmt.Sprint("c", i), Match: Match{
			VendorClass: prefix(fmt.Sprint("vendor-", i)), UserClass: exact("iPXE"),
			Arch: []uint16{uint16(i)}, CircuitID: exact("x")}})
	}
	c, err := compileClasses(cs)
	if err != nil {
		b.Fatal(err)
	}
	req := &Request{VendorClass: []byte("dhcpcd-10.0.6:Linux-6.1:x86_64"), ClientArch: []byte{0, 7},
		UserClass: []byte("\x04abcd"), RelayInfo: []byte("\x01\x06eth0/7\x02\x02ab")}
	b.ReportAllocs()
	var m uint64
	for b.Loop() {
		m |= c.static(req)
	}
	if m != 0 {
		b.Fatal("matched")
	}
}

// TestSectionAllowDeny: phones get addresses of section 0 only, other
// clients of section 1 only; a PC asking for a phone address is NAKed.
func TestSectionAllowDeny(t *testing.T) {
	cfg := lanConfig() // section 1 = .20-.29 listed first, section 0 = .10-.19
	cfg.Classes = []Class{{Name: "phone", Match: Match{VendorClass: prefix("Polycom")}}}
	cfg.Pools[0].Sections[1].Allow = []string{"phone"} // index 0
	cfg.Pools[0].Sections[0].Deny = []string{"phone"}  // index 1
	e := newEngine(t, cfg)
	phone := discover(mac(1))
	phone.VendorClass = []byte("Polycom VVX")
	if a := dora(t, e, t0, phone); a != ip("10.0.0.10") {
		t.Errorf("phone got %v, want section 0", a)
	}
	if a := dora(t, e, t0, discover(mac(2))); a != ip("10.0.0.20") {
		t.Errorf("PC got %v, want section 1", a)
	}
	if d := e.Handle(t0, selecting(mac(3), ip("10.0.0.11"))); d.Reply.Type != dhcpv4.Nak {
		t.Errorf("PC selecting a phone address: %+v", d)
	}
	// Only phone sections: a PC is refused, not "exhausted".
	cfg.Pools[0].Sections[0].Deny, cfg.Pools[0].Sections[0].Allow = nil, []string{"phone"}
	e = newEngine(t, cfg)
	if d := e.Handle(t0, discover(mac(2))); d.HasReply || d.Drop != DropClassDenied {
		t.Errorf("PC with only phone sections: %+v", d)
	}
}
