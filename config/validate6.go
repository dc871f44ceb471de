package config

import (
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// DUID length bounds (RFC 8415 §11.1: a 2-byte type and at most 128 bytes).
const (
	minDUID = 3
	maxDUID = 130
)

// maxPDBits bounds the bits of a delegation index (length - prefix bits):
// 2^64 prefixes is already far beyond any pool.
const maxPDBits = 64

// lifetimes6 are a pool's effective lifetimes.
type lifetimes6 struct {
	pref, valid, t1, t2 Duration
}

// resolve returns the lifetimes in force for pool p (its own values, else
// the service's): the values the engine gets. A valid lifetime set below an
// inherited preferred lifetime lowers the preferred lifetime with it.
func (c *Config) resolve6(p *Pool6, f string) lifetimes6 {
	svc := c.DHCPv6
	lt := lifetimes6{svc.PreferredLifetime, svc.ValidLifetime, svc.T1, svc.T2}
	if c.has(f + ".valid_lifetime") {
		lt.valid = p.ValidLifetime
		if lt.pref > lt.valid {
			lt.pref = lt.valid
		}
	}
	if c.has(f + ".preferred_lifetime") {
		lt.pref = p.PreferredLifetime
	}
	if c.has(f + ".t1") {
		lt.t1 = p.T1
	}
	if c.has(f + ".t2") {
		lt.t2 = p.T2
	}
	return lt
}

// times6 checks T1 ≤ T2 ≤ preferred ≤ valid (RFC 8415 §21.4: T1 ≤ T2;
// §21.6: a client discards an address whose preferred lifetime exceeds the
// valid one), with unset T1/T2 at 0.5 and 0.8 of the preferred lifetime.
func (v *validator) times6(f string, lt lifetimes6) {
	if lt.valid.D() < time.Minute {
		v.errorf(f+".valid_lifetime", "%s is too short; use at least 60s, e.g. 1h", lt.valid)
		return
	}
	if lt.pref <= 0 {
		v.errorf(f+".preferred_lifetime", "must be more than 0s, e.g. 45m")
		return
	}
	if lt.pref > lt.valid {
		v.errorf(f+".preferred_lifetime", "%s must be at most valid_lifetime (%s)", lt.pref, lt.valid)
		return
	}
	e1, e2 := lt.t1.D(), lt.t2.D()
	if e1 == 0 {
		e1 = lt.pref.D() / 2
	}
	if e2 == 0 {
		e2 = lt.pref.D() * 4 / 5
	}
	switch {
	case lt.t2 != 0 && e2 > lt.pref.D():
		v.errorf(f+".t2", "%s must be at most preferred_lifetime (%s)", lt.t2, lt.pref)
	case lt.t1 != 0 && e1 > e2:
		v.errorf(f+".t1", "%s must be at most t2 (%s%s)", lt.t1, Duration(e2), defaultNote(lt.t2.D()))
	case lt.t2 != 0 && e1 > e2:
		v.errorf(f+".t2", "%s must be at least t1 (%s%s)", lt.t2, Duration(e1), defaultNote(lt.t1.D()))
	}
}

// span6 is an address range of a named field, for overlap checks across
// pools.
type span6 struct {
	field, what string
}

func (v *validator) dhcpv6(c *DHCPv6) {
	const s = "dhcpv6"
	if len(c.Interfaces) == 0 {
		v.errorf(s+".interfaces", "required: list the interfaces to serve on, e.g. [eth0]")
	}
	ifaces := map[string]int{}
	for i, name := range c.Interfaces {
		f := fmt.Sprintf("%s.interfaces[%d]", s, i)
		if name == "" || len(name) > 15 || strings.ContainsAny(name, "/ \t\n") {
			v.errorf(f, "%q is not an interface name; use a name such as eth0 (at most 15 characters, no '/' or spaces)", name)
			continue
		}
		if j, dup := ifaces[name]; dup {
			v.errorf(f, "%s is listed twice (also %s.interfaces[%d])", name, s, j)
			continue
		}
		ifaces[name] = i
	}
	if c.Port < 0 || c.Port > 65535 {
		v.errorf(s+".port", "%d is not a port; use 1-65535 (default 547)", c.Port)
	}
	v.times6(s, lifetimes6{c.PreferredLifetime, c.ValidLifetime, c.T1, c.T2})
	if c.OfferHold <= 0 {
		v.errorf(s+".offer_hold", "must be more than 0s, e.g. 10s")
	} else if c.OfferHold >= c.ValidLifetime && !v.d.failed(s+".valid_lifetime") {
		v.errorf(s+".offer_hold", "%s must be shorter than valid_lifetime (%s), e.g. 10s", c.OfferHold, c.ValidLifetime)
	}
	if c.DeclineQuarantine <= 0 {
		v.errorf(s+".decline_quarantine", "must be more than 0s, e.g. 1h")
	}
	if len(c.Pools) == 0 && len(c.DNS) == 0 && len(c.DomainSearch) == 0 && len(c.NTP) == 0 && len(c.Options) == 0 {
		// Without pools leased answers only Information-requests, with the
		// global options (stateless service, RFC 3736).
		v.errorf(s+".pools", "required: at least one pool with a name and a subnet, or global options (dns, domain_search, ntp, options) for stateless service only")
	}
	v.domains6(c.DomainSearch, s)
	v.options6(c.Options, s)
	v.classes6(c)
	ifids := map[string]int{}
	for i := range c.Pools {
		id := string(c.Pools[i].interfaceID())
		if id == "" {
			continue
		}
		f := fmt.Sprintf("%s.pools[%d].interface_id", s, i)
		if c.Pools[i].InterfaceID != "" && len(c.Pools[i].InterfaceIDHex) > 0 {
			v.errorf(f, "give interface_id or interface_id_hex, not both")
			continue
		}
		if len(c.Pools[i].InterfaceIDHex) > 0 {
			f += "_hex"
		}
		if j, dup := ifids[id]; dup {
			v.errorf(f, "%q already selects dhcpv6.pools[%d] (%s); an interface-id selects one pool", id, j, c.Pools[j].Name)
		} else if len(id) > 255 {
			v.errorf(f, "is %d bytes; at most 255", len(id))
		} else {
			ifids[id] = i
		}
	}

	// Pool names are unique across both families: campaigns and the API
	// select pools by name.
	names := map[string]string{}
	for i, p := range v.c.DHCPv4.Pools {
		if p.Name != "" {
			if _, dup := names[p.Name]; !dup {
				names[p.Name] = fmt.Sprintf("dhcpv4.pools[%d]", i)
			}
		}
	}
	poolIf := map[string]int{}
	for i := range c.Pools {
		p := &c.Pools[i]
		f := fmt.Sprintf("%s.pools[%d]", s, i)
		if p.Name != "" {
			if other, dup := names[p.Name]; dup {
				v.errorf(f+".name", "%q is already the name of %s; pool names must be unique across dhcpv4 and dhcpv6", p.Name, other)
			} else {
				names[p.Name] = f
			}
		}
		if p.Interface != "" {
			if _, ok := ifaces[p.Interface]; !ok {
				v.errorf(f+".interface", "%q is not in dhcpv6.interfaces (%s)", p.Interface, strings.Join(c.Interfaces, ", "))
			} else if j, dup := poolIf[p.Interface]; dup {
				v.errorf(f+".interface", "%s already selects dhcpv6.pools[%d] (%s); an interface selects one pool", p.Interface, j, c.Pools[j].Name)
			} else {
				poolIf[p.Interface] = i
			}
		}
		v.pool6(p, f)
	}

	// Subnets, ranges and delegated prefixes must be pairwise disjoint:
	// the engine picks a pool by address and never hands out one address
	// or prefix twice. (Ranges lie inside their subnet, so disjoint
	// subnets keep ranges of different pools apart; ranges of one pool are
	// checked in pool6.)
	var spans []span
	var meta []span6
	add := func(field, what string, p netip.Prefix) {
		spans = append(spans, span{len(meta), p.Addr(), lastAddr(p)})
		meta = append(meta, span6{field, what})
	}
	for i := range c.Pools {
		p := &c.Pools[i]
		f := fmt.Sprintf("%s.pools[%d]", s, i)
		if p.Subnet.IsValid() {
			add(f+".subnet", fmt.Sprintf("subnet %s of %s (%s)", p.Subnet, f, p.Name), p.Subnet)
		}
		if pd := p.PrefixDelegation; pd != nil && pd.Prefix.IsValid() {
			add(f+".prefix_delegation.prefix", fmt.Sprintf("prefix_delegation %s of %s (%s)", pd.Prefix, f, p.Name), pd.Prefix)
		}
	}
	for _, o := range overlapping(spans) {
		a, b := meta[o.second.i], meta[o.first.i]
		v.errorf(a.field, "%s overlaps %s; subnets and delegated prefixes must be disjoint", a.what, b.what)
	}

	// A link-address selects exactly one pool.
	linkOwner := map[netip.Addr]int{}
	for i := range c.Pools {
		for k, l := range c.Pools[i].Links {
			f := fmt.Sprintf("%s.pools[%d].links[%d]", s, i, k)
			if !l.IsValid() {
				continue
			}
			if j, dup := linkOwner[l]; dup {
				v.errorf(f, "%s is already a link of dhcpv6.pools[%d] (%s); a link-address selects one pool", l, j, c.Pools[j].Name)
				continue
			}
			linkOwner[l] = i
			for j := range c.Pools {
				if sub := c.Pools[j].Subnet; j != i && sub.IsValid() && sub.Contains(l) {
					v.errorf(f, "%s is inside subnet %s of dhcpv6.pools[%d] (%s), which it already selects", l, sub, j, c.Pools[j].Name)
				}
			}
		}
	}
}

func (v *validator) pool6(p *Pool6, f string) {
	if p.Name == "" {
		v.errorf(f+".name", "required: a unique name for the pool, e.g. office6")
	} else if strings.ContainsAny(p.Name, " \t\n/") {
		v.errorf(f+".name", "%q: use letters, digits, '-', '_' or '.', no spaces or '/'", p.Name)
	}
	sub := p.Subnet
	if !sub.IsValid() && !v.c.has(f+".subnet") {
		v.errorf(f+".subnet", "required: the link's IPv6 prefix, e.g. fd77::/64")
	}
	if p.Interface != "" && (len(p.Interface) > 15 || strings.ContainsAny(p.Interface, "/ \t\n")) {
		v.errorf(f+".interface", "%q is not an interface name", p.Interface)
	}
	for i, l := range p.Links {
		if l.IsValid() && sub.IsValid() && sub.Contains(l) {
			v.errorf(fmt.Sprintf("%s.links[%d]", f, i), "%s is inside subnet %s and selects this pool without being listed; list only link-addresses outside it", l, sub)
		}
	}
	v.domains6(p.DomainSearch, f)
	if n := p.SharedNetwork; n != "" && strings.ContainsAny(n, " \t\n/") {
		v.errorf(f+".shared_network", "%q: use letters, digits, '-', '_' or '.', no spaces or '/'", n)
	}
	v.options6(p.Options, f)
	if v.c.has(f+".preferred_lifetime") || v.c.has(f+".valid_lifetime") || v.c.has(f+".t1") || v.c.has(f+".t2") {
		v.times6(f, v.c.resolve6(p, f))
	}
	if p.Preference < 0 || p.Preference > 255 {
		v.errorf(f+".preference", "%d: want 0 to 255", p.Preference)
	}

	// Ranges: inside subnet, start ≤ end, disjoint.
	var spans []span
	for i, r := range p.Ranges {
		rf := fmt.Sprintf("%s.ranges[%d]", f, i)
		ok := true
		for _, e := range []struct {
			key string
			a   netip.Addr
		}{{"start", r.Start}, {"end", r.End}} {
			switch {
			case !e.a.IsValid():
				ok = false
				if !v.c.has(rf + "." + e.key) {
					v.errorf(rf+"."+e.key, "required: the %s address of the range, e.g. %s", map[string]string{"start": "first", "end": "last"}[e.key], example6(sub, e.key == "end"))
				}
			case sub.IsValid() && !sub.Contains(e.a):
				ok = false
				v.errorf(rf+"."+e.key, "%s is not inside subnet %s", e.a, sub)
			}
		}
		if !ok {
			continue
		}
		if r.Start.Compare(r.End) > 0 {
			v.errorf(rf, "start %s is after end %s", r.Start, r.End)
			continue
		}
		spans = append(spans, span{i, r.Start, r.End})
	}
	for _, o := range overlapping(spans) {
		v.errorf(fmt.Sprintf("%s.ranges[%d]", f, o.second.i), "%s-%s overlaps %s.ranges[%d] (%s-%s); ranges must not share addresses",
			o.second.start, o.second.end, f, o.first.i, o.first.start, o.first.end)
	}

	pd := p.PrefixDelegation
	if pd != nil {
		pf := f + ".prefix_delegation"
		if !pd.Prefix.IsValid() {
			if !v.c.has(pf + ".prefix") {
				v.errorf(pf+".prefix", "required: the prefix delegated prefixes are carved from, e.g. fd77:100::/40")
			}
		}
		switch {
		case !v.c.has(pf + ".length"):
			v.errorf(pf+".length", "required: the length of each delegated prefix, e.g. 56")
		case pd.Length < 1 || pd.Length > 128:
			v.errorf(pf+".length", "%d: want 1 to 128, e.g. 56", pd.Length)
		case pd.Prefix.IsValid() && pd.Length <= pd.Prefix.Bits():
			v.errorf(pf+".length", "%d must be longer than the prefix's /%d, e.g. %d", pd.Length, pd.Prefix.Bits(), min(pd.Prefix.Bits()+16, 128))
		case pd.Prefix.IsValid() && pd.Length-pd.Prefix.Bits() > maxPDBits:
			v.errorf(pf+".length", "%d delegates 2^%d prefixes of %s; at most %d bits more than the prefix (e.g. a /%d)", pd.Length, pd.Length-pd.Prefix.Bits(), pd.Prefix, maxPDBits, pd.Prefix.Bits()+maxPDBits)
		}
		if v.c.has(pf+".max_length") && (pd.MaxLength < pd.Length || pd.MaxLength > 128) {
			v.errorf(pf+".max_length", "%d: want length (%d) to 128, e.g. 64", pd.MaxLength, pd.Length)
		}
	}
	v.reconfigure6(&p.Reconfigure, f+".reconfigure")

	addrs := map[netip.Addr]int{}
	prefixes := map[netip.Prefix]int{}
	duids := map[string]int{}
	for i, r := range p.Reservations {
		rf := fmt.Sprintf("%s.reservations[%d]", f, i)
		switch {
		case len(r.DUID) == 0:
			if !v.c.has(rf + ".duid") {
				v.errorf(rf+".duid", "required: the client's DUID in hex, e.g. \"00:03:00:01:52:54:00:12:34:56\"")
			}
		case len(r.DUID) < minDUID || len(r.DUID) > maxDUID:
			v.errorf(rf+".duid", "is %d bytes; a DUID is %d to %d bytes (RFC 8415 §11.1)", len(r.DUID), minDUID, maxDUID)
		default:
			if j, dup := duids[string(r.DUID)]; dup {
				v.errorf(rf+".duid", "%s already has a reservation (%s.reservations[%d]); give one reservation both address and prefix", r.DUID, f, j)
			} else {
				duids[string(r.DUID)] = i
			}
		}
		if !r.Address.IsValid() && !r.Prefix.IsValid() && !v.c.has(rf+".address") && !v.c.has(rf+".prefix") {
			v.errorf(rf, "required: address or prefix (or both) to reserve")
		}
		if a := r.Address; a.IsValid() {
			switch {
			case sub.IsValid() && !sub.Contains(a):
				v.errorf(rf+".address", "%s is not inside subnet %s", a, sub)
			default:
				if j, dup := addrs[a]; dup {
					v.errorf(rf+".address", "%s is already reserved by %s.reservations[%d]", a, f, j)
				} else {
					addrs[a] = i
				}
			}
		}
		if px := r.Prefix; px.IsValid() {
			switch {
			case pd == nil:
				v.errorf(rf+".prefix", "the pool delegates no prefixes; add prefix_delegation to reserve %s", px)
			case pd.Prefix.IsValid() && (px.Bits() < pd.Prefix.Bits() || !pd.Prefix.Contains(px.Addr())):
				v.errorf(rf+".prefix", "%s is not inside prefix_delegation.prefix %s", px, pd.Prefix)
			case pd.Length != 0 && px.Bits() != pd.Length:
				v.errorf(rf+".prefix", "%s is a /%d; reserved prefixes have prefix_delegation.length (/%d)", px, px.Bits(), pd.Length)
			default:
				if j, dup := prefixes[px]; dup {
					v.errorf(rf+".prefix", "%s is already reserved by %s.reservations[%d]", px, f, j)
				} else {
					prefixes[px] = i
				}
			}
		}
		if r.Hostname != "" && !isDomainName(r.Hostname) {
			v.errorf(rf+".hostname", "%q is not a host name; use letters, digits and '-', e.g. printer-1", r.Hostname)
		}
		v.domains6(r.DomainSearch, rf)
		v.options6(r.Options, rf)
	}
}

func (v *validator) domains6(list []string, f string) {
	for i, d := range list {
		if !isDomainName(d) {
			v.errorf(fmt.Sprintf("%s.domain_search[%d]", f, i), "%q is not a domain name; e.g. example.net", d)
		}
	}
}

// DHCPv6 options leased sets itself, with what to use instead.
var managedOptions6 = map[int]string{
	1:  "option 1 (client identifier) is sent by clients",
	2:  "option 2 (server identifier) is managed by leased",
	3:  "option 3 (IA_NA) is set with ranges",
	4:  "option 4 (IA_TA) is not served",
	5:  "option 5 (IA address) is set with ranges",
	6:  "option 6 (option request) is sent by clients",
	7:  "option 7 (preference) is set with preference",
	8:  "option 8 (elapsed time) is sent by clients",
	9:  "option 9 (relay message) is managed by leased",
	11: "option 11 (authentication) is managed by leased",
	12: "option 12 (server unicast) is managed by leased",
	13: "option 13 (status code) is managed by leased",
	14: "option 14 (rapid commit) is set with rapid_commit",
	18: "option 18 (interface-id) is echoed from the relay by leased",
	19: "option 19 (reconfigure message) is managed by leased",
	20: "option 20 (reconfigure accept) is managed by leased",
	23: "option 23 (DNS servers) is set with dns",
	24: "option 24 (domain search list) is set with domain_search",
	25: "option 25 (IA_PD) is set with prefix_delegation",
	26: "option 26 (IA prefix) is set with prefix_delegation",
	56: "option 56 (NTP server) is set with ntp",
	79: "option 79 (client link-layer address) is sent by relays",
}

func (v *validator) options6(opts []Option6, f string) {
	codes := map[int]int{}
	for i, o := range opts {
		of := fmt.Sprintf("%s.options[%d]", f, i)
		if !v.c.has(of + ".code") {
			v.errorf(of+".code", "required: the option code, 1 to 65535")
		} else if why, managed := managedOptions6[o.Code]; managed {
			v.errorf(of+".code", "%s; choose another code", why)
		} else if o.Code < 1 || o.Code > 65535 {
			v.errorf(of+".code", "%d is not an option code; use 1 to 65535", o.Code)
		} else if j, dup := codes[o.Code]; dup {
			v.errorf(of+".code", "option %d is already set by %s.options[%d]", o.Code, f, j)
		} else {
			codes[o.Code] = i
		}
		var given []string
		for _, k := range []string{"hex", "text", "ip", "ips"} {
			if v.c.has(of + "." + k) {
				given = append(given, k)
			}
		}
		if len(given) != 1 {
			if len(given) == 0 {
				v.errorf(of, "needs a value: one of hex, text, ip or ips")
			} else {
				v.errorf(of, "has %s; give exactly one of hex, text, ip or ips", strings.Join(given, " and "))
			}
			continue
		}
		if n := len(o.data()); n > 65535 {
			v.errorf(of+"."+given[0], "is %d bytes long; an option holds at most 65535", n)
		}
	}
}

// data is the option's value on the wire.
func (o *Option6) data() []byte {
	switch {
	case o.Hex != nil:
		return []byte(o.Hex)
	case o.Text != nil:
		return []byte(*o.Text)
	case o.IP.IsValid():
		b := o.IP.As16()
		return b[:]
	}
	out := make([]byte, 0, 16*len(o.IPs))
	for _, a := range o.IPs {
		b := a.As16()
		out = append(out, b[:]...)
	}
	return out
}

func (v *validator) reconfigure6(r *Reconfigure6, f string) {
	if r.Strict && (r.Disabled || (r.RequireReconfigureAccept != nil && !*r.RequireReconfigureAccept)) {
		v.errorf(f+".strict", "refuses clients without Reconfigure Accept, which contradicts disabled: true or require_reconfigure_accept: false")
	}
	if r.Attempts < 0 || r.Attempts > 20 {
		v.errorf(f+".attempts", "%d: want 1 to 20 (0 or unset: the campaign's value, 8 = REC_MAX_RC)", r.Attempts)
	}
	if d := time.Duration(r.Interval); d != 0 && (d < time.Millisecond || d > time.Hour) {
		v.errorf(f+".interval", "%v: want 1ms to 1h", d)
	}
	if r.Pace != nil && (*r.Pace < 0 || *r.Pace > 100000) {
		v.errorf(f+".pace", "%d: want 0 (unlimited) to 100000 Reconfigure messages per second", *r.Pace)
	}
	switch r.OnFailure {
	case "", "restore", "delete", "recycle":
	default:
		v.errorf(f+".on_failure", "%q: want restore, delete or recycle", r.OnFailure)
	}
	switch r.Message {
	case "", "renew", "rebind", "information-request":
	default:
		v.errorf(f+".message", "%q: want renew, rebind or information-request (RFC 8415 §21.19)", r.Message)
	}
}

// lastAddr is the last address of p.
func lastAddr(p netip.Prefix) netip.Addr {
	a := p.Addr()
	if a.Is4() {
		return broadcast(p)
	}
	b := a.As16()
	for i := p.Bits(); i < 128; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	return netip.AddrFrom16(b)
}

// example6 is an address of sub for messages (the ::1:0 or ::1:ffff
// address, as in the example file).
func example6(sub netip.Prefix, last bool) string {
	if !sub.IsValid() || sub.Bits() > 96 {
		sub = netip.MustParsePrefix("fd77::/64")
	}
	b := sub.Addr().As16() // bytes 12-15 are host bits (≤ /96)
	b[13] = 1
	if last {
		b[14], b[15] = 0xff, 0xff
	}
	return netip.AddrFrom16(b).String()
}
