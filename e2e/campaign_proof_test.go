package e2e

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/leased/leased/dhcpv4"
	"github.com/leased/leased/internal/netns"
)

// The proofs of issue 4 that TestCampaign, TestCampaignForceNAK and the
// FORCERENEW tests in forcerenew_test.go do not give: a campaign that
// changes the gateway and the DNS servers, a token-mode campaign, negative
// controls (wrong xid, no authentication, a campaign the client cannot
// authenticate), section + range selection, and recycling of clients that
// ignore FORCERENEW. Campaigns use short schedules (2 attempts, 500 ms).

const (
	proofGateway = "10.77.0.254" // the pool's gateway after the operator's change
	proofDNS     = "10.77.0.53"  // the pool's DNS server after the change
)

// writeProofConfig writes the default configuration with the pool's
// gateway set to gw, its DNS server to dns and extra pool lines added.
func (l *Leased) writeProofConfig(gw, dns, extra string) {
	l.e.t.Helper()
	y := defaultConfig().yaml(filepath.Join(filepath.Dir(l.cfgPath), "data"), l.sock)
	old := "      gateway: " + gateway + "\n      dns: [" + gateway + "]\n"
	if !strings.Contains(y, old) {
		l.e.t.Fatalf("default config has no %q:\n%s", old, y)
	}
	y = strings.Replace(y, old, "      gateway: "+gw+"\n      dns: ["+dns+"]\n"+extra, 1)
	if err := os.WriteFile(l.cfgPath, []byte(y), 0o644); err != nil {
		l.e.t.Fatal(err)
	}
}

// leaseRaw is `leasectl lease ADDR --json` as a map, without "seq" (a
// FORCERENEW's replay value is persisted with the record and moves it).
func (l *Leased) leaseRaw(addr netip.Addr) map[string]any {
	l.e.t.Helper()
	code, out, errs := l.leasectl("--json", "lease", addr.String())
	var m map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &m) != nil {
		l.e.fatalf("leasectl lease %v --json: exit %d %s %s", addr, code, out, errs)
	}
	delete(m, "seq")
	return m
}

func sameLease(a, b map[string]any) bool {
	return maps.EqualFunc(a, b, func(x, y any) bool { return fmt.Sprint(x) == fmt.Sprint(y) })
}

// startDhcpcdInConf is startDhcpcdIn with extra dhcpcd.conf lines.
func (e *env) startDhcpcdInConf(name, ns, extra string) *campaignClient {
	e.t.Helper()
	c := e.campaignClient(name, ns, false)
	conf := filepath.Join(c.dir, "dhcpcd.conf")
	body := fmt.Sprintf("script %s\nnodelay\nipv4only\nnoipv6rs\nnoarp\noption subnet_mask, routers, domain_name_servers\n%s",
		filepath.Join(c.dir, "hook.sh"), extra)
	if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
		e.t.Fatal(err)
	}
	sh := fmt.Sprintf("mount -t tmpfs tmpfs /run && mkdir -p /run/dhcpcd && "+
		"mount --bind %[1]s/run /run/dhcpcd && mount --bind %[1]s/lib /var/lib/dhcpcd && "+
		"exec dhcpcd -f %[2]s -B -d -4 vcli", c.dir, conf)
	e.startIn(c, "unshare", "-m", "--propagation", "private", "sh", "-c", sh)
	return c
}

// startUdhcpcIn starts busybox udhcpc on vcli of ns.
func (e *env) startUdhcpcIn(name, ns string) *campaignClient {
	e.t.Helper()
	c := e.campaignClient(name, ns, true)
	e.startIn(c, "udhcpc", "-f", "-v", "-i", "vcli", "-s", filepath.Join(c.dir, "hook.sh"),
		"-p", filepath.Join(c.dir, "udhcpc.pid"), "-t", "5", "-T", "1")
	return c
}

// noRenew fails if c's hook logged a RENEW or REBIND after event n.
func noRenew(e *env, c *client, n int, why string) {
	e.t.Helper()
	evs := c.events()
	for _, ev := range evs[min(n, len(evs)):] {
		if ev.Reason == "RENEW" || ev.Reason == "REBIND" {
			e.fatalf("%s: %s renewed: hook %s", why, c.name, c.reasons())
		}
	}
}

// TestProofCampaignGatewayDNS: dhcpcd with default settings (RFC 6704
// authentication required) binds; the operator changes the pool's gateway
// and DNS server and reloads; a campaign makes dhcpcd renew within seconds
// and its hook sees both new values.
func TestProofCampaignGatewayDNS(t *testing.T) {
	e := newEnv(t, "dhcpcd", "ss")
	srv := e.startLeasedWith(gateway, "")
	c := e.startDhcpcd("dhcpcd", false)
	ev, n := c.waitEvent(15*time.Second, 0, "BOUND")
	addr := checkBoundVars(e, ev)
	srv.waitState(addr, "bound", 5*time.Second)
	if ev.Vars["new_routers"] != gateway {
		e.fatalf("BOUND routers %q, want %s", ev.Vars["new_routers"], gateway)
	}

	srv.writeProofConfig(proofGateway, proofDNS, "")
	srv.reload()
	start := time.Now()
	code, out, errs := srv.leasectl("forcerenew", "start", "--pool", "office", "--wait", "--attempts", "2", "--interval", "500ms")
	if code != 0 || !strings.Contains(out, "renewed  1") {
		e.fatalf("campaign: exit %d, stdout %q, stderr %q; want exit 0, 1 renewed", code, out, errs)
	}
	ev, _ = c.waitEvent(5*time.Second, n, "RENEW")
	took := time.Since(start)
	if ev.addr() != addr || ev.Vars["new_routers"] != proofGateway || ev.Vars["new_domain_name_servers"] != proofDNS {
		e.fatalf("RENEW after the campaign: %v routers %q DNS %q, want %v %s %s",
			ev.addr(), ev.Vars["new_routers"], ev.Vars["new_domain_name_servers"], addr, proofGateway, proofDNS)
	}
	if cl := srv.campaignClients(1); len(cl) != 1 || cl[addr].Outcome != "renewed" {
		e.fatalf("campaign clients: %+v", cl)
	}
	t.Logf("campaign start to hook RENEW with new gateway and DNS: %v", took.Round(time.Millisecond))
	srv.Stop()
}

// TestProofCampaignToken: RFC 3118 token mode. A pool with `forcerenew:
// {auth: token}` and dhcpcd with `authprotocol token` + `authtoken`: a
// campaign (the server's scheduler, not a single send) makes dhcpcd renew
// with the new DNS server.
func TestProofCampaignToken(t *testing.T) {
	e := newEnv(t, "dhcpcd", "ss")
	frTok := "      forcerenew: {auth: token, token: s3cret}\n"
	srv := e.startLeasedWith(gateway, frTok)
	c := e.startDhcpcdConf("dhcpcd", "authprotocol token\nauthtoken 0 \"\" forever \"s3cret\"\n")
	ev, n := c.waitEvent(15*time.Second, 0, "BOUND")
	addr := checkBoundVars(e, ev)
	srv.waitState(addr, "bound", 5*time.Second)

	srv.writeProofConfig(gateway, proofDNS, frTok)
	srv.reload()
	start := time.Now()
	code, out, errs := srv.leasectl("forcerenew", "start", "--pool", "office", "--wait", "--attempts", "2", "--interval", "500ms")
	if code != 0 || !strings.Contains(out, "renewed  1") {
		e.fatalf("token campaign: exit %d, stdout %q, stderr %q; want exit 0, 1 renewed", code, out, errs)
	}
	ev, _ = c.waitEvent(5*time.Second, n, "RENEW")
	if ev.addr() != addr || ev.Vars["new_domain_name_servers"] != proofDNS {
		e.fatalf("RENEW after the token campaign: %v DNS %q, want %v %s", ev.addr(), ev.Vars["new_domain_name_servers"], addr, proofDNS)
	}
	if cl := srv.campaignClients(1); cl[addr].Outcome != "renewed" || !cl[addr].Capable {
		e.fatalf("token campaign clients: %+v", cl)
	}
	t.Logf("token campaign to hook RENEW with the new DNS: %v", time.Since(start).Round(time.Millisecond))
	srv.Stop()
}

// unauthForceRenew is a FORCERENEW with the right xid and chaddr but no
// option 90.
func unauthForceRenew(t *testing.T, addr netip.Addr, xid uint32, hw []byte) []byte {
	t.Helper()
	h := dhcpv4.Header{Op: dhcpv4.BootReply, HType: 1, HLen: uint8(len(hw)), XID: xid, CIAddr: addr}
	copy(h.CHAddr[:], hw)
	var w dhcpv4.Writer
	w.Reset(make([]byte, 0, 600))
	w.Header(&h)
	w.OptionByte(dhcpv4.OptMessageType, byte(dhcpv4.ForceRenew))
	w.OptionAddr(dhcpv4.OptServerID, netns.ServerPrefix.Addr())
	pkt, err := w.End()
	if err != nil {
		t.Fatal(err)
	}
	return pkt
}

// TestProofNegativeXIDAndNoAuth: dhcpcd (default settings) ignores a
// FORCERENEW signed with its own reconfigure key but carrying a wrong xid,
// and one with the right xid but no authentication option; the same
// message with the right xid and key, sent afterwards the same way, makes
// it renew (so the controls are not vacuous).
func TestProofNegativeXIDAndNoAuth(t *testing.T) {
	e := newEnv(t, "dhcpcd", "ss")
	srv := e.startLeasedWith(gateway, "")
	c := e.startDhcpcd("dhcpcd", false)
	ev, n := c.waitEvent(15*time.Second, 0, "BOUND")
	addr := checkBoundVars(e, ev)
	srv.waitState(addr, "bound", 5*time.Second)
	key, err := c.leaseKey()
	if err != nil {
		e.fatalf("dhcpcd's DHCPACK: %v", err)
	}
	d := srv.detail(addr)
	var xid uint32
	if _, err := fmt.Sscanf(d.XID, "0x%x", &xid); err != nil {
		e.fatalf("xid %q: %v", d.XID, err)
	}
	hw, err := netipHW(d.HWAddr)
	if err != nil {
		e.fatalf("%v", err)
	}
	conn, err := e.top.Server.ListenUDP(netip.AddrPortFrom(netns.ServerPrefix.Addr(), 0))
	if err != nil {
		e.fatalf("%v", err)
	}
	defer conn.Close()
	to := netip.AddrPortFrom(addr, dhcpv4.ClientPort)
	send := func(what string, pkt []byte) {
		if _, err := conn.WriteToUDPAddrPort(pkt, to); err != nil {
			e.fatalf("send %s: %v", what, err)
		}
	}

	// (a) right key, wrong xid.
	send("FORCERENEW with a wrong xid", forceRenewPacket(t, addr, xid^0x00010001, hw, key))
	// (b) right xid, no authentication.
	send("unauthenticated FORCERENEW", unauthForceRenew(t, addr, xid, hw))
	time.Sleep(3 * time.Second)
	if evs := c.events(); len(evs) > n {
		e.fatalf("dhcpcd acted on a FORCERENEW with a wrong xid or without authentication: hook %s", c.reasons())
	}
	log := netns.TailFile(c.log, 200)
	if !strings.Contains(log, "unauthenticated Force Renew") && !strings.Contains(log, "no authentication") {
		e.fatalf("dhcpcd's log does not say it refused the unauthenticated FORCERENEW:\n%s", log)
	}
	// Control: right xid and key.
	send("FORCERENEW", forceRenewPacket(t, addr, xid, hw, key))
	c.waitEvent(5*time.Second, n, "RENEW")
	for _, line := range strings.Split(netns.TailFile(c.log, 200), "\n") {
		if strings.Contains(line, "Force Renew") || strings.Contains(line, "authentic") || strings.Contains(line, "xid") {
			t.Logf("dhcpcd: %s", line)
		}
	}
	srv.Stop()
}

// TestProofCampaignUnauthenticated: a pool with `forcerenew: {auth: none,
// insecure: true}` sends no reconfigure key and unsigned FORCERENEWs;
// dhcpcd with default settings requires authentication and ignores them.
// The campaign ends no_response with on-failure restore and the lease is
// unchanged (leasectl lease ADDR --json, seq aside).
func TestProofCampaignUnauthenticated(t *testing.T) {
	e := newEnv(t, "dhcpcd", "ss")
	frNone := "      forcerenew: {auth: none, insecure: true}\n"
	srv := e.startLeasedWith(gateway, frNone)
	c := e.startDhcpcd("dhcpcd", false)
	ev, n := c.waitEvent(15*time.Second, 0, "BOUND")
	addr := checkBoundVars(e, ev)
	srv.waitState(addr, "bound", 5*time.Second)
	if _, err := c.leaseKey(); err == nil {
		e.fatalf("an auth: none pool gave dhcpcd a reconfigure key")
	}
	before := srv.leaseRaw(addr)

	srv.writeProofConfig(gateway, proofDNS, frNone)
	srv.reload()
	start := time.Now()
	code, out, errs := srv.leasectl("forcerenew", "start", "--pool", "office", "--wait", "--attempts", "2", "--interval", "500ms")
	took := time.Since(start)
	t.Logf("campaign (%v, exit %d):\n%s%s", took.Round(time.Millisecond), code, out, errs)
	if code != 1 || !strings.Contains(out, "no_response  1") || !strings.Contains(out, "on failure restore") ||
		!strings.Contains(errs, "1 no_response") {
		e.fatalf("campaign: exit %d, stdout %q, stderr %q; want exit 1 with 1 no_response, restore", code, out, errs)
	}
	st := srv.campaign(1)
	if st.State != "done" || st.Counts["no_response"] != 1 {
		e.fatalf("campaign status: %+v", st)
	}
	cl := srv.campaignClients(1)
	if len(cl) != 1 || cl[addr].Outcome != "no_response" || !cl[addr].Capable {
		e.fatalf("campaign clients: %+v", cl)
	}
	if after := srv.leaseRaw(addr); !sameLease(before, after) {
		e.fatalf("lease changed by a no_response campaign with restore:\nbefore %v\nafter  %v", before, after)
	}
	noRenew(e, &c.client, n, "unauthenticated campaign")
	if log := netns.TailFile(c.log, 200); !strings.Contains(log, "unauthenticated Force Renew") && !strings.Contains(log, "no authentication") {
		e.fatalf("dhcpcd's log does not show the refused FORCERENEWs:\n%s", log)
	}
	srv.Stop()
}

// TestProofSectionRange: four dhcpcd clients with reservations: one in
// section 0 (inside the numeric span of the range), two in section 1 inside
// the range, one in section 1 outside it. `forcerenew start --pool office
// --section 1 --range A-B` selects exactly the two, they renew with the
// new DNS server, and the other two never renew.
func TestProofSectionRange(t *testing.T) {
	e := newEnv(t, "dhcpcd", "ss")
	want := []netip.Addr{
		netip.MustParseAddr("10.77.1.12"), // section 0, numerically in the range
		netip.MustParseAddr("10.77.2.10"), // section 1, in range
		netip.MustParseAddr("10.77.2.15"), // section 1, in range
		netip.MustParseAddr("10.77.2.30"), // section 1, outside the range
	}
	selected := []bool{false, true, true, false}
	var res strings.Builder
	res.WriteString("      reservations:\n")
	for i, a := range want {
		// clientNS(i) gives vcli the MAC 02:00:00:00:a0:<i+1>.
		fmt.Fprintf(&res, "        - {hwaddr: \"02:00:00:00:a0:%02x\", address: %s}\n", i+1, a)
	}
	srv := e.startLeasedWith(gateway, res.String())
	cs := make([]*campaignClient, len(want))
	for i := range want {
		cs[i] = e.startDhcpcdIn(fmt.Sprintf("dhcpcd-%d", i), e.clientNS(i))
	}
	ns := make([]int, len(want))
	for i, c := range cs {
		var ev hookEvent
		ev, ns[i] = c.waitEvent(20*time.Second, 0, "BOUND")
		if a := checkBoundVars(e, ev); a != want[i] {
			e.fatalf("%s bound %v, want its reservation %v", c.name, a, want[i])
		}
		srv.waitState(want[i], "bound", 5*time.Second)
	}

	srv.writeConfigWith(proofDNS, res.String())
	srv.reload()
	code, out, errs := srv.leasectl("forcerenew", "start", "--pool", "office", "--section", "1",
		"--range", "10.77.1.10-10.77.2.20", "--wait", "--attempts", "2", "--interval", "500ms")
	t.Logf("campaign (exit %d):\n%s%s", code, out, errs)
	if code != 0 || !strings.Contains(out, "2 clients") || !strings.Contains(out, "renewed  2") {
		e.fatalf("section+range campaign: exit %d, stdout %q, stderr %q; want exit 0, 2 clients renewed", code, out, errs)
	}
	cl := srv.campaignClients(1)
	got := slices.SortedFunc(maps.Keys(cl), netip.Addr.Compare)
	var exp []netip.Addr
	for i, a := range want {
		if selected[i] {
			exp = append(exp, a)
		}
	}
	if !slices.Equal(got, exp) {
		e.fatalf("campaign clients %v, want exactly %v", got, exp)
	}
	for i, c := range cs {
		if !selected[i] {
			continue
		}
		ev, _ := c.waitEvent(5*time.Second, ns[i], "RENEW")
		if ev.addr() != want[i] || ev.Vars["new_domain_name_servers"] != proofDNS || cl[want[i]].Outcome != "renewed" {
			e.fatalf("%s: RENEW %v DNS %q outcome %q", c.name, ev.addr(), ev.Vars["new_domain_name_servers"], cl[want[i]].Outcome)
		}
	}
	// The unselected clients: nothing after a second more (their T1 is 1 min).
	time.Sleep(time.Second)
	for i, c := range cs {
		if !selected[i] {
			noRenew(e, &c.client, ns[i], "not selected by section 1 + range")
		}
	}
	srv.Stop()
}

// TestProofNotCapableRecycle: dhclient and udhcpc ignore FORCERENEW. A
// campaign reports both not_capable and leaves their leases untouched; a
// campaign with --recycle-not-capable ends their bindings at once as
// docs/reconfiguration.md says, but the clients may use their addresses
// until their leases end, so the addresses are quarantined until the old
// expiry (issue #10 item 4) and the record keeps the client (hwaddr,
// client id).
func TestProofNotCapableRecycle(t *testing.T) {
	e := newEnv(t, "dhclient", "udhcpc", "ss")
	srv := e.startLeasedWith(gateway, "")
	dc := e.startDhclientIn("dhclient", e.clientNS(0))
	uc := e.startUdhcpcIn("udhcpc", e.clientNS(1))
	evD, nD := dc.waitEvent(30*time.Second, 0, "BOUND")
	evU, nU := uc.waitEvent(30*time.Second, 0, "bound")
	addrs := []netip.Addr{evD.addr(), evU.addr()}
	before := map[netip.Addr]map[string]any{}
	for _, a := range addrs {
		srv.waitState(a, "bound", 5*time.Second)
		before[a] = srv.leaseRaw(a)
		if before[a]["forcerenew_capable"] != false {
			e.fatalf("lease %v: %v, want forcerenew_capable false", a, before[a])
		}
	}

	// Without --recycle-not-capable: reported, untouched.
	code, out, errs := srv.leasectl("forcerenew", "start", "--pool", "office", "--wait", "--attempts", "2", "--interval", "500ms")
	t.Logf("campaign 1 (exit %d):\n%s%s", code, out, errs)
	if code != 1 || !strings.Contains(out, "not_capable  2") || !strings.Contains(errs, "2 of 2 clients did not take the new configuration: 2 not_capable") {
		e.fatalf("campaign 1: exit %d, stdout %q, stderr %q; want exit 1, 2 not_capable", code, out, errs)
	}
	cl := srv.campaignClients(1)
	for _, a := range addrs {
		if cl[a].Outcome != "not_capable" || cl[a].Capable {
			e.fatalf("campaign 1 clients: %+v", cl)
		}
		if after := srv.leaseRaw(a); !sameLease(before[a], after) {
			e.fatalf("lease %v changed by a campaign without --recycle-not-capable:\nbefore %v\nafter  %v", a, before[a], after)
		}
	}

	// With --recycle-not-capable: the bindings end at once, the addresses
	// are held until the old expiry.
	code, out, errs = srv.leasectl("forcerenew", "start", "--pool", "office", "--recycle-not-capable", "--wait", "--attempts", "2", "--interval", "500ms")
	t.Logf("campaign 2 (exit %d):\n%s%s", code, out, errs)
	if code != 1 || !strings.Contains(out, "not_capable  2") {
		e.fatalf("campaign 2: exit %d, stdout %q, stderr %q; want exit 1, 2 not_capable", code, out, errs)
	}
	for _, a := range addrs {
		var after map[string]any
		e.waitFor(3*time.Second, fmt.Sprintf("lease %v recycled (state quarantined)", a), func() bool {
			after = srv.leaseRaw(a)
			return after["state"] == "quarantined"
		})
		if fmt.Sprint(after["expires"]) != fmt.Sprint(before[a]["expires"]) {
			e.fatalf("recycled lease %v held until %v, want the old expiry %v", a, after["expires"], before[a]["expires"])
		}
		if after["hwaddr"] != before[a]["hwaddr"] || after["client_id"] != before[a]["client_id"] {
			e.fatalf("recycled lease %v lost its client: before %v after %v", a, before[a], after)
		}
	}
	if cl := srv.campaignClients(2); cl[addrs[0]].Outcome != "not_capable" || cl[addrs[1]].Outcome != "not_capable" {
		e.fatalf("campaign 2 clients: %+v", cl)
	}
	// Neither client renewed: they ignore FORCERENEW and got none.
	noRenew(e, &dc.client, nD, "dhclient")
	for _, ev := range uc.events()[nU:] {
		if ev.Reason == "renew" {
			e.fatalf("udhcpc renewed: %s", uc.reasons())
		}
	}
	// "The client keeps using the address until its next renew is
	// refused": udhcpc's renew (SIGUSR1) is NAKed, it deconfigures and
	// binds again by DORA (getting its address back while it is free).
	if err := uc.cmd.Process.Signal(syscall.SIGUSR1); err != nil {
		e.fatalf("SIGUSR1 udhcpc: %v", err)
	}
	_, nU = uc.waitEvent(5*time.Second, nU, "nak")
	ev, _ := uc.waitEvent(10*time.Second, nU, "bound")
	srv.waitState(ev.addr(), "bound", 5*time.Second)
	if ev.addr() != addrs[1] {
		t.Logf("udhcpc bound %v after the NAK (had %v)", ev.addr(), addrs[1])
	}
	srv.Stop()
}
