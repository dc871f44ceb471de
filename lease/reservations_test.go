package lease

import (
	"errors"
	"testing"
	"time"

	"github.com/leased/leased/dhcpv4"
)

// TestWithReservations: runtime reservations are placed in the pool whose
// subnet holds them without touching the configuration they are merged
// into; each refusal wraps ErrConflict.
func TestWithReservations(t *testing.T) {
	cfg := lanConfig()
	cfg.Pools[0].Reservations = []Reservation{{HWAddr: mac(9), Addr: ip("10.0.0.9")}}
	extra := []Reservation{
		{HWAddr: mac(1), Addr: ip("10.0.0.50")},         // placed
		{HWAddr: mac(2), Addr: ip("10.9.0.1")},          // outside every pool
		{HWAddr: mac(3), Addr: ip("10.0.0.9")},          // reserved in the file
		{HWAddr: mac(1), Addr: ip("10.0.0.51")},         // client already reserved (the first one)
		{HWAddr: mac(4), Addr: ip("10.0.0.255")},        // broadcast
		{HWAddr: mac(5), Addr: srv},                     // the gateway
		{ClientID: []byte{1, 2}, Addr: ip("10.0.0.50")}, // address taken by the first one
	}
	got, errs := cfg.WithReservations(extra)
	for i, err := range errs {
		if (i == 0) != (err == nil) || err != nil && !errors.Is(err, ErrConflict) {
			t.Errorf("extra[%d] %v: err %v", i, extra[i].Addr, err)
		}
	}
	if n := len(cfg.Pools[0].Reservations); n != 1 {
		t.Errorf("the merged-into configuration changed: %d reservations", n)
	}
	if rs := got.Pools[0].Reservations; len(rs) != 2 || rs[1].Addr != ip("10.0.0.50") {
		t.Errorf("merged reservations %+v", rs)
	}
	if _, err := New(got); err != nil {
		t.Fatalf("the engine refuses the merged configuration: %v", err)
	}
}

// TestPoolsReserved: a reservation inside a section is part of the pool's
// size and counts as Reserved until its client holds it; one outside
// every section is not counted.
func TestPoolsReserved(t *testing.T) {
	cfg := lanConfig()
	cfg.Pools[0].Reservations = []Reservation{
		{HWAddr: mac(1), Addr: ip("10.0.0.15")}, // in section 0
		{HWAddr: mac(2), Addr: ip("10.0.0.40")}, // outside the sections
	}
	e := newEngine(t, cfg)
	now := time.Unix(1_700_000_000, 0)
	st := e.Pools(now)[0]
	if st.Size != 20 || st.Reserved != 1 || st.Bound != 0 {
		t.Fatalf("size %d reserved %d bound %d, want 20, 1, 0", st.Size, st.Reserved, st.Bound)
	}
	for _, s := range st.Sections {
		if s.Size != 10 {
			t.Errorf("section %d size %d, want 10 (the reservation is part of it)", s.Index, s.Size)
		}
	}
	if a := dora(t, e, now, discover(mac(1))); a != ip("10.0.0.15") {
		t.Fatalf("reserved client got %v", a)
	}
	st = e.Pools(now)[0]
	if st.Reserved != 0 || st.Bound != 1 {
		t.Errorf("after binding: reserved %d bound %d, want 0, 1", st.Reserved, st.Bound)
	}
	// Past its expiry the address is set aside again.
	st = e.Pools(now.Add(2 * time.Hour))[0]
	if st.Reserved != 1 || st.Bound != 0 {
		t.Errorf("after expiry: reserved %d bound %d, want 1, 0", st.Reserved, st.Bound)
	}
}

// TestReservedFlag: the record of a binding made from the client's own
// reservation carries Lease.Reserved (the cluster store accepts it
// outside the server's claims); any other binding does not.
func TestReservedFlag(t *testing.T) {
	cfg := lanConfig()
	cfg.Pools[0].Reservations = []Reservation{
		{HWAddr: mac(7), Addr: ip("10.0.0.15")},
		{HWAddr: mac(8), Addr: ip("10.0.0.200")}, // outside the sections
	}
	e := newEngine(t, cfg)
	a := e.Handle(t0, selecting(mac(7), ip("10.0.0.15")))
	wantReply(t, a, dhcpv4.Ack, ip("10.0.0.15"))
	if len(a.Persist) != 1 || !a.Persist[0].Reserved || !a.Reply.Lease.Reserved {
		t.Errorf("reserved binding: Persist %+v", a.Persist)
	}
	// Renewal of the reserved binding: still from the reservation.
	a = e.Handle(t0.Add(time.Minute), renew(mac(7), ip("10.0.0.15"), true))
	wantReply(t, a, dhcpv4.Ack, ip("10.0.0.15"))
	if !a.Persist[0].Reserved {
		t.Errorf("renewal of a reserved binding: Persist %+v", a.Persist)
	}
	// A client without a reservation.
	other := dora(t, e, t0, discover(mac(9)))
	if other == ip("10.0.0.15") || other == ip("10.0.0.200") {
		t.Fatalf("client 9 got the reserved %v", other)
	}
	a = e.Handle(t0, renew(mac(9), other, true))
	wantReply(t, a, dhcpv4.Ack, other)
	if a.Persist[0].Reserved {
		t.Errorf("binding without a reservation flagged: %+v", a.Persist[0])
	}
	// A reservation outside every section.
	a = e.Handle(t0, selecting(mac(8), ip("10.0.0.200")))
	wantReply(t, a, dhcpv4.Ack, ip("10.0.0.200"))
	if !a.Persist[0].Reserved || a.Persist[0].Section != -1 {
		t.Errorf("reservation outside the sections: %+v", a.Persist[0])
	}
}
