package client

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/leased/leased/dhcpv6"
)

var (
	srvDUID   = dhcpv6.AppendDUIDLL(nil, dhcpv6.HTypeEthernet, []byte{0x02, 0, 0, 0, 0, 0x99})
	otherDUID = dhcpv6.AppendDUIDLL(nil, dhcpv6.HTypeEthernet, []byte{0x02, 0, 0, 0, 0, 0x98})
	addr6     = netip.MustParseAddr("fd77::1:5")
	prefix6   = netip.MustParsePrefix("fd77:100:0:300::/56")
	link6     = netip.MustParseAddr("fd77::1")
	key6      = [16]byte{16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1}
)

// decode6 decodes a packet the client sent (a copy: it aliases Env6).
func decode6(t *testing.T, pkt []byte) *dhcpv6.Message {
	t.Helper()
	if pkt == nil {
		t.Fatal("nothing sent")
	}
	var m dhcpv6.Message
	if err := m.Decode(append([]byte(nil), pkt...)); err != nil {
		t.Fatalf("client sent an undecodable packet: %v", err)
	}
	return &m
}

func sent6(t *testing.T, out Out6, typ dhcpv6.MessageType) *dhcpv6.Message {
	t.Helper()
	m := decode6(t, out.Packet)
	if m.Type != typ {
		t.Fatalf("sent %v, want %v", m.Type, typ)
	}
	// §21.9: every client message carries Elapsed Time.
	if _, ok := m.ElapsedTime(); !ok {
		t.Errorf("%v without Elapsed Time", typ)
	}
	return m
}

// srv6 describes a server message for the client's last message req.
type srv6 struct {
	typ         dhcpv6.MessageType
	xid         int // -1: req's
	sid         []byte
	noSID       bool
	cid         []byte // nil: req's
	addr        bool
	prefix      bool
	pref, valid uint32
	t1, t2      uint32
	status      int // top-level status; -1 none
	iaStatus    int // status inside the IA_NA (and IA_PD); -1 none
	rapid       bool
	key         bool
	replay      uint64
	relay       bool // wrap in a Relay-reply
}

func defSrv(typ dhcpv6.MessageType) srv6 {
	return srv6{typ: typ, xid: -1, addr: true, pref: 3000, valid: 4000, t1: 1000, t2: 1600, status: -1, iaStatus: -1}
}

func build6(t *testing.T, req *dhcpv6.Message, o srv6) *dhcpv6.Message {
	t.Helper()
	var w dhcpv6.Writer
	w.Reset(make([]byte, 0, 1500))
	if o.relay {
		w.RelayHeader(dhcpv6.RelayReply, 0, link6, netip.MustParseAddr("fe80::1"))
		w.BeginOption(dhcpv6.OptRelayMsg)
	}
	xid := req.TransactionID
	if o.xid >= 0 {
		xid = uint32(o.xid)
	}
	w.Header(o.typ, xid)
	cid := o.cid
	if cid == nil {
		cid = req.ClientID()
	}
	w.Option(dhcpv6.OptClientID, cid)
	if !o.noSID {
		sid := o.sid
		if sid == nil {
			sid = srvDUID
		}
		w.Option(dhcpv6.OptServerID, sid)
	}
	if o.status >= 0 {
		w.StatusCode(uint16(o.status), "test")
	}
	if o.rapid {
		w.OptionEmpty(dhcpv6.OptRapidCommit)
	}
	if req.Has(dhcpv6.OptIANA) && (o.addr || o.iaStatus >= 0) {
		w.BeginIA(dhcpv6.OptIANA, IAIDNA, o.t1, o.t2)
		if o.addr {
			w.BeginIAAddr(addr6, o.pref, o.valid)
			w.EndOption()
		}
		if o.iaStatus >= 0 {
			w.StatusCode(uint16(o.iaStatus), "ia")
		}
		w.EndOption()
	}
	if req.Has(dhcpv6.OptIAPD) && (o.prefix || o.iaStatus >= 0) {
		w.BeginIA(dhcpv6.OptIAPD, IAIDPD, o.t1, o.t2)
		if o.prefix {
			w.BeginIAPrefix(prefix6, o.pref, o.valid)
			w.EndOption()
		}
		if o.iaStatus >= 0 {
			st := uint16(o.iaStatus)
			if st == dhcpv6.StatusNoAddrsAvail {
				st = dhcpv6.StatusNoPrefixAvail
			}
			w.StatusCode(st, "ia")
		}
		w.EndOption()
	}
	if o.key {
		info := append([]byte{dhcpv6.AuthInfoReconfigureKey}, key6[:]...)
		w.OptionAuth(dhcpv6.Auth{Protocol: dhcpv6.AuthProtoReconfigureKey, Algorithm: dhcpv6.AuthAlgHMACMD5, ReplayDetection: o.replay, Info: info})
	}
	if o.relay {
		w.EndOption()
	}
	pkt, err := w.End()
	if err != nil {
		t.Fatal(err)
	}
	var m dhcpv6.Message
	if err := m.Decode(pkt); err != nil {
		t.Fatal(err)
	}
	return &m
}

// reconf6 builds a Reconfigure for c, signed with key by an independent
// HMAC-MD5 (crypto/hmac) over the message with the digest zeroed.
func reconf6(t *testing.T, c *Client6, msg dhcpv6.MessageType, key [16]byte, replay uint64, relay, withAuth bool) *dhcpv6.Message {
	t.Helper()
	var w dhcpv6.Writer
	buf := make([]byte, 0, 600)
	w.Reset(buf)
	if relay {
		w.RelayHeader(dhcpv6.RelayReply, 0, link6, c.LinkLocal())
		w.Option(dhcpv6.OptInterfaceID, []byte("lb0"))
		w.BeginOption(dhcpv6.OptRelayMsg)
	}
	start := w.Len()
	w.Header(dhcpv6.Reconfigure, 0)
	w.Option(dhcpv6.OptServerID, srvDUID)
	w.Option(dhcpv6.OptClientID, c.DUID(nil))
	w.OptionUint8(dhcpv6.OptReconfMsg, uint8(msg))
	off := -1
	if withAuth {
		off = w.OptionAuth(dhcpv6.Auth{Protocol: dhcpv6.AuthProtoReconfigureKey, Algorithm: dhcpv6.AuthAlgHMACMD5,
			ReplayDetection: replay, Info: make([]byte, dhcpv6.AuthReconfigureInfoLen)})
	}
	end := w.Len()
	if relay {
		w.EndOption()
	}
	pkt, err := w.End()
	if err != nil {
		t.Fatal(err)
	}
	if withAuth {
		pkt[off] = dhcpv6.AuthInfoHMACMD5
		mac := hmac.New(md5.New, key[:])
		mac.Write(pkt[start:end]) // digest bytes are still zero
		copy(pkt[off+1:], mac.Sum(nil))
	}
	var m dhcpv6.Message
	if err := m.Decode(pkt); err != nil {
		t.Fatal(err)
	}
	return &m
}

func handle6(t *testing.T, c *Client6, e *Env6, now time.Time, m *dhcpv6.Message, want Event6) Out6 {
	t.Helper()
	out, err := c.Handle(e, now, m)
	if err != nil {
		t.Fatalf("Handle(%v) in %v: %v", m.Type, c.State(), err)
	}
	if out.Event != want {
		t.Fatalf("Handle(%v) in %v: event %v, want %v", m.Type, c.State(), out.Event, want)
	}
	return out
}

// bind6 runs Solicit/Advertise/Request/Reply; the Reply carries a key with
// replay 100.
func bind6(t *testing.T, e *Env6, flags uint8) (*Client6, *dhcpv6.Message) {
	t.Helper()
	c := New6(HWAddrFor(7, 3), flags)
	sol := sent6(t, c.Solicit(e, t0), dhcpv6.Solicit)
	adv := defSrv(dhcpv6.Advertise)
	adv.prefix = flags&V6IAPD != 0
	adv.addr = flags&V6IANA != 0
	req := sent6(t, handle6(t, &c, e, t0, build6(t, sol, adv), Ev6Advertise), dhcpv6.Request)
	rep := adv
	rep.typ, rep.key, rep.replay = dhcpv6.Reply, true, 100
	handle6(t, &c, e, t0.Add(time.Millisecond), build6(t, req, rep), Ev6Bound)
	return &c, req
}

func TestSize6(t *testing.T) {
	if Size6 > 112 {
		t.Errorf("Client6 is %d bytes; keep it at or under 112", Size6)
	}
	t.Logf("Client6: %d bytes", Size6)
}

func TestV6SolicitAdvertiseRequestReply(t *testing.T) {
	e := &Env6{Relay: Relay6{LinkAddr: link6, InterfaceID: []byte("lb0"), SourcePort: true}, Retransmit: time.Second}
	c := New6(HWAddrFor(7, 3), V6IANA|V6IAPD|V6ReconfAccept)
	out := c.Solicit(e, t0)
	if c.State() != V6Soliciting {
		t.Fatalf("state %v", c.State())
	}
	sol := decode6(t, out.Packet)
	rs := sol.Relays()
	if len(rs) != 1 || rs[0].Type != dhcpv6.RelayForward || rs[0].HopCount != 0 || rs[0].LinkAddr != link6 ||
		rs[0].PeerAddr != c.LinkLocal() || string(rs[0].InterfaceID()) != "lb0" {
		t.Fatalf("relay layers %+v", rs)
	}
	if v, ok := rs[0].Options.Get(OptRelaySourcePort); !ok || len(v) != 2 || binary.BigEndian.Uint16(v) != 0 {
		t.Errorf("Relay Source Port option %x %v", v, ok)
	}
	if c.LinkLocal() != netip.MustParseAddr("fe80::3:ff:fe00:7") {
		t.Errorf("link-local %v", c.LinkLocal())
	}
	if sol.Type != dhcpv6.Solicit || sol.Has(dhcpv6.OptServerID) || !sol.ReconfigureAccept() || sol.RapidCommit() {
		t.Errorf("solicit options: %v", sol.Options())
	}
	if i, salt, ok := IndexOfDUID(sol.ClientID()); !ok || i != 7 || salt != 3 || sol.ClientID().Type() != dhcpv6.DUIDLL {
		t.Errorf("client id %v -> %d %d %v", sol.ClientID(), i, salt, ok)
	}
	if !sol.ORO().Has(dhcpv6.OptSolMaxRT) || !sol.ORO().Has(dhcpv6.OptDNSServers) {
		t.Error("ORO lacks SOL_MAX_RT or DNS")
	}
	if ia, ok := sol.IANA(); !ok || ia.IAID != IAIDNA {
		t.Error("no IA_NA")
	}
	if ia, ok := sol.IAPD(); !ok || ia.IAID != IAIDPD {
		t.Error("no IA_PD")
	}
	if el, _ := sol.ElapsedTime(); el != 0 {
		t.Errorf("elapsed %d in the first Solicit", el)
	}
	// Retransmission at 1 s with elapsed time 100.
	if c.Timer(e, t0.Add(500*time.Millisecond)).Packet != nil {
		t.Fatal("retransmitted early")
	}
	re := sent6(t, c.Timer(e, t0.Add(time.Second)), dhcpv6.Solicit)
	if el, _ := re.ElapsedTime(); el != 100 || re.TransactionID != sol.TransactionID {
		t.Errorf("retransmission elapsed %d xid %x (want 100, %x)", el, re.TransactionID, sol.TransactionID)
	}
	if d := c.Deadline(e); d != t0.Add(3*time.Second).UnixNano() {
		t.Errorf("next retransmission at +%v, want +3s", time.Duration(d-t0.UnixNano()))
	}

	adv := defSrv(dhcpv6.Advertise)
	adv.prefix, adv.relay = true, true
	now := t0.Add(1100 * time.Millisecond)
	req := sent6(t, handle6(t, &c, e, now, build6(t, sol, adv), Ev6Advertise), dhcpv6.Request)
	if c.State() != V6Requesting || req.TransactionID == sol.TransactionID {
		t.Fatalf("state %v, request xid %x", c.State(), req.TransactionID)
	}
	if !bytes.Equal(req.ServerID(), srvDUID) || !req.ReconfigureAccept() {
		t.Error("Request without the Advertise's Server ID or option 20")
	}
	ia, _ := req.IANA()
	if at := ia.Addrs(); !at.Next() {
		t.Error("Request IA_NA without the advertised address")
	} else if a, _ := dhcpv6.ParseIAAddr(at.Data()); a.Addr != addr6 {
		t.Errorf("Request asks for %v", a.Addr)
	}
	pd, _ := req.IAPD()
	if pt := pd.Prefixes(); !pt.Next() {
		t.Error("Request IA_PD without the advertised prefix")
	} else if p, _ := dhcpv6.ParseIAPrefix(pt.Data()); p.Prefix != prefix6 {
		t.Errorf("Request asks for %v", p.Prefix)
	}
	// A Reply for the Solicit's transaction is not ours any more.
	rep := adv
	rep.typ, rep.key, rep.replay = dhcpv6.Reply, true, 100
	if _, err := c.Handle(e, now, build6(t, sol, rep)); !errors.Is(err, ErrV6NotForUs) {
		t.Errorf("stale Reply: %v", err)
	}
	handle6(t, &c, e, now, build6(t, req, rep), Ev6Bound)
	if c.State() != V6Bound || c.Addr() != addr6 || c.Prefix() != prefix6 || !c.HasKey() || c.Key != key6 || c.Replay != 100 {
		t.Fatalf("bound: %v %v %v key %v replay %d", c.State(), c.Addr(), c.Prefix(), c.HasKey(), c.Replay)
	}
	t1, t2, exp := c.Times()
	if t1.Sub(now) != 1000*time.Second || t2.Sub(now) != 1600*time.Second || exp.Sub(now) != 4000*time.Second {
		t.Errorf("times +%v +%v +%v", t1.Sub(now), t2.Sub(now), exp.Sub(now))
	}
	// Latency is measured from the Solicit.
	if c.Begin != t0.UnixNano() {
		t.Errorf("Begin moved to %v", time.Unix(0, c.Begin))
	}
}

func TestV6RapidCommit(t *testing.T) {
	e := &Env6{}
	c := New6(HWAddrFor(1, 0), V6IANA|V6RapidCommit)
	sol := sent6(t, c.Solicit(e, t0), dhcpv6.Solicit)
	if !sol.RapidCommit() {
		t.Fatal("no Rapid Commit in Solicit")
	}
	// A Reply without option 14 does not answer a Solicit.
	if _, err := c.Handle(e, t0, build6(t, sol, defSrv(dhcpv6.Reply))); !errors.Is(err, ErrUnexpected) {
		t.Errorf("Reply without Rapid Commit: %v", err)
	}
	rep := defSrv(dhcpv6.Reply)
	rep.rapid = true
	handle6(t, &c, e, t0, build6(t, sol, rep), Ev6Bound)
	if c.Addr() != addr6 || c.HasKey() {
		t.Errorf("addr %v key %v", c.Addr(), c.HasKey())
	}
	// Without the flag, a rapid-commit Reply is refused.
	c2 := New6(HWAddrFor(2, 0), V6IANA)
	sol2 := sent6(t, c2.Solicit(e, t0), dhcpv6.Solicit)
	if sol2.RapidCommit() {
		t.Error("Rapid Commit sent without the flag")
	}
	if _, err := c2.Handle(e, t0, build6(t, sol2, rep)); !errors.Is(err, ErrUnexpected) {
		t.Errorf("rapid Reply to a plain Solicit: %v", err)
	}
	// The server may still Advertise to a rapid-commit Solicit: the
	// 4-message exchange follows.
	c3 := New6(HWAddrFor(3, 0), V6IANA|V6RapidCommit)
	sol3 := sent6(t, c3.Solicit(e, t0), dhcpv6.Solicit)
	req3 := sent6(t, handle6(t, &c3, e, t0, build6(t, sol3, defSrv(dhcpv6.Advertise)), Ev6Advertise), dhcpv6.Request)
	handle6(t, &c3, e, t0, build6(t, req3, defSrv(dhcpv6.Reply)), Ev6Bound)
}

func TestV6Dropped(t *testing.T) {
	e := &Env6{}
	c := New6(HWAddrFor(1, 0), V6IANA)
	sol := sent6(t, c.Solicit(e, t0), dhcpv6.Solicit)
	for name, tc := range map[string]struct {
		o    func(*srv6)
		want error
	}{
		"wrong xid":       {func(o *srv6) { o.xid = int(sol.TransactionID ^ 1) }, ErrV6NotForUs},
		"other client id": {func(o *srv6) { o.cid = otherDUID }, ErrV6NotForUs},
		"no server id":    {func(o *srv6) { o.noSID = true }, ErrV6NoServerID},
		"no address":      {func(o *srv6) { o.addr = false; o.iaStatus = int(dhcpv6.StatusNoAddrsAvail) }, ErrV6NoBindings},
		"preferred>valid": {func(o *srv6) { o.pref = 5000 }, ErrV6NoBindings},
	} {
		o := defSrv(dhcpv6.Advertise)
		tc.o(&o)
		if _, err := c.Handle(e, t0, build6(t, sol, o)); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
		if c.State() != V6Soliciting {
			t.Fatalf("%s: state %v", name, c.State())
		}
	}
}

func TestV6NoAddrsAvail(t *testing.T) {
	e := &Env6{}
	c := New6(HWAddrFor(1, 0), V6IANA|V6IAPD)
	sol := sent6(t, c.Solicit(e, t0), dhcpv6.Solicit)
	adv := defSrv(dhcpv6.Advertise)
	adv.prefix = true
	req := sent6(t, handle6(t, &c, e, t0, build6(t, sol, adv), Ev6Advertise), dhcpv6.Request)
	rep := defSrv(dhcpv6.Reply)
	rep.addr, rep.iaStatus = false, int(dhcpv6.StatusNoAddrsAvail)
	handle6(t, &c, e, t0, build6(t, req, rep), Ev6NoAddrs)
	if c.State() != V6Init || c.Addr().IsValid() || c.Prefix().IsValid() {
		t.Fatalf("after NoAddrsAvail: %v %v %v", c.State(), c.Addr(), c.Prefix())
	}
	// The same as a top-level status (some servers answer so).
	sol = sent6(t, c.Solicit(e, t0), dhcpv6.Solicit)
	req = sent6(t, handle6(t, &c, e, t0, build6(t, sol, adv), Ev6Advertise), dhcpv6.Request)
	rep = defSrv(dhcpv6.Reply)
	rep.addr, rep.status = false, int(dhcpv6.StatusNoAddrsAvail)
	handle6(t, &c, e, t0, build6(t, req, rep), Ev6NoAddrs)
	if c.State() != V6Init {
		t.Fatalf("after top-level NoAddrsAvail: %v", c.State())
	}
}

func TestV6TopLevelStatus(t *testing.T) {
	e := &Env6{}
	c, _ := bind6(t, e, V6IANA)
	now := t0.Add(1000 * time.Second)
	ren := sent6(t, c.Timer(e, now), dhcpv6.Renew)
	st := defSrv(dhcpv6.Reply)
	st.addr, st.status = false, int(dhcpv6.StatusUnspecFail)
	handle6(t, c, e, now, build6(t, ren, st), Ev6Status)
	if c.State() != V6Renewing {
		t.Fatalf("state %v after UnspecFail", c.State())
	}
	// The retransmission retries.
	sent6(t, c.Timer(e, now.Add(10*time.Second)), dhcpv6.Renew)
}

func TestV6RenewRebindExpire(t *testing.T) {
	e := &Env6{}
	c, _ := bind6(t, e, V6IANA|V6IAPD|V6ReconfAccept)
	start := t0 // lifetimes count from the Request's transmission
	if out := c.Timer(e, start.Add(999*time.Second)); out.Packet != nil {
		t.Fatal("renewed before T1")
	}
	ren := sent6(t, c.Timer(e, start.Add(1000*time.Second)), dhcpv6.Renew)
	if c.State() != V6Renewing || !bytes.Equal(ren.ServerID(), srvDUID) || !ren.ReconfigureAccept() {
		t.Fatalf("Renew: state %v server id %x", c.State(), ren.ServerID())
	}
	ia, _ := ren.IANA()
	if at := ia.Addrs(); !at.Next() {
		t.Fatal("Renew without the address")
	} else if a, _ := dhcpv6.ParseIAAddr(at.Data()); a.Addr != addr6 || a.ValidLifetime != 0 {
		t.Errorf("Renew IAADDR %v valid %d", a.Addr, a.ValidLifetime)
	}
	if _, ok := ren.IAPD(); !ok {
		t.Error("Renew without IA_PD")
	}
	// REN_TIMEOUT 10 s, then 20 s.
	sent6(t, c.Timer(e, start.Add(1010*time.Second)), dhcpv6.Renew)
	sent6(t, c.Timer(e, start.Add(1030*time.Second)), dhcpv6.Renew)
	// At T2: Rebind, without a Server ID (§18.2.5).
	reb := sent6(t, c.Timer(e, start.Add(1600*time.Second)), dhcpv6.Rebind)
	if c.State() != V6Rebinding || reb.Has(dhcpv6.OptServerID) {
		t.Fatalf("Rebind: state %v, server id present %v", c.State(), reb.Has(dhcpv6.OptServerID))
	}
	// A Reply from another server is taken in REBINDING.
	rep := defSrv(dhcpv6.Reply)
	rep.prefix, rep.sid = true, otherDUID
	now := start.Add(1601 * time.Second)
	handle6(t, c, e, now, build6(t, reb, rep), Ev6Renewed)
	if c.State() != V6Bound {
		t.Fatalf("state %v", c.State())
	}
	if t1, _, _ := c.Times(); t1.Sub(start.Add(1600*time.Second)) != 1000*time.Second {
		t.Errorf("T1 not restarted from the Rebind: %v", t1)
	}
	// Renew, Rebind, no answer: expired at the valid lifetime.
	b := start.Add(1600 * time.Second)
	sent6(t, c.Timer(e, b.Add(1000*time.Second)), dhcpv6.Renew)
	sent6(t, c.Timer(e, b.Add(1600*time.Second)), dhcpv6.Rebind)
	for {
		d := c.Deadline(e)
		if d == 0 {
			t.Fatal("no deadline while rebinding")
		}
		now := time.Unix(0, d)
		out := c.Timer(e, now)
		if out.Event == Ev6Expired {
			if now != b.Add(4000*time.Second) || c.State() != V6Init || c.Addr().IsValid() || c.HasKey() {
				t.Fatalf("expired at +%v state %v", now.Sub(b), c.State())
			}
			break
		}
		if out.Event != Ev6Sent || now.After(b.Add(4000*time.Second)) {
			t.Fatalf("event %v at +%v", out.Event, now.Sub(b))
		}
	}
}

func TestV6T1T2Defaults(t *testing.T) {
	e := &Env6{}
	c := New6(HWAddrFor(1, 0), V6IANA)
	sol := sent6(t, c.Solicit(e, t0), dhcpv6.Solicit)
	req := sent6(t, handle6(t, &c, e, t0, build6(t, sol, defSrv(dhcpv6.Advertise)), Ev6Advertise), dhcpv6.Request)
	rep := defSrv(dhcpv6.Reply)
	rep.t1, rep.t2 = 0, 0
	handle6(t, &c, e, t0, build6(t, req, rep), Ev6Bound)
	// §21.4: 0.5 and 0.8 of the preferred lifetime (3000 s).
	t1, t2, _ := c.Times()
	if t1.Sub(t0) != 1500*time.Second || t2.Sub(t0) != 2400*time.Second {
		t.Errorf("T1 %v T2 %v", t1.Sub(t0), t2.Sub(t0))
	}
}

func TestV6NoBindingRequests(t *testing.T) {
	e := &Env6{}
	c, _ := bind6(t, e, V6IANA)
	now := t0.Add(1000 * time.Second)
	ren := sent6(t, c.Renew(e, now), dhcpv6.Renew)
	rep := defSrv(dhcpv6.Reply)
	rep.addr, rep.iaStatus = false, int(dhcpv6.StatusNoBinding)
	out := handle6(t, c, e, now, build6(t, ren, rep), Ev6NoBinding)
	req := sent6(t, out, dhcpv6.Request)
	if c.State() != V6Requesting || !bytes.Equal(req.ServerID(), srvDUID) || req.TransactionID == ren.TransactionID {
		t.Fatalf("after NoBinding: %v", c.State())
	}
	handle6(t, c, e, now, build6(t, req, defSrv(dhcpv6.Reply)), Ev6Bound)
}

func TestV6LifetimeZeroResolicits(t *testing.T) {
	e := &Env6{}
	c, _ := bind6(t, e, V6IANA)
	now := t0.Add(1000 * time.Second)
	ren := sent6(t, c.Renew(e, now), dhcpv6.Renew)
	rep := defSrv(dhcpv6.Reply)
	rep.pref, rep.valid = 0, 0 // the campaign's "address no longer valid"
	out := handle6(t, c, e, now, build6(t, ren, rep), Ev6Dropped)
	sent6(t, out, dhcpv6.Solicit)
	if c.State() != V6Soliciting || c.Addr().IsValid() || c.HasKey() {
		t.Fatalf("after lifetime 0: %v %v key %v", c.State(), c.Addr(), c.HasKey())
	}
}

func TestV6Release(t *testing.T) {
	e := &Env6{}
	c, _ := bind6(t, e, V6IANA)
	rel := sent6(t, c.Release(e, t0.Add(time.Minute)), dhcpv6.Release)
	if c.State() != V6Releasing || !bytes.Equal(rel.ServerID(), srvDUID) || rel.Has(dhcpv6.OptORO) {
		t.Fatalf("Release: %v", c.State())
	}
	if ia, ok := rel.IANA(); !ok || ia.Options.Count(dhcpv6.OptIAAddr) != 1 {
		t.Fatal("Release without the address")
	}
	st := defSrv(dhcpv6.Reply)
	st.addr, st.status = false, int(dhcpv6.StatusSuccess)
	handle6(t, c, e, t0.Add(time.Minute), build6(t, rel, st), Ev6Released)
	if c.State() != V6Init || c.Addr().IsValid() {
		t.Fatalf("after Release: %v", c.State())
	}
	// Without an answer: REL_MAX_RC (4) transmissions, then INIT.
	c, _ = bind6(t, e, V6IANA)
	sent6(t, c.Release(e, t0), dhcpv6.Release)
	var ev Event6
	for i := 0; i < 10 && c.State() == V6Releasing; i++ {
		ev = c.Timer(e, time.Unix(0, c.Deadline(e))).Event
	}
	if ev != Ev6GaveUp || c.State() != V6Init {
		t.Fatalf("release without reply: %v %v", ev, c.State())
	}
}

func TestV6RequestGivesUp(t *testing.T) {
	e := &Env6{MaxTries: 3, Retransmit: 100 * time.Millisecond}
	c := New6(HWAddrFor(1, 0), V6IANA)
	sol := sent6(t, c.Solicit(e, t0), dhcpv6.Solicit)
	sent6(t, handle6(t, &c, e, t0, build6(t, sol, defSrv(dhcpv6.Advertise)), Ev6Advertise), dhcpv6.Request)
	now := t0
	var events []Event6
	for c.State() == V6Requesting && len(events) < 10 {
		now = time.Unix(0, c.Deadline(e))
		events = append(events, c.Timer(e, now).Event)
	}
	if len(events) != 3 || events[2] != Ev6GaveUp || now.Sub(t0) != 700*time.Millisecond {
		t.Fatalf("events %v at +%v", events, now.Sub(t0))
	}
}

func TestV6Reconfigure(t *testing.T) {
	for _, tc := range []struct {
		msg   dhcpv6.MessageType
		state State6
		relay bool
	}{
		{dhcpv6.Renew, V6Renewing, false},
		{dhcpv6.Rebind, V6Rebinding, true},
		{dhcpv6.InformationRequest, V6Informing, true},
	} {
		t.Run(tc.msg.String(), func(t *testing.T) {
			e := &Env6{Relay: Relay6{LinkAddr: link6, SourcePort: true}}
			c, _ := bind6(t, e, V6IANA|V6ReconfAccept)
			now := t0.Add(10 * time.Second)
			out := handle6(t, c, e, now, reconf6(t, c, tc.msg, key6, 101, tc.relay, true), Ev6Reconfigure)
			m := sent6(t, out, tc.msg)
			if c.State() != tc.state || c.Replay != 101 {
				t.Fatalf("state %v replay %d", c.State(), c.Replay)
			}
			switch tc.msg {
			case dhcpv6.InformationRequest:
				// §18.2.11: with the Reconfigure's Server ID, no IA.
				if !bytes.Equal(m.ServerID(), srvDUID) || m.Has(dhcpv6.OptIANA) {
					t.Error("Information-request: server id missing or IA present")
				}
				st := defSrv(dhcpv6.Reply)
				st.addr = false
				handle6(t, c, e, now, build6(t, m, st), Ev6Informed)
				if c.State() != V6Bound || c.Addr() != addr6 {
					t.Fatalf("after Informed: %v %v", c.State(), c.Addr())
				}
			case dhcpv6.Renew:
				if !bytes.Equal(m.ServerID(), srvDUID) || !m.Has(dhcpv6.OptIANA) {
					t.Error("Renew: server id or IA missing")
				}
				handle6(t, c, e, now, build6(t, m, defSrv(dhcpv6.Reply)), Ev6Renewed)
			case dhcpv6.Rebind:
				handle6(t, c, e, now, build6(t, m, defSrv(dhcpv6.Reply)), Ev6Renewed)
			}
			if t1, _, _ := c.Times(); t1.Sub(now) != 1000*time.Second && tc.msg != dhcpv6.InformationRequest {
				t.Errorf("T1 after the reconfigured renew: +%v", t1.Sub(now))
			}
		})
	}
}

func TestV6ReconfigureRejected(t *testing.T) {
	e := &Env6{}
	c, _ := bind6(t, e, V6IANA|V6ReconfAccept)
	now := t0.Add(time.Minute)
	wrong := key6
	wrong[0] ^= 1
	for _, tc := range []struct {
		name string
		m    *dhcpv6.Message
		want error
	}{
		{"wrong key", reconf6(t, c, dhcpv6.Renew, wrong, 101, false, true), ErrV6Unauthentic},
		{"no auth", reconf6(t, c, dhcpv6.Renew, key6, 101, false, false), ErrV6Unauthentic},
		{"replay equal", reconf6(t, c, dhcpv6.Renew, key6, 100, false, true), ErrV6Replayed},
		{"replay lower", reconf6(t, c, dhcpv6.Renew, key6, 7, true, true), ErrV6Replayed},
	} {
		if _, err := c.Handle(e, now, tc.m); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
		if c.State() != V6Bound || c.Replay != 100 {
			t.Fatalf("%s changed the client: %v replay %d", tc.name, c.State(), c.Replay)
		}
	}
	// A tampered message (after signing) fails the digest.
	good := reconf6(t, c, dhcpv6.Renew, key6, 102, false, true)
	tampered := append([]byte(nil), good.Packet()...)
	o, _ := good.OptionOffset(dhcpv6.OptReconfMsg)
	tampered[o] = byte(dhcpv6.Rebind)
	var tm dhcpv6.Message
	if err := tm.Decode(tampered); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Handle(e, now, &tm); !errors.Is(err, ErrV6Unauthentic) {
		t.Errorf("tampered: %v", err)
	}
	// From another server: ignored.
	other := reconf6(t, c, dhcpv6.Renew, key6, 103, false, true)
	bad := append([]byte(nil), other.Packet()...)
	so, _ := other.OptionOffset(dhcpv6.OptServerID)
	bad[so+len(srvDUID)-1] ^= 1
	var om dhcpv6.Message
	if err := om.Decode(bad); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Handle(e, now, &om); !errors.Is(err, ErrV6WrongServer) {
		t.Errorf("other server: %v", err)
	}
	// Positive control: the right key and a larger counter work...
	ren := sent6(t, handle6(t, c, e, now, good, Ev6Reconfigure), dhcpv6.Renew)
	if c.Replay != 102 {
		t.Errorf("replay %d", c.Replay)
	}
	// ...and in RENEWING a Reconfigure is discarded (§18.2.11).
	if _, err := c.Handle(e, now, reconf6(t, c, dhcpv6.Renew, key6, 103, false, true)); !errors.Is(err, ErrUnexpected) {
		t.Errorf("Reconfigure while renewing: %v", err)
	}
	handle6(t, c, e, now, build6(t, ren, defSrv(dhcpv6.Reply)), Ev6Renewed)
	// ...but only once: the same message again is a replay.
	if _, err := c.Handle(e, now, good); !errors.Is(err, ErrV6Replayed) {
		t.Errorf("replayed Reconfigure: %v", err)
	}
	if c.State() != V6Bound {
		t.Errorf("state %v", c.State())
	}
	// A client without a key ignores every Reconfigure.
	e2 := &Env6{}
	c2 := New6(HWAddrFor(9, 0), V6IANA)
	sol := sent6(t, c2.Solicit(e2, t0), dhcpv6.Solicit)
	req := sent6(t, handle6(t, &c2, e2, t0, build6(t, sol, defSrv(dhcpv6.Advertise)), Ev6Advertise), dhcpv6.Request)
	handle6(t, &c2, e2, t0, build6(t, req, defSrv(dhcpv6.Reply)), Ev6Bound)
	if _, err := c2.Handle(e2, now, reconf6(t, &c2, dhcpv6.Renew, key6, 500, false, true)); !errors.Is(err, ErrV6Unauthentic) {
		t.Errorf("keyless client: %v", err)
	}
}
