package migrate

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v4"
)

// Kea DHCPv6 client classes → dhcpv6.client_classes.

type class6 struct {
	Name  string  `yaml:"name"`
	Match *match6 `yaml:"match,omitempty"`
	opts6 `yaml:",inline"`
}

type match6 struct {
	DUID         *strMatch `yaml:"duid,omitempty"`
	VendorClass  *strMatch `yaml:"vendor_class,omitempty"`
	UserClass    *strMatch `yaml:"user_class,omitempty"`
	RemoteID     *strMatch `yaml:"remote_id,omitempty"`
	SubscriberID *strMatch `yaml:"subscriber_id,omitempty"`
	InterfaceID  *strMatch `yaml:"interface_id,omitempty"`
}

var (
	// option[N].hex == V, relay6[0].option[N].hex == V
	kea6Eq = regexp.MustCompile(`^(?:relay6\[(\d+)\]\.)?option\[(\d+)\]\.(?:hex|text)\s*==\s*` + keaValue + `$`)
	// substring(option[N].hex, OFF, LEN) == V
	kea6Sub = regexp.MustCompile(`^substring\(\s*(?:relay6\[(\d+)\]\.)?option\[(\d+)\]\.(?:hex|text)\s*,\s*(\d+)\s*,\s*(\d+)\s*\)\s*==\s*` + keaValue + `$`)
)

// keaTest6 converts a Kea DHCPv6 class test when leased expresses it:
// equality or prefix (substring from the start of the value) on the DUID
// (option 1), Interface-ID (18) and Subscriber-ID (38) of relay6[0]; a
// prefix of a user class (15, substring from 2: past the first
// instance's length), a vendor class (16, from 6: past the enterprise
// number and the length) and a relay6[0] remote-id (37, from 4: past the
// enterprise number); terms joined by and. leased tests every instance of
// options 15 and 16, and remote-id and subscriber-id of any relay, not
// only the first / relay6[0] (the same for one instance and one relay).
func keaTest6(test string) (*match6, string) {
	m := &match6{}
	for _, term := range strings.Split(strings.TrimSpace(test), " and ") {
		term = strings.TrimSpace(term)
		var relay, opt string
		var v []byte
		var ok bool
		off, n := 0, -1
		if g := kea6Eq.FindStringSubmatch(term); g != nil {
			relay, opt = g[1], g[2]
			v, ok = keaOperand(g, 3, 4)
		} else if g := kea6Sub.FindStringSubmatch(term); g != nil {
			relay, opt = g[1], g[2]
			off, _ = strconv.Atoi(g[3])
			n, _ = strconv.Atoi(g[4])
			v, ok = keaOperand(g, 5, 6)
		} else {
			return nil, fmt.Sprintf("%q is not a form leased classes express (equality or substring on option[1|15|16], relay6[0].option[18|37|38], joined by and)", term)
		}
		if !ok || len(v) == 0 || n >= 0 && n != len(v) {
			return nil, fmt.Sprintf("%q: the value is empty, not valid or not of the substring's length", term)
		}
		prefix := n >= 0
		sm := &strMatch{Exact: bytesValue(v)}
		if prefix {
			sm = &strMatch{Prefix: bytesValue(v)}
		}
		var dst **strMatch
		switch {
		case relay == "" && opt == "1" && off == 0:
			dst = &m.DUID
		case relay == "" && opt == "15" && prefix && off == 2:
			dst = &m.UserClass
		case relay == "" && opt == "16" && prefix && off == 6:
			dst = &m.VendorClass
		case relay == "0" && opt == "18" && off == 0:
			dst = &m.InterfaceID
		case relay == "0" && opt == "38" && off == 0:
			dst = &m.SubscriberID
		case relay == "0" && opt == "37" && prefix && off == 4:
			dst = &m.RemoteID
		default:
			return nil, fmt.Sprintf("%q: leased classes do not test this field this way", term)
		}
		if *dst != nil {
			return nil, fmt.Sprintf("%q: a second test of the same field", term)
		}
		*dst = sm
	}
	return m, ""
}

// keaClasses6 converts Dhcp6 client-classes.
func (x *keaCtx) keaClasses6(n *yaml.Node) []class6 {
	var out []class6
	for _, c := range items(n) {
		name := str(get(c, "name"))
		k := class6{Name: className(name)}
		ok := true
		for _, q := range pairs(c) {
			switch q.key {
			case "name":
			case "test":
				m, why := keaTest6(str(q.v))
				if why != "" {
					x.rep.add(q.k.Line, "client class %q: test %s; the class is not carried over", name, why)
					ok = false
					continue
				}
				k.Match = m
			case "option-data":
				x.options6(q.v, &k.opts6, false)
			default:
				x.skip(q, fmt.Sprintf("client class %q: %s", name, noEquivalent))
			}
		}
		if ok && k.Match == nil {
			x.rep.add(c.Line, "client class %q: no test (leased DHCPv6 classes need a match); not carried over", name)
			ok = false
		}
		if ok {
			x.classes6[name] = k.Name
			out = append(out, k)
		}
	}
	return out
}

// classRefs6 maps a subnet6's client-class to leased names.
func (x *keaCtx) classRefs6(line int, name, who string) []string {
	switch {
	case name == "KNOWN":
		return []string{"known"}
	case name == "UNKNOWN":
		return []string{"unknown"}
	case x.classes6[name] != "":
		return []string{x.classes6[name]}
	}
	x.rep.add(line, "%s: client class %q was not carried over (see its report); the restriction is left out", who, name)
	return nil
}
