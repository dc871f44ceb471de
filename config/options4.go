package config

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"

	"github.com/leased/leased/dhcpv4"
)

// optType is the value type of a named DHCPv4 option.
type optType uint8

const (
	tIP       optType = iota + 1 // one IPv4 address
	tIPList                      // one or more IPv4 addresses
	tString                      // text, not NUL-terminated (RFC 2132 §2)
	tUint8                       // 0 to 255
	tUint16                      // 0 to 65535
	tUint32                      // 0 to 4294967295
	tInt32                       // signed 32 bits
	tBool                        // true/false, one byte 1/0
	tFQDN                        // a domain name sent as text (option 15)
	tFQDNList                    // RFC 1035 encoded names (option 119, RFC 3397)
	tHex                         // raw bytes
	tVendor                      // sub-options (option 43: code, length, value)
	tVIVCO                       // RFC 3925 §3 vendor-identifying vendor class
	tVIVSO                       // RFC 3925 §4 vendor-identifying vendor-specific
)

// optDef is one entry of the DHCPv4 option registry: the name Kea uses.
type optDef struct {
	code int
	typ  optType
	_    int
}

// optionNames is the RFC 2132 / IANA option registry by Kea's names.
// Options leased sets itself (subnet mask, lease times, message type,
// server identifier, ...) are not here.
var optionNames = map[string]optDef{
	"time-offset":                            {2, tInt32, 0},
	"routers":                                {3, tIPList, 0},
	"time-servers":                           {4, tIPList, 0},
	"name-servers":                           {5, tIPList, 0},
	"domain-name-servers":                    {6, tIPList, 0},
	"log-servers":                            {7, tIPList, 0},
	"cookie-servers":                         {8, tIPList, 0},
	"lpr-servers":                            {9, tIPList, 0},
	"impress-servers":                        {10, tIPList, 0},
	"resource-location-servers":              {11, tIPList, 0},
	"host-name":                              {12, tString, 0},
	"boot-size":                              {13, tUint16, 0},
	"merit-dump":                             {14, tString, 0},
	"domain-name":                            {15, tFQDN, 0},
	"swap-server":                            {16, tIP, 0},
	"root-path":                              {17, tString, 0},
	"extensions-path":                        {18, tString, 0},
	"ip-forwarding":                          {19, tBool, 0},
	"non-local-source-routing":               {20, tBool, 0},
	"max-dgram-reassembly":                   {22, tUint16, 0},
	"default-ip-ttl":                         {23, tUint8, 0},
	"path-mtu-aging-timeout":                 {24, tUint32, 0},
	"interface-mtu":                          {26, tUint16, 0},
	"all-subnets-local":                      {27, tBool, 0},
	"broadcast-address":                      {28, tIP, 0},
	"perform-mask-discovery":                 {29, tBool, 0},
	"mask-supplier":                          {30, tBool, 0},
	"router-discovery":                       {31, tBool, 0},
	"router-solicitation-address":            {32, tIP, 0},
	"static-routes":                          {33, tIPList, 0},
	"trailer-encapsulation":                  {34, tBool, 0},
	"arp-cache-timeout":                      {35, tUint32, 0},
	"ieee802-3-encapsulation":                {36, tBool, 0},
	"default-tcp-ttl":                        {37, tUint8, 0},
	"tcp-keepalive-interval":                 {38, tUint32, 0},
	"tcp-keepalive-garbage":                  {39, tBool, 0},
	"nis-domain":                             {40, tString, 0},
	"nis-servers":                            {41, tIPList, 0},
	"ntp-servers":                            {42, tIPList, 0},
	"vendor-encapsulated-options":            {43, tVendor, 0},
	"netbios-name-servers":                   {44, tIPList, 0},
	"netbios-dd-server":                      {45, tIPList, 0},
	"netbios-node-type":                      {46, tUint8, 0},
	"netbios-scope":                          {47, tString, 0},
	"font-servers":                           {48, tIPList, 0},
	"x-display-manager":                      {49, tIPList, 0},
	"nwip-domain-name":                       {62, tString, 0},
	"nisplus-domain-name":                    {64, tString, 0},
	"nisplus-servers":                        {65, tIPList, 0},
	"tftp-server-name":                       {66, tString, 0},
	"boot-file-name":                         {67, tString, 0},
	"mobile-ip-home-agent":                   {68, tIPList, 0},
	"smtp-server":                            {69, tIPList, 0},
	"pop-server":                             {70, tIPList, 0},
	"nntp-server":                            {71, tIPList, 0},
	"www-server":                             {72, tIPList, 0},
	"finger-server":                          {73, tIPList, 0},
	"irc-server":                             {74, tIPList, 0},
	"streettalk-server":                      {75, tIPList, 0},
	"streettalk-directory-assistance-server": {76, tIPList, 0},
	"nds-servers":                            {85, tIPList, 0},
	"nds-tree-name":                          {86, tString, 0},
	"nds-context":                            {87, tString, 0},
	"pcode":                                  {100, tString, 0},
	"tcode":                                  {101, tString, 0},
	"v6-only-preferred":                      {108, tUint32, 0},
	"netinfo-server-address":                 {112, tIPList, 0},
	"netinfo-server-tag":                     {113, tString, 0},
	"v4-captive-portal":                      {114, tString, 0},
	"auto-config":                            {116, tUint8, 0},
	"domain-search":                          {119, tFQDNList, 0},
	"vivco-suboptions":                       {124, tVIVCO, 0},
	"vivso-suboptions":                       {125, tVIVSO, 0},
	"pana-agent":                             {136, tIPList, 0},
	"v4-lost":                                {137, tFQDN, 0},
	"capwap-ac-v4":                           {138, tIPList, 0},
	"sip-ua-cs-domains":                      {141, tFQDNList, 0},
	"rdnss-selection":                        {146, tHex, 0},
	"v4-portparams":                          {159, tHex, 0},
}

// optionByCode is the reverse of optionNames.
var optionByCode = func() map[int]string {
	m := make(map[int]string, len(optionNames))
	for n, d := range optionNames {
		m[d.code] = n
	}
	return m
}()

// SubOption is one sub-option of vendor-encapsulated-options (43),
// vivso-suboptions (125) or one vendor class data item of
// vivco-suboptions (124). Exactly one of hex, text, ip or ips.
type SubOption struct {
	// Code is the sub-option code, 1 to 254 (not used for option 124).
	Code int `yaml:"code"`
	// Hex is the value as hex bytes.
	Hex HexBytes `yaml:"hex"`
	// Text is the value as a string.
	Text *string `yaml:"text"`
	// IP is the value as one IPv4 address.
	IP netip.Addr `yaml:"ip"`
	// IPs is the value as a list of IPv4 addresses.
	IPs []netip.Addr `yaml:"ips"`
}

func (s *SubOption) data() []byte {
	o := Option{Hex: s.Hex, Text: s.Text, IP: s.IP, IPs: s.IPs}
	return o.rawData()
}

// encodeValue turns the text value of a named option into wire bytes.
func encodeValue(def optDef, value string) ([]byte, error) {
	parts := func() []string {
		var out []string
		for p := range strings.SplitSeq(value, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
		return out
	}
	addr := func(s string) ([]byte, error) {
		a, err := netip.ParseAddr(s)
		if err != nil || !a.Is4() {
			return nil, fmt.Errorf("%q is not an IPv4 address", s)
		}
		b := a.As4()
		return b[:], nil
	}
	uint := func(bits int) ([]byte, error) {
		v, err := strconv.ParseUint(strings.TrimSpace(value), 0, bits)
		if err != nil {
			return nil, fmt.Errorf("%q is not a whole number from 0 to %d", value, uint64(1)<<bits-1)
		}
		b := binary.BigEndian.AppendUint64(nil, v)
		return b[8-bits/8:], nil
	}
	switch def.typ {
	case tIP:
		return addr(strings.TrimSpace(value))
	case tIPList:
		ps := parts()
		if len(ps) == 0 {
			return nil, fmt.Errorf("needs at least one IPv4 address, e.g. 10.0.0.1, 10.0.0.2")
		}
		var out []byte
		for _, p := range ps {
			b, err := addr(p)
			if err != nil {
				return nil, err
			}
			out = append(out, b...)
		}
		if def.code == 33 && len(ps)%2 != 0 {
			return nil, fmt.Errorf("static-routes is a list of destination, router pairs (RFC 2132 §5.8)")
		}
		return out, nil
	case tString:
		if value == "" {
			return nil, fmt.Errorf("must not be empty (RFC 2132: minimum length 1)")
		}
		return []byte(value), nil
	case tFQDN:
		v := strings.TrimSuffix(strings.TrimSpace(value), ".")
		if !isDomainName(v) {
			return nil, fmt.Errorf("%q is not a domain name; e.g. example.net", value)
		}
		return []byte(v), nil
	case tFQDNList:
		var names []string
		for _, p := range parts() {
			if !isDomainName(p) {
				return nil, fmt.Errorf("%q is not a domain name; e.g. example.net", p)
			}
			names = append(names, strings.TrimSuffix(p, "."))
		}
		if len(names) == 0 {
			return nil, fmt.Errorf("needs at least one domain name")
		}
		return dhcpv4.AppendDomainSearch(nil, names)
	case tUint8:
		return uint(8)
	case tUint16:
		return uint(16)
	case tUint32:
		return uint(32)
	case tInt32:
		v, err := strconv.ParseInt(strings.TrimSpace(value), 0, 32)
		if err != nil {
			return nil, fmt.Errorf("%q is not a whole number from -2147483648 to 2147483647", value)
		}
		return binary.BigEndian.AppendUint32(nil, uint32(int32(v))), nil
	case tBool:
		switch strings.TrimSpace(value) {
		case "true", "1":
			return []byte{1}, nil
		case "false", "0":
			return []byte{0}, nil
		}
		return nil, fmt.Errorf("%q is not true or false", value)
	case tHex:
		return parseHex(strings.TrimSpace(value), ":")
	}
	return nil, fmt.Errorf("takes suboptions, not a value")
}

// optionNameList is the sorted names, for messages.
func optionNameList() []string {
	out := make([]string, 0, len(optionNames))
	for n := range optionNames {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// OptionValue is the text of a named option's value; any YAML scalar
// (a number, true/false or a string) is taken as written.
type OptionValue string

// UnmarshalText keeps the scalar's text.
func (o *OptionValue) UnmarshalText(text []byte) error {
	*o = OptionValue(text)
	return nil
}

// rawData is the value of an option given by hex, text, ip or ips.
func (o *Option) rawData() []byte {
	switch {
	case o.Hex != nil:
		return []byte(o.Hex)
	case o.Text != nil:
		return []byte(*o.Text)
	case o.IP.IsValid():
		b := o.IP.As4()
		return b[:]
	}
	out := make([]byte, 0, 4*len(o.IPs))
	for _, a := range o.IPs {
		if a.Is4() {
			b := a.As4()
			out = append(out, b[:]...)
		}
	}
	return out
}

// code is the option's code: by name when named.
func (o *Option) code() int {
	if d, ok := optionNames[o.Name]; ok {
		return d.code
	}
	return o.Code
}

// data is the option's value on the wire (the configuration is valid).
func (o *Option) data() []byte {
	b, _ := o.encode(nil)
	return b
}

// encode is the option's value on the wire; has reports whether a key was
// present in the file (nil: look at the Go values only).
func (o *Option) encode(has func(string) bool) ([]byte, error) {
	if has == nil {
		has = func(k string) bool {
			switch k {
			case "value":
				return o.Value != ""
			case "suboptions":
				return len(o.Suboptions) > 0
			}
			return false
		}
	}
	c := o.code()
	switch {
	case has("suboptions"):
		return encodeSubs(c, o.Enterprise, o.Suboptions)
	case has("value"):
		d, ok := optionNames[o.Name]
		if !ok {
			return nil, fmt.Errorf("value needs a name (a registry option); use hex, text, ip or ips with a code")
		}
		return encodeValue(d, string(o.Value))
	}
	return o.rawData(), nil
}

// encodeSubs encodes option 43 (RFC 2132 §8.4: code, length, value
// sub-options), 124 (RFC 3925 §3: enterprise, length, then length-prefixed
// vendor class data) or 125 (RFC 3925 §4: enterprise, length, then
// sub-options).
func encodeSubs(code, enterprise int, subs []SubOption) ([]byte, error) {
	var body []byte
	for _, s := range subs {
		d := s.data()
		if len(d) > 255 {
			return nil, fmt.Errorf("a sub-option holds at most 255 bytes")
		}
		if code == 124 {
			body = append(body, byte(len(d)))
		} else {
			body = append(body, byte(s.Code), byte(len(d)))
		}
		body = append(body, d...)
	}
	switch code {
	case 43:
		return body, nil
	case 124, 125:
		if len(body) > 255-5 {
			return nil, fmt.Errorf("the sub-options are %d bytes; at most 250 fit one enterprise", len(body))
		}
		out := binary.BigEndian.AppendUint32(nil, uint32(enterprise))
		out = append(out, byte(len(body)))
		return append(out, body...), nil
	}
	return nil, fmt.Errorf("suboptions are for vendor-encapsulated-options (43), vivco-suboptions (124) and vivso-suboptions (125)")
}

// poolOptionCodes are the option codes a pool's own keys set, with the key.
func poolOptionCodes(p *Pool) map[int]string {
	m := map[int]string{}
	if p.Gateway.IsValid() {
		m[3] = "gateway"
	}
	if len(p.Routers) > 0 {
		m[3] = "routers"
	}
	if len(p.DNS) > 0 {
		m[6] = "dns"
	}
	if p.DomainName != "" {
		m[15] = "domain_name"
	}
	if p.MTU != 0 {
		m[26] = "mtu"
	}
	if len(p.NTP) > 0 {
		m[42] = "ntp"
	}
	if p.TFTPServer != "" {
		m[66] = "tftp_server"
	}
	if p.BootFile != "" {
		m[67] = "boot_file"
	}
	if len(p.DomainSearch) > 0 {
		m[119] = "domain_search"
	}
	return m
}

// options checks a list of options at field f (a pool's, the global
// ones, a class's or a reservation's). taken lists codes the enclosing
// pool sets with its own keys.
func (v *validator) options(opts []Option, f string, taken map[int]string) {
	codes := map[int]int{}
	for i := range opts {
		o := &opts[i]
		of := fmt.Sprintf("%s.options[%d]", f, i)
		code := o.Code
		if o.Name != "" {
			d, ok := optionNames[o.Name]
			if !ok {
				hint := ""
				if g := suggest(o.Name, optionNameList()); g != "" {
					hint = fmt.Sprintf(" (did you mean %q?)", g)
				}
				v.errorf(of+".name", "%q is not a DHCPv4 option name%s; use a registry name such as domain-name-servers, or code with hex", o.Name, hint)
				continue
			}
			if v.c.has(of+".code") && o.Code != d.code {
				v.errorf(of+".code", "%d is not the code of %s (%d); leave code out", o.Code, o.Name, d.code)
				continue
			}
			code = d.code
		} else if !v.c.has(of + ".code") {
			v.errorf(of+".code", "required: the option code, 1 to 254 (or a name, e.g. domain-name-servers)")
			continue
		} else if why, managed := managedOptions[code]; managed {
			if n, named := optionByCode[code]; named {
				why += " or with name: " + n
			}
			v.errorf(of+".code", "%s; choose another code", why)
			continue
		} else if code < 1 || code > 254 {
			v.errorf(of+".code", "%d is not an option code; use 1 to 254", code)
			continue
		}
		if key, ok := taken[code]; ok {
			v.errorf(of, "option %d is already set by %s in this pool; set it once", code, key)
			continue
		}
		if j, dup := codes[code]; dup {
			v.errorf(of+".code", "option %d is already set by %s.options[%d]", code, f, j)
			continue
		}
		codes[code] = i
		var given []string
		for _, k := range []string{"value", "hex", "text", "ip", "ips", "suboptions"} {
			if v.c.has(of + "." + k) {
				given = append(given, k)
			}
		}
		if len(given) != 1 {
			if len(given) == 0 {
				v.errorf(of, "needs a value: one of hex, text, ip or ips%s", map[bool]string{true: " (or value with a name)", false: ""}[o.Name == ""])
			} else {
				v.errorf(of, "has %s; give exactly one of value, hex, text, ip, ips or suboptions", strings.Join(given, " and "))
			}
			continue
		}
		if (code == 124 || code == 125) && given[0] == "suboptions" && !v.c.has(of+".enterprise") {
			v.errorf(of+".enterprise", "required with suboptions of option %d: the IANA enterprise number (RFC 3925), e.g. 4491", code)
			continue
		}
		if o.Enterprise < 0 || o.Enterprise > 0xffffffff {
			v.errorf(of+".enterprise", "%d is not an enterprise number (0 to 4294967295)", o.Enterprise)
			continue
		}
		for k, s := range o.Suboptions {
			sf := fmt.Sprintf("%s.suboptions[%d]", of, k)
			n := 0
			for _, key := range []string{"hex", "text", "ip", "ips"} {
				if v.c.has(sf + "." + key) {
					n++
				}
			}
			if n != 1 {
				v.errorf(sf, "give exactly one of hex, text, ip or ips")
			}
			if code != 124 && (s.Code < 1 || s.Code > 254) {
				v.errorf(sf+".code", "%d is not a sub-option code; use 1 to 254", s.Code)
			}
		}
		b, err := o.encode(func(k string) bool { return v.c.has(of + "." + k) })
		if err != nil {
			v.errorf(of+"."+given[0], "%v", err)
			continue
		}
		if n := len(b); n > 255 && code != 119 && code != 121 {
			v.errorf(of+"."+given[0], "is %d bytes long; an option holds at most 255", n)
		}
		if code == 26 && len(b) == 2 && binary.BigEndian.Uint16(b) < 68 {
			v.errorf(of+".value", "%d is not a valid MTU; use 68 to 65535 (RFC 2132 §5.1)", binary.BigEndian.Uint16(b))
		}
	}
}
