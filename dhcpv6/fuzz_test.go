package dhcpv6

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"
)

func addFixtureSeeds(f *testing.F) {
	for _, fx := range allFixtures {
		f.Add(mustHex(f, fx.hex))
	}
}

// touch calls every accessor and option parser on a decoded message; none
// may panic whatever the packet.
func touch(m *Message) {
	readTypical(m)
	_, _ = m.Auth()
	_, _, _ = m.AuthInfoOffset()
	_, _ = m.Preference()
	_, _ = m.ReconfigureMessage()
	_, _ = m.Unicast()
	_, _ = m.StatusCode()
	_, _ = m.SolMaxRT()
	_ = m.ClientID().Validate()
	_, _, _ = m.ClientID().LinkLayer()
	_, _, _ = m.ClientID().Enterprise()
	_, _ = m.ClientID().UUID()
	_ = m.ClientID().String()
	if f, ok := m.FQDN(); ok {
		_, _, _ = f.DomainName()
	}
	if v, ok := m.Option(OptDomainList); ok {
		_, _ = ParseDomainList(v)
	}
	if v, ok := m.Option(OptSIPServerDomains); ok {
		_, _ = ParseDomainList(v)
	}
	if a, ok := m.Auth(); ok {
		_, _, _ = a.ReconfigureKey()
	}
	dns := m.DNSServers()
	for i := range dns.Len() {
		_ = dns.At(i)
	}
	oro := m.ORO()
	for i := range oro.Len() {
		_ = oro.At(i)
	}
	for it := m.Options().Iter(); it.Next(); {
		_, _ = m.OptionOffset(it.Code())
		if st, ok := Options(it.Data()).StatusCode(); ok {
			_ = st.Message
		}
	}
}

// FuzzDecode: Decode never panics, and a packet that decodes re-encodes to
// exactly the same bytes (every layer, every option, unknown ones raw).
func FuzzDecode(f *testing.F) {
	addFixtureSeeds(f)
	var m, m2 Message
	f.Fuzz(func(t *testing.T, pkt []byte) {
		if err := m.Decode(pkt); err != nil {
			return
		}
		touch(&m)
		out, err := m.Encode(make([]byte, 0, len(pkt)))
		if err != nil {
			t.Fatalf("Encode of a decoded message: %v", err)
		}
		if !bytes.Equal(out, pkt) {
			t.Fatalf("re-encoding differs:\npacket  %x\nencoded %x", pkt, out)
		}
		if err := m2.Decode(out); err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if m2.Type != m.Type || m2.TransactionID != m.TransactionID || len(m2.Relays()) != len(m.Relays()) || m2.Offset() != m.Offset() {
			t.Fatalf("re-decoded header differs")
		}
	})
}

// FuzzRoundTrip: whatever the Writer accepts, Decode gives back.
func FuzzRoundTrip(f *testing.F) {
	f.Add(uint8(3), uint32(0x0badca), []byte(testClientDUID), uint32(7), uint32(3600), []byte("fd770000000000000000000000010010"),
		uint8(56), "campus.example", []byte{1, 2, 3}, uint8(2), []byte("eth1"))
	f.Add(uint8(10), uint32(0), []byte{0, 3, 0, 1, 2, 0, 0, 0, 0, 0xfe}, uint32(0), uint32(0), []byte{}, uint8(0), "", []byte{}, uint8(0), []byte{})
	var m Message
	f.Fuzz(func(t *testing.T, typ uint8, xid uint32, duid []byte, iaid, t1 uint32, addr []byte, plen uint8, domain string, unknown []byte, relays uint8, ifid []byte) {
		mt := MessageType(typ%11 + 1)
		xid &= 0xffffff
		if len(duid) < 3 {
			duid = append(duid, 0, 1, 2)
		}
		if len(duid) > maxDUIDLen {
			duid = duid[:maxDUIDLen]
		}
		var a16 [16]byte
		copy(a16[:], addr)
		ip := netip.AddrFrom16(a16)
		pfx := netip.PrefixFrom(ip, int(plen%129)).Masked()
		relays %= MaxRelayDepth + 1
		if len(unknown) > 1000 {
			unknown = unknown[:1000]
		}
		if len(ifid) > 200 {
			ifid = ifid[:200]
		}

		var w Writer
		w.Reset(make([]byte, 0, 8192))
		for i := range relays {
			w.RelayHeader(RelayReply, relays-1-i, ip, ip)
			w.Option(OptInterfaceID, ifid)
			w.BeginOption(OptRelayMsg)
		}
		w.Header(mt, xid)
		w.Option(OptClientID, duid)
		w.BeginIA(OptIANA, iaid, t1, t1*2)
		w.BeginIAAddr(ip, t1, t1*3)
		w.StatusCode(StatusNoBinding, domain)
		w.EndOption()
		w.EndOption()
		w.BeginIA(OptIAPD, iaid+1, t1, t1)
		w.BeginIAPrefix(pfx, t1, t1)
		w.EndOption()
		w.EndOption()
		w.Option(0xfffe, unknown)
		w.OptionDomainList(OptDomainList, domain)
		domainOK := w.Err() == nil
		if !domainOK {
			return // not a valid name: the Writer refused it
		}
		for range relays {
			w.EndOption()
		}
		out, err := w.End()
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Decode(out); err != nil {
			t.Fatalf("decode: %v\n%x", err, out)
		}
		if m.Type != mt || m.TransactionID != xid || !bytes.Equal(m.ClientID(), duid) || len(m.Relays()) != int(relays) {
			t.Fatalf("header mismatch: %v %x %x %d", m.Type, m.TransactionID, m.ClientID(), len(m.Relays()))
		}
		for _, r := range m.Relays() {
			if r.LinkAddr != ip || !bytes.Equal(r.InterfaceID(), ifid) {
				t.Fatalf("relay mismatch %+v", r)
			}
		}
		na, _ := m.IANA()
		at := na.Addrs()
		at.Next()
		ia, err := ParseIAAddr(at.Data())
		st, _ := ia.Options.StatusCode()
		if err != nil || na.IAID != iaid || na.T2 != t1*2 || ia.Addr != ip || ia.ValidLifetime != t1*3 || st.Code != StatusNoBinding || string(st.Message) != domain {
			t.Fatalf("IA_NA mismatch: %+v %+v %v", na, ia, err)
		}
		pd, _ := m.IAPD()
		pt := pd.Prefixes()
		pt.Next()
		p, err := ParseIAPrefix(pt.Data())
		if err != nil || p.Prefix != pfx {
			t.Fatalf("IAPREFIX %v, want %v (%v)", p.Prefix, pfx, err)
		}
		if v, _ := m.Option(0xfffe); !bytes.Equal(v, unknown) {
			t.Fatalf("unknown option %x, want %x", v, unknown)
		}
		if v, _ := m.Option(OptDomainList); domain != "" {
			// A trailing dot is optional; "." is the root, read back as "".
			want := strings.TrimSuffix(domain, ".")
			names, err := ParseDomainList(v)
			if err != nil || len(names) != 1 || names[0] != want {
				t.Fatalf("domain list %q %v, want %q", names, err, want)
			}
		}
	})
}

// FuzzOptionParsers: the option parsers never panic, and what they accept
// re-encodes to an equivalent value.
func FuzzOptionParsers(f *testing.F) {
	f.Add(mustHex(f, `06 "campus" 07 "example" 00`))
	f.Add(mustHex(f, `01 04 "box1"`))
	f.Add([]byte(testClientDUID))
	f.Add(mustHex(f, "00000001 00000e10 00001c20 001a 0019 00001c20 00002a30 38 fd77 0100 0000 0100 0000 0000 0000 0000"))
	f.Fuzz(func(t *testing.T, v []byte) {
		// Dotted text cannot represent a label that contains a dot, so
		// such values are only parsed.
		if names, err := ParseDomainList(v); err == nil && !bytes.Contains(v, []byte{'.'}) {
			if enc, err := AppendDomainList(nil, names...); err == nil {
				if !bytes.Equal(enc, v) {
					t.Fatalf("domain list round trip: %x -> %q -> %x", v, names, enc)
				}
			}
		}
		if fq, err := ParseFQDN(v); err == nil {
			if name, full, err := fq.DomainName(); err == nil {
				if full {
					name += "."
				}
				if enc, err := AppendFQDN(nil, fq.Flags, name); err == nil && !bytes.Equal(enc, v) && !bytes.Contains(v, []byte{'.'}) {
					t.Fatalf("FQDN round trip: %x -> %q -> %x", v, name, enc)
				}
			}
		}
		if d := DUID(v); d.Validate() == nil {
			back, err := ParseDUID(d.String())
			if err != nil || !bytes.Equal(back, d) {
				t.Fatalf("DUID round trip %x: %x %v", v, back, err)
			}
		}
		if ia, err := ParseIA(v); err == nil {
			for it := ia.Options.Iter(); it.Next(); {
				_, _ = ParseIAAddr(it.Data())
				_, _ = ParseIAPrefix(it.Data())
			}
		}
		_, _ = ParseAuth(v)
		_, _ = ParseRemoteID(v)
		_, _ = ParseLinkLayerAddr(v)
		_ = Options(v).Validate()
	})
}
