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
//	DHCPv6 pool        Selector{Pool: "office6"}           (IA_NA and IA_PD bindings)
//	prefix pool        Selector{PrefixPool: "office6"}     (IA_PD bindings only)
//	v6 range           Selector{From: fd77::1:0, To: fd77::1:ff}
//	one v6 client      Selector{Client: "000300010200000000aa" (DUID hex) | "fd77::1:5"}
//	one family         Selector{Family: 6}                 (with any of the above)
//
// A selector resolves to a family by the leases it matches: pool names
// are unique across DHCPv4 and DHCPv6 (config), a range has one family, a
// DUID only matches DHCPv6 bindings. Selectors that match both (all,
// Family 0; a MAC that has leases of both) make one campaign with clients
// of both families; each pool keeps its own pace and schedule.
type Selector struct {
	Pool    string `json:"pool,omitempty"`
	Section *int   `json:"section,omitempty"` // requires Pool: section numbers are per pool
	// PrefixPool selects the IA_PD (delegated prefix) bindings of one
	// DHCPv6 pool; cannot be combined with a different Pool.
	PrefixPool string `json:"prefix_pool,omitempty"`
	// From..To is an inclusive address range; both set or both unset, of
	// one family. A delegated prefix is in the range when its first
	// address is.
	From netip.Addr `json:"from,omitzero"`
	To   netip.Addr `json:"to,omitzero"`
	// Client is one client by leased address, hardware address (any of
	// aa:bb:cc:dd:ee:ff, aa-bb-..., aabb.ccdd.eeff) or client identifier
	// in hex: option 61 for DHCPv4 (e.g. 01aabbccddeeff), the DUID for
	// DHCPv6 (e.g. 00:03:00:01:02:00:00:00:00:aa or 000300010200000000aa).
	Client string `json:"client,omitempty"`
	// Family restricts the campaign to DHCPv4 (4) or DHCPv6 (6) leases;
	// 0 takes both.
	Family int `json:"family,omitempty"`
}

func (s Selector) String() string {
	var parts []string
	if s.Pool != "" {
		parts = append(parts, "pool "+s.Pool)
	}
	if s.Section != nil {
		parts = append(parts, "section "+strconv.Itoa(*s.Section))
	}
	if s.PrefixPool != "" {
		parts = append(parts, "prefix-pool "+s.PrefixPool)
	}
	if s.From.IsValid() {
		parts = append(parts, "range "+s.From.String()+"-"+s.To.String())
	}
	if s.Client != "" {
		parts = append(parts, "client "+s.Client)
	}
	if s.Family != 0 {
		parts = append(parts, "family "+strconv.Itoa(s.Family))
	}
	if len(parts) == 0 {
		return "all"
	}
	return strings.Join(parts, " ")
}

func (s *Selector) equal(t *Selector) bool {
	return s.Pool == t.Pool && eqPtr(s.Section, t.Section) && s.From == t.From && s.To == t.To &&
		s.Client == t.Client && s.PrefixPool == t.PrefixPool && s.Family == t.Family
}

// matcher is a compiled Selector.
type matcher struct {
	s        Selector
	section  int
	from, to netip.Addr
	clientIP netip.Addr
	clientB  []byte // hardware address or client id bytes
	pool     string // Pool or PrefixPool
	pdOnly   bool
}

func (s Selector) compile() (*matcher, error) {
	m := &matcher{s: s, section: -1, pool: s.Pool}
	if s.Family != 0 && s.Family != 4 && s.Family != 6 {
		return nil, fmt.Errorf("%w: family %d: want 4, 6 or 0 (both)", ErrSelector, s.Family)
	}
	if s.PrefixPool != "" {
		if s.Pool != "" && s.Pool != s.PrefixPool {
			return nil, fmt.Errorf("%w: pool %q and prefix pool %q differ", ErrSelector, s.Pool, s.PrefixPool)
		}
		if s.Family == 4 {
			return nil, fmt.Errorf("%w: a prefix pool is DHCPv6 (family 4 given)", ErrSelector)
		}
		m.pool, m.pdOnly = s.PrefixPool, true
	}
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
		from, to := s.From.Unmap(), s.To.Unmap()
		if from.Is4() != to.Is4() || from.Zone() != "" || to.Zone() != "" {
			return nil, fmt.Errorf("%w: range %v-%v mixes families or has a zone", ErrSelector, s.From, s.To)
		}
		if s.Family == 4 && !from.Is4() || s.Family == 6 && from.Is4() {
			return nil, fmt.Errorf("%w: range %v-%v is not of family %d", ErrSelector, s.From, s.To, s.Family)
		}
		if s.To.Less(s.From) {
			return nil, fmt.Errorf("%w: range %v-%v ends before it starts", ErrSelector, s.From, s.To)
		}
		m.from, m.to = from, to
	}
	if s.Client != "" {
		if s.Section != nil || s.From.IsValid() || s.PrefixPool != "" {
			return nil, fmt.Errorf("%w: a client selector cannot be combined with a section, prefix pool or range", ErrSelector)
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
	v6 := l.IsV6()
	if m.s.Family == 4 && v6 || m.s.Family == 6 && !v6 || m.pdOnly && (!v6 || l.PrefixLen == 0) {
		return false
	}
	if m.pool != "" && l.Pool != m.pool {
		return false
	}
	if m.section >= 0 && l.Section != m.section {
		return false
	}
	if m.from.IsValid() {
		a := l.Addr.Unmap()
		if a.Is4() != m.from.Is4() || a.Less(m.from) || m.to.Less(a) {
			return false
		}
	}
	if m.clientIP.IsValid() {
		if v6 && l.PrefixLen > 0 {
			return l.Prefix().Contains(m.clientIP)
		}
		return l.Addr.Unmap() == m.clientIP
	}
	if m.clientB != nil {
		return bytes.Equal(l.HWAddr, m.clientB) || bytes.Equal(l.ClientID, m.clientB)
	}
	return true
}
