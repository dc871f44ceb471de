package ddns

import (
	"crypto/sha256"
	"encoding/base64"
	"strings"

	"github.com/miekg/dns"
)

// Identifier types of the DHCID RR (RFC 4701 §3.3).
const (
	idHWAddr   = 0x0000 // htype followed by chaddr (DHCPv4, no client id)
	idClientID = 0x0001 // DHCPv4 client identifier option (61) data
	idDUID     = 0x0002 // DHCPv6 DUID, or the DUID of an RFC 4361 client id
)

// digestSHA256 is the only digest type RFC 4701 §3.4 defines.
const digestSHA256 = 1

// Client identifies a DHCP client for the DHCID RR.
type Client struct {
	V6       bool
	ClientID []byte // DHCPv4 option 61 as sent (nil: none), or the DHCPv6 DUID
	HType    uint8
	HWAddr   []byte
}

// identifier returns the identifier type and bytes (RFC 4701 §3.3).
func (c *Client) identifier() (uint16, []byte) {
	switch {
	case c.V6:
		return idDUID, c.ClientID
	case len(c.ClientID) > 5 && c.ClientID[0] == 255:
		// RFC 4361 §6.1: type 255, IAID (4 octets), DUID.
		return idDUID, c.ClientID[5:]
	case len(c.ClientID) > 0:
		return idClientID, c.ClientID
	}
	return idHWAddr, append([]byte{c.HType}, c.HWAddr...)
}

// DHCID returns the RDATA of the DHCID RR of c owning fqdn, in base64 as
// it appears in the zone (RFC 4701 §3.3): identifier type (2 octets),
// digest type 1, SHA-256 over the identifier and the name in canonical
// wire form (lower case, RFC 4034 §6.2).
func DHCID(c *Client, fqdn string) (string, error) {
	typ, id := c.identifier()
	wire := make([]byte, 256)
	n, err := dns.PackDomainName(dns.Fqdn(strings.ToLower(fqdn)), wire, 0, nil, false)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	h.Write(id)
	h.Write(wire[:n])
	rdata := []byte{byte(typ >> 8), byte(typ), digestSHA256}
	rdata = h.Sum(rdata)
	return base64.StdEncoding.EncodeToString(rdata), nil
}
