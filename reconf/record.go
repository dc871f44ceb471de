package reconf

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"
)

// recordVersion is the first byte of every encoded record. Version 2
// added DHCPv6 (client records of kind 4, the header's prefix pool,
// family, IPv6 range and Reconfigure Message); version 1 records (DHCPv4
// only) are still read.
const (
	recordVersion   = 2
	recordVersionV1 = 1
)

type recordKind uint8

const (
	recCampaign recordKind = 1 // a campaign's header (selector, options, state, times, pools)
	recClient   recordKind = 2 // one DHCPv4 client's progress
	recForget   recordKind = 3 // the campaign and all its clients are gone
	recClient6  recordKind = 4 // one DHCPv6 client's progress (version 2)
)

// Record is one persisted change of campaign state. Records are
// last-writer-wins per key (Key): replaying them in the order they were
// produced, or only the last one of each key, rebuilds the same state.
//
// Encoding (MarshalBinary), version 2, all integers varint/uvarint:
//
//	byte version (2), byte kind, uvarint campaign id, then
//	campaign (1): byte state, varint created ns, varint ended ns (0: running),
//	          selector (byte flags: 1 pool, 2 section, 4 range, 8 client,
//	          16 prefix pool, 32 family, 64 IPv6 range;
//	          string pool, uvarint section, 4+4 bytes range (16+16 with
//	          flag 64), string client, string prefix pool, byte family),
//	          options (uvarint attempts, uvarint interval ns, uvarint pace,
//	          byte on-failure, byte flags: 1 force-NAK, 2 recycle-not-capable,
//	          4 assume-capable, byte reconfigure message), uvarint n ×
//	          per-pool override (string pool, byte mask, the set fields in
//	          that order; mask bit 7 the reconfigure message), uvarint n ×
//	          string pool
//	client (2, DHCPv4): 4 bytes address, string key, uvarint group, byte
//	          flags (bits 0-2 phase, 3 capable, 4 has next), byte sent,
//	          byte outcome, byte last event, varint when (Unix ms),
//	          [varint next-when ms]
//	client6 (4, DHCPv6): 16 bytes address, then as client with flag bit 5
//	          "has more" and, when set, at the end uvarint n × 16 bytes of
//	          the client's other bindings
//	forget (3): nothing
//
// Version 1 is version 2 without kind 4, without selector flags 16-64 and
// without the reconfigure message byte. A string is a uvarint length and
// its bytes. A client record of a MAC-keyed DHCPv4 client is 27-29 bytes;
// of a DHCPv6 client with a 10-byte DUID-LL and one binding, 42-44.
type Record struct {
	kind recordKind
	camp uint32
	hdr  *header    // recCampaign
	cl   client     // recClient, recClient6
	more [][16]byte // recClient6: the client's other bindings
}

// Campaign is the campaign the record belongs to.
func (r *Record) Campaign() uint32 { return r.camp }

// Key identifies what the record replaces: a campaign header (addr
// invalid) or one client of a campaign. A forget record (forget true)
// removes every record of its campaign.
func (r *Record) Key() (campaign uint32, addr netip.Addr, forget bool) {
	switch r.kind {
	case recClient, recClient6:
		return r.camp, addrOf(r.cl.addr), false
	case recForget:
		return r.camp, netip.Addr{}, true
	}
	return r.camp, netip.Addr{}, false
}

// ForgetRecord is the record that removes campaign id from the store, as
// Forget and Prune produce it: for a server that forgets a finished
// campaign it does not hold in its manager (a cluster server deleting or
// pruning a campaign another server ran).
func ForgetRecord(id uint32) Record { return Record{kind: recForget, camp: id} }

func (m *Manager) emitHeader(c *campaign) {
	h := c.hdr
	m.recs = append(m.recs, Record{kind: recCampaign, camp: c.id, hdr: &h})
}

func (m *Manager) emitClient(c *campaign, i int32) {
	m.recs = append(m.recs, c.clientRecord(i))
}

func (c *campaign) clientRecord(i int32) Record {
	cl := &c.clients[i]
	if is6(&cl.addr) {
		return Record{kind: recClient6, camp: c.id, cl: *cl, more: c.more[i]}
	}
	return Record{kind: recClient, camp: c.id, cl: *cl}
}

// Records returns the records produced since the last call and forgets
// them. The server persists them (batched) after every call that changed
// state; order matters only between records of the same Key.
//
// Losing the last records (crash before they are durable) is harmless:
// after Restore a FORCERENEW may be sent once more, or an outcome observed
// again.
func (m *Manager) Records() []Record {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.recs
	m.recs = nil
	return r
}

// AppendRecords is Records appending to dst: a server that drains often
// reuses its slice, and the manager keeps its own (up to
// keepRecordsCap), instead of both allocating and growing a new one per
// drain.
func (m *Manager) AppendRecords(dst []Record) []Record {
	m.mu.Lock()
	defer m.mu.Unlock()
	dst = append(dst, m.recs...)
	if cap(m.recs) > keepRecordsCap {
		m.recs = nil // a campaign's start: not kept for later drains
	} else {
		clear(m.recs) // no references to headers and keys kept
		m.recs = m.recs[:0]
	}
	return dst
}

// keepRecordsCap bounds the record slice the manager keeps between drains.
const keepRecordsCap = 4096

// Snapshot returns records describing the whole current state (for store
// compaction): each campaign's header followed by its clients.
func (m *Manager) Snapshot() []Record {
	m.mu.Lock()
	defer m.mu.Unlock()
	ids := make([]uint32, 0, len(m.camps))
	n := 0
	for id, c := range m.camps {
		ids = append(ids, id)
		n += 1 + len(c.clients)
	}
	slices.Sort(ids)
	out := make([]Record, 0, n)
	for _, id := range ids {
		c := m.camps[id]
		h := c.hdr
		out = append(out, Record{kind: recCampaign, camp: id, hdr: &h})
		for j := range c.clients {
			out = append(out, c.clientRecord(int32(j)))
		}
	}
	return out
}

// Restore rebuilds campaigns from persisted records (in the order they were
// produced), on a manager that has none yet. Running campaigns resume
// where they were when resume is true (FORCERENEWs that fell due during
// the downtime are sent by the next Due, within the pace); otherwise they
// become Halted and their pending clients aborted (records are produced
// for that). Inconsistent records are skipped and reported in the error;
// the rest is restored.
func (m *Manager) Restore(recs []Record, now time.Time, resume bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.camps) > 0 {
		return errors.New("reconf: Restore on a manager that already has campaigns")
	}
	return m.restore(recs, now.UnixNano(), resume)
}

// Adopt restores the campaigns described by recs (records of one or more
// campaigns, as Restore takes them) into a manager that may already run
// others, resuming the running ones: a cluster server that became the
// leader of a campaign another server was running (docs/cluster.md). A
// campaign whose ID the manager already has is refused with an error,
// and then nothing changes.
func (m *Manager) Adopt(recs []Record, now time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range recs {
		if _, ok := m.camps[recs[i].camp]; ok {
			return fmt.Errorf("reconf: adopt: campaign %d is already here", recs[i].camp)
		}
	}
	return m.restore(recs, now.UnixNano(), true)
}

// Drop removes a campaign from memory without a record: its state stays
// what the store holds (a cluster server that lost the campaign's
// leadership hands it over that way). Its queued actions and the records
// not yet drained are discarded. ErrNotFound when unknown.
func (m *Manager) Drop(id uint32) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.camps[id]
	if !ok {
		return fmt.Errorf("%w: %d", ErrNotFound, id)
	}
	for j := range c.clients {
		if c.clients[j].outcome == Pending {
			m.unindex(c, int32(j))
		}
	}
	for _, p := range c.hdr.pools {
		if m.byPool[p] == c {
			delete(m.byPool, p)
		}
	}
	delete(m.camps, id)
	m.actions = slices.DeleteFunc(m.actions, func(a Action) bool { return a.Campaign == id })
	m.recs = slices.DeleteFunc(m.recs, func(r Record) bool { return r.camp == id })
	return nil
}

// restore is Restore and Adopt with m.mu held.
func (m *Manager) restore(recs []Record, n int64, resume bool) error {
	type restored struct {
		cl   client
		more [][16]byte
	}
	hdrs := make(map[uint32]*header)
	cls := make(map[uint32]map[[16]byte]restored)
	for i := range recs {
		r := &recs[i]
		switch r.kind {
		case recCampaign:
			hdrs[r.camp] = r.hdr
		case recClient, recClient6:
			mc := cls[r.camp]
			if mc == nil {
				mc = make(map[[16]byte]restored)
				cls[r.camp] = mc
			}
			mc[r.cl.addr] = restored{r.cl, r.more}
		case recForget:
			delete(hdrs, r.camp)
			delete(cls, r.camp)
		}
	}
	var errs []error
	bad := 0
	ids := make([]uint32, 0, len(hdrs))
	for id := range hdrs {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for id := range cls {
		if hdrs[id] == nil {
			bad += len(cls[id])
			errs = append(errs, fmt.Errorf("reconf: restore: %d client records of campaign %d without its header", len(cls[id]), id))
		}
	}
	for _, id := range ids {
		h := *hdrs[id]
		c := &campaign{id: id, hdr: h}
		c.groups = make([]group, len(h.pools))
		groupV6 := make([]bool, len(h.pools))
		rs := make([]restored, 0, len(cls[id]))
		for _, rc := range cls[id] {
			cl := &rc.cl
			ok := int(cl.group) < len(c.groups) && (cl.outcome == Pending) == (cl.phase != phFinal) &&
				(cl.phase == phFinal || cl.next != 0) && int(cl.sent) <= MaxAttempts
			if !ok {
				bad++
				continue
			}
			groupV6[cl.group] = groupV6[cl.group] || is6(&cl.addr)
			rs = append(rs, rc)
		}
		for gi, p := range h.pools {
			c.groups[gi].opts = h.opts.forPool(p, groupV6[gi])
		}
		slices.SortFunc(rs, func(a, b restored) int { return cmpAddr(a.cl.addr, b.cl.addr) })
		c.clients = make([]client, len(rs))
		for j := range rs {
			c.clients[j] = rs[j].cl
			if len(rs[j].more) > 0 {
				if c.more == nil {
					c.more = make(map[int32][][16]byte)
				}
				c.more[int32(j)] = rs[j].more
			}
		}
		for j := range c.clients {
			c.counts[c.clients[j].outcome]++
			c.sent += int(c.clients[j].sent)
		}
		m.camps[id] = c
		m.nextID = max(m.nextID, id+1)
		if h.state != Running {
			// A finished campaign whose last client records were lost:
			// those clients cannot be pending any more.
			for j := range c.clients {
				if cl := &c.clients[j]; cl.outcome == Pending {
					c.counts[Pending]--
					c.counts[Aborted]++
					cl.outcome, cl.phase, cl.next, cl.last, cl.when = Aborted, phFinal, 0, EvHalt, n
					m.emitClient(c, int32(j))
				}
			}
			continue
		}
		conflict := ""
		for _, p := range h.pools {
			if m.byPool[p] != nil {
				conflict = p
			}
		}
		switch {
		case conflict != "":
			errs = append(errs, fmt.Errorf("reconf: restore: campaign %d and campaign %d both running on pool %q: halting %d",
				m.byPool[conflict].id, id, conflict, id))
			m.abort(c, Halted, EvHalt, n)
		case !resume:
			m.abort(c, Halted, EvHalt, n)
		case c.counts[Pending] == 0:
			m.end(c, Done, n)
		default:
			for j := range c.clients {
				cl := &c.clients[j]
				g := &c.groups[cl.group]
				switch cl.phase {
				case phSend:
					g.sendQ.push(entry{cl.next, int32(j)})
				case phWait, phDORA:
					g.waitQ.push(entry{cl.next, int32(j)})
				}
			}
			m.activate(c)
		}
	}
	if bad > 0 {
		errs = append(errs, fmt.Errorf("reconf: restore: skipped %d inconsistent client records", bad))
	}
	return errors.Join(errs...)
}

// MarshalBinary encodes the record (see Record).
func (r *Record) MarshalBinary() ([]byte, error) {
	return r.AppendBinary(nil)
}

// AppendBinary appends the encoding of r to b.
func (r *Record) AppendBinary(b []byte) ([]byte, error) {
	b = append(b, recordVersion, byte(r.kind))
	b = binary.AppendUvarint(b, uint64(r.camp))
	switch r.kind {
	case recCampaign:
		if r.hdr == nil {
			return nil, errors.New("reconf: campaign record without header")
		}
		b = r.hdr.append(b)
	case recClient:
		b = r.cl.append(b, false, nil)
	case recClient6:
		b = r.cl.append(b, true, r.more)
	case recForget:
	default:
		return nil, fmt.Errorf("reconf: record kind %d", r.kind)
	}
	return b, nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func (h *header) append(b []byte) []byte {
	b = append(b, byte(h.state))
	b = binary.AppendVarint(b, h.created)
	b = binary.AppendVarint(b, h.ended)
	s := &h.sel
	var f byte
	if s.Pool != "" {
		f |= selPool
	}
	if s.Section != nil {
		f |= selSection
	}
	if s.From.IsValid() {
		f |= selRange
	}
	if s.Client != "" {
		f |= selClient
	}
	if s.PrefixPool != "" {
		f |= selPrefixPool
	}
	if s.Family != 0 {
		f |= selFamily
	}
	if s.From.IsValid() && !s.From.Unmap().Is4() {
		f |= selRange6
	}
	b = append(b, f)
	if f&selPool != 0 {
		b = appendString(b, s.Pool)
	}
	if f&selSection != 0 {
		b = binary.AppendUvarint(b, uint64(*s.Section))
	}
	switch {
	case f&selRange6 != 0:
		from, to := s.From.As16(), s.To.As16()
		b = append(append(b, from[:]...), to[:]...)
	case f&selRange != 0:
		from, to := s.From.Unmap().As4(), s.To.Unmap().As4()
		b = append(append(b, from[:]...), to[:]...)
	}
	if f&selClient != 0 {
		b = appendString(b, s.Client)
	}
	if f&selPrefixPool != 0 {
		b = appendString(b, s.PrefixPool)
	}
	if f&selFamily != 0 {
		b = append(b, byte(s.Family))
	}
	o := &h.opts
	b = binary.AppendUvarint(b, uint64(o.Attempts))
	b = binary.AppendUvarint(b, uint64(o.Interval))
	b = binary.AppendUvarint(b, uint64(o.Pace))
	// The option flags: optForceNAK, optRecycleNotCapable, optAssumeCapable.
	b = append(b, byte(o.OnFailure), boolBits(o.ForceNAK, o.RecycleNotCapable, o.AssumeCapable), byte(o.ReconfMsg))
	pools := make([]string, 0, len(o.Pools))
	for p := range o.Pools {
		pools = append(pools, p)
	}
	slices.Sort(pools)
	b = binary.AppendUvarint(b, uint64(len(pools)))
	for _, p := range pools {
		v := o.Pools[p]
		b = appendString(b, p)
		var mask byte
		for k, set := range []bool{v.Attempts != nil, v.Interval != nil, v.Pace != nil, v.OnFailure != nil,
			v.ForceNAK != nil, v.RecycleNotCapable != nil, v.AssumeCapable != nil, v.ReconfMsg != nil} {
			if set {
				mask |= ovAttempts << k // the override mask bits, in this order
			}
		}
		b = append(b, mask)
		if v.Attempts != nil {
			b = binary.AppendUvarint(b, uint64(*v.Attempts))
		}
		if v.Interval != nil {
			b = binary.AppendUvarint(b, uint64(*v.Interval))
		}
		if v.Pace != nil {
			b = binary.AppendUvarint(b, uint64(*v.Pace))
		}
		if v.OnFailure != nil {
			b = append(b, byte(*v.OnFailure))
		}
		for _, p := range []*bool{v.ForceNAK, v.RecycleNotCapable, v.AssumeCapable} {
			if p != nil {
				b = append(b, boolBits(*p))
			}
		}
		if v.ReconfMsg != nil {
			b = append(b, byte(*v.ReconfMsg))
		}
	}
	b = binary.AppendUvarint(b, uint64(len(h.pools)))
	for _, p := range h.pools {
		b = appendString(b, p)
	}
	return b
}

// Selector flags (campaign record): which selector fields follow.
const (
	selPool       byte = 1 << iota // string pool
	selSection                     // uvarint section
	selRange                       // a range: 4+4 bytes, or 16+16 with selRange6
	selClient                      // string client
	selPrefixPool                  // string prefix pool (version 2)
	selFamily                      // byte family (version 2)
	selRange6                      // the range is IPv6 (version 2)

	selFlagsV1  = selPool | selSection | selRange | selClient
	selFlagsAll = selFlagsV1 | selPrefixPool | selFamily | selRange6
)

// Option flags (campaign record), written by boolBits in this order.
const (
	optForceNAK byte = 1 << iota
	optRecycleNotCapable
	optAssumeCapable

	optFlagsAll = optForceNAK | optRecycleNotCapable | optAssumeCapable
)

// Per-pool override mask (campaign record): which fields follow, in this
// order; the three booleans are consecutive (ovForceNAK << k).
const (
	ovAttempts byte = 1 << iota
	ovInterval
	ovPace
	ovOnFailure
	ovForceNAK
	ovRecycleNotCapable
	ovAssumeCapable
	ovReconfMsg // version 2
)

// Client flags (client and client6 records).
const (
	clPhase   byte = 7      // bits 0-2: the phase
	clCapable byte = 1 << 3 // the client can be reconfigured
	clHasNext byte = 1 << 4 // a next-when follows
	clHasMore byte = 1 << 5 // client6: the client's other bindings follow

	clFlagsV4  = clPhase | clCapable | clHasNext
	clFlagsAll = clFlagsV4 | clHasMore
)

func boolBits(v ...bool) byte {
	var x byte
	for i, t := range v {
		if t {
			x |= 1 << i
		}
	}
	return x
}

func (cl *client) append(b []byte, v6 bool, more [][16]byte) []byte {
	if v6 {
		b = append(b, cl.addr[:]...)
	} else {
		b = append(b, cl.addr[12:]...)
	}
	b = appendString(b, cl.key)
	b = binary.AppendUvarint(b, uint64(cl.group))
	f := byte(cl.phase)
	if cl.capable {
		f |= clCapable
	}
	if cl.next != 0 {
		f |= clHasNext
	}
	if len(more) > 0 {
		f |= clHasMore
	}
	b = append(b, f, cl.sent, byte(cl.outcome), byte(cl.last))
	when := cl.when / int64(time.Millisecond)
	b = binary.AppendVarint(b, when)
	if cl.next != 0 {
		b = binary.AppendVarint(b, cl.next/int64(time.Millisecond)-when)
	}
	if len(more) > 0 {
		b = binary.AppendUvarint(b, uint64(len(more)))
		for _, a := range more {
			b = append(b, a[:]...)
		}
	}
	return b
}

// decoder reads a record; the first error sticks.
type decoder struct {
	b   []byte
	err error
	ver byte
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s", ErrRecord, what)
	}
}

func (d *decoder) byte(what string) byte {
	if d.err != nil || len(d.b) < 1 {
		d.fail(what)
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) uvarint(what string, lim uint64) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 || v > lim {
		d.fail(what)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint(what string) int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail(what)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) string(what string) string {
	l := d.uvarint(what, uint64(len(d.b)))
	if d.err == nil && l > uint64(len(d.b)) {
		d.fail(what)
	}
	if d.err != nil {
		return ""
	}
	s := string(d.b[:l])
	d.b = d.b[l:]
	return s
}

func (d *decoder) addr(what string) netip.Addr {
	if d.err != nil || len(d.b) < 4 {
		d.fail(what)
		return netip.Addr{}
	}
	a := netip.AddrFrom4([4]byte(d.b[:4]))
	d.b = d.b[4:]
	return a
}

func (d *decoder) addr16(what string) [16]byte {
	if d.err != nil || len(d.b) < 16 {
		d.fail(what)
		return [16]byte{}
	}
	a := [16]byte(d.b[:16])
	d.b = d.b[16:]
	return a
}

// UnmarshalBinary decodes a record produced by MarshalBinary. It rejects
// unknown versions, out-of-range values and trailing bytes.
func (r *Record) UnmarshalBinary(b []byte) error {
	d := decoder{b: b}
	d.ver = d.byte("version")
	if d.err == nil && d.ver != recordVersion && d.ver != recordVersionV1 {
		return fmt.Errorf("%w: version %d, want %d or %d", ErrRecord, d.ver, recordVersionV1, recordVersion)
	}
	kind := recordKind(d.byte("kind"))
	camp := uint32(d.uvarint("campaign id", 1<<32-1))
	var out Record
	out.kind, out.camp = kind, camp
	switch kind {
	case recCampaign:
		out.hdr = d.header()
	case recClient:
		out.cl, _ = d.client(false)
	case recClient6:
		if d.ver < 2 {
			d.fail(fmt.Sprintf("kind %d in a version %d record", kind, d.ver))
			break
		}
		out.cl, out.more = d.client(true)
	case recForget:
	default:
		d.fail(fmt.Sprintf("kind %d", kind))
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail(fmt.Sprintf("%d trailing bytes", len(d.b)))
	}
	if d.err != nil {
		return d.err
	}
	*r = out
	return nil
}

func (d *decoder) header() *header {
	h := &header{}
	h.state = State(d.byte("state"))
	if h.state > Halted {
		d.fail("state")
	}
	h.created = d.varint("created")
	h.ended = d.varint("ended")
	f := d.byte("selector flags")
	if f&^selFlagsV1 != 0 && d.ver < 2 || f&^selFlagsAll != 0 || f&selRange6 != 0 && f&selRange == 0 {
		d.fail("selector flags")
	}
	s := &h.sel
	if f&selPool != 0 {
		s.Pool = d.string("selector pool")
	}
	if f&selSection != 0 {
		v := int(d.uvarint("selector section", 1<<31-1))
		s.Section = &v
	}
	switch {
	case f&selRange6 != 0:
		from, to := d.addr16("range from"), d.addr16("range to")
		s.From, s.To = netip.AddrFrom16(from), netip.AddrFrom16(to)
		if d.err == nil && (s.From.Is4In6() || s.To.Is4In6()) {
			d.fail("IPv6 range holds IPv4 addresses")
		}
	case f&selRange != 0:
		s.From, s.To = d.addr("range from"), d.addr("range to")
	}
	if f&selClient != 0 {
		s.Client = d.string("selector client")
	}
	if f&selPrefixPool != 0 {
		s.PrefixPool = d.string("selector prefix pool")
		if d.err == nil && s.PrefixPool == "" {
			d.fail("empty prefix pool")
		}
	}
	if f&selFamily != 0 {
		s.Family = int(d.byte("selector family"))
		if d.err == nil && s.Family == 0 {
			d.fail("selector family 0")
		}
	}
	if d.err == nil {
		if _, err := s.compile(); err != nil {
			d.fail(err.Error())
		}
	}
	o := &h.opts
	o.Attempts = int(d.uvarint("attempts", MaxAttempts))
	o.Interval = time.Duration(d.uvarint("interval", uint64(MaxInterval)))
	o.Pace = int(d.uvarint("pace", MaxPace))
	o.OnFailure = OnFailure(d.byte("on-failure"))
	fl := d.byte("option flags")
	if fl&^optFlagsAll != 0 {
		d.fail("option flags")
	}
	o.ForceNAK, o.RecycleNotCapable, o.AssumeCapable = fl&optForceNAK != 0, fl&optRecycleNotCapable != 0, fl&optAssumeCapable != 0
	if d.ver >= 2 {
		o.ReconfMsg = ReconfMsg(d.byte("reconfigure message"))
	}
	np := d.uvarint("overrides", uint64(len(d.b)))
	for range np {
		if d.err != nil {
			break
		}
		p := d.string("override pool")
		mask := d.byte("override mask")
		if mask&ovReconfMsg != 0 && d.ver < 2 {
			d.fail("override mask")
		}
		var v Override
		if mask&ovAttempts != 0 {
			x := int(d.uvarint("override attempts", MaxAttempts))
			v.Attempts = &x
		}
		if mask&ovInterval != 0 {
			x := time.Duration(d.uvarint("override interval", uint64(MaxInterval)))
			v.Interval = &x
		}
		if mask&ovPace != 0 {
			x := int(d.uvarint("override pace", MaxPace))
			v.Pace = &x
		}
		if mask&ovOnFailure != 0 {
			x := OnFailure(d.byte("override on-failure"))
			v.OnFailure = &x
		}
		for k, dst := range []**bool{&v.ForceNAK, &v.RecycleNotCapable, &v.AssumeCapable} {
			if mask&(ovForceNAK<<k) != 0 {
				x := d.byte("override flag")
				if x > 1 {
					d.fail("override flag")
				}
				t := x == 1
				*dst = &t
			}
		}
		if mask&ovReconfMsg != 0 {
			x := ReconfMsg(d.byte("override reconfigure message"))
			v.ReconfMsg = &x
		}
		if o.Pools == nil {
			o.Pools = make(map[string]Override)
		}
		if _, dup := o.Pools[p]; dup {
			d.fail("duplicate override pool")
		}
		o.Pools[p] = v
	}
	if d.err == nil {
		if err := o.validate(); err != nil {
			d.fail(err.Error())
		}
	}
	ng := d.uvarint("pools", min(uint64(len(d.b)), 1<<16))
	for range ng {
		if d.err != nil {
			break
		}
		h.pools = append(h.pools, d.string("pool"))
	}
	return h
}

func (d *decoder) client(v6 bool) (client, [][16]byte) {
	var cl client
	if v6 {
		cl.addr = d.addr16("client address")
		if d.err == nil && !is6(&cl.addr) {
			d.fail("IPv4 address in a DHCPv6 client record")
		}
	} else if a := d.addr("client address"); a.IsValid() {
		cl.addr = a16(a)
	}
	cl.key = d.string("client key")
	cl.group = uint16(d.uvarint("client group", 1<<16-1))
	f := d.byte("client flags")
	if f&^clFlagsV4 != 0 && !v6 || f&^clFlagsAll != 0 || phase(f&clPhase) >= numPhases {
		d.fail("client flags")
	}
	cl.phase, cl.capable = phase(f&clPhase), f&clCapable != 0
	cl.sent = d.byte("sent")
	if cl.sent > MaxAttempts {
		d.fail("sent")
	}
	cl.outcome = Outcome(d.byte("outcome"))
	if cl.outcome >= numOutcomes {
		d.fail("outcome")
	}
	cl.last = EventKind(d.byte("last event"))
	if cl.last >= numEvents {
		d.fail("last event")
	}
	const lim = 1 << 43 // ms (year 2248): ×1e6 stays inside int64
	when := d.varint("when")
	if when > lim || when < -lim {
		d.fail("when")
	}
	cl.when = when * int64(time.Millisecond)
	if f&clHasNext != 0 {
		dn := d.varint("next")
		if dn > lim || dn < -lim || when+dn > lim || when+dn < -lim || when+dn == 0 {
			d.fail("next")
		}
		cl.next = (when + dn) * int64(time.Millisecond)
	}
	var more [][16]byte
	if f&clHasMore != 0 {
		n := d.uvarint("more bindings", uint64(len(d.b)/16))
		if d.err == nil && n == 0 {
			d.fail("more bindings")
		}
		for range n {
			a := d.addr16("more binding")
			if d.err != nil {
				break
			}
			if !is6(&a) {
				d.fail("IPv4 address among a DHCPv6 client's bindings")
			}
			more = append(more, a)
		}
	}
	return cl, more
}
