package server

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/leased/leased/auth"
	"github.com/leased/leased/dhcpv6"
	"github.com/leased/leased/lease6"
	"github.com/leased/leased/reconf"
)

// TestReloadTrigger6 runs a DHCPv6-only server (no DHCPv4 interfaces):
// a pool with reconfigure.on_change whose DNS changes on Reload6 gets a
// campaign over its bound client; the client is sent an authenticated
// Reconfigure through its relay, renews, gets the new DNS and the
// campaign ends renewed. An unchanged reload starts nothing; a range that
// no longer holds the client's address starts a campaign over it.
func TestReloadTrigger6(t *testing.T) {
	eng6, err := lease6.New(v6Config())
	if err != nil {
		t.Fatal(err)
	}
	cfg := v6Config()
	cc := CampaignConfig{Pools: map[string]PoolCampaign{"office6": {OnChange: true,
		Override: reconf.Override{Attempts: ptr(2), Interval: ptr(time.Second)}}}}
	s, err := New(Options{Store: &memStore{}, Logger: testLogger(t), Registry: prometheus.NewRegistry(), Campaigns: cc,
		V6: &V6Options{Interfaces: []string{"lo"}, Port: -1, Engine: eng6, Config: &cfg}})
	if err != nil {
		t.Fatal(err)
	}
	if s.conn != nil || s.Port() != 0 {
		t.Fatalf("DHCPv6-only server has a DHCPv4 socket (port %d)", s.Port())
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("Run did not stop")
		}
	})

	relay := newRelay6(t, s.Port6())
	c := &client6{duid: []byte{0, 3, 0, 1, 2, 0, 0, 0, 0, 0x44}}
	relay.send(c.msg(t, dhcpv6.Solicit, 0x31, true))
	adv, ok := relay.recv(2 * time.Second)
	if !ok {
		t.Fatal("no Advertise")
	}
	c.serverID = adv.ServerID()
	relay.send(c.msg(t, dhcpv6.Request, 0x32, true))
	rep, ok := relay.recv(2 * time.Second)
	if !ok {
		t.Fatal("no Reply")
	}
	c.addr, _, c.prefix, _ = bindings(t, rep)
	key, replay, err := auth.ReplyKey6(rep)
	if err != nil {
		t.Fatalf("no reconfigure key: %v", err)
	}

	// Unchanged reload, and a change in a pool without on_change: nothing.
	if err := s.Reload6(v6Config(), nil); err != nil {
		t.Fatal(err)
	}
	if n := len(s.Campaigns()); n != 0 {
		t.Fatalf("unchanged reload started %d campaigns", n)
	}

	newDNS := netip.MustParseAddr("fd77::53")
	cfg2 := v6Config()
	cfg2.Pools[0].DNS = []netip.Addr{newDNS}
	if err := s.Reload6(cfg2, nil); err != nil {
		t.Fatal(err)
	}
	list := s.Campaigns()
	if len(list) != 1 || list[0].Clients != 1 || list[0].Selector.Pool != "office6" {
		t.Fatalf("after DNS change: %+v", list)
	}
	m, ok := relay.recv(3 * time.Second)
	if !ok || m.Type != dhcpv6.Reconfigure {
		t.Fatalf("no Reconfigure (%v)", m)
	}
	if _, err := auth.VerifyReconfigure6(m, key[:], replay, nil); err != nil {
		t.Fatalf("Reconfigure does not verify: %v", err)
	}
	if mt, _ := m.ReconfigureMessage(); mt != dhcpv6.Renew {
		t.Errorf("Reconfigure Message %v", mt)
	}
	relay.send(c.msg(t, dhcpv6.Renew, 0x33, true))
	rep, ok = relay.recv(2 * time.Second)
	if !ok || rep.Type != dhcpv6.Reply {
		t.Fatal("no Reply to Renew")
	}
	if d := rep.DNSServers(); d.Len() != 1 || d.At(0) != newDNS {
		t.Errorf("DNS after renew: %d servers", d.Len())
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		st, err := s.Campaign(list[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		if st.State != reconf.Running {
			if st.Counts.Renewed != 1 {
				t.Errorf("campaign ended %+v", st.Counts)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("campaign still running: %+v", st.Counts)
		}
		time.Sleep(20 * time.Millisecond)
	}

	// The address range moves away from the client's address: a campaign
	// over the bindings now outside it.
	cfg3 := cfg2
	cfg3.Pools = append([]lease6.Pool(nil), cfg2.Pools...)
	cfg3.Pools[0].Ranges = []lease6.Range{{Start: netip.MustParseAddr("fd77::2:0"), End: netip.MustParseAddr("fd77::2:ffff")}}
	if err := s.Reload6(cfg3, nil); err != nil {
		t.Fatal(err)
	}
	list = s.Campaigns()
	if len(list) != 2 || list[1].Clients != 1 {
		t.Fatalf("after range change: %+v", list)
	}
}
