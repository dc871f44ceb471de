package migrate

import (
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"

	"github.com/leased/leased/config"
)

// dhcpd classes (class "x" { match if ...; }), pool allow/deny, per-host
// options and boot fields.

var (
	// substring (option NAME, 0, N) = VALUE / substring (hardware, 1, N) = VALUE
	dhcpdSub = regexp.MustCompile(`^substring\s*\(\s*(option\s+\S+?|hardware)\s*,\s*(\d+)\s*,\s*(\d+)\s*\)\s*=$`)
	// option NAME = VALUE / hardware = VALUE
	dhcpdEq = regexp.MustCompile(`^(option\s+\S+|hardware)\s*=$`)
)

// dhcpdValue is a match's right-hand side: a quoted string (octal escapes
// decoded) or colon-separated hex bytes (1:52:54:0:0:1).
func dhcpdValue(w dtok) ([]byte, bool) {
	if w.quoted {
		return []byte(w.raw), w.raw != ""
	}
	var out []byte
	for _, p := range strings.Split(w.s, ":") {
		if len(p) == 0 || len(p) > 2 {
			return nil, false
		}
		b, err := strconv.ParseUint(p, 16, 8)
		if err != nil {
			return nil, false
		}
		out = append(out, byte(b))
	}
	return out, len(out) > 0
}

// dhcpdMatch converts "match if EXPR = VALUE;" (words after "match if")
// for the forms leased classes express.
func dhcpdMatch(words []dtok) (*match4, string) {
	if len(words) < 2 {
		return nil, "no expression"
	}
	var lhs []string
	for _, w := range words[:len(words)-1] {
		if w.quoted {
			return nil, "a string inside the expression"
		}
		lhs = append(lhs, w.s)
	}
	expr := strings.Join(lhs, " ")
	v, ok := dhcpdValue(words[len(words)-1])
	if !ok {
		return nil, fmt.Sprintf("the value %q is neither a string nor hex bytes", words[len(words)-1].s)
	}
	field, prefix := "", false
	if g := dhcpdSub.FindStringSubmatch(expr); g != nil {
		field, prefix = g[1], true
		off, _ := strconv.Atoi(g[2])
		n, _ := strconv.Atoi(g[3])
		if want := map[bool]int{true: 1, false: 0}[field == "hardware"]; off != want || n != len(v) {
			return nil, "a substring that is not a prefix of the value's length"
		}
	} else if g := dhcpdEq.FindStringSubmatch(expr); g != nil {
		field = g[1]
	} else {
		return nil, "not an equality or prefix test of one option or the hardware address"
	}
	sm := &strMatch{Exact: bytesValue(v)}
	if prefix {
		sm = &strMatch{Prefix: bytesValue(v)}
	}
	m := &match4{}
	switch strings.Join(strings.Fields(field), " ") {
	case "hardware":
		// dhcpd's hardware is the type byte, then the address.
		if !prefix {
			if len(v) < 2 || v[0] != 1 {
				return nil, "hardware = needs an Ethernet address (1:...)"
			}
			v = v[1:]
		}
		m.HWAddr = fmt.Sprintf("%s/%d", hexColons(v), 8*len(v))
	case "option vendor-class-identifier":
		m.VendorClass = sm
	case "option user-class":
		m.UserClass = sm
	case "option dhcp-client-identifier":
		m.ClientID = sm
	case "option agent.circuit-id":
		m.CircuitID = sm
	case "option agent.remote-id":
		m.RemoteID = sm
	default:
		return nil, fmt.Sprintf("%s: leased classes do not test it", field)
	}
	return m, ""
}

// classes4 converts the top-level class declarations (before the scopes
// that refer to them); the others are reported by scope.
func (x *dhcpdCtx) classes4(stmts []*dstmt) {
	for _, s := range stmts {
		if !s.open || s.word(0) != "class" || x.v6 {
			continue
		}
		x.done[s] = true
		name := s.word(1)
		k := class4{Name: className(name)}
		ok := true
		for _, st := range s.block {
			switch {
			case st.word(0) == "match" && st.word(1) == "if":
				m, why := dhcpdMatch(st.words[2:])
				if why != "" {
					x.rep.add(st.line, "class %s: %s: %s; the class is not carried over", name, st.text(), why)
					ok = false
					continue
				}
				k.Match = m
			case st.word(0) == "option" && !st.open:
				if o, ok := x.namedOption(st, "class "+name); ok {
					k.Options = append(k.Options, o)
				}
			case !st.open && x.bootStmt(st, &k.Boot, "class "+name):
			default:
				x.rep.add(st.line, "class %s: %s: %s", name, st.text(), noEquivalent)
				ok = ok && st.word(0) != "match" && st.word(0) != "spawn"
			}
		}
		if k.Boot.empty() {
			k.Boot = nil
		}
		if k.Match == nil && ok {
			x.rep.add(s.line, "class %s: no match if; dhcpd fills such classes with subclass declarations, which are not carried over; the class is not carried over", name)
			ok = false
		}
		if ok {
			x.classes[name] = k.Name
			x.out4.ClientClasses = append(x.out4.ClientClasses, k)
		}
	}
}

// bootStmt applies next-server, server-name or filename to *b (created
// when needed) and reports whether st was one of them.
func (x *dhcpdCtx) bootStmt(st *dstmt, b **boot4, who string) bool {
	var set func(*boot4)
	switch st.word(0) {
	case "next-server":
		a, err := netip.ParseAddr(st.word(1))
		if err != nil || !a.Is4() {
			x.rep.add(st.line, "%s: %s: leased needs an IPv4 address (it does not resolve host names); not carried over", who, st.text())
			return true
		}
		set = func(b *boot4) { b.NextServer = a.String() }
	case "server-name":
		set = func(b *boot4) { b.ServerName = st.word(1) }
	case "filename":
		set = func(b *boot4) { b.File = st.word(1) }
	default:
		return false
	}
	// A copy: scopes share their parent's value.
	var nb boot4
	if *b != nil {
		nb = **b
	}
	set(&nb)
	*b = &nb
	return true
}

// namedOption converts "option NAME VALUE[, VALUE...]" to a {name, value}
// option checked against leased's registry (dhcpd's option names are
// Kea's).
func (x *dhcpdCtx) namedOption(st *dstmt, who string) (rawOpt, bool) {
	name := st.word(1)
	var vals []string
	toks := values(st, 2)
	for _, v := range toks {
		vals = append(vals, v.s)
	}
	value := strings.Join(vals, ", ")
	// dhcpd writes flags as on/off (or true/false), unquoted.
	if len(toks) == 1 && !toks[0].quoted {
		switch value {
		case "on":
			value = "true"
		case "off":
			value = "false"
		}
	}
	code := 0
	for c := 1; c < 255 && code == 0; c++ {
		if n, ok := config.OptionName4(c); ok && n == name {
			code = c
		}
	}
	if code == 0 {
		x.rep.add(st.line, "%s: %s: no leased registry option %s; not carried over", who, st.text(), name)
		return rawOpt{}, false
	}
	if err := config.CheckOption4(name, value); err != nil || value == "" {
		x.rep.add(st.line, "%s: %s: %v; not carried over", who, st.text(), err)
		return rawOpt{}, false
	}
	return rawOpt{Name: name, Value: value, Code: code}, true
}

// poolAccess converts a pool's allow/deny statements; ok is false (and
// the rule reported) when one has no leased equivalent: then the pool
// gets no access rules at all, as before.
func (x *dhcpdCtx) poolAccess(block []*dstmt) (allow, deny []string, ok bool) {
	ok = true
	for _, st := range block {
		verb := st.word(0)
		if verb != "allow" && verb != "deny" {
			continue
		}
		var class string
		switch {
		case st.word(1) == "members" && st.word(2) == "of" && len(st.words) == 4:
			class = x.classes[st.word(3)]
			if class == "" {
				x.rep.add(st.line, "%s: class %q was not carried over (see its report); the pool's access rules are left out, the range is open to every client", st.text(), st.word(3))
				return nil, nil, false
			}
		case st.word(1) == "known-clients" && len(st.words) == 2:
			class = "known"
		case st.word(1) == "unknown-clients" && len(st.words) == 2:
			class = "unknown"
		default:
			x.rep.add(st.line, "%s: pool access rules other than members of, known-clients and unknown-clients are not carried over; the pool's access rules are left out, the range is open to every client", st.text())
			return nil, nil, false
		}
		if verb == "allow" {
			allow = append(allow, class)
		} else {
			deny = append(deny, class)
		}
	}
	return allow, deny, true
}

// hostID reads "host-identifier option agent.circuit-id|agent.remote-id V".
func hostID(st *dstmt) (string, string, bool) {
	if st.word(1) != "option" || len(st.words) != 4 {
		return "", "", false
	}
	v, ok := dhcpdValue(st.words[3])
	if !ok {
		return "", "", false
	}
	switch st.word(2) {
	case "agent.circuit-id":
		return "circuit", bytesValue(v), true
	case "agent.remote-id":
		return "remote", bytesValue(v), true
	}
	return "", "", false
}
