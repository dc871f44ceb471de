package lease

import (
	"encoding/binary"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/leased/leased/internal/paged"
)

// rec is the compact in-memory form of a Lease (96 bytes). Addresses are
// uint32, times are Unix nanoseconds (0 = zero time), the pool is an index
// into poolNames, and the client key, hardware address and host name share
// one string (kh): the hardware address is the key's tail when the key is
// htype+chaddr, else it follows the key; the host name comes last. Rarely used
// fields live behind ext. Records sit in pages of an arena (no per-record
// allocation, no pointers for the GC to chase except the strings) indexed
// by byAddr and byKey.
type rec struct {
	seq    uint64
	start  int64
	t1     int64
	t2     int64
	expiry int64
	kh     string  // client key (option 61, else htype+chaddr; "" when none), the hardware address unless flagHWInKey, the host name
	ext    *recExt // nil when no relay info, reconfigure key or replay counter
	addr   uint32
	xid    uint32
	// prevXid is the client's previous distinct xid (0: none): a forged
	// renewal replaces xid, and dhcpcd drops a FORCERENEW whose xid is not
	// its own last one, so FORCERENEW tries both (see Engine.ForceRenew).
	prevXid uint32
	giaddr  uint32
	sect    int32
	pool    uint32 // poolName(pool); 0: ""
	klen    uint16 // the client key is kh[:klen]
	hend    uint16 // the host name is kh[hend:]
	state   State
	htype   uint8
	flags   uint8
}

// key is the client key: option 61, else htype+chaddr; "" when none.
func (r *rec) key() string { return r.kh[:r.klen] }

// hw is the client's hardware address (chaddr).
func (r *rec) hw() string {
	if r.flags&flagHWInKey != 0 {
		return r.kh[1:r.klen]
	}
	return r.kh[r.klen:r.hend]
}

// host is the client's host name ("" when none).
func (r *rec) host() string { return r.kh[r.hend:] }

// setClient sets the client key and hardware address, keeping the host
// name; one string holds all three (no allocation when hw is key's tail
// and there is no host name).
func (r *rec) setClient(key, hw string) {
	host := r.host()
	r.flags &^= flagHWInKey
	if len(key) > 0 && len(key) == len(hw)+1 && key[1:] == hw {
		r.flags |= flagHWInKey
		hw = ""
	}
	r.klen, r.hend = uint16(len(key)), uint16(len(key)+len(hw))
	switch {
	case hw == "" && host == "":
		r.kh = key
	case key == "" && host == "":
		r.kh = hw
	default:
		r.kh = key + hw + host
	}
}

// setHost sets the host name, keeping key and hardware address.
func (r *rec) setHost(h string) {
	switch {
	case r.host() == h:
	case h == "":
		r.kh = r.kh[:r.hend]
	default:
		r.kh = r.kh[:r.hend] + h
	}
}

// poolNames interns the pool names of records: a record holds a 4-byte
// index instead of a 16-byte string header (issue #17: 1,000,000 records
// each 16 bytes smaller with the folded hardware address). Names are few
// (the configuration's pools, names found in the store) and never removed;
// the table is shared by the engines of the process. Readers load the
// slice without the lock: append never changes an element a reader can
// see, and a grown array is published whole.
var poolNames = struct {
	mu    sync.Mutex
	idx   map[string]uint32
	names atomic.Pointer[[]string]
}{idx: map[string]uint32{"": 0}}

func init() { poolNames.names.Store(&[]string{""}) }

// poolIndex returns the index of name, adding it when new.
func poolIndex(name string) uint32 {
	if name == "" {
		return 0
	}
	poolNames.mu.Lock()
	defer poolNames.mu.Unlock()
	if i, ok := poolNames.idx[name]; ok {
		return i
	}
	names := append(*poolNames.names.Load(), name)
	i := uint32(len(names) - 1)
	poolNames.idx[name] = i
	poolNames.names.Store(&names)
	return i
}

// poolName is the name of pool index i.
func poolName(i uint32) string { return (*poolNames.names.Load())[i] }

const (
	flagNonceCapable = 1 << iota
	flagGIAddr
	// flagAltXID (memory only): the next FORCERENEW to this binding uses
	// prevXid; ForceRenew toggles it so retries alternate between the two.
	flagAltXID
	// flagDDNS0, flagDDNS0<<1: the binding's DDNSMode (Lease.DDNS).
	flagDDNS0
	flagDDNSMask  = flagDDNS0 | flagDDNS0<<1
	flagDDNSShift = 3
	// flagHWInKey: the hardware address is the client key's tail (the key
	// is htype+chaddr), see rec.hw.
	flagHWInKey = 1 << 5
)

// recExt is immutable once attached to a rec (replaced, never mutated), so
// a snapshot of the arena may share it.
type recExt struct {
	relay         []byte
	reconfKey     []byte
	replayCounter uint64
}

func u32(a netip.Addr) uint32 {
	a = a.Unmap()
	if !a.Is4() {
		return 0
	}
	b := a.As4()
	return binary.BigEndian.Uint32(b[:])
}

func addr4(u uint32) netip.Addr {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], u)
	return netip.AddrFrom4(b)
}

// isSet reports whether a is a valid, non-zero IPv4 address.
func isSet(a netip.Addr) bool {
	return a.IsValid() && a.Unmap().Is4() && !a.IsUnspecified()
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

// lease converts r to the exported form; byte slices are fresh copies.
func (r *rec) lease() Lease {
	l, _ := r.leaseIn(nil)
	return l
}

// leaseIn is lease with the byte slices carved out of buf when they fit
// (else allocated); it returns the rest of buf.
func (r *rec) leaseIn(buf []byte) (Lease, []byte) {
	l := Lease{
		Seq:      r.seq,
		Addr:     addr4(r.addr),
		HType:    r.htype,
		Hostname: r.host(),
		Pool:     poolName(r.pool),
		Section:  int(r.sect),
		State:    r.state,
		Start:    fromNanos(r.start),
		T1:       fromNanos(r.t1),
		T2:       fromNanos(r.t2),
		Expiry:   fromNanos(r.expiry),
		XID:      r.xid,
		PrevXID:  r.prevXid,

		ForceRenewNonceCapable: r.flags&flagNonceCapable != 0,
		DDNS:                   DDNSMode(r.flags&flagDDNSMask) >> flagDDNSShift,
	}
	key, hw := r.key(), r.hw()
	var relay, rkey []byte
	if r.ext != nil {
		relay, rkey = r.ext.relay, r.ext.reconfKey
		l.ReplayCounter = r.ext.replayCounter
	}
	// The four byte fields share one allocation, each capped at its
	// length (appending to one never writes into another); empty ones
	// stay nil, as before.
	if n := len(key) + len(hw) + len(relay) + len(rkey); n > 0 {
		var b []byte
		if n <= len(buf) {
			b, buf = buf[:n], buf[n:]
		} else {
			b = make([]byte, n)
		}
		l.ClientID, b = carve(b, key)
		l.HWAddr, b = carve(b, hw)
		l.RelayInfo, b = carve(b, relay)
		l.ReconfKey, _ = carve(b, rkey)
	}
	if r.flags&flagGIAddr != 0 {
		l.GIAddr = addr4(r.giaddr)
	}
	return l, buf
}

// bytesIn returns a copy of s carved out of the front of buf when it fits,
// else a new one (empty, not nil, for an empty s, as []byte(s) is), and
// the rest of buf.
func bytesIn(buf []byte, s string) ([]byte, []byte) {
	if len(s) == 0 {
		return []byte{}, buf
	}
	if len(s) > len(buf) {
		return []byte(s), buf
	}
	return carve(buf, s)
}

// carve copies src into the front of b and returns that part (nil when
// src is empty), capped at its length, and the rest of b.
func carve[S string | []byte](b []byte, src S) ([]byte, []byte) {
	if len(src) == 0 {
		return nil, b
	}
	n := copy(b, src)
	return b[:n:n], b[n:]
}

// oneLease is what a decision about one address carries, in one
// allocation instead of three: the record to persist (Decision.Persist,
// capacity 1, so an append moves it elsewhere), the reply's copy of it
// (Reply.Lease) and the engine's undo record.
type oneLease struct {
	persist [1]Lease
	reply   Lease
	undo    [1]rec
}

// recFrom converts an exported Lease.
func recFrom(l *Lease) rec {
	r := rec{
		seq:    l.Seq,
		addr:   u32(l.Addr),
		htype:  l.HType,
		pool:   poolIndex(l.Pool),
		sect:   int32(l.Section),
		state:  l.State,
		start:  nanos(l.Start),
		t1:     nanos(l.T1),
		t2:     nanos(l.T2),
		expiry: nanos(l.Expiry),
		xid:    l.XID,

		prevXid: l.PrevXID,
	}
	r.setClient(keyStrings(l.ClientID, l.HType, l.HWAddr))
	r.setHost(l.Hostname)
	if l.ForceRenewNonceCapable {
		r.flags |= flagNonceCapable
	}
	r.flags |= uint8(l.DDNS) << flagDDNSShift & flagDDNSMask
	if isSet(l.GIAddr) {
		r.flags |= flagGIAddr
		r.giaddr = u32(l.GIAddr)
	}
	if len(l.RelayInfo) > 0 || len(l.ReconfKey) > 0 || l.ReplayCounter != 0 {
		// One allocation for both byte slices.
		b := make([]byte, 0, len(l.RelayInfo)+len(l.ReconfKey))
		r.ext = &recExt{replayCounter: l.ReplayCounter}
		if l.RelayInfo != nil { // as cloneBytes: nil stays nil, empty stays empty
			b = append(b, l.RelayInfo...)
			r.ext.relay = b[:len(b):len(b)]
		}
		if l.ReconfKey != nil {
			s := len(b)
			b = append(b, l.ReconfKey...)
			r.ext.reconfKey = b[s:len(b):len(b)]
		}
	}
	return r
}

// keyStrings allocates the key and hardware-address strings, sharing one
// allocation when the key is htype+chaddr.
func keyStrings(clientID []byte, htype uint8, hw []byte) (key, hws string) {
	if len(clientID) == 0 {
		return "", string(hw)
	}
	if len(clientID) == len(hw)+1 && clientID[0] == htype && string(clientID[1:]) == string(hw) {
		key = string(clientID)
		return key, key[1:]
	}
	return string(clientID), string(hw)
}

// clientKey appends the client key of req to buf (RFC 2131 §4.2: the
// client identifier, option 61, when present, else htype and chaddr; RFC
// 4361 node-specific identifiers are option 61 values starting with 255
// and are used verbatim).
func clientKey(buf []byte, req *Request) []byte {
	if len(req.ClientID) > 0 {
		return append(buf, req.ClientID...)
	}
	buf = append(buf, req.HType)
	return append(buf, req.HWAddr...)
}

// arena holds the records in pages (stable indexes, no copy on growth).
type arena = paged.Arena[rec]

// records is the arena of records with its two indexes.
type records struct {
	arena  arena
	free   []int32
	byAddr map[uint32]int32
	// The client-key index: keys of up to 7 bytes (htype+chaddr of an
	// Ethernet client, the usual key) in byKey as a uint64 (shortKey):
	// 16-byte map slots instead of 24 and nothing for the collector to
	// scan (issue #17: ~16 MB less at 1M leases); longer keys in byLong.
	byKey  map[uint64]int32
	byLong map[string]int32
}

func newRecords() records {
	return records{byAddr: make(map[uint32]int32), byKey: make(map[uint64]int32), byLong: make(map[string]int32)}
}

// shortKey packs a key of 1 to 7 bytes into a uint64: the bytes, and the
// length in the top byte (so keys differing only by trailing zeros
// differ). ok is false for longer keys.
func shortKey[T string | []byte](k T) (v uint64, ok bool) {
	if len(k) == 0 || len(k) > 7 {
		return 0, false
	}
	for i := 0; i < len(k); i++ {
		v |= uint64(k[i]) << (8 * i)
	}
	return v | uint64(len(k))<<56, true
}

// unshortKey is the inverse of shortKey.
func unshortKey(v uint64) string {
	b := make([]byte, v>>56)
	for i := range b {
		b[i] = byte(v >> (8 * i))
	}
	return string(b)
}

// keyIndex returns the record index of a client key.
func (rs *records) keyIndex(key string) (int32, bool) {
	if v, ok := shortKey(key); ok {
		i, ok := rs.byKey[v]
		return i, ok
	}
	i, ok := rs.byLong[key]
	return i, ok
}

func (rs *records) setKeyIndex(key string, i int32) {
	if v, ok := shortKey(key); ok {
		rs.byKey[v] = i
		return
	}
	rs.byLong[key] = i
}

func (rs *records) deleteKeyIndex(key string) {
	if v, ok := shortKey(key); ok {
		delete(rs.byKey, v)
		return
	}
	delete(rs.byLong, key)
}

// keys yields every indexed client key with its record index.
func (rs *records) keys(yield func(string, int32) bool) {
	for v, i := range rs.byKey {
		if !yield(unshortKey(v), i) {
			return
		}
	}
	for k, i := range rs.byLong {
		if !yield(k, i) {
			return
		}
	}
}

func (rs *records) get(addr uint32) *rec {
	i, ok := rs.byAddr[addr]
	if !ok {
		return nil
	}
	return rs.arena.At(i)
}

func (rs *records) ofKey(key []byte) *rec {
	var i int32
	var ok bool
	if v, short := shortKey(key); short {
		i, ok = rs.byKey[v]
	} else {
		i, ok = rs.byLong[string(key)]
	}
	if !ok {
		return nil
	}
	return rs.arena.At(i)
}

// put stores r as the record of r.addr, replacing any previous one and
// keeping both indexes consistent.
func (rs *records) put(r rec) *rec {
	if i, ok := rs.byAddr[r.addr]; ok {
		rs.unindexKey(i)
		*rs.arena.At(i) = r
		rs.indexKey(i)
		return rs.arena.At(i)
	}
	return rs.insert(r)
}

// insert stores r as the record of r.addr, which has none.
func (rs *records) insert(r rec) *rec {
	var i int32
	if n := len(rs.free); n > 0 {
		i = rs.free[n-1]
		rs.free = rs.free[:n-1]
		*rs.arena.At(i) = r
	} else {
		i = rs.arena.Push(r)
	}
	rs.byAddr[r.addr] = i
	rs.indexKey(i)
	return rs.arena.At(i)
}

func (rs *records) remove(addr uint32) {
	i, ok := rs.byAddr[addr]
	if !ok {
		return
	}
	rs.unindexKey(i)
	delete(rs.byAddr, addr)
	*rs.arena.At(i) = rec{state: StateDeleted}
	rs.free = append(rs.free, i)
}

func (rs *records) indexKey(i int32) {
	r := rs.arena.At(i)
	key := r.key()
	if key == "" {
		return
	}
	// One client, one index entry: the record with the highest Seq wins
	// (several can exist after recovery from an old store).
	if j, ok := rs.keyIndex(key); ok && j != i && rs.arena.At(j).seq > r.seq {
		return
	}
	rs.setKeyIndex(key, i)
}

func (rs *records) unindexKey(i int32) {
	r := rs.arena.At(i)
	if key := r.key(); key != "" {
		if j, ok := rs.keyIndex(key); ok && j == i {
			rs.deleteKeyIndex(key)
		}
	}
}
