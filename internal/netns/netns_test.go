package netns

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
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
