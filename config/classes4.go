package config

import (
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/leased/leased/lease"
)

// ClientClass is a named DHCPv4 client class.
type ClientClass struct {
	// Name identifies the class in allow, deny and reservations'
	// client_classes. Required, unique; known and unknown are built in.
	Name string `yaml:"name"`
	// Match is the rule: every condition given must hold. A class
	// without match has only the members reservations put in it.
	Match ClassMatch `yaml:"match"`
	// Options are sent to members, beating the pool's and the global
	// options with the same code (the first member class wins).
	Options []Option `yaml:"options"`
	// LeaseTime is the members' lease time (T1, T2: 50 %, 87.5 %),
	// beating the pool's; at least 1s.
	LeaseTime Duration `yaml:"lease_time"`
	// Boot sets the members' BOOTP header boot fields (PXE).
	Boot Boot `yaml:"boot"`
}

// ClassMatch is a class's rule: every condition given must hold.
type ClassMatch struct {
	// VendorClass tests option 60, e.g. {prefix: PXEClient}.
	VendorClass *StringMatch `yaml:"vendor_class"`
	// UserClass tests option 77: its whole value or one of its RFC 3004
	// items, e.g. {exact: iPXE}.
	UserClass *StringMatch `yaml:"user_class"`
	// ClientID tests option 61, e.g. {prefix: "0x01525400"}.
	ClientID *StringMatch `yaml:"client_id"`
	// CircuitID tests option 82 sub-option 1 (RFC 3046).
	CircuitID *StringMatch `yaml:"circuit_id"`
	// RemoteID tests option 82 sub-option 2 (RFC 3046).
	RemoteID *StringMatch `yaml:"remote_id"`
	// SubscriberID tests option 82 sub-option 6 (RFC 3993).
	SubscriberID *StringMatch `yaml:"subscriber_id"`
	// ClientArch holds when the client's option 93 (RFC 4578) lists one
	// of these architecture types, e.g. [0] for BIOS, [7, 9] for x64 UEFI.
	ClientArch []int `yaml:"client_arch"`
	// HWAddr tests chaddr: a prefix such as "52:54:00" or an address
	// with a prefix length in bits, "52:54:00:00:00:00/24".
	HWAddr string `yaml:"hwaddr"`
	// Relays holds when giaddr is inside one of these networks.
	Relays []netip.Prefix `yaml:"relays"`
	// Known: true holds for clients with a reservation in the pool,
	// false for clients without one.
	Known *bool `yaml:"known"`
}

// StringMatch compares bytes the client sent. Exactly one of exact,
// prefix, substring or regex. Values are text, or hex bytes written
// 0x0102... .
type StringMatch struct {
	// Exact holds when the value equals this.
	Exact *BytesValue `yaml:"exact"`
	// Prefix holds when the value starts with this.
	Prefix *BytesValue `yaml:"prefix"`
	// Substring holds when the value contains this.
	Substring *BytesValue `yaml:"substring"`
	// Regex holds when this Go regular expression (RE2) matches the
	// value; compiled once at load.
	Regex *string `yaml:"regex"`
}

// Boot are the BOOTP header boot fields (RFC 951, RFC 2131 §2): unset
// fields inherit from the level below (pool, then class, then
// reservation beat it).
type Boot struct {
	// NextServer is siaddr, the server of the next boot stage (TFTP).
	NextServer netip.Addr `yaml:"next_server"`
	// ServerName is the sname field, at most 63 bytes.
	ServerName string `yaml:"server_name"`
	// File is the file field, the boot file name, at most 127 bytes
	// (option 67 boot-file-name is set separately).
	File string `yaml:"file"`
}

// BytesValue is text, or hex bytes when written 0x0102... .
type BytesValue []byte

// UnmarshalText parses text or 0x-prefixed hex.
func (b *BytesValue) UnmarshalText(text []byte) error {
	s := string(text)
	if h, ok := strings.CutPrefix(s, "0x"); ok {
		v, err := parseHex(h, ":")
		if err != nil || len(v) == 0 {
			return fmt.Errorf("%q is not hex bytes after 0x; e.g. 0x01aabb", s)
		}
		*b = v
		return nil
	}
	if s == "" {
		return fmt.Errorf("must not be empty")
	}
	*b = []byte(s)
	return nil
}

// MarshalText writes the bytes as text when printable, else as 0x hex.
func (b BytesValue) MarshalText() ([]byte, error) {
	for _, c := range b {
		if c < 0x20 || c > 0x7e {
			return []byte("0x" + strings.ReplaceAll(hexColons(b), ":", "")), nil
		}
	}
	return []byte(b), nil
}

var classNameOK = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// classes4 checks the client classes and the class and boot keys of the
// pools.
func (v *validator) classes4(c *DHCPv4) {
	v.options(c.Options, "dhcpv4", nil)
	if len(c.ClientClasses) > lease.MaxClasses {
		v.errorf("dhcpv4.client_classes", "%d classes; at most %d", len(c.ClientClasses), lease.MaxClasses)
	}
	names := map[string]int{}
	for i := range c.ClientClasses {
		cl := &c.ClientClasses[i]
		f := fmt.Sprintf("dhcpv4.client_classes[%d]", i)
		switch {
		case cl.Name == "":
			v.errorf(f+".name", "required: a unique class name, e.g. voip")
		case strings.EqualFold(cl.Name, "known") || strings.EqualFold(cl.Name, "unknown"):
			v.errorf(f+".name", "%q is built in (clients with or without a reservation); choose another name", cl.Name)
		case !classNameOK.MatchString(cl.Name):
			v.errorf(f+".name", "%q: use letters, digits, '-', '_' or '.'", cl.Name)
		default:
			if j, dup := names[cl.Name]; dup {
				v.errorf(f+".name", "%q is already the name of dhcpv4.client_classes[%d]", cl.Name, j)
			}
			names[cl.Name] = i
		}
		v.classMatch(&cl.Match, f+".match")
		v.options(cl.Options, f, nil)
		if v.c.has(f+".lease_time") && cl.LeaseTime.D() < MinLeaseTime {
			v.errorf(f+".lease_time", "%s is too short; use at least %s, e.g. 1h", cl.LeaseTime, Duration(MinLeaseTime))
		}
		v.boot(&cl.Boot, f+".boot")
	}
	known := func(field, n string) {
		if n == "known" || n == "unknown" {
			return
		}
		if _, ok := names[n]; !ok {
			v.errorf(field, "%q is not a client class; define it in dhcpv4.client_classes (or use known / unknown)", n)
		}
	}
	for i := range c.Pools {
		p := &c.Pools[i]
		f := fmt.Sprintf("dhcpv4.pools[%d]", i)
		for k, n := range p.Allow {
			known(fmt.Sprintf("%s.allow[%d]", f, k), n)
		}
		for k, n := range p.Deny {
			known(fmt.Sprintf("%s.deny[%d]", f, k), n)
		}
		for j, s := range p.Sections {
			for k, n := range s.Allow {
				known(fmt.Sprintf("%s.sections[%d].allow[%d]", f, j, k), n)
			}
			for k, n := range s.Deny {
				known(fmt.Sprintf("%s.sections[%d].deny[%d]", f, j, k), n)
			}
		}
		if p.Gateway.IsValid() && len(p.Routers) > 0 {
			v.errorf(f+".routers", "gateway (line %d) and routers are both set; use routers for several routers, gateway for one", v.c.Line(f+".gateway"))
		}
		for k, r := range p.Routers {
			if !r.Is4() || (p.Subnet.IsValid() && !p.Subnet.Contains(r)) {
				v.errorf(fmt.Sprintf("%s.routers[%d]", f, k), "%s is not inside subnet %s", r, p.Subnet)
			}
		}
		v.boot(&p.Boot, f+".boot")
		if p.BOOTPLeaseTime < 0 || (v.c.has(f+".bootp_lease_time") && p.BOOTPLeaseTime.D() < time.Second) {
			v.errorf(f+".bootp_lease_time", "%s: use at least 1s, or leave it out for infinite leases", p.BOOTPLeaseTime)
		}
		if v.c.has(f+".bootp_lease_time") && !p.BOOTP {
			v.errorf(f+".bootp_lease_time", "has no effect without bootp: true")
		}
		if p.SharedNetwork != "" && !classNameOK.MatchString(p.SharedNetwork) {
			v.errorf(f+".shared_network", "%q: use letters, digits, '-', '_' or '.'", p.SharedNetwork)
		}
		circ, rem := map[string]int{}, map[string]int{}
		for k := range p.Reservations {
			r := &p.Reservations[k]
			rf := fmt.Sprintf("%s.reservations[%d]", f, k)
			for j, n := range r.ClientClasses {
				if n == "known" || n == "unknown" {
					v.errorf(fmt.Sprintf("%s.client_classes[%d]", rf, j), "%q is built in and set by leased", n)
					continue
				}
				known(fmt.Sprintf("%s.client_classes[%d]", rf, j), n)
			}
			v.options(r.Options, rf, nil)
			v.boot(&r.Boot, rf+".boot")
			if len(r.CircuitID) > 0 {
				if j, dup := circ[string(r.CircuitID)]; dup {
					v.errorf(rf+".circuit_id", "already the circuit_id of %s.reservations[%d]", f, j)
				}
				circ[string(r.CircuitID)] = k
			}
			if len(r.RemoteID) > 0 {
				if j, dup := rem[string(r.RemoteID)]; dup {
					v.errorf(rf+".remote_id", "already the remote_id of %s.reservations[%d]", f, j)
				}
				rem[string(r.RemoteID)] = k
			}
		}
	}
}

func (v *validator) boot(b *Boot, f string) {
	if b.NextServer.IsValid() && !b.NextServer.Is4() {
		v.errorf(f+".next_server", "%s is not an IPv4 address", b.NextServer)
	}
	if len(b.ServerName) > 63 {
		v.errorf(f+".server_name", "is %d bytes long; the sname field holds at most 63 and a NUL", len(b.ServerName))
	}
	if len(b.File) > 127 {
		v.errorf(f+".file", "is %d bytes long; the file field holds at most 127 and a NUL", len(b.File))
	}
}

func (v *validator) classMatch(m *ClassMatch, f string) {
	for _, s := range []struct {
		key string
		m   *StringMatch
	}{{"vendor_class", m.VendorClass}, {"user_class", m.UserClass}, {"client_id", m.ClientID},
		{"circuit_id", m.CircuitID}, {"remote_id", m.RemoteID}, {"subscriber_id", m.SubscriberID}} {
		if s.m == nil {
			continue
		}
		sf := f + "." + s.key
		n := 0
		for _, p := range []bool{s.m.Exact != nil, s.m.Prefix != nil, s.m.Substring != nil, s.m.Regex != nil} {
			if p {
				n++
			}
		}
		if n != 1 {
			v.errorf(sf, "give exactly one of exact, prefix, substring or regex")
			continue
		}
		if s.m.Regex != nil {
			if _, err := regexp.Compile(*s.m.Regex); err != nil {
				v.errorf(sf+".regex", "%q is not a regular expression: %v", *s.m.Regex, err)
			}
		}
	}
	for i, a := range m.ClientArch {
		if a < 0 || a > 0xffff {
			v.errorf(fmt.Sprintf("%s.client_arch[%d]", f, i), "%d is not an architecture type (0 to 65535, RFC 4578 §2.1: 0 BIOS, 7 x64 UEFI, ...)", a)
		}
	}
	if m.HWAddr != "" {
		if _, _, err := parseHWPrefix(m.HWAddr); err != nil {
			v.errorf(f+".hwaddr", "%v", err)
		}
	}
	for i, p := range m.Relays {
		if !p.Addr().Is4() {
			v.errorf(fmt.Sprintf("%s.relays[%d]", f, i), "%s is not an IPv4 network", p)
		}
	}
}

// parseHWPrefix parses "52:54:00" (a byte prefix) or
// "52:54:00:00:00:00/24" (bits).
func parseHWPrefix(s string) ([]byte, int, error) {
	addr, bits, hasBits := strings.Cut(s, "/")
	b, err := parseHex(strings.ReplaceAll(addr, "-", ":"), ":")
	if err != nil || len(b) == 0 || len(b) > 16 {
		return nil, 0, fmt.Errorf("%q is not a hardware address prefix; write e.g. 52:54:00 or 52:54:00:00:00:00/24", s)
	}
	n := 8 * len(b)
	if hasBits {
		n, err = strconv.Atoi(bits)
		if err != nil || n < 1 || n > 8*len(b) {
			return nil, 0, fmt.Errorf("%q: the prefix length must be 1 to %d bits", s, 8*len(b))
		}
	}
	return b, n, nil
}

func (s *StringMatch) lease() lease.StrMatch {
	switch {
	case s == nil:
		return lease.StrMatch{}
	case s.Exact != nil:
		return lease.StrMatch{Op: lease.OpExact, Value: []byte(*s.Exact)}
	case s.Prefix != nil:
		return lease.StrMatch{Op: lease.OpPrefix, Value: []byte(*s.Prefix)}
	case s.Substring != nil:
		return lease.StrMatch{Op: lease.OpSubstring, Value: []byte(*s.Substring)}
	case s.Regex != nil:
		return lease.StrMatch{Op: lease.OpRegex, Re: regexp.MustCompile(*s.Regex)}
	}
	return lease.StrMatch{}
}

// leaseClasses converts the validated classes for the engine.
func (c *DHCPv4) leaseClasses() []lease.Class {
	var out []lease.Class
	for i := range c.ClientClasses {
		cl := &c.ClientClasses[i]
		m := &cl.Match
		lm := lease.Match{
			VendorClass: m.VendorClass.lease(), UserClass: m.UserClass.lease(), ClientID: m.ClientID.lease(),
			CircuitID: m.CircuitID.lease(), RemoteID: m.RemoteID.lease(), SubscriberID: m.SubscriberID.lease(),
		}
		for _, a := range m.ClientArch {
			lm.Arch = append(lm.Arch, uint16(a))
		}
		if m.HWAddr != "" {
			lm.HWAddr, lm.HWBits, _ = parseHWPrefix(m.HWAddr)
		}
		for _, p := range m.Relays {
			lm.Relays = append(lm.Relays, p.Masked())
		}
		if m.Known != nil {
			lm.Known = -1
			if *m.Known {
				lm.Known = 1
			}
		}
		lm.Never = m.VendorClass == nil && m.UserClass == nil && m.ClientID == nil && m.CircuitID == nil &&
			m.RemoteID == nil && m.SubscriberID == nil && len(m.ClientArch) == 0 && m.HWAddr == "" &&
			len(m.Relays) == 0 && m.Known == nil
		out = append(out, lease.Class{
			Name: cl.Name, Match: lm, Options: leaseOptions(cl.Options, nil),
			LeaseTime: cl.LeaseTime.D(), Boot: cl.Boot.lease(),
		})
	}
	return out
}

func (b *Boot) lease() lease.Boot {
	out := lease.Boot{NextServer: b.NextServer}
	if b.ServerName != "" {
		out.ServerName = []byte(b.ServerName)
	}
	if b.File != "" {
		out.File = []byte(b.File)
	}
	return out
}

// leaseOptions encodes options for the engine, followed by those of
// inherit whose code is not set yet (nor in skip).
func leaseOptions(opts []Option, skip map[int]string, inherit ...[]Option) []lease.RawOption {
	var out []lease.RawOption
	seen := map[int]bool{}
	for k := range skip {
		seen[k] = true
	}
	for _, list := range append([][]Option{opts}, inherit...) {
		for i := range list {
			o := &list[i]
			c := o.code()
			if seen[c] {
				continue
			}
			seen[c] = true
			out = append(out, lease.RawOption{Code: uint8(c), Data: o.data()})
		}
	}
	return out
}

// MinLeaseTime is the shortest DHCPv4 lease time accepted; MinQuietLease
// the shortest without a warning.
const (
	MinLeaseTime  = 2 * time.Second
	MinQuietLease = time.Minute
)

// shortLeaseWarnings names every DHCPv4 lease time below MinQuietLease.
func (c *Config) shortLeaseWarnings() []string {
	var w []string
	warn := func(f string, d Duration) {
		if d.D() > 0 && d.D() < MinQuietLease {
			w = append(w, fmt.Sprintf("%s is %s: clients renew every few seconds (fine for labs and tests, heavy in production)", f, d))
		}
	}
	if !c.HasDHCPv4() {
		return nil
	}
	warn("dhcpv4.lease_time", c.DHCPv4.LeaseTime)
	for i, p := range c.DHCPv4.Pools {
		warn(fmt.Sprintf("dhcpv4.pools[%d].lease_time", i), p.LeaseTime)
	}
	for i, cl := range c.DHCPv4.ClientClasses {
		warn(fmt.Sprintf("dhcpv4.client_classes[%d].lease_time", i), cl.LeaseTime)
	}
	return w
}
