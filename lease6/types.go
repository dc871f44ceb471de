// Package lease6 is the DHCPv6 lease engine: IA_NA address pools, IA_PD
// prefix-delegation pools, reservations by DUID and the RFC 8415 server
// state machine (§18.3). Like package lease it is pure: it takes decoded
// requests and the current time and returns decisions (a reply to send and
// the lease records that must be durable before it is sent). It owns no
// sockets, no goroutines and never reads the clock itself.
//
// Bindings are lease.Lease records so that DHCPv4 and DHCPv6 leases share
// one store, one API and one campaign engine. For a DHCPv6 record:
//
//	Addr       the IA_NA address, or the first address of the delegated prefix (IA_PD)
//	PrefixLen  the delegated prefix length (IA_PD); 0 for IA_NA
//	IAID       the IA's identifier
//	ClientID   the client's DUID (option 1)
//	HType/HWAddr  the client link-layer address (RFC 6939 option 79) when a relay sent it
//	T1, T2     renew/rebind times, Preferred the end of the preferred lifetime,
//	           Expiry the end of the valid lifetime
//	XID        the transaction-id of the client's last message (24 bits)
//	GIAddr     where a Reconfigure goes: the relay's address when relayed, the
//	           client's source address otherwise
//	RelayInfo  the server's opaque return path (see Request.ReturnPath)
//	ForceRenewNonceCapable  the client sent Reconfigure Accept (option 20)
//	ReconfKey, ReplayCounter  the RFC 8415 §20.4 reconfigure key and the last
//	           replay detection value sent to this client
//
// Engine methods (the contract the server relies on):
//
//	New(cfg Config) (*Engine, error)
//	(*Engine) ApplyConfig(cfg Config) error                      // reload
//	(*Engine) Handle(now time.Time, req *Request) Decision
//	(*Engine) Revert(d *Decision)                                // commit failed
//	(*Engine) Restore(l lease.Lease)                             // recovery, before serving
//	(*Engine) Expire(now time.Time, max int) Decision            // reclaim, persisted
//	(*Engine) Delete(now time.Time, addr netip.Addr) (Decision, error)
//	(*Engine) Recycle(now time.Time, addr netip.Addr, key []byte) (Decision, error)
//	(*Engine) Lookup(addr netip.Addr) (lease.Lease, bool)
//	(*Engine) All() iter.Seq[lease.Lease]
//	(*Engine) Leases(f lease.Filter) []lease.Lease
//	(*Engine) Pools(now time.Time) []lease.PoolStats
//	(*Engine) ReconfigureClient(now time.Time, addr netip.Addr) (Decision, error)
//
// ReconfigureClient returns the Reconfigure to send to the client holding
// addr (Reply.Type dhcpv6.Reconfigure, Reply.ReconfKey the key to sign it
// with, Reply.Replay the next replay value, Reply.Lease the binding with
// its return path) and persists the raised replay counter; it fails with
// an error wrapping lease.ErrNotCapable for a client that has no key.
package lease6

import (
	"net/netip"
	"time"

	"github.com/leased/leased/dhcpv6"
	"github.com/leased/leased/lease"
)

// Config is everything the engine needs to decide. The config package
// builds it from YAML and validates it; the engine assumes it is valid
// (no two pools, ranges or delegated prefixes overlap).
type Config struct {
	// Default lifetimes (RFC 8415 §7.6); a pool's own values override.
	// Zero T1/T2 mean 0.5 and 0.8 of the preferred lifetime (§21.4).
	Preferred, Valid time.Duration
	T1, T2           time.Duration
	// OfferHold keeps an address or prefix advertised to a client for it
	// alone, in memory only, so two clients are never advertised the same
	// one.
	OfferHold time.Duration
	// DeclineQuarantine is how long a declined address stays out of use.
	DeclineQuarantine time.Duration
	// Global options: sent to every client (also in a stateless Reply to
	// an Information-request that matches no pool, RFC 8415 §18.3.6 /
	// RFC 3736), and inherited by pools that do not set their own (a
	// pool's DNS, DomainSearch or NTP replaces the global list; its raw
	// options replace global ones of the same code).
	DNS          []netip.Addr
	DomainSearch []string
	NTP          []netip.Addr
	RawOptions   []RawOption
	Pools        []Pool
	// Classes are the client classes in configuration order (at most
	// MaxClasses); see Class.
	Classes []Class
}

// Pool is one link's configuration: its on-link prefix, address ranges
// for IA_NA, an optional prefix-delegation pool for IA_PD, options and
// reservations.
type Pool struct {
	Name string
	// Subnet is the link's on-link prefix. A request selects the pool whose
	// Subnet contains the relay's link-address (innermost relay) or, for a
	// client on a served interface, the interface's global address; Links
	// adds more link-addresses that select it.
	Subnet netip.Prefix
	Links  []netip.Addr
	// Interface, when set, selects this pool for clients that are not
	// relayed and arrive on that interface (the interface may have no
	// global address in Subnet).
	Interface string
	// InterfaceID selects this pool for relayed requests whose innermost
	// Relay-forward carries this Interface-ID (option 18, RFC 8415
	// §21.18); it is tried before the link-address.
	InterfaceID []byte
	// SharedNetwork names the shared network (several prefixes on one
	// link) the pool belongs to; "" none. A request that selects any pool
	// of a shared network is served by the pool of the network that
	// holds the client's reservation or binding, else by the first pool
	// (in configuration order) with room for what it asks.
	SharedNetwork string
	// Allow: only clients in one of these classes are served by this pool
	// (empty: everyone); Deny: clients in one of these are not. ClassKnown
	// and ClassUnknown are built in (has a reservation here or not).
	Allow, Deny []string

	Ranges []Range
	// PD is the prefix-delegation pool; nil when the pool delegates none.
	PD *PrefixPool

	DNS          []netip.Addr // option 23
	DomainSearch []string     // option 24
	NTP          []netip.Addr // option 56, server address sub-option
	// RawOptions are sent as given, after the typed ones.
	RawOptions []RawOption

	Preferred, Valid time.Duration // zero: Config's
	T1, T2           time.Duration // zero: Config's, else the ratios
	// RapidCommit: answer a Solicit carrying Rapid Commit (option 14)
	// with a committed Reply (RFC 8415 §18.3.1).
	RapidCommit bool
	// Preference is option 7 in Advertise (0–255); 255 makes clients
	// request at once (§18.2.1).
	Preference uint8

	Reservations []Reservation

	// Reconfigure is how this pool's clients are sent Reconfigure
	// messages.
	Reconfigure ReconfigureConfig
}

// Range is an inclusive IA_NA address range inside Subnet.
type Range struct {
	Start, End netip.Addr
}

// PrefixPool delegates prefixes of length Length carved from Prefix
// (e.g. /56 out of fd77:100::/40).
//
// MaxLength (0: Length) is the longest prefix a client may ask for with a
// prefix-length hint (RFC 8415 §18.3.1): a hint of length L with Length ≤
// L ≤ MaxLength gets an /L, the first /L of a free Length-sized slot (the
// slot is held whole); other hints get Length.
type PrefixPool struct {
	Prefix    netip.Prefix
	Length    int
	MaxLength int
}

// Reservation binds an address and/or a prefix to one client, matched by
// DUID.
type Reservation struct {
	DUID     []byte
	Addr     netip.Addr   // invalid: none
	Prefix   netip.Prefix // invalid: none
	Hostname string
	// Per-host options: a non-empty list replaces the pool's; raw options
	// replace the pool's of the same code.
	DNS          []netip.Addr
	DomainSearch []string
	NTP          []netip.Addr
	RawOptions   []RawOption
}

// RawOption is an option sent verbatim.
type RawOption struct {
	Code uint16
	Data []byte
}

// ReconfigureConfig is a pool's Reconfigure (RFC 8415 §18.3.11) policy.
type ReconfigureConfig struct {
	// RequireAccept: only clients that sent Reconfigure Accept (option 20)
	// get a reconfigure key, and only clients with a key can be sent a
	// Reconfigure (Junos support-option-check). Default true (the config
	// package sets it). When false a client without option 20 still gets
	// a key; RFC 8415 §18.2.11 says such a client discards Reconfigure, so
	// a campaign will count it no_response.
	RequireAccept bool
	// Disabled: never hand out keys nor send Reconfigure in this pool.
	Disabled bool
	// Strict refuses clients that cannot be reconfigured (Junos
	// support-option-check): a Solicit, Request, Renew or Rebind without
	// Reconfigure Accept (option 20, RFC 8415 §21.20) gets no Advertise or
	// Reply and is dropped with DropNoReconfigureAccept. No effect with
	// Disabled.
	Strict bool
}

// IAKind tells IA_NA from IA_PD.
type IAKind uint8

const (
	IANA IAKind = iota
	IAPD
)

// IA is one IA_NA or IA_PD of a request, with the addresses or prefixes
// the client listed in it (hints in Solicit/Request, its bindings in
// Renew/Rebind/Release/Decline/Confirm).
type IA struct {
	Kind     IAKind
	IAID     uint32
	T1, T2   uint32 // seconds, as the client sent them (hints)
	Addrs    []netip.Addr
	Prefixes []netip.Prefix
}

// Request is what the engine needs of a decoded client message. Slices may
// alias the packet buffer and are only valid during Handle (the engine
// copies what it keeps).
type Request struct {
	Type dhcpv6.MessageType
	XID  uint32
	// ClientID is the DUID (option 1); ServerID option 2, nil when absent.
	ClientID []byte
	ServerID []byte
	// ServerIDOurs: ServerID equals this server's DUID. With ServerID set
	// and not ours, the message is for another server: dropped.
	ServerIDOurs bool
	IAs          []IA
	RapidCommit  bool // option 14
	ReconfAccept bool // option 20
	// ReconfKey is a fresh random 16-byte key for the engine to hand out
	// if this exchange ends in a Reply that binds (see lease.Request's
	// ReconfKey for why randomness comes in with the request); nil when
	// the client sent no Reconfigure Accept (and the pool requires it) or
	// the message cannot bind.
	ReconfKey []byte
	// Hostname is the FQDN option's (39) name, when sent.
	Hostname []byte
	// DDNS is who updates the bindings' DNS records, from the FQDN option
	// (RFC 4704 §4.1; the server fills it); kept with each binding
	// (lease.Lease.DDNS).
	DDNS lease.DDNSMode
	// HType/HWAddr: client link-layer address (option 79 from the relay)
	// or, for a direct client, taken from a DUID-LL/LLT.
	HType  uint16
	HWAddr []byte

	// LinkAddr selects the pool: the innermost relay's link-address, or
	// for a direct client the served interface's global address (invalid
	// when it has none). Interface is the served interface's name for a
	// direct client, "" when relayed.
	LinkAddr  netip.Addr
	Interface string
	// InterfaceID is the innermost relay's Interface-ID (option 18), nil
	// when absent or not relayed.
	InterfaceID []byte
	// VendorClass and UserClass are the client's options 16 and 15 as
	// sent (nil when absent); RemoteID is the remote-id of a relay's
	// option 37 (RFC 4649), without the enterprise number; SubscriberID
	// is a relay's option 38 (RFC 4580). Client classes match on them.
	VendorClass  []byte
	UserClass    []byte
	RemoteID     []byte
	SubscriberID []byte
	// Ingress and IngressAddr are the served interface the packet arrived
	// on and its global address (also for relayed packets): when a relayed
	// request's link-address lies in no pool (a relay that puts its own or
	// the server's address there, or ::), the pool of the arrival
	// interface serves it, as Kea does.
	Ingress     string
	IngressAddr netip.Addr
	// Peer is where a later Reconfigure goes (stored as GIAddr): the
	// outermost relay's address, or the client's source address.
	Peer netip.Addr
	// ReturnPath is the server's opaque encoding of how to reach the
	// client again (relay chain, interface); stored as RelayInfo.
	ReturnPath []byte
	// Unicast: the message was sent to a unicast address of ours. Without
	// the Server Unicast option the server answers Request, Renew,
	// Release and Decline with UseMulticast (RFC 8415 §18.3.x) and drops
	// unicast Solicit, Rebind, Confirm, Information-request (§16).
	Unicast bool
	// ForceRebind: a campaign with force (the v4 ForceNAK) is moving this
	// client: a Renew or Rebind the engine would extend gets lifetime 0
	// for its current bindings instead, so the client solicits again
	// (and gets the new configuration) — set by the server from
	// reconf.Manager.ShouldNAK.
	ForceRebind bool

	// Scratch, when set, is where the Decision keeps Persist, its undo
	// log, the reply's IAs and bindings, Reply.Lease and their byte
	// slices, instead of new allocations (see Scratch); nil: allocated.
	Scratch *Scratch
}

// Scratch is storage a caller lends the engine for the decision about one
// request (Request.Scratch), so that an Advertise or a Reply allocates
// nothing the server throws away once the reply is sent (issue #15). A
// Decision made with a Scratch refers into it until the next Handle with
// the same Scratch: the caller reuses a Scratch only when the decision is
// finished — committed and answered, or reverted (Engine.Revert reads the
// undo log from it). leased's server keeps one in each packet buffer,
// which lives from the read to the reply anyway. A request with more IAs
// or bindings than fit, and bytes that do not fit, get allocations as
// without a Scratch.
type Scratch struct {
	persist  [scratchIAs * 2]lease.Lease // a binding per IA, and the freed records of IAs that move
	undo     [scratchIAs * 2]undoRec
	res      [scratchIAs]IAResult
	bindings [scratchIAs * 2]Binding
	reply    lease.Lease
	bytes    [scratchBytes]byte
}

const (
	scratchIAs   = 2   // an IA_NA and an IA_PD: the common request
	scratchBytes = 512 // DUIDs, return paths and keys of the records and the reply
)

// Binding is one address or prefix in a reply IA.
type Binding struct {
	// Addr for IA_NA; Prefix for IA_PD.
	Addr   netip.Addr
	Prefix netip.Prefix
	// Lifetimes; both 0 tells the client to stop using it (§18.3.4, .5).
	Preferred, Valid time.Duration
}

// IAResult is one IA of a reply.
type IAResult struct {
	Kind   IAKind
	IAID   uint32
	T1, T2 time.Duration
	// Status is an IA-level status code (dhcpv6.StatusNoAddrsAvail,
	// NoPrefixAvail, NoBinding, ...); HasStatus false means none is sent
	// (success is implied by bindings).
	Status    uint16
	HasStatus bool
	Message   string
	Bindings  []Binding
}

// Reply describes the message to send. The server encodes it: transaction
// id from the request, Client ID echoed, Server ID ours, options from Pool.
type Reply struct {
	Type dhcpv6.MessageType // Advertise, Reply or Reconfigure
	// RapidCommit: include option 14 (a Reply to a rapid-commit Solicit).
	RapidCommit bool
	// Top-level Status Code option; HasStatus false: none sent.
	Status    uint16
	HasStatus bool
	Message   string
	IAs       []IAResult
	// Pool supplies the configured options (DNS, search, ...); nil for a
	// Reply that carries only a status. For a client whose reservation
	// carries options it is a derived Pool named "<pool>#host<n>" with the
	// merged options; for a stateless Reply without a pool, the global
	// options as a Pool named "" (Config.DNS, ...).
	Pool *Pool
	// Lease is one binding after this exchange (for logging and
	// authentication; for a Reconfigure, the binding it is sent for).
	Lease *lease.Lease
	// ReconfKey: in a Reply, the reconfigure key to send (option 11,
	// protocol 3, algorithm 1, RDM 0, type 1) with Replay; in a
	// Reconfigure, the key to sign it with (type 2 HMAC-MD5, never sent).
	ReconfKey []byte
	Replay    uint64
	// ReconfAccept: include option 20 in the Reply (the server will send
	// this client Reconfigure messages).
	ReconfAccept bool
	// ReconfMsg is the Reconfigure Message option (19) value of a
	// Reconfigure: dhcpv6.Renew, dhcpv6.Rebind or
	// dhcpv6.InformationRequest.
	ReconfMsg dhcpv6.MessageType
	// FQDN is the value of the Client FQDN option 39 to send in an
	// Advertise or Reply (RFC 4704 §5: the server MUST include it when
	// the client sent one), nil for none. The server fills it (from its
	// per-packet buffer), not the engine.
	FQDN []byte
}

// Decision is the engine's answer to one request.
//
// The server MUST make every record in Persist durable before sending
// Reply; if that fails it must call Engine.Revert(d) and send nothing.
type Decision struct {
	Reply    Reply
	HasReply bool
	Persist  []lease.Lease
	// Drop names why no reply is sent ("" when HasReply); a metric label.
	Drop string
	// DryPools: when an IA got NoAddrsAvail / NoPrefixAvail on a shared
	// network, the link's pools that admit the client, in configuration
	// order — the pools a cluster server may claim space in to answer it
	// (DHCPv4's lease.Decision.DryPools); nil otherwise.
	DryPools []string

	// undo holds what Revert needs; the engine defines it.
	undo []undoRec
}
