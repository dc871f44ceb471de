package config

import (
	"cmp"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// maxExcluded bounds the addresses one pool may exclude (ranges are
// expanded for the engine).
const (
	maxExcluded      = 1 << 16
	maxExcludedTotal = 1 << 20
)

// validator collects validation errors with the line of each field.
type validator struct {
	c *Config
	d *decoder
}

func (v *validator) errorf(field, format string, args ...any) {
	if v.d.failed(field) {
		return // already reported by the decoder
	}
	v.d.add(lineOf(v.c.lines, field), field, fmt.Sprintf(format, args...))
}

func (c *Config) validate(d *decoder) {
	v := &validator{c: c, d: d}
	if c.DataDir == "" {
		v.errorf("data_dir", "must not be empty; e.g. /var/lib/leased")
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		v.errorf("log_level", "%q is not a log level; use debug, info, warn or error", c.LogLevel)
	}
	v.control(&c.Control)
	v.storeBackend(c)
	v.cluster(c)
	if c.Store.CompactEvery <= 0 {
		v.errorf("store.compact_every", "%d: must be a positive number of records, e.g. %d", c.Store.CompactEvery, DefaultCompactEvery)
	}
	switch {
	case c.has("dhcpv4"):
		v.dhcpv4(&c.DHCPv4)
	case !c.has("dhcpv6"):
		v.errorf("dhcpv4", "required: a dhcpv4 section, a dhcpv6 section or both, each with at least interfaces and pools")
		return
	}
	if c.DHCPv6 != nil {
		v.dhcpv6(c.DHCPv6)
	}
	v.campaigns(c)
	v.radius(c.Radius)
	v.leaseQuery(c.LeaseQuery)
	v.ddns(c.DDNS)
}

// storeBackend checks server_name and store.postgres.dsn: PostgreSQL and
// the embedded log (data_dir) are exclusive.
func (v *validator) storeBackend(c *Config) {
	switch {
	case c.ServerName == "":
		v.errorf("server_name", "must not be empty (the host name could not be read); e.g. dhcp-a")
	case len(c.ServerName) > 253 || strings.TrimLeft(c.ServerName, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_") != "":
		v.errorf("server_name", "%q: use letters, digits, '.', '-' and '_', at most 253 characters; e.g. dhcp-a", c.ServerName)
	}
	dsn := c.Store.Postgres.DSN
	if !c.has("store.postgres.dsn") {
		return
	}
	if strings.TrimSpace(dsn) == "" {
		v.errorf("store.postgres.dsn", "must not be empty; remove the key to use the embedded log, or write a libpq connection string, e.g. \"host=db1 dbname=leased user=leased\"")
		return
	}
	if _, err := pgconn.ParseConfig(dsn); err != nil {
		v.errorf("store.postgres.dsn", "not a libpq connection string (keyword=value pairs or a postgres:// URL): %v", err)
	}
	if c.has("data_dir") {
		v.errorf("store.postgres.dsn", "store.postgres.dsn and data_dir (line %d) are both set: leases go to PostgreSQL or to the embedded log in data_dir, not both; remove one", c.Line("data_dir"))
	}
}

func (v *validator) control(ct *Control) {
	if ct.Socket == "" {
		v.errorf("control.socket", "must not be empty; e.g. %s", DefaultSocket)
	}
	if ct.HTTP != "" {
		host, port, err := net.SplitHostPort(ct.HTTP)
		if err == nil {
			if p, perr := strconv.Atoi(port); perr != nil || p < 0 || p > 65535 {
				err = fmt.Errorf("bad port")
			}
		}
		if err == nil && host != "" {
			if _, perr := netip.ParseAddr(host); perr != nil && strings.ContainsAny(host, " /") {
				err = fmt.Errorf("bad host")
			}
		}
		if err != nil {
			v.errorf("control.http", "%q is not a listen address; write host:port, e.g. 127.0.0.1:8067", ct.HTTP)
		}
		if ct.TokenFile == "" {
			v.errorf("control.token_file", "required when control.http is set: a file holding the bearer token for the TCP API")
		}
		if ct.MetricsTokenFile != "" && ct.MetricsTokenFile == ct.TokenFile {
			v.errorf("control.metrics_token_file", "is the admin token_file: the scrape-only token needs a file (and a token) of its own")
		}
	} else if ct.MetricsTokenFile != "" {
		v.errorf("control.metrics_token_file", "only used with control.http (the TCP listener); the unix socket needs no token")
	}
}

func (v *validator) dhcpv4(c *DHCPv4) {
	if len(c.Interfaces) == 0 {
		v.errorf("dhcpv4.interfaces", "required: list the interfaces to serve on, e.g. [eth0]")
	}
	seenIf := map[string]int{}
	for i, name := range c.Interfaces {
		f := fmt.Sprintf("dhcpv4.interfaces[%d]", i)
		if name == "" || len(name) > 15 || strings.ContainsAny(name, "/ \t\n") {
			v.errorf(f, "%q is not an interface name; use a name such as eth0 (at most 15 characters, no '/' or spaces)", name)
			continue
		}
		if j, dup := seenIf[name]; dup {
			v.errorf(f, "%s is listed twice (also dhcpv4.interfaces[%d])", name, j)
			continue
		}
		seenIf[name] = i
	}
	if c.Port < 0 || c.Port > 65535 {
		v.errorf("dhcpv4.port", "%d is not a port; use 1-65535 (default 67)", c.Port)
	}
	v.times("dhcpv4", c.LeaseTime, c.T1, c.T2)
	if c.OfferHold <= 0 {
		v.errorf("dhcpv4.offer_hold", "must be more than 0s, e.g. 10s")
	} else if c.OfferHold >= c.LeaseTime && !v.d.failed("dhcpv4.lease_time") {
		v.errorf("dhcpv4.offer_hold", "%s must be shorter than lease_time (%s), e.g. 10s", c.OfferHold, c.LeaseTime)
	}
	if c.DeclineQuarantine <= 0 {
		v.errorf("dhcpv4.decline_quarantine", "must be more than 0s, e.g. 1h")
	}
	if len(c.Pools) == 0 {
		v.errorf("dhcpv4.pools", "required: at least one pool with a name and a subnet")
	}
	v.classes4(c) // classes4.go
	names := map[string]int{}
	for i := range c.Pools {
		p := &c.Pools[i]
		f := fmt.Sprintf("dhcpv4.pools[%d]", i)
		if p.Name != "" {
			if j, dup := names[p.Name]; dup {
				v.errorf(f+".name", "%q is already the name of dhcpv4.pools[%d]; pool names must be unique", p.Name, j)
			} else {
				names[p.Name] = i
			}
		}
		v.pool(c, p, f)
	}
	// Pool subnets must not overlap: the engine picks a pool by address.
	var nets []span
	bySubnet := map[netip.Prefix]int{}
	for i := range c.Pools {
		if sub := c.Pools[i].Subnet; sub.IsValid() {
			nets = append(nets, span{i, sub.Addr(), broadcast(sub)})
			if _, dup := bySubnet[sub]; !dup {
				bySubnet[sub] = i
			}
		}
	}
	for _, o := range overlapping(nets) {
		a, b := &c.Pools[o.second.i], &c.Pools[o.first.i]
		v.errorf(fmt.Sprintf("dhcpv4.pools[%d].subnet", o.second.i), "%s overlaps %s of dhcpv4.pools[%d] (%s); pool subnets must be disjoint", a.Subnet, b.Subnet, o.first.i, b.Name)
	}
	// A relay address selects exactly one pool.
	relayOwner := map[netip.Addr]int{}
	for i := range c.Pools {
		for k, r := range c.Pools[i].Relays {
			f := fmt.Sprintf("dhcpv4.pools[%d].relays[%d]", i, k)
			if !r.IsValid() {
				continue
			}
			if j, dup := relayOwner[r]; dup {
				v.errorf(f, "%s is already a relay of dhcpv4.pools[%d] (%s); a relay address selects one pool", r, j, c.Pools[j].Name)
				continue
			}
			relayOwner[r] = i
			for bits := 0; bits <= 32; bits++ {
				p, _ := r.Prefix(bits)
				if j, ok := bySubnet[p]; ok && j != i {
					v.errorf(f, "%s is inside subnet %s of dhcpv4.pools[%d] (%s), which it already selects", r, p, j, c.Pools[j].Name)
				}
			}
		}
	}
	var excluded uint64
	for i := range c.Pools {
		for _, x := range c.Pools[i].Exclude {
			if x.From.Is4() && x.To.Is4() && x.From.Compare(x.To) <= 0 {
				excluded += x.size()
			}
		}
	}
	if excluded > maxExcludedTotal {
		v.errorf("dhcpv4.pools", "exclude lists %d addresses in all; at most %d (shrink the sections instead)", excluded, maxExcludedTotal)
	}
}

// span is an inclusive address range of list entry i.
type span struct {
	i          int
	start, end netip.Addr
}

type overlap struct{ first, second span } // first.i < second.i

// overlapping finds overlapping spans, reporting each span at most once as
// the later entry (so the work and the errors stay linear).
func overlapping(spans []span) []overlap {
	slices.SortFunc(spans, func(a, b span) int {
		return cmp.Or(a.start.Compare(b.start), cmp.Compare(a.i, b.i))
	})
	var out []overlap
	var reach span // the span reaching furthest so far
	for k, b := range spans {
		if k > 0 && b.start.Compare(reach.end) <= 0 {
			if b.i < reach.i {
				out = append(out, overlap{b, reach})
			} else {
				out = append(out, overlap{reach, b})
			}
		}
		if k == 0 || b.end.Compare(reach.end) > 0 {
			reach = b
		}
	}
	slices.SortFunc(out, func(x, y overlap) int {
		return cmp.Or(cmp.Compare(x.second.i, y.second.i), cmp.Compare(x.first.i, y.first.i))
	})
	return out
}

// times checks a lease time with its T1 and T2 (the effective values at f:
// a pool's own or those it inherits from dhcpv4).
func (v *validator) times(f string, lt, t1, t2 Duration) {
	lease, r1, r2 := lt.D(), t1.D(), t2.D()
	// Labs and tests use leases of a few seconds: accepted, with a
	// warning below MinQuietLease (Config.Warnings).
	if lease < MinLeaseTime {
		v.errorf(f+".lease_time", "%s is too short; use at least %s, e.g. 1h", lt, Duration(MinLeaseTime))
		return
	}
	e1, e2 := r1, r2
	if e1 == 0 {
		e1 = lease / 2
	}
	if e2 == 0 {
		e2 = lease * 7 / 8
	}
	// RFC 2131 §4.4.5: T1 < T2 < lease time.
	switch {
	case r2 != 0 && e2 >= lease:
		v.errorf(f+".t2", "%s must be less than lease_time (%s)", t2, lt)
	case r1 != 0 && e1 >= e2:
		v.errorf(f+".t1", "%s must be less than t2 (%s%s)", t1, Duration(e2), defaultNote(r2))
	case r2 != 0 && e1 >= e2:
		v.errorf(f+".t2", "%s must be more than t1 (%s%s)", t2, Duration(e1), defaultNote(r1))
	}
}

func defaultNote(set time.Duration) string {
	if set == 0 {
		return ", the default"
	}
	return ""
}

func (v *validator) pool(svc *DHCPv4, p *Pool, f string) {
	if p.Name == "" {
		v.errorf(f+".name", "required: a unique name for the pool, e.g. office")
	} else if strings.ContainsAny(p.Name, " \t\n/") {
		v.errorf(f+".name", "%q: use letters, digits, '-', '_' or '.', no spaces or '/'", p.Name)
	}
	sub := p.Subnet
	if !sub.IsValid() {
		if !v.c.has(f + ".subnet") {
			v.errorf(f+".subnet", "required: the pool's IPv4 network, e.g. 10.0.0.0/24")
		}
		sub = netip.Prefix{}
	}
	inside := func(field string, a netip.Addr) {
		if sub.IsValid() && a.IsValid() && !sub.Contains(a) {
			v.errorf(field, "%s is not inside subnet %s", a, sub)
		}
	}
	inside(f+".gateway", p.Gateway)
	v.forceRenew(&p.ForceRenew, f+".forcerenew")
	if p.MTU != 0 || v.c.has(f+".mtu") {
		// RFC 2132 §5.1: the minimum legal MTU is 68.
		if p.MTU < 68 || p.MTU > 65535 {
			v.errorf(f+".mtu", "%d is not a valid MTU; use 68 to 65535, e.g. 1500", p.MTU)
		}
	}
	if p.DomainName != "" && !isDomainName(p.DomainName) {
		v.errorf(f+".domain_name", "%q is not a domain name; e.g. example.net", p.DomainName)
	}
	for i, s := range p.DomainSearch {
		if !isDomainName(s) {
			v.errorf(fmt.Sprintf("%s.domain_search[%d]", f, i), "%q is not a domain name; e.g. example.net", s)
		}
	}
	for i, r := range p.Routes {
		rf := fmt.Sprintf("%s.routes[%d]", f, i)
		if !r.Dest.IsValid() && !v.c.has(rf+".dest") {
			v.errorf(rf+".dest", "required: the destination network, e.g. 192.168.50.0/24 (0.0.0.0/0 for a default route)")
		}
		if !r.Gateway.IsValid() && !v.c.has(rf+".gateway") {
			v.errorf(rf+".gateway", "required: the next-hop router, e.g. %s", exampleAddr(sub, 1))
		}
	}
	if len(p.TFTPServer) > 255 {
		v.errorf(f+".tftp_server", "is %d bytes long; an option holds at most 255", len(p.TFTPServer))
	}
	if len(p.BootFile) > 255 {
		v.errorf(f+".boot_file", "is %d bytes long; an option holds at most 255", len(p.BootFile))
	}
	v.options(p.Options, f, poolOptionCodes(p))

	if v.c.has(f+".lease_time") || v.c.has(f+".t1") || v.c.has(f+".t2") {
		lt, t1, t2 := p.LeaseTime, p.T1, p.T2
		if !v.c.has(f + ".lease_time") {
			lt = svc.LeaseTime
		}
		if !v.c.has(f + ".t1") {
			t1 = svc.T1
		}
		if !v.c.has(f + ".t2") {
			t2 = svc.T2
		}
		if lt.D() >= MinLeaseTime || v.c.has(f+".lease_time") {
			v.times(f, lt, t1, t2)
		}
	}

	for i, r := range p.Relays {
		if r.IsValid() && sub.IsValid() && sub.Contains(r) {
			v.errorf(fmt.Sprintf("%s.relays[%d]", f, i), "%s is inside subnet %s and selects this pool without being listed; list only relay addresses outside it", r, sub)
		}
	}

	v.sections(p, f, sub)

	var excluded uint64
	for i, x := range p.Exclude {
		xf := fmt.Sprintf("%s.exclude[%d]", f, i)
		if !x.From.Is4() || !x.To.Is4() {
			v.errorf(xf, "%s: use IPv4 addresses, e.g. 10.0.0.5 or 10.0.0.10-10.0.0.19", x)
			continue
		}
		if x.From.Compare(x.To) > 0 {
			v.errorf(xf, "range %s ends before it starts; write first-last", x)
			continue
		}
		if sub.IsValid() && (!sub.Contains(x.From) || !sub.Contains(x.To)) {
			v.errorf(xf, "%s is not inside subnet %s", x, sub)
			continue
		}
		excluded += x.size()
	}
	if excluded > maxExcluded {
		v.errorf(f+".exclude", "excludes %d addresses; at most %d per pool (shrink the sections instead)", excluded, maxExcluded)
	}

	addrs := map[netip.Addr]int{}
	macs := map[string]int{}
	ids := map[string]int{}
	for i, r := range p.Reservations {
		rf := fmt.Sprintf("%s.reservations[%d]", f, i)
		if !r.Address.IsValid() {
			if !v.c.has(rf + ".address") {
				v.errorf(rf+".address", "required: the reserved address, e.g. %s", exampleAddr(sub, 10))
			}
		} else {
			switch {
			case sub.IsValid() && !sub.Contains(r.Address):
				v.errorf(rf+".address", "%s is not inside subnet %s", r.Address, sub)
			case sub.IsValid() && sub.Bits() < 31 && (r.Address == sub.Addr() || r.Address == broadcast(sub)):
				v.errorf(rf+".address", "%s is the network or broadcast address of %s; reserve a host address", r.Address, sub)
			case r.Address == p.Gateway:
				v.errorf(rf+".address", "%s is the pool's gateway", r.Address)
			}
			if j, dup := addrs[r.Address]; dup {
				v.errorf(rf+".address", "%s is already reserved by %s.reservations[%d]", r.Address, f, j)
			} else {
				addrs[r.Address] = i
			}
		}
		if len(r.HWAddr) == 0 && len(r.ClientID) == 0 && len(r.CircuitID) == 0 && len(r.RemoteID) == 0 {
			if !v.c.has(rf+".hwaddr") && !v.c.has(rf+".client_id") && !v.c.has(rf+".circuit_id") && !v.c.has(rf+".remote_id") {
				v.errorf(rf, "required: hwaddr, client_id, circuit_id or remote_id to identify the client")
			}
		}
		if len(r.HWAddr) > 0 {
			k := string(r.HWAddr)
			if j, dup := macs[k]; dup {
				v.errorf(rf+".hwaddr", "%s already has a reservation (%s.reservations[%d])", r.HWAddr, f, j)
			} else {
				macs[k] = i
			}
		}
		if len(r.ClientID) > 0 {
			k := string(r.ClientID)
			if j, dup := ids[k]; dup {
				v.errorf(rf+".client_id", "%s already has a reservation (%s.reservations[%d])", r.ClientID, f, j)
			} else {
				ids[k] = i
			}
		}
		if r.Hostname != "" && !isDomainName(r.Hostname) {
			v.errorf(rf+".hostname", "%q is not a host name; use letters, digits and '-', e.g. printer-1", r.Hostname)
		}
	}
}

func (v *validator) sections(p *Pool, f string, sub netip.Prefix) {
	var spans []span
	idx := map[int]int{}
	for i, s := range p.Sections {
		sf := fmt.Sprintf("%s.sections[%d]", f, i)
		ok := true
		if !v.c.has(sf + ".index") {
			v.errorf(sf+".index", "required: the section number, 0 or more")
		} else if s.Index < 0 {
			v.errorf(sf+".index", "%d: use 0 or more", s.Index)
		} else if j, dup := idx[s.Index]; dup {
			v.errorf(sf+".index", "%d is already the index of %s.sections[%d]; indexes must be unique in a pool", s.Index, f, j)
		} else {
			idx[s.Index] = i
		}
		for _, e := range []struct {
			key string
			a   netip.Addr
		}{{"start", s.Start}, {"end", s.End}} {
			switch {
			case !e.a.IsValid():
				ok = false
				if !v.c.has(sf + "." + e.key) {
					v.errorf(sf+"."+e.key, "required: the %s address of the section, e.g. %s", map[string]string{"start": "first", "end": "last"}[e.key], exampleAddr(sub, 10))
				}
			case sub.IsValid() && !sub.Contains(e.a):
				ok = false
				v.errorf(sf+"."+e.key, "%s is not inside subnet %s", e.a, sub)
			}
		}
		if !ok {
			continue
		}
		if s.Start.Compare(s.End) > 0 {
			v.errorf(sf, "start %s is after end %s", s.Start, s.End)
			continue
		}
		spans = append(spans, span{i, s.Start, s.End})
	}
	for _, o := range overlapping(spans) {
		v.errorf(fmt.Sprintf("%s.sections[%d]", f, o.second.i), "%s-%s overlaps %s.sections[%d] (%s-%s); sections must not share addresses",
			o.second.start, o.second.end, f, o.first.i, o.first.start, o.first.end)
	}
}

// Options leased sets itself, with what to use instead.
var managedOptions = map[int]string{
	0:   "0 is the pad byte, not an option",
	255: "255 is the end marker, not an option",
	1:   "option 1 (subnet mask) comes from subnet",
	3:   "option 3 (router) is set with gateway",
	6:   "option 6 (DNS servers) is set with dns",
	12:  "option 12 (host name) is set per client with reservations[].hostname",
	15:  "option 15 (domain name) is set with domain_name",
	26:  "option 26 (interface MTU) is set with mtu",
	42:  "option 42 (NTP servers) is set with ntp",
	50:  "option 50 (requested address) is sent by clients only",
	51:  "option 51 (lease time) is set with lease_time",
	52:  "option 52 (overload) is managed by leased",
	53:  "option 53 (message type) is managed by leased",
	54:  "option 54 (server identifier) is managed by leased",
	55:  "option 55 (parameter request list) is sent by clients only",
	56:  "option 56 (message) is managed by leased",
	57:  "option 57 (maximum message size) is sent by clients only",
	58:  "option 58 (renewal time) is set with t1",
	59:  "option 59 (rebinding time) is set with t2",
	61:  "option 61 (client identifier) is sent by clients only",
	66:  "option 66 (TFTP server) is set with tftp_server",
	67:  "option 67 (boot file) is set with boot_file",
	82:  "option 82 (relay agent information) is echoed from the relay by leased",
	90:  "option 90 (authentication) is managed by leased",
	119: "option 119 (domain search) is set with domain_search",
	121: "option 121 (classless static routes) is set with routes",
	145: "option 145 (FORCERENEW nonce capable) is managed by leased",
}

func broadcast(p netip.Prefix) netip.Addr {
	v := addrUint(p.Addr()) | (1<<(32-p.Bits()) - 1)
	return uintAddr(v)
}

func exampleAddr(sub netip.Prefix, n uint32) netip.Addr {
	if !sub.IsValid() {
		return netip.AddrFrom4([4]byte{10, 0, 0, byte(n)})
	}
	return uintAddr(addrUint(sub.Addr()) + n)
}

// isDomainName: labels of letters, digits, '-' and '_', 1 to 63 bytes,
// not starting or ending with '-'; at most 253 bytes; optional final dot.
func isDomainName(s string) bool {
	s = strings.TrimSuffix(s, ".")
	if s == "" || len(s) > 253 {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// maxToken is the longest RFC 3118 token that fits one option 90
// (255 bytes: protocol, algorithm, RDM, 8-byte replay value, token).
const maxToken = 255 - 11

func (v *validator) forceRenew(fr *ForceRenew, f string) {
	switch fr.Auth {
	case "", "rfc6704":
		if fr.Token != "" {
			v.errorf(f+".token", "a token is only used with auth: token (auth is %q)", cmp.Or(fr.Auth, "rfc6704"))
		}
	case "token":
		if fr.Token == "" || len(fr.Token) > maxToken {
			v.errorf(f+".token", "required with auth: token: 1 to %d bytes, the same token configured on the clients (dhcpcd: authtoken)", maxToken)
		}
	case "none":
		if fr.Token != "" {
			v.errorf(f+".token", "a token is only used with auth: token (auth is \"none\")")
		}
		// An unauthenticated FORCERENEW lets anyone on the path make
		// clients renew: the operator must say so.
		if !fr.Insecure {
			v.errorf(f+".auth", "none sends unauthenticated FORCERENEWs; set insecure: true to allow it, or use rfc6704 or token")
		}
		if fr.Strict {
			v.errorf(f+".strict", "needs a way to tell which clients can be reconfigured: auth rfc6704 (option 145) or token")
		}
	default:
		v.errorf(f+".auth", "%q is not a FORCERENEW authentication; use rfc6704 (default), token or none", fr.Auth)
	}
	if fr.Attempts < 0 || fr.Attempts > 20 {
		v.errorf(f+".attempts", "%d: want 1 to 20 (0 or unset: the campaign's value)", fr.Attempts)
	}
	if d := time.Duration(fr.Interval); d != 0 && (d < time.Millisecond || d > time.Hour) {
		v.errorf(f+".interval", "%v: want 1ms to 1h", d)
	}
	if fr.Pace != nil && (*fr.Pace < 0 || *fr.Pace > 100000) {
		v.errorf(f+".pace", "%d: want 0 (unlimited) to 100000 FORCERENEW per second", *fr.Pace)
	}
	switch fr.OnFailure {
	case "", "restore", "delete", "recycle":
	default:
		v.errorf(f+".on_failure", "%q: want restore, delete or recycle", fr.OnFailure)
	}
}
