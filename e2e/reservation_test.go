package e2e

import (
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// TestDhcpcdRuntimeReservation (issue #14): `leasectl reservation add`
// on a running leased — no restart, no reload — reserves an address
// outside the sections for dhcpcd's MAC with a host name; dhcpcd, which
// held a dynamic address, binds the reserved one at its next DISCOVER
// (its restart: with an RFC 6704 key it drops its lease file) and its
// hook sees the host name. `leasectl reservation list` shows it as
// runtime beside nothing configured; deleting it leaves the lease bound.
func TestDhcpcdRuntimeReservation(t *testing.T) {
	e := newEnv(t, "dhcpcd")
	srv := e.startLeasedWith(gateway, "")
	c := e.startDhcpcd("dhcpcd", false)
	ev, n := c.waitEvent(15*time.Second, 0, "BOUND")
	first := checkBoundVars(e, ev)
	l := srv.waitState(first, "bound", 5*time.Second)
	reserved := netip.MustParseAddr("10.77.3.7")

	code, out, errs := srv.leasectl("reservation", "add", reserved.String(), "--hwaddr", l.HWAddr, "--hostname", "runtime-1")
	if code != 0 || !strings.Contains(out, "reserved 10.77.3.7 for hwaddr "+l.HWAddr+" in pool office") {
		e.fatalf("reservation add: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	// Another client's address, and the same client twice: refused.
	if code, _, errs := srv.leasectl("reservation", "add", first.String(), "--hwaddr", "02:99:00:00:00:01"); code != 1 || !strings.Contains(errs, "by another client") {
		e.fatalf("reserving a bound address for someone else: exit %d, stderr %q", code, errs)
	}
	c.stop()
	c.start()
	ev, _ = c.waitEvent(15*time.Second, n, "BOUND", "REBOOT")
	if got := checkBoundVars(e, ev); got != reserved {
		e.fatalf("after the reservation dhcpcd bound %v (%s), want %v", got, ev.Reason, reserved)
	}
	if h := ev.Vars["new_host_name"]; h != "runtime-1" {
		e.fatalf("new_host_name %q, want runtime-1 (vars %v)", h, ev.Vars)
	}
	srv.waitState(reserved, "bound", 5*time.Second)

	code, out, errs = srv.leasectl("--json", "reservation", "list")
	var list []struct {
		Source, Pool, HWAddr string
		Address              netip.Addr
	}
	if code != 0 || json.Unmarshal([]byte(out), &list) != nil || len(list) != 1 || list[0].Source != "runtime" ||
		list[0].Address != reserved || list[0].Pool != "office" {
		e.fatalf("reservation list: exit %d %s %s", code, out, errs)
	}
	if code, _, errs := srv.leasectl("reservation", "delete", reserved.String()); code != 0 {
		e.fatalf("reservation delete: exit %d %s", code, errs)
	}
	srv.waitState(reserved, "bound", 5*time.Second) // the lease is not touched
	c.stop()
	srv.Stop()
}

// TestDhcpcd6RuntimeReservation (issue #14): the DHCPv6 side —
// `leasectl reservation add ADDR --prefix P --duid DUID` for dhcpcd -6's
// DUID on a running leased; dhcpcd restarts (with a reconfigure key it
// has dropped its lease file and solicits) and binds the reserved address
// and prefix.
func TestDhcpcd6RuntimeReservation(t *testing.T) {
	e := newEnv(t, "dhcpcd")
	srv := e.startLeased6(defaultConfig6())
	c := e.startDhcpcd6("dhcpcd6", dhcpcd6Opts{PD: true})
	ev, n := c.waitEvent(15*time.Second, 0, "BOUND6")
	addr, _ := checkBound6(e, ev, true, true, dns6)
	l := srv.waitState6(netip.PrefixFrom(addr, 128), "bound", 5*time.Second)
	ra, rp := netip.MustParseAddr("fd77::1:4242"), netip.MustParsePrefix("fd77:100:42::/56")
	code, out, errs := srv.leasectl("reservation", "add", ra.String(), "--prefix", rp.String(), "--duid", l.DUID)
	if code != 0 || !strings.Contains(out, "in pool office6") {
		e.fatalf("reservation add: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	c.stop()
	c.start()
	ev, _ = c.waitEvent(15*time.Second, n, "BOUND6", "REBIND6", "REBOOT6")
	if a, p := checkBound6(e, ev, true, true, dns6); a != ra || p != rp {
		e.fatalf("after the reservation dhcpcd -6 bound %v %v (%s), want %v %v", a, p, ev.Reason, ra, rp)
	}
	srv.waitState6(netip.PrefixFrom(ra, 128), "bound", 5*time.Second)
	c.stop()
	srv.Stop()
}
