package e2e

import (
	"net/netip"
	"testing"
	"time"
)

// TestStrictReconfigure6 (issue #10 item 5, Junos support-option-check):
// in a pool with reconfigure.strict, dhcpcd -6 without `option
// reconfigure_accept` gets no Advertise and binds nothing (leased logs the
// refusal at debug); dhcpcd -6 with the option binds.
func TestStrictReconfigure6(t *testing.T) {
	t.Parallel() // waits on client timers, little CPU: see README.md
	e := newEnv(t, "dhcpcd", "ss")
	cfg := defaultConfig6()
	cfg.Pools[0].Extra = "      reconfigure: {strict: true}\n"
	srv := e.startLeased6(cfg)

	c := e.startDhcpcd6("dhcpcd6-noaccept", dhcpcd6Opts{NoReconfAccept: true})
	neverEvent(e, c.events, 6*time.Second, "BOUND6", "dhcpcd -6 without Reconfigure Accept in a strict pool")
	if len(logLines(srv.log, "dhcpv6 client refused by strict pool")) == 0 {
		e.fatalf("leased logged no refusal of dhcpcd's Solicit")
	}
	if ls := srv.Leases6(); len(ls) != 0 {
		e.fatalf("leases after a refused client: %+v", ls)
	}
	c.stop()

	d := e.startDhcpcd6("dhcpcd6-accept", dhcpcd6Opts{})
	ev, _ := d.waitEvent(15*time.Second, 0, "BOUND6")
	a, _ := checkBound6(e, ev, true, false, dns6)
	srv.waitState6(netip.PrefixFrom(a, 128), "bound", 5*time.Second)
	if x := srv.detail(a); !x.ForceRenewCapable {
		e.fatalf("dhcpcd with Reconfigure Accept bound but not capable: %+v", x)
	}
	d.stop()
	srv.Stop()
}

// TestStrictForceRenew4 (issue #10 item 5): in a pool with
// forcerenew.strict, dhcpcd with `nooption forcerenew_nonce_capable` (no
// option 145, like dhclient and udhcpc) gets no OFFER; dhcpcd with its
// default RFC 6704 support binds and is capable.
func TestStrictForceRenew4(t *testing.T) {
	t.Parallel() // waits on client timers, little CPU: see README.md
	e := newEnv(t, "dhcpcd", "ss")
	srv := e.startLeasedWith(gateway, "      forcerenew: {strict: true}\n")

	c := e.startDhcpcdConf("dhcpcd-no145", "nooption forcerenew_nonce_capable\n")
	neverEvent(e, c.events, 6*time.Second, "BOUND", "dhcpcd without option 145 in a strict pool")
	if len(logLines(srv.log, "dhcpv4 client refused by strict pool")) == 0 {
		e.fatalf("leased logged no refusal of dhcpcd's DISCOVER")
	}
	if ls := srv.Leases(); len(ls) != 0 {
		e.fatalf("leases after a refused client: %+v", ls)
	}
	c.stop()

	d := e.startDhcpcd("dhcpcd", false)
	ev, _ := d.waitEvent(15*time.Second, 0, "BOUND")
	a := checkBoundVars(e, ev)
	srv.waitState(a, "bound", 5*time.Second)
	if x := srv.detail(a); !x.ForceRenewCapable {
		e.fatalf("dhcpcd with option 145 bound but not capable: %+v", x)
	}
	d.stop()
	srv.Stop()
}

// neverEvent watches a client's hook log for d and fails as soon as it
// shows reason.
func neverEvent(e *env, events func() []hookEvent, d time.Duration, reason, what string) {
	e.t.Helper()
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		for _, ev := range events() {
			if ev.Reason == reason {
				e.fatalf("%s: hook logged %s (%v)", what, reason, ev.addr())
			}
		}
	}
}
