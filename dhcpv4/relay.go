package dhcpv4

import (
	"net/netip"
	"strconv"
)

// Relay agent information sub-option codes (RFC 3046 §2.0, RFC 3527,
// RFC 5107).
const (
	RelayCircuitID        uint8 = 1  // RFC 3046 §3.1
	RelayRemoteID         uint8 = 2  // RFC 3046 §3.2
	RelayLinkSelection    uint8 = 5  // RFC 3527 §3
	RelayServerIDOverride uint8 = 11 // RFC 5107 §4
)

// RelayInfo is the value of option 82: a sequence of sub-options, each
// code, length, data (RFC 3046 §2.0). It is used in place, without copying.
type RelayInfo []byte

// RelayIter walks the sub-options of a RelayInfo without allocating:
//
//	it := dhcpv4.RelayInfo(v).Iter()
//	for it.Next() { use(it.Code(), it.Data()) }
//	if err := it.Err(); err != nil { ... }
type RelayIter struct {
	b    []byte
	i    int
	code uint8
	data []byte
	err  error
}

// Iter returns an iterator over the sub-options.
func (r RelayInfo) Iter() RelayIter { return RelayIter{b: r} }

// Next advances to the next sub-option. It returns false at the end or on
// a malformed sub-option (see Err).
func (it *RelayIter) Next() bool {
	if it.err != nil || it.i >= len(it.b) {
		return false
	}
	if it.i+2 > len(it.b) {
		it.err = &DecodeError{Field: "option 82", Offset: it.i, Kind: ErrOptionOverrun,
			Reason: "sub-option " + strconv.Itoa(int(it.b[it.i])) + " has no length byte"}
		return false
	}
	n := int(it.b[it.i+1])
	if it.i+2+n > len(it.b) {
		it.err = &DecodeError{Field: "option 82", Offset: it.i, Kind: ErrOptionOverrun,
			Reason: "sub-option " + strconv.Itoa(int(it.b[it.i])) + " length " + strconv.Itoa(n) + " runs past end of option (len " + strconv.Itoa(len(it.b)) + ")"}
		return false
	}
	it.code = it.b[it.i]
	it.data = it.b[it.i+2 : it.i+2+n : it.i+2+n]
	it.i += 2 + n
	return true
}

// Code is the current sub-option code.
func (it *RelayIter) Code() uint8 { return it.code }

// Data is the current sub-option value (aliases the option).
func (it *RelayIter) Data() []byte { return it.data }

// Err is the decoding error that stopped the iteration, if any.
func (it *RelayIter) Err() error { return it.err }

// Validate checks that the sub-options are well formed.
func (r RelayInfo) Validate() error {
	it := r.Iter()
	for it.Next() {
	}
	return it.Err()
}

// Sub returns the first sub-option with the given code.
func (r RelayInfo) Sub(code uint8) ([]byte, bool) {
	it := r.Iter()
	for it.Next() {
		if it.Code() == code {
			return it.Data(), true
		}
	}
	return nil, false
}

// CircuitID is sub-option 1, nil when absent.
func (r RelayInfo) CircuitID() []byte { v, _ := r.Sub(RelayCircuitID); return v }

// RemoteID is sub-option 2, nil when absent.
func (r RelayInfo) RemoteID() []byte { v, _ := r.Sub(RelayRemoteID); return v }

func (r RelayInfo) subAddr(code uint8) (netip.Addr, bool) {
	v, ok := r.Sub(code)
	if !ok || len(v) != 4 {
		return netip.Addr{}, false
	}
	return netip.AddrFrom4([4]byte(v)), true
}

// LinkSelection is sub-option 5 (RFC 3527): the subnet to allocate from.
func (r RelayInfo) LinkSelection() (netip.Addr, bool) { return r.subAddr(RelayLinkSelection) }

// ServerIDOverride is sub-option 11 (RFC 5107): the address the server
// must use as option 54 and where the client will send renewals.
func (r RelayInfo) ServerIDOverride() (netip.Addr, bool) { return r.subAddr(RelayServerIDOverride) }

// AppendRelaySub appends one sub-option to dst (building an option 82
// value). It fails if data is longer than 255 bytes.
func AppendRelaySub(dst []byte, code uint8, data []byte) ([]byte, error) {
	if len(data) > 255 {
		return dst, &EncodeError{Field: "option 82 sub-option " + strconv.Itoa(int(code)), Reason: "longer than 255 bytes"}
	}
	dst = append(dst, code, byte(len(data)))
	return append(dst, data...), nil
}
