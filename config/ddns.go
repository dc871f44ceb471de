package config

import (
	"encoding/base64"
	"net"
	"os"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// DDNS configures dynamic DNS: RFC 2136 updates signed with TSIG keep
// forward (A/AAAA) and reverse (PTR) records in step with leases, with
// the DHCID conflict resolution of RFC 4701/4703. Off without this
// section.
type DDNS struct {
	// Server is the primary authoritative DNS server, host:port.
	// Required.
	Server string `yaml:"server"`
	// ForwardZone is the zone the clients' names go in: a client
	// announcing host name "alpha" gets alpha.<forward_zone>. Required.
	ForwardZone string `yaml:"forward_zone"`
	// ReverseZoneV4 is the in-addr.arpa zone for PTR records of DHCPv4
	// addresses; unset: no PTR updates for DHCPv4.
	ReverseZoneV4 string `yaml:"reverse_zone_v4"`
	// ReverseZoneV6 is the ip6.arpa zone for PTR records of DHCPv6
	// addresses; unset: no PTR updates for DHCPv6.
	ReverseZoneV6 string `yaml:"reverse_zone_v6"`
	// TSIG is the key signing every update (RFC 8945). Recommended;
	// without it updates are unsigned.
	TSIG DDNSKey `yaml:"tsig"`
	// TTL of the records added, 1s to 1d. Default 300s.
	TTL Duration `yaml:"ttl"`
	// Queue is the most lease events waiting for DNS, 1 to 1000000;
	// more are dropped and counted. Default 4096.
	Queue int `yaml:"queue"`
	// Attempts per lease event before giving up, 1 to 20. Default 5.
	Attempts int `yaml:"attempts"`
	// RetryInterval is the wait before the first retry, doubling, 100ms
	// to 1h. Default 2s.
	RetryInterval Duration `yaml:"retry_interval"`
	// OverrideClientUpdate: a client whose FQDN option (DHCPv4 81, RFC
	// 4702; DHCPv6 39, RFC 4704) asks to update its own A/AAAA record
	// (S=0) is overridden: leased updates both and replies S=1, O=1.
	// Default false: leased then updates only the PTR for such a client.
	// A client's N bit (no update) is always honoured. The name is always
	// the first label of the client's name in forward_zone (a partial name
	// is qualified, a name in another zone is replaced), told to the
	// client in the reply's FQDN option.
	OverrideClientUpdate bool `yaml:"override_client_update"`
	// QualifySuffix is the domain the clients' names end in: a client's
	// label (the first label of its name, or a generated one) becomes
	// <label>.<qualify_suffix>. Default: forward_zone; it must be
	// forward_zone or a domain under it (the updates go to forward_zone).
	// Kea calls it ddns-qualifying-suffix.
	QualifySuffix string `yaml:"qualify_suffix"`
	// ReplaceClientName is when leased ignores the name a client sent and
	// generates one from the address (as Kea's ddns-replace-client-name):
	// never (default: the client's name; a client without one gets no
	// DNS names), always (every client gets a generated name),
	// when-present (a client that sent a name gets a generated one
	// instead; one without gets none), when-not-present (also spelt
	// when-absent: the client's name, a generated one for a client that
	// sent none). Unlike Kea, a client that sent no FQDN option nor
	// option 12 is a client without a name (Kea names only clients that
	// sent one of the options).
	ReplaceClientName string `yaml:"replace_client_name"`
	// GeneratedPrefix starts generated names: <prefix>-<address with '.'
	// and ':' written '-'>, e.g. myhost-192-0-2-10, myhost-2001-db8--5.
	// A DNS label of letters, digits and '-', at most 23 octets (so the
	// longest IPv6 name fits a label). Default myhost (as Kea's
	// ddns-generated-prefix).
	GeneratedPrefix string `yaml:"generated_prefix"`
}

// DDNSKey is a TSIG key.
type DDNSKey struct {
	// Name is the key's name as the DNS server knows it. Required with
	// a secret.
	Name string `yaml:"name"`
	// Algorithm: hmac-sha256 (default), hmac-sha384, hmac-sha512 or
	// hmac-sha1.
	Algorithm string `yaml:"algorithm"`
	// Secret is the key in base64 (as tsig-keygen prints it). One of
	// secret and secret_file.
	Secret string `yaml:"secret"`
	// SecretFile is a file holding the base64 secret.
	SecretFile string `yaml:"secret_file"`
}

// SecretValue returns the base64 secret (from secret_file when set).
func (k *DDNSKey) SecretValue() (string, error) {
	if k.SecretFile == "" {
		return k.Secret, nil
	}
	b, err := os.ReadFile(k.SecretFile)
	return strings.TrimSpace(string(b)), err
}

func (c *Config) applyDDNSDefaults() {
	d := c.DDNS
	if d == nil {
		return
	}
	if d.TSIG.Algorithm == "" {
		d.TSIG.Algorithm = "hmac-sha256"
	}
	if !c.has("ddns.qualify_suffix") {
		d.QualifySuffix = d.ForwardZone
	}
	if !c.has("ddns.replace_client_name") {
		d.ReplaceClientName = "never"
	}
	if !c.has("ddns.generated_prefix") {
		d.GeneratedPrefix = "myhost"
	}
	if !c.has("ddns.ttl") {
		d.TTL = Duration(300 * time.Second)
	}
	if !c.has("ddns.queue") {
		d.Queue = 4096
	}
	if !c.has("ddns.attempts") {
		d.Attempts = 5
	}
	if !c.has("ddns.retry_interval") {
		d.RetryInterval = Duration(2 * time.Second)
	}
}

func (v *validator) ddns(d *DDNS) {
	if d == nil {
		return
	}
	if _, port, err := net.SplitHostPort(d.Server); err != nil || port == "" {
		v.errorf("ddns.server", "%q: want host:port, e.g. 192.0.2.53:53", d.Server)
	}
	for _, z := range []struct{ key, name, suffix string }{
		{"ddns.forward_zone", d.ForwardZone, ""},
		{"ddns.reverse_zone_v4", d.ReverseZoneV4, ".in-addr.arpa."},
		{"ddns.reverse_zone_v6", d.ReverseZoneV6, ".ip6.arpa."},
	} {
		switch {
		case z.name == "" && z.key == "ddns.forward_zone":
			v.errorf(z.key, "required: the zone of the clients' names, e.g. lan.example.com")
		case z.name == "":
		case !isDomain(z.name):
			v.errorf(z.key, "%q is not a domain name", z.name)
		case z.suffix != "" && !strings.HasSuffix(dns.Fqdn(strings.ToLower(z.name)), z.suffix):
			v.errorf(z.key, "%q: want a zone under %s", z.name, strings.TrimSuffix(z.suffix[1:], "."))
		}
	}
	switch {
	case !v.c.has("ddns.qualify_suffix"):
	case !isDomain(d.QualifySuffix):
		v.errorf("ddns.qualify_suffix", "%q is not a domain name", d.QualifySuffix)
	case isDomain(d.ForwardZone) && !dns.IsSubDomain(dns.Fqdn(strings.ToLower(d.ForwardZone)), dns.Fqdn(strings.ToLower(d.QualifySuffix))):
		v.errorf("ddns.qualify_suffix", "%q is not in forward_zone %q: leased updates only that zone", d.QualifySuffix, d.ForwardZone)
	}
	switch d.ReplaceClientName {
	case "never", "always", "when-present", "when-not-present", "when-absent":
	default:
		v.errorf("ddns.replace_client_name", "%q: want never, always, when-present or when-not-present", d.ReplaceClientName)
	}
	if p := d.GeneratedPrefix; len(p) > 23 || !isLabel(p) {
		v.errorf("ddns.generated_prefix", "%q: want a DNS label of letters, digits and '-' (not first or last), at most 23 octets", p)
	}
	k := &d.TSIG
	switch k.Algorithm {
	case "hmac-sha256", "hmac-sha384", "hmac-sha512", "hmac-sha1":
	default:
		v.errorf("ddns.tsig.algorithm", "%q: want hmac-sha256, hmac-sha384, hmac-sha512 or hmac-sha1", k.Algorithm)
	}
	if k.Secret != "" && k.SecretFile != "" {
		v.errorf("ddns.tsig.secret", "give secret or secret_file, not both")
	}
	secret, err := k.SecretValue()
	switch {
	case err != nil:
		v.errorf("ddns.tsig.secret_file", "%v", err)
	case secret != "" && k.Name == "":
		v.errorf("ddns.tsig.name", "required with a secret: the key name the DNS server knows")
	case k.Name != "" && secret == "":
		v.errorf("ddns.tsig.secret", "required with a key name (base64, as tsig-keygen prints it)")
	case secret != "":
		if _, err := base64.StdEncoding.DecodeString(secret); err != nil {
			v.errorf("ddns.tsig.secret", "not base64: %v", err)
		}
	}
	if t := d.TTL.D(); t < time.Second || t > 24*time.Hour {
		v.errorf("ddns.ttl", "%v: want 1s to 24h (default 300s)", t)
	}
	if d.Queue < 1 || d.Queue > 1000000 {
		v.errorf("ddns.queue", "%d: want 1 to 1000000 (default 4096)", d.Queue)
	}
	if d.Attempts < 1 || d.Attempts > 20 {
		v.errorf("ddns.attempts", "%d: want 1 to 20 (default 5)", d.Attempts)
	}
	if r := d.RetryInterval.D(); r < 100*time.Millisecond || r > time.Hour {
		v.errorf("ddns.retry_interval", "%v: want 100ms to 1h (default 2s)", r)
	}
}

// isLabel reports whether s is a host name label (RFC 952, RFC 1123 §2.1):
// letters, digits and '-', not starting or ending with '-'.
func isLabel(s string) bool {
	if s == "" || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

func isDomain(s string) bool {
	_, ok := dns.IsDomainName(s)
	return ok && s != "." && s != ""
}
