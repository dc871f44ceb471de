package ddns

import "testing"

// TestDHCIDDualStackRFC4361: an RFC 4361 client (DHCPv4 client id = type
// 255, IAID, DUID) gets the DHCID of its DUID (identifier type 2, RFC 4701
// §3.3) in both families, so its A and AAAA records share one name; a
// client id that is not RFC 4361 gets another DHCID (RFC 4703 §5.2).
func TestDHCIDDualStackRFC4361(t *testing.T) {
	duid := []byte{0, 1, 0, 1, 0x2a, 0x1b, 0x3c, 0x4d, 2, 0, 0, 0, 0, 1} // DUID-LLT
	v4 := Client{HType: 1, HWAddr: []byte{2, 0, 0, 0, 0, 1}, ClientID: append([]byte{255, 0, 0, 0, 7}, duid...)}
	v6 := Client{V6: true, ClientID: duid}
	d4, err4 := DHCID(&v4, "host.lan.test.")
	d6, err6 := DHCID(&v6, "host.lan.test.")
	if err4 != nil || err6 != nil || d4 != d6 {
		t.Fatalf("RFC 4361 client: v4 %q %v, v6 %q %v: want the same DHCID", d4, err4, d6, err6)
	}
	mac := Client{HType: 1, HWAddr: []byte{2, 0, 0, 0, 0, 1}, ClientID: []byte{1, 2, 0, 0, 0, 0, 1}}
	if dm, _ := DHCID(&mac, "host.lan.test."); dm == d6 {
		t.Fatalf("a MAC client id got the DUID's DHCID")
	}
}
