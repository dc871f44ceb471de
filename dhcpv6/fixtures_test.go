package dhcpv6

import (
	"encoding/hex"
	"strconv"
	"strings"
	"testing"
)

// mustHex decodes an annotated hex fixture: '#' starts a comment, spaces
// and newlines are ignored, "00*16" repeats a byte, and a quoted "text" is
// ASCII.
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

// Fixtures: one real-shaped packet of every message type (RFC 8415 §7.3),
// annotated field by field (option layout §21.1: code, length, value).
// Client messages look like dhcpcd 9's; addresses are from the demo
// network fd77::/64 with prefix delegation from fd77:100::/40.
const (
	fxSolicit = `
01 a1b2c3                 # SOLICIT, transaction-id 0xa1b2c3
0001 000e                 # 1 client id, 14 bytes
   0001 0001 2c4e6b3a     #   DUID-LLT, htype Ethernet, time
   0242ac110002           #   link-layer address 02:42:ac:11:00:02
0006 0008 0017 0018 0027 0052 # 6 ORO: 23 DNS, 24 domain list, 39 FQDN, 82 SOL_MAX_RT
0008 0002 0000            # 8 elapsed time 0
0014 0000                 # 20 reconfigure accept
000e 0000                 # 14 rapid commit
0027 0006 01 04 "box1"    # 39 client FQDN: flag S, partial name "box1"
0003 000c                 # 3 IA_NA, 12 bytes
   ac110002 00000000 00000000 # IAID, T1 0, T2 0 (no hint)
0019 0029                 # 25 IA_PD, 41 bytes
   00000001 00000000 00000000 # IAID 1, T1 0, T2 0
   001a 0019              #   26 IAPREFIX, 25 bytes
      00000000 00000000   #     preferred 0, valid 0
      38 00*16            #     prefix-length 56, prefix :: (length hint)
`

	fxAdvertise = `
02 a1b2c3                 # ADVERTISE, same transaction-id
0001 000e 0001 0001 2c4e6b3a 0242ac110002 # 1 client id (echoed)
0002 000a                 # 2 server id, 10 bytes
   0003 0001 0200000000fe #   DUID-LL, Ethernet, 02:00:00:00:00:fe
0003 0028                 # 3 IA_NA, 40 bytes
   ac110002 00000e10 00001c20 # IAID, T1 3600, T2 7200
   0005 0018              #   5 IAADDR, 24 bytes
      fd77 0000 0000 0000 0000 0000 0001 0010 # fd77::1:10
      00001c20 00002a30   #     preferred 7200, valid 10800
0019 0029                 # 25 IA_PD, 41 bytes
   00000001 00000e10 00001c20 # IAID 1, T1 3600, T2 7200
   001a 0019              #   26 IAPREFIX
      00001c20 00002a30   #     preferred 7200, valid 10800
      38 fd77 0100 0000 0100 0000 0000 0000 0000 # fd77:100:0:100::/56
0007 0001 ff              # 7 preference 255
0017 0010 fd77 0000 0000 0000 0000 0000 0000 0001 # 23 DNS fd77::1
0018 0010 06 "campus" 07 "example" 00 # 24 domain list campus.example.
`

	fxRequest = `
03 0badca                 # REQUEST
0001 000e 0001 0001 2c4e6b3a 0242ac110002 # 1 client id
0002 000a 0003 0001 0200000000fe # 2 server id
0006 0004 0017 0018       # 6 ORO: 23, 24
0008 0002 0000            # 8 elapsed time 0
0014 0000                 # 20 reconfigure accept
0003 0028                 # 3 IA_NA
   ac110002 00000000 00000000
   0005 0018 fd77 0000 0000 0000 0000 0000 0001 0010 00000000 00000000 # IAADDR fd77::1:10, lifetimes 0
0019 0029                 # 25 IA_PD
   00000001 00000000 00000000
   001a 0019 00000000 00000000 38 fd77 0100 0000 0100 0000 0000 0000 0000 # IAPREFIX fd77:100:0:100::/56
`

	fxConfirm = `
04 00cafe                 # CONFIRM (after a link change)
0001 000e 0001 0001 2c4e6b3a 0242ac110002 # 1 client id
0008 0002 0000            # 8 elapsed time
0003 0028 ac110002 00000000 00000000 # 3 IA_NA, T1/T2 0
   0005 0018 fd77 0000 0000 0000 0000 0000 0001 0010 00000000 00000000 # IAADDR, lifetimes 0 (RFC 8415 §18.2.3)
`

	fxRenew = `
05 123456                 # RENEW
0001 000e 0001 0001 2c4e6b3a 0242ac110002 # 1 client id
0002 000a 0003 0001 0200000000fe # 2 server id
0006 0004 0017 0018       # 6 ORO
0008 0002 0064            # 8 elapsed time 1.00 s
0003 0028 ac110002 00000e10 00001c20 # 3 IA_NA, T1 3600, T2 7200
   0005 0018 fd77 0000 0000 0000 0000 0000 0001 0010 00001c20 00002a30 # IAADDR fd77::1:10
`

	fxRebind = `
06 654321                 # REBIND (no server id)
0001 000e 0001 0001 2c4e6b3a 0242ac110002 # 1 client id
0008 0002 0000            # 8 elapsed time
0019 0029 00000001 00000e10 00001c20 # 25 IA_PD
   001a 0019 00001c20 00002a30 38 fd77 0100 0000 0100 0000 0000 0000 0000 # IAPREFIX /56
`

	fxReply = `
07 0badca                 # REPLY to the REQUEST
0002 000a 0003 0001 0200000000fe # 2 server id
0001 000e 0001 0001 2c4e6b3a 0242ac110002 # 1 client id
0003 0030 ac110002 00000e10 00001c20 # 3 IA_NA, 48 bytes
   0005 0020              #   5 IAADDR, 32 bytes
      fd77 0000 0000 0000 0000 0000 0001 0010 00001c20 00002a30
      000d 0004 0000 "ok" #     13 status Success "ok"
000b 001c                 # 11 authentication, 28 bytes
   03 01 00               #   protocol 3 (RKAP), algorithm 1 HMAC-MD5, RDM 0
   0000000000000001       #   replay detection 1
   01                     #   type 1: reconfigure key
   00112233445566778899aabbccddeeff # key
0017 0010 fd77 0000 0000 0000 0000 0000 0000 0001 # 23 DNS fd77::1
0052 0004 00000e10        # 82 SOL_MAX_RT 3600
000d 000a 0000 "all good" # 13 status Success
`

	fxRelease = `
08 0f0f0f                 # RELEASE
0001 000e 0001 0001 2c4e6b3a 0242ac110002 # 1 client id
0002 000a 0003 0001 0200000000fe # 2 server id
0008 0002 0000            # 8 elapsed time
0003 0028 ac110002 00000000 00000000 # 3 IA_NA
   0005 0018 fd77 0000 0000 0000 0000 0000 0001 0010 00000000 00000000
`

	fxDecline = `
09 0e0e0e                 # DECLINE (DAD found a duplicate)
0001 000e 0001 0001 2c4e6b3a 0242ac110002 # 1 client id
0002 000a 0003 0001 0200000000fe # 2 server id
0008 0002 0000            # 8 elapsed time
0003 0028 ac110002 00000000 00000000 # 3 IA_NA
   0005 0018 fd77 0000 0000 0000 0000 0000 0001 0010 00000000 00000000
`

	fxReconfigure = `
0a 000000                 # RECONFIGURE, transaction-id 0 (RFC 8415 §18.3.11)
0002 000a 0003 0001 0200000000fe # 2 server id
0001 000e 0001 0001 2c4e6b3a 0242ac110002 # 1 client id
0013 0001 05              # 19 reconfigure message: RENEW
000b 001c                 # 11 authentication
   03 01 00 0000000000000002 # RKAP, HMAC-MD5, RDM 0, replay 2
   02                     #   type 2: HMAC-MD5 digest
   5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c # digest (placeholder bytes)
`

	fxInfoRequest = `
0b 777777                 # INFORMATION-REQUEST
0001 000e 0001 0001 2c4e6b3a 0242ac110002 # 1 client id
0006 0006 0017 0018 0020  # 6 ORO: 23, 24, 32 information refresh time
0008 0002 0000            # 8 elapsed time
`

	fxRelayForward = `
0c 00                     # RELAY-FORW, hop-count 0 (first relay)
fd77 0000 0000 0000 0000 0000 0000 0001 # link-address fd77::1
fe80 0000 0000 0000 0042 acff fe11 0002 # peer-address fe80::42:acff:fe11:2
0012 0004 "eth1"          # 18 interface-id
0025 000b 00000de9 "port-17" # 37 remote-id: enterprise 3561, "port-17"
0026 0006 "sub-42"        # 38 subscriber-id
004f 0008 0001 0242ac110002 # 79 client link-layer address: Ethernet
0009 002c                 # 9 relay message, 44 bytes:
   01 a1b2c3              #   SOLICIT
   0001 000e 0001 0001 2c4e6b3a 0242ac110002
   0008 0002 0000
   0003 000c ac110002 00000000 00000000
`

	fxRelayReply = `
0d 01                     # RELAY-REPL, hop-count 1 (outer relay)
0000 0000 0000 0000 0000 0000 0000 0000 # link-address ::
fe80 0000 0000 0000 0000 0000 0000 0001 # peer-address fe80::1 (the inner relay)
0012 0004 "up-1"          # 18 interface-id (echoed)
0009 007e                 # 9 relay message, 126 bytes:
   0d 00                  #   RELAY-REPL, hop-count 0
   fd77 0000 0000 0000 0000 0000 0000 0001 # link-address fd77::1
   fe80 0000 0000 0000 0042 acff fe11 0002 # peer-address: the client
   0012 0004 "eth1"       #   18 interface-id
   0009 0050              #   9 relay message, 80 bytes:
      02 a1b2c3           #     ADVERTISE
      0002 000a 0003 0001 0200000000fe
      0001 000e 0001 0001 2c4e6b3a 0242ac110002
      0003 0028 ac110002 00000e10 00001c20
         0005 0018 fd77 0000 0000 0000 0000 0000 0001 0010 00001c20 00002a30
`
)

var allFixtures = []struct {
	name string
	typ  MessageType
	hex  string
}{
	{"solicit", Solicit, fxSolicit},
	{"advertise", Advertise, fxAdvertise},
	{"request", Request, fxRequest},
	{"confirm", Confirm, fxConfirm},
	{"renew", Renew, fxRenew},
	{"rebind", Rebind, fxRebind},
	{"reply", Reply, fxReply},
	{"release", Release, fxRelease},
	{"decline", Decline, fxDecline},
	{"reconfigure", Reconfigure, fxReconfigure},
	{"information-request", InformationRequest, fxInfoRequest},
	{"relay-forward", Solicit, fxRelayForward},
	{"relay-reply", Advertise, fxRelayReply},
}

func TestFixturesDecodeAndReencode(t *testing.T) {
	var m Message
	for _, fx := range allFixtures {
		t.Run(fx.name, func(t *testing.T) {
			pkt := mustHex(t, fx.hex)
			if err := m.Decode(pkt); err != nil {
				t.Fatal(err)
			}
			if m.Type != fx.typ {
				t.Errorf("type = %v, want %v", m.Type, fx.typ)
			}
			out, err := m.Encode(make([]byte, 0, 1500))
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != string(pkt) {
				t.Errorf("re-encoding differs:\n got %x\nwant %x", out, pkt)
			}
		})
	}
}
