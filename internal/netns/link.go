package netns

import (
	"fmt"
	"net/netip"
	"os"
	"testing"
	"time"
)

// Link is several servers and several clients on one Ethernet link: a
// Hub namespace holds bridge "br0"; each server and client namespace has
// one veth into it (ServerIf / ClientIf inside, HubServerPort(i) /
// HubClientPort(j) in the hub, enslaved to br0). It is what several DHCP
// servers sharing a link need: every broadcast reaches every server.
type Link struct {
	Hub     *NS
	Servers []*NS
	Clients []*NS
	// Dir is a per-link temporary directory for configs and logs.
	Dir string
}

// HubServerPort is the hub-side name of server i's veth.
func HubServerPort(i int) string { return fmt.Sprintf("s%d", i) }

// HubClientPort is the hub-side name of client j's veth.
func HubClientPort(j int) string { return fmt.Sprintf("c%d", j) }

// LinkServerPrefix is server i's address on a Link: 10.77.0.(1+i)/16
// (server 0 has ServerPrefix).
func LinkServerPrefix(i int) netip.Prefix {
	return hostIn(ServerPrefix, byte(1+i))
}

// LinkServerPrefix6 is server i's IPv6 address: fd77::(1+i)/64.
func LinkServerPrefix6(i int) netip.Prefix {
	return hostIn(ServerPrefix6, byte(1+i))
}

// LinkClientMAC is client j's MAC address on a Link, 02:00:00:77:00:(j+1)
// (locally administered), so logs and leases name clients predictably.
func LinkClientMAC(j int) string { return fmt.Sprintf("02:00:00:77:%02x:%02x", (j+1)>>8, (j+1)&0xff) }

// NewLink creates a Link with servers server namespaces and clients
// client namespaces (le2e-<pid>-<n>-h, -s<i>, -c<j>). Servers get
// LinkServerPrefix(i) and LinkServerPrefix6(i); clients have no address
// but their link-local one. The bridge runs without STP and without
// multicast snooping, so ports forward at once and DHCPv6 multicast
// reaches every server. Everything is removed when the test ends.
func NewLink(t testing.TB, servers, clients int) *Link {
	t.Helper()
	if servers < 1 || clients < 0 || servers > 200 || clients > 4000 {
		t.Fatalf("netns: NewLink(%d, %d): want 1..200 servers and 0..4000 clients", servers, clients)
	}
	n := seq.Add(1)
	base := fmt.Sprintf("le2e-%d-%d", os.Getpid(), n)
	hub := newNS(t, base+"-h")
	hub.MustRun("ip", "link", "add", "br0", "type", "bridge", "stp_state", "0", "forward_delay", "0", "mcast_snooping", "0")
	hub.MustRun("ip", "link", "set", "br0", "up")
	l := &Link{Hub: hub, Dir: t.TempDir()}
	attach := func(ns *NS, inner, port string) {
		hub.MustRun("ip", "link", "add", port, "type", "veth", "peer", "name", inner, "netns", ns.Name)
		hub.MustRun("ip", "link", "set", port, "master", "br0")
		hub.MustRun("ip", "link", "set", port, "up")
	}
	for i := range servers {
		ns := newNS(t, fmt.Sprintf("%s-s%d", base, i))
		attach(ns, ServerIf, HubServerPort(i))
		ns.MustRun("ip", "addr", "add", LinkServerPrefix(i).String(), "dev", ServerIf)
		ns.MustRun("ip", "-6", "addr", "add", LinkServerPrefix6(i).String(), "dev", ServerIf, "nodad")
		ns.MustRun("ip", "link", "set", ServerIf, "up")
		l.Servers = append(l.Servers, ns)
	}
	for j := range clients {
		ns := newNS(t, fmt.Sprintf("%s-c%d", base, j))
		attach(ns, ClientIf, HubClientPort(j))
		ns.MustRun("ip", "link", "set", ClientIf, "address", LinkClientMAC(j))
		ns.MustRun("ip", "link", "set", ClientIf, "up")
		l.Clients = append(l.Clients, ns)
	}
	for _, s := range l.Servers {
		if _, err := s.WaitLinkLocal(ServerIf, 5*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range l.Clients {
		if _, err := c.WaitLinkLocal(ClientIf, 5*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	return l
}
