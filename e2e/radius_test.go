package e2e

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/leased/leased/internal/netns"
	"github.com/leased/leased/radius"
)

const radiusSecret = "radius-e2e-secret"

// radiusSection is the radius: section of the e2e configuration: the DAS
// on the server's address, the only client the server namespace itself
// (radclient runs there).
func radiusSection(disconnect string) string {
	return fmt.Sprintf("radius:\n  listen: %s:3799\n  disconnect: %s\n  clients:\n    - {name: e2e-aaa, address: %s, secret: %s}\n",
		netns.ServerPrefix.Addr(), disconnect, netns.ServerPrefix.Addr(), radiusSecret)
}

func (l *Leased) writeRadiusConfig(dns, disconnect string) {
	l.writeConfigTop(dns, radiusSection(disconnect))
}

// writeConfigTop writes the default configuration with the pool's DNS
// server set to dns and top-level sections (YAML) appended.
func (l *Leased) writeConfigTop(dns, top string) {
	l.e.t.Helper()
	y := defaultConfig().yaml(filepath.Join(filepath.Dir(l.cfgPath), "data"), l.sock)
	old := "      dns: [" + gateway + "]\n"
	if !strings.Contains(y, old) {
		l.e.t.Fatalf("default config has no %q line", old)
	}
	y = strings.Replace(y, old, "      dns: ["+dns+"]\n", 1) + top
	if err := os.WriteFile(l.cfgPath, []byte(y), 0o644); err != nil {
		l.e.t.Fatal(err)
	}
}

// newLeasedTop starts leased with writeConfigTop(gateway, top).
func (e *env) newLeasedTop(top string) *Leased {
	e.t.Helper()
	dir := e.path("leased")
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		e.t.Fatal(err)
	}
	l := &Leased{e: e, cfgPath: filepath.Join(dir, "leased.yaml"),
		sock: filepath.Join(dir, "control.sock"), log: e.path("leased.log")}
	e.addLog(l.log)
	l.writeConfigTop(gateway, top)
	l.Start()
	return l
}

// radclient runs FreeRADIUS radclient in the server namespace: one
// request of kind (coa, disconnect) with the attribute lines to addr:port,
// one try with a 2 s timeout. It returns radclient's output.
func (e *env) radclient(to, kind, secret string, attrs ...string) string {
	e.t.Helper()
	f := filepath.Join(e.top.Dir, fmt.Sprintf("radclient-%d.txt", time.Now().UnixNano()))
	if err := os.WriteFile(f, []byte(strings.Join(attrs, "\n")+"\n"), 0o644); err != nil {
		e.t.Fatal(err)
	}
	out, _ := e.top.Server.Run("radclient", "-x", "-r", "1", "-t", "2", "-f", f, to, kind, secret)
	e.t.Logf("radclient %s %s:\n%s", kind, strings.Join(attrs, ", "), out)
	return out
}

func eventTimestamp(t time.Time) string { return fmt.Sprintf("Event-Timestamp = %d", t.Unix()) }

// TestRadiusDAS: FreeRADIUS radclient (Debian freeradius-utils) talks to
// leased's RFC 5176 Dynamic Authorization Server while real dhcpcd holds a
// lease:
//   - CoA-Request by Framed-IP-Address after a DNS change: CoA-ACK, and
//     dhcpcd renews (FORCERENEW) and takes the new DNS server;
//   - the same CoA with a wrong secret, and with an Event-Timestamp outside
//     the window: no answer, dhcpcd left alone;
//   - a radclient-built CoA captured and sent twice from different ports:
//     the first is acted on (ACK), the replay gets nothing;
//   - Disconnect-Request for an address nobody holds: Disconnect-NAK with
//     Error-Cause Session-Context-Not-Found;
//   - Disconnect-Request by Calling-Station-Id (the MAC as a NAS writes
//     it): Disconnect-ACK, the binding is gone (quarantined until its old
//     expiry) and dhcpcd's next renewal is NAKed: it lost its binding.
func TestRadiusDAS(t *testing.T) {
	e := newEnv(t, "dhcpcd", "radclient", "ss")
	const newDNS, newerDNS = "10.77.0.53", "10.77.0.54"
	das := netns.ServerPrefix.Addr().String() + ":3799"

	srv := e.newLeasedTop(radiusSection("delete"))
	defer srv.Stop()

	c := e.startDhcpcd("dhcpcd", false)
	ev, n := c.waitEvent(15*time.Second, 0, "BOUND")
	addr := checkBoundVars(e, ev)
	srv.waitState(addr, "bound", 5*time.Second)

	// CoA after a DNS change: dhcpcd renews and takes it.
	srv.writeRadiusConfig(newDNS, "delete")
	srv.reload()
	out := e.radclient(das, "coa", radiusSecret, "Framed-IP-Address = "+addr.String(),
		eventTimestamp(time.Now()), "Message-Authenticator = 0x00")
	if !strings.Contains(out, "Received CoA-ACK") {
		e.fatalf("CoA-Request: no CoA-ACK:\n%s", out)
	}
	ev, n = c.waitEvent(10*time.Second, n, "RENEW")
	if d := ev.Vars["new_domain_name_servers"]; d != newDNS || ev.addr() != addr {
		e.fatalf("RENEW after CoA: %v DNS %q, want %v with %s", ev.addr(), d, addr, newDNS)
	}

	// Wrong secret, stale timestamp: silently discarded (RFC 5176 §2.3,
	// §3.4), and nothing happens to the client.
	srv.writeRadiusConfig(newerDNS, "delete")
	srv.reload()
	for name, out := range map[string]string{
		"wrong secret": e.radclient(das, "coa", "not-the-secret", "Framed-IP-Address = "+addr.String(),
			eventTimestamp(time.Now()), "Message-Authenticator = 0x00"),
		"stale Event-Timestamp": e.radclient(das, "coa", radiusSecret, "Framed-IP-Address = "+addr.String(),
			eventTimestamp(time.Now().Add(-10*time.Minute)), "Message-Authenticator = 0x00"),
		"no Message-Authenticator": e.radclient(das, "coa", radiusSecret, "Framed-IP-Address = "+addr.String(),
			eventTimestamp(time.Now())),
	} {
		if strings.Contains(out, "Received") || !strings.Contains(out, "Sent CoA-Request") {
			e.fatalf("%s: want no reply, radclient says:\n%s", name, out)
		}
	}
	time.Sleep(2 * time.Second)
	if evs := c.events(); len(evs) != n {
		e.fatalf("dhcpcd acted on a refused request: %s", c.reasons())
	}

	// Replay: a CoA radclient built, captured on a port nobody answers,
	// then sent to leased twice from two sockets.
	tap, err := e.top.Server.ListenUDP(netip.AddrPortFrom(netns.ServerPrefix.Addr(), 3800))
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan []byte, 1)
	go func() {
		b := make([]byte, 4096)
		tap.SetReadDeadline(time.Now().Add(10 * time.Second))
		if k, _, err := tap.ReadFromUDP(b); err == nil {
			got <- b[:k]
		}
		close(got)
	}()
	e.radclient(netns.ServerPrefix.Addr().String()+":3800", "coa", radiusSecret, "Framed-IP-Address = "+addr.String(),
		eventTimestamp(time.Now()), "Message-Authenticator = 0x00")
	pkt := <-got
	if pkt == nil {
		e.fatalf("radclient's CoA-Request not captured")
	}
	dst := net.UDPAddrFromAddrPort(netip.MustParseAddrPort(das))
	send := func() []byte {
		conn, err := e.top.Server.ListenUDP(netip.AddrPortFrom(netns.ServerPrefix.Addr(), 0))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if _, err := conn.WriteToUDP(pkt, dst); err != nil {
			t.Fatal(err)
		}
		b := make([]byte, 4096)
		conn.SetReadDeadline(time.Now().Add(3 * time.Second))
		k, _, err := conn.ReadFromUDP(b)
		if err != nil {
			return nil
		}
		return b[:k]
	}
	first := send()
	req, _ := radius.Parse(pkt)
	rp, err := radius.Parse(first)
	if err != nil || rp.Code != radius.CoAACK || !radius.VerifyResponse(&rp, req.Authenticator, []byte(radiusSecret)) {
		e.fatalf("captured CoA sent once: reply %x (%v), want a verified CoA-ACK", first, err)
	}
	ev, n = c.waitEvent(10*time.Second, n, "RENEW")
	if d := ev.Vars["new_domain_name_servers"]; d != newerDNS {
		e.fatalf("RENEW after the captured CoA: DNS %q, want %s", d, newerDNS)
	}
	if again := send(); again != nil {
		e.fatalf("replayed CoA from another port answered: %x", again)
	}
	time.Sleep(2 * time.Second)
	if evs := c.events(); len(evs) != n {
		e.fatalf("dhcpcd acted on a replayed CoA: %s", c.reasons())
	}

	// Disconnect of nobody: NAK 503.
	out = e.radclient(das, "disconnect", radiusSecret, "Framed-IP-Address = 10.77.2.250",
		eventTimestamp(time.Now()), "Message-Authenticator = 0x00")
	if !strings.Contains(out, "Received Disconnect-NAK") || !strings.Contains(out, "Session-Context-Not-Found") {
		e.fatalf("Disconnect-Request for an unknown session: want Disconnect-NAK, Session-Context-Not-Found:\n%s", out)
	}

	// Disconnect by MAC as NASes write it (upper case, dashes).
	before := srv.waitState(addr, "bound", 2*time.Second)
	mac := strings.ToUpper(strings.ReplaceAll(before.HWAddr, ":", "-"))
	out = e.radclient(das, "disconnect", radiusSecret, `Calling-Station-Id = "`+mac+`"`,
		eventTimestamp(time.Now()), "Message-Authenticator = 0x00")
	if !strings.Contains(out, "Received Disconnect-ACK") {
		e.fatalf("Disconnect-Request by Calling-Station-Id %s: no Disconnect-ACK:\n%s", mac, out)
	}
	held := srv.waitState(addr, "quarantined", 3*time.Second)
	if !held.Expires.Equal(before.Expires) {
		e.fatalf("held until %v, want the old expiry %v", held.Expires, before.Expires)
	}
	c.ctl("-N") // dhcpcd renews: its binding is gone
	_, _ = c.waitEvent(10*time.Second, n, "NAK")
}

// TestRadiusDAS6: the same DAS with dhcpcd -6 holding an address and a
// delegated prefix. After a DNS change, a CoA-Request naming the
// delegated prefix (Delegated-IPv6-Prefix) gets a CoA-ACK and dhcpcd,
// sent a Reconfigure, renews with the new DNS server; a
// Disconnect-Request by Framed-IPv6-Prefix (the link's /64, holding the
// IA_NA address) gets a Disconnect-ACK and the address binding is
// deleted (quarantined until its valid lifetime ends).
func TestRadiusDAS6(t *testing.T) {
	e := newEnv(t, "dhcpcd", "radclient", "ss")
	const newDNS = "fd77::53"
	das := netns.ServerPrefix.Addr().String() + ":3799"
	cfg := defaultConfig6()
	cfg.T1, cfg.T2 = "50s", "55s"
	// The last pool's Extra ends the file: a top-level section after it.
	cfg.Pools[0].Extra = radiusSection("delete")
	srv := e.startLeased6(cfg)
	c := e.startDhcpcd6("dhcpcd6", dhcpcd6Opts{PD: true})
	ev, n := c.waitEvent(15*time.Second, 0, "BOUND6")
	addr, pd := checkBound6(e, ev, true, true, dns6)
	na := netip.PrefixFrom(addr, 128)
	srv.waitState6(na, "bound", 5*time.Second)

	cfg.Pools[0].DNS = []string{newDNS}
	srv.writeConfig6(cfg)
	srv.reload()
	out := e.radclient(das, "coa", radiusSecret, "Delegated-IPv6-Prefix = "+pd.String(),
		eventTimestamp(time.Now()), "Message-Authenticator = 0x00")
	if !strings.Contains(out, "Received CoA-ACK") {
		e.fatalf("CoA-Request by Delegated-IPv6-Prefix %v: no CoA-ACK:\n%s", pd, out)
	}
	ev, _ = c.waitEvent(10*time.Second, n, "RENEW6", "REBIND6")
	if a, p := checkBound6(e, ev, true, true, newDNS); a != addr || p != pd {
		e.fatalf("%s after CoA: %v %v, want %v %v", ev.Reason, a, p, addr, pd)
	}

	out = e.radclient(das, "disconnect", radiusSecret, "Framed-IPv6-Prefix = "+subnet6.String(),
		eventTimestamp(time.Now()), "Message-Authenticator = 0x00")
	if !strings.Contains(out, "Received Disconnect-ACK") {
		e.fatalf("Disconnect-Request by Framed-IPv6-Prefix %v: no Disconnect-ACK:\n%s", subnet6, out)
	}
	srv.waitState6(na, "quarantined", 5*time.Second)
	srv.waitState6(pd, "bound", 2*time.Second) // the prefix was not named
}

// TestRadiusDisconnectReconfigure: with radius.disconnect: reconfigure a
// Disconnect-Request does not delete dhcpcd's binding: leased sends a
// FORCERENEW, NAKs the renewal, and dhcpcd comes back with a new DORA
// (Junos' reconfigure instead of delete); the one-client campaign records
// it rebound.
func TestRadiusDisconnectReconfigure(t *testing.T) {
	e := newEnv(t, "dhcpcd", "radclient", "ss")
	das := netns.ServerPrefix.Addr().String() + ":3799"
	srv := e.newLeasedTop(radiusSection("reconfigure"))
	defer srv.Stop()
	c := e.startDhcpcd("dhcpcd", false)
	ev, n := c.waitEvent(15*time.Second, 0, "BOUND")
	addr := checkBoundVars(e, ev)
	srv.waitState(addr, "bound", 5*time.Second)

	out := e.radclient(das, "disconnect", radiusSecret, "Framed-IP-Address = "+addr.String(),
		eventTimestamp(time.Now()), "Message-Authenticator = 0x00")
	if !strings.Contains(out, "Received Disconnect-ACK") {
		e.fatalf("Disconnect-Request: no Disconnect-ACK:\n%s", out)
	}
	_, n = c.waitEvent(10*time.Second, n, "NAK")
	ev, _ = c.waitEvent(15*time.Second, n, "BOUND", "REBOOT")
	if ev.addr() != addr {
		e.fatalf("dhcpcd came back with %v, want %v", ev.addr(), addr)
	}
	srv.waitState(addr, "bound", 5*time.Second)
	e.waitFor(10*time.Second, "the disconnect campaign to record rebound", func() bool {
		return srv.campaignClients(1)[addr].Outcome == "rebound"
	})
}
