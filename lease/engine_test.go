package lease

import (
	"errors"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/leased/leased/dhcpv4"
)

var (
	t0  = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	srv = netip.MustParseAddr("10.0.0.1")
	ip  = netip.MustParseAddr
)

// lanConfig: 10.0.0.0/24, gateway .1, section 0 = .10-.19, section 1 =
// .20-.29 (listed first to check index order), one hour leases.
func lanConfig() Config {
	return Config{
		LeaseTime: time.Hour,
		OfferHold: 10 * time.Second,
		Pools: []Pool{{
			Name:    "lan",
			Subnet:  netip.MustParsePrefix("10.0.0.0/24"),
			Gateway: srv,
			Sections: []Section{
				{Index: 1, Start: ip("10.0.0.20"), End: ip("10.0.0.29")},
				{Index: 0, Start: ip("10.0.0.10"), End: ip("10.0.0.19")},
			},
		}},
	}
}

// cmpNet compares netip values, which have unexported fields.
var cmpNet = cmp.Options{
	cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
	cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }),
}

func newEngine(t testing.TB, cfg Config) *Engine {
	t.Helper()
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func mac(i int) []byte { return []byte{0x02, 0, 0, byte(i >> 16), byte(i >> 8), byte(i)} }

func msg(typ dhcpv4.MessageType, hw []byte) *Request {
	return &Request{Type: typ, XID: 0x1000 + uint32(hw[len(hw)-1]), HType: 1, HWAddr: hw, LinkAddr: srv, ServerAddr: srv}
}

func discover(hw []byte) *Request { return msg(dhcpv4.Discover, hw) }

func selecting(hw []byte, a netip.Addr) *Request {
	r := msg(dhcpv4.Request, hw)
	r.ServerID, r.ServerIDOurs, r.RequestedIP = srv, true, a
	return r
}

func initReboot(hw []byte, a netip.Addr) *Request {
	r := msg(dhcpv4.Request, hw)
	r.RequestedIP = a
	return r
}

func renew(hw []byte, a netip.Addr, unicast bool) *Request {
	r := msg(dhcpv4.Request, hw)
	r.CIAddr, r.Unicast = a, unicast
	return r
}

// dora runs DISCOVER and REQUEST and returns the ACKed address.
func dora(t testing.TB, e *Engine, now time.Time, d *Request) netip.Addr {
	t.Helper()
	o := e.Handle(now, d)
	if !o.HasReply || o.Reply.Type != dhcpv4.Offer {
		t.Fatalf("DISCOVER: no offer: %+v", o)
	}
	r := *d
	r.Type, r.ServerID, r.ServerIDOurs, r.RequestedIP = dhcpv4.Request, srv, true, o.Reply.YIAddr
	a := e.Handle(now, &r)
	if !a.HasReply || a.Reply.Type != dhcpv4.Ack {
		t.Fatalf("REQUEST %v: no ACK: %+v", o.Reply.YIAddr, a)
	}
	return a.Reply.YIAddr
}

func wantReply(t *testing.T, d Decision, typ dhcpv4.MessageType, a netip.Addr) {
	t.Helper()
	if !d.HasReply {
		t.Fatalf("no reply (drop %q), want %v %v", d.Drop, typ, a)
	}
	if d.Reply.Type != typ || (a.IsValid() && d.Reply.YIAddr != a) {
		t.Fatalf("reply %v %v (%q), want %v %v", d.Reply.Type, d.Reply.YIAddr, d.Reply.Message, typ, a)
	}
}

func wantDrop(t *testing.T, d Decision, reason string) {
	t.Helper()
	if d.HasReply || d.Drop != reason {
		t.Fatalf("got reply=%v %v %v drop %q, want silent drop %q", d.HasReply, d.Reply.Type, d.Reply.YIAddr, d.Drop, reason)
	}
}

func TestDORA(t *testing.T) {
	e := newEngine(t, lanConfig())
	hw := mac(1)
	d := discover(hw)
	d.Hostname = []byte("host1")
	o := e.Handle(t0, d)
	wantReply(t, o, dhcpv4.Offer, ip("10.0.0.10"))
	if len(o.Persist) != 0 {
		t.Fatalf("OFFER persists %d records", len(o.Persist))
	}
	if o.Reply.ServerID != srv || o.Reply.LeaseTime != time.Hour || o.Reply.Pool.Name != "lan" || o.Reply.Lease.State != StateOffered {
		t.Fatalf("offer reply %+v", o.Reply)
	}
	r := selecting(hw, o.Reply.YIAddr)
	r.Hostname = []byte("host1")
	r.XID = 77
	r.ForceRenewNonce = []byte{1}
	a := e.Handle(t0.Add(time.Second), r)
	wantReply(t, a, dhcpv4.Ack, ip("10.0.0.10"))
	now := t0.Add(time.Second)
	want := Lease{
		Seq: 1, Addr: ip("10.0.0.10"), ClientID: append([]byte{1}, hw...), HType: 1, HWAddr: hw,
		Hostname: "host1", Pool: "lan", Section: 0, State: StateBound,
		Start: now, T1: now.Add(30 * time.Minute), T2: now.Add(52*time.Minute + 30*time.Second), Expiry: now.Add(time.Hour),
		XID: 77, ForceRenewNonceCapable: true,
	}
	if diff := cmp.Diff([]Lease{want}, a.Persist, cmpNet); diff != "" {
		t.Errorf("persisted (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(&want, a.Reply.Lease, cmpNet); diff != "" {
		t.Errorf("reply lease (-want +got):\n%s", diff)
	}
	if a.Reply.T1 != 30*time.Minute || a.Reply.T2 != 52*time.Minute+30*time.Second || a.Reply.ServerID != srv {
		t.Errorf("reply timing %+v", a.Reply)
	}
	// The reply copy does not alias the engine.
	a.Reply.Lease.HWAddr[0] = 0xff
	if got := e.Leases(Filter{})[0].HWAddr[0]; got != 0x02 {
		t.Errorf("engine state changed through the reply: %x", got)
	}
}

func TestDistinctOffersAndExhaustion(t *testing.T) {
	e := newEngine(t, lanConfig())
	seen := map[netip.Addr]int{}
	var order []netip.Addr
	for i := range 20 {
		o := e.Handle(t0, discover(mac(i)))
		wantReply(t, o, dhcpv4.Offer, netip.Addr{})
		if j, dup := seen[o.Reply.YIAddr]; dup {
			t.Fatalf("client %d offered %v, already offered to %d", i, o.Reply.YIAddr, j)
		}
		seen[o.Reply.YIAddr] = i
		order = append(order, o.Reply.YIAddr)
	}
	// Section 0 (.10-.19) is used before section 1 (.20-.29).
	for i, a := range order {
		if want := addr4(u32(ip("10.0.0.10")) + uint32(i)); a != want {
			t.Fatalf("offer %d = %v, want %v", i, a, want)
		}
	}
	// A repeated DISCOVER gets the same offer.
	wantReply(t, e.Handle(t0.Add(time.Second), discover(mac(3))), dhcpv4.Offer, order[3])
	wantDrop(t, e.Handle(t0, discover(mac(99))), DropPoolExhausted)
	// The hold ends after OfferHold: a new client gets an address.
	wantDrop(t, e.Handle(t0.Add(9*time.Second), discover(mac(99))), DropPoolExhausted)
	o := e.Handle(t0.Add(10*time.Second), discover(mac(99)))
	wantReply(t, o, dhcpv4.Offer, netip.Addr{})
	if o.Reply.YIAddr == order[3] {
		t.Fatalf("address %v re-offered while its refreshed hold runs", order[3])
	}
}

func TestSectionIndexRecorded(t *testing.T) {
	e := newEngine(t, lanConfig())
	var last Decision
	for i := range 11 {
		a := dora(t, e, t0, discover(mac(i)))
		_ = a
		last = e.Handle(t0, renew(mac(i), a, true))
	}
	if l := last.Reply.Lease; l.Addr != ip("10.0.0.20") || l.Section != 1 {
		t.Fatalf("11th lease %v section %d, want 10.0.0.20 section 1", l.Addr, l.Section)
	}
	if got := len(e.Leases(Filter{Section: new(int(0))})); got != 10 {
		t.Fatalf("section 0 has %d leases, want 10", got)
	}
}

func TestNeverAllocated(t *testing.T) {
	cfg := Config{LeaseTime: time.Hour, Pools: []Pool{{
		Name: "small", Subnet: netip.MustParsePrefix("192.168.5.0/29"), Gateway: ip("192.168.5.1"),
		Exclude:      []netip.Addr{ip("192.168.5.3")},
		Reservations: []Reservation{{HWAddr: mac(50), Addr: ip("192.168.5.5")}},
	}}}
	e := newEngine(t, cfg)
	var got []netip.Addr
	for i := range 10 {
		d := discover(mac(i))
		d.LinkAddr = ip("192.168.5.1")
		o := e.Handle(t0, d)
		if !o.HasReply {
			wantDrop(t, o, DropPoolExhausted)
			break
		}
		got = append(got, o.Reply.YIAddr)
	}
	// .0 network, .1 gateway, .3 excluded, .5 reserved, .7 broadcast.
	want := []netip.Addr{ip("192.168.5.2"), ip("192.168.5.4"), ip("192.168.5.6")}
	if diff := cmp.Diff(want, got, cmpNet); diff != "" {
		t.Fatalf("allocated (-want +got):\n%s", diff)
	}
	// Asking for a blocked address explicitly does not help either.
	for _, a := range []string{"192.168.5.0", "192.168.5.1", "192.168.5.3", "192.168.5.5", "192.168.5.7"} {
		r := selecting(mac(60), ip(a))
		r.LinkAddr = ip("192.168.5.1")
		wantReply(t, e.Handle(t0, r), dhcpv4.Nak, netip.Addr{})
	}
}

func TestReservations(t *testing.T) {
	cfg := lanConfig()
	cfg.Pools[0].Reservations = []Reservation{
		{HWAddr: mac(7), Addr: ip("10.0.0.15"), Hostname: "printer"},
		{ClientID: []byte{0xff, 1, 2, 3, 4, 0, 1, 9, 9}, Addr: ip("10.0.0.200")}, // RFC 4361 node id, outside sections
	}
	e := newEngine(t, cfg)
	for i := range 20 { // fill the pool: .15 is never handed out
		o := e.Handle(t0, discover(mac(100+i)))
		if o.HasReply && o.Reply.YIAddr == ip("10.0.0.15") {
			t.Fatalf("reserved address offered to client %d", i)
		}
	}
	o := e.Handle(t0, discover(mac(7)))
	wantReply(t, o, dhcpv4.Offer, ip("10.0.0.15"))
	a := e.Handle(t0, selecting(mac(7), ip("10.0.0.15")))
	wantReply(t, a, dhcpv4.Ack, ip("10.0.0.15"))
	if a.Reply.Lease.Hostname != "printer" || a.Reply.Lease.Section != 0 {
		t.Errorf("lease %+v", a.Reply.Lease)
	}
	d := discover(mac(8))
	d.ClientID = []byte{0xff, 1, 2, 3, 4, 0, 1, 9, 9}
	wantReply(t, e.Handle(t0, d), dhcpv4.Offer, ip("10.0.0.200"))
	r := selecting(mac(8), ip("10.0.0.200"))
	r.ClientID = d.ClientID
	a = e.Handle(t0, r)
	wantReply(t, a, dhcpv4.Ack, ip("10.0.0.200"))
	if a.Reply.Lease.Section != -1 || string(a.Reply.Lease.ClientID) != string(d.ClientID) {
		t.Errorf("lease %+v", a.Reply.Lease)
	}
	// Another client asking for a reserved address is NAKed.
	wantReply(t, e.Handle(t0, selecting(mac(9), ip("10.0.0.200"))), dhcpv4.Nak, netip.Addr{})
}

func TestPoolSelection(t *testing.T) {
	cfg := lanConfig()
	cfg.Pools = append(cfg.Pools,
		Pool{Name: "relayed", Subnet: netip.MustParsePrefix("172.16.0.0/24"), Relays: []netip.Addr{ip("192.0.2.1")}},
		Pool{Name: "linksel", Subnet: netip.MustParsePrefix("172.17.0.0/24")},
	)
	e := newEngine(t, cfg)
	tests := []struct {
		name     string
		giaddr   string
		link     string
		o82      []byte
		wantPool string
	}{
		{"link", "", "10.0.0.1", nil, "lan"},
		{"giaddr in subnet", "172.16.0.1", "10.0.0.1", nil, "relayed"},
		{"giaddr listed as relay", "192.0.2.1", "10.0.0.1", nil, "relayed"},
		{"link selection beats giaddr", "192.0.2.1", "10.0.0.1", []byte{1, 2, 'a', 'b', 5, 4, 172, 17, 0, 0}, "linksel"},
		{"unknown giaddr", "198.51.100.1", "10.0.0.1", nil, ""},
		{"unknown link", "", "198.51.100.1", nil, ""},
		{"link selection unknown", "", "10.0.0.1", []byte{5, 4, 9, 9, 9, 9}, ""},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := discover(mac(i))
			if tt.giaddr != "" {
				d.GIAddr = ip(tt.giaddr)
			}
			d.LinkAddr = ip(tt.link)
			d.RelayInfo = tt.o82
			o := e.Handle(t0, d)
			if tt.wantPool == "" {
				wantDrop(t, o, DropNoPool)
				return
			}
			wantReply(t, o, dhcpv4.Offer, netip.Addr{})
			if o.Reply.Pool.Name != tt.wantPool || !o.Reply.Pool.Subnet.Contains(o.Reply.YIAddr) {
				t.Fatalf("pool %s addr %v, want pool %s", o.Reply.Pool.Name, o.Reply.YIAddr, tt.wantPool)
			}
		})
	}
}

func TestRelayInfoCopied(t *testing.T) {
	cfg := lanConfig()
	cfg.Pools[0].Relays = []netip.Addr{ip("192.0.2.1")}
	e := newEngine(t, cfg)
	o82 := []byte{1, 3, 'e', 't', '0', 2, 2, 0xab, 0xcd}
	d := discover(mac(1))
	d.GIAddr, d.RelayInfo = ip("192.0.2.1"), o82
	o := e.Handle(t0, d)
	r := selecting(mac(1), o.Reply.YIAddr)
	r.GIAddr, r.RelayInfo = ip("192.0.2.1"), o82
	a := e.Handle(t0, r)
	wantReply(t, a, dhcpv4.Ack, netip.Addr{})
	o82[2] = 'X' // the packet buffer is reused
	got := e.Leases(Filter{})[0]
	if string(got.RelayInfo) != "\x01\x03et0\x02\x02\xab\xcd" || got.GIAddr != ip("192.0.2.1") {
		t.Fatalf("relay info %q giaddr %v", got.RelayInfo, got.GIAddr)
	}
	if string(a.Persist[0].RelayInfo) != "\x01\x03et0\x02\x02\xab\xcd" {
		t.Fatalf("persisted relay info aliases the request: %q", a.Persist[0].RelayInfo)
	}
}

func TestTimes(t *testing.T) {
	tests := []struct {
		name          string
		lease, t1, t2 time.Duration // config (pool overrides config)
		poolLease     time.Duration
		requested     uint32
		want          [3]time.Duration
	}{
		{"defaults", time.Hour, 0, 0, 0, 0, [3]time.Duration{time.Hour, 30 * time.Minute, 52*time.Minute + 30*time.Second}},
		{"overrides", time.Hour, 20 * time.Minute, 40 * time.Minute, 0, 0, [3]time.Duration{time.Hour, 20 * time.Minute, 40 * time.Minute}},
		{"pool lease", time.Hour, 0, 0, 2 * time.Hour, 0, [3]time.Duration{2 * time.Hour, time.Hour, 105 * time.Minute}},
		{"shorter requested", time.Hour, 20 * time.Minute, 40 * time.Minute, 0, 600, [3]time.Duration{10 * time.Minute, 5 * time.Minute, 8*time.Minute + 45*time.Second}},
		{"requested keeps short T1", time.Hour, 2 * time.Minute, 40 * time.Minute, 0, 600, [3]time.Duration{10 * time.Minute, 2 * time.Minute, 8*time.Minute + 45*time.Second}},
		{"longer requested ignored", time.Hour, 0, 0, 0, 86400, [3]time.Duration{time.Hour, 30 * time.Minute, 52*time.Minute + 30*time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := lanConfig()
			cfg.LeaseTime, cfg.T1, cfg.T2 = tt.lease, tt.t1, tt.t2
			cfg.Pools[0].LeaseTime = tt.poolLease
			e := newEngine(t, cfg)
			d := discover(mac(1))
			d.LeaseTime = tt.requested
			o := e.Handle(t0, d)
			r := selecting(mac(1), o.Reply.YIAddr)
			r.LeaseTime = tt.requested
			a := e.Handle(t0, r)
			for _, rep := range []Reply{o.Reply, a.Reply} {
				if got := [3]time.Duration{rep.LeaseTime, rep.T1, rep.T2}; got != tt.want {
					t.Errorf("%v times %v, want %v", rep.Type, got, tt.want)
				}
			}
			l := a.Persist[0]
			if l.Expiry != t0.Add(tt.want[0]) || l.T1 != t0.Add(tt.want[1]) || l.T2 != t0.Add(tt.want[2]) {
				t.Errorf("lease times %v %v %v", l.T1, l.T2, l.Expiry)
			}
		})
	}
}

func TestSelecting(t *testing.T) {
	e := newEngine(t, lanConfig())
	o := e.Handle(t0, discover(mac(1)))
	// Another client cannot take the offered address.
	wantReply(t, e.Handle(t0, selecting(mac(2), o.Reply.YIAddr)), dhcpv4.Nak, netip.Addr{})
	// Client 1 chose another server: our hold is released.
	r := selecting(mac(1), ip("10.0.0.99"))
	r.ServerID, r.ServerIDOurs = ip("10.0.0.2"), false
	wantDrop(t, e.Handle(t0, r), DropOtherServer)
	wantReply(t, e.Handle(t0, selecting(mac(2), o.Reply.YIAddr)), dhcpv4.Ack, o.Reply.YIAddr)
	// A free address that was not offered is still allocatable.
	wantReply(t, e.Handle(t0, selecting(mac(3), ip("10.0.0.17"))), dhcpv4.Ack, ip("10.0.0.17"))
	// Outside the sections, outside the subnet, missing option 50.
	wantReply(t, e.Handle(t0, selecting(mac(4), ip("10.0.0.50"))), dhcpv4.Nak, netip.Addr{})
	wantReply(t, e.Handle(t0, selecting(mac(4), ip("10.9.0.50"))), dhcpv4.Nak, netip.Addr{})
	wantDrop(t, e.Handle(t0, selecting(mac(4), netip.Addr{})), DropBadRequest)
}

func TestClientMovesAddress(t *testing.T) {
	e := newEngine(t, lanConfig())
	a := dora(t, e, t0, discover(mac(1)))
	d := e.Handle(t0, selecting(mac(1), ip("10.0.0.18")))
	wantReply(t, d, dhcpv4.Ack, ip("10.0.0.18"))
	if len(d.Persist) != 2 || d.Persist[1].Addr != a || d.Persist[1].State != StateFree || d.Persist[1].ClientID != nil {
		t.Fatalf("persist %+v", d.Persist)
	}
	if got := e.Leases(Filter{}); len(got) != 1 || got[0].Addr != ip("10.0.0.18") {
		t.Fatalf("leases %+v", got)
	}
	// The old address is free for others (next fit offers fresh ones first).
	wantReply(t, e.Handle(t0, selecting(mac(2), a)), dhcpv4.Ack, a)
}

func TestInitReboot(t *testing.T) {
	cfg := lanConfig()
	cfg.Pools = append(cfg.Pools, Pool{Name: "auth", Subnet: netip.MustParsePrefix("10.1.0.0/24"), Authoritative: true})
	e := newEngine(t, cfg)
	a := dora(t, e, t0, discover(mac(1)))
	b := dora(t, e, t0, discover(mac(2)))
	authReq := func(hw []byte, addr netip.Addr) *Request {
		r := initReboot(hw, addr)
		r.LinkAddr = ip("10.1.0.1")
		return r
	}
	tests := []struct {
		name string
		req  *Request
		typ  dhcpv4.MessageType // 0: silent
		drop string
	}{
		{"known client, its address", initReboot(mac(1), a), dhcpv4.Ack, ""},
		{"wrong network", initReboot(mac(1), ip("192.168.1.10")), dhcpv4.Nak, ""},
		{"another client's address", initReboot(mac(1), b), dhcpv4.Nak, ""},
		{"known client, other free address", initReboot(mac(1), ip("10.0.0.19")), dhcpv4.Nak, ""},
		{"unknown client", initReboot(mac(9), ip("10.0.0.19")), 0, DropInitRebootUnknown},
		{"unknown client, wrong network", initReboot(mac(9), ip("192.168.1.10")), dhcpv4.Nak, ""},
		{"unknown client, authoritative", authReq(mac(9), ip("10.1.0.19")), dhcpv4.Nak, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := e.Handle(t0.Add(time.Minute), tt.req)
			if tt.typ == 0 {
				wantDrop(t, d, tt.drop)
				return
			}
			wantReply(t, d, tt.typ, netip.Addr{})
			if tt.typ == dhcpv4.Ack && (d.Reply.YIAddr != tt.req.RequestedIP || d.Persist[0].Start != t0.Add(time.Minute)) {
				t.Fatalf("ACK %v start %v", d.Reply.YIAddr, d.Persist[0].Start)
			}
		})
	}
	// A released binding whose address is still free is ACKed.
	rel := msg(dhcpv4.Release, mac(2))
	rel.CIAddr, rel.ServerID, rel.ServerIDOurs = b, srv, true
	wantDrop(t, e.Handle(t0, rel), "")
	wantReply(t, e.Handle(t0, initReboot(mac(2), b)), dhcpv4.Ack, b)
}

func TestRenewRebind(t *testing.T) {
	cfg := lanConfig()
	cfg.Pools = append(cfg.Pools, Pool{Name: "auth", Subnet: netip.MustParsePrefix("10.1.0.0/24"), Authoritative: true})
	e := newEngine(t, cfg)
	a := dora(t, e, t0, discover(mac(1)))
	b := dora(t, e, t0, discover(mac(2)))
	later := t0.Add(30 * time.Minute)
	d := e.Handle(later, renew(mac(1), a, true))
	wantReply(t, d, dhcpv4.Ack, a)
	if d.Persist[0].Expiry != later.Add(time.Hour) || d.Persist[0].Seq <= 2 {
		t.Fatalf("renewal %+v", d.Persist[0])
	}
	wantReply(t, e.Handle(later, renew(mac(1), a, false)), dhcpv4.Ack, a) // rebinding
	tests := []struct {
		name string
		req  *Request
		typ  dhcpv4.MessageType
		drop string
	}{
		{"renew another client's address", renew(mac(1), b, true), dhcpv4.Nak, ""},
		{"rebind another client's address", renew(mac(1), b, false), dhcpv4.Nak, ""},
		{"renew unknown client", renew(mac(9), ip("10.0.0.19"), true), dhcpv4.Nak, ""},
		{"rebind unknown client", renew(mac(9), ip("10.0.0.19"), false), 0, DropRebindUnknown},
		{"rebind unknown client, authoritative", renew(mac(9), ip("10.1.0.19"), false), dhcpv4.Nak, ""},
		{"rebind foreign address", renew(mac(9), ip("192.168.7.7"), false), 0, DropRebindForeign},
		{"renew foreign address", renew(mac(9), ip("192.168.7.7"), true), dhcpv4.Nak, ""},
		{"renew address outside sections", renew(mac(9), ip("10.0.0.100"), true), dhcpv4.Nak, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := e.Handle(later, tt.req)
			if tt.typ == 0 {
				wantDrop(t, d, tt.drop)
				return
			}
			wantReply(t, d, tt.typ, netip.Addr{})
			if len(d.Persist) != 0 {
				t.Fatalf("NAK persisted %+v", d.Persist)
			}
		})
	}
}

func TestDeclineQuarantine(t *testing.T) {
	cfg := lanConfig()
	cfg.DeclineQuarantine = 5 * time.Minute
	cfg.Pools[0].Sections = cfg.Pools[0].Sections[:1] // .20-.29 only
	e := newEngine(t, cfg)
	a := dora(t, e, t0, discover(mac(1)))
	dec := msg(dhcpv4.Decline, mac(1))
	dec.RequestedIP, dec.ServerID, dec.ServerIDOurs = a, srv, true
	other := *dec
	other.HWAddr = mac(2)
	wantDrop(t, e.Handle(t0, &other), DropDeclineUnknown)
	d := e.Handle(t0, dec)
	wantDrop(t, d, "")
	want := Lease{Seq: 2, Addr: a, Pool: "lan", Section: 1, State: StateDeclined, Start: t0, Expiry: t0.Add(5 * time.Minute)}
	if diff := cmp.Diff([]Lease{want}, d.Persist, cmpNet); diff != "" {
		t.Fatalf("decline persisted (-want +got):\n%s", diff)
	}
	// Never offered during the quarantine, not even to the client itself.
	for i := range 12 {
		o := e.Handle(t0.Add(time.Minute), discover(mac(10+i)))
		if o.HasReply && o.Reply.YIAddr == a {
			t.Fatalf("quarantined %v offered", a)
		}
	}
	if x := e.Expire(t0.Add(4*time.Minute), 100); len(x.Persist) != 0 {
		t.Fatalf("expired early: %+v", x.Persist)
	}
	x := e.Expire(t0.Add(5*time.Minute), 100)
	if len(x.Persist) != 1 || x.Persist[0].Addr != a || x.Persist[0].State != StateFree {
		t.Fatalf("quarantine end persisted %+v", x.Persist)
	}
	// Offers made at t0+1m are stale now too: the address is free again.
	wantReply(t, e.Handle(t0.Add(5*time.Minute), selecting(mac(3), a)), dhcpv4.Ack, a)
}

func TestReleaseThenSameAddress(t *testing.T) {
	e := newEngine(t, lanConfig())
	a := dora(t, e, t0, discover(mac(1)))
	rel := msg(dhcpv4.Release, mac(1))
	rel.CIAddr, rel.ServerID, rel.ServerIDOurs = a, srv, true
	bad := *rel
	bad.HWAddr = mac(2)
	wantDrop(t, e.Handle(t0, &bad), DropReleaseUnknown)
	d := e.Handle(t0.Add(time.Minute), rel)
	wantDrop(t, d, "")
	if len(d.Persist) != 1 || d.Persist[0].State != StateReleased || string(d.Persist[0].HWAddr) != string(mac(1)) {
		t.Fatalf("release persisted %+v", d.Persist)
	}
	for i := range 5 {
		if b := dora(t, e, t0.Add(2*time.Minute), discover(mac(10+i))); b == a {
			t.Fatalf("released address given to another client while fresh ones remain")
		}
	}
	wantReply(t, e.Handle(t0.Add(3*time.Minute), discover(mac(1))), dhcpv4.Offer, a)
}

func TestExpire(t *testing.T) {
	e := newEngine(t, lanConfig())
	var addrs []netip.Addr
	for i := range 5 {
		addrs = append(addrs, dora(t, e, t0.Add(time.Duration(i)*time.Minute), discover(mac(i))))
	}
	// Client 0 renews: its first expiry entry is stale.
	wantReply(t, e.Handle(t0.Add(30*time.Minute), renew(mac(0), addrs[0], true)), dhcpv4.Ack, addrs[0])
	if x := e.Expire(t0.Add(time.Hour-time.Nanosecond), 10); len(x.Persist) != 0 {
		t.Fatalf("expired early %+v", x.Persist)
	}
	x := e.Expire(t0.Add(time.Hour+2*time.Minute), 2)
	if len(x.Persist) != 2 || x.Persist[0].Addr != addrs[1] || x.Persist[1].Addr != addrs[2] {
		t.Fatalf("first batch %+v", x.Persist)
	}
	for _, l := range x.Persist {
		if l.State != StateExpired || l.ClientID == nil {
			t.Fatalf("expired record %+v", l)
		}
	}
	x = e.Expire(t0.Add(70*time.Minute), 10)
	if len(x.Persist) != 2 || x.Persist[0].Addr != addrs[3] || x.Persist[1].Addr != addrs[4] {
		t.Fatalf("second batch %+v", x.Persist)
	}
	if got := e.Leases(Filter{States: []State{StateBound}}); len(got) != 1 || got[0].Addr != addrs[0] {
		t.Fatalf("bound after expiry %+v", got)
	}
	// An expired client gets its address back.
	wantReply(t, e.Handle(t0.Add(70*time.Minute), discover(mac(3))), dhcpv4.Offer, addrs[3])
	// Renewing on time: Expire finds the fresh binding of client 0 later.
	x = e.Expire(t0.Add(90*time.Minute), 10)
	if len(x.Persist) != 1 || x.Persist[0].Addr != addrs[0] {
		t.Fatalf("client 0 expiry %+v", x.Persist)
	}
}

func TestRevert(t *testing.T) {
	t.Run("no intervening decision", func(t *testing.T) {
		e := newEngine(t, lanConfig())
		o := e.Handle(t0, discover(mac(1)))
		a := e.Handle(t0, selecting(mac(1), o.Reply.YIAddr))
		e.Revert(&a)
		if got := e.Leases(Filter{}); len(got) != 0 {
			t.Fatalf("leases after revert %+v", got)
		}
		wantReply(t, e.Handle(t0, selecting(mac(2), o.Reply.YIAddr)), dhcpv4.Ack, o.Reply.YIAddr)
	})
	t.Run("renewal reverted", func(t *testing.T) {
		e := newEngine(t, lanConfig())
		addr := dora(t, e, t0, discover(mac(1)))
		before := e.Leases(Filter{})
		d := e.Handle(t0.Add(time.Minute), renew(mac(1), addr, true))
		e.Revert(&d)
		e.Revert(&d) // idempotent
		if diff := cmp.Diff(before, e.Leases(Filter{}), cmpNet); diff != "" {
			t.Fatalf("after revert (-want +got):\n%s", diff)
		}
	})
	t.Run("move reverted", func(t *testing.T) {
		e := newEngine(t, lanConfig())
		addr := dora(t, e, t0, discover(mac(1)))
		before := e.Leases(Filter{})
		d := e.Handle(t0, selecting(mac(1), ip("10.0.0.18")))
		e.Revert(&d)
		if diff := cmp.Diff(before, e.Leases(Filter{}), cmpNet); diff != "" {
			t.Fatalf("after revert (-want +got):\n%s", diff)
		}
		wantReply(t, e.Handle(t0, renew(mac(1), addr, true)), dhcpv4.Ack, addr)
	})
	t.Run("intervening decision kept", func(t *testing.T) {
		e := newEngine(t, lanConfig())
		addr := dora(t, e, t0, discover(mac(1)))
		d1 := e.Handle(t0.Add(time.Minute), renew(mac(1), addr, true))
		d2 := e.Handle(t0.Add(2*time.Minute), renew(mac(1), addr, true))
		e.Revert(&d1)
		got := e.Leases(Filter{})
		if len(got) != 1 || got[0].Seq != d2.Persist[0].Seq {
			t.Fatalf("later decision clobbered: %+v", got)
		}
	})
	t.Run("expire and delete reverted", func(t *testing.T) {
		e := newEngine(t, lanConfig())
		addr := dora(t, e, t0, discover(mac(1)))
		before := e.Leases(Filter{})
		x := e.Expire(t0.Add(2*time.Hour), 10)
		e.Revert(&x)
		del, err := e.Delete(t0, addr)
		if err != nil {
			t.Fatal(err)
		}
		e.Revert(&del)
		if diff := cmp.Diff(before, e.Leases(Filter{}), cmpNet); diff != "" {
			t.Fatalf("after revert (-want +got):\n%s", diff)
		}
		// The reverted expiry is found again.
		if x := e.Expire(t0.Add(2*time.Hour), 10); len(x.Persist) != 1 {
			t.Fatalf("expiry lost by revert: %+v", x.Persist)
		}
	})
}

func TestRestore(t *testing.T) {
	e := newEngine(t, lanConfig())
	bound := Lease{Seq: 40, Addr: ip("10.0.0.12"), ClientID: append([]byte{1}, mac(1)...), HType: 1, HWAddr: mac(1),
		Pool: "lan", Section: 0, State: StateBound, Start: t0, Expiry: t0.Add(time.Hour), XID: 5,
		RelayInfo: []byte{1, 1, 'x'}, ReconfKey: []byte("0123456789abcdef"), ReplayCounter: 7}
	older := bound
	older.Seq, older.Addr = 10, ip("10.0.0.12")
	older.State = StateReleased
	outside := Lease{Seq: 41, Addr: ip("10.9.9.9"), ClientID: []byte{1, 2, 3}, Pool: "gone", State: StateBound, Start: t0, Expiry: t0.Add(time.Hour)}
	gone := Lease{Seq: 5, Addr: ip("10.0.0.13"), ClientID: []byte{9}, State: StateBound, Expiry: t0.Add(time.Hour)}
	tomb := Lease{Seq: 6, Addr: ip("10.0.0.13"), State: StateDeleted}
	for _, l := range []Lease{bound, older, outside, gone, tomb, {Seq: 99, Addr: ip("10.0.0.14"), State: StateOffered}} {
		e.Restore(l)
	}
	if diff := cmp.Diff([]Lease{bound, outside}, e.Leases(Filter{}), cmpNet); diff != "" {
		t.Fatalf("restored (-want +got):\n%s", diff)
	}
	// Seq continues above the highest restored one (offers are ignored).
	d := e.Handle(t0, renew(mac(1), ip("10.0.0.12"), true))
	wantReply(t, d, dhcpv4.Ack, ip("10.0.0.12"))
	if d.Persist[0].Seq != 42 || string(d.Persist[0].ReconfKey) != "0123456789abcdef" || d.Persist[0].ReplayCounter != 7 {
		t.Fatalf("renewed %+v", d.Persist[0])
	}
	// The restored bound address is not offered to others; the record outside
	// every pool is NAKed.
	for i := range 20 {
		if o := e.Handle(t0, discover(mac(10+i))); o.HasReply && o.Reply.YIAddr == ip("10.0.0.12") {
			t.Fatal("restored binding offered to another client")
		}
	}
	wantReply(t, e.Handle(t0, renew([]byte{2, 3}, ip("10.9.9.9"), true)), dhcpv4.Nak, netip.Addr{})
	var all []Lease
	for l := range e.All() {
		all = append(all, l)
	}
	if len(all) != 2 {
		t.Fatalf("All yields %d records, want 2 (offers excluded)", len(all))
	}
}

func TestReconfigureShrink(t *testing.T) {
	e := newEngine(t, lanConfig())
	var addrs []netip.Addr
	for i := range 12 {
		addrs = append(addrs, dora(t, e, t0, discover(mac(i))))
	}
	cfg := lanConfig()
	cfg.Pools[0].Sections = []Section{{Index: 0, Start: ip("10.0.0.10"), End: ip("10.0.0.14")}}
	if err := e.ApplyConfig(cfg); err != nil {
		t.Fatal(err)
	}
	if got := len(e.Leases(Filter{})); got != 12 {
		t.Fatalf("%d bindings kept, want 12", got)
	}
	wantReply(t, e.Handle(t0, renew(mac(0), addrs[0], true)), dhcpv4.Ack, addrs[0])
	wantReply(t, e.Handle(t0, renew(mac(6), addrs[6], true)), dhcpv4.Nak, netip.Addr{})
	wantReply(t, e.Handle(t0, initReboot(mac(11), addrs[11])), dhcpv4.Nak, netip.Addr{})
	wantDrop(t, e.Handle(t0, discover(mac(50))), DropPoolExhausted)
	// The client whose address left the pool gets a new one once there is room.
	rel := msg(dhcpv4.Release, mac(0))
	rel.CIAddr = addrs[0]
	wantDrop(t, e.Handle(t0, rel), "")
	wantReply(t, e.Handle(t0, discover(mac(6))), dhcpv4.Offer, addrs[0])
	bad := lanConfig()
	bad.Pools[0].Sections[0].End = ip("10.1.0.1")
	if err := e.ApplyConfig(bad); err == nil {
		t.Fatal("section outside the subnet accepted")
	}
}

func TestDeleteAndQueries(t *testing.T) {
	e := newEngine(t, lanConfig())
	a := dora(t, e, t0, discover(mac(1)))
	b := dora(t, e, t0, discover(mac(0x0a0b)))
	e.Handle(t0, discover(mac(3)))
	st := e.Pools(t0)
	want := []PoolStats{{Name: "lan", Subnet: netip.MustParsePrefix("10.0.0.0/24"), Size: 20, Bound: 2, Offered: 1,
		Sections: []SectionStats{
			{Index: 0, Start: ip("10.0.0.10"), End: ip("10.0.0.19"), Size: 10, Bound: 2, Offered: 1},
			{Index: 1, Start: ip("10.0.0.20"), End: ip("10.0.0.29"), Size: 10},
		}}}
	if diff := cmp.Diff(want, st, cmpNet); diff != "" {
		t.Fatalf("pools (-want +got):\n%s", diff)
	}
	for _, tt := range []struct {
		f    Filter
		want int
	}{
		{Filter{}, 2},
		{Filter{Client: "02:00:00:00:0a:0b"}, 1},
		{Filter{Client: "01020000000a0b"}, 1},
		{Filter{Client: a.String()}, 1},
		{Filter{From: b, To: b}, 1},
		{Filter{Pool: "other"}, 0},
		{Filter{States: []State{StateOffered}}, 1},
	} {
		if got := e.Leases(tt.f); len(got) != tt.want {
			t.Errorf("Leases(%+v) = %d records, want %d", tt.f, len(got), tt.want)
		}
	}
	// A valid lease is quarantined first; deleting that frees it.
	d, err := e.Delete(t0, a)
	if err != nil || len(d.Persist) != 1 || d.Persist[0].State != StateQuarantined || d.Persist[0].Addr != a {
		t.Fatalf("delete: %v %+v", err, d.Persist)
	}
	d, err = e.Delete(t0, a)
	if err != nil || len(d.Persist) != 1 || d.Persist[0].State != StateDeleted || d.Persist[0].Addr != a {
		t.Fatalf("delete of the quarantined record: %v %+v", err, d.Persist)
	}
	if _, err := e.Delete(t0, a); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	if got := len(e.Leases(Filter{})); got != 1 {
		t.Fatalf("%d leases after delete", got)
	}
}

func TestInform(t *testing.T) {
	e := newEngine(t, lanConfig())
	r := msg(dhcpv4.Inform, mac(1))
	r.CIAddr = ip("10.0.0.50")
	r.LinkAddr = ip("192.0.2.1") // the pool comes from ciaddr
	d := e.Handle(t0, r)
	wantReply(t, d, dhcpv4.Ack, netip.Addr{})
	if d.Reply.YIAddr.IsValid() || d.Reply.LeaseTime != 0 || d.Reply.Lease != nil || d.Reply.Pool.Name != "lan" || len(d.Persist) != 0 {
		t.Fatalf("INFORM reply %+v", d)
	}
	r.CIAddr = ip("192.0.2.9")
	wantDrop(t, e.Handle(t0, r), DropNoPool)
}

func TestMalformed(t *testing.T) {
	e := newEngine(t, lanConfig())
	wantDrop(t, e.Handle(t0, &Request{Type: dhcpv4.Discover, LinkAddr: srv}), DropNoClient)
	wantDrop(t, e.Handle(t0, msg(dhcpv4.Request, mac(1))), DropBadRequest)
	wantDrop(t, e.Handle(t0, msg(dhcpv4.Ack, mac(1))), DropUnknownType)
	for _, o82 := range [][]byte{{5}, {5, 4, 1}, {1, 200, 1}, {5, 3, 1, 2, 3}} {
		d := discover(mac(1))
		d.RelayInfo = o82 // malformed: ignored, the link selects
		wantReply(t, e.Handle(t0, d), dhcpv4.Offer, netip.Addr{})
	}
}

func TestConcurrentClients(t *testing.T) {
	cfg := lanConfig()
	cfg.Pools[0].Subnet = netip.MustParsePrefix("10.0.0.0/20")
	cfg.Pools[0].Sections = nil
	e := newEngine(t, cfg)
	const workers, per = 8, 200
	got := make([][]netip.Addr, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range per {
				d := discover(mac(w*per + i + 1))
				o := e.Handle(t0, d)
				r := selecting(d.HWAddr, o.Reply.YIAddr)
				if a := e.Handle(t0, r); a.HasReply && a.Reply.Type == dhcpv4.Ack {
					got[w] = append(got[w], a.Reply.YIAddr)
				}
			}
		})
	}
	wg.Wait()
	seen := map[netip.Addr]bool{}
	for _, g := range got {
		for _, a := range g {
			if seen[a] {
				t.Fatalf("%v bound twice", a)
			}
			seen[a] = true
		}
	}
	if len(seen) != workers*per {
		t.Fatalf("%d bindings, want %d", len(seen), workers*per)
	}
}

func TestConfigErrors(t *testing.T) {
	for name, mod := range map[string]func(*Config){
		"overlapping pools": func(c *Config) {
			c.Pools = append(c.Pools, Pool{Name: "b", Subnet: netip.MustParsePrefix("10.0.0.128/25")})
		},
		"duplicate name": func(c *Config) {
			c.Pools = append(c.Pools, Pool{Name: "lan", Subnet: netip.MustParsePrefix("10.5.0.0/24")})
		},
		"ipv6 subnet": func(c *Config) { c.Pools[0].Subnet = netip.MustParsePrefix("2001:db8::/64") },
		"overlapping sections": func(c *Config) {
			c.Pools[0].Sections[0].Start = ip("10.0.0.15")
		},
		"reservation outside": func(c *Config) {
			c.Pools[0].Reservations = []Reservation{{HWAddr: mac(1), Addr: ip("10.7.0.1")}}
		},
	} {
		cfg := lanConfig()
		mod(&cfg)
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestSelectingSharedServerID: a relay's RFC 5107 Server Identifier
// Override names one address for every server of a cluster. A SELECTING
// REQUEST naming it is this server's only when this server offered the
// requested address to the client; otherwise it is dropped as another
// server's (and an offer of ours at another address is released) — no
// NAK, no ACK of an address another server offered.
func TestSelectingSharedServerID(t *testing.T) {
	e := newEngine(t, lanConfig())
	shared := func(m []byte, a netip.Addr) *Request {
		r := selecting(m, a)
		r.ServerID, r.ServerIDOurs, r.ServerIDShared = ip("192.0.2.1"), true, true
		return r
	}
	o := e.Handle(t0, discover(mac(1)))
	// No offer to client 2: another server's offer, whatever the address.
	wantDrop(t, e.Handle(t0, shared(mac(2), ip("10.0.0.17"))), DropOtherServer)
	// Client 1 accepts another server's offer (another address): ours is released.
	wantDrop(t, e.Handle(t0, shared(mac(1), ip("10.0.0.18"))), DropOtherServer)
	wantReply(t, e.Handle(t0, selecting(mac(2), o.Reply.YIAddr)), dhcpv4.Ack, o.Reply.YIAddr)
	// Client 3 accepts our offer: ACKed.
	o = e.Handle(t0, discover(mac(3)))
	wantReply(t, e.Handle(t0, shared(mac(3), o.Reply.YIAddr)), dhcpv4.Ack, o.Reply.YIAddr)
}
