package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/leased/leased/auth"
	"github.com/leased/leased/dhcpv4"
	"github.com/leased/leased/lease"
	"github.com/leased/leased/reconf"
	"github.com/leased/leased/store"
	"github.com/leased/leased/store/wal"
)

// campConfig: pool "loop", 127.0.0.0/16 with one section of 127.0.1.0 -
// 127.0.60.255 (15,616 addresses), relayed through 127.0.0.2.
func campConfig() lease.Config {
	return lease.Config{
		LeaseTime: time.Hour,
		OfferHold: 10 * time.Second,
		Pools: []lease.Pool{{
			Name:          "loop",
			Subnet:        netip.MustParsePrefix("127.0.0.0/16"),
			Gateway:       netip.MustParseAddr("127.0.0.1"),
			DNS:           []netip.Addr{netip.MustParseAddr("127.0.0.53")},
			Authoritative: true,
			Sections: []lease.Section{{
				Index: 0, Start: netip.MustParseAddr("127.0.1.0"), End: netip.MustParseAddr("127.0.60.255"),
			}},
		}},
	}
}

// fast: short retry schedule (sends at 0, 100, 300 ms; give up at 700 ms).
func fast() reconf.Options {
	o := reconf.DefaultOptions()
	o.Attempts, o.Interval, o.Pace = 3, 100*time.Millisecond, 0
	return o
}

// simClient is a simulated RFC 6704 client behind the test relay.
type simClient struct {
	mac    [6]byte
	addr   netip.Addr
	key    []byte
	last   uint64 // last replay value authenticated
	silent bool   // ignores FORCERENEW
	frs    int    // FORCERENEWs verified
	naks   int
	acks   int
}

// simNet runs a server with the real engine and WAL and simulated clients:
// replies arrive through the relay, FORCERENEWs on port 68 (root only).
type simNet struct {
	t     testing.TB
	dir   string
	s     *Server
	eng   *lease.Engine
	w     *wal.WAL
	relay *testRelay
	fr    *net.UDPConn
	stop  func()

	mu      sync.Mutex
	byAddr  map[netip.Addr]*simClient
	waiting map[uint32]chan *dhcpv4.Message
	xid     atomic.Uint32
	bad     atomic.Int64 // FORCERENEWs that failed verification
	wg      sync.WaitGroup
	quit    chan struct{}
}

func newSimNet(t testing.TB, dir string, cfg lease.Config, cc CampaignConfig, fr *net.UDPConn) *simNet {
	t.Helper()
	return newSimNetWith(t, dir, cfg, cc, fr, nil)
}

// newSimNetWith is newSimNet with mod applied to the server's Options.
func newSimNetWith(t testing.TB, dir string, cfg lease.Config, cc CampaignConfig, fr *net.UDPConn, mod func(*Options)) *simNet {
	t.Helper()
	n := &simNet{t: t, dir: dir, byAddr: map[netip.Addr]*simClient{}, waiting: map[uint32]chan *dhcpv4.Message{}, quit: make(chan struct{})}
	if fr == nil {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{Port: dhcpv4.ClientPort})
		if err != nil {
			skipUnlessCI(t, "cannot listen on UDP port 68 for FORCERENEWs (needs root): %v", err)
		}
		fr = c
		t.Cleanup(func() { c.Close() })
	}
	n.fr = fr
	n.xid.Store(0x10000)
	eng, err := lease.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	w, err := wal.Open(dir, wal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Load(func(l lease.Lease) error { eng.Restore(l); return nil }); err != nil {
		t.Fatal(err)
	}
	relayPort := freeUDPPort(t)
	opts := Options{
		Interfaces: []string{"lo"}, Port: freeUDPPort(t), RelayPort: relayPort,
		Engine: eng, Store: w, Logger: testLogger(t), Registry: prometheus.NewRegistry(),
		Config: &cfg, Campaigns: cc, MaxInFlight: 1024,
	}
	if mod != nil {
		mod(&opts)
	}
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	n.s, n.eng, n.w = s, eng, w
	n.relay = newTestRelay(t, "127.0.0.2", relayPort, s.Port())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	n.wg.Add(2)
	go n.readReplies()
	go n.readForceRenews()
	var once sync.Once
	n.stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Run did not stop")
			}
			if err := w.Close(); err != nil {
				t.Errorf("wal close: %v", err)
			}
			close(n.quit)
			n.relay.conn.SetReadDeadline(time.Unix(1, 0))
			n.fr.SetReadDeadline(time.Unix(1, 0))
			n.wg.Wait()
			n.relay.conn.SetReadDeadline(time.Time{})
			n.fr.SetReadDeadline(time.Time{})
		})
	}
	t.Cleanup(n.stop)
	return n
}

func (n *simNet) readReplies() {
	defer n.wg.Done()
	buf := make([]byte, 2048)
	for {
		_ = n.relay.conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		k, _, err := n.relay.conn.ReadFromUDPAddrPort(buf)
		select {
		case <-n.quit:
			return
		default:
		}
		if err != nil {
			continue
		}
		m := new(dhcpv4.Message)
		if m.Decode(bytes.Clone(buf[:k])) != nil {
			continue
		}
		n.mu.Lock()
		ch := n.waiting[m.XID]
		delete(n.waiting, m.XID)
		n.mu.Unlock()
		if ch != nil {
			ch <- m
		}
	}
}

// exchange sends c through the relay and waits for the reply to its xid.
func (n *simNet) exchange(c clientMsg) (*dhcpv4.Message, bool) {
	c.xid = n.xid.Add(1)
	ch := make(chan *dhcpv4.Message, 1)
	n.mu.Lock()
	n.waiting[c.xid] = ch
	n.mu.Unlock()
	c.giaddr = n.relay.addr
	if _, err := n.relay.conn.WriteToUDPAddrPort(buildMsg(n.t, c), n.relay.server); err != nil {
		n.t.Error(err)
		return nil, false
	}
	select {
	case m := <-ch:
		return m, true
	case <-time.After(3 * time.Second):
		n.mu.Lock()
		delete(n.waiting, c.xid)
		n.mu.Unlock()
		return nil, false
	}
}

var hmacNonce = []byte{dhcpv4.AuthAlgHMACMD5}

// dora binds c (with option 145, so it gets a reconfigure key).
func (n *simNet) dora(c *simClient) error {
	off, ok := n.exchange(clientMsg{typ: dhcpv4.Discover, mac: c.mac, nonce: hmacNonce})
	if !ok || off.Type() != dhcpv4.Offer {
		return fmt.Errorf("client %x: no OFFER", c.mac)
	}
	ack, ok := n.exchange(clientMsg{typ: dhcpv4.Request, mac: c.mac, reqIP: off.YIAddr, serverID: netip.MustParseAddr("127.0.0.1"), nonce: hmacNonce})
	if !ok || ack.Type() != dhcpv4.Ack {
		return fmt.Errorf("client %x: no ACK", c.mac)
	}
	a, ok := ack.Auth()
	if !ok || len(a.Info) != 17 {
		return fmt.Errorf("client %x: ACK without reconfigure key", c.mac)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if c.addr.IsValid() && n.byAddr[c.addr] == c {
		delete(n.byAddr, c.addr)
	}
	c.addr, c.key, c.last = ack.YIAddr, bytes.Clone(a.Info[1:]), a.ReplayDetection
	c.acks++
	n.byAddr[c.addr] = c
	return nil
}

// renew sends a RENEWING request (unicast, ciaddr) and follows a NAK with
// a DORA, as an RFC 2131 client does.
func (n *simNet) renew(c *simClient) error {
	n.mu.Lock()
	addr := c.addr
	n.mu.Unlock()
	m, ok := n.exchange(clientMsg{typ: dhcpv4.Request, mac: c.mac, ciaddr: addr, nonce: hmacNonce})
	if !ok {
		return fmt.Errorf("client %v: no answer to renew", addr)
	}
	switch m.Type() {
	case dhcpv4.Ack:
		n.mu.Lock()
		c.acks++
		if a, ok := m.Auth(); ok && len(a.Info) == 17 {
			c.key, c.last = bytes.Clone(a.Info[1:]), a.ReplayDetection
		}
		n.mu.Unlock()
		return nil
	case dhcpv4.Nak:
		n.mu.Lock()
		c.naks++
		n.mu.Unlock()
		return n.dora(c)
	}
	return fmt.Errorf("client %v: renew answered with %v", addr, m.Type())
}

func (n *simNet) readForceRenews() {
	defer n.wg.Done()
	buf := make([]byte, 2048)
	scratch := make([]byte, 0, 1500)
	for {
		_ = n.fr.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		k, _, err := n.fr.ReadFromUDPAddrPort(buf)
		select {
		case <-n.quit:
			return
		default:
		}
		if err != nil {
			continue
		}
		var m dhcpv4.Message
		if m.Decode(bytes.Clone(buf[:k])) != nil || m.Type() != dhcpv4.ForceRenew {
			n.bad.Add(1)
			continue
		}
		n.mu.Lock()
		c := n.byAddr[m.CIAddr]
		var key []byte
		var last uint64
		if c != nil {
			key, last = c.key, c.last
		}
		n.mu.Unlock()
		if c == nil || !bytes.Equal(m.HWAddr(), c.mac[:]) {
			n.bad.Add(1)
			continue
		}
		v, err := auth.VerifyHMACMD5(&m, key, last, scratch)
		if err != nil {
			n.t.Errorf("FORCERENEW to %v does not verify: %v", m.CIAddr, err)
			n.bad.Add(1)
			continue
		}
		n.mu.Lock()
		c.last = v
		c.frs++
		silent := c.silent
		n.mu.Unlock()
		if silent {
			continue
		}
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			if err := n.renew(c); err != nil {
				n.t.Logf("renew after FORCERENEW: %v", err)
			}
		}()
	}
}

// get returns a copy of c's state.
func (n *simNet) get(c *simClient) simClient {
	n.mu.Lock()
	defer n.mu.Unlock()
	return *c
}

func (n *simNet) setSilent(silent bool, cs ...*simClient) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, c := range cs {
		c.silent = silent
	}
}

// bind creates and binds k clients (MACs from base).
func (n *simNet) bind(k, base int) []*simClient {
	n.t.Helper()
	cs := make([]*simClient, k)
	errs := make(chan error, k)
	sem := make(chan struct{}, 64)
	var wg sync.WaitGroup
	for i := range cs {
		cs[i] = &simClient{mac: [6]byte{0x02, 0, byte((base + i) >> 16), byte((base + i) >> 8), byte(base + i), 1}}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := n.dora(cs[i]); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		n.t.Fatal(err)
	}
	return cs
}

// waitDone waits until campaign id is no longer running.
func (n *simNet) waitDone(id uint32, d time.Duration) reconf.CampaignStatus {
	n.t.Helper()
	deadline := time.Now().Add(d)
	for {
		st, err := n.s.Campaign(id)
		if err != nil {
			n.t.Fatal(err)
		}
		if st.State != reconf.Running {
			return st
		}
		if time.Now().After(deadline) {
			n.t.Fatalf("campaign %d still running after %v: %+v", id, d, st.Counts)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func outcomes(t testing.TB, s *Server, id uint32) map[netip.Addr]reconf.ClientProgress {
	t.Helper()
	cs, err := s.CampaignClients(id, reconf.ClientFilter{})
	if err != nil {
		t.Fatal(err)
	}
	m := map[netip.Addr]reconf.ClientProgress{}
	for _, c := range cs {
		m[c.Addr] = c
	}
	return m
}

// reopenWAL loads dir's leases and campaign records (after the server
// stopped) and returns them.
func reopenWAL(t testing.TB, dir string) (map[netip.Addr]lease.Lease, *reconf.Manager) {
	t.Helper()
	w, err := wal.Open(dir, wal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	ls := loadWAL(t, w)
	var recs []reconf.Record
	if err := w.LoadBlobs(func(b store.Blob) error {
		var r reconf.Record
		if err := r.UnmarshalBinary(b.Value); err != nil {
			return err
		}
		recs = append(recs, r)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	m := reconf.NewManager()
	if err := m.Restore(recs, time.Now(), false); err != nil {
		t.Fatal(err)
	}
	return ls, m
}

func loadWAL(t testing.TB, w *wal.WAL) map[netip.Addr]lease.Lease {
	t.Helper()
	out := map[netip.Addr]lease.Lease{}
	if err := w.Load(func(l lease.Lease) error { out[l.Addr] = l; return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestCampaignRenewed: a campaign over several leases sends authenticated
// FORCERENEWs (verified with auth.VerifyHMACMD5); every client answers
// with a renew and ends renewed; outcomes are in the WAL and the metrics.
func TestCampaignRenewed(t *testing.T) {
	dir := t.TempDir()
	n := newSimNet(t, dir, campConfig(), CampaignConfig{}, nil)
	cs := n.bind(8, 0)
	st, err := n.s.StartCampaign(context.Background(), reconf.Selector{Pool: "loop"}, fast())
	if err != nil {
		t.Fatal(err)
	}
	if st.Clients != 8 || st.Counts.Pending != 8 {
		t.Fatalf("started %+v", st)
	}
	// The same command again: ignored, the running campaign returned.
	again, err := n.s.StartCampaign(context.Background(), reconf.Selector{Pool: "loop"}, fast())
	if err != nil || again.ID != st.ID {
		t.Fatalf("repeated start: %v, id %d want %d", err, again.ID, st.ID)
	}
	// An overlapping one: *reconf.OverlapError naming the running campaign.
	one := 0
	_, err = n.s.StartCampaign(context.Background(), reconf.Selector{Pool: "loop", Section: &one}, fast())
	var oe *reconf.OverlapError
	if !errors.As(err, &oe) || oe.Running.ID != st.ID || !strings.Contains(err.Error(), "campaign "+strconv.Itoa(int(st.ID))) {
		t.Fatalf("overlapping start: %v", err)
	}
	if _, err := n.s.StartCampaign(context.Background(), reconf.Selector{Client: "127.0.9.9"}, fast()); !errors.Is(err, reconf.ErrNoClients) {
		t.Fatalf("start without clients: %v", err)
	}
	end := n.waitDone(st.ID, 5*time.Second)
	if end.State != reconf.Done || end.Counts.Renewed != 8 {
		t.Fatalf("campaign ended %v with %+v", end.State, end.Counts)
	}
	for _, c := range cs {
		c := n.get(c)
		if c.frs < 1 || c.acks < 2 {
			t.Errorf("client %v: %d FORCERENEWs, %d ACKs", c.addr, c.frs, c.acks)
		}
	}
	if n.bad.Load() != 0 {
		t.Errorf("%d bad FORCERENEWs", n.bad.Load())
	}
	if got := gatherOutcome(t, n.s, "renewed"); got != 8 {
		t.Errorf("leased_campaign_outcomes_total{outcome=renewed} = %v", got)
	}
	n.stop()
	_, m := reopenWAL(t, dir)
	if st, err := m.Status(st.ID); err != nil || st.State != reconf.Done || st.Counts.Renewed != 8 {
		t.Fatalf("persisted campaign: %+v, %v", st, err)
	}
}

// gatherOutcome returns leased_campaign_outcomes_total{outcome}.
func gatherOutcome(t testing.TB, s *Server, outcome string) float64 {
	t.Helper()
	mfs, err := s.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "leased_campaign_outcomes_total" {
			continue
		}
		for _, m := range mf.Metric {
			if m.Label[0].GetValue() == outcome {
				return m.Counter.GetValue()
			}
		}
	}
	t.Fatalf("no leased_campaign_outcomes_total{outcome=%q}", outcome)
	return 0
}

// TestCampaignNoResponse: silent clients are no_response after their
// attempts; OnFailure delete and recycle are applied and persisted; the
// recycled client keeps its history and gets its address back.
func TestCampaignNoResponse(t *testing.T) {
	for _, tc := range []struct {
		of   reconf.OnFailure
		want lease.State // in the WAL; 0: gone
	}{{reconf.Delete, lease.StateQuarantined}, {reconf.Recycle, lease.StateExpired}, {reconf.Restore, lease.StateBound}} {
		// Delete: the lease had not expired, so the address is held until
		// it would have (issue #10 item 4).
		t.Run(tc.of.String(), func(t *testing.T) {
			dir := t.TempDir()
			n := newSimNet(t, dir, campConfig(), CampaignConfig{}, nil)
			cs := n.bind(3, 0)
			n.setSilent(true, cs[1])
			o := fast()
			o.OnFailure = tc.of
			st, err := n.s.StartCampaign(context.Background(), reconf.Selector{}, o)
			if err != nil {
				t.Fatal(err)
			}
			end := n.waitDone(st.ID, 5*time.Second)
			if end.Counts.Renewed != 2 || end.Counts.NoResponse != 1 {
				t.Fatalf("counts %+v", end.Counts)
			}
			if c := n.get(cs[1]); c.frs != 3 {
				t.Errorf("silent client got %d FORCERENEWs, want 3 attempts", c.frs)
			}
			if p := outcomes(t, n.s, st.ID)[cs[1].addr]; p.Outcome != reconf.NoResponse || p.Sent != 3 {
				t.Errorf("silent client progress %+v", p)
			}
			// The on-failure action runs in the tick that ended the attempts:
			// wait until it shows in the engine (stopping the server then
			// waits for that tick, commit included). Restore changes
			// nothing.
			if tc.of != reconf.Restore {
				waitLeaseLeft(t, n, cs[1].addr, lease.StateBound)
			}
			if tc.of == reconf.Recycle {
				// Its history is kept: a DORA gives it the same address.
				old := cs[1].addr
				if err := n.dora(cs[1]); err != nil || cs[1].addr != old {
					t.Fatalf("recycled client DORA: %v, got %v want %v", err, cs[1].addr, old)
				}
				tc.want = lease.StateBound
			}
			n.stop()
			ls, _ := reopenWAL(t, dir)
			l, ok := ls[cs[1].addr]
			switch {
			case tc.want == 0 && ok:
				t.Fatalf("deleted lease still in the WAL: %+v", l)
			case tc.want != 0 && (!ok || l.State != tc.want):
				t.Fatalf("WAL record %+v (present %v), want state %v", l, ok, tc.want)
			}
			if l, ok := ls[cs[0].addr]; !ok || l.State != lease.StateBound {
				t.Fatalf("renewed client's lease %+v", l)
			}
		})
	}
}

// TestCampaignForceNAK: with ForceNAK the renew after FORCERENEW is NAKed,
// the client re-DISCOVERs and is rebound.
func TestCampaignForceNAK(t *testing.T) {
	n := newSimNet(t, t.TempDir(), campConfig(), CampaignConfig{}, nil)
	cs := n.bind(4, 0)
	o := fast()
	o.ForceNAK = true
	st, err := n.s.StartCampaign(context.Background(), reconf.Selector{Pool: "loop"}, o)
	if err != nil {
		t.Fatal(err)
	}
	end := n.waitDone(st.ID, 5*time.Second)
	if end.Counts.Rebound != 4 {
		t.Fatalf("counts %+v", end.Counts)
	}
	for _, c := range cs {
		c := n.get(c)
		if c.naks != 1 {
			t.Errorf("client %v: %d NAKs", c.addr, c.naks)
		}
	}
	for _, p := range outcomes(t, n.s, st.ID) {
		if p.Last != reconf.EvAck || p.Outcome != reconf.Rebound {
			t.Errorf("client %v: %+v", p.Addr, p)
		}
	}
}

// TestCampaignStop: stopping a campaign of silent clients aborts them and
// frees the pool for another campaign.
func TestCampaignStop(t *testing.T) {
	n := newSimNet(t, t.TempDir(), campConfig(), CampaignConfig{}, nil)
	cs := n.bind(3, 0)
	n.setSilent(true, cs...)
	o := fast()
	o.Interval = time.Minute
	st, err := n.s.StartCampaign(context.Background(), reconf.Selector{Pool: "loop"}, o)
	if err != nil {
		t.Fatal(err)
	}
	stopped, err := n.s.StopCampaign(context.Background(), st.ID)
	if err != nil || stopped.State != reconf.Stopped || stopped.Counts.Aborted != 3 {
		t.Fatalf("stop: %+v, %v", stopped, err)
	}
	if _, err := n.s.StopCampaign(context.Background(), st.ID); !errors.Is(err, reconf.ErrNotRunning) {
		t.Fatalf("second stop: %v", err)
	}
	if _, err := n.s.Campaign(999); !errors.Is(err, reconf.ErrNotFound) {
		t.Fatalf("unknown campaign: %v", err)
	}
	if _, err := n.s.StartCampaign(context.Background(), reconf.Selector{Pool: "loop"}, fast()); err != nil {
		t.Fatalf("start after stop: %v", err)
	}
	if got := len(n.s.Campaigns()); got != 2 {
		t.Fatalf("%d campaigns listed", got)
	}
}

// TestCampaignEvents: events from client messages and the server reach
// the manager (release, decline, inform, expired, deleted, discover).
func TestCampaignEvents(t *testing.T) {
	n := newSimNet(t, t.TempDir(), campConfig(), CampaignConfig{}, nil)
	cs := n.bind(6, 0)
	n.setSilent(true, cs...)
	o := fast()
	o.Interval = time.Minute
	st, err := n.s.StartCampaign(context.Background(), reconf.Selector{Pool: "loop"}, o)
	if err != nil {
		t.Fatal(err)
	}
	sid := netip.MustParseAddr("127.0.0.1")
	send := func(c clientMsg) { c.giaddr = n.relay.addr; n.relay.send(c) }
	send(clientMsg{typ: dhcpv4.Release, mac: cs[0].mac, ciaddr: cs[0].addr, serverID: sid})
	send(clientMsg{typ: dhcpv4.Decline, mac: cs[1].mac, reqIP: cs[1].addr, serverID: sid})
	if m, ok := n.exchange(clientMsg{typ: dhcpv4.Inform, mac: cs[2].mac, ciaddr: cs[2].addr}); !ok || m.Type() != dhcpv4.Ack {
		t.Fatal("no ACK to INFORM")
	}
	if err := n.s.DeleteLease(context.Background(), cs[3].addr); err != nil {
		t.Fatal(err)
	}
	// Expiry: recycle-like end through the engine's expiry path.
	d, err := n.eng.Recycle(time.Now(), cs[4].addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	n.eng.Revert(&d)
	if _, ok := n.exchange(clientMsg{typ: dhcpv4.Discover, mac: cs[5].mac}); !ok {
		t.Fatal("no OFFER")
	}
	want := map[int]reconf.Outcome{0: reconf.Released, 1: reconf.Declined, 2: reconf.Informed, 3: reconf.Deleted}
	deadline := time.Now().Add(3 * time.Second)
	for {
		got := outcomes(t, n.s, st.ID)
		ok := true
		for i, o := range want {
			if got[cs[i].addr].Outcome != o {
				ok = false
			}
		}
		if ok && got[cs[5].addr].Last == reconf.EvDiscover {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("outcomes %+v", got)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The expiry path reports expired.
	n.s.observeRecords([]lease.Lease{{Addr: cs[4].addr, State: lease.StateExpired, ClientID: append([]byte{1}, cs[4].mac[:]...)}})
	if p := outcomes(t, n.s, st.ID)[cs[4].addr]; p.Outcome != reconf.Expired {
		t.Fatalf("expired client: %+v", p)
	}
}

// TestCampaignRestart: the server stops mid-campaign (server and WAL
// closed); a new one on the same directory resumes and completes it; with
// resume off the campaign is halted.
func TestCampaignRestart(t *testing.T) {
	for _, resume := range []bool{true, false} {
		t.Run(fmt.Sprint("resume=", resume), func(t *testing.T) {
			dir := t.TempDir()
			n := newSimNet(t, dir, campConfig(), CampaignConfig{Resume: resume}, nil)
			cs := n.bind(4, 0)
			n.setSilent(true, cs...)
			o := fast()
			o.Attempts, o.Interval = 5, 300*time.Millisecond
			st, err := n.s.StartCampaign(context.Background(), reconf.Selector{Pool: "loop"}, o)
			if err != nil {
				t.Fatal(err)
			}
			// Wait until every client's first FORCERENEW is out.
			waitSent(t, n.s, st.ID, len(cs))
			fr := n.fr
			n.stop()
			n2 := newSimNet(t, dir, campConfig(), CampaignConfig{Resume: resume}, fr)
			n2.mu.Lock()
			for _, c := range cs {
				c.silent = false
				n2.byAddr[c.addr] = c
			}
			n2.mu.Unlock()
			if !resume {
				got, err := n2.s.Campaign(st.ID)
				if err != nil || got.State != reconf.Halted || got.Counts.Aborted != 4 {
					t.Fatalf("not resumed: %+v, %v", got, err)
				}
				return
			}
			end := n2.waitDone(st.ID, 10*time.Second)
			if end.State != reconf.Done || end.Counts.Renewed != 4 {
				t.Fatalf("after restart: %v %+v", end.State, end.Counts)
			}
		})
	}
}

// TestDisconnect: a disconnect reconfigures one client with a forced NAK;
// a client that answers is rebound, a silent one is deleted.
func TestDisconnect(t *testing.T) {
	n := newSimNet(t, t.TempDir(), campConfig(), CampaignConfig{Pools: map[string]PoolCampaign{
		"loop": {Override: reconf.Override{Attempts: ptr(2), Interval: ptr(100 * time.Millisecond)}},
	}}, nil)
	cs := n.bind(2, 0)
	n.setSilent(true, cs[1])
	st, err := n.s.Disconnect(context.Background(), cs[0].addr, reconf.Delete)
	if err != nil || !st.Options.ForceNAK || st.Options.Attempts != 2 {
		t.Fatalf("disconnect: %+v, %v", st, err)
	}
	if end := n.waitDone(st.ID, 5*time.Second); end.Counts.Rebound != 1 {
		t.Fatalf("answering client: %+v", end.Counts)
	}
	st, err = n.s.Disconnect(context.Background(), cs[1].addr, reconf.Delete)
	if err != nil {
		t.Fatal(err)
	}
	if end := n.waitDone(st.ID, 5*time.Second); end.Counts.NoResponse != 1 {
		t.Fatalf("silent client: %+v", end.Counts)
	}
	// Deleted while valid: quarantined until the old expiry (issue #10 item 4).
	deadline := time.Now().Add(2 * time.Second)
	for {
		if l, ok := n.eng.Lookup(cs[1].addr); ok && l.State == lease.StateQuarantined {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("silent client's lease not deleted (quarantined)")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := n.s.Disconnect(context.Background(), netip.MustParseAddr("127.0.9.9"), reconf.Delete); !errors.Is(err, reconf.ErrNoClients) {
		t.Fatalf("disconnect of unknown address: %v", err)
	}
}

func ptr[T any](v T) *T { return &v }

// waitLeaseLeft waits (bounded) until the engine's lease of addr is no
// longer in state from (or gone).
func waitLeaseLeft(t *testing.T, n *simNet, addr netip.Addr, from lease.State) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		l, ok := n.eng.Lookup(addr)
		if !ok || l.State != from {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("lease of %v still %v", addr, from)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitSent waits (bounded) until n clients of campaign id were sent at
// least one FORCERENEW/Reconfigure.
func waitSent(t *testing.T, s *Server, id uint32, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		sent := 0
		for _, p := range outcomes(t, s, id) {
			if p.Sent > 0 {
				sent++
			}
		}
		if sent >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("campaign %d: %d clients sent to, want %d", id, sent, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestReloadTrigger: a pool with OnChange whose DNS changes gets a
// campaign over all its bound leases; one whose section shrinks gets one
// over exactly the leases left outside.
func TestReloadTrigger(t *testing.T) {
	cc := CampaignConfig{Pools: map[string]PoolCampaign{"loop": {OnChange: true,
		Override: reconf.Override{Attempts: ptr(2), Interval: ptr(100 * time.Millisecond)}}}}
	cfg := campConfig()
	n := newSimNet(t, t.TempDir(), cfg, cc, nil)
	cs := n.bind(4, 0)
	cfg2 := campConfig()
	cfg2.Pools[0].DNS = []netip.Addr{netip.MustParseAddr("127.0.0.54")}
	if err := n.s.Reload(cfg2); err != nil {
		t.Fatal(err)
	}
	list := n.s.Campaigns()
	if len(list) != 1 || list[0].Clients != 4 {
		t.Fatalf("after DNS change: %+v", list)
	}
	if end := n.waitDone(list[0].ID, 5*time.Second); end.Counts.Renewed != 4 {
		t.Fatalf("DNS campaign: %+v", end.Counts)
	}
	// Move the section so that only the first two addresses stay inside.
	var hi netip.Addr
	for _, c := range cs {
		if !hi.IsValid() || c.addr.Compare(hi) > 0 {
			hi = c.addr
		}
	}
	cfg3 := campConfig()
	cfg3.Pools[0].DNS = cfg2.Pools[0].DNS
	cfg3.Pools[0].Sections[0].Start = hi.Next()
	if err := n.s.Reload(cfg3); err != nil {
		t.Fatal(err)
	}
	list = n.s.Campaigns()
	if len(list) != 2 || list[1].Clients != 4 {
		t.Fatalf("after section change: %+v", list)
	}
	end := n.waitDone(list[1].ID, 5*time.Second)
	if end.Counts.Rebound != 4 {
		t.Fatalf("section campaign: %+v", end.Counts)
	}
	for _, c := range cs {
		c := n.get(c)
		if c.addr.Compare(hi) <= 0 {
			t.Errorf("client still on %v, outside the new section", c.addr)
		}
	}
	// Unchanged reload: no campaign.
	if err := n.s.Reload(cfg3); err != nil {
		t.Fatal(err)
	}
	if got := len(n.s.Campaigns()); got != 2 {
		t.Fatalf("unchanged reload started a campaign (%d)", got)
	}
}

// TestCampaignScale: LEASED_CAMPAIGN_SCALE=N clients (default skipped)
// bound over loopback, one campaign, every client accounted for; logs
// clients renewed per second.
func TestCampaignScale(t *testing.T) {
	k, _ := strconv.Atoi(os.Getenv("LEASED_CAMPAIGN_SCALE"))
	if k <= 0 {
		t.Skip("set LEASED_CAMPAIGN_SCALE=10000 to run")
	}
	n := newSimNet(t, t.TempDir(), campConfig(), CampaignConfig{}, nil)
	start := time.Now()
	n.bind(k, 0)
	t.Logf("bound %d clients in %v", k, time.Since(start))
	o := reconf.DefaultOptions()
	o.Pace = 0
	start = time.Now()
	st, err := n.s.StartCampaign(context.Background(), reconf.Selector{Pool: "loop"}, o)
	if err != nil {
		t.Fatal(err)
	}
	end := n.waitDone(st.ID, 5*time.Minute)
	took := time.Since(start)
	t.Logf("campaign over %d clients: %v, %.0f clients/s, counts %+v", k, took, float64(k)/took.Seconds(), end.Counts)
	if end.Counts.Renewed+end.Counts.Rebound != k {
		t.Fatalf("counts %+v", end.Counts)
	}
}
