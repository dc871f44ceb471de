package migrate

import (
	"encoding/hex"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/leased/leased/config"
	yaml "go.yaml.in/yaml/v4"
)

// StripComments removes Kea's comments from a JSON configuration: "//"
// and "#" to the end of the line, and "/* */" blocks, but never inside a
// string. Comment bytes become spaces (newlines are kept) so that line
// numbers stay those of the source.
func StripComments(src []byte) []byte {
	out := make([]byte, len(src))
	copy(out, src)
	inStr, esc := false, false
	for i := 0; i < len(out); i++ {
		c := out[i]
		if inStr {
			switch {
			case esc:
				esc = false
			case c == '\\':
				esc = true
			case c == '"':
				inStr = false
			}
			continue
		}
		switch {
		case c == '"':
			inStr = true
		case c == '#' || (c == '/' && i+1 < len(out) && out[i+1] == '/'):
			for ; i < len(out) && out[i] != '\n'; i++ {
				out[i] = ' '
			}
		case c == '/' && i+1 < len(out) && out[i+1] == '*':
			out[i], out[i+1] = ' ', ' '
			for i += 2; i < len(out); i++ {
				if out[i] == '*' && i+1 < len(out) && out[i+1] == '/' {
					out[i], out[i+1] = ' ', ' '
					i++
					break
				}
				if out[i] != '\n' {
					out[i] = ' '
				}
			}
		}
	}
	return out
}

// node helpers over a parsed JSON document (JSON is YAML; yaml.Node keeps
// line numbers).

type kv struct {
	key string
	k   *yaml.Node
	v   *yaml.Node
}

func pairs(n *yaml.Node) []kv {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	var out []kv
	for i := 0; i+1 < len(n.Content); i += 2 {
		out = append(out, kv{n.Content[i].Value, n.Content[i], n.Content[i+1]})
	}
	return out
}

func get(n *yaml.Node, key string) *yaml.Node {
	for _, p := range pairs(n) {
		if p.key == key {
			return p.v
		}
	}
	return nil
}

func str(n *yaml.Node) string {
	if n == nil || n.Kind != yaml.ScalarNode {
		return ""
	}
	return n.Value
}

func num(n *yaml.Node) (int64, bool) {
	if n == nil || n.Kind != yaml.ScalarNode {
		return 0, false
	}
	v, err := strconv.ParseInt(n.Value, 10, 64)
	return v, err == nil
}

func items(n *yaml.Node) []*yaml.Node {
	if n == nil || n.Kind != yaml.SequenceNode {
		return nil
	}
	return n.Content
}

// keaCtx converts one Kea file.
type keaCtx struct {
	rep   report
	names map[string]bool
	// classes maps the Kea DHCPv4 client classes carried over to their
	// leased names.
	classes map[string]string
	// classes6 is the same for Dhcp6.
	classes6 map[string]string
	// v4 is set while Dhcp4 is converted.
	v4 bool
}

// FromKea converts a Kea 2.x configuration (kea-dhcp4.conf or
// kea-dhcp6.conf, or one file with both Dhcp4 and Dhcp6) into leased's
// YAML. file names the source in the report.
func FromKea(file string, src []byte) (*Result, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(StripComments(src), &doc); err != nil {
		return nil, fmt.Errorf("migrate: %s: not Kea JSON: %w", file, err)
	}
	if len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("migrate: %s: not a Kea configuration (want an object with Dhcp4 or Dhcp6)", file)
	}
	x := &keaCtx{rep: report{file: file}, names: map[string]bool{}, classes: map[string]string{}, classes6: map[string]string{}}
	out := &outConfig{}
	found := false
	for _, p := range pairs(doc.Content[0]) {
		switch p.key {
		case "Dhcp4":
			out.DHCPv4, found = x.dhcp4(p.v), true
		case "Dhcp6":
			out.DHCPv6, found = x.dhcp6(p.v), true
		default:
			x.rep.add(p.k.Line, "%s: not a DHCP server section; leased has no equivalent", p.key)
		}
	}
	if !found {
		return nil, fmt.Errorf("migrate: %s: no Dhcp4 or Dhcp6 section", file)
	}
	y, err := marshal(fmt.Sprintf("# Converted from Kea configuration %s by leasectl import kea-config.\n# Check the report of what was not carried over.\n", file), out)
	if err != nil {
		return nil, err
	}
	sortItems(x.rep.items)
	return &Result{YAML: y, Skipped: x.rep.items}, nil
}

func (x *keaCtx) skip(p kv, why string) {
	x.rep.add(p.k.Line, "%s: %s", p.key, why)
}

const noEquivalent = "leased has no equivalent; not carried over"

func (x *keaCtx) interfaces(n *yaml.Node) []string {
	var out []string
	ic := get(n, "interfaces-config")
	for _, it := range items(get(ic, "interfaces")) {
		name := str(it)
		if name == "*" {
			x.rep.add(it.Line, "interfaces: \"*\" (all interfaces): leased serves the interfaces it lists; name them")
			continue
		}
		name, _, _ = strings.Cut(name, "/") // eth0/192.0.2.1: leased listens on the interface
		out = append(out, name)
	}
	for _, p := range pairs(ic) {
		if p.key != "interfaces" {
			x.skip(p, noEquivalent)
		}
	}
	if len(out) == 0 {
		line := n.Line
		if ic != nil {
			line = ic.Line
		}
		x.rep.add(line, "interfaces-config lists no interface; %q written as a placeholder: set the interfaces to serve", placeholderInterface)
		out = []string{placeholderInterface}
	}
	return out
}

func (x *keaCtx) name(prefix string, sub *yaml.Node, i int) string {
	n := fmt.Sprintf("%s-%d", prefix, i+1)
	if id, ok := num(get(sub, "id")); ok {
		n = fmt.Sprintf("%s-%d", prefix, id)
	}
	for x.names[n] {
		n += "x"
	}
	x.names[n] = true
	return n
}

// timers reads valid-lifetime, renew-timer, rebind-timer (and
// preferred-lifetime) of a scope; values below leased's minimum are
// reported.
type timers struct{ valid, pref, t1, t2 string }

func (x *keaCtx) timers(n *yaml.Node) timers {
	var t timers
	for _, p := range pairs(n) {
		v, ok := num(p.v)
		if !ok {
			continue
		}
		switch p.key {
		case "valid-lifetime":
			// DHCPv4 lease times down to config.MinLeaseTime are
			// accepted (with a warning below a minute); DHCPv6 needs 60s.
			min := int64(60)
			if x.v4 {
				min = int64(config.MinLeaseTime / time.Second)
			}
			if v < min {
				x.rep.add(p.k.Line, "valid-lifetime %d: leased needs at least %ds; the default is used", v, min)
				continue
			}
			t.valid = seconds(v)
		case "preferred-lifetime":
			t.pref = seconds(v)
		case "renew-timer":
			t.t1 = seconds(v)
		case "rebind-timer":
			t.t2 = seconds(v)
		}
	}
	return t
}

var timerKeys = map[string]bool{"valid-lifetime": true, "preferred-lifetime": true, "renew-timer": true, "rebind-timer": true}

// Keys that describe Kea's own machinery: reported with a pointer to what
// leased does instead.
var keaMachinery = map[string]string{
	"lease-database":               "leased keeps leases in its own store (data_dir or store.postgres); bring them over with 'leased store import --from kea-csv'",
	"hosts-database":               "host reservations from a database are not read; export them into reservations",
	"hosts-databases":              "host reservations from a database are not read; export them into reservations",
	"control-socket":               "leased's control API is set with control.socket",
	"loggers":                      "leased logs with log_level",
	"expired-leases-processing":    "leased reclaims expired leases itself",
	"hooks-libraries":              "Kea hooks have no equivalent",
	"dhcp-ddns":                    "see leased's ddns section",
	"multi-threading":              "leased is multi-threaded by design",
	"sanity-checks":                "leased validates leases on load",
	"host-reservation-identifiers": "leased matches reservations by the identifiers each reservation gives",
}

func (x *keaCtx) other(p kv, handled map[string]bool) {
	if handled[p.key] || timerKeys[p.key] {
		return
	}
	if why, ok := keaMachinery[p.key]; ok {
		x.skip(p, why)
		return
	}
	x.skip(p, noEquivalent)
}

// ---- DHCPv4 ----

func (x *keaCtx) dhcp4(n *yaml.Node) *out4 {
	x.v4 = true
	defer func() { x.v4 = false }()
	o := &out4{Interfaces: x.interfaces(n)}
	t := x.timers(n)
	o.LeaseTime, o.T1, o.T2 = t.valid, t.t1, t.t2
	var global opts4
	handled := map[string]bool{"interfaces-config": true, "option-data": true, "subnet4": true, "shared-networks": true, "authoritative": true}
	// Classes first: subnets, pools and reservations refer to them.
	if c := get(n, "client-classes"); c != nil {
		o.ClientClasses = x.keaClasses4(c)
	}
	var globalBoot *boot4
	for _, p := range pairs(n) {
		switch p.key {
		case "option-data":
			x.options4(p.v, &global)
		case "authoritative":
			o.Authoritative = str(p.v) == "true"
		case "subnet4":
			for i, s := range items(p.v) {
				if pl := x.subnet4(s, i, &global); pl != nil {
					o.Pools = append(o.Pools, pl)
				}
			}
		case "shared-networks":
			for _, sn := range items(p.v) {
				nm := str(get(sn, "name"))
				for i, s := range items(get(sn, "subnet4")) {
					if pl := x.subnet4(withParent(s, sn, i == 0, "subnet4"), i, &global); pl != nil {
						pl.SharedNetwork = sanitize(nm)
						o.Pools = append(o.Pools, pl)
					}
				}
			}
		case "client-classes":
		case "next-server", "server-hostname", "boot-file-name":
			if globalBoot == nil {
				globalBoot = &boot4{}
			}
			x.bootField(p, globalBoot, "Dhcp4")
		default:
			x.other(p, handled)
		}
	}
	// Global boot fields are inherited field by field (Kea's scopes).
	if !globalBoot.empty() {
		for _, pl := range o.Pools {
			b := *globalBoot
			if pl.Boot != nil {
				for _, f := range []struct{ own, g *string }{{&pl.Boot.NextServer, &b.NextServer}, {&pl.Boot.ServerName, &b.ServerName}, {&pl.Boot.File, &b.File}} {
					if *f.own != "" {
						*f.g = *f.own
					}
				}
			}
			pl.Boot = &b
		}
	}
	if len(o.Pools) == 0 {
		x.rep.add(n.Line, "Dhcp4 has no subnet that could be carried over; the dhcpv4 section is left out")
		return nil
	}
	return o
}

func inherit4(o, parent opts4) opts4 {
	if o.Gateway == "" && o.Routers == nil {
		o.Gateway, o.Routers = parent.Gateway, parent.Routers
	}
	if o.DNS == nil {
		o.DNS = parent.DNS
	}
	if o.DomainName == "" {
		o.DomainName = parent.DomainName
	}
	if o.DomainSearch == nil {
		o.DomainSearch = parent.DomainSearch
	}
	if o.NTP == nil {
		o.NTP = parent.NTP
	}
	if o.MTU == 0 {
		o.MTU = parent.MTU
	}
	if o.TFTPServer == "" {
		o.TFTPServer = parent.TFTPServer
	}
	if o.BootFile == "" {
		o.BootFile = parent.BootFile
	}
	o.Options = mergeOpts(o.Options, parent.Options)
	return o
}

func mergeOpts(own, parent []rawOpt) []rawOpt {
	out := append([]rawOpt(nil), own...)
	for _, p := range parent {
		dup := false
		for _, q := range own {
			dup = dup || q.Code == p.Code
		}
		if !dup {
			out = append(out, p)
		}
	}
	return out
}

// Kea DHCPv4 option names leased has keys for, by code.
var keaNames4 = map[string]int{
	"routers": 3, "domain-name-servers": 6, "domain-name": 15, "domain-search": 119,
	"ntp-servers": 42, "interface-mtu": 26, "tftp-server-name": 66, "boot-file-name": 67,
}

// options codes leased manages itself (DHCPv4): not writable as raw options.
var managed4 = map[int]bool{0: true, 1: true, 3: true, 6: true, 12: true, 15: true, 26: true, 42: true, 50: true, 51: true, 52: true,
	53: true, 54: true, 55: true, 58: true, 59: true, 61: true, 66: true, 67: true, 82: true, 90: true, 119: true, 121: true, 145: true, 255: true}

func (x *keaCtx) options4(n *yaml.Node, o *opts4) {
	for _, od := range items(n) {
		name, data := str(get(od, "name")), strings.ReplaceAll(str(get(od, "data")), `\,`, ",")
		code, hasCode := num(get(od, "code"))
		if !hasCode {
			c, ok := keaNames4[name]
			if !ok {
				// A registry option leased has no key for: {name, value}.
				rc, known := x.registryCode(name)
				if err := config.CheckOption4(name, data); !known || err != nil || str(get(od, "csv-format")) == "false" {
					x.rep.add(od.Line, "option %q: no leased key for it; add it under options with its code and hex value", name)
					continue
				}
				o.Options = append(o.Options, rawOpt{Name: name, Value: data, Code: rc})
				continue
			}
			code = int64(c)
		}
		if sp := str(get(od, "space")); sp != "" && sp != "dhcp4" {
			x.rep.add(od.Line, "option %s in space %q: encapsulated option spaces are not carried over", optLabel(name, code), sp)
			continue
		}
		csv := str(get(od, "csv-format")) != "false"
		if code == 3 && csv {
			if l, ok := addrList(data, false); ok && len(l) > 1 {
				o.Gateway, o.Routers = "", l
				continue
			}
		}
		if !x.option4(int(code), data, csv, o) {
			x.rep.add(od.Line, "option %s = %q: cannot be written as a leased value", optLabel(name, code), data)
		}
	}
}

func optLabel(name string, code int64) string {
	if name != "" {
		return fmt.Sprintf("%q (%d)", name, code)
	}
	return strconv.FormatInt(code, 10)
}

func (x *keaCtx) option4(code int, data string, csv bool, o *opts4) bool {
	if !csv {
		b, err := hex.DecodeString(strings.NewReplacer(":", "", " ", "", "0x", "").Replace(data))
		if err != nil || managed4[code] || code < 1 || code > 254 {
			return false
		}
		o.Options = append(o.Options, rawOpt{Code: code, Hex: hex.EncodeToString(b)})
		return true
	}
	switch code {
	case 3:
		l, ok := addrList(data, false)
		if !ok {
			return false
		}
		o.Gateway, o.Routers = l[0], nil
	case 6:
		l, ok := addrList(data, false)
		if !ok {
			return false
		}
		o.DNS = l
	case 15:
		o.DomainName = strings.TrimSpace(data)
	case 119:
		o.DomainSearch = textList(data)
	case 42:
		l, ok := addrList(data, false)
		if !ok {
			return false
		}
		o.NTP = l
	case 26:
		v, err := strconv.Atoi(strings.TrimSpace(data))
		if err != nil {
			return false
		}
		o.MTU = v
	case 66:
		o.TFTPServer = strings.TrimSpace(data)
	case 67:
		o.BootFile = strings.TrimSpace(data)
	default:
		// A textual value for a code leased has no key for: kept as text
		// only when it is plainly text (Kea types it by its definition).
		return false
	}
	return true
}

func (x *keaCtx) subnet4(s *yaml.Node, i int, parent *opts4) *pool4 {
	sub, err := netip.ParsePrefix(str(get(s, "subnet")))
	if err != nil || !sub.Addr().Is4() {
		x.rep.add(s.Line, "subnet4 entry without a valid IPv4 subnet (%q): skipped", str(get(s, "subnet")))
		return nil
	}
	sub = sub.Masked()
	p := &pool4{Name: x.name("subnet4", s, i), Subnet: sub.String()}
	t := x.timers(s)
	p.LeaseTime, p.T1, p.T2 = t.valid, t.t1, t.t2
	var own opts4
	handled := map[string]bool{"subnet": true, "id": true, "pools": true, "option-data": true, "reservations": true, "relay": true, "interface": true, "authoritative": true}
	for _, q := range pairs(s) {
		switch q.key {
		case "option-data":
			x.options4(q.v, &own)
		case "pools":
			for _, pl := range items(q.v) {
				a, b, ok := rangeOf(str(get(pl, "pool")))
				if !ok || !sub.Contains(a) || !sub.Contains(b) {
					x.rep.add(pl.Line, "pool %q: not a range inside %s; skipped", str(get(pl, "pool")), sub)
					continue
				}
				sec := section4{Index: len(p.Sections), Start: a.String(), End: b.String()}
				for _, r := range pairs(pl) {
					switch r.key {
					case "pool":
					case "client-class":
						sec.Allow, _ = x.classRefs(r.k.Line, []string{str(r.v)}, fmt.Sprintf("pool %s client-class", str(get(pl, "pool"))))
					case "require-client-classes":
						x.skip(r, "require-client-classes (classes evaluated late, only-if-required): leased evaluates every class for every request; not carried over")
					default:
						x.skip(r, "pool-level parameter: "+noEquivalent)
					}
				}
				p.Sections = append(p.Sections, sec)
			}
		case "reservations":
			for _, r := range items(q.v) {
				if rr, ok := x.res4(r, sub); ok {
					p.Reservations = append(p.Reservations, rr)
				}
			}
		case "relay":
			for _, a := range items(get(q.v, "ip-addresses")) {
				if ip, err := netip.ParseAddr(str(a)); err == nil && ip.Is4() && !ip.IsUnspecified() {
					p.Relays = append(p.Relays, ip.String())
				}
			}
			if ip, err := netip.ParseAddr(str(get(q.v, "ip-address"))); err == nil && ip.Is4() && !ip.IsUnspecified() {
				p.Relays = append(p.Relays, ip.String())
			}
		case "authoritative":
			v := str(q.v) == "true"
			p.Authoritative = &v
		case "interface":
			// leased picks the pool by the interface's address in subnet.
		case "next-server", "server-hostname", "boot-file-name":
			if p.Boot == nil {
				p.Boot = &boot4{}
			}
			x.bootField(q, p.Boot, fmt.Sprintf("subnet %s", sub))
		case "client-class":
			p.Allow, _ = x.classRefs(q.k.Line, []string{str(q.v)}, fmt.Sprintf("subnet %s client-class", sub))
		case "require-client-classes":
			x.skip(q, "require-client-classes (classes evaluated late, only-if-required): leased evaluates every class for every request; not carried over")
		default:
			x.other(q, handled)
		}
	}
	p.opts4 = inherit4(own, *parent)
	if p.Boot.empty() {
		p.Boot = nil
	}
	return p
}

func (x *keaCtx) res4(r *yaml.Node, sub netip.Prefix) (res4, bool) {
	var out res4
	ip, err := netip.ParseAddr(str(get(r, "ip-address")))
	if err != nil || !sub.Contains(ip) {
		x.rep.add(r.Line, "reservation without an ip-address inside %s: skipped", sub)
		return out, false
	}
	out.Address = ip.String()
	out.Hostname = str(get(r, "hostname"))
	if get(r, "hw-address") == nil && get(r, "client-id") == nil && get(r, "circuit-id") == nil {
		x.rep.add(r.Line, "reservation of %s: identified neither by hw-address, client-id nor circuit-id (leased's DHCPv4 reservations); skipped", ip)
		return out, false
	}
	who := fmt.Sprintf("reservation of %s", ip)
	for _, q := range pairs(r) {
		switch q.key {
		case "ip-address", "hostname":
		case "hw-address":
			out.HWAddr = strings.ToLower(str(q.v))
		case "client-id":
			out.ClientID = strings.ToLower(str(q.v))
		case "circuit-id":
			// Kea: hex (01:11:22) or a quoted string ('port1').
			v, ok := keaIdentifier(str(q.v))
			if !ok {
				x.rep.add(q.k.Line, "%s: circuit-id %q is neither hex nor a quoted string; skipped", who, str(q.v))
				return out, false
			}
			out.CircuitID = bytesValue(v)
		case "option-data":
			out.Options = x.namedOptions4(q.v, who)
		case "next-server", "server-hostname", "boot-file-name":
			if out.Boot == nil {
				out.Boot = &boot4{}
			}
			x.bootField(q, out.Boot, who)
		case "client-classes":
			var names []string
			for _, c := range items(q.v) {
				names = append(names, str(c))
			}
			out.ClientClasses = x.resClasses(q.k.Line, names, who)
		default:
			x.skip(q, fmt.Sprintf("reservation of %s: %s", ip, noEquivalent))
		}
	}
	if out.Boot.empty() {
		out.Boot = nil
	}
	return out, true
}

// ---- DHCPv6 ----

func (x *keaCtx) dhcp6(n *yaml.Node) *out6 {
	o := &out6{Interfaces: x.interfaces(n)}
	t := x.timers(n)
	o.ValidLifetime, o.PreferredLifetime, o.T1, o.T2 = t.valid, t.pref, t.t1, t.t2
	if t.valid != "" && t.pref == "" {
		o.PreferredLifetime = t.valid // Kea's default preferred lifetime is its valid one
	}
	handled := map[string]bool{"interfaces-config": true, "option-data": true, "subnet6": true, "shared-networks": true, "rapid-commit": true}
	if c := get(n, "client-classes"); c != nil {
		o.ClientClasses = x.keaClasses6(c)
	}
	var subnets []struct {
		n      *yaml.Node
		shared string
	}
	for _, p := range pairs(n) {
		switch p.key {
		case "option-data":
			x.options6(p.v, &o.opts6, false)
		case "rapid-commit":
			o.RapidCommit = str(p.v) == "true"
		case "subnet6":
			for _, s := range items(p.v) {
				subnets = append(subnets, struct {
					n      *yaml.Node
					shared string
				}{s, ""})
			}
		case "shared-networks":
			for _, sn := range items(p.v) {
				nm := str(get(sn, "name"))
				for j, s := range items(get(sn, "subnet6")) {
					subnets = append(subnets, struct {
						n      *yaml.Node
						shared string
					}{withParent(s, sn, j == 0, "subnet6"), sanitize(nm)})
				}
			}
		case "client-classes":
			// converted first (below: pools refer to them)
		default:
			x.other(p, handled)
		}
	}
	for i, s := range subnets {
		if pl := x.subnet6(s.n, i); pl != nil {
			pl.SharedNetwork = s.shared
			o.Pools = append(o.Pools, pl)
		}
	}
	// A pool's interface must be served; Kea's subnet interface implies it.
	for _, pl := range o.Pools {
		if pl.Interface != "" && !slices.Contains(o.Interfaces, pl.Interface) {
			o.Interfaces = append(o.Interfaces, pl.Interface)
		}
	}
	if len(o.Pools) == 0 && len(o.DNS) == 0 && len(o.DomainSearch) == 0 && len(o.Options) == 0 {
		x.rep.add(n.Line, "Dhcp6 has no subnet and no global option that could be carried over; the dhcpv6 section is left out")
		return nil
	}
	return o
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '\t' || r == '/' || r == '\n' {
			return '-'
		}
		return r
	}, s)
}

var keaNames6 = map[string]int{"dns-servers": 23, "domain-search": 24, "sntp-servers": 31, "preference": 7, "bootfile-url": 59}

// DHCPv6 option codes leased sets itself.
var managed6 = map[int]bool{1: true, 2: true, 3: true, 4: true, 5: true, 6: true, 7: true, 8: true, 9: true, 11: true, 12: true, 13: true,
	14: true, 18: true, 19: true, 20: true, 23: true, 24: true, 25: true, 26: true, 56: true, 79: true}

// options6 reads option-data into o and returns the preference option's
// value (7), which only a pool can carry (pref); elsewhere it is reported.
func (x *keaCtx) options6(n *yaml.Node, o *opts6, pref bool) (preference int) {
	for _, od := range items(n) {
		name, data := str(get(od, "name")), str(get(od, "data"))
		code, hasCode := num(get(od, "code"))
		if !hasCode {
			c, ok := keaNames6[name]
			if !ok {
				x.rep.add(od.Line, "option %q: no leased key for it; add it under options with its code and hex value", name)
				continue
			}
			code = int64(c)
		}
		if sp := str(get(od, "space")); sp != "" && sp != "dhcp6" {
			x.rep.add(od.Line, "option %s in space %q: vendor option spaces are not carried over", optLabel(name, code), sp)
			continue
		}
		csv := str(get(od, "csv-format")) != "false"
		ok := false
		switch {
		case !csv:
			b, err := hex.DecodeString(strings.NewReplacer(":", "", " ", "", "0x", "").Replace(data))
			if err == nil && !managed6[int(code)] && code > 0 && code < 65536 {
				o.Options = append(o.Options, rawOpt{Code: int(code), Hex: hex.EncodeToString(b)})
				ok = true
			}
		case code == 23:
			o.DNS, ok = addrList(data, true)
		case code == 24:
			o.DomainSearch, ok = textList(data), true
		case code == 31:
			if l, good := addrList(data, true); good {
				var b []byte
				for _, a := range l {
					ip := netip.MustParseAddr(a).As16()
					b = append(b, ip[:]...)
				}
				o.Options = append(o.Options, rawOpt{Code: 31, Hex: hex.EncodeToString(b)})
				ok = true
			}
		case code == 59 && strings.TrimSpace(data) != "":
			// bootfile-url (RFC 5970 §3.1): a URL, sent as text
			o.Options = append(o.Options, rawOpt{Code: 59, Text: strings.TrimSpace(data)})
			ok = true
		case code == 7 && !pref:
			x.rep.add(od.Line, "option preference: leased sets it per pool (preference); not carried over here")
			continue
		case code == 7:
			v, err := strconv.ParseUint(strings.TrimSpace(data), 0, 8)
			if err == nil {
				preference, ok = int(v), true
			}
		}
		if !ok {
			x.rep.add(od.Line, "option %s = %q: cannot be written as a leased value", optLabel(name, code), data)
		}
	}
	return preference
}

func (x *keaCtx) subnet6(s *yaml.Node, i int) *pool6 {
	sub, err := netip.ParsePrefix(str(get(s, "subnet")))
	if err != nil || !sub.Addr().Is6() {
		x.rep.add(s.Line, "subnet6 entry without a valid IPv6 subnet (%q): skipped", str(get(s, "subnet")))
		return nil
	}
	sub = sub.Masked()
	p := &pool6{Name: x.name("subnet6", s, i), Subnet: sub.String()}
	t := x.timers(s)
	p.ValidLifetime, p.PreferredLifetime, p.T1, p.T2 = t.valid, t.pref, t.t1, t.t2
	handled := map[string]bool{"subnet": true, "id": true}
	// pd-pools first: reservations are checked against the delegation prefix.
	ordered := pairs(s)
	sort.SliceStable(ordered, func(i, j int) bool { return ordered[i].key == "pd-pools" && ordered[j].key != "pd-pools" })
	for _, q := range ordered {
		switch q.key {
		case "option-data":
			p.Preference = x.options6(q.v, &p.opts6, true)
		case "pools":
			for _, pl := range items(q.v) {
				a, b, ok := rangeOf(str(get(pl, "pool")))
				if !ok || !sub.Contains(a) || !sub.Contains(b) {
					x.rep.add(pl.Line, "pool %q: not a range inside %s; skipped", str(get(pl, "pool")), sub)
					continue
				}
				p.Ranges = append(p.Ranges, range6{Start: a.String(), End: b.String()})
				for _, r := range pairs(pl) {
					if r.key != "pool" {
						x.skip(r, "pool-level parameter: "+noEquivalent)
					}
				}
			}
		case "pd-pools":
			for _, pd := range items(q.v) {
				pfx, err := netip.ParseAddr(str(get(pd, "prefix")))
				plen, ok1 := num(get(pd, "prefix-len"))
				dlen, ok2 := num(get(pd, "delegated-len"))
				if err != nil || !ok1 || !ok2 || dlen <= plen || dlen > 128 || dlen-plen > 64 {
					x.rep.add(pd.Line, "pd-pool: not a valid prefix with prefix-len and delegated-len; skipped")
					continue
				}
				pp := netip.PrefixFrom(pfx, int(plen)).Masked()
				if pp.Overlaps(sub) {
					x.rep.add(pd.Line, "pd-pool %s overlaps the subnet %s: leased delegates prefixes outside on-link subnets; not carried over", pp, sub)
					continue
				}
				if p.PD != nil {
					x.rep.add(pd.Line, "pd-pool %s/%d: leased delegates from one prefix per pool; only the first pd-pool is carried over", pfx, plen)
					continue
				}
				p.PD = &pd6{Prefix: netip.PrefixFrom(pfx, int(plen)).Masked().String(), Length: int(dlen)}
				for _, r := range pairs(pd) {
					switch r.key {
					case "prefix", "prefix-len", "delegated-len":
					default:
						x.skip(r, "pd-pool parameter: "+noEquivalent)
					}
				}
			}
		case "reservations":
			for _, r := range items(q.v) {
				if rr, ok := x.res6(r, sub, p.PD); ok {
					p.Reservations = append(p.Reservations, rr)
				}
			}
		case "relay":
			for _, a := range items(get(q.v, "ip-addresses")) {
				if ip, err := netip.ParseAddr(str(a)); err == nil && ip.Is6() && !ip.IsUnspecified() && !sub.Contains(ip) {
					p.Links = append(p.Links, ip.String())
				}
			}
		case "interface":
			p.Interface = str(q.v)
		case "interface-id":
			p.InterfaceID = str(q.v)
		case "rapid-commit":
			v := str(q.v) == "true"
			p.RapidCommit = &v
		case "client-class":
			p.Allow = x.classRefs6(q.k.Line, str(q.v), fmt.Sprintf("subnet6 %s client-class", sub))
		case "require-client-classes":
			x.skip(q, "require-client-classes (classes evaluated late, only-if-required): leased evaluates every class for every request; not carried over")
		default:
			if !timerKeys[q.key] {
				x.other(q, handled)
			}
		}
	}
	return p
}

func (x *keaCtx) res6(r *yaml.Node, sub netip.Prefix, pd *pd6) (res6, bool) {
	var out res6
	duid := strings.ToLower(str(get(r, "duid")))
	if duid == "" {
		by := "another identifier"
		for _, p := range pairs(r) {
			switch p.key {
			case "hw-address", "flex-id", "circuit-id", "client-id":
				by = p.key
			}
		}
		x.rep.add(r.Line, "reservation by %s (leased reserves DHCPv6 bindings by DUID): skipped", by)
		return out, false
	}
	if _, err := hex.DecodeString(strings.ReplaceAll(duid, ":", "")); err != nil {
		x.rep.add(r.Line, "reservation duid %q is not hex: skipped", duid)
		return out, false
	}
	out.DUID = duid
	out.Hostname = str(get(r, "hostname"))
	for _, q := range pairs(r) {
		switch q.key {
		case "duid", "hostname":
		case "ip-addresses":
			for j, a := range items(q.v) {
				ip, err := netip.ParseAddr(str(a))
				switch {
				case err != nil || !sub.Contains(ip):
					x.rep.add(a.Line, "reservation %s: address %q is not inside %s; not carried over", duid, str(a), sub)
				case j > 0 || out.Address != "":
					x.rep.add(a.Line, "reservation %s: leased reserves one address per client; %s not carried over", duid, ip)
				default:
					out.Address = ip.String()
				}
			}
		case "prefixes":
			for _, a := range items(q.v) {
				pf, err := netip.ParsePrefix(str(a))
				switch {
				case err != nil || pd == nil:
					x.rep.add(a.Line, "reservation %s: prefix %q needs a pd-pool in the subnet; not carried over", duid, str(a))
				case !netip.MustParsePrefix(pd.Prefix).Contains(pf.Addr()) || pf.Bits() != pd.Length:
					x.rep.add(a.Line, "reservation %s: prefix %s is not a /%d inside the pd-pool %s (leased requires it); not carried over", duid, pf, pd.Length, pd.Prefix)
				case out.Prefix != "":
					x.rep.add(a.Line, "reservation %s: leased reserves one prefix per client; %s not carried over", duid, pf)
				default:
					out.Prefix = pf.Masked().String()
				}
			}
		case "option-data":
			x.options6(q.v, &out.opts6, false)
		default:
			x.skip(q, fmt.Sprintf("reservation %s: %s", duid, noEquivalent))
		}
	}
	if out.Address == "" && out.Prefix == "" {
		x.rep.add(r.Line, "reservation %s: nothing left to reserve; skipped", duid)
		return out, false
	}
	return out, true
}

// withParent returns subnet s with the shared-network sn's parameters it
// does not set itself (Kea's inheritance). Selectors that pick one pool in
// leased (interface, relay) go to the network's first subnet only; the
// others reach it through shared_network.
func withParent(s, sn *yaml.Node, first bool, list string) *yaml.Node {
	out := *s
	out.Content = append([]*yaml.Node(nil), s.Content...)
	for _, p := range pairs(sn) {
		switch p.key {
		case "name", list:
			continue
		case "interface", "interface-id", "relay":
			if !first {
				continue
			}
		}
		if get(s, p.key) == nil {
			out.Content = append(out.Content, p.k, p.v)
		}
	}
	return &out
}

// sortItems orders a report by line.
func sortItems(it []Item) {
	sort.SliceStable(it, func(i, j int) bool {
		li, lj := lineOf(it[i].Where), lineOf(it[j].Where)
		return li < lj
	})
}

func lineOf(where string) int {
	i := strings.LastIndexByte(where, ':')
	n, _ := strconv.Atoi(where[i+1:])
	return n
}
