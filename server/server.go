// Package server is leased's network front end for DHCPv4 and DHCPv6: it
// receives client messages (UDP 67 and 547), decodes them, asks the
// family's lease engine (lease, lease6) for a decision, makes the
// decision's records durable through the store, and only then sends the
// reply — DHCPv4 to a relay, to ciaddr, as a broadcast or as a raw
// Ethernet frame to a client without an address; DHCPv6 as Relay-replies
// through the relay chain or to a direct client on its link.
//
// Both families run through one pipeline (pipeline.go: read → decode →
// engine → persist → encode → send) with a small family part each
// (server.go and encode.go for DHCPv4, server6.go, encode6.go and path6.go
// for DHCPv6). Every durable write goes through persist (persist.go).
// Around it: FORCERENEW and Reconfigure sends, reconfiguration campaigns,
// expiry, compaction, health and the control API's Backend.
package server

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mdlayher/packet"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/leased/leased/auth"
	"github.com/leased/leased/dhcpv4"
	"github.com/leased/leased/lease"
	"github.com/leased/leased/store"
)

// Engine is what the server needs of the DHCPv4 lease engine
// (*lease.Engine): the request path and the admin calls.
type Engine interface {
	RequestEngine[lease.Request, lease.Decision]
	AdminEngine
}

// RequestEngine is the request path of a lease engine, all the pipeline
// calls per client message: a decision (Req, D: lease.Request and
// lease.Decision for DHCPv4, lease6.Request and lease6.Decision for
// DHCPv6), undone when its commit fails.
type RequestEngine[Req any, D any] interface {
	Handle(now time.Time, req *Req) D
	Revert(d *D)
}

// AdminEngine is the rest of the DHCPv4 engine: configuration, expiry,
// queries for the API, and the operator's and campaigns' lease changes
// (each returns a decision the server persists, or Reverts on failure).
type AdminEngine interface {
	ApplyConfig(cfg lease.Config) error
	Expire(now time.Time, max int) lease.Decision
	Delete(now time.Time, addr netip.Addr) (lease.Decision, error)
	ForceRenew(now time.Time, addr netip.Addr) (lease.Decision, error)
	Recycle(now time.Time, addr netip.Addr, key []byte) (lease.Decision, error)
	Lookup(addr netip.Addr) (lease.Lease, bool)
	All() iter.Seq[lease.Lease]
	Leases(f lease.Filter) []lease.Lease
	Pools(now time.Time) []lease.PoolStats
}

var _ Engine = (*lease.Engine)(nil)

// Options configure a Server.
type Options struct {
	// Interfaces to serve DHCPv4 on, by name. Packets arriving on others
	// are dropped. Empty with V6 set: DHCPv6 only (no DHCPv4 socket;
	// Engine, which may then be nil, only answers the API).
	Interfaces []string
	// Port is the UDP port to listen on; 0 means 67, negative means any
	// free port (tests; see Server.Port).
	Port int
	// RelayPort is the port replies to relay agents go to; 0 means 67.
	// Tests set it so that a test relay needs no privileged port.
	RelayPort int
	Engine    Engine
	Store     store.Store
	Logger    *slog.Logger         // nil: discard
	Registry  *prometheus.Registry // nil: a private registry
	Now       func() time.Time     // nil: time.Now
	// Clock, when set, replaces Now as the server's time source and is
	// what campaign wake-ups wait on, so that a test drives campaigns with
	// a fake clock instead of wall time. nil: Now and the wall clock's
	// timers.
	Clock Clock
	// CompactEvery: compact the store after this many committed records;
	// 0 means 100000, negative disables compaction.
	CompactEvery int
	// Readers is the number of goroutines reading the socket; 0 means one
	// per CPU the process can run on (sched_getaffinity, at most
	// GOMAXPROCS, at least 1): more readers than CPUs only pass the
	// socket's read lock to each other, a goroutine wake-up per datagram
	// (issue #15, docs/BENCHMARKS.md).
	Readers int
	// MaxInFlight bounds the requests waiting for a commit; beyond it new
	// requests that need one are dropped ("overload"). 0 means 512.
	MaxInFlight int
	// ExpireBatch is the most records one expiry tick reclaims; 0 means 4096.
	ExpireBatch int
	// ExpireInterval is the expiry tick; 0 means one second.
	ExpireInterval time.Duration
	// Version and StoreName are reported by Health.
	Version, StoreName string
	// HealthWindow is how long a failed store commit or socket read keeps
	// Health "degraded" once commits or reads succeed again; 0 means
	// DefaultHealthWindow (60 s).
	HealthWindow time.Duration
	// Config is the configuration the engine was created with; Reload
	// compares against it to start campaigns for changed pools (nil: the
	// first Reload has nothing to compare with).
	Config *lease.Config
	// Campaigns configures reconfiguration campaigns (per-pool defaults,
	// reload trigger, resume after restart). Campaign state is restored
	// from Store.LoadBlobs in New.
	Campaigns CampaignConfig
	// V6 enables the DHCPv6 service (nil: DHCPv4 only).
	V6 *V6Options
	// Cluster turns on the cluster control plane (cluster.go): block
	// claims, heartbeat, take-over. nil: a single server.
	Cluster *ClusterOptions
	// replies, when set (tests only), receives the DHCPv4 replies instead
	// of a socket: New then opens no DHCPv4 socket, Run starts no DHCPv4
	// readers, and a test feeds packets to the pipeline and reads the
	// replies from its recorder (recorder_test.go).
	replies replySink
	// replies6 is replies for DHCPv6 (no DHCPv6 socket).
	replies6 replySink

	// Held are records of the store the server keeps as they are and
	// writes back at every compaction without serving them: the records
	// of a family that is not configured (DHCPv6 records without V6,
	// DHCPv4 records without Interfaces), so that a configuration without
	// a family does not lose its leases.
	Held []lease.Lease
}

// Clock is a time source with timers (Options.Clock).
type Clock interface {
	Now() time.Time
	// After returns a channel that receives the time once d has passed
	// on this clock.
	After(d time.Duration) <-chan time.Time
}

// iface is one served interface.
type iface struct {
	name   string
	index  int
	mac    [6]byte
	hasMAC bool
	addr   netip.Addr   // first IPv4 address: LinkAddr and default server id
	prefix netip.Prefix // its subnet, to recognise directed broadcasts
	raw    *packet.Conn // AF_PACKET socket for frames to address-less clients; nil if unavailable
}

// Server serves DHCPv4. Create it with New, run it with Run.
type Server struct {
	log       *slog.Logger
	eng       Engine
	st        store.Store
	now       func() time.Time
	after     func(d time.Duration) <-chan time.Time // Clock.After or time.After
	port      int
	relayPort uint16
	opts      Options

	conn   *net.UDPConn
	ifaces []*iface
	ours   []netip.Addr // every IPv4 address of the served interfaces

	m       *metrics
	reg     *prometheus.Registry
	l4      *lane4 // the DHCPv4 pipeline (pipeline.go); nil without a DHCPv4 socket
	stopped atomic.Bool
	running atomic.Bool
	inRun   atomic.Bool // Run was called and has not returned

	closeOnce sync.Once // closeSockets
	closed    atomic.Bool
	closeErr  error
	started   time.Time

	commitErrors atomic.Uint64
	health       healthState // what Health reports (health.go)

	poolOpts *optionCache[lease.Pool, poolOptions] // pre-encoded option blocks

	camp campaignState
	res  reservationState // runtime reservations (reservations.go)

	batch replySink // DHCPv4 replies: the batcher on conn (sendmmsg), or a test's recorder

	sinceCompact atomic.Int64
	compacting   atomic.Bool
	compactWG    sync.WaitGroup
	inflight     atomic.Int64

	v6         *v6state // nil without DHCPv6
	loadedDUID []byte   // the server DUID blob recovered from the store

	lq4        atomic.Pointer[LeaseQuery4Func] // DHCPv4 leasequery hook (leasequery4.go)
	lq6        atomic.Pointer[LeaseQuery6Func] // DHCPv6 leasequery hook (leasequery6.go)
	leaseHook  atomic.Pointer[LeaseHook]       // after-commit lease events (leaseevents.go)
	fqdnPolicy atomic.Pointer[FQDNPolicy]      // client FQDN options (fqdn.go)

	cluster *clusterState // cluster control plane (cluster.go); nil for a single server
	cpath   *clusterPath  // cluster packet path: RFC 3074 filter, read-through (balance.go, readthrough.go); nil for a single server
}

// inPacket is a received packet and everything derived from it. Slices in
// msg and req alias buf; the value travels from a reader to a commit worker
// when the decision needs a commit, and returns to the pool after the reply.
type inPacket struct {
	buf [maxPacket]byte
	oob []byte
	n   int
	msg dhcpv4.Message
	req lease.Request
	ifc *iface
	key [auth.KeyLen]byte // req.ReconfKey points here when set
	fq  fqdnState         // option 81 (fqdn.go)
	// sc holds the engine's decision about req (req.Scratch): the packet
	// lives until that decision is answered or reverted (issue #15).
	sc lease.Scratch
}

// maxPacket is the largest DHCP message read; larger datagrams are
// truncated by the kernel and then fail to decode.
const maxPacket = 1500

// sender holds the buffers one goroutine uses to encode and send replies.
type sender struct {
	w      dhcpv4.Writer
	out    []byte
	frame  []byte
	oob    []byte
	hw     [6]byte
	hwAddr *packet.Addr
	d      lease.Decision
	wait   *time.Timer // readers only: the wait for a free commit slot
}

func newSender() *sender {
	sd := &sender{
		out:   make([]byte, 0, maxPacket),
		frame: make([]byte, 0, maxPacket+frameOverhead),
		oob:   make([]byte, oobSize),
	}
	sd.hwAddr = &packet.Addr{HardwareAddr: sd.hw[:]}
	return sd
}

// New resolves the interfaces, opens the UDP socket (and an AF_PACKET
// socket per Ethernet interface) and returns a Server ready to Run.
func New(opts Options) (*Server, error) {
	if opts.Store == nil {
		return nil, errors.New("server: Store is required")
	}
	if len(opts.Interfaces) == 0 && opts.V6 == nil {
		return nil, errors.New("server: no interfaces to serve")
	}
	if opts.Engine == nil {
		if len(opts.Interfaces) > 0 {
			return nil, errors.New("server: Engine is required to serve DHCPv4")
		}
		// DHCPv6 only: an engine without pools answers the API.
		eng, err := lease.New(lease.Config{LeaseTime: time.Hour})
		if err != nil {
			return nil, err
		}
		opts.Engine = eng
	}
	s := &Server{
		log:       opts.Logger,
		eng:       opts.Engine,
		st:        opts.Store,
		now:       opts.Now,
		port:      opts.Port,
		relayPort: uint16(opts.RelayPort),
		opts:      opts,
		reg:       opts.Registry,
		started:   time.Now(),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.after = time.After
	if opts.Clock != nil {
		s.now, s.after = opts.Clock.Now, opts.Clock.After
	}
	switch {
	case s.port == 0:
		s.port = dhcpv4.ServerPort
	case s.port < 0:
		s.port = 0
	}
	if s.relayPort == 0 {
		s.relayPort = dhcpv4.ServerPort
	}
	if s.reg == nil {
		s.reg = prometheus.NewRegistry()
	}
	if s.opts.CompactEvery == 0 {
		s.opts.CompactEvery = 100000
	}
	if s.opts.Readers <= 0 {
		s.opts.Readers = usableCPUs()
	}
	if s.opts.MaxInFlight <= 0 {
		s.opts.MaxInFlight = 512
	}
	if s.opts.ExpireBatch <= 0 {
		s.opts.ExpireBatch = 4096
	}
	if s.opts.ExpireInterval <= 0 {
		s.opts.ExpireInterval = time.Second
	}
	s.poolOpts = newOptionCache(buildPoolOptions, func(po *poolOptions) *lease.Pool { return po.pool },
		func(p *lease.Pool) string { return p.Name },
		func(pool string, err error) { s.log.Warn("pool option left out of replies", "pool", pool, "err", err) })

	for _, name := range opts.Interfaces {
		ifc, addrs, err := resolveInterface(name)
		if err != nil {
			s.closeRaw()
			return nil, err
		}
		s.ifaces = append(s.ifaces, ifc)
		s.ours = append(s.ours, addrs...)
	}
	if len(s.ifaces) > 0 && opts.replies != nil {
		s.batch = opts.replies // no socket: the test's recorder
	} else if len(s.ifaces) > 0 {
		conn, err := listenUDP(s.port)
		if err != nil {
			s.closeRaw()
			return nil, fmt.Errorf("server: listen udp port %d: %w", s.port, err)
		}
		s.conn = conn
		s.port = conn.LocalAddr().(*net.UDPAddr).Port
		rc, err := conn.SyscallConn()
		if err != nil {
			conn.Close()
			s.closeRaw()
			return nil, fmt.Errorf("server: udp socket: %w", err)
		}
		s.batch = newReplyBatcher(rc, s.sendDone)
	} else {
		s.port = 0 // DHCPv6 only
	}
	for _, ifc := range s.ifaces {
		if !ifc.hasMAC {
			continue
		}
		// Protocol 0: the socket receives nothing, it only sends frames.
		ni, err := net.InterfaceByIndex(ifc.index)
		if err == nil {
			ifc.raw, err = packet.Listen(ni, packet.Raw, 0, nil)
		}
		if err != nil {
			s.log.Warn("no AF_PACKET socket: replies to clients without an address will be broadcast",
				"interface", ifc.name, "err", err)
			ifc.raw = nil
		}
	}
	s.m = newMetrics(s.reg, s.Pools)
	s.reg.MustRegister(healthCollector{s})
	if b, ok := s.batch.(*replyBatcher); ok {
		s.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name:        "leased_send_syscalls_total",
			Help:        "sendmmsg system calls that sent replies through the UDP socket; replies sent ÷ calls is the mean batch.",
			ConstLabels: family4,
		}, func() float64 { return float64(b.calls.Load()) }))
	}
	if opts.V6 != nil {
		if err := s.initV6(opts.V6); err != nil {
			s.closeConn()
			s.closeRaw()
			return nil, err
		}
	}
	if n := len(opts.Held); n > 0 {
		v4, v6 := 0, 0
		for i := range opts.Held {
			if opts.Held[i].IsV6() {
				v6++
			} else {
				v4++
			}
		}
		s.log.Warn("the store holds leases of a family that is not configured: they are kept as they are and not served",
			"dhcpv4_records", v4, "dhcpv6_records", v6)
	}
	closeAll := func() {
		s.closeConn()
		s.closeRaw()
		if s.v6 != nil && s.v6.conn != nil {
			s.v6.conn.Close()
		}
	}
	if err := s.initCampaigns(&opts); err != nil {
		closeAll()
		return nil, err
	}
	if err := s.initReservations(); err != nil { // runtime reservations (reservations.go)
		closeAll()
		return nil, err
	}
	if s.v6 != nil {
		if err := s.ensureDUID(context.Background()); err != nil {
			closeAll()
			return nil, err
		}
		s.v6.l6 = s.newLane6()
	}
	if s.conn != nil || opts.replies != nil {
		s.l4 = s.newLane4()
	}
	if opts.Cluster != nil { // cluster.go: no allocation before a block is claimed
		if _, err := s.newCluster(*opts.Cluster); err != nil {
			closeAll()
			return nil, err
		}
	}
	if s.cluster != nil {
		// RFC 3074 filter, read-through, rejected writes (readthrough.go).
		if err := s.initClusterPath(); err != nil {
			closeAll()
			return nil, err
		}
	}
	return s, nil
}

// newLane4 binds the DHCPv4 family part of the pipeline.
func (s *Server) newLane4() *lane4 {
	return newLane(s, s.conn, s.opts.Readers, familyPart[*inPacket, *sender, lease.Decision]{
		name: "dhcpv4", what: "request",
		newPacket: func() *inPacket { return &inPacket{oob: make([]byte, 128)} },
		reset: func(p *inPacket) {
			p.req = lease.Request{}
			p.ifc = nil
		},
		read: func(conn *net.UDPConn, p *inPacket) ([]byte, error) {
			n, oobn, _, _, err := conn.ReadMsgUDPAddrPort(p.buf[:], p.oob)
			p.n = n
			return p.oob[:oobn], err
		},
		newSender: newSender,
		decision:  func(sd *sender) *lease.Decision { return &sd.d },
		handle:    s.handle,
		records:   func(d *lease.Decision) int { return len(d.Persist) },
		revert:    func(d *lease.Decision) { s.eng.Revert(d) },
		commit:    s.commit,
		finish:    s.finish,
		drop:      s.m.drop,
	})
}

// resolveInterface finds a served interface and its IPv4 addresses.
func resolveInterface(name string) (*iface, []netip.Addr, error) {
	ni, err := net.InterfaceByName(name)
	if err != nil {
		return nil, nil, fmt.Errorf("server: interface %q: %w", name, err)
	}
	ifc := &iface{name: name, index: ni.Index}
	if len(ni.HardwareAddr) == 6 && ni.Flags&net.FlagLoopback == 0 {
		copy(ifc.mac[:], ni.HardwareAddr)
		ifc.hasMAC = true
	}
	as, err := ni.Addrs()
	if err != nil {
		return nil, nil, fmt.Errorf("server: interface %q addresses: %w", name, err)
	}
	var ours []netip.Addr
	for _, a := range as {
		ipn, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		ip, ok := netip.AddrFromSlice(ipn.IP)
		if !ok {
			continue
		}
		ip = ip.Unmap()
		if !ip.Is4() {
			continue
		}
		ones, _ := ipn.Mask.Size()
		if !ifc.addr.IsValid() {
			ifc.addr = ip
			ifc.prefix = netip.PrefixFrom(ip, ones).Masked()
		}
		ours = append(ours, ip)
	}
	if !ifc.addr.IsValid() {
		return nil, nil, fmt.Errorf("server: interface %q has no IPv4 address", name)
	}
	return ifc, ours, nil
}

// closeConn closes the DHCPv4 socket, if there is one.
func (s *Server) closeConn() error {
	if s.conn == nil {
		return nil
	}
	return s.conn.Close()
}

func (s *Server) closeRaw() {
	for _, ifc := range s.ifaces {
		if ifc.raw != nil {
			_ = ifc.raw.Close()
		}
	}
}

// Port is the UDP port the DHCPv4 service listens on (0 without one).
func (s *Server) Port() int { return s.port }

// Registry is the registry the server's metrics are registered in.
func (s *Server) Registry() *prometheus.Registry { return s.reg }

// Close releases the server's sockets (DHCPv4 UDP and AF_PACKET, DHCPv6)
// without serving: for a Server whose Run is never called, e.g. when
// start-up fails after New. Run closes the sockets itself when it
// returns, so Close after Run is a no-op; while Run runs Close refuses
// (cancel Run's context to stop it). Close is idempotent; the store is
// the caller's to close.
func (s *Server) Close() error {
	if s.inRun.Load() {
		return errors.New("server: Close while Run is serving; cancel Run's context to stop it")
	}
	return s.closeSockets()
}

// closeSockets closes every socket once.
func (s *Server) closeSockets() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		s.closeErr = s.closeConn()
		s.closeRaw()
		if s.v6 != nil && s.v6.conn != nil {
			_ = s.v6.conn.Close()
		}
	})
	return s.closeErr
}

// Run serves until ctx is done. It then stops reading, lets every request
// already handed to a commit worker finish (commit and reply), stops the
// expiry loop, waits for a running compaction and closes the sockets. The
// store is left open for the caller to close. A Server runs once: Run
// after Run or Close returns net.ErrClosed.
func (s *Server) Run(ctx context.Context) error {
	if s.closed.Load() || !s.inRun.CompareAndSwap(false, true) {
		return fmt.Errorf("server: Run: %w", net.ErrClosed)
	}
	defer s.inRun.Store(false)
	var bg sync.WaitGroup
	stopExpire := make(chan struct{})
	var clusterDone <-chan struct{}
	if s.cluster != nil {
		// The first claims before the first packet (cluster.go).
		clusterDone = s.startCluster(stopExpire)
	}
	if s.l4 != nil && s.conn != nil {
		s.l4.start()
	}
	if s.v6 != nil && s.v6.conn != nil {
		s.v6.l6.start()
	}
	bg.Add(1)
	go func() {
		defer bg.Done()
		s.expireLoop(stopExpire)
	}()
	bg.Add(1)
	go func() {
		defer bg.Done()
		s.campaignLoop(stopExpire)
	}()
	s.running.Store(true)
	s.log.Debug("server running", "port", s.port, "readers", s.opts.Readers, "max_inflight", s.opts.MaxInFlight)

	<-ctx.Done()
	s.stopped.Store(true)
	// Stop reading, then answer what is queued (the sockets stay open).
	if s.l4 != nil && s.conn != nil {
		s.l4.stopReading()
	}
	if s.v6 != nil && s.v6.conn != nil {
		s.v6.l6.stopReading()
	}
	if s.l4 != nil && s.conn != nil {
		s.l4.drain()
	}
	if s.v6 != nil && s.v6.conn != nil {
		s.v6.l6.drain()
	}
	close(stopExpire)
	bg.Wait()
	if clusterDone != nil {
		<-clusterDone
	}
	s.compactWG.Wait()
	err := s.closeSockets()
	s.log.Info("server stopped", "port", s.port)
	return err
}

// handle processes one received packet. It returns true when p was handed
// to a commit worker (which then owns it).
func (s *Server) handle(sd *sender, p *inPacket, oob []byte) bool {
	pi, ok := parsePktInfo(oob)
	if !ok {
		s.m.drop(dropInterface)
		return false
	}
	ifc := s.ifaceByIndex(pi.IfIndex)
	if ifc == nil {
		s.m.drop(dropInterface)
		return false
	}
	bootp := false
	if err := p.msg.Decode(p.buf[:p.n]); err != nil {
		// RFC 1542: a BOOTREQUEST without option 53; served only where a
		// pool has bootp: true (classes4.go).
		bootp = errors.Is(err, dhcpv4.ErrNoMessageType) && s.servesBOOTP()
		if !bootp {
			if errors.Is(err, dhcpv4.ErrNoMessageType) {
				s.m.drop(dropBOOTP)
			} else {
				s.m.drop(dropDecode)
			}
			s.log.Debug("drop: decode", "interface", ifc.name, "err", err)
			return false
		}
	}
	if p.msg.Op != dhcpv4.BootRequest {
		s.m.drop(dropNotRequest)
		return false
	}
	t := p.msg.Type()
	s.m.received[typeIndex(t)].Inc()
	switch {
	case t == dhcpv4.Discover, t == dhcpv4.Request, t == dhcpv4.Decline, t == dhcpv4.Release, t == dhcpv4.Inform:
	case bootp && t == 0:
	default:
		if s.leaseQuery4(sd, p, ifc, pi) { // RFC 4388 leasequery hook (leasequery4.go)
			return false
		}
		s.m.drop(dropBadType)
		return false
	}
	p.ifc = ifc
	fillRequest(&p.req, &p.msg, ifc, pi, s.isOurs)
	s.applyServerIDOverride(&p.req) // serverid.go
	if t == dhcpv4.Request && dhcpv4.NonceCapable(p.req.ForceRenewNonce, dhcpv4.AuthAlgHMACMD5) {
		// RFC 6704 §3: a fresh key the client cannot guess, in case the
		// engine ACKs (crypto/rand.Read does not fail on Linux ≥ 3.17).
		rand.Read(p.key[:])
		p.req.ReconfKey = p.key[:]
	}
	if t == dhcpv4.Request && s.campaignsActive() {
		s.forceNAK(&p.req)
	}
	if s.cluster != nil {
		// RFC 3074 filter and read-through (balance.go, readthrough.go).
		if queued, done := s.cluster4(sd, p); done {
			return queued
		}
	}
	return s.decide4(sd, p)
}

// decide4 asks the engine about p (its request filled) and answers or
// queues the decision; it returns true when p was handed to a commit
// worker.
func (s *Server) decide4(sd *sender, p *inPacket) bool {
	s.fqdnRequest4(p) // option 81 (fqdn.go)
	// The decision lives in the sender so that it does not escape to the
	// heap per packet.
	d := &sd.d
	p.req.Scratch = &p.sc
	*d = s.eng.Handle(s.now(), &p.req)
	s.fqdnReply4(p, d)
	defer func() { *d = lease.Decision{} }()
	if s.cluster != nil && s.claimHook4(sd, p, d) {
		return true // waits for a claim (claimwait.go)
	}
	return s.l4.dispatch(sd, p, d, &sd.wait)
}

func (s *Server) ifaceByIndex(i int) *iface {
	for _, ifc := range s.ifaces {
		if ifc.index == i {
			return ifc
		}
	}
	return nil
}

func (s *Server) isOurs(a netip.Addr) bool {
	for _, o := range s.ours {
		if o == a {
			return true
		}
	}
	return false
}

// fillRequest fills req from a decoded client message that arrived on ifc
// with the IP_PKTINFO pi. ours reports whether an address is the server's.
func fillRequest(req *lease.Request, m *dhcpv4.Message, ifc *iface, pi pktInfo, ours func(netip.Addr) bool) {
	*req = lease.Request{
		Type:      m.Type(),
		XID:       m.XID,
		Flags:     m.Flags,
		CIAddr:    m.CIAddr,
		GIAddr:    m.GIAddr,
		HType:     m.HType,
		HWAddr:    m.HWAddr(),
		ClientID:  m.ClientID(),
		Hostname:  m.Hostname(),
		RelayInfo: m.RelayAgentInfo(),
		LinkAddr:  ifc.addr,
	}
	fillClassInputs(req, m) // classes4.go
	if a, ok := m.RequestedIP(); ok {
		req.RequestedIP = a
	}
	if a, ok := m.ServerID(); ok {
		req.ServerID = a
		req.ServerIDOurs = ours(a)
	}
	req.ForceRenewNonce = m.ForceRenewNonceCapable()
	if lt, ok := m.LeaseTime(); ok {
		req.LeaseTime = lt
	}
	dst := pi.Dst
	req.Unicast = dst.IsValid() && !dst.IsUnspecified() && dst != limitedBroadcast &&
		!dst.IsMulticast() && !isDirectedBroadcast(dst, ifc.prefix)
	req.ServerAddr = ifc.addr
	if isSet(m.GIAddr) && req.Unicast {
		// The relay addressed one of our addresses: that is the server
		// identifier it (and the client) knows us by.
		if pi.Local.IsValid() && !pi.Local.IsUnspecified() {
			req.ServerAddr = pi.Local
		} else {
			req.ServerAddr = dst
		}
	}
}

func isDirectedBroadcast(a netip.Addr, p netip.Prefix) bool {
	if !p.IsValid() || !a.Is4() || p.Bits() >= 31 || !p.Contains(a) {
		return false
	}
	b := a.As4()
	host := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	mask := ^uint32(0) >> p.Bits()
	return host&mask == mask
}

// finish encodes and sends d's reply, if it has one.
func (s *Server) finish(sd *sender, p *inPacket, d *lease.Decision) {
	if s.campaignsActive() {
		s.observe(&p.req, d)
	}
	if !d.HasReply {
		if d.Drop != "" {
			s.m.drop("engine_" + d.Drop)
			s.m.poolDrops.inc(d.DropPool, d.Drop)
			switch {
			case d.Drop == lease.DropPoolExhausted:
				// Rate-limited per pool by cmd/leased's log handler.
				s.log.Warn("dhcpv4 pool exhausted: no free address to offer", "pool", d.DropPool,
					"chaddr", net.HardwareAddr(p.req.HWAddr).String())
			case d.Drop == lease.DropNotReconfigurable:
				s.log.Debug("dhcpv4 client refused by strict pool: no RFC 6704 HMAC-MD5 in option 145",
					"type", p.req.Type, "chaddr", net.HardwareAddr(p.req.HWAddr).String(), "xid", p.req.XID, "pool", d.DropPool)
			case s.log.Enabled(context.Background(), slog.LevelDebug):
				s.log.Debug("dhcpv4 decision: no reply", "reason", d.Drop, "pool", d.DropPool, "type", p.req.Type,
					"chaddr", net.HardwareAddr(p.req.HWAddr).String(), "xid", p.req.XID,
					"requested", p.req.RequestedIP, "ciaddr", p.msg.CIAddr, "giaddr", p.msg.GIAddr, "interface", p.ifc.name)
			}
		}
		return
	}
	r := &d.Reply
	if len(d.Persist) > 0 {
		trimLeaseTimes(r, d.Persist, time.Now()) // leasetime.go
	}
	sid := r.ServerID
	if !sid.IsValid() {
		sid = p.req.ServerAddr
	}
	sid = replyServerID(&p.req, sid) // RFC 5107 (serverid.go)
	out, err := encodeReply(&sd.w, sd.out[:0], &p.msg.Header, r, sid, p.req.RelayInfo, p.req.ClientID, s.poolOptions(r.Pool))
	if err != nil {
		s.m.drop(dropEncode)
		s.log.Error("encode reply", "type", r.Type, "err", err)
		return
	}
	t := ReplyTarget{
		Type: r.Type, GIAddr: p.msg.GIAddr, CIAddr: p.msg.CIAddr, YIAddr: r.YIAddr,
		Flags: p.msg.Flags, HType: p.msg.HType, HLen: p.msg.HLen, CHAddr: p.msg.CHAddr,
	}
	dest := ReplyDest(&t, s.relayPort)
	queued, err := s.send(sd, p.ifc, p.req.ServerAddr, dest, out, typeIndex(r.Type), false)
	if err != nil {
		s.m.drop(dropSend)
		s.log.Warn("send reply", "type", r.Type, "to", dest.Addr, "path", dest.Kind, "err", err)
		return
	}
	if !queued {
		s.m.sent[typeIndex(r.Type)].Inc()
	}
	if c, ok := s.m.naks[r.NakReason]; ok {
		c.Inc()
	}
	if s.log.Enabled(context.Background(), slog.LevelDebug) {
		pool := ""
		if r.Pool != nil {
			pool = r.Pool.Name
		}
		// One line per decision: who, what, which pool and (NAK) why.
		s.log.Debug("reply", "type", r.Type, "chaddr", net.HardwareAddr(p.req.HWAddr).String(), "yiaddr", r.YIAddr,
			"pool", pool, "reason", r.NakReason, "message", r.Message, "xid", p.msg.XID, "to", dest.Addr, "path", dest.Kind, "interface", p.ifc.name)
	}
	if extra, ok := NakCopyDest(&t); ok {
		// Best effort: the broadcast above is the RFC's answer.
		if queued, err := s.send(sd, p.ifc, p.req.ServerAddr, extra, out, typeIndex(r.Type), true); err != nil {
			s.log.Debug("send NAK copy to ciaddr", "to", extra.Addr, "err", err)
		} else if !queued {
			s.m.sentVia.WithLabelValues("nak_unicast_copy").Inc()
		}
	}
}

// send delivers one encoded reply along dest. Datagrams through the UDP
// socket go to the reply batcher, which reports their outcome (metrics,
// log) itself: send then returns queued. typ is the metrics index of the
// message type; nakCopy marks the best-effort unicast copy of a NAK.
func (s *Server) send(sd *sender, ifc *iface, src netip.Addr, dest Dest, out []byte, typ int, nakCopy bool) (queued bool, err error) {
	kind := dest.Kind
	if kind == DestHardware && ifc.raw == nil {
		kind = DestBroadcast
		dest.Addr = netip.AddrPortFrom(limitedBroadcast, dhcpv4.ClientPort)
	}
	switch kind {
	case DestHardware:
		sd.frame, err = AppendFrame(sd.frame[:0], &FrameAddrs{
			SrcMAC: ifc.mac, DstMAC: dest.HWAddr,
			Src: src, Dst: dest.Addr.Addr(),
			SrcPort: uint16(s.port), DstPort: dest.Addr.Port(),
		}, out)
		if err == nil {
			sd.hw = dest.HWAddr
			_, err = ifc.raw.WriteTo(sd.frame, sd.hwAddr)
		}
	case DestBroadcast:
		// Leave through the ingress interface (ipi_ifindex), from our
		// address on it.
		s.batch.send(out, outSpec{to: dest.Addr, pktInfo: true, ifindex: ifc.index, src: src, kind: kind, typ: typ, nakCopy: nakCopy})
		return true, nil
	default:
		// Routed unicast; only the source address is chosen.
		s.batch.send(out, outSpec{to: dest.Addr, pktInfo: true, src: src, kind: kind, typ: typ, nakCopy: nakCopy})
		return true, nil
	}
	if err == nil {
		s.m.sentVia.WithLabelValues(kind.String()).Inc()
	}
	return false, err
}

// sendDone is the reply batcher's report on one datagram.
func (s *Server) sendDone(m *outMsg, err error) {
	if err != nil {
		if m.nakCopy {
			s.log.Debug("send NAK copy to ciaddr", "to", m.to, "err", err)
			return
		}
		s.m.drop(dropSend)
		s.log.Warn("send reply", "to", m.to, "path", m.kind, "err", err)
		return
	}
	s.m.sentVia.WithLabelValues(m.kind.String()).Inc()
	if m.nakCopy {
		s.m.sentVia.WithLabelValues("nak_unicast_copy").Inc()
	} else {
		s.m.sent[m.typ].Inc()
	}
}

// poolOptions returns the pre-encoded option block of p.
func (s *Server) poolOptions(p *lease.Pool) *poolOptions {
	if p == nil {
		return nil
	}
	return s.poolOpts.get(p.Name, p)
}

// Reload applies a new lease configuration (pools, options, timing); the
// engine keeps existing leases. Interfaces and ports are not changed.
//
// A pool whose campaign settings have OnChange (SetCampaignConfig) and
// whose options or sections changed gets a campaign for the affected
// leases.
func (s *Server) Reload(cfg lease.Config) error {
	s.clusterReload4(cfg) // new pools: no allocation outside claims (cluster.go)
	// Runtime reservations are merged in (reservations.go).
	s.res.mu.Lock()
	defer s.res.mu.Unlock()
	cfg, keep := s.mergeReservations4(cfg)
	if err := s.eng.ApplyConfig(cfg); err != nil {
		return err
	}
	keep()
	s.camp.cfgM.Lock()
	old := s.camp.leaseCfg
	nc := cfg
	nc.Pools = slices.Clone(cfg.Pools)
	s.camp.leaseCfg = &nc
	s.camp.cfgM.Unlock()
	if old != nil {
		defer s.reloadTrigger(old, &nc)
	}
	s.poolOpts.reload(cfg.Pools)
	return nil
}

func (s *Server) expireLoop(stop <-chan struct{}) {
	t := time.NewTicker(s.opts.ExpireInterval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			s.expireOnce()
		}
	}
}

func (s *Server) expireOnce() {
	if s.v6 != nil {
		s.expireOnce6()
	}
	d := s.eng.Expire(s.now(), s.opts.ExpireBatch)
	if len(d.Persist) == 0 {
		return
	}
	if s.commit(context.Background(), &d, "expiry") == nil {
		s.m.expired.Add(float64(len(d.Persist)))
		if s.campaignsActive() {
			s.observeRecords(d.Persist)
		}
	}
}

// noteCommitted counts committed records and starts a background
// compaction every CompactEvery records (never two at once).
func (s *Server) noteCommitted(n int) {
	every := s.opts.CompactEvery
	if every < 0 {
		return
	}
	if s.sinceCompact.Add(int64(n)) < s.compactAfter(every) || !s.compacting.CompareAndSwap(false, true) {
		return
	}
	s.sinceCompact.Store(0)
	s.compactWG.Add(1)
	go func() {
		defer s.compactWG.Done()
		defer s.compacting.Store(false)
		_ = s.compact()
	}()
}

// compact rewrites the store from the engines' records, the held records
// (Options.Held) and the blobs; it counts and logs the outcome.
func (s *Server) compact() error {
	start := time.Now()
	err := s.st.Compact(s.allLeases(), s.allBlobs())
	s.compactionResult(err)
	if err != nil {
		s.m.compactions.WithLabelValues("error").Inc()
		s.log.Error("store compaction failed", "err", err)
		return err
	}
	s.m.compactions.WithLabelValues("ok").Inc()
	s.log.Info("store compacted", "took", time.Since(start))
	return nil
}

// Leases returns the leases matching f (control API), DHCPv4 then DHCPv6.
func (s *Server) Leases(f lease.Filter) []lease.Lease {
	ls := s.eng.Leases(f)
	if s.v6 != nil {
		ls = append(ls, s.v6.eng.Leases(f)...)
	}
	return ls
}

// Pools returns pool utilisation now (control API), DHCPv4 then DHCPv6.
func (s *Server) Pools() []lease.PoolStats {
	ps := s.eng.Pools(s.now())
	if s.v6 != nil {
		ps = append(ps, s.v6.eng.Pools(s.now())...)
	}
	return ps
}

// DeleteLease removes the lease of addr durably: it returns once the
// tombstone is committed. The error wraps lease.ErrNotFound when there is
// no such lease.
func (s *Server) DeleteLease(ctx context.Context, addr netip.Addr) error {
	if s.isV6Addr(addr) {
		return s.deleteLease6(ctx, addr)
	}
	d, err := s.eng.Delete(s.now(), addr)
	if err != nil {
		return err
	}
	if err := s.commit(ctx, &d, "delete "+addr.String()); err != nil {
		return err
	}
	if s.campaignsActive() {
		s.observeRecords(d.Persist)
	}
	return nil
}

// Uptime is how long ago the server was created.
func (s *Server) Uptime() time.Duration { return time.Since(s.started) }

// InFlight is the number of requests waiting for their commit.
func (s *Server) InFlight() int { return int(s.inflight.Load()) }
