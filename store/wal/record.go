package wal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"net/netip"
	"time"

	"github.com/leased/leased/lease"
	"github.com/leased/leased/store"
)

// On-disk framing, shared by segments and snapshots:
//
//	offset size
//	0      4    payload length n, little endian (kind byte not included)
//	4      4    CRC-32C (Castagnoli) over bytes 0..3, the kind byte and the payload
//	8      1    kind
//	9      n    payload
//
// The CRC covers the length so a damaged length field is detected as such
// instead of sending the reader into unrelated bytes.
const (
	frameHeaderSize = 9
	// maxPayload bounds a frame. A lease record is a few hundred bytes at
	// most (DHCP options are limited to 255 bytes each); anything larger
	// is corruption.
	maxPayload = 64 << 10
)

// Kind says what a frame holds. Load dispatches on it; an unknown kind is
// corruption, never silently skipped, so a newer file is not half-read by
// an older binary.
type Kind uint8

const (
	// KindLease: one lease.Lease record.
	KindLease Kind = 1
	// kindSnapEnd closes a snapshot: payload is the record count (uvarint).
	// A snapshot without it is incomplete.
	kindSnapEnd Kind = 2
	// KindBlob: one store.Blob (a keyed opaque record, e.g. campaign
	// state). Logs written before it existed simply have none.
	KindBlob Kind = 3
)

func (k Kind) known() bool { return k == KindLease || k == kindSnapEnd || k == KindBlob }

// leaseVersion is the first payload byte of a lease record. Decoders
// reject versions they do not know. Version 2 is version 1 with a second
// flags byte (flags2) after flags; it is written only for a record that
// sets a flags2 bit, so every other record stays the version 1 encoding
// that older binaries read (and they refuse, not misread, a version 2
// record: "unknown lease record version").
const (
	leaseVersion  = 1
	leaseVersion2 = 2
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// appendFrame appends a frame holding payload to dst.
func appendFrame(dst []byte, kind Kind, payload []byte) []byte {
	var h [frameHeaderSize]byte
	binary.LittleEndian.PutUint32(h[0:4], uint32(len(payload)))
	h[8] = byte(kind)
	crc := crc32.Update(0, castagnoli, h[0:4])
	crc = crc32.Update(crc, castagnoli, h[8:9])
	crc = crc32.Update(crc, castagnoli, payload)
	binary.LittleEndian.PutUint32(h[4:8], crc)
	dst = append(dst, h[:]...)
	return append(dst, payload...)
}

// frameStatus is what parseFrame found at an offset.
type frameStatus uint8

const (
	frameOK      frameStatus = iota
	frameShort               // the buffer ends inside the frame (torn write)
	frameBadLen              // length field out of bounds
	frameBadCRC              // checksum mismatch
	frameBadKind             // checksum fine, kind unknown
)

func (s frameStatus) String() string {
	switch s {
	case frameOK:
		return "ok"
	case frameShort:
		return "short frame"
	case frameBadLen:
		return "bad frame length"
	case frameBadCRC:
		return "checksum mismatch"
	case frameBadKind:
		return "unknown record kind"
	}
	return "invalid"
}

// parseFrame reads the frame at the start of b. On frameOK it returns the
// kind, the payload (aliasing b) and the frame's total size.
func parseFrame(b []byte) (Kind, []byte, int, frameStatus) {
	if len(b) < frameHeaderSize {
		return 0, nil, 0, frameShort
	}
	n := binary.LittleEndian.Uint32(b[0:4])
	if n == 0 || n > maxPayload {
		return 0, nil, 0, frameBadLen
	}
	end := frameHeaderSize + int(n)
	if len(b) < end {
		return 0, nil, 0, frameShort
	}
	crc := crc32.Update(0, castagnoli, b[0:4])
	crc = crc32.Update(crc, castagnoli, b[8:end])
	if crc != binary.LittleEndian.Uint32(b[4:8]) {
		return 0, nil, 0, frameBadCRC
	}
	k := Kind(b[8])
	if !k.known() {
		return k, nil, 0, frameBadKind
	}
	return k, b[frameHeaderSize:end], end, frameOK
}

// Lease payload, version 1 (and 2). Variable-length integers are encoding/binary
// varints; byte slices and strings are a uvarint length followed by the
// bytes; an address is a length byte (0, 4 or 16) and the bytes.
//
//	version   byte (1)
//	state     byte
//	seq       uvarint
//	addr      address
//	flags     byte: bit 0 ForceRenewNonceCapable, bits 1..4 Start/T1/T2/Expiry present
//	flags2    byte, version 2 only: bits 0..1 lease.Lease.DDNS (who updates
//	          the binding's DNS records; 0 DDNSBoth is written as version 1),
//	          bits 2..7 zero (reserved; a decoder refuses them)
//	times     varint unix nanoseconds, for each time present, in that order
//	clientID  bytes
//	htype     byte
//	hwaddr    bytes
//	hostname  string
//	pool      string
//	section   varint
//	xid       4 bytes little endian
//	giaddr    address
//	relay     bytes
//	reconfkey bytes
//	replay    uvarint
//	-- only when flags bit 5 (DHCPv6 fields) is set:
//	iaid      4 bytes little endian
//	prefixlen byte (0..128; 0 for an IA_NA address)
//	preferred varint unix nanoseconds, only when flags bit 6 is set
//	-- only when flags bit 7 (previous xid) is set:
//	prevxid   4 bytes little endian (lease.Lease.PrevXID, DHCPv4)
//
// Version, state, seq and addr come first so recovery can index a record
// without decoding the rest.
//
// DHCPv6 records (package lease6) set bit 5 when any of IAID, PrefixLen,
// Preferred is not zero. Binaries written before bit 5 existed reject
// unknown flags, so they refuse (CorruptError) a log holding such a record
// instead of misreading it; DHCPv4 records never set it and read as before.
//
// Records are keyed by Addr on recovery. A DHCPv6 IA_NA address and the
// first address of a delegated prefix never collide: the config package
// forbids a range that overlaps a delegation prefix (and DHCPv4 addresses
// are 4-byte, a different key).
const (
	flagFRNonce   = 1 << 0
	flagTime0     = 1 << 1 // Start; T1, T2 and Expiry follow at 1<<2..1<<4
	flagV6        = 1 << 5 // IAID, PrefixLen (and Preferred) follow the replay counter
	flagPreferred = 1 << 6 // with flagV6: Preferred is set
	// flagPrevXID: PrevXID (not 0) follows everything else. Binaries
	// written before it existed reject the unknown flag (CorruptError)
	// instead of misreading the record; records without it read as before.
	flagPrevXID = 1 << 7
)

// flags2 bits (version 2 records).
const (
	flag2DDNSMask = 0x03 // lease.DDNSMode
)

// Times outside this range do not fit in int64 unix nanoseconds.
var (
	minTime = time.Unix(0, math.MinInt64)
	maxTime = time.Unix(0, math.MaxInt64)
)

// errRecord is wrapped by every record decoding error.
var errRecord = errors.New("malformed record")

// appendLease appends the payload of l to dst: version 1, or version 2
// when a flags2 bit is set.
func appendLease(dst []byte, l *lease.Lease) ([]byte, error) {
	if !l.Addr.IsValid() {
		return dst, fmt.Errorf("wal: record seq %d has no address", l.Seq)
	}
	times := [4]time.Time{l.Start, l.T1, l.T2, l.Expiry}
	var flags byte
	if l.ForceRenewNonceCapable {
		flags |= flagFRNonce
	}
	for i, t := range times {
		if t.IsZero() {
			continue
		}
		if t.Before(minTime) || t.After(maxTime) {
			return dst, fmt.Errorf("wal: record %s: time %v outside the storable range", l.Addr, t)
		}
		flags |= flagTime0 << i
	}
	if l.IAID != 0 || l.PrefixLen != 0 || !l.Preferred.IsZero() {
		if l.PrefixLen > 128 {
			return dst, fmt.Errorf("wal: record %s: prefix length %d", l.Addr, l.PrefixLen)
		}
		flags |= flagV6
		if !l.Preferred.IsZero() {
			if l.Preferred.Before(minTime) || l.Preferred.After(maxTime) {
				return dst, fmt.Errorf("wal: record %s: time %v outside the storable range", l.Addr, l.Preferred)
			}
			flags |= flagPreferred
		}
	}
	if l.PrevXID != 0 {
		flags |= flagPrevXID
	}
	if l.DDNS > lease.DDNSNone {
		return dst, fmt.Errorf("wal: record %s: DDNS mode %d", l.Addr, l.DDNS)
	}
	flags2 := byte(l.DDNS) & flag2DDNSMask
	version := byte(leaseVersion)
	if flags2 != 0 {
		version = leaseVersion2
	}
	dst = append(dst, version, byte(l.State))
	dst = binary.AppendUvarint(dst, l.Seq)
	dst = appendAddr(dst, l.Addr)
	dst = append(dst, flags)
	if version == leaseVersion2 {
		dst = append(dst, flags2)
	}
	for _, t := range times {
		if !t.IsZero() {
			dst = binary.AppendVarint(dst, t.UnixNano())
		}
	}
	dst = appendBytes(dst, l.ClientID)
	dst = append(dst, l.HType)
	dst = appendBytes(dst, l.HWAddr)
	dst = appendString(dst, l.Hostname)
	dst = appendString(dst, l.Pool)
	dst = binary.AppendVarint(dst, int64(l.Section))
	dst = binary.LittleEndian.AppendUint32(dst, l.XID)
	dst = appendAddr(dst, l.GIAddr)
	dst = appendBytes(dst, l.RelayInfo)
	dst = appendBytes(dst, l.ReconfKey)
	dst = binary.AppendUvarint(dst, l.ReplayCounter)
	if flags&flagV6 != 0 {
		dst = binary.LittleEndian.AppendUint32(dst, l.IAID)
		dst = append(dst, l.PrefixLen)
		if flags&flagPreferred != 0 {
			dst = binary.AppendVarint(dst, l.Preferred.UnixNano())
		}
	}
	if flags&flagPrevXID != 0 {
		dst = binary.LittleEndian.AppendUint32(dst, l.PrevXID)
	}
	return dst, nil
}

// appendLeaseFrame appends a complete KindLease frame for l to dst.
func appendLeaseFrame(dst []byte, l *lease.Lease) ([]byte, error) {
	start := len(dst)
	dst = append(dst, make([]byte, frameHeaderSize)...)
	dst, err := appendLease(dst, l)
	if err != nil {
		return dst[:start], err
	}
	n := len(dst) - start - frameHeaderSize
	if n > maxPayload {
		return dst[:start], fmt.Errorf("wal: record %s is %d bytes, more than %d", l.Addr, n, maxPayload)
	}
	h := dst[start : start+frameHeaderSize]
	binary.LittleEndian.PutUint32(h[0:4], uint32(n))
	h[8] = byte(KindLease)
	crc := crc32.Update(0, castagnoli, h[0:4])
	crc = crc32.Update(crc, castagnoli, dst[start+8:])
	binary.LittleEndian.PutUint32(h[4:8], crc)
	return dst, nil
}

// Blob payload, version 1:
//
//	version  byte (1)
//	kind     byte (store.Blob.Kind)
//	key      bytes (uvarint length, at least 1)
//	value    the rest (empty: tombstone)
const blobVersion = 1

// appendBlobFrame appends a complete KindBlob frame for b to dst.
func appendBlobFrame(dst []byte, b *store.Blob) ([]byte, error) {
	if len(b.Key) == 0 {
		return dst, fmt.Errorf("wal: blob of kind %d has no key", b.Kind)
	}
	n := 2 + binary.PutUvarint(make([]byte, binary.MaxVarintLen64), uint64(len(b.Key))) + len(b.Key) + len(b.Value)
	if n > maxPayload {
		return dst, fmt.Errorf("wal: blob of kind %d is %d bytes, more than %d", b.Kind, n, maxPayload)
	}
	p := make([]byte, 0, n)
	p = append(p, blobVersion, b.Kind)
	p = appendBytes(p, b.Key)
	p = append(p, b.Value...)
	return appendFrame(dst, KindBlob, p), nil
}

// decodeBlob decodes a blob payload; the slices alias p.
func decodeBlob(p []byte) (store.Blob, error) {
	d := decoder{b: p}
	if v := d.byte1("version"); d.err == nil && v != blobVersion {
		return store.Blob{}, fmt.Errorf("%w: unknown blob record version %d", errRecord, v)
	}
	k := d.byte1("blob kind")
	key := d.bytes("blob key")
	if d.err == nil && len(key) == 0 {
		d.fail("empty blob key")
	}
	if d.err != nil {
		return store.Blob{}, d.err
	}
	return store.Blob{Kind: k, Key: key, Value: d.b}, nil
}

func appendAddr(dst []byte, a netip.Addr) []byte {
	switch {
	case !a.IsValid():
		return append(dst, 0)
	case a.Is4():
		b := a.As4()
		return append(append(dst, 4), b[:]...)
	default:
		b := a.As16()
		return append(append(dst, 16), b[:]...)
	}
}

func appendBytes(dst, b []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(b)))
	return append(dst, b...)
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// decoder reads a payload front to back; the first error sticks.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s", errRecord, what)
	}
	d.b = nil
}

func (d *decoder) byte1(what string) byte {
	if len(d.b) < 1 {
		d.fail(what)
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) uvarint(what string) uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail(what)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint(what string) int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail(what)
		return 0
	}
	d.b = d.b[n:]
	return v
}

// bytes returns a slice aliasing the payload.
func (d *decoder) bytes(what string) []byte {
	n := d.uvarint(what)
	if d.err != nil || n > uint64(len(d.b)) {
		d.fail(what)
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) addr(what string) netip.Addr {
	switch n := d.byte1(what); n {
	case 0:
		return netip.Addr{}
	case 4:
		if len(d.b) < 4 {
			d.fail(what)
			return netip.Addr{}
		}
		a := netip.AddrFrom4([4]byte(d.b[:4]))
		d.b = d.b[4:]
		return a
	case 16:
		if len(d.b) < 16 {
			d.fail(what)
			return netip.Addr{}
		}
		a := netip.AddrFrom16([16]byte(d.b[:16]))
		d.b = d.b[16:]
		return a
	default:
		d.fail(what)
		return netip.Addr{}
	}
}

// leaseKey decodes the indexed prefix of a lease payload: state, seq, addr.
func leaseKey(p []byte) (lease.State, uint64, netip.Addr, error) {
	d := decoder{b: p}
	if v := d.byte1("version"); d.err == nil && v != leaseVersion && v != leaseVersion2 {
		return 0, 0, netip.Addr{}, fmt.Errorf("%w: unknown lease record version %d", errRecord, v)
	}
	st := lease.State(d.byte1("state"))
	seq := d.uvarint("seq")
	a := d.addr("addr")
	if d.err == nil && !a.IsValid() {
		d.fail("no address")
	}
	return st, seq, a, d.err
}

// decodeLease decodes a lease payload. The returned record's slices are
// freshly allocated (one backing array) and never alias p. intern, when
// not nil, deduplicates pool names, which repeat across records.
func decodeLease(p []byte, intern map[string]string) (lease.Lease, error) {
	var l lease.Lease
	if err := decodeLeaseInto(&l, p, intern, false); err != nil {
		return lease.Lease{}, err
	}
	return l, nil
}

// decodeLeaseInto decodes a lease payload into *l, overwriting every
// field. With borrow, the byte slices (ClientID, HWAddr, RelayInfo,
// ReconfKey) alias p; otherwise they share one fresh allocation. Hostname
// and Pool are always owned strings (Pool interned through intern when not
// nil). On error *l is zero.
func decodeLeaseInto(l *lease.Lease, p []byte, intern map[string]string, borrow bool) error {
	*l = lease.Lease{}
	d := decoder{b: p}
	version := d.byte1("version")
	if d.err == nil && version != leaseVersion && version != leaseVersion2 {
		return fmt.Errorf("%w: unknown lease record version %d", errRecord, version)
	}
	l.State = lease.State(d.byte1("state"))
	l.Seq = d.uvarint("seq")
	l.Addr = d.addr("addr")
	flags := d.byte1("flags")
	if version == leaseVersion2 {
		f2 := d.byte1("flags2")
		if f2&^flag2DDNSMask != 0 || f2&flag2DDNSMask > byte(lease.DDNSNone) {
			d.fail("unknown flags2")
		}
		l.DDNS = lease.DDNSMode(f2 & flag2DDNSMask)
	}
	l.ForceRenewNonceCapable = flags&flagFRNonce != 0
	if flags&^(flagFRNonce|flagTime0<<0|flagTime0<<1|flagTime0<<2|flagTime0<<3|flagV6|flagPreferred|flagPrevXID) != 0 {
		d.fail("unknown flags")
	}
	if flags&flagPreferred != 0 && flags&flagV6 == 0 {
		d.fail("preferred lifetime without DHCPv6 fields")
	}
	times := [4]*time.Time{&l.Start, &l.T1, &l.T2, &l.Expiry}
	for i, t := range times {
		if flags&(flagTime0<<i) != 0 {
			*t = time.Unix(0, d.varint("time")).UTC()
		}
	}
	clientID := d.bytes("client id")
	l.HType = d.byte1("htype")
	hw := d.bytes("hwaddr")
	host := d.bytes("hostname")
	pool := d.bytes("pool")
	sec := d.varint("section")
	if sec < math.MinInt32 || sec > math.MaxInt32 {
		d.fail("section")
	}
	l.Section = int(sec)
	if len(d.b) < 4 {
		d.fail("xid")
	} else {
		l.XID = binary.LittleEndian.Uint32(d.b)
		d.b = d.b[4:]
	}
	l.GIAddr = d.addr("giaddr")
	relay := d.bytes("relay info")
	key := d.bytes("reconfigure key")
	l.ReplayCounter = d.uvarint("replay counter")
	if flags&flagV6 != 0 {
		if len(d.b) < 4 {
			d.fail("iaid")
		} else {
			l.IAID = binary.LittleEndian.Uint32(d.b)
			d.b = d.b[4:]
		}
		if pl := d.byte1("prefix length"); pl > 128 {
			d.fail("prefix length")
		} else {
			l.PrefixLen = pl
		}
		if flags&flagPreferred != 0 {
			l.Preferred = time.Unix(0, d.varint("preferred")).UTC()
		}
	}
	if flags&flagPrevXID != 0 {
		if len(d.b) < 4 {
			d.fail("previous xid")
		} else {
			l.PrevXID = binary.LittleEndian.Uint32(d.b)
			d.b = d.b[4:]
		}
	}
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("%w: %d trailing bytes", errRecord, len(d.b))
	}
	if d.err == nil && !l.Addr.IsValid() {
		d.err = fmt.Errorf("%w: no address", errRecord)
	}
	if d.err != nil {
		*l = lease.Lease{}
		return d.err
	}
	if len(host) > 0 {
		l.Hostname = string(host)
	}
	if intern != nil {
		if s, ok := intern[string(pool)]; ok {
			l.Pool = s
		} else {
			l.Pool = string(pool)
			if len(intern) < 4096 {
				intern[l.Pool] = l.Pool
			}
		}
	} else {
		l.Pool = string(pool)
	}
	if borrow {
		l.ClientID, l.HWAddr, l.RelayInfo, l.ReconfKey = nilIfEmpty(clientID), nilIfEmpty(hw), nilIfEmpty(relay), nilIfEmpty(key)
		return nil
	}
	// One allocation for the four byte slices.
	buf := make([]byte, 0, len(clientID)+len(hw)+len(relay)+len(key))
	take := func(b []byte) []byte {
		if len(b) == 0 {
			return nil
		}
		s := len(buf)
		buf = append(buf, b...)
		return buf[s:len(buf):len(buf)]
	}
	l.ClientID = take(clientID)
	l.HWAddr = take(hw)
	l.RelayInfo = take(relay)
	l.ReconfKey = take(key)
	return nil
}

func nilIfEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

func putUvarint(b []byte, v uint64) int { return binary.PutUvarint(b, v) }
