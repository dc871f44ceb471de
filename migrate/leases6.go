package migrate

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strconv"
	"time"

	"github.com/leased/leased/lease"
)

// dhcpd6.leases: DHCPv6 entries of an ISC dhcpd -6 lease file.
//
//	ia-na "<IAID (4 bytes, authoring byte order)><DUID>" {
//	  cltt 5 2026/12/04 13:10:37;
//	  iaaddr fd99::56 { binding state active; preferred-life 3000; max-life 86400; ends 6 2026/12/05 13:10:37; }
//	}
//
// ia-pd is the same with "iaprefix P/L". dhcpd appends, so the last entry
// of an address or prefix is its state.

type dhcpd6Entry struct {
	ia   *dstmt // the ia-na / ia-pd
	addr *dstmt // its iaaddr / iaprefix
}

type dhcpd6Reader struct {
	file      string
	rep       *report
	bigEndian bool
	last      map[netip.Prefix]dhcpd6Entry
	order     []netip.Prefix
}

// add records the addresses or prefixes of one ia-na / ia-pd entry.
func (r *dhcpd6Reader) add(s *dstmt) {
	pd := s.word(0) == "ia-pd"
	if !s.open || len(s.words) < 2 || !s.words[1].quoted || len(s.words[1].raw) < 5 {
		r.rep.add(s.line, "%s: not an IA entry (\"IAID+DUID\" { ... }); skipped", s.text())
		return
	}
	n := 0
	for _, st := range s.block {
		if !st.open {
			continue
		}
		var p netip.Prefix
		var err error
		switch {
		case !pd && st.word(0) == "iaaddr":
			var a netip.Addr
			if a, err = netip.ParseAddr(st.word(1)); err == nil {
				p = netip.PrefixFrom(a, 128)
			}
		case pd && st.word(0) == "iaprefix":
			p, err = netip.ParsePrefix(st.word(1))
		default:
			r.rep.add(st.line, "%s in %s: not read", st.text(), s.word(0))
			continue
		}
		if err != nil || !p.Addr().Is6() || p.Masked() != p {
			r.rep.add(st.line, "%s: not an IPv6 address or prefix; skipped", st.text())
			continue
		}
		key := r.key(p, pd)
		if _, seen := r.last[key]; !seen {
			r.order = append(r.order, key)
		}
		r.last[key] = dhcpd6Entry{ia: s, addr: st}
		n++
	}
	if n == 0 {
		r.rep.add(s.line, "%s entry without an %s; skipped", s.word(0), map[bool]string{false: "iaaddr", true: "iaprefix"}[pd])
	}
}

// key tells addresses from delegated prefixes (a /128 could be either).
func (r *dhcpd6Reader) key(p netip.Prefix, pd bool) netip.Prefix {
	if pd {
		return p
	}
	return netip.PrefixFrom(p.Addr(), 0) // never a valid delegated prefix of a pool
}

// leases turns the last entry of every address and prefix into a lease.
func (r *dhcpd6Reader) leases(now time.Time, out *Leases) {
	for _, k := range r.order {
		e := r.last[k]
		id := []byte(e.ia.words[1].raw)
		iaid := binary.LittleEndian.Uint32(id[:4])
		if r.bigEndian {
			iaid = binary.BigEndian.Uint32(id[:4])
		}
		duid := id[4:]
		pd := e.ia.word(0) == "ia-pd"
		what := "address " + k.Addr().String()
		l := lease.Lease{Addr: k.Addr(), State: lease.StateBound, Section: -1, ClientID: duid, IAID: iaid}
		if pd {
			l.PrefixLen = uint8(k.Bits())
			what = "prefix " + k.String()
		}
		var cltt, ends time.Time
		never := false
		var state string
		pref, valid := int64(-1), int64(-1)
		bad := ""
		for _, st := range e.ia.block {
			if !st.open && st.word(0) == "cltt" {
				if t, ok := dhcpdTime(st); ok {
					cltt = t
				}
			}
		}
		for _, st := range e.addr.block {
			switch st.word(0) {
			case "binding":
				if st.word(1) == "state" {
					state = st.word(2)
				}
			case "preferred-life", "max-life":
				v, err := strconv.ParseInt(st.word(1), 10, 64)
				if err != nil || v < 0 {
					bad = st.word(0)
				} else if st.word(0) == "max-life" {
					valid = v
				} else {
					pref = v
				}
			case "ends":
				if st.word(1) == "never" {
					never = true
				} else if t, ok := dhcpdTime(st); ok {
					ends = t
				} else {
					bad = "ends"
				}
			}
		}
		line := e.addr.line
		switch {
		case bad != "":
			r.rep.add(line, "%s: malformed %s; skipped", what, bad)
			continue
		case state != "active":
			r.rep.add(line, "%s: binding state %s; not imported", what, nameOrDash(state))
			continue
		case !never && !ends.After(now):
			r.rep.add(line, "%s: ended at %s; not imported", what, ends.Format(time.RFC3339))
			continue
		case len(duid) == 0:
			r.rep.add(line, "%s: no DUID; skipped", what)
			continue
		}
		if never {
			ends = now.Add(100 * 365 * 24 * time.Hour)
		}
		start := cltt
		if valid >= 0 && !never {
			start = ends.Add(-time.Duration(valid) * time.Second)
		}
		if start.IsZero() || start.After(ends) {
			start = now
		}
		if pref < 0 || start.Add(time.Duration(pref)*time.Second).After(ends) {
			pref = int64(ends.Sub(start) / time.Second)
		}
		l.Start, l.Expiry = start, ends
		p := time.Duration(pref) * time.Second
		l.Preferred = start.Add(p)
		// dhcpd's default T1 and T2: 1/2 and 4/5 of the preferred lifetime.
		l.T1, l.T2 = start.Add(p/2), start.Add(p*4/5)
		out.Found = append(out.Found, Found{Where: fmt.Sprintf("%s:%d", r.file, line), Lease: l})
	}
}
