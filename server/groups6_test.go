package server

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sys/unix"

	"github.com/leased/leased/dhcpv6"
	"github.com/leased/leased/internal/netns"
	"github.com/leased/leased/lease"
	"github.com/leased/leased/lease6"
)

// TestV6MulticastGroupsInNetns runs the DHCPv6 service on a veth in a
// namespace of its own: the socket joins both server groups of RFC 8415
// §7.1 on the interface (ff02::1:2 All_DHCP_Relay_Agents_and_Servers and
// ff05::1:3 All_DHCP_Servers, which relays may send to), and a Solicit
// sent from the peer namespace to either group gets an Advertise.
func TestV6MulticastGroupsInNetns(t *testing.T) {
	netns.Require(t)
	topo := netns.New(t)
	eng6, err := lease6.New(v6Config())
	if err != nil {
		t.Fatal(err)
	}
	eng, err := lease.New(loopConfig())
	if err != nil {
		t.Fatal(err)
	}
	var s *Server
	if err := topo.Server.Do(func() error {
		var err error
		s, err = New(Options{Interfaces: []string{netns.ServerIf}, Port: -1, Engine: eng, Store: &memStore{},
			Logger: testLogger(t), Registry: prometheus.NewRegistry(),
			V6: &V6Options{Interfaces: []string{netns.ServerIf}, Port: -1, Engine: eng6}})
		return err
	}); err != nil {
		t.Fatal(err)
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

	// /proc/net/igmp6: ifindex, name, group (32 hex digits), users, ...
	groups := topo.Server.MustRun("cat", "/proc/net/igmp6")
	for _, g := range []string{"ff020000000000000000000000010002", "ff050000000000000000000000010003"} {
		found := false
		for line := range strings.SplitSeq(groups, "\n") {
			f := strings.Fields(line)
			if len(f) >= 3 && f[1] == netns.ServerIf && f[2] == g {
				found = true
			}
		}
		if !found {
			t.Errorf("%s not joined on %s:\n%s", g, netns.ServerIf, groups)
		}
	}

	ll, err := topo.Client.WaitLinkLocal(netns.ClientIf, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := topo.Client.ListenUDP(netip.AddrPortFrom(ll, 0))
	if err != nil {
		t.Fatal(err)
	}
	var ifindex int
	if err := topo.Client.Do(func() error {
		ni, err := net.InterfaceByName(netns.ClientIf)
		if err == nil {
			ifindex = ni.Index
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	// A site-scope group needs the outgoing interface chosen explicitly.
	rc, err := conn.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_IF, ifindex)
	}); err != nil || serr != nil {
		t.Fatal(err, serr)
	}
	port := uint16(s.Port6())
	for i, group := range []netip.Addr{allDHCPServers, dhcpv6.AllRelayAgentsAndServers.WithZone(netns.ClientIf)} {
		c := client6{duid: []byte{0, 3, 0, 1, 2, 0, 0, 0, 0, byte(i + 1)}}
		xid := uint32(0x600 + i)
		if _, err := conn.WriteToUDPAddrPort(c.msg(t, dhcpv6.Solicit, xid, false), netip.AddrPortFrom(group, port)); err != nil {
			t.Fatalf("send to %s: %v", group, err)
		}
		buf := make([]byte, 4096)
		_ = conn.SetReadDeadline(time.Now().Add(3 * time.Second))
		n, _, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatalf("Solicit to %s: no answer: %v", group, err)
		}
		var m dhcpv6.Message
		if err := m.Decode(buf[:n]); err != nil {
			t.Fatal(err)
		}
		if m.Type != dhcpv6.Advertise || m.TransactionID != xid {
			t.Errorf("Solicit to %s: got %v xid %#x", group, m.Type, m.TransactionID)
		}
	}
}
