// Package migrate converts Kea and ISC dhcpd configurations into leased's
// YAML configuration and their lease files into lease records, reporting
// precisely what cannot be carried over. It is used by `leasectl import`
// and `leased store import`.
//
// A conversion never guesses: what leased has no equivalent for, or what
// would not be valid in leased (a reservation outside its subnet, a host
// name where an address is required), is left out and reported as an Item
// with its source location.
package migrate

import (
	"bytes"
	"fmt"
	"net/netip"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v4"
)

// Item is one thing of the source that was not carried over.
type Item struct {
	// Where is the source location, "FILE:LINE".
	Where string
	// What says what was left out and why.
	What string
}

func (it Item) String() string { return it.Where + ": " + it.What }

// Result is a converted configuration.
type Result struct {
	// YAML is the leased configuration.
	YAML []byte
	// Skipped lists what was not carried over, in source order.
	Skipped []Item
}

// The leased configuration written, with only the keys a conversion sets.
type outConfig struct {
	DHCPv4 *out4 `yaml:"dhcpv4,omitempty"`
	DHCPv6 *out6 `yaml:"dhcpv6,omitempty"`
}

type out4 struct {
	Interfaces    []string `yaml:"interfaces,flow"`
	LeaseTime     string   `yaml:"lease_time,omitempty"`
	T1            string   `yaml:"t1,omitempty"`
	T2            string   `yaml:"t2,omitempty"`
	Authoritative bool     `yaml:"authoritative,omitempty"`
	ClientClasses []class4 `yaml:"client_classes,omitempty"`
	Pools         []*pool4 `yaml:"pools"`
}

type opts4 struct {
	Gateway      string   `yaml:"gateway,omitempty"`
	Routers      []string `yaml:"routers,omitempty,flow"`
	DNS          []string `yaml:"dns,omitempty,flow"`
	DomainName   string   `yaml:"domain_name,omitempty"`
	DomainSearch []string `yaml:"domain_search,omitempty,flow"`
	NTP          []string `yaml:"ntp,omitempty,flow"`
	MTU          int      `yaml:"mtu,omitempty"`
	TFTPServer   string   `yaml:"tftp_server,omitempty"`
	BootFile     string   `yaml:"boot_file,omitempty"`
	Options      []rawOpt `yaml:"options,omitempty"`
}

type pool4 struct {
	Name          string `yaml:"name"`
	Subnet        string `yaml:"subnet"`
	SharedNetwork string `yaml:"shared_network,omitempty"`
	opts4         `yaml:",inline"`
	LeaseTime     string     `yaml:"lease_time,omitempty"`
	T1            string     `yaml:"t1,omitempty"`
	T2            string     `yaml:"t2,omitempty"`
	Authoritative *bool      `yaml:"authoritative,omitempty"`
	Relays        []string   `yaml:"relays,omitempty,flow"`
	Boot          *boot4     `yaml:"boot,omitempty"`
	BOOTP         bool       `yaml:"bootp,omitempty"`
	Allow         []string   `yaml:"allow,omitempty,flow"`
	Deny          []string   `yaml:"deny,omitempty,flow"`
	Sections      []section4 `yaml:"sections,omitempty"`
	Reservations  []res4     `yaml:"reservations,omitempty"`
}

type section4 struct {
	Index int      `yaml:"index"`
	Start string   `yaml:"start"`
	End   string   `yaml:"end"`
	Allow []string `yaml:"allow,omitempty,flow"`
	Deny  []string `yaml:"deny,omitempty,flow"`
}

type res4 struct {
	HWAddr        string   `yaml:"hwaddr,omitempty"`
	ClientID      string   `yaml:"client_id,omitempty"`
	CircuitID     string   `yaml:"circuit_id,omitempty"`
	RemoteID      string   `yaml:"remote_id,omitempty"`
	Address       string   `yaml:"address"`
	Hostname      string   `yaml:"hostname,omitempty"`
	Options       []rawOpt `yaml:"options,omitempty"`
	Boot          *boot4   `yaml:"boot,omitempty"`
	ClientClasses []string `yaml:"client_classes,omitempty,flow"`
}

type rawOpt struct {
	Name       string   `yaml:"name,omitempty"`
	Value      string   `yaml:"value,omitempty"`
	Code       int      `yaml:"code,omitempty"`
	Hex        string   `yaml:"hex,omitempty"`
	Text       string   `yaml:"text,omitempty"`
	Enterprise int      `yaml:"enterprise,omitempty"`
	Suboptions []subOpt `yaml:"suboptions,omitempty"`
}

type subOpt struct {
	Code int      `yaml:"code"`
	Hex  string   `yaml:"hex,omitempty"`
	IPs  []string `yaml:"ips,omitempty,flow"`
}

type out6 struct {
	Interfaces        []string `yaml:"interfaces,flow"`
	PreferredLifetime string   `yaml:"preferred_lifetime,omitempty"`
	ValidLifetime     string   `yaml:"valid_lifetime,omitempty"`
	T1                string   `yaml:"t1,omitempty"`
	T2                string   `yaml:"t2,omitempty"`
	RapidCommit       bool     `yaml:"rapid_commit,omitempty"`
	opts6             `yaml:",inline"`
	ClientClasses     []class6 `yaml:"client_classes,omitempty"`
	Pools             []*pool6 `yaml:"pools"`
}

type opts6 struct {
	DNS          []string `yaml:"dns,omitempty,flow"`
	DomainSearch []string `yaml:"domain_search,omitempty,flow"`
	Options      []rawOpt `yaml:"options,omitempty"`
}

type pool6 struct {
	Name              string   `yaml:"name"`
	Subnet            string   `yaml:"subnet"`
	Links             []string `yaml:"links,omitempty,flow"`
	Interface         string   `yaml:"interface,omitempty"`
	InterfaceID       string   `yaml:"interface_id,omitempty"`
	SharedNetwork     string   `yaml:"shared_network,omitempty"`
	Allow             []string `yaml:"allow,omitempty,flow"`
	opts6             `yaml:",inline"`
	PreferredLifetime string   `yaml:"preferred_lifetime,omitempty"`
	ValidLifetime     string   `yaml:"valid_lifetime,omitempty"`
	T1                string   `yaml:"t1,omitempty"`
	T2                string   `yaml:"t2,omitempty"`
	RapidCommit       *bool    `yaml:"rapid_commit,omitempty"`
	Preference        int      `yaml:"preference,omitempty"`
	Ranges            []range6 `yaml:"ranges,omitempty"`
	PD                *pd6     `yaml:"prefix_delegation,omitempty"`
	Reservations      []res6   `yaml:"reservations,omitempty"`
}

type range6 struct {
	Start string `yaml:"start"`
	End   string `yaml:"end"`
}

type pd6 struct {
	Prefix string `yaml:"prefix"`
	Length int    `yaml:"length"`
}

type res6 struct {
	DUID     string `yaml:"duid"`
	Address  string `yaml:"address,omitempty"`
	Prefix   string `yaml:"prefix,omitempty"`
	Hostname string `yaml:"hostname,omitempty"`
	opts6    `yaml:",inline"`
}

// report collects skipped items.
type report struct {
	file  string
	items []Item
}

func (r *report) add(line int, format string, a ...any) {
	r.items = append(r.items, Item{Where: fmt.Sprintf("%s:%d", r.file, line), What: fmt.Sprintf(format, a...)})
}

// placeholderInterface is written when the source names no interface;
// the report says so.
const placeholderInterface = "eth0"

func marshal(header string, c *outConfig) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(header)
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(c); err != nil {
		return nil, fmt.Errorf("migrate: encode: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("migrate: encode: %w", err)
	}
	return b.Bytes(), nil
}

// seconds writes a lifetime in seconds as a leased duration.
func seconds(n int64) string { return (time.Duration(n) * time.Second).String() }

// rangeOf parses "A - B" or a prefix "P/L" into its first and last address.
func rangeOf(s string) (netip.Addr, netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if a, b, ok := strings.Cut(s, "-"); ok {
		x, err1 := netip.ParseAddr(strings.TrimSpace(a))
		y, err2 := netip.ParseAddr(strings.TrimSpace(b))
		if err1 != nil || err2 != nil || y.Less(x) || x.Is4() != y.Is4() {
			return netip.Addr{}, netip.Addr{}, false
		}
		return x, y, true
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Addr{}, netip.Addr{}, false
	}
	p = p.Masked()
	return p.Addr(), lastAddr(p), true
}

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// addrList parses a comma-separated list of addresses of one family.
func addrList(s string, v6 bool) ([]string, bool) {
	var out []string
	for _, f := range strings.Split(s, ",") {
		a, err := netip.ParseAddr(strings.TrimSpace(f))
		if err != nil || a.Is6() != v6 {
			return nil, false
		}
		out = append(out, a.String())
	}
	return out, len(out) > 0
}

func textList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
