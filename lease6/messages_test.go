package lease6

import (
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/leased/leased/dhcpv6"
	"github.com/leased/leased/lease"
)

// RFC 8415 §16 (messages a server must discard) and the unicast rules of
// §18.3.2/.4/.7/.8 and §18.4.
func TestValidation(t *testing.T) {
	with := func(r *Request, f func(*Request)) *Request { f(r); return r }
	useMulticast := "reply UseMulticast"
	tests := []struct {
		name string
		req  *Request
		want string // Drop reason, or useMulticast
	}{
		{"§16 Solicit without Client ID", msg(dhcpv6.Solicit, nil, na(1)), DropNoClient},
		{"§16 Request without Client ID", msg(dhcpv6.Request, nil, na(1)), DropNoClient},
		{"§16 Solicit with Server ID", with(msg(dhcpv6.Solicit, duidA, na(1)), func(r *Request) { r.ServerID = []byte{1} }), DropServerIDSent},
		{"§16 Rebind with Server ID", with(msg(dhcpv6.Rebind, duidA, na(1)), func(r *Request) { r.ServerID = []byte{1}; r.ServerIDOurs = true }), DropServerIDSent},
		{"§16 Confirm with Server ID", with(msg(dhcpv6.Confirm, duidA, na(1, "fd77::1:1")), func(r *Request) { r.ServerID = []byte{1} }), DropServerIDSent},
		{"§16 Solicit unicast", with(msg(dhcpv6.Solicit, duidA, na(1)), func(r *Request) { r.Unicast = true }), DropUnicast},
		{"§16 Rebind unicast", with(msg(dhcpv6.Rebind, duidA, na(1)), func(r *Request) { r.Unicast = true }), DropUnicast},
		{"§16 Confirm unicast", with(msg(dhcpv6.Confirm, duidA, na(1, "fd77::1:1")), func(r *Request) { r.Unicast = true }), DropUnicast},
		{"§16 Information-request unicast", with(msg(dhcpv6.InformationRequest, nil), func(r *Request) { r.Unicast = true }), DropUnicast},
		{"§16 Request without Server ID", with(msg(dhcpv6.Request, duidA, na(1)), func(r *Request) { r.ServerID = nil }), DropNoServerID},
		{"§16 Renew without Server ID", with(msg(dhcpv6.Renew, duidA, na(1)), func(r *Request) { r.ServerID = nil }), DropNoServerID},
		{"§16 Release without Server ID", with(msg(dhcpv6.Release, duidA, na(1)), func(r *Request) { r.ServerID = nil }), DropNoServerID},
		{"§16 Decline without Server ID", with(msg(dhcpv6.Decline, duidA, na(1)), func(r *Request) { r.ServerID = nil }), DropNoServerID},
		{"§16 Request for another server", with(msg(dhcpv6.Request, duidA, na(1)), func(r *Request) { r.ServerIDOurs = false }), DropOtherServer},
		{"§16 Renew for another server", with(msg(dhcpv6.Renew, duidA, na(1)), func(r *Request) { r.ServerIDOurs = false }), DropOtherServer},
		{"§16 Information-request for another server", with(msg(dhcpv6.InformationRequest, nil), func(r *Request) { r.ServerID = []byte{9} }), DropOtherServer},
		{"§16 Information-request with an IA", msg(dhcpv6.InformationRequest, duidA, na(1)), DropInfoReqWithIA},
		{"§18.3.2 Request unicast", with(msg(dhcpv6.Request, duidA, na(1)), func(r *Request) { r.Unicast = true }), useMulticast},
		{"§18.3.4 Renew unicast", with(msg(dhcpv6.Renew, duidA, na(1)), func(r *Request) { r.Unicast = true }), useMulticast},
		{"§18.3.7 Release unicast", with(msg(dhcpv6.Release, duidA, na(1)), func(r *Request) { r.Unicast = true }), useMulticast},
		{"§18.3.8 Decline unicast", with(msg(dhcpv6.Decline, duidA, na(1)), func(r *Request) { r.Unicast = true }), useMulticast},
		{"server message type", msg(dhcpv6.Advertise, duidA), DropUnknownType},
		{"relay message type", msg(dhcpv6.RelayForward, duidA), DropUnknownType},
		{"unknown link", with(msg(dhcpv6.Solicit, duidA, na(1)), func(r *Request) { r.LinkAddr = netip.MustParseAddr("fd99::1") }), DropNoPool},
		{"relayed without link-address", with(msg(dhcpv6.Solicit, duidA, na(1)), func(r *Request) { r.LinkAddr = netip.IPv6Unspecified() }), DropNoPool},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEngine(t, testConfig())
			d := e.Handle(t0, tt.req)
			if tt.want == useMulticast {
				if !d.HasReply || d.Reply.Type != dhcpv6.Reply || !d.Reply.HasStatus || d.Reply.Status != dhcpv6.StatusUseMulticast ||
					len(d.Reply.IAs) != 0 || d.Reply.Pool != nil || len(d.Persist) != 0 {
					t.Fatalf("got %+v, want a bare UseMulticast Reply", d)
				}
				return
			}
			if d.HasReply || d.Drop != tt.want || len(d.Persist) != 0 {
				t.Fatalf("got HasReply=%v Drop=%q Persist=%d, want drop %q", d.HasReply, d.Drop, len(d.Persist), tt.want)
			}
			if got := len(e.Leases(lease.Filter{States: []lease.State{lease.StateOffered, lease.StateBound}})); got != 0 {
				t.Errorf("dropped message changed state: %d leases/offers", got)
			}
		})
	}
}

// RFC 8415 §18.3.1: Advertise, offer hold, status per IA, hints, Rapid Commit.
func TestSolicit(t *testing.T) {
	t.Run("§18.3.1 two clients are never advertised the same address or prefix", func(t *testing.T) {
		e := newEngine(t, testConfig())
		da := e.Handle(t0, msg(dhcpv6.Solicit, duidA, na(1), pd(2)))
		db := e.Handle(t0, msg(dhcpv6.Solicit, duidB, na(1), pd(2)))
		if da.Reply.Type != dhcpv6.Advertise || len(da.Persist) != 0 {
			t.Fatalf("Advertise: %+v", da)
		}
		if da.Reply.IAs[0].Bindings[0].Addr == db.Reply.IAs[0].Bindings[0].Addr ||
			da.Reply.IAs[1].Bindings[0].Prefix == db.Reply.IAs[1].Bindings[0].Prefix {
			t.Fatalf("same offer to two clients: %+v %+v", da.Reply.IAs, db.Reply.IAs)
		}
		again := e.Handle(t0.Add(time.Second), msg(dhcpv6.Solicit, duidA, na(1), pd(2)))
		if again.Reply.IAs[0].Bindings[0] != da.Reply.IAs[0].Bindings[0] {
			t.Errorf("repeated Solicit moved the offer: %v → %v", da.Reply.IAs[0].Bindings[0], again.Reply.IAs[0].Bindings[0])
		}
		if da.Reply.ReconfKey != nil || da.Reply.Lease == nil || da.Reply.Lease.State != lease.StateOffered {
			t.Errorf("Advertise key %x lease %+v", da.Reply.ReconfKey, da.Reply.Lease)
		}
	})
	t.Run("§18.3.1 offer released after OfferHold", func(t *testing.T) {
		e := newEngine(t, testConfig())
		lab := func(r *Request) *Request { r.LinkAddr = netip.MustParseAddr("fd78::1"); return r }
		da := e.Handle(t0, lab(msg(dhcpv6.Solicit, duidA, na(1, "fd78::13"))))
		if got := da.Reply.IAs[0].Bindings[0].Addr.String(); got != "fd78::13" {
			t.Fatalf("hint not honoured: %s", got)
		}
		db := e.Handle(t0.Add(5*time.Second), lab(msg(dhcpv6.Solicit, duidB, na(1, "fd78::13"))))
		if db.Reply.IAs[0].Bindings[0].Addr.String() == "fd78::13" {
			t.Fatal("held address advertised to a second client")
		}
		db = e.Handle(t0.Add(11*time.Second), lab(msg(dhcpv6.Solicit, []byte{0xc}, na(1, "fd78::13"))))
		if got := db.Reply.IAs[0].Bindings[0].Addr.String(); got != "fd78::13" {
			t.Fatalf("after OfferHold the hint should be free: %s", got)
		}
	})
	t.Run("§18.3.1 NoAddrsAvail and NoPrefixAvail in the IA", func(t *testing.T) {
		e := newEngine(t, testConfig())
		lab := func(r *Request) *Request { r.LinkAddr = netip.MustParseAddr("fd78::1"); return r }
		for i := range 4 {
			d := e.Handle(t0, lab(msg(dhcpv6.Solicit, []byte{9, byte(i)}, na(1))))
			if len(d.Reply.IAs[0].Bindings) != 1 {
				t.Fatalf("client %d: %+v", i, d.Reply.IAs)
			}
		}
		d := e.Handle(t0, lab(msg(dhcpv6.Solicit, duidA, na(1), pd(2))))
		if !d.HasReply || d.Reply.Type != dhcpv6.Advertise || len(d.Reply.IAs) != 2 {
			t.Fatalf("%+v", d)
		}
		if ia := d.Reply.IAs[0]; !ia.HasStatus || ia.Status != dhcpv6.StatusNoAddrsAvail || len(ia.Bindings) != 0 {
			t.Errorf("IA_NA %+v", ia)
		}
		if ia := d.Reply.IAs[1]; !ia.HasStatus || ia.Status != dhcpv6.StatusNoPrefixAvail || ia.Kind != IAPD {
			t.Errorf("IA_PD %+v", ia)
		}
	})
	t.Run("§18.3.1 Rapid Commit", func(t *testing.T) {
		cfg := testConfig()
		e := newEngine(t, cfg)
		req := msg(dhcpv6.Solicit, duidA, na(1))
		req.RapidCommit = true
		if d := e.Handle(t0, req); d.Reply.Type != dhcpv6.Advertise || d.Reply.RapidCommit {
			t.Fatalf("pool without RapidCommit: %+v", d.Reply)
		}
		cfg.Pools[0].RapidCommit = true
		e = newEngine(t, cfg)
		d := e.Handle(t0, req)
		if d.Reply.Type != dhcpv6.Reply || !d.Reply.RapidCommit || len(d.Persist) != 1 || d.Persist[0].State != lease.StateBound {
			t.Fatalf("rapid commit: %+v", d)
		}
		mustBound(t, e, d.Reply.IAs[0].Bindings[0].Addr, duidA)
		req.RapidCommit = false
		if d := e.Handle(t0, req); d.Reply.Type != dhcpv6.Advertise {
			t.Errorf("no option 14 → Advertise, got %v", d.Reply.Type)
		}
	})
	t.Run("§18.3.1 a taken hint is ignored", func(t *testing.T) {
		e := newEngine(t, testConfig())
		ias := bindClient(t, e, t0, duidA, na(1, "fd77::1:99"), pd(2, "fd77:100:5::/56"))
		if ias[0].Bindings[0].Addr.String() != "fd77::1:99" || ias[1].Bindings[0].Prefix.String() != "fd77:100:5::/56" {
			t.Fatalf("hints not honoured: %+v", ias)
		}
		d := e.Handle(t0, msg(dhcpv6.Solicit, duidB, na(1, "fd77::1:99"), pd(2, "fd77:100:5::/56"), na(3, "fd99::1")))
		if d.Reply.IAs[0].Bindings[0].Addr.String() == "fd77::1:99" || d.Reply.IAs[1].Bindings[0].Prefix.String() == "fd77:100:5::/56" {
			t.Errorf("taken hint advertised: %+v", d.Reply.IAs)
		}
		if a := d.Reply.IAs[2].Bindings[0].Addr; !netip.MustParsePrefix("fd77::/64").Contains(a) {
			t.Errorf("off-link hint: got %v", a)
		}
		// A prefix hint of another length, or only a length (::/56), is not a slot.
		d = e.Handle(t0, msg(dhcpv6.Solicit, []byte{7}, pd(1, "::/56"), pd(2, "fd77:100:6::/48")))
		for _, ia := range d.Reply.IAs {
			if len(ia.Bindings) != 1 || ia.Bindings[0].Prefix.Bits() != 56 {
				t.Errorf("length hint: %+v", ia)
			}
		}
	})
}

// RFC 8415 §18.3.2.
func TestRequest(t *testing.T) {
	t.Run("§18.3.2 binds each IA, several IA_NA and IA_PD", func(t *testing.T) {
		e := newEngine(t, testConfig())
		d := e.Handle(t0, msg(dhcpv6.Request, duidA, na(1), na(2), pd(3), pd(4)))
		if len(d.Reply.IAs) != 4 || len(d.Persist) != 4 {
			t.Fatalf("%+v", d)
		}
		seen := map[netip.Addr]bool{}
		for i, ia := range d.Reply.IAs {
			if len(ia.Bindings) != 1 || ia.HasStatus || ia.T1 == 0 || ia.T2 < ia.T1 {
				t.Errorf("IA %d: %+v", i, ia)
			}
			l := d.Persist[i]
			if seen[l.Addr] {
				t.Errorf("address %v twice", l.Addr)
			}
			seen[l.Addr] = true
			if l.IAID != ia.IAID || l.XID != 0x123456 || l.GIAddr != peerA || string(l.ClientID) != string(duidA) {
				t.Errorf("record %+v", l)
			}
		}
		if d.Reply.Pool == nil || d.Reply.Pool.Name != "office6" || d.Reply.Lease == nil {
			t.Errorf("pool %v lease %v", d.Reply.Pool, d.Reply.Lease)
		}
	})
	t.Run("§18.3.2 NoAddrsAvail per IA, others still bound", func(t *testing.T) {
		e := newEngine(t, testConfig())
		lab := func(r *Request) *Request { r.LinkAddr = netip.MustParseAddr("fd78::1"); return r }
		d := e.Handle(t0, lab(msg(dhcpv6.Request, duidA, na(1), na(2), na(3), na(4), na(5), pd(6))))
		if len(d.Persist) != 4 {
			t.Fatalf("bound %d", len(d.Persist))
		}
		if ia := d.Reply.IAs[4]; ia.Status != dhcpv6.StatusNoAddrsAvail || !ia.HasStatus {
			t.Errorf("5th IA %+v", ia)
		}
		if ia := d.Reply.IAs[5]; ia.Status != dhcpv6.StatusNoPrefixAvail {
			t.Errorf("PD IA %+v", ia)
		}
	})
	t.Run("reservations by DUID (address and prefix)", func(t *testing.T) {
		cfg := testConfig()
		cfg.Pools[0].Reservations = []Reservation{{DUID: duidB, Addr: netip.MustParseAddr("fd77::1:0"),
			Prefix: netip.MustParsePrefix("fd77:100::/56"), Hostname: "bee"}}
		e := newEngine(t, cfg)
		ia := bindClient(t, e, t0, duidA, na(1, "fd77::1:0"), pd(2, "fd77:100::/56"))
		if ia[0].Bindings[0].Addr.String() == "fd77::1:0" || ia[1].Bindings[0].Prefix.String() == "fd77:100::/56" {
			t.Fatalf("another client's reservation given out: %+v", ia)
		}
		ib := bindClient(t, e, t0, duidB, na(5), pd(6))
		if ib[0].Bindings[0].Addr.String() != "fd77::1:0" || ib[1].Bindings[0].Prefix.String() != "fd77:100::/56" {
			t.Fatalf("reservation not honoured: %+v", ib)
		}
		if l := mustBound(t, e, netip.MustParseAddr("fd77::1:0"), duidB); l.Hostname != "bee" {
			t.Errorf("hostname %q", l.Hostname)
		}
	})
	t.Run("§18.3.2 a returning IA keeps its address, a moved IA frees the old one", func(t *testing.T) {
		e := newEngine(t, testConfig())
		ia := bindClient(t, e, t0, duidA, na(1))
		a := ia[0].Bindings[0].Addr
		d := e.Handle(t0, msg(dhcpv6.Request, duidA, na(1)))
		if d.Reply.IAs[0].Bindings[0].Addr != a || len(d.Persist) != 1 {
			t.Fatalf("re-Request moved: %+v", d.Reply.IAs)
		}
		// An operator reservation moves it: the old address is freed.
		cfg := testConfig()
		cfg.Pools[0].Reservations = []Reservation{{DUID: duidA, Addr: netip.MustParseAddr("fd77::1:77")}}
		if err := e.ApplyConfig(cfg); err != nil {
			t.Fatal(err)
		}
		d = e.Handle(t0, msg(dhcpv6.Request, duidA, na(1)))
		if d.Reply.IAs[0].Bindings[0].Addr.String() != "fd77::1:77" || len(d.Persist) != 2 ||
			d.Persist[1].Addr != a || d.Persist[1].State != lease.StateFree || len(d.Persist[1].ClientID) != 0 {
			t.Fatalf("move: %+v", d.Persist)
		}
		if _, ok := e.Lookup(a); ok {
			t.Error("old address still recorded")
		}
	})
}

// RFC 8415 §18.3.4 (Renew) and §18.3.5 (Rebind).
func TestRenewRebind(t *testing.T) {
	setup := func(t *testing.T) (*Engine, []IAResult) {
		e := newEngine(t, testConfig())
		return e, bindClient(t, e, t0, duidA, na(1), pd(2))
	}
	later := t0.Add(time.Hour)
	t.Run("§18.3.4 Renew of an unknown IA: NoBinding", func(t *testing.T) {
		e, ias := setup(t)
		d := e.Handle(later, msg(dhcpv6.Renew, duidA, asIA(ias[0]), na(9, "fd77::1:5")))
		if ia := d.Reply.IAs[1]; !ia.HasStatus || ia.Status != dhcpv6.StatusNoBinding || len(ia.Bindings) != 0 {
			t.Errorf("unknown IA %+v", ia)
		}
		if ia := d.Reply.IAs[0]; ia.HasStatus || ia.Bindings[0].Valid != 2*time.Hour {
			t.Errorf("known IA %+v", ia)
		}
		d = e.Handle(later, msg(dhcpv6.Renew, duidB, asIA(ias[0])))
		if d.Reply.IAs[0].Status != dhcpv6.StatusNoBinding || len(d.Persist) != 0 {
			t.Errorf("another client's IA: %+v", d)
		}
	})
	t.Run("§18.3.4 listed address not in the binding gets lifetimes 0", func(t *testing.T) {
		e, ias := setup(t)
		ia := asIA(ias[0])
		ia.Addrs = append(ia.Addrs, netip.MustParseAddr("fd77::1:4444"))
		d := e.Handle(later, msg(dhcpv6.Renew, duidA, ia))
		bs := d.Reply.IAs[0].Bindings
		if len(bs) != 2 || bs[0].Valid == 0 || bs[1].Valid != 0 || bs[1].Preferred != 0 || bs[1].Addr.String() != "fd77::1:4444" {
			t.Errorf("%+v", bs)
		}
	})
	t.Run("§18.3.4 no longer appropriate for the link: lifetimes 0", func(t *testing.T) {
		e, ias := setup(t)
		cfg := testConfig()
		cfg.Pools[0].Ranges[0].Start = netip.MustParseAddr("fd77::2:0")
		cfg.Pools[0].Ranges[0].End = netip.MustParseAddr("fd77::2:ffff")
		cfg.Pools[0].PD.Prefix = netip.MustParsePrefix("fd77:200::/40")
		if err := e.ApplyConfig(cfg); err != nil {
			t.Fatal(err)
		}
		d := e.Handle(later, msg(dhcpv6.Renew, duidA, asIA(ias[0]), asIA(ias[1])))
		for _, ia := range d.Reply.IAs {
			if len(ia.Bindings) != 1 || ia.Bindings[0].Valid != 0 || ia.T1 != 0 {
				t.Errorf("IA %+v", ia)
			}
		}
		if len(d.Persist) != 2 || d.Persist[0].State != lease.StateExpired || !d.Persist[0].Expiry.Equal(later) {
			t.Errorf("persist %+v", d.Persist)
		}
	})
	t.Run("§18.3.4 ForceRebind: lifetimes 0 so the client solicits again", func(t *testing.T) {
		e, ias := setup(t)
		req := msg(dhcpv6.Renew, duidA, asIA(ias[0]), asIA(ias[1]))
		req.ForceRebind = true
		d := e.Handle(later, req)
		for _, ia := range d.Reply.IAs {
			if ia.Bindings[0].Valid != 0 {
				t.Errorf("IA %+v", ia)
			}
		}
		if l, _ := e.Lookup(ias[0].Bindings[0].Addr); l.State != lease.StateExpired {
			t.Errorf("state %v", l.State)
		}
		// The next Solicit gets the same address back.
		again := bindClient(t, e, later, duidA, na(1))
		if again[0].Bindings[0].Addr != ias[0].Bindings[0].Addr {
			t.Errorf("after force: %v", again[0].Bindings[0].Addr)
		}
	})
	t.Run("§18.3.5 Rebind extends a known binding", func(t *testing.T) {
		e, ias := setup(t)
		d := e.Handle(later, msg(dhcpv6.Rebind, duidA, asIA(ias[0]), asIA(ias[1])))
		if len(d.Persist) != 2 || d.Reply.IAs[1].Bindings[0].Valid != 2*time.Hour {
			t.Fatalf("%+v", d)
		}
		if l := mustBound(t, e, ias[1].Bindings[0].Prefix.Addr(), duidA); !l.Expiry.Equal(later.Add(2 * time.Hour)) {
			t.Errorf("expiry %v", l.Expiry)
		}
	})
	t.Run("§18.3.5 Rebind unknown: appropriate and free binds, not appropriate lifetimes 0, taken NoBinding", func(t *testing.T) {
		e, ias := setup(t)
		takenNA, takenPD := asIA(ias[0]), asIA(ias[1])
		takenNA.IAID, takenPD.IAID = 5, 6
		d := e.Handle(later, msg(dhcpv6.Rebind, duidB,
			na(1, "fd77::1:1234"), pd(2, "fd77:100:42::/56"), na(3, "2001:db8::1"), pd(4, "2001:db8::/56"),
			takenNA, takenPD))
		r := d.Reply.IAs
		if r[0].Bindings[0].Addr.String() != "fd77::1:1234" || r[0].Bindings[0].Valid == 0 {
			t.Errorf("free NA %+v", r[0])
		}
		if r[1].Bindings[0].Prefix.String() != "fd77:100:42::/56" || r[1].Bindings[0].Valid == 0 {
			t.Errorf("free PD %+v", r[1])
		}
		if r[2].Bindings[0].Valid != 0 || r[3].Bindings[0].Valid != 0 {
			t.Errorf("off-link %+v %+v", r[2], r[3])
		}
		if r[4].Status != dhcpv6.StatusNoBinding || r[5].Status != dhcpv6.StatusNoBinding {
			t.Errorf("taken %+v %+v", r[4], r[5])
		}
		mustBound(t, e, netip.MustParseAddr("fd77::1:1234"), duidB)
		mustBound(t, e, ias[0].Bindings[0].Addr, duidA)
	})
}

// RFC 8415 §18.3.3.
func TestConfirm(t *testing.T) {
	e := newEngine(t, testConfig())
	tests := []struct {
		name   string
		ias    []IA
		status uint16
		drop   string
	}{
		{"§18.3.3 on link: Success", []IA{na(1, "fd77::1:1"), na(2, "fd77::ffff")}, dhcpv6.StatusSuccess, ""},
		{"§18.3.3 one address off link: NotOnLink", []IA{na(1, "fd77::1:1"), na(2, "fd78::1")}, dhcpv6.StatusNotOnLink, ""},
		{"§18.3.3 no addresses: no reply", []IA{na(1)}, 0, DropConfirmEmpty},
		{"§18.3.3 prefixes only: no reply", []IA{pd(1, "fd77:100::/56")}, 0, DropConfirmEmpty},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := e.Handle(t0, msg(dhcpv6.Confirm, duidA, tt.ias...))
			if tt.drop != "" {
				if d.HasReply || d.Drop != tt.drop {
					t.Fatalf("%+v", d)
				}
				return
			}
			if !d.HasReply || !d.Reply.HasStatus || d.Reply.Status != tt.status || len(d.Persist) != 0 || len(d.Reply.IAs) != 0 {
				t.Fatalf("%+v", d)
			}
		})
	}
}

// RFC 8415 §18.3.7 and §18.3.8.
func TestReleaseDecline(t *testing.T) {
	t.Run("§18.3.7 unknown IA gets NoBinding, known is released", func(t *testing.T) {
		e := newEngine(t, testConfig())
		ias := bindClient(t, e, t0, duidA, na(1), pd(2))
		d := e.Handle(t0, msg(dhcpv6.Release, duidA, asIA(ias[1]), na(7, "fd77::1:77")))
		if !d.Reply.HasStatus || d.Reply.Status != dhcpv6.StatusSuccess || len(d.Persist) != 1 {
			t.Fatalf("%+v", d)
		}
		if len(d.Reply.IAs) != 1 || d.Reply.IAs[0].IAID != 7 || d.Reply.IAs[0].Status != dhcpv6.StatusNoBinding {
			t.Errorf("IAs %+v", d.Reply.IAs)
		}
		if l, _ := e.Lookup(ias[1].Bindings[0].Prefix.Addr()); l.State != lease.StateReleased || string(l.ClientID) != string(duidA) {
			t.Errorf("released %+v", l)
		}
		mustBound(t, e, ias[0].Bindings[0].Addr, duidA)
	})
	t.Run("§18.3.8 Decline quarantines the address", func(t *testing.T) {
		e := newEngine(t, testConfig())
		ias := bindClient(t, e, t0, duidA, na(1))
		a := ias[0].Bindings[0].Addr
		d := e.Handle(t0, msg(dhcpv6.Decline, duidA, asIA(ias[0]), na(4, "fd77::1:99")))
		if d.Reply.Status != dhcpv6.StatusSuccess || len(d.Persist) != 1 || d.Persist[0].State != lease.StateDeclined || len(d.Persist[0].ClientID) != 0 {
			t.Fatalf("%+v", d)
		}
		if d.Reply.IAs[0].IAID != 4 || d.Reply.IAs[0].Status != dhcpv6.StatusNoBinding {
			t.Errorf("IAs %+v", d.Reply.IAs)
		}
		// Neither the client nor anyone else gets it during the quarantine.
		for _, duid := range [][]byte{duidA, duidB} {
			got := bindClient(t, e, t0.Add(time.Minute), duid, na(1, a.String()))
			if got[0].Bindings[0].Addr == a {
				t.Fatalf("declined address given to %x", duid)
			}
		}
		x := e.Expire(t0.Add(time.Hour+time.Second), 100)
		var freed bool
		for _, l := range x.Persist {
			if l.Addr == a && l.State == lease.StateFree && len(l.ClientID) == 0 {
				freed = true
			}
		}
		if !freed {
			t.Fatalf("quarantine end not persisted: %+v", x.Persist)
		}
		if got := bindClient(t, e, t0.Add(2*time.Hour), []byte{5}, na(1, a.String())); got[0].Bindings[0].Addr != a {
			t.Errorf("after quarantine: %v", got[0].Bindings[0].Addr)
		}
	})
}

// RFC 8415 §18.3.6.
func TestInformationRequest(t *testing.T) {
	e := newEngine(t, testConfig())
	for _, req := range []*Request{msg(dhcpv6.InformationRequest, nil), msg(dhcpv6.InformationRequest, duidA)} {
		req.ServerID, req.ServerIDOurs = nil, false
		d := e.Handle(t0, req)
		if !d.HasReply || d.Reply.Type != dhcpv6.Reply || d.Reply.Pool == nil || len(d.Reply.IAs) != 0 || len(d.Persist) != 0 {
			t.Fatalf("%+v", d)
		}
	}
	req := msg(dhcpv6.InformationRequest, duidA)
	req.ServerID, req.ServerIDOurs = []byte{1}, true
	if d := e.Handle(t0, req); !d.HasReply {
		t.Errorf("our Server ID: %+v", d)
	}
}

// RFC 8415 §18.3.11, §20.4: reconfigure keys in Replies, Reconfigure messages.
func TestReconfigureKey(t *testing.T) {
	tests := []struct {
		name    string
		rc      ReconfigureConfig
		accept  bool
		wantKey bool
	}{
		{"require accept, client accepts", ReconfigureConfig{RequireAccept: true}, true, true},
		{"require accept, client silent", ReconfigureConfig{RequireAccept: true}, false, false},
		{"accept not required", ReconfigureConfig{}, false, true},
		{"disabled", ReconfigureConfig{Disabled: true}, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.Pools[0].Reconfigure = tt.rc
			e := newEngine(t, cfg)
			sol := msg(dhcpv6.Solicit, duidA, na(1), pd(2))
			sol.ReconfAccept, sol.ReconfKey = tt.accept, key16
			ad := e.Handle(t0, sol)
			if ad.Reply.ReconfKey != nil {
				t.Error("key in Advertise")
			}
			req := msg(dhcpv6.Request, duidA, asIA(ad.Reply.IAs[0]), asIA(ad.Reply.IAs[1]))
			req.ReconfAccept, req.ReconfKey = tt.accept, key16
			d := e.Handle(t0, req)
			if got := d.Reply.ReconfKey != nil; got != tt.wantKey || d.Reply.ReconfAccept != tt.wantKey {
				t.Fatalf("key %x accept %v, want key %v", d.Reply.ReconfKey, d.Reply.ReconfAccept, tt.wantKey)
			}
			for _, l := range d.Persist {
				if l.ForceRenewNonceCapable != tt.accept {
					t.Errorf("accept flag %v", l.ForceRenewNonceCapable)
				}
				if tt.wantKey && (string(l.ReconfKey) != string(key16) || l.ReplayCounter != d.Reply.Replay || d.Reply.Replay == 0) {
					t.Errorf("record key %x replay %d, reply replay %d", l.ReconfKey, l.ReplayCounter, d.Reply.Replay)
				}
			}
			a := d.Reply.IAs[0].Bindings[0].Addr
			rd, err := e.ReconfigureClient(t0.Add(time.Minute), a)
			if !tt.wantKey {
				if !errors.Is(err, lease.ErrNotCapable) {
					t.Fatalf("ReconfigureClient err = %v, want ErrNotCapable", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if rd.Reply.Type != dhcpv6.Reconfigure || rd.Reply.ReconfMsg != dhcpv6.Renew || string(rd.Reply.ReconfKey) != string(key16) ||
				rd.Reply.Replay <= d.Reply.Replay || len(rd.Persist) != 1 || rd.Persist[0].ReplayCounter != rd.Reply.Replay ||
				rd.Reply.Lease == nil || rd.Reply.Lease.GIAddr != peerA {
				t.Fatalf("Reconfigure %+v", rd)
			}
			// A Renew without a new key keeps the old one; a Renew offered a
			// new key re-sends the client's key (stable while it has a bound
			// binding, see TestForgedRenewKeepsKey) with a larger replay value.
			ren := msg(dhcpv6.Renew, duidA, asIA(d.Reply.IAs[0]))
			rn := e.Handle(t0.Add(2*time.Minute), ren)
			if rn.Reply.ReconfKey != nil || string(rn.Persist[0].ReconfKey) != string(key16) || rn.Persist[0].ReplayCounter < rd.Reply.Replay {
				t.Errorf("renew without key: %+v", rn.Persist[0])
			}
			ren.ReconfAccept, ren.ReconfKey = tt.accept, key16b
			rn = e.Handle(t0.Add(3*time.Minute), ren)
			if string(rn.Reply.ReconfKey) != string(key16) || rn.Reply.Replay <= rd.Reply.Replay {
				t.Errorf("renew with key: %x %d", rn.Reply.ReconfKey, rn.Reply.Replay)
			}
			// The client's key is used for either binding.
			pfx := d.Reply.IAs[1].Bindings[0].Prefix.Addr()
			rp, err := e.ReconfigureClient(t0.Add(4*time.Minute), pfx)
			if err != nil || string(rp.Reply.ReconfKey) != string(key16) || rp.Reply.Replay <= rn.Reply.Replay {
				t.Errorf("reconfigure via prefix: %v %x %d", err, rp.Reply.ReconfKey, rp.Reply.Replay)
			}
		})
	}
	t.Run("errors", func(t *testing.T) {
		e := newEngine(t, testConfig())
		if _, err := e.ReconfigureClient(t0, netip.MustParseAddr("fd77::1:1")); !errors.Is(err, lease.ErrNotFound) {
			t.Errorf("no lease: %v", err)
		}
		ias := bindClient(t, e, t0, duidA, na(1))
		e.Handle(t0, msg(dhcpv6.Release, duidA, asIA(ias[0])))
		if _, err := e.ReconfigureClient(t0, ias[0].Bindings[0].Addr); !errors.Is(err, lease.ErrNotBound) {
			t.Errorf("released: %v", err)
		}
	})
}
