package lease6

import (
	"bytes"
	"fmt"
	"net/netip"
	"slices"

	"github.com/leased/leased/lease"
)

// WithReservations returns a copy of c in which every reservation of
// extra is appended to the pool that holds it: the pool whose subnet
// contains its address, or, for a prefix-only reservation, whose
// prefix-delegation pool contains its prefix. c itself is not changed.
//
// errs[i] is nil when extra[i] was placed, else why not (wrapping
// lease.ErrConflict): its address or prefix is in no pool (or address and
// prefix are in different pools), its prefix is not of the pool's
// delegated length, either is already reserved in the pool, or its DUID
// already has a reservation there. A reservation that does not fit is left
// out; earlier ones win over later ones.
func (c Config) WithReservations(extra []Reservation) (Config, []error) {
	errs := make([]error, len(extra))
	if len(extra) == 0 {
		return c, errs
	}
	c.Pools = slices.Clone(c.Pools)
	owned := make([]bool, len(c.Pools))
	for i := range extra {
		r := &extra[i]
		pi, err := reservationPool(c.Pools, r)
		if err == nil {
			err = reservationFits(&c.Pools[pi], r)
		}
		if err != nil {
			errs[i] = err
			continue
		}
		p := &c.Pools[pi]
		if !owned[pi] {
			p.Reservations = slices.Clip(slices.Clone(p.Reservations))
			owned[pi] = true
		}
		p.Reservations = append(p.Reservations, *r)
	}
	return c, errs
}

// reservationPool finds the index of the pool r belongs in.
func reservationPool(pools []Pool, r *Reservation) (int, error) {
	if len(r.DUID) == 0 {
		return -1, fmt.Errorf("%w: the reservation names no DUID", lease.ErrConflict)
	}
	if !r.Addr.IsValid() && !r.Prefix.IsValid() {
		return -1, fmt.Errorf("%w: the reservation has neither address nor prefix", lease.ErrConflict)
	}
	ai, pi := -1, -1
	if r.Addr.IsValid() {
		ai = slices.IndexFunc(pools, func(p Pool) bool { return p.Subnet.Contains(r.Addr) })
		if ai < 0 {
			return -1, fmt.Errorf("%w: %s is outside every pool's subnet", lease.ErrConflict, r.Addr)
		}
	}
	if r.Prefix.IsValid() {
		pi = slices.IndexFunc(pools, func(p Pool) bool {
			return p.PD != nil && r.Prefix.Bits() >= p.PD.Prefix.Bits() && p.PD.Prefix.Contains(r.Prefix.Addr())
		})
		if pi < 0 {
			return -1, fmt.Errorf("%w: %s is outside every pool's prefix_delegation prefix", lease.ErrConflict, r.Prefix)
		}
	}
	switch {
	case ai >= 0 && pi >= 0 && ai != pi:
		return -1, fmt.Errorf("%w: %s is in pool %s but %s in pool %s; reserve them separately", lease.ErrConflict,
			r.Addr, pools[ai].Name, r.Prefix, pools[pi].Name)
	case ai >= 0:
		return ai, nil
	}
	return pi, nil
}

// reservationFits checks r against pool p's delegation length and
// reservations.
func reservationFits(p *Pool, r *Reservation) error {
	if r.Prefix.IsValid() {
		if r.Prefix.Masked() != r.Prefix {
			return fmt.Errorf("%w: %s has host bits set (want %s)", lease.ErrConflict, r.Prefix, r.Prefix.Masked())
		}
		if r.Prefix.Bits() != p.PD.Length {
			return fmt.Errorf("%w: %s is a /%d; pool %s delegates /%d prefixes", lease.ErrConflict, r.Prefix, r.Prefix.Bits(), p.Name, p.PD.Length)
		}
	}
	for j := range p.Reservations {
		o := &p.Reservations[j]
		switch {
		case r.Addr.IsValid() && o.Addr == r.Addr:
			return fmt.Errorf("%w: %s is already reserved in pool %s for DUID %s", lease.ErrConflict, r.Addr, p.Name, hexColon(o.DUID))
		case r.Prefix.IsValid() && o.Prefix.IsValid() && o.Prefix.Overlaps(r.Prefix):
			return fmt.Errorf("%w: %s is already reserved in pool %s for DUID %s (%s)", lease.ErrConflict, r.Prefix, p.Name, hexColon(o.DUID), o.Prefix)
		case bytes.Equal(o.DUID, r.DUID):
			return fmt.Errorf("%w: DUID %s already has a reservation in pool %s (%s)", lease.ErrConflict, hexColon(r.DUID), p.Name, o.Target())
		}
	}
	return nil
}

// Target is the reservation's address, prefix, or both, for messages.
func (r *Reservation) Target() string {
	switch {
	case r.Addr.IsValid() && r.Prefix.IsValid():
		return r.Addr.String() + " and " + r.Prefix.String()
	case r.Addr.IsValid():
		return r.Addr.String()
	}
	return r.Prefix.String()
}

// Holds reports whether the reservation covers the address a (its
// address, or the first address of its prefix with length plen).
func (r *Reservation) Holds(a netip.Addr, plen int) bool {
	if plen == 0 {
		return r.Addr.IsValid() && r.Addr == a
	}
	return r.Prefix.IsValid() && r.Prefix.Masked().Addr() == a && r.Prefix.Bits() == plen
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
