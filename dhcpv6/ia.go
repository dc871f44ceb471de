package dhcpv6

import (
	"encoding/binary"
	"net/netip"
	"strconv"
)

// IA is an Identity Association for Non-temporary Addresses (IA_NA, RFC
// 8415 §21.4) or for Prefix Delegation (IA_PD, §21.21): both have the same
// layout. Options holds the encapsulated IAADDR / IAPREFIX / Status Code
// options and aliases the packet.
type IA struct {
	IAID    uint32
	T1, T2  uint32 // seconds
	Options Options
}

// ParseIA decodes an IA_NA or IA_PD value; Options aliases v.
func ParseIA(v []byte) (IA, error) {
	if len(v) < 12 {
		return IA{}, &DecodeError{Field: "IA", Offset: 0, Kind: ErrBadLength,
			Reason: "length " + strconv.Itoa(len(v)) + " is shorter than 12"}
	}
	return IA{
		IAID:    binary.BigEndian.Uint32(v),
		T1:      binary.BigEndian.Uint32(v[4:]),
		T2:      binary.BigEndian.Uint32(v[8:]),
		Options: Options(v[12:len(v):len(v)]),
	}, nil
}

// Addrs iterates over the IAADDR options of an IA_NA.
func (ia IA) Addrs() OptionIter { return ia.Options.Filter(OptIAAddr) }

// Prefixes iterates over the IAPREFIX options of an IA_PD.
func (ia IA) Prefixes() OptionIter { return ia.Options.Filter(OptIAPrefix) }

// IAAddr is an IA Address option (RFC 8415 §21.6).
type IAAddr struct {
	Addr                             netip.Addr
	PreferredLifetime, ValidLifetime uint32 // seconds; 0xffffffff is infinity
	Options                          Options
}

// ParseIAAddr decodes an IAADDR value; Options aliases v.
func ParseIAAddr(v []byte) (IAAddr, error) {
	if len(v) < 24 {
		return IAAddr{}, &DecodeError{Field: "option 5", Offset: 0, Kind: ErrBadLength,
			Reason: "length " + strconv.Itoa(len(v)) + " is shorter than 24"}
	}
	return IAAddr{
		Addr:              netip.AddrFrom16([16]byte(v)),
		PreferredLifetime: binary.BigEndian.Uint32(v[16:]),
		ValidLifetime:     binary.BigEndian.Uint32(v[20:]),
		Options:           Options(v[24:len(v):len(v)]),
	}, nil
}

// IAPrefix is an IA Prefix option (RFC 8415 §21.22).
type IAPrefix struct {
	PreferredLifetime, ValidLifetime uint32
	Prefix                           netip.Prefix
	Options                          Options
}

// ParseIAPrefix decodes an IAPREFIX value; Options aliases v. A prefix
// length over 128 is ErrBadValue.
func ParseIAPrefix(v []byte) (IAPrefix, error) {
	if len(v) < 25 {
		return IAPrefix{}, &DecodeError{Field: "option 26", Offset: 0, Kind: ErrBadLength,
			Reason: "length " + strconv.Itoa(len(v)) + " is shorter than 25"}
	}
	if v[8] > 128 {
		return IAPrefix{}, &DecodeError{Field: "option 26", Offset: 8, Kind: ErrBadValue,
			Reason: "prefix-length " + strconv.Itoa(int(v[8])) + " exceeds 128"}
	}
	return IAPrefix{
		PreferredLifetime: binary.BigEndian.Uint32(v),
		ValidLifetime:     binary.BigEndian.Uint32(v[4:]),
		Prefix:            netip.PrefixFrom(netip.AddrFrom16([16]byte(v[9:])), int(v[8])),
		Options:           Options(v[25:len(v):len(v)]),
	}, nil
}

// ORO is the value of the Option Request option (RFC 8415 §21.7): a list
// of 2-byte option codes, read in place.
type ORO []byte

// Len is the number of requested codes.
func (o ORO) Len() int { return len(o) / 2 }

// At returns the i-th requested code.
func (o ORO) At(i int) OptionCode { return OptionCode(binary.BigEndian.Uint16(o[2*i:])) }

// Has reports whether code is requested.
func (o ORO) Has(code OptionCode) bool {
	for i := 0; i+1 < len(o); i += 2 {
		if OptionCode(binary.BigEndian.Uint16(o[i:])) == code {
			return true
		}
	}
	return false
}

// Addrs is a list of IPv6 addresses in place (options 22, 23, 56
// sub-options), 16 bytes each.
type Addrs []byte

// Len is the number of addresses.
func (a Addrs) Len() int { return len(a) / 16 }

// At returns the i-th address.
func (a Addrs) At(i int) netip.Addr { return netip.AddrFrom16([16]byte(a[16*i:])) }

// RemoteID is option 37 (RFC 4649 §3): an enterprise number and the
// relay's remote-id for the client.
type RemoteID struct {
	Enterprise uint32
	ID         []byte
}

// ParseRemoteID decodes an option 37 value; ID aliases v.
func ParseRemoteID(v []byte) (RemoteID, error) {
	if len(v) < 5 {
		return RemoteID{}, &DecodeError{Field: "option 37", Offset: 0, Kind: ErrBadLength,
			Reason: "length " + strconv.Itoa(len(v)) + " is shorter than 5"}
	}
	return RemoteID{Enterprise: binary.BigEndian.Uint32(v), ID: v[4:len(v):len(v)]}, nil
}

// LinkLayerAddr is option 79 (RFC 6939 §4), added by a first-hop relay.
type LinkLayerAddr struct {
	HType uint16
	Addr  []byte
}

// ParseLinkLayerAddr decodes an option 79 value; Addr aliases v.
func ParseLinkLayerAddr(v []byte) (LinkLayerAddr, error) {
	if len(v) < 3 {
		return LinkLayerAddr{}, &DecodeError{Field: "option 79", Offset: 0, Kind: ErrBadLength,
			Reason: "length " + strconv.Itoa(len(v)) + " is shorter than 3"}
	}
	return LinkLayerAddr{HType: binary.BigEndian.Uint16(v), Addr: v[2:len(v):len(v)]}, nil
}
