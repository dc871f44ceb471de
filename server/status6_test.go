package server

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/leased/leased/dhcpv6"
)

// TestStatusCodes6: leased_status_codes_total{family="dhcpv6",status}
// has a series at 0 for every status the engine can send (not
// UnspecFail), and counts the message-level and per-IA Status Code
// options of the replies sent: a Renew of an unknown binding (NoBinding
// per IA, RFC 8415 §18.3.4) and a Confirm of an address that is not on
// the link (NotOnLink, §18.3.3).
func TestStatusCodes6(t *testing.T) {
	s, rec := newRecorded6(t, &memStore{})
	mfs, err := s.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var labels []string
	for _, mf := range mfs {
		if mf.GetName() != "leased_status_codes_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "status" {
					labels = append(labels, l.GetValue())
				}
			}
			if m.GetCounter().GetValue() != 0 {
				t.Errorf("%v starts at %v", m.GetLabel(), m.GetCounter().GetValue())
			}
		}
	}
	slices.Sort(labels)
	want := []string{"NoAddrsAvail", "NoBinding", "NoPrefixAvail", "NotOnLink", "Success", "UseMulticast"}
	if !slices.Equal(labels, want) {
		t.Fatalf("status series %v, want %v", labels, want)
	}

	relay := &relay6{t: t}
	from := netip.MustParseAddrPort("[::1]:5470")
	c := &client6{duid: []byte{0, 3, 0, 1, 2, 0, 0, 0, 0, 9}, serverID: s.ServerDUID(),
		addr: netip.MustParseAddr("fd77::1:99"), prefix: netip.MustParsePrefix("fd77:100:5::/56")}
	feed6(t, s, relay.wrap(c.msg(t, dhcpv6.Renew, 0x20, true)), from)
	if _, m := rec.next6(t); m.Type != dhcpv6.Reply {
		t.Fatalf("Renew answered with %v", m.Type)
	}
	if got := counterValue(s.v6.m.status[dhcpv6.StatusNoBinding]); got != 2 {
		t.Errorf("NoBinding counted %v times, want 2 (IA_NA and IA_PD)", got)
	}
	c.addr, c.prefix = netip.MustParseAddr("2001:db8:99::5"), netip.Prefix{}
	feed6(t, s, relay.wrap(c.msg(t, dhcpv6.Confirm, 0x21, false)), from)
	if _, m := rec.next6(t); m.Type != dhcpv6.Reply {
		t.Fatalf("Confirm answered with %v", m.Type)
	}
	if got := counterValue(s.v6.m.status[dhcpv6.StatusNotOnLink]); got != 1 {
		t.Errorf("NotOnLink counted %v times, want 1", got)
	}
	if got := counterValue(s.v6.m.status[dhcpv6.StatusSuccess]); got != 0 {
		t.Errorf("Success counted %v times, want 0", got)
	}
}
