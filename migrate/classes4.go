package migrate

import (
	"encoding/hex"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"

	"github.com/leased/leased/config"
	yaml "go.yaml.in/yaml/v4"
)

// DHCPv4 client classes, reservation options and boot fields written for
// dhcpv4.client_classes, pools' and sections' allow/deny and reservations.

type class4 struct {
	Name    string   `yaml:"name"`
	Match   *match4  `yaml:"match,omitempty"`
	Options []rawOpt `yaml:"options,omitempty"`
	Boot    *boot4   `yaml:"boot,omitempty"`
}

type strMatch struct {
	Exact  string `yaml:"exact,omitempty"`
	Prefix string `yaml:"prefix,omitempty"`
}

type match4 struct {
	VendorClass *strMatch `yaml:"vendor_class,omitempty"`
	UserClass   *strMatch `yaml:"user_class,omitempty"`
	ClientID    *strMatch `yaml:"client_id,omitempty"`
	CircuitID   *strMatch `yaml:"circuit_id,omitempty"`
	RemoteID    *strMatch `yaml:"remote_id,omitempty"`
	ClientArch  []int     `yaml:"client_arch,omitempty,flow"`
	HWAddr      string    `yaml:"hwaddr,omitempty"`
	Known       *bool     `yaml:"known,omitempty"`
}

type boot4 struct {
	NextServer string `yaml:"next_server,omitempty"`
	ServerName string `yaml:"server_name,omitempty"`
	File       string `yaml:"file,omitempty"`
}

func (b *boot4) empty() bool { return b == nil || *b == boot4{} }

// bytesValue writes bytes the way config.BytesValue reads them: text when
// printable (and not starting with 0x), else 0x hex.
func bytesValue(b []byte) string {
	text := len(b) > 0 && !strings.HasPrefix(string(b), "0x")
	for _, c := range b {
		text = text && c >= 0x20 && c <= 0x7e
	}
	if text {
		return string(b)
	}
	return "0x" + hex.EncodeToString(b)
}

// Kea expression operands: a quoted string or a 0x hex literal.
var (
	keaString = `'((?:[^'\\]|\\.)*)'`
	keaHexLit = `0[xX]([0-9a-fA-F]+)`
	keaValue  = `(?:` + keaString + `|` + keaHexLit + `)`
	// option[N].text|hex == V, relay4[N].hex|text == V, pkt4.mac == V
	keaEq = regexp.MustCompile(`^(option\[(\d+)\]|relay4\[(\d+)\]|pkt4\.mac)\.?(text|hex)?\s*==\s*` + keaValue + `$`)
	// substring(option[N].hex|text, 0, L) == V
	keaSub = regexp.MustCompile(`^substring\(\s*(option\[(\d+)\]|relay4\[(\d+)\]|pkt4\.mac)\.?(text|hex)?\s*,\s*0\s*,\s*(\d+)\s*\)\s*==\s*` + keaValue + `$`)
	// member('KNOWN'), not member('KNOWN'), member('UNKNOWN')
	keaMember = regexp.MustCompile(`^(not\s+)?member\(\s*'(KNOWN|UNKNOWN)'\s*\)$`)
)

func keaOperand(m []string, si, hi int) ([]byte, bool) {
	if m[hi] != "" {
		if len(m[hi])%2 == 1 {
			m[hi] = "0" + m[hi]
		}
		b, err := hex.DecodeString(m[hi])
		return b, err == nil
	}
	s, err := strconv.Unquote(`"` + strings.ReplaceAll(m[si], `"`, `\"`) + `"`)
	if err != nil {
		return nil, false
	}
	return []byte(s), true
}

// keaTest4 converts a Kea DHCPv4 class test expression to a leased match
// when it is one of the forms leased classes express: a conjunction (and)
// of equality or prefix tests on options 60, 61, 77, 93, relay4 sub-options
// 1 and 2, the MAC address, and KNOWN membership. It says why not otherwise.
func keaTest4(test string) (*match4, string) {
	m := &match4{}
	for _, term := range strings.Split(strings.TrimSpace(test), " and ") {
		term = strings.TrimSpace(term)
		for strings.HasPrefix(term, "(") && strings.HasSuffix(term, ")") && strings.Count(term, "(") == 1 {
			term = strings.TrimSpace(term[1 : len(term)-1])
		}
		if why := m.term(term); why != "" {
			return nil, why
		}
	}
	return m, ""
}

func (m *match4) term(term string) string {
	if g := keaMember.FindStringSubmatch(term); g != nil {
		known := (g[1] == "") == (g[2] == "KNOWN")
		if m.Known != nil && *m.Known != known {
			return fmt.Sprintf("%q contradicts another term", term)
		}
		m.Known = &known
		return ""
	}
	var field, opt, relay, val string
	var v []byte
	var ok, prefix bool
	if g := keaEq.FindStringSubmatch(term); g != nil {
		field, opt, relay = g[1], g[2], g[3]
		v, ok = keaOperand(g, 5, 6)
	} else if g := keaSub.FindStringSubmatch(term); g != nil {
		field, opt, relay, val = g[1], g[2], g[3], g[5]
		v, ok = keaOperand(g, 6, 7)
		if n, err := strconv.Atoi(val); ok && (err != nil || n != len(v)) {
			return fmt.Sprintf("%q: the substring length is not the length of the value", term)
		}
		prefix = true
	} else {
		return fmt.Sprintf("%q is not a form leased classes express (option[60|61|77|93], relay4[1|2], pkt4.mac equality or prefix, member('KNOWN'), joined by and)", term)
	}
	if !ok || len(v) == 0 {
		return fmt.Sprintf("%q: the value is empty or not valid", term)
	}
	sm := &strMatch{Exact: bytesValue(v)}
	if prefix {
		sm = &strMatch{Prefix: bytesValue(v)}
	}
	set := func(dst **strMatch) string {
		if *dst != nil {
			return fmt.Sprintf("%q: a second test of the same field", term)
		}
		*dst = sm
		return ""
	}
	switch {
	case field == "pkt4.mac":
		if len(v) > 16 {
			return fmt.Sprintf("%q: not a hardware address", term)
		}
		if m.HWAddr != "" {
			return fmt.Sprintf("%q: a second test of the same field", term)
		}
		m.HWAddr = fmt.Sprintf("%s/%d", hexColons(v), 8*len(v))
		return ""
	case relay == "1":
		return set(&m.CircuitID)
	case relay == "2":
		return set(&m.RemoteID)
	case opt == "60":
		return set(&m.VendorClass)
	case opt == "77":
		return set(&m.UserClass)
	case opt == "61":
		return set(&m.ClientID)
	case opt == "93" && !prefix && len(v) == 2 && m.ClientArch == nil:
		m.ClientArch = []int{int(v[0])<<8 | int(v[1])}
		return ""
	}
	return fmt.Sprintf("%q: leased classes do not test this field this way", term)
}

func hexColons(b []byte) string {
	s := make([]string, len(b))
	for i, c := range b {
		s[i] = fmt.Sprintf("%02x", c)
	}
	return strings.Join(s, ":")
}

// className makes a Kea or dhcpd class name a leased one
// ([A-Za-z0-9][A-Za-z0-9_.-]*; known/unknown are built in).
func className(s string) string {
	n := strings.Map(func(r rune) rune {
		if r < 0x80 && (r == '_' || r == '.' || r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return r
		}
		return '-'
	}, s)
	if n == "" || n[0] == '_' || n[0] == '.' || n[0] == '-' {
		n = "c" + n
	}
	if strings.EqualFold(n, "known") || strings.EqualFold(n, "unknown") {
		n = "class-" + n
	}
	return n
}

// keaClasses4 converts Dhcp4 client-classes. Kea's built-in KNOWN and
// UNKNOWN become leased's known and unknown in allow lists.
func (x *keaCtx) keaClasses4(n *yaml.Node) []class4 {
	var out []class4
	for _, c := range items(n) {
		name := str(get(c, "name"))
		k := class4{Name: className(name)}
		ok := true
		for _, q := range pairs(c) {
			switch q.key {
			case "name":
			case "test":
				m, why := keaTest4(str(q.v))
				if why != "" {
					x.rep.add(q.k.Line, "client class %q: test %s; the class is not carried over", name, why)
					ok = false
					continue
				}
				k.Match = m
			case "option-data":
				k.Options = x.namedOptions4(q.v, fmt.Sprintf("client class %q", name))
			case "next-server", "server-hostname", "boot-file-name":
				if k.Boot == nil {
					k.Boot = &boot4{}
				}
				x.bootField(q, k.Boot, fmt.Sprintf("client class %q", name))
			default:
				x.skip(q, fmt.Sprintf("client class %q: %s", name, noEquivalent))
			}
		}
		if k.Boot.empty() {
			k.Boot = nil
		}
		if !ok {
			continue
		}
		x.classes[name] = k.Name
		out = append(out, k)
	}
	return out
}

// bootField sets a Kea next-server, server-hostname or boot-file-name.
func (x *keaCtx) bootField(q kv, b *boot4, who string) {
	v := str(q.v)
	switch q.key {
	case "next-server":
		a, err := netip.ParseAddr(v)
		switch {
		case err != nil || !a.Is4():
			x.rep.add(q.k.Line, "%s: next-server %q is not an IPv4 address; not carried over", who, v)
		case !a.IsUnspecified():
			b.NextServer = a.String()
		}
	case "server-hostname":
		b.ServerName = v
	case "boot-file-name":
		b.File = v
	}
}

// classRefs maps Kea class names (client-class of a subnet or pool) to
// leased names; when one was not carried over the restriction is left out
// and reported.
func (x *keaCtx) classRefs(line int, names []string, who string) ([]string, bool) {
	var out []string
	for _, n := range names {
		switch {
		case n == "KNOWN":
			out = append(out, "known")
		case n == "UNKNOWN":
			out = append(out, "unknown")
		case x.classes[n] != "":
			out = append(out, x.classes[n])
		default:
			x.rep.add(line, "%s: client class %q was not carried over (see its report); the restriction is left out", who, n)
			return nil, false
		}
	}
	return out, true
}

// namedOptions4 converts option-data to {name, value} options (checked
// against leased's registry) or {code, hex} for csv-format false.
func (x *keaCtx) namedOptions4(n *yaml.Node, who string) []rawOpt {
	var out []rawOpt
	// Options in a space vendor-N go into vivso-suboptions (125) with
	// enterprise N when the list has that option.
	vendor := map[string][]*yaml.Node{}
	for _, od := range items(n) {
		if sp := str(get(od, "space")); strings.HasPrefix(sp, "vendor-") {
			vendor[sp] = append(vendor[sp], od)
		}
	}
	used := map[string]bool{}
	for _, od := range items(n) {
		name, data := str(get(od, "name")), strings.ReplaceAll(str(get(od, "data")), `\,`, ",")
		code, hasCode := num(get(od, "code"))
		sp := str(get(od, "space"))
		if used[sp] {
			continue
		}
		if (name == "vivso-suboptions" || code == 125) && (sp == "" || sp == "dhcp4") {
			if o, ok := x.vivso(od, data, vendor, used, who); ok {
				out = append(out, o)
			}
			continue
		}
		if sp != "" && sp != "dhcp4" {
			x.rep.add(od.Line, "%s: option %s in space %q: encapsulated option spaces are not carried over", who, optLabel(name, code), sp)
			continue
		}
		if name == "" && hasCode {
			name, _ = config.OptionName4(int(code))
		}
		if str(get(od, "csv-format")) == "false" {
			b, err := hex.DecodeString(strings.NewReplacer(":", "", " ", "", "0x", "").Replace(data))
			if err != nil || !hasCode && name == "" {
				x.rep.add(od.Line, "%s: option %s = %q: not hex bytes; not carried over", who, optLabel(name, code), data)
				continue
			}
			if !hasCode {
				n, _ := x.registryCode(name)
				code = int64(n)
			}
			out = append(out, rawOpt{Code: int(code), Hex: hex.EncodeToString(b)})
			continue
		}
		if err := config.CheckOption4(name, data); name == "" || err != nil {
			why := "no leased registry name for it"
			if err != nil && name != "" {
				why = err.Error()
			}
			x.rep.add(od.Line, "%s: option %s = %q: %s; not carried over", who, optLabel(name, code), data, why)
			continue
		}
		rc, _ := x.registryCode(name)
		out = append(out, rawOpt{Name: name, Value: data, Code: rc})
	}
	return out
}

func (x *keaCtx) registryCode(name string) (int, bool) {
	for c := 1; c < 255; c++ {
		if n, ok := config.OptionName4(c); ok && n == name {
			return c, true
		}
	}
	return 0, false
}

// keaIdentifier reads a Kea host identifier: hex bytes (01:11:22 or
// 011122) or a quoted string ('port1').
func keaIdentifier(s string) ([]byte, bool) {
	s = strings.TrimSpace(s)
	if len(s) >= 2 && s[0] == '\'' && s[len(s)-1] == '\'' {
		return []byte(s[1 : len(s)-1]), len(s) > 2
	}
	b, err := hex.DecodeString(strings.NewReplacer(":", "", " ", "").Replace(strings.TrimPrefix(s, "0x")))
	return b, err == nil && len(b) > 0
}

// resClasses maps a reservation's client-classes to leased names, leaving
// out (and reporting) the ones not carried over.
func (x *keaCtx) resClasses(line int, names []string, who string) []string {
	var out []string
	for _, n := range names {
		if x.classes[n] == "" {
			x.rep.add(line, "%s: client class %q was not carried over (see its report); the reservation is not put in it", who, n)
			continue
		}
		out = append(out, x.classes[n])
	}
	return out
}

// Kea's standard vendor-4491 (CableLabs) DHCPv4 sub-options leased can
// write: name → code; their values are IPv4 address lists.
var vendor4491 = map[string]int{"tftp-servers": 2}

// vivso converts vivso-suboptions (data: the enterprise number) with the
// options of space vendor-N of the same list.
func (x *keaCtx) vivso(od *yaml.Node, data string, vendor map[string][]*yaml.Node, used map[string]bool, who string) (rawOpt, bool) {
	ent, err := strconv.ParseUint(strings.TrimSpace(data), 10, 32)
	if err != nil {
		x.rep.add(od.Line, "%s: option vivso-suboptions = %q: not an enterprise number; not carried over", who, data)
		return rawOpt{}, false
	}
	sp := fmt.Sprintf("vendor-%d", ent)
	used[sp] = true
	o := rawOpt{Name: "vivso-suboptions", Code: 125, Enterprise: int(ent)}
	for _, s := range vendor[sp] {
		name, v := str(get(s, "name")), strings.ReplaceAll(str(get(s, "data")), `\,`, ",")
		code, hasCode := num(get(s, "code"))
		if !hasCode && ent == 4491 {
			c, ok := vendor4491[name]
			code, hasCode = int64(c), ok
		}
		switch {
		case !hasCode || code < 1 || code > 254:
			x.rep.add(s.Line, "%s: option %q in space %q: no code leased knows; not carried over", who, name, sp)
		case str(get(s, "csv-format")) == "false":
			b, err := hex.DecodeString(strings.NewReplacer(":", "", " ", "", "0x", "").Replace(v))
			if err != nil {
				x.rep.add(s.Line, "%s: option %s in space %q = %q: not hex bytes; not carried over", who, optLabel(name, code), sp, v)
				continue
			}
			o.Suboptions = append(o.Suboptions, subOpt{Code: int(code), Hex: hex.EncodeToString(b)})
		case ent == 4491 && vendor4491[name] == int(code):
			l, ok := addrList(v, false)
			if !ok {
				x.rep.add(s.Line, "%s: option %s in space %q = %q: not IPv4 addresses; not carried over", who, optLabel(name, code), sp, v)
				continue
			}
			o.Suboptions = append(o.Suboptions, subOpt{Code: int(code), IPs: l})
		default:
			x.rep.add(s.Line, "%s: option %s in space %q: its type is unknown to leased (give csv-format false and hex); not carried over", who, optLabel(name, code), sp)
		}
	}
	if len(o.Suboptions) == 0 {
		x.rep.add(od.Line, "%s: option vivso-suboptions %d: no sub-option carried over; not carried over", who, ent)
		return rawOpt{}, false
	}
	return o, true
}
