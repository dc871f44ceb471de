package lease

import (
	"bytes"
	"fmt"
	"net/netip"
	"regexp"
	"time"
)

// Class is a client class (Kea's client-classes): a match rule on what the
// client sends and what membership gives. Classes are evaluated in
// configuration order; where several member classes set the same thing
// (an option, the lease time, a boot field) the first one wins, so a
// request that matches several classes always gets the same answer.
type Class struct {
	Name  string
	Match Match
	// Options are sent to members instead of the pool's (and the global)
	// options with the same code. A reservation's options beat them.
	Options []RawOption
	// LeaseTime overrides the pool's lease time for members (0: keep).
	LeaseTime time.Duration
	// Boot sets the BOOTP header boot fields for members.
	Boot Boot
}

// Boot are the boot fields of the BOOTP header (RFC 951, RFC 2131 §2):
// siaddr (next server), sname and file. Unset fields inherit from the
// level below (pool ← class ← reservation).
type Boot struct {
	NextServer netip.Addr // siaddr; invalid: unset
	ServerName []byte     // sname, at most 63 bytes; nil: unset
	File       []byte     // file, at most 127 bytes; nil: unset
}

// BootFor resolves the boot fields of a reply field by field: the
// reservation's, else the first member class's that sets it
// (configuration order), else the pool's.
func (r *Reply) BootFor() Boot {
	var b Boot
	fill := func(s *Boot) {
		if !b.NextServer.IsValid() && s.NextServer.IsValid() {
			b.NextServer = s.NextServer
		}
		if b.ServerName == nil {
			b.ServerName = s.ServerName
		}
		if b.File == nil {
			b.File = s.File
		}
	}
	if r.Reservation != nil {
		fill(&r.Reservation.Boot)
	}
	if r.Classes&^classBuiltins != 0 {
		for i := range r.ClassList {
			if r.Classes&(1<<i) != 0 {
				fill(&r.ClassList[i].Boot)
			}
		}
	}
	if r.Pool != nil {
		fill(&r.Pool.Boot)
	}
	return b
}

// Built-in class bits: a client is "known" in a pool when it has a
// reservation there (Kea's KNOWN/UNKNOWN). Configured classes take bits
// 0 to MaxClasses-1.
const (
	MaxClasses           = 62
	ClassKnown    uint64 = 1 << 62
	ClassUnknown  uint64 = 1 << 63
	classBuiltins        = ClassKnown | ClassUnknown
)

// StrOp is how a StrMatch compares.
type StrOp uint8

const (
	OpNone      StrOp = iota // the rule does not test this field
	OpExact                  // equal bytes
	OpPrefix                 // starts with Value
	OpSubstring              // contains Value
	OpRegex                  // Re matches (compiled at configuration load)
)

// StrMatch tests one byte-string field of a request.
type StrMatch struct {
	Op    StrOp
	Value []byte
	Re    *regexp.Regexp // OpRegex only
}

func (m *StrMatch) match(v []byte, present bool) bool {
	if !present {
		return false
	}
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

// Match is a class's rule: every field that is set must hold (AND).
type Match struct {
	VendorClass StrMatch // option 60
	// UserClass (option 77) holds when the whole option value or one of
	// its RFC 3004 user class data instances matches (iPXE sends "iPXE"
	// as the bare value, dhcpcd -u sends RFC 3004 instances).
	UserClass    StrMatch
	ClientID     StrMatch // option 61
	CircuitID    StrMatch // option 82 sub-option 1 (RFC 3046)
	RemoteID     StrMatch // option 82 sub-option 2 (RFC 3046)
	SubscriberID StrMatch // option 82 sub-option 6 (RFC 3993)
	// Arch holds when one of the client's option 93 architecture types
	// (RFC 4578 §2.1) is listed.
	Arch []uint16
	// HWAddr with HWBits: the first HWBits bits of chaddr equal those of
	// HWAddr (HWBits 0 with HWAddr nil: not tested).
	HWAddr []byte
	HWBits int
	// Relays: giaddr is inside one of these (not tested when empty).
	Relays []netip.Prefix
	// Known: 1 the client must have a reservation in the pool, -1 it must
	// not, 0 not tested.
	Known int8
	// Never: the class has no rule; only reservations put clients in it.
	Never bool
}

// matches reports whether req satisfies m apart from Known.
func (m *Match) matches(req *Request) bool {
	if m.Never {
		return false
	}
	if m.VendorClass.Op != OpNone && !m.VendorClass.match(req.VendorClass, req.VendorClass != nil) {
		return false
	}
	if m.UserClass.Op != OpNone && !matchUserClass(&m.UserClass, req.UserClass) {
		return false
	}
	if m.ClientID.Op != OpNone && !m.ClientID.match(req.ClientID, len(req.ClientID) > 0) {
		return false
	}
	if m.CircuitID.Op != OpNone || m.RemoteID.Op != OpNone || m.SubscriberID.Op != OpNone {
		if m.CircuitID.Op != OpNone && !m.CircuitID.match(relaySub(req.RelayInfo, 1)) {
			return false
		}
		if m.RemoteID.Op != OpNone && !m.RemoteID.match(relaySub(req.RelayInfo, 2)) {
			return false
		}
		if m.SubscriberID.Op != OpNone && !m.SubscriberID.match(relaySub(req.RelayInfo, 6)) {
			return false
		}
	}
	if len(m.Arch) > 0 && !matchArch(m.Arch, req.ClientArch) {
		return false
	}
	if m.HWBits > 0 && !prefixBitsEqual(req.HWAddr, m.HWAddr, m.HWBits) {
		return false
	}
	if len(m.Relays) > 0 {
		if !isSet(req.GIAddr) {
			return false
		}
		in := false
		for _, p := range m.Relays {
			if p.Contains(req.GIAddr) {
				in = true
				break
			}
		}
		if !in {
			return false
		}
	}
	return true
}

func matchUserClass(m *StrMatch, v []byte) bool {
	if v == nil {
		return false
	}
	if m.match(v, true) {
		return true
	}
	// RFC 3004 §4: a sequence of (length, data) instances.
	for rest := v; len(rest) > 0; {
		n := int(rest[0])
		if n == 0 || 1+n > len(rest) {
			return false
		}
		if m.match(rest[1:1+n], true) {
			return true
		}
		rest = rest[1+n:]
	}
	return false
}

// matchArch: option 93 is a list of 16-bit architecture types (RFC 4578
// §2.1).
func matchArch(want []uint16, v []byte) bool {
	for i := 0; i+1 < len(v); i += 2 {
		a := uint16(v[i])<<8 | uint16(v[i+1])
		for _, w := range want {
			if a == w {
				return true
			}
		}
	}
	return false
}

func prefixBitsEqual(hw, want []byte, bits int) bool {
	if len(hw)*8 < bits || len(want)*8 < bits {
		return false
	}
	full := bits / 8
	if !bytes.Equal(hw[:full], want[:full]) {
		return false
	}
	if r := bits % 8; r != 0 {
		mask := byte(0xff << (8 - r))
		return hw[full]&mask == want[full]&mask
	}
	return true
}

// relaySub returns sub-option code of option 82 (RFC 3046 §2.0: code,
// length, value).
func relaySub(o82 []byte, code byte) ([]byte, bool) {
	for len(o82) >= 2 {
		c, n := o82[0], int(o82[1])
		if len(o82) < 2+n {
			return nil, false
		}
		if c == code {
			return o82[2 : 2+n], true
		}
		o82 = o82[2+n:]
	}
	return nil, false
}

// classes is the compiled class list.
type classes struct {
	list     []Class
	needKnow uint64 // classes whose rule requires a reservation
	needUnk  uint64 // classes whose rule requires none
	bits     map[string]uint64
}

func compileClasses(cs []Class) (classes, error) {
	c := classes{list: cs, bits: map[string]uint64{"known": ClassKnown, "unknown": ClassUnknown}}
	if len(cs) > MaxClasses {
		return c, fmt.Errorf("lease: %d client classes; at most %d", len(cs), MaxClasses)
	}
	for i := range cs {
		if _, dup := c.bits[cs[i].Name]; dup {
			return c, fmt.Errorf("lease: client class %q defined twice (or a built-in name)", cs[i].Name)
		}
		b := uint64(1) << i
		c.bits[cs[i].Name] = b
		switch cs[i].Match.Known {
		case 1:
			c.needKnow |= b
		case -1:
			c.needUnk |= b
		}
	}
	return c, nil
}

// mask turns class names into a bit mask.
func (c *classes) mask(names []string) (uint64, error) {
	var m uint64
	for _, n := range names {
		b, ok := c.bits[n]
		if !ok {
			return 0, fmt.Errorf("lease: unknown client class %q", n)
		}
		m |= b
	}
	return m, nil
}

// static is the set of classes req belongs to before the pool is known:
// every rule without Known that holds, plus those with Known (settled per
// pool by forPool).
func (c *classes) static(req *Request) uint64 {
	var m uint64
	for i := range c.list {
		if c.list[i].Match.matches(req) {
			m |= 1 << i
		}
	}
	return m
}

// forPool is the client's classes in pool p: static with the known rules
// settled, the built-in known/unknown bit and the reservation's classes.
func (c *classes) forPool(static uint64, p *pool, ri int) uint64 {
	if ri >= 0 {
		return (static &^ c.needUnk) | ClassKnown | p.resClasses[ri]
	}
	return (static &^ c.needKnow) | ClassUnknown
}

// admits reports whether a client with class set m may get addresses of
// section s (section allow/deny).
func (s *section) admits(m uint64) bool {
	return (s.allow == 0 || m&s.allow != 0) && m&s.deny == 0
}

// sectionAdmits: the section with configured index idx of p (-1: the
// pool without sections) admits class set m.
func (p *pool) sectionAdmits(idx int32, m uint64) bool {
	if idx < 0 {
		return true
	}
	for _, s := range p.sections {
		if s.index == int(idx) {
			return s.admits(m)
		}
	}
	return true
}

// anySectionAdmits: some section of p admits class set m.
func (p *pool) anySectionAdmits(m uint64) bool {
	for _, s := range p.sections {
		if s.admits(m) {
			return true
		}
	}
	return false
}

// admits reports whether a client with class set m may be served by p
// (pool allow/deny).
func (p *pool) admits(m uint64) bool {
	if p.allow != 0 && m&p.allow == 0 {
		return false
	}
	return m&p.deny == 0
}
