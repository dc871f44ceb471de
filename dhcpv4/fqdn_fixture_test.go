package dhcpv4

import (
	"testing"
)

// fxRequestFQDN: a DHCPREQUEST with option 81 as dhcpcd sends it with
// "hostname laptop" and "fqdn ptr" (S=0, E=1: the client updates its A).
const fxRequestFQDN = `
01 01 06 00          # BOOTREQUEST, htype Ethernet, hlen 6, hops 0
0e3a66a8             # xid
0000 0000            # secs, flags
00000000 00000000 00000000 00000000 # ciaddr yiaddr siaddr giaddr
0242ac110002 00*10   # chaddr
00*64 00*128         # sname, file
63825363             # magic cookie
35 01 03             # 53 REQUEST
32 04 0a4d0102       # 50 requested 10.77.1.2
51 0b                # 81 client FQDN, length 11
   04                #    flags 0000NEOS: E (wire name), S=0 O=0 N=0
   00 00             #    RCODE1, RCODE2 (0 from a client, RFC 4702 §2.2)
   06 "laptop" 00    #    "laptop." in canonical wire format (RFC 1035 §3.1)
ff
pad300`

// fxAckFQDNASCII: option 81 in an ACK in the deprecated ASCII form (E=0,
// RFC 4702 §2.3), server flags S=1 O=1 (override), RCODE1/2 255.
const fxAckFQDNASCII = `
02 01 06 00 0e3a66a8 0000 0000
00000000 0a4d0102 00000000 00000000 # yiaddr 10.77.1.2
0242ac110002 00*10 00*64 00*128
63825363
35 01 05             # 53 ACK
51 12                # 81 client FQDN, length 18
   03                #    flags: S and O (the server overrode S=0), E=0
   ff ff             #    RCODE1, RCODE2: 255 from a server (RFC 4702 §2.2)
   "laptop.lan.test" #    name as ASCII text
ff
pad300`

func TestFQDNFixtures(t *testing.T) {
	for _, tt := range []struct {
		fx           string
		flags, r1    uint8
		name, dotted string
	}{
		{fxRequestFQDN, FQDNFlagE, 0, "\x06laptop\x00", "laptop"},
		{fxAckFQDNASCII, FQDNFlagS | FQDNFlagO, 255, "laptop.lan.test", "laptop.lan.test"},
	} {
		var m Message
		if err := m.Decode(mustHex(t, tt.fx)); err != nil {
			t.Fatal(err)
		}
		v, ok := m.Option(OptClientFQDN)
		if !ok {
			t.Fatal("no option 81")
		}
		f, err := ParseFQDN(v)
		if err != nil || f.Flags != tt.flags || f.RCode1 != tt.r1 || f.RCode2 != tt.r1 || string(f.Name) != tt.name {
			t.Fatalf("ParseFQDN = %+v %v", f, err)
		}
		if d, err := f.DomainName(); err != nil || d != tt.dotted {
			t.Fatalf("DomainName = %q %v, want %q", d, err, tt.dotted)
		}
		if n := testing.AllocsPerRun(100, func() { _, _ = ParseFQDN(v) }); n != 0 {
			t.Fatalf("ParseFQDN: %v allocations", n)
		}
	}
}
