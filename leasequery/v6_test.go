package leasequery

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/leased/leased/dhcpv6"
)

var (
	link1   = netip.MustParsePrefix("2001:db8:1::/64")
	link2   = netip.MustParsePrefix("2001:db8:2::/64")
	duidA   = []byte{0, 3, 0, 1, 2, 0, 0, 0, 0, 0xa}
	duidB   = []byte{0, 3, 0, 1, 2, 0, 0, 0, 0, 0xb}
	reqDUID = []byte{0, 3, 0, 1, 2, 0, 0, 0, 0, 0xee}
	srvDUID = []byte{0, 3, 0, 1, 2, 0, 0, 0, 0, 0x01}
)

type fakeSource6 []Binding6

func (f fakeSource6) Bindings6(fn func(*Binding6) bool) {
	for i := range f {
		if !fn(&f[i]) {
			return
		}
	}
}
func (f fakeSource6) Links6() []netip.Prefix { return []netip.Prefix{link1, link2} }

func b6(addr string, plen uint8, duid []byte, link netip.Prefix, st State) Binding6 {
	return Binding6{Binding: Binding{Addr: netip.MustParseAddr(addr), PrefixLen: plen, ClientID: duid, State: st,
		Start: now.Add(-20 * time.Second), Preferred: now.Add(40 * time.Second), Expiry: now.Add(100 * time.Second)}, Link: link}
}

func source6() fakeSource6 {
	return fakeSource6{
		b6("2001:db8:1::10", 0, duidA, link1, Active),
		b6("2001:db8:1:100::", 56, duidA, link1, Active),
		b6("2001:db8:2::20", 0, duidA, link2, Active),
		b6("2001:db8:1::11", 0, duidB, link1, Active),
		b6("2001:db8:1::12", 0, duidB, link1, Released),
	}
}

func lq6(t *testing.T, typ uint8, link netip.Addr, qopts []byte) *dhcpv6.Message {
	t.Helper()
	var w dhcpv6.Writer
	w.Reset(make([]byte, 0, 600))
	w.Header(TypeLeaseQuery6, 0x123)
	w.Option(dhcpv6.OptClientID, reqDUID)
	w.Option(OptLQQuery, LQQuery(typ, link, qopts))
	b, err := w.End()
	if err != nil {
		t.Fatal(err)
	}
	var m dhcpv6.Message
	if err := m.Decode(b); err != nil {
		t.Fatal(err)
	}
	return &m
}

func iaaddr(a string) []byte {
	v := netip.MustParseAddr(a).As16()
	return Opt6(dhcpv6.OptIAAddr, append(v[:], make([]byte, 8)...))
}

// summary6 lists the type, status and bound addresses/prefixes of an
// answer.
func summary6(t *testing.T, b []byte) string {
	t.Helper()
	var m dhcpv6.Message
	if err := m.Decode(b); err != nil {
		t.Fatal(err)
	}
	if m.TransactionID != 0x123 || string(m.ServerID()) != string(srvDUID) || string(m.ClientID()) != string(reqDUID) {
		t.Errorf("xid %#x server id %x client id %x", m.TransactionID, m.ServerID(), m.ClientID())
	}
	s := fmt.Sprint(int(m.Type))
	if st, ok := m.StatusCode(); ok {
		s += fmt.Sprintf(" status %d", st.Code)
	}
	if cd, ok := m.Option(OptClientData); ok {
		it := dhcpv6.Options(cd).Iter()
		for it.Next() {
			switch it.Code() {
			case dhcpv6.OptClientID:
				s += fmt.Sprintf(" client %x", it.Data()[len(it.Data())-1])
			case dhcpv6.OptIAAddr:
				a, _ := dhcpv6.ParseIAAddr(it.Data())
				s += " " + a.Addr.String()
				if a.ValidLifetime != 100 || a.PreferredLifetime != 40 {
					t.Errorf("lifetimes %d/%d", a.PreferredLifetime, a.ValidLifetime)
				}
			case dhcpv6.OptIAPrefix:
				p, _ := dhcpv6.ParseIAPrefix(it.Data())
				s += " " + p.Prefix.String()
			case OptCLTTime:
				s += fmt.Sprintf(" clt %d", uint32(it.Data()[3]))
			}
		}
	}
	if v, ok := m.Option(OptLQClientLink); ok {
		s += fmt.Sprintf(" links %d", len(v)/16)
	}
	return s
}

func TestQuery6(t *testing.T) {
	s := &Server6{Source: source6(), ServerID: srvDUID}
	any6 := netip.IPv6Unspecified()
	for _, tc := range []struct {
		name string
		m    *dhcpv6.Message
		want string
	}{
		{"address, its link", lq6(t, QueryByAddress, link1.Addr(), iaaddr("2001:db8:1::10")), "15 client a 2001:db8:1::10 2001:db8:1:100::/56 clt 20"},
		{"address in a delegated prefix", lq6(t, QueryByAddress, link1.Addr(), iaaddr("2001:db8:1:100::5")), "15 client a 2001:db8:1::10 2001:db8:1:100::/56 clt 20"},
		{"address, several links, none named", lq6(t, QueryByAddress, any6, iaaddr("2001:db8:1::10")), "15 links 2"},
		{"client id on link 2", lq6(t, QueryByClientID, link2.Addr(), Opt6(dhcpv6.OptClientID, duidA)), "15 client a 2001:db8:2::20 clt 20"},
		{"client id, one link", lq6(t, QueryByClientID, any6, Opt6(dhcpv6.OptClientID, duidB)), "15 client b 2001:db8:1::11 clt 20"},
		{"free address", lq6(t, QueryByAddress, any6, iaaddr("2001:db8:1::99")), "15"},
		{"released address", lq6(t, QueryByAddress, any6, iaaddr("2001:db8:1::12")), "15"},
		{"foreign address", lq6(t, QueryByAddress, any6, iaaddr("2001:db8:9::1")), "15 status 9"},
		{"unknown query type", lq6(t, 9, any6, nil), "15 status 7"},
		{"relay id over UDP (bulk only)", lq6(t, QueryByRelayID, any6, Opt6(OptRelayID, duidB)), "15 status 10"},
		{"remote id over UDP (bulk only)", lq6(t, QueryByRemoteID, any6, Opt6(dhcpv6.OptRemoteID, []byte{0, 0, 0, 9, 'r'})), "15 status 10"},
		{"link address over UDP (bulk only)", lq6(t, QueryByLinkAddress, link1.Addr(), nil), "15 status 10"},
		{"relay id without OPTION_RELAY_ID", lq6(t, QueryByRelayID, any6, nil), "15 status 8"},
		{"remote id without enterprise number", lq6(t, QueryByRemoteID, any6, Opt6(dhcpv6.OptRemoteID, []byte{0, 0, 9})), "15 status 8"},
		{"address without iaaddr", lq6(t, QueryByAddress, any6, nil), "15 status 8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, _, err := s.Query(now, tc.m)
			if err != nil {
				t.Fatal(err)
			}
			if got := summary6(t, out); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestBulk6(t *testing.T) {
	s := &Server6{Source: source6(), ServerID: srvDUID}
	run := func(m *dhcpv6.Message) []string {
		var out []string
		if _, err := s.Bulk(now, m, func(b []byte) error { out = append(out, summary6(t, b)); return nil }); err != nil {
			t.Fatal(err)
		}
		return out
	}
	got := run(lq6(t, QueryByLinkAddress, link1.Addr(), nil))
	want := []string{"15 client a 2001:db8:1::10 2001:db8:1:100::/56 clt 20", "17 client b 2001:db8:1::11 clt 20", "16"}
	if !slices.Equal(got, want) {
		t.Errorf("by link 1: %q, want %q", got, want)
	}
	got = run(lq6(t, QueryByClientID, netip.IPv6Unspecified(), Opt6(dhcpv6.OptClientID, duidA)))
	want = []string{"15 client a 2001:db8:1::10 2001:db8:1:100::/56 2001:db8:2::20 clt 20", "16"}
	if !slices.Equal(got, want) {
		t.Errorf("by client a: %q, want %q", got, want)
	}
	got = run(lq6(t, QueryByClientID, netip.IPv6Unspecified(), Opt6(dhcpv6.OptClientID, []byte{0, 3, 0, 1, 9})))
	if !slices.Equal(got, []string{"15"}) {
		t.Errorf("unknown client: %q", got)
	}
}
