package server

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/md5"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	idhcp "github.com/insomniacslk/dhcp/dhcpv6"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/leased/leased/api"

	"github.com/leased/leased/dhcpv6"
	"github.com/leased/leased/lease"
	"github.com/leased/leased/lease6"
	"github.com/leased/leased/store"
	"github.com/leased/leased/store/wal"
)

func v6Config() lease6.Config {
	return lease6.Config{
		Preferred: 30 * time.Minute, Valid: time.Hour, OfferHold: 10 * time.Second,
		DeclineQuarantine: time.Hour,
		Pools: []lease6.Pool{{
			Name:         "office6",
			Subnet:       netip.MustParsePrefix("fd77::/64"),
			Ranges:       []lease6.Range{{Start: netip.MustParseAddr("fd77::1:0"), End: netip.MustParseAddr("fd77::1:ffff")}},
			PD:           &lease6.PrefixPool{Prefix: netip.MustParsePrefix("fd77:100::/40"), Length: 56},
			DNS:          []netip.Addr{netip.MustParseAddr("fd77::1")},
			DomainSearch: []string{"example.test"},
			Preference:   255,
			Reconfigure:  lease6.ReconfigureConfig{RequireAccept: true},
		}},
	}
}

// relay6 is a test DHCPv6 relay on [::1]:free port: it wraps client
// messages in Relay-forward (2 layers when twoHops) with the Relay Source
// Port option (RFC 8357), so the server answers to its unprivileged port.
type relay6 struct {
	t       testing.TB
	conn    *net.UDPConn
	server  netip.AddrPort
	twoHops bool
}

var (
	relayLink  = netip.MustParseAddr("fd77::1")
	clientLL   = netip.MustParseAddr("fe80::1:2:3:4")
	outerLink  = netip.MustParseAddr("2001:db8::1")
	innerRelay = netip.MustParseAddr("2001:db8::2")
	ifaceIDIn  = []byte("ge-0/0/1.100")
	ifaceIDOut = []byte("uplink-7")
)

func newRelay6(t testing.TB, serverPort int) *relay6 {
	t.Helper()
	c, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback})
	if err != nil {
		t.Fatalf("relay6 listen: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return &relay6{t: t, conn: c, server: netip.AddrPortFrom(netip.IPv6Loopback(), uint16(serverPort))}
}

// wrap puts msg in one or two Relay-forward layers.
func (r *relay6) wrap(msg []byte) []byte {
	var w dhcpv6.Writer
	w.Reset(make([]byte, 0, 2048))
	if r.twoHops {
		w.RelayHeader(dhcpv6.RelayForward, 1, outerLink, innerRelay)
		w.Option(dhcpv6.OptInterfaceID, ifaceIDOut)
		w.OptionUint16(OptRelaySourcePort, 0)
		w.BeginOption(dhcpv6.OptRelayMsg)
	}
	w.RelayHeader(dhcpv6.RelayForward, 0, relayLink, clientLL)
	w.Option(dhcpv6.OptInterfaceID, ifaceIDIn)
	if !r.twoHops {
		w.OptionUint16(OptRelaySourcePort, 0)
	}
	w.BeginOption(dhcpv6.OptRelayMsg)
	// The inner message's bytes verbatim: decode and re-encode it.
	var m dhcpv6.Message
	if err := m.Decode(msg); err != nil {
		r.t.Fatalf("test message: %v", err)
	}
	w.Header(m.Type, m.TransactionID)
	for it := m.Options().Iter(); it.Next(); {
		w.Option(it.Code(), it.Data())
	}
	w.EndOption()
	if r.twoHops {
		w.EndOption()
	}
	out, err := w.End()
	if err != nil {
		r.t.Fatal(err)
	}
	return out
}

func (r *relay6) send(msg []byte) {
	r.t.Helper()
	if _, err := r.conn.WriteToUDPAddrPort(r.wrap(msg), r.server); err != nil {
		r.t.Fatal(err)
	}
}

// recv waits up to d for a Relay-reply and returns it decoded.
func (r *relay6) recv(d time.Duration) (*dhcpv6.Message, bool) {
	r.t.Helper()
	buf := make([]byte, 4096)
	_ = r.conn.SetReadDeadline(time.Now().Add(d))
	n, _, err := r.conn.ReadFromUDPAddrPort(buf)
	if err != nil {
		return nil, false
	}
	m := new(dhcpv6.Message)
	if err := m.Decode(buf[:n]); err != nil {
		r.t.Fatalf("reply does not decode: %v", err)
	}
	return m, true
}

// client6 builds the messages of one test client.
type client6 struct {
	duid     []byte
	serverID []byte
	addr     netip.Addr
	prefix   netip.Prefix
}

func (c *client6) msg(t testing.TB, typ dhcpv6.MessageType, xid uint32, accept bool) []byte {
	t.Helper()
	var w dhcpv6.Writer
	w.Reset(make([]byte, 0, 1024))
	w.Header(typ, xid)
	w.Option(dhcpv6.OptClientID, c.duid)
	if c.serverID != nil && typ != dhcpv6.Solicit && typ != dhcpv6.Rebind && typ != dhcpv6.Confirm {
		w.Option(dhcpv6.OptServerID, c.serverID)
	}
	w.OptionUint16(dhcpv6.OptElapsedTime, 0)
	w.BeginIA(dhcpv6.OptIANA, 1, 0, 0)
	if c.addr.IsValid() {
		w.BeginIAAddr(c.addr, 0, 0)
		w.EndOption()
	}
	w.EndOption()
	w.BeginIA(dhcpv6.OptIAPD, 2, 0, 0)
	if c.prefix.IsValid() {
		w.BeginIAPrefix(c.prefix, 0, 0)
		w.EndOption()
	}
	w.EndOption()
	if accept {
		w.OptionEmpty(dhcpv6.OptReconfAccept)
	}
	w.OptionCodes(dhcpv6.OptORO, dhcpv6.OptDNSServers, dhcpv6.OptDomainList)
	out, err := w.End()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// run6 starts a Server with DHCPv4 on lo (required) and DHCPv6 on lo with
// the real lease6 engine and store st.
func run6(t testing.TB, st store.Store, eng6 *lease6.Engine) (*Server, func()) {
	t.Helper()
	eng, err := lease.New(loopConfig())
	if err != nil {
		t.Fatal(err)
	}
	cfg := v6Config()
	s, err := New(Options{
		Interfaces: []string{"lo"}, Port: -1, Engine: eng, Store: st,
		Logger: testLogger(t), Registry: prometheus.NewRegistry(),
		V6: &V6Options{Interfaces: []string{"lo"}, Port: -1, Engine: eng6, Config: &cfg},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	var once sync.Once
	stop := func() {
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
		})
	}
	t.Cleanup(stop)
	return s, stop
}

// unwrap checks the Relay-reply layers of m against the relay's
// Relay-forward (RFC 8415 §19.3: same hop-count, link and peer address,
// Interface-Id echoed).
func (r *relay6) checkWrap(t testing.TB, m *dhcpv6.Message) {
	t.Helper()
	rs := m.Relays()
	want := 1
	if r.twoHops {
		want = 2
	}
	if len(rs) != want {
		t.Fatalf("reply has %d relay layers, want %d", len(rs), want)
	}
	inner := rs[len(rs)-1]
	if inner.Type != dhcpv6.RelayReply || inner.HopCount != 0 || inner.LinkAddr != relayLink || inner.PeerAddr != clientLL ||
		!bytes.Equal(inner.InterfaceID(), ifaceIDIn) {
		t.Errorf("inner relay-reply %+v ifid %q", inner, inner.InterfaceID())
	}
	if r.twoHops {
		outer := rs[0]
		if outer.Type != dhcpv6.RelayReply || outer.HopCount != 1 || outer.LinkAddr != outerLink || outer.PeerAddr != innerRelay ||
			!bytes.Equal(outer.InterfaceID(), ifaceIDOut) {
			t.Errorf("outer relay-reply %+v ifid %q", outer, outer.InterfaceID())
		}
	}
}

// bindings returns the IA_NA address and IA_PD prefix of a reply with
// their valid lifetimes.
func bindings(t testing.TB, m *dhcpv6.Message) (a netip.Addr, av uint32, p netip.Prefix, pv uint32) {
	t.Helper()
	if ia, ok := m.IANA(); ok {
		if it := ia.Addrs(); it.Next() {
			x, err := dhcpv6.ParseIAAddr(it.Data())
			if err != nil {
				t.Fatal(err)
			}
			a, av = x.Addr, x.ValidLifetime
		}
	}
	if ia, ok := m.IAPD(); ok {
		if it := ia.Prefixes(); it.Next() {
			x, err := dhcpv6.ParseIAPrefix(it.Data())
			if err != nil {
				t.Fatal(err)
			}
			p, pv = x.Prefix, x.ValidLifetime
		}
	}
	return
}

func TestV6RelayedExchange(t *testing.T) {
	for _, two := range []bool{false, true} {
		name := "one-hop"
		if two {
			name = "two-hops"
		}
		t.Run(name, func(t *testing.T) { testV6Exchange(t, two) })
	}
}

func testV6Exchange(t *testing.T, twoHops bool) {
	dir := t.TempDir()
	w, err := wal.Open(dir, wal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	eng6, err := lease6.New(v6Config())
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Load(func(l lease.Lease) error { eng6.Restore(l); return nil }); err != nil {
		t.Fatal(err)
	}
	s, stop := run6(t, w, eng6)
	relay := newRelay6(t, s.Port6())
	relay.twoHops = twoHops
	duid := s.ServerDUID()
	if err := dhcpv6.DUID(duid).Validate(); err != nil || dhcpv6.DUID(duid).Type() != dhcpv6.DUIDUUID {
		t.Fatalf("server DUID %x: %v", duid, err)
	}
	c := &client6{duid: []byte{0, 3, 0, 1, 2, 0, 0, 0, 0, 7}}

	// Solicit -> Advertise.
	relay.send(c.msg(t, dhcpv6.Solicit, 0x10, true))
	adv, ok := relay.recv(2 * time.Second)
	if !ok {
		t.Fatal("no Advertise")
	}
	relay.checkWrap(t, adv)
	if adv.Type != dhcpv6.Advertise || adv.TransactionID != 0x10 {
		t.Fatalf("got %v xid %x", adv.Type, adv.TransactionID)
	}
	if !bytes.Equal(adv.ServerID(), duid) || !bytes.Equal(adv.ClientID(), c.duid) {
		t.Errorf("server id %x client id %x", adv.ServerID(), adv.ClientID())
	}
	if p, ok := adv.Preference(); !ok || p != 255 {
		t.Errorf("preference %d %v", p, ok)
	}
	if _, ok := adv.Auth(); ok {
		t.Error("Advertise carries option 11: the key goes in a Reply only (RFC 8415 §20.4.1)")
	}
	a, _, p, _ := bindings(t, adv)
	if !netip.MustParsePrefix("fd77::1:0/112").Contains(a) || p.Bits() != 56 || !netip.MustParsePrefix("fd77:100::/40").Contains(p.Addr()) {
		t.Fatalf("advertised %v %v", a, p)
	}
	if dns := adv.DNSServers(); dns.Len() != 1 || dns.At(0) != netip.MustParseAddr("fd77::1") {
		t.Errorf("DNS option %x", []byte(dns))
	}
	if len(eng6.Leases(lease.Filter{})) != 0 {
		t.Error("an Advertise bound something")
	}

	// Request -> Reply with a reconfigure key.
	c.serverID, c.addr, c.prefix = duid, a, p
	relay.send(c.msg(t, dhcpv6.Request, 0x11, true))
	rep, ok := relay.recv(2 * time.Second)
	if !ok {
		t.Fatal("no Reply to Request")
	}
	relay.checkWrap(t, rep)
	ra, rav, rp, rpv := bindings(t, rep)
	if rep.Type != dhcpv6.Reply || ra != a || rp != p || rav == 0 || rpv == 0 {
		t.Fatalf("Reply %v: %v/%d %v/%d", rep.Type, ra, rav, rp, rpv)
	}
	au, ok := rep.Auth()
	typ, key, kok := au.ReconfigureKey()
	if !ok || !kok || typ != dhcpv6.AuthInfoReconfigureKey || au.ReplayDetection == 0 {
		t.Fatalf("Reply option 11 %+v", au)
	}
	if !rep.ReconfigureAccept() {
		t.Error("Reply without Reconfigure Accept")
	}
	// Durable before the Reply: the bindings are in the engine, bound.
	l, ok := s.Lookup(a)
	if !ok || l.State != lease.StateBound || !bytes.Equal(l.ReconfKey, key) {
		t.Fatalf("lease %+v", l)
	}
	var path path6
	if err := parsePath(l.RelayInfo, &path); err != nil || path.n != len(adv.Relays()) {
		t.Fatalf("stored return path %x: %v (%d hops)", l.RelayInfo, err, path.n)
	}

	// The API backend sees both families.
	if ls := s.Leases(lease.Filter{}); len(ls) != 2 {
		t.Errorf("Leases: %d, want the address and the prefix", len(ls))
	}
	// Pools: loop, office6, office6/pd.
	if h := s.Health(); h.Leases != 2 || h.Pools != 3 {
		t.Errorf("Health %+v", h)
	}

	// Reconfigure through the relay chain: signed, replay raised, durable.
	// FORCERENEW is DHCPv4: refused for the DHCPv6 binding, nothing sent.
	if err := s.ForceRenew(context.Background(), a); !errors.Is(err, api.ErrWrongFamily) {
		t.Fatalf("ForceRenew on a DHCPv6 address: %v, want api.ErrWrongFamily", err)
	}
	if m, ok := relay.recv(200 * time.Millisecond); ok {
		t.Fatalf("ForceRenew on a DHCPv6 address sent %v", m.Type)
	}
	if err := s.SendReconfigure(context.Background(), a); err != nil {
		t.Fatalf("Reconfigure: %v", err)
	}
	rc, ok := relay.recv(2 * time.Second)
	if !ok {
		t.Fatal("no Reconfigure")
	}
	relay.checkWrap(t, rc)
	if rc.Type != dhcpv6.Reconfigure || rc.TransactionID != 0 {
		t.Fatalf("got %v", rc.Type)
	}
	if mt, ok := rc.ReconfigureMessage(); !ok || mt != dhcpv6.Renew {
		t.Errorf("option 19 %v", mt)
	}
	ra2, _ := rc.Auth()
	if ra2.ReplayDetection <= au.ReplayDetection {
		t.Errorf("replay %d not above %d", ra2.ReplayDetection, au.ReplayDetection)
	}
	checkHMAC(t, rc, key)
	if l, _ := s.Lookup(a); l.ReplayCounter != ra2.ReplayDetection {
		t.Errorf("stored replay %d, sent %d", l.ReplayCounter, ra2.ReplayDetection)
	}

	// Renew -> Reply.
	relay.send(c.msg(t, dhcpv6.Renew, 0x12, true))
	ren, ok := relay.recv(2 * time.Second)
	if !ok || ren.Type != dhcpv6.Reply {
		t.Fatal("no Reply to Renew")
	}
	if na, nav, _, _ := bindings(t, ren); na != a || nav == 0 {
		t.Errorf("renewed %v/%d", na, nav)
	}

	// Release -> Reply, bindings released.
	relay.send(c.msg(t, dhcpv6.Release, 0x13, false))
	rel, ok := relay.recv(2 * time.Second)
	if !ok || rel.Type != dhcpv6.Reply {
		t.Fatal("no Reply to Release")
	}
	if l, ok := s.Lookup(a); ok && l.State == lease.StateBound {
		t.Errorf("after Release: %v", l.State)
	}

	// Bad input: another server's id, counted.
	c.serverID = []byte{0, 4, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	relay.send(c.msg(t, dhcpv6.Request, 0x14, false))
	if _, err := relay.conn.WriteToUDPAddrPort([]byte{12, 0, 1}, relay.server); err != nil { // truncated Relay-forward
		t.Fatal(err)
	}
	if _, ok := relay.recv(300 * time.Millisecond); ok {
		t.Error("reply to a message for another server or a malformed one")
	}
	waitCounter(t, s.v6.m.dropFixed[drop6NotOurs], 1)
	waitCounter(t, s.v6.m.dropFixed[drop6Decode], 1)

	stop()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	// Restart: the DUID is the same, the v6 records are recovered.
	w2, err := wal.Open(dir, wal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Close()
	eng2, _ := lease6.New(v6Config())
	n := 0
	if err := w2.Load(func(l lease.Lease) error {
		if l.IsV6() {
			eng2.Restore(l)
			n++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("recovered %d v6 records, want 2", n)
	}
	s2, _ := run6(t, w2, eng2)
	if !bytes.Equal(s2.ServerDUID(), duid) {
		t.Errorf("DUID changed across restart: %x -> %x", duid, s2.ServerDUID())
	}
}

func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return -1
	}
	return m.GetCounter().GetValue()
}

func waitCounter(t testing.TB, c prometheus.Counter, want float64) {
	t.Helper()
	for range 100 {
		if counterValue(c) >= want {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Errorf("counter %v, want %v", counterValue(c), want)
}

// checkHMAC verifies the RKAP HMAC-MD5 of a Reconfigure independently of
// the encoder: over the client/server message with the digest zeroed.
func checkHMAC(t testing.TB, m *dhcpv6.Message, key []byte) {
	t.Helper()
	a, ok := m.Auth()
	if !ok || a.Protocol != 3 || a.Algorithm != 1 || a.RDM != 0 || len(a.Info) != 17 || a.Info[0] != 2 {
		t.Fatalf("Reconfigure option 11 %+v", a)
	}
	off, n, _ := m.AuthInfoOffset()
	in, err := dhcpv6.AuthHMACInput(nil, m.Bytes(), off+1, n-1)
	if err != nil {
		t.Fatal(err)
	}
	mac := hmac.New(md5.New, key)
	mac.Write(in)
	if !hmac.Equal(mac.Sum(nil), a.Info[1:]) {
		t.Errorf("Reconfigure HMAC-MD5 does not verify")
	}
}

func TestV6CommitFailureNoReply(t *testing.T) {
	st := &memStore{}
	eng6, err := lease6.New(v6Config())
	if err != nil {
		t.Fatal(err)
	}
	s, _ := run6(t, st, eng6)
	relay := newRelay6(t, s.Port6())
	c := &client6{duid: []byte{0, 3, 0, 1, 2, 0, 0, 0, 0, 9}}
	relay.send(c.msg(t, dhcpv6.Solicit, 1, true))
	adv, ok := relay.recv(2 * time.Second)
	if !ok {
		t.Fatal("no Advertise")
	}
	c.serverID = s.ServerDUID()
	c.addr, _, c.prefix, _ = bindings(t, adv)
	st.fail.Store(true)
	relay.send(c.msg(t, dhcpv6.Request, 2, true))
	if m, ok := relay.recv(500 * time.Millisecond); ok {
		t.Fatalf("got %v although the commit failed", m.Type)
	}
	waitCounter(t, s.v6.m.dropFixed[drop6Commit], 1)
	if l, ok := s.Lookup(c.addr); ok && l.State == lease.StateBound {
		t.Error("binding kept after a failed commit (not reverted)")
	}
	if h := s.Health(); h.CommitErrors == 0 {
		t.Error("commit error not in Health")
	}
	// The disk recovers: the same Request is answered.
	st.fail.Store(false)
	relay.send(c.msg(t, dhcpv6.Request, 3, true))
	if m, ok := relay.recv(2 * time.Second); !ok || m.Type != dhcpv6.Reply {
		t.Fatal("no Reply after the store recovered")
	}
}

func TestReturnPathRoundTrip(t *testing.T) {
	var p path6
	p.iface = "vsrv"
	p.to = netip.MustParseAddrPort("[2001:db8::2]:547")
	p.n = 2
	p.hops[0] = hop6{hopCount: 1, link: outerLink, peer: innerRelay, ifaceID: ifaceIDOut}
	p.hops[1] = hop6{hopCount: 0, link: relayLink, peer: clientLL, ifaceID: nil}
	b := appendPath(nil, &p)
	var q path6
	if err := parsePath(b, &q); err != nil {
		t.Fatal(err)
	}
	if q.iface != p.iface || q.to != p.to || q.n != 2 || q.hops[0].hopCount != 1 || q.hops[0].link != outerLink ||
		q.hops[0].peer != innerRelay || !bytes.Equal(q.hops[0].ifaceID, ifaceIDOut) ||
		q.hops[1].link != relayLink || q.hops[1].peer != clientLL || q.hops[1].ifaceID != nil {
		t.Fatalf("round trip: %+v", q)
	}
	// Every truncation and a trailing byte are rejected, never a panic.
	for i := range len(b) {
		if err := parsePath(b[:i], &q); err == nil {
			t.Errorf("truncated to %d accepted", i)
		}
	}
	if err := parsePath(append(b, 0), &q); err == nil {
		t.Error("trailing byte accepted")
	}
	// Direct: no relays.
	d := path6{iface: "eth0", to: netip.MustParseAddrPort("[fe80::1]:546")}
	if err := parsePath(appendPath(nil, &d), &q); err != nil || q.relayed() || q.iface != "eth0" || q.to.Port() != 546 {
		t.Fatalf("direct: %+v %v", q, err)
	}
}

func TestEncodeReconfigureRelayed(t *testing.T) {
	key := bytes.Repeat([]byte{0xab}, 16)
	r := lease6.Reply{Type: dhcpv6.Reconfigure, ReconfKey: key, Replay: 77, ReconfMsg: dhcpv6.Rebind}
	var p path6
	p.n = 2
	p.hops[0] = hop6{hopCount: 1, link: outerLink, peer: innerRelay, ifaceID: ifaceIDOut}
	p.hops[1] = hop6{hopCount: 0, link: relayLink, peer: clientLL, ifaceID: ifaceIDIn}
	var w dhcpv6.Writer
	sid, cid := []byte{0, 4, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, []byte{0, 3, 0, 1, 1, 2, 3, 4, 5, 6}
	pkt, err := encodeReconfigure(&w, make([]byte, 0, 1024), &r, sid, cid, &p)
	if err != nil {
		t.Fatal(err)
	}
	var m dhcpv6.Message
	if err := m.Decode(pkt); err != nil {
		t.Fatal(err)
	}
	rs := m.Relays()
	if len(rs) != 2 || rs[0].Type != dhcpv6.RelayReply || !bytes.Equal(rs[0].InterfaceID(), ifaceIDOut) ||
		!bytes.Equal(rs[1].InterfaceID(), ifaceIDIn) || rs[1].PeerAddr != clientLL {
		t.Fatalf("relays %+v", rs)
	}
	if mt, _ := m.ReconfigureMessage(); mt != dhcpv6.Rebind || !bytes.Equal(m.ServerID(), sid) || !bytes.Equal(m.ClientID(), cid) {
		t.Errorf("msg %v sid %x cid %x", mt, m.ServerID(), m.ClientID())
	}
	a, _ := m.Auth()
	if a.ReplayDetection != 77 {
		t.Errorf("replay %d", a.ReplayDetection)
	}
	checkHMAC(t, &m, key)
	// A different key does not verify: the check can fail.
	off, n, _ := m.AuthInfoOffset()
	in, _ := dhcpv6.AuthHMACInput(nil, m.Bytes(), off+1, n-1)
	mac := hmac.New(md5.New, bytes.Repeat([]byte{1}, 16))
	mac.Write(in)
	if hmac.Equal(mac.Sum(nil), a.Info[1:]) {
		t.Error("HMAC verifies with the wrong key")
	}
}

func TestEncodeReply6Options(t *testing.T) {
	pool := &lease6.Pool{Name: "p", DNS: []netip.Addr{netip.MustParseAddr("fd77::53")}, DomainSearch: []string{"a.example"},
		NTP:        []netip.Addr{netip.MustParseAddr("fd77::123"), netip.MustParseAddr("10.0.0.1")},
		RawOptions: []lease6.RawOption{{Code: 64, Data: []byte("aftr.example")}}}
	po, errs := buildPoolOptions6(pool)
	if len(errs) != 1 {
		t.Errorf("errors %v, want one for the IPv4 NTP server", errs)
	}
	r := lease6.Reply{
		Type: dhcpv6.Reply, HasStatus: true, Status: dhcpv6.StatusSuccess, Message: "ok", Pool: pool,
		ReconfKey: bytes.Repeat([]byte{7}, 16), Replay: 5, ReconfAccept: true, RapidCommit: true,
		IAs: []lease6.IAResult{
			{Kind: lease6.IANA, IAID: 9, T1: time.Minute, T2: 2 * time.Minute,
				Bindings: []lease6.Binding{{Addr: netip.MustParseAddr("fd77::1:5"), Preferred: time.Hour, Valid: 2 * time.Hour}}},
			{Kind: lease6.IAPD, IAID: 10, HasStatus: true, Status: dhcpv6.StatusNoPrefixAvail, Message: "none"},
		},
	}
	var w dhcpv6.Writer
	in := reply6{xid: 0xabcdef, serverID: []byte{0, 4, 1, 2}, clientID: []byte{0, 3, 0, 1, 9}}
	pkt, err := encodeReply6(&w, make([]byte, 0, 1500), &in, &r, po)
	if err != nil {
		t.Fatal(err)
	}
	var m dhcpv6.Message
	if err := m.Decode(pkt); err != nil {
		t.Fatal(err)
	}
	if m.TransactionID != 0xabcdef || !m.RapidCommit() || !m.ReconfigureAccept() || len(m.Relays()) != 0 {
		t.Errorf("header/flags: %+v", m)
	}
	if st, ok := m.StatusCode(); !ok || st.Code != 0 || string(st.Message) != "ok" {
		t.Errorf("status %+v", st)
	}
	ia, _ := m.IANA()
	if ia.IAID != 9 || ia.T1 != 60 || ia.T2 != 120 {
		t.Errorf("IA_NA %+v", ia)
	}
	pd, _ := m.IAPD()
	if st, ok := pd.Options.StatusCode(); !ok || st.Code != dhcpv6.StatusNoPrefixAvail {
		t.Errorf("IA_PD status %+v", st)
	}
	if v, ok := m.Option(56); !ok || len(v) != 20 || binary.BigEndian.Uint16(v) != 1 {
		t.Errorf("NTP option %x", v)
	}
	if v, ok := m.Option(64); !ok || string(v) != "aftr.example" {
		t.Errorf("raw option %q", v)
	}
	a, _ := m.Auth()
	if typ, k, ok := a.ReconfigureKey(); !ok || typ != 1 || !bytes.Equal(k, r.ReconfKey) || a.ReplayDetection != 5 {
		t.Errorf("auth %+v", a)
	}
	// Advertise never carries the key.
	r.Type = dhcpv6.Advertise
	pkt, _ = encodeReply6(&w, make([]byte, 0, 1500), &in, &r, po)
	_ = m.Decode(pkt)
	if _, ok := m.Auth(); ok {
		t.Error("Advertise with option 11")
	}
}

// TestEncodeReply6Oracle decodes a relayed Reply with insomniacslk/dhcp
// (test-only, an independent decoder): two Relay-reply layers with their
// Interface-Ids, and inside them the IA_NA, IA_PD and DNS option.
func TestEncodeReply6Oracle(t *testing.T) {
	var p path6
	p.n = 2
	p.hops[0] = hop6{hopCount: 1, link: outerLink, peer: innerRelay, ifaceID: ifaceIDOut}
	p.hops[1] = hop6{hopCount: 0, link: relayLink, peer: clientLL, ifaceID: ifaceIDIn}
	pool := &lease6.Pool{Name: "p", DNS: []netip.Addr{netip.MustParseAddr("fd77::1")}}
	po, _ := buildPoolOptions6(pool)
	na := netip.MustParseAddr("fd77::1:7")
	pd := netip.MustParsePrefix("fd77:100:200::/56")
	r := lease6.Reply{Type: dhcpv6.Reply, Pool: pool, IAs: []lease6.IAResult{
		{Kind: lease6.IANA, IAID: 1, T1: time.Minute, T2: 2 * time.Minute, Bindings: []lease6.Binding{{Addr: na, Preferred: time.Hour, Valid: 2 * time.Hour}}},
		{Kind: lease6.IAPD, IAID: 2, T1: time.Minute, T2: 2 * time.Minute, Bindings: []lease6.Binding{{Prefix: pd, Preferred: time.Hour, Valid: 2 * time.Hour}}},
	}}
	var w dhcpv6.Writer
	in := reply6{xid: 0x123456, serverID: []byte{0, 4, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}, clientID: []byte{0, 3, 0, 1, 2, 0, 0, 0, 0, 7}, path: &p}
	pkt, err := encodeReply6(&w, make([]byte, 0, 1500), &in, &r, po)
	if err != nil {
		t.Fatal(err)
	}
	d, err := idhcp.FromBytes(pkt)
	if err != nil {
		t.Fatalf("insomniacslk: %v", err)
	}
	outer, ok := d.(*idhcp.RelayMessage)
	if !ok || outer.MessageType != idhcp.MessageTypeRelayReply || outer.HopCount != 1 {
		t.Fatalf("outer %v", d.Summary())
	}
	if id := outer.Options.InterfaceID(); !bytes.Equal(id, ifaceIDOut) {
		t.Errorf("outer interface-id %q", id)
	}
	m, err := outer.GetInnerMessage()
	if err != nil {
		t.Fatal(err)
	}
	if m.MessageType != idhcp.MessageTypeReply || m.TransactionID != [3]byte{0x12, 0x34, 0x56} {
		t.Errorf("inner %v", m.Summary())
	}
	ia := m.Options.OneIANA()
	if ia == nil || ia.IaId != [4]byte{0, 0, 0, 1} || ia.T1 != time.Minute {
		t.Fatalf("IA_NA %v", ia)
	}
	if as := ia.Options.Addresses(); len(as) != 1 || !as[0].IPv6Addr.Equal(net.IP(na.AsSlice())) || as[0].ValidLifetime != 2*time.Hour {
		t.Errorf("IAADDR %v", as)
	}
	pds := m.Options.IAPD()
	if len(pds) != 1 {
		t.Fatalf("IA_PD %v", pds)
	}
	if ps := pds[0].Options.Prefixes(); len(ps) != 1 || ps[0].Prefix.String() != pd.String() {
		t.Errorf("IAPREFIX %v", ps)
	}
	if dns := m.Options.DNS(); len(dns) != 1 || dns[0].String() != "fd77::1" {
		t.Errorf("DNS %v", dns)
	}
}

// TestDUIDSurvivesCompaction: a compaction rewrites the store from the
// engines and allBlobs; the DUID must be in it, or the next start would
// make a new one and every client's Server ID would stop matching.
func TestDUIDSurvivesCompaction(t *testing.T) {
	dir := t.TempDir()
	open := func() (*wal.WAL, *lease6.Engine) {
		w, err := wal.Open(dir, wal.Options{})
		if err != nil {
			t.Fatal(err)
		}
		e, _ := lease6.New(v6Config())
		if err := w.Load(func(l lease.Lease) error { e.Restore(l); return nil }); err != nil {
			t.Fatal(err)
		}
		return w, e
	}
	w, e := open()
	s, stop := run6(t, w, e)
	duid := s.ServerDUID()
	if err := w.Compact(s.allLeases(), s.allBlobs()); err != nil {
		t.Fatal(err)
	}
	stop()
	w.Close()
	w2, e2 := open()
	defer w2.Close()
	s2, _ := run6(t, w2, e2)
	if !bytes.Equal(s2.ServerDUID(), duid) {
		t.Errorf("DUID after compaction and restart %x, want %x", s2.ServerDUID(), duid)
	}
}

// TestV6HotPathAllocs: decoding a relayed Request, building the engine
// request (IAs, return path, key) and encoding the relayed Reply
// allocate nothing (the engine's own allocations are lease6's business).
func TestV6HotPathAllocs(t *testing.T) {
	relay := &relay6{t: t, twoHops: true}
	c := &client6{duid: []byte{0, 3, 0, 1, 2, 0, 0, 0, 0, 7}, serverID: []byte{0, 4, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
		addr: netip.MustParseAddr("fd77::1:7"), prefix: netip.MustParsePrefix("fd77:100:200::/56")}
	pkt := relay.wrap(c.msg(t, dhcpv6.Request, 7, true))
	s := &Server{v6: &v6state{duid: c.serverID}}
	p := &inPacket6{}
	n := copy(p.buf[:], pkt)
	p.n, p.src = n, netip.MustParseAddrPort("[2001:db8::2]:547")
	p.ifc = &iface6{name: "eth0", index: 2}
	r := lease6.Reply{Type: dhcpv6.Reply, ReconfKey: bytes.Repeat([]byte{1}, 16), Replay: 3, ReconfAccept: true,
		IAs: []lease6.IAResult{{Kind: lease6.IANA, IAID: 1, Bindings: []lease6.Binding{{Addr: c.addr, Preferred: time.Hour, Valid: time.Hour}}},
			{Kind: lease6.IAPD, IAID: 2, Bindings: []lease6.Binding{{Prefix: c.prefix, Preferred: time.Hour, Valid: time.Hour}}}}}
	po, _ := buildPoolOptions6(&lease6.Pool{Name: "p", DNS: []netip.Addr{netip.MustParseAddr("fd77::1")}})
	sd := newSender6()
	allocs := testing.AllocsPerRun(200, func() {
		if err := p.msg.Decode(p.buf[:p.n]); err != nil {
			t.Fatal(err)
		}
		s.fillRequest6(p, pktInfo6{IfIndex: 2})
		in := reply6{xid: p.msg.TransactionID, serverID: s.v6.duid, clientID: p.req.ClientID, path: &p.path}
		if _, err := encodeReply6(&sd.w, sd.out[:0], &in, &r, po); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per request", allocs)
	}
	if len(p.req.IAs) != 2 || p.req.IAs[0].Addrs[0] != c.addr || p.req.IAs[1].Prefixes[0] != c.prefix ||
		p.req.LinkAddr != relayLink || p.req.Peer != p.src.Addr() || p.req.ReconfKey == nil || !p.req.ReconfAccept {
		t.Errorf("request %+v", p.req)
	}
}

// TestV6ValidationDropLabels: RFC 8415 §16 validation is the engine's
// (lease6.Engine.Handle); the server counts its drops under the labels
// leased_packets_dropped_total{family="dhcpv6"} had when the server checked them,
// sends nothing, and does not count them as engine_ drops.
func TestV6ValidationDropLabels(t *testing.T) {
	eng6, err := lease6.New(v6Config())
	if err != nil {
		t.Fatal(err)
	}
	s, _ := run6(t, &memStore{}, eng6)
	relay := newRelay6(t, s.Port6())
	raw := func(typ dhcpv6.MessageType) []byte {
		var w dhcpv6.Writer
		w.Reset(make([]byte, 0, 64))
		w.Header(typ, 0x42)
		out, err := w.End()
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	foreign := &client6{duid: []byte{0, 3, 0, 1, 2, 0, 0, 0, 0, 8}, serverID: []byte{0, 3, 0, 1, 9, 9, 9, 9, 9, 9}}
	noSID := &client6{duid: []byte{0, 3, 0, 1, 2, 0, 0, 0, 0, 9}}
	for _, tc := range []struct {
		label string
		msg   []byte
	}{
		{drop6NotOurs, foreign.msg(t, dhcpv6.Request, 1, false)},
		{drop6NoServerID, noSID.msg(t, dhcpv6.Renew, 2, false)},
		{drop6NoClientID, raw(dhcpv6.Solicit)},
		{drop6BadType, raw(dhcpv6.Advertise)},
	} {
		c := s.v6.m.dropFixed[tc.label]
		before := counterValue(c)
		relay.send(tc.msg)
		waitCounter(t, c, before+1)
		if m, ok := relay.recv(100 * time.Millisecond); ok {
			t.Errorf("%s: got a %v", tc.label, m.Type)
		}
	}
	for _, r := range []string{lease6.DropOtherServer, lease6.DropNoServerID, lease6.DropNoClient, lease6.DropUnknownType} {
		if v := counterValue(s.v6.m.dropped.WithLabelValues("engine_" + r)); v != 0 {
			t.Errorf("engine_%s counted %v times", r, v)
		}
	}
}
