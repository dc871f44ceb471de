package dhcpv4

import (
	"encoding/binary"
	"net/netip"
)

// Typed accessors for the common options (RFC 2132). Byte slices alias the
// packet; see Message.

// Type returns the DHCP message type (option 53), 0 when absent.
func (m *Message) Type() MessageType {
	if v, ok := m.Option(OptMessageType); ok && len(v) == 1 {
		return MessageType(v[0])
	}
	return 0
}

// Addr returns a single-address option (1, 28, 50, 54, ...).
func (m *Message) Addr(code OptionCode) (netip.Addr, bool) {
	v, ok := m.Option(code)
	if !ok || len(v) != 4 {
		return netip.Addr{}, false
	}
	return netip.AddrFrom4([4]byte(v)), true
}

// Uint32 returns a 4-byte option (51, 58, 59).
func (m *Message) Uint32(code OptionCode) (uint32, bool) {
	v, ok := m.Option(code)
	if !ok || len(v) != 4 {
		return 0, false
	}
	return binary.BigEndian.Uint32(v), true
}

// Uint16 returns a 2-byte option (57, 26).
func (m *Message) Uint16(code OptionCode) (uint16, bool) {
	v, ok := m.Option(code)
	if !ok || len(v) != 2 {
		return 0, false
	}
	return binary.BigEndian.Uint16(v), true
}

// RequestedIP is option 50 (RFC 2132 §9.1).
func (m *Message) RequestedIP() (netip.Addr, bool) { return m.Addr(OptRequestedIP) }

// ServerID is option 54 (RFC 2132 §9.7).
func (m *Message) ServerID() (netip.Addr, bool) { return m.Addr(OptServerID) }

// ClientID is option 61 (RFC 2132 §9.14; RFC 4361), nil when absent.
func (m *Message) ClientID() []byte { v, _ := m.Option(OptClientID); return v }

// Hostname is option 12 (RFC 2132 §3.14), nil when absent.
func (m *Message) Hostname() []byte { v, _ := m.Option(OptHostname); return v }

// ParamRequestList is option 55 (RFC 2132 §9.8): the requested codes.
func (m *Message) ParamRequestList() []byte { v, _ := m.Option(OptParamRequestList); return v }

// Requested reports whether the client listed code in option 55.
func (m *Message) Requested(code OptionCode) bool {
	for _, c := range m.ParamRequestList() {
		if OptionCode(c) == code {
			return true
		}
	}
	return false
}

// LeaseTime is option 51 in seconds (RFC 2132 §9.2).
func (m *Message) LeaseTime() (uint32, bool) { return m.Uint32(OptLeaseTime) }

// MaxMessageSize is option 57 (RFC 2132 §9.10). The value is returned as
// sent; callers should treat values below 576 as 576.
func (m *Message) MaxMessageSize() (uint16, bool) { return m.Uint16(OptMaxMessageSize) }

// VendorClass is option 60 (RFC 2132 §9.13), nil when absent.
func (m *Message) VendorClass() []byte { v, _ := m.Option(OptVendorClassID); return v }

// RelayAgentInfo is option 82 raw (RFC 3046), nil when absent; iterate it
// with RelayInfo.
func (m *Message) RelayAgentInfo() []byte { v, _ := m.Option(OptRelayAgentInfo); return v }

// ForceRenewNonceCapable is option 145's payload (RFC 6704 §3), a list of
// algorithm numbers; nil when absent.
func (m *Message) ForceRenewNonceCapable() []byte {
	v, _ := m.Option(OptForceRenewNonceCap)
	return v
}

// AddrCount is the number of addresses in a list option (len/4).
func AddrCount(v []byte) int { return len(v) / 4 }

// AddrAt returns the i-th address of a list option value (3, 6, 42, ...).
func AddrAt(v []byte, i int) netip.Addr {
	return netip.AddrFrom4([4]byte(v[4*i:]))
}

// AppendAddrs appends the addresses of a list option value to dst. It
// returns an error matching ErrBadLength when len(v) is not a multiple of 4.
func AppendAddrs(dst []netip.Addr, v []byte) ([]netip.Addr, error) {
	if len(v)%4 != 0 {
		return dst, &DecodeError{Field: "address list", Offset: len(v) - len(v)%4, Kind: ErrBadLength, Reason: "length is not a multiple of 4"}
	}
	for i := 0; i+4 <= len(v); i += 4 {
		dst = append(dst, netip.AddrFrom4([4]byte(v[i:])))
	}
	return dst, nil
}
