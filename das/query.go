package das

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"net/netip"
	"strings"
)

// Query is a request's session identification. Address attributes select
// bindings (any of them); identity attributes narrow the selection (all of
// them must match).
type Query struct {
	// Addrs are Framed-IP-Address values.
	Addrs []netip.Addr
	// Prefixes are Framed-IPv6-Prefix and Delegated-IPv6-Prefix values:
	// a delegated prefix matches when equal, an IA_NA address when the
	// prefix holds it.
	Prefixes []netip.Prefix
	// MAC is the Calling-Station-Id; a DHCPv6 binding matches through the
	// link-layer address in its DUID (DUID-LLT, DUID-LL).
	MAC []byte
	// CircuitID and RemoteID are the DSL Forum Agent-Circuit-Id and
	// Agent-Remote-Id (RFC 4679): sub-options 1 and 2 of option 82.
	CircuitID, RemoteID []byte
}

// Empty reports whether q identifies nothing.
func (q *Query) Empty() bool {
	return len(q.Addrs) == 0 && len(q.Prefixes) == 0 && q.MAC == nil && q.CircuitID == nil && q.RemoteID == nil
}

func (q *Query) String() string {
	var p []string
	for _, a := range q.Addrs {
		p = append(p, "ip "+a.String())
	}
	for _, a := range q.Prefixes {
		p = append(p, "prefix "+a.String())
	}
	if q.MAC != nil {
		p = append(p, "mac "+hexColons(q.MAC))
	}
	if q.CircuitID != nil {
		p = append(p, fmt.Sprintf("circuit-id %q", q.CircuitID))
	}
	if q.RemoteID != nil {
		p = append(p, fmt.Sprintf("remote-id %q", q.RemoteID))
	}
	return strings.Join(p, ", ")
}

func hexColons(b []byte) string {
	s := hex.EncodeToString(b)
	var out []string
	for i := 0; i < len(s); i += 2 {
		out = append(out, s[i:i+2])
	}
	return strings.Join(out, ":")
}

// Match reports whether s is one of the bindings q identifies.
func (q *Query) Match(s *Session) bool {
	if len(q.Addrs) > 0 || len(q.Prefixes) > 0 {
		hit := false
		for _, a := range q.Addrs {
			hit = hit || s.Addr == a
		}
		for _, p := range q.Prefixes {
			if s.Prefix.IsValid() {
				hit = hit || s.Prefix == p
			} else {
				hit = hit || s.IsV6() && p.Contains(s.Addr)
			}
		}
		if !hit {
			return false
		}
	}
	if q.MAC != nil && !bytes.Equal(q.MAC, sessionMAC(s)) {
		return false
	}
	if q.CircuitID != nil || q.RemoteID != nil {
		circuit, remote := relayIDs(s.RelayInfo)
		if q.CircuitID != nil && !bytes.Equal(q.CircuitID, circuit) {
			return false
		}
		if q.RemoteID != nil && !bytes.Equal(q.RemoteID, remote) {
			return false
		}
	}
	return true
}

// sessionMAC is the hardware address of s: chaddr for DHCPv4, the
// link-layer address of a DUID-LLT (type 1) or DUID-LL (type 3) with
// hardware type 1 (Ethernet) for DHCPv6 (RFC 8415 §11.2, §11.4).
func sessionMAC(s *Session) []byte {
	if len(s.HWAddr) > 0 {
		return s.HWAddr
	}
	d := s.ClientID
	if !s.IsV6() || len(d) < 4 || d[2] != 0 || d[3] != 1 {
		return nil
	}
	switch {
	case d[0] == 0 && d[1] == 1 && len(d) == 14:
		return d[8:]
	case d[0] == 0 && d[1] == 3 && len(d) == 10:
		return d[4:]
	}
	return nil
}

// relayIDs returns sub-options 1 (Agent Circuit ID) and 2 (Agent Remote
// ID) of a relay agent information option (RFC 3046 §2.0).
func relayIDs(ri []byte) (circuit, remote []byte) {
	for len(ri) >= 2 && int(ri[1])+2 <= len(ri) {
		switch ri[0] {
		case 1:
			circuit = ri[2 : 2+ri[1]]
		case 2:
			remote = ri[2 : 2+ri[1]]
		}
		ri = ri[2+ri[1]:]
	}
	return circuit, remote
}
