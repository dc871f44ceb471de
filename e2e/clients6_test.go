package e2e

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/leased/leased/dhcpv6"
	"github.com/leased/leased/internal/netns"
)

// hookScript6 logs the reason and the new_*/old_* variables of dhcpcd and
// dhclient in DHCPv6 mode (their names hold digits: new_dhcp6_ia_na1_...,
// new_ip6_address), one line per call, and configures nothing. Spaces
// inside a value (several DNS servers) become commas, so readHook can
// split the line on spaces.
const hookScript6 = `#!/bin/sh
vars=$(env | grep -E '^(new|old)_[a-z0-9_]+=' | sed 's/ /,/g' | sort | tr '\n' ' ')
printf 'reason=%s %s\n' "$reason" "$vars" >> LOGFILE
exit 0
`

func writeHook6(dir, logPath string) string {
	p := filepath.Join(dir, "hook6.sh")
	script := strings.Replace(hookScript6, "LOGFILE", "'"+logPath+"'", 1)
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		panic(err)
	}
	return p
}

// v6 returns what a hook event says about DHCPv6: the IA_NA address, the
// IA_PD prefix and the DNS servers, from dhcpcd's (new_dhcp6_ia_na1_ia_addr1,
// new_dhcp6_ia_pd1_prefix1 + _length) or dhclient's (new_ip6_address,
// new_ip6_prefix) variables.
func (h hookEvent) v6() (addr netip.Addr, pd netip.Prefix, dns string) {
	v := h.Vars
	if a, err := netip.ParseAddr(v["new_dhcp6_ia_na1_ia_addr1"] + v["new_ip6_address"]); err == nil {
		addr = a
	}
	if a, err := netip.ParseAddr(v["new_dhcp6_ia_pd1_prefix1"]); err == nil {
		if n, err := strconv.Atoi(v["new_dhcp6_ia_pd1_prefix1_length"]); err == nil {
			pd = netip.PrefixFrom(a, n)
		}
	}
	if p, err := netip.ParsePrefix(v["new_ip6_prefix"]); err == nil {
		pd = p
	}
	return addr, pd, v["new_dhcp6_name_servers"]
}

// --- dhcpcd -6 --------------------------------------------------------------

type dhcpcd6 struct {
	client
	conf string
}

// dhcpcd6Opts are the dhcpcd -6 variations the tests need.
type dhcpcd6Opts struct {
	// PD adds an IA_PD (ia_pd 2) to the IA_NA (ia_na 1). The prefix is
	// requested but delegated to no interface ("-").
	PD bool
	// NoReconfAccept leaves out Reconfigure Accept (option 20). dhcpcd
	// 9.4 sends it only when told (`option reconfigure_accept`).
	NoReconfAccept bool
	// Extra are global dhcpcd.conf lines (before the interface block).
	Extra string
	// PDHint asks for a prefix of this length in the IA_PD ("ia_pd
	// 2/::/LEN -", RFC 8415 §18.2.1 hint); 0: no hint. Implies PD.
	PDHint int
}

// startDhcpcd6 starts `dhcpcd -6` (stateful DHCPv6 without waiting for a
// router advertisement: ipv6only, noipv6rs and an ia_na) in the client
// namespace, in its own private mount namespace like the v4 tests.
func (e *env) startDhcpcd6(name string, o dhcpcd6Opts) *dhcpcd6 {
	e.t.Helper()
	dir := e.path(name)
	for _, d := range []string{"run", "lib"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			e.t.Fatal(err)
		}
	}
	c := &dhcpcd6{client: client{e: e, name: name, dir: dir,
		hookLog: filepath.Join(dir, "hook.log"), log: filepath.Join(dir, "dhcpcd.log")}}
	hook := writeHook6(dir, c.hookLog)
	opts := "dhcp6_name_servers"
	if !o.NoReconfAccept {
		opts += ", reconfigure_accept"
	}
	conf := fmt.Sprintf("script %s\nnodelay\nipv6only\nnoipv6rs\noption %s\n%sinterface %s\n  ia_na 1\n",
		hook, opts, o.Extra, netns.ClientIf)
	switch {
	case o.PDHint > 0:
		conf += fmt.Sprintf("  ia_pd 2/::/%d -\n", o.PDHint)
	case o.PD:
		conf += "  ia_pd 2 -\n"
	}
	c.conf = filepath.Join(dir, "dhcpcd.conf")
	if err := os.WriteFile(c.conf, []byte(conf), 0o644); err != nil {
		e.t.Fatal(err)
	}
	e.addLog(c.log)
	e.addLog(c.hookLog)
	c.start()
	return c
}

func (c *dhcpcd6) start() {
	c.e.t.Helper()
	sh := fmt.Sprintf("mount -t tmpfs tmpfs /run && mkdir -p /run/dhcpcd && "+
		"mount --bind %[1]s/run /run/dhcpcd && mount --bind %[1]s/lib /var/lib/dhcpcd && "+
		"exec dhcpcd -f %[2]s -B -d -6 %[3]s", c.dir, c.conf, netns.ClientIf)
	var err error
	c.proc, err = c.e.top.Client.Start(c.log, "unshare", "-m", "--propagation", "private", "sh", "-c", sh)
	if err != nil {
		c.e.t.Fatal(err)
	}
}

// ctl runs `dhcpcd ARG -6 vcli` inside the daemon's mount and network
// namespaces (-N renew, -n rebind, -k release).
func (c *dhcpcd6) ctl(arg string) {
	c.e.t.Helper()
	out, err := c.e.top.Client.Run("nsenter", "-t", strconv.Itoa(c.proc.PID()), "-m", "-n",
		"dhcpcd", "-f", c.conf, arg, "-6", netns.ClientIf)
	if err != nil {
		c.e.fatalf("dhcpcd %s -6: %v: %s", arg, err, out)
	}
}

func (c *dhcpcd6) stop() {
	c.e.t.Helper()
	if err := c.proc.Stop(10 * time.Second); err != nil {
		c.e.fatalf("dhcpcd did not stop: %v", err)
	}
}

// reply returns the DHCPv6 Reply dhcpcd bound with (its lease file,
// /var/lib/dhcpcd/vcli.lease6, holds the raw message).
func (c *dhcpcd6) reply() (*dhcpv6.Message, error) {
	b, err := os.ReadFile(filepath.Join(c.dir, "lib", netns.ClientIf+".lease6"))
	if err != nil {
		return nil, err
	}
	m := new(dhcpv6.Message)
	if err := m.Decode(b); err != nil {
		return nil, fmt.Errorf("lease file: %w", err)
	}
	if m.Type != dhcpv6.Reply {
		return nil, fmt.Errorf("lease file holds a %v", m.Type)
	}
	return m, nil
}

// reconfigureKey returns the RFC 8415 §20.4 reconfigure key (option 11,
// protocol 3, type 1) and its replay detection value from the Reply in
// dhcpcd's lease file.
func (c *dhcpcd6) reconfigureKey() (key []byte, replay uint64, err error) {
	m, err := c.reply()
	if err != nil {
		return nil, 0, err
	}
	a, ok := m.Auth()
	if !ok {
		return nil, 0, fmt.Errorf("the Reply in the lease file has no option 11")
	}
	typ, v, ok := a.ReconfigureKey()
	if !ok || typ != dhcpv6.AuthInfoReconfigureKey {
		return nil, 0, fmt.Errorf("Reply option 11 is %+v, want protocol 3, algorithm 1, RDM 0, type 1 key", a)
	}
	return append([]byte(nil), v...), a.ReplayDetection, nil
}

// --- ISC dhclient -6 -------------------------------------------------------

type dhclient6 struct {
	client
	pd   bool
	conf string
}

// startDhclient6 starts `dhclient -6` (IA_NA) or `dhclient -6 -P` (IA_PD
// only) in the client namespace with a logging hook.
func (e *env) startDhclient6(name string, pd bool) *dhclient6 {
	e.t.Helper()
	dir := e.path(name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		e.t.Fatal(err)
	}
	c := &dhclient6{client: client{e: e, name: name, dir: dir, hookLog: filepath.Join(dir, "hook.log"),
		log: filepath.Join(dir, "dhclient.log")}, pd: pd, conf: filepath.Join(dir, "dhclient6.conf")}
	writeHook6(dir, c.hookLog)
	if err := os.WriteFile(c.conf, []byte("request dhcp6.name-servers;\n"), 0o644); err != nil {
		e.t.Fatal(err)
	}
	e.addLog(c.log)
	e.addLog(c.hookLog)
	var err error
	c.proc, err = e.top.Client.Start(c.log, "dhclient", c.args("-d", "-v")...)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// args: -D LL makes dhclient's DUID a DUID-LL (type 3) from vcli's MAC,
// distinct from the DUID-LLT (type 1) dhcpcd makes from the same MAC (a
// DUID-LLT made in the same second as dhcpcd's would be identical, one
// client to the server).
func (c *dhclient6) args(extra ...string) []string {
	a := []string{"-6", "-D", "LL"}
	if c.pd {
		a = append(a, "-P")
	}
	a = append(a, extra...)
	return append(a, "-sf", filepath.Join(c.dir, "hook6.sh"), "-lf", filepath.Join(c.dir, "dhclient6.leases"),
		"-pf", filepath.Join(c.dir, "dhclient6.pid"), "-cf", c.conf, netns.ClientIf)
}

// release stops dhclient by its PID and runs `dhclient -6 [-P] -r` with
// the same lease file: it sends a Release and runs the hook (RELEASE6).
func (c *dhclient6) release() {
	c.e.t.Helper()
	if err := c.proc.Stop(5 * time.Second); err != nil && !netns.KilledBy(err, syscall.SIGTERM) {
		c.e.fatalf("dhclient did not stop on SIGTERM: %v", err)
	}
	out, err := c.e.top.Client.Run("dhclient", c.args("-r", "-v")...)
	if f, ferr := os.OpenFile(c.log, os.O_WRONLY|os.O_APPEND, 0); ferr == nil {
		fmt.Fprintf(f, "===== e2e: dhclient -6 -r\n%s", out)
		f.Close()
	}
	if err != nil {
		c.e.fatalf("dhclient -6 -r: %v: %s", err, out)
	}
}

// --- perfdhcp -6 -----------------------------------------------------------

type perfResult6 struct {
	SA, RR  perfStats // SOLICIT-ADVERTISE, REQUEST-REPLY
	Rate    string
	Elapsed time.Duration
	Output  string
}

func (r perfResult6) String() string {
	return fmt.Sprintf("SOLICIT-ADVERTISE %+v, REQUEST-REPLY %+v, %s, wall %v", r.SA, r.RR, r.Rate, r.Elapsed.Round(time.Millisecond))
}

// runPerfdhcp6 runs `perfdhcp -6 -l vcli` in the client namespace: it
// sends from vcli's link-local address, port 546, to ff02::1:2. -W 2000000
// waits 2 s for in-flight exchanges so they do not count as drops.
func (e *env) runPerfdhcp6(args ...string) perfResult6 {
	e.t.Helper()
	r, err := e.perfdhcp6(args...)
	if err != nil {
		e.fatalf("%v", err)
	}
	return r
}

// perfdhcp6 is runPerfdhcp6 returning its error (usable off the test's
// goroutine).
func (e *env) perfdhcp6(args ...string) (perfResult6, error) {
	all := append([]string{"-6", "-l", netns.ClientIf, "-W", "2000000"}, args...)
	ctx, cancel := context.WithTimeout(context.Background(), 180*time.Second)
	defer cancel()
	start := time.Now()
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", e.top.Client.Name, "perfdhcp"}, all...)...)
	out, err := cmd.CombinedOutput()
	res := perfResult6{Elapsed: time.Since(start), Output: string(out)}
	// perfdhcp exits 3 when packets were dropped; the counters say more.
	if err != nil && cmd.ProcessState != nil && cmd.ProcessState.ExitCode() != 3 || ctx.Err() != nil {
		return res, fmt.Errorf("perfdhcp %s: %v\n%s", strings.Join(all, " "), err, out)
	}
	res.Rate = parsePerfdhcp(res.Output, "SOLICIT-ADVERTISE", &res.SA, "REQUEST-REPLY", &res.RR)
	if res.SA.Sent == 0 {
		return res, fmt.Errorf("perfdhcp -6 output not understood:\n%s", out)
	}
	return res, nil
}

// --- ISC dhcrelay -6 -------------------------------------------------------

// startDhcrelay6 runs `dhcrelay -6` in the relay namespace: clients on
// RelayDownIf, the server at ServerPrefix6 through RelayUpIf. -I adds an
// Interface-ID option (18) that the server must echo in its Relay-reply
// (RFC 8415 §19.3); dhcrelay uses it to pick the downstream interface. The
// relay puts RelayDownIf's global address in link-address (§19.1.1).
func (e *env) startDhcrelay6() *netns.Proc {
	e.t.Helper()
	return e.startDhcrelay6At(0)
}

// startDhcrelay6At runs dhcrelay -6 -I in relay i of a chain: relay 0
// relays to the server, relay i > 0 to relay i-1's downstream address
// (netns.ChainPrefix6(i) ::1), so a message from the client crosses every
// relay, each adding a Relay-forward layer. Log: dhcrelay-<i>.log
// (dhcrelay.log for relay 0).
func (e *env) startDhcrelay6At(i int) *netns.Proc {
	e.t.Helper()
	if i >= len(e.top.Relays) {
		e.t.Fatalf("startDhcrelay6At(%d): the topology has %d relays", i, len(e.top.Relays))
	}
	up := netns.ServerPrefix6.Addr()
	log := e.path("dhcrelay.log")
	if i > 0 {
		up = netns.ChainPrefix6(i).Addr().Next() // ::1 of link i
		log = e.path(fmt.Sprintf("dhcrelay-%d.log", i))
	}
	e.addLog(log)
	r := e.top.Relays[i]
	p, err := r.Start(log, "dhcrelay", "-6", "-d", "-I", "-pf", log+".pid",
		"-l", netns.RelayDownIf, "-u", up.String()+"%"+netns.RelayUpIf)
	if err != nil {
		e.t.Fatal(err)
	}
	e.waitFor(10*time.Second, "dhcrelay to listen on port 547", func() bool {
		out, err := r.Run("ss", "-ulnH", "sport", "=", ":547")
		return err == nil && strings.TrimSpace(out) != ""
	})
	return p
}

// --- dibbler-relay ---------------------------------------------------------

// startDibblerRelay6 runs dibbler-relay (Debian dibbler-relay) in the
// relay namespace, in a private mount namespace whose /etc/dibbler,
// /var/lib/dibbler and /var/log/dibbler are the test's directories (it
// reads and writes only those compiled-in paths). Clients on RelayDownIf
// (multicast), the server by unicast at ServerPrefix6 through RelayUpIf,
// with an Interface-ID option. globals are extra relay.conf lines before
// the interfaces (e.g. "option relay-id 00:03:...", "option remote-id
// 9-0x...").
func (e *env) startDibblerRelay6(globals ...string) *netns.Proc {
	e.t.Helper()
	if e.top.Relay == nil {
		e.t.Fatal("startDibblerRelay6 needs a relayed topology")
	}
	dir := e.path("dibbler")
	for _, d := range []string{"etc", "lib", "log"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			e.t.Fatal(err)
		}
	}
	conf := fmt.Sprintf("log-level 8\nlog-mode short\n%siface %q {\n  client multicast yes\n  interface-id 5555\n}\niface %q {\n  server unicast %s\n}\n",
		strings.Join(append(globals, ""), "\n"), netns.RelayDownIf, netns.RelayUpIf, netns.ServerPrefix6.Addr())
	if err := os.WriteFile(filepath.Join(dir, "etc", "relay.conf"), []byte(conf), 0o644); err != nil {
		e.t.Fatal(err)
	}
	log := e.path("dibbler-relay.log")
	e.addLog(log)
	e.addLog(filepath.Join(dir, "log", "dibbler-relay.log"))
	sh := fmt.Sprintf("mount --bind %[1]s/etc /etc/dibbler && mount --bind %[1]s/lib /var/lib/dibbler && "+
		"mount --bind %[1]s/log /var/log/dibbler && exec dibbler-relay run", dir)
	p, err := e.top.Relay.Start(log, "unshare", "-m", "--propagation", "private", "sh", "-c", sh)
	if err != nil {
		e.t.Fatal(err)
	}
	e.waitFor(10*time.Second, "dibbler-relay to listen on port 547", func() bool {
		out, err := e.top.Relay.Run("ss", "-ulnH", "sport", "=", ":547")
		return err == nil && strings.TrimSpace(out) != ""
	})
	return p
}
