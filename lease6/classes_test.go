package lease6

import (
	"net/netip"
	"regexp"
	"slices"
	"testing"

	"github.com/leased/leased/dhcpv6"
)

// instances encodes RFC 8415 §21.15/§21.16 class data instances.
func instances(s ...string) []byte {
	var b []byte
	for _, x := range s {
		b = append(b, byte(len(x)>>8), byte(len(x)))
		b = append(b, x...)
	}
	return b
}

func classConfig() Config {
	cfg := testConfig()
	cfg.Classes = []Class{
		{Name: "phones", Match: ClassMatch{VendorClass: StrMatch{Op: OpPrefix, Value: []byte("Cisco")}},
			DNS: []netip.Addr{netip.MustParseAddr("fd77::aaaa")}, RawOptions: []RawOption{{Code: 200, Data: []byte("phone")}}},
		{Name: "ipxe", Match: ClassMatch{UserClass: StrMatch{Op: OpExact, Value: []byte("iPXE")}},
			DNS: []netip.Addr{netip.MustParseAddr("fd77::bbbb")}, RawOptions: []RawOption{{Code: 200, Data: []byte("ipxe")}, {Code: 59, Data: []byte("http://boot/x.efi")}}},
		{Name: "port7", Match: ClassMatch{RemoteID: StrMatch{Op: OpExact, Value: []byte("olt1:7")}, InterfaceID: StrMatch{Op: OpPrefix, Value: []byte("ge-")}}},
		{Name: "vendorB", Match: ClassMatch{DUID: StrMatch{Op: OpPrefix, Value: duidB[:10]}}},
	}
	// lab6 serves only port7 and never vendorB.
	cfg.Pools[1].Allow = []string{"port7", "known"}
	cfg.Pools[1].Deny = []string{"vendorB"}
	return cfg
}

// Class membership by vendor class (16), user class (15), remote-id (37),
// interface-id (18) and DUID; options global → pool → class (first member
// class wins) → reservation.
func TestClassesOptions(t *testing.T) {
	e := newEngine(t, classConfig())
	r := msg(dhcpv6.Solicit, duidA, na(1))
	r.VendorClass = append([]byte{0, 0, 0, 9}, instances("x", "Cisco-IP-Phone")...)
	r.UserClass = instances("iPXE")
	d := e.Handle(t0, r)
	p := d.Reply.Pool
	if p == nil || !slices.Equal(p.DNS, []netip.Addr{netip.MustParseAddr("fd77::aaaa")}) {
		t.Fatalf("phones+ipxe member: %+v", p)
	}
	got := map[uint16]string{}
	for _, o := range p.RawOptions {
		got[o.Code] = string(o.Data)
	}
	if got[200] != "phone" || got[59] != "http://boot/x.efi" {
		t.Fatalf("raw options %v: want 200 from the first class, 59 from the second", got)
	}
	// Not a member: the pool's options.
	d = e.Handle(t0, msg(dhcpv6.Solicit, duidB, na(1)))
	if p := d.Reply.Pool; p == nil || p.Name != "office6" || !slices.Equal(p.DNS, testConfig().Pools[0].DNS) {
		t.Fatalf("non-member: %+v", p)
	}
	// A reservation beats the classes.
	cfg := classConfig()
	cfg.Pools[0].Reservations = []Reservation{{DUID: duidA, Addr: netip.MustParseAddr("fd77::1:77"), DNS: []netip.Addr{netip.MustParseAddr("fd77::cccc")}}}
	e = newEngine(t, cfg)
	d = e.Handle(t0, r)
	if p := d.Reply.Pool; p == nil || !slices.Equal(p.DNS, []netip.Addr{netip.MustParseAddr("fd77::cccc")}) {
		t.Fatalf("reserved member: %+v", p)
	}
	// Only the vendor-class data is matched, not the enterprise number.
	r2 := msg(dhcpv6.Solicit, duidB, na(1))
	r2.VendorClass = []byte("Cisco")
	if d := e.Handle(t0, r2); d.Reply.Pool == nil || d.Reply.Pool.Name != "office6" {
		t.Fatalf("short vendor class matched: %+v", d.Reply.Pool)
	}
}

// Pool allow/deny by class, with the built-in known/unknown.
func TestClassesAccess(t *testing.T) {
	cfg := classConfig()
	dk := []byte{0, 3, 0, 1, 9, 0, 0, 0, 7, 7} // not vendorB
	cfg.Pools[1].Reservations = []Reservation{{DUID: dk, Addr: netip.MustParseAddr("fd78::12")}}
	e := newEngine(t, cfg)
	onLab := func(duid []byte, f func(*Request)) Decision {
		r := relayed(msg(dhcpv6.Solicit, duid, na(1)), "fd78::1", "", "")
		if f != nil {
			f(r)
		}
		return e.Handle(t0, r)
	}
	port7 := func(r *Request) { r.RemoteID = []byte("olt1:7"); r.InterfaceID = []byte("ge-0/0/1") }
	if d := onLab(duidA, nil); d.HasReply || d.Drop != DropClassDenied {
		t.Fatalf("not in port7: %+v", d)
	}
	if d := onLab(duidA, func(r *Request) { r.RemoteID = []byte("olt1:7") }); d.Drop != DropClassDenied {
		t.Fatalf("remote-id without interface-id must not match port7: %+v", d)
	}
	if a := offeredAddr(t, onLab(duidA, port7)); !netip.MustParsePrefix("fd78::/64").Contains(a) {
		t.Fatalf("port7 member offered %v", a)
	}
	if d := onLab(duidB, port7); d.Drop != DropClassDenied {
		t.Fatalf("vendorB is denied even in port7: %+v", d)
	}
	if a := offeredAddr(t, onLab(dk, nil)); a != netip.MustParseAddr("fd78::12") {
		t.Fatalf("known client offered %v", a)
	}
	// Unrestricted office6 serves everyone.
	if d := e.Handle(t0, msg(dhcpv6.Solicit, duidB, na(1))); !d.HasReply {
		t.Fatalf("office6: %+v", d)
	}
	// An unknown class name is a configuration error.
	cfg.Pools[1].Allow = []string{"nope"}
	if _, err := New(cfg); err == nil {
		t.Fatal("unknown class accepted")
	}
}

// In a shared network a pool that denies the client's class is skipped.
func TestClassesSharedNetwork(t *testing.T) {
	cfg := sharedConfig()
	cfg.Classes = []Class{{Name: "printers", Match: ClassMatch{VendorClass: StrMatch{Op: OpExact, Value: []byte("hp")}}}}
	cfg.Pools[1].Deny = []string{"printers"}
	e := newEngine(t, cfg)
	r := relayed(msg(dhcpv6.Solicit, duidA, na(1)), "fd78::1", "", "")
	r.VendorClass = append([]byte{0, 0, 0, 11}, instances("hp")...)
	if a := offeredAddr(t, e.Handle(t0, r)); !netip.MustParsePrefix("fd79::/64").Contains(a) {
		t.Fatalf("printer offered %v, want the second pool", a)
	}
}

// Substring and regex conditions (the dhcpv4.client_classes shape).
func TestClassesSubstringRegex(t *testing.T) {
	cfg := testConfig()
	cfg.Classes = []Class{
		{Name: "olt", Match: ClassMatch{RemoteID: StrMatch{Op: OpSubstring, Value: []byte(":port")}}},
		{Name: "ge", Match: ClassMatch{InterfaceID: StrMatch{Op: OpRegex, Re: regexp.MustCompile(`^ge-\d+/\d+/\d+$`)}}},
		{Name: "sub", Match: ClassMatch{SubscriberID: StrMatch{Op: OpPrefix, Value: []byte("cust-")}}},
	}
	cfg.Pools[0].Allow = []string{"olt", "ge", "sub"}
	e := newEngine(t, cfg)
	for _, tt := range []struct {
		remote, ifid, sub string
		served            bool
	}{{"olt1:port3", "", "", true}, {"olt1-3", "", "", false}, {"", "ge-0/0/1", "", true}, {"", "xe-0/0/1", "", false},
		{"", "", "cust-42", true}, {"", "", "acct-42", false}, {"cust-42", "", "", false}} {
		r := msg(dhcpv6.Solicit, duidA, na(1))
		if tt.remote != "" {
			r.RemoteID = []byte(tt.remote)
		}
		if tt.sub != "" {
			r.SubscriberID = []byte(tt.sub)
		}
		if tt.ifid != "" {
			r.InterfaceID = []byte(tt.ifid)
		}
		if d := e.Handle(t0, r); d.HasReply != tt.served {
			t.Errorf("remote-id %q interface-id %q subscriber-id %q: served %v, want %v (%s)", tt.remote, tt.ifid, tt.sub, d.HasReply, tt.served, d.Drop)
		}
	}
}
