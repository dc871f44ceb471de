package e2e

import (
	"github.com/leased/leased/internal/netns"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestDhcpcd6Restart: leased restarts and keeps its DHCPv6 state: the
// bindings come back from the store and the server DUID is the persisted
// one, so dhcpcd's Renew (which names the server by DUID, RFC 8415
// §18.2.4, and is ignored by any other server, §16.6) is answered with the
// same address and prefix. Then dhcpcd restarts: holding a reconfigure
// key it has dropped its lease file and solicits, and gets the same
// bindings; without a key it rebinds its prior lease (REBIND6).
func TestDhcpcd6Restart(t *testing.T) {
	e := newEnv(t, "dhcpcd", "ss")
	cfg := defaultConfig6()
	cfg.T1, cfg.T2 = "50s", "55s"
	srv := e.startLeased6(cfg)
	c := e.startDhcpcd6("dhcpcd6", dhcpcd6Opts{PD: true})
	ev, n := c.waitEvent(15*time.Second, 0, "BOUND6")
	addr, pd := checkBound6(e, ev, true, true, dns6)
	sid := ev.Vars["new_dhcp6_server_id"]
	na := netip.PrefixFrom(addr, 128)
	l := srv.waitState6(na, "bound", 5*time.Second)

	srv.Stop()
	srv.Start6()
	if x, ok := srv.Lease6(na); !ok || x.State != "bound" || !x.Expires.Equal(l.Expires) {
		e.fatalf("after leased restarted: %+v (found %v), want %+v", x, ok, l)
	}
	c.ctl("-N")
	ev, n = c.waitEvent(10*time.Second, n, "RENEW6")
	if a, p := checkBound6(e, ev, true, true, dns6); a != addr || p != pd {
		e.fatalf("renew after leased restarted gave %v %v, want %v %v", a, p, addr, pd)
	}
	if got := ev.Vars["new_dhcp6_server_id"]; got != sid {
		e.fatalf("server DUID changed across the restart: %s, was %s", got, sid)
	}
	l = srv.waitExpiry6After(na, l, 5*time.Second)

	// dhcpcd deletes its lease file when it stops holding a reconfigure
	// key (as for DHCPv4): restarted, it solicits, and leased gives the
	// same DUID and IAIDs their bindings back.
	c.stop()
	if _, err := os.Stat(filepath.Join(c.dir, "lib", netns.ClientIf+".lease6")); err == nil {
		t.Logf("dhcpcd kept its lease file although it held a reconfigure key")
	}
	c.start()
	ev, _ = c.waitEvent(15*time.Second, n, "REBIND6", "BOUND6", "REBOOT6")
	if a, p := checkBound6(e, ev, true, true, dns6); a != addr || p != pd {
		e.fatalf("after dhcpcd restarted (%s): %v %v, want %v %v", ev.Reason, a, p, addr, pd)
	}
	srv.waitExpiry6After(na, l, 5*time.Second)
	c.stop()

	// Without Reconfigure Accept there is no key and the lease file stays:
	// restarted, dhcpcd rebinds its prior lease (Rebind, §18.2.5) and
	// leased confirms the same bindings.
	c2 := e.startDhcpcd6("dhcpcd6-nokey", dhcpcd6Opts{PD: true, NoReconfAccept: true})
	ev, n = c2.waitEvent(15*time.Second, 0, "BOUND6")
	addr2, pd2 := checkBound6(e, ev, true, true, dns6)
	l2 := srv.waitState6(netip.PrefixFrom(addr2, 128), "bound", 5*time.Second)
	c2.stop()
	if _, err := os.Stat(filepath.Join(c2.dir, "lib", netns.ClientIf+".lease6")); err != nil {
		e.fatalf("dhcpcd without a reconfigure key lost its lease file: %v", err)
	}
	c2.start()
	ev, _ = c2.waitEvent(15*time.Second, n, "REBIND6", "BOUND6", "REBOOT6")
	if a, p := checkBound6(e, ev, true, true, dns6); ev.Reason != "REBIND6" || a != addr2 || p != pd2 {
		e.fatalf("after dhcpcd restarted with its lease file: %s %v %v, want REBIND6 %v %v", ev.Reason, a, p, addr2, pd2)
	}
	srv.waitExpiry6After(netip.PrefixFrom(addr2, 128), l2, 5*time.Second)
	e.checkUnique6(srv.Leases6())
	srv.Stop()
	t.Logf("dhcpcd -6 hook: %s; without key: %s", c.reasons(), c2.reasons())
}
