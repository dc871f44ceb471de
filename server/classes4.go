package server

import (
	"github.com/leased/leased/dhcpv4"
	"github.com/leased/leased/lease"
)

// Option codes the client classes match on (not named in dhcpv4).
const (
	optUserClass  dhcpv4.OptionCode = 77 // RFC 3004
	optClientArch dhcpv4.OptionCode = 93 // RFC 4578 §2.1
)

// fillClassInputs copies the options client classes match on into req
// (aliasing the packet, like the other Request slices).
func fillClassInputs(req *lease.Request, m *dhcpv4.Message) {
	if v, ok := m.Option(dhcpv4.OptVendorClassID); ok {
		req.VendorClass = v
	}
	if v, ok := m.Option(optUserClass); ok {
		req.UserClass = v
	}
	if v, ok := m.Option(optClientArch); ok {
		req.ClientArch = v
	}
	if v, ok := m.MaxMessageSize(); ok {
		req.MaxMessageSize = v
	}
}

// servesBOOTP reports whether a pool of the current configuration serves
// BOOTP clients (bootp: true). Called only for messages without option 53.
func (s *Server) servesBOOTP() bool {
	s.camp.cfgM.Lock()
	defer s.camp.cfgM.Unlock()
	if s.camp.leaseCfg == nil {
		return false
	}
	for i := range s.camp.leaseCfg.Pools {
		if s.camp.leaseCfg.Pools[i].BOOTP {
			return true
		}
	}
	return false
}
