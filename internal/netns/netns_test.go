package netns

import (
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestTopology(t *testing.T) {
	Require(t)
	top := New(t)
	cli := netip.MustParsePrefix("10.77.0.2/16")
	top.Client.AddAddr(ClientIf, cli)

	// The interfaces exist in their own namespaces only.
	if out := top.Server.MustRun("ip", "-br", "addr", "show", ServerIf); !strings.Contains(out, "10.77.0.1/16") {
		t.Fatalf("vsrv address: %q", out)
	}
	if _, err := top.Server.Run("ip", "link", "show", ClientIf); err == nil {
		t.Fatalf("%s visible in the server namespace", ClientIf)
	}
	if out := top.Client.MustRun("sysctl", "-n", "net.ipv6.conf."+ClientIf+".accept_dad"); strings.TrimSpace(out) != "0" {
		t.Fatalf("accept_dad on %s = %q, want 0", ClientIf, out)
	}
	// An IPv6 address added later is usable at once: never tentative, flagged nodad.
	top.Client.AddAddr(ClientIf, netip.MustParsePrefix("fd7a::2/64"))
	if out := top.Client.MustRun("ip", "-6", "addr", "show", "dev", ClientIf); !strings.Contains(out, "fd7a::2/64") ||
		!strings.Contains(out, "nodad") || strings.Contains(out, "tentative") {
		t.Fatalf("fd7a::2 on %s not added with nodad: %q", ClientIf, out)
	}

	// A socket opened from the test process in the server namespace
	// receives what a socket in the client namespace sends to 10.77.0.1.
	srv, err := top.Server.ListenUDP(netip.MustParseAddrPort("10.77.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := top.Client.ListenUDP(netip.AddrPortFrom(cli.Addr(), 0))
	if err != nil {
		t.Fatal(err)
	}
	dst := srv.LocalAddr().(interface{ AddrPort() netip.AddrPort }).AddrPort()
	if _, err := c.WriteToUDPAddrPort([]byte("ping"), dst); err != nil {
		t.Fatal(err)
	}
	srv.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 16)
	n, from, err := srv.ReadFromUDPAddrPort(buf)
	if err != nil {
		t.Fatalf("read in server namespace: %v", err)
	}
	if string(buf[:n]) != "ping" || from.Addr() != cli.Addr() {
		t.Fatalf("got %q from %v", buf[:n], from)
	}

	// The test process itself is still in its original namespace.
	if _, err := os.Stat(filepath.Join("/sys/class/net", ServerIf)); err == nil {
		t.Fatalf("%s visible from the test's own namespace", ServerIf)
	}
}

func TestProcStop(t *testing.T) {
	Require(t)
	top := New(t)
	log := filepath.Join(top.Dir, "sleep.log")
	// A process that ignores SIGTERM is killed after the grace period.
	p, err := top.Client.Start(log, "sh", "-c", "trap '' TERM; echo started; sleep 30")
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(p.Tail(1), "started") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	start := time.Now()
	if err := p.Stop(300 * time.Millisecond); err == nil {
		t.Fatal("Stop of a TERM-ignoring process reported a graceful exit")
	}
	if ok, _ := p.Exited(); !ok {
		t.Fatal("process still running after Stop")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Stop took %v", d)
	}

	// A process that honours SIGTERM stops gracefully.
	q, err := top.Server.Start(filepath.Join(top.Dir, "sleep2.log"), "sleep", "30")
	if err != nil {
		t.Fatal(err)
	}
	q.Stop(5 * time.Second)
	if ok, _ := q.Exited(); !ok {
		t.Fatal("sleep still running")
	}
}

// TestProcStopGroup: children of a started process (dhcpcd's privsep
// processes) do not outlive it. A child that ignores SIGTERM survives a
// SIGKILL of its parent alone; Stop kills the whole process group, both
// when the parent must be killed and when it exits by itself on SIGTERM.
func TestProcStopGroup(t *testing.T) {
	Require(t)
	top := New(t)
	for _, tc := range []struct {
		name, parentTrap string
		graceful         bool
	}{
		{"parent killed", "trap '' TERM;", false},
		{"parent exits", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			log := filepath.Join(top.Dir, strings.ReplaceAll(tc.name, " ", "-")+".log")
			// The child ignores TERM and runs on after its parent; its PID is logged.
			p, err := top.Client.Start(log, "sh", "-c", tc.parentTrap+" sh -c \"trap '' TERM; while :; do sleep 0.1; done\" & echo child=$!; wait")
			if err != nil {
				t.Fatal(err)
			}
			var child int
			deadline := time.Now().Add(5 * time.Second)
			for child == 0 && time.Now().Before(deadline) {
				if _, v, ok := strings.Cut(p.Tail(1), "child="); ok {
					child, _ = strconv.Atoi(strings.TrimSpace(v))
				}
				time.Sleep(20 * time.Millisecond)
			}
			if child == 0 {
				t.Fatalf("child PID not logged: %q", p.Tail(5))
			}
			err = p.Stop(300 * time.Millisecond)
			if tc.graceful != (err == nil || KilledBy(err, syscall.SIGTERM)) {
				t.Fatalf("Stop: %v (graceful exit expected: %v)", err, tc.graceful)
			}
			// Gone or a zombie waiting for init: no longer running.
			deadline = time.Now().Add(5 * time.Second)
			for running(child) {
				if time.Now().After(deadline) {
					syscall.Kill(child, syscall.SIGKILL)
					t.Fatalf("child %d of a stopped process still running", child)
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}

// running reports whether pid exists and is not a zombie.
func running(pid int) bool {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return false
	}
	_, rest, _ := strings.Cut(string(b), ") ")
	return !strings.HasPrefix(rest, "Z")
}

// TestIPv6 checks what DHCPv6 tests rely on: link-local addresses usable
// at once (no DAD, no tentative state), RA off, ServerPrefix6 on the
// server side, and a UDP datagram from the client's link-local address
// to the server's link-local address (port 547, as a DHCPv6 client sends
// to ff02::1:2 and a server answers to fe80::).
func TestIPv6(t *testing.T) {
	Require(t)
	top := New(t)
	for _, k := range []string{"accept_dad", "accept_ra", "dad_transmits"} {
		if out := top.Client.MustRun("sysctl", "-n", "net.ipv6.conf."+ClientIf+"."+k); strings.TrimSpace(out) != "0" {
			t.Fatalf("%s on %s = %q, want 0", k, ClientIf, out)
		}
	}
	if out := top.Server.MustRun("ip", "-6", "-o", "addr", "show", "dev", ServerIf); !strings.Contains(out, ServerPrefix6.String()) || strings.Contains(out, "tentative") {
		t.Fatalf("vsrv IPv6 addresses: %q, want %v and nothing tentative", out, ServerPrefix6)
	}
	sll, err := top.Server.LinkLocal(ServerIf)
	if err != nil {
		t.Fatal(err)
	}
	cll, err := top.Client.LinkLocal(ClientIf)
	if err != nil {
		t.Fatal(err)
	}
	if sll.Zone() != ServerIf || !sll.IsLinkLocalUnicast() {
		t.Fatalf("server link-local %v", sll)
	}
	srv, err := top.Server.ListenUDP(netip.AddrPortFrom(sll, 547))
	if err != nil {
		t.Fatal(err)
	}
	c, err := top.Client.ListenUDP(netip.AddrPortFrom(cll, 546))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.WriteToUDPAddrPort([]byte("solicit"), netip.AddrPortFrom(sll.WithZone(ClientIf), 547)); err != nil {
		t.Fatal(err)
	}
	srv.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 16)
	n, from, err := srv.ReadFromUDPAddrPort(buf)
	if err != nil {
		t.Fatalf("read in server namespace: %v", err)
	}
	if string(buf[:n]) != "solicit" || from.Addr().WithZone("") != cll.WithZone("") {
		t.Fatalf("got %q from %v, want from %v", buf[:n], from, cll)
	}
}

// udpReach sends a datagram from a socket on from (in a) to a socket on
// to (in b) and reports whether it arrived within wait.
func udpReach(t *testing.T, a *NS, from netip.Addr, b *NS, to netip.Addr, dst netip.Addr, wait time.Duration) bool {
	t.Helper()
	rc, err := b.ListenUDP(netip.AddrPortFrom(to, 0))
	if err != nil {
		t.Fatal(err)
	}
	sc, err := a.ListenUDP(netip.AddrPortFrom(from, 0))
	if err != nil {
		t.Fatal(err)
	}
	port := rc.LocalAddr().(*net.UDPAddr).Port
	if _, err := sc.WriteToUDPAddrPort([]byte("x"), netip.AddrPortFrom(dst, uint16(port))); err != nil {
		return false
	}
	rc.SetReadDeadline(time.Now().Add(wait))
	buf := make([]byte, 4)
	_, _, err = rc.ReadFromUDPAddrPort(buf)
	return err == nil
}

// TestRelayed: three namespaces; the relay reaches both sides, the
// server reaches the relay's downstream subnet through the relay's
// upstream address, and the client's link is not the server's.
func TestRelayed(t *testing.T) {
	Require(t)
	top := NewRelayed(t)
	if top.Relay == nil {
		t.Fatal("no relay namespace")
	}
	s6, r6 := ServerPrefix6.Addr(), RelayUpPrefix6.Addr()
	if !udpReach(t, top.Relay, r6, top.Server, s6, s6, 3*time.Second) {
		t.Fatal("relay cannot reach the server over IPv6")
	}
	if !udpReach(t, top.Server, s6, top.Relay, RelayDownPrefix6.Addr(), RelayDownPrefix6.Addr(), 3*time.Second) {
		t.Fatal("server cannot reach the relay's downstream address through the relay")
	}
	if !udpReach(t, top.Relay, RelayUpPrefix.Addr(), top.Server, ServerPrefix.Addr(), ServerPrefix.Addr(), 3*time.Second) {
		t.Fatal("relay cannot reach the server over IPv4")
	}
	cll, err := top.Client.LinkLocal(ClientIf)
	if err != nil {
		t.Fatal(err)
	}
	rll, err := top.Relay.LinkLocal(RelayDownIf)
	if err != nil {
		t.Fatal(err)
	}
	sll, err := top.Server.LinkLocal(ServerIf)
	if err != nil {
		t.Fatal(err)
	}
	// The client's link-local address is reachable from the relay's
	// downstream side only.
	if !udpReach(t, top.Relay, rll, top.Client, cll, cll.WithZone(RelayDownIf), 3*time.Second) {
		t.Fatal("relay cannot reach the client's link-local address")
	}
	if udpReach(t, top.Server, sll, top.Client, cll, cll.WithZone(ServerIf), 500*time.Millisecond) {
		t.Fatal("client link-local reachable from the server: the relay is bypassed")
	}
}

// TestChain: two relays; each link reaches only its neighbours.
func TestChain(t *testing.T) {
	Require(t)
	top := NewChain(t, 2)
	if len(top.Relays) != 2 || top.Relay != top.Relays[0] {
		t.Fatalf("relays %v, relay %v", top.Relays, top.Relay)
	}
	r0, r1 := top.Relays[0], top.Relays[1]
	up1 := netip.MustParseAddr("fd78::2")
	if !udpReach(t, r0, netip.MustParseAddr("fd78::1"), r1, up1, up1, 3*time.Second) {
		t.Fatal("relay 0 cannot reach relay 1 on link 1")
	}
	if !udpReach(t, top.Server, ServerPrefix6.Addr(), r0, RelayUpPrefix6.Addr(), RelayUpPrefix6.Addr(), 3*time.Second) {
		t.Fatal("server cannot reach relay 0")
	}
	cll, err := top.Client.LinkLocal(ClientIf)
	if err != nil {
		t.Fatal(err)
	}
	rll, err := r1.LinkLocal(RelayDownIf)
	if err != nil {
		t.Fatal(err)
	}
	if !udpReach(t, r1, rll, top.Client, cll, cll.WithZone(RelayDownIf), 3*time.Second) {
		t.Fatal("relay 1 cannot reach the client")
	}
	if out := r1.MustRun("ip", "-6", "addr", "show", "dev", RelayDownIf); !strings.Contains(out, "fd79::1/64") {
		t.Fatalf("relay 1 downstream: %q, want fd79::1/64", out)
	}
}
