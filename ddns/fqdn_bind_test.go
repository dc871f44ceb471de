package ddns

import (
	"net/netip"
	"testing"

	"github.com/miekg/dns"
)

// TestBINDPTROnly: a client whose FQDN option said S=0 updates its own A
// record (RFC 4702 §3.1): leased adds and removes only the PTR, and never
// touches the client's A record or adds a DHCID.
func TestBINDPTROnly(t *testing.T) {
	n := startNamed(t)
	u, _ := newUpdater(t, n, n.Secret)
	c := Client{HType: 1, HWAddr: []byte{2, 0, 0, 0, 0, 0xc}}
	addr := netip.MustParseAddr("10.77.1.20")

	u.Enqueue(Event{Bound: true, Addr: addr, Hostname: "gamma", Client: c, PTROnly: true})
	waitRecords(t, n, "20.1.77.10.in-addr.arpa", dns.TypePTR, "20.1.77.10.in-addr.arpa. 0 IN PTR gamma.lan.test.")
	waitCount(t, u, "added", 1)
	waitRecords(t, n, "gamma.lan.test", dns.TypeA)
	waitRecords(t, n, "gamma.lan.test", dns.TypeDHCID)

	// The same client now asks the server to do both (S=1): A and DHCID
	// are added, the PTR stays.
	u.Enqueue(Event{Bound: true, Addr: addr, Hostname: "gamma", Client: c})
	waitRecords(t, n, "gamma.lan.test", dns.TypeA, "gamma.lan.test. 0 IN A 10.77.1.20")
	waitRecords(t, n, "20.1.77.10.in-addr.arpa", dns.TypePTR, "20.1.77.10.in-addr.arpa. 0 IN PTR gamma.lan.test.")

	// Back to S=0: the server removes what it added and keeps only the
	// PTR; then the binding ends and the PTR goes.
	u.Enqueue(Event{Bound: true, Addr: addr, Hostname: "gamma", Client: c, PTROnly: true})
	waitRecords(t, n, "gamma.lan.test", dns.TypeA)
	waitRecords(t, n, "20.1.77.10.in-addr.arpa", dns.TypePTR, "20.1.77.10.in-addr.arpa. 0 IN PTR gamma.lan.test.")
	u.Enqueue(Event{Bound: false, Addr: addr, Hostname: "gamma", Client: c, PTROnly: true})
	waitRecords(t, n, "20.1.77.10.in-addr.arpa", dns.TypePTR)
}
