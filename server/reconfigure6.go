package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/leased/leased/dhcpv6"
	"github.com/leased/leased/lease"
	"github.com/leased/leased/lease6"
	"github.com/leased/leased/reconf"
)

// isV6Addr reports whether addr belongs to the DHCPv6 engine.
func (s *Server) isV6Addr(addr netip.Addr) bool {
	return s.v6 != nil && addr.Is6() && !addr.Is4In6()
}

// lookup finds the lease of addr in the engine of its family.
func (s *Server) lookup(addr netip.Addr) (lease.Lease, bool) {
	if s.isV6Addr(addr) {
		return s.v6.eng.Lookup(addr)
	}
	return s.eng.Lookup(addr)
}

// Lookup returns the lease of addr, DHCPv4 or DHCPv6.
func (s *Server) Lookup(addr netip.Addr) (lease.Lease, bool) { return s.lookup(addr) }

// deleteLease6 is DeleteLease for a DHCPv6 binding.
func (s *Server) deleteLease6(ctx context.Context, addr netip.Addr) error {
	d, err := s.v6.eng.Delete(s.now(), addr)
	if err != nil {
		return err
	}
	if err := s.commit6(ctx, &d, "dhcpv6 delete "+addr.String()); err != nil {
		return err
	}
	if s.campaignsActive() {
		s.observeRecords(d.Persist)
	}
	return nil
}

// recycle6 is recycle for a DHCPv6 binding.
func (s *Server) recycle6(ctx context.Context, now time.Time, addr netip.Addr, key []byte) error {
	d, err := s.v6.eng.Recycle(now, addr, key)
	if err != nil {
		return err
	}
	if err := s.commit6(ctx, &d, "dhcpv6 recycle "+addr.String()); err != nil {
		return err
	}
	return nil
}

// SendReconfigure sends one authenticated DHCPv6 Reconfigure (RFC 8415
// §18.3.11) to the client bound to addr (an IA_NA address or the first
// address of a delegated prefix) and returns once it is sent. The message
// carries Server ID, Client ID, the Reconfigure Message option (renew,
// rebind or information-request, per the pool) and option 11 (protocol 3,
// algorithm 1, RDM 0, the next replay value, HMAC-MD5 keyed with the
// client's reconfigure key). It goes to the client's address from our
// link-local address on the interface the client was served on, or as a
// Relay-reply through the relay chain its last message came through.
//
// The raised replay value is committed before sending. Errors are
// *ForceRenewError (the same reasons as ForceRenew).
func (s *Server) SendReconfigure(ctx context.Context, addr netip.Addr) error {
	return s.reconfigure6(ctx, addr, 0)
}

// reconfigure6 is SendReconfigure with the Reconfigure Message msg (0: the
// pool's configured one, else the engine's).
func (s *Server) reconfigure6(ctx context.Context, addr netip.Addr, msg dhcpv6.MessageType) error {
	v := s.v6
	if v == nil {
		return &ForceRenewError{Addr: addr, Reason: frNotFound, Err: fmt.Errorf("%s: DHCPv6 is not enabled: %w", addr, lease.ErrNotFound)}
	}
	fail := func(reason string, err error) error {
		v.m.reconfFailed.WithLabelValues(reason).Inc()
		s.log.Info("reconfigure not sent", "addr", addr, "reason", reason, "err", err)
		return &ForceRenewError{Addr: addr, Reason: reason, Err: err}
	}
	d, err := v.eng.ReconfigureClient(s.now(), addr)
	switch {
	case errors.Is(err, lease.ErrNotCapable):
		return fail(frNotCapable, err)
	case errors.Is(err, lease.ErrNotBound):
		return fail(frNotBound, err)
	case err != nil:
		return fail(frNotFound, err)
	}
	l := d.Reply.Lease
	if l == nil {
		v.eng.Revert(&d)
		return fail(frEncode, errors.New("engine returned a Reconfigure without its lease"))
	}
	if msg != 0 {
		d.Reply.ReconfMsg = msg
	} else if m := v.reconfMsg(l.Pool); m != 0 {
		d.Reply.ReconfMsg = m
	}
	var path path6
	if err := parsePath(l.RelayInfo, &path); err != nil {
		v.eng.Revert(&d)
		return fail(frEncode, fmt.Errorf("lease %s: %w", addr, err))
	}
	ifc := v.ifaceByName(path.iface)
	if !path.relayed() {
		if ifc == nil {
			v.eng.Revert(&d)
			return fail(frSend, fmt.Errorf("lease %s: interface %q is not served", addr, path.iface))
		}
		// RFC 8415 §18.3.11 / dhcpcd: to the client (its address as it
		// last sent from) at port 546.
		path.to = netip.AddrPortFrom(path.to.Addr(), dhcpv6.ClientPort)
		if l.GIAddr.IsValid() {
			path.to = netip.AddrPortFrom(l.GIAddr, dhcpv6.ClientPort)
		}
	}
	var w dhcpv6.Writer
	pkt, err := encodeReconfigure(&w, make([]byte, 0, 1024), &d.Reply, v.duid, l.ClientID, &path)
	if err != nil {
		v.eng.Revert(&d)
		return fail(frEncode, err)
	}
	// Durable before sending: a replay value must never be reused after a
	// restart (RFC 8415 §20.3: strictly increasing).
	if err := s.commit6(ctx, &d, "dhcpv6 reconfigure "+addr.String()); err != nil {
		return fail(frCommit, err)
	}
	if err := s.sendReconfigure(&path, ifc, pkt); err != nil {
		return fail(frSend, err)
	}
	v.m.reconfSent.Inc()
	v.m.sent[typeIndex6(dhcpv6.Reconfigure)].Inc()
	if s.log.Enabled(ctx, slog.LevelInfo) { // the attributes cost more than the rest of the log call
		s.log.LogAttrs(ctx, slog.LevelInfo, "reconfigure sent", slog.String("addr", addr.String()),
			slog.String("to", path.to.String()), slog.Int("relays", path.n),
			slog.Uint64("replay", d.Reply.Replay), slog.String("reconfigure_msg", d.Reply.ReconfMsg.String()))
	}
	return nil
}

// sendReconfigure sends pkt along path: to the outermost relay, or to a
// direct client from our link-local address on ifc.
func (s *Server) sendReconfigure(path *path6, ifc *iface6, pkt []byte) error {
	v := s.v6
	if path.relayed() {
		_, _, err := v.conn.WriteMsgUDPAddrPort(pkt, nil, path.to)
		if err == nil {
			v.m.sentVia[via6Relay].Inc()
		}
		return err
	}
	src := ifc.linkLocal.WithZone("")
	to := addrPortZone(path.to, ifc.name)
	oob := make([]byte, oobSize6)
	_, _, err := v.conn.WriteMsgUDPAddrPort(pkt, putPktInfo6(oob, ifc.index, src), to)
	if err == nil {
		v.m.sentVia[via6Direct].Inc()
	}
	return err
}

func (v *v6state) ifaceByName(name string) *iface6 {
	for _, ifc := range v.ifaces {
		if ifc.name == name {
			return ifc
		}
	}
	return nil
}

// forceRebind sets req.ForceRebind when a client that a running force
// campaign is reconfiguring renews or rebinds (the v4 forced NAK).
func (s *Server) forceRebind(req *lease6.Request) {
	if req.Type != dhcpv6.Request && (s.camp.mgr.ShouldForceRebind(req.ClientID) ||
		s.camp.cl != nil && s.camp.cl.mirrorMgr().ShouldForceRebind(req.ClientID)) {
		req.ForceRebind = true
	}
}

// runAction6 executes a campaign action for a DHCPv6 client: one
// Reconfigure per client and attempt (sent for the first of its selected
// bindings that is still bound), or the on-failure delete/recycle of each
// of its bindings.
func (s *Server) runAction6(ctx context.Context, now time.Time, a *reconf.Action) {
	addrs := append([]netip.Addr{a.Addr}, a.More...)
	switch a.Kind {
	case reconf.SendReconfigure, reconf.SendForceRenew:
		var target netip.Addr
		ev := reconf.EvDeleted
		for _, x := range addrs {
			l, ok := s.v6.eng.Lookup(x)
			ours := ok && bytes.Equal(l.ClientID, a.Key)
			switch {
			case ours && l.State == lease.StateBound:
				target = x
			case ours && l.State == lease.StateExpired:
				ev = reconf.EvExpired
			case ours && l.State == lease.StateReleased:
				ev = reconf.EvRelease
			case ok && l.State == lease.StateDeclined:
				ev = reconf.EvDecline
			}
			if target.IsValid() {
				break
			}
		}
		if !target.IsValid() {
			s.camp.mgr.Observe(now, reconf.Event{Kind: ev, Addr: a.Addr, Key: a.Key, V6: true})
			s.log.Info("campaign: bindings changed, no reconfigure", "campaign", a.Campaign, "addr", a.Addr, "event", ev.String())
			return
		}
		var msg dhcpv6.MessageType
		if a.Kind == reconf.SendReconfigure && a.Msg != reconf.ReconfRenew {
			msg = a.Msg.MessageType()
		}
		if err := s.reconfigure6(ctx, target, msg); err != nil {
			s.log.Debug("campaign reconfigure failed", "campaign", a.Campaign, "addr", target, "attempt", a.Attempt, "err", err)
		}
	case reconf.DeleteLease:
		for _, x := range addrs {
			if l, ok := s.v6.eng.Lookup(x); !ok || !bytes.Equal(l.ClientID, a.Key) {
				continue
			}
			if err := s.deleteLease6(ctx, x); err != nil {
				s.log.Error("campaign: on-failure delete", "campaign", a.Campaign, "addr", x, "err", err)
				continue
			}
			s.log.Info("campaign: lease deleted (no response)", "campaign", a.Campaign, "addr", x)
		}
	case reconf.RecycleLease:
		for _, x := range addrs {
			if err := s.recycle6(ctx, now, x, a.Key); err != nil {
				s.log.Info("campaign: recycle not applied", "campaign", a.Campaign, "addr", x, "err", err)
				continue
			}
			s.log.Info("campaign: lease recycled", "campaign", a.Campaign, "addr", x)
		}
	}
}

// observe6 reports a DHCPv6 client message and the engine's answer to the
// campaign manager, mapped onto the DHCPv4 events (reconf/README.md):
// Solicit ~ DISCOVER, Renew ~ renewing REQUEST, Rebind ~ rebinding
// REQUEST, a Reply with valid bindings ~ ACK, a Reply that ends the
// bindings (lifetime 0, NoBinding) ~ NAK, Release, Decline,
// Information-request ~ INFORM. The client key is the DUID
// (lease.Lease.ClientID of a DHCPv6 binding).
func (s *Server) observe6(req *lease6.Request, d *lease6.Decision) {
	now := s.now()
	key := req.ClientID
	changed := false
	obs := func(k reconf.EventKind, a netip.Addr) {
		if s.observeEvent(now, k, a, key, true) { // cluster: reported to the leader
			changed = true
		}
	}
	first := func() netip.Addr {
		for i := range req.IAs {
			if len(req.IAs[i].Addrs) > 0 {
				return req.IAs[i].Addrs[0]
			}
			if len(req.IAs[i].Prefixes) > 0 {
				return req.IAs[i].Prefixes[0].Addr()
			}
		}
		return netip.Addr{}
	}
	// A lifetime-0 or NoBinding answer is a NAK only to a Renew or Rebind
	// (reconf.EventKind).
	nak := func() {
		if req.Type == dhcpv6.Renew || req.Type == dhcpv6.Rebind {
			obs(reconf.EvNak, netip.Addr{})
		}
	}
	replied := func() {
		if !d.HasReply || d.Reply.Type != dhcpv6.Reply {
			return
		}
		for i := range d.Reply.IAs {
			ia := &d.Reply.IAs[i]
			for _, b := range ia.Bindings {
				a := b.Addr
				if ia.Kind == lease6.IAPD {
					a = b.Prefix.Addr()
				}
				if b.Valid > 0 {
					obs(reconf.EvAck, a)
				} else {
					nak()
				}
				return
			}
			if ia.HasStatus {
				nak()
				return
			}
		}
	}
	switch req.Type {
	case dhcpv6.Solicit:
		if req.RapidCommit && d.HasReply && d.Reply.Type == dhcpv6.Reply {
			replied()
		} else {
			obs(reconf.EvDiscover, netip.Addr{})
		}
	case dhcpv6.Request:
		replied()
	case dhcpv6.Renew:
		obs(reconf.EvRequestRenew, first())
		replied()
	case dhcpv6.Rebind:
		obs(reconf.EvRequestRebind, first())
		replied()
	case dhcpv6.Release:
		if len(d.Persist) > 0 {
			obs(reconf.EvRelease, first())
		}
	case dhcpv6.Decline:
		if len(d.Persist) > 0 {
			obs(reconf.EvDecline, first())
		}
	case dhcpv6.InformationRequest:
		if d.HasReply && len(key) > 0 {
			obs(reconf.EvInform, netip.Addr{})
		}
	case dhcpv6.Confirm:
		// Changes no lifetime (reconf.EventKind).
	}
	if changed {
		s.wakeCampaigns()
	}
}
