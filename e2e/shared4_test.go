package e2e

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/leased/leased/internal/netns"
)

// startLeasedYAML starts leased with the dhcpv4 section given (the data
// directory, log level and control socket are the test's).
func (e *env) startLeasedYAML(section string) *Leased {
	e.t.Helper()
	dir := e.path("leased")
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		e.t.Fatal(err)
	}
	l := &Leased{e: e, cfgPath: filepath.Join(dir, "leased.yaml"),
		sock: filepath.Join(dir, "control.sock"), log: e.path("leased.log")}
	e.addLog(l.log)
	y := fmt.Sprintf("data_dir: %s\nlog_level: debug\ncontrol: {socket: %s}\n%s", filepath.Join(dir, "data"), l.sock, section)
	if err := os.WriteFile(l.cfgPath, []byte(y), 0o644); err != nil {
		e.t.Fatal(err)
	}
	l.Start()
	return l
}

// sharedNetworkConfig: two subnets on the server's link, two addresses
// each; with shared, both are in shared network lan.
func sharedNetworkConfig(shared bool) string {
	sn := ""
	if shared {
		sn = "      shared_network: lan\n"
	}
	return fmt.Sprintf(`dhcpv4:
  interfaces: [%s]
  lease_time: 2m
  offer_hold: 10s
  pools:
    - name: first
      subnet: 10.77.0.0/16
      gateway: 10.77.0.1
      dns: [10.77.0.1]
      authoritative: true
%s      sections: [{index: 0, start: 10.77.1.10, end: 10.77.1.11}]
    - name: second
      subnet: 10.78.0.0/24
      gateway: 10.78.0.1
      dns: [10.77.0.1]
      authoritative: true
%s      sections: [{index: 0, start: 10.78.0.10, end: 10.78.0.11}]
`, netns.ServerIf, sn, sn)
}

// TestSharedNetworkDhcpcd (issue #13): two subnets share the server's
// link (shared_network); the link's own subnet has two addresses. Three
// dhcpcd clients (distinct DUIDs, one after the other on the client link,
// each keeping its lease) bind: the first two in 10.77.1.10-11, the third
// in the second subnet 10.78.0.10-11. Without shared_network the third
// gets nothing (TestSharedNetworkDhcpcd/off checks that too).
func TestSharedNetworkDhcpcd(t *testing.T) {
	t.Parallel() // waits on client timers, little CPU: see README.md
	for _, shared := range []bool{true, false} {
		name := map[bool]string{true: "on", false: "off"}[shared]
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, "dhcpcd", "ss")
			srv := e.startLeasedYAML(sharedNetworkConfig(shared))
			first := netip.MustParsePrefix("10.77.1.10/31")
			second := netip.MustParsePrefix("10.78.0.10/31")
			var got []netip.Addr
			for i := 1; i <= 3; i++ {
				n := fmt.Sprintf("c%d", i)
				// A DUID of its own (RFC 4361 client identifier): three
				// clients on one interface.
				if err := os.MkdirAll(filepath.Join(e.path(n), "lib"), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(e.path(n), "lib", "duid"), fmt.Appendf(nil, "00:02:00:00:de:ad:00:0%d\n", i), 0o644); err != nil {
					t.Fatal(err)
				}
				c := e.startDhcpcdConf(n, "duid\n")
				if i == 3 && !shared {
					time.Sleep(8 * time.Second) // DISCOVERs at 0, ~4 s, ~8 s
					for _, ev := range c.events() {
						if ev.Reason == "BOUND" {
							e.fatalf("without shared_network the third client bound %v", ev.Vars)
						}
					}
					c.stop()
					break
				}
				ev, _ := c.waitEvent(20*time.Second, 0, "BOUND")
				a := ev.addr()
				got = append(got, a)
				c.stop() // SIGTERM: the lease is kept
				srv.waitState(a, "bound", 5*time.Second)
				l, _ := srv.Lease(a)
				switch {
				case i < 3 && !first.Contains(a):
					e.fatalf("client %d bound %v, want one of the first subnet's 10.77.1.10-11", i, a)
				case i == 3 && !second.Contains(a):
					e.fatalf("client 3 bound %v, want the second subnet's 10.78.0.10-11 (first full)", a)
				case i == 3 && ev.Vars["new_routers"] != "10.78.0.1":
					e.fatalf("client 3 routers %q, want the second subnet's 10.78.0.1", ev.Vars["new_routers"])
				case l.Pool != map[bool]string{true: "first", false: "second"}[i < 3]:
					e.fatalf("client %d lease %+v: wrong pool", i, l)
				}
			}
			t.Logf("bound: %v", got)
			if len(got) >= 2 && got[0] == got[1] {
				e.fatalf("two clients share %v", got[0])
			}
			srv.Stop()
		})
	}
}
