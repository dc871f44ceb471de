package e2e

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/leased/leased/internal/namedtest"
	"github.com/leased/leased/internal/netns"
)

// TestDDNS: BIND 9 (Debian bind9) runs in the server namespace with
// lan.test (holding a static name "printer" without DHCID) and
// 77.10.in-addr.arpa; leased updates it with TSIG. dhcpcd announcing host
// name "alpha" binds: alpha.lan.test gets its address and a DHCID, the
// address its PTR. A second client announcing "alpha" and a third
// announcing "printer" bind too, but the names stay with their owners
// (RFC 4703) and their addresses get no PTR. The first client releases:
// its name and PTR disappear. Client FQDN option 81: a dhcpcd with "fqdn
// ptr" gets only its PTR, one with "fqdn none" nothing, and each ACK
// carries option 81.
func TestDDNS(t *testing.T) {
	e := newEnv(t, "dhcpcd", "ss", "nsenter")
	namedtest.Require(t)
	dnsAddr := netns.ServerPrefix.Addr().String()
	named := namedtest.Start(t, []string{"ip", "netns", "exec", e.top.Server.Name}, dnsAddr, 53, map[string]string{
		"lan.test.":           namedtest.Zone("lan.test.", "printer IN A 10.77.0.9"),
		"77.10.in-addr.arpa.": namedtest.Zone("77.10.in-addr.arpa."),
	})
	lookup := func(name string, qtype uint16) []string {
		var out []string
		err := e.top.Server.Do(func() error {
			var err error
			out, err = namedtest.Lookup(named.Addr, name, qtype)
			return err
		})
		if err != nil {
			return []string{"error: " + err.Error()}
		}
		return out
	}
	named.Ready(t, func() error {
		if r := lookup("lan.test.", dns.TypeSOA); len(r) != 1 {
			return fmt.Errorf("SOA: %v", r)
		}
		return nil
	})
	waitDNS := func(name string, qtype uint16, want ...string) {
		t.Helper()
		var got []string
		for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
			if got = lookup(name, qtype); slices.Equal(got, want) {
				return
			}
		}
		e.fatalf("%s %s: %q, want %q", name, dns.TypeToString[qtype], got, want)
	}

	srv := e.newLeasedTop(fmt.Sprintf("ddns:\n  server: %s:53\n  forward_zone: lan.test\n  reverse_zone_v4: 77.10.in-addr.arpa\n"+
		"  tsig: {name: %s, secret: %q}\n  retry_interval: 200ms\n", dnsAddr, named.KeyName, named.Secret))
	defer srv.Stop()

	a := e.startDhcpcdInConf("alpha", e.clientNS(0), "hostname alpha\nfqdn both\n")
	ev, _ := a.waitEvent(15*time.Second, 0, "BOUND")
	addrA := ev.addr()
	if !addrA.IsValid() {
		e.fatalf("alpha bound without an address: %+v", ev)
	}
	rev := func(s string) string { r, _ := dns.ReverseAddr(s); return r }
	waitDNS("alpha.lan.test.", dns.TypeA, "alpha.lan.test. 0 IN A "+addrA.String())
	waitDNS(rev(addrA.String()), dns.TypePTR, rev(addrA.String())+" 0 IN PTR alpha.lan.test.")
	if d := lookup("alpha.lan.test.", dns.TypeDHCID); len(d) != 1 {
		e.fatalf("alpha.lan.test DHCID: %q", d)
	}

	// Two more clients want names that are taken.
	b := e.startDhcpcdInConf("beta", e.clientNS(1), "hostname alpha\n")
	evB, _ := b.waitEvent(15*time.Second, 0, "BOUND")
	c := e.startDhcpcdInConf("gamma", e.clientNS(2), "hostname printer\n")
	evC, _ := c.waitEvent(15*time.Second, 0, "BOUND")
	srv.waitState(evB.addr(), "bound", 5*time.Second)
	srv.waitState(evC.addr(), "bound", 5*time.Second)
	time.Sleep(2 * time.Second) // the updates for them have run (and were refused)
	waitDNS("alpha.lan.test.", dns.TypeA, "alpha.lan.test. 0 IN A "+addrA.String())
	waitDNS("printer.lan.test.", dns.TypeA, "printer.lan.test. 0 IN A 10.77.0.9")
	waitDNS(rev(evB.addr().String()), dns.TypePTR)
	waitDNS(rev(evC.addr().String()), dns.TypePTR)

	// Client FQDN option 81 (RFC 4702): alpha's dhcpcd (fqdn both) sent
	// S=1; leased's ACK carries option 81 back with S=1,
	// E=1 and the name it used.
	// dhcpcd prints the flags as letters of 0000NEOS.
	if f, fl := ev.Vars["new_fqdn"], ev.Vars["new_fqdn_flags"]; f != "alpha.lan.test" || fl != "ES" {
		e.fatalf("alpha: option 81 in the ACK: %q flags %q, want alpha.lan.test ES (vars %v)", f, fl, ev.Vars)
	}
	// delta says fqdn ptr (S=0: it updates its A record itself): leased
	// adds only the PTR and answers S=0 in option 81.
	dl := e.startDhcpcdInConf("delta", e.clientNS(3), "hostname delta\nfqdn ptr\n")
	evD, _ := dl.waitEvent(15*time.Second, 0, "BOUND")
	if f, fl := evD.Vars["new_fqdn"], evD.Vars["new_fqdn_flags"]; f != "delta.lan.test" || fl != "E" {
		e.fatalf("delta: option 81 in the ACK: %q flags %q, want delta.lan.test E (vars %v)", f, fl, evD.Vars)
	}
	waitDNS(rev(evD.addr().String()), dns.TypePTR, rev(evD.addr().String())+" 0 IN PTR delta.lan.test.")
	// eps says fqdn none (N=1): leased updates nothing.
	ep := e.startDhcpcdInConf("eps", e.clientNS(4), "hostname eps\nfqdn none\n")
	evE, _ := ep.waitEvent(15*time.Second, 0, "BOUND")
	if f, fl := evE.Vars["new_fqdn"], evE.Vars["new_fqdn_flags"]; f != "eps.lan.test" || fl != "NE" {
		e.fatalf("eps: option 81 in the ACK: %q flags %q, want eps.lan.test NE (vars %v)", f, fl, evE.Vars)
	}
	srv.waitState(evE.addr(), "bound", 5*time.Second)
	time.Sleep(time.Second) // the updates, if any, have run
	waitDNS("delta.lan.test.", dns.TypeA)
	waitDNS("delta.lan.test.", dns.TypeDHCID)
	waitDNS("eps.lan.test.", dns.TypeA)
	waitDNS(rev(evE.addr().String()), dns.TypePTR)
	t.Logf("option 81 in the ACKs: alpha %s, delta %s, eps %s", fqdnVars(ev), fqdnVars(evD), fqdnVars(evE))

	// alpha releases: its records go.
	// Release through dhcpcd's control socket in its mount namespace.
	e.nsRun("", "nsenter", "-t", strconv.Itoa(a.cmd.Process.Pid), "-m", "-n", "dhcpcd", "-f", filepath.Join(a.dir, "dhcpcd.conf"), "-k", "-4", "vcli")
	srv.waitState(addrA, "released", 5*time.Second)
	waitDNS("alpha.lan.test.", dns.TypeA)
	waitDNS("alpha.lan.test.", dns.TypeDHCID)
	waitDNS(rev(addrA.String()), dns.TypePTR)
	waitDNS("printer.lan.test.", dns.TypeA, "printer.lan.test. 0 IN A 10.77.0.9")
}

// TestDDNS6: dhcpcd -6 announcing "six" in its FQDN option (39) binds an
// address: six.lan.test gets its AAAA and a DHCID, the address its
// ip6.arpa PTR; when dhcpcd releases they disappear. Its Reply carries
// option 39 back (S=1). A second dhcpcd with "fqdn ptr" (S=0) gets only
// its PTR, which its release removes after leased restarted.
func TestDDNS6(t *testing.T) {
	e := newEnv(t, "dhcpcd", "ss", "nsenter")
	namedtest.Require(t)
	dnsAddr := netns.ServerPrefix.Addr().String()
	const rev6 = "0.0.0.0.0.0.0.0.7.7.d.f.ip6.arpa." // fd77::/64
	named := namedtest.Start(t, []string{"ip", "netns", "exec", e.top.Server.Name}, dnsAddr, 53, map[string]string{
		"lan.test.": namedtest.Zone("lan.test."),
		rev6:        namedtest.Zone(rev6),
	})
	lookup := func(name string, qtype uint16) []string {
		var out []string
		if err := e.top.Server.Do(func() error {
			var err error
			out, err = namedtest.Lookup(named.Addr, name, qtype)
			return err
		}); err != nil {
			return []string{"error: " + err.Error()}
		}
		return out
	}
	named.Ready(t, func() error {
		if r := lookup("lan.test.", dns.TypeSOA); len(r) != 1 {
			return fmt.Errorf("SOA: %v", r)
		}
		return nil
	})
	waitDNS := func(name string, qtype uint16, want ...string) {
		t.Helper()
		var got []string
		for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
			if got = lookup(name, qtype); slices.Equal(got, want) {
				return
			}
		}
		e.fatalf("%s %s: %q, want %q", name, dns.TypeToString[qtype], got, want)
	}
	cfg := defaultConfig6()
	// The last pool's Extra ends the file: a top-level section after it.
	cfg.Pools[0].Extra = fmt.Sprintf("ddns:\n  server: %s:53\n  forward_zone: lan.test\n  reverse_zone_v6: %s\n"+
		"  tsig: {name: %s, secret: %q}\n  retry_interval: 200ms\n", dnsAddr, rev6, named.KeyName, named.Secret)
	srv := e.startLeased6(cfg)
	c := e.startDhcpcd6("dhcpcd6", dhcpcd6Opts{Extra: "hostname six\nfqdn both\n"})
	ev, _ := c.waitEvent(15*time.Second, 0, "BOUND6")
	addr, _ := checkBound6(e, ev, true, false, dns6)
	srv.waitState6(netip.PrefixFrom(addr, 128), "bound", 5*time.Second)
	rev, _ := dns.ReverseAddr(addr.String())
	waitDNS("six.lan.test.", dns.TypeAAAA, "six.lan.test. 0 IN AAAA "+addr.String())
	waitDNS(rev, dns.TypePTR, rev+" 0 IN PTR six.lan.test.")
	if d := lookup("six.lan.test.", dns.TypeDHCID); len(d) != 1 {
		e.fatalf("six.lan.test DHCID: %q", d)
	}
	c.ctl("-k")
	srv.waitState6(netip.PrefixFrom(addr, 128), "released", 5*time.Second)
	waitDNS("six.lan.test.", dns.TypeAAAA)
	waitDNS("six.lan.test.", dns.TypeDHCID)
	waitDNS(rev, dns.TypePTR)
	t.Logf("six: option 39 in the Reply: %s", fqdnVars(ev))
	if f, fl := ev.Vars["new_dhcp6_fqdn"], ev.Vars["new_dhcp6_fqdn_flags"]; f != "six.lan.test" || fl != "S" {
		e.fatalf("six: option 39 in the Reply: %q flags %q, want six.lan.test S (vars %v)", f, fl, ev.Vars)
	}

	// seven says fqdn ptr (option 39 S=0, RFC 4704 §4.1): it updates its
	// AAAA itself; leased adds only the PTR and answers S=0.
	c.stop()
	c7 := e.startDhcpcd6("dhcpcd6-seven", dhcpcd6Opts{Extra: "hostname seven\nfqdn ptr\n"})
	ev7, _ := c7.waitEvent(15*time.Second, 0, "BOUND6")
	addr7, _ := checkBound6(e, ev7, true, false, dns6)
	srv.waitState6(netip.PrefixFrom(addr7, 128), "bound", 5*time.Second)
	rev7, _ := dns.ReverseAddr(addr7.String())
	waitDNS(rev7, dns.TypePTR, rev7+" 0 IN PTR seven.lan.test.")
	waitDNS("seven.lan.test.", dns.TypeAAAA)
	waitDNS("seven.lan.test.", dns.TypeDHCID)
	if f, fl := ev7.Vars["new_dhcp6_fqdn"], ev7.Vars["new_dhcp6_fqdn_flags"]; f != "seven.lan.test" || fl != "" {
		e.fatalf("seven: option 39 in the Reply: %q flags %q, want seven.lan.test with no flag (vars %v)", f, fl, ev7.Vars)
	}
	// leased restarts; seven releases: its PTR goes (the S=0 mode was
	// stored with the binding), no AAAA or DHCID appears.
	srv.Stop()
	srv.Start6()
	c7.ctl("-k")
	srv.waitState6(netip.PrefixFrom(addr7, 128), "released", 5*time.Second)
	waitDNS(rev7, dns.TypePTR)
	waitDNS("seven.lan.test.", dns.TypeAAAA)
	waitDNS("seven.lan.test.", dns.TypeDHCID)
}

// fqdnVars are a hook event's option 81/39 variables.
func fqdnVars(ev hookEvent) string {
	var out []string
	for k, v := range ev.Vars {
		if strings.HasPrefix(k, "new_fqdn") || strings.HasPrefix(k, "new_dhcp6_fqdn") || strings.HasPrefix(k, "new_dhcp6_client_fqdn") {
			out = append(out, k+"="+v)
		}
	}
	slices.Sort(out)
	return strings.Join(out, " ")
}

// TestDDNSRestart: who updates DNS (the client FQDN option's S/N flags)
// is stored with the lease, so it survives a restart. dhcpcd with "fqdn
// ptr" (S=0: it updates its A record itself) binds and leased adds only
// the PTR; leased is stopped and started again (the updater remembers
// nothing); dhcpcd releases and leased removes the PTR, still leaving the
// forward name alone. Before the mode was stored, the restarted leased
// took the binding for one whose A record it owned, its forward removal
// found no DHCID of the client and it gave up, leaving the PTR behind.
// A client without a name gets one generated from its address
// (replace_client_name: when-not-present, generated_prefix dyn, names
// under qualify_suffix dhcp.lan.test) that also goes at its release after
// the restart.
func TestDDNSRestart(t *testing.T) {
	e := newEnv(t, "dhcpcd", "ss", "nsenter")
	namedtest.Require(t)
	dnsAddr := netns.ServerPrefix.Addr().String()
	named := namedtest.Start(t, []string{"ip", "netns", "exec", e.top.Server.Name}, dnsAddr, 53, map[string]string{
		"lan.test.":           namedtest.Zone("lan.test."),
		"77.10.in-addr.arpa.": namedtest.Zone("77.10.in-addr.arpa."),
	})
	lookup := func(name string, qtype uint16) []string {
		var out []string
		if err := e.top.Server.Do(func() error {
			var err error
			out, err = namedtest.Lookup(named.Addr, name, qtype)
			return err
		}); err != nil {
			return []string{"error: " + err.Error()}
		}
		return out
	}
	named.Ready(t, func() error {
		if r := lookup("lan.test.", dns.TypeSOA); len(r) != 1 {
			return fmt.Errorf("SOA: %v", r)
		}
		return nil
	})
	waitDNS := func(name string, qtype uint16, want ...string) {
		t.Helper()
		var got []string
		for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
			if got = lookup(name, qtype); slices.Equal(got, want) {
				return
			}
		}
		e.fatalf("%s %s: %q, want %q", name, dns.TypeToString[qtype], got, want)
	}
	rev := func(a netip.Addr) string { r, _ := dns.ReverseAddr(a.String()); return r }

	srv := e.newLeasedTop(fmt.Sprintf("ddns:\n  server: %s:53\n  forward_zone: lan.test\n  qualify_suffix: dhcp.lan.test\n"+
		"  replace_client_name: when-not-present\n  generated_prefix: dyn\n  reverse_zone_v4: 77.10.in-addr.arpa\n"+
		"  tsig: {name: %s, secret: %q}\n  retry_interval: 200ms\n", dnsAddr, named.KeyName, named.Secret))
	defer srv.Stop()

	d := e.startDhcpcdInConf("delta", e.clientNS(0), "hostname delta\nfqdn ptr\n")
	evD, _ := d.waitEvent(15*time.Second, 0, "BOUND")
	addrD := evD.addr()
	if f, fl := evD.Vars["new_fqdn"], evD.Vars["new_fqdn_flags"]; f != "delta.dhcp.lan.test" || fl != "E" {
		e.fatalf("delta: option 81 in the ACK: %q flags %q, want delta.dhcp.lan.test E (vars %v)", f, fl, evD.Vars)
	}
	waitDNS(rev(addrD), dns.TypePTR, rev(addrD)+" 0 IN PTR delta.dhcp.lan.test.")
	// A client without a host name: a generated name.
	n := e.startDhcpcdInConf("noname", e.clientNS(1), "")
	evN, _ := n.waitEvent(15*time.Second, 0, "BOUND")
	addrN := evN.addr()
	gen := "dyn-" + strings.ReplaceAll(addrN.String(), ".", "-") + ".dhcp.lan.test."
	waitDNS(gen, dns.TypeA, gen+" 0 IN A "+addrN.String())
	waitDNS(rev(addrN), dns.TypePTR, rev(addrN)+" 0 IN PTR "+gen)
	waitDNS("delta.dhcp.lan.test.", dns.TypeA)
	waitDNS("delta.dhcp.lan.test.", dns.TypeDHCID)

	// The client updates its own A record (as S=0 says it does), here
	// with a TSIG-signed update from the test; leased must leave it.
	up := new(dns.Msg)
	up.SetUpdate("lan.test.")
	aRR := "delta.dhcp.lan.test. 0 IN A " + addrD.String()
	rr, err := dns.NewRR(aRR)
	if err != nil {
		t.Fatal(err)
	}
	up.Insert([]dns.RR{rr})
	key := dns.Fqdn(named.KeyName)
	up.SetTsig(key, dns.HmacSHA256, 300, time.Now().Unix())
	if err := e.top.Server.Do(func() error {
		c := dns.Client{TsigSecret: map[string]string{key: named.Secret}, Timeout: 3 * time.Second}
		r, _, err := c.Exchange(up, named.Addr)
		if err == nil && r.Rcode != dns.RcodeSuccess {
			err = fmt.Errorf("rcode %s", dns.RcodeToString[r.Rcode])
		}
		return err
	}); err != nil {
		e.fatalf("the client's own A record: %v", err)
	}
	waitDNS("delta.dhcp.lan.test.", dns.TypeA, aRR)

	// Restart: the updater's memory is gone; the stored mode is not.
	srv.Stop()
	srv.Start()

	e.nsRun("", "nsenter", "-t", strconv.Itoa(d.cmd.Process.Pid), "-m", "-n", "dhcpcd", "-f", filepath.Join(d.dir, "dhcpcd.conf"), "-k", "-4", "vcli")
	srv.waitState(addrD, "released", 5*time.Second)
	waitDNS(rev(addrD), dns.TypePTR)
	waitDNS("delta.dhcp.lan.test.", dns.TypeA, aRR) // the client's, untouched
	e.nsRun("", "nsenter", "-t", strconv.Itoa(n.cmd.Process.Pid), "-m", "-n", "dhcpcd", "-f", filepath.Join(n.dir, "dhcpcd.conf"), "-k", "-4", "vcli")
	srv.waitState(addrN, "released", 5*time.Second)
	waitDNS(gen, dns.TypeA)
	waitDNS(gen, dns.TypeDHCID)
	waitDNS(rev(addrN), dns.TypePTR)
}
