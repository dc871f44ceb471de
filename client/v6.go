package client

// DHCPv6 client state machine (RFC 8415 §18.2) for simulation: Solicit,
// Advertise, Request, Reply (and Rapid Commit, §18.2.1), Renew at T1,
// Rebind at T2, Release, and Reconfigure (§18.2.11) authenticated with the
// Reconfiguration Key Authentication Protocol (§20.4).
//
// Like Client it is pure and compact (see Size6): methods take the time and
// decoded messages and return the packet to send; what many clients share
// (server DUIDs, relay settings, encode buffers) lives in Env6.
//
//	var e client.Env6
//	e.Relay = client.Relay6{LinkAddr: netip.MustParseAddr("fd77::1"), SourcePort: true}
//	c := client.New6(client.HWAddrFor(i, 0), client.V6IANA|client.V6ReconfAccept)
//	out := c.Solicit(&e, now)               // send out.Packet to the server
//	out, err := c.Handle(&e, now, &msg)     // for each (relay-)reply for c
//	if d := c.Deadline(&e); d != 0 && d <= now.UnixNano() { out = c.Timer(&e, now) }

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"time"
	"unsafe"

	"github.com/leased/leased/auth"
	"github.com/leased/leased/dhcpv6"
)

// State6 is a DHCPv6 client state.
type State6 uint8

const (
	V6Init       State6 = iota
	V6Soliciting        // Solicit sent, waiting for Advertise (or a rapid-commit Reply)
	V6Requesting        // Request sent, waiting for Reply
	V6Bound
	V6Renewing  // Renew sent (T1 or Reconfigure), waiting for Reply
	V6Rebinding // Rebind sent (T2 or Reconfigure)
	V6Informing // Information-request sent after a Reconfigure (still bound)
	V6Releasing // Release sent, waiting for Reply (§18.2.7)
)

var state6Names = [...]string{"INIT", "SOLICITING", "REQUESTING", "BOUND", "RENEWING", "REBINDING", "INFORMING", "RELEASING"}

func (s State6) String() string {
	if int(s) < len(state6Names) {
		return state6Names[s]
	}
	return "state?"
}

// Event6 says what a call did.
type Event6 uint8

const (
	Ev6None        Event6 = iota
	Ev6Sent               // a message was (re)transmitted
	Ev6Advertise          // an Advertise was selected; a Request is in Out
	Ev6Bound              // Reply to Request or rapid-commit Solicit: bound
	Ev6Renewed            // Reply to Renew or Rebind: lifetimes extended
	Ev6Informed           // Reply to Information-request (still bound)
	Ev6NoAddrs            // NoAddrsAvail/NoPrefixAvail for every IA of a Request: back to INIT
	Ev6NoBinding          // NoBinding in a Reply to Renew/Rebind: a Request is in Out (§18.2.10.1)
	Ev6Dropped            // every binding came back with valid lifetime 0: a Solicit is in Out
	Ev6Status             // a top-level error status (UnspecFail, UseMulticast, ...): state kept, retransmission retries
	Ev6Reconfigure        // an authenticated Reconfigure: Renew, Rebind or Information-request in Out
	Ev6GaveUp             // retransmissions exhausted: back to INIT (or BOUND for an Information-request)
	Ev6Expired            // valid lifetime over while renewing/rebinding: back to INIT
	Ev6Released           // Reply to Release: back to INIT
)

var event6Names = [...]string{"none", "sent", "advertise", "bound", "renewed", "informed", "no-addrs",
	"no-binding", "dropped", "status", "reconfigure", "gave-up", "expired", "released"}

func (e Event6) String() string {
	if int(e) < len(event6Names) {
		return event6Names[e]
	}
	return "event?"
}

// Out6 is the result of a call: a packet to send (nil when none; it aliases
// Env6's buffer and is valid until the next call with that Env6) and an
// event. The packet is a Relay-forward when Env6.Relay is set.
type Out6 struct {
	Packet []byte
	Event  Event6
}

// Errors for DHCPv6 messages the client drops (RFC 8415 §16: a client
// silently discards them).
var (
	ErrV6NotForUs      = errors.New("client: transaction-id or client identifier does not match")
	ErrV6NoServerID    = errors.New("client: no server identifier")
	ErrV6WrongServer   = errors.New("client: server identifier is not that of the bound server")
	ErrV6NoBindings    = errors.New("client: Advertise without any address or prefix (RFC 8415 §18.2.9)")
	ErrV6Unauthentic   = errors.New("client: Reconfigure not authenticated")
	ErrV6Replayed      = errors.New("client: Reconfigure replay detection value not greater than the last")
	ErrV6BadReconfMsg  = errors.New("client: Reconfigure without a valid Reconfigure Message option")
	ErrV6TooManyServer = errors.New("client: Env6 server table full")
)

// Flags of New6.
const (
	V6IANA         uint8 = 1 << iota // ask for an address (IA_NA, IAID 1)
	V6IAPD                           // ask for a prefix (IA_PD, IAID 2)
	V6RapidCommit                    // send Rapid Commit in Solicit (§18.2.1)
	V6ReconfAccept                   // send Reconfigure Accept (option 20): willing to be reconfigured
	v6HaveKey                        // Key holds a reconfigure key from a Reply
	v6HaveAddr                       // addr is bound (or advertised)
	v6HavePrefix                     // prefix is bound (or advertised)
	v6ReconfInit                     // the transaction answers a Reconfigure (Server ID in Information-request / Rebind)
)

// IAIDs used by every simulated client.
const (
	IAIDNA uint32 = 1
	IAIDPD uint32 = 2
)

// Client6 is one simulated DHCPv6 client. Times are Unix nanoseconds.
type Client6 struct {
	// HWAddr is the link-layer address: the DUID is DUID-LL of it
	// (RFC 8415 §11.4) and the relay's peer-address its EUI-64 link-local.
	HWAddr [6]byte
	state  State6
	flags  uint8
	tries  uint8
	server uint8 // 1 + index in Env6's server table; 0: none
	plen   uint8 // delegated prefix length
	_      [1]byte
	// XID is the 24-bit transaction-id of the current (or last) exchange.
	XID    uint32
	addr   [16]byte
	prefix [16]byte
	// Key is the reconfigure key from the last Reply carrying one (§20.4).
	Key [16]byte
	// Replay is the replay detection value of the last authenticated
	// message from the server (§20.3): a Reconfigure must exceed it.
	Replay uint64
	// Begin is when the current exchange started (first transmission).
	Begin int64
	sent  int64 // last transmission
	start int64 // when the bound Reply's exchange was sent (lifetimes count from it)
	t1    uint32
	t2    uint32
	valid uint32 // shortest valid lifetime of the bindings, seconds
}

// Size6 is the size of a Client6 in bytes.
const Size6 = unsafe.Sizeof(Client6{})

// New6 returns a client in INIT with link-layer address hw and flags
// (V6IANA, V6IAPD, V6RapidCommit, V6ReconfAccept); without V6IAPD it asks
// for an address.
func New6(hw [6]byte, flags uint8) Client6 {
	flags &= V6IANA | V6IAPD | V6RapidCommit | V6ReconfAccept
	if flags&(V6IANA|V6IAPD) == 0 {
		flags |= V6IANA
	}
	return Client6{HWAddr: hw, flags: flags}
}

// State returns the current state.
func (c *Client6) State() State6 { return c.state }

// Tries is how many times the current message was sent.
func (c *Client6) Tries() uint8 { return c.tries }

// HasKey reports whether a reconfigure key was received.
func (c *Client6) HasKey() bool { return c.flags&v6HaveKey != 0 }

// Addr is the bound (or advertised) IA_NA address; invalid when none.
func (c *Client6) Addr() netip.Addr {
	if c.flags&v6HaveAddr == 0 {
		return netip.Addr{}
	}
	return netip.AddrFrom16(c.addr)
}

// Prefix is the bound (or advertised) delegated prefix; invalid when none.
func (c *Client6) Prefix() netip.Prefix {
	if c.flags&v6HavePrefix == 0 {
		return netip.Prefix{}
	}
	return netip.PrefixFrom(netip.AddrFrom16(c.prefix), int(c.plen))
}

// Times returns T1, T2 and the end of the (shortest) valid lifetime; zero
// when not bound.
func (c *Client6) Times() (t1, t2, expiry time.Time) {
	if c.start == 0 {
		return
	}
	at := func(s uint32) time.Time { return time.Unix(0, c.start+int64(s)*int64(time.Second)) }
	return at(c.t1), at(c.t2), at(c.valid)
}

// DUID appends the client's DUID-LL (RFC 8415 §11.4) to dst.
func (c *Client6) DUID(dst []byte) []byte {
	return dhcpv6.AppendDUIDLL(dst, dhcpv6.HTypeEthernet, c.HWAddr[:])
}

// LinkLocal is the client's EUI-64 link-local address (RFC 4291 App. A),
// used as the relay's peer-address.
func (c *Client6) LinkLocal() netip.Addr { return LinkLocalFor(c.HWAddr) }

// LinkLocalFor is fe80::/64 with the modified EUI-64 interface identifier
// of hw.
func LinkLocalFor(hw [6]byte) netip.Addr {
	var a [16]byte
	a[0], a[1] = 0xfe, 0x80
	a[8], a[9], a[10] = hw[0]^0x02, hw[1], hw[2]
	a[11], a[12] = 0xff, 0xfe
	a[13], a[14], a[15] = hw[3], hw[4], hw[5]
	return netip.AddrFrom16(a)
}

// IndexOfDUID inverts HWAddrFor through a DUID-LL: the client index and salt
// of a simulated client's DUID.
func IndexOfDUID(duid []byte) (i uint32, salt byte, ok bool) {
	if len(duid) != 10 || binary.BigEndian.Uint16(duid) != uint16(dhcpv6.DUIDLL) ||
		binary.BigEndian.Uint16(duid[2:]) != dhcpv6.HTypeEthernet {
		return 0, 0, false
	}
	return IndexOf(duid[4:])
}

// Relay6 makes every message a Relay-forward (RFC 8415 §19.1.1) from a
// relay agent (a load generator) at LinkAddr.
type Relay6 struct {
	// LinkAddr is the link-address: an address on the clients' link that
	// the server maps to a pool. Invalid: no relay, messages go bare.
	LinkAddr netip.Addr
	// InterfaceID is option 18; nil: none.
	InterfaceID []byte
	// SourcePort adds the Relay Source Port option (RFC 8357 §4, code 135,
	// downstream port 0): the relay listens on a port other than 547 and
	// the server must answer the Relay-forward's source port.
	SourcePort bool
}

// OptRelaySourcePort is the Relay Source Port option (RFC 8357 §4).
const OptRelaySourcePort dhcpv6.OptionCode = 135

// Env6 is what many DHCPv6 clients share. The zero value works (no relay,
// RFC 8415 §7.6 timers without randomisation).
type Env6 struct {
	Relay Relay6
	// Retransmit replaces the initial retransmission time of every message
	// (RFC 8415 §7.6: SOL 1 s, REQ 1 s, REN/REB 10 s, INF 1 s, REL 1 s);
	// it doubles per try up to the message's maximum (§15). 0: RFC values.
	Retransmit time.Duration
	// MaxTries bounds transmissions of every message before giving up; 0:
	// RFC 8415 §7.6 (Request 10, Release 4, Solicit and Information-request
	// unlimited, Renew until T2, Rebind until the valid lifetime ends).
	MaxTries int
	// Seed starts the transaction-id sequence.
	Seed uint64

	servers [8][]byte // server DUIDs seen (copied once)
	nserver int
	w       dhcpv6.Writer
	buf     [512]byte
	duid    [10]byte
	scratch []byte
}

func (e *Env6) nextXID() uint32 {
	e.Seed += 0x9e3779b97f4a7c15
	z := e.Seed
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return uint32(z^(z>>31)) & 0xffffff
}

// serverIndex returns 1 + the index of duid in the server table, adding it.
func (e *Env6) serverIndex(duid []byte) (uint8, error) {
	for i := range e.nserver {
		if string(e.servers[i]) == string(duid) {
			return uint8(i + 1), nil
		}
	}
	if e.nserver == len(e.servers) {
		return 0, ErrV6TooManyServer
	}
	e.servers[e.nserver] = append([]byte(nil), duid...)
	e.nserver++
	return uint8(e.nserver), nil
}

func (e *Env6) serverDUID(i uint8) []byte {
	if i == 0 || int(i) > e.nserver {
		return nil
	}
	return e.servers[i-1]
}

// RFC 8415 §7.6 transmission parameters.
func irtMRT(s State6) (irt, mrt time.Duration) {
	switch s {
	case V6Soliciting:
		return time.Second, 3600 * time.Second // SOL_TIMEOUT, SOL_MAX_RT
	case V6Requesting:
		return time.Second, 30 * time.Second // REQ_TIMEOUT, REQ_MAX_RT
	case V6Renewing, V6Rebinding:
		return 10 * time.Second, 600 * time.Second // REN/REB_TIMEOUT, REN/REB_MAX_RT
	case V6Informing:
		return time.Second, 3600 * time.Second // INF_TIMEOUT, INF_MAX_RT
	}
	return time.Second, 0 // REL_TIMEOUT, no maximum (REL_MAX_RC 4 bounds it)
}

func (e *Env6) timeout(s State6, tries uint8) int64 {
	irt, mrt := irtMRT(s)
	d := irt
	if e.Retransmit > 0 {
		d = e.Retransmit
	}
	for i := uint8(1); i < tries && (mrt == 0 || d < mrt); i++ {
		d *= 2 // §15: RT = 2*RTprev (randomisation left out)
	}
	if mrt > 0 {
		d = min(d, mrt)
	}
	return int64(d)
}

// maxTries: 0 means unlimited.
func (e *Env6) maxTries(s State6) uint8 {
	if e.MaxTries > 0 {
		return uint8(min(e.MaxTries, 255))
	}
	switch s {
	case V6Requesting:
		return 10 // REQ_MAX_RC
	case V6Releasing:
		return 4 // REL_MAX_RC
	}
	return 0
}

func (c *Client6) at(s uint32) int64 { return c.start + int64(s)*int64(time.Second) }

// Deadline is when Timer must next be called (Unix nanoseconds; 0: none).
func (c *Client6) Deadline(e *Env6) int64 {
	switch c.state {
	case V6Soliciting, V6Requesting, V6Informing, V6Releasing:
		return c.sent + e.timeout(c.state, c.tries)
	case V6Bound:
		return c.at(c.t1)
	case V6Renewing:
		return min(c.sent+e.timeout(c.state, c.tries), c.at(c.t2))
	case V6Rebinding:
		return min(c.sent+e.timeout(c.state, c.tries), c.at(c.valid))
	}
	return 0
}

// Timer runs what is due at now: retransmission, T1 (Renew), T2 (Rebind),
// end of the valid lifetime (RFC 8415 §18.2.4, §18.2.5). Early calls do
// nothing.
func (c *Client6) Timer(e *Env6, now time.Time) Out6 {
	n := now.UnixNano()
	d := c.Deadline(e)
	if d == 0 || n < d {
		return Out6{}
	}
	switch c.state {
	case V6Bound:
		return c.Renew(e, now)
	case V6Renewing:
		if n >= c.at(c.t2) {
			return c.Rebind(e, now)
		}
	case V6Rebinding:
		if n >= c.at(c.valid) {
			c.reset()
			return Out6{Event: Ev6Expired}
		}
	}
	// Renew and Rebind retransmit until T2 and the end of the valid
	// lifetime (§18.2.4, §18.2.5: MRD), whatever MaxTries says.
	if m := e.maxTries(c.state); m > 0 && c.tries >= m && c.state != V6Renewing && c.state != V6Rebinding {
		if c.state == V6Informing {
			c.state, c.tries = V6Bound, 0
			c.flags &^= v6ReconfInit
		} else {
			c.reset()
		}
		return Out6{Event: Ev6GaveUp}
	}
	c.tries++
	c.sent = n
	out := c.send(e, now)
	out.Event = Ev6Sent
	return out
}

// reset forgets every binding and the key and goes to INIT.
func (c *Client6) reset() {
	*c = Client6{HWAddr: c.HWAddr, flags: c.flags & (V6IANA | V6IAPD | V6RapidCommit | V6ReconfAccept), XID: c.XID}
}

func (c *Client6) begin(e *Env6, now time.Time, s State6) Out6 {
	c.state = s
	c.XID = e.nextXID()
	c.tries = 1
	c.Begin = now.UnixNano()
	c.sent = c.Begin
	return c.send(e, now)
}

// Solicit starts server discovery from any state (RFC 8415 §18.2.1); a
// previous binding is forgotten.
func (c *Client6) Solicit(e *Env6, now time.Time) Out6 {
	c.reset()
	return c.begin(e, now, V6Soliciting)
}

// Renew moves a bound client to RENEWING now, as at T1 (§18.2.4).
func (c *Client6) Renew(e *Env6, now time.Time) Out6 {
	if c.state != V6Bound && c.state != V6Renewing {
		return Out6{}
	}
	c.flags &^= v6ReconfInit
	return c.begin(e, now, V6Renewing)
}

// Rebind moves a bound or renewing client to REBINDING (§18.2.5).
func (c *Client6) Rebind(e *Env6, now time.Time) Out6 {
	if c.state != V6Bound && c.state != V6Renewing && c.state != V6Rebinding {
		return Out6{}
	}
	c.flags &^= v6ReconfInit
	return c.begin(e, now, V6Rebinding)
}

// Release gives the bindings back (§18.2.7) and waits for the Reply.
func (c *Client6) Release(e *Env6, now time.Time) Out6 {
	if c.state != V6Bound && c.state != V6Renewing && c.state != V6Rebinding {
		return Out6{}
	}
	return c.begin(e, now, V6Releasing)
}

// send encodes the message of the current state (RFC 8415 §18.2, table in
// appendix B for which options each carries) into Env6's buffer.
func (c *Client6) send(e *Env6, now time.Time) Out6 {
	var t dhcpv6.MessageType
	switch c.state {
	case V6Soliciting:
		t = dhcpv6.Solicit
	case V6Requesting:
		t = dhcpv6.Request
	case V6Renewing:
		t = dhcpv6.Renew
	case V6Rebinding:
		t = dhcpv6.Rebind
	case V6Informing:
		t = dhcpv6.InformationRequest
	case V6Releasing:
		t = dhcpv6.Release
	default:
		return Out6{}
	}
	w := &e.w
	w.Reset(e.buf[:0])
	if e.Relay.LinkAddr.IsValid() {
		// §19.1.1: hop-count 0 from a first relay, link-address on the
		// client's link, peer-address the client's source address.
		w.RelayHeader(dhcpv6.RelayForward, 0, e.Relay.LinkAddr, c.LinkLocal())
		if e.Relay.InterfaceID != nil {
			w.Option(dhcpv6.OptInterfaceID, e.Relay.InterfaceID)
		}
		if e.Relay.SourcePort {
			// RFC 8357 §5.2: downstream source port 0 (the client used 546).
			w.OptionUint16(OptRelaySourcePort, 0)
		}
		w.BeginOption(dhcpv6.OptRelayMsg)
	}
	w.Header(t, c.XID)
	w.Option(dhcpv6.OptClientID, c.DUID(e.duid[:0]))
	// Server ID: Request, Renew, Release (§18.2.2, .4, .7); and an
	// Information-request answering a Reconfigure (§18.2.11).
	if t == dhcpv6.Request || t == dhcpv6.Renew || t == dhcpv6.Release ||
		(t == dhcpv6.InformationRequest && c.flags&v6ReconfInit != 0) {
		w.Option(dhcpv6.OptServerID, e.serverDUID(c.server))
	}
	// §21.9: every client message carries Elapsed Time, in 1/100 s,
	// 0xffff when longer; 0 in the first message of an exchange.
	el := (now.UnixNano() - c.Begin) / int64(10*time.Millisecond)
	w.OptionUint16(dhcpv6.OptElapsedTime, uint16(min(max(el, 0), 0xffff)))
	if t != dhcpv6.Release {
		// §21.24: SOL_MAX_RT MUST be in every Option Request option.
		w.OptionCodes(dhcpv6.OptORO, dhcpv6.OptDNSServers, dhcpv6.OptDomainList, dhcpv6.OptSolMaxRT)
	}
	if t == dhcpv6.Solicit && c.flags&V6RapidCommit != 0 {
		w.OptionEmpty(dhcpv6.OptRapidCommit)
	}
	if c.flags&V6ReconfAccept != 0 && t != dhcpv6.Release {
		// §18.2.1, .2, .4, .5, .6: option 20 announces the client accepts
		// Reconfigure.
		w.OptionEmpty(dhcpv6.OptReconfAccept)
	}
	if t != dhcpv6.InformationRequest {
		hint := t != dhcpv6.Solicit // Solicit asks for anything
		if c.flags&V6IANA != 0 && (t == dhcpv6.Solicit || t == dhcpv6.Request || c.flags&v6HaveAddr != 0) {
			// T1/T2 0: no preference (§21.4); lifetimes 0 in the IAADDR the
			// client sends (§18.2.2, §18.2.4).
			w.BeginIA(dhcpv6.OptIANA, IAIDNA, 0, 0)
			if hint && c.flags&v6HaveAddr != 0 {
				w.BeginIAAddr(netip.AddrFrom16(c.addr), 0, 0)
				w.EndOption()
			}
			w.EndOption()
		}
		if c.flags&V6IAPD != 0 && (t == dhcpv6.Solicit || t == dhcpv6.Request || c.flags&v6HavePrefix != 0) {
			w.BeginIA(dhcpv6.OptIAPD, IAIDPD, 0, 0)
			if hint && c.flags&v6HavePrefix != 0 {
				w.BeginIAPrefix(netip.PrefixFrom(netip.AddrFrom16(c.prefix), int(c.plen)), 0, 0)
				w.EndOption()
			}
			w.EndOption()
		}
	}
	if e.Relay.LinkAddr.IsValid() {
		w.EndOption()
	}
	pkt, err := w.End()
	if err != nil {
		return Out6{}
	}
	return Out6{Packet: pkt, Event: Ev6Sent}
}

// Handle processes a message from a server (decoded, relay layers
// included; only the client/server message inside counts). It returns the
// message to send, if any, and an event; a message the client drops
// returns an error and leaves the client unchanged.
func (c *Client6) Handle(e *Env6, now time.Time, m *dhcpv6.Message) (Out6, error) {
	// §16: discard a message whose Client ID is missing or not ours.
	if string(m.ClientID()) != string(c.DUID(e.duid[:0])) {
		return Out6{}, ErrV6NotForUs
	}
	if m.Type == dhcpv6.Reconfigure {
		return c.reconfigure(e, now, m)
	}
	if m.TransactionID != c.XID {
		return Out6{}, ErrV6NotForUs
	}
	sid := m.ServerID()
	if len(sid) == 0 {
		return Out6{}, ErrV6NoServerID // §16: Advertise and Reply MUST carry it
	}
	switch m.Type {
	case dhcpv6.Advertise:
		return c.advertise(e, now, m, sid)
	case dhcpv6.Reply:
		return c.reply(e, now, m, sid)
	}
	return Out6{}, ErrUnexpected
}

// ia6 is what a Reply or Advertise gave for the client's IAs.
type ia6 struct {
	addr, prefix         [16]byte
	plen                 uint8
	haveAddr, havePrefix bool
	zeroAddr, zeroPrefix bool // listed with valid lifetime 0
	noBinding            bool
	noAddrs              bool // NoAddrsAvail / NoPrefixAvail for an IA
	t1, t2               uint32
	minPref, minValid    uint32
}

func (c *Client6) readIAs(m *dhcpv6.Message) ia6 {
	r := ia6{minPref: ^uint32(0), minValid: ^uint32(0)}
	take := func(ia dhcpv6.IA) {
		if ia.T1 != 0 && (r.t1 == 0 || ia.T1 < r.t1) {
			r.t1 = ia.T1
		}
		if ia.T2 != 0 && (r.t2 == 0 || ia.T2 < r.t2) {
			r.t2 = ia.T2
		}
	}
	status := func(o dhcpv6.Options) {
		if st, ok := o.StatusCode(); ok {
			switch st.Code {
			case dhcpv6.StatusNoBinding:
				r.noBinding = true
			case dhcpv6.StatusNoAddrsAvail, dhcpv6.StatusNoPrefixAvail:
				r.noAddrs = true
			}
		}
	}
	for it := m.Options().Filter(dhcpv6.OptIANA); it.Next(); {
		ia, err := dhcpv6.ParseIA(it.Data())
		if err != nil || ia.IAID != IAIDNA || c.flags&V6IANA == 0 {
			continue
		}
		status(ia.Options)
		for at := ia.Addrs(); at.Next(); {
			a, err := dhcpv6.ParseIAAddr(at.Data())
			if err != nil || !a.Addr.Is6() || a.PreferredLifetime > a.ValidLifetime {
				continue // §18.2.10.1: discard an IAADDR with preferred > valid
			}
			if a.ValidLifetime == 0 {
				if a.Addr.As16() == c.addr {
					r.zeroAddr = true
				}
				continue
			}
			r.addr, r.haveAddr = a.Addr.As16(), true
			r.minPref, r.minValid = min(r.minPref, a.PreferredLifetime), min(r.minValid, a.ValidLifetime)
			take(ia)
		}
	}
	for it := m.Options().Filter(dhcpv6.OptIAPD); it.Next(); {
		ia, err := dhcpv6.ParseIA(it.Data())
		if err != nil || ia.IAID != IAIDPD || c.flags&V6IAPD == 0 {
			continue
		}
		status(ia.Options)
		for pt := ia.Prefixes(); pt.Next(); {
			p, err := dhcpv6.ParseIAPrefix(pt.Data())
			if err != nil || !p.Prefix.Addr().Is6() || p.PreferredLifetime > p.ValidLifetime {
				continue
			}
			if p.ValidLifetime == 0 {
				if p.Prefix.Addr().As16() == c.prefix {
					r.zeroPrefix = true
				}
				continue
			}
			r.prefix, r.plen, r.havePrefix = p.Prefix.Addr().As16(), uint8(p.Prefix.Bits()), true
			r.minPref, r.minValid = min(r.minPref, p.PreferredLifetime), min(r.minValid, p.ValidLifetime)
			take(ia)
		}
	}
	return r
}

func (c *Client6) advertise(e *Env6, now time.Time, m *dhcpv6.Message, sid []byte) (Out6, error) {
	if c.state != V6Soliciting {
		return Out6{}, ErrUnexpected
	}
	r := c.readIAs(m)
	if !r.haveAddr && !r.havePrefix {
		return Out6{}, ErrV6NoBindings
	}
	idx, err := e.serverIndex(sid)
	if err != nil {
		return Out6{}, err
	}
	// The first acceptable Advertise is selected (a simulation does not
	// wait the first RT for better ones, §18.2.9). The Request keeps the
	// exchange's Begin so latency is Solicit → Reply.
	c.server = idx
	c.flags &^= v6HaveAddr | v6HavePrefix
	if r.haveAddr {
		c.addr, c.flags = r.addr, c.flags|v6HaveAddr
	}
	if r.havePrefix {
		c.prefix, c.plen, c.flags = r.prefix, r.plen, c.flags|v6HavePrefix
	}
	c.state = V6Requesting
	c.XID = e.nextXID() // §18.2.2: a new transaction
	c.tries, c.sent = 1, now.UnixNano()
	out := c.send(e, now)
	out.Event = Ev6Advertise
	return out, nil
}

func (c *Client6) reply(e *Env6, now time.Time, m *dhcpv6.Message, sid []byte) (Out6, error) {
	switch c.state {
	case V6Soliciting:
		// §18.2.1/§18.2.10: only a Reply carrying Rapid Commit answers a
		// Solicit.
		if c.flags&V6RapidCommit == 0 || !m.RapidCommit() {
			return Out6{}, ErrUnexpected
		}
	case V6Requesting, V6Renewing, V6Rebinding, V6Informing, V6Releasing:
	default:
		return Out6{}, ErrUnexpected
	}
	if c.state == V6Renewing || c.state == V6Requesting || c.state == V6Releasing {
		if s := e.serverDUID(c.server); s != nil && string(s) != string(sid) {
			return Out6{}, ErrV6WrongServer
		}
	}
	if st, ok := m.StatusCode(); ok && st.Code != dhcpv6.StatusSuccess {
		if c.state == V6Releasing {
			// §18.2.10.2: any Reply ends the Release.
			c.reset()
			return Out6{Event: Ev6Released}, nil
		}
		if (st.Code == dhcpv6.StatusNoAddrsAvail || st.Code == dhcpv6.StatusNoPrefixAvail) &&
			(c.state == V6Requesting || c.state == V6Soliciting) {
			// Nothing to bind (§18.2.10.1): try again later.
			c.reset()
			return Out6{Event: Ev6NoAddrs}, nil
		}
		// §18.2.10: UnspecFail, UseMulticast, ...: keep the state, the
		// retransmission timer retries.
		return Out6{Event: Ev6Status}, nil
	}
	switch c.state {
	case V6Releasing:
		c.reset()
		return Out6{Event: Ev6Released}, nil
	case V6Informing:
		c.state, c.tries = V6Bound, 0
		c.flags &^= v6ReconfInit
		c.takeKey(m)
		return Out6{Event: Ev6Informed}, nil
	}
	r := c.readIAs(m)
	renewing := c.state == V6Renewing || c.state == V6Rebinding
	if renewing && r.noBinding {
		// §18.2.10.1: the server has no binding: Request for all IAs.
		c.state = V6Requesting
		c.XID = e.nextXID()
		c.tries, c.Begin = 1, now.UnixNano()
		c.sent = c.Begin
		if idx, err := e.serverIndex(sid); err == nil {
			c.server = idx
		}
		out := c.send(e, now)
		out.Event = Ev6NoBinding
		return out, nil
	}
	if !r.haveAddr && !r.havePrefix {
		if renewing && (r.zeroAddr || r.zeroPrefix) {
			// §18.2.10.1: valid lifetime 0: stop using it; with nothing
			// left, start over with a Solicit.
			out := c.Solicit(e, now)
			out.Event = Ev6Dropped
			return out, nil
		}
		if r.noAddrs || !renewing {
			// §18.2.10.1: NoAddrsAvail/NoPrefixAvail to a Request: try
			// again later (the caller decides when).
			c.reset()
			return Out6{Event: Ev6NoAddrs}, nil
		}
		return Out6{Event: Ev6Status}, nil
	}
	idx, err := e.serverIndex(sid)
	if err != nil {
		return Out6{}, err
	}
	ev := Ev6Bound
	if renewing {
		ev = Ev6Renewed
	}
	c.server = idx
	c.flags &^= v6HaveAddr | v6HavePrefix
	if r.haveAddr {
		c.addr, c.flags = r.addr, c.flags|v6HaveAddr
	}
	if r.havePrefix {
		c.prefix, c.plen, c.flags = r.prefix, r.plen, c.flags|v6HavePrefix
	}
	// §18.2.4: T1/T2 0 leave the times to the client: 0.5 and 0.8 of the
	// shortest preferred lifetime (§21.4).
	t1, t2 := r.t1, r.t2
	if t1 == 0 || t1 > r.minPref {
		t1 = r.minPref / 2
	}
	if t2 == 0 || t2 < t1 || t2 > r.minValid {
		t2 = uint32(uint64(r.minPref) * 4 / 5)
		t2 = max(t2, t1)
	}
	c.t1, c.t2, c.valid = t1, t2, r.minValid
	c.start = c.sent // lifetimes count from the transmission (§18.2.10.1)
	c.state, c.tries = V6Bound, 0
	c.flags &^= v6ReconfInit
	c.takeKey(m)
	return Out6{Event: ev}, nil
}

// takeKey keeps an RKAP reconfigure key (§20.4.2: option 11, protocol 3,
// algorithm 1, RDM 0, type 1) and its replay detection value.
func (c *Client6) takeKey(m *dhcpv6.Message) {
	key, replay, err := auth.ReplyKey6(m)
	if err != nil {
		return
	}
	c.Key, c.Replay = key, replay
	c.flags |= v6HaveKey
}

// reconfigure handles a Reconfigure (§18.2.11): only bound clients with a
// key act on it, only when it is from their server, authenticated with
// HMAC-MD5 under that key and with a larger replay detection value (§20.4.3).
func (c *Client6) reconfigure(e *Env6, now time.Time, m *dhcpv6.Message) (Out6, error) {
	// §18.2.11: a client in the middle of an exchange discards it; one
	// that is not bound has nothing to reconfigure.
	if c.state != V6Bound {
		return Out6{}, ErrUnexpected
	}
	if s := e.serverDUID(c.server); s == nil || string(s) != string(m.ServerID()) {
		return Out6{}, ErrV6WrongServer
	}
	msg, ok := m.ReconfigureMessage()
	if !ok {
		return Out6{}, ErrV6BadReconfMsg
	}
	// §20.4.3: the client MUST discard a Reconfigure without a valid
	// authentication option; §20.3: the replay detection value MUST be
	// greater than that of the last message accepted from the server.
	if c.flags&v6HaveKey == 0 {
		return Out6{}, ErrV6Unauthentic
	}
	if n := auth.ScratchLen(len(m.Bytes())); cap(e.scratch) < n {
		e.scratch = make([]byte, 0, max(n, auth.ScratchLen(1500)))
	}
	r, err := auth.VerifyReconfigure6(m, c.Key[:], c.Replay, e.scratch)
	if errors.Is(err, auth.ErrReplay) {
		return Out6{}, errors.Join(ErrV6Replayed, err)
	}
	if err != nil {
		return Out6{}, errors.Join(ErrV6Unauthentic, err)
	}
	c.Replay = r
	var out Out6
	switch msg {
	case dhcpv6.Renew:
		out = c.Renew(e, now)
	case dhcpv6.Rebind:
		out = c.Rebind(e, now)
	case dhcpv6.InformationRequest:
		// §18.2.11: an Information-request answering a Reconfigure
		// carries the Server ID.
		c.flags |= v6ReconfInit
		out = c.begin(e, now, V6Informing)
	default:
		return Out6{}, ErrV6BadReconfMsg
	}
	out.Event = Ev6Reconfigure
	return out, nil
}
