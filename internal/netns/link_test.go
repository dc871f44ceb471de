package netns

import (
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// TestLink: a broadcast from a client reaches every server on the link,
// servers have their addresses, clients their MACs.
func TestLink(t *testing.T) {
	Require(t)
	l := NewLink(t, 3, 2)
	if out := l.Clients[1].MustRun("ip", "-br", "link", "show", ClientIf); !strings.Contains(out, LinkClientMAC(1)) {
		t.Fatalf("client 1 MAC: %q", out)
	}
	var conns []*net.UDPConn
	for i, s := range l.Servers {
		if out := s.MustRun("ip", "-br", "addr", "show", ServerIf); !strings.Contains(out, LinkServerPrefix(i).String()) {
			t.Fatalf("server %d address: %q", i, out)
		}
		c, err := s.ListenUDP(netip.MustParseAddrPort("0.0.0.0:6767"))
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	l.Clients[0].AddAddr(ClientIf, netip.MustParsePrefix("10.77.9.9/16"))
	cli, err := l.Clients[0].ListenUDP(netip.MustParseAddrPort("10.77.9.9:0"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.WriteToUDPAddrPort([]byte("hello"), netip.MustParseAddrPort("10.77.255.255:6767")); err != nil {
		t.Fatal(err)
	}
	for i, c := range conns {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 64)
		n, _, err := c.ReadFromUDPAddrPort(buf)
		if err != nil || string(buf[:n]) != "hello" {
			t.Fatalf("server %d: broadcast not received: %q %v", i, buf[:n], err)
		}
	}
}
