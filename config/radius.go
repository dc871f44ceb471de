package config

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"
)

// DefaultRadiusWindow is the default radius.event_timestamp_window (RFC
// 5176 §3.4 suggests 300 s).
const DefaultRadiusWindow = Duration(300 * time.Second)

// Radius configures the RADIUS Dynamic Authorization Server (RFC 5176):
// Disconnect-Request and CoA-Request from the listed NAS clients (the AAA
// servers or proxies) delete or reconfigure DHCP bindings. Off without
// this section.
type Radius struct {
	// Listen is the UDP address to listen on, host:port. Default
	// ":3799" (RFC 5176 §3); 0 as the port picks a free one (tests).
	Listen string `yaml:"listen"`
	// Disconnect is what a Disconnect-Request does to the matching
	// bindings: delete (default; a still-valid address is quarantined
	// until its old expiry) or reconfigure (a FORCERENEW/Reconfigure with
	// a forced NAK, the binding deleted only if the client does not come
	// back, as Junos offers).
	Disconnect string `yaml:"disconnect"`
	// EventTimestampWindow is how far a request's Event-Timestamp may lie
	// from this server's clock, 1s to 24h. Default 300s.
	EventTimestampWindow Duration `yaml:"event_timestamp_window"`
	// RequireEventTimestamp discards requests without Event-Timestamp
	// (RFC 5176 §3.4 replay protection). Default true.
	RequireEventTimestamp *bool `yaml:"require_event_timestamp"`
	// NASIdentifier, when set, must equal the NAS-Identifier of a request
	// that carries one (else NAK, Error-Cause 403).
	NASIdentifier string `yaml:"nas_identifier"`
	// NASAddresses, when set, must hold the NAS-IP-Address or
	// NAS-IPv6-Address of a request that carries one (else NAK, Error-Cause
	// 403).
	NASAddresses []netip.Addr `yaml:"nas_addresses"`
	// Clients are the RADIUS clients allowed to send requests. Required,
	// non-empty.
	Clients []RadiusClient `yaml:"clients"`
}

// RadiusClient is one Dynamic Authorization Client.
type RadiusClient struct {
	// Name labels the client in logs. Required, unique.
	Name string `yaml:"name"`
	// Address is the source address (e.g. 192.0.2.10) or prefix (e.g.
	// 192.0.2.0/28) the client sends from. Required.
	Address string `yaml:"address"`
	// Secret is the shared secret (at least 16 characters are
	// recommended). Exactly one of secret and secret_file.
	Secret string `yaml:"secret"`
	// SecretFile is a file holding the shared secret (surrounding white
	// space removed), read at start and on reload.
	SecretFile string `yaml:"secret_file"`
}

// Prefix is the parsed Address (valid after Load).
func (r *RadiusClient) Prefix() netip.Prefix {
	if p, err := netip.ParsePrefix(r.Address); err == nil {
		return p.Masked()
	}
	if a, err := netip.ParseAddr(r.Address); err == nil {
		return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
	}
	return netip.Prefix{}
}

// SecretBytes returns the shared secret (from secret_file when set).
func (r *RadiusClient) SecretBytes() ([]byte, error) {
	if r.SecretFile == "" {
		return []byte(r.Secret), nil
	}
	b, err := os.ReadFile(r.SecretFile)
	if err != nil {
		return nil, err
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return nil, fmt.Errorf("%s is empty", r.SecretFile)
	}
	return []byte(s), nil
}

// EventTimestampRequired reports require_event_timestamp (default true).
func (r *Radius) EventTimestampRequired() bool {
	return r.RequireEventTimestamp == nil || *r.RequireEventTimestamp
}

func (c *Config) applyRadiusDefaults() {
	r := c.Radius
	if r == nil {
		return
	}
	if !c.has("radius.listen") {
		r.Listen = ":3799"
	}
	if !c.has("radius.disconnect") {
		r.Disconnect = "delete"
	}
	if !c.has("radius.event_timestamp_window") {
		r.EventTimestampWindow = DefaultRadiusWindow
	}
}

func (v *validator) radius(r *Radius) {
	if r == nil {
		return
	}
	if _, port, err := net.SplitHostPort(r.Listen); err != nil || port == "" {
		v.errorf("radius.listen", "%q: want host:port, e.g. :3799 or 192.0.2.53:3799", r.Listen)
	}
	switch r.Disconnect {
	case "delete", "reconfigure":
	default:
		v.errorf("radius.disconnect", "%q: want delete or reconfigure", r.Disconnect)
	}
	if d := r.EventTimestampWindow.D(); d < time.Second || d > 24*time.Hour {
		v.errorf("radius.event_timestamp_window", "%v: want 1s to 24h (default 300s)", d)
	}
	if len(r.Clients) == 0 {
		v.errorf("radius.clients", "required: at least one client with name, address and secret")
	}
	names := map[string]bool{}
	for i := range r.Clients {
		c := &r.Clients[i]
		f := fmt.Sprintf("radius.clients[%d]", i)
		switch {
		case c.Name == "":
			v.errorf(f+".name", "required")
		case names[c.Name]:
			v.errorf(f+".name", "%q is used by another client", c.Name)
		}
		names[c.Name] = true
		if !c.Prefix().IsValid() {
			v.errorf(f+".address", "%q: want an address (192.0.2.10) or a prefix (192.0.2.0/28)", c.Address)
		}
		switch {
		case (c.Secret == "") == (c.SecretFile == ""):
			v.errorf(f+".secret", "exactly one of secret and secret_file is required")
		case c.SecretFile != "":
			if _, err := c.SecretBytes(); err != nil {
				v.errorf(f+".secret_file", "%v", err)
			}
		}
	}
}
