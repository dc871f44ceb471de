package dhcpv4

import (
	"encoding/hex"
	"strconv"
	"strings"
	"testing"
)

// mustHex decodes an annotated hex fixture: '#' starts a comment, spaces
// and newlines are ignored, "00*64" repeats a byte, and a quoted "text" is
// ASCII. "pad300" pads with zeros to the 300-byte BOOTP minimum.
func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := parseHex(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func parseHex(s string) ([]byte, error) {
	var out []byte
	for line := range strings.SplitSeq(s, "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		for len(line) > 0 {
			line = strings.TrimLeft(line, " \t")
			if line == "" {
				break
			}
			if line[0] == '"' {
				j := strings.IndexByte(line[1:], '"')
				out = append(out, line[1:1+j]...)
				line = line[j+2:]
				continue
			}
			tok := line
			if j := strings.IndexAny(line, " \t"); j >= 0 {
				tok, line = line[:j], line[j:]
			} else {
				line = ""
			}
			if tok == "pad300" {
				for len(out) < MinPacketLen {
					out = append(out, 0)
				}
				continue
			}
			rep := 1
			if k := strings.IndexByte(tok, '*'); k >= 0 {
				n, err := strconv.Atoi(tok[k+1:])
				if err != nil {
					return nil, err
				}
				rep, tok = n, tok[:k]
			}
			v, err := hex.DecodeString(tok)
			if err != nil {
				return nil, err
			}
			for range rep {
				out = append(out, v...)
			}
		}
	}
	return out, nil
}

// Fixtures: one real-shaped message of every type, annotated field by field
// (RFC 2131 §2 figure 1). Client messages look like dhcpcd 9's.
const (
	fxDiscover = `
01 01 06 00          # op BOOTREQUEST, htype Ethernet, hlen 6, hops 0
a1b2c3d4             # xid
0003 8000            # secs 3, flags BROADCAST
00000000             # ciaddr
00000000             # yiaddr
00000000             # siaddr
00000000             # giaddr
0242ac110002 00*10   # chaddr 02:42:ac:11:00:02
00*64                # sname
00*128               # file
63825363             # magic cookie
35 01 01             # 53 message type DISCOVER
3d 07 01 0242ac110002 # 61 client id: type 1 + MAC
37 08 01 03 06 0c 0f 1c 2a 79  # 55 PRL: 1 3 6 12 15 28 42 121
39 02 05dc           # 57 max message size 1500
0c 04 "box1"         # 12 hostname
3c 0c "dhcpcd-9.4.1" # 60 vendor class
91 01 01             # 145 FORCERENEW nonce capable: HMAC-MD5
ff                   # end
pad300`

	fxRequest = `
01 01 06 01          # BOOTREQUEST, Ethernet, hlen 6, hops 1 (relayed)
0badcafe             # xid
0000 0000            # secs 0, flags 0 (unicast reply)
00000000             # ciaddr
00000000             # yiaddr
00000000             # siaddr
0a000001             # giaddr 10.0.0.1
0242ac110002 00*10   # chaddr
00*64 00*128         # sname, file
63825363             # cookie
35 01 03             # 53 REQUEST
3d 07 01 0242ac110002 # 61 client id
32 04 0a000032       # 50 requested IP 10.0.0.50
36 04 0a0000fe       # 54 server id 10.0.0.254
0c 04 "box1"         # 12 hostname
37 04 01 03 06 0f    # 55 PRL
52 14                # 82 relay agent information, 20 bytes
   01 04 "eth0"      #    circuit-id
   02 06 0242ac110002 #   remote-id
   05 04 0a000000    #    link selection 10.0.0.0 (RFC 3527)
ff
pad300`

	fxOffer = `
02 01 06 00          # BOOTREPLY
a1b2c3d4             # xid of the DISCOVER
0000 8000            # secs, flags BROADCAST echoed
00000000             # ciaddr
0a000032             # yiaddr 10.0.0.50
00000000             # siaddr
00000000             # giaddr
0242ac110002 00*10   # chaddr
00*64 00*128         # sname, file
63825363
35 01 02             # 53 OFFER
36 04 0a0000fe       # 54 server id
33 04 00000e10       # 51 lease time 3600
3a 04 00000708       # 58 T1 1800
3b 04 00000c4e       # 59 T2 3150
01 04 ffffff00       # 1 subnet mask /24
03 04 0a000001       # 3 router
06 08 0a000001 0a000002 # 6 DNS servers
0f 0b "example.net"  # 15 domain name
ff
pad300`

	fxAck = `
02 01 06 01          # BOOTREPLY, hops 1
0badcafe
0000 0000
00000000             # ciaddr
0a000032             # yiaddr 10.0.0.50
00000000             # siaddr
0a000001             # giaddr echoed
0242ac110002 00*10
00*64 00*128
63825363
35 01 05             # 53 ACK
36 04 0a0000fe       # 54 server id
33 04 00000e10       # 51 lease 3600
3a 04 00000708       # 58 T1
3b 04 00000c4e       # 59 T2
01 04 ffffff00       # 1 mask
03 04 0a000001       # 3 router
06 04 0a000001       # 6 DNS
79 0d 18 c0a801 0a000001 00 0a000001 # 121: 192.168.1.0/24 via 10.0.0.1, default via 10.0.0.1
5a 1c 03 01 00 0000000000000001 # 90 auth: proto 3 (RFC 6704), alg 1 HMAC-MD5, RDM 0, replay 1
   01 000102030405060708090a0b0c0d0e0f # type 1 reconfigure key + 16-byte key
52 14 01 04 "eth0" 02 06 0242ac110002 05 04 0a000000 # 82 echoed (RFC 3046 §2.2)
ff
pad300`

	fxNak = `
02 01 06 00
0badcafe
0000 8000            # NAK: broadcast (RFC 2131 §4.3.2)
00000000 00000000 00000000 00000000
0242ac110002 00*10
00*64 00*128
63825363
35 01 06             # 53 NAK
36 04 0a0000fe       # 54
38 12 "address not ours" 2e 2e # 56 message (18 bytes)
ff
pad300`

	fxRelease = `
01 01 06 00
11223344
0000 0000
0a000032             # ciaddr 10.0.0.50
00000000 00000000 00000000
0242ac110002 00*10
00*64 00*128
63825363
35 01 07             # 53 RELEASE
36 04 0a0000fe       # 54 server id
3d 07 01 0242ac110002 # 61
ff
pad300`

	fxDecline = `
01 01 06 00
55667788
0000 0000
00000000 00000000 00000000 00000000
0242ac110002 00*10
00*64 00*128
63825363
35 01 04             # 53 DECLINE
32 04 0a000032       # 50 the declined address
36 04 0a0000fe       # 54
3d 07 01 0242ac110002 # 61
ff
pad300`

	fxInform = `
01 01 06 00
99aabbcc
0000 0000
0a000063             # ciaddr 10.0.0.99 (configured by hand)
00000000 00000000 00000000
0242ac110003 00*10
00*64 00*128
63825363
35 01 08             # 53 INFORM
37 03 06 0f 2a       # 55 PRL: DNS, domain, NTP
ff
pad300`

	fxForceRenew = `
02 01 06 00          # BOOTREPLY
0badcafe             # xid of the client's last transaction (dhcpcd checks)
0000 0000
0a000032             # ciaddr: the leased address
00000000 00000000 00000000
0242ac110002 00*10   # chaddr (dhcpcd checks)
00*64 00*128
63825363
35 01 09             # 53 FORCERENEW (RFC 3203)
36 04 0a0000fe       # 54
5a 1c 03 01 00 0000000000000002 # 90: proto 3, alg 1, RDM 0, replay 2
   02 00*16          # type 2 HMAC-MD5, digest (zero here)
ff
pad300`

	// Option overload (RFC 2132 §9.3) and long options (RFC 3396): 52=3
	// makes file then sname carry options; option 12 is split into three
	// instances across the fields, 82 into two.
	fxOverload = `
01 01 06 00
01020304
0000 0000
00000000 00000000 00000000 00000000
0242ac110002 00*10
0c 02 "-x" 52 04 0a0000fe ff 00*53    # sname (64): 12 part 3, 82 part 2 (sub-option 11's value), end, pad
0c 03 "box" 52 04 01 00 0b 04 ff 00*116 # file (128): 12 part 2, 82 part 1 (empty circuit-id, sub 11 header), end, pad
63825363
35 01 01             # DISCOVER
34 01 03             # 52 overload: file and sname
0c 01 "1"            # 12 part 1: value is "1box-x"
ff
pad300
`
)

var allFixtures = []struct {
	name string
	hex  string
}{
	{"discover", fxDiscover}, {"request", fxRequest}, {"offer", fxOffer}, {"ack", fxAck},
	{"nak", fxNak}, {"release", fxRelease}, {"decline", fxDecline}, {"inform", fxInform},
	{"forcerenew", fxForceRenew}, {"overload", fxOverload},
}
