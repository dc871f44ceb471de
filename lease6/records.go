package lease6

import (
	"net/netip"
	"time"

	"github.com/leased/leased/internal/paged"
	"github.com/leased/leased/lease"
)

// rec is the in-memory form of one DHCPv6 binding (a lease.Lease). Times
// are Unix nanoseconds (0 = zero time); byte slices are strings so the
// DUID can be shared by every record of a client and with the client
// index. A record is keyed by addr: the IA_NA address or the first address
// of the delegated prefix (plen > 0).
type rec struct {
	addr   netip.Addr
	peer   netip.Addr
	seq    uint64
	start  int64
	t1     int64
	t2     int64
	pref   int64
	expiry int64
	replay uint64
	duid   string // "" for an anonymous record (declined, freed)
	hw     string
	host   string
	pool   string
	relay  string
	key    string // RFC 8415 §20.4 reconfigure key, "" when none
	iaid   uint32
	xid    uint32
	state  lease.State
	plen   uint8
	htype  uint8
	accept bool // the client sent Reconfigure Accept (option 20)
	ddns   lease.DDNSMode
}

func (r *rec) kind() IAKind {
	if r.plen > 0 {
		return IAPD
	}
	return IANA
}

// owns reports whether r is the binding of the client's IA (duid, iaid, kind).
func (r *rec) owns(duid []byte, iaid uint32, k IAKind) bool {
	return r.duid == string(duid) && r.iaid == iaid && r.kind() == k
}

func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// bytesIn returns a copy of s (nil when empty) carved out of the front of
// *buf when it fits (capped at its length, so an append never writes into
// the rest), else allocated.
func bytesIn(buf *[]byte, s string) []byte {
	if s == "" {
		return nil
	}
	if len(s) > len(*buf) {
		return []byte(s)
	}
	n := copy(*buf, s)
	b := (*buf)[:n:n]
	*buf = (*buf)[n:]
	return b
}

// lease converts r to the exported form; byte slices are fresh copies.
func (r *rec) lease() lease.Lease { return r.leaseIn(nil) }

// leaseIn is lease with the byte slices carved out of *buf when they fit
// (else allocated); buf may be nil.
func (r *rec) leaseIn(buf *[]byte) lease.Lease {
	if buf == nil {
		buf = new([]byte) // does not escape: nothing fits in it
	}
	l := lease.Lease{
		Seq:       r.seq,
		Addr:      r.addr,
		ClientID:  bytesIn(buf, r.duid),
		HType:     r.htype,
		HWAddr:    bytesIn(buf, r.hw),
		Hostname:  r.host,
		Pool:      r.pool,
		Section:   -1,
		State:     r.state,
		Start:     fromNanos(r.start),
		T1:        fromNanos(r.t1),
		T2:        fromNanos(r.t2),
		Expiry:    fromNanos(r.expiry),
		XID:       r.xid,
		GIAddr:    r.peer,
		RelayInfo: bytesIn(buf, r.relay),
		ReconfKey: bytesIn(buf, r.key),

		ForceRenewNonceCapable: r.accept,
		ReplayCounter:          r.replay,
		IAID:                   r.iaid,
		PrefixLen:              r.plen,
		Preferred:              fromNanos(r.pref),
		DDNS:                   r.ddns,
	}
	return l
}

// recFrom converts a stored record.
func recFrom(l *lease.Lease) rec {
	return rec{
		addr: l.Addr, peer: l.GIAddr, seq: l.Seq,
		start: nanos(l.Start), t1: nanos(l.T1), t2: nanos(l.T2), pref: nanos(l.Preferred), expiry: nanos(l.Expiry),
		replay: l.ReplayCounter, duid: string(l.ClientID), hw: string(l.HWAddr), host: l.Hostname,
		pool: l.Pool, relay: string(l.RelayInfo), key: string(l.ReconfKey),
		iaid: l.IAID, xid: l.XID, state: l.State, plen: l.PrefixLen, htype: l.HType,
		accept: l.ForceRenewNonceCapable, ddns: l.DDNS,
	}
}

// arena holds the records in pages (stable indexes, no copy on growth).
type arena = paged.Arena[rec]

// client is everything indexed under one DUID: its records (any state,
// any IA) and its pending offers. A client has at most one record per
// (IAID, kind) that matters: find returns the one with the highest Seq.
type client struct {
	duid   string
	recs   []int32
	offers []netip.Addr
}

// records is the arena with its indexes by address and by DUID.
type records struct {
	arena   arena
	free    []int32
	byAddr  map[netip.Addr]int32
	clients map[string]*client
}

func newRecords() records {
	return records{byAddr: make(map[netip.Addr]int32), clients: make(map[string]*client)}
}

func (rs *records) get(a netip.Addr) *rec {
	i, ok := rs.byAddr[a]
	if !ok {
		return nil
	}
	return rs.arena.At(i)
}

func (rs *records) client(duid []byte) *client { return rs.clients[string(duid)] }

// find returns the client's record for IA (iaid, kind), nil when none.
func (rs *records) find(duid []byte, iaid uint32, k IAKind) *rec {
	c := rs.clients[string(duid)]
	if c == nil {
		return nil
	}
	var best *rec
	for _, i := range c.recs {
		r := rs.arena.At(i)
		if r.iaid == iaid && r.kind() == k && (best == nil || r.seq > best.seq) {
			best = r
		}
	}
	return best
}

// clientOf returns the client entry for duid, creating it.
func (rs *records) clientOf(duid string) *client {
	c := rs.clients[duid]
	if c == nil {
		c = &client{duid: duid}
		rs.clients[duid] = c
	}
	return c
}

func (rs *records) dropIfEmpty(c *client) {
	if len(c.recs) == 0 && len(c.offers) == 0 {
		delete(rs.clients, c.duid)
	}
}

// put stores r as the record of r.addr, replacing any previous one.
func (rs *records) put(r rec) *rec {
	if i, ok := rs.byAddr[r.addr]; ok {
		p := rs.arena.At(i)
		if p.duid == r.duid && r.duid != "" {
			r.duid = p.duid // same client: the index entry stays
			*p = r
			return p
		}
		rs.unindex(i)
		*p = r
		rs.index(i)
		return p
	}
	var i int32
	if n := len(rs.free); n > 0 {
		i = rs.free[n-1]
		rs.free = rs.free[:n-1]
		*rs.arena.At(i) = r
	} else {
		i = rs.arena.Push(r)
	}
	rs.byAddr[r.addr] = i
	rs.index(i)
	return rs.arena.At(i)
}

func (rs *records) remove(a netip.Addr) {
	i, ok := rs.byAddr[a]
	if !ok {
		return
	}
	rs.unindex(i)
	delete(rs.byAddr, a)
	*rs.arena.At(i) = rec{state: lease.StateDeleted}
	rs.free = append(rs.free, i)
}

func (rs *records) index(i int32) {
	r := rs.arena.At(i)
	if r.duid == "" {
		return
	}
	c := rs.clientOf(r.duid)
	r.duid = c.duid // share one string per client
	c.recs = append(c.recs, i)
}

func (rs *records) unindex(i int32) {
	r := rs.arena.At(i)
	if r.duid == "" {
		return
	}
	c := rs.clients[r.duid]
	if c == nil {
		return
	}
	for j, x := range c.recs {
		if x == i {
			c.recs[j] = c.recs[len(c.recs)-1]
			c.recs = c.recs[:len(c.recs)-1]
			break
		}
	}
	rs.dropIfEmpty(c)
}
