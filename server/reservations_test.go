package server

import (
	"context"
	"errors"
	"net/netip"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/leased/leased/api"
	"github.com/leased/leased/dhcpv4"
	"github.com/leased/leased/dhcpv6"
	"github.com/leased/leased/lease"
	"github.com/leased/leased/lease6"
	"github.com/leased/leased/store/wal"
)

// newReserving is a dual-stack Server on lo with the real engines, a WAL
// in dir and recorders instead of sockets, created from cfg/cfg6 as
// cmd/leased does (leases restored, then New).
func newReserving(t *testing.T, dir string, cfg lease.Config, cfg6 lease6.Config) (*Server, *recorder, *recorder, func()) {
	t.Helper()
	w, err := wal.Open(dir, wal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := lease.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	eng6, err := lease6.New(cfg6)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Load(func(l lease.Lease) error {
		if l.IsV6() {
			eng6.Restore(l)
		} else {
			eng.Restore(l)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	rec, rec6 := &recorder{got: make(chan recorded, 64)}, &recorder{got: make(chan recorded, 64)}
	s, err := New(Options{Interfaces: []string{"lo"}, Engine: eng, Config: &cfg, Store: w, Logger: testLogger(t),
		Registry: prometheus.NewRegistry(), MaxInFlight: 4, replies: rec,
		V6: &V6Options{Interfaces: []string{"lo"}, Engine: eng6, Config: &cfg6}, replies6: rec6})
	if err != nil {
		w.Close()
		t.Fatal(err)
	}
	rec.done, rec6.done = s.sendDone, s.sendDone6
	s.l4.startWorkers()
	s.v6.l6.startWorkers()
	stop := func() {
		s.l4.drain()
		s.v6.l6.drain()
		if err := w.Close(); err != nil {
			t.Error(err)
		}
	}
	return s, rec, rec6, stop
}

// dora4 runs DISCOVER/REQUEST for mac through the relay 127.0.0.2 and
// returns the acknowledged address.
func dora4(t *testing.T, s *Server, rec *recorder, mac [6]byte, xid uint32) netip.Addr {
	t.Helper()
	relay, server := netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("127.0.0.1")
	feed(t, s, buildMsg(t, clientMsg{typ: dhcpv4.Discover, xid: xid, mac: mac, giaddr: relay}), server)
	_, offer := rec.next(t)
	if offer.Type() != dhcpv4.Offer {
		t.Fatalf("DISCOVER of %x: got %v", mac, offer.Type())
	}
	feed(t, s, buildMsg(t, clientMsg{typ: dhcpv4.Request, xid: xid + 1, mac: mac, giaddr: relay,
		reqIP: offer.YIAddr, serverID: server}), server)
	_, ack := rec.next(t)
	if ack.Type() != dhcpv4.Ack || ack.YIAddr != offer.YIAddr {
		t.Fatalf("REQUEST of %x for %v: got %v %v", mac, offer.YIAddr, ack.Type(), ack.YIAddr)
	}
	return ack.YIAddr
}

func withConfigured(cfg lease.Config) lease.Config {
	cfg.Pools[0].Reservations = []lease.Reservation{{HWAddr: []byte{2, 0, 0, 0, 0, 0x99}, Addr: netip.MustParseAddr("127.0.0.9"), Hostname: "printer"}}
	return cfg
}

// TestRuntimeReservations4: a reservation added at run time is handed out
// at once, conflicts are refused with lease.ErrConflict, a configured
// reservation cannot be deleted (api.ErrConfigured), the runtime one
// survives a reload and a restart (store blob), and deleting it leaves
// the client's lease alone.
func TestRuntimeReservations4(t *testing.T) {
	dir := t.TempDir()
	cfg := withConfigured(loopConfig())
	s, rec, _, stop := newReserving(t, dir, cfg, v6Config())
	ctx := context.Background()
	reserved := netip.MustParseAddr("127.0.0.20") // outside the section: reservations need none
	mac := [6]byte{2, 0, 0, 0, 0, 1}

	// A client bound dynamically holds an address another client cannot
	// have reserved.
	other := dora4(t, s, rec, [6]byte{2, 0, 0, 0, 0, 2}, 0x100)

	add := func(r api.Reservation) (api.Reservation, error) { return s.AddReservation(ctx, r) }
	got, err := add(api.Reservation{Address: reserved, HWAddr: "02:00:00:00:00:01", Hostname: "desk-1",
		Options: []api.ReservationOption{{Code: 252, Hex: "68:74:74:70"}}})
	if err != nil {
		t.Fatal(err)
	}
	if got.Pool != "loop" || got.Source != api.SourceRuntime || got.Family != 4 || got.Added.IsZero() {
		t.Errorf("added %+v, want pool loop, source runtime, family 4, a time", got)
	}
	for _, c := range []struct {
		name string
		r    api.Reservation
	}{
		{"outside every pool", api.Reservation{Address: netip.MustParseAddr("10.9.9.9"), HWAddr: "02:00:00:00:00:03"}},
		{"address reserved for another client (runtime)", api.Reservation{Address: reserved, HWAddr: "02:00:00:00:00:03"}},
		{"address reserved in the file", api.Reservation{Address: netip.MustParseAddr("127.0.0.9"), HWAddr: "02:00:00:00:00:03"}},
		{"duplicate client", api.Reservation{Address: netip.MustParseAddr("127.0.0.21"), HWAddr: "02:00:00:00:00:01"}},
		{"in use by another client's lease", api.Reservation{Address: other, HWAddr: "02:00:00:00:00:03"}},
		{"broadcast address", api.Reservation{Address: netip.MustParseAddr("127.0.0.255"), HWAddr: "02:00:00:00:00:03"}},
	} {
		if _, err := add(c.r); !errors.Is(err, lease.ErrConflict) {
			t.Errorf("%s: err %v, want lease.ErrConflict", c.name, err)
		}
	}
	if _, err := add(api.Reservation{Address: reserved}); !errors.Is(err, api.ErrBadRequest) {
		t.Errorf("no client: err %v, want api.ErrBadRequest", err)
	}
	// The reserving client gets its address, host name and option
	// without a restart.
	feed(t, s, buildMsg(t, clientMsg{typ: dhcpv4.Discover, xid: 0x1ff, mac: mac, giaddr: netip.MustParseAddr("127.0.0.2")}), netip.MustParseAddr("127.0.0.1"))
	_, offer := rec.next(t)
	h, _ := offer.Option(dhcpv4.OptionCode(12))
	o252, _ := offer.Option(dhcpv4.OptionCode(252))
	if offer.YIAddr != reserved || string(h) != "desk-1" || string(o252) != "http" {
		t.Fatalf("OFFER %v host name %q option 252 %q, want %v desk-1 http", offer.YIAddr, h, o252, reserved)
	}
	if a := dora4(t, s, rec, mac, 0x200); a != reserved {
		t.Fatalf("reserved client got %v, want %v", a, reserved)
	}
	if _, err := s.DeleteReservation(ctx, "127.0.0.9"); !errors.Is(err, api.ErrConfigured) {
		t.Errorf("delete a configured reservation: %v, want api.ErrConfigured", err)
	}
	if _, err := s.DeleteReservation(ctx, "127.0.0.30"); !errors.Is(err, lease.ErrNotFound) {
		t.Errorf("delete nothing: %v, want lease.ErrNotFound", err)
	}

	// A reload of the file keeps the runtime reservation in force.
	if err := s.Reload(withConfigured(loopConfig())); err != nil {
		t.Fatal(err)
	}
	mac2 := [6]byte{2, 0, 0, 0, 0, 4}
	r2 := netip.MustParseAddr("127.0.0.22")
	if _, err := add(api.Reservation{Address: r2, HWAddr: "02:00:00:00:00:04"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Reload(withConfigured(loopConfig())); err != nil {
		t.Fatal(err)
	}
	if a := dora4(t, s, rec, mac2, 0x300); a != r2 {
		t.Fatalf("after reload the reserved client got %v, want %v", a, r2)
	}
	list := s.Reservations()
	if len(list) != 3 || list[0].Source != api.SourceConfig || list[0].Address != netip.MustParseAddr("127.0.0.9") ||
		list[1].Address != reserved || list[2].Address != r2 || list[2].Source != api.SourceRuntime || list[2].Pool != "loop" {
		t.Fatalf("listed %+v, want the configured one then the two runtime ones", list)
	}

	// Deleting the runtime reservation leaves the client's lease bound.
	if _, err := s.DeleteReservation(ctx, reserved.String()); err != nil {
		t.Fatal(err)
	}
	if l, ok := s.Lookup(reserved); !ok || l.State != lease.StateBound {
		t.Errorf("after delete the lease of %v is %+v, want still bound", reserved, l)
	}
	stop()

	// Restart: the remaining runtime reservation is back and in force;
	// the deleted one stays deleted.
	s, rec, _, stop = newReserving(t, dir, withConfigured(loopConfig()), v6Config())
	defer stop()
	list = s.Reservations()
	if len(list) != 2 || list[1].Address != r2 || list[1].Source != api.SourceRuntime || list[1].Problem != "" {
		t.Fatalf("after restart listed %+v, want the configured one and %v", list, r2)
	}
	if _, err := s.AddReservation(ctx, api.Reservation{Address: netip.MustParseAddr("127.0.0.23"), HWAddr: "02:00:00:00:00:05"}); err != nil {
		t.Fatal(err)
	}
	if a := dora4(t, s, rec, [6]byte{2, 0, 0, 0, 0, 5}, 0x400); a != netip.MustParseAddr("127.0.0.23") {
		t.Fatalf("after restart the reserved client got %v", a)
	}

	// A reload whose file reserves the address for another client puts
	// the runtime one out of force (kept, listed with the reason).
	c := withConfigured(loopConfig())
	c.Pools[0].Reservations = append(c.Pools[0].Reservations, lease.Reservation{HWAddr: []byte{2, 0, 0, 0, 0, 0x77}, Addr: r2})
	if err := s.Reload(c); err != nil {
		t.Fatal(err)
	}
	for _, r := range s.Reservations() {
		if r.Source == api.SourceRuntime && r.Address == r2 && r.Problem == "" {
			t.Errorf("runtime %v listed in force although the file now reserves it: %+v", r2, r)
		}
	}
}

// TestRuntimeReservations6: a DHCPv6 reservation (DUID → address and
// prefix) added at run time is advertised at once and survives a restart;
// a prefix of the wrong length or outside the delegation prefix conflicts.
func TestRuntimeReservations6(t *testing.T) {
	dir := t.TempDir()
	s, _, rec6, stop := newReserving(t, dir, loopConfig(), v6Config())
	ctx := context.Background()
	duid := []byte{0, 3, 0, 1, 2, 0, 0, 0, 0, 7}
	addr, pfx := netip.MustParseAddr("fd77::99"), netip.MustParsePrefix("fd77:100:ab::/56")
	r := api.Reservation{Address: addr, Prefix: pfx.String(), DUID: "00:03:00:01:02:00:00:00:00:07"}
	if got, err := s.AddReservation(ctx, r); err != nil || got.Pool != "office6" || got.Family != 6 {
		t.Fatalf("add: %+v, %v", got, err)
	}
	for _, c := range []struct {
		name string
		r    api.Reservation
	}{
		{"prefix length", api.Reservation{Prefix: "fd77:100:ac::/60", DUID: "00:03:00:01:02:00:00:00:00:08"}},
		{"prefix outside", api.Reservation{Prefix: "fd78::/56", DUID: "00:03:00:01:02:00:00:00:00:08"}},
		{"address taken", api.Reservation{Address: addr, DUID: "00:03:00:01:02:00:00:00:00:08"}},
		{"duplicate DUID", api.Reservation{Address: netip.MustParseAddr("fd77::98"), DUID: r.DUID}},
	} {
		if _, err := s.AddReservation(ctx, c.r); !errors.Is(err, lease.ErrConflict) {
			t.Errorf("%s: err %v, want lease.ErrConflict", c.name, err)
		}
	}
	solicit := func(s *Server, rec *recorder) {
		t.Helper()
		relay := &relay6{t: t}
		c := &client6{duid: duid}
		feed6(t, s, relay.wrap(c.msg(t, dhcpv6.Solicit, 0x10, true)), netip.MustParseAddrPort("[::1]:5470"))
		_, adv := rec.next6(t)
		a, _, p, _ := bindings(t, adv)
		if a != addr || p != pfx {
			t.Fatalf("advertised %v and %v, want the reserved %v and %v", a, p, addr, pfx)
		}
	}
	solicit(s, rec6)
	stop()
	s, _, rec6, stop = newReserving(t, dir, loopConfig(), v6Config())
	defer stop()
	solicit(s, rec6)
	if _, err := s.DeleteReservation(ctx, pfx.String()); err != nil {
		t.Fatal(err)
	}
	if len(s.Reservations()) != 0 {
		t.Errorf("after delete: %+v", s.Reservations())
	}
}
