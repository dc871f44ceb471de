package dhcpv6

import (
	"encoding/binary"
	"net/netip"
	"strconv"
)

// Fixed layouts (RFC 8415 §8, §9).
const (
	// HeaderLen is msg-type and transaction-id of a client/server message.
	HeaderLen = 4
	// RelayHeaderLen is msg-type, hop-count, link-address, peer-address.
	RelayHeaderLen = 34
)

// indexSize covers the codes Message indexes for O(1) lookup (all the
// codes this package knows); others are found by a linear scan.
const indexSize = ruleSize

// Relay is one relay layer of a packet (RFC 8415 §9): the header of a
// Relay-forward or Relay-reply and its options (Interface-Id, Remote-Id,
// the Relay Message option holding the next layer, ...).
type Relay struct {
	Type     MessageType
	HopCount uint8
	// LinkAddr identifies the client's link (may be ::); PeerAddr is the
	// address of the client or relay the message came from.
	LinkAddr, PeerAddr netip.Addr
	Options            Options
	// Offset is the packet offset of this layer's msg-type byte.
	Offset int
}

// InterfaceID is option 18 (RFC 8415 §21.18), nil when absent. A server
// copies it unchanged into its Relay-reply (§19.3).
func (r *Relay) InterfaceID() []byte { v, _ := r.Options.Get(OptInterfaceID); return v }

// RemoteID is option 37 (RFC 4649).
func (r *Relay) RemoteID() (RemoteID, bool) {
	v, ok := r.Options.Get(OptRemoteID)
	if !ok {
		return RemoteID{}, false
	}
	id, err := ParseRemoteID(v)
	return id, err == nil
}

// SubscriberID is option 38 (RFC 4580), nil when absent.
func (r *Relay) SubscriberID() []byte { v, _ := r.Options.Get(OptSubscriberID); return v }

// LinkLayerAddr is option 79 (RFC 6939), added by the first-hop relay.
func (r *Relay) LinkLayerAddr() (LinkLayerAddr, bool) {
	v, ok := r.Options.Get(OptClientLinkLayerAddr)
	if !ok {
		return LinkLayerAddr{}, false
	}
	a, err := ParseLinkLayerAddr(v)
	return a, err == nil
}

// Message is a decoded DHCPv6 packet: the relay layers, outermost first,
// and the client/server message inside them. The zero value is ready to
// use; reuse one Message per goroutine so that decoding does not allocate.
//
// Slices returned by a Message alias the packet passed to Decode: they are
// valid until the next Decode and must not be modified if the packet is
// reused. Copy what you keep.
type Message struct {
	// Type and TransactionID (24 bits) are those of the innermost,
	// client/server message.
	Type          MessageType
	TransactionID uint32

	relays  [MaxRelayDepth]Relay
	nrelay  int
	pkt     []byte
	off     int // offset of the innermost message in pkt
	end     int
	opts    Options
	idx     [indexSize]int32 // 1 + offset in opts of the first option of each code, 0 = absent
	idxUsed bool
}

// Reset clears the message.
func (m *Message) Reset() {
	if m.idxUsed {
		clear(m.idx[:])
	}
	clear(m.relays[:m.nrelay])
	m.Type, m.TransactionID = 0, 0
	m.nrelay, m.off, m.end = 0, 0, 0
	m.pkt, m.opts, m.idxUsed = nil, nil, false
}

// Decode resets m and fills it from the packet b: every relay layer (at
// most MaxRelayDepth, RFC 8415 §7.6) and the client/server message inside.
// All options are checked, encapsulated ones included (IA_NA, IA_PD,
// IAADDR, IAPREFIX). Slices in m alias b (see Message). It never panics;
// errors are *DecodeError values matching one of the Err* sentinels.
func (m *Message) Decode(b []byte) error {
	m.Reset()
	var path optPath
	off, end := 0, len(b)
	for depth := 0; ; depth++ {
		msg := b[off:end]
		if len(msg) < 1 {
			return &DecodeError{Field: "packet", Offset: off, Kind: ErrTruncated, Reason: "empty message"}
		}
		t := MessageType(msg[0])
		if t == 0 {
			return &DecodeError{Field: "msg-type", Offset: off, Kind: ErrBadType, Reason: "msg-type 0 is reserved"}
		}
		if !t.IsRelay() {
			if len(msg) < HeaderLen {
				return &DecodeError{Field: "packet", Offset: off, Kind: ErrTruncated,
					Reason: "length " + strconv.Itoa(len(msg)) + " is shorter than the 4-byte header"}
			}
			if err := validate(msg[HeaderLen:], off+HeaderLen, &path); err != nil {
				return err
			}
			m.pkt, m.off, m.end = b, off, end
			m.Type = t
			m.TransactionID = uint32(msg[1])<<16 | uint32(msg[2])<<8 | uint32(msg[3])
			m.opts = Options(msg[HeaderLen:len(msg):len(msg)])
			m.index()
			return nil
		}
		if depth == MaxRelayDepth {
			return &DecodeError{Field: "relay header", Offset: off, Kind: ErrTooDeep,
				Reason: "more than " + strconv.Itoa(MaxRelayDepth) + " relay layers (HOP_COUNT_LIMIT 8, RFC 8415 §7.6)"}
		}
		if len(msg) < RelayHeaderLen {
			return &DecodeError{Field: "relay header", Offset: off, Kind: ErrTruncated,
				Reason: "length " + strconv.Itoa(len(msg)) + " is shorter than the 34-byte relay header"}
		}
		area := msg[RelayHeaderLen:len(msg):len(msg)]
		if err := validate(area, off+RelayHeaderLen, &path); err != nil {
			return err
		}
		m.relays[depth] = Relay{
			Type:     t,
			HopCount: msg[1],
			LinkAddr: netip.AddrFrom16([16]byte(msg[2:18])),
			PeerAddr: netip.AddrFrom16([16]byte(msg[18:34])),
			Options:  Options(area),
			Offset:   off,
		}
		m.nrelay = depth + 1
		// RFC 8415 §9: a relay message MUST include a Relay Message option.
		it := Options(area).Filter(OptRelayMsg)
		if !it.Next() {
			return &DecodeError{Field: optField(OptRelayMsg), Offset: off, Kind: ErrNoRelayMessage,
				Reason: t.String() + " has no Relay Message option"}
		}
		inner, innerOff := it.Data(), off+RelayHeaderLen+it.Offset()+optHeaderLen
		if it.Next() {
			return &DecodeError{Field: optField(OptRelayMsg), Offset: off + RelayHeaderLen + it.Offset(), Kind: ErrNoRelayMessage,
				Reason: t.String() + " has more than one Relay Message option"}
		}
		off, end = innerOff, innerOff+len(inner)
	}
}

func (m *Message) index() {
	it := m.opts.Iter()
	for it.Next() {
		if c := it.Code(); int(c) < indexSize && m.idx[c] == 0 {
			m.idx[c] = int32(it.Offset() + 1)
			m.idxUsed = true
		}
	}
}

// Relays returns the relay layers, outermost first (empty for a message
// sent directly by a client). The slice aliases m.
func (m *Message) Relays() []Relay { return m.relays[:m.nrelay] }

// Options returns the options of the client/server message.
func (m *Message) Options() Options { return m.opts }

// Bytes returns the client/server message (inside any relay layers): the
// bytes an authentication MAC covers (RFC 8415 §20.4).
func (m *Message) Bytes() []byte { return m.pkt[m.off:m.end:m.end] }

// Offset is the packet offset of the client/server message.
func (m *Message) Offset() int { return m.off }

// Packet returns the bytes passed to the last successful Decode.
func (m *Message) Packet() []byte { return m.pkt }

// Option returns the value of the first option with the given code in the
// client/server message; O(1) for the codes this package defines.
func (m *Message) Option(code OptionCode) ([]byte, bool) {
	if int(code) >= indexSize {
		return m.opts.Get(code)
	}
	p := m.idx[code]
	if p == 0 {
		return nil, false
	}
	o := int(p - 1)
	n := int(binary.BigEndian.Uint16(m.opts[o+2:]))
	s := o + optHeaderLen
	return m.opts[s : s+n : s+n], true
}

// Has reports whether an option with the given code is present.
func (m *Message) Has(code OptionCode) bool { _, ok := m.Option(code); return ok }

// OptionOffset returns the offset, in Bytes(), of the value of the first
// option with the given code, so a caller can patch it in place.
func (m *Message) OptionOffset(code OptionCode) (int, bool) {
	if int(code) < indexSize {
		p := m.idx[code]
		if p == 0 {
			return 0, false
		}
		return HeaderLen + int(p-1) + optHeaderLen, true
	}
	it := m.opts.Filter(code)
	if !it.Next() {
		return 0, false
	}
	return HeaderLen + it.Offset() + optHeaderLen, true
}

// ClientID is option 1, nil when absent.
func (m *Message) ClientID() DUID { v, _ := m.Option(OptClientID); return v }

// ServerID is option 2, nil when absent.
func (m *Message) ServerID() DUID { v, _ := m.Option(OptServerID); return v }

// IANA returns the first IA_NA; use Options().Filter(OptIANA) for all.
func (m *Message) IANA() (IA, bool) { return m.ia(OptIANA) }

// IAPD returns the first IA_PD; use Options().Filter(OptIAPD) for all.
func (m *Message) IAPD() (IA, bool) { return m.ia(OptIAPD) }

func (m *Message) ia(code OptionCode) (IA, bool) {
	v, ok := m.Option(code)
	if !ok {
		return IA{}, false
	}
	ia, err := ParseIA(v)
	return ia, err == nil
}

// ORO is the Option Request option (6), empty when absent.
func (m *Message) ORO() ORO { v, _ := m.Option(OptORO); return v }

// ElapsedTime is option 8 in hundredths of a second.
func (m *Message) ElapsedTime() (uint16, bool) { return m.uint16(OptElapsedTime) }

// Preference is option 7.
func (m *Message) Preference() (uint8, bool) {
	v, ok := m.Option(OptPreference)
	if !ok || len(v) != 1 {
		return 0, false
	}
	return v[0], true
}

// RapidCommit reports option 14 (RFC 8415 §21.14).
func (m *Message) RapidCommit() bool { return m.Has(OptRapidCommit) }

// ReconfigureAccept reports option 20: the client will accept Reconfigure
// messages (RFC 8415 §21.20).
func (m *Message) ReconfigureAccept() bool { return m.Has(OptReconfAccept) }

// ReconfigureMessage is option 19 of a Reconfigure: the message type the
// client must answer with (Renew, Rebind or Information-request).
func (m *Message) ReconfigureMessage() (MessageType, bool) {
	v, ok := m.Option(OptReconfMsg)
	if !ok || len(v) != 1 {
		return 0, false
	}
	return MessageType(v[0]), true
}

// Unicast is option 12, the server address a client may unicast to.
func (m *Message) Unicast() (netip.Addr, bool) {
	v, ok := m.Option(OptUnicast)
	if !ok || len(v) != 16 {
		return netip.Addr{}, false
	}
	return netip.AddrFrom16([16]byte(v)), true
}

// StatusCode is the message-level option 13.
func (m *Message) StatusCode() (Status, bool) {
	v, ok := m.Option(OptStatusCode)
	if !ok || len(v) < 2 {
		return Status{}, false
	}
	return Status{Code: binary.BigEndian.Uint16(v), Message: v[2:len(v):len(v)]}, true
}

// DNSServers is option 23 (RFC 3646), empty when absent.
func (m *Message) DNSServers() Addrs { v, _ := m.Option(OptDNSServers); return v }

// FQDN is option 39 (RFC 4704).
func (m *Message) FQDN() (FQDN, bool) {
	v, ok := m.Option(OptClientFQDN)
	if !ok {
		return FQDN{}, false
	}
	f, err := ParseFQDN(v)
	return f, err == nil
}

// SolMaxRT is option 82 in seconds (RFC 8415 §21.24).
func (m *Message) SolMaxRT() (uint32, bool) {
	v, ok := m.Option(OptSolMaxRT)
	if !ok || len(v) != 4 {
		return 0, false
	}
	return binary.BigEndian.Uint32(v), true
}

func (m *Message) uint16(code OptionCode) (uint16, bool) {
	v, ok := m.Option(code)
	if !ok || len(v) != 2 {
		return 0, false
	}
	return binary.BigEndian.Uint16(v), true
}

// Encode writes m back into dst: every relay layer with its options in
// their original order (the Relay Message option re-encoded from the next
// layer), then the client/server message, unknown options as raw bytes.
// It returns the encoded bytes, a prefix of dst[:cap(dst)].
func (m *Message) Encode(dst []byte) ([]byte, error) {
	var w Writer
	w.Reset(dst)
	m.encodeLayer(&w, 0)
	return w.End()
}

// encodeLayer recurses once per relay layer (at most MaxRelayDepth).
func (m *Message) encodeLayer(w *Writer, depth int) {
	if depth == m.nrelay {
		w.Header(m.Type, m.TransactionID)
		for it := m.opts.Iter(); it.Next(); {
			w.Option(it.Code(), it.Data())
		}
		return
	}
	r := &m.relays[depth]
	w.RelayHeader(r.Type, r.HopCount, r.LinkAddr, r.PeerAddr)
	for it := r.Options.Iter(); it.Next(); {
		if it.Code() == OptRelayMsg {
			w.BeginOption(OptRelayMsg)
			m.encodeLayer(w, depth+1)
			w.EndOption()
			continue
		}
		w.Option(it.Code(), it.Data())
	}
}
