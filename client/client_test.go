package client

import (
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/leased/leased/auth"
	"github.com/leased/leased/dhcpv4"
)

var (
	t0       = time.Unix(1_700_000_000, 0)
	serverID = netip.MustParseAddr("10.0.0.1")
	offered  = netip.MustParseAddr("10.0.0.50")
	testKey  = [auth.KeyLen]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
)

// decode decodes a packet the client sent (copying it: it aliases Env).
func decode(t *testing.T, pkt []byte) *dhcpv4.Message {
	t.Helper()
	var m dhcpv4.Message
	if err := m.Decode(append([]byte(nil), pkt...)); err != nil {
		t.Fatalf("client sent an undecodable packet: %v", err)
	}
	return &m
}

// reply builds a server message of type typ answering req.
type replyOpts struct {
	yiaddr    netip.Addr
	lease     uint32
	key       bool // RFC 6704 key (type 1)
	replay    uint64
	noSID     bool
	xid       uint32
	chaddrMod bool
}

func reply(t *testing.T, req *dhcpv4.Message, typ dhcpv4.MessageType, o replyOpts) *dhcpv4.Message {
	t.Helper()
	h := dhcpv4.Header{Op: dhcpv4.BootReply, HType: 1, HLen: 6, XID: req.XID, YIAddr: o.yiaddr, GIAddr: req.GIAddr, CHAddr: req.CHAddr}
	if o.xid != 0 {
		h.XID = o.xid
	}
	if o.chaddrMod {
		h.CHAddr[5] ^= 0xff
	}
	var w dhcpv4.Writer
	w.Reset(make([]byte, 0, 600))
	w.Header(&h)
	w.OptionByte(dhcpv4.OptMessageType, byte(typ))
	if !o.noSID {
		w.OptionAddr(dhcpv4.OptServerID, serverID)
	}
	if o.lease != 0 {
		w.OptionUint32(dhcpv4.OptLeaseTime, o.lease)
	}
	if o.key {
		auth.WriteKeyOption(&w, testKey, o.replay)
	}
	pkt, err := w.End()
	if err != nil {
		t.Fatal(err)
	}
	var m dhcpv4.Message
	if err := m.Decode(pkt); err != nil {
		t.Fatal(err)
	}
	return &m
}

// forceRenew builds a FORCERENEW for c signed with key (RFC 6704 §3.2).
func forceRenew(t *testing.T, c *Client, key [auth.KeyLen]byte, replay uint64, withAuth bool) *dhcpv4.Message {
	t.Helper()
	h := dhcpv4.Header{Op: dhcpv4.BootReply, HType: 1, HLen: 6, XID: c.XID, CIAddr: c.Addr()}
	copy(h.CHAddr[:], c.HWAddr[:])
	var w dhcpv4.Writer
	w.Reset(make([]byte, 0, 600))
	w.Header(&h)
	w.OptionByte(dhcpv4.OptMessageType, byte(dhcpv4.ForceRenew))
	w.OptionAddr(dhcpv4.OptServerID, serverID)
	off := -1
	if withAuth {
		off = auth.WriteForceRenewOption(&w, replay)
	}
	pkt, err := w.End()
	if err != nil {
		t.Fatal(err)
	}
	if withAuth {
		if err := auth.SignHMACMD5(pkt, off, key[:], nil); err != nil {
			t.Fatal(err)
		}
	}
	var m dhcpv4.Message
	if err := m.Decode(pkt); err != nil {
		t.Fatal(err)
	}
	return &m
}

func mustHandle(t *testing.T, c *Client, e *Env, now time.Time, m *dhcpv4.Message, want Event) Out {
	t.Helper()
	out, err := c.Handle(e, now, m)
	if err != nil {
		t.Fatalf("Handle(%v) in %v: %v", m.Type(), c.State(), err)
	}
	if out.Event != want {
		t.Fatalf("Handle(%v): event %v, want %v", m.Type(), out.Event, want)
	}
	return out
}

func checkSent(t *testing.T, out Out, typ dhcpv4.MessageType) *dhcpv4.Message {
	t.Helper()
	if out.Packet == nil {
		t.Fatalf("nothing sent, want %v", typ)
	}
	m := decode(t, out.Packet)
	if m.Type() != typ || m.Op != dhcpv4.BootRequest {
		t.Fatalf("sent %v op %d, want %v", m.Type(), m.Op, typ)
	}
	return m
}

// bind runs a DORA and returns the bound client.
func bind(t *testing.T, e *Env, nonce bool, key bool) *Client {
	t.Helper()
	c := New(HWAddrFor(7, 1), nonce)
	d := checkSent(t, c.Discover(e, t0), dhcpv4.Discover)
	r := checkSent(t, mustHandle(t, &c, e, t0, reply(t, d, dhcpv4.Offer, replyOpts{yiaddr: offered, lease: 3600}), EvOffer), dhcpv4.Request)
	mustHandle(t, &c, e, t0, reply(t, r, dhcpv4.Ack, replyOpts{yiaddr: offered, lease: 3600, key: key, replay: 100}), EvBound)
	return &c
}

func TestSize(t *testing.T) {
	if Size > 104 {
		t.Errorf("Client is %d bytes; keep it near 100 so a million fit in ~100 MB", Size)
	}
	t.Logf("Client: %d bytes", Size)
}

func TestDORA(t *testing.T) {
	e := &Env{GIAddr: netip.MustParseAddr("127.0.0.2"), Retransmit: time.Second}
	c := New(HWAddrFor(7, 1), true)
	d := checkSent(t, c.Discover(e, t0), dhcpv4.Discover)
	if c.State() != Selecting {
		t.Fatalf("state %v after Discover", c.State())
	}
	if d.GIAddr != e.GIAddr || d.Hops != 1 {
		t.Errorf("giaddr %v hops %d, want relay %v hops 1", d.GIAddr, d.Hops, e.GIAddr)
	}
	if v := d.ForceRenewNonceCapable(); !dhcpv4.NonceCapable(v, dhcpv4.AuthAlgHMACMD5) {
		t.Errorf("DISCOVER option 145 = %v, want HMAC-MD5 listed", v)
	}
	if _, ok := d.ServerID(); ok {
		t.Error("DISCOVER carries a server identifier")
	}
	// An OFFER for another xid or chaddr is dropped.
	if _, err := c.Handle(e, t0, reply(t, d, dhcpv4.Offer, replyOpts{yiaddr: offered, xid: d.XID + 1})); !errors.Is(err, ErrNotForUs) {
		t.Errorf("wrong xid: %v", err)
	}
	if _, err := c.Handle(e, t0, reply(t, d, dhcpv4.Offer, replyOpts{yiaddr: offered, chaddrMod: true})); !errors.Is(err, ErrNotForUs) {
		t.Errorf("wrong chaddr: %v", err)
	}
	if _, err := c.Handle(e, t0, reply(t, d, dhcpv4.Offer, replyOpts{yiaddr: offered, noSID: true})); !errors.Is(err, ErrNoServerID) {
		t.Errorf("offer without server id: %v", err)
	}
	// RFC 6704: a key in an OFFER makes the offer unacceptable.
	if _, err := c.Handle(e, t0, reply(t, d, dhcpv4.Offer, replyOpts{yiaddr: offered, key: true})); !errors.Is(err, ErrKeyInOffer) {
		t.Errorf("offer with key: %v", err)
	}
	if c.State() != Selecting {
		t.Fatalf("dropped offers changed the state to %v", c.State())
	}
	t1 := t0.Add(10 * time.Millisecond)
	r := checkSent(t, mustHandle(t, &c, e, t1, reply(t, d, dhcpv4.Offer, replyOpts{yiaddr: offered, lease: 3600}), EvOffer), dhcpv4.Request)
	if c.State() != Requesting {
		t.Fatalf("state %v after OFFER", c.State())
	}
	if r.XID != d.XID {
		t.Error("REQUEST after OFFER must keep the DISCOVER xid (RFC 2131 §4.4.1)")
	}
	if ip, _ := r.RequestedIP(); ip != offered {
		t.Errorf("option 50 = %v", ip)
	}
	if sid, _ := r.ServerID(); sid != serverID {
		t.Errorf("option 54 = %v", sid)
	}
	if r.CIAddr.IsValid() && !r.CIAddr.IsUnspecified() {
		t.Errorf("ciaddr %v in SELECTING REQUEST", r.CIAddr)
	}
	// A second OFFER in REQUESTING is ignored.
	if _, err := c.Handle(e, t1, reply(t, d, dhcpv4.Offer, replyOpts{yiaddr: offered})); !errors.Is(err, ErrUnexpected) {
		t.Errorf("offer in REQUESTING: %v", err)
	}
	mustHandle(t, &c, e, t1, reply(t, r, dhcpv4.Ack, replyOpts{yiaddr: offered, lease: 3600, key: true, replay: 42}), EvBound)
	if c.State() != Bound || c.Addr() != offered || c.ServerID() != serverID {
		t.Fatalf("after ACK: %v %v %v", c.State(), c.Addr(), c.ServerID())
	}
	if !c.HasKey() || c.Key != testKey || c.Replay != 42 {
		t.Errorf("key not stored from ACK: has %v replay %d", c.HasKey(), c.Replay)
	}
	if c.Begin != t0.UnixNano() {
		t.Errorf("Begin %d, want the DISCOVER time", c.Begin)
	}
	a, b, x := c.Times()
	if a != t1.Add(1800*time.Second) || b != t1.Add(3150*time.Second) || x != t1.Add(3600*time.Second) {
		t.Errorf("T1 %v T2 %v expiry %v: want 50 %%, 87.5 %%, 100 %% of 3600 s from the REQUEST", a, b, x)
	}
}

func TestNakInRequesting(t *testing.T) {
	e := &Env{}
	c := New(HWAddrFor(1, 0), false)
	d := decode(t, c.Discover(e, t0).Packet)
	r := decode(t, mustHandle(t, &c, e, t0, reply(t, d, dhcpv4.Offer, replyOpts{yiaddr: offered}), EvOffer).Packet)
	mustHandle(t, &c, e, t0, reply(t, r, dhcpv4.Nak, replyOpts{}), EvNak)
	if c.State() != Init || c.Addr().IsValid() {
		t.Fatalf("after NAK: %v %v, want INIT without address", c.State(), c.Addr())
	}
}

func TestAckWithoutKeyForNonCapable(t *testing.T) {
	c := bind(t, &Env{}, false, false)
	if c.HasKey() {
		t.Fatal("key without option 90")
	}
}

func TestRetransmitAndGiveUp(t *testing.T) {
	e := &Env{Retransmit: time.Second, MaxTries: 3}
	c := New(HWAddrFor(1, 0), false)
	first := decode(t, c.Discover(e, t0).Packet)
	if c.Deadline(e) != t0.Add(time.Second).UnixNano() {
		t.Fatalf("deadline %v", c.Deadline(e))
	}
	if out := c.Timer(e, t0.Add(999*time.Millisecond)); out.Packet != nil || out.Event != EvNone {
		t.Fatal("timer fired early")
	}
	now := t0.Add(time.Second)
	m := checkSent(t, c.Timer(e, now), dhcpv4.Discover)
	if m.XID != first.XID {
		t.Error("retransmission changed the xid")
	}
	if m.Secs != 1 {
		t.Errorf("secs %d, want 1", m.Secs)
	}
	// Doubling: next after 2 s.
	if got := time.Duration(c.Deadline(e) - now.UnixNano()); got != 2*time.Second {
		t.Fatalf("second timeout %v, want 2s", got)
	}
	now = now.Add(2 * time.Second)
	checkSent(t, c.Timer(e, now), dhcpv4.Discover)
	now = now.Add(4 * time.Second)
	if out := c.Timer(e, now); out.Event != EvGaveUp || out.Packet != nil {
		t.Fatalf("after 3 tries: %v", out.Event)
	}
	if c.State() != Init {
		t.Fatalf("state %v", c.State())
	}
}

func TestRenewRebindExpire(t *testing.T) {
	e := &Env{Retransmit: 10 * time.Second}
	c := bind(t, e, false, false)
	t1, t2, exp := c.Times()
	if c.Deadline(e) != t1.UnixNano() {
		t.Fatal("BOUND deadline is not T1")
	}
	r := checkSent(t, c.Timer(e, t1), dhcpv4.Request)
	if c.State() != Renewing {
		t.Fatalf("at T1: %v", c.State())
	}
	// RFC 2131 table 5: RENEWING: ciaddr set, no 50, no 54.
	if r.CIAddr != offered || r.Has(dhcpv4.OptRequestedIP) || r.Has(dhcpv4.OptServerID) {
		t.Errorf("renew REQUEST: ciaddr %v, 50 %v, 54 %v", r.CIAddr, r.Has(dhcpv4.OptRequestedIP), r.Has(dhcpv4.OptServerID))
	}
	// Retransmits while renewing, then rebinds at T2.
	checkSent(t, c.Timer(e, t1.Add(10*time.Second)), dhcpv4.Request)
	rb := checkSent(t, c.Timer(e, t2), dhcpv4.Request)
	if c.State() != Rebinding || rb.CIAddr != offered {
		t.Fatalf("at T2: %v ciaddr %v", c.State(), rb.CIAddr)
	}
	out := c.Timer(e, exp)
	if out.Event != EvExpired || c.State() != Init {
		t.Fatalf("at expiry: %v %v", out.Event, c.State())
	}
}

func TestRenewAck(t *testing.T) {
	e := &Env{}
	c := bind(t, e, false, false)
	now := t0.Add(time.Hour)
	r := checkSent(t, c.Renew(e, now), dhcpv4.Request)
	if r.CIAddr != offered {
		t.Fatal("no ciaddr")
	}
	mustHandle(t, c, e, now, reply(t, r, dhcpv4.Ack, replyOpts{yiaddr: offered, lease: 600}), EvRenewed)
	if _, _, x := c.Times(); x != now.Add(600*time.Second) {
		t.Errorf("expiry %v after renew", x)
	}
	// Rebind then NAK.
	rb := checkSent(t, c.Rebind(e, now), dhcpv4.Request)
	mustHandle(t, c, e, now, reply(t, rb, dhcpv4.Nak, replyOpts{}), EvNak)
	if c.State() != Init {
		t.Fatal("NAK in REBINDING must go to INIT")
	}
}

func TestInitReboot(t *testing.T) {
	e := &Env{}
	c := bind(t, e, false, false)
	old := c.XID
	r := checkSent(t, c.Reboot(e, t0), dhcpv4.Request)
	if c.State() != Rebooting || r.XID == old {
		t.Fatalf("state %v, xid reused %v", c.State(), r.XID == old)
	}
	// RFC 2131 table 5: INIT-REBOOT: option 50 MUST, 54 MUST NOT, ciaddr 0.
	if ip, _ := r.RequestedIP(); ip != offered || r.Has(dhcpv4.OptServerID) || !r.CIAddr.IsUnspecified() {
		t.Errorf("INIT-REBOOT REQUEST: 50 %v, 54 %v, ciaddr %v", ip, r.Has(dhcpv4.OptServerID), r.CIAddr)
	}
	mustHandle(t, c, e, t0, reply(t, r, dhcpv4.Ack, replyOpts{yiaddr: offered, lease: 60}), EvRebooted)
	r = checkSent(t, c.Reboot(e, t0), dhcpv4.Request)
	mustHandle(t, c, e, t0, reply(t, r, dhcpv4.Nak, replyOpts{}), EvNak)
	// No previous address: Reboot is a Discover.
	checkSent(t, c.Reboot(e, t0), dhcpv4.Discover)
}

func TestReleaseDecline(t *testing.T) {
	e := &Env{}
	c := bind(t, e, false, false)
	out := c.Release(e, t0)
	m := checkSent(t, out, dhcpv4.Release)
	if out.Event != EvReleased || out.Dest != DestServer || c.State() != Init {
		t.Fatalf("release: %v %v %v", out.Event, out.Dest, c.State())
	}
	if sid, _ := m.ServerID(); m.CIAddr != offered || sid != serverID {
		t.Errorf("RELEASE ciaddr %v sid %v", m.CIAddr, sid)
	}
	if c.Release(e, t0).Packet != nil {
		t.Error("RELEASE from INIT")
	}
	c = bind(t, e, false, false)
	out = c.Decline(e, t0)
	m = checkSent(t, out, dhcpv4.Decline)
	if ip, _ := m.RequestedIP(); ip != offered || !m.CIAddr.IsUnspecified() || c.State() != Init || out.Event != EvDeclined {
		t.Errorf("DECLINE 50 %v ciaddr %v state %v", ip, m.CIAddr, c.State())
	}
}

func TestInform(t *testing.T) {
	e := &Env{}
	c := New(HWAddrFor(3, 0), true)
	addr := netip.MustParseAddr("10.0.0.9")
	m := checkSent(t, c.Inform(e, t0, addr), dhcpv4.Inform)
	if m.CIAddr != addr || m.Has(dhcpv4.OptForceRenewNonceCap) {
		t.Errorf("INFORM ciaddr %v, 145 %v", m.CIAddr, m.Has(dhcpv4.OptForceRenewNonceCap))
	}
	mustHandle(t, &c, e, t0, reply(t, m, dhcpv4.Ack, replyOpts{}), EvInformed)
	if c.State() != Init {
		t.Fatal(c.State())
	}
}

func TestForceRenew(t *testing.T) {
	e := &Env{}
	c := bind(t, e, true, true)
	// Wrong key, replayed value, no auth: all refused, state unchanged.
	bad := testKey
	bad[0] ^= 1
	for name, m := range map[string]*dhcpv4.Message{
		"wrong key": forceRenew(t, c, bad, 200, true),
		"replay":    forceRenew(t, c, testKey, 100, true),
		"no auth":   forceRenew(t, c, testKey, 0, false),
	} {
		if _, err := c.Handle(e, t0, m); !errors.Is(err, ErrUnauthentic) {
			t.Errorf("%s: %v, want ErrUnauthentic", name, err)
		}
		if c.State() != Bound {
			t.Fatalf("%s changed state to %v", name, c.State())
		}
	}
	fr := forceRenew(t, c, testKey, 200, true)
	out := mustHandle(t, c, e, t0, fr, EvForceRenew)
	r := checkSent(t, out, dhcpv4.Request)
	if c.State() != Renewing || r.CIAddr != offered || c.Replay != 200 {
		t.Fatalf("after FORCERENEW: %v ciaddr %v replay %d", c.State(), r.CIAddr, c.Replay)
	}
	// The same FORCERENEW again (xid no longer current) is dropped.
	if _, err := c.Handle(e, t0, fr); err == nil {
		t.Error("FORCERENEW accepted twice")
	}
	mustHandle(t, c, e, t0, reply(t, r, dhcpv4.Ack, replyOpts{yiaddr: offered, lease: 3600, key: true, replay: 300}), EvRenewed)
	// A replayed FORCERENEW with the new xid but an old counter.
	if _, err := c.Handle(e, t0, forceRenew(t, c, testKey, 250, true)); !errors.Is(err, ErrUnauthentic) {
		t.Errorf("old replay value after new ACK: %v", err)
	}
}

func TestForceRenewUnauthenticated(t *testing.T) {
	e := &Env{}
	c := bind(t, e, false, false)
	if _, err := c.Handle(e, t0, forceRenew(t, c, testKey, 0, false)); !errors.Is(err, ErrUnauthentic) {
		t.Fatalf("unauthenticated FORCERENEW accepted by default: %v", err)
	}
	e.AcceptUnauthenticated = true
	mustHandle(t, c, e, t0, forceRenew(t, c, testKey, 0, false), EvForceRenew)
}

func TestHWAddr(t *testing.T) {
	hw := HWAddrFor(0x01020304, 9)
	i, s, ok := IndexOf(hw[:])
	if !ok || i != 0x01020304 || s != 9 {
		t.Fatalf("IndexOf(%x) = %d %d %v", hw, i, s, ok)
	}
}

func TestSendAllocs(t *testing.T) {
	e := &Env{}
	c := New(HWAddrFor(1, 0), true)
	n := testing.AllocsPerRun(100, func() { c.Discover(e, t0) })
	if n != 0 {
		t.Errorf("Discover allocates %v times", n)
	}
}

func BenchmarkDiscover(b *testing.B) {
	e := &Env{}
	c := New(HWAddrFor(1, 0), true)
	for b.Loop() {
		c.Discover(e, t0)
	}
}
