package config

import (
	"net/netip"
	"slices"
	"strings"

	"github.com/leased/leased/lease"
)

// Lease converts the validated configuration into the engine's
// configuration. Service-wide defaults are resolved (lease times, the
// authoritative flag); exclusion ranges are expanded into addresses.
func (c *Config) Lease() lease.Config {
	v4 := &c.DHCPv4
	out := lease.Config{
		LeaseTime:         v4.LeaseTime.D(),
		T1:                v4.T1.D(),
		T2:                v4.T2.D(),
		OfferHold:         v4.OfferHold.D(),
		DeclineQuarantine: v4.DeclineQuarantine.D(),
		Pools:             make([]lease.Pool, 0, len(v4.Pools)),
		Classes:           v4.leaseClasses(),
	}
	for i := range v4.Pools {
		p := &v4.Pools[i]
		lp := lease.Pool{
			Name:           p.Name,
			Subnet:         p.Subnet,
			Gateway:        p.Gateway,
			DNS:            slices.Clone(p.DNS),
			DomainName:     strings.TrimSuffix(p.DomainName, "."),
			DomainSearch:   trimDots(p.DomainSearch),
			NTP:            slices.Clone(p.NTP),
			MTU:            uint16(p.MTU),
			TFTPServer:     p.TFTPServer,
			BootFile:       p.BootFile,
			LeaseTime:      p.LeaseTime.D(),
			T1:             p.T1.D(),
			T2:             p.T2.D(),
			Authoritative:  v4.Authoritative,
			Relays:         slices.Clone(p.Relays),
			Routers:        slices.Clone(p.Routers),
			Allow:          slices.Clone(p.Allow),
			Deny:           slices.Clone(p.Deny),
			Boot:           p.Boot.lease(),
			BOOTP:          p.BOOTP,
			BOOTPLeaseTime: p.BOOTPLeaseTime.D(),
			SharedNetwork:  p.SharedNetwork,
		}
		if len(p.Routers) > 0 {
			lp.Gateway = p.Routers[0]
		}
		if p.Authoritative != nil {
			lp.Authoritative = *p.Authoritative
		}
		switch p.ForceRenew.Auth {
		case "token":
			lp.ForceRenew = lease.ForceRenewAuth{Mode: lease.AuthToken, Token: []byte(p.ForceRenew.Token)}
		case "none":
			lp.ForceRenew = lease.ForceRenewAuth{Mode: lease.AuthNone}
		}
		lp.ForceRenew.Strict = p.ForceRenew.Strict
		for _, r := range p.Routes {
			lp.Routes = append(lp.Routes, lease.Route{Dest: r.Dest, Gateway: r.Gateway})
		}
		// The pool's options, then the global ones it does not set.
		lp.RawOptions = leaseOptions(p.Options, poolOptionCodes(p), v4.Options)
		for _, s := range p.Sections {
			lp.Sections = append(lp.Sections, lease.Section{Index: s.Index, Start: s.Start, End: s.End,
				Allow: slices.Clone(s.Allow), Deny: slices.Clone(s.Deny)})
		}
		// Sections are handed out in index order.
		slices.SortStableFunc(lp.Sections, func(a, b lease.Section) int { return a.Index - b.Index })
		lp.Exclude = expand(p.Exclude)
		for _, r := range p.Reservations {
			lp.Reservations = append(lp.Reservations, lease.Reservation{
				HWAddr:    slices.Clone([]byte(r.HWAddr)),
				ClientID:  slices.Clone([]byte(r.ClientID)),
				Addr:      r.Address,
				Hostname:  r.Hostname,
				CircuitID: slices.Clone([]byte(r.CircuitID)),
				RemoteID:  slices.Clone([]byte(r.RemoteID)),
				Options:   leaseOptions(r.Options, nil),
				Boot:      r.Boot.lease(),
				Classes:   slices.Clone(r.ClientClasses),
			})
		}
		out.Pools = append(out.Pools, lp)
	}
	return out
}

// expand lists every address of the ranges, sorted, without duplicates.
func expand(rs []AddrRange) []netip.Addr {
	var out []netip.Addr
	for _, r := range rs {
		if !r.From.Is4() || !r.To.Is4() || r.From.Compare(r.To) > 0 {
			continue
		}
		for v, end := addrUint(r.From), addrUint(r.To); ; v++ {
			out = append(out, uintAddr(v))
			if v == end {
				break
			}
		}
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return slices.Compact(out)
}

// trimDots drops the optional final dot of each domain name.
func trimDots(names []string) []string {
	if names == nil {
		return nil
	}
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = strings.TrimSuffix(n, ".")
	}
	return out
}
