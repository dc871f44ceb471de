package config

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/leased/leased/lease6"
)

// Class6 is a DHCPv6 client class: a match rule on what the client or its
// relays send, and the options its members get. A pool's allow and deny
// lists name classes.
type Class6 struct {
	// Name identifies the class in pools' allow and deny lists. Required,
	// unique; "known" and "unknown" are built in (the client has a
	// reservation in the pool, or not) and cannot be defined.
	Name string `yaml:"name"`
	// Match is the rule: every key given must hold. Required, at least one
	// key.
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

// ClassMatch6 is a class's rule. A value ending in "*" matches by prefix
// (the "*" is not part of it), any other value exactly.
type ClassMatch6 struct {
	// DUID matches the client's DUID (option 1), in hex, e.g.
	// "00:03:00:01:52:54:00*" for DUID-LLs of one vendor's MAC prefix.
	DUID string `yaml:"duid"`
	// VendorClass matches one vendor-class-data instance of the client's
	// option 16 (the enterprise number is not compared), as text.
	VendorClass string `yaml:"vendor_class"`
	// UserClass matches one user-class-data instance of the client's
	// option 15, as text, e.g. "iPXE".
	UserClass string `yaml:"user_class"`
	// RemoteID matches the remote-id of a relay's option 37 (RFC 4649,
	// without the enterprise number), as text.
	RemoteID string `yaml:"remote_id"`
	// InterfaceID matches the innermost relay's Interface-ID (option 18),
	// as text.
	InterfaceID string `yaml:"interface_id"`
}

// strMatch6 compiles one match value; hex for DUIDs.
func strMatch6(v string, isHex bool) (lease6.StrMatch, error) {
	if v == "" {
		return lease6.StrMatch{}, nil
	}
	op := lease6.OpExact
	if s, ok := strings.CutSuffix(v, "*"); ok {
		op, v = lease6.OpPrefix, s
	}
	b := []byte(v)
	if isHex {
		var err error
		if b, err = parseHex(v, ":"); err != nil {
			return lease6.StrMatch{}, err
		}
	}
	return lease6.StrMatch{Op: op, Value: b}, nil
}

func (m *ClassMatch6) compile() (lease6.ClassMatch, error) {
	var out lease6.ClassMatch
	var err error
	if out.DUID, err = strMatch6(m.DUID, true); err != nil {
		return out, err
	}
	out.VendorClass, _ = strMatch6(m.VendorClass, false)
	out.UserClass, _ = strMatch6(m.UserClass, false)
	out.RemoteID, _ = strMatch6(m.RemoteID, false)
	out.InterfaceID, _ = strMatch6(m.InterfaceID, false)
	return out, nil
}

func (c *Config) classes6() []lease6.Class {
	var out []lease6.Class
	for i := range c.DHCPv6.Classes {
		k := &c.DHCPv6.Classes[i]
		m, _ := k.Match.compile() // validated
		out = append(out, lease6.Class{
			Name: k.Name, Match: m,
			DNS: slices.Clone(k.DNS), DomainSearch: trimDots(k.DomainSearch), NTP: slices.Clone(k.NTP),
			RawOptions: rawOptions6(k.Options),
		})
	}
	return out
}

func (v *validator) classes6(c *DHCPv6) {
	if len(c.Classes) > lease6.MaxClasses {
		v.errorf("dhcpv6.classes", "%d classes; at most %d", len(c.Classes), lease6.MaxClasses)
	}
	names := map[string]int{}
	for i := range c.Classes {
		k := &c.Classes[i]
		f := fmt.Sprintf("dhcpv6.classes[%d]", i)
		switch {
		case k.Name == "":
			v.errorf(f+".name", "required: a unique class name, e.g. phones")
		case k.Name == lease6.ClassKnown || k.Name == lease6.ClassUnknown:
			v.errorf(f+".name", "%q is built in (the client has a reservation in the pool, or not); choose another name", k.Name)
		default:
			if j, dup := names[k.Name]; dup {
				v.errorf(f+".name", "%q is already dhcpv6.classes[%d]", k.Name, j)
			}
			names[k.Name] = i
		}
		m := &k.Match
		if m.DUID == "" && m.VendorClass == "" && m.UserClass == "" && m.RemoteID == "" && m.InterfaceID == "" {
			v.errorf(f+".match", "required: at least one of duid, vendor_class, user_class, remote_id, interface_id")
		}
		if m.DUID != "" {
			if _, err := strMatch6(m.DUID, true); err != nil {
				v.errorf(f+".match.duid", "%v (a trailing * matches by prefix)", err)
			}
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
					v.errorf(fmt.Sprintf("dhcpv6.pools[%d].%s[%d]", i, l.key, j), "%q is not a class; define it under dhcpv6.classes, or use known or unknown", n)
				}
			}
		}
	}
}
