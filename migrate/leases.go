package migrate

import (
	"bytes"
	"encoding/csv"
	"encoding/hex"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/leased/leased/lease"
)

// Found is one active lease read from another server's lease file.
type Found struct {
	// Where is the source location, "FILE:LINE".
	Where string
	// Lease is the binding as a leased record in StateBound; Pool, Section
	// and Seq are left for the importer (it knows the configuration and
	// the store).
	Lease lease.Lease
}

// Leases is what a lease file holds that is still in force.
type Leases struct {
	Found []Found
	// Skipped are rows that are not imported (expired, released,
	// declined, malformed), with the reason.
	Skipped []Item
}

// ReadKeaCSV reads a Kea memfile lease file, DHCPv4 or DHCPv6 (told apart
// by the header line, which names the columns). Kea appends a row per
// change, so the last row of an address is its state; only rows in state
// 0 (assigned) whose expire is after now are kept.
func ReadKeaCSV(file string, src []byte, now time.Time) (*Leases, error) {
	rd := csv.NewReader(bytes.NewReader(src))
	rd.FieldsPerRecord = -1
	rows, err := rd.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("migrate: %s: %w", file, err)
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("migrate: %s: empty (no header line)", file)
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	_, v6 := col["duid"]
	need := []string{"address", "valid_lifetime", "expire", "state"}
	if v6 {
		need = append(need, "duid", "iaid", "lease_type", "prefix_len", "pref_lifetime")
	} else {
		need = append(need, "hwaddr", "client_id")
	}
	for _, n := range need {
		if _, ok := col[n]; !ok {
			return nil, fmt.Errorf("migrate: %s: the header has no %q column; not a Kea memfile lease file", file, n)
		}
	}
	out := &Leases{}
	rep := report{file: file}
	last := map[netip.Addr]int{} // address → index in rows
	var order []netip.Addr
	for i := 1; i < len(rows); i++ {
		r := rows[i]
		if len(r) < len(rows[0]) {
			rep.add(i+1, "row has %d columns, the header %d; skipped", len(r), len(rows[0]))
			continue
		}
		a, err := netip.ParseAddr(r[col["address"]])
		if err != nil || a.Is6() != v6 {
			rep.add(i+1, "address %q; skipped", r[col["address"]])
			continue
		}
		if _, seen := last[a]; !seen {
			order = append(order, a)
		}
		last[a] = i
	}
	for _, a := range order {
		i := last[a]
		r := rows[i]
		line := i + 1
		get := func(n string) string { return r[col[n]] }
		valid, err1 := strconv.ParseInt(get("valid_lifetime"), 10, 64)
		expire, err2 := strconv.ParseInt(get("expire"), 10, 64)
		if err1 != nil || err2 != nil {
			rep.add(line, "%s: valid_lifetime/expire not numbers; skipped", a)
			continue
		}
		switch st := get("state"); st {
		case "0":
		case "1":
			rep.add(line, "%s: declined in Kea; not imported", a)
			continue
		default:
			rep.add(line, "%s: state %s (expired or released); not imported", a, st)
			continue
		}
		end := time.Unix(expire, 0).UTC()
		if !end.After(now) {
			rep.add(line, "%s: expired at %s; not imported", a, end.Format(time.RFC3339))
			continue
		}
		start := end.Add(-time.Duration(valid) * time.Second)
		if valid == 0xffffffff {
			start = now
		}
		l := lease.Lease{Addr: a, State: lease.StateBound, Start: start, Expiry: end, Section: -1}
		if h, ok := col["hostname"]; ok {
			l.Hostname = strings.TrimSuffix(r[h], ".")
		}
		if v6 {
			duid, err := hexBytes(get("duid"))
			iaid, err2 := strconv.ParseUint(get("iaid"), 10, 32)
			plen, err3 := strconv.Atoi(get("prefix_len"))
			pref, err4 := strconv.ParseInt(get("pref_lifetime"), 10, 64)
			if err != nil || len(duid) == 0 || err2 != nil || err3 != nil || err4 != nil {
				rep.add(line, "%s: malformed duid, iaid, prefix_len or pref_lifetime; skipped", a)
				continue
			}
			switch get("lease_type") {
			case "0":
			case "2":
				if plen < 1 || plen > 128 {
					rep.add(line, "%s: prefix_len %d; skipped", a, plen)
					continue
				}
				l.PrefixLen = uint8(plen)
			default:
				rep.add(line, "%s: lease_type %s (temporary address): leased serves no IA_TA; not imported", a, get("lease_type"))
				continue
			}
			l.ClientID, l.IAID = duid, uint32(iaid)
			l.Preferred = start.Add(time.Duration(pref) * time.Second)
			l.T1, l.T2 = start.Add(time.Duration(pref)*time.Second/2), start.Add(time.Duration(pref)*time.Second*4/5)
			if h, ok := col["hwaddr"]; ok {
				if hw, err := hexBytes(r[h]); err == nil && len(hw) > 0 {
					l.HWAddr = hw
					if t, ok := col["hwtype"]; ok {
						if v, err := strconv.Atoi(r[t]); err == nil && v <= 0xff {
							l.HType = uint8(v)
						}
					}
				}
			}
		} else {
			hw, err := hexBytes(get("hwaddr"))
			cid, err2 := hexBytes(get("client_id"))
			if err != nil || err2 != nil || (len(hw) == 0 && len(cid) == 0) {
				rep.add(line, "%s: no usable hwaddr or client_id; skipped", a)
				continue
			}
			l.HType, l.HWAddr = 1, hw
			l.ClientID = clientKey(cid, hw)
			l.T1, l.T2 = start.Add(time.Duration(valid)*time.Second/2), start.Add(time.Duration(valid)*time.Second*7/8)
		}
		out.Found = append(out.Found, Found{Where: fmt.Sprintf("%s:%d", file, line), Lease: l})
	}
	sortItems(rep.items)
	out.Skipped = rep.items
	return out, nil
}

// clientKey is how leased identifies a DHCPv4 client: option 61 when the
// client sent one, else the hardware type (1, Ethernet) and chaddr.
func clientKey(cid, hw []byte) []byte {
	if len(cid) > 0 {
		return cid
	}
	return append([]byte{1}, hw...)
}

func hexBytes(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	parts := strings.Split(s, ":")
	for i, p := range parts {
		if len(p) == 1 {
			parts[i] = "0" + p
		}
	}
	return hex.DecodeString(strings.Join(parts, ""))
}

// ReadDhcpdLeases reads an ISC dhcpd.leases file (DHCPv4 "lease A { ... }"
// entries; dhcpd appends, so the last entry of an address is its state).
// Only entries in "binding state active" whose ends is after now (or
// "never") are kept. DHCPv6 entries of a dhcpd -6 lease file (ia-na
// addresses, ia-pd prefixes) are read the same way (leases6.go); ia-ta
// entries are reported.
func ReadDhcpdLeases(file string, src []byte, now time.Time) (*Leases, error) {
	toks, err := tokenize(src)
	if err != nil {
		return nil, fmt.Errorf("migrate: %s: %w", file, err)
	}
	pos := 0
	stmts, err := parseStmts(toks, &pos, false)
	if err != nil {
		return nil, fmt.Errorf("migrate: %s: %w", file, err)
	}
	out := &Leases{}
	rep := report{file: file}
	last := map[netip.Addr]*dstmt{}
	var order []netip.Addr
	r6 := &dhcpd6Reader{file: file, rep: &rep, last: map[netip.Prefix]dhcpd6Entry{}}
	for _, s := range stmts {
		switch s.word(0) {
		case "lease":
			a, err := netip.ParseAddr(s.word(1))
			if err != nil || !a.Is4() || !s.open {
				rep.add(s.line, "%s: not a lease entry; skipped", s.text())
				continue
			}
			if _, seen := last[a]; !seen {
				order = append(order, a)
			}
			last[a] = s
		case "ia-na", "ia-pd":
			r6.add(s)
		case "ia-ta":
			rep.add(s.line, "ia-ta entry: leased serves no temporary addresses (IA_TA); not imported")
		case "authoring-byte-order":
			// the byte order of the IAIDs in ia-na/ia-pd (dhcpd writes host order)
			r6.bigEndian = s.word(1) == "big-endian"
		case "server-duid", "failover", "host", "group", "subclass":
		default:
			rep.add(s.line, "%s: not a lease; ignored", s.text())
		}
	}
	for _, a := range order {
		s := last[a]
		l := lease.Lease{Addr: a, State: lease.StateBound, Section: -1, HType: 1}
		var state string
		var ends, starts time.Time
		never := false
		var uid []byte
		bad := ""
		for _, st := range s.block {
			switch st.word(0) {
			case "starts":
				starts, _ = dhcpdTime(st)
			case "ends":
				if st.word(1) == "never" {
					never = true
				} else if t, ok := dhcpdTime(st); ok {
					ends = t
				} else {
					bad = "ends"
				}
			case "binding":
				if st.word(1) == "state" {
					state = st.word(2)
				}
			case "hardware":
				if st.word(1) == "ethernet" {
					hw, err := hexBytes(st.word(2))
					if err != nil {
						bad = "hardware ethernet"
					}
					l.HWAddr = hw
				}
			case "uid":
				if len(st.words) > 1 {
					uid = dhcpdBytes(st.words[1])
				}
			case "client-hostname":
				l.Hostname = st.word(1)
			}
		}
		switch {
		case bad != "":
			rep.add(s.line, "lease %s: malformed %s; skipped", a, bad)
			continue
		case state != "active":
			rep.add(s.line, "lease %s: binding state %s; not imported", a, nameOrDash(state))
			continue
		case !never && !ends.After(now):
			rep.add(s.line, "lease %s: ended at %s; not imported", a, ends.Format(time.RFC3339))
			continue
		case len(l.HWAddr) == 0 && len(uid) == 0:
			rep.add(s.line, "lease %s: neither hardware ethernet nor uid; skipped", a)
			continue
		}
		if never {
			ends = now.Add(100 * 365 * 24 * time.Hour)
		}
		if starts.IsZero() || starts.After(ends) {
			starts = now
		}
		l.Start, l.Expiry = starts, ends
		d := ends.Sub(starts)
		l.T1, l.T2 = starts.Add(d/2), starts.Add(d*7/8)
		l.ClientID = clientKey(uid, l.HWAddr)
		out.Found = append(out.Found, Found{Where: fmt.Sprintf("%s:%d", file, s.line), Lease: l})
	}
	r6.leases(now, out)
	sortItems(rep.items)
	out.Skipped = rep.items
	return out, nil
}

func nameOrDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// dhcpdTime parses "W YYYY/MM/DD HH:MM:SS" (UTC) or "epoch N".
func dhcpdTime(st *dstmt) (time.Time, bool) {
	if st.word(1) == "epoch" {
		n, err := strconv.ParseInt(st.word(2), 10, 64)
		return time.Unix(n, 0).UTC(), err == nil
	}
	t, err := time.Parse("2006/01/02 15:04:05", st.word(2)+" "+st.word(3))
	return t, err == nil
}

// dhcpdBytes decodes a uid: a quoted string with octal escapes, or
// colon-separated hex.
func dhcpdBytes(t dtok) []byte {
	if !t.quoted {
		b, _ := hexBytes(t.s)
		return b
	}
	return []byte(t.raw)
}
