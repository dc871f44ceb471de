package config

import (
	"net/netip"
	"time"
)

// DHCPv6 defaults applied when a key is absent.
const (
	DefaultPort6              = 547
	DefaultPreferredLifetime  = Duration(45 * time.Minute)
	DefaultValidLifetime      = Duration(time.Hour)
	DefaultReconfigureMessage = "renew"
)

// DHCPv6 configures the DHCPv6 service (RFC 8415). The section is optional:
// without it leased serves DHCPv4 only.
type DHCPv6 struct {
	// Interfaces are the network interfaces to serve on (leased joins
	// ff02::1:2 on each). Required, non-empty, e.g. [eth0].
	Interfaces []string `yaml:"interfaces"`
	// Port is the UDP port to listen on. Default 547; 0 picks a free port
	// (tests only).
	Port int `yaml:"port"`
	// PreferredLifetime is the default preferred lifetime of addresses and
	// delegated prefixes. Default 45m. At most valid_lifetime.
	PreferredLifetime Duration `yaml:"preferred_lifetime"`
	// ValidLifetime is the default valid lifetime of addresses and
	// delegated prefixes (the binding's end), at least 60s. Default 1h.
	ValidLifetime Duration `yaml:"valid_lifetime"`
	// T1 is the renew time of an IA. Default 50 % of the preferred
	// lifetime (RFC 8415 §21.4). At most t2.
	T1 Duration `yaml:"t1"`
	// T2 is the rebind time of an IA. Default 80 % of the preferred
	// lifetime. At most the preferred lifetime.
	T2 Duration `yaml:"t2"`
	// OfferHold is how long an address or prefix in an Advertise stays
	// kept for the client it was advertised to. Default 10s.
	OfferHold Duration `yaml:"offer_hold"`
	// DeclineQuarantine is how long an address a client declined (in use
	// by someone else) is kept out of use. Default 1h.
	DeclineQuarantine Duration `yaml:"decline_quarantine"`
	// RapidCommit is the default for pools that do not set it: answer a
	// Solicit with Rapid Commit (option 14) by a committed Reply (RFC 8415
	// §18.3.1). Default false.
	RapidCommit bool `yaml:"rapid_commit"`
	// DNS are the global DNS recursive name servers (option 23): sent by
	// pools that set no dns, and in the Reply to an Information-request
	// that matches no pool (stateless service, RFC 3736).
	DNS []netip.Addr `yaml:"dns"`
	// DomainSearch is the global domain search list (option 24),
	// inherited like dns.
	DomainSearch []string `yaml:"domain_search"`
	// NTP are the global NTP servers (option 56), inherited like dns.
	NTP []netip.Addr `yaml:"ntp"`
	// Options are global options sent verbatim, inherited by every pool;
	// a pool's option of the same code replaces the global one.
	Options []Option6 `yaml:"options"`
	// ClientClasses are the client classes, tested in file order (at most
	// 64), in the shape of dhcpv4.client_classes.
	ClientClasses []Class6 `yaml:"client_classes"`
	// Pools are the links served. Subnets, ranges and delegated prefixes
	// of all pools must not overlap; pool names are unique across dhcpv4
	// and dhcpv6.
	Pools []Pool6 `yaml:"pools"`
	// Reconfigure holds the global Reconfigure campaign defaults of every
	// pool: a pool's reconfigure settings beat them, and an option given
	// with the campaign command beats both.
	Reconfigure ReconfigureDefaults `yaml:"reconfigure"`
}

// Pool6 is one link: its on-link prefix, IA_NA address ranges, an IA_PD
// prefix-delegation pool, options and reservations.
type Pool6 struct {
	// Name identifies the pool in the API, metrics, leases and campaigns.
	// Required, unique across dhcpv4 and dhcpv6 pools.
	Name string `yaml:"name"`
	// Subnet is the link's on-link IPv6 prefix, e.g. fd77::/64. Required.
	// A relayed request selects the pool whose subnet holds the relay's
	// link-address; a direct one the pool whose subnet holds a global
	// address of the interface it arrived on (or interface, below).
	Subnet netip.Prefix `yaml:"subnet"`
	// Links are further relay link-addresses, outside subnet, that select
	// this pool.
	Links []netip.Addr `yaml:"links"`
	// Interface selects this pool for clients that arrive directly (not
	// relayed) on that interface, which must be one of
	// dhcpv6.interfaces; needed when the interface has no global address
	// in subnet.
	Interface string `yaml:"interface"`
	// InterfaceID selects this pool for relayed requests whose innermost
	// relay sent this Interface-ID (option 18, as text, e.g. the relay's
	// port name "ge-0/0/7"); it is tried before the
	// link-address. Unique across pools.
	InterfaceID string `yaml:"interface_id"`
	// InterfaceIDHex is interface_id given as hex bytes, for relays that
	// send binary Interface-IDs (ISC dhcrelay -I sends the interface
	// index as a 4-byte host-order integer, e.g. "05:00:00:00" on x86).
	// At most one of interface_id and interface_id_hex.
	InterfaceIDHex HexBytes `yaml:"interface_id_hex"`
	// SharedNetwork puts the pool in the named shared network: several
	// prefixes on one link. A request that selects any of its pools is
	// served by the pool holding the client's reservation or binding,
	// else by the first (in file order) with room.
	SharedNetwork string `yaml:"shared_network"`
	// Allow: only clients in one of these classes are served by this
	// pool (default: everyone); known and unknown are built in (has a
	// reservation in this pool, or not).
	Allow []string `yaml:"allow"`
	// Deny: clients in one of these classes are not served by this pool;
	// deny beats allow.
	Deny []string `yaml:"deny"`
	// DNS are the DNS recursive name servers (option 23). Default: the
	// global dhcpv6.dns.
	DNS []netip.Addr `yaml:"dns"`
	// DomainSearch is the domain search list (option 24). Default: the
	// global dhcpv6.domain_search.
	DomainSearch []string `yaml:"domain_search"`
	// NTP are the NTP servers (option 56, server address sub-option).
	// Default: the global dhcpv6.ntp.
	NTP []netip.Addr `yaml:"ntp"`
	// Options are further options sent verbatim, after the global
	// dhcpv6.options whose codes they do not replace.
	Options []Option6 `yaml:"options"`
	// PreferredLifetime overrides dhcpv6.preferred_lifetime for this pool.
	PreferredLifetime Duration `yaml:"preferred_lifetime"`
	// ValidLifetime overrides dhcpv6.valid_lifetime for this pool.
	ValidLifetime Duration `yaml:"valid_lifetime"`
	// T1 overrides dhcpv6.t1 for this pool.
	T1 Duration `yaml:"t1"`
	// T2 overrides dhcpv6.t2 for this pool.
	T2 Duration `yaml:"t2"`
	// RapidCommit overrides dhcpv6.rapid_commit for this pool.
	RapidCommit *bool `yaml:"rapid_commit"`
	// Preference is the Preference option (7) in Advertise, 0 to 255;
	// 255 makes clients request at once (RFC 8415 §18.2.1). Default 0.
	Preference int `yaml:"preference"`
	// Ranges are the IA_NA address ranges handed out, inside subnet.
	Ranges []Range6 `yaml:"ranges"`
	// PrefixDelegation is the IA_PD pool: prefixes of length carved out
	// of prefix. Absent: no prefixes are delegated.
	PrefixDelegation *PrefixDelegation `yaml:"prefix_delegation"`
	// Reservations bind addresses and prefixes to clients by DUID.
	Reservations []Reservation6 `yaml:"reservations"`
	// Reconfigure sets how Reconfigure messages (RFC 8415 §18.3.11) reach
	// this pool's clients, and the pool's campaign defaults.
	Reconfigure Reconfigure6 `yaml:"reconfigure"`
}

// Option6 is a DHCPv6 option sent as given. Exactly one of hex, text, ip or
// ips gives its value.
type Option6 struct {
	// Code is the option code, 1 to 65535, not one leased sets itself.
	// Required.
	Code int `yaml:"code"`
	// Hex is the value as hex bytes, e.g. "00:01:0a".
	Hex HexBytes `yaml:"hex"`
	// Text is the value as a string.
	Text *string `yaml:"text"`
	// IP is the value as one IPv6 address (16 bytes).
	IP netip.Addr `yaml:"ip"`
	// IPs is the value as a list of IPv6 addresses.
	IPs []netip.Addr `yaml:"ips"`
}

// Range6 is an inclusive IA_NA address range.
type Range6 struct {
	// Start is the first address, inside subnet. Required.
	Start netip.Addr `yaml:"start"`
	// End is the last address, inside subnet, not before start. Required.
	End netip.Addr `yaml:"end"`
}

// PrefixDelegation is an IA_PD pool (RFC 8415 §6.3).
type PrefixDelegation struct {
	// Prefix is the prefix delegated prefixes are carved from, e.g.
	// fd77:100::/40. Required.
	Prefix netip.Prefix `yaml:"prefix"`
	// Length is the length of each delegated prefix, longer than prefix's
	// and at most 128, at most 64 bits more than prefix's, e.g. 56.
	// Required.
	Length int `yaml:"length"`
	// MaxLength is the longest prefix a client may ask for with a
	// prefix-length hint in its IA_PD (RFC 8415 §18.3.1, e.g. dhcpcd's
	// "ia_pd 1/::/60"): a hint between length and max_length is honoured
	// (the first prefix of that length in a free length-sized slot, which
	// is then used whole); other hints get length. Default 64 (length when
	// that is longer); at most 128.
	MaxLength int `yaml:"max_length"`
}

// Reservation6 binds an address and/or a delegated prefix to one client.
type Reservation6 struct {
	// DUID is the client's DUID (option 1) in hex, e.g.
	// "00:03:00:01:52:54:00:12:34:56". Required.
	DUID HexBytes `yaml:"duid"`
	// Address is the reserved IA_NA address, inside subnet. One of address
	// and prefix is required.
	Address netip.Addr `yaml:"address"`
	// Prefix is the reserved delegated prefix, inside
	// prefix_delegation.prefix, of prefix_delegation.length.
	Prefix netip.Prefix `yaml:"prefix"`
	// Hostname names the client in leases and the API.
	Hostname string `yaml:"hostname"`
	// DNS replaces the pool's dns for this client.
	DNS []netip.Addr `yaml:"dns"`
	// DomainSearch replaces the pool's domain_search for this client.
	DomainSearch []string `yaml:"domain_search"`
	// NTP replaces the pool's ntp for this client.
	NTP []netip.Addr `yaml:"ntp"`
	// Options are this client's options sent verbatim; they replace the
	// pool's (and global) options of the same code.
	Options []Option6 `yaml:"options"`
}

// Reconfigure6 is a pool's Reconfigure policy and campaign defaults.
type Reconfigure6 struct {
	// RequireReconfigureAccept: only clients that sent Reconfigure Accept
	// (option 20) get a reconfigure key (RFC 8415 §20.4) and can be sent a
	// Reconfigure; others are reported not capable (Junos
	// support-option-check). Default true.
	RequireReconfigureAccept *bool `yaml:"require_reconfigure_accept"`
	// Disabled: hand out no reconfigure keys and send no Reconfigure in
	// this pool. Default false.
	Disabled bool `yaml:"disabled"`
	// Strict serves only clients that can be reconfigured (Junos
	// support-option-check): a Solicit, Request, Renew or Rebind without
	// Reconfigure Accept (option 20) gets no Advertise or Reply. Not
	// allowed with disabled or require_reconfigure_accept: false. Default
	// false.
	Strict bool `yaml:"strict"`

	// Campaign defaults for this pool's clients: they beat the global
	// dhcpv6.reconfigure defaults and the built-in ones (8 attempts, 2s
	// doubling, 1000/s, restore); an option given with the campaign
	// command beats them. "Unset" below: the global default applies.

	// Attempts is the number of Reconfigure messages per client, 1 to 20
	// (0: the global default, 8 = RFC 8415 REC_MAX_RC).
	Attempts int `yaml:"attempts"`
	// Interval is the wait after the first Reconfigure, doubling after
	// each, 1ms to 1h (0: the global default, 2s = REC_TIMEOUT).
	Interval Duration `yaml:"interval"`
	// Pace is the maximum Reconfigure messages per second to this pool,
	// 0 to 100000 (0: unlimited); unset: the global default.
	Pace *int `yaml:"pace"`
	// OnFailure is applied to a client that never answers: restore,
	// delete or recycle; unset: the global default.
	OnFailure string `yaml:"on_failure"`
	// Force answers every returning client's Renew or Rebind with
	// lifetime 0 so that it solicits again (the v6 form of force_nak);
	// unset: the global default.
	Force *bool `yaml:"force"`
	// OnChange starts a campaign when a reload (SIGHUP) changes this
	// pool's options (all its bound leases) or ranges and prefixes (the
	// leases no longer servable). Default false.
	OnChange bool `yaml:"on_change"`
	// Message is what the Reconfigure asks the client to do (option 19):
	// renew, rebind or information-request. A reconf_msg (--message)
	// given with the campaign command beats it (CampaignOverride); unset:
	// the global default (renew by default).
	Message string `yaml:"message"`
}

// HasDHCPv6 reports whether the file has a dhcpv6 section.
func (c *Config) HasDHCPv6() bool { return c.DHCPv6 != nil }

func (c *Config) applyDefaults6() {
	v6 := c.DHCPv6
	if v6 == nil {
		return
	}
	if !c.has("dhcpv6.port") {
		v6.Port = DefaultPort6
	}
	if !c.has("dhcpv6.preferred_lifetime") {
		v6.PreferredLifetime = DefaultPreferredLifetime
		// A valid lifetime set below the default preferred one lowers the
		// preferred lifetime with it rather than failing.
		if c.has("dhcpv6.valid_lifetime") && v6.ValidLifetime < v6.PreferredLifetime {
			v6.PreferredLifetime = v6.ValidLifetime
		}
	}
	if !c.has("dhcpv6.valid_lifetime") {
		v6.ValidLifetime = max(DefaultValidLifetime, v6.PreferredLifetime)
	}
	if !c.has("dhcpv6.offer_hold") {
		v6.OfferHold = DefaultOfferHold
	}
	if !c.has("dhcpv6.decline_quarantine") {
		v6.DeclineQuarantine = DefaultDeclineQuarantine
	}
}
