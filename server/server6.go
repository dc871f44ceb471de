package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/leased/leased/api"
	"github.com/leased/leased/dhcpv6"
	"github.com/leased/leased/lease"
	"github.com/leased/leased/lease6"
)

// Engine6 is what the server needs of the DHCPv6 lease engine
// (*lease6.Engine): the request path and the admin calls.
type Engine6 interface {
	RequestEngine[lease6.Request, lease6.Decision]
	AdminEngine6
}

// AdminEngine6 is the rest of the DHCPv6 engine: configuration, expiry,
// queries, and the operator's and campaigns' binding changes.
// ReconfigureClient prepares a Reconfigure message (the replay value to
// persist) for SendReconfigure.
type AdminEngine6 interface {
	ApplyConfig(cfg lease6.Config) error
	Expire(now time.Time, max int) lease6.Decision
	Delete(now time.Time, addr netip.Addr) (lease6.Decision, error)
	Recycle(now time.Time, addr netip.Addr, key []byte) (lease6.Decision, error)
	ReconfigureClient(now time.Time, addr netip.Addr) (lease6.Decision, error)
	Lookup(addr netip.Addr) (lease.Lease, bool)
	All() iter.Seq[lease.Lease]
	Leases(f lease.Filter) []lease.Lease
	Pools(now time.Time) []lease.PoolStats
}

var (
	_ Engine6          = (*lease6.Engine)(nil)
	_ api.Reconfigurer = (*Server)(nil)
)

// V6Options configure the DHCPv6 service of a Server (Options.V6).
type V6Options struct {
	// Interfaces to serve, by name: the server joins ff02::1:2 and
	// ff05::1:3 on each and drops packets arriving on others.
	Interfaces []string
	// Port is the UDP port to listen on; 0 means 547, negative means any
	// free port (tests, leasebench; see Server.Port6). Relays are answered
	// on 547, or on their source port when their Relay-forward carries the
	// Relay Source Port option (RFC 8357), so a test relay needs no
	// privileged port.
	Port   int
	Engine Engine6
	// Config is the configuration Engine was created with (for Reload6
	// and campaign defaults).
	Config *lease6.Config
	// Readers is the number of goroutines reading the socket; 0 means one
	// per CPU the process can run on (sched_getaffinity, at most
	// GOMAXPROCS, at least 1): more readers than CPUs only pass the
	// socket's read lock to each other, a goroutine wake-up per datagram
	// (issue #15, docs/BENCHMARKS.md).
	Readers int
	// ReconfigureMessage is the Reconfigure Message option (19) sent to
	// each pool's clients, by pool name: dhcpv6.Renew, dhcpv6.Rebind or
	// dhcpv6.InformationRequest. Pools not in it get the engine's (Renew).
	ReconfigureMessage map[string]dhcpv6.MessageType
}

// iface6 is one served DHCPv6 interface.
type iface6 struct {
	name      string
	index     int
	global    netip.Addr // first global (or ULA) address: LinkAddr of direct clients
	linkLocal netip.Addr // source of Reconfigure messages to direct clients
	loopback  bool
}

// v6state is the DHCPv6 part of a Server.
type v6state struct {
	opts   V6Options
	eng    Engine6
	conn   *net.UDPConn
	port   int
	ifaces []*iface6
	duid   []byte

	m     *metrics6
	batch replySink // Advertise/Reply: the batcher on conn (sendmmsg), or a test's recorder
	l6    *lane6    // the DHCPv6 pipeline (pipeline.go)

	poolOpts *optionCache[lease6.Pool, poolOptions6] // pre-encoded option blocks
	cfgMu    sync.Mutex
	cfg      *lease6.Config
	msgs     map[string]dhcpv6.MessageType // under cfgMu
}

// serverGroups6 are the multicast groups a server listens on (RFC 8415
// §7.1): All_DHCP_Relay_Agents_and_Servers (ff02::1:2, clients and relays
// on the link) and All_DHCP_Servers (ff05::1:3, site scope, which relays
// may send to instead of a list of server addresses).
var serverGroups6 = [...]netip.Addr{dhcpv6.AllRelayAgentsAndServers, allDHCPServers}

// allDHCPServers is All_DHCP_Servers (RFC 8415 §7.1).
var allDHCPServers = netip.MustParseAddr("ff05::1:3")

// maxPacket6 is the largest DHCPv6 message read: relayed messages with
// several layers exceed the 1500 of DHCPv4.
const maxPacket6 = 4096

// inPacket6 is a received DHCPv6 packet and everything derived from it;
// slices in msg, req and path alias buf.
type inPacket6 struct {
	buf   [maxPacket6]byte
	oob   []byte
	n     int
	src   netip.AddrPort
	msg   dhcpv6.Message
	req   lease6.Request
	ifc   *iface6
	path  path6
	ias   [4]lease6.IA
	addrs [8]netip.Addr
	pfxs  [8]netip.Prefix
	rpath [512]byte
	host  [256]byte
	key   [reconfKeyLen]byte
	fq    fqdnState // option 39 (fqdn.go)
	// sc holds the engine's decision about req (req.Scratch): the packet
	// lives until that decision is answered or reverted (issue #15).
	sc lease6.Scratch
}

// sender6 holds one goroutine's encoding buffers.
type sender6 struct {
	w    dhcpv6.Writer
	out  []byte
	d    lease6.Decision
	wait *time.Timer
}

func newSender6() *sender6 {
	return &sender6{out: make([]byte, 0, maxPacket6)}
}

// initV6 resolves the v6 interfaces and opens the socket. The DUID is
// loaded later, with the campaign blobs (initCampaigns), and made by
// ensureDUID.
func (s *Server) initV6(o *V6Options) error {
	if o.Engine == nil {
		return errors.New("server: V6.Engine is required")
	}
	if len(o.Interfaces) == 0 {
		return errors.New("server: no DHCPv6 interfaces to serve")
	}
	v := &v6state{opts: *o, eng: o.Engine, cfg: o.Config, msgs: o.ReconfigureMessage}
	if v.opts.Readers <= 0 {
		v.opts.Readers = usableCPUs()
	}
	v.poolOpts = newOptionCache(buildPoolOptions6, func(po *poolOptions6) *lease6.Pool { return po.pool },
		func(p *lease6.Pool) string { return p.Name },
		func(pool string, err error) {
			s.log.Warn("dhcpv6 pool option left out of replies", "pool", pool, "err", err)
		})
	for _, name := range o.Interfaces {
		ifc, err := resolveInterface6(name)
		if err != nil {
			return err
		}
		v.ifaces = append(v.ifaces, ifc)
	}
	if s.opts.replies6 != nil {
		// No socket: the test's recorder (recorder_test.go).
		v.batch = s.opts.replies6
		v.m = newMetrics6(s.reg)
		s.v6 = v
		return nil
	}
	port := o.Port
	switch {
	case port == 0:
		port = dhcpv6.ServerPort
	case port < 0:
		port = 0
	}
	conn, err := listenUDP6(port)
	if err != nil {
		return fmt.Errorf("server: listen udp6 port %d: %w", port, err)
	}
	v.conn = conn
	v.port = conn.LocalAddr().(*net.UDPAddr).Port
	rc, err := conn.SyscallConn()
	if err != nil {
		conn.Close()
		return fmt.Errorf("server: udp6 socket: %w", err)
	}
	v.batch = newReplyBatcher6(rc, s.sendDone6)
	for _, ifc := range v.ifaces {
		for _, g := range serverGroups6 {
			if err := joinGroup6(conn, ifc.index, g); err != nil {
				if ifc.loopback {
					// lo has no multicast; relays and tests unicast to it.
					s.log.Debug("dhcpv6: not joining a multicast group on a loopback interface", "interface", ifc.name, "group", g, "err", err)
					continue
				}
				conn.Close()
				return fmt.Errorf("server: interface %q: join %s: %w", ifc.name, g, err)
			}
		}
	}
	v.m = newMetrics6(s.reg)
	s.v6 = v
	return nil
}

// resolveInterface6 finds a served interface and its IPv6 addresses.
func resolveInterface6(name string) (*iface6, error) {
	ni, err := net.InterfaceByName(name)
	if err != nil {
		return nil, fmt.Errorf("server: dhcpv6 interface %q: %w", name, err)
	}
	ifc := &iface6{name: name, index: ni.Index, loopback: ni.Flags&net.FlagLoopback != 0}
	as, err := ni.Addrs()
	if err != nil {
		return nil, fmt.Errorf("server: dhcpv6 interface %q addresses: %w", name, err)
	}
	for _, a := range as {
		ipn, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		ip, ok := netip.AddrFromSlice(ipn.IP)
		if !ok || !ip.Is6() || ip.Is4In6() {
			continue
		}
		switch {
		case ip.IsLinkLocalUnicast():
			if !ifc.linkLocal.IsValid() {
				ifc.linkLocal = ip.WithZone(name)
			}
		case ip.IsGlobalUnicast() || ip.IsLoopback():
			if !ifc.global.IsValid() {
				ifc.global = ip
			}
		}
	}
	return ifc, nil
}

// Port6 is the UDP port the DHCPv6 service listens on (0 without one).
func (s *Server) Port6() int {
	if s.v6 == nil {
		return 0
	}
	return s.v6.port
}

// ServerDUID is the server's DHCPv6 DUID (nil without DHCPv6).
func (s *Server) ServerDUID() []byte {
	if s.v6 == nil {
		return nil
	}
	return append([]byte(nil), s.v6.duid...)
}

// newLane6 binds the DHCPv6 family part of the pipeline.
func (s *Server) newLane6() *lane6 {
	v := s.v6
	return newLane(s, v.conn, v.opts.Readers, familyPart[*inPacket6, *sender6, lease6.Decision]{
		name: "dhcpv6", what: "dhcpv6 request",
		newPacket: func() *inPacket6 { return &inPacket6{oob: make([]byte, 128)} },
		reset: func(p *inPacket6) {
			p.req = lease6.Request{}
			p.ifc = nil
			p.path = path6{}
		},
		read: func(conn *net.UDPConn, p *inPacket6) ([]byte, error) {
			n, oobn, _, src, err := conn.ReadMsgUDPAddrPort(p.buf[:], p.oob)
			p.n, p.src = n, src
			return p.oob[:oobn], err
		},
		newSender: newSender6,
		decision:  func(sd *sender6) *lease6.Decision { return &sd.d },
		handle:    s.handle6,
		records:   func(d *lease6.Decision) int { return len(d.Persist) },
		revert:    func(d *lease6.Decision) { v.eng.Revert(d) },
		commit:    s.commit6,
		finish:    s.finish6,
		drop:      v.m.drop,
	})
}

// DHCPv6 drop reasons (label values of leased_packets_dropped_total{family="dhcpv6"}).
// Engine decisions without a reply are counted as "engine_" + Drop.
const (
	drop6Decode      = "decode"         // malformed packet
	drop6Interface   = "interface"      // arrived on an interface we do not serve
	drop6BadType     = "bad_type"       // not a client message (Advertise, Reply, Relay-reply, unknown)
	drop6NoClientID  = "no_client_id"   // RFC 8415 §16: Client Identifier missing
	drop6NoServerID  = "no_server_id"   // §16: Request, Renew, Release, Decline without Server Identifier
	drop6ServerIDSet = "server_id_sent" // §16: Solicit, Confirm, Rebind with a Server Identifier
	drop6NotOurs     = "not_ours"       // Server Identifier of another server
	drop6Unicast     = "unicast"        // §16: Solicit, Rebind, Confirm, Information-request unicast
	drop6Overload    = "overload"       // all in-flight commit slots busy
	drop6Commit      = "commit_error"   // store commit failed: no reply
	drop6Encode      = "encode"         // reply could not be encoded
	drop6Send        = "send_error"     // the kernel refused the reply
	drop6Shutdown    = "shutdown"       // arrived while draining
)

// handle6 processes one received packet. It returns true when p was
// handed to a commit worker (which then owns it).
func (s *Server) handle6(sd *sender6, p *inPacket6, oob []byte) bool {
	v := s.v6
	pi, ok := parsePktInfo6(oob)
	if !ok {
		v.m.drop(drop6Interface)
		return false
	}
	ifc := v.ifaceByIndex(pi.IfIndex)
	if ifc == nil {
		v.m.drop(drop6Interface)
		return false
	}
	m := &p.msg
	if err := m.Decode(p.buf[:p.n]); err != nil {
		v.m.drop(drop6Decode)
		s.log.Debug("dhcpv6 drop: decode", "interface", ifc.name, "from", p.src, "err", err)
		return false
	}
	v.m.received[typeIndex6(m.Type)].Inc()
	if s.leaseQuery6(p, ifc) { // RFC 5007 leasequery hook (leasequery6.go)
		return false
	}
	if !relayChainValid(m) {
		v.m.drop(drop6BadType)
		s.log.Debug("dhcpv6 drop", "reason", drop6BadType, "type", m.Type, "interface", ifc.name, "from", p.src)
		return false
	}
	// RFC 8415 §16 validation (message type, Client and Server
	// Identifier, unicast) is the engine's, in lease6.Engine.Handle: its
	// drops are counted under the labels below (validationDrop6).
	p.ifc = ifc
	s.fillRequest6(p, pi)
	if s.campaignsActive() && (m.Type == dhcpv6.Renew || m.Type == dhcpv6.Rebind) {
		s.forceRebind(&p.req)
	}
	if s.cluster != nil {
		// RFC 3074 filter and read-through (balance.go, readthrough.go).
		if queued, done := s.cluster6(sd, p); done {
			return queued
		}
	}
	return s.decide6(sd, p)
}

// decide6 asks the engine about p (its request filled) and answers or
// queues the decision; it returns true when p was handed to a commit
// worker.
func (s *Server) decide6(sd *sender6, p *inPacket6) bool {
	v := s.v6
	s.fqdnRequest6(p) // option 39 (fqdn.go)
	d := &sd.d
	p.req.Scratch = &p.sc
	*d = v.eng.Handle(s.now(), &p.req)
	fqdnReply6(p, d)
	defer func() { *d = lease6.Decision{} }()
	if s.cluster != nil && s.claimWait6(sd, p, d) {
		return true // waits for a claim (claimwait.go)
	}
	return v.l6.dispatch(sd, p, d, &sd.wait)
}

// relayChainValid reports whether every relay layer of m is a
// Relay-forward (a Relay-reply is never sent to a server). The rest of
// RFC 8415 §16 is checked by the engine.
func relayChainValid(m *dhcpv6.Message) bool {
	for _, r := range m.Relays() {
		if r.Type != dhcpv6.RelayForward {
			return false
		}
	}
	return true
}

// validationDrop6 maps the engine's RFC 8415 §16 drop reasons to the
// labels leased_packets_dropped_total{family="dhcpv6"} has always used for them
// (the server checked them before the engine did); other engine drops
// are counted as "engine_" + reason.
func validationDrop6(reason string) (label string, ok bool) {
	switch reason {
	case lease6.DropUnknownType:
		return drop6BadType, true
	case lease6.DropNoClient:
		return drop6NoClientID, true
	case lease6.DropNoServerID:
		return drop6NoServerID, true
	case lease6.DropServerIDSent:
		return drop6ServerIDSet, true
	case lease6.DropOtherServer:
		return drop6NotOurs, true
	case lease6.DropUnicast:
		return drop6Unicast, true
	}
	return "", false
}

func isUnicast6(dst netip.Addr) bool {
	return dst.IsValid() && !dst.IsMulticast() && !dst.IsUnspecified()
}

func (v *v6state) ifaceByIndex(i int) *iface6 {
	for _, ifc := range v.ifaces {
		if ifc.index == i {
			return ifc
		}
	}
	return nil
}

// fillRequest6 builds p.req from the decoded message (slices alias the
// packet or p's arrays).
func (s *Server) fillRequest6(p *inPacket6, pi pktInfo6) {
	m := &p.msg
	ifc := p.ifc
	req := &p.req
	*req = lease6.Request{
		Type:         m.Type,
		XID:          m.TransactionID,
		ClientID:     m.ClientID(),
		ServerID:     m.ServerID(),
		RapidCommit:  m.RapidCommit(),
		ReconfAccept: m.ReconfigureAccept(),
	}
	req.ServerIDOurs = req.ServerID != nil && string(req.ServerID) == string(s.v6.duid)
	// Client classes match on these (lease6.ClassMatch).
	req.VendorClass, _ = m.Options().Get(dhcpv6.OptVendorClass)
	req.UserClass, _ = m.Options().Get(dhcpv6.OptUserClass)
	fillIAs(p)
	if f, ok := m.FQDN(); ok {
		req.Hostname = fqdnText(p.host[:0], f.Name)
	}
	p.path.fromMessage(m, ifc.name, p.src)
	rs := m.Relays()
	if len(rs) > 0 {
		inner := &rs[len(rs)-1]
		if a := inner.LinkAddr; a.IsValid() && !a.IsUnspecified() {
			req.LinkAddr = a
		}
		if ll, ok := inner.LinkLayerAddr(); ok {
			req.HType, req.HWAddr = ll.HType, ll.Addr
		}
		// RFC 8415 §13.1: the link is the innermost relay's link-address
		// or Interface-ID; the engine falls back to the arrival interface
		// when neither selects a pool.
		req.InterfaceID = inner.InterfaceID()
		for i := len(rs) - 1; i >= 0 && req.RemoteID == nil; i-- {
			if id, ok := rs[i].RemoteID(); ok {
				req.RemoteID = id.ID
			}
		}
		for i := len(rs) - 1; i >= 0 && req.SubscriberID == nil; i-- {
			req.SubscriberID = rs[i].SubscriberID()
		}
		req.Ingress, req.IngressAddr = ifc.name, ifc.global
		req.Peer = p.src.Addr()
	} else {
		req.LinkAddr = ifc.global
		req.Interface = ifc.name
		req.Peer = p.src.Addr().WithZone("")
		req.Unicast = isUnicast6(pi.Dst)
	}
	if req.HWAddr == nil {
		if ht, hw, ok := dhcpv6.DUID(req.ClientID).LinkLayer(); ok {
			req.HType, req.HWAddr = ht, hw
		}
	}
	req.ReturnPath = appendPath(p.rpath[:0], &p.path)
	switch {
	case m.Type == dhcpv6.Request, m.Type == dhcpv6.Renew, m.Type == dhcpv6.Rebind,
		m.Type == dhcpv6.Solicit && req.RapidCommit:
		// RFC 8415 §20.4: a key the client cannot guess, in case the
		// engine binds and hands one out (crypto/rand.Read does not fail
		// on Linux ≥ 3.17). The engine decides per pool whether the
		// client qualifies (Reconfigure Accept required or not).
		rand.Read(p.key[:])
		req.ReconfKey = p.key[:]
	}
}

// fillIAs collects the IA_NA and IA_PD options of p.msg into p.req.IAs,
// using p's arrays (appending beyond them allocates).
func fillIAs(p *inPacket6) {
	req := &p.req
	req.IAs = p.ias[:0]
	addrs, pfxs := p.addrs[:0], p.pfxs[:0]
	for it := p.msg.Options().Iter(); it.Next(); {
		code := it.Code()
		if code != dhcpv6.OptIANA && code != dhcpv6.OptIAPD {
			continue
		}
		ia, err := dhcpv6.ParseIA(it.Data())
		if err != nil {
			continue // Decode validated it
		}
		r := lease6.IA{IAID: ia.IAID, T1: ia.T1, T2: ia.T2}
		if code == dhcpv6.OptIANA {
			r.Kind = lease6.IANA
			n := len(addrs)
			for a := ia.Addrs(); a.Next(); {
				if x, err := dhcpv6.ParseIAAddr(a.Data()); err == nil {
					addrs = append(addrs, x.Addr)
				}
			}
			r.Addrs = addrs[n:len(addrs):len(addrs)]
		} else {
			r.Kind = lease6.IAPD
			n := len(pfxs)
			for a := ia.Prefixes(); a.Next(); {
				if x, err := dhcpv6.ParseIAPrefix(a.Data()); err == nil {
					pfxs = append(pfxs, x.Prefix)
				}
			}
			r.Prefixes = pfxs[n:len(pfxs):len(pfxs)]
		}
		req.IAs = append(req.IAs, r)
	}
}

// fqdnText converts a wire-form name (RFC 1035 labels) to dotted text in
// dst; a malformed name yields what was readable.
func fqdnText(dst, wire []byte) []byte {
	for len(wire) > 0 {
		l := int(wire[0])
		if l == 0 || l+1 > len(wire) {
			break
		}
		if len(dst) > 0 {
			dst = append(dst, '.')
		}
		dst = append(dst, wire[1:1+l]...)
		wire = wire[1+l:]
	}
	return dst
}

// commit6 makes a DHCPv6 decision durable; on failure it reverts d.
func (s *Server) commit6(ctx context.Context, d *lease6.Decision, what string) error {
	if err := s.persist(ctx, d.Persist, what); err != nil {
		s.v6.eng.Revert(d)
		if s.cpath != nil {
			s.adoptRejected(err, d.Persist) // readthrough.go
		}
		return err
	}
	return nil
}

// finish6 encodes and sends d's reply, if it has one.
func (s *Server) finish6(sd *sender6, p *inPacket6, d *lease6.Decision) {
	v := s.v6
	if label, invalid := validationDrop6(d.Drop); invalid {
		// Not a valid client message (RFC 8415 §16): not observed by
		// campaigns either.
		v.m.drop(label)
		if s.log.Enabled(context.Background(), slog.LevelDebug) {
			s.log.Debug("dhcpv6 drop", "reason", label, "type", p.req.Type, "interface", p.ifc.name, "from", p.src)
		}
		return
	}
	if s.campaignsActive() {
		s.observe6(&p.req, d)
	}
	if !d.HasReply {
		if d.Drop != "" {
			v.m.drop("engine_" + d.Drop)
			if d.Drop == lease6.DropNoReconfigureAccept {
				s.log.Debug("dhcpv6 client refused by strict pool: no Reconfigure Accept (option 20)",
					"type", p.req.Type, "duid", hex.EncodeToString(p.req.ClientID), "xid", p.req.XID)
			} else if s.log.Enabled(context.Background(), slog.LevelDebug) {
				s.log.Debug("dhcpv6 decision: no reply", "reason", d.Drop, "type", p.req.Type,
					"duid", hex.EncodeToString(p.req.ClientID), "xid", p.req.XID, "interface", p.ifc.name, "from", p.src)
			}
		}
		return
	}
	r := &d.Reply
	in := reply6{xid: p.msg.TransactionID, serverID: v.duid, clientID: p.req.ClientID, path: &p.path}
	out, err := encodeReply6(&sd.w, sd.out[:0], &in, r, s.poolOptions6(r.Pool))
	if err != nil {
		v.m.drop(drop6Encode)
		s.log.Error("dhcpv6 encode reply", "type", r.Type, "err", err)
		return
	}
	s.send6(&p.path, p.ifc.index, out, typeIndex6(r.Type))
	v.m.statusSent(r) // leased_status_codes_total (metrics6.go)
	for i := range r.IAs {
		ia := &r.IAs[i]
		if ia.HasStatus && (ia.Status == dhcpv6.StatusNoAddrsAvail || ia.Status == dhcpv6.StatusNoPrefixAvail) {
			kind, pool := "addresses", ""
			if ia.Kind == lease6.IAPD {
				kind = "prefixes"
			}
			if r.Pool != nil {
				pool = r.Pool.Name
			}
			// Rate-limited per pool by cmd/leased's log handler.
			s.log.Warn("dhcpv6 pool exhausted: nothing to offer", "pool", pool, "kind", kind,
				"duid", hex.EncodeToString(p.req.ClientID), "status", ia.Message)
			break
		}
	}
	if s.log.Enabled(context.Background(), slog.LevelDebug) {
		pool := ""
		if r.Pool != nil {
			pool = r.Pool.Name
		}
		// One line per decision: the client, what each IA got (or its
		// status: NoAddrsAvail …), the pool.
		s.log.Debug("dhcpv6 reply", "type", r.Type, "duid", hex.EncodeToString(p.req.ClientID), "pool", pool,
			"ias", iaSummary(r.IAs), "status", r.Status, "reason", r.Message, "xid", p.msg.TransactionID,
			"to", p.path.to, "relays", p.path.n, "interface", p.ifc.name)
	}
}

// iaSummary describes a reply's IAs for the debug log: "na 1: fd00::5"
// per IA, its bindings or its status code and message.
func iaSummary(ias []lease6.IAResult) []string {
	out := make([]string, 0, len(ias))
	for i := range ias {
		ia := &ias[i]
		kind := "na"
		if ia.Kind == lease6.IAPD {
			kind = "pd"
		}
		var b strings.Builder
		fmt.Fprintf(&b, "%s %d:", kind, ia.IAID)
		for _, bd := range ia.Bindings {
			if bd.Prefix.IsValid() {
				fmt.Fprintf(&b, " %s", bd.Prefix)
			} else {
				fmt.Fprintf(&b, " %s", bd.Addr)
			}
		}
		if ia.HasStatus {
			fmt.Fprintf(&b, " status %d %s", ia.Status, ia.Message)
		}
		out = append(out, b.String())
	}
	return out
}

// send6 queues one encoded reply for the batcher: to the outermost relay
// (routed), or to a direct client's link-local address out of the ingress
// interface. The batcher reports the outcome through sendDone6.
func (s *Server) send6(path *path6, ifindex int, out []byte, typ int) {
	v := s.v6
	if path.relayed() {
		v.batch.send(out, outSpec{to: path.to, kind: via6Relay, typ: typ})
		return
	}
	v.batch.send(out, outSpec{to: path.to, pktInfo: true, ifindex: ifindex, kind: via6Direct, typ: typ})
}

// sendDone6 is the reply batcher's report on one DHCPv6 datagram.
func (s *Server) sendDone6(m *outMsg, err error) {
	v := s.v6
	if err != nil {
		v.m.drop(drop6Send)
		s.log.Warn("dhcpv6 send reply", "to", m.to, "err", err)
		return
	}
	v.m.sentVia[m.kind].Inc()
	v.m.sent[m.typ].Inc()
}

// poolOptions6 returns the pre-encoded option block of p.
func (s *Server) poolOptions6(p *lease6.Pool) *poolOptions6 {
	if p == nil {
		return nil
	}
	return s.v6.poolOpts.get(p.Name, p)
}

// Reload6 applies a new DHCPv6 configuration (pools, options, lifetimes);
// the engine keeps existing bindings. Interfaces and port are not changed.
//
// A pool whose campaign settings have OnChange (SetCampaignConfig, the
// config's reconfigure.on_change) and whose options, lifetimes, ranges or
// reservations changed gets a Reconfigure campaign for the affected
// bindings (reloadTrigger6).
//
// msgs replaces V6Options.ReconfigureMessage.
func (s *Server) Reload6(cfg lease6.Config, msgs map[string]dhcpv6.MessageType) error {
	v := s.v6
	if v == nil {
		return errors.New("server: DHCPv6 is not enabled (it needs a restart)")
	}
	s.clusterReload6(cfg) // new pools: no allocation outside claims (cluster.go)
	// Runtime reservations are merged in (reservations.go).
	s.res.mu.Lock()
	defer s.res.mu.Unlock()
	cfg, keep := s.mergeReservations6(cfg)
	if err := v.eng.ApplyConfig(cfg); err != nil {
		return err
	}
	keep()
	v.cfgMu.Lock()
	old := v.cfg
	nc := cfg
	nc.Pools = slices.Clone(cfg.Pools)
	v.cfg = &nc
	v.msgs = msgs
	v.cfgMu.Unlock()
	if old != nil {
		// After the option blocks are reset below: a client renewing
		// because of the campaign gets the new options.
		defer s.reloadTrigger6(old, &nc)
	}
	v.poolOpts.reload(cfg.Pools)
	return nil
}

// reconfMsg is the Reconfigure Message configured for pool (0: none).
func (v *v6state) reconfMsg(pool string) dhcpv6.MessageType {
	v.cfgMu.Lock()
	defer v.cfgMu.Unlock()
	return v.msgs[pool]
}

// expireOnce6 reclaims expired DHCPv6 bindings.
func (s *Server) expireOnce6() {
	v := s.v6
	d := v.eng.Expire(s.now(), s.opts.ExpireBatch)
	if len(d.Persist) == 0 {
		return
	}
	if s.commit6(context.Background(), &d, "dhcpv6 expiry") == nil {
		s.m.expired.Add(float64(len(d.Persist)))
		if s.campaignsActive() {
			s.observeRecords(d.Persist)
		}
	}
}
