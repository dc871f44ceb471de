package server

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/leased/leased/auth"
	"github.com/leased/leased/dhcpv6"
	"github.com/leased/leased/lease6"
)

// poolOptions6 is a DHCPv6 pool's option block (23, 24, 56, raw options),
// encoded once per configuration so that a reply only copies bytes.
type poolOptions6 struct {
	pool  *lease6.Pool
	block []byte // options in wire form, headers included
}

// buildPoolOptions6 encodes the options of p in the order they are sent:
// 23 DNS, 24 domain search, 56 NTP (server address sub-options), then the
// raw options. An option that cannot be encoded is left out and reported.
func buildPoolOptions6(p *lease6.Pool) (*poolOptions6, []error) {
	po := &poolOptions6{pool: p}
	var errs []error
	var w dhcpv6.Writer
	// One throwaway header so the Writer accepts options; it is cut off.
	try := func(code dhcpv6.OptionCode, f func(w *dhcpv6.Writer)) {
		buf := make([]byte, 0, 70000)
		w.Reset(buf)
		w.Header(dhcpv6.Reply, 0)
		f(&w)
		out, err := w.End()
		if err != nil {
			errs = append(errs, fmt.Errorf("pool %s: option %d: %w", p.Name, code, err))
			return
		}
		po.block = append(po.block, out[dhcpv6.HeaderLen:]...)
	}
	if len(p.DNS) > 0 {
		try(dhcpv6.OptDNSServers, func(w *dhcpv6.Writer) { w.OptionAddrs(dhcpv6.OptDNSServers, p.DNS...) })
	}
	if len(p.DomainSearch) > 0 {
		try(dhcpv6.OptDomainList, func(w *dhcpv6.Writer) { w.OptionDomainList(dhcpv6.OptDomainList, p.DomainSearch...) })
	}
	if len(p.NTP) > 0 {
		// RFC 5908 §4: suboption 1 (NTP_SUBOPTION_SRV_ADDR), one per server.
		try(dhcpv6.OptNTPServer, func(w *dhcpv6.Writer) {
			w.BeginOption(dhcpv6.OptNTPServer)
			for _, a := range p.NTP {
				if !a.Is6() || a.Is4In6() {
					errs = append(errs, fmt.Errorf("pool %s: option 56: %s is not IPv6", p.Name, a))
					continue
				}
				v := a.As16()
				w.Option(1, v[:])
			}
			w.EndOption()
		})
	}
	for _, r := range p.RawOptions {
		try(dhcpv6.OptionCode(r.Code), func(w *dhcpv6.Writer) { w.Option(dhcpv6.OptionCode(r.Code), r.Data) })
	}
	return po, errs
}

// lifetime converts a duration to RFC 8415 seconds (0xffffffff infinity).
func lifetime(d time.Duration) uint32 { return seconds(d) }

// reply6 is what encodeReply6 needs besides the engine's reply.
type reply6 struct {
	xid      uint32
	serverID []byte
	clientID []byte
	path     *path6 // nil or direct: no relay wrapping
}

// encodeReply6 writes r (Advertise or Reply) into dst, wrapped in a
// Relay-reply per relay layer of in.path.
func encodeReply6(w *dhcpv6.Writer, dst []byte, in *reply6, r *lease6.Reply, po *poolOptions6) ([]byte, error) {
	w.Reset(dst)
	openRelays(w, in.path)
	w.Header(r.Type, in.xid)
	w.Option(dhcpv6.OptServerID, in.serverID)
	if len(in.clientID) > 0 {
		w.Option(dhcpv6.OptClientID, in.clientID)
	}
	if r.RapidCommit {
		w.OptionEmpty(dhcpv6.OptRapidCommit)
	}
	if r.Type == dhcpv6.Advertise && r.Pool != nil && r.Pool.Preference != 0 {
		w.OptionUint8(dhcpv6.OptPreference, r.Pool.Preference)
	}
	if r.HasStatus {
		w.StatusCode(r.Status, r.Message)
	}
	for i := range r.IAs {
		ia := &r.IAs[i]
		code := dhcpv6.OptIANA
		if ia.Kind == lease6.IAPD {
			code = dhcpv6.OptIAPD
		}
		w.BeginIA(code, ia.IAID, lifetime(ia.T1), lifetime(ia.T2))
		for j := range ia.Bindings {
			b := &ia.Bindings[j]
			if ia.Kind == lease6.IAPD {
				w.BeginIAPrefix(b.Prefix, lifetime(b.Preferred), lifetime(b.Valid))
			} else {
				w.BeginIAAddr(b.Addr, lifetime(b.Preferred), lifetime(b.Valid))
			}
			w.EndOption()
		}
		if ia.HasStatus {
			w.StatusCode(ia.Status, ia.Message)
		}
		w.EndOption()
	}
	if po != nil && len(po.block) > 0 {
		writeBlock(w, po.block)
	}
	if r.ReconfAccept {
		w.OptionEmpty(dhcpv6.OptReconfAccept)
	}
	if len(r.FQDN) > 0 && (r.Type == dhcpv6.Advertise || r.Type == dhcpv6.Reply) {
		// RFC 4704 §5: the server MUST include option 39 in its Advertise
		// and Reply when the client sent one.
		w.Option(dhcpv6.OptClientFQDN, r.FQDN)
	}
	if len(r.ReconfKey) == reconfKeyLen && r.Type == dhcpv6.Reply {
		// RFC 8415 §20.4.1: the key goes in a Reply, protocol 3,
		// algorithm 1, RDM 0, type 1.
		auth.WriteKeyOption6(w, [auth.KeyLen]byte(r.ReconfKey), r.Replay)
	}
	closeRelays(w, in.path)
	return w.End()
}

const reconfKeyLen = auth.KeyLen

// writeBlock copies pre-encoded options.
func writeBlock(w *dhcpv6.Writer, block []byte) {
	for it := dhcpv6.Options(block).Iter(); it.Next(); {
		w.Option(it.Code(), it.Data())
	}
}

// openRelays writes the Relay-reply headers of p, outermost first, each
// with the Interface-Id of its Relay-forward (RFC 8415 §19.3: "the
// server MUST copy the Interface-Id option ... into the Relay-reply") and
// opens its Relay Message option.
func openRelays(w *dhcpv6.Writer, p *path6) {
	if p == nil {
		return
	}
	for i := range p.n {
		h := &p.hops[i]
		w.RelayHeader(dhcpv6.RelayReply, h.hopCount, h.link, h.peer)
		if h.ifaceID != nil {
			w.Option(dhcpv6.OptInterfaceID, h.ifaceID)
		}
		w.BeginOption(dhcpv6.OptRelayMsg)
	}
}

func closeRelays(w *dhcpv6.Writer, p *path6) {
	if p == nil {
		return
	}
	for range p.n {
		w.EndOption()
	}
}

// encodeReconfigure writes the Reconfigure r (from
// lease6.Engine.ReconfigureClient) for the client with DUID clientID,
// wrapped for path p, and signs it: option 11 with protocol 3, algorithm
// 1, RDM 0, the replay value, and a type 2 HMAC-MD5 keyed with the
// client's reconfigure key over the whole Reconfigure message (without
// relay layers) with the digest field zero (RFC 8415 §20.4.2).
func encodeReconfigure(w *dhcpv6.Writer, dst []byte, r *lease6.Reply, serverID, clientID []byte, p *path6) ([]byte, error) {
	if len(r.ReconfKey) != reconfKeyLen {
		return nil, errors.New("reconfigure without a 16-byte reconfigure key")
	}
	w.Reset(dst)
	openRelays(w, p)
	// RFC 8415 §18.3.11: transaction-id 0.
	w.Header(dhcpv6.Reconfigure, 0)
	w.Option(dhcpv6.OptServerID, serverID)
	w.Option(dhcpv6.OptClientID, clientID)
	msg := r.ReconfMsg
	if msg == 0 {
		msg = dhcpv6.Renew
	}
	w.OptionUint8(dhcpv6.OptReconfMsg, uint8(msg))
	off := auth.WriteReconfigureOption6(w, r.Replay)
	closeRelays(w, p)
	pkt, err := w.End()
	if err != nil {
		return nil, err
	}
	// RFC 8415 §20.4.2: HMAC-MD5 over the Reconfigure (not the relay
	// layers) with the digest field zero.
	if err := auth.SignReconfigure6(pkt, off, r.ReconfKey, nil); err != nil {
		return nil, fmt.Errorf("sign reconfigure: %w", err)
	}
	return pkt, nil
}

// addrPortZone returns ap with zone set when its address is link-local.
func addrPortZone(ap netip.AddrPort, zone string) netip.AddrPort {
	a := ap.Addr()
	if zone != "" && (a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast()) && a.Zone() == "" {
		return netip.AddrPortFrom(a.WithZone(zone), ap.Port())
	}
	return ap
}
