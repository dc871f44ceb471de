package server

import (
	"context"
	"reflect"
	"slices"
	"time"

	"github.com/leased/leased/lease"
	"github.com/leased/leased/lease6"
	"github.com/leased/leased/reconf"
)

// poolOptionsEqual6 reports whether two versions of a DHCPv6 pool give
// their clients the same configuration: DNS (23), domain search (24), NTP
// (56), raw options, the effective lifetimes and T1/T2 (a pool's own or
// its configuration's default), rapid commit and preference.
func poolOptionsEqual6(oc *lease6.Config, a *lease6.Pool, nc *lease6.Config, b *lease6.Pool) bool {
	eff := func(p, def time.Duration) time.Duration {
		if p != 0 {
			return p
		}
		return def
	}
	return reflect.DeepEqual(a.DNS, b.DNS) && reflect.DeepEqual(a.DomainSearch, b.DomainSearch) &&
		reflect.DeepEqual(a.NTP, b.NTP) && reflect.DeepEqual(a.RawOptions, b.RawOptions) &&
		eff(a.Preferred, oc.Preferred) == eff(b.Preferred, nc.Preferred) &&
		eff(a.Valid, oc.Valid) == eff(b.Valid, nc.Valid) &&
		eff(a.T1, oc.T1) == eff(b.T1, nc.T1) && eff(a.T2, oc.T2) == eff(b.T2, nc.T2) &&
		a.RapidCommit == b.RapidCommit && a.Preference == b.Preference
}

// inRanges6 reports whether the binding l still lies in p: an address in
// one of its ranges or reserved, a delegated prefix of the delegation
// pool's length inside its prefix or reserved.
func inRanges6(p *lease6.Pool, l *lease.Lease) bool {
	if pfx := l.Prefix(); pfx.IsValid() {
		for _, r := range p.Reservations {
			if r.Prefix == pfx {
				return true
			}
		}
		return p.PD != nil && pfx.Bits() == p.PD.Length && p.PD.Prefix.Contains(pfx.Addr())
	}
	for _, r := range p.Reservations {
		if r.Addr == l.Addr {
			return true
		}
	}
	for _, r := range p.Ranges {
		if l.Addr.Compare(r.Start) >= 0 && l.Addr.Compare(r.End) <= 0 {
			return true
		}
	}
	return false
}

// reloadTrigger6 is reloadTrigger for DHCPv6 pools (reconfigure.on_change):
// for each pool with OnChange whose options or lifetimes changed between
// old and cfg, a Reconfigure campaign over its bound bindings (IA_NA and
// IA_PD) with the pool's campaign defaults; when only its ranges,
// delegation prefix or reservations changed, over the bindings no longer
// in them (the engine answers their Renew with lifetime 0, RFC 8415
// §18.3.4, so they solicit again).
func (s *Server) reloadTrigger6(old, cfg *lease6.Config) {
	c := &s.camp
	c.cfgM.Lock()
	pcs := c.cfg.Pools
	c.cfgM.Unlock()
	for i := range cfg.Pools {
		np := &cfg.Pools[i]
		pc, ok := pcs[np.Name]
		if !ok || !pc.OnChange {
			continue
		}
		oi := slices.IndexFunc(old.Pools, func(p lease6.Pool) bool { return p.Name == np.Name })
		if oi < 0 {
			continue
		}
		op := &old.Pools[oi]
		optsChanged := !poolOptionsEqual6(old, op, cfg, np)
		rangesChanged := !reflect.DeepEqual(op.Ranges, np.Ranges) || !reflect.DeepEqual(op.PD, np.PD) ||
			!reflect.DeepEqual(op.Reservations, np.Reservations)
		if !optsChanged && !rangesChanged {
			continue
		}
		leases := s.v6.eng.Leases(lease.Filter{Pool: np.Name, States: []lease.State{lease.StateBound}})
		why := "reload: pool options changed"
		if !optsChanged {
			why = "reload: pool ranges changed"
			leases = slices.DeleteFunc(leases, func(l lease.Lease) bool { return inRanges6(np, &l) })
		}
		if len(leases) == 0 {
			s.log.Info("reload: pool changed, no binding affected; no campaign", "pool", np.Name, "change", why)
			continue
		}
		opts := s.withPoolDefaults(reconf.DefaultOptions())
		st, err := s.start(context.Background(), reconf.Selector{Pool: np.Name, Family: 6}, opts, leases, why)
		if err != nil {
			s.log.Warn("reload: campaign for changed pool not started", "pool", np.Name, "change", why, "err", err)
			continue
		}
		s.log.Info("reload: campaign started for changed pool", "pool", np.Name, "change", why, "id", st.ID, "clients", st.Clients)
	}
}
