// Package ddns keeps DNS in step with leases: RFC 2136 dynamic updates
// signed with TSIG (RFC 8945) for forward (A/AAAA) and reverse (PTR)
// records, with the DHCID RR (RFC 4701) and the conflict resolution of RFC
// 4703, so a name another client owns is left alone. Lease events are
// queued (bounded; a full queue drops and counts) and retried by a worker:
// the lease path never waits for DNS.
package ddns

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/miekg/dns"
)

// Binding is what DNS needs of one lease.
type Binding struct {
	Addr netip.Addr
	// FQDN is the client's fully qualified name (with the trailing dot).
	FQDN   string
	Client Client
	// PTROnly: the client updates its own A/AAAA record (its FQDN
	// option's S bit was 0, RFC 4702 §3.1, RFC 4704 §4.1); the server
	// adds and removes only the PTR.
	PTROnly bool
}

// rrType is A for DHCPv4, AAAA for DHCPv6.
func (b *Binding) rrType() uint16 {
	if b.Addr.Is4() {
		return dns.TypeA
	}
	return dns.TypeAAAA
}

func (b *Binding) addrRR(ttl uint32) dns.RR {
	h := dns.RR_Header{Name: b.FQDN, Rrtype: b.rrType(), Class: dns.ClassINET, Ttl: ttl}
	if b.Addr.Is4() {
		return &dns.A{Hdr: h, A: b.Addr.AsSlice()}
	}
	return &dns.AAAA{Hdr: h, AAAA: b.Addr.AsSlice()}
}

func (b *Binding) dhcidRR(ttl uint32) (dns.RR, error) {
	d, err := DHCID(&b.Client, b.FQDN)
	if err != nil {
		return nil, err
	}
	return &dns.DHCID{Hdr: dns.RR_Header{Name: b.FQDN, Rrtype: dns.TypeDHCID, Class: dns.ClassINET, Ttl: ttl}, Digest: d}, nil
}

// ReverseName is the PTR owner name of a (in-addr.arpa / ip6.arpa).
func ReverseName(a netip.Addr) string {
	n, _ := dns.ReverseAddr(a.String())
	return n
}

// Label turns a client's host name (option 12, or the first label of an
// FQDN option) into one DNS label: lower case letters, digits and '-',
// at most 63 octets; "" when nothing usable remains.
func Label(host string) string {
	host, _, _ = strings.Cut(host, ".")
	var b strings.Builder
	for _, r := range strings.ToLower(host) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '-' || r == '_' || r == ' ':
			b.WriteByte('-')
		}
	}
	s := strings.Trim(b.String(), "-")
	if len(s) > 63 {
		s = strings.TrimRight(s[:63], "-")
	}
	return s
}

// ClientLabel is the label of a client whose host name is host, bound to
// a, when a generated label replaces the client's (Kea's
// ddns-replace-client-name): "never" or "" — Label(host) ("" without a
// name: no DNS names); "always" — generated; "when-present" — generated
// when the client has a name, none otherwise; "when-not-present" (or
// "when-absent") — Label(host), generated when the client has none. A
// generated label is prefix ("myhost" when empty), '-' and the address
// with '.' and ':' as '-' (myhost-192-0-2-10, myhost-2001-db8--5), cut
// to 63 octets. server/fqdn.go tells the client the same label.
func ClientLabel(host string, a netip.Addr, replace, prefix string) string {
	l := Label(host)
	var gen bool
	switch replace {
	case "always":
		gen = true
	case "when-present":
		gen = l != ""
	case "when-not-present", "when-absent":
		gen = l == ""
	}
	if !gen {
		return l
	}
	if !a.IsValid() {
		return ""
	}
	if prefix == "" {
		prefix = "myhost"
	}
	g := prefix + "-" + strings.NewReplacer(".", "-", ":", "-").Replace(a.Unmap().WithZone("").String())
	if len(g) > 63 {
		g = g[:63]
	}
	return g
}

// The RFC 4703 §5 procedure, as messages. Each returns one UPDATE to the
// zone; the caller sends them in order and reads the rcode.

// AddNew is the first update of RFC 4703 §5.3.1 (§5.3.2 for DHCPv6): if
// the name is not in use at all, add the address and the DHCID.
func AddNew(zone string, b *Binding, ttl uint32) (*dns.Msg, error) {
	dhcid, err := b.dhcidRR(ttl)
	if err != nil {
		return nil, err
	}
	m := new(dns.Msg)
	m.SetUpdate(zone)
	m.NameNotUsed([]dns.RR{&dns.ANY{Hdr: dns.RR_Header{Name: b.FQDN}}})
	m.Insert([]dns.RR{b.addrRR(ttl), dhcid})
	return m, nil
}

// Replace is the second update of RFC 4703 §5.3.1: the name exists; if
// its DHCID is ours, replace the address records of the family.
func Replace(zone string, b *Binding, ttl uint32) (*dns.Msg, error) {
	dhcid, err := b.dhcidRR(ttl)
	if err != nil {
		return nil, err
	}
	m := new(dns.Msg)
	m.SetUpdate(zone)
	m.Used([]dns.RR{dhcid})
	m.RemoveRRset([]dns.RR{&dns.ANY{Hdr: dns.RR_Header{Name: b.FQDN, Rrtype: b.rrType()}}})
	m.Insert([]dns.RR{b.addrRR(ttl)})
	return m, nil
}

// SetPTR replaces the PTR of the address (RFC 4703 §5.3.1: the reverse
// update follows a successful forward update).
func SetPTR(zone string, b *Binding, ttl uint32) *dns.Msg {
	name := ReverseName(b.Addr)
	m := new(dns.Msg)
	m.SetUpdate(zone)
	m.RemoveRRset([]dns.RR{&dns.ANY{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypePTR}}})
	m.Insert([]dns.RR{&dns.PTR{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypePTR, Class: dns.ClassINET, Ttl: ttl}, Ptr: b.FQDN}})
	return m
}

// RemoveAddr is the first update of RFC 4703 §5.5: if the DHCID is ours,
// delete this address record.
func RemoveAddr(zone string, b *Binding) (*dns.Msg, error) {
	dhcid, err := b.dhcidRR(0)
	if err != nil {
		return nil, err
	}
	m := new(dns.Msg)
	m.SetUpdate(zone)
	m.Used([]dns.RR{dhcid})
	m.Remove([]dns.RR{b.addrRR(0)})
	return m, nil
}

// RemoveDHCID is the second update of RFC 4703 §5.5: if the DHCID is ours
// and no address record of either family is left, delete the DHCID.
func RemoveDHCID(zone string, b *Binding) (*dns.Msg, error) {
	dhcid, err := b.dhcidRR(0)
	if err != nil {
		return nil, err
	}
	m := new(dns.Msg)
	m.SetUpdate(zone)
	m.Used([]dns.RR{dhcid})
	m.RRsetNotUsed([]dns.RR{
		&dns.ANY{Hdr: dns.RR_Header{Name: b.FQDN, Rrtype: dns.TypeA}},
		&dns.ANY{Hdr: dns.RR_Header{Name: b.FQDN, Rrtype: dns.TypeAAAA}},
	})
	m.RemoveRRset([]dns.RR{&dns.ANY{Hdr: dns.RR_Header{Name: b.FQDN, Rrtype: dns.TypeDHCID}}})
	return m, nil
}

// RemovePTR deletes the PTR of the address if it still names b.FQDN.
func RemovePTR(zone string, b *Binding) *dns.Msg {
	name := ReverseName(b.Addr)
	m := new(dns.Msg)
	m.SetUpdate(zone)
	m.Remove([]dns.RR{&dns.PTR{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypePTR, Class: dns.ClassINET}, Ptr: b.FQDN}})
	return m
}

func rcodeErr(step string, r *dns.Msg) error {
	return fmt.Errorf("%s: %s", step, dns.RcodeToString[r.Rcode])
}
