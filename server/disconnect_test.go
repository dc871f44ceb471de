package server

import (
	"context"
	"net/netip"
	"testing"

	"github.com/leased/leased/dhcpv4"
	"github.com/leased/leased/lease"
	"github.com/leased/leased/reconf"
)

// TestDisconnectNotCapable (issue #10 item 4): disconnecting a client that
// ignores FORCERENEW (no option 145, like udhcpc) deletes its binding at
// once, but its address stays out of the pool until the old lease would
// have expired (quarantined, persisted); the campaign says deleted and
// that the client was not capable; another client asking for the address
// gets a different one.
func TestDisconnectNotCapable(t *testing.T) {
	dir := t.TempDir()
	n := newSimNet(t, dir, campConfig(), CampaignConfig{}, nil)
	mac := [6]byte{0x02, 0, 0, 0, 0x77, 1}
	off, ok := n.exchange(clientMsg{typ: dhcpv4.Discover, mac: mac})
	if !ok || off.Type() != dhcpv4.Offer {
		t.Fatal("no OFFER")
	}
	ack, ok := n.exchange(clientMsg{typ: dhcpv4.Request, mac: mac, reqIP: off.YIAddr, serverID: netip.MustParseAddr("127.0.0.1")})
	if !ok || ack.Type() != dhcpv4.Ack {
		t.Fatal("no ACK")
	}
	addr := ack.YIAddr
	before, _ := n.eng.Lookup(addr)

	st, err := n.s.Disconnect(context.Background(), addr, reconf.Delete)
	if err != nil {
		t.Fatal(err)
	}
	if st.Counts.Deleted != 1 || st.Counts.NotCapable != 0 || st.State != reconf.Done {
		t.Fatalf("disconnect status %v %+v, want done with 1 deleted", st.State, st.Counts)
	}
	p := outcomes(t, n.s, st.ID)[addr]
	if p.Outcome != reconf.Deleted || p.Capable {
		t.Fatalf("client progress %+v, want deleted and not capable", p)
	}
	l, ok := n.eng.Lookup(addr)
	if !ok || l.State != lease.StateQuarantined || !l.Expiry.Equal(before.Expiry) {
		t.Fatalf("lease after disconnect %+v, want quarantined until %v", l, before.Expiry)
	}
	// Another client asking for that address gets another one.
	other := [6]byte{0x02, 0, 0, 0, 0x78, 1}
	off2, ok := n.exchange(clientMsg{typ: dhcpv4.Discover, mac: other, reqIP: addr})
	if !ok || off2.Type() != dhcpv4.Offer || off2.YIAddr == addr {
		t.Fatalf("second client offered %v (held %v)", off2.YIAddr, addr)
	}
	if m, ok := n.exchange(clientMsg{typ: dhcpv4.Request, mac: other, reqIP: addr, serverID: netip.MustParseAddr("127.0.0.1")}); !ok || m.Type() != dhcpv4.Nak {
		t.Fatalf("REQUEST for the held address answered %v, want NAK", m.Type())
	}
	n.stop()
	ls, m := reopenWAL(t, dir)
	if got := ls[addr]; got.State != lease.StateQuarantined || !got.Expiry.Equal(before.Expiry) {
		t.Fatalf("stored lease %+v, want quarantined", got)
	}
	cs, err := m.Clients(st.ID, reconf.ClientFilter{})
	if err != nil || len(cs) != 1 || cs[0].Outcome != reconf.Deleted || cs[0].Capable {
		t.Fatalf("stored campaign clients %+v, %v", cs, err)
	}
}
