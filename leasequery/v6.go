package leasequery

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/leased/leased/dhcpv6"
)

// DHCPv6 message types of RFC 5007 §4.2 and RFC 5460 §5.2.
const (
	TypeLeaseQuery6      dhcpv6.MessageType = 14
	TypeLeaseQueryReply6 dhcpv6.MessageType = 15
	TypeLeaseQueryDone6  dhcpv6.MessageType = 16
	TypeLeaseQueryData6  dhcpv6.MessageType = 17
)

// DHCPv6 options of RFC 5007 §4.1 and RFC 5460 §5.1.
const (
	OptLQQuery      dhcpv6.OptionCode = 44
	OptClientData   dhcpv6.OptionCode = 45
	OptCLTTime      dhcpv6.OptionCode = 46
	OptLQRelayData  dhcpv6.OptionCode = 47
	OptLQClientLink dhcpv6.OptionCode = 48
	OptRelayID      dhcpv6.OptionCode = 53
)

// Query types of OPTION_LQ_QUERY (RFC 5007 §4.1.2.1, RFC 5460 §5.1).
const (
	QueryByAddress     = 1
	QueryByClientID    = 2
	QueryByRelayID     = 3
	QueryByLinkAddress = 4
	QueryByRemoteID    = 5
)

// Status codes (RFC 5007 §4.1.2.5, RFC 5460 §5.1.3).
const (
	Status6UnknownQueryType = 7
	Status6MalformedQuery   = 8
	Status6NotConfigured    = 9
	Status6NotAllowed       = 10
)

// Source6 is what DHCPv6 leasequery needs from the DHCP server.
type Source6 interface {
	// Bindings6 calls f for every DHCPv6 binding the server remembers
	// until f returns false. Binding.Link is the prefix of the binding's
	// link (its pool's subnet).
	Bindings6(f func(*Binding6) bool)
	// Links6 are the prefixes of the configured links.
	Links6() []netip.Prefix
}

// Binding6 is a DHCPv6 binding with its link. Binding.RelayInfo is the
// server's record of the relays of the client's last message, read by
// Server6.Relays.
type Binding6 struct {
	Binding
	Link netip.Prefix
}

// Server6 answers DHCPv6 leasequeries from a Source6.
type Server6 struct {
	Source   Source6
	ServerID []byte // the server DUID (OPTION_SERVERID of every answer)
	// Relays reads a binding's Binding.RelayInfo: the Relay-ID options
	// (OPTION_RELAY_ID, a DUID, RFC 5460 §5.4.1) and the Remote-ID option
	// values (enterprise number and remote-id, RFC 4649 §3) of the relays
	// of the client's last message, and, when withData,
	// OPTION_LQ_RELAY_DATA's content (RFC 5007 §4.1.2.4: the address of
	// the relay the message came from and its Relay-forward without the
	// client's message; msg nil: not relayed). nil: queries by relay id
	// and remote id find nothing, no relay data is sent.
	Relays func(relayInfo []byte, withData bool) (relayIDs, remoteIDs [][]byte, peer netip.Addr, msg []byte)
}

func (s *Server6) relays(b *Binding6, withData bool) (relayIDs, remoteIDs [][]byte, peer netip.Addr, msg []byte) {
	if s.Relays == nil || len(b.RelayInfo) == 0 {
		return nil, nil, netip.Addr{}, nil
	}
	return s.Relays(b.RelayInfo, withData)
}

// query6 is a decoded OPTION_LQ_QUERY.
type query6 struct {
	typ      uint8
	link     netip.Addr
	addr     netip.Addr
	clientID []byte
	relayID  []byte // QUERY_BY_RELAY_ID
	remoteID []byte // QUERY_BY_REMOTE_ID: enterprise number and remote-id
	// relayData: the query's OPTION_ORO asks for OPTION_LQ_RELAY_DATA
	// (RFC 5007 §4.1.2.1).
	relayData bool
}

func parseLQ(m *dhcpv6.Message) (q query6, status uint16, msg string) {
	v, ok := m.Option(OptLQQuery)
	if !ok {
		return q, Status6MalformedQuery, "no OPTION_LQ_QUERY"
	}
	if len(v) < 17 {
		return q, Status6MalformedQuery, "OPTION_LQ_QUERY shorter than 17 octets"
	}
	q.typ = v[0]
	q.link = netip.AddrFrom16([16]byte(v[1:17]))
	opts := dhcpv6.Options(v[17:])
	if err := opts.Validate(); err != nil {
		return q, Status6MalformedQuery, "query options: " + err.Error()
	}
	switch q.typ {
	case QueryByAddress:
		a, ok := opts.Get(dhcpv6.OptIAAddr)
		if !ok {
			return q, Status6MalformedQuery, "query by address without OPTION_IAADDR"
		}
		ia, err := dhcpv6.ParseIAAddr(a)
		if err != nil {
			return q, Status6MalformedQuery, err.Error()
		}
		q.addr = ia.Addr
	case QueryByClientID:
		id, ok := opts.Get(dhcpv6.OptClientID)
		if !ok || len(id) == 0 {
			return q, Status6MalformedQuery, "query by client id without OPTION_CLIENTID"
		}
		q.clientID = id
	case QueryByLinkAddress:
	case QueryByRelayID:
		// RFC 5460 §5.3: the query-options MUST contain OPTION_RELAY_ID.
		id, ok := opts.Get(OptRelayID)
		if !ok || len(id) == 0 {
			return q, Status6MalformedQuery, "query by relay id without OPTION_RELAY_ID"
		}
		q.relayID = id
	case QueryByRemoteID:
		// RFC 5460 §5.3: the query-options MUST contain a Remote-ID option
		// (RFC 4649: a 4-octet enterprise number, then the remote-id).
		id, ok := opts.Get(dhcpv6.OptRemoteID)
		if !ok || len(id) < 5 {
			return q, Status6MalformedQuery, "query by remote id without a Remote-ID option (enterprise number and remote-id)"
		}
		q.remoteID = id
	default:
		return q, Status6UnknownQueryType, fmt.Sprintf("query type %d is not supported (1 address, 2 client id, 3 relay id, 4 link address, 5 remote id)", q.typ)
	}
	if oro, ok := opts.Get(dhcpv6.OptORO); ok {
		for i := 0; i+1 < len(oro); i += 2 {
			q.relayData = q.relayData || dhcpv6.OptionCode(binary.BigEndian.Uint16(oro[i:])) == OptLQRelayData
		}
	}
	return q, 0, ""
}

func (q *query6) onLink(b *Binding6) bool {
	return !q.link.IsValid() || q.link.IsUnspecified() || b.Link.Contains(q.link)
}

// contains reports whether b holds addr (its IA_NA address, or addr is in
// its delegated prefix).
func contains(b *Binding6, addr netip.Addr) bool {
	if b.PrefixLen > 0 {
		return netip.PrefixFrom(b.Addr, int(b.PrefixLen)).Contains(addr)
	}
	return b.Addr == addr
}

// clients groups the active bindings matching keep by client DUID, in
// first-seen order.
func (s *Server6) clients(now time.Time, keep func(*Binding6) bool) (order [][]byte, by map[string][]Binding6) {
	by = map[string][]Binding6{}
	s.Source.Bindings6(func(b *Binding6) bool {
		if b.State != Active || !b.Expiry.After(now) || !keep(b) {
			return true
		}
		k := string(b.ClientID)
		if _, ok := by[k]; !ok {
			order = append(order, b.ClientID)
		}
		c := *b
		by[k] = append(by[k], c)
		return true
	})
	return order, by
}

// Query answers a LEASEQUERY (RFC 5007 §4.3.2) with one LEASEQUERY-REPLY.
func (s *Server6) Query(now time.Time, m *dhcpv6.Message) ([]byte, string, error) {
	var out []byte
	kind, err := s.answer(now, m, false, func(b []byte) error { out = b; return nil })
	return out, kind, err
}

// Bulk answers a LEASEQUERY over TCP (RFC 5460 §5.3): LEASEQUERY-REPLY
// with the first client's data, LEASEQUERY-DATA for each further client,
// LEASEQUERY-DONE after them; a query with no data gets a
// LEASEQUERY-REPLY without client data.
func (s *Server6) Bulk(now time.Time, m *dhcpv6.Message, emit func([]byte) error) (string, error) {
	return s.answer(now, m, true, emit)
}

// Answer6 adapts Server6 to BulkServer.Answer.
func (s *Server6) Answer6(now time.Time, _, _ netip.Addr, msg []byte, emit func([]byte) error) (string, error) {
	var m dhcpv6.Message
	if err := m.Decode(msg); err != nil {
		return "", fmt.Errorf("undecodable query: %w", err)
	}
	return s.Bulk(now, &m, emit)
}

func (s *Server6) answer(now time.Time, m *dhcpv6.Message, bulk bool, emit func([]byte) error) (string, error) {
	if m.Type != TypeLeaseQuery6 || len(m.Relays()) > 0 {
		return "", ErrNotQuery
	}
	q, st, why := parseLQ(m)
	if st != 0 {
		return "malformed", emit(s.reply(m, TypeLeaseQueryReply6, st, why, nil, now))
	}
	var keep func(*Binding6) bool
	switch q.typ {
	case QueryByAddress:
		// RFC 5007 §4.3.2: an address on no configured link is
		// NotConfigured.
		configured := false
		for _, l := range s.Source.Links6() {
			configured = configured || l.Contains(q.addr)
		}
		var owner []byte
		s.Source.Bindings6(func(b *Binding6) bool {
			if b.State == Active && b.Expiry.After(now) && contains(b, q.addr) {
				owner, configured = b.ClientID, true
				return false
			}
			return true
		})
		if !configured {
			return "not_configured", emit(s.reply(m, TypeLeaseQueryReply6, Status6NotConfigured, "address on no configured link", nil, now))
		}
		if owner == nil {
			return "unknown", emit(s.reply(m, TypeLeaseQueryReply6, 0, "", nil, now))
		}
		keep = func(b *Binding6) bool { return bytes.Equal(b.ClientID, owner) && q.onLink(b) }
	case QueryByClientID:
		keep = func(b *Binding6) bool { return bytes.Equal(b.ClientID, q.clientID) && q.onLink(b) }
	case QueryByLinkAddress, QueryByRelayID, QueryByRemoteID:
		if !bulk {
			// RFC 5460 §3: a server that also answers UDP leasequery MUST
			// NOT accept the bulk query types over UDP, and MUST answer
			// them with NotAllowed.
			return "not_allowed", emit(s.reply(m, TypeLeaseQueryReply6, Status6NotAllowed, fmt.Sprintf("query type %d is for bulk leasequery over TCP (RFC 5460)", q.typ), nil, now))
		}
		switch q.typ {
		case QueryByLinkAddress:
			keep = q.onLink
		case QueryByRelayID:
			// The bindings whose client's last message came through a
			// relay with this Relay-ID (any layer, RFC 5460 §5.4.1), on
			// the query's link if it names one.
			keep = func(b *Binding6) bool {
				ids, _, _, _ := s.relays(b, false)
				return q.onLink(b) && slices.ContainsFunc(ids, func(id []byte) bool { return bytes.Equal(id, q.relayID) })
			}
		case QueryByRemoteID:
			// Enterprise number and remote-id both match (RFC 4649 §3).
			keep = func(b *Binding6) bool {
				_, ids, _, _ := s.relays(b, false)
				return q.onLink(b) && slices.ContainsFunc(ids, func(id []byte) bool { return bytes.Equal(id, q.remoteID) })
			}
		}
	}
	order, by := s.clients(now, keep)
	if len(order) == 0 {
		return "unknown", emit(s.reply(m, TypeLeaseQueryReply6, 0, "", nil, now))
	}
	if !bulk {
		// RFC 5007 §4.3.3: a client on several links and no link named:
		// OPTION_LQ_CLIENT_LINK instead of client data.
		links := map[netip.Prefix]bool{}
		for _, b := range by[string(order[0])] {
			links[b.Link] = true
		}
		if len(links) > 1 && (!q.link.IsValid() || q.link.IsUnspecified()) {
			return "client_link", emit(s.replyLinks(m, links))
		}
		return "active", emit(s.replyClient(m, TypeLeaseQueryReply6, by[string(order[0])], q.relayData, now))
	}
	for i, id := range order {
		t := TypeLeaseQueryData6
		if i == 0 {
			t = TypeLeaseQueryReply6
		}
		if err := emit(s.replyClient(m, t, by[string(id)], q.relayData, now)); err != nil {
			return "bulk", err
		}
	}
	return fmt.Sprintf("bulk_%d", q.typ), emit(s.reply(m, TypeLeaseQueryDone6, 0, "", nil, now))
}

func (s *Server6) header(w *dhcpv6.Writer, m *dhcpv6.Message, t dhcpv6.MessageType) {
	w.Reset(make([]byte, 0, 4096))
	w.Header(t, m.TransactionID)
	w.Option(dhcpv6.OptServerID, s.ServerID)
	if id := m.ClientID(); len(id) > 0 {
		w.Option(dhcpv6.OptClientID, id)
	}
}

// reply encodes a LEASEQUERY-REPLY / -DATA / -DONE; bs are one client's
// bindings (OPTION_CLIENT_DATA, RFC 5007 §4.1.2.2), status != 0 adds a
// Status Code.
func (s *Server6) reply(m *dhcpv6.Message, t dhcpv6.MessageType, status uint16, msg string, bs []Binding6, now time.Time) []byte {
	return s.encode(m, t, status, msg, bs, false, now)
}

// replyClient encodes one client's data; relayData adds
// OPTION_LQ_RELAY_DATA when the requestor asked for it (RFC 5007
// §4.1.2.2, §4.3.3) and the client's last message was relayed.
func (s *Server6) replyClient(m *dhcpv6.Message, t dhcpv6.MessageType, bs []Binding6, relayData bool, now time.Time) []byte {
	return s.encode(m, t, 0, "", bs, relayData, now)
}

func (s *Server6) encode(m *dhcpv6.Message, t dhcpv6.MessageType, status uint16, msg string, bs []Binding6, relayData bool, now time.Time) []byte {
	var w dhcpv6.Writer
	s.header(&w, m, t)
	if status != 0 {
		w.StatusCode(status, msg)
	}
	if len(bs) > 0 {
		w.BeginOption(OptClientData)
		w.Option(dhcpv6.OptClientID, bs[0].ClientID)
		last := bs[0].Start
		latest := 0
		for i, b := range bs {
			pref, valid := secs(b.Preferred.Sub(now)), secs(b.Expiry.Sub(now))
			if b.PrefixLen > 0 {
				w.BeginIAPrefix(netip.PrefixFrom(b.Addr, int(b.PrefixLen)), pref, valid)
			} else {
				w.BeginIAAddr(b.Addr, pref, valid)
			}
			w.EndOption()
			if b.Start.After(last) {
				last, latest = b.Start, i
			}
		}
		// RFC 5007 §4.1.2.3: seconds since the client's last transaction.
		w.OptionUint32(OptCLTTime, secs(now.Sub(last)))
		if relayData {
			// RFC 5007 §4.1.2.4: peer-address, then the relayed message
			// of the client's last transaction without its own message.
			if _, _, peer, msg := s.relays(&bs[latest], true); msg != nil {
				a := peer.As16()
				w.Option(OptLQRelayData, append(a[:], msg...))
			}
		}
		w.EndOption()
	}
	out, err := w.End()
	if err != nil {
		// Only bindings the engine holds are written: an encoding error
		// is a bug; answer with the status alone.
		var w2 dhcpv6.Writer
		s.header(&w2, m, t)
		w2.StatusCode(1, "encoding failed")
		out, _ = w2.End()
	}
	return out
}

func (s *Server6) replyLinks(m *dhcpv6.Message, links map[netip.Prefix]bool) []byte {
	var w dhcpv6.Writer
	s.header(&w, m, TypeLeaseQueryReply6)
	var v []byte
	for l := range links {
		a := l.Addr().As16()
		v = append(v, a[:]...)
	}
	w.Option(OptLQClientLink, v)
	out, _ := w.End()
	return out
}

// LQQuery encodes an OPTION_LQ_QUERY value (for requestors and tests).
func LQQuery(typ uint8, link netip.Addr, opts []byte) []byte {
	v := make([]byte, 17, 17+len(opts))
	v[0] = typ
	if link.IsValid() {
		a := link.As16()
		copy(v[1:], a[:])
	}
	return append(v, opts...)
}

// Opt6 encodes one DHCPv6 option (for building query options).
func Opt6(code dhcpv6.OptionCode, data []byte) []byte {
	b := binary.BigEndian.AppendUint16(nil, uint16(code))
	b = binary.BigEndian.AppendUint16(b, uint16(len(data)))
	return append(b, data...)
}
