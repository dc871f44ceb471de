package config

import (
	"fmt"
	"slices"
	"time"

	"github.com/leased/leased/dhcpv6"
	"github.com/leased/leased/lease6"
	"github.com/leased/leased/reconf"
)

// Lease6 converts the validated dhcpv6 section into the DHCPv6 engine's
// configuration, with every pool's lifetimes resolved (its own, else the
// service's; T1/T2 left 0 mean 0.5 and 0.8 of the preferred lifetime) and
// require_reconfigure_accept defaulted to true. It returns the zero Config
// when the file has no dhcpv6 section.
func (c *Config) Lease6() lease6.Config {
	v6 := c.DHCPv6
	if v6 == nil {
		return lease6.Config{}
	}
	out := lease6.Config{
		Preferred:         v6.PreferredLifetime.D(),
		Valid:             v6.ValidLifetime.D(),
		T1:                v6.T1.D(),
		T2:                v6.T2.D(),
		OfferHold:         v6.OfferHold.D(),
		DeclineQuarantine: v6.DeclineQuarantine.D(),
		DNS:               slices.Clone(v6.DNS),
		DomainSearch:      trimDots(v6.DomainSearch),
		NTP:               slices.Clone(v6.NTP),
		RawOptions:        rawOptions6(v6.Options),
		Pools:             make([]lease6.Pool, 0, len(v6.Pools)),
		Classes:           c.classes6(),
	}
	for i := range v6.Pools {
		p := &v6.Pools[i]
		lt := c.resolve6(p, poolField6(i))
		lp := lease6.Pool{
			Name:          p.Name,
			Subnet:        p.Subnet,
			Links:         slices.Clone(p.Links),
			Interface:     p.Interface,
			SharedNetwork: p.SharedNetwork,
			Allow:         slices.Clone(p.Allow),
			Deny:          slices.Clone(p.Deny),
			DNS:           slices.Clone(p.DNS),
			DomainSearch:  trimDots(p.DomainSearch),
			NTP:           slices.Clone(p.NTP),
			Preferred:     lt.pref.D(),
			Valid:         lt.valid.D(),
			T1:            lt.t1.D(),
			T2:            lt.t2.D(),
			RapidCommit:   v6.RapidCommit,
			Preference:    uint8(p.Preference),
			Reconfigure: lease6.ReconfigureConfig{
				RequireAccept: p.Reconfigure.RequireReconfigureAccept == nil || *p.Reconfigure.RequireReconfigureAccept,
				Disabled:      p.Reconfigure.Disabled,
				Strict:        p.Reconfigure.Strict,
			},
		}
		if p.RapidCommit != nil {
			lp.RapidCommit = *p.RapidCommit
		}
		if id := p.interfaceID(); len(id) > 0 {
			lp.InterfaceID = id
		}
		for _, r := range p.Ranges {
			lp.Ranges = append(lp.Ranges, lease6.Range{Start: r.Start, End: r.End})
		}
		if pd := p.PrefixDelegation; pd != nil {
			lp.PD = &lease6.PrefixPool{Prefix: pd.Prefix, Length: pd.Length, MaxLength: pd.maxLength()}
		}
		lp.RawOptions = rawOptions6(p.Options)
		for _, r := range p.Reservations {
			lp.Reservations = append(lp.Reservations, lease6.Reservation{
				DUID:         slices.Clone([]byte(r.DUID)),
				Addr:         r.Address,
				Prefix:       r.Prefix,
				Hostname:     r.Hostname,
				DNS:          slices.Clone(r.DNS),
				DomainSearch: trimDots(r.DomainSearch),
				NTP:          slices.Clone(r.NTP),
				RawOptions:   rawOptions6(r.Options),
			})
		}
		out.Pools = append(out.Pools, lp)
	}
	// Pools carry the global options they inherit, so that a reload that
	// changes a global option changes the pools (reconfigure.on_change).
	lease6.Inherit(&out)
	return out
}

// interfaceID is the pool's Interface-ID (interface_id or
// interface_id_hex), nil when none.
func (p *Pool6) interfaceID() []byte {
	if p.InterfaceID != "" {
		return []byte(p.InterfaceID)
	}
	return slices.Clone([]byte(p.InterfaceIDHex))
}

func rawOptions6(opts []Option6) []lease6.RawOption {
	var out []lease6.RawOption
	for j := range opts {
		o := &opts[j]
		out = append(out, lease6.RawOption{Code: uint16(o.Code), Data: o.data()})
	}
	return out
}

// maxLength is the effective max_length: 64 by default, never shorter
// than length.
func (pd *PrefixDelegation) maxLength() int {
	if pd.MaxLength != 0 {
		return max(pd.MaxLength, pd.Length)
	}
	return max(64, pd.Length)
}

func poolField6(i int) string { return fmt.Sprintf("dhcpv6.pools[%d]", i) }

// CampaignOverride is the pool's reconfigure campaign defaults as the
// campaign engine's per-pool override (fields left unset stay nil): the
// dhcpv6 counterpart of dhcpv4.pools[].forcerenew's attempts, interval,
// pace, on_failure and force_nak, plus message (Override.ReconfMsg).
// Unset attempts and interval stay nil, so the campaign's values apply,
// and where those are zero reconf's DHCPv6 defaults (DefaultAttempts6,
// DefaultInterval6).
func (p *Pool6) CampaignOverride() reconf.Override {
	r := &p.Reconfigure
	var ov reconf.Override
	if r.Attempts > 0 {
		v := r.Attempts
		ov.Attempts = &v
	}
	if r.Interval > 0 {
		v := time.Duration(r.Interval)
		ov.Interval = &v
	}
	if r.Pace != nil {
		v := *r.Pace
		ov.Pace = &v
	}
	if r.OnFailure != "" {
		if v, err := reconf.ParseOnFailure(r.OnFailure); err == nil { // validated by Parse
			ov.OnFailure = &v
		}
	}
	if r.Force != nil {
		v := *r.Force
		ov.ForceNAK = &v
	}
	if r.Message != "" {
		if v, err := reconf.ParseReconfMsg(r.Message); err == nil { // validated by Parse
			ov.ReconfMsg = &v
		}
	}
	return ov
}

// MessageType is the Reconfigure Message option (19) value the pool's
// Reconfigure messages carry: dhcpv6.Renew (default), dhcpv6.Rebind or
// dhcpv6.InformationRequest.
func (r *Reconfigure6) MessageType() dhcpv6.MessageType {
	switch r.Message {
	case "rebind":
		return dhcpv6.Rebind
	case "information-request":
		return dhcpv6.InformationRequest
	}
	return dhcpv6.Renew
}
