package server

import "github.com/leased/leased/dhcpv4"

// Header field offsets (RFC 2131 §2, figure 1).
const (
	offSName   = 44
	lenSName   = 64
	offFile    = 108
	lenFile    = 128
	offOptions = dhcpv4.FixedLen
	// udpIPHeaders: option 57 counts the IP and UDP headers (RFC 2132
	// §9.10 "the maximum length DHCP message": ISC and Kea read it so).
	udpIPHeaders = 28
	// minMaxMessage is the size every client must accept (RFC 2131 §2:
	// an options field of at least 312 octets, 576 bytes with headers).
	minMaxMessage = 576
)

// replyLimit is the largest DHCP message (UDP payload) the client
// accepts: its option 57, never below 576 (RFC 2132 §9.10: minimum legal
// value 576), minus the IP and UDP headers.
func replyLimit(maxSize uint16) int {
	m := int(maxSize)
	if m < minMaxMessage {
		m = minMaxMessage
	}
	return m - udpIPHeaders
}

// overload moves options of the encoded reply pkt that do not fit limit
// into the file and then the sname field, announcing it with option 52
// (RFC 2131 §4.1, RFC 2132 §9.3). Options keep their order (the fields are
// read options, file, sname: RFC 3396 §7 concatenation still works); 53
// and 54 stay first and option 82 last in the options field (RFC 3046
// §2.2). useFile/useSName say whether the fields are free (no boot file or
// server name to send). pkt is rewritten in place; ok is false, and pkt
// unchanged, when it fits already or cannot be made to fit.
func overload(pkt []byte, limit int, useFile, useSName bool) ([]byte, bool) {
	if len(pkt) <= limit || (!useFile && !useSName) || len(pkt) > 1500 {
		return pkt, false
	}
	var scratch [1500]byte
	opts := scratch[:copy(scratch[:], pkt[offOptions:])]
	// Index the TLVs (the writer produced them: well formed).
	type span struct{ at, n int }
	var spans [128]span
	ns, relay := 0, span{-1, 0}
	for i := 0; i < len(opts); {
		c := opts[i]
		if c == byte(dhcpv4.OptEnd) {
			break
		}
		if c == byte(dhcpv4.OptPad) {
			i++
			continue
		}
		if i+1 >= len(opts) || ns == len(spans) {
			return pkt, false
		}
		s := span{i, 2 + int(opts[i+1])}
		if c == byte(dhcpv4.OptRelayAgentInfo) {
			relay = s
		} else {
			spans[ns] = s
			ns++
		}
		i += s.n
	}
	mainBudget := limit - offOptions - 3 - 1 // option 52, End
	if relay.at >= 0 {
		mainBudget -= relay.n
	}
	fileBudget, snameBudget := 0, 0
	if useFile {
		fileBudget = lenFile - 1
	}
	if useSName {
		snameBudget = lenSName - 1
	}
	// Sequential fill: options field, then file, then sname.
	field := 0 // 0 options, 1 file, 2 sname
	used := [3]int{}
	where := [128]int8{}
	budget := [3]int{mainBudget, fileBudget, snameBudget}
	for k := range ns {
		n := spans[k].n
		c := opts[spans[k].at]
		if c == byte(dhcpv4.OptMessageType) || c == byte(dhcpv4.OptServerID) {
			if field != 0 || used[0]+n > budget[0] {
				return pkt, false
			}
		}
		for field < 3 && used[field]+n > budget[field] {
			field++
		}
		if field == 3 {
			return pkt, false
		}
		where[k] = int8(field)
		used[field] += n
	}
	if used[1] == 0 && used[2] == 0 {
		return pkt, false
	}
	ovl := byte(0)
	if used[1] > 0 {
		ovl |= dhcpv4.OverloadFile
		clear(pkt[offFile : offFile+lenFile])
	}
	if used[2] > 0 {
		ovl |= dhcpv4.OverloadSName
		clear(pkt[offSName : offSName+lenSName])
	}
	out := pkt[:offOptions]
	out = append(out, byte(dhcpv4.OptOverload), 1, ovl)
	fpos, spos := offFile, offSName
	for k := range ns {
		v := opts[spans[k].at : spans[k].at+spans[k].n]
		switch where[k] {
		case 0:
			out = append(out, v...)
		case 1:
			fpos += copy(pkt[fpos:], v)
		case 2:
			spos += copy(pkt[spos:], v)
		}
	}
	if used[1] > 0 {
		pkt[fpos] = byte(dhcpv4.OptEnd)
	}
	if used[2] > 0 {
		pkt[spos] = byte(dhcpv4.OptEnd)
	}
	if relay.at >= 0 {
		out = append(out, opts[relay.at:relay.at+relay.n]...)
	}
	out = append(out, byte(dhcpv4.OptEnd))
	for len(out) < dhcpv4.MinPacketLen {
		out = append(out, 0)
	}
	return out, true
}
