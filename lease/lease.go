// Package lease is the DHCPv4 lease engine: pools, sections, reservations,
// the allocator and the RFC 2131 server state machine. It is pure: it takes
// decoded requests and the current time and returns decisions (a reply to
// send and the lease records that must be durable before it is sent). It
// owns no sockets, no goroutines and never reads the clock itself.
package lease

import (
	"net/netip"
	"time"
)

// State is the state of an address binding as the server sees it.
type State uint8

const (
	// StateFree: the address is not bound. Records in this state are kept
	// so a returning client gets its previous address back (RFC 2131 §4.3.1
	// "the client's previous address, as recorded in the client's current
	// binding"); they carry no claim on the address.
	StateFree State = iota
	// StateOffered exists only in memory: an address held for a client
	// between OFFER and REQUEST. It is never persisted.
	StateOffered
	StateBound
	StateReleased
	StateExpired
	// StateDeclined: a client reported the address in use (DHCPDECLINE);
	// it is quarantined until Expiry.
	StateDeclined
	// StateDeleted: removed by the operator. Persisted as a tombstone so
	// replay drops the binding.
	StateDeleted
	// StateQuarantined: the binding was deleted (operator, campaign
	// on-failure delete or recycle) while its lease was still valid, so the
	// client may still use the address. The record keeps the client and
	// the old Expiry; the address stays out of the pool until then (as a
	// declined one) and then becomes StateExpired. Only that client may be
	// given it back before.
	StateQuarantined
)

var stateNames = [...]string{"free", "offered", "bound", "released", "expired", "declined", "deleted", "quarantined"}

func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "invalid"
}

// ParseState is the inverse of State.String.
func ParseState(s string) (State, bool) {
	for i, n := range stateNames {
		if n == s {
			return State(i), true
		}
	}
	return 0, false
}

// Holds reports whether a lease in this state keeps its address from being
// given to another client (until Expiry).
func (s State) Holds() bool {
	return s == StateOffered || s == StateBound || s == StateDeclined || s == StateQuarantined
}

// Valid reports whether s is a known state.
func (s State) Valid() bool { return int(s) < len(stateNames) }

// Lease is one address binding: the unit the engine decides on and the
// store persists. Records are keyed by Addr; Seq orders them (the highest
// Seq for an address wins on recovery, whatever order they reached disk).
type Lease struct {
	Seq      uint64
	Addr     netip.Addr
	ClientID []byte // option 61 when sent, else htype followed by chaddr (see ClientKey)
	HType    uint8
	HWAddr   []byte // chaddr[:hlen]
	Hostname string
	Pool     string
	Section  int // section index, -1 when the address is in no section
	State    State

	Start  time.Time
	T1     time.Time
	T2     time.Time
	Expiry time.Time

	// XID of the client's last transaction with us. dhcpcd drops a
	// FORCERENEW whose xid differs (see DESIGN.md).
	XID uint32
	// PrevXID is the xid of the client's transaction before the one in
	// XID, when it differed (0: none). A forged renewal replaces XID with
	// the forger's xid; FORCERENEW retries alternate between the two, so
	// the real client still gets one with its own xid (DHCPv4 only).
	PrevXID uint32
	// GIAddr and RelayInfo (raw option 82) of the last request, so a
	// FORCERENEW can be routed back and the operator sees where a client is.
	GIAddr    netip.Addr
	RelayInfo []byte
	// ForceRenewNonceCapable: the client sent option 145 (RFC 6704) with
	// algorithm 1 in its last REQUEST.
	ForceRenewNonceCapable bool
	// ReconfKey is the RFC 6704 reconfigure key handed out in the last ACK
	// (empty when none); ReplayCounter is the last RFC 3118 replay
	// detection value sent to this client.
	ReconfKey     []byte
	ReplayCounter uint64

	// DHCPv6 (package lease6) only; zero for DHCPv4 records. Addr is then
	// the IA_NA address or the first address of the delegated prefix.
	// IAID identifies the IA; PrefixLen is the delegated prefix length
	// (IA_PD), 0 for an address; Preferred is the end of the preferred
	// lifetime (Expiry is the end of the valid lifetime).
	IAID      uint32
	PrefixLen uint8
	Preferred time.Time

	// DDNS says which DNS records the server updates for this binding:
	// the server reads the client's FQDN option (RFC 4702 §4, RFC 4704 §5)
	// into Request.DDNS, the engine keeps it with the binding, and the
	// stores persist it, so the end of a binding after a restart removes
	// what was added (a PTR-only binding: only the PTR).
	DDNS DDNSMode

	// Reserved: the binding was made from the client's own reservation
	// (its address, or in lease6 its address or prefix, is the one
	// reserved for it). The engines set it on the records of a Decision
	// (Persist) only; it is not kept in memory, and a record read back or
	// written later for the same binding (FORCERENEW, expiry) need not
	// carry it. The PostgreSQL cluster commit accepts such a record
	// outside the writer's claims (docs/cluster.md).
	Reserved bool
}

// DDNSMode is who updates a binding's DNS records (RFC 4702 §3.1).
type DDNSMode uint8

const (
	DDNSBoth    DDNSMode = iota // the server updates A/AAAA and PTR (also: no FQDN option)
	DDNSPTROnly                 // the client updates A/AAAA (its S bit was 0): the server only the PTR
	DDNSNone                    // the client's N bit: the server updates nothing
)

// IsV6 reports whether l is a DHCPv6 binding.
func (l *Lease) IsV6() bool { return l.Addr.Is6() && !l.Addr.Is4In6() }

// Prefix is the delegated prefix of an IA_PD binding (invalid otherwise).
func (l *Lease) Prefix() netip.Prefix {
	if l.PrefixLen == 0 || !l.IsV6() {
		return netip.Prefix{}
	}
	return netip.PrefixFrom(l.Addr, int(l.PrefixLen))
}

// Clone returns a deep copy whose slices do not alias l's.
func (l *Lease) Clone() Lease {
	c := *l
	c.ClientID = cloneBytes(l.ClientID)
	c.HWAddr = cloneBytes(l.HWAddr)
	c.RelayInfo = cloneBytes(l.RelayInfo)
	c.ReconfKey = cloneBytes(l.ReconfKey)
	return c
}

func cloneBytes(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte(nil), b...)
}
