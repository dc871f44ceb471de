package server

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"time"

	"github.com/leased/leased/auth"
	"github.com/leased/leased/dhcpv4"
	"github.com/leased/leased/lease"
)

// rawOpt is one option value encoded ahead of time.
type rawOpt struct {
	code dhcpv4.OptionCode
	data []byte
}

// poolOptions is a pool's option block, encoded once per configuration
// (re)load so that building a reply only copies bytes.
type poolOptions struct {
	pool *lease.Pool // the pool this block was built from
	opts []rawOpt    // in wire order
}

// buildPoolOptions encodes the options of p in the order they are sent:
// 1, 3, 6, 15, 119, 42, 26, 121, 66, 67, 28, then the raw options. An
// option that cannot be encoded is left out and reported in errs (config
// validation should have caught it).
func buildPoolOptions(p *lease.Pool) (po *poolOptions, errs []error) {
	po = &poolOptions{pool: p}
	add := func(code dhcpv4.OptionCode, data []byte) {
		if len(data) > 0 {
			po.opts = append(po.opts, rawOpt{code, data})
		}
	}
	addrs := func(code dhcpv4.OptionCode, as []netip.Addr) {
		var b []byte
		for _, a := range as {
			if !a.Is4() {
				errs = append(errs, fmt.Errorf("pool %s: option %d: %s is not IPv4", p.Name, code, a))
				return
			}
			v := a.As4()
			b = append(b, v[:]...)
		}
		add(code, b)
	}
	sub := p.Subnet.Masked()
	if sub.IsValid() && sub.Addr().Is4() {
		var mask [4]byte
		binary.BigEndian.PutUint32(mask[:], ^uint32(0)<<(32-sub.Bits()))
		if sub.Bits() == 0 {
			mask = [4]byte{}
		}
		add(dhcpv4.OptSubnetMask, mask[:])
	}
	switch {
	case len(p.Routers) > 0:
		addrs(dhcpv4.OptRouter, p.Routers)
	case p.Gateway.IsValid():
		addrs(dhcpv4.OptRouter, []netip.Addr{p.Gateway})
	}
	addrs(dhcpv4.OptDNS, p.DNS)
	add(dhcpv4.OptDomainName, []byte(p.DomainName))
	if len(p.DomainSearch) > 0 {
		v, err := dhcpv4.AppendDomainSearch(nil, p.DomainSearch)
		if err != nil {
			errs = append(errs, fmt.Errorf("pool %s: option 119: %w", p.Name, err))
		} else {
			add(dhcpv4.OptDomainSearch, v)
		}
	}
	addrs(dhcpv4.OptNTPServers, p.NTP)
	if p.MTU != 0 {
		add(dhcpv4.OptInterfaceMTU, binary.BigEndian.AppendUint16(nil, p.MTU))
	}
	if len(p.Routes) > 0 {
		rs := make([]dhcpv4.Route, 0, len(p.Routes))
		for _, r := range p.Routes {
			gw := r.Gateway
			if !gw.IsValid() {
				gw = netip.IPv4Unspecified() // on-link route (RFC 3442 §2)
			}
			rs = append(rs, dhcpv4.Route{Dest: r.Dest, Router: gw})
		}
		v, err := dhcpv4.AppendClasslessRoutes(nil, rs)
		if err != nil {
			errs = append(errs, fmt.Errorf("pool %s: option 121: %w", p.Name, err))
		} else {
			add(dhcpv4.OptClasslessRoutes, v)
		}
	}
	add(dhcpv4.OptTFTPServerName, []byte(p.TFTPServer))
	add(dhcpv4.OptBootfileName, []byte(p.BootFile))
	if sub.IsValid() && sub.Addr().Is4() && sub.Bits() < 31 {
		a := sub.Addr().As4()
		v := binary.BigEndian.Uint32(a[:]) | ^(^uint32(0) << (32 - sub.Bits()))
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], v)
		add(dhcpv4.OptBroadcastAddr, b[:])
	}
	for _, r := range p.RawOptions {
		// A raw option may legitimately be empty (a flag option).
		po.opts = append(po.opts, rawOpt{dhcpv4.OptionCode(r.Code), r.Data})
	}
	return po, errs
}

func seconds(d time.Duration) uint32 {
	s := d / time.Second
	if s < 0 {
		return 0
	}
	if s > 0xffffffff {
		return 0xffffffff
	}
	return uint32(s)
}

// encodeReply writes the reply r to the client request with header req
// into dst. relayInfo is the request's option 82 and clientID its option
// 61 (nil when absent), both echoed verbatim.
func encodeReply(w *dhcpv4.Writer, dst []byte, req *dhcpv4.Header, r *lease.Reply, serverID netip.Addr, relayInfo, clientID []byte, po *poolOptions) ([]byte, error) {
	h := dhcpv4.Header{
		Op:     dhcpv4.BootReply,
		HType:  req.HType,
		HLen:   req.HLen,
		XID:    req.XID,
		Flags:  req.Flags,
		GIAddr: req.GIAddr,
		CHAddr: req.CHAddr,
	}
	switch r.Type {
	case dhcpv4.Ack:
		// RFC 2131 table 3: ciaddr of an ACK is the request's ciaddr (0 in
		// the other replies); yiaddr is 0 in the ACK of an INFORM.
		h.CIAddr = req.CIAddr
		h.YIAddr = r.YIAddr
	case dhcpv4.Offer:
		h.YIAddr = r.YIAddr
	case dhcpv4.Nak:
		if isSet(req.GIAddr) {
			// RFC 2131 §4.3.2: "The server MUST set the broadcast bit in the
			// DHCPNAK, so that the relay agent will broadcast the DHCPNAK to
			// the client".
			h.Flags |= dhcpv4.FlagBroadcast
		}
	}
	if r.Type != dhcpv4.Nak {
		// Boot fields (RFC 2131 §2: siaddr is the next server of the
		// bootstrap; sname and file): reservation, class, pool.
		b := r.BootFor()
		h.SIAddr, h.SName, h.File = b.NextServer, b.ServerName, b.File
	}
	w.Reset(dst)
	w.Header(&h)
	if r.BOOTP {
		// RFC 1534 §2: a BOOTREPLY carries no DHCP message type, server
		// identifier or lease times; the other options are vendor
		// extensions (RFC 1497) a BOOTP client may use.
		var sent optSet
		writeOverrides(w, r, &sent)
		writePoolOptions(w, po, &sent)
		if r.Hostname != "" && !sent.has(dhcpv4.OptHostname) {
			w.OptionString(dhcpv4.OptHostname, r.Hostname)
		}
		if len(relayInfo) > 0 {
			w.Option(dhcpv4.OptRelayAgentInfo, relayInfo) // RFC 3046 §2.2
		}
		return endReply(w, r, &h)
	}
	w.OptionByte(dhcpv4.OptMessageType, byte(r.Type))
	w.OptionAddr(dhcpv4.OptServerID, serverID)
	if len(clientID) > 0 {
		// RFC 6842 §3: a server MUST return the client identifier the
		// client sent, in DHCPOFFER, DHCPACK and DHCPNAK (and so in the
		// ACK of an INFORM too).
		w.Option(dhcpv4.OptClientID, clientID)
	}
	// RFC 2131 table 3: a NAK carries only 53, 54, 56 (and 61, 82).
	if r.Type != dhcpv4.Nak {
		// RFC 2131 §4.3.5: the ACK of an INFORM MUST NOT carry a lease time;
		// the engine leaves the times zero then.
		if r.LeaseTime > 0 {
			w.OptionUint32(dhcpv4.OptLeaseTime, seconds(r.LeaseTime))
			if r.T1 > 0 {
				w.OptionUint32(dhcpv4.OptRenewalTime, seconds(r.T1))
			}
			if r.T2 > 0 {
				w.OptionUint32(dhcpv4.OptRebindingTime, seconds(r.T2))
			}
		}
		// Precedence (Kea's): reservation, then classes in configuration
		// order, then the pool block (which holds the global options the
		// pool does not set); the first to set a code wins.
		var sent optSet
		writeOverrides(w, r, &sent)
		writePoolOptions(w, po, &sent)
		if r.Hostname != "" && !sent.has(dhcpv4.OptHostname) {
			// Option 12 (RFC 2132 §3.14): the reservation's host name.
			w.OptionString(dhcpv4.OptHostname, r.Hostname)
		}
		if len(r.FQDN) > 0 {
			// RFC 4702 §4: the server MUST include option 81 in its
			// DHCPOFFER and DHCPACK when the client sent one.
			w.Option(dhcpv4.OptClientFQDN, r.FQDN)
		}
	}
	if r.Message != "" {
		w.OptionString(dhcpv4.OptMessage, r.Message)
	}
	writeReplyAuth(w, r)
	if len(relayInfo) > 0 {
		// RFC 3046 §2.2: the server MUST copy the Relay Agent Information
		// option as the last DHCP option in the response.
		w.Option(dhcpv4.OptRelayAgentInfo, relayInfo)
	}
	return endReply(w, r, &h)
}

// endReply ends the message; when it is larger than the client accepts
// (option 57, else 576 bytes) and the sname/file fields carry no boot
// values, options move there with option 52 (overload4.go).
func endReply(w *dhcpv4.Writer, r *lease.Reply, h *dhcpv4.Header) ([]byte, error) {
	out, err := w.End()
	if err != nil {
		return nil, err
	}
	if limit := replyLimit(r.MaxMessageSize); len(out) > limit {
		out, _ = overload(out, limit, len(h.File) == 0, len(h.SName) == 0)
	}
	return out, nil
}

// writeReplyAuth writes option 90 of an OFFER or ACK when the engine asked
// for one (r.Replay != 0): the RFC 6704 reconfigure key, which the engine
// only sets in a DHCPACK (RFC 6704 §3.3.1: never in an OFFER), or the pool's
// RFC 3118 §4 token.
func writeReplyAuth(w *dhcpv4.Writer, r *lease.Reply) {
	if r.Replay == 0 || r.Type == dhcpv4.Nak {
		return
	}
	switch {
	case len(r.ReconfKey) == auth.KeyLen && r.Type == dhcpv4.Ack:
		auth.WriteKeyOption(w, [auth.KeyLen]byte(r.ReconfKey), r.Replay)
	case r.Pool != nil && r.Pool.ForceRenew.Mode == lease.AuthToken && len(r.Pool.ForceRenew.Token) > 0:
		w.OptionAuth(auth.TokenOption(r.Pool.ForceRenew.Token, r.Replay))
	}
}

// optSet is a set of option codes (one bit per code), on the stack.
type optSet [4]uint64

func (s *optSet) has(c dhcpv4.OptionCode) bool { return s[c/64]&(1<<(c%64)) != 0 }
func (s *optSet) add(c dhcpv4.OptionCode)      { s[c/64] |= 1 << (c % 64) }

// writeOverrides writes the options of the client's reservation and then
// of its classes (configuration order), each code once, recording them in
// sent. No allocation: the values were encoded at configuration load.
func writeOverrides(w *dhcpv4.Writer, r *lease.Reply, sent *optSet) {
	if r.Reservation != nil {
		for _, o := range r.Reservation.Options {
			if c := dhcpv4.OptionCode(o.Code); !sent.has(c) {
				sent.add(c)
				w.Option(c, o.Data)
			}
		}
	}
	if r.Classes&^(lease.ClassKnown|lease.ClassUnknown) == 0 {
		return
	}
	for i := range r.ClassList {
		if r.Classes&(1<<i) == 0 {
			continue
		}
		for _, o := range r.ClassList[i].Options {
			if c := dhcpv4.OptionCode(o.Code); !sent.has(c) {
				sent.add(c)
				w.Option(c, o.Data)
			}
		}
	}
}

// writePoolOptions writes the pool's pre-encoded block, leaving out codes
// already in sent.
func writePoolOptions(w *dhcpv4.Writer, po *poolOptions, sent *optSet) {
	if po == nil {
		return
	}
	for i := range po.opts {
		if c := po.opts[i].code; !sent.has(c) {
			sent.add(c)
			w.Option(c, po.opts[i].data)
		}
	}
}
