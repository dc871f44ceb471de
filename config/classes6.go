package config

import (
	"fmt"
	"net/netip"
	"regexp"
	"slices"

	"github.com/leased/leased/lease"
	"github.com/leased/leased/lease6"
)

// Class6 is a DHCPv6 client class, in the shape of dhcpv4.client_classes:
// a match rule on what the client or its relays send, and the options its
// members get. Pools' allow and deny lists name classes.
type Class6 struct {
	// Name identifies the class in pools' allow and deny lists. Required,
	// unique; "known" and "unknown" are built in (the client has a
	// reservation in the pool, or not) and cannot be defined.
	Name string `yaml:"name"`
	// Match is the rule: every condition given must hold. Required, at
	// least one condition.
	Match ClassMatch6 `yaml:"match"`
	// DNS replaces the pool's dns for members (the first member class in
	// file order that sets it wins; a reservation's beats it).
	DNS []netip.Addr `yaml:"dns"`
	// DomainSearch replaces the pool's domain_search for members.
	DomainSearch []string `yaml:"domain_search"`
	// NTP replaces the pool's ntp for members.
	NTP []netip.Addr `yaml:"ntp"`
	// Options are sent to members verbatim, replacing the pool's and
	// global ones of the same code.
	Options []Option6 `yaml:"options"`
}

// ClassMatch6 is a DHCPv6 class's rule; each condition is a StringMatch
// (exact, prefix, substring or regex; text, or hex bytes written 0x...).
type ClassMatch6 struct {
	// DUID tests the client's DUID (option 1), e.g. {prefix: "0x0003000152540"}.
	DUID *StringMatch `yaml:"duid"`
	// VendorClass tests each vendor-class-data instance of option 16 (the
	// enterprise number is not compared).
	VendorClass *StringMatch `yaml:"vendor_class"`
	// UserClass tests each user-class-data instance of option 15, e.g.
	// {exact: iPXE}.
	UserClass *StringMatch `yaml:"user_class"`
	// RemoteID tests the remote-id of a relay's option 37 (RFC 4649,
	// without the enterprise number).
	RemoteID *StringMatch `yaml:"remote_id"`
	// SubscriberID tests a relay's Subscriber-ID (option 38, RFC 4580).
	SubscriberID *StringMatch `yaml:"subscriber_id"`
	// InterfaceID tests the innermost relay's Interface-ID (option 18).
	InterfaceID *StringMatch `yaml:"interface_id"`
}

// lease6 converts a validated StringMatch.
func strMatch6(s *StringMatch) lease6.StrMatch {
	m := s.lease()
	out := lease6.StrMatch{Value: m.Value, Re: m.Re}
	switch m.Op {
	case lease.OpExact:
		out.Op = lease6.OpExact
	case lease.OpPrefix:
		out.Op = lease6.OpPrefix
	case lease.OpSubstring:
		out.Op = lease6.OpSubstring
	case lease.OpRegex:
		out.Op = lease6.OpRegex
	}
	return out
}

func (m *ClassMatch6) conditions() []struct {
	key string
	m   *StringMatch
} {
	return []struct {
		key string
		m   *StringMatch
	}{{"duid", m.DUID}, {"vendor_class", m.VendorClass}, {"user_class", m.UserClass}, {"remote_id", m.RemoteID}, {"subscriber_id", m.SubscriberID}, {"interface_id", m.InterfaceID}}
}

func (c *Config) classes6() []lease6.Class {
	var out []lease6.Class
	for i := range c.DHCPv6.ClientClasses {
		k := &c.DHCPv6.ClientClasses[i]
		m := &k.Match
		out = append(out, lease6.Class{
			Name: k.Name,
			Match: lease6.ClassMatch{DUID: strMatch6(m.DUID), VendorClass: strMatch6(m.VendorClass), UserClass: strMatch6(m.UserClass),
				RemoteID: strMatch6(m.RemoteID), SubscriberID: strMatch6(m.SubscriberID), InterfaceID: strMatch6(m.InterfaceID)},
			DNS: slices.Clone(k.DNS), DomainSearch: trimDots(k.DomainSearch), NTP: slices.Clone(k.NTP),
			RawOptions: rawOptions6(k.Options),
		})
	}
	return out
}

func (v *validator) classes6(c *DHCPv6) {
	const s = "dhcpv6.client_classes"
	if len(c.ClientClasses) > lease6.MaxClasses {
		v.errorf(s, "%d classes; at most %d", len(c.ClientClasses), lease6.MaxClasses)
	}
	names := map[string]int{}
	for i := range c.ClientClasses {
		k := &c.ClientClasses[i]
		f := fmt.Sprintf("%s[%d]", s, i)
		switch {
		case k.Name == "":
			v.errorf(f+".name", "required: a unique class name, e.g. phones")
		case k.Name == lease6.ClassKnown || k.Name == lease6.ClassUnknown:
			v.errorf(f+".name", "%q is built in (the client has a reservation in the pool, or not); choose another name", k.Name)
		default:
			if j, dup := names[k.Name]; dup {
				v.errorf(f+".name", "%q is already %s[%d]", k.Name, s, j)
			}
			names[k.Name] = i
		}
		n := 0
		for _, cond := range k.Match.conditions() {
			if cond.m == nil {
				continue
			}
			n++
			cf := f + ".match." + cond.key
			given := 0
			for _, p := range []bool{cond.m.Exact != nil, cond.m.Prefix != nil, cond.m.Substring != nil, cond.m.Regex != nil} {
				if p {
					given++
				}
			}
			if given != 1 {
				v.errorf(cf, "give exactly one of exact, prefix, substring or regex")
				continue
			}
			if cond.m.Regex != nil {
				if _, err := regexp.Compile(*cond.m.Regex); err != nil {
					v.errorf(cf+".regex", "%q is not a regular expression: %v", *cond.m.Regex, err)
				}
			}
		}
		if n == 0 {
			v.errorf(f+".match", "required: at least one of duid, vendor_class, user_class, remote_id, subscriber_id, interface_id")
		}
		v.domains6(k.DomainSearch, f)
		v.options6(k.Options, f)
	}
	for i := range c.Pools {
		p := &c.Pools[i]
		for _, l := range []struct {
			key   string
			names []string
		}{{"allow", p.Allow}, {"deny", p.Deny}} {
			for j, n := range l.names {
				if _, ok := names[n]; !ok && n != lease6.ClassKnown && n != lease6.ClassUnknown {
					v.errorf(fmt.Sprintf("dhcpv6.pools[%d].%s[%d]", i, l.key, j), "%q is not a class; define it under dhcpv6.client_classes, or use known or unknown", n)
				}
			}
		}
	}
}
