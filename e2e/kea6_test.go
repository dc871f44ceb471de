package e2e

import (
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/leased/leased/internal/netns"
)

// startKea6 runs ISC Kea's kea-dhcp6 in the server namespace with
// examples/leased.yaml's office6 pool (fd77::/64, fd77::1:0-fd77::1:ffff,
// prefixes /56 from fd77:100::/40, DNS fd77::1) and the same short times
// as defaultConfig6, memfile leases in the test's directory.
func (e *env) startKea6() *netns.Proc {
	e.t.Helper()
	dir := e.path("kea6")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		e.t.Fatal(err)
	}
	cfg := map[string]any{"Dhcp6": map[string]any{
		"interfaces-config":  map[string]any{"interfaces": []string{netns.ServerIf, netns.ServerIf + "/" + netns.ServerPrefix6.Addr().String()}},
		"lease-database":     map[string]any{"type": "memfile", "persist": true, "name": filepath.Join(dir, "leases6.csv"), "lfc-interval": 0},
		"server-id":          map[string]any{"type": "LLT", "persist": false},
		"preferred-lifetime": 60, "valid-lifetime": 120, "renew-timer": 10, "rebind-timer": 40,
		"subnet6": []any{map[string]any{"id": 1, "subnet": subnet6.String(), "interface": netns.ServerIf,
			"pools":       []any{map[string]any{"pool": range6[0].String() + "-" + range6[1].String()}},
			"pd-pools":    []any{map[string]any{"prefix": pdPrefix6.Addr().String(), "prefix-len": pdPrefix6.Bits(), "delegated-len": 56}},
			"option-data": []any{map[string]any{"name": "dns-servers", "data": dns6}}},
			// Behind the relay of the relayed topology (TestRelay6's branch6).
			map[string]any{"id": 2, "subnet": "fd78::/64",
				"pools":       []any{map[string]any{"pool": "fd78::1:0-fd78::1:ffff"}},
				"pd-pools":    []any{map[string]any{"prefix": "fd78:100::", "prefix-len": 40, "delegated-len": 56}},
				"option-data": []any{map[string]any{"name": "dns-servers", "data": "fd78::53"}}}},
		"loggers": []any{map[string]any{"name": "kea-dhcp6", "severity": "INFO",
			"output_options": []any{map[string]any{"output": "stdout"}}}},
	}}
	b, _ := json.MarshalIndent(cfg, "", "  ")
	conf := filepath.Join(dir, "kea-dhcp6.json")
	if err := os.WriteFile(conf, b, 0o644); err != nil {
		e.t.Fatal(err)
	}
	log := e.path("kea-dhcp6.log")
	e.addLog(log)
	p, err := e.top.Server.StartEnv(log, []string{"KEA_LOCKFILE_DIR=" + dir, "KEA_PIDFILE_DIR=" + dir},
		"kea-dhcp6", "-c", conf)
	if err != nil {
		e.t.Fatal(err)
	}
	e.waitFor(10*time.Second, "kea-dhcp6 to listen on port 547", func() bool {
		return len(logLines(log, "DHCP6_STARTED")) > 0
	})
	return p
}

// TestKea6Harness is an optional check of the DHCPv6 client harness
// itself against ISC Kea 2.2 (not leased): dhcpcd -6 IA_NA + IA_PD
// obtain, renew, rebind, release; dhclient -6 and -6 -P obtain and
// release; a short perfdhcp -6 run. It shows that a failure of the same
// steps against leased is leased's. It runs only with LEASED_E2E_KEA6=1.
func TestKea6Harness(t *testing.T) {
	if os.Getenv("LEASED_E2E_KEA6") == "" {
		t.Skip("optional harness check against Kea: set LEASED_E2E_KEA6=1 to run it")
	}
	e := newEnvNoLeased(t, false, "kea-dhcp6", "dhcpcd", "dhclient", "perfdhcp", "ss")
	e.startKea6()

	c := e.startDhcpcd6("dhcpcd6", dhcpcd6Opts{PD: true})
	ev, n := c.waitEvent(15*time.Second, 0, "BOUND6")
	addr, pd, dns := ev.v6()
	if !netip.PrefixFrom(range6[0], 112).Contains(addr) || pd.Bits() != 56 || !pdPrefix6.Contains(pd.Addr()) || dns != dns6 {
		e.fatalf("dhcpcd BOUND6: address %v prefix %v dns %q", addr, pd, dns)
	}
	c.ctl("-N")
	_, n = c.waitEvent(10*time.Second, n, "RENEW6")
	c.ctl("-n")
	_, n = c.waitEvent(10*time.Second, n, "REBIND6")
	c.ctl("-k")
	c.waitEvent(10*time.Second, n, "RELEASE6")
	t.Logf("dhcpcd -6 against Kea: %s", c.reasons())

	for _, pdOnly := range []bool{false, true} {
		name := "dhclient6"
		if pdOnly {
			name = "dhclient6-P"
		}
		d := e.startDhclient6(name, pdOnly)
		ev, _ := d.waitEvent(15*time.Second, 0, "BOUND6")
		a, p, _ := ev.v6()
		if pdOnly && (!p.IsValid() || a.IsValid()) || !pdOnly && (!a.IsValid() || p.IsValid()) {
			e.fatalf("%s BOUND6: address %v prefix %v", name, a, p)
		}
		d.release()
		d.waitEvent(10*time.Second, 0, "RELEASE6")
		t.Logf("%s against Kea: %s", name, d.reasons())
	}

	r := e.runPerfdhcp6("-r", "200", "-R", "500", "-n", "500", "-p", "20")
	t.Logf("perfdhcp -6 against Kea: %v", r)
	if r.RR.Received < 500 || r.SA.Drops+r.RR.Drops != 0 {
		e.fatalf("perfdhcp -6 against Kea lost exchanges: %v", r)
	}
	fast := e.runPerfdhcp6("-b", "mac=02:60:00:00:00:00", "-R", "20000", "-p", "3")
	t.Logf("perfdhcp -6 flat out against Kea: %v", fast)

	// Through dhcrelay -6 -I: Kea selects fd78::/64 by the link-address
	// and echoes the Interface-ID.
	t.Run("relay", func(t *testing.T) {
		e := newEnvNoLeased(t, true, "kea-dhcp6", "dhcpcd", "dhcrelay", "ss")
		e.startKea6()
		e.startDhcrelay6()
		c := e.startDhcpcd6("dhcpcd6", dhcpcd6Opts{PD: true})
		ev, n := c.waitEvent(20*time.Second, 0, "BOUND6")
		a, p, dns := ev.v6()
		if !netip.MustParsePrefix("fd78::/64").Contains(a) || p.Bits() != 56 || dns != "fd78::53" {
			e.fatalf("BOUND6 through the relay: %v %v %q", a, p, dns)
		}
		c.ctl("-N")
		c.waitEvent(10*time.Second, n, "RENEW6")
		t.Logf("dhcpcd -6 via dhcrelay against Kea: %s", c.reasons())
	})
}
