package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// startLeasedClasses starts leased with the default pool, the lines
// classes inserted at dhcpv4 level (before pools:) and pool lines
// appended to the pool.
func (e *env) startLeasedClasses(classes, pool string) *Leased {
	e.t.Helper()
	dir := e.path("leased")
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		e.t.Fatal(err)
	}
	l := &Leased{e: e, cfgPath: filepath.Join(dir, "leased.yaml"),
		sock: filepath.Join(dir, "control.sock"), log: e.path("leased.log")}
	e.addLog(l.log)
	l.writeClasses(classes, pool)
	l.Start()
	return l
}

func (l *Leased) writeClasses(classes, pool string) {
	l.e.t.Helper()
	y := defaultConfig().yaml(filepath.Join(filepath.Dir(l.cfgPath), "data"), l.sock)
	if !strings.Contains(y, "  pools:\n") || !strings.Contains(y, "      dns: ["+gateway+"]\n") {
		l.e.t.Fatalf("unexpected default config:\n%s", y)
	}
	y = strings.Replace(y, "  pools:\n", classes+"  pools:\n", 1)
	y = strings.Replace(y, "      dns: ["+gateway+"]\n", "      dns: ["+gateway+"]\n"+pool, 1)
	if err := os.WriteFile(l.cfgPath, []byte(y), 0o644); err != nil {
		l.e.t.Fatal(err)
	}
}

// TestClassVendorDhcpcd (issue #13): a class matching dhcpcd's vendor
// class (option 60, dhcpcd -i / vendorclassid) gives it other DNS and NTP
// servers than the pool's: the hook sees them. A user class (option 77,
// -u / userclass) class sets the lease time. Then the pool denies
// unknown clients and a dhcpcd without a reservation gets no lease; once
// its MAC is reserved (SIGHUP) it binds the reserved address.
func TestClassVendorDhcpcd(t *testing.T) {
	e := newEnv(t, "dhcpcd", "ss")
	classes := "  client_classes:\n" +
		"    - name: lab\n" +
		"      match: {vendor_class: {prefix: leased-e2e}}\n" +
		"      options:\n" +
		"        - {name: domain-name-servers, value: 10.77.0.53}\n" +
		"        - {name: ntp-servers, value: 10.77.0.123}\n" +
		"    - name: short\n" +
		"      match: {user_class: {exact: shortlease}}\n" +
		"      lease_time: 90s\n"
	srv := e.startLeasedClasses(classes, "")
	c := e.startDhcpcdConf("lab", "option ntp_servers\nvendorclassid leased-e2e-vendor\nuserclass shortlease\n")
	ev, _ := c.waitEvent(15*time.Second, 0, "BOUND")
	if v := ev.Vars["new_domain_name_servers"]; v != "10.77.0.53" {
		e.fatalf("class DNS: new_domain_name_servers %q, want the class's 10.77.0.53 (vars %v)", v, ev.Vars)
	}
	if v := ev.Vars["new_ntp_servers"]; v != "10.77.0.123" {
		e.fatalf("class NTP: new_ntp_servers %q (vars %v)", v, ev.Vars)
	}
	if v := ev.Vars["new_dhcp_lease_time"]; v != "90" {
		e.fatalf("user class lease time: new_dhcp_lease_time %q, want 90", v)
	}
	c.stop()

	// A dhcpcd without the vendor class gets the pool's DNS.
	plain := e.startDhcpcdConf("plain", "")
	ev, _ = plain.waitEvent(15*time.Second, 0, "BOUND")
	if v := ev.Vars["new_domain_name_servers"]; v != gateway {
		e.fatalf("no class: new_domain_name_servers %q, want the pool's %s", v, gateway)
	}
	if v := ev.Vars["new_dhcp_lease_time"]; v != "120" {
		e.fatalf("no class: lease time %q, want the pool's 120", v)
	}
	plain.ctl("-k")
	plain.stop()
	srv.Stop()
}

// TestDenyUnknownDhcpcd (issue #13): deny: [unknown] — a dhcpcd without a
// reservation gets no OFFER (the IBM i "client not supported" case; the
// drop is counted as engine_class_denied); reserving its MAC and reloading lets it
// bind the reserved address.
func TestDenyUnknownDhcpcd(t *testing.T) {
	t.Parallel() // waits on client timers, little CPU: see README.md
	e := newEnv(t, "dhcpcd", "ss")
	srv := e.startLeasedClasses("", "      deny: [unknown]\n")
	c := e.startDhcpcdConf("unknown", "")
	time.Sleep(6 * time.Second) // dhcpcd DISCOVERs at 0, ~4 s
	if evs := c.events(); len(evs) > 0 {
		for _, ev := range evs {
			if ev.Reason == "BOUND" {
				e.fatalf("an unknown client bound under deny: [unknown]: %v", ev.Vars)
			}
		}
	}
	if ls := srv.Leases(); len(ls) != 0 {
		e.fatalf("leases under deny: [unknown]: %v", ls)
	}
	mac := e.clientMAC()
	srv.writeClasses("", fmt.Sprintf("      deny: [unknown]\n      reservations:\n        - {hwaddr: %q, address: 10.77.1.99}\n", mac))
	srv.reload()
	ev, _ := c.waitEvent(40*time.Second, 0, "BOUND")
	if v := ev.Vars["new_ip_address"]; v != "10.77.1.99" {
		e.fatalf("reserved client bound %q, want 10.77.1.99", v)
	}
	c.ctl("-k")
	c.stop()
	srv.Stop()
}
