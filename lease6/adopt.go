package lease6

import "github.com/leased/leased/lease"

// Adopt makes l, a row read from the shared database, the engine's record
// of l.Addr whatever the Seqs — the read-through of a cluster server
// (issue #12, docs/cluster.md), as lease.Engine.Adopt for DHCPv4: Seqs
// written by different servers are not comparable, and the database is
// the arbiter. The engine's Seq counter moves past the adopted record, as
// with Restore. An Advertise this engine holds on the address for another
// client is withdrawn when l holds the address.
func (e *Engine) Adopt(l lease.Lease) {
	if !l.IsV6() {
		return
	}
	e.mu.Lock()
	if cur := e.rs.get(l.Addr); cur != nil && cur.seq >= l.Seq {
		l.Seq = cur.seq + 1
	}
	if l.Seq <= e.seq {
		l.Seq = e.seq + 1
	}
	if o, ok := e.offers[l.Addr]; ok && l.State.Holds() && o.duid != string(l.ClientID) {
		e.removeOffer(l.Addr)
	}
	e.mu.Unlock()
	e.Restore(l)
}
