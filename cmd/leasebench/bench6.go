package main

// DHCPv6 scenarios (--family 6 / -6): leasebench is a DHCPv6 relay agent
// (RFC 8415 §19.1.1) over loopback. Every worker binds an unprivileged UDP
// port on --relay (::1 by default) and sends Relay-forward messages to
// --server ([::1]:547) with link-address --link (an address inside the
// pool's subnet, which selects the pool), peer-address the client's EUI-64
// link-local address, an Interface-Id ("lb<worker>") and the Relay Source
// Port option (RFC 8357, code 135), so the server answers the worker's own
// port. Reconfigure messages come back the same way, as Relay-reply.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"

	"github.com/leased/leased/api"
	"github.com/leased/leased/client"
	"github.com/leased/leased/dhcpv6"
)

// v6Scenarios are the DHCPv6 scenarios.
var v6Scenarios = map[string]bool{"solicit": true, "renew": true, "release": true, "reconfigure": true}

func bench6(ctx context.Context, scenario string, o options, stderr io.Writer) (*Result, error) {
	if !v6Scenarios[scenario] {
		return nil, fmt.Errorf("unknown DHCPv6 scenario %q (solicit, renew, release, reconfigure)", scenario)
	}
	if o.iface != "" {
		return nil, errors.New("--iface (direct mode) is DHCPv4 only; DHCPv6 runs in relay mode")
	}
	storm := scenario == "reconfigure"
	if o.via != "campaign" && o.via != "lease" {
		return nil, fmt.Errorf("--via %q: want campaign or lease", o.via)
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
	res := &Result{Scenario: scenario, Family: 6, Server: o.server6.String(), Null: o.null, Clients: o.clients,
		BytesPerClient: int(client.Size6) + 1, OfferedRate: o.rate, Link: o.link.String()}

	ctx, cancel := context.WithCancel(ctx)
	var bg sync.WaitGroup
	defer func() { cancel(); bg.Wait() }()
	if o.null {
		if storm {
			return nil, errors.New("reconfigure needs leased (no --null)")
		}
		nc, err := listenReuse(netip.AddrPortFrom(netip.IPv6Loopback(), 0))
		if err != nil {
			return nil, fmt.Errorf("null server: %w", err)
		}
		o.server6 = nc.LocalAddr().(*net.UDPAddr).AddrPort()
		res.Server = "null " + o.server6.String()
		bg.Add(1)
		go func() { defer bg.Done(); nullServe6(ctx, nc) }()
	}

	flags := client.V6ReconfAccept
	switch o.ia {
	case "na":
		flags |= client.V6IANA
	case "pd":
		flags |= client.V6IAPD
	case "both":
		flags |= client.V6IANA | client.V6IAPD
	default:
		return nil, fmt.Errorf("--ia %q: want na, pd or both", o.ia)
	}
	if o.rapidCommit {
		flags |= client.V6RapidCommit
	}
	per := (o.clients + o.sockets - 1) / o.sockets
	ws := make([]*worker, 0, o.sockets)
	for k := range o.sockets {
		conn, err := listenReuse(netip.AddrPortFrom(o.relay6, 0))
		if err != nil {
			return nil, fmt.Errorf("relay socket [%v]:0: %w", o.relay6, err)
		}
		defer conn.Close()
		n := min(per, o.clients-k*per)
		w := newWorker6(k, n, conn, o.server6, flags, o.seed)
		w.env6.Relay = client.Relay6{LinkAddr: o.link, InterfaceID: fmt.Appendf(nil, "lb%d", k), SourcePort: true}
		w.env6.Retransmit = o.timeout
		w.env6.MaxTries = o.retries + 1
		ws = append(ws, w)
	}
	for _, w := range ws {
		bg.Add(1)
		go w.reader6(ctx, &bg)
	}

	window := o.window
	if window <= 0 {
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
		fmt.Fprintf(stderr, "%s %5.1fs started %d completed %d (%.0f/s) lost %d no-addrs %d in-flight %d\n",
			name, el.Seconds(), s.started, s.completed, float64(s.completed)/el.Seconds(), s.lost, s.naks, busy)
	}
	base := phase{timeout: o.timeout, retries: o.retries, window: window}

	// Preparation: bind every client (unmeasured, flat out).
	if scenario != "solicit" {
		p := base
		p.name, p.count, p.window = "prepare", per, min(window, 128)
		p.retries = max(o.retries, 2)
		p.start = startSolicit
		t := time.Now()
		st, _ := runPhase(ctx, ws, p, 0, prog)
		res.PrepareSeconds = time.Since(t).Seconds()
		if ctx.Err() != nil {
			return nil, errors.New("interrupted")
		}
		if st.completed < o.clients-o.clients/100 {
			return nil, fmt.Errorf("prepare: only %d of %d clients bound (%d lost, %d no-addrs)", st.completed, o.clients, st.lost, st.naks)
		}
		if st.completed != o.clients {
			fmt.Fprintf(stderr, "leasebench: prepare: %d of %d clients bound; the scenario covers those\n", st.completed, o.clients)
		}
	}

	p := base
	p.name, p.count, p.rate = scenario, perCount(o.count), o.rate/float64(len(ws))
	switch scenario {
	case "solicit":
		p.start = startSolicit
	case "renew":
		p.start = startRenew6
	case "release":
		p.start = startRelease6
	case "reconfigure":
		p.waitOnly, p.count = true, -1
	}
	cpu0, bcpu0 := procCPU(o.serverPID), selfCPU()
	var st stats
	var el time.Duration
	if storm {
		st, el = reconfigurePhase(ctx, ws, p, o, res, prog)
	} else {
		st, el = runPhase(ctx, ws, p, o.duration, prog)
	}
	fillResult(res, o, st, el, cpu0, bcpu0)
	return res, nil
}

// fillResult copies a phase's statistics into res.
func fillResult(res *Result, o options, st stats, el time.Duration, cpu0, bcpu0 float64) {
	if o.serverPID > 0 {
		res.ServerCPUSeconds = procCPU(o.serverPID) - cpu0
		if st.completed > 0 {
			res.ServerCPUMsPer1000 = res.ServerCPUSeconds * 1e6 / float64(st.completed)
		}
	}
	res.BenchCPUSeconds = selfCPU() - bcpu0
	res.Seconds = el.Seconds()
	res.Started, res.Completed, res.Lost, res.NAKs = st.started, st.completed, st.lost, st.naks
	res.BadSent, res.Dropped, res.SendErrors = st.badSent, st.dropped, st.sendErrs
	if el > 0 {
		res.AchievedRate = float64(st.completed) / el.Seconds()
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	res.LatencyMs.P50, res.LatencyMs.P99, res.LatencyMs.P999 = ms(st.lat.quantile(0.5)), ms(st.lat.quantile(0.99)), ms(st.lat.quantile(0.999))
	res.LatencyMs.Max, res.LatencyMs.Mean = ms(time.Duration(st.lat.max)*time.Microsecond), ms(st.lat.mean())
}

func newWorker6(id, n int, conn *net.UDPConn, dst netip.AddrPort, flags uint8, seed uint64) *worker {
	w := &worker{id: id, salt: byte(id), conn: conn, pc: ipv6.NewPacketConn(conn), v6: true,
		dst: net.UDPAddrFromAddrPort(dst), clients6: make([]client.Client6, n), kind: make([]uint8, n)}
	w.env6.Seed = seed ^ uint64(id)<<32
	for i := range w.clients6 {
		w.clients6[i] = client.New6(client.HWAddrFor(uint32(i), w.salt), flags)
	}
	w.out = make([]ipv4.Message, 0, batchLen)
	return w
}

// begin6 records a started DHCPv6 exchange for client i. mu held.
func (w *worker) begin6(i int, k uint8, out client.Out6) {
	w.kind[i] = k | active
	w.inflight++
	w.started++
	w.st.started++
	w.queue(out.Packet)
	w.track(i)
}

// retransmit6 retransmits client i's message when retries remain; false
// when the exchange is lost. mu held.
func (w *worker) retransmit6(i int, p pend, now time.Time) bool {
	c := &w.clients6[i]
	if int(c.Tries()) > w.ph.retries {
		return false
	}
	out := c.Timer(&w.env6, now)
	if out.Packet == nil {
		return false
	}
	w.queue(out.Packet)
	w.pending = append(w.pending, pend{idx: p.idx, begin: p.begin, checkAt: c.Deadline(&w.env6)})
	return true
}

func startSolicit(w *worker, now time.Time) bool {
	i, ok := w.nextClient()
	if !ok {
		return false
	}
	w.begin6(i, kDORA, w.clients6[i].Solicit(&w.env6, now))
	return true
}

func startRenew6(w *worker, now time.Time) bool {
	i, ok := w.nextClient()
	if !ok {
		return false
	}
	c := &w.clients6[i]
	if c.State() != client.V6Bound {
		w.begin6(i, kDORA, c.Solicit(&w.env6, now))
		return true
	}
	w.begin6(i, kRenew, c.Renew(&w.env6, now))
	return true
}

// startRelease6: a bound client releases (and waits for the Reply, RFC
// 8415 §18.2.7); one in INIT solicits.
func startRelease6(w *worker, now time.Time) bool {
	i, ok := w.nextClient()
	if !ok {
		return false
	}
	c := &w.clients6[i]
	if c.State() != client.V6Bound {
		w.begin6(i, kDORA, c.Solicit(&w.env6, now))
		return true
	}
	w.begin6(i, kRelease, c.Release(&w.env6, now))
	return true
}

// handle6 processes one DHCPv6 message for this worker. mu held.
func (w *worker) handle6(m *dhcpv6.Message, now time.Time) {
	idx, salt, ok := client.IndexOfDUID(m.ClientID())
	if !ok || salt != w.salt || int(idx) >= len(w.clients6) {
		w.st.dropped++
		return
	}
	i := int(idx)
	c := &w.clients6[i]
	begin := c.Begin
	out, err := c.Handle(&w.env6, now, m)
	if err != nil {
		if debug {
			println("drop", i, c.State().String(), m.Type.String(), err.Error())
		}
		w.st.dropped++
		return
	}
	w.queue(out.Packet)
	k := w.kind[i]
	if k&active == 0 {
		return // a late reply to an exchange already counted lost
	}
	switch out.Event {
	case client.Ev6Bound, client.Ev6Renewed, client.Ev6Informed, client.Ev6Released:
		switch {
		case k&^active == kForce:
			// latency of a reconfigure: from the campaign start
			c.Begin = w.ph.t0.UnixNano()
		case out.Event == client.Ev6Released:
			c.Begin = begin // the client is back in INIT, Begin cleared
		}
		w.finish(i, now, true)
		if w.ph.rate == 0 {
			w.startSome(now)
		}
	case client.Ev6NoAddrs:
		w.st.naks++
		w.finish(i, now, false)
	case client.Ev6Dropped, client.Ev6NoBinding, client.Ev6Reconfigure:
		// A new exchange (Solicit, Request, Renew) continues this one.
		if w.ph.timeout > 0 {
			w.pending = append(w.pending, pend{idx: uint32(i), begin: c.Begin, checkAt: c.Deadline(&w.env6)})
		}
	}
}

// reader6 reads Relay-reply messages on the worker's socket until ctx ends.
func (w *worker) reader6(ctx context.Context, wg *sync.WaitGroup) {
	defer wg.Done()
	msgs := make([]ipv4.Message, batchLen)
	for i := range msgs {
		msgs[i].Buffers = [][]byte{make([]byte, 1500)}
	}
	var m dhcpv6.Message
	for ctx.Err() == nil {
		_ = w.conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		n, err := w.pc.ReadBatch(msgs, 0)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		now := time.Now()
		w.mu.Lock()
		for k := range n {
			if err := m.Decode(msgs[k].Buffers[0][:msgs[k].N]); err != nil || len(m.Relays()) == 0 || m.Relays()[0].Type != dhcpv6.RelayReply {
				w.st.dropped++
				continue
			}
			w.handle6(&m, now)
		}
		w.flush()
		w.mu.Unlock()
	}
}

// reconfigurePhase marks every bound client as waiting, starts one
// campaign over them through the control API (--pool, or every DHCPv6
// lease) and
// waits until each has verified its Reconfigure and renewed.
func reconfigurePhase(ctx context.Context, ws []*worker, p phase, o options, res *Result, prog func(string, stats, time.Duration, int)) (stats, time.Duration) {
	started := 0
	keyless := 0
	var targets []string // --via lease: each bound client's address or prefix
	for _, w := range ws {
		w.mu.Lock()
		for i := range w.clients6 {
			c := &w.clients6[i]
			if c.State() == client.V6Bound {
				if !c.HasKey() {
					keyless++
				}
				w.kind[i] = kForce | active
				w.inflight++
				w.started++
				started++
				if a := c.Addr(); a.IsValid() {
					targets = append(targets, a.String())
				} else {
					targets = append(targets, c.Prefix().String())
				}
			}
		}
		w.mu.Unlock()
	}
	if keyless > 0 {
		res.ForceRenewMethod = fmt.Sprintf("%d bound clients got no reconfigure key; ", keyless)
	}
	apiCtx, cancel := context.WithCancel(ctx)
	// The API calls write res: they end before the caller reads it.
	apiDone := make(chan struct{})
	defer func() { cancel(); <-apiDone }()
	go func() {
		defer close(apiDone)
		t := time.Now()
		defer func() { res.ForceRenewAPISeconds = time.Since(t).Seconds() }()
		cl := api.NewUnixClient(o.control, 30*time.Second)
		if o.via == "lease" {
			// One POST /v1/leases/{addr}/reconfigure per client, 16 at a time.
			var wg sync.WaitGroup
			var mu sync.Mutex
			fails := 0
			ch := make(chan string)
			for range 16 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for a := range ch {
						// A POST still unanswered when the run ends (its
						// client may have renewed already) is cut short,
						// not failed.
						if _, err := cl.Reconfigure(apiCtx, a); err != nil && apiCtx.Err() == nil {
							mu.Lock()
							fails++
							mu.Unlock()
						}
					}
				}()
			}
			for _, a := range targets {
				select {
				case ch <- a:
				case <-apiCtx.Done():
				}
			}
			close(ch)
			wg.Wait()
			res.ForceRenewMethod += fmt.Sprintf("per-lease POST (%d failed)", fails)
			return
		}
		zero := 0
		sel := api.CampaignSelector{Family: 6}
		if o.pool != "" {
			sel = api.CampaignSelector{Pool: o.pool}
		}
		_, err := cl.StartCampaign(apiCtx, api.CampaignRequest{Selector: sel,
			Options: api.CampaignOptions{Pace: &zero, Attempts: o.retries + 1, Interval: o.timeout.String()}})
		if err == nil {
			res.ForceRenewMethod += "campaign"
		} else {
			res.ForceRenewMethod += "campaign failed: " + err.Error()
		}
	}()
	st, el := runPhase(ctx, ws, p, o.duration, prog)
	st.started = started
	return st, el
}
