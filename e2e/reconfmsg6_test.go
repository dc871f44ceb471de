package e2e

import (
	"regexp"
	"testing"
	"time"
)

// TestDhcpcd6ReconfigureMessage: a pool's reconfigure.message reaches the
// wire (option 19, RFC 8415 §21.19) and dhcpcd 9.4.1 says what it does
// with it: it acts only on Renew (TestDhcpcd6Reconfigure); it logs
// "unsupported RECONFIGURE6 type 6" for Rebind, and ignores
// Information-request unless it runs stateless ("not informed"). The
// campaign then ends no_response (exit 1) and dhcpcd's lease is untouched.
func TestDhcpcd6ReconfigureMessage(t *testing.T) {
	for _, tc := range []struct{ msg, log string }{
		{"rebind", "unsupported RECONFIGURE6 type 6"},
		{"information-request", "not informed, ignoring RECONFIGURE6"},
	} {
		t.Run(tc.msg, func(t *testing.T) {
			e := newEnv(t, "dhcpcd", "ss")
			cfg := defaultConfig6()
			cfg.T1, cfg.T2 = "50s", "55s"
			cfg.Pools[0].Extra = "      reconfigure: {message: " + tc.msg + "}\n"
			srv := e.startLeased6(cfg)
			c := e.startDhcpcd6("dhcpcd6", dhcpcd6Opts{})
			_, n := c.waitEvent(15*time.Second, 0, "BOUND6")
			code, out, errs := srv.leasectl("reconfigure", "start", "--family", "6", "--pool", "office6",
				"--attempts", "2", "--interval", "500ms", "--wait")
			if code != 1 || !regexp.MustCompile(`(?m)^no_response\s+1$`).MatchString(out) {
				e.fatalf("campaign with message %s: exit %d, want 1 with no_response 1:\n%s\n%s", tc.msg, code, out, errs)
			}
			if got := len(logLines(c.log, tc.log)); got != 2 {
				e.fatalf("dhcpcd logged %q %d times, want once per Reconfigure (2)", tc.log, got)
			}
			if evs := c.events(); len(evs) > n {
				e.fatalf("dhcpcd acted on a Reconfigure %s: %s", tc.msg, c.reasons())
			}
			srv.Stop()
		})
	}
}
