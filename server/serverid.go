package server

import (
	"net/netip"

	"github.com/leased/leased/dhcpv4"
	"github.com/leased/leased/lease"
)

// RFC 5107, the relay agent's Server Identifier Override (option 82
// sub-option 11): the relay asks the server to name the relay's address
// in option 54, so that the client sends its unicast renewals (RENEWING,
// RFC 2131 §4.4.5) to the relay, which forwards them to every server it
// relays to. In a cluster this is what lets a client of a server that
// died renew at T1 through the others instead of waiting for T2
// (docs/cluster.md "Campaigns").

// serverIDOverride returns the override of a relayed request, if its
// option 82 carries one.
func serverIDOverride(req *lease.Request) (netip.Addr, bool) {
	if !isSet(req.GIAddr) || len(req.RelayInfo) == 0 {
		return netip.Addr{}, false // option 82 comes from relays only (RFC 3046 §2.1)
	}
	a, ok := dhcpv4.RelayInfo(req.RelayInfo).ServerIDOverride()
	if !ok || !isSet(a) {
		return netip.Addr{}, false
	}
	return a, true
}

// applyServerIDOverride marks a request whose option 54 is the override
// as addressed to this server (RFC 5107 §5: the server MUST recognise
// the override address as its own in a DHCPREQUEST). In a cluster every
// server names the same override, so it is shared: a SELECTING REQUEST
// is then answered only by the server whose offer it accepts
// (lease.Request.ServerIDShared).
func (s *Server) applyServerIDOverride(req *lease.Request) {
	if !isSet(req.ServerID) || req.ServerIDOurs {
		return
	}
	if a, ok := serverIDOverride(req); ok && a == req.ServerID {
		req.ServerIDOurs = true
		req.ServerIDShared = s.cluster != nil
	}
}

// replyServerID is the option 54 of a reply to req: the override when
// the relay sent one (RFC 5107 §5: the server MUST use it), else sid.
func replyServerID(req *lease.Request, sid netip.Addr) netip.Addr {
	if a, ok := serverIDOverride(req); ok {
		return a
	}
	return sid
}
