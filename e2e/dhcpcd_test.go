package e2e

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/leased/leased/internal/netns"
)

var (
	section0 = netip.MustParsePrefix("10.77.1.0/24")
	gateway  = "10.77.0.1"
)

// clientMAC is the hardware address of vcli in the client namespace.
func (e *env) clientMAC() string {
	e.t.Helper()
	out := e.top.Client.MustRun("cat", "/sys/class/net/"+netns.ClientIf+"/address")
	return strings.TrimSpace(out)
}

// waitState waits until leasectl shows addr in state and returns it.
func (l *Leased) waitState(addr netip.Addr, state string, d time.Duration) LeaseJSON {
	l.e.t.Helper()
	var got LeaseJSON
	l.e.waitFor(d, "leasectl to show "+addr.String()+" "+state, func() bool {
		x, ok := l.Lease(addr)
		got = x
		return ok && x.State == state
	})
	return got
}

// waitExpiryAfter waits until leasectl shows addr bound by a newer record
// than prev (a higher seq: the renewal was committed) whose expiry is not
// earlier. Waiting on seq, not on the clock, means no sleep is needed for
// the expiry to move by a whole second.
func (l *Leased) waitExpiryAfter(addr netip.Addr, prev LeaseJSON, d time.Duration) LeaseJSON {
	l.e.t.Helper()
	var got LeaseJSON
	l.e.waitFor(d, fmt.Sprintf("leasectl to show %v bound with seq > %d and expiry >= %s", addr, prev.Seq, prev.Expires.Format(time.RFC3339Nano)), func() bool {
		x, ok := l.Lease(addr)
		got = x
		return ok && x.State == "bound" && x.Seq > prev.Seq && !x.Expires.Before(prev.Expires)
	})
	return got
}

func checkBoundVars(e *env, ev hookEvent) netip.Addr {
	e.t.Helper()
	a := ev.addr()
	if !a.IsValid() {
		e.fatalf("hook event %s without an address: %v", ev.Reason, ev.Vars)
	}
	if r := ev.Vars["new_routers"] + ev.Vars["router"]; r != gateway {
		e.fatalf("%s: routers = %q, want %s", ev.Reason, r, gateway)
	}
	if d := ev.Vars["new_domain_name_servers"] + ev.Vars["dns"]; d != gateway {
		e.fatalf("%s: DNS = %q, want %s", ev.Reason, d, gateway)
	}
	return a
}

// TestDhcpcd: DORA, renew (-N), rebind (-n) and release (-k), each seen by
// the client's hook and by leasectl. dhcpcd announces option 145, so its
// ACKs carry an RFC 6704 reconfigure key; after a restart (dhcpcd then
// deletes its lease file) it gets its previous address back by DORA.
func TestDhcpcd(t *testing.T) {
	e := newEnv(t, "dhcpcd", "ss")
	srv := e.startLeased(defaultConfig())
	mac := e.clientMAC()

	c := e.startDhcpcd("dhcpcd", false)
	ev, n := c.waitEvent(15*time.Second, 0, "BOUND")
	addr := checkBoundVars(e, ev)
	if !section0.Contains(addr) {
		e.fatalf("DORA gave %v, want an address in section 0 (%v)", addr, section0)
	}
	if ev.Vars["new_auth_protocol"] != "3" {
		e.fatalf("BOUND without an accepted RFC 6704 reconfigure key (auth protocol 3): %v", ev.Vars)
	}
	l := srv.waitState(addr, "bound", 5*time.Second)
	if !strings.EqualFold(l.HWAddr, mac) || l.Pool != "office" || l.Section != 0 {
		e.fatalf("leasectl after DORA: %+v, want hwaddr %s pool office section 0", l, mac)
	}
	if d := time.Until(l.Expires); d < 100*time.Second || d > 125*time.Second {
		e.fatalf("expiry %v is %v from now, want about the 2m lease time", l.Expires, d)
	}

	// Renew: RFC 2131 §4.3.2 RENEWING, unicast REQUEST with ciaddr.
	c.ctl("-N")
	ev, n = c.waitEvent(10*time.Second, n, "RENEW")
	if a := checkBoundVars(e, ev); a != addr {
		e.fatalf("renew gave %v, want %v", a, addr)
	}
	l = srv.waitExpiryAfter(addr, l, 5*time.Second)

	// Rebind: dhcpcd -n re-reads its lease and broadcasts a REQUEST
	// without server id (REBINDING); its hook then says RENEW or REBIND.
	c.ctl("-n")
	ev, n = c.waitEvent(10*time.Second, n, "REBIND", "RENEW")
	if a := checkBoundVars(e, ev); a != addr {
		e.fatalf("rebind gave %v, want %v", a, addr)
	}
	l = srv.waitExpiryAfter(addr, l, 5*time.Second)

	// Restart: the lease file is gone (reconfigure key), DORA again gives
	// the client its previous address (RFC 2131 §4.3.1).
	c.stop()
	if x, _ := srv.Lease(addr); x.State != "bound" {
		e.fatalf("after dhcpcd stopped without release: %+v, want bound", x)
	}
	c.start()
	ev, n = c.waitEvent(15*time.Second, n, "REBOOT", "BOUND")
	if a := checkBoundVars(e, ev); a != addr {
		e.fatalf("after restart dhcpcd got %v, want its previous %v", a, addr)
	}
	l = srv.waitExpiryAfter(addr, l, 5*time.Second)

	// Release: dhcpcd -k sends DHCPRELEASE and exits.
	c.ctl("-k")
	c.waitEvent(10*time.Second, n, "STOPPED", "RELEASE")
	if log := netns.TailFile(c.log, 30); !strings.Contains(log, "sending RELEASE") {
		e.fatalf("dhcpcd -k did not send RELEASE")
	}
	srv.waitState(addr, "released", 5*time.Second)
	if exited, _ := c.proc.Wait(10 * time.Second); !exited {
		e.fatalf("dhcpcd still running after -k")
	}
	e.checkUnique(srv.Leases())
	srv.Stop()
	t.Logf("dhcpcd hook: %s", c.reasons())
}

// TestDhcpcdInitReboot: dhcpcd restarted with its lease file does an
// INIT-REBOOT (RFC 2131 §4.3.2: REQUEST with requested address, no server
// id) and is ACKed the same address (hook reason REBOOT).
func TestDhcpcdInitReboot(t *testing.T) {
	e := newEnv(t, "dhcpcd", "ss")
	srv := e.startLeased(defaultConfig())
	c := e.startDhcpcdOpts("dhcpcd", dhcpcdOpts{NoNonce: true})
	ev, n := c.waitEvent(15*time.Second, 0, "BOUND")
	addr := checkBoundVars(e, ev)
	l := srv.waitState(addr, "bound", 5*time.Second)
	c.stop()

	c.start()
	ev, _ = c.waitEvent(15*time.Second, n, "REBOOT", "BOUND")
	if ev.Reason != "REBOOT" {
		e.fatalf("after restart with a lease file: reason %s, want REBOOT (INIT-REBOOT ACK)", ev.Reason)
	}
	if a := checkBoundVars(e, ev); a != addr {
		e.fatalf("INIT-REBOOT gave %v, want the same %v", a, addr)
	}
	srv.waitExpiryAfter(addr, l, 5*time.Second)
	e.checkUnique(srv.Leases())
	t.Logf("dhcpcd hook: %s", c.reasons())
}

// TestDhcpcdRebootNAK: the client's old address is no longer valid after
// leased restarts with moved sections; its INIT-REBOOT gets a NAK
// (RFC 2131 §4.3.2) and it then binds a new address in the new section.
func TestDhcpcdRebootNAK(t *testing.T) {
	e := newEnv(t, "dhcpcd", "ss")
	cfg := defaultConfig()
	srv := e.startLeased(cfg)
	c := e.startDhcpcdOpts("dhcpcd", dhcpcdOpts{NoNonce: true})
	ev, n := c.waitEvent(15*time.Second, 0, "BOUND")
	old := checkBoundVars(e, ev)
	srv.waitState(old, "bound", 5*time.Second)
	c.stop()

	srv.Stop()
	cfg.Pools[0].Sections = [][2]string{{"10.77.5.0", "10.77.5.255"}, {"10.77.6.0", "10.77.6.255"}}
	srv.Reconfig(cfg)
	srv.Start()

	c.start()
	_, n = c.waitEvent(15*time.Second, n, "NAK")
	ev, _ = c.waitEvent(20*time.Second, n, "BOUND")
	a := checkBoundVars(e, ev)
	if !netip.MustParsePrefix("10.77.5.0/24").Contains(a) {
		e.fatalf("after NAK got %v, want an address in the new section 0 10.77.5.0/24", a)
	}
	srv.waitState(a, "bound", 5*time.Second)
	e.checkUnique(srv.Leases())
	t.Logf("dhcpcd hook: %s", c.reasons())
}
