package server

import (
	"bytes"
	"context"
	"errors"
	"iter"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leased/leased/dhcpv4"
	"github.com/leased/leased/lease"
	"github.com/leased/leased/store"
)

// clientMsg describes a client message to build for tests.
type clientMsg struct {
	typ      dhcpv4.MessageType
	xid      uint32
	mac      [6]byte
	flags    uint16
	ciaddr   netip.Addr
	giaddr   netip.Addr
	reqIP    netip.Addr
	serverID netip.Addr
	relay    []byte
	op       dhcpv4.OpCode
	nonce    []byte // option 145 (RFC 6704) when not nil
}

func buildMsg(t testing.TB, c clientMsg) []byte {
	t.Helper()
	op := c.op
	if op == 0 {
		op = dhcpv4.BootRequest
	}
	h := dhcpv4.Header{Op: op, HType: 1, HLen: 6, XID: c.xid, Flags: c.flags, CIAddr: c.ciaddr, GIAddr: c.giaddr}
	if c.giaddr.IsValid() {
		h.Hops = 1
	}
	copy(h.CHAddr[:], c.mac[:])
	var w dhcpv4.Writer
	w.Reset(make([]byte, 0, 1024))
	w.Header(&h)
	w.OptionByte(dhcpv4.OptMessageType, byte(c.typ))
	if c.reqIP.IsValid() {
		w.OptionAddr(dhcpv4.OptRequestedIP, c.reqIP)
	}
	if c.serverID.IsValid() {
		w.OptionAddr(dhcpv4.OptServerID, c.serverID)
	}
	w.Option(dhcpv4.OptClientID, append([]byte{1}, c.mac[:]...))
	w.OptionString(dhcpv4.OptHostname, "host1")
	if c.nonce != nil {
		w.Option(dhcpv4.OptForceRenewNonceCap, c.nonce)
	}
	if c.relay != nil {
		w.Option(dhcpv4.OptRelayAgentInfo, c.relay)
	}
	b, err := w.End()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// memStore is an in-memory store.Store for tests; fail makes Commit
// return an error, hold makes Commit block until release is closed.
type memStore struct {
	mu       sync.Mutex
	recs     []lease.Lease
	commits  int
	fail     atomic.Bool
	hold     chan struct{} // non-nil: Commit waits for it to close
	entered  chan struct{} // receives one value per Commit entered (if non-nil)
	compacts atomic.Int32
	blobs    []store.Blob // committed, in order
}

var errDisk = errors.New("test: disk on fire")

func (m *memStore) Load(fn func(lease.Lease) error) error { return nil }
func (m *memStore) Commit(ctx context.Context, recs []lease.Lease) error {
	if m.entered != nil {
		m.entered <- struct{}{}
	}
	if m.hold != nil {
		<-m.hold
	}
	if err := ctx.Err(); err != nil {
		return err // as the WAL and PostgreSQL stores do
	}
	if m.fail.Load() {
		return errDisk
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.commits++
	for _, r := range recs {
		m.recs = append(m.recs, r.Clone())
	}
	return nil
}
func (m *memStore) LoadBlobs(fn func(store.Blob) error) error { return nil }
func (m *memStore) CommitBlobs(ctx context.Context, bs []store.Blob) error {
	if m.fail.Load() {
		return errDisk
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, b := range bs {
		m.blobs = append(m.blobs, store.Blob{Kind: b.Kind, Key: bytes.Clone(b.Key), Value: bytes.Clone(b.Value)})
	}
	return nil
}
func (m *memStore) Compact(all iter.Seq[lease.Lease], blobs iter.Seq[store.Blob]) error {
	for range all {
	}
	if blobs != nil {
		for range blobs {
		}
	}
	m.compacts.Add(1)
	return nil
}
func (m *memStore) Close() error { return nil }

func (m *memStore) committed() []lease.Lease {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]lease.Lease(nil), m.recs...)
}

// scriptEngine is a small deterministic stand-in for the lease engine that
// lets server tests control decisions (the real engine is exercised in
// the integration test with the real engine). Addresses are handed out
// sequentially from 127.0.0.100 per hardware address.
type scriptEngine struct {
	mu       sync.Mutex
	pool     *lease.Pool
	byMAC    map[string]netip.Addr
	next     byte
	reverted int
	reqs     []lease.Request // copies of what Handle got (slices dropped)
}

func newScriptEngine() *scriptEngine {
	return &scriptEngine{
		pool: &lease.Pool{
			Name:    "test",
			Subnet:  netip.MustParsePrefix("127.0.0.0/24"),
			Gateway: netip.MustParseAddr("127.0.0.1"),
			DNS:     []netip.Addr{netip.MustParseAddr("127.0.0.53")},
		},
		byMAC: map[string]netip.Addr{},
		next:  100,
	}
}

func (e *scriptEngine) Handle(now time.Time, req *lease.Request) lease.Decision {
	e.mu.Lock()
	defer e.mu.Unlock()
	r := *req
	r.HWAddr, r.ClientID, r.Hostname, r.RelayInfo, r.ForceRenewNonce = nil, nil, nil, nil, nil
	e.reqs = append(e.reqs, r)
	key := string(req.HWAddr)
	addr, ok := e.byMAC[key]
	reply := lease.Reply{ServerID: req.ServerAddr, Pool: e.pool, LeaseTime: time.Hour, T1: 30 * time.Minute, T2: 52 * time.Minute}
	switch req.Type {
	case dhcpv4.Discover:
		if !ok {
			addr = netip.AddrFrom4([4]byte{127, 0, 0, e.next})
			e.next++
			e.byMAC[key] = addr
		}
		reply.Type, reply.YIAddr = dhcpv4.Offer, addr
		return lease.Decision{HasReply: true, Reply: reply}
	case dhcpv4.Request:
		want := req.RequestedIP
		if !want.IsValid() {
			want = req.CIAddr
		}
		if !ok || want != addr {
			return lease.Decision{HasReply: true, Reply: lease.Reply{Type: dhcpv4.Nak, ServerID: req.ServerAddr, Message: "no such lease"}}
		}
		reply.Type, reply.YIAddr = dhcpv4.Ack, addr
		l := lease.Lease{Addr: addr, HWAddr: bytes.Clone(req.HWAddr), State: lease.StateBound, XID: req.XID, Expiry: now.Add(time.Hour)}
		reply.Lease = &l
		return lease.Decision{HasReply: true, Reply: reply, Persist: []lease.Lease{l}}
	case dhcpv4.Release:
		return lease.Decision{Persist: []lease.Lease{{Addr: addr, State: lease.StateReleased}}}
	}
	return lease.Decision{Drop: "unsupported"}
}

func (e *scriptEngine) Revert(d *lease.Decision) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.reverted++
}
func (e *scriptEngine) Expire(now time.Time, max int) lease.Decision { return lease.Decision{} }
func (e *scriptEngine) Delete(now time.Time, addr netip.Addr) (lease.Decision, error) {
	return lease.Decision{}, lease.ErrNotFound
}
func (e *scriptEngine) ForceRenew(now time.Time, addr netip.Addr) (lease.Decision, error) {
	return lease.Decision{}, lease.ErrNotFound
}
func (e *scriptEngine) Recycle(now time.Time, addr netip.Addr, key []byte) (lease.Decision, error) {
	return lease.Decision{}, lease.ErrNotFound
}
func (e *scriptEngine) Lookup(addr netip.Addr) (lease.Lease, bool) { return lease.Lease{}, false }
func (e *scriptEngine) All() iter.Seq[lease.Lease]                 { return func(func(lease.Lease) bool) {} }
func (e *scriptEngine) ApplyConfig(cfg lease.Config) error         { return nil }
func (e *scriptEngine) Leases(f lease.Filter) []lease.Lease        { return nil }
func (e *scriptEngine) Pools(now time.Time) []lease.PoolStats {
	return []lease.PoolStats{{Name: "test", Size: 100}}
}

func (e *scriptEngine) revertCount() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.reverted
}

// freeUDPPort returns a UDP port that was free a moment ago.
func freeUDPPort(t testing.TB) int {
	t.Helper()
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// testRelay is a relay agent on 127.0.0.2 (or another loopback address):
// it sends requests with giaddr set to its address and receives replies on
// the relay port.
type testRelay struct {
	t      testing.TB
	conn   *net.UDPConn
	addr   netip.Addr
	server netip.AddrPort
}

func newTestRelay(t testing.TB, addr string, relayPort, serverPort int) *testRelay {
	t.Helper()
	a := netip.MustParseAddr(addr)
	c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(a, uint16(relayPort))))
	if err != nil {
		t.Fatalf("relay listen: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return &testRelay{t: t, conn: c, addr: a, server: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(serverPort))}
}

func (r *testRelay) send(c clientMsg) {
	r.t.Helper()
	c.giaddr = r.addr
	if _, err := r.conn.WriteToUDPAddrPort(buildMsg(r.t, c), r.server); err != nil {
		r.t.Fatal(err)
	}
}

// recv waits up to d for a reply; ok is false on timeout.
func (r *testRelay) recv(d time.Duration) (m *dhcpv4.Message, from netip.AddrPort, ok bool) {
	r.t.Helper()
	buf := make([]byte, 2048)
	_ = r.conn.SetReadDeadline(time.Now().Add(d))
	n, from, err := r.conn.ReadFromUDPAddrPort(buf)
	if err != nil {
		return nil, from, false
	}
	m = new(dhcpv4.Message)
	if err := m.Decode(buf[:n]); err != nil {
		r.t.Fatalf("reply does not decode: %v", err)
	}
	return m, from, true
}

// skipUnlessCI skips a test that needs a privilege this run lacks, but
// fails it under CI (CI=true, root), where nothing may be skipped silently.
func skipUnlessCI(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}
