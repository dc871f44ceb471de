package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/leased/leased/auth"
	"github.com/leased/leased/dhcpv4"
	"github.com/leased/leased/internal/netns"
)

// startLeasedWith is startLeased with the default configuration edited:
// the pool's DNS server set to dns and extra pool lines (e.g. forcerenew)
// added.
func (e *env) startLeasedWith(dns, extra string) *Leased {
	e.t.Helper()
	dir := e.path("leased")
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		e.t.Fatal(err)
	}
	l := &Leased{e: e, cfgPath: filepath.Join(dir, "leased.yaml"),
		sock: filepath.Join(dir, "control.sock"), log: e.path("leased.log")}
	e.addLog(l.log)
	l.writeConfigWith(dns, extra)
	l.Start()
	return l
}

func (l *Leased) writeConfigWith(dns, extra string) {
	l.e.t.Helper()
	y := defaultConfig().yaml(filepath.Join(filepath.Dir(l.cfgPath), "data"), l.sock)
	old := "      dns: [" + gateway + "]\n"
	if !strings.Contains(y, old) {
		l.e.t.Fatalf("default config has no %q line:\n%s", old, y)
	}
	y = strings.Replace(y, old, "      dns: ["+dns+"]\n"+extra, 1)
	if err := os.WriteFile(l.cfgPath, []byte(y), 0o644); err != nil {
		l.e.t.Fatal(err)
	}
}

// reload sends SIGHUP to leased and waits for its "reloaded" log line.
func (l *Leased) reload() {
	l.e.t.Helper()
	before := strings.Count(netns.TailFile(l.log, 100000), `"msg":"reloaded"`)
	if err := l.proc.Signal(syscall.SIGHUP); err != nil {
		l.e.fatalf("SIGHUP leased: %v", err)
	}
	l.e.waitFor(5*time.Second, "leased to log reloaded", func() bool {
		return strings.Count(netns.TailFile(l.log, 100000), `"msg":"reloaded"`) > before
	})
}

// leasectl runs leasectl against this leased and returns its exit status,
// stdout and stderr.
func (l *Leased) leasectl(args ...string) (int, string, string) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, leasectlBin, append([]string{"--socket", l.sock}, args...)...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		l.e.fatalf("leasectl %v: %v", args, err)
	}
	return code, out.String(), errb.String()
}

// leaseDetail is the part of `leasectl lease ADDR --json` this file needs.
type leaseDetail struct {
	XID               string `json:"xid"`
	HWAddr            string `json:"hwaddr"`
	ForceRenewCapable bool   `json:"forcerenew_capable"`
	State             string `json:"state"`
}

func (l *Leased) detail(addr netip.Addr) leaseDetail {
	l.e.t.Helper()
	code, out, errs := l.leasectl("--json", "lease", addr.String())
	var d leaseDetail
	if code != 0 || json.Unmarshal([]byte(out), &d) != nil {
		l.e.fatalf("leasectl lease %v: exit %d %s %s", addr, code, out, errs)
	}
	return d
}

// dhcpcdLeaseKey reads dhcpcd's lease file (the raw DHCPACK it bound with)
// and returns the RFC 6704 reconfigure key in its option 90.
func (c *dhcpcd) leaseKey() ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(c.dir, "lib", netns.ClientIf+".lease"))
	if err != nil {
		return nil, err
	}
	var m dhcpv4.Message
	if err := m.Decode(b); err != nil {
		return nil, fmt.Errorf("lease file: %w", err)
	}
	if m.Type() != dhcpv4.Ack {
		return nil, fmt.Errorf("lease file holds a %v", m.Type())
	}
	a, ok := m.Auth()
	if !ok {
		return nil, fmt.Errorf("the DHCPACK in the lease file has no option 90")
	}
	if a.Protocol != dhcpv4.AuthProtoReconfigureKey || a.Algorithm != dhcpv4.AuthAlgHMACMD5 ||
		len(a.Info) != 17 || a.Info[0] != dhcpv4.AuthInfoReconfigureKey {
		return nil, fmt.Errorf("DHCPACK option 90 is %+v, want protocol 3, algorithm 1, type 1 key", a)
	}
	return bytes.Clone(a.Info[1:]), nil
}

// forceRenewPacket builds a FORCERENEW to addr with xid and chaddr signed
// with key (RFC 6704), as leased would, but from the test.
func forceRenewPacket(t *testing.T, addr netip.Addr, xid uint32, hw []byte, key []byte) []byte {
	t.Helper()
	h := dhcpv4.Header{Op: dhcpv4.BootReply, HType: 1, HLen: uint8(len(hw)), XID: xid, CIAddr: addr}
	copy(h.CHAddr[:], hw)
	var w dhcpv4.Writer
	w.Reset(make([]byte, 0, 600))
	w.Header(&h)
	w.OptionByte(dhcpv4.OptMessageType, byte(dhcpv4.ForceRenew))
	w.OptionAddr(dhcpv4.OptServerID, netns.ServerPrefix.Addr())
	off := auth.WriteForceRenewOption(&w, auth.TimeFloor(time.Now()))
	pkt, err := w.End()
	if err != nil {
		t.Fatal(err)
	}
	if err := auth.SignHMACMD5(pkt, off, key, nil); err != nil {
		t.Fatal(err)
	}
	return pkt
}

// TestDhcpcdForceRenew: dhcpcd with default settings (authentication
// required) binds and its DHCPACK carries an RFC 6704 key; the operator
// changes the pool's DNS server and reloads; `leasectl forcerenew send`
// makes dhcpcd renew within seconds and its hook sees the new DNS server.
// A FORCERENEW signed with a wrong key, sent from the server namespace, is
// ignored; the same message signed with the right key (read from dhcpcd's
// lease file) is acted on, so the negative control is not vacuous.
func TestDhcpcdForceRenew(t *testing.T) {
	e := newEnv(t, "dhcpcd", "ss")
	const newDNS = "10.77.0.53"
	srv := e.startLeasedWith(gateway, "")
	c := e.startDhcpcd("dhcpcd", false)
	ev, n := c.waitEvent(15*time.Second, 0, "BOUND")
	addr := checkBoundVars(e, ev)
	srv.waitState(addr, "bound", 5*time.Second)
	key1, err := c.leaseKey()
	if err != nil {
		e.fatalf("dhcpcd's DHCPACK: %v", err)
	}
	if d := srv.detail(addr); !d.ForceRenewCapable {
		e.fatalf("lease %v not marked forcerenew_capable (dhcpcd sends option 145): %+v", addr, d)
	}

	// The operator changes the DNS server and reloads.
	srv.writeConfigWith(newDNS, "")
	srv.reload()

	start := time.Now()
	code, out, errs := srv.leasectl("forcerenew", "send", addr.String())
	if code != 0 || out != "FORCERENEW sent to "+addr.String()+"\n" {
		e.fatalf("leasectl forcerenew send: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	ev, n = c.waitEvent(5*time.Second, n, "RENEW")
	took := time.Since(start)
	if a := ev.addr(); a != addr {
		e.fatalf("RENEW after FORCERENEW gave %v, want %v", a, addr)
	}
	if d := ev.Vars["new_domain_name_servers"]; d != newDNS {
		e.fatalf("RENEW after FORCERENEW: DNS %q, want the new %s", d, newDNS)
	}
	t.Logf("FORCERENEW to hook RENEW with the new DNS: %v", took)

	// The renewal's ACK carried the binding's key again: a key belongs to
	// the binding, not to one exchange (docs/reconfiguration.md, Security).
	key2, err := c.leaseKey()
	if err != nil || !bytes.Equal(key2, key1) {
		e.fatalf("after the renewal dhcpcd holds key %x (%v), want the binding's key %x", key2, err, key1)
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
	to := netip.AddrPortFrom(addr, dhcpv4.ClientPort)
	wrong := bytes.Repeat([]byte{0x5a}, 16)
	if _, err := conn.WriteToUDPAddrPort(forceRenewPacket(t, addr, xid, hw, wrong), to); err != nil {
		e.fatalf("send forged FORCERENEW: %v", err)
	}
	time.Sleep(3 * time.Second)
	if evs := c.events(); len(evs) > n {
		e.fatalf("dhcpcd acted on a FORCERENEW signed with a wrong key: hook %s", c.reasons())
	}
	// dhcpcd 9.4 logs why it dropped the message (dhcp_auth_validate).
	if log := netns.TailFile(c.log, 50); !strings.Contains(log, "authentication failed") {
		e.fatalf("dhcpcd log does not say it refused the forged FORCERENEW for authentication:\n%s", log)
	}
	// Control: the same message signed with the key dhcpcd holds works.
	if _, err := conn.WriteToUDPAddrPort(forceRenewPacket(t, addr, xid, hw, key2), to); err != nil {
		e.fatalf("send FORCERENEW: %v", err)
	}
	c.waitEvent(5*time.Second, n, "RENEW")
	e.checkUnique(srv.Leases())
	srv.Stop()
	t.Logf("dhcpcd hook: %s", c.reasons())
	for _, line := range strings.Split(netns.TailFile(c.log, 200), "\n") {
		if strings.Contains(line, "Force Renew") || strings.Contains(line, "authentication") {
			t.Logf("dhcpcd: %s", line)
		}
	}
}

func netipHW(s string) ([]byte, error) {
	var hw []byte
	for p := range strings.SplitSeq(s, ":") {
		var b byte
		if _, err := fmt.Sscanf(p, "%02x", &b); err != nil {
			return nil, fmt.Errorf("hwaddr %q: %v", s, err)
		}
		hw = append(hw, b)
	}
	return hw, nil
}

// TestForceRenewNotCapable: dhclient and udhcpc send no option 145, get no
// key, and leasectl forcerenew send reports them not capable (exit 1).
func TestForceRenewNotCapable(t *testing.T) {
	for _, name := range []string{"dhclient", "udhcpc"} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, name, "ss")
			srv := e.startLeasedWith(gateway, "")
			var c *client
			if name == "dhclient" {
				c = e.startDhclient(name)
			} else {
				c = e.startUdhcpc(name)
			}
			ev, _ := c.waitEvent(20*time.Second, 0, "BOUND", "bound")
			addr := ev.addr()
			srv.waitState(addr, "bound", 5*time.Second)
			if d := srv.detail(addr); d.ForceRenewCapable {
				e.fatalf("%s lease marked forcerenew_capable: %+v", name, d)
			}
			code, out, errs := srv.leasectl("forcerenew", "send", addr.String())
			if code != 1 || !strings.Contains(errs, "client cannot receive FORCERENEW") {
				e.fatalf("leasectl forcerenew send to %s: exit %d, stdout %q, stderr %q", name, code, out, errs)
			}
			t.Logf("%s: %s", name, strings.TrimSpace(errs))
			if err := c.proc.Stop(5 * time.Second); err != nil && !netns.KilledBy(err, syscall.SIGTERM) {
				t.Logf("%s stop: %v", name, err)
			}
			srv.Stop()
		})
	}
}

// startDhcpcdConf is startDhcpcd with extra dhcpcd.conf lines.
func (e *env) startDhcpcdConf(name, extra string) *dhcpcd {
	e.t.Helper()
	dir := e.path(name)
	for _, d := range []string{"run", "lib"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			e.t.Fatal(err)
		}
	}
	c := &dhcpcd{client: client{e: e, name: name, dir: dir,
		hookLog: filepath.Join(dir, "hook.log"), log: filepath.Join(dir, "dhcpcd.log")}}
	hook := writeHook(dir, c.hookLog, false)
	conf := fmt.Sprintf("script %s\nnodelay\nipv4only\nnoipv6rs\nnoarp\noption subnet_mask, routers, domain_name_servers\n%s", hook, extra)
	c.conf = filepath.Join(dir, "dhcpcd.conf")
	if err := os.WriteFile(c.conf, []byte(conf), 0o644); err != nil {
		e.t.Fatal(err)
	}
	e.addLog(c.log)
	e.addLog(c.hookLog)
	c.start()
	return c
}

// TestDhcpcdForceRenewToken: RFC 3118 token mode. dhcpcd configured with
// `authprotocol token` accepts leased's OFFER/ACK only because they carry
// the token, and acts on a FORCERENEW carrying it; the pool's DNS change
// reaches its hook.
func TestDhcpcdForceRenewToken(t *testing.T) {
	e := newEnv(t, "dhcpcd", "ss")
	const newDNS = "10.77.0.54"
	frTok := "      forcerenew: {auth: token, token: s3cret}\n"
	srv := e.startLeasedWith(gateway, frTok)
	c := e.startDhcpcdConf("dhcpcd", "authprotocol token\nauthtoken 0 \"\" forever \"s3cret\"\n")
	ev, n := c.waitEvent(15*time.Second, 0, "BOUND")
	addr := checkBoundVars(e, ev)
	srv.waitState(addr, "bound", 5*time.Second)

	srv.writeConfigWith(newDNS, frTok)
	srv.reload()
	start := time.Now()
	if code, out, errs := srv.leasectl("forcerenew", "send", addr.String()); code != 0 {
		e.fatalf("leasectl forcerenew send: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	ev, _ = c.waitEvent(5*time.Second, n, "RENEW")
	if d := ev.Vars["new_domain_name_servers"]; d != newDNS || ev.addr() != addr {
		e.fatalf("RENEW after token FORCERENEW: %v DNS %q, want %v %s", ev.addr(), d, addr, newDNS)
	}
	t.Logf("token FORCERENEW to hook RENEW with the new DNS: %v", time.Since(start))
	srv.Stop()
}

// TestDhcpcdTokenMismatch: a pool whose token differs from dhcpcd's: the
// client refuses the OFFER (it never binds), so token mode really is
// checked by the client.
func TestDhcpcdTokenMismatch(t *testing.T) {
	e := newEnv(t, "dhcpcd", "ss")
	e.startLeasedWith(gateway, "      forcerenew: {auth: token, token: other}\n")
	c := e.startDhcpcdConf("dhcpcd", "authprotocol token\nauthtoken 0 \"\" forever \"s3cret\"\n")
	e.waitFor(10*time.Second, "dhcpcd to log an authentication failure", func() bool {
		return strings.Contains(netns.TailFile(c.log, 200), "authentication failed")
	})
	for _, ev := range c.events() {
		if ev.Reason == "BOUND" {
			e.fatalf("dhcpcd bound with a wrong token: %s", c.reasons())
		}
	}
}
