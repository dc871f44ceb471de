// Package leasequery answers DHCPv4 leasequery (RFC 4388) on the DHCP
// port, DHCPv4 bulk leasequery over TCP (RFC 6926) and DHCPv6 leasequery
// (RFC 5007) / bulk leasequery (RFC 5460). The answers are computed from
// a Source of bindings with the clock passed in (pure, tested without
// sockets); the TCP listeners are in bulk.go. The package knows nothing of
// leased's server: cmd/leased implements Source.
package leasequery

import (
	"bytes"
	"errors"
	"net/netip"
	"time"

	"github.com/leased/leased/dhcpv4"
)

// DHCPv4 message types of RFC 4388 §6.1 and RFC 6926 §6.1.
const (
	TypeLeaseQuery       dhcpv4.MessageType = 10
	TypeLeaseUnassigned  dhcpv4.MessageType = 11
	TypeLeaseUnknown     dhcpv4.MessageType = 12
	TypeLeaseActive      dhcpv4.MessageType = 13
	TypeBulkLeaseQuery   dhcpv4.MessageType = 14
	TypeLeaseQueryDone   dhcpv4.MessageType = 15
	TypeLeaseQueryStatus dhcpv4.MessageType = 17
)

// DHCPv4 options of RFC 4388 §6.4 and RFC 6926 §6.2.
const (
	OptClientLastTransactionTime dhcpv4.OptionCode = 91
	OptAssociatedIP              dhcpv4.OptionCode = 92
	OptStatusCode                dhcpv4.OptionCode = 151
	OptBaseTime                  dhcpv4.OptionCode = 152
	OptStartTimeOfState          dhcpv4.OptionCode = 153
	OptQueryStartTime            dhcpv4.OptionCode = 154
	OptQueryEndTime              dhcpv4.OptionCode = 155
	OptDHCPState                 dhcpv4.OptionCode = 156
	OptDataSource                dhcpv4.OptionCode = 157
)

// Status codes of option 151 (RFC 6926 §6.2.2).
const (
	StatusSuccess         = 0
	StatusUnspecFail      = 1
	StatusQueryTerminated = 2
	StatusMalformedQuery  = 3
	StatusNotAllowed      = 4
)

// dhcp-state values of option 156 (RFC 6926 §6.2.6).
const (
	stateAvailable = 1
	stateActive    = 2
	stateExpired   = 3
	stateReleased  = 4
	stateAbandoned = 5
)

// Relay agent information sub-options (RFC 3046, RFC 6925).
const (
	subRemoteID = 2
	subRelayID  = 12
)

// State is what a binding is to a requestor.
type State int

const (
	// Active: the address is leased to the client (LEASEACTIVE).
	Active State = iota
	// Expired, Released, Abandoned (declined or quarantined), Available:
	// the address is not leased (LEASEUNASSIGNED).
	Expired
	Released
	Abandoned
	Available
)

// Binding is one DHCPv4 or DHCPv6 binding as leasequery reports it.
type Binding struct {
	Addr      netip.Addr
	PrefixLen uint8 // DHCPv6 IA_PD; 0 for an address
	State     State
	HType     uint8
	HWAddr    []byte
	// ClientID is option 61 as the client sent it (nil when it sent
	// none) or the DHCPv6 DUID.
	ClientID []byte
	// RelayInfo is the raw option 82 of the client's last request
	// (DHCPv4).
	RelayInfo []byte
	// Start is when the state began (the last transaction for an active
	// binding); Expiry the end of the lease (valid lifetime).
	Start, Expiry time.Time
	// T1, T2 (DHCPv4), Preferred (DHCPv6) of an active binding.
	T1, T2, Preferred time.Time
	IAID              uint32
}

// Source is what leasequery needs from the DHCP server.
type Source interface {
	// Lookup4 returns what the server knows of addr: its binding (ok
	// false: none) and whether addr lies in a configured pool.
	Lookup4(addr netip.Addr) (b Binding, ok, managed bool)
	// Bindings4 calls f for every DHCPv4 binding the server remembers
	// until f returns false.
	Bindings4(f func(*Binding) bool)
}

// Answer4 is the answer to one DHCPv4 query.
type Answer4 struct {
	// Replies are the encoded messages in order (a bulk answer ends with
	// DHCPLEASEQUERYDONE or DHCPLEASEQUERYSTATUS).
	Replies [][]byte
	// Kind labels the answer for metrics and logs.
	Kind string
}

// ErrNotQuery is returned for a message that is not a leasequery.
var ErrNotQuery = errors.New("leasequery: not a DHCPLEASEQUERY or DHCPBULKLEASEQUERY")

// query is a decoded DHCPv4 query.
type query struct {
	by       string // "ip", "mac", "client_id", "relay_id", "remote_id"
	ip       netip.Addr
	htype    uint8
	hw       []byte
	clientID []byte
	relayID  []byte
	remoteID []byte
	from, to time.Time // RFC 6926 query-start-time / query-end-time
}

// parse4 reads the query of m (RFC 4388 §6.1 for the single query, in its
// order of precedence: ciaddr, then option 61, then chaddr; RFC 6926 §6.2
// adds relay id and remote id in option 82).
func parse4(m *dhcpv4.Message, bulk bool) (query, bool) {
	var q query
	switch {
	case m.CIAddr.IsValid() && !m.CIAddr.IsUnspecified():
		q.by, q.ip = "ip", m.CIAddr
	case len(m.ClientID()) > 0:
		q.by, q.clientID = "client_id", m.ClientID()
	case m.HLen > 0 && m.HLen <= 16 && !allZero(m.CHAddr[:m.HLen]):
		q.by, q.htype, q.hw = "mac", m.HType, m.CHAddr[:m.HLen]
	case bulk:
		ri := m.RelayAgentInfo()
		if id := subOption(ri, subRelayID); id != nil {
			q.by, q.relayID = "relay_id", id
		} else if id := subOption(ri, subRemoteID); id != nil {
			q.by, q.remoteID = "remote_id", id
		}
	}
	if bulk {
		if v, ok := m.Uint32(OptQueryStartTime); ok {
			q.from = time.Unix(int64(v), 0)
		}
		if v, ok := m.Uint32(OptQueryEndTime); ok {
			q.to = time.Unix(int64(v), 0)
		}
	}
	return q, q.by != ""
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// subOption returns sub-option code of a relay agent information option.
func subOption(ri []byte, code byte) []byte {
	for len(ri) >= 2 && int(ri[1])+2 <= len(ri) {
		if ri[0] == code {
			return ri[2 : 2+ri[1]]
		}
		ri = ri[2+ri[1]:]
	}
	return nil
}

// clientMatch reports whether b belongs to the client q names.
func (q *query) clientMatch(b *Binding) bool {
	switch q.by {
	case "client_id":
		return bytes.Equal(b.ClientID, q.clientID)
	case "mac":
		return b.HType == q.htype && bytes.Equal(b.HWAddr, q.hw)
	case "relay_id":
		return bytes.Equal(subOption(b.RelayInfo, subRelayID), q.relayID)
	case "remote_id":
		return bytes.Equal(subOption(b.RelayInfo, subRemoteID), q.remoteID)
	}
	return false
}

// Server4 answers DHCPv4 queries from a Source.
type Server4 struct {
	Source Source
	// ServerID is option 54 of every answer when set; otherwise the
	// address the query arrived on (sid) is used.
	ServerID netip.Addr
}

func (s *Server4) sid(local netip.Addr) netip.Addr {
	if s.ServerID.IsValid() {
		return s.ServerID
	}
	return local
}

// Query answers a DHCPLEASEQUERY (RFC 4388 §6.4) received at now.
func (s *Server4) Query(now time.Time, m *dhcpv4.Message, local netip.Addr) (Answer4, error) {
	sid := s.sid(local)
	if m.Type() != TypeLeaseQuery || m.Op != dhcpv4.BootRequest {
		return Answer4{}, ErrNotQuery
	}
	q, ok := parse4(m, false)
	if !ok {
		// RFC 4388 §6.4: no query fields: DHCPLEASEUNKNOWN.
		out, err := s.reply(sid, m, TypeLeaseUnknown, nil, nil, now, false)
		return Answer4{Replies: [][]byte{out}, Kind: "malformed"}, err
	}
	if q.by == "ip" {
		b, found, managed := s.Source.Lookup4(q.ip)
		switch {
		case found && b.State == Active:
			out, err := s.reply(sid, m, TypeLeaseActive, &b, s.associated(&b, now), now, false)
			return Answer4{Replies: [][]byte{out}, Kind: "active"}, err
		case found || managed:
			// RFC 4388 §6.4.2: an address this server manages that is
			// not leased: DHCPLEASEUNASSIGNED.
			if !found {
				b = Binding{Addr: q.ip, State: Available}
			}
			out, err := s.reply(sid, m, TypeLeaseUnassigned, &b, nil, now, false)
			return Answer4{Replies: [][]byte{out}, Kind: "unassigned"}, err
		}
		out, err := s.reply(sid, m, TypeLeaseUnknown, nil, nil, now, false)
		return Answer4{Replies: [][]byte{out}, Kind: "unknown"}, err
	}
	// By client: the most recent active binding, with every address the
	// client holds in option 92 (RFC 4388 §6.4.1).
	var best *Binding
	var assoc []netip.Addr
	s.Source.Bindings4(func(b *Binding) bool {
		if b.State != Active || !b.Expiry.After(now) || !q.clientMatch(b) {
			return true
		}
		assoc = append(assoc, b.Addr)
		if best == nil || b.Start.After(best.Start) {
			c := *b
			best = &c
		}
		return true
	})
	if best == nil {
		out, err := s.reply(sid, m, TypeLeaseUnknown, nil, nil, now, false)
		return Answer4{Replies: [][]byte{out}, Kind: "unknown"}, err
	}
	out, err := s.reply(sid, m, TypeLeaseActive, best, assoc, now, false)
	return Answer4{Replies: [][]byte{out}, Kind: "active"}, err
}

// associated lists the client's active addresses (option 92).
func (s *Server4) associated(b *Binding, now time.Time) []netip.Addr {
	q := query{by: "mac", htype: b.HType, hw: b.HWAddr}
	if len(b.ClientID) > 0 {
		q = query{by: "client_id", clientID: b.ClientID}
	}
	var out []netip.Addr
	s.Source.Bindings4(func(x *Binding) bool {
		if x.State == Active && x.Expiry.After(now) && q.clientMatch(x) {
			out = append(out, x.Addr)
		}
		return true
	})
	return out
}

// Bulk answers a DHCPBULKLEASEQUERY (RFC 6926 §6.2): a DHCPLEASEACTIVE or
// DHCPLEASEUNASSIGNED per matching binding, then DHCPLEASEQUERYDONE; a
// malformed query gets DHCPLEASEQUERYSTATUS MalformedQuery. A
// DHCPLEASEQUERY over TCP gets its single answer (RFC 6926 §6.3). emit is
// called for each message in order; an error from it ends the answer.
func (s *Server4) Bulk(now time.Time, m *dhcpv4.Message, local netip.Addr, emit func([]byte) error) (kind string, n int, err error) {
	sid := s.sid(local)
	switch m.Type() {
	case TypeLeaseQuery:
		a, err := s.Query(now, m, local)
		for _, r := range a.Replies {
			if err == nil {
				err = emit(r)
			}
		}
		return a.Kind, len(a.Replies), err
	case TypeBulkLeaseQuery:
	default:
		out, err := s.status(sid, m, StatusMalformedQuery, "not a DHCPBULKLEASEQUERY", now)
		if err == nil {
			err = emit(out)
		}
		return "malformed", 1, err
	}
	q, ok := parse4(m, true)
	if !ok {
		// RFC 6926 §6.2.3: a query without a query type is malformed.
		out, err := s.status(sid, m, StatusMalformedQuery, "no query: set ciaddr, chaddr, option 61, or option 82 relay-id / remote-id", now)
		if err == nil {
			err = emit(out)
		}
		return "malformed", 1, err
	}
	var rerr error
	count := 0
	visit := func(b *Binding) bool {
		if !q.from.IsZero() && b.Start.Before(q.from) || !q.to.IsZero() && b.Start.After(q.to) {
			return true
		}
		t := TypeLeaseActive
		if b.State != Active || !b.Expiry.After(now) {
			t = TypeLeaseUnassigned
		}
		out, err := s.reply(sid, m, t, b, nil, now, true)
		if err == nil {
			err = emit(out)
		}
		if err != nil {
			rerr = err
			return false
		}
		count++
		return true
	}
	if q.by == "ip" {
		if b, found, _ := s.Source.Lookup4(q.ip); found {
			visit(&b)
		}
	} else {
		s.Source.Bindings4(func(b *Binding) bool {
			if !q.clientMatch(b) {
				return true
			}
			return visit(b)
		})
	}
	if rerr != nil {
		return q.by, count, rerr
	}
	out, err := s.reply(sid, m, TypeLeaseQueryDone, nil, nil, now, true)
	if err == nil {
		err = emit(out)
	}
	return q.by, count + 1, err
}

// reply encodes one answer to m. b is the binding reported (nil for
// LEASEUNKNOWN / LEASEQUERYDONE); assoc the client's addresses (option
// 92); bulk adds the RFC 6926 options.
func (s *Server4) reply(sid netip.Addr, m *dhcpv4.Message, t dhcpv4.MessageType, b *Binding, assoc []netip.Addr, now time.Time, bulk bool) ([]byte, error) {
	h := dhcpv4.Header{Op: dhcpv4.BootReply, XID: m.XID, GIAddr: m.GIAddr, Flags: m.Flags}
	if b == nil {
		// RFC 4388 §6.4.3: LEASEUNKNOWN echoes the query's fields.
		if t == TypeLeaseUnknown {
			h.CIAddr, h.HType, h.HLen, h.CHAddr = m.CIAddr, m.HType, m.HLen, m.CHAddr
		}
	} else {
		h.CIAddr = b.Addr
		if t == TypeLeaseActive || bulk {
			h.HType, h.HLen = b.HType, uint8(min(len(b.HWAddr), 16))
			copy(h.CHAddr[:], b.HWAddr)
		}
	}
	var w dhcpv4.Writer
	w.Reset(make([]byte, 0, 1500))
	w.Header(&h)
	w.OptionByte(dhcpv4.OptMessageType, byte(t))
	if sid.IsValid() && sid.Is4() {
		w.OptionAddr(dhcpv4.OptServerID, sid)
	}
	wants := func(c dhcpv4.OptionCode) bool { return bulk || m.Requested(c) }
	if b != nil && t == TypeLeaseActive {
		// RFC 4388 §6.4.1: lease time remaining, time since the last
		// transaction, the client id it sent.
		w.OptionUint32(dhcpv4.OptLeaseTime, secs(b.Expiry.Sub(now)))
		w.OptionUint32(OptClientLastTransactionTime, secs(now.Sub(b.Start)))
		if !b.T1.IsZero() && wants(dhcpv4.OptRenewalTime) {
			w.OptionUint32(dhcpv4.OptRenewalTime, secs(b.T1.Sub(now)))
		}
		if !b.T2.IsZero() && wants(dhcpv4.OptRebindingTime) {
			w.OptionUint32(dhcpv4.OptRebindingTime, secs(b.T2.Sub(now)))
		}
		if len(assoc) > 0 {
			w.OptionAddrs(OptAssociatedIP, assoc...)
		}
	}
	if b != nil && (t == TypeLeaseActive || bulk) {
		if len(b.ClientID) > 0 {
			w.Option(dhcpv4.OptClientID, b.ClientID)
		}
		if len(b.RelayInfo) > 0 && wants(dhcpv4.OptRelayAgentInfo) {
			w.Option(dhcpv4.OptRelayAgentInfo, b.RelayInfo)
		}
	}
	if bulk && b != nil {
		// RFC 6926 §6.2: base time, when the state began, the state.
		w.OptionUint32(OptBaseTime, uint32(now.Unix()))
		w.OptionUint32(OptStartTimeOfState, secs(now.Sub(b.Start)))
		w.OptionByte(OptDHCPState, dhcpState(b, now))
		w.OptionByte(OptDataSource, 0) // local: this server's own data
	}
	if t == TypeLeaseQueryDone || t == TypeLeaseQueryStatus {
		w.OptionUint32(OptBaseTime, uint32(now.Unix()))
	}
	return w.End()
}

func (s *Server4) status(sid netip.Addr, m *dhcpv4.Message, code byte, msg string, now time.Time) ([]byte, error) {
	h := dhcpv4.Header{Op: dhcpv4.BootReply, XID: m.XID, GIAddr: m.GIAddr}
	var w dhcpv4.Writer
	w.Reset(make([]byte, 0, 600))
	w.Header(&h)
	w.OptionByte(dhcpv4.OptMessageType, byte(TypeLeaseQueryStatus))
	if sid.IsValid() && sid.Is4() {
		w.OptionAddr(dhcpv4.OptServerID, sid)
	}
	w.Option(OptStatusCode, append([]byte{code}, msg...))
	w.OptionUint32(OptBaseTime, uint32(now.Unix()))
	return w.End()
}

func dhcpState(b *Binding, now time.Time) byte {
	switch {
	case b.State == Active && b.Expiry.After(now):
		return stateActive
	case b.State == Active, b.State == Expired:
		return stateExpired
	case b.State == Released:
		return stateReleased
	case b.State == Abandoned:
		return stateAbandoned
	}
	return stateAvailable
}

func secs(d time.Duration) uint32 {
	if d <= 0 {
		return 0
	}
	return uint32(min(d/time.Second, 0xffffffff))
}

// StatusOf returns the status code and message of option 151 in m.
func StatusOf(m *dhcpv4.Message) (byte, string, bool) {
	v, ok := m.Option(OptStatusCode)
	if !ok || len(v) < 1 {
		return 0, "", false
	}
	return v[0], string(v[1:]), true
}
