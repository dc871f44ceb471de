package e2e

import (
	"fmt"
	"testing"
	"time"
)

// TestDhcpcdReservedHostname (issue #10 item 8): a reservation's hostname
// reaches dhcpcd as option 12: after the operator reserves dhcpcd's MAC
// with a hostname and reloads, dhcpcd's renewal ACK carries it and its hook
// sees new_host_name.
func TestDhcpcdReservedHostname(t *testing.T) {
	e := newEnv(t, "dhcpcd", "ss")
	srv := e.startLeasedWith(gateway, "")
	c := e.startDhcpcd("dhcpcd", false)
	ev, n := c.waitEvent(15*time.Second, 0, "BOUND")
	addr := checkBoundVars(e, ev)
	if h := ev.Vars["new_host_name"]; h != "" {
		e.fatalf("BOUND before any reservation: new_host_name %q", h)
	}
	l := srv.waitState(addr, "bound", 5*time.Second)
	srv.writeConfigWith(gateway, fmt.Sprintf("      reservations:\n        - {hwaddr: %q, address: %s, hostname: printer-1}\n", l.HWAddr, addr))
	srv.reload()
	c.ctl("-N")
	ev, _ = c.waitEvent(10*time.Second, n, "RENEW")
	if h := ev.Vars["new_host_name"]; h != "printer-1" {
		e.fatalf("RENEW after reserving a hostname: new_host_name %q, want printer-1 (vars %v)", h, ev.Vars)
	}
	srv.Stop()
}
