package ddns

import "testing"

// The examples of RFC 4701 §3.6.
func TestDHCIDRFC4701(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    Client
		fqdn string
		want string
	}{
		{"3.6.1 DHCPv6 DUID", Client{V6: true, ClientID: []byte{0x00, 0x01, 0x00, 0x06, 0x41, 0x2d, 0xf1, 0x66, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06}},
			"chi6.example.com", "AAIBY2/AuCccgoJbsaxcQc9TUapptP69lOjxfNuVAA2kjEA="},
		{"3.6.3 DHCPv4 chaddr", Client{HType: 1, HWAddr: []byte{0x01, 0x02, 0x03, 0x04, 0x05, 0x06}},
			"client.example.com", "AAABxLmlskllE0MVjd57zHcWmEH3pCQ6VytcKD//7es/deY="},
		{"3.6.2 DHCPv4 client id", Client{ClientID: []byte{0x01, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c}},
			"chi.example.com", "AAEBOSD+XR3Os/0LozeXVqcNc7FwCfQdWL3b/NaiUDlW2No="},
	} {
		got, err := DHCID(&tc.c, tc.fqdn)
		if err != nil || got != tc.want {
			t.Errorf("%s: %s (%v), want %s", tc.name, got, err, tc.want)
		}
	}
	// Case does not matter (canonical form), the client does.
	a, _ := DHCID(&Client{HType: 1, HWAddr: []byte{1, 2, 3, 4, 5, 6}}, "CLIENT.Example.COM.")
	b, _ := DHCID(&Client{HType: 1, HWAddr: []byte{1, 2, 3, 4, 5, 7}}, "client.example.com")
	if a != "AAABxLmlskllE0MVjd57zHcWmEH3pCQ6VytcKD//7es/deY=" || a == b {
		t.Errorf("canonical %s, other client %s", a, b)
	}
}
