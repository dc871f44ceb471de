package e2e

import (
	"github.com/leased/leased/internal/netns"
	"net/netip"
	"testing"
	"time"
)

// TestRelay6: three namespaces, client ↔ relay ↔ server, joined only by
// a packaged DHCPv6 relay with an Interface-ID option: ISC dhcrelay -6
// (Debian isc-dhcp-relay) and dibbler-relay (Debian dibbler-relay).
// leased serves office6 on its own link and branch6 (fd78::/64) behind
// the relay; the relay's link-address (fd78::1, RFC 8415 §19.1.1) selects
// branch6. dhcpcd -6 in the client namespace gets an address and a /56
// from branch6 and its DNS server through Relay-forward / Relay-reply,
// renews through the relay, and releases.
func TestRelay6(t *testing.T) {
	for _, relay := range []string{"dhcrelay", "dibbler-relay"} {
		t.Run(relay, func(t *testing.T) { testRelay6(t, relay) })
	}
}

func testRelay6(t *testing.T, relay string) {
	e := newEnvRelayed(t, "dhcpcd", relay, "ss")
	cfg := defaultConfig6()
	branch := netip.MustParsePrefix("fd78::/64")
	branchPD := netip.MustParsePrefix("fd78:100::/40")
	cfg.Pools = append(cfg.Pools, Pool6{Name: "branch6", Subnet: branch.String(), DNS: []string{"fd78::53"},
		Ranges: [][2]string{{"fd78::1:0", "fd78::1:ffff"}}, PD: branchPD.String(), PDLen: 56})
	srv := e.startLeased6(cfg)
	relayLog := e.path("dhcrelay.log")
	if relay == "dhcrelay" {
		e.startDhcrelay6()
	} else {
		e.startDibblerRelay6()
		relayLog = e.path("dibbler/log/dibbler-relay.log")
	}

	c := e.startDhcpcd6("dhcpcd6", dhcpcd6Opts{PD: true})
	ev, n := c.waitEvent(20*time.Second, 0, "BOUND6")
	addr, pd, dns := ev.v6()
	if !netip.MustParsePrefix("fd78::1:0/112").Contains(addr) || pd.Bits() != 56 || !branchPD.Contains(pd.Addr()) || dns != "fd78::53" {
		e.fatalf("BOUND6 through the relay: address %v prefix %v DNS %q; want branch6's (fd78::1:0/112, a /56 of %v, fd78::53)", addr, pd, dns, branchPD)
	}
	na := netip.PrefixFrom(addr, 128)
	l := srv.waitState6(na, "bound", 5*time.Second)
	lp := srv.waitState6(pd, "bound", 5*time.Second)
	if l.Pool != "branch6" || lp.Pool != "branch6" {
		e.fatalf("leasectl: %+v and %+v, want pool branch6", l, lp)
	}
	// Both relays drop a Relay-reply without the Interface-ID they added:
	// the Reply reaching dhcpcd shows leased echoed it (RFC 8415 §19.3).
	if relay == "dhcrelay" && len(logLines(relayLog, "Relaying Reply")) == 0 {
		e.fatalf("dhcrelay did not relay a Reply down")
	}
	if relay == "dibbler-relay" && len(logLines(relayLog, "RELAY_REPL was decapsulated: link=fd78::1", "interfaceID=5555")) == 0 {
		e.fatalf("dibbler-relay did not get a Relay-reply with link fd78::1 and interface-id 5555")
	}

	c.ctl("-N")
	ev, n = c.waitEvent(10*time.Second, n, "RENEW6")
	if a, p, _ := ev.v6(); a != addr || p != pd {
		e.fatalf("renew through the relay gave %v %v, want %v %v", a, p, addr, pd)
	}
	srv.waitExpiry6After(na, l, 5*time.Second)

	// A Reconfigure to a relayed client goes as a Relay-reply to the
	// relay it came through (RFC 8415 §19.3), which passes it down from
	// its own link-local address (dhcpcd accepts Reconfigure only from
	// one).
	l = srv.waitState6(na, "bound", time.Second)
	if code, out, errs := srv.leasectl("reconfigure", "send", addr.String()); code != 0 {
		e.fatalf("leasectl reconfigure send %v: exit %d %s %s", addr, code, out, errs)
	}
	ev, n = c.waitEvent(10*time.Second, n, "RENEW6")
	if a, _, _ := ev.v6(); a != addr {
		e.fatalf("renew after a relayed Reconfigure gave %v, want %v", a, addr)
	}
	if len(logLines(c.log, "RECONFIGURE6 from fe80:")) == 0 {
		e.fatalf("dhcpcd log shows no RECONFIGURE6 from a link-local address")
	}
	srv.waitExpiry6After(na, l, 5*time.Second)

	c.ctl("-k")
	c.waitEvent(10*time.Second, n, "RELEASE6")
	srv.waitState6(na, "released", 5*time.Second)
	srv.waitState6(pd, "released", 5*time.Second)
	for _, x := range srv.Leases6() {
		if x.Pool != "branch6" {
			e.fatalf("lease %+v outside branch6: the relay's link-address must select the pool", x)
		}
	}
	srv.Stop()
	t.Logf("dhcpcd -6 via %s hook: %s", relay, c.reasons())
	for _, line := range append(logLines(relayLog, "Relaying"), logLines(relayLog, "RECONFIGURE")...) {
		t.Logf("%s: %s", relay, line)
	}
}

// TestRelay6TwoHops: four namespaces, client ↔ dhcrelay ↔ dhcrelay ↔
// leased. The client's Solicit reaches leased inside two Relay-forward
// layers (RFC 8415 §19.1.2: the second relay wraps the first's message);
// the inner relay's link-address (fd79::1) selects pool far6; leased
// answers with two Relay-reply layers, each with its relay's Interface-ID
// (§19.3). dhcpcd -6 binds an address and a /56 of far6, renews, is
// reconfigured through both relays, and releases.
func TestRelay6TwoHops(t *testing.T) {
	requireEnv(t, "dhcpcd", "dhcrelay", "ss")
	e := newEnvTop(t, netns.NewChain(t, 2))
	cfg := defaultConfig6()
	far := netns.ChainPrefix6(2) // fd79::/64, the client's link
	farPD := netip.MustParsePrefix("fd79:100::/40")
	cfg.Pools = append(cfg.Pools,
		// The outer relay's link (fd78::/64) is a pool too: picking it
		// would mean the outer layer's link-address was used.
		Pool6{Name: "middle6", Subnet: netns.ChainPrefix6(1).String(), DNS: []string{"fd78::53"},
			Ranges: [][2]string{{"fd78::1:0", "fd78::1:ffff"}}},
		Pool6{Name: "far6", Subnet: far.String(), DNS: []string{"fd79::53"},
			Ranges: [][2]string{{"fd79::1:0", "fd79::1:ffff"}}, PD: farPD.String(), PDLen: 56})
	srv := e.startLeased6(cfg)
	e.startDhcrelay6At(0)
	e.startDhcrelay6At(1)

	c := e.startDhcpcd6("dhcpcd6", dhcpcd6Opts{PD: true})
	ev, n := c.waitEvent(20*time.Second, 0, "BOUND6")
	addr, pd, dns := ev.v6()
	if !netip.MustParsePrefix("fd79::1:0/112").Contains(addr) || pd.Bits() != 56 || !farPD.Contains(pd.Addr()) || dns != "fd79::53" {
		e.fatalf("BOUND6 through two relays: address %v prefix %v DNS %q; want far6's (fd79::1:0/112, a /56 of %v, fd79::53)", addr, pd, dns, farPD)
	}
	na := netip.PrefixFrom(addr, 128)
	l := srv.waitState6(na, "bound", 5*time.Second)
	if l.Pool != "far6" {
		e.fatalf("leasectl: %+v, want pool far6", l)
	}
	// The outer relay saw the inner one's Relay-forward and passed a
	// Relay-reply down to it (a nested layer leased built).
	if len(logLines(e.path("dhcrelay.log"), "Relaying Relay-reply to fd78::2")) == 0 ||
		len(logLines(e.path("dhcrelay-1.log"), "Relaying Reply to fe80:")) == 0 {
		e.fatalf("the Reply did not come down through both relays")
	}

	c.ctl("-N")
	ev, n = c.waitEvent(10*time.Second, n, "RENEW6")
	if a, p, _ := ev.v6(); a != addr || p != pd {
		e.fatalf("renew through two relays gave %v %v, want %v %v", a, p, addr, pd)
	}
	l = srv.waitExpiry6After(na, l, 5*time.Second)

	if code, out, errs := srv.leasectl("reconfigure", "send", addr.String()); code != 0 {
		e.fatalf("leasectl reconfigure send %v: exit %d %s %s", addr, code, out, errs)
	}
	ev, n = c.waitEvent(10*time.Second, n, "RENEW6")
	if a, _, _ := ev.v6(); a != addr {
		e.fatalf("renew after a Reconfigure through two relays gave %v, want %v", a, addr)
	}
	srv.waitExpiry6After(na, l, 5*time.Second)

	c.ctl("-k")
	c.waitEvent(10*time.Second, n, "RELEASE6")
	srv.waitState6(na, "released", 5*time.Second)
	srv.waitState6(pd, "released", 5*time.Second)
	srv.Stop()
	t.Logf("dhcpcd -6 via two dhcrelays: %s", c.reasons())
	for _, line := range append(logLines(e.path("dhcrelay.log"), "Relaying"), logLines(e.path("dhcrelay-1.log"), "Relaying")...) {
		t.Logf("dhcrelay: %s", line)
	}
}
