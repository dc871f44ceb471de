// Package client holds DHCP client state machines for load generation and
// tests: a DHCPv4 client (RFC 2131 §4.4, figure 5) with RFC 3203
// FORCERENEW and RFC 6704 nonce authentication, and a DHCPv6 client
// (RFC 8415: Solicit, Request, Renew, Rebind, Release, Rapid Commit,
// IA_NA and IA_PD, RKAP-authenticated Reconfigure; v6.go).
//
// It is pure: methods take the current time and decoded messages and return
// the packet to send, an event, and (through Deadline) the next timer. No
// sockets, no clock reads, no goroutines. A Client is a compact value (see
// Size) so that a load generator can simulate a million of them; everything
// the clients share (relay address, timers, encode buffers) lives in Env
// (Env6 for DHCPv6).
//
//	var e client.Env
//	e.GIAddr = relay
//	c := client.New(mac, true)           // true: sends option 145 (RFC 6704)
//	out := c.Discover(&e, now)           // send out.Packet to out.Dest
//	out, err := c.Handle(&e, now, &msg)  // for each reply addressed to c
//	if d := c.Deadline(&e); d != 0 && d <= now.UnixNano() {
//		out = c.Timer(&e, now)
//	}
//
// example_test.go has this as a compiled, run example for both families.
// Not thread-safe: one goroutine owns a Client and an Env at a time.
package client

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"time"
	"unsafe"

	"github.com/leased/leased/auth"
	"github.com/leased/leased/dhcpv4"
)

// State is a client state of RFC 2131 figure 5, plus Informing.
type State uint8

const (
	Init State = iota
	Selecting
	Requesting
	Bound
	Renewing
	Rebinding
	InitReboot
	Rebooting
	// Informing: a DHCPINFORM was sent by a client with an externally
	// configured address (RFC 2131 §3.4), waiting for the DHCPACK.
	Informing
)

var stateNames = [...]string{"INIT", "SELECTING", "REQUESTING", "BOUND", "RENEWING", "REBINDING", "INIT-REBOOT", "REBOOTING", "INFORMING"}

func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "state?"
}

// Event says what a call did.
type Event uint8

const (
	EvNone       Event = iota
	EvSent             // a message was (re)transmitted, nothing else happened
	EvOffer            // an OFFER was selected; a REQUEST is in Out
	EvBound            // ACK in REQUESTING: bound after a DORA
	EvRebooted         // ACK in REBOOTING: bound after INIT-REBOOT
	EvRenewed          // ACK in RENEWING or REBINDING
	EvInformed         // ACK to an INFORM
	EvNak              // NAK: back to INIT (RFC 2131 §4.4.1 and §3.2)
	EvForceRenew       // an acceptable FORCERENEW: now RENEWING, REQUEST in Out
	EvGaveUp           // retransmissions exhausted: back to INIT
	EvExpired          // lease expired while RENEWING/REBINDING: back to INIT
	EvReleased         // RELEASE in Out, back to INIT
	EvDeclined         // DECLINE in Out, back to INIT
)

var eventNames = [...]string{"none", "sent", "offer", "bound", "rebooted", "renewed", "informed", "nak", "forcerenew", "gave-up", "expired", "released", "declined"}

func (e Event) String() string {
	if int(e) < len(eventNames) {
		return eventNames[e]
	}
	return "event?"
}

// Dest is where Out.Packet goes.
type Dest uint8

const (
	DestNone      Dest = iota
	DestBroadcast      // 255.255.255.255:67 (or to the server through the relay)
	DestServer         // unicast to the server identifier :67 (RFC 2131 §4.4.5 renew, release, decline)
)

// Out is the result of a call: a packet to send (nil when none; it aliases
// Env's buffer and is valid until the next call with that Env) and an event.
type Out struct {
	Packet []byte
	Dest   Dest
	Event  Event
}

// Errors returned by Handle for messages the client drops.
var (
	ErrNotForUs    = errors.New("client: xid or chaddr does not match")
	ErrUnexpected  = errors.New("client: message not expected in this state")
	ErrKeyInOffer  = errors.New("client: reconfigure key in an OFFER (RFC 6704 §3.1: ACK only)")
	ErrNoAddress   = errors.New("client: ACK without yiaddr")
	ErrNoServerID  = errors.New("client: OFFER without server identifier")
	ErrUnauthentic = errors.New("client: FORCERENEW not authenticated")
)

const (
	flagNonceCapable = 1 << iota // send option 145 (RFC 6704 §3)
	flagHaveKey                  // Key holds a reconfigure key from an ACK
)

// Client is one simulated DHCPv4 client. Keep it small: a load generator
// holds millions. Times are Unix nanoseconds (0: unset).
type Client struct {
	HWAddr   [6]byte
	state    State
	flags    uint8
	tries    uint8
	_        [1]byte
	XID      uint32 // xid of the current (or last) transaction
	addr     [4]byte
	serverID [4]byte
	// Key is the RFC 6704 reconfigure key from the last ACK carrying one.
	Key [auth.KeyLen]byte
	// Replay is the replay detection value of the last authenticated
	// message from the server (RFC 3118 §2).
	Replay uint64
	// Begin is when the current transaction started (first transmission);
	// a load generator measures latency from it.
	Begin int64
	sent  int64 // last transmission
	start int64 // lease start (time of the REQUEST that was ACKed)
	t1    uint32
	t2    uint32
	lease uint32 // seconds
}

// Size is the size of a Client in bytes.
const Size = unsafe.Sizeof(Client{})

// New returns a client in INIT with hardware address hw.
func New(hw [6]byte, nonceCapable bool) Client {
	c := Client{HWAddr: hw}
	if nonceCapable {
		c.flags |= flagNonceCapable
	}
	return c
}

// State returns the current state.
func (c *Client) State() State { return c.state }

// Addr is the leased (or offered, or requested) address; invalid when none.
func (c *Client) Addr() netip.Addr { return addr4(c.addr) }

// ServerID is the server identifier of the lease or offer.
func (c *Client) ServerID() netip.Addr { return addr4(c.serverID) }

// Tries is how many times the current message was sent.
func (c *Client) Tries() uint8 { return c.tries }

// HasKey reports whether an RFC 6704 reconfigure key was received.
func (c *Client) HasKey() bool { return c.flags&flagHaveKey != 0 }

// Times returns T1, T2 and the lease expiry (zero times when not bound).
func (c *Client) Times() (t1, t2, expiry time.Time) {
	if c.start == 0 {
		return
	}
	at := func(s uint32) time.Time { return time.Unix(0, c.start+int64(s)*int64(time.Second)) }
	return at(c.t1), at(c.t2), at(c.lease)
}

func addr4(a [4]byte) netip.Addr {
	if a == [4]byte{} {
		return netip.Addr{}
	}
	return netip.AddrFrom4(a)
}

// Env is what many clients share: settings, the xid generator and encode
// buffers. The zero value works (direct mode, RFC 2131 timers).
type Env struct {
	// GIAddr is set as giaddr with hops 1: the clients are behind a relay
	// agent at this address (a load generator acting as the relay).
	GIAddr netip.Addr
	// Broadcast sets the BROADCAST flag in messages sent without ciaddr.
	Broadcast bool
	// Retransmit is the first retransmission timeout; it doubles per try
	// up to 64 s (RFC 2131 §4.1: 4 s, 8 s, ... without the ±1 s jitter).
	// 0 means 4 s.
	Retransmit time.Duration
	// MaxTries is how many times a DISCOVER, REQUEST or INFORM is sent
	// before giving up (back to INIT); 0 means 4.
	MaxTries int
	// AcceptUnauthenticated lets a client without a key act on a
	// FORCERENEW without option 90 (dhcpcd's "noauthrequired"; RFC 3203
	// §6 says FORCERENEW MUST be authenticated, so it is off by default).
	AcceptUnauthenticated bool
	// Seed starts the xid sequence; equal seeds give equal xids.
	Seed uint64

	w       dhcpv4.Writer
	buf     [dhcpv4.MinPacketLen + 64]byte
	scratch []byte
}

func (e *Env) nextXID() uint32 {
	// splitmix64: deterministic, cheap, good enough for xids.
	e.Seed += 0x9e3779b97f4a7c15
	z := e.Seed
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return uint32(z ^ (z >> 31))
}

func (e *Env) timeout(tries uint8) int64 {
	d := e.Retransmit
	if d <= 0 {
		d = 4 * time.Second
	}
	for i := uint8(1); i < tries && d < 64*time.Second; i++ {
		d *= 2
	}
	return int64(min(d, 64*time.Second))
}

func (e *Env) maxTries() uint8 {
	if e.MaxTries <= 0 {
		return 4
	}
	return uint8(min(e.MaxTries, 255))
}

// Deadline is when Timer must next be called (Unix nanoseconds; 0: no timer,
// as in INIT or INIT-REBOOT).
func (c *Client) Deadline(e *Env) int64 {
	switch c.state {
	case Selecting, Requesting, Rebooting, Informing:
		return c.sent + e.timeout(c.tries)
	case Bound:
		return c.start + int64(c.t1)*int64(time.Second)
	case Renewing:
		return min(c.sent+e.timeout(c.tries), c.start+int64(c.t2)*int64(time.Second))
	case Rebinding:
		return min(c.sent+e.timeout(c.tries), c.start+int64(c.lease)*int64(time.Second))
	}
	return 0
}

// Timer runs the timers due at now: retransmissions, T1 (renew), T2
// (rebind) and expiry (RFC 2131 §4.4.5). Calling it early does nothing.
func (c *Client) Timer(e *Env, now time.Time) Out {
	n := now.UnixNano()
	d := c.Deadline(e)
	if d == 0 || n < d {
		return Out{}
	}
	sec := func(s uint32) int64 { return c.start + int64(s)*int64(time.Second) }
	switch c.state {
	case Bound:
		return c.Renew(e, now)
	case Renewing:
		if n >= sec(c.t2) {
			return c.Rebind(e, now)
		}
	case Rebinding:
		if n >= sec(c.lease) {
			c.reset()
			return Out{Event: EvExpired}
		}
	}
	// Retransmission of the current message.
	if c.tries >= e.maxTries() && c.state != Renewing && c.state != Rebinding {
		c.reset()
		return Out{Event: EvGaveUp}
	}
	c.tries++
	c.sent = n
	var out Out
	switch c.state {
	case Selecting:
		out = c.send(e, now, dhcpv4.Discover, DestBroadcast)
	case Requesting, Rebooting:
		out = c.send(e, now, dhcpv4.Request, DestBroadcast)
	case Renewing:
		out = c.send(e, now, dhcpv4.Request, DestServer)
	case Rebinding:
		out = c.send(e, now, dhcpv4.Request, DestBroadcast)
	case Informing:
		out = c.send(e, now, dhcpv4.Inform, DestBroadcast)
	}
	out.Event = EvSent
	return out
}

// reset forgets the lease and goes to INIT (the key is kept only with a
// lease, so it goes too).
func (c *Client) reset() {
	hw, nc := c.HWAddr, c.flags&flagNonceCapable
	*c = Client{HWAddr: hw, flags: nc, XID: c.XID}
}

func (c *Client) begin(e *Env, now time.Time, s State) {
	c.state = s
	c.XID = e.nextXID()
	c.tries = 1
	c.Begin = now.UnixNano()
	c.sent = c.Begin
}

// Discover starts a DORA from any state: INIT → SELECTING (RFC 2131 §4.4.1).
// A previous lease is forgotten.
func (c *Client) Discover(e *Env, now time.Time) Out {
	c.reset()
	c.begin(e, now, Selecting)
	return c.send(e, now, dhcpv4.Discover, DestBroadcast)
}

// Reboot starts INIT-REBOOT → REBOOTING with the address of the previous
// lease (RFC 2131 §3.2, §4.4.2): a REQUEST with option 50, no server
// identifier, ciaddr zero. Without a previous address it does a Discover.
func (c *Client) Reboot(e *Env, now time.Time) Out {
	if c.addr == [4]byte{} {
		return c.Discover(e, now)
	}
	a := c.addr
	c.reset()
	c.addr = a
	c.state = InitReboot
	c.begin(e, now, Rebooting)
	return c.send(e, now, dhcpv4.Request, DestBroadcast)
}

// Renew moves a bound client to RENEWING now, as at T1: a REQUEST with
// ciaddr, unicast to the server (RFC 2131 §4.4.5). Not bound: nothing.
func (c *Client) Renew(e *Env, now time.Time) Out {
	if c.state != Bound && c.state != Renewing {
		return Out{}
	}
	c.begin(e, now, Renewing)
	return c.send(e, now, dhcpv4.Request, DestServer)
}

// Rebind moves a bound or renewing client to REBINDING: a broadcast
// REQUEST with ciaddr (RFC 2131 §4.4.5).
func (c *Client) Rebind(e *Env, now time.Time) Out {
	if c.state != Bound && c.state != Renewing && c.state != Rebinding {
		return Out{}
	}
	c.begin(e, now, Rebinding)
	return c.send(e, now, dhcpv4.Request, DestBroadcast)
}

// Release gives a bound lease back (RFC 2131 §4.4.6): a RELEASE with
// ciaddr and the server identifier, unicast; the client returns to INIT.
func (c *Client) Release(e *Env, now time.Time) Out {
	if c.state != Bound && c.state != Renewing && c.state != Rebinding {
		return Out{}
	}
	c.XID = e.nextXID()
	out := c.send(e, now, dhcpv4.Release, DestServer)
	c.reset()
	out.Event = EvReleased
	return out
}

// Decline refuses the address of the ACK just received (RFC 2131 §3.1
// step 5, §4.4.1: the address is in use): a DECLINE with option 50 and the
// server identifier, ciaddr zero; the client returns to INIT.
func (c *Client) Decline(e *Env, now time.Time) Out {
	if c.state != Bound {
		return Out{}
	}
	out := c.send(e, now, dhcpv4.Decline, DestBroadcast)
	c.reset()
	out.Event = EvDeclined
	return out
}

// Inform asks for configuration for an externally configured address
// (RFC 2131 §3.4): an INFORM with ciaddr, no lease is requested.
func (c *Client) Inform(e *Env, now time.Time, addr netip.Addr) Out {
	if !addr.Is4() {
		return Out{}
	}
	c.reset()
	c.addr = addr.As4()
	c.begin(e, now, Informing)
	return c.send(e, now, dhcpv4.Inform, DestBroadcast)
}

// send encodes a client message of type t for the current state into
// Env's buffer. RFC 2131 table 5 gives which fields each message carries.
func (c *Client) send(e *Env, now time.Time, t dhcpv4.MessageType, d Dest) Out {
	h := dhcpv4.Header{Op: dhcpv4.BootRequest, HType: 1, HLen: 6, XID: c.XID}
	copy(h.CHAddr[:], c.HWAddr[:])
	if s := (now.UnixNano() - c.Begin) / int64(time.Second); s > 0 && t != dhcpv4.Release && t != dhcpv4.Decline {
		h.Secs = uint16(min(s, 0xffff))
	}
	if e.GIAddr.IsValid() {
		h.GIAddr, h.Hops = e.GIAddr, 1
	}
	withCIAddr := false
	switch t {
	case dhcpv4.Release, dhcpv4.Inform:
		withCIAddr = true
	case dhcpv4.Request:
		withCIAddr = c.state == Renewing || c.state == Rebinding
	}
	if withCIAddr {
		h.CIAddr = addr4(c.addr)
	} else if e.Broadcast {
		h.Flags = dhcpv4.FlagBroadcast
	}
	w := &e.w
	w.Reset(e.buf[:0])
	w.Header(&h)
	w.OptionByte(dhcpv4.OptMessageType, byte(t))
	// Option 50: REQUEST in SELECTING/INIT-REBOOT (MUST, table 5) and
	// DECLINE (MUST); option 54: REQUEST after an OFFER, DECLINE, RELEASE
	// (MUST), never in INIT-REBOOT, RENEWING or REBINDING (MUST NOT).
	switch {
	case t == dhcpv4.Request && c.state == Requesting:
		w.OptionAddr(dhcpv4.OptRequestedIP, addr4(c.addr))
		w.OptionAddr(dhcpv4.OptServerID, addr4(c.serverID))
	case t == dhcpv4.Request && c.state == Rebooting:
		w.OptionAddr(dhcpv4.OptRequestedIP, addr4(c.addr))
	case t == dhcpv4.Decline:
		w.OptionAddr(dhcpv4.OptRequestedIP, addr4(c.addr))
		w.OptionAddr(dhcpv4.OptServerID, addr4(c.serverID))
	case t == dhcpv4.Release:
		w.OptionAddr(dhcpv4.OptServerID, addr4(c.serverID))
	}
	if t == dhcpv4.Discover || t == dhcpv4.Request || t == dhcpv4.Inform {
		w.Option(dhcpv4.OptParamRequestList, paramRequest[:])
		w.OptionUint16(dhcpv4.OptMaxMessageSize, 1500)
		if c.flags&flagNonceCapable != 0 && t != dhcpv4.Inform {
			// RFC 6704 §3.1: option 145 in DISCOVER and REQUEST.
			w.Option(dhcpv4.OptForceRenewNonceCap, nonceAlgs[:])
		}
	}
	pkt, err := w.End()
	if err != nil {
		// Cannot happen with the fixed-size options above; report as nothing sent.
		return Out{}
	}
	return Out{Packet: pkt, Dest: d, Event: EvSent}
}

var (
	paramRequest = [...]byte{byte(dhcpv4.OptSubnetMask), byte(dhcpv4.OptRouter), byte(dhcpv4.OptDNS),
		byte(dhcpv4.OptLeaseTime), byte(dhcpv4.OptServerID), byte(dhcpv4.OptRenewalTime), byte(dhcpv4.OptRebindingTime)}
	nonceAlgs = [...]byte{dhcpv4.AuthAlgHMACMD5}
)

// Handle processes a message from a server (already decoded) at now. It
// returns the reply to send, if any, and an event; a message the client
// drops returns an error saying why (the client is unchanged).
func (c *Client) Handle(e *Env, now time.Time, m *dhcpv4.Message) (Out, error) {
	if m.Op != dhcpv4.BootReply || m.HLen != 6 || [6]byte(m.CHAddr[:6]) != c.HWAddr {
		return Out{}, ErrNotForUs
	}
	// A FORCERENEW carries the xid of the last transaction (dhcpcd checks
	// it, and leased stores it per lease); every other reply that of the
	// current one (RFC 2131 §4.4.1).
	if m.XID != c.XID {
		return Out{}, ErrNotForUs
	}
	switch m.Type() {
	case dhcpv4.Offer:
		return c.offer(e, now, m)
	case dhcpv4.Ack:
		return c.ack(now, m)
	case dhcpv4.Nak:
		switch c.state {
		case Requesting, Rebooting, Renewing, Rebinding:
			c.reset()
			return Out{Event: EvNak}, nil
		}
	case dhcpv4.ForceRenew:
		return c.forceRenew(e, now, m)
	}
	return Out{}, ErrUnexpected
}

func (c *Client) offer(e *Env, now time.Time, m *dhcpv4.Message) (Out, error) {
	if c.state != Selecting {
		return Out{}, ErrUnexpected
	}
	if !m.YIAddr.Is4() || m.YIAddr.IsUnspecified() {
		return Out{}, ErrNoAddress
	}
	sid, ok := m.ServerID()
	if !ok || !sid.Is4() {
		return Out{}, ErrNoServerID
	}
	if a, ok := m.Auth(); ok && a.Protocol == dhcpv4.AuthProtoReconfigureKey &&
		len(a.Info) > 0 && a.Info[0] == dhcpv4.AuthInfoReconfigureKey {
		return Out{}, ErrKeyInOffer
	}
	// The REQUEST keeps the DISCOVER's xid (RFC 2131 §4.4.1) and its
	// transaction start, so the latency of a DORA is DISCOVER → ACK.
	c.state = Requesting
	c.addr, c.serverID = m.YIAddr.As4(), sid.As4()
	c.tries, c.sent = 1, now.UnixNano()
	out := c.send(e, now, dhcpv4.Request, DestBroadcast)
	out.Event = EvOffer
	return out, nil
}

func (c *Client) ack(now time.Time, m *dhcpv4.Message) (Out, error) {
	var ev Event
	switch c.state {
	case Requesting:
		ev = EvBound
	case Rebooting:
		ev = EvRebooted
	case Renewing, Rebinding:
		ev = EvRenewed
	case Informing:
		// RFC 2131 §3.4: the ACK carries configuration, no lease.
		c.reset()
		return Out{Event: EvInformed}, nil
	default:
		return Out{}, ErrUnexpected
	}
	if !m.YIAddr.Is4() || m.YIAddr.IsUnspecified() {
		return Out{}, ErrNoAddress
	}
	lt, ok := m.LeaseTime()
	if !ok {
		lt = 0xffffffff
	}
	t1, ok1 := m.Uint32(dhcpv4.OptRenewalTime)
	t2, ok2 := m.Uint32(dhcpv4.OptRebindingTime)
	if !ok1 || t1 > lt {
		t1 = lt / 2 // RFC 2131 §4.4.5: T1 defaults to 0.5 × lease
	}
	if !ok2 || t2 > lt || t2 < t1 {
		t2 = uint32(uint64(lt) * 7 / 8) // T2 defaults to 0.875 × lease
	}
	if a, ok := m.Auth(); ok && a.Protocol == dhcpv4.AuthProtoReconfigureKey &&
		len(a.Info) == dhcpv4.AuthReconfigureInfoLen && a.Info[0] == dhcpv4.AuthInfoReconfigureKey {
		// RFC 6704 §3.1: the key comes in the DHCPACK; keep it and the
		// replay value for verifying FORCERENEWs.
		copy(c.Key[:], a.Info[1:])
		c.Replay = a.ReplayDetection
		c.flags |= flagHaveKey
	}
	if sid, ok := m.ServerID(); ok && sid.Is4() {
		c.serverID = sid.As4()
	}
	c.state = Bound
	c.addr = m.YIAddr.As4()
	// The lease starts when the REQUEST was sent (RFC 2131 §4.4.1).
	c.start = c.sent
	c.t1, c.t2, c.lease = t1, t2, lt
	c.tries = 0
	return Out{Event: ev}, nil
}

func (c *Client) forceRenew(e *Env, now time.Time, m *dhcpv4.Message) (Out, error) {
	// RFC 3203 §4: a client acts on FORCERENEW only when bound (dhcpcd:
	// BOUND or after INFORM).
	if c.state != Bound {
		return Out{}, ErrUnexpected
	}
	if c.flags&flagHaveKey != 0 {
		if n := auth.ScratchLen(len(m.Packet())); cap(e.scratch) < n {
			e.scratch = make([]byte, 0, max(n, auth.ScratchLen(1500)))
		}
		r, err := auth.VerifyHMACMD5(m, c.Key[:], c.Replay, e.scratch)
		if err != nil {
			return Out{}, errors.Join(ErrUnauthentic, err)
		}
		c.Replay = r
	} else if !e.AcceptUnauthenticated || m.Has(dhcpv4.OptAuthentication) {
		// RFC 3203 §6: FORCERENEW MUST be authenticated.
		return Out{}, ErrUnauthentic
	}
	out := c.Renew(e, now)
	out.Event = EvForceRenew
	return out, nil
}

// HWAddrFor is a locally administered unicast MAC address derived from i,
// for simulated clients: 02:xx:ii:ii:ii:ii.
func HWAddrFor(i uint32, salt byte) [6]byte {
	var hw [6]byte
	hw[0], hw[1] = 0x02, salt
	binary.BigEndian.PutUint32(hw[2:], i)
	return hw
}

// IndexOf inverts HWAddrFor: the client index and salt of a chaddr.
func IndexOf(chaddr []byte) (i uint32, salt byte, ok bool) {
	if len(chaddr) < 6 || chaddr[0] != 0x02 {
		return 0, 0, false
	}
	return binary.BigEndian.Uint32(chaddr[2:6]), chaddr[1], true
}
