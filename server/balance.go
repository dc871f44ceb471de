package server

// Broadcast arbitration between the servers of a cluster (issue #12,
// docs/cluster.md "Broadcast arbitration: RFC 3074"): when several servers
// hear the same broadcast (DHCPv4) or multicast (DHCPv6) client message,
// exactly one answers — the one whose hash buckets hold the client.
//
// The hash is RFC 3074's (DHC Load Balancing Algorithm, §6): Pearson's
// hash with the RFC's 256-byte mixing table over the client identifier —
// DHCPv4: option 61 when the client sent one, else chaddr (hlen bytes);
// DHCPv6: the client's DUID (option 1), as ISC Kea's load balancing does
// it (RFC 3074 predates DHCPv6). The 256 buckets are assigned without a
// protocol between the servers: bucket b belongs to the (b mod n)-th of the
// n live servers sorted by name, the live set being what the control plane
// reads from the servers' heartbeats (setLiveServers). While two servers
// disagree about the live set a client may be answered by two (the
// database arbitrates their writes) or by none (it retransmits).

import (
	"slices"

	"github.com/leased/leased/dhcpv4"
	"github.com/leased/leased/dhcpv6"
)

// loadbMixTable is the "mixing table" of RFC 3074 §6: the 256 values 0–255
// in pseudo-random order.
var loadbMixTable = [256]uint8{
	251, 175, 119, 215, 81, 14, 79, 191, 103, 49, 181, 143, 186, 157, 0, 232,
	31, 32, 55, 60, 152, 58, 17, 237, 174, 70, 160, 144, 220, 90, 57, 223,
	59, 3, 18, 140, 111, 166, 203, 196, 134, 243, 124, 95, 222, 179, 197, 65,
	180, 48, 36, 15, 107, 46, 233, 130, 165, 30, 123, 161, 209, 23, 97, 16,
	40, 91, 219, 61, 100, 10, 210, 109, 250, 127, 22, 138, 29, 108, 244, 67,
	207, 9, 178, 204, 74, 98, 126, 249, 167, 116, 34, 77, 193, 200, 121, 5,
	20, 113, 71, 35, 128, 13, 182, 94, 25, 226, 227, 199, 75, 27, 41, 245,
	230, 224, 43, 225, 177, 26, 155, 150, 212, 142, 218, 115, 241, 73, 88, 105,
	39, 114, 62, 255, 192, 201, 145, 214, 168, 158, 221, 148, 154, 122, 12, 84,
	82, 163, 44, 139, 228, 236, 205, 242, 217, 11, 187, 146, 159, 64, 86, 239,
	195, 42, 106, 198, 118, 112, 184, 172, 87, 2, 173, 117, 176, 229, 247, 253,
	137, 185, 99, 164, 102, 147, 45, 66, 231, 52, 141, 211, 194, 206, 246, 238,
	56, 110, 78, 248, 63, 240, 189, 93, 92, 51, 53, 183, 19, 171, 72, 50,
	33, 104, 101, 69, 8, 252, 83, 120, 76, 135, 85, 54, 202, 125, 188, 213,
	96, 235, 136, 208, 162, 129, 190, 132, 156, 38, 47, 1, 7, 254, 24, 4,
	216, 131, 89, 21, 28, 133, 37, 153, 149, 80, 170, 68, 6, 169, 234, 151,
}

// loadbHash is RFC 3074 §6's loadb_p_hash: the hash starts as the key's
// length (mod 256) and mixes the key's bytes from the last to the first.
func loadbHash(key []byte) uint8 {
	h := uint8(len(key))
	for i := len(key) - 1; i >= 0; i-- {
		h = loadbMixTable[h^key[i]]
	}
	return h
}

// liveSet is the live servers of the cluster as this server sees them.
type liveSet struct {
	names []string // sorted, unique, this server among them
	self  int      // this server's index in names
	// wide is names with the servers counted dead that still hold claims
	// (not yet taken over: their leases are not loaded here), sorted;
	// wideSelf is this server's index in it. Nil when there are none.
	wide     []string
	wideSelf int
}

// owner is the index in names of the server whose buckets hold hash h:
// bucket h belongs to the (h mod n)-th live server.
func (ls *liveSet) owner(h uint8) int { return int(h) % len(ls.names) }

// setLiveServers installs the live servers (the control plane calls it
// with every heartbeat). This server is always among them — it is running
// — so its buckets never go unserved because its own heartbeat row looks
// old to itself. The set is swapped atomically; the packet path reads it
// without a lock.
func (s *Server) setLiveServers(names []string) {
	s.setLiveServersOrphans(names, nil)
}

// setLiveServersOrphans is setLiveServers with the servers that are not
// live but still hold claims (orphans: counted dead, or stalled, and not
// yet taken over). Their buckets go to the live servers like any dead
// server's, but a DISCOVER that was theirs is read through first
// (servedElsewhere): this server has not loaded their leases.
func (s *Server) setLiveServersOrphans(names, orphans []string) {
	cp := s.cpath
	if cp == nil {
		return
	}
	ns := slices.Clone(names)
	if !slices.Contains(ns, cp.self) {
		ns = append(ns, cp.self)
	}
	slices.Sort(ns)
	ns = slices.Compact(ns)
	ls := &liveSet{names: ns, self: slices.Index(ns, cp.self)}
	if len(orphans) > 0 {
		w := append(slices.Clone(ns), orphans...)
		slices.Sort(w)
		w = slices.Compact(w)
		if len(w) > len(ns) {
			ls.wide, ls.wideSelf = w, slices.Index(w, cp.self)
		}
	}
	cp.live.Store(ls)
}

// servedElsewhere reports whether the client of RFC 3074 hash key key
// (option 61, else chaddr; DHCPv6: the DUID) was, until its server
// stopped answering, another server's: its bucket among the live servers
// and the orphans (setLiveServersOrphans) is an orphan's or another live
// server's. Such a client may hold a binding in the
// database that this server has never seen (issue #12: after a PostgreSQL
// fail-over both servers' heartbeats timed out, each answered every
// broadcast, and a DISCOVER without option 50 was offered a new address
// while its current one, ACKed by the other server seconds before, stayed
// bound to it). False when no server is orphaned: the normal case costs
// nothing (the key is hashed only when there are orphans).
func (cp *clusterPath) servedElsewhere(key []byte) bool {
	ls := cp.live.Load()
	return ls != nil && len(ls.wide) > 1 && int(loadbHash(key))%len(ls.wide) != ls.wideSelf
}

// ownsHash reports whether this server's buckets hold hash h. Before the
// first live set, or alone, it holds them all.
func (cp *clusterPath) ownsHash(h uint8) bool {
	ls := cp.live.Load()
	if ls == nil || len(ls.names) <= 1 {
		return true
	}
	return ls.owner(h) == ls.self
}

// mine4 is the RFC 3074 filter for DHCPv4: it reports whether this server
// answers p. Filtered are the messages every server on the link (or every
// server a relay forwards to) receives: DISCOVER, BOOTREQUEST, INFORM and
// the REQUESTs of INIT-REBOOT and REBINDING — broadcast by the client,
// or relayed (a relay forwards only broadcasts). A REQUEST in SELECTING
// carries the server identifier of the server it chose (RFC 2131 §4.3.2):
// the engine answers it iff it is ours, whatever the hash. Unicast
// messages (RENEWING, RELEASE, DECLINE, a unicast INFORM) reach one
// server only, which answers.
func (s *Server) mine4(p *inPacket) bool {
	cp := s.cpath
	req := &p.req
	relayed := isSet(req.GIAddr)
	switch req.Type {
	case dhcpv4.Discover, dhcpv4.Inform, 0: // 0: BOOTP
		if req.Unicast && !relayed {
			return true
		}
	case dhcpv4.Request:
		if isSet(req.ServerID) || (req.Unicast && !relayed) {
			return true // SELECTING, RENEWING
		}
	default:
		return true
	}
	// The secs fallback: a client that has been trying for a while is
	// answered by anyone, in case its bucket's owner is dying before the
	// take-over delay (RFC 3074's use of secs; ISC dhcpd's "load balance
	// max seconds").
	if n := cp.answerAfter; n > 0 && p.msg.Secs >= n {
		return true
	}
	key := req.ClientID
	if len(key) == 0 {
		key = req.HWAddr
	}
	if cp.ownsHash(loadbHash(key)) {
		return true
	}
	cp.notMine4.Inc()
	return false
}

// mine6 is the filter for DHCPv6: every client message sent to
// All_DHCP_Relay_Agents_and_Servers (RFC 8415 §7.1, §18.2: Solicit,
// Request, Confirm, Renew, Rebind, Release, Decline,
// Information-request) or relayed is heard by every server, and is
// answered by the owner of the client DUID's bucket. Messages that name a
// server (Request, Renew, Release, Decline) are filtered too: the servers
// of a cluster share one DUID (the store's server-DUID blob), so to the
// client they are one server and all of them match the Server Identifier.
// A message a client unicast to one server's address (§18.3.11, Server
// Unicast) reaches that server only, which answers. The secs fallback
// uses the Elapsed Time option (§21.9, hundredths of a second).
func (s *Server) mine6(p *inPacket6) bool {
	cp := s.cpath
	req := &p.req
	switch req.Type {
	case dhcpv6.Solicit, dhcpv6.Request, dhcpv6.Confirm, dhcpv6.Renew, dhcpv6.Rebind,
		dhcpv6.Release, dhcpv6.Decline, dhcpv6.InformationRequest:
	default:
		return true
	}
	if req.Unicast && len(p.msg.Relays()) == 0 {
		return true
	}
	if n := cp.answerAfter; n > 0 {
		if et, ok := p.msg.ElapsedTime(); ok && uint32(et) >= uint32(n)*100 {
			return true
		}
	}
	if len(req.ClientID) == 0 {
		return true // invalid (RFC 8415 §16): the engine drops and counts it
	}
	if cp.ownsHash(loadbHash(req.ClientID)) {
		return true
	}
	cp.notMine6.Inc()
	return false
}
