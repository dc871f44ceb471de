package lease

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/leased/leased/auth"
	"github.com/leased/leased/dhcpv4"
)

// reconfKeyLen is the length of an RFC 6704 reconfigure key.
const reconfKeyLen = auth.KeyLen

// ForceRenew prepares one DHCPFORCERENEW (RFC 3203) to the client bound to
// addr. It takes the next replay detection value for the client (RFC 3118
// §2: greater than any sent to it before) and records it in the lease, so
// the returned Decision's Persist holds the updated record: the server MUST
// make it durable before sending, and call Revert if that fails.
//
// Reply describes the message: Type ForceRenew, YIAddr the lease address,
// Lease the record (chaddr), XID the xid to send (the record's XID, or on
// every other call its PrevXID when that differs), Pool the pool (token),
// Replay the value, ReconfKey the key to sign with (RFC 6704 mode; never
// sent).
//
// Errors wrap ErrNotFound (no record), ErrNotBound (the lease is not bound:
// dhcpcd acts on FORCERENEW only in BOUND) or are a *NotCapableError
// (errors.Is ErrNotCapable): an RFC 6704 pool and a client that never got
// a key (dhclient, udhcpc, systemd-networkd), or a token pool without a
// token.
func (e *Engine) ForceRenew(now time.Time, addr netip.Addr) (Decision, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !addr.Unmap().Is4() {
		return Decision{}, fmt.Errorf("lease: forcerenew %v: %w", addr, ErrNotFound)
	}
	a := u32(addr)
	r := e.rs.get(a)
	if r == nil {
		return Decision{}, fmt.Errorf("lease: forcerenew %v: %w", addr, ErrNotFound)
	}
	if r.state != StateBound {
		return Decision{}, fmt.Errorf("lease: forcerenew %v (%s): %w", addr, r.state, ErrNotBound)
	}
	var pc *Pool
	if p := e.ps.names[poolName(r.pool)]; p != nil {
		pc = p.cfg
	}
	mode := AuthRFC6704
	if pc != nil {
		mode = pc.ForceRenew.Mode
	}
	var key []byte
	var clientReplay uint64
	if r.ext != nil {
		key, clientReplay = r.ext.reconfKey, r.ext.replayCounter
	}
	switch mode {
	case AuthRFC6704:
		if len(key) != reconfKeyLen {
			reason := "it never received a reconfigure key (no RFC 6704 option 145 in its DHCPREQUEST)"
			if r.flags&flagNonceCapable != 0 {
				reason = "it announced RFC 6704 support but holds no reconfigure key yet; it gets one at its next renewal"
			}
			return Decision{}, &NotCapableError{Addr: addr, Reason: reason}
		}
	case AuthToken:
		key = nil
		if len(pc.ForceRenew.Token) == 0 {
			return Decision{}, &NotCapableError{Addr: addr, Reason: "pool " + pc.Name + " is in token mode without a token"}
		}
	case AuthNone:
		key = nil
	}
	replay := e.replay.Next(now, clientReplay)
	d := Decision{HasReply: true}
	one := new(oneLease)
	one.undo[0] = *r
	d.undo = one.undo[:1:1]
	nr := *r
	nr.seq = e.nextSeq()
	x := recExt{replayCounter: replay}
	if r.ext != nil {
		x.relay, x.reconfKey = r.ext.relay, r.ext.reconfKey
	}
	nr.ext = &x
	// dhcpcd drops a FORCERENEW whose xid is not that of its last
	// transaction. A forged renewal leaves its own xid in the record, so
	// when the client's previous xid differs, successive FORCERENEWs (a
	// campaign's retries) alternate: the latest xid, then the previous.
	xid := r.xid
	if r.prevXid != 0 && r.prevXid != r.xid {
		if r.flags&flagAltXID != 0 {
			xid = r.prevXid
		}
		nr.flags ^= flagAltXID
	}
	e.rs.put(nr)
	d.Persist = append(one.persist[:0:1], nr.lease())
	one.reply = d.Persist[0]
	l := &one.reply
	d.Reply = Reply{
		Type: dhcpv4.ForceRenew, YIAddr: l.Addr, Pool: pc, Lease: l,
		Replay: replay, ReconfKey: cloneBytes(key), XID: xid,
	}
	return d, nil
}
