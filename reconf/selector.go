package reconf

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/leased/leased/lease"
)

// Selector chooses the leases a campaign covers. Zero fields match
// everything, so the zero Selector is every bound lease of the server.
//
//	all                Selector{}
//	pool               Selector{Pool: "office"}
//	section            Selector{Pool: "office", Section: &one}
//	section + range    Selector{Pool: "office", Section: &one, From: a, To: b}
//	range              Selector{From: a, To: b}            (optionally with Pool)
//	one client         Selector{Client: "10.0.0.7" | "aa:bb:cc:dd:ee:ff" | "01aabbccddeeff"}
type Selector struct {
	Pool    string `json:"pool,omitempty"`
	Section *int   `json:"section,omitempty"` // requires Pool: section numbers are per pool
	// From..To is an inclusive address range; both set or both unset.
	From netip.Addr `json:"from,omitzero"`
	To   netip.Addr `json:"to,omitzero"`
	// Client is one client by leased address, hardware address (any of
	// aa:bb:cc:dd:ee:ff, aa-bb-..., aabb.ccdd.eeff) or client identifier
	// in hex (option 61, e.g. 01aabbccddeeff).
	Client string `json:"client,omitempty"`
}

func (s Selector) String() string {
	var parts []string
	if s.Pool != "" {
		parts = append(parts, "pool "+s.Pool)
	}
	if s.Section != nil {
		parts = append(parts, "section "+strconv.Itoa(*s.Section))
	}
	if s.From.IsValid() {
		parts = append(parts, "range "+s.From.String()+"-"+s.To.String())
	}
	if s.Client != "" {
		parts = append(parts, "client "+s.Client)
	}
	if len(parts) == 0 {
		return "all"
	}
	return strings.Join(parts, " ")
}

func (s *Selector) equal(t *Selector) bool {
	return s.Pool == t.Pool && eqPtr(s.Section, t.Section) && s.From == t.From && s.To == t.To &&
		s.Client == t.Client
}

// matcher is a compiled Selector.
type matcher struct {
	s        Selector
	section  int
	from, to netip.Addr
	clientIP netip.Addr
	clientB  []byte // hardware address or client id bytes
}

func (s Selector) compile() (*matcher, error) {
	m := &matcher{s: s, section: -1}
	if s.Section != nil {
		if s.Pool == "" {
			return nil, fmt.Errorf("%w: a section needs a pool (section numbers are per pool)", ErrSelector)
		}
		if *s.Section < 0 {
			return nil, fmt.Errorf("%w: section %d", ErrSelector, *s.Section)
		}
		m.section = *s.Section
	}
	if s.From.IsValid() != s.To.IsValid() {
		return nil, fmt.Errorf("%w: a range needs both ends", ErrSelector)
	}
	if s.From.IsValid() {
		if !s.From.Is4() || !s.To.Is4() {
			return nil, fmt.Errorf("%w: range %v-%v is not IPv4", ErrSelector, s.From, s.To)
		}
		if s.To.Less(s.From) {
			return nil, fmt.Errorf("%w: range %v-%v ends before it starts", ErrSelector, s.From, s.To)
		}
		m.from, m.to = s.From, s.To
	}
	if s.Client != "" {
		if s.Section != nil || s.From.IsValid() {
			return nil, fmt.Errorf("%w: a client selector cannot be combined with a section or range", ErrSelector)
		}
		if a, err := netip.ParseAddr(s.Client); err == nil {
			m.clientIP = a.Unmap()
		} else {
			h := strings.ToLower(strings.NewReplacer(":", "", "-", "", ".", "").Replace(s.Client))
			b, err := hex.DecodeString(h)
			if err != nil || len(b) == 0 {
				return nil, fmt.Errorf("%w: client %q is neither an address, a MAC nor a hex client id", ErrSelector, s.Client)
			}
			m.clientB = b
		}
	}
	return m, nil
}

// match reports whether l is a bound lease the selector covers.
func (m *matcher) match(l *lease.Lease, now time.Time) bool {
	if l.State != lease.StateBound || !l.Expiry.After(now) {
		return false
	}
	if m.s.Pool != "" && l.Pool != m.s.Pool {
		return false
	}
	if m.section >= 0 && l.Section != m.section {
		return false
	}
	if m.from.IsValid() && (l.Addr.Less(m.from) || m.to.Less(l.Addr)) {
		return false
	}
	if m.clientIP.IsValid() {
		return l.Addr == m.clientIP
	}
	if m.clientB != nil {
		return bytes.Equal(l.HWAddr, m.clientB) || bytes.Equal(l.ClientID, m.clientB)
	}
	return true
}
