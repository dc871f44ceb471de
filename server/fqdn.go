package server

// Client FQDN options (DHCPv4 option 81, RFC 4702; DHCPv6 option 39, RFC
// 4704) when dynamic DNS is on: the name the client proposes becomes the
// lease's host name (for the lease event hook), the client's S/O/N flags
// decide which records the server updates (lease.Lease.DDNS), and the
// reply carries the option back with the server's flags and the name it
// will use. All of it runs in per-packet buffers: no allocation.

import (
	"net/netip"

	"github.com/leased/leased/dhcpv4"
	"github.com/leased/leased/dhcpv6"
	"github.com/leased/leased/lease"
	"github.com/leased/leased/lease6"
)

// FQDNPolicy is how the server answers client FQDN options. Without one
// (SetFQDNPolicy(nil), dynamic DNS off) the options are ignored and not
// echoed.
type FQDNPolicy struct {
	// Zone is the suffix of every name (no trailing dot): the forward zone
	// or a domain under it. The server names a client <label>.<Zone>,
	// label being the first label of its name: a partial name is
	// qualified with Zone, and a fully qualified name elsewhere is
	// replaced by its first label in Zone (RFC 4702 §4 lets the server
	// choose the name; the reply tells the client which one it uses).
	Zone string
	// OverrideClientUpdate: a client asking to update its A/AAAA record
	// itself (S=0) is overridden; the server updates both and replies
	// S=1, O=1 (RFC 4702 §4, RFC 4704 §5).
	OverrideClientUpdate bool
	// Replace is when the server replaces the client's label by a
	// generated one, <Prefix>-<address with '.' and ':' as '-'> (as
	// ddns.Config.ReplaceClientName): "never" or "" (a client without a
	// name gets none), "always", "when-present" (only a client that sent
	// a name; one without gets none), "when-not-present" (only a client
	// without a name gets one generated).
	Replace string
	// Prefix of generated labels (a DNS label; "myhost" when empty).
	Prefix string
}

// SetFQDNPolicy installs p (nil: ignore the client FQDN options).
func (s *Server) SetFQDNPolicy(p *FQDNPolicy) { s.fqdnPolicy.Store(p) }

// fqdnState is the per-packet FQDN state (in inPacket / inPacket6).
type fqdnState struct {
	pol  *FQDNPolicy    // the policy the option was read with
	sent bool           // the client sent a well-formed FQDN option and a policy is set
	wire bool           // reply in wire format (RFC 4702 §2.3: as the client did)
	mode lease.DDNSMode // what the server updates
	host [255]byte      // the client's name as dotted text (req.Hostname points here)
	opt  [1 + 2 + 255]byte
	n    int // length of the reply option's flags (and RCODEs) in opt
}

// fqdnFlags are the positions of S, O and N in a family's flags byte
// (RFC 4702 §2.1: N=8 O=2 S=1; RFC 4704 §4.1: N=4 O=2 S=1).
type fqdnFlags struct{ s, o, n uint8 }

var (
	fqdnFlags4 = fqdnFlags{dhcpv4.FQDNFlagS, dhcpv4.FQDNFlagO, dhcpv4.FQDNFlagN}
	fqdnFlags6 = fqdnFlags{dhcpv6.FQDNFlagS, dhcpv6.FQDNFlagO, dhcpv6.FQDNFlagN}
)

// fqdnDecide returns the flags of the reply (S, O, N only) and who
// updates, for the client's flags (RFC 4702 §3.1 and §4, RFC 4704 §4.1
// and §5).
func fqdnDecide(f fqdnFlags, client uint8, override bool) (uint8, lease.DDNSMode) {
	switch {
	case client&f.n != 0:
		// N=1: the server SHOULD NOT perform any update; it replies N=1
		// and S=0 (S and N are never both 1, §2.1).
		return f.n, lease.DDNSNone
	case client&f.s == 0 && override:
		// The server overrides the client's S=0: S=1 and O=1.
		return f.s | f.o, lease.DDNSBoth
	case client&f.s == 0:
		// The client updates its A/AAAA record; the server the PTR.
		return 0, lease.DDNSPTROnly
	default:
		return f.s, lease.DDNSBoth
	}
}

// hostLabel appends to dst the DNS label the server uses for host: its
// first label in lower case, letters, digits and '-' (as ddns.Label).
func hostLabel(dst, host []byte) []byte {
	start := len(dst)
	for _, c := range host {
		if c == '.' {
			break
		}
		switch {
		case c >= 'A' && c <= 'Z':
			dst = append(dst, c+'a'-'A')
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
			dst = append(dst, c)
		case c == '-' || c == '_' || c == ' ':
			dst = append(dst, '-')
		}
	}
	l := dst[start:]
	for len(l) > 0 && l[0] == '-' {
		l = l[1:]
	}
	if len(l) > 63 {
		l = l[:63]
	}
	for len(l) > 0 && l[len(l)-1] == '-' {
		l = l[:len(l)-1]
	}
	n := copy(dst[start:], l)
	return dst[:start+n]
}

// clientLabel appends to dst the label the server uses for a client whose
// name is host, bound to a (invalid: not known), under pol: its own
// label, a generated one, or nothing (ddns.Updater names DNS records
// with the same rule).
func clientLabel(dst, host []byte, a netip.Addr, pol *FQDNPolicy) []byte {
	start := len(dst)
	dst = hostLabel(dst, host)
	has := len(dst) > start
	var gen bool
	switch pol.Replace {
	case "always":
		gen = true
	case "when-present":
		gen = has
	case "when-not-present", "when-absent":
		gen = !has
	}
	if !gen {
		return dst
	}
	dst = dst[:start]
	if !a.IsValid() {
		return dst
	}
	prefix := pol.Prefix
	if prefix == "" {
		prefix = "myhost"
	}
	dst = append(dst, prefix...)
	dst = append(dst, '-')
	s := len(dst)
	dst = a.Unmap().WithZone("").AppendTo(dst)
	for i := s; i < len(dst); i++ {
		if dst[i] == '.' || dst[i] == ':' {
			dst[i] = '-'
		}
	}
	if len(dst)-start > 63 {
		dst = dst[:start+63] // config keeps the prefix short enough
	}
	return dst
}

// appendFQDNName appends label.zone to dst: as RFC 1035 wire labels with
// the terminating zero label when wire, else as text (RFC 4702 §2.3, the
// deprecated ASCII form). An empty label appends nothing.
func appendFQDNName(dst, label []byte, zone string, wire bool) []byte {
	if len(label) == 0 {
		return dst
	}
	if !wire {
		dst = append(dst, label...)
		if zone != "" {
			dst = append(dst, '.')
			dst = append(dst, zone...)
		}
		return dst
	}
	dst = append(dst, byte(len(label)))
	dst = append(dst, label...)
	for zone != "" {
		i := 0
		for i < len(zone) && zone[i] != '.' {
			i++
		}
		if i > 0 && i <= 63 {
			dst = append(dst, byte(i))
			dst = append(dst, zone[:i]...)
		}
		if i == len(zone) {
			break
		}
		zone = zone[i+1:]
	}
	return append(dst, 0)
}

// fqdnRequest4 reads option 81 of p's message, before the engine runs:
// its name (when not empty) becomes req.Hostname, and the reply option is
// prepared in p.fq.
func (s *Server) fqdnRequest4(p *inPacket) {
	p.fq.sent = false
	pol := s.fqdnPolicy.Load()
	if pol == nil {
		return
	}
	v, ok := p.msg.Option(dhcpv4.OptClientFQDN)
	if !ok {
		return
	}
	f, err := dhcpv4.ParseFQDN(v)
	if err != nil {
		return // malformed: as if absent
	}
	wire := f.Flags&dhcpv4.FQDNFlagE != 0
	var name []byte
	if wire {
		name = fqdnText(p.fq.host[:0], f.Name)
	} else {
		name = p.fq.host[:copy(p.fq.host[:], f.Name)]
	}
	for len(name) > 0 && name[len(name)-1] == '.' {
		name = name[:len(name)-1]
	}
	if len(name) > 0 {
		p.req.Hostname = name
	}
	flags, mode := fqdnDecide(fqdnFlags4, f.Flags, pol.OverrideClientUpdate)
	if wire {
		// RFC 4702 §2.3: the server uses the encoding the client used.
		flags |= dhcpv4.FQDNFlagE
	}
	// RFC 4702 §2.2: a server MUST set RCODE1 and RCODE2 to 255.
	o := append(p.fq.opt[:0], flags, 255, 255)
	p.fq.n, p.fq.mode, p.fq.wire, p.fq.sent, p.fq.pol = len(o), mode, wire, true, pol
	p.req.DDNS = mode // kept with the binding (lease.Lease.DDNS)
}

// fqdnReply4 completes the prepared option 81 with the name the server
// uses for the offered or bound address and puts it into d's OFFER or
// ACK. (The engine keeps who updates DNS with the binding: req.DDNS.)
func (*Server) fqdnReply4(p *inPacket, d *lease.Decision) {
	pol := p.fq.pol
	if !p.fq.sent || pol == nil {
		return
	}
	if d.HasReply && !d.Reply.BOOTP && (d.Reply.Type == dhcpv4.Offer || d.Reply.Type == dhcpv4.Ack) {
		var lab [63]byte
		o := appendFQDNName(p.fq.opt[:p.fq.n], clientLabel(lab[:0], p.req.Hostname, d.Reply.YIAddr, pol), pol.Zone, p.fq.wire)
		d.Reply.FQDN = o
	}
}

// fqdnRequest6 reads option 39 (its name is already req.Hostname, see
// fillRequest6) and prepares the reply option in p.fq.
func (s *Server) fqdnRequest6(p *inPacket6) {
	p.fq.sent = false
	pol := s.fqdnPolicy.Load()
	if pol == nil {
		return
	}
	f, ok := p.msg.FQDN()
	if !ok {
		return
	}
	flags, mode := fqdnDecide(fqdnFlags6, f.Flags, pol.OverrideClientUpdate)
	// RFC 4704 §4: the name is always in wire format.
	o := append(p.fq.opt[:0], flags)
	p.fq.n, p.fq.mode, p.fq.wire, p.fq.sent, p.fq.pol = len(o), mode, true, true, pol
	p.req.DDNS = mode // kept with the bindings (lease.Lease.DDNS)
}

// fqdnReply6 completes the prepared option 39 with the name the server
// uses (a generated one from the first IA_NA address of the reply) and
// puts it into d's Advertise or Reply.
func fqdnReply6(p *inPacket6, d *lease6.Decision) {
	pol := p.fq.pol
	if !p.fq.sent || pol == nil {
		return
	}
	if d.HasReply && (d.Reply.Type == dhcpv6.Advertise || d.Reply.Type == dhcpv6.Reply) {
		var a netip.Addr
		for i := range d.Reply.IAs {
			if ia := &d.Reply.IAs[i]; ia.Kind == lease6.IANA && len(ia.Bindings) > 0 && !a.IsValid() {
				a = ia.Bindings[0].Addr
			}
		}
		var lab [63]byte
		d.Reply.FQDN = appendFQDNName(p.fq.opt[:p.fq.n], clientLabel(lab[:0], p.req.Hostname, a, pol), pol.Zone, true)
	}
}
