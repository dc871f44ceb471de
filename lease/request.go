package lease

import (
	"net/netip"
	"time"

	"github.com/leased/leased/dhcpv4"
)

// Request is what the engine needs of a decoded client message. The server
// fills it from a dhcpv4.Message; slices may alias the packet buffer and
// are only valid during Handle (the engine copies what it keeps).
type Request struct {
	Type   dhcpv4.MessageType
	XID    uint32
	Flags  uint16
	CIAddr netip.Addr // invalid or 0.0.0.0 when absent
	GIAddr netip.Addr // invalid or 0.0.0.0 when not relayed
	HType  uint8
	HWAddr []byte // chaddr[:hlen]

	ClientID    []byte     // option 61, nil when absent
	RequestedIP netip.Addr // option 50, invalid when absent
	ServerID    netip.Addr // option 54, invalid when absent
	Hostname    []byte     // option 12
	RelayInfo   []byte     // option 82, raw, echoed in the reply
	// DDNS is who updates the binding's DNS records, from the client's
	// FQDN option (option 81, RFC 4702 §3.1; the server fills it); the
	// engine keeps it with the binding (Lease.DDNS).
	DDNS DDNSMode
	// Class inputs (nil when absent): option 60 vendor class, option 77
	// user class (raw), option 93 client system architectures (RFC 4578).
	VendorClass []byte
	UserClass   []byte
	ClientArch  []byte
	// MaxMessageSize is option 57 (RFC 2132 §9.10), 0 when absent.
	MaxMessageSize uint16
	// ForceRenewNonce is option 145's payload (RFC 6704), nil when absent.
	ForceRenewNonce []byte
	// ReconfKey is a fresh random 16-byte RFC 6704 reconfigure key for the
	// engine to hand out if this request is ACKed. The server fills it
	// (from crypto/rand) only for a DHCPREQUEST whose option 145 lists
	// HMAC-MD5; nil otherwise. Randomness comes in with the request rather
	// than from a reader inside the engine so that the engine stays
	// deterministic (tests pass fixed keys), no lock is held while reading
	// the system's random source, and requests that cannot get a key cost
	// nothing.
	ReconfKey []byte
	// ForceNAK: the server is reconfiguring this client with a campaign
	// that forces NAK (Junos behaviour): a renew, rebind or init-reboot
	// the engine would ACK is NAKed instead, so the client restarts in
	// INIT and takes a fresh configuration with a DORA. The server sets it
	// from reconf.Manager.ShouldNAK; the engine stays unaware of campaigns.
	ForceNAK bool
	// LeaseTime is option 51 in the request (seconds), 0 when absent.
	LeaseTime uint32

	// Unicast: the packet was addressed to us rather than broadcast. With
	// ciaddr set it tells RENEWING (unicast) from REBINDING (broadcast).
	Unicast bool
	// LinkAddr is the server's address on the interface the packet came in
	// on; it selects the pool for clients that are not relayed.
	LinkAddr netip.Addr
	// ServerAddr is the address the server identifies itself with in this
	// exchange (option 54): the interface address, or for relayed traffic
	// the local address the relay sent to.
	ServerAddr netip.Addr
	// ServerIDOurs: option 54 names one of this server's addresses. When
	// false and ServerID is valid, the client selected another server
	// (RFC 2131 §4.3.2 SELECTING).
	ServerIDOurs bool
	// ServerIDShared: option 54 names an address that other servers
	// answer to as well — a relay's RFC 5107 Server Identifier Override,
	// which every server of a cluster puts in its OFFERs. A SELECTING
	// REQUEST naming it is then this server's only when this server
	// offered the client the requested address; otherwise the client
	// took another server's offer.
	ServerIDShared bool

	// Scratch, when set, is where the Decision of a DISCOVER or a binding
	// REQUEST keeps Persist, its undo log, Reply.Lease and their byte
	// slices, instead of new allocations (see Scratch); nil: allocated.
	Scratch *Scratch
}

// Scratch is storage a caller lends the engine for the decision about one
// request (Request.Scratch), so that an OFFER or an ACK allocates nothing
// the server throws away once the reply is sent (issue #15: ~1.4 KB per
// DORA, most of the collector's work at 6,000 exchanges/s). A Decision
// made with a Scratch refers into it until the next Handle with the same
// Scratch: the caller reuses a Scratch only when the decision is finished
// — committed and answered, or reverted (Engine.Revert reads the undo log
// from it). leased's server keeps one in each packet buffer, which lives
// from the read to the reply anyway. Byte slices that do not fit are
// allocated as without a Scratch.
type Scratch struct {
	persist [2]Lease // a binding, and the client's old address freed by a move
	reply   Lease
	undo    [2]rec
	bytes   [scratchBytes]byte
}

// scratchBytes holds a typical client's key, hardware address, relay
// agent information and reconfigure key, twice (record and offer).
const scratchBytes = 256

// Reply describes the message to send. The server encodes it: header fields
// come from the request (xid, flags, giaddr, chaddr, ciaddr) plus YIAddr;
// options from the pool.
type Reply struct {
	Type     dhcpv4.MessageType // Offer, Ack or Nak
	YIAddr   netip.Addr         // invalid for NAK and INFORM's ACK
	ServerID netip.Addr
	// Lease timing; all zero for NAK and for the ACK of an INFORM, which
	// MUST NOT carry a lease time (RFC 2131 §4.3.5).
	LeaseTime, T1, T2 time.Duration
	// Pool supplies the configured options (mask, router, DNS, ...); nil
	// for NAK.
	Pool *Pool
	// Message is option 56 text, mainly for NAK.
	Message string
	// NakReason is why a NAK is sent (one of NakReasons); "" otherwise.
	NakReason string
	// Hostname is option 12: the host name of the client's reservation
	// (OFFER, ACK and the ACK of an INFORM); "" for none.
	Hostname string
	// Classes are the client classes the client is in (bit i: Classes[i]
	// of ClassList, plus ClassKnown or ClassUnknown); ClassList is the
	// engine's class list (shared, read-only).
	Classes   uint64
	ClassList []Class
	// Reservation is the client's reservation in Pool (its options and
	// boot fields beat everything else); nil when none.
	Reservation *Reservation
	// BOOTP: the request had no message type (RFC 951 / RFC 1534); the
	// reply is a BOOTREPLY without DHCP message type, server identifier
	// or lease times.
	BOOTP bool
	// MaxMessageSize is the request's option 57 (0: none), for the encoder
	// (option overload when the reply is too large).
	MaxMessageSize uint16
	// Lease is the binding as it stands after this exchange (for logging
	// and authentication); nil for NAK and INFORM.
	Lease *Lease
	// Replay is the RFC 3118 replay detection value of the message's
	// option 90; 0 when the message carries no option 90. With ReconfKey
	// set it goes with the key (RFC 6704, DHCPACK only); otherwise, for a
	// pool in token mode, with the pool's token; for a FORCERENEW, with
	// the HMAC or the token.
	Replay uint64
	// ReconfKey is the reconfigure key to send (option 90 type 1); set
	// only in a DHCPACK (RFC 6704 §3.3.1: never in an OFFER) and in a
	// FORCERENEW (the key to sign it with, never sent).
	ReconfKey []byte
	// FQDN is the value of the client FQDN option 81 to send in an OFFER
	// or ACK (RFC 4702 §4: the server MUST include it when the client
	// sent one), nil for none. The server, not the engine, fills it (it
	// points into the server's per-packet buffer).
	FQDN []byte
	// XID is the xid a FORCERENEW carries: Lease.XID or, on alternate
	// calls, Lease.PrevXID (see Engine.ForceRenew). Unused in replies,
	// which echo the request's xid.
	XID uint32
}

// Decision is the engine's answer to one request.
//
// The server MUST make every record in Persist durable before sending
// Reply; if that fails it must call Engine.Revert(d) and send nothing.
type Decision struct {
	Reply    Reply
	HasReply bool
	Persist  []Lease
	// Drop names why no reply is sent ("" when HasReply or when silence is
	// the protocol's answer, e.g. a RELEASE); used as a metric label.
	Drop string
	// DropPool names the pool a Drop concerns when the engine knows it
	// (pool_exhausted, class_denied, not_reconfigurable: the pool of the
	// client's link); "" otherwise. For logs and metric labels.
	DropPool string
	// DryPools: with DropPoolExhausted on a shared network, the pools of
	// the link that admit the client (classes, BOOTP) but had no free
	// address, in the order the engine tried them; nil on a link of one
	// pool (DropPool is that pool). A cluster server waits for a claim of
	// one of them (server/claimwait.go).
	DryPools []string

	// undo[i] is the in-memory record of Persist[i].Addr before this
	// decision (state StateDeleted: there was none); see Engine.Revert.
	undo []rec
}
