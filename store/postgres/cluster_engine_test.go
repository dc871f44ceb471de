package postgres

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leased/leased/dhcpv4"
	"github.com/leased/leased/internal/pgtest"
	"github.com/leased/leased/lease"
)

// member is a simulated cluster server: its own lease engine (in memory,
// allocating only from its claims) over the shared database, as the
// server wiring will do it (docs/cluster.md).
type member struct {
	name  string
	st    *Store
	e     *lease.Engine
	srvIP netip.Addr
	mu    sync.Mutex // claims
	held  []Claim
}

var clusterPool = lease.Pool{Name: "campus", Subnet: netip.MustParsePrefix("10.2.0.0/22"), Gateway: netip.MustParseAddr("10.2.0.1")}

func clusterCfg() lease.Config {
	return lease.Config{LeaseTime: time.Hour, Pools: []lease.Pool{clusterPool}}
}

var clusterClaimPool = ClaimPool{Name: "campus", Ranges: []Range{{netip.MustParseAddr("10.2.0.2"), netip.MustParseAddr("10.2.3.254")}}}

func newMember(t testing.TB, dsn, name string, i int) *member {
	e, err := lease.New(clusterCfg())
	if err != nil {
		t.Fatal(err)
	}
	m := &member{name: name, st: clusterOpen(t, dsn, name), e: e, srvIP: netip.AddrFrom4([4]byte{10, 2, 0, byte(1 + i)})}
	e.SetClaims("campus", nil)
	return m
}

// ensure claims another block when fewer than low addresses are free in
// this member's claims, and loads the leases inside it.
func (m *member) ensure(ctx context.Context, low, size int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if free, _ := m.e.FreeInClaims("campus"); free >= low {
		return nil
	}
	c, err := m.st.ClaimBlock(ctx, clusterClaimPool, size, time.Hour)
	if errors.Is(err, ErrNoFreeBlock) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := m.st.LeasesIn(ctx, c.First, c.Last, func(l lease.Lease) error { m.e.Adopt(l); return nil }); err != nil {
		return err
	}
	m.held = append(m.held, c)
	rs := make([]lease.Range, len(m.held))
	for i, c := range m.held {
		rs[i] = lease.Range{First: c.First, Last: c.Last}
	}
	m.e.SetClaims("campus", rs)
	return nil
}

// commit persists d's records; on failure the engine's decision is
// reverted and, for a rejection, the row of the refused address adopted
// (the stale cache is refreshed).
func (m *member) commit(ctx context.Context, d *lease.Decision) error {
	if len(d.Persist) == 0 {
		return nil
	}
	err := m.st.Commit(ctx, d.Persist)
	if err == nil {
		return nil
	}
	m.e.Revert(d)
	if re, ok := errors.AsType[*RejectedError](err); ok {
		if l, ok, lerr := m.st.LookupLease(ctx, re.Addr); lerr == nil && ok {
			m.e.Adopt(l)
		}
	}
	return err
}

// readClient is the read-through of a client the member may not have
// seen: its rows replace the engine's.
func (m *member) readClient(ctx context.Context, key []byte) error {
	ls, err := m.st.LookupClient(ctx, key)
	for _, l := range ls {
		m.e.Adopt(l)
	}
	return err
}

// simClient is the client's own view: the address its last ACK gave it.
type simClient struct {
	mu   sync.Mutex
	hw   []byte
	key  []byte
	addr netip.Addr
}

// TestClusterRandom: three servers, each with its own engine allocating
// from its own claims, serve DORAs, renewals (through any server),
// INIT-REBOOTs and releases of 600 clients concurrently through the shared
// database. At the end no address is held by two clients — neither in
// the clients' own view (every ACK came after a commit) nor in the
// database — and every client's ACKed address is its row there.
func TestClusterRandom(t *testing.T) {
	dsn := pgtest.DB(t)
	ctx := context.Background()
	ms := []*member{newMember(t, dsn, "a", 0), newMember(t, dsn, "b", 1), newMember(t, dsn, "c", 2)}
	clients := make([]*simClient, 600)
	for i := range clients {
		hw := []byte{0x02, 0x11, 0, 0, byte(i >> 8), byte(i)}
		clients[i] = &simClient{hw: hw, key: append([]byte{1}, hw...)}
	}
	ops := 1500
	if testing.Short() {
		ops = 300
	}
	var acks, naks, rejected, drops atomic.Int64
	var wg sync.WaitGroup
	for si, m := range ms {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(si), 7))
			for range ops {
				c := clients[rng.IntN(len(clients))]
				if !c.mu.TryLock() {
					continue // a client does one thing at a time
				}
				err := step(ctx, rng, m, c, &acks, &naks, &drops)
				c.mu.Unlock()
				if errors.Is(err, ErrRejected) {
					rejected.Add(1)
				} else if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	t.Logf("%d ACKs, %d NAKs, %d drops, %d writes rejected by the database", acks.Load(), naks.Load(), drops.Load(), rejected.Load())
	if acks.Load() < int64(ops) {
		t.Errorf("only %d ACKs", acks.Load())
	}
	// The clients' view: no address twice, each one the client's row.
	holder := map[netip.Addr]int{}
	for i, c := range clients {
		if !c.addr.IsValid() {
			continue
		}
		if j, dup := holder[c.addr]; dup {
			t.Errorf("clients %d and %d were both ACKed %v", j, i, c.addr)
		}
		holder[c.addr] = i
		l, ok, err := ms[0].st.LookupLease(ctx, c.addr)
		if err != nil {
			t.Fatal(err)
		}
		if !ok || l.State != lease.StateBound || string(l.ClientID) != string(c.key) {
			t.Errorf("client %d holds %v by its last ACK; the database row is %v %v %x", i, c.addr, ok, l.State, l.ClientID)
		}
	}
	// The database's view: one live binding per client at most.
	var dupClients int
	if err := ms[0].st.Pool().QueryRow(ctx, `SELECT count(*) FROM (SELECT client_id FROM leases WHERE state = $1
		GROUP BY client_id HAVING count(*) > 1) d`, int16(lease.StateBound)).Scan(&dupClients); err != nil {
		t.Fatal(err)
	}
	if dupClients != 0 {
		t.Errorf("%d clients hold two bound rows", dupClients)
	}
}

// step runs one client transaction through member m.
func step(ctx context.Context, rng *rand.Rand, m *member, c *simClient, acks, naks, drops *atomic.Int64) error {
	if err := m.ensure(ctx, 8, 32); err != nil {
		return err
	}
	now := time.Now()
	req := func(typ dhcpv4.MessageType) *lease.Request {
		return &lease.Request{Type: typ, XID: rng.Uint32(), HType: 1, HWAddr: c.hw, ClientID: c.key,
			LinkAddr: m.srvIP, ServerAddr: m.srvIP}
	}
	ack := func(d lease.Decision) error {
		if !d.HasReply {
			drops.Add(1)
			return nil
		}
		if d.Reply.Type == dhcpv4.Nak {
			naks.Add(1)
			c.addr = netip.Addr{}
			return m.commit(ctx, &d)
		}
		if d.Reply.Type != dhcpv4.Ack {
			return fmt.Errorf("reply %v", d.Reply.Type)
		}
		if err := m.commit(ctx, &d); err != nil {
			naks.Add(1) // no ACK for what is not committed: the server NAKs
			c.addr = netip.Addr{}
			return err
		}
		acks.Add(1)
		c.addr = d.Reply.YIAddr
		return nil
	}
	if err := m.readClient(ctx, c.key); err != nil {
		return err
	}
	switch {
	case c.addr.IsValid() && rng.IntN(10) == 0: // release
		r := req(dhcpv4.Release)
		r.CIAddr = c.addr
		d := m.e.Handle(now, r)
		if err := m.commit(ctx, &d); err != nil {
			return err
		}
		c.addr = netip.Addr{}
		return nil
	case c.addr.IsValid() && rng.IntN(2) == 0: // renew (unicast) or rebind
		r := req(dhcpv4.Request)
		r.CIAddr, r.Unicast = c.addr, rng.IntN(2) == 0
		return ack(m.e.Handle(now, r))
	case c.addr.IsValid(): // INIT-REBOOT
		r := req(dhcpv4.Request)
		r.RequestedIP = c.addr
		return ack(m.e.Handle(now, r))
	}
	o := m.e.Handle(now, req(dhcpv4.Discover))
	if !o.HasReply {
		drops.Add(1)
		return nil
	}
	r := req(dhcpv4.Request)
	r.ServerID, r.ServerIDOurs, r.RequestedIP = m.srvIP, true, o.Reply.YIAddr
	return ack(m.e.Handle(now, r))
}
