package e2e

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/leased/leased/internal/netns"
)

// TestDhclient: ISC dhclient obtains a lease, renews it at T1 (dhclient
// has no renew command, so T1 is short: 8 s) and releases it (-r).
func TestDhclient(t *testing.T) {
	t.Parallel() // waits on client timers, little CPU: see README.md
	e := newEnv(t, "dhclient", "ss")
	cfg := defaultConfig()
	cfg.LeaseTime, cfg.T1, cfg.T2 = "1m", "8s", "50s"
	srv := e.startLeased(cfg)
	mac := e.clientMAC()

	c := e.startDhclient("dhclient")
	ev, n := c.waitEvent(20*time.Second, 0, "BOUND")
	addr := checkBoundVars(e, ev)
	if !section0.Contains(addr) {
		e.fatalf("dhclient got %v, want an address in section 0", addr)
	}
	l := srv.waitState(addr, "bound", 5*time.Second)
	if !strings.EqualFold(l.HWAddr, mac) {
		e.fatalf("leasectl hwaddr %s, want %s", l.HWAddr, mac)
	}

	ev, n = c.waitEvent(25*time.Second, n, "RENEW")
	if a := checkBoundVars(e, ev); a != addr {
		e.fatalf("renew gave %v, want %v", a, addr)
	}
	srv.waitExpiryAfter(addr, l, 5*time.Second)

	c.dhclientRelease()
	c.waitEvent(10*time.Second, n, "RELEASE")
	if !strings.Contains(netns.TailFile(c.log, 10), "DHCPRELEASE") {
		e.fatalf("dhclient -r did not send DHCPRELEASE")
	}
	srv.waitState(addr, "released", 5*time.Second)
	t.Logf("dhclient hook: %s", c.reasons())
}

// TestUdhcpc: busybox udhcpc obtains a lease, renews on SIGUSR1 and
// releases on SIGUSR2.
func TestUdhcpc(t *testing.T) {
	e := newEnv(t, "udhcpc", "ss")
	srv := e.startLeased(defaultConfig())
	mac := e.clientMAC()

	c := e.startUdhcpc("udhcpc")
	ev, n := c.waitEvent(20*time.Second, 0, "bound")
	addr := checkBoundVars(e, ev)
	if !section0.Contains(addr) {
		e.fatalf("udhcpc got %v, want an address in section 0", addr)
	}
	l := srv.waitState(addr, "bound", 5*time.Second)
	if !strings.EqualFold(l.HWAddr, mac) {
		e.fatalf("leasectl hwaddr %s, want %s", l.HWAddr, mac)
	}

	c.signal(syscall.SIGUSR1)
	ev, n = c.waitEvent(10*time.Second, n, "renew")
	if a := checkBoundVars(e, ev); a != addr {
		e.fatalf("renew gave %v, want %v", a, addr)
	}
	srv.waitExpiryAfter(addr, l, 5*time.Second)

	c.signal(syscall.SIGUSR2)
	c.waitEvent(10*time.Second, n, "deconfig")
	if !strings.Contains(netns.TailFile(c.log, 10), "sending release") {
		e.fatalf("udhcpc did not send a release on SIGUSR2")
	}
	srv.waitState(addr, "released", 5*time.Second)
	t.Logf("udhcpc hook: %s", c.reasons())
}

// TestDecline: the first address of section 0 is already in use on the
// link; dhcpcd's ARP probe (RFC 5227) finds it, it sends DHCPDECLINE
// (RFC 2131 §4.4.1) and binds another address. leasectl shows the first
// address declined, and later clients never get it.
func TestDecline(t *testing.T) {
	t.Parallel() // waits on client timers, little CPU: see README.md
	e := newEnv(t, "dhcpcd", "ss")
	cfg := defaultConfig()
	cfg.Pools[0].Sections = [][2]string{{"10.77.1.10", "10.77.1.12"}, {"10.77.2.0", "10.77.2.255"}}
	taken := netip.MustParseAddr("10.77.1.10")
	e.top.Server.AddAddr(netns.ServerIf, netip.PrefixFrom(taken, 16))
	srv := e.startLeased(cfg)

	c := e.startDhcpcd("dhcpcd", true)
	ev, _ := c.waitEvent(40*time.Second, 0, "BOUND")
	addr := checkBoundVars(e, ev)
	if addr == taken {
		e.fatalf("dhcpcd bound %v although it is in use on the link", taken)
	}
	if !strings.Contains(netns.TailFile(c.log, 200), "DECLINE") {
		e.fatalf("dhcpcd log shows no DECLINE")
	}
	srv.waitState(taken, "declined", 5*time.Second)
	srv.waitState(addr, "bound", 5*time.Second)

	// More clients, over a relay socket: none gets the declined address.
	relay := netip.MustParseAddr("10.77.0.2")
	e.top.Client.AddAddr(netns.ClientIf, netip.PrefixFrom(relay, 16))
	conn, err := e.top.Client.ListenUDP(netip.AddrPortFrom(relay, 67))
	if err != nil {
		t.Fatal(err)
	}
	d := newRelayDriver(conn, relay, netip.MustParseAddrPort("10.77.0.1:67"))
	go d.readLoop()
	for i := 0; i < 4; i++ {
		mac := net.HardwareAddr{0x02, 0xde, 0xc1, 0, 0, byte(i)}
		r, err := d.dora(context.Background(), mac, time.Second, 3)
		if err != nil {
			e.fatalf("client %d: %v", i, err)
		}
		if r.Addr == taken || r.Addr == addr {
			e.fatalf("client %v got %v (declined %v, dhcpcd holds %v)", mac, r.Addr, taken, addr)
		}
	}
	if x, _ := srv.Lease(taken); x.State != "declined" {
		e.fatalf("%v after more clients: %+v, want declined", taken, x)
	}
	e.checkUnique(srv.Leases())
	t.Logf("dhcpcd hook: %s", c.reasons())
}
