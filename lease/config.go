package lease

import (
	"net/netip"
	"time"
)

// Config is everything the engine needs to decide. The config package
// builds it from YAML and validates it; the engine assumes it is valid
// (non-overlapping pools and sections, gateways inside their subnet).
type Config struct {
	// LeaseTime is the default lease duration (option 51).
	LeaseTime time.Duration
	// T1, T2 override the renewal (option 58) and rebinding (option 59)
	// times; zero means 50 % and 87.5 % of the lease (RFC 2131 §4.4.5).
	T1, T2 time.Duration
	// OfferHold is how long an offered address is reserved for the client
	// it was offered to, so two clients are never offered one address.
	OfferHold time.Duration
	// DeclineQuarantine is how long an address declined by a client
	// (DHCPDECLINE) is kept out of use.
	DeclineQuarantine time.Duration
	Pools             []Pool
	// Classes are the client classes in configuration order (at most
	// MaxClasses); see Class.
	Classes []Class
}

// Pool is a subnet with its options, address sections, reservations and
// exclusions.
type Pool struct {
	Name    string
	Subnet  netip.Prefix
	Gateway netip.Addr // option 3; invalid when none
	// Routers, when set, is the whole option 3 list (Gateway is then its
	// first element); every one inside Subnet is kept out of allocation.
	Routers []netip.Addr
	DNS     []netip.Addr
	// Further options sent in OFFER/ACK/INFORM.
	DomainName   string
	DomainSearch []string
	NTP          []netip.Addr
	MTU          uint16
	Routes       []Route // option 121 (RFC 3442)
	TFTPServer   string  // option 66
	BootFile     string  // option 67
	// RawOptions are sent as given (code, bytes), after the typed ones.
	RawOptions []RawOption

	LeaseTime time.Duration // zero: Config.LeaseTime
	T1, T2    time.Duration // zero: Config.T1/T2, else the ratios
	// Authoritative: NAK an INIT-REBOOT request for an address we know
	// nothing about on this subnet instead of staying silent (RFC 2131
	// §4.3.2 "server MUST remain silent" applies to non-authoritative).
	Authoritative bool

	// Relays lists extra giaddr values that select this pool besides any
	// giaddr inside Subnet.
	Relays []netip.Addr

	Sections     []Section
	Exclude      []netip.Addr
	Reservations []Reservation

	// ForceRenew selects how FORCERENEW (RFC 3203) messages to this
	// pool's clients, and the keys or tokens that make them believable,
	// are authenticated.
	ForceRenew ForceRenewAuth

	// Allow: only clients in one of these classes are served from this
	// pool (empty: everyone); Deny: clients in one of these are not.
	// "known" and "unknown" are built in (has a reservation here or not).
	Allow, Deny []string
	// Boot are the pool's BOOTP header boot fields (siaddr, sname, file).
	Boot Boot
	// BOOTP serves BOOTP clients (RFC 951: no message type option) from
	// this pool, with dynamic addresses (RFC 1534) bound for
	// BOOTPLeaseTime (0: infinite, RFC 2131 §4.3.1 0xffffffff).
	BOOTP          bool
	BOOTPLeaseTime time.Duration
	// SharedNetwork names the link this pool shares with the other pools
	// of the same name (several subnets on one wire): a client selected
	// into any of them may be served from any of them, in configuration
	// order, when the first is full or denies its classes.
	SharedNetwork string
}

// AuthMode is the authentication of FORCERENEW messages for a pool.
type AuthMode uint8

const (
	// AuthRFC6704 (the default): a client whose DHCPREQUEST lists
	// HMAC-MD5 in option 145 gets a reconfigure key in the DHCPACK
	// (RFC 6704 §3); a FORCERENEW is signed with it. Clients that never
	// received a key cannot be sent a FORCERENEW.
	AuthRFC6704 AuthMode = iota
	// AuthToken: RFC 3118 §4 configuration token in every OFFER, ACK and
	// FORCERENEW; every client of the pool counts as able to receive one.
	AuthToken
	// AuthNone: FORCERENEW without authentication (clients must be
	// configured to accept that, e.g. dhcpcd's noauthrequired). Insecure.
	AuthNone
)

var authModeNames = [...]string{"rfc6704", "token", "none"}

func (m AuthMode) String() string {
	if int(m) < len(authModeNames) {
		return authModeNames[m]
	}
	return "invalid"
}

// ForceRenewAuth is a pool's FORCERENEW authentication.
type ForceRenewAuth struct {
	Mode AuthMode
	// Token is the RFC 3118 configuration token (AuthToken only).
	Token []byte
	// Strict refuses clients that cannot be sent a FORCERENEW (Junos
	// support-option-check): a DISCOVER or REQUEST without HMAC-MD5 in
	// option 145 (RFC 6704 §3.3.1) gets no OFFER or ACK and is dropped
	// with DropNotReconfigurable. In AuthToken mode every client counts as
	// able (the token is configured on the clients), so Strict has no
	// effect there.
	Strict bool
}

// Section is a numbered address range inside a pool, as on Huawei VRP
// (`section 0 10.77.1.0 10.77.1.255`). Addresses are handed out from the
// sections of a pool in index order.
type Section struct {
	Index      int
	Start, End netip.Addr
	// Allow, Deny: as Pool.Allow/Deny, for the addresses of this section
	// (e.g. phones from section 1 only).
	Allow, Deny []string
}

// Reservation binds one address to one client, matched by client
// identifier (option 61), hardware address, or option 82 circuit-id or
// remote-id, in that order.
type Reservation struct {
	HWAddr   []byte
	ClientID []byte
	// CircuitID, RemoteID: option 82 sub-options 1 and 2 (RFC 3046) that
	// identify the client (access networks key on the port, not the MAC).
	CircuitID []byte
	RemoteID  []byte
	Addr      netip.Addr
	Hostname  string
	// Options beat the classes', the pool's and the global ones.
	Options []RawOption
	Boot    Boot
	// Classes the client is put in (besides those it matches).
	Classes []string
}

// Route is one classless static route (option 121).
type Route struct {
	Dest    netip.Prefix
	Gateway netip.Addr
}

// RawOption is an option sent verbatim.
type RawOption struct {
	Code uint8
	Data []byte
}

// Effective lease timing for a pool.
func (c *Config) Times(p *Pool) (lease, t1, t2 time.Duration) {
	lease = p.LeaseTime
	if lease == 0 {
		lease = c.LeaseTime
	}
	if lease == 0 {
		lease = time.Hour
	}
	t1, t2 = p.T1, p.T2
	if t1 == 0 {
		t1 = c.T1
	}
	if t2 == 0 {
		t2 = c.T2
	}
	if t1 == 0 || t1 >= lease {
		t1 = lease / 2
	}
	if t2 == 0 || t2 >= lease || t2 <= t1 {
		t2 = lease * 7 / 8
	}
	return lease, t1, t2
}
