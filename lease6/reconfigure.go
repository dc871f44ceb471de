package lease6

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/leased/leased/dhcpv6"
	"github.com/leased/leased/lease"
)

// ReconfigureClient prepares one Reconfigure (RFC 8415 §18.3.11) to the
// client bound to addr (an IA_NA address or a delegated prefix's first
// address), asking it to Renew. It takes the next replay detection value
// (§20.3: greater than any sent to the client before) and records it in
// the binding: Persist holds the updated record, which the server MUST
// make durable before sending (and call Revert if that fails).
//
// Reply: Type dhcpv6.Reconfigure, ReconfMsg dhcpv6.Renew, ReconfKey the
// key to sign with (§20.4.2: HMAC-MD5, never sent), Replay the value, Lease
// the binding (GIAddr and RelayInfo say how to reach the client), Pool its
// pool.
//
// Errors wrap lease.ErrNotFound (no record), lease.ErrNotBound, or are a
// *lease.NotCapableError (errors.Is lease.ErrNotCapable): the client holds
// no reconfigure key, or its pool has Reconfigure disabled.
func (e *Engine) ReconfigureClient(now time.Time, addr netip.Addr) (Decision, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	r := e.rs.get(addr)
	if r == nil {
		return Decision{}, fmt.Errorf("lease6: reconfigure %v: %w", addr, lease.ErrNotFound)
	}
	if r.state != lease.StateBound {
		return Decision{}, fmt.Errorf("lease6: reconfigure %v (%s): %w", addr, r.state, lease.ErrNotBound)
	}
	var pc *Pool
	if p := e.ps.names[r.pool]; p != nil {
		pc = p.cfg
	}
	if pc != nil && pc.Reconfigure.Disabled {
		return Decision{}, &lease.NotCapableError{Addr: addr, Reason: "Reconfigure is disabled in pool " + pc.Name}
	}
	// The client's key is the last one it was sent: the newest record of
	// the client that carries one. The replay value must exceed every one
	// sent to the client (all its records).
	key, clientReplay := r.key, r.replay
	if c := e.rs.clients[r.duid]; c != nil {
		var keyed *rec
		for _, i := range c.recs {
			cr := e.rs.arena.At(i)
			clientReplay = max(clientReplay, cr.replay)
			if cr.key != "" && (keyed == nil || cr.seq > keyed.seq) {
				keyed = cr
			}
		}
		if keyed != nil {
			key = keyed.key
		}
	}
	if key == "" {
		reason := "it never received a reconfigure key (no Reconfigure Accept, option 20, in its Request/Renew)"
		if r.accept {
			reason = "it sent Reconfigure Accept but holds no reconfigure key yet; it gets one at its next Renew"
		}
		return Decision{}, &lease.NotCapableError{Addr: addr, Reason: reason}
	}
	replay := e.replay.Next(now, clientReplay)
	d := Decision{HasReply: true}
	d.undo = []undoRec{{had: true, rec: *r}}
	nr := *r
	nr.seq = e.nextSeq()
	nr.replay = replay
	nr.key = key
	e.putRec(nr)
	d.Persist = []lease.Lease{nr.lease()}
	l := d.Persist[0]
	d.Reply = Reply{Type: dhcpv6.Reconfigure, ReconfMsg: dhcpv6.Renew, ReconfKey: []byte(key),
		Replay: replay, Lease: &l, Pool: pc}
	return d, nil
}
