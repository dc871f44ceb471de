// Command leasebench is a DHCPv4 and DHCPv6 load generator and client
// simulator built on package client.
//
//	leasebench [flags] SCENARIO
//	leasebench null-server [--listen 127.0.0.1:67]
//	leasebench null-server -6 [--iface IFACE] [--listen [::1]:547]
//
// Scenarios: dora, renew, mixed, init-reboot, decline, bad, forcerenew.
//
// Transport: relay mode over loopback. leasebench binds UDP --relay:67
// (127.0.0.2 by default; worker k of --sockets uses --relay + k), sets giaddr
// to it and sends to --server (127.0.0.1:67). leased answers relays on port
// 67 of giaddr, so the pool must cover the relay address: a pool whose
// subnet contains it (subnet: 127.0.0.0/8, sections in 127.x) or one that
// lists it under relays:. The forcerenew scenario also needs the leased
// addresses on loopback (a 127.0.0.0/8 pool) because FORCERENEW goes to
// ADDR:68, where leasebench listens.
//
// Direct mode (--iface IFACE): no relay. leasebench runs inside a client
// network (e.g. a namespace whose IFACE faces leased) and every worker binds
// 0.0.0.0:68 on IFACE (SO_BINDTODEVICE, SO_BROADCAST, SO_REUSEADDR); the
// simulated clients, many MACs sharing the one interface, send from
// 0.0.0.0:68 to 255.255.255.255:67 with the BROADCAST flag set, so leased
// answers by broadcast to 255.255.255.255:68 (RFC 2131 §4.1) and replies are
// matched to clients by chaddr and xid. The interface has no address for the
// simulated clients, so direct mode covers the scenarios that never need one:
// dora, decline, init-reboot and bad. renew, mixed (RENEWING is a unicast
// from ciaddr, answered unicast to ciaddr:68) and forcerenew (unicast to the
// leased address) need relay mode. Keep --sockets 1 there: every worker's
// socket receives a copy of every broadcast reply, so more workers add
// receive work without adding capacity.
//
// DHCPv6 (-6 or --family 6; bench6.go): scenarios solicit, renew, release
// and reconfigure, in relay mode only: every worker is a relay agent on an
// unprivileged port of --relay6 (::1) sending Relay-forward to --server6
// ([::1]:547) with link-address --link, the client's link-local address as
// peer-address, an Interface-Id and the RFC 8357 Relay Source Port option.
//
// See README.md for the configuration and the JSON report.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/signal"

	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/leased/leased/api"
	"github.com/leased/leased/client"
	"github.com/leased/leased/dhcpv4"
)

type options struct {
	server    netip.AddrPort
	relay     netip.Addr
	sockets   int
	clients   int
	count     int
	rate      float64
	duration  time.Duration
	window    int
	timeout   time.Duration
	retries   int
	badShare  float64
	serverPID int
	jsonPath  string
	null      bool
	control   string
	seed      uint64
	quiet     bool
	iface     string

	// DHCPv6 (bench6.go)
	family      int
	server6     netip.AddrPort
	relay6      netip.Addr
	link        netip.Addr
	ia          string
	rapidCommit bool
	pool        string
	via         string
}

// Result is the JSON report (--json).
type Result struct {
	Scenario       string  `json:"scenario"`
	Family         int     `json:"family,omitempty"` // 6 for DHCPv6 (absent: 4)
	Server         string  `json:"server"`
	Link           string  `json:"link_address,omitempty"` // DHCPv6 relay link-address
	Iface          string  `json:"iface,omitempty"`        // direct mode
	Null           bool    `json:"null_server"`
	Clients        int     `json:"clients"`
	BytesPerClient int     `json:"bytes_per_client"`
	PrepareSeconds float64 `json:"prepare_seconds,omitempty"`
	OfferedRate    float64 `json:"offered_rate"` // 0: flat out
	AchievedRate   float64 `json:"achieved_rate"`
	Seconds        float64 `json:"seconds"`
	Started        int     `json:"started"`
	Completed      int     `json:"completed"`
	Lost           int     `json:"lost"`
	NAKs           int     `json:"naks"`
	BadSent        int     `json:"bad_sent,omitempty"`
	Dropped        int     `json:"replies_dropped"`
	SendErrors     int     `json:"send_errors"`
	// Retransmits counts requests sent again after --timeout; Duplicates
	// the replies that reached a client with no exchange in flight (the
	// server answered a request twice: the original and a retransmission
	// queued behind it), part of Dropped.
	Retransmits int `json:"retransmits"`
	Duplicates  int `json:"duplicate_replies"`
	LatencyMs   struct {
		P50  float64 `json:"p50"`
		P99  float64 `json:"p99"`
		P999 float64 `json:"p999"`
		Max  float64 `json:"max"`
		Mean float64 `json:"mean"`
	} `json:"latency_ms"`
	ServerCPUSeconds   float64 `json:"server_cpu_seconds,omitempty"`
	ServerCPUMsPer1000 float64 `json:"server_cpu_ms_per_1000,omitempty"`
	// ServerMallocs, ServerAllocBytes and ServerGCCycles are what leased's
	// Go runtime allocated and collected during the phase (its /metrics on
	// --control, read before and after; storms only, absent when unread).
	ServerMallocs        float64 `json:"server_mallocs,omitempty"`
	ServerAllocBytes     float64 `json:"server_alloc_bytes,omitempty"`
	ServerGCCycles       float64 `json:"server_gc_cycles,omitempty"`
	BenchCPUSeconds      float64 `json:"bench_cpu_seconds"`
	ForceRenewMethod     string  `json:"forcerenew_method,omitempty"`
	ForceRenewAPISeconds float64 `json:"forcerenew_api_seconds,omitempty"`
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "null-server" {
		return runNullServer(ctx, args[1:], stderr)
	}
	fs := flag.NewFlagSet("leasebench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: leasebench [flags] dora|renew|mixed|init-reboot|decline|bad|forcerenew\n"+
			"       leasebench --iface IFACE [flags] dora|init-reboot|decline|bad   (direct mode: broadcast from 0.0.0.0:68)\n"+
			"       leasebench -6 [flags] solicit|renew|release|reconfigure          (DHCPv6 relay to --server6)\n"+
			"       leasebench null-server [-6 [--iface IFACE]] [--listen ADDR:PORT]\n")
		fs.PrintDefaults()
	}
	var o options
	server := fs.String("server", "127.0.0.1:67", "server `addr:port`")
	relay := fs.String("relay", "127.0.0.2", "relay `address` (giaddr; bound on port 67)")
	fs.IntVar(&o.sockets, "sockets", 1, "relay sockets/workers; worker k uses relay address + k")
	fs.IntVar(&o.clients, "clients", 1000, "simulated clients")
	fs.IntVar(&o.count, "count", 0, "exchanges to run (0: --clients for storms; unlimited with --duration)")
	fs.Float64Var(&o.rate, "rate", 0, "exchanges started per second (0: flat out within --window)")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "run at most this long (0: until --count)")
	fs.IntVar(&o.window, "window", 0, "max exchanges in flight per worker (0: 128; storms: all clients at once)")
	fs.DurationVar(&o.timeout, "timeout", 0, "an exchange without a reply for this long is lost (or retransmitted, see --retries; doubling per retransmission); 0: 2 s, or for DHCPv4 init-reboot and forcerenew 4 s")
	fs.IntVar(&o.retries, "retries", -1, "retransmissions before an exchange is lost (-1: 0, or 3 for init-reboot and forcerenew)")
	fs.Float64Var(&o.badShare, "bad-share", 0.1, "bad: malformed packets per valid exchange")
	fs.IntVar(&o.serverPID, "server-pid", 0, "server `pid` whose CPU time is reported")
	fs.StringVar(&o.jsonPath, "json", "", "write the result as JSON to `file`")
	fs.BoolVar(&o.null, "null", false, "run against an in-process null server (measures leasebench's ceiling)")
	fs.StringVar(&o.control, "control", "/run/leased/control.sock", "forcerenew: leased control `socket`")
	fs.Uint64Var(&o.seed, "seed", uint64(time.Now().UnixNano()), "xid and random seed")
	fs.BoolVar(&o.quiet, "quiet", false, "no progress lines on stderr")
	fs.IntVar(&o.family, "family", 4, "4 (DHCPv4) or 6 (DHCPv6)")
	v6 := fs.Bool("6", false, "DHCPv6: same as --family 6")
	server6 := fs.String("server6", "[::1]:547", "DHCPv6 server `addr:port`")
	relay6 := fs.String("relay6", "::1", "DHCPv6: `address` the relay sockets bind (unprivileged ports; the server answers them, RFC 8357)")
	link := fs.String("link", "fd77::1", "DHCPv6: relay link-address, an `address` inside the pool's subnet")
	fs.StringVar(&o.ia, "ia", "na", "DHCPv6: what clients ask for: na (IA_NA), pd (IA_PD) or both")
	fs.BoolVar(&o.rapidCommit, "rapid-commit", false, "DHCPv6: Solicit with Rapid Commit (2-message exchange when the server allows it)")
	fs.StringVar(&o.via, "via", "campaign", "DHCPv6 reconfigure: one `campaign`, or a POST /v1/leases/{addr}/reconfigure per client (lease)")
	fs.StringVar(&o.pool, "pool", "", "DHCPv6 reconfigure: campaign over this pool (default: every DHCPv6 lease)")
	fs.StringVar(&o.iface, "iface", "", "direct mode: clients broadcast from 0.0.0.0:68 to 255.255.255.255:67 on `interface` (no relay; dora, init-reboot, decline, bad)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	scenario := fs.Arg(0)
	var err error
	if *v6 {
		o.family = 6
	}
	if o.family != 4 && o.family != 6 {
		fmt.Fprintf(stderr, "leasebench: --family %d: want 4 or 6\n", o.family)
		return 2
	}
	if o.family == 6 {
		if o.server6, err = netip.ParseAddrPort(*server6); err != nil || !o.server6.Addr().Is6() {
			fmt.Fprintf(stderr, "leasebench: --server6 %q: want [IPv6]:port\n", *server6)
			return 2
		}
		if o.relay6, err = netip.ParseAddr(*relay6); err != nil || !o.relay6.Is6() {
			fmt.Fprintf(stderr, "leasebench: --relay6 %q: want an IPv6 address\n", *relay6)
			return 2
		}
		if o.link, err = netip.ParseAddr(*link); err != nil || !o.link.Is6() {
			fmt.Fprintf(stderr, "leasebench: --link %q: want an IPv6 address\n", *link)
			return 2
		}
	}
	if o.server, err = netip.ParseAddrPort(*server); err != nil {
		fmt.Fprintf(stderr, "leasebench: --server: %v\n", err)
		return 2
	}
	if o.relay, err = netip.ParseAddr(*relay); err != nil || !o.relay.Is4() {
		fmt.Fprintf(stderr, "leasebench: --relay %q: want an IPv4 address\n", *relay)
		return 2
	}
	if o.sockets < 1 || o.sockets > 64 || o.clients < 1 || o.clients > 1<<24 {
		fmt.Fprintln(stderr, "leasebench: --sockets must be 1..64 and --clients 1..16777216")
		return 2
	}
	if o.timeout == 0 {
		o.timeout = defaultTimeout(o.family, scenario)
	}
	if o.timeout < 0 {
		fmt.Fprintln(stderr, "leasebench: --timeout must not be negative")
		return 2
	}
	var res *Result
	if o.family == 6 {
		res, err = bench6(ctx, scenario, o, stderr)
	} else {
		res, err = bench(ctx, scenario, o, stderr)
	}
	if err != nil {
		fmt.Fprintf(stderr, "leasebench: %v\n", err)
		return 1
	}
	printResult(stdout, res)
	if o.jsonPath != "" {
		b, _ := json.MarshalIndent(res, "", "  ")
		if err := os.WriteFile(o.jsonPath, append(b, '\n'), 0o644); err != nil {
			fmt.Fprintf(stderr, "leasebench: --json: %v\n", err)
			return 1
		}
	}
	if res.Lost > 0 || res.Completed == 0 {
		return 3 // ran, but not every exchange completed
	}
	return 0
}

func bench(ctx context.Context, scenario string, o options, stderr io.Writer) (*Result, error) {
	switch scenario {
	case "dora", "renew", "mixed", "init-reboot", "decline", "bad", "forcerenew":
	default:
		return nil, fmt.Errorf("unknown scenario %q", scenario)
	}
	storm := scenario == "init-reboot" || scenario == "forcerenew"
	if o.iface != "" {
		switch {
		case o.null:
			return nil, errors.New("--iface and --null exclude each other")
		case scenario == "renew" || scenario == "mixed" || scenario == "forcerenew":
			// Renewal and FORCERENEW are unicast to/from the leased
			// address, which the shared interface does not have.
			return nil, fmt.Errorf("scenario %s needs relay mode: direct mode (--iface) covers dora, init-reboot, decline and bad", scenario)
		}
	}
	if o.retries < 0 {
		o.retries = 0
		if storm {
			o.retries = 3
		}
	}
	if o.count == 0 && (o.duration == 0 || storm) {
		o.count = o.clients
	}
	res := &Result{Scenario: scenario, Server: o.server.String(), Null: o.null, Clients: o.clients,
		BytesPerClient: int(client.Size) + 1, OfferedRate: o.rate, Iface: o.iface}
	if o.iface != "" {
		res.Server = "broadcast on " + o.iface
	}

	ctx, cancel := context.WithCancel(ctx)
	var bg sync.WaitGroup
	defer func() { cancel(); bg.Wait() }()
	relayPort := uint16(dhcpv4.ServerPort)
	if o.null {
		nc, err := listenReuse(netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), 0))
		if err != nil {
			return nil, fmt.Errorf("null server: %w", err)
		}
		o.server = nc.LocalAddr().(*net.UDPAddr).AddrPort()
		res.Server = "null " + o.server.String()
		relayPort = 0 // the null server answers the source address
		bg.Add(1)
		go func() { defer bg.Done(); nullServe(ctx, nc) }()
	}

	// Workers, one relay socket each.
	per := (o.clients + o.sockets - 1) / o.sockets
	ws := make([]*worker, 0, o.sockets)
	a := o.relay.As4()
	for k := range o.sockets {
		var conn *net.UDPConn
		var addr netip.Addr // giaddr; invalid in direct mode
		dst := o.server
		if o.iface != "" {
			var err error
			if conn, err = listenDirect(o.iface); err != nil {
				return nil, fmt.Errorf("direct socket 0.0.0.0:68 on %s: %w", o.iface, err)
			}
			dst = netip.AddrPortFrom(netip.AddrFrom4([4]byte{255, 255, 255, 255}), dhcpv4.ServerPort)
		} else {
			ra := a
			ra[3] += byte(k)
			addr = netip.AddrFrom4(ra)
			var err error
			if conn, err = listenRelay(netip.AddrPortFrom(addr, relayPort)); err != nil {
				return nil, fmt.Errorf("relay socket %v:%d: %w", addr, relayPort, err)
			}
		}
		defer conn.Close()
		n := min(per, o.clients-k*per)
		w := newWorker(k, n, conn, dst, addr, scenario == "forcerenew", o.seed)
		if o.iface != "" {
			// RFC 2131 §4.1: a client that cannot receive unicast before
			// it has an address sets BROADCAST; the replies reach every
			// worker's socket, each keeps those for its own MACs.
			w.env.Broadcast, w.direct = true, true
		}
		w.env.Retransmit = o.timeout
		w.env.MaxTries = o.retries + 1
		ws = append(ws, w)
	}
	for _, w := range ws {
		bg.Add(1)
		go w.reader(ctx, &bg)
	}
	if scenario == "forcerenew" {
		if o.null {
			return nil, errors.New("forcerenew needs leased (no --null)")
		}
		conn, err := listenReuse(netip.AddrPortFrom(netip.IPv4Unspecified(), dhcpv4.ClientPort))
		if err != nil {
			return nil, fmt.Errorf("forcerenew listener :68: %w", err)
		}
		defer conn.Close()
		bg.Add(1)
		go forceRenewReader(ctx, conn, ws, &bg)
	}

	window := o.window
	if window <= 0 {
		// A larger window overflows the server's socket receive buffer
		// (212 KB by default: ~200 requests) and measures kernel drops.
		window = 128
		if storm {
			window = per
		}
	}
	perCount := func(total int) int {
		if total <= 0 {
			return -1
		}
		return (total + len(ws) - 1) / len(ws)
	}
	prog := func(name string, s stats, el time.Duration, busy int) {
		if o.quiet {
			return
		}
		fmt.Fprintf(stderr, "%s %5.1fs started %d completed %d (%.0f/s) lost %d nak %d in-flight %d\n",
			name, el.Seconds(), s.started, s.completed, float64(s.completed)/el.Seconds(), s.lost, s.naks, busy)
	}
	base := phase{timeout: o.timeout, retries: o.retries, window: window}

	// Preparation: bind every client (unmeasured, flat out).
	if scenario == "renew" || storm {
		p := base
		p.name, p.count, p.window = "prepare", per, min(window, 128)
		p.retries = max(o.retries, 2)
		p.start = startDORA
		t := time.Now()
		st, _ := runPhase(ctx, ws, p, 0, prog)
		res.PrepareSeconds = time.Since(t).Seconds()
		if ctx.Err() != nil {
			return nil, errors.New("interrupted")
		}
		// A few clients that could not bind (lost after retries under a
		// flat-out burst) are tolerated: the storm runs over the bound ones.
		if st.completed < o.clients-o.clients/100 {
			return nil, fmt.Errorf("prepare: only %d of %d clients bound (%d lost, %d NAK)", st.completed, o.clients, st.lost, st.naks)
		}
		if st.completed != o.clients {
			fmt.Fprintf(stderr, "leasebench: prepare: %d of %d clients bound; the storm covers those\n", st.completed, o.clients)
		}
	}

	p := base
	p.name, p.count, p.rate = scenario, perCount(o.count), o.rate/float64(len(ws))
	switch scenario {
	case "dora":
		p.start = startDORA
	case "bad":
		p.start, p.badShare = startDORA, o.badShare
		res.OfferedRate = o.rate
	case "decline":
		p.start = startDecline
	case "renew":
		p.start = startRenew
	case "mixed":
		p.start = startMixed
	case "init-reboot":
		p.start = startReboot // a client that did not bind does a DORA
	case "forcerenew":
		p.waitOnly, p.count = true, -1
	}
	cpu0, bcpu0 := procCPU(o.serverPID), selfCPU()
	// The storms also read leased's allocations over the phase (its Go
	// runtime counters on the control socket).
	gs0, gsErr := goStats{}, errors.New("not read")
	if storm && o.serverPID > 0 && !o.null {
		gs0, gsErr = scrapeGoStats(ctx, o.control)
	}
	var st stats
	var el time.Duration
	if scenario == "forcerenew" {
		st, el = forceRenewPhase(ctx, ws, p, o, res, prog)
	} else {
		st, el = runPhase(ctx, ws, p, o.duration, prog)
	}
	if o.serverPID > 0 {
		res.ServerCPUSeconds = procCPU(o.serverPID) - cpu0
		if st.completed > 0 {
			res.ServerCPUMsPer1000 = res.ServerCPUSeconds * 1e6 / float64(st.completed)
		}
	}
	if gsErr == nil {
		if gs1, err := scrapeGoStats(ctx, o.control); err == nil {
			res.ServerMallocs, res.ServerAllocBytes = gs1.mallocs-gs0.mallocs, gs1.allocBytes-gs0.allocBytes
			res.ServerGCCycles = gs1.gcCycles - gs0.gcCycles
		}
	}
	res.BenchCPUSeconds = selfCPU() - bcpu0
	res.Seconds = el.Seconds()
	res.Started, res.Completed, res.Lost, res.NAKs = st.started, st.completed, st.lost, st.naks
	res.BadSent, res.Dropped, res.SendErrors = st.badSent, st.dropped, st.sendErrs
	res.Retransmits, res.Duplicates = st.retransmits, st.duplicates
	if el > 0 {
		res.AchievedRate = float64(st.completed) / el.Seconds()
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	res.LatencyMs.P50, res.LatencyMs.P99, res.LatencyMs.P999 = ms(st.lat.quantile(0.5)), ms(st.lat.quantile(0.99)), ms(st.lat.quantile(0.999))
	res.LatencyMs.Max, res.LatencyMs.Mean = ms(time.Duration(st.lat.max)*time.Microsecond), ms(st.lat.mean())
	return res, nil
}

func startDORA(w *worker, now time.Time) bool {
	i, ok := w.nextClient()
	if !ok {
		return false
	}
	w.begin(i, kDORA, w.clients[i].Discover(&w.env, now))
	return true
}

func startDecline(w *worker, now time.Time) bool {
	i, ok := w.nextClient()
	if !ok {
		return false
	}
	w.begin(i, kDecline, w.clients[i].Discover(&w.env, now))
	return true
}

func startRenew(w *worker, now time.Time) bool {
	i, ok := w.nextClient()
	if !ok {
		return false
	}
	c := &w.clients[i]
	if c.State() != client.Bound {
		w.begin(i, kDORA, c.Discover(&w.env, now))
		return true
	}
	w.begin(i, kRenew, c.Renew(&w.env, now))
	return true
}

// startMixed: a client in INIT does a DORA (new client); a bound one
// renews (70 %) or releases (30 %, no reply: completes at once).
func startMixed(w *worker, now time.Time) bool {
	i, ok := w.nextClient()
	if !ok {
		return false
	}
	c := &w.clients[i]
	switch {
	case c.State() != client.Bound:
		w.begin(i, kDORA, c.Discover(&w.env, now))
	case w.rng.IntN(10) < 7:
		w.begin(i, kRenew, c.Renew(&w.env, now))
	default:
		w.begin(i, kRenew, c.Release(&w.env, now))
		c.Begin = now.UnixNano()
		w.finish(i, now, true)
	}
	return true
}

func startReboot(w *worker, now time.Time) bool {
	i, ok := w.nextClient()
	if !ok {
		return false
	}
	w.begin(i, kReboot, w.clients[i].Reboot(&w.env, now))
	return true
}

// forceRenewPhase marks every bound client as waiting, starts a campaign
// over all of them through the control API (or, when the API has no
// campaigns, POST /v1/leases/{addr}/forcerenew per client) and waits until
// each renewed.
func forceRenewPhase(ctx context.Context, ws []*worker, p phase, o options, res *Result, prog func(string, stats, time.Duration, int)) (stats, time.Duration) {
	var addrs []netip.Addr
	for _, w := range ws {
		w.mu.Lock()
		for i := range w.clients {
			if w.clients[i].State() == client.Bound {
				w.kind[i] = kForce | active
				w.inflight++
				w.started++
				addrs = append(addrs, w.clients[i].Addr())
			}
		}
		w.mu.Unlock()
	}
	started := len(addrs)
	apiCtx, cancel := context.WithCancel(ctx)
	// The API calls write res: they end before the caller reads it.
	apiDone := make(chan struct{})
	defer func() { cancel(); <-apiDone }()
	go func() {
		defer close(apiDone)
		t := time.Now()
		cl := api.NewUnixClient(o.control, 30*time.Second)
		zero := 0
		_, err := cl.StartCampaign(apiCtx, api.CampaignRequest{Selector: api.CampaignSelector{All: true},
			Options: api.CampaignOptions{Pace: &zero, Attempts: o.retries + 1, Interval: o.timeout.String()}})
		if err == nil {
			res.ForceRenewMethod = "campaign"
		} else {
			res.ForceRenewMethod = "per-lease POST (campaign: " + err.Error() + ")"
			var wg sync.WaitGroup
			ch := make(chan netip.Addr)
			for range 16 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for a := range ch {
						_, _ = cl.ForceRenew(apiCtx, a)
					}
				}()
			}
			for _, a := range addrs {
				select {
				case ch <- a:
				case <-apiCtx.Done():
				}
			}
			close(ch)
			wg.Wait()
		}
		res.ForceRenewAPISeconds = time.Since(t).Seconds()
	}()
	st, el := runPhase(ctx, ws, p, o.duration, prog)
	st.started = started
	return st, el
}

// forceRenewReader receives FORCERENEWs on :68 and hands each to the
// worker owning the client.
func forceRenewReader(ctx context.Context, conn *net.UDPConn, ws []*worker, wg *sync.WaitGroup) {
	defer wg.Done()
	buf := make([]byte, 1500)
	var m dhcpv4.Message
	for ctx.Err() == nil {
		_ = conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		n, _, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			continue
		}
		if m.Decode(buf[:n]) != nil {
			continue
		}
		_, salt, ok := client.IndexOf(m.HWAddr())
		if !ok || int(salt) >= len(ws) {
			continue
		}
		w := ws[salt]
		w.mu.Lock()
		w.handle(&m, time.Now())
		w.flush()
		w.mu.Unlock()
	}
}

func printResult(w io.Writer, r *Result) {
	fam := ""
	if r.Family == 6 {
		fam = " (DHCPv6, link " + r.Link + ")"
	}
	fmt.Fprintf(w, "scenario %s against %s%s: %d clients (%d B each)\n", r.Scenario, r.Server, fam, r.Clients, r.BytesPerClient)
	if r.PrepareSeconds > 0 {
		fmt.Fprintf(w, "  prepare (bind all)  %.2f s\n", r.PrepareSeconds)
	}
	offered := "flat out"
	if r.OfferedRate > 0 {
		offered = fmt.Sprintf("%.0f/s", r.OfferedRate)
	}
	fmt.Fprintf(w, "  offered %s, achieved %.0f exchanges/s over %.2f s\n", offered, r.AchievedRate, r.Seconds)
	fmt.Fprintf(w, "  started %d  completed %d  lost %d  nak %d  bad sent %d  replies dropped %d  send errors %d\n",
		r.Started, r.Completed, r.Lost, r.NAKs, r.BadSent, r.Dropped, r.SendErrors)
	if r.Retransmits > 0 || r.Duplicates > 0 {
		fmt.Fprintf(w, "  retransmitted %d  duplicate replies %d\n", r.Retransmits, r.Duplicates)
	}
	fmt.Fprintf(w, "  latency ms: p50 %.3f  p99 %.3f  p99.9 %.3f  max %.3f  mean %.3f\n",
		r.LatencyMs.P50, r.LatencyMs.P99, r.LatencyMs.P999, r.LatencyMs.Max, r.LatencyMs.Mean)
	if r.ServerCPUSeconds > 0 {
		fmt.Fprintf(w, "  server CPU %.2f s (%.1f ms per 1000 exchanges)\n", r.ServerCPUSeconds, r.ServerCPUMsPer1000)
	}
	if r.ServerMallocs > 0 && r.Completed > 0 {
		n := float64(r.Completed)
		fmt.Fprintf(w, "  server allocations %.0f (%.1f per exchange), %.1f MB (%.0f B per exchange), %.0f GC cycles\n",
			r.ServerMallocs, r.ServerMallocs/n, r.ServerAllocBytes/1e6, r.ServerAllocBytes/n, r.ServerGCCycles)
	}
	fmt.Fprintf(w, "  leasebench CPU %.2f s\n", r.BenchCPUSeconds)
	if r.ForceRenewMethod != "" {
		what := "forcerenew"
		if r.Family == 6 {
			what = "reconfigure"
		}
		fmt.Fprintf(w, "  %s via %s (API calls took %.2f s)\n", what, r.ForceRenewMethod, r.ForceRenewAPISeconds)
	}
}

// defaultTimeout is --timeout when not given: 2 s, but the DHCPv4 storms
// retransmit as RFC 2131 §4.1 says a client does, the first time after
// 4 s (then doubling). With 2 s, requests still queued at the server when
// it ran out were sent again, and answered twice, although the first copy
// was on its way (bench/storms counted 17,113 retransmissions with no
// receive-buffer drop in a 100,000-client INIT-REBOOT storm).
func defaultTimeout(family int, scenario string) time.Duration {
	if family == 4 && (scenario == "init-reboot" || scenario == "forcerenew") {
		return 4 * time.Second
	}
	return 2 * time.Second
}

// procCPU returns utime+stime of pid in seconds from /proc/PID/stat
// (fields 14 and 15, clock ticks; proc(5)); 0 when pid is 0 or unreadable.
func procCPU(pid int) float64 {
	if pid <= 0 {
		return 0
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	return parseStatCPU(string(b))
}

func parseStatCPU(s string) float64 {
	// The command name (field 2) is in parentheses and may hold spaces.
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state): utime is field 14 → f[11], stime f[12].
	if len(f) < 13 {
		return 0
	}
	ut, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0
	}
	return float64(ut+st) / clockTicks
}

// clockTicks is sysconf(_SC_CLK_TCK): 100 on every Linux architecture Go supports.
const clockTicks = 100

func selfCPU() float64 {
	var ru unix.Rusage
	if unix.Getrusage(unix.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// benchRcvBuf is the receive buffer leasebench asks for on its sockets.
const benchRcvBuf = 64 << 20

// listenReuse opens a UDP socket with SO_REUSEADDR and large buffers.
func listenReuse(addr netip.AddrPort) (*net.UDPConn, error) {
	lc := net.ListenConfig{Control: func(network, address string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
			// FORCE variants (root) exceed net.core.rmem_max, so that
			// leasebench's own socket is not where bursts are dropped:
			// in a 100,000-client storm the replies come faster than the
			// one reader takes them, and with 8 MiB (16 MiB effective)
			// 1,000-2,600 ACKs per storm were dropped here (bench/storms
			// attributes them: leased's socket dropped none), each one a
			// client retransmitting 4 s later. The kernel charges memory
			// only while datagrams are queued.
			if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, benchRcvBuf) != nil {
				_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, benchRcvBuf)
			}
			if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, 8<<20) != nil {
				_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUF, 8<<20)
			}
		})
		if err != nil {
			return err
		}
		return serr
	}}
	network := "udp4"
	if addr.Addr().Is6() {
		network = "udp6"
	}
	pc, err := lc.ListenPacket(context.Background(), network, addr.String())
	if err != nil {
		return nil, err
	}
	return pc.(*net.UDPConn), nil
}

// listenDirect opens a direct-mode socket: 0.0.0.0:68 bound to iface
// (SO_BINDTODEVICE, so that broadcasts leave and are received on iface
// only) with SO_BROADCAST for sending to 255.255.255.255:67. SO_REUSEADDR
// lets several workers (and a real client) share the port; each receives a
// copy of every broadcast reply.
func listenDirect(iface string) (*net.UDPConn, error) {
	lc := net.ListenConfig{Control: func(network, address string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			for _, o := range [...]int{unix.SO_REUSEADDR, unix.SO_BROADCAST} {
				if serr == nil {
					serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, o, 1)
				}
			}
			if serr == nil {
				serr = unix.BindToDevice(int(fd), iface)
			}
			if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 8<<20) != nil {
				_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, 8<<20)
			}
			if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, 8<<20) != nil {
				_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUF, 8<<20)
			}
		})
		if err != nil {
			return err
		}
		return serr
	}}
	pc, err := lc.ListenPacket(context.Background(), "udp4", netip.AddrPortFrom(netip.IPv4Unspecified(), dhcpv4.ClientPort).String())
	if err != nil {
		return nil, err
	}
	return pc.(*net.UDPConn), nil
}
