// Package config is leased's configuration: the YAML schema, strict
// decoding and validation. Errors name the file, line and field and say what
// would be valid; every problem in a file is reported, not just the first.
//
// The comments on the struct fields below are the reference documentation
// (docs/config.md repeats them for operators; a test keeps the two in step).
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"time"

	yaml "go.yaml.in/yaml/v4"
)

// Defaults applied when a key is absent.
const (
	DefaultDataDir           = "/var/lib/leased"
	DefaultLogLevel          = "info"
	DefaultSocket            = "/run/leased/control.sock"
	DefaultSocketMode        = FileMode(0o600)
	DefaultCompactEvery      = 100000
	DefaultPort              = 67
	DefaultLeaseTime         = Duration(time.Hour)
	DefaultOfferHold         = Duration(10 * time.Second)
	DefaultDeclineQuarantine = Duration(time.Hour)
)

// maxFileSize bounds what Load reads; a real configuration is a few KiB.
const maxFileSize = 16 << 20

// Config is the whole configuration file.
type Config struct {
	// DataDir is the directory holding the lease store (write-ahead log and
	// snapshots). Default /var/lib/leased.
	DataDir string `yaml:"data_dir"`
	// LogLevel is the minimum level logged: debug, info, warn or error.
	// Default info. At debug every DHCP decision is logged.
	LogLevel string `yaml:"log_level"`
	// ServerName names this server among the leased servers sharing one
	// PostgreSQL database (store.postgres): unique among them, registered
	// in the database's servers table at start. Letters, digits, '.', '-'
	// and '_', at most 253 characters. Default: the host name.
	ServerName string `yaml:"server_name"`
	// Control configures the control API (leasectl, metrics).
	Control Control `yaml:"control"`
	// Store configures the lease store.
	Store Store `yaml:"store"`
	// DHCPv4 configures the DHCPv4 service. Optional when the file has a
	// dhcpv6 section (DHCPv6 only; see HasDHCPv4); at least one of the two
	// is required.
	DHCPv4 DHCPv4 `yaml:"dhcpv4"`
	// DHCPv6 configures the DHCPv6 service. Optional: nil when the file
	// has no dhcpv6 section (DHCPv4 only).
	DHCPv6 *DHCPv6 `yaml:"dhcpv6"`
	// Campaigns sets how long finished reconfiguration campaigns are
	// remembered (both families).
	Campaigns Campaigns `yaml:"campaigns"`
	// Radius configures the RADIUS Dynamic Authorization Server (RFC
	// 5176). Optional: off without this section.
	Radius *Radius `yaml:"radius"`
	// LeaseQuery configures leasequery (RFC 4388, RFC 6926). Optional:
	// off without this section.
	LeaseQuery *LeaseQuery `yaml:"leasequery"`
	// DDNS configures dynamic DNS updates (RFC 2136, RFC 4703).
	// Optional: off without this section.
	DDNS *DDNS `yaml:"ddns"`
	// Cluster configures several servers sharing one PostgreSQL database
	// (issue #12). Optional: a single server without this section.
	Cluster *Cluster `yaml:"cluster"`

	file  string         // name given to Parse, for messages
	lines map[string]int // field path -> line, for every key present
}

// Control is the control API: HTTP/JSON on a unix socket, optionally also on
// TCP with a bearer token.
type Control struct {
	// Socket is the path of the unix socket of the control API.
	// Default /run/leased/control.sock.
	Socket string `yaml:"socket"`
	// SocketMode is the permission mode of the socket, in octal.
	// Default "0600" (only the owner may use the API).
	SocketMode FileMode `yaml:"socket_mode"`
	// HTTP is an optional TCP listen address (host:port) for the same API
	// and /metrics, e.g. 127.0.0.1:8067. Requires token_file.
	HTTP string `yaml:"http"`
	// TokenFile is the file holding the bearer token clients of the TCP
	// listener must present. Required when http is set. This admin token
	// reaches the whole API (it can delete leases and start campaigns)
	// and /metrics.
	TokenFile string `yaml:"token_file"`
	// MetricsTokenFile is an optional file holding a second, scrape-only
	// token for the TCP listener: it reaches GET /metrics and nothing else
	// (403). Give it to Prometheus instead of the admin token. It must
	// differ from the admin token. Only with http.
	MetricsTokenFile string `yaml:"metrics_token_file"`
}

// Store configures the lease store.
type Store struct {
	// Fsync makes every lease durable (fsync) before the reply is sent.
	// Default true. Set false only for benchmarks: a crash then loses
	// leases the clients believe they hold.
	Fsync *bool `yaml:"fsync"`
	// CompactEvery is the number of log records written between snapshots.
	// Default 100000.
	CompactEvery int `yaml:"compact_every"`
	// AllowDataLoss lets leased start when store files are damaged (a bad
	// record or header that a crash cannot produce) or missing from the
	// chain newest snapshot → first segment → … → last segment (deleted,
	// emptied, or left out of a restored backup), losing the leases they
	// held, instead of refusing to start. Each loss is logged at error
	// level, what was recovered becomes a new snapshot and the old files
	// are kept as *.lost, so remove the key again after that one start.
	// Default false; a torn tail (a write cut short by a crash) is always
	// truncated without it.
	AllowDataLoss bool `yaml:"allow_data_loss"`
	// AllowCorruptMiddle is the former name of allow_data_loss and does the
	// same. Deprecated: use allow_data_loss (leased warns).
	AllowCorruptMiddle bool `yaml:"allow_corrupt_middle"`
	// Postgres selects PostgreSQL as the lease store instead of the
	// embedded log in data_dir (leave data_dir out then).
	Postgres StorePostgres `yaml:"postgres"`
}

// StorePostgres configures the PostgreSQL lease store.
type StorePostgres struct {
	// DSN is the libpq connection string (keyword=value or a postgres://
	// URL), e.g. "host=db1,db2 dbname=leased user=leased
	// target_session_attrs=read-write". Set: leases are stored in
	// PostgreSQL; empty (default): in the embedded log.
	DSN string `yaml:"dsn"`
	// ConnectTimeout bounds one connection attempt to one host of the
	// DSN (a connect_timeout in the DSN wins), 1s to 5m. Default 5s: a
	// host that does not answer (down, unreachable, behind a firewall
	// dropping packets) costs a few seconds per attempt, not the
	// operating system's TCP timeout.
	ConnectTimeout Duration `yaml:"connect_timeout"`
	// CommitTimeout bounds one batch transaction; past it the batch fails
	// and no reply goes to its clients (they retransmit), 1s to 5m.
	// Default 10s.
	CommitTimeout Duration `yaml:"commit_timeout"`
}

// UsesPostgres reports whether store.postgres.dsn selects PostgreSQL.
func (s Store) UsesPostgres() bool { return s.Postgres.DSN != "" }

// DataLossAllowed reports whether store.allow_data_loss (or its deprecated
// alias store.allow_corrupt_middle) is set.
func (s Store) DataLossAllowed() bool { return s.AllowDataLoss || s.AllowCorruptMiddle }

// FsyncEnabled reports whether the store must fsync (the default).
func (s Store) FsyncEnabled() bool { return s.Fsync == nil || *s.Fsync }

// DHCPv4 configures the DHCPv4 service.
type DHCPv4 struct {
	// Interfaces are the network interfaces to serve on. Required,
	// non-empty, e.g. [eth0].
	Interfaces []string `yaml:"interfaces"`
	// Port is the UDP port to listen on. Default 67; 0 picks a free port
	// (tests only).
	Port int `yaml:"port"`
	// LeaseTime is the default lease duration (option 51), at least 2s
	// (below 60s leased warns: clients renew every few seconds). Default
	// 1h.
	LeaseTime Duration `yaml:"lease_time"`
	// T1 is the renewal time (option 58). Default 50 % of the lease time.
	// Must be less than t2.
	T1 Duration `yaml:"t1"`
	// T2 is the rebinding time (option 59). Default 87.5 % of the lease
	// time. Must be less than the lease time.
	T2 Duration `yaml:"t2"`
	// OfferHold is how long an offered address stays reserved for the
	// client it was offered to. Default 10s.
	OfferHold Duration `yaml:"offer_hold"`
	// DeclineQuarantine is how long an address a client declined
	// (DHCPDECLINE: in use by someone else) is kept out of use. Default 1h.
	DeclineQuarantine Duration `yaml:"decline_quarantine"`
	// ForceRenewResume: after a restart, resume reconfiguration campaigns
	// that were running (true, default) or mark them halted with their
	// pending clients aborted (false).
	ForceRenewResume *bool `yaml:"forcerenew_resume"`
	// ForceRenew holds the global FORCERENEW campaign defaults of every
	// pool: a pool's forcerenew settings beat them, and an option given
	// with the campaign command beats both.
	ForceRenew ForceRenewDefaults `yaml:"forcerenew"`
	// Authoritative is the default for pools that do not set it: NAK
	// requests for addresses unknown on the subnet instead of staying
	// silent. Default false.
	Authoritative bool `yaml:"authoritative"`
	// Pools are the subnets served. Subnets must not overlap.
	Pools []Pool `yaml:"pools"`
	// Options are global options every pool inherits; a pool's own key
	// or option with the same code beats them.
	Options []Option `yaml:"options"`
	// ClientClasses are named client classes (Kea's client-classes): a
	// match rule on what the client sends, and the options, lease time
	// and boot fields members get; pools admit or refuse classes with
	// allow and deny. Evaluated in this order, at most 62.
	ClientClasses []ClientClass `yaml:"client_classes"`
}

// Pool is one subnet with its options, address sections, exclusions and
// reservations.
type Pool struct {
	// Name identifies the pool in the API, metrics and leases. Required,
	// unique.
	Name string `yaml:"name"`
	// Subnet is the IPv4 network, e.g. 10.77.0.0/16. Required; gives the
	// subnet mask (option 1).
	Subnet netip.Prefix `yaml:"subnet"`
	// Gateway is the default router (option 3), inside subnet.
	Gateway netip.Addr `yaml:"gateway"`
	// Routers are the routers (option 3) in order of preference, when
	// there are several; instead of gateway.
	Routers []netip.Addr `yaml:"routers"`
	// DNS are the DNS servers (option 6).
	DNS []netip.Addr `yaml:"dns"`
	// DomainName is the domain name (option 15).
	DomainName string `yaml:"domain_name"`
	// DomainSearch is the DNS search list (option 119).
	DomainSearch []string `yaml:"domain_search"`
	// NTP are the NTP servers (option 42).
	NTP []netip.Addr `yaml:"ntp"`
	// MTU is the interface MTU (option 26), 68 to 65535.
	MTU int `yaml:"mtu"`
	// Routes are classless static routes (option 121). Clients that get
	// them ignore gateway (RFC 3442), so add 0.0.0.0/0 here if you need a
	// default route.
	Routes []Route `yaml:"routes"`
	// TFTPServer is the TFTP server name (option 66).
	TFTPServer string `yaml:"tftp_server"`
	// BootFile is the boot file name (option 67).
	BootFile string `yaml:"boot_file"`
	// Options are further options sent verbatim.
	Options []Option `yaml:"options"`
	// LeaseTime overrides dhcpv4.lease_time for this pool.
	LeaseTime Duration `yaml:"lease_time"`
	// T1 overrides dhcpv4.t1 for this pool.
	T1 Duration `yaml:"t1"`
	// T2 overrides dhcpv4.t2 for this pool.
	T2 Duration `yaml:"t2"`
	// Authoritative overrides dhcpv4.authoritative for this pool.
	Authoritative *bool `yaml:"authoritative"`
	// Relays are relay agent addresses (giaddr) outside subnet whose
	// requests are served from this pool, e.g. a shared network where the
	// relay's address is in another subnet. A giaddr inside subnet selects
	// the pool without being listed.
	Relays []netip.Addr `yaml:"relays"`
	// Sections are the numbered address ranges handed out, in index order.
	Sections []Section `yaml:"sections"`
	// Exclude are addresses ("10.77.1.7") or ranges ("10.77.1.10-10.77.1.19")
	// never handed out, inside subnet.
	Exclude []AddrRange `yaml:"exclude"`
	// Reservations bind fixed addresses to clients.
	Reservations []Reservation `yaml:"reservations"`
	// ForceRenew sets how FORCERENEW messages (RFC 3203) to this pool's
	// clients are authenticated. Default: RFC 6704 reconfigure keys.
	ForceRenew ForceRenew `yaml:"forcerenew"`
	// Allow: only clients in one of these classes get addresses from
	// this pool (client_classes names, or known/unknown: with or without
	// a reservation here). Default: every client.
	Allow []string `yaml:"allow"`
	// Deny: clients in one of these classes get no address from this
	// pool, e.g. [unknown] to serve only reserved clients.
	Deny []string `yaml:"deny"`
	// Boot sets the BOOTP header boot fields of replies (PXE).
	Boot Boot `yaml:"boot"`
	// BOOTP serves BOOTP clients (RFC 951: no message type) with
	// addresses from this pool (RFC 1534 dynamic BOOTP). Default false.
	BOOTP bool `yaml:"bootp"`
	// BOOTPLeaseTime is how long a BOOTP client's address is kept (BOOTP
	// clients never renew). Default: infinite.
	BOOTPLeaseTime Duration `yaml:"bootp_lease_time"`
	// SharedNetwork names the link (wire) this pool shares with the
	// other pools of the same name: when the first is full or refuses the
	// client's classes, the next one (in file order) is used, and a
	// client's lease in any of them is honoured.
	SharedNetwork string `yaml:"shared_network"`
}

// ForceRenew is a pool's FORCERENEW authentication.
type ForceRenew struct {
	// Auth is rfc6704 (default: a client that announces support in option
	// 145, such as dhcpcd, gets a key in its DHCPACK and only such clients
	// can be sent a FORCERENEW), token (RFC 3118 configuration token in
	// every OFFER, ACK and FORCERENEW; the clients must be configured with
	// it) or none (unauthenticated; requires insecure: true).
	Auth string `yaml:"auth"`
	// Token is the RFC 3118 token for auth: token, 1 to 244 bytes. It
	// travels in clear: it only keeps apart inadvertently started servers.
	Token string `yaml:"token"`
	// Insecure must be true for auth: none, to say that anyone on the path
	// may make the clients renew. leased logs a warning at start.
	Insecure bool `yaml:"insecure"`
	// Strict serves only clients that can be sent a FORCERENEW (Junos
	// support-option-check): with auth rfc6704 a DISCOVER or REQUEST
	// without HMAC-MD5 in option 145 gets no OFFER or ACK. With auth token
	// every client counts as able; not allowed with auth none. Default
	// false.
	Strict bool `yaml:"strict"`

	// Campaign defaults for this pool's clients: they beat the global
	// dhcpv4.forcerenew defaults and the built-in ones (8 attempts, 2s
	// doubling, 1000/s, restore); an option given with the campaign
	// command beats them. "Unset" below: the global default applies.

	// Attempts is the number of FORCERENEW messages per client, 1 to 20
	// (0: the global default).
	Attempts int `yaml:"attempts"`
	// Interval is the wait after the first FORCERENEW, doubling after
	// each, 1ms to 1h (0: the global default).
	Interval Duration `yaml:"interval"`
	// Pace is the maximum FORCERENEW messages per second to this pool,
	// 0 to 100000 (0: unlimited); unset: the global default.
	Pace *int `yaml:"pace"`
	// OnFailure is applied to a client that never answers: restore
	// (lease unchanged), delete (binding removed) or recycle (address
	// returned to the pool, the client kept in its history); unset: the
	// campaign's value.
	OnFailure string `yaml:"on_failure"`
	// ForceNAK NAKs every returning client so that it re-DISCOVERs
	// (Junos behaviour); unset: the global default.
	ForceNAK *bool `yaml:"force_nak"`
	// OnChange starts a campaign when a reload (SIGHUP) changes this
	// pool's options (all its bound leases) or sections (the leases whose
	// address is no longer in a section). Default false.
	OnChange bool `yaml:"on_change"`
}

// Route is one classless static route.
type Route struct {
	// Dest is the destination network, e.g. 192.168.50.0/24. Required.
	Dest netip.Prefix `yaml:"dest"`
	// Gateway is the next hop. Required.
	Gateway netip.Addr `yaml:"gateway"`
}

// Option is a DHCP option: by name from the RFC 2132 / IANA registry
// (Kea's names, e.g. domain-name-servers) with a type-checked value, or by
// code sent as given. Exactly one of value, hex, text, ip, ips or
// suboptions gives its value.
type Option struct {
	// Name is the option's registry name (Kea's), e.g. routers,
	// domain-name-servers, ntp-servers, tftp-server-name, boot-file-name,
	// time-offset, interface-mtu; see docs/config.md for the table.
	Name string `yaml:"name"`
	// Value is a named option's value, checked against its type: an
	// IPv4 address, a comma-separated list of them, text, a number, true
	// or false, a domain name or a comma-separated list of them.
	Value OptionValue `yaml:"value"`
	// Code is the option code, 1 to 254, not one leased sets itself.
	// Required without name; with name it must be the name's code.
	Code int `yaml:"code"`
	// Hex is the value as hex bytes, e.g. "01:02:0a".
	Hex HexBytes `yaml:"hex"`
	// Text is the value as a string (sent without a terminating NUL).
	Text *string `yaml:"text"`
	// IP is the value as one IPv4 address.
	IP netip.Addr `yaml:"ip"`
	// IPs is the value as a list of IPv4 addresses.
	IPs []netip.Addr `yaml:"ips"`
	// Enterprise is the IANA enterprise number of vivco-suboptions (124)
	// and vivso-suboptions (125) (RFC 3925), e.g. 4491 for CableLabs.
	Enterprise int `yaml:"enterprise"`
	// Suboptions are the sub-options of vendor-encapsulated-options (43)
	// and vivso-suboptions (125), or the vendor class data items of
	// vivco-suboptions (124, code unused).
	Suboptions []SubOption `yaml:"suboptions"`
}

// Section is a numbered address range (as on Huawei VRP:
// `section 0 10.77.1.0 10.77.1.255`).
type Section struct {
	// Index numbers the section, 0 or more, unique in the pool. Required.
	Index int `yaml:"index"`
	// Start is the first address, inside subnet. Required.
	Start netip.Addr `yaml:"start"`
	// End is the last address, inside subnet, not before start. Required.
	End netip.Addr `yaml:"end"`
	// Allow: only clients in one of these classes get addresses of this
	// section (as the pool's allow). Default: every client.
	Allow []string `yaml:"allow"`
	// Deny: clients in one of these classes get no address of this
	// section.
	Deny []string `yaml:"deny"`
}

// Reservation binds one address to one client.
type Reservation struct {
	// HWAddr is the client's hardware address, e.g. 52:54:00:12:34:56.
	// One of hwaddr, client_id, circuit_id and remote_id is required.
	HWAddr HWAddr `yaml:"hwaddr"`
	// ClientID is the client identifier (option 61) in hex, e.g.
	// 01:52:54:00:12:34:56.
	ClientID HexBytes `yaml:"client_id"`
	// Address is the reserved address, inside subnet. Required.
	Address netip.Addr `yaml:"address"`
	// Hostname is sent to the client (option 12).
	Hostname string `yaml:"hostname"`
	// CircuitID identifies the client by option 82 circuit-id
	// (sub-option 1): text, or hex bytes written 0x0102...
	CircuitID BytesValue `yaml:"circuit_id"`
	// RemoteID identifies the client by option 82 remote-id (sub-option
	// 2): text, or hex bytes written 0x0102...
	RemoteID BytesValue `yaml:"remote_id"`
	// Options are sent to this client, beating the pool's, the global
	// and its classes' options with the same code.
	Options []Option `yaml:"options"`
	// Boot sets this client's BOOTP header boot fields.
	Boot Boot `yaml:"boot"`
	// ClientClasses puts the client in these classes (besides those it
	// matches).
	ClientClasses []string `yaml:"client_classes"`
}

// Load reads, decodes and validates the file at path. Errors are
// errors.Join of *Error values, one per problem.
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &Error{File: path, Msg: err.Error()}
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, &Error{File: path, Msg: err.Error()}
	}
	if len(data) > maxFileSize {
		return nil, &Error{File: path, Msg: fmt.Sprintf("file is larger than %d MiB; this is not a configuration file", maxFileSize>>20)}
	}
	return Parse(path, data)
}

// Parse decodes and validates data; name is used in error messages. Errors
// are errors.Join of *Error values, one per problem.
func Parse(name string, data []byte) (*Config, error) {
	root, err := parseNode(name, data)
	if err != nil {
		return nil, err
	}
	c := &Config{file: name}
	d := newDecoder(name, len(data))
	if root == nil {
		d.errorf(0, "", "the file is empty; it needs a dhcpv4 section (interfaces and pools), a dhcpv6 section, or both")
		return nil, d.err()
	}
	d.decode(root, "", c)
	c.lines = d.lines
	if d.fatal {
		return nil, d.err()
	}
	c.applyDefaults()
	c.validate(d)
	if err := d.err(); err != nil {
		return nil, err
	}
	return c, nil
}

// parseNode parses data into one document's root node (nil when the file
// holds no document).
func parseNode(name string, data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, yamlError(name, err)
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case err == nil:
		return nil, &Error{File: name, Line: extra.Line, Msg: "a second YAML document (---); the configuration is one document"}
	case !errors.Is(err, io.EOF):
		return nil, yamlError(name, err)
	}
	if doc.Kind == yaml.DocumentNode {
		if len(doc.Content) == 0 {
			return nil, nil
		}
		return doc.Content[0], nil
	}
	return &doc, nil
}

func yamlError(name string, err error) error {
	var le *yaml.LoadError
	if errors.As(err, &le) {
		return &Error{File: name, Line: le.Mark.Line, Msg: "YAML syntax: " + le.Message}
	}
	return &Error{File: name, Msg: "YAML syntax: " + err.Error()}
}

// Line returns the line of field (a path such as "dhcpv4.pools[0].gateway")
// in the file, or of its nearest enclosing key present, 0 when unknown.
func (c *Config) Line(field string) int { return lineOf(c.lines, field) }

// HasDHCPv4 reports whether the DHCPv4 service is configured. In a valid
// configuration the dhcpv4 section is present exactly when it lists
// interfaces (validation requires them); without it leased serves DHCPv6
// only and DHCPv4 holds defaults and no pools.
func (c *Config) HasDHCPv4() bool { return len(c.DHCPv4.Interfaces) > 0 }

// File is the name the configuration was parsed under.
func (c *Config) File() string { return c.file }

// SlogLevel is LogLevel as a slog.Level.
func (c *Config) SlogLevel() slog.Level {
	switch c.LogLevel {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}

func (c *Config) has(field string) bool {
	_, ok := c.lines[field]
	return ok
}

func (c *Config) applyDefaults() {
	if !c.has("data_dir") {
		c.DataDir = DefaultDataDir
	}
	if !c.has("log_level") {
		c.LogLevel = DefaultLogLevel
	}
	if !c.has("server_name") {
		if h, err := os.Hostname(); err == nil {
			c.ServerName = h
		}
	}
	if !c.has("control.socket") {
		c.Control.Socket = DefaultSocket
	}
	if !c.has("control.socket_mode") {
		c.Control.SocketMode = DefaultSocketMode
	}
	if c.Store.Fsync == nil {
		t := true
		c.Store.Fsync = &t
	}
	if !c.has("store.compact_every") {
		c.Store.CompactEvery = DefaultCompactEvery
	}
	v4 := &c.DHCPv4
	if !c.has("dhcpv4.port") {
		v4.Port = DefaultPort
	}
	if !c.has("dhcpv4.lease_time") {
		v4.LeaseTime = DefaultLeaseTime
	}
	if !c.has("dhcpv4.offer_hold") {
		v4.OfferHold = DefaultOfferHold
		if l := v4.LeaseTime.D(); l >= MinLeaseTime && l <= 2*DefaultOfferHold.D() {
			v4.OfferHold = Duration(l / 2) // short lab leases
		}
	}
	if !c.has("dhcpv4.decline_quarantine") {
		v4.DeclineQuarantine = DefaultDeclineQuarantine
	}
	c.applyDefaults6()
	c.applyCampaignDefaults()
	c.applyRadiusDefaults()
	c.applyLeaseQueryDefaults()
	c.applyDDNSDefaults()
	c.applyClusterDefaults()
}

// Warnings lists settings that are valid but risky, for the daemon to log
// at startup and reload.
func (c *Config) Warnings() []string {
	var w []string
	switch {
	case c.Store.UsesPostgres() && (!c.Store.FsyncEnabled() || c.Store.DataLossAllowed()):
		w = append(w, "store.fsync and store.allow_data_loss concern only the embedded log: with store.postgres every lease is committed (synchronous_commit on) before the reply")
	case !c.Store.FsyncEnabled():
		w = append(w, "store.fsync is false: leases are acknowledged before they are on disk; a crash loses leases clients hold (use only for benchmarks)")
	}
	if c.Store.AllowCorruptMiddle {
		w = append(w, "store.allow_corrupt_middle is deprecated: it is now store.allow_data_loss (same effect; it also covers missing store files)")
	}
	if c.Store.DataLossAllowed() && !c.Store.UsesPostgres() {
		w = append(w, "store.allow_data_loss is true: if store files are damaged or missing, leased starts without the leases in them instead of refusing; remove it after this start")
	}
	w = append(w, c.shortLeaseWarnings()...) // classes4.go
	for _, p := range c.DHCPv4.Pools {
		if p.ForceRenew.Auth == "none" {
			w = append(w, fmt.Sprintf("dhcpv4 pool %s: forcerenew.auth is none (insecure): anyone who can reach its clients can make them renew", p.Name))
		}
	}
	if host, _, err := net.SplitHostPort(c.Control.HTTP); err == nil {
		if a, perr := netip.ParseAddr(host); host == "" || (perr == nil && a.IsUnspecified()) {
			w = append(w, "control.http listens on all addresses: the control API is reachable from the network (token required)")
		}
	}
	return w
}
