package leasequery

import (
	"net/netip"
	"testing"
	"time"

	"github.com/leased/leased/dhcpv4"
	"github.com/leased/leased/dhcpv6"
)

// FuzzQuery4: any DHCPv4 message given to the single and the bulk answer
// paths yields only messages that decode, and never panics.
func FuzzQuery4(f *testing.F) {
	for _, m := range [][]byte{
		func() []byte {
			var w dhcpv4.Writer
			w.Reset(make([]byte, 0, 600))
			h := dhcpv4.Header{Op: dhcpv4.BootRequest, XID: 1, HType: 1, HLen: 6, GIAddr: relay}
			copy(h.CHAddr[:], macA)
			w.Header(&h)
			w.OptionByte(dhcpv4.OptMessageType, byte(TypeBulkLeaseQuery))
			w.Option(dhcpv4.OptRelayAgentInfo, []byte{12, 4, 10, 99, 0, 1})
			b, _ := w.End()
			return b
		}(),
		func() []byte {
			var w dhcpv4.Writer
			w.Reset(make([]byte, 0, 600))
			h := dhcpv4.Header{Op: dhcpv4.BootRequest, XID: 1, CIAddr: relay}
			w.Header(&h)
			w.OptionByte(dhcpv4.OptMessageType, byte(TypeLeaseQuery))
			w.Option(dhcpv4.OptParamRequestList, []byte{82, 58})
			b, _ := w.End()
			return b
		}(),
	} {
		f.Add(m)
	}
	s := &Server4{Source: source(), ServerID: srvID}
	f.Fuzz(func(t *testing.T, b []byte) {
		check := func(out []byte) error {
			var r dhcpv4.Message
			if err := r.Decode(out); err != nil {
				t.Fatalf("answer does not decode: %v", err)
			}
			return nil
		}
		if _, err := s.Answer4(time.Unix(1_800_000_000, 0), relay, srvID, b, check); err != nil {
			return
		}
		var m dhcpv4.Message
		if m.Decode(b) == nil {
			if a, err := s.Query(time.Unix(1_800_000_000, 0), &m, srvID); err == nil {
				for _, r := range a.Replies {
					check(r)
				}
			}
		}
	})
}

// FuzzQuery6: any DHCPv6 message given to the single and bulk paths
// yields only messages that decode, and never panics.
func FuzzQuery6(f *testing.F) {
	seed := func(typ uint8, qopts []byte) []byte {
		var w dhcpv6.Writer
		w.Reset(make([]byte, 0, 600))
		w.Header(TypeLeaseQuery6, 7)
		w.Option(dhcpv6.OptClientID, reqDUID)
		w.Option(OptLQQuery, LQQuery(typ, link1.Addr(), qopts))
		b, _ := w.End()
		return b
	}
	v := netip.MustParseAddr("2001:db8:1::10").As16()
	f.Add(seed(QueryByAddress, Opt6(dhcpv6.OptIAAddr, append(v[:], make([]byte, 8)...))))
	f.Add(seed(QueryByClientID, Opt6(dhcpv6.OptClientID, duidA)))
	f.Add(seed(QueryByLinkAddress, nil))
	// RFC 5460 by relay id and remote id, asking for relay data.
	oro := Opt6(dhcpv6.OptORO, []byte{0, byte(OptLQRelayData)})
	f.Add(seed(QueryByRelayID, append(Opt6(OptRelayID, []byte("relay1")), oro...)))
	f.Add(seed(QueryByRemoteID, append(Opt6(dhcpv6.OptRemoteID, []byte("\x00\x00\x00\x09port1")), oro...)))
	src := source6()
	for i := range src {
		src[i].RelayInfo = []byte("relay1|\x00\x00\x00\x09port1|2001:db8::1|msg")
	}
	s := &Server6{Source: src, ServerID: srvDUID, Relays: fakeRelays}
	f.Fuzz(func(t *testing.T, b []byte) {
		check := func(out []byte) error {
			var r dhcpv6.Message
			if err := r.Decode(out); err != nil {
				t.Fatalf("answer does not decode: %v", err)
			}
			return nil
		}
		if _, err := s.Answer6(time.Unix(1_800_000_000, 0), netip.Addr{}, netip.Addr{}, b, check); err != nil {
			return
		}
		var m dhcpv6.Message
		if m.Decode(b) == nil {
			if out, _, err := s.Query(time.Unix(1_800_000_000, 0), &m); err == nil {
				check(out)
			}
		}
	})
}
