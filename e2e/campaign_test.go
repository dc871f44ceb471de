package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// campaignClient is one client of TestCampaign: a DHCP client in a
// namespace of its own, joined to the server through a bridge in the
// topology's client namespace.
type campaignClient struct {
	client
	ns  string
	cmd *exec.Cmd
	end chan struct{}
}

// nsRun runs a short command in namespace ns (bounded by 20 s).
func (e *env) nsRun(ns string, args ...string) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	argv := args
	if ns != "" {
		argv = append([]string{"ip", "netns", "exec", ns}, args...)
	}
	if out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput(); err != nil {
		e.fatalf("%s: %v: %s", strings.Join(argv, " "), err, out)
	}
}

// clientNS makes namespace <client ns>-<i> with a veth "vcli" whose peer
// is on bridge br0 in the client namespace (created on first use).
func (e *env) clientNS(i int) string {
	e.t.Helper()
	cli := e.top.Client.Name
	if i == 0 {
		e.nsRun(cli, "ip", "link", "add", "br0", "type", "bridge")
		e.nsRun(cli, "ip", "link", "set", "vcli", "master", "br0")
		e.nsRun(cli, "ip", "link", "set", "br0", "up")
	}
	ns := fmt.Sprintf("%s%d", cli, i)
	e.nsRun("", "ip", "netns", "add", ns)
	e.t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	peer := "p" + strconv.Itoa(i)
	e.nsRun(cli, "ip", "link", "add", peer, "type", "veth", "peer", "name", "vcli", "netns", ns)
	e.nsRun(cli, "ip", "link", "set", peer, "master", "br0")
	e.nsRun(cli, "ip", "link", "set", peer, "up")
	e.nsRun(ns, "ip", "link", "set", "lo", "up")
	e.nsRun(ns, "ip", "link", "set", "vcli", "address", fmt.Sprintf("02:00:00:00:a0:%02x", i+1))
	e.nsRun(ns, "ip", "link", "set", "vcli", "up")
	return ns
}

// startIn starts a long-running command in namespace ns, output to log;
// it is stopped by its PID (SIGTERM, then SIGKILL after 5 s) when the test
// ends.
func (e *env) startIn(c *campaignClient, args ...string) {
	e.t.Helper()
	f, err := os.OpenFile(c.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		e.t.Fatal(err)
	}
	c.cmd = exec.Command("ip", append([]string{"netns", "exec", c.ns}, args...)...)
	c.cmd.Stdout, c.cmd.Stderr = f, f
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := c.cmd.Start(); err != nil {
		f.Close()
		e.t.Fatal(err)
	}
	c.end = make(chan struct{})
	go func() { c.cmd.Wait(); f.Close(); close(c.end) }()
	e.t.Cleanup(c.stop)
}

// stop sends SIGTERM to the client's PID and waits up to 5 s, then kills
// its process group (Setpgid: the group is what it forked, e.g. dhcpcd's
// privsep children, which outlive a SIGKILL of their parent alone).
// Whatever is left of the group after the exit is killed too.
func (c *campaignClient) stop() {
	defer syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-c.end:
		return
	default:
	}
	c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.end:
	case <-time.After(5 * time.Second):
		c.cmd.Process.Kill()
		syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
		<-c.end
	}
}

func (e *env) campaignClient(name, ns string, configure bool) *campaignClient {
	dir := e.path(name)
	for _, d := range []string{"run", "lib"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			e.t.Fatal(err)
		}
	}
	c := &campaignClient{client: client{e: e, name: name, dir: dir, hookLog: filepath.Join(dir, "hook.log"),
		log: filepath.Join(dir, name+".log")}, ns: ns}
	writeHook(dir, c.hookLog, configure)
	e.addLog(c.log)
	e.addLog(c.hookLog)
	return c
}

// startDhcpcdIn starts dhcpcd (default settings: RFC 6704 authentication
// required) on vcli of ns, in a private mount namespace.
func (e *env) startDhcpcdIn(name, ns string) *campaignClient {
	e.t.Helper()
	c := e.campaignClient(name, ns, false)
	conf := filepath.Join(c.dir, "dhcpcd.conf")
	body := fmt.Sprintf("script %s\nnodelay\nipv4only\nnoipv6rs\nnoarp\noption subnet_mask, routers, domain_name_servers\n",
		filepath.Join(c.dir, "hook.sh"))
	if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
		e.t.Fatal(err)
	}
	sh := fmt.Sprintf("mount -t tmpfs tmpfs /run && mkdir -p /run/dhcpcd && "+
		"mount --bind %[1]s/run /run/dhcpcd && mount --bind %[1]s/lib /var/lib/dhcpcd && "+
		"exec dhcpcd -f %[2]s -B -d -4 vcli", c.dir, conf)
	e.startIn(c, "unshare", "-m", "--propagation", "private", "sh", "-c", sh)
	return c
}

func (e *env) startDhclientIn(name, ns string) *campaignClient {
	e.t.Helper()
	c := e.campaignClient(name, ns, true)
	conf := filepath.Join(c.dir, "dhclient.conf")
	if err := os.WriteFile(conf, []byte("request subnet-mask, routers, domain-name-servers;\ntimeout 30;\nretry 1;\n"), 0o644); err != nil {
		e.t.Fatal(err)
	}
	e.startIn(c, "dhclient", "-4", "-d", "-v", "-sf", filepath.Join(c.dir, "hook.sh"),
		"-lf", filepath.Join(c.dir, "dhclient.leases"), "-pf", filepath.Join(c.dir, "dhclient.pid"), "-cf", conf, "vcli")
	return c
}

// campaignJSON is the part of a campaign object (leasectl --json) the
// test reads.
type campaignJSON struct {
	ID     uint32         `json:"id"`
	State  string         `json:"state"`
	Counts map[string]int `json:"counts"`
}

type campaignClientJSON struct {
	Address netip.Addr `json:"address"`
	Outcome string     `json:"outcome"`
	Capable bool       `json:"capable"`
}

func (l *Leased) campaignClients(id uint32) map[netip.Addr]campaignClientJSON {
	l.e.t.Helper()
	code, out, errs := l.leasectl("--json", "forcerenew", "clients", strconv.Itoa(int(id)))
	var cl []campaignClientJSON
	if code != 0 || json.Unmarshal([]byte(out), &cl) != nil {
		l.e.fatalf("leasectl forcerenew clients %d: exit %d %s %s", id, code, out, errs)
	}
	m := map[netip.Addr]campaignClientJSON{}
	for _, c := range cl {
		m[c.Address] = c
	}
	return m
}

func (l *Leased) campaign(id uint32) campaignJSON {
	l.e.t.Helper()
	code, out, errs := l.leasectl("--json", "forcerenew", "status", strconv.Itoa(int(id)))
	var c campaignJSON
	if code != 0 || json.Unmarshal([]byte(out), &c) != nil {
		l.e.fatalf("leasectl forcerenew status %d: exit %d %s %s", id, code, out, errs)
	}
	return c
}

// knownCampaign is campaign for a server that may not know campaign id
// yet (a cluster server learns another's campaign at its next heartbeat,
// or when it takes the lead): false while leasectl says there is no such
// campaign, any other failure fails the test.
func (l *Leased) knownCampaign(id uint32) (campaignJSON, bool) {
	l.e.t.Helper()
	code, out, errs := l.leasectl("--json", "forcerenew", "status", strconv.Itoa(int(id)))
	var c campaignJSON
	if code != 0 && strings.Contains(errs, "no such campaign") {
		return c, false
	}
	if code != 0 || json.Unmarshal([]byte(out), &c) != nil {
		l.e.fatalf("leasectl forcerenew status %d: exit %d %s %s", id, code, out, errs)
	}
	return c, true
}

// TestCampaign: two dhcpcd (RFC 6704, default settings) and one dhclient
// bound in pool office. The operator changes the DNS server and reloads;
// `leasectl forcerenew start --pool office --wait` makes both dhcpcd renew
// with the new DNS server (seen by their hooks) and reports dhclient
// not_capable (exit 1 naming it). With one dhcpcd gone silent, a
// campaign stays running: a second, overlapping start is refused with the
// running campaign's progress, and stop --pool ends it (aborted).
func TestCampaign(t *testing.T) {
	e := newEnv(t, "dhcpcd", "dhclient", "ss")
	const newDNS = "10.77.0.53"
	srv := e.startLeasedWith(gateway, "")
	a := e.startDhcpcdIn("dhcpcd-a", e.clientNS(0))
	b := e.startDhcpcdIn("dhcpcd-b", e.clientNS(1))
	c := e.startDhclientIn("dhclient", e.clientNS(2))
	evA, nA := a.waitEvent(20*time.Second, 0, "BOUND")
	evB, nB := b.waitEvent(20*time.Second, 0, "BOUND")
	evC, _ := c.waitEvent(30*time.Second, 0, "BOUND")
	addrA, addrB, addrC := checkBoundVars(e, evA), checkBoundVars(e, evB), evC.addr()
	for _, ad := range []netip.Addr{addrA, addrB, addrC} {
		srv.waitState(ad, "bound", 5*time.Second)
	}

	srv.writeConfigWith(newDNS, "")
	srv.reload()

	// Campaign 1: the whole pool, waited for.
	start := time.Now()
	code, out, errs := srv.leasectl("forcerenew", "start", "--pool", "office", "--wait", "--attempts", "3", "--interval", "1s")
	took := time.Since(start)
	t.Logf("leasectl forcerenew start --wait (%v, exit %d):\n%s%s", took.Round(time.Millisecond), code, out, errs)
	if code != 1 || !strings.Contains(errs, "1 of 3 clients did not take the new configuration: 1 not_capable") {
		e.fatalf("campaign 1: exit %d, stderr %q; want exit 1 naming 1 not_capable", code, errs)
	}
	for _, want := range []string{"campaign 1 started: pool office, 3 clients (1 not capable)", "campaign 1 done", "renewed      2", "not_capable  1"} {
		if !strings.Contains(out, want) {
			e.fatalf("campaign 1 output lacks %q:\n%s", want, out)
		}
	}
	for _, x := range []struct {
		c *campaignClient
		n int
		a netip.Addr
	}{{a, nA, addrA}, {b, nB, addrB}} {
		ev, _ := x.c.waitEvent(5*time.Second, x.n, "RENEW")
		if ev.addr() != x.a || ev.Vars["new_domain_name_servers"] != newDNS {
			e.fatalf("%s RENEW: %v DNS %q, want %v %s", x.c.name, ev.addr(), ev.Vars["new_domain_name_servers"], x.a, newDNS)
		}
	}
	cl := srv.campaignClients(1)
	if cl[addrA].Outcome != "renewed" || cl[addrB].Outcome != "renewed" || cl[addrC].Outcome != "not_capable" || cl[addrC].Capable {
		e.fatalf("campaign 1 clients: %+v", cl)
	}
	for _, ev := range c.events()[1:] {
		if ev.Reason == "RENEW" || ev.Reason == "REBIND" {
			e.fatalf("dhclient renewed during the campaign (it ignores FORCERENEW): %s", c.reasons())
		}
	}

	// Campaign 2: dhcpcd-b stops (no DHCPRELEASE: its lease stays bound)
	// so the campaign keeps running; an overlapping start is refused.
	b.stop()
	code, out, errs = srv.leasectl("forcerenew", "start", "--pool", "office", "--attempts", "5", "--interval", "2s")
	if code != 0 || !strings.HasPrefix(out, "campaign 2 started: pool office, 3 clients (1 not capable)") {
		e.fatalf("campaign 2: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	code, out, errs = srv.leasectl("forcerenew", "start", "--pool", "office", "--section", "0", "--wait")
	if code != 1 || !strings.Contains(errs, `pool "office" already has running campaign 2 (pool office, started `) ||
		!strings.Contains(errs, "of 3 clients done") {
		e.fatalf("overlapping start: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	t.Logf("overlap: %s", strings.TrimSpace(errs))
	code, out, errs = srv.leasectl("forcerenew", "stop", "--pool", "office")
	if code != 0 || !strings.HasPrefix(out, "campaign 2 stopped") {
		e.fatalf("stop: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	st := srv.campaign(2)
	if st.State != "stopped" || st.Counts["aborted"] != 1 || st.Counts["pending"] != 0 {
		e.fatalf("campaign 2 after stop: %+v", st)
	}
	if cl := srv.campaignClients(2); cl[addrB].Outcome != "aborted" {
		e.fatalf("campaign 2: dhcpcd-b outcome %q, want aborted: %+v", cl[addrB].Outcome, cl)
	}
	code, out, _ = srv.leasectl("forcerenew", "status")
	t.Logf("leasectl forcerenew status:\n%s", out)
	if code != 0 || strings.Count(out, "\n") != 3 {
		e.fatalf("status: exit %d\n%s", code, out)
	}
	srv.Stop()
}

// TestCampaignForceNAK: a force-NAK campaign to one dhcpcd: FORCERENEW,
// the renew is NAKed, dhcpcd re-DISCOVERs and binds again with the new
// DNS server; the campaign reports rebound.
//
// Known failure (found by this test): leased broadcasts the NAK to
// 255.255.255.255 (RFC 2131 §4.1 for giaddr 0), but dhcpcd in RENEWING
// only listens on a UDP socket bound to its leased address, so it never
// sees the NAK; it retransmits the REQUEST ~4 s later and gets an ACK.
// The campaign then says rebound (if the ACK beats the post-NAK wait) or
// no_response: both seen in runs here.
func TestCampaignForceNAK(t *testing.T) {
	e := newEnv(t, "dhcpcd", "ss")
	const newDNS = "10.77.0.55"
	srv := e.startLeasedWith(gateway, "")
	a := e.startDhcpcdIn("dhcpcd-a", e.clientNS(0))
	ev, n := a.waitEvent(20*time.Second, 0, "BOUND")
	addr := checkBoundVars(e, ev)
	srv.waitState(addr, "bound", 5*time.Second)
	srv.writeConfigWith(newDNS, "")
	srv.reload()
	code, out, errs := srv.leasectl("forcerenew", "start", "--client", addr.String(), "--force-nak", "--wait", "--attempts", "3", "--interval", "1s")
	t.Logf("force-NAK campaign (exit %d):\n%s%s", code, out, errs)
	if code != 0 || !strings.Contains(out, "rebound  1") {
		e.fatalf("force-NAK campaign: exit %d, stdout %q, stderr %q; want exit 0 with 1 rebound", code, out, errs)
	}
	a.waitEvent(5*time.Second, n, "NAK")
	ev, _ = a.waitEvent(10*time.Second, n, "BOUND")
	if ev.Vars["new_domain_name_servers"] != newDNS {
		e.fatalf("dhcpcd BOUND after NAK: DNS %q, want %s", ev.Vars["new_domain_name_servers"], newDNS)
	}
	srv.Stop()
}
