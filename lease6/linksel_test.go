package lease6

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/leased/leased/dhcpv6"
)

// relayed makes r a relayed request with the given link-address and
// arrival interface.
func relayed(r *Request, linkAddr, ingress string, ingressAddr string) *Request {
	r.LinkAddr = netip.Addr{}
	if linkAddr != "" {
		r.LinkAddr = netip.MustParseAddr(linkAddr)
	}
	r.Interface = ""
	r.Ingress = ingress
	if ingressAddr != "" {
		r.IngressAddr = netip.MustParseAddr(ingressAddr)
	}
	return r
}

func offeredAddr(t *testing.T, d Decision) netip.Addr {
	t.Helper()
	if !d.HasReply || len(d.Reply.IAs) != 1 || len(d.Reply.IAs[0].Bindings) != 1 {
		t.Fatalf("want one binding, got %+v (drop %q)", d.Reply, d.Drop)
	}
	b := d.Reply.IAs[0].Bindings[0]
	if b.Prefix.IsValid() {
		return b.Prefix.Addr()
	}
	return b.Addr
}

// RFC 8415 §13.1: a relayed request whose link-address lies in no pool
// (the relay put the server's address, or ::, there) is served by the
// pool of the interface it arrived on.
func TestLinkSelectionFallback(t *testing.T) {
	cfg := testConfig()
	cfg.Pools[1].Interface = "eth1"
	e := newEngine(t, cfg)
	lab := netip.MustParsePrefix("fd78::/64")
	office := netip.MustParsePrefix("fd77::/64")
	tests := []struct {
		name               string
		link, ifc, ifcAddr string
		want               netip.Prefix // invalid: no pool
	}{
		{"link-address in a pool wins", "fd77::99", "eth1", "", office},
		{"server's own address: by arrival interface name", "fd00::1", "eth1", "", lab},
		{"unspecified link-address: by arrival interface name", "::", "eth1", "", lab},
		{"no link-address: by arrival interface's global address", "", "eth9", "fd77::1", office},
		{"no pool for the arrival interface either", "fd00::1", "eth9", "fd00::1", netip.Prefix{}},
		{"no arrival interface known", "fd00::1", "", "", netip.Prefix{}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			duid := []byte{0, 3, 0, 1, 2, 0, 0, 0, 1, byte(i)}
			d := e.Handle(t0, relayed(msg(dhcpv6.Solicit, duid, na(1)), tt.link, tt.ifc, tt.ifcAddr))
			if !tt.want.IsValid() {
				if d.HasReply || d.Drop != DropNoPool {
					t.Fatalf("got %+v, want drop %s", d, DropNoPool)
				}
				return
			}
			if a := offeredAddr(t, d); !tt.want.Contains(a) {
				t.Fatalf("offered %v, want an address of %v", a, tt.want)
			}
		})
	}
}

// A relay's Interface-ID (option 18) selects the pool configured with it,
// before the link-address.
func TestInterfaceIDSelection(t *testing.T) {
	cfg := testConfig()
	cfg.Pools[1].InterfaceID = []byte("ge-0/0/7")
	e := newEngine(t, cfg)
	r := relayed(msg(dhcpv6.Solicit, duidA, na(1)), "fd77::1", "eth0", "")
	r.InterfaceID = []byte("ge-0/0/7")
	if a := offeredAddr(t, e.Handle(t0, r)); !netip.MustParsePrefix("fd78::/64").Contains(a) {
		t.Fatalf("interface-id ge-0/0/7: offered %v, want lab6's", a)
	}
	r = relayed(msg(dhcpv6.Solicit, duidB, na(1)), "fd77::1", "eth0", "")
	r.InterfaceID = []byte("ge-0/0/8") // unknown: the link-address decides
	if a := offeredAddr(t, e.Handle(t0, r)); !netip.MustParsePrefix("fd77::/64").Contains(a) {
		t.Fatalf("unknown interface-id: offered %v, want office6's", a)
	}
}

func sharedConfig() Config {
	cfg := testConfig()
	cfg.Pools = append(cfg.Pools, Pool{
		Name:   "lab6b",
		Subnet: netip.MustParsePrefix("fd79::/64"),
		Ranges: []Range{{Start: netip.MustParseAddr("fd79::10"), End: netip.MustParseAddr("fd79::1f")}},
	})
	cfg.Pools[1].Ranges = []Range{{Start: netip.MustParseAddr("fd78::10"), End: netip.MustParseAddr("fd78::11")}}
	cfg.Pools[1].SharedNetwork = "lab"
	cfg.Pools[2].SharedNetwork = "lab"
	return cfg
}

// A shared network: the relay's address selects the first pool; when it
// is full the next one serves, and a client bound in any of them keeps
// its binding (also when it renews through the first pool's link).
func TestSharedNetwork(t *testing.T) {
	e := newEngine(t, sharedConfig())
	onLab := func(r *Request) *Request { return relayed(r, "fd78::1", "", "") }
	var got []netip.Addr
	for i := range 3 {
		duid := []byte{0, 3, 0, 1, 2, 0, 0, 0, 2, byte(i)}
		d := e.Handle(t0, onLab(msg(dhcpv6.Solicit, duid, na(1))))
		a := offeredAddr(t, d)
		d = e.Handle(t0, onLab(msg(dhcpv6.Request, duid, na(1, a.String()))))
		got = append(got, offeredAddr(t, d))
	}
	want := []netip.Addr{netip.MustParseAddr("fd78::10"), netip.MustParseAddr("fd78::11"), netip.MustParseAddr("fd79::10")}
	if !slices.Equal(got, want) {
		t.Fatalf("bound %v, want %v", got, want)
	}
	third := []byte{0, 3, 0, 1, 2, 0, 0, 0, 2, 2}
	// Free room in the first pool: the third client still renews and
	// re-solicits its fd79 binding.
	first := []byte{0, 3, 0, 1, 2, 0, 0, 0, 2, 0}
	if d := e.Handle(t0, onLab(msg(dhcpv6.Release, first, na(1, "fd78::10")))); !d.HasReply {
		t.Fatalf("release: %+v", d)
	}
	d := e.Handle(t0, onLab(msg(dhcpv6.Renew, third, na(1, "fd79::10"))))
	if a := offeredAddr(t, d); a != want[2] || d.Reply.IAs[0].Bindings[0].Valid == 0 {
		t.Fatalf("renew through the first pool's link: %+v", d.Reply.IAs)
	}
	d = e.Handle(t0, onLab(msg(dhcpv6.Solicit, third, na(1))))
	if a := offeredAddr(t, d); a != want[2] {
		t.Fatalf("returning client offered %v, want its %v", a, want[2])
	}
	// The pool outside the shared network is unaffected.
	d = e.Handle(t0, msg(dhcpv6.Solicit, third, na(2)))
	if a := offeredAddr(t, d); !netip.MustParsePrefix("fd77::/64").Contains(a) {
		t.Fatalf("office6 offered %v", a)
	}
}

// RFC 3736 / RFC 8415 §18.3.6: an Information-request is answered with the
// global options even when no pool serves its link; pools inherit the
// global options they do not set.
func TestStatelessWithoutPool(t *testing.T) {
	cfg := testConfig()
	gdns := netip.MustParseAddr("fd00::53")
	cfg.DNS = []netip.Addr{gdns}
	cfg.DomainSearch = []string{"example.net"}
	cfg.RawOptions = []RawOption{{Code: 200, Data: []byte{1}}, {Code: 201, Data: []byte{2}}}
	cfg.Pools[1].RawOptions = []RawOption{{Code: 201, Data: []byte{9}}}
	e := newEngine(t, cfg)

	r := relayed(msg(dhcpv6.InformationRequest, duidA), "fd99::1", "", "")
	d := e.Handle(t0, r)
	if !d.HasReply || d.Reply.Type != dhcpv6.Reply || d.Reply.Pool == nil || len(d.Reply.IAs) != 0 || len(d.Persist) != 0 {
		t.Fatalf("stateless reply without pool: %+v (drop %q)", d.Reply, d.Drop)
	}
	if p := d.Reply.Pool; !slices.Equal(p.DNS, cfg.DNS) || !slices.Equal(p.DomainSearch, cfg.DomainSearch) || len(p.RawOptions) != 2 {
		t.Fatalf("global options: %+v", p)
	}
	// A Solicit from there still has no pool.
	if d := e.Handle(t0, relayed(msg(dhcpv6.Solicit, duidA, na(1)), "fd99::1", "", "")); d.Drop != DropNoPool {
		t.Fatalf("solicit without pool: %+v", d)
	}
	// office6 sets its own DNS and inherits the search list; lab6 inherits
	// DNS and option 200 but keeps its own 201.
	d = e.Handle(t0, msg(dhcpv6.InformationRequest, duidA))
	if p := d.Reply.Pool; p == nil || slices.Contains(p.DNS, gdns) || !slices.Equal(p.DomainSearch, cfg.DomainSearch) {
		t.Fatalf("office6 options: %+v", p)
	}
	d = e.Handle(t0, relayed(msg(dhcpv6.InformationRequest, duidA), "fd78::1", "", ""))
	p := d.Reply.Pool
	if p == nil || !slices.Equal(p.DNS, cfg.DNS) || len(p.RawOptions) != 2 {
		t.Fatalf("lab6 options: %+v", p)
	}
	for _, o := range p.RawOptions {
		if o.Code == 201 && o.Data[0] != 9 {
			t.Fatalf("lab6 option 201 = %v, want its own", o.Data)
		}
	}
}

// RFC 8415 §18.3.1: a prefix-length hint is honoured when the pool can
// delegate that length, otherwise the configured length is used.
func TestPDLengthHints(t *testing.T) {
	cfg := testConfig()
	cfg.Pools[0].PD.MaxLength = 64
	e := newEngine(t, cfg)
	tests := []struct {
		hint string
		want int
	}{
		{"::/60", 60},
		{"::/64", 64},
		{"::/56", 56},
		{"::/48", 56}, // shorter than the pool's: not available
		{"::/72", 56}, // longer than max_length
		{"fd77:100:0:8000::/62", 62},
	}
	for i, tt := range tests {
		duid := []byte{0, 3, 0, 1, 2, 0, 0, 0, 3, byte(i)}
		ias := bindClient(t, e, t0, duid, pd(1, tt.hint))
		b := ias[0].Bindings[0]
		if b.Prefix.Bits() != tt.want || !netip.MustParsePrefix("fd77:100::/40").Contains(b.Prefix.Addr()) {
			t.Fatalf("hint %s: delegated %v, want a /%d", tt.hint, b.Prefix, tt.want)
		}
		if tt.hint == "fd77:100:0:8000::/62" && b.Prefix.String() != "fd77:100:0:8000::/62" {
			t.Fatalf("hint %s: delegated %v, want the hinted prefix", tt.hint, b.Prefix)
		}
		// The binding renews with its length.
		d := e.Handle(t0, msg(dhcpv6.Renew, duid, asIA(ias[0])))
		if got := d.Reply.IAs[0].Bindings; len(got) != 1 || got[0].Prefix != b.Prefix || got[0].Valid == 0 {
			t.Fatalf("renew of %v: %+v", b.Prefix, d.Reply.IAs[0])
		}
	}
	// Without max_length only the configured length is delegated.
	e = newEngine(t, testConfig())
	ias := bindClient(t, e, t0, duidA, pd(1, "::/60"))
	if b := ias[0].Bindings[0]; b.Prefix.Bits() != 56 {
		t.Fatalf("hint /60 without max_length: %v", b.Prefix)
	}
}

// A reservation's own options replace the pool's for its client only.
func TestReservationOptions(t *testing.T) {
	cfg := testConfig()
	hdns := netip.MustParseAddr("fd77::5353")
	cfg.Pools[0].Reservations = []Reservation{{DUID: duidA, Addr: netip.MustParseAddr("fd77::1:99"),
		DNS: []netip.Addr{hdns}, RawOptions: []RawOption{{Code: 250, Data: []byte("x")}}}}
	e := newEngine(t, cfg)
	d := e.Handle(t0, msg(dhcpv6.Solicit, duidA, na(1)))
	if p := d.Reply.Pool; p == nil || !slices.Equal(p.DNS, []netip.Addr{hdns}) || len(p.RawOptions) != 1 || p.Name == "office6" {
		t.Fatalf("reserved client's options: %+v", p)
	}
	if l := d.Reply.Lease; l == nil || l.Pool != "office6" {
		t.Fatalf("reserved client's lease pool: %+v", l)
	}
	d = e.Handle(t0, msg(dhcpv6.Solicit, duidB, na(1)))
	if p := d.Reply.Pool; p == nil || !slices.Equal(p.DNS, cfg.Pools[0].DNS) || p.Name != "office6" {
		t.Fatalf("other client's options: %+v", p)
	}
	d = e.Handle(t0, msg(dhcpv6.InformationRequest, duidA))
	if p := d.Reply.Pool; p == nil || !slices.Equal(p.DNS, []netip.Addr{hdns}) {
		t.Fatalf("reserved client's stateless options: %+v", p)
	}
}
