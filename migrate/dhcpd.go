package migrate

import (
	"encoding/hex"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/leased/leased/config"
)

// ISC dhcpd's dhcpd.conf(5) grammar, as far as a conversion needs it:
// statements end with ';', declarations open a '{ ... }' block, '#'
// starts a comment, strings are double-quoted.

type dtok struct {
	s      string
	line   int
	quoted bool
	raw    string // a quoted string's bytes with \NNN octal escapes decoded (dhcpd.leases uid)
}

// dstmt is one statement: its words, and its block when it has one.
type dstmt struct {
	words []dtok
	block []*dstmt
	open  bool // has a block
	line  int
}

func (s *dstmt) word(i int) string {
	if i < len(s.words) {
		return s.words[i].s
	}
	return ""
}

// text is the statement as written (for reports).
func (s *dstmt) text() string {
	var b []string
	for _, w := range s.words {
		if w.quoted {
			b = append(b, strconv.Quote(w.s))
		} else {
			b = append(b, w.s)
		}
	}
	return strings.Join(b, " ")
}

func tokenize(src []byte) ([]dtok, error) {
	var out []dtok
	line := 1
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == '\n':
			line++
			i++
		case c == ' ' || c == '\t' || c == '\r':
			i++
		case c == '#':
			for i < len(src) && src[i] != '\n' {
				i++
			}
		case c == '"':
			start := line
			var b, raw strings.Builder
			i++
			for ; i < len(src) && src[i] != '"'; i++ {
				if src[i] == '\\' && i+3 < len(src) && isOctal(src[i+1]) && isOctal(src[i+2]) && isOctal(src[i+3]) {
					raw.WriteByte((src[i+1]-'0')<<6 | (src[i+2]-'0')<<3 | (src[i+3] - '0'))
					b.WriteString(string(src[i : i+4]))
					i += 3
					continue
				}
				if src[i] == '\\' && i+1 < len(src) {
					i++
				}
				if src[i] == '\n' {
					line++
				}
				b.WriteByte(src[i])
				raw.WriteByte(src[i])
			}
			if i >= len(src) {
				return nil, fmt.Errorf("line %d: unterminated string", start)
			}
			i++
			out = append(out, dtok{s: b.String(), line: start, quoted: true, raw: raw.String()})
		case c == '{' || c == '}' || c == ';' || c == ',':
			out = append(out, dtok{s: string(c), line: line})
			i++
		default:
			j := i
			for j < len(src) && !strings.ContainsRune(" \t\r\n{};,#\"", rune(src[j])) {
				j++
			}
			out = append(out, dtok{s: string(src[i:j]), line: line})
			i = j
		}
	}
	return out, nil
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }

// parseStmts reads statements until '}' (inner) or the end.
func parseStmts(toks []dtok, pos *int, inner bool) ([]*dstmt, error) {
	var out []*dstmt
	var cur *dstmt
	for *pos < len(toks) {
		t := toks[*pos]
		*pos++
		if !t.quoted {
			switch t.s {
			case ";":
				if cur != nil {
					out = append(out, cur)
					cur = nil
				}
				continue
			case "{":
				if cur == nil {
					cur = &dstmt{line: t.line}
				}
				cur.open = true
				b, err := parseStmts(toks, pos, true)
				if err != nil {
					return nil, err
				}
				cur.block = b
				out = append(out, cur)
				cur = nil
				continue
			case "}":
				if !inner {
					return nil, fmt.Errorf("line %d: '}' without '{'", t.line)
				}
				if cur != nil {
					return nil, fmt.Errorf("line %d: statement %q ends without ';'", cur.line, cur.text())
				}
				return out, nil
			}
		}
		if cur == nil {
			cur = &dstmt{line: t.line}
		}
		cur.words = append(cur.words, t)
	}
	if inner {
		return nil, fmt.Errorf("unexpected end of file: a '{' is not closed")
	}
	if cur != nil {
		return nil, fmt.Errorf("line %d: statement %q ends without ';'", cur.line, cur.text())
	}
	return out, nil
}

// dscope is the parameters in force in a declaration (inherited from the
// enclosing ones, as dhcpd does).
type dscope struct {
	o4        opts4
	o6        opts6
	leaseTime string
	pref      string
	t1, t2    string
	auth      *bool
	boot      *boot4
}

type dhcpdCtx struct {
	rep   report
	v6    bool
	out4  *out4
	out6  *out6
	hosts []*dstmt // collected; placed once the subnets are known
	names map[string]bool
	// classes maps the dhcpd classes carried over to their leased names;
	// done marks the class declarations converted.
	classes map[string]string
	done    map[*dstmt]bool
	// bootp counts each pool's ranges: [dynamic-bootp, all], and the
	// line of its first dynamic-bootp range.
	bootp map[*pool4]*[3]int
}

// FromDhcpd converts an ISC dhcpd configuration (dhcpd.conf, or a DHCPv6
// dhcpd6.conf: recognised by subnet6 declarations or dhcp6.* options)
// into leased's YAML. file names the source in the report.
func FromDhcpd(file string, src []byte) (*Result, error) {
	toks, err := tokenize(src)
	if err != nil {
		return nil, fmt.Errorf("migrate: %s: %w", file, err)
	}
	pos := 0
	stmts, err := parseStmts(toks, &pos, false)
	if err != nil {
		return nil, fmt.Errorf("migrate: %s: %w", file, err)
	}
	x := &dhcpdCtx{rep: report{file: file}, names: map[string]bool{}, classes: map[string]string{}, done: map[*dstmt]bool{}, bootp: map[*pool4]*[3]int{}}
	for _, t := range toks {
		if t.s == "subnet6" || strings.HasPrefix(t.s, "dhcp6.") {
			x.v6 = true
			break
		}
	}
	x.rep.add(1, "interfaces: dhcpd takes them on its command line; %q written as a placeholder: set the interfaces to serve", placeholderInterface)
	var top dscope
	if x.v6 {
		x.out6 = &out6{Interfaces: []string{placeholderInterface}}
	} else {
		x.out4 = &out4{Interfaces: []string{placeholderInterface}}
		x.classes4(stmts)
	}
	x.scope(stmts, &top, "")
	if x.v6 {
		x.out6.opts6 = top.o6
		x.out6.ValidLifetime, x.out6.PreferredLifetime, x.out6.T1, x.out6.T2 = top.leaseTime, top.pref, top.t1, top.t2
		if x.out6.PreferredLifetime == "" && x.out6.ValidLifetime != "" {
			x.out6.PreferredLifetime = x.out6.ValidLifetime
		}
	} else {
		x.out4.LeaseTime, x.out4.T1, x.out4.T2 = top.leaseTime, top.t1, top.t2
		if top.auth != nil {
			x.out4.Authoritative = *top.auth
		}
	}
	for _, h := range x.hosts {
		x.host(h)
	}
	// leased serves BOOTP per pool (bootp: true): when every range of a
	// subnet is dynamic-bootp.
	if x.out4 != nil {
		for _, p := range x.out4.Pools {
			switch n := x.bootp[p]; {
			case n == nil || n[0] == 0:
			case n[0] == n[1]:
				p.BOOTP = true
			default:
				x.rep.add(n[2], "range dynamic-bootp: leased serves BOOTP clients per pool (bootp), and %s also has ranges without dynamic-bootp; BOOTP is not enabled, the range is imported for DHCP clients", p.Subnet)
			}
		}
	}
	out := &outConfig{DHCPv4: x.out4, DHCPv6: x.out6}
	if x.out4 != nil && len(x.out4.Pools) == 0 {
		x.rep.add(1, "no subnet declaration with an address range could be carried over; the dhcpv4 section is written without pools and needs them")
	}
	y, err := marshal(fmt.Sprintf("# Converted from ISC dhcpd configuration %s by leasectl import isc-dhcpd-config.\n# Check the report of what was not carried over.\n", file), out)
	if err != nil {
		return nil, err
	}
	sortItems(x.rep.items)
	return &Result{YAML: y, Skipped: x.rep.items}, nil
}

// scope interprets the statements of one declaration; sc is the
// inherited parameters (copied per declaration); shared names the
// enclosing shared-network.
func (x *dhcpdCtx) scope(stmts []*dstmt, sc *dscope, shared string) {
	// Parameters first: dhcpd applies a scope's parameters to all its
	// declarations regardless of order.
	for _, s := range stmts {
		if !s.open {
			x.param(s, sc)
		}
	}
	var pools []*dstmt
	for _, s := range stmts {
		if !s.open {
			continue
		}
		switch s.word(0) {
		case "subnet":
			inner := *sc
			x.subnet4(s, &inner, shared)
		case "subnet6":
			inner := *sc
			x.subnet6(s, &inner, shared)
		case "shared-network":
			inner := *sc
			name := sanitize(s.word(1))
			x.scope(s.block, &inner, name)
		case "group":
			inner := *sc
			x.scope(s.block, &inner, shared)
		case "host":
			x.hosts = append(x.hosts, s)
		case "pool", "pool6":
			pools = append(pools, s)
		case "class", "subclass":
			if x.done[s] {
				continue
			}
			x.rep.add(s.line, "%s %s: dhcpd classes are not carried over; define the class in leased by hand", s.word(0), s.word(1))
		default:
			x.rep.add(s.line, "%s: declaration not carried over", s.text())
		}
	}
	for _, p := range pools {
		x.pool(p)
	}
}

// param applies one parameter statement to sc, or reports it.
func (x *dhcpdCtx) param(s *dstmt, sc *dscope) {
	switch s.word(0) {
	case "option":
		x.option(s, sc)
	case "default-lease-time":
		// DHCPv4 lease times down to config.MinLeaseTime are accepted;
		// DHCPv6 valid lifetimes need 60s.
		min := int64(config.MinLeaseTime / time.Second)
		if x.v6 {
			min = 60
		}
		if n, err := strconv.ParseInt(s.word(1), 10, 64); err == nil && n >= min {
			sc.leaseTime = seconds(n)
		} else {
			x.rep.add(s.line, "%s: leased needs a lease time of at least %ds; not carried over", s.text(), min)
		}
	case "preferred-lifetime":
		if n, err := strconv.ParseInt(s.word(1), 10, 64); err == nil && n > 0 {
			sc.pref = seconds(n)
		}
	case "authoritative":
		v := true
		sc.auth = &v
	case "not":
		if s.word(1) == "authoritative" {
			v := false
			sc.auth = &v
			return
		}
		x.rep.add(s.line, "%s: %s", s.text(), noEquivalent)
	case "filename":
		sc.o4.BootFile = s.word(1)
	case "next-server", "server-name":
		x.bootStmt(s, &sc.boot, "scope")
	case "range", "range6", "prefix6", "fixed-address", "fixed-address6", "fixed-prefix6", "hardware", "host-identifier":
		// handled by the enclosing declaration
	default:
		x.rep.add(s.line, "%s: %s", s.text(), noEquivalent)
	}
}

// values are the option's arguments without commas.
func values(s *dstmt, from int) []dtok {
	var out []dtok
	for _, w := range s.words[from:] {
		if !(w.s == "," && !w.quoted) {
			out = append(out, w)
		}
	}
	return out
}

func (x *dhcpdCtx) addrs(s *dstmt, vals []dtok, v6 bool) ([]string, bool) {
	var out []string
	for _, v := range vals {
		a, err := netip.ParseAddr(v.s)
		if err != nil || a.Is6() != v6 {
			x.rep.add(s.line, "%s: %q is not an address (leased does not resolve host names); not carried over", s.text(), v.s)
			return nil, false
		}
		out = append(out, a.String())
	}
	return out, len(out) > 0
}

func (x *dhcpdCtx) option(s *dstmt, sc *dscope) {
	name := s.word(1)
	vals := values(s, 2)
	if len(vals) == 0 {
		x.rep.add(s.line, "%s: no value; not carried over", s.text())
		return
	}
	switch name {
	case "routers":
		if l, ok := x.addrs(s, vals, false); ok {
			sc.o4.Gateway, sc.o4.Routers = l[0], nil
			if len(l) > 1 {
				sc.o4.Gateway, sc.o4.Routers = "", l
			}
		}
	case "domain-name-servers":
		if l, ok := x.addrs(s, vals, false); ok {
			sc.o4.DNS = l
		}
	case "ntp-servers":
		if l, ok := x.addrs(s, vals, false); ok {
			sc.o4.NTP = l
		}
	case "domain-name":
		sc.o4.DomainName = vals[0].s
	case "domain-search":
		sc.o4.DomainSearch = nil
		for _, v := range vals {
			sc.o4.DomainSearch = append(sc.o4.DomainSearch, v.s)
		}
	case "interface-mtu":
		if n, err := strconv.Atoi(vals[0].s); err == nil {
			sc.o4.MTU = n
		}
	case "tftp-server-name":
		sc.o4.TFTPServer = vals[0].s
	case "subnet-mask", "broadcast-address":
		x.rep.add(s.line, "option %s: leased derives it from the subnet; not carried over", name)
	case "dhcp6.name-servers":
		if l, ok := x.addrs(s, vals, true); ok {
			sc.o6.DNS = l
		}
	case "dhcp6.domain-search":
		sc.o6.DomainSearch = nil
		for _, v := range vals {
			sc.o6.DomainSearch = append(sc.o6.DomainSearch, v.s)
		}
	case "dhcp-renewal-time", "dhcp6.renewal-time":
		if n, err := strconv.ParseInt(vals[0].s, 10, 64); err == nil {
			sc.t1 = seconds(n)
		}
	case "dhcp-rebinding-time", "dhcp6.rebinding-time":
		if n, err := strconv.ParseInt(vals[0].s, 10, 64); err == nil {
			sc.t2 = seconds(n)
		}
	default:
		x.rep.add(s.line, "%s: no leased key for option %s; add it under options with its code and hex value", s.text(), name)
	}
}

func (x *dhcpdCtx) uniq(base string) string {
	n := base
	for i := 2; x.names[n]; i++ {
		n = fmt.Sprintf("%s-%d", base, i)
	}
	x.names[n] = true
	return n
}

func poolName(p netip.Prefix) string {
	return "net-" + strings.NewReplacer(".", "-", ":", "-", "/", "-").Replace(strings.TrimSuffix(p.String(), "::"))
}

func (x *dhcpdCtx) subnet4(s *dstmt, sc *dscope, shared string) {
	if x.v6 {
		x.rep.add(s.line, "subnet %s in a DHCPv6 configuration: not carried over", s.word(1))
		return
	}
	a, err1 := netip.ParseAddr(s.word(1))
	m, err2 := netip.ParseAddr(s.word(3))
	if err1 != nil || err2 != nil || s.word(2) != "netmask" || !a.Is4() {
		x.rep.add(s.line, "%s: not a subnet A.B.C.D netmask M; skipped", s.text())
		return
	}
	mb := m.As4()
	bits := 0
	for _, b := range mb {
		for i := 7; i >= 0 && b&(1<<i) != 0; i-- {
			bits++
		}
	}
	sub := netip.PrefixFrom(a, bits).Masked()
	for _, st := range s.block {
		if !st.open {
			x.param(st, sc)
		}
	}
	p := &pool4{Name: x.uniq(poolName(sub)), Subnet: sub.String(), SharedNetwork: shared, LeaseTime: sc.leaseTime, T1: sc.t1, T2: sc.t2, Authoritative: sc.auth}
	p.opts4 = sc.o4
	p.Boot = sc.boot
	for _, st := range s.block {
		switch {
		case st.word(0) == "range":
			x.range4(st, p, sub)
		case st.open && (st.word(0) == "pool"):
			x.poolInto4(st, p, sub)
		case st.open && st.word(0) == "host":
			x.hosts = append(x.hosts, st)
		case st.open:
			x.rep.add(st.line, "%s inside subnet %s: not carried over", st.text(), sub)
		}
	}
	x.out4.Pools = append(x.out4.Pools, p)
}

func (x *dhcpdCtx) range4(st *dstmt, p *pool4, sub netip.Prefix) bool {
	vals := values(st, 1)
	n := x.bootp[p]
	if n == nil {
		n = &[3]int{}
		x.bootp[p] = n
	}
	n[1]++
	if len(vals) > 0 && vals[0].s == "dynamic-bootp" {
		if n[0] == 0 {
			n[2] = st.line
		}
		n[0]++
		vals = vals[1:]
	}
	if len(vals) == 1 {
		vals = append(vals, vals[0])
	}
	a, err1 := netip.ParseAddr(vals[0].s)
	b, err2 := netip.ParseAddr(vals[len(vals)-1].s)
	if err1 != nil || err2 != nil || !sub.Contains(a) || !sub.Contains(b) || b.Less(a) {
		x.rep.add(st.line, "%s: not a range inside %s; skipped", st.text(), sub)
		return false
	}
	p.Sections = append(p.Sections, section4{Index: len(p.Sections), Start: a.String(), End: b.String()})
	return true
}

// poolInto4 imports a pool declaration's ranges into p.
func (x *dhcpdCtx) poolInto4(s *dstmt, p *pool4, sub netip.Prefix) {
	allow, deny, _ := x.poolAccess(s.block)
	for _, st := range s.block {
		switch st.word(0) {
		case "range":
			if x.range4(st, p, sub) {
				sec := &p.Sections[len(p.Sections)-1]
				sec.Allow, sec.Deny = allow, deny
			}
		case "allow", "deny":
		default:
			x.rep.add(st.line, "%s (in a pool): %s", st.text(), noEquivalent)
		}
	}
}

// pool places a shared-network level pool's ranges into the subnet that
// contains them.
func (x *dhcpdCtx) pool(s *dstmt) {
	allow, deny, _ := x.poolAccess(s.block)
	for _, st := range s.block {
		switch st.word(0) {
		case "range":
			vals := values(st, 1)
			if len(vals) > 0 && vals[0].s == "dynamic-bootp" {
				vals = vals[1:]
			}
			var target *pool4
			if len(vals) > 0 && x.out4 != nil {
				if a, err := netip.ParseAddr(vals[0].s); err == nil {
					for _, p := range x.out4.Pools {
						if netip.MustParsePrefix(p.Subnet).Contains(a) {
							target = p
						}
					}
				}
			}
			if target == nil {
				x.rep.add(st.line, "%s: in no declared subnet; skipped", st.text())
				continue
			}
			if x.range4(st, target, netip.MustParsePrefix(target.Subnet)) {
				sec := &target.Sections[len(target.Sections)-1]
				sec.Allow, sec.Deny = allow, deny
			}
		case "range6":
			x.rep.add(st.line, "%s: pool6 ranges outside a subnet6 are not carried over", st.text())
		case "allow", "deny":
		default:
			x.rep.add(st.line, "%s (in a pool): %s", st.text(), noEquivalent)
		}
	}
}

func (x *dhcpdCtx) subnet6(s *dstmt, sc *dscope, shared string) {
	sub, err := netip.ParsePrefix(s.word(1))
	if err != nil || !sub.Addr().Is6() {
		x.rep.add(s.line, "%s: not an IPv6 prefix; skipped", s.text())
		return
	}
	sub = sub.Masked()
	for _, st := range s.block {
		if !st.open {
			x.param(st, sc)
		}
	}
	p := &pool6{Name: x.uniq(poolName(sub)), Subnet: sub.String(), SharedNetwork: shared}
	if sc.leaseTime != x.out6.ValidLifetime {
		p.ValidLifetime = sc.leaseTime
	}
	p.opts6 = sc.o6
	for _, st := range s.block {
		switch st.word(0) {
		case "range6":
			vals := values(st, 1)
			if len(vals) == 2 && vals[1].s == "temporary" {
				x.rep.add(st.line, "%s: temporary addresses (IA_TA) are not served by leased", st.text())
				continue
			}
			var a, b netip.Addr
			var ok bool
			if len(vals) == 1 {
				a, b, ok = rangeOf(vals[0].s)
			} else if len(vals) == 2 {
				a, b, ok = rangeOf(vals[0].s + " - " + vals[1].s)
			}
			if !ok || !sub.Contains(a) || !sub.Contains(b) {
				x.rep.add(st.line, "%s: not a range inside %s; skipped", st.text(), sub)
				continue
			}
			p.Ranges = append(p.Ranges, range6{Start: a.String(), End: b.String()})
		case "prefix6":
			vals := values(st, 1)
			if len(vals) != 3 || !strings.HasPrefix(vals[2].s, "/") {
				x.rep.add(st.line, "%s: want prefix6 FIRST LAST /LEN; skipped", st.text())
				continue
			}
			dlen, err := strconv.Atoi(vals[2].s[1:])
			a, err1 := netip.ParseAddr(vals[0].s)
			b, err2 := netip.ParseAddr(vals[1].s)
			if err != nil || err1 != nil || err2 != nil {
				x.rep.add(st.line, "%s: skipped", st.text())
				continue
			}
			pp, exact := cover(a, b, dlen)
			switch {
			case !exact:
				x.rep.add(st.line, "%s: leased delegates from one aligned prefix; %s to %s is not one; skipped", st.text(), a, b)
			case pp.Overlaps(sub):
				x.rep.add(st.line, "%s: overlaps the subnet %s; leased delegates prefixes outside on-link subnets; skipped", st.text(), sub)
			case p.PD != nil:
				x.rep.add(st.line, "%s: leased delegates from one prefix per pool; skipped", st.text())
			default:
				p.PD = &pd6{Prefix: pp.String(), Length: dlen}
			}
		default:
			if st.open {
				x.rep.add(st.line, "%s inside subnet6 %s: not carried over", st.text(), sub)
			}
		}
	}
	x.out6.Pools = append(x.out6.Pools, p)
}

// cover returns the prefix whose /dlen slots run from a to b, and whether
// a..b is exactly that prefix.
func cover(a, b netip.Addr, dlen int) (netip.Prefix, bool) {
	for bits := 0; bits <= dlen; bits++ {
		p := netip.PrefixFrom(a, bits).Masked()
		if p.Addr() == a && netip.PrefixFrom(lastAddr(p), dlen).Masked().Addr() == b && bits < dlen {
			return p, true
		}
	}
	return netip.Prefix{}, false
}

// host turns a host declaration into a reservation of the pool whose
// subnet holds its fixed address.
func (x *dhcpdCtx) host(s *dstmt) {
	var hw, cid, duid, circuit, remote, hostname string
	var opts []rawOpt
	var boot *boot4
	var hs dscope // a DHCPv6 host's own options
	var addrs []netip.Addr
	var pfx netip.Prefix
	name := s.word(1)
	for _, st := range s.block {
		switch st.word(0) {
		case "hardware":
			if st.word(1) == "ethernet" {
				hw = normHex(st.word(2))
			} else {
				x.rep.add(st.line, "host %s: %s: %s", name, st.text(), noEquivalent)
			}
		case "fixed-address", "fixed-address6":
			for _, v := range values(st, 1) {
				a, err := netip.ParseAddr(v.s)
				if err != nil {
					x.rep.add(st.line, "host %s: fixed-address %q is a host name; leased needs an address; not carried over", name, v.s)
					continue
				}
				addrs = append(addrs, a)
			}
		case "fixed-prefix6":
			if p, err := netip.ParsePrefix(st.word(1)); err == nil {
				pfx = p.Masked()
			}
		case "host-identifier":
			kind, v, isAgent := hostID(st)
			switch {
			case st.word(1) == "option" && st.word(2) == "dhcp6.client-id":
				duid = normHex(st.word(3))
			case isAgent && kind == "circuit" && !x.v6:
				circuit = v
			case isAgent && kind == "remote" && !x.v6:
				remote = v
			default:
				x.rep.add(st.line, "host %s: %s: %s", name, st.text(), noEquivalent)
			}
		case "option":
			if st.word(1) == "dhcp-client-identifier" && len(st.words) > 2 {
				w := st.words[2]
				if w.quoted {
					cid = "00" + hex.EncodeToString([]byte(w.s))
				} else {
					cid = normHex(w.s)
				}
				continue
			}
			if st.word(1) == "host-name" && len(st.words) == 3 && !x.v6 {
				hostname = st.word(2)
				continue
			}
			if x.v6 && (st.word(1) == "dhcp6.name-servers" || st.word(1) == "dhcp6.domain-search") {
				x.option(st, &hs)
				continue
			}
			if x.v6 {
				x.rep.add(st.line, "host %s: %s: per-host DHCPv6 options other than dhcp6.name-servers and dhcp6.domain-search are not carried over", name, st.text())
				continue
			}
			if o, ok := x.namedOption(st, "host "+name); ok {
				opts = append(opts, o)
			}
		case "next-server", "server-name", "filename":
			if x.v6 {
				x.rep.add(st.line, "host %s: %s: %s", name, st.text(), noEquivalent)
				continue
			}
			x.bootStmt(st, &boot, "host "+name)
		default:
			x.rep.add(st.line, "host %s: %s: %s", name, st.text(), noEquivalent)
		}
	}
	if x.v6 {
		x.host6(s, name, duid, hw, addrs, pfx, hs.o6)
		return
	}
	if len(addrs) == 0 {
		x.rep.add(s.line, "host %s: no fixed address; leased reservations bind an address; not carried over", name)
		return
	}
	if hw == "" && cid == "" && circuit == "" && remote == "" {
		x.rep.add(s.line, "host %s: neither hardware ethernet, dhcp-client-identifier nor host-identifier option agent.circuit-id/agent.remote-id; not carried over", name)
		return
	}
	if len(addrs) > 1 {
		x.rep.add(s.line, "host %s: leased reserves one address; %s used", name, addrs[0])
	}
	for _, p := range x.out4.Pools {
		if netip.MustParsePrefix(p.Subnet).Contains(addrs[0]) {
			r := res4{HWAddr: hw, Address: addrs[0].String(), Hostname: hostLabel(name), Options: opts, Boot: boot}
			if hostname != "" {
				r.Hostname = hostLabel(hostname)
			}
			switch {
			case hw != "":
			case cid != "":
				r.ClientID = cid
			case circuit != "":
				r.CircuitID = circuit
			default:
				r.RemoteID = remote
			}
			p.Reservations = append(p.Reservations, r)
			return
		}
	}
	x.rep.add(s.line, "host %s: %s is in no declared subnet; not carried over", name, addrs[0])
}

func (x *dhcpdCtx) host6(s *dstmt, name, duid, hw string, addrs []netip.Addr, pfx netip.Prefix, o opts6) {
	if duid == "" {
		why := "no host-identifier option dhcp6.client-id"
		if hw != "" {
			why = "hardware ethernet matches DUIDs containing a MAC, which leased reservations cannot express (they name the DUID)"
		}
		x.rep.add(s.line, "host %s: %s; not carried over", name, why)
		return
	}
	for _, p := range x.out6.Pools {
		sub := netip.MustParsePrefix(p.Subnet)
		r := res6{DUID: duid, Hostname: hostLabel(name), opts6: o}
		if len(addrs) > 0 && sub.Contains(addrs[0]) {
			r.Address = addrs[0].String()
		}
		if pfx.IsValid() && p.PD != nil && netip.MustParsePrefix(p.PD.Prefix).Contains(pfx.Addr()) && pfx.Bits() == p.PD.Length {
			r.Prefix = pfx.String()
		}
		if r.Address != "" || r.Prefix != "" {
			p.Reservations = append(p.Reservations, r)
			if pfx.IsValid() && r.Prefix == "" {
				x.rep.add(s.line, "host %s: fixed-prefix6 %s is not a delegable prefix of pool %s; not carried over", name, pfx, p.Name)
			}
			return
		}
	}
	x.rep.add(s.line, "host %s: its address and prefix are in no declared subnet6 or delegation prefix; not carried over", name)
}

// hostLabel keeps a dhcpd host name when it is a valid host name.
func hostLabel(n string) string {
	for _, r := range n {
		if !(r == '-' || r == '.' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return ""
		}
	}
	if strings.HasPrefix(n, "-") || strings.HasSuffix(n, "-") || strings.Contains(n, "..") {
		return ""
	}
	return n
}

// normHex writes "0:0:c0:5d:bd:95" as "00:00:c0:5d:bd:95".
func normHex(s string) string {
	parts := strings.Split(strings.ToLower(s), ":")
	for i, p := range parts {
		if len(p) == 1 {
			parts[i] = "0" + p
		}
	}
	return strings.Join(parts, ":")
}
