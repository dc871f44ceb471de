package config

import (
	"fmt"
	"net"
	"net/netip"
)

// LeaseQuery configures leasequery: DHCPv4 (RFC 4388) on the DHCP port,
// DHCPv4 bulk leasequery over TCP (RFC 6926) and DHCPv6 bulk leasequery
// over TCP (RFC 5460). Off without this section.
type LeaseQuery struct {
	// Requestors are the addresses (10.0.0.1) or prefixes (10.0.0.0/8)
	// allowed to query: relay agents and access concentrators. For a
	// DHCPv4 query on the DHCP port the giaddr is checked (the answer
	// goes there); for TCP the peer address. Required, non-empty.
	Requestors []string `yaml:"requestors"`
	// BulkListen is the TCP address of DHCPv4 bulk leasequery (RFC 6926
	// §7: port 67), host:port, or "off". Default ":67".
	BulkListen string `yaml:"bulk_listen"`
	// BulkListen6 is the TCP address of DHCPv6 bulk leasequery (RFC 5460
	// §5.1: port 547), host:port, or "off". Default ":547" with a dhcpv6
	// section, else off. DHCPv6 leasequery (RFC 5007) on the DHCPv6 port
	// is answered whenever this section and a dhcpv6 section are present.
	BulkListen6 string `yaml:"bulk_listen6"`
	// MaxConnections bounds concurrent bulk leasequery connections per
	// listener, 1 to 1000. Default 10.
	MaxConnections int `yaml:"max_connections"`
}

// Prefixes returns the requestors as prefixes (valid after Load).
func (l *LeaseQuery) Prefixes() []netip.Prefix {
	var out []netip.Prefix
	for _, r := range l.Requestors {
		if p, ok := parseAddrOrPrefix(r); ok {
			out = append(out, p)
		}
	}
	return out
}

func parseAddrOrPrefix(s string) (netip.Prefix, bool) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), true
	}
	if a, err := netip.ParseAddr(s); err == nil {
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), true
	}
	return netip.Prefix{}, false
}

func (c *Config) applyLeaseQueryDefaults() {
	l := c.LeaseQuery
	if l == nil {
		return
	}
	if !c.has("leasequery.bulk_listen") {
		l.BulkListen = ":67"
	}
	if !c.has("leasequery.bulk_listen6") {
		l.BulkListen6 = "off"
		if c.DHCPv6 != nil {
			l.BulkListen6 = ":547"
		}
	}
	if !c.has("leasequery.max_connections") {
		l.MaxConnections = 10
	}
}

func (v *validator) leaseQuery(l *LeaseQuery) {
	if l == nil {
		return
	}
	if len(l.Requestors) == 0 {
		v.errorf("leasequery.requestors", "required: the relay agents allowed to query, e.g. [10.0.0.0/8]")
	}
	for i, r := range l.Requestors {
		if _, ok := parseAddrOrPrefix(r); !ok {
			v.errorf(fmt.Sprintf("leasequery.requestors[%d]", i), "%q: want an address (10.0.0.1) or a prefix (10.0.0.0/8)", r)
		}
	}
	if l.BulkListen != "off" {
		if _, port, err := net.SplitHostPort(l.BulkListen); err != nil || port == "" {
			v.errorf("leasequery.bulk_listen", "%q: want host:port (e.g. :67) or off", l.BulkListen)
		}
	}
	if l.BulkListen6 != "off" {
		if _, port, err := net.SplitHostPort(l.BulkListen6); err != nil || port == "" {
			v.errorf("leasequery.bulk_listen6", "%q: want host:port (e.g. :547) or off", l.BulkListen6)
		}
	}
	if l.MaxConnections < 1 || l.MaxConnections > 1000 {
		v.errorf("leasequery.max_connections", "%d: want 1 to 1000 (default 10)", l.MaxConnections)
	}
}
