package e2e

import (
	"net/netip"
	"regexp"
	"testing"
	"time"
)

// TestReconfigure6NotCapable: with require_reconfigure_accept at its
// default (true), clients that never sent Reconfigure Accept (option 20)
// get no reconfigure key (RFC 8415 §20.4: the key goes only to clients
// that announced it) and a campaign reports them not_capable without
// sending anything: dhcpcd -6 without `option reconfigure_accept`, and
// ISC dhclient -6, which never sends it. `leasectl reconfigure send`
// refuses them (exit 1). dhcpcd with the option is marked capable.
func TestReconfigure6NotCapable(t *testing.T) {
	e := newEnv(t, "dhcpcd", "dhclient", "ss")
	srv := e.startLeased6(defaultConfig6())

	c := e.startDhcpcd6("dhcpcd6", dhcpcd6Opts{NoReconfAccept: true})
	ev, _ := c.waitEvent(15*time.Second, 0, "BOUND6")
	a1, _ := checkBound6(e, ev, true, false, dns6)
	srv.waitState6(netip.PrefixFrom(a1, 128), "bound", 5*time.Second)
	if _, _, err := c.reconfigureKey(); err == nil {
		e.fatalf("dhcpcd sent no Reconfigure Accept but its Reply carries a reconfigure key")
	}
	if d := srv.detail(a1); d.ForceRenewCapable {
		e.fatalf("lease %v marked capable (forcerenew_capable) without Reconfigure Accept: %+v", a1, d)
	}
	if code, out, errs := srv.leasectl("reconfigure", "send", a1.String()); code != 1 {
		e.fatalf("leasectl reconfigure send to a client without a key: exit %d (want 1), %q %q", code, out, errs)
	}
	// dhcpcd and dhclient cannot share vcli's port 546: one at a time.
	c.stop()

	d := e.startDhclient6("dhclient6", false)
	ev, _ = d.waitEvent(15*time.Second, 0, "BOUND6")
	a2, _ := checkBound6(e, ev, true, false, dns6)
	srv.waitState6(netip.PrefixFrom(a2, 128), "bound", 5*time.Second)
	if x := srv.detail(a2); x.ForceRenewCapable {
		e.fatalf("dhclient -6 lease %v marked capable: %+v", a2, x)
	}

	code, out, errs := srv.leasectl(reconfigureStartArgs("office6")...)
	t.Logf("campaign (exit %d):\n%s%s", code, out, errs)
	if code != 1 || !regexp.MustCompile(`(?m)^not_capable\s+2$`).MatchString(out) || regexp.MustCompile(`(?m)^renewed\s`).MatchString(out) {
		e.fatalf("campaign over a dhcpcd without Reconfigure Accept and a dhclient -6: exit %d, want 1 with 2 not_capable:\n%s\n%s", code, out, errs)
	}
	if sent := logLines(srv.log, `"msg":"reconfigure sent"`); len(sent) != 0 {
		e.fatalf("leased sent a Reconfigure to a client without a key: %s", sent[0])
	}
	d.release()
	srv.Stop()
}
