package lease

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"slices"
)

// ErrConflict is returned (wrapped) when a reservation cannot be placed:
// its address is outside every pool, already reserved for another client,
// or its client already has a reservation in that pool. The control API
// answers 409.
var ErrConflict = errors.New("reservation conflict")

// WithReservations returns a copy of c in which every reservation of
// extra is appended to the pool whose subnet contains its address (the
// runtime reservations an operator added through the control API, merged
// with the configured ones at every load). c itself is not changed: the
// pools that receive one get their own Reservations slice.
//
// errs[i] is nil when extra[i] was placed, else why not (wrapping
// ErrConflict): its address is in no pool, or is the pool's network,
// broadcast or router address, or is already reserved in the pool, or its
// client (client identifier, hardware address) already has a reservation
// there. A reservation that does not fit is left out; the others are
// placed in order, so an earlier one wins over a later one.
func (c Config) WithReservations(extra []Reservation) (Config, []error) {
	errs := make([]error, len(extra))
	if len(extra) == 0 {
		return c, errs
	}
	c.Pools = slices.Clone(c.Pools)
	owned := make([]bool, len(c.Pools)) // Reservations already cloned
	for i := range extra {
		r := &extra[i]
		pi := slices.IndexFunc(c.Pools, func(p Pool) bool { return p.Subnet.Contains(r.Addr) })
		if pi < 0 {
			errs[i] = fmt.Errorf("%w: %s is outside every pool's subnet", ErrConflict, r.Addr)
			continue
		}
		p := &c.Pools[pi]
		if err := reservationFits(p, r); err != nil {
			errs[i] = err
			continue
		}
		if !owned[pi] {
			p.Reservations = slices.Clip(slices.Clone(p.Reservations))
			owned[pi] = true
		}
		p.Reservations = append(p.Reservations, *r)
	}
	return c, errs
}

// reservationFits checks r against pool p's addresses and reservations.
func reservationFits(p *Pool, r *Reservation) error {
	sub := p.Subnet
	if !r.Addr.Is4() {
		return fmt.Errorf("%w: %s is not an IPv4 address", ErrConflict, r.Addr)
	}
	if len(r.HWAddr) == 0 && len(r.ClientID) == 0 && len(r.CircuitID) == 0 && len(r.RemoteID) == 0 {
		return fmt.Errorf("%w: reservation of %s names no client", ErrConflict, r.Addr)
	}
	if sub.Bits() < 31 && (r.Addr == sub.Masked().Addr() || r.Addr == lastAddr(sub)) {
		return fmt.Errorf("%w: %s is the network or broadcast address of pool %s (%s)", ErrConflict, r.Addr, p.Name, sub)
	}
	if r.Addr == p.Gateway || slices.Contains(p.Routers, r.Addr) {
		return fmt.Errorf("%w: %s is a router of pool %s", ErrConflict, r.Addr, p.Name)
	}
	for j := range p.Reservations {
		o := &p.Reservations[j]
		switch {
		case o.Addr == r.Addr:
			return fmt.Errorf("%w: %s is already reserved in pool %s for %s", ErrConflict, r.Addr, p.Name, o.Client())
		case len(r.ClientID) > 0 && bytes.Equal(o.ClientID, r.ClientID):
			return fmt.Errorf("%w: client %s already has a reservation in pool %s (%s)", ErrConflict, r.Client(), p.Name, o.Addr)
		case len(r.HWAddr) > 0 && bytes.Equal(o.HWAddr, r.HWAddr):
			return fmt.Errorf("%w: client %s already has a reservation in pool %s (%s)", ErrConflict, r.Client(), p.Name, o.Addr)
		case len(r.CircuitID) > 0 && bytes.Equal(o.CircuitID, r.CircuitID):
			return fmt.Errorf("%w: circuit-id %q already has a reservation in pool %s (%s)", ErrConflict, r.CircuitID, p.Name, o.Addr)
		case len(r.RemoteID) > 0 && bytes.Equal(o.RemoteID, r.RemoteID):
			return fmt.Errorf("%w: remote-id %q already has a reservation in pool %s (%s)", ErrConflict, r.RemoteID, p.Name, o.Addr)
		}
	}
	return nil
}

// Client names the client a reservation matches, for messages: its
// client identifier, hardware address, circuit-id or remote-id.
func (r *Reservation) Client() string {
	switch {
	case len(r.ClientID) > 0:
		return "client-id " + hexColon(r.ClientID)
	case len(r.HWAddr) > 0:
		return "hwaddr " + hexColon(r.HWAddr)
	case len(r.CircuitID) > 0:
		return fmt.Sprintf("circuit-id %q", r.CircuitID)
	default:
		return fmt.Sprintf("remote-id %q", r.RemoteID)
	}
}

// Matches reports whether the lease l belongs to the client r reserves
// for (by client identifier or hardware address; a circuit-id or
// remote-id reservation matches a lease whose option 82 carries it).
func (r *Reservation) Matches(l *Lease) bool {
	switch {
	case len(r.ClientID) > 0 && bytes.Equal(r.ClientID, l.ClientID):
		return true
	case len(r.HWAddr) > 0 && bytes.Equal(r.HWAddr, l.HWAddr):
		return true
	case len(r.CircuitID) > 0:
		v, ok := relaySub(l.RelayInfo, 1)
		return ok && bytes.Equal(v, r.CircuitID)
	case len(r.RemoteID) > 0:
		v, ok := relaySub(l.RelayInfo, 2)
		return ok && bytes.Equal(v, r.RemoteID)
	}
	return false
}

func hexColon(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 3*len(b))
	for i, c := range b {
		if i > 0 {
			out = append(out, ':')
		}
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

// lastAddr is the highest address of an IPv4 prefix (its broadcast).
func lastAddr(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr().As4()
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	v |= 1<<(32-p.Bits()) - 1
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}
