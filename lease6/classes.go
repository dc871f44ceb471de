package lease6

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
	"regexp"
)

// Client classes (Kea's client-classes) for DHCPv6: a class is a match
// rule on what the client or its relays send, and membership gives
// options and access to pools (Pool.Allow, Pool.Deny). Classes are tested
// in configuration order; where several member classes set the same
// option the first one wins, so the answer is deterministic. Options
// take precedence global → pool → class → reservation.

// MaxClasses is the number of classes a configuration may define.
const MaxClasses = 64

// Built-in class names for Pool.Allow and Pool.Deny: a client is "known"
// in a pool when it has a reservation there (Kea's KNOWN/UNKNOWN).
const (
	ClassKnown   = "known"
	ClassUnknown = "unknown"
)

// StrOp is how a StrMatch compares.
type StrOp uint8

const (
	OpNone      StrOp = iota // the field is not tested
	OpExact                  // equal bytes
	OpPrefix                 // starts with Value
	OpSubstring              // contains Value
	OpRegex                  // Re matches
)

// StrMatch tests one byte-string field of a request (the DHCPv4 engine's
// lease.StrMatch, for DHCPv6 fields).
type StrMatch struct {
	Op    StrOp
	Value []byte
	Re    *regexp.Regexp // OpRegex only
}

func (m *StrMatch) test(v []byte) bool {
	switch m.Op {
	case OpExact:
		return bytes.Equal(v, m.Value)
	case OpPrefix:
		return bytes.HasPrefix(v, m.Value)
	case OpSubstring:
		return bytes.Contains(v, m.Value)
	case OpRegex:
		return m.Re != nil && m.Re.Match(v)
	}
	return true
}

// ClassMatch is a class's rule: every field that is set must hold (AND);
// a rule with no field set matches nobody.
type ClassMatch struct {
	DUID StrMatch // option 1
	// VendorClass holds when one vendor-class-data instance of option 16
	// (RFC 8415 §21.16) matches.
	VendorClass StrMatch
	// UserClass holds when one user-class-data instance of option 15
	// (RFC 8415 §21.15) matches.
	UserClass StrMatch
	// RemoteID is the remote-id of option 37 (RFC 4649, without the
	// enterprise number) of any relay.
	RemoteID StrMatch
	// SubscriberID is the Subscriber-ID (option 38, RFC 4580) of any
	// relay.
	SubscriberID StrMatch
	// InterfaceID is the innermost relay's option 18.
	InterfaceID StrMatch
}

func (m *ClassMatch) empty() bool {
	return m.DUID.Op == OpNone && m.VendorClass.Op == OpNone && m.UserClass.Op == OpNone &&
		m.RemoteID.Op == OpNone && m.SubscriberID.Op == OpNone && m.InterfaceID.Op == OpNone
}

func (m *ClassMatch) matches(req *Request) bool {
	if m.empty() {
		return false
	}
	if m.DUID.Op != OpNone && !m.DUID.test(req.ClientID) {
		return false
	}
	if m.VendorClass.Op != OpNone && (len(req.VendorClass) < 4 || !anyInstance(&m.VendorClass, req.VendorClass[4:])) {
		return false
	}
	if m.UserClass.Op != OpNone && !anyInstance(&m.UserClass, req.UserClass) {
		return false
	}
	if m.RemoteID.Op != OpNone && (req.RemoteID == nil || !m.RemoteID.test(req.RemoteID)) {
		return false
	}
	if m.SubscriberID.Op != OpNone && (req.SubscriberID == nil || !m.SubscriberID.test(req.SubscriberID)) {
		return false
	}
	if m.InterfaceID.Op != OpNone && (req.InterfaceID == nil || !m.InterfaceID.test(req.InterfaceID)) {
		return false
	}
	return true
}

// anyInstance reports whether one of the 2-byte-length-prefixed
// instances in data (options 15 and 16) matches m.
func anyInstance(m *StrMatch, data []byte) bool {
	for len(data) >= 2 {
		n := int(binary.BigEndian.Uint16(data))
		if 2+n > len(data) {
			return false
		}
		if m.test(data[2 : 2+n]) {
			return true
		}
		data = data[2+n:]
	}
	return false
}

// Class is one client class.
type Class struct {
	Name  string
	Match ClassMatch
	// Options for members: a non-empty list replaces the pool's; raw
	// options replace the pool's of the same code. A reservation's
	// options beat them.
	DNS          []netip.Addr
	DomainSearch []string
	NTP          []netip.Addr
	RawOptions   []RawOption
}

func (c *Class) hasOptions() bool {
	return len(c.DNS) > 0 || len(c.DomainSearch) > 0 || len(c.NTP) > 0 || len(c.RawOptions) > 0
}

// access is a pool's compiled Allow and Deny lists.
type access struct {
	allow, deny              uint64 // class bits
	allowKnown, allowUnknown bool
	denyKnown, denyUnknown   bool
	restricted               bool // Allow is not empty
}

func compileAccess(cfg *Config, p *Pool) (access, error) {
	var a access
	bit := func(name string) (uint64, error) {
		for i := range cfg.Classes {
			if cfg.Classes[i].Name == name {
				return 1 << i, nil
			}
		}
		return 0, fmt.Errorf("lease6: pool %q: unknown class %q", p.Name, name)
	}
	for _, n := range p.Allow {
		a.restricted = true
		switch n {
		case ClassKnown:
			a.allowKnown = true
		case ClassUnknown:
			a.allowUnknown = true
		default:
			b, err := bit(n)
			if err != nil {
				return a, err
			}
			a.allow |= b
		}
	}
	for _, n := range p.Deny {
		switch n {
		case ClassKnown:
			a.denyKnown = true
		case ClassUnknown:
			a.denyUnknown = true
		default:
			b, err := bit(n)
			if err != nil {
				return a, err
			}
			a.deny |= b
		}
	}
	return a, nil
}

// permits reports whether pool p serves a client in classes mask.
func (p *pool) permits(mask uint64, duid []byte) bool {
	a := &p.acc
	known := p.reservation(duid) >= 0
	if mask&a.deny != 0 || (a.denyKnown && known) || (a.denyUnknown && !known) {
		return false
	}
	if !a.restricted {
		return true
	}
	return mask&a.allow != 0 || (a.allowKnown && known) || (a.allowUnknown && !known)
}

// classify returns the bits of the classes req belongs to.
func (e *Engine) classify(req *Request) uint64 {
	var mask uint64
	for i := range e.cfg.Classes {
		if e.cfg.Classes[i].Match.matches(req) {
			mask |= 1 << i
		}
	}
	return mask
}

// optKey identifies a derived option set of a pool.
type optKey struct {
	classes uint64
	res     int
}

// maxDerived bounds the derived option sets cached per pool.
const maxDerived = 4096

// optionsFor is the Pool whose options a client of p in classes mask
// gets: global → pool → classes (first member class wins per option) →
// reservation.
func (e *Engine) optionsFor(p *pool, duid []byte, mask uint64) *Pool {
	mask &= e.optClasses
	if mask == 0 {
		return p.options(duid)
	}
	k := optKey{classes: mask, res: p.reservation(duid)}
	if h := p.derived[k]; h != nil {
		return h
	}
	h := *p.cfg
	h.Name = fmt.Sprintf("%s#class%x", p.cfg.Name, mask)
	var dns, search, ntp bool
	var raw []RawOption
	for i := range e.cfg.Classes {
		if mask&(1<<i) == 0 {
			continue
		}
		c := &e.cfg.Classes[i]
		if len(c.DNS) > 0 && !dns {
			h.DNS, dns = c.DNS, true
		}
		if len(c.DomainSearch) > 0 && !search {
			h.DomainSearch, search = c.DomainSearch, true
		}
		if len(c.NTP) > 0 && !ntp {
			h.NTP, ntp = c.NTP, true
		}
		raw = mergeRaw(raw, c.RawOptions)
	}
	h.RawOptions = mergeRaw(raw, h.RawOptions)
	if k.res >= 0 {
		r := &p.cfg.Reservations[k.res]
		h.Name = fmt.Sprintf("%s#host%d", h.Name, k.res)
		if len(r.DNS) > 0 {
			h.DNS = r.DNS
		}
		if len(r.DomainSearch) > 0 {
			h.DomainSearch = r.DomainSearch
		}
		if len(r.NTP) > 0 {
			h.NTP = r.NTP
		}
		h.RawOptions = mergeRaw(r.RawOptions, h.RawOptions)
	}
	if len(p.derived) < maxDerived {
		if p.derived == nil {
			p.derived = map[optKey]*Pool{}
		}
		p.derived[k] = &h
	}
	return &h
}
