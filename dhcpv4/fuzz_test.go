package dhcpv4

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func addFixtureSeeds(f *testing.F) {
	for _, fx := range allFixtures {
		f.Add(mustHex(f, fx.hex))
	}
}

// FuzzDecode: Decode never panics, and a message that decodes re-encodes
// to one with the same header and options (option 52 aside: Encode does
// not overload).
func FuzzDecode(f *testing.F) {
	addFixtureSeeds(f)
	var m, m2 Message
	f.Fuzz(func(t *testing.T, pkt []byte) {
		if err := m.Decode(pkt); err != nil {
			return
		}
		// Accessors never panic on any decoded message.
		_, _ = m.Auth()
		_, _, _ = m.AuthInfoOffset()
		_ = RelayInfo(m.RelayAgentInfo()).Validate()
		if v, ok := m.Option(OptClientFQDN); ok {
			if fq, err := ParseFQDN(v); err == nil {
				_, _ = fq.DomainName()
			}
		}
		if v, ok := m.Option(OptDomainSearch); ok {
			_, _ = ParseDomainSearch(v)
		}
		if v, ok := m.Option(OptClasslessRoutes); ok {
			_, _ = ParseClasslessRoutes(v)
		}

		out, err := m.Encode(make([]byte, 0, 2*len(pkt)+MinPacketLen))
		if err != nil {
			t.Fatalf("Encode of a decoded message: %v", err)
		}
		if err := m2.Decode(out); err != nil {
			t.Fatalf("re-decode: %v\npacket %x\nencoded %x", err, pkt, out)
		}
		if diff := cmp.Diff(m.Header, m2.Header, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
			t.Fatalf("header changed (-first +second):\n%s", diff)
		}
		want := optionsOf(&m)
		delete(want, OptOverload)
		if diff := cmp.Diff(want, optionsOf(&m2)); diff != "" {
			t.Fatalf("options changed (-first +second):\n%s", diff)
		}
	})
}

// FuzzRoundTrip: whatever the Writer accepts, Decode gives back.
func FuzzRoundTrip(f *testing.F) {
	f.Add(uint32(0x0badcafe), uint16(0x8000), []byte{2, 0x42, 0xac, 0x11, 0, 2}, []byte("box1"),
		[]byte{1, 2, 0x42, 0xac, 0x11, 0, 2}, testRelay, []byte{}, []byte("file"), uint8(5))
	f.Add(uint32(1), uint16(0), []byte{}, bytes.Repeat([]byte{'h'}, 300), []byte{0}, []byte{},
		bytes.Repeat([]byte{7}, 600), []byte{}, uint8(9))
	var m Message
	f.Fuzz(func(t *testing.T, xid uint32, flags uint16, hw, host, cid, relay, unknown, file []byte, typ uint8) {
		if len(hw) > 16 {
			hw = hw[:16]
		}
		if len(file) > lenFile {
			file = file[:lenFile]
		}
		if i := bytes.IndexByte(file, 0); i >= 0 {
			file = file[:i]
		}
		h := Header{Op: BootRequest, HType: 1, XID: xid, Flags: flags, File: file,
			CIAddr: netip.AddrFrom4([4]byte{byte(xid), 1, 2, 3})}
		h.HLen = uint8(copy(h.CHAddr[:], hw))
		var w Writer
		w.Reset(make([]byte, 0, 4096))
		w.Header(&h)
		w.OptionByte(OptMessageType, typ)
		w.Option(OptHostname, host)
		w.Option(OptClientID, cid)
		w.Option(OptRelayAgentInfo, relay)
		w.Option(224, unknown)
		out, err := w.End()
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Decode(out); err != nil {
			t.Fatal(err)
		}
		if m.XID != xid || m.Flags != flags || !bytes.Equal(m.HWAddr(), hw) || !bytes.Equal(m.File, file) ||
			m.CIAddr != h.CIAddr || m.Type() != MessageType(typ) {
			t.Fatalf("header mismatch: %+v", m.Header)
		}
		for _, c := range []struct {
			code OptionCode
			v    []byte
		}{{OptHostname, host}, {OptClientID, cid}, {OptRelayAgentInfo, relay}, {224, unknown}} {
			if got, ok := m.Option(c.code); !ok || !bytes.Equal(got, c.v) {
				t.Fatalf("option %d: got %x, want %x", c.code, got, c.v)
			}
		}
	})
}

// FuzzOptionParsers: the option-family parsers never panic, and what they
// accept re-encodes to an equivalent value.
func FuzzOptionParsers(f *testing.F) {
	f.Add([]byte{0, 10, 0, 0, 1, 24, 192, 168, 1, 10, 0, 0, 1})
	f.Add([]byte{3, 'e', 'n', 'g', 5, 'a', 'p', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0, 9, 'm', 'a', 'r', 'k', 'e', 't', 'i', 'n', 'g', 0xc0, 0x04})
	f.Add(testRelay)
	f.Fuzz(func(t *testing.T, v []byte) {
		if routes, err := ParseClasslessRoutes(v); err == nil {
			enc, err := AppendClasslessRoutes(nil, routes)
			if err != nil {
				t.Fatal(err)
			}
			again, err := ParseClasslessRoutes(enc)
			if err != nil || !cmp.Equal(routes, again, cmp.Comparer(func(a, b Route) bool { return a == b })) {
				t.Fatalf("routes round trip: %v / %v %v", routes, again, err)
			}
		}
		if names, err := ParseDomainSearch(v); err == nil {
			if enc, err := AppendDomainSearch(nil, names); err == nil {
				again, err := ParseDomainSearch(enc)
				if err != nil || !cmp.Equal(names, again) {
					t.Fatalf("search round trip: %q / %q %v", names, again, err)
				}
			}
		}
		if fq, err := ParseFQDN(v); err == nil {
			_, _ = fq.DomainName()
		}
		_, _ = ParseAuth(v)
		_ = RelayInfo(v).Validate()
	})
}
