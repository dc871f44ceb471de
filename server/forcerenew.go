package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/leased/leased/api"
	"github.com/leased/leased/auth"
	"github.com/leased/leased/dhcpv4"
	"github.com/leased/leased/lease"
)

// FORCERENEW failure reasons (label values of
// leased_reconfigure_failed_total{family="dhcpv4"}).
const (
	frNotFound   = "not_found"
	frNotBound   = "not_bound"
	frNotCapable = "not_capable"
	frCommit     = "commit_error"
	frEncode     = "encode"
	frSend       = "send_error"
)

// ForceRenewError is returned by Server.ForceRenew when no message left;
// Reason is one of the failure labels above, Err the cause (it wraps
// lease.ErrNotFound, lease.ErrNotBound or lease.ErrNotCapable for the
// first three).
type ForceRenewError struct {
	Addr   netip.Addr
	Reason string
	Err    error
}

func (e *ForceRenewError) Error() string {
	switch e.Reason {
	case frNotFound, frNotBound, frNotCapable:
		return e.Err.Error() // the engine's error names the address
	}
	return fmt.Sprintf("forcerenew %s: %v", e.Addr, e.Err)
}

func (e *ForceRenewError) Unwrap() error { return e.Err }

// ForceRenew sends one DHCPFORCERENEW (RFC 3203) to the client bound to
// addr and returns once it is sent. The message is a BOOTREPLY with
// message type 9, the xid of the client's last transaction and its chaddr
// (dhcpcd drops anything else), ciaddr = addr, option 54 and option 90:
// HMAC-MD5 with the client's reconfigure key (RFC 6704), or the pool's
// token (RFC 3118 §4), or none for a pool configured insecure. It is
// unicast from UDP port 67 to addr:68 (RFC 3203 §3: "sent to the client's
// IP address"); the kernel resolves the link address or routes it to a
// relayed client's subnet.
//
// The replay detection value used is committed to the store with the
// lease before the message is sent, like every other state change. Errors
// are *ForceRenewError; errors.Is(err, lease.ErrNotCapable) when the
// client cannot be sent an authenticated FORCERENEW.
//
// FORCERENEW is DHCPv4 only: for an IPv6 address it sends nothing and
// returns an error wrapping api.ErrWrongFamily (a DHCPv6 client is sent a
// Reconfigure by SendReconfigure).
//
// This is the one-shot send (API, `leasectl forcerenew send`): when the
// lease records a previous xid next to the latest (the client's xid
// changed, perhaps by a forged renewal), a second FORCERENEW follows at
// once with the other xid, so the client gets one carrying its own last
// xid whichever it is; it drops the other. Campaigns send one per attempt
// (forceRenewOnce) and alternate the xid between attempts.
func (s *Server) ForceRenew(ctx context.Context, addr netip.Addr) error {
	if addr.Is6() && !addr.Is4In6() {
		return fmt.Errorf("server: forcerenew %s: FORCERENEW (RFC 3203) is DHCPv4; a DHCPv6 client is sent a Reconfigure (SendReconfigure): %w", addr, api.ErrWrongFamily)
	}
	l, err := s.forceRenewOnce(ctx, addr)
	if err != nil || l.PrevXID == 0 || l.PrevXID == l.XID {
		return err
	}
	_, err = s.forceRenewOnce(ctx, addr)
	return err
}

// forceRenewOnce sends one DHCPFORCERENEW to the DHCPv4 client bound to
// addr (see ForceRenew) and returns the lease as committed.
func (s *Server) forceRenewOnce(ctx context.Context, addr netip.Addr) (lease.Lease, error) {
	fail := func(reason string, err error) (lease.Lease, error) {
		s.m.forceRenewFailed.WithLabelValues(reason).Inc()
		s.log.Info("forcerenew not sent", "addr", addr, "reason", reason, "err", err)
		return lease.Lease{}, &ForceRenewError{Addr: addr, Reason: reason, Err: err}
	}
	d, err := s.eng.ForceRenew(s.now(), addr)
	switch {
	case errors.Is(err, lease.ErrNotCapable):
		return fail(frNotCapable, err)
	case errors.Is(err, lease.ErrNotBound):
		return fail(frNotBound, err)
	case errors.Is(err, lease.ErrNotFound):
		return fail(frNotFound, err)
	case err != nil:
		return fail(frNotFound, err)
	}
	// Durable before sending: the replay value must never be reused after
	// a restart (RFC 3118 §2).
	if err := s.commit(ctx, &d, "forcerenew "+addr.String()); err != nil {
		return fail(frCommit, err)
	}

	ifindex, src := s.forceRenewSource(addr)
	var w dhcpv4.Writer
	pkt, err := encodeForceRenew(&w, make([]byte, 0, 576), &d.Reply, src)
	if err != nil {
		s.log.Error("encode forcerenew", "addr", addr, "err", err)
		return fail(frEncode, err)
	}
	dst := netip.AddrPortFrom(addr, dhcpv4.ClientPort)
	oob := make([]byte, oobSize)
	if _, _, err := s.conn.WriteMsgUDPAddrPort(pkt, putPktInfo(oob, ifindex, src), dst); err != nil {
		return fail(frSend, err)
	}
	s.m.forceRenewSent.Inc()
	s.m.sent[typeIndex(dhcpv4.ForceRenew)].Inc()
	s.logForceRenewSent(ctx, addr, &d.Reply, src)
	return *d.Reply.Lease, nil
}

// logForceRenewSent logs one FORCERENEW at Info; the attributes are built
// only when that level is enabled (it is not at the default warn level,
// where they cost ~1 µs per client of a campaign).
func (s *Server) logForceRenewSent(ctx context.Context, addr netip.Addr, r *lease.Reply, src netip.Addr) {
	if !s.log.Enabled(ctx, slog.LevelInfo) {
		return
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "forcerenew sent", slog.String("addr", addr.String()),
		slog.String("xid", fmt.Sprintf("0x%08x", r.XID)), slog.String("auth", authName(r)),
		slog.Uint64("replay", r.Replay), slog.String("server_id", src.String()))
}

// campaignBatch is the most FORCERENEWs of a campaign handled together by
// forceRenewBatch: their replay values go to the store in one commit and
// the messages leave in one sendmmsg (maxBatch).
const campaignBatch = maxBatch

// forceRenewBatch is forceRenewOnce for up to campaignBatch clients at
// once (a campaign's due sends): the engine's decisions for all of them,
// one store commit of their replay values — durable before any message
// leaves (RFC 3118 §2: a replay value is never reused, even after a
// restart) —, then every message queued on the campaign's batcher and
// sent together. When the commit fails every decision is reverted and
// nothing is sent. Per-client failures are counted and logged as
// forceRenewOnce does; send results are counted by forceRenewSendDone.
func (s *Server) forceRenewBatch(ctx context.Context, addrs []netip.Addr) {
	sc := frScratchPool.Get().(*frScratch)
	defer sc.put()
	now := s.now()
	ds, recs := sc.ds[:0], sc.recs[:0]
	if cap(ds) < len(addrs) { // a fresh scratch (the pool is emptied by each GC): one allocation, no growth
		ds, recs = make([]lease.Decision, 0, len(addrs)), make([]lease.Lease, 0, len(addrs))
	}
	defer func() { sc.ds, sc.recs = ds, recs }()
	for _, addr := range addrs {
		d, err := s.eng.ForceRenew(now, addr)
		if err != nil {
			reason := frNotFound
			switch {
			case errors.Is(err, lease.ErrNotCapable):
				reason = frNotCapable
			case errors.Is(err, lease.ErrNotBound):
				reason = frNotBound
			}
			s.m.forceRenewFailed.WithLabelValues(reason).Inc()
			s.log.Info("forcerenew not sent", "addr", addr, "reason", reason, "err", err)
			continue
		}
		ds = append(ds, d)
		recs = append(recs, d.Persist...)
	}
	if len(ds) == 0 {
		return
	}
	if err := s.persist(ctx, recs, "forcerenew batch"); err != nil {
		for i := len(ds) - 1; i >= 0; i-- {
			s.eng.Revert(&ds[i])
		}
		if s.cpath != nil {
			s.adoptRejected(err, recs) // readthrough.go
		}
		s.m.forceRenewFailed.WithLabelValues(frCommit).Add(float64(len(ds)))
		s.log.Info("forcerenew not sent", "clients", len(ds), "reason", frCommit, "err", err)
		return
	}
	b, err := s.campaignSender()
	if err != nil {
		s.m.forceRenewFailed.WithLabelValues(frSend).Add(float64(len(ds)))
		s.log.Error("forcerenew not sent", "clients", len(ds), "reason", frSend, "err", err)
		return
	}
	var w dhcpv4.Writer
	queued := 0
	for i := range ds {
		r := &ds[i].Reply
		addr := r.Lease.Addr
		ifindex, src := s.forceRenewSource(addr)
		pkt, err := encodeForceRenewScratch(&w, sc.pkt[:0], r, src, sc.mac)
		if err != nil {
			s.log.Error("encode forcerenew", "addr", addr, "err", err)
			s.m.forceRenewFailed.WithLabelValues(frEncode).Inc()
			continue
		}
		b.queue(pkt, outSpec{to: netip.AddrPortFrom(addr, dhcpv4.ClientPort), pktInfo: true,
			ifindex: ifindex, src: src, typ: typeIndex(dhcpv4.ForceRenew)})
		queued++
		s.logForceRenewSent(ctx, addr, r, src)
	}
	if queued > 0 {
		b.flush()
	}
}

// frScratch is what one forceRenewBatch call works in, pooled: the
// decisions, their records, the message being encoded (queue copies it)
// and the HMAC-MD5 input.
type frScratch struct {
	ds    []lease.Decision
	recs  []lease.Lease
	addrs []netip.Addr // runForceRenews'
	pkt   []byte
	mac   []byte
}

var frScratchPool = sync.Pool{New: func() any {
	return &frScratch{pkt: make([]byte, 0, 576), mac: make([]byte, 0, auth.ScratchLen(576))}
}}

// put returns sc to the pool without references to leases or decisions.
func (sc *frScratch) put() {
	clear(sc.ds)
	clear(sc.recs)
	sc.ds, sc.recs = sc.ds[:0], sc.recs[:0]
	frScratchPool.Put(sc)
}

// campaignBacklog: a campaign sends its next batch of FORCERENEWs only
// when the DHCPv4 socket's receive queue holds less than this (kernel
// memory of the queued datagrams, ~1–2 KB each): the clients' renewals
// queue there, and sending faster than leased answers them only makes them
// wait, past their retransmission timers (answered twice) or into receive
// buffer drops. campaignBacklogWait bounds the wait before one batch.
const (
	campaignBacklog     = 1 << 20
	campaignBacklogWait = 100 * time.Millisecond
)

// waitBacklog waits (at most campaignBacklogWait) until the DHCPv4
// socket's receive queue is below campaignBacklog.
func (s *Server) waitBacklog() {
	b, err := s.campaignSender()
	if err != nil {
		return
	}
	deadline := time.Now().Add(campaignBacklogWait)
	for rcvQueued(b.rc) > campaignBacklog && time.Now().Before(deadline) {
		time.Sleep(200 * time.Microsecond)
	}
}

// rcvQueued returns the bytes of kernel memory held by the datagrams
// queued on the socket (SO_MEMINFO's SK_MEMINFO_RMEM_ALLOC), 0 when it
// cannot tell.
func rcvQueued(rc syscall.RawConn) int {
	var mi [unix.SK_MEMINFO_VARS]uint32
	n := 0
	_ = rc.Control(func(fd uintptr) {
		l := uint32(unsafe.Sizeof(mi))
		_, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, fd, unix.SOL_SOCKET, unix.SO_MEMINFO,
			uintptr(unsafe.Pointer(&mi[0])), uintptr(unsafe.Pointer(&l)), 0)
		if e == 0 {
			n = int(mi[unix.SK_MEMINFO_RMEM_ALLOC])
		}
	})
	return n
}

// campaignSender returns the batcher of campaign FORCERENEWs on the
// DHCPv4 socket, made at first use. It is not the replies' batcher, so
// that its results count as FORCERENEWs (forceRenewSendDone).
func (s *Server) campaignSender() (*replyBatcher, error) {
	c := &s.camp
	c.senderOnce.Do(func() {
		if s.conn == nil {
			c.senderErr = errors.New("no DHCPv4 socket")
			return
		}
		rc, err := s.conn.SyscallConn()
		if err != nil {
			c.senderErr = fmt.Errorf("udp socket: %w", err)
			return
		}
		c.sender = newReplyBatcher(rc, s.forceRenewSendDone)
	})
	return c.sender, c.senderErr
}

// forceRenewSendDone counts one FORCERENEW of forceRenewBatch as sent or
// failed (the batcher reports it, possibly from another goroutine).
func (s *Server) forceRenewSendDone(m *outMsg, err error) {
	if err != nil {
		s.m.forceRenewFailed.WithLabelValues(frSend).Inc()
		s.log.Info("forcerenew not sent", "addr", m.to.Addr(), "reason", frSend, "err", err)
		return
	}
	s.m.forceRenewSent.Inc()
	s.m.sent[m.typ].Inc()
}

func authName(r *lease.Reply) string {
	if len(r.ReconfKey) > 0 {
		return "rfc6704"
	}
	if r.Pool != nil {
		return r.Pool.ForceRenew.Mode.String()
	}
	return "none"
}

// forceRenewSource picks the interface and our address to send a
// FORCERENEW to addr from: the served interface whose subnet holds addr
// (the address the client knows as server identifier there), else the
// first served interface's address and no interface (a relayed client:
// the routing table chooses the way).
func (s *Server) forceRenewSource(addr netip.Addr) (int, netip.Addr) {
	for _, ifc := range s.ifaces {
		if ifc.prefix.Contains(addr) {
			return ifc.index, ifc.addr
		}
	}
	return 0, s.ifaces[0].addr
}

// encodeForceRenew writes the FORCERENEW r (from lease.Engine.ForceRenew)
// with server identifier sid into dst and signs it when it carries a key.
func encodeForceRenew(w *dhcpv4.Writer, dst []byte, r *lease.Reply, sid netip.Addr) ([]byte, error) {
	return encodeForceRenewScratch(w, dst, r, sid, nil)
}

// encodeForceRenewScratch is encodeForceRenew computing the HMAC-MD5 in
// scratch (reused when large enough: auth.ScratchLen).
func encodeForceRenewScratch(w *dhcpv4.Writer, dst []byte, r *lease.Reply, sid netip.Addr, scratch []byte) ([]byte, error) {
	l := r.Lease
	if l == nil {
		return nil, errors.New("forcerenew without a lease")
	}
	h := dhcpv4.Header{
		Op:     dhcpv4.BootReply,
		HType:  l.HType,
		HLen:   uint8(min(len(l.HWAddr), 16)),
		XID:    r.XID, // dhcpcd drops a FORCERENEW with another xid than its last
		CIAddr: l.Addr,
	}
	copy(h.CHAddr[:], l.HWAddr)
	w.Reset(dst)
	w.Header(&h)
	w.OptionByte(dhcpv4.OptMessageType, byte(dhcpv4.ForceRenew))
	w.OptionAddr(dhcpv4.OptServerID, sid)
	infoOff := -1
	switch {
	case len(r.ReconfKey) > 0:
		// RFC 6704 §3.3.2: type 2, HMAC-MD5 over the whole message.
		infoOff = auth.WriteForceRenewOption(w, r.Replay)
	case r.Pool != nil && r.Pool.ForceRenew.Mode == lease.AuthToken:
		w.OptionAuth(auth.TokenOption(r.Pool.ForceRenew.Token, r.Replay))
	}
	pkt, err := w.End()
	if err != nil {
		return nil, err
	}
	if len(r.ReconfKey) > 0 {
		if err := auth.SignHMACMD5(pkt, infoOff, r.ReconfKey, scratch); err != nil {
			return nil, err
		}
	}
	return pkt, nil
}
