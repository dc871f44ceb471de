package e2e

import (
	"bufio"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/leased/leased/internal/netns"
)

// hookScript logs the reason and the new_* variables, one line per call,
// and does nothing else (no address flush, no resolv.conf). dhcpcd and
// dhclient set $reason; udhcpc passes the event as $1 and sets $ip etc.
const hookScript = `#!/bin/sh
r="${reason:-$1}"
vars=$(env | grep -E '^(new_[a-z_]+|ip|router|dns|lease|serverid|subnet)=' | sort | tr '\n' ' ')
# One write per event, so a reader never sees half a line.
printf 'reason=%s %s\n' "$r" "$vars" >> LOGFILE
CONFIGURE
exit 0
`

// configureAddr is added to the hook of dhclient and udhcpc, which leave
// address configuration to their script: their renewals are unicast over
// a normal UDP socket and need the address on the interface.
const configureAddr = `case "$r" in
BOUND|RENEW|REBIND|REBOOT) ip addr replace "$new_ip_address/$new_subnet_mask" dev "$interface" ;;
bound|renew) ip addr replace "$ip/$subnet" dev "$interface" ;;
deconfig|EXPIRE|FAIL|RELEASE|STOP) ip addr flush dev "$interface" ;;
esac
`

// hookEvent is one line of a hook log.
type hookEvent struct {
	Reason string
	Vars   map[string]string
}

func (h hookEvent) addr() netip.Addr {
	for _, k := range []string{"new_ip_address", "ip"} {
		if a, err := netip.ParseAddr(h.Vars[k]); err == nil {
			return a
		}
	}
	return netip.Addr{}
}

func writeHook(dir, logPath string, configure bool) string {
	p := filepath.Join(dir, "hook.sh")
	script := strings.Replace(hookScript, "LOGFILE", "'"+logPath+"'", 1)
	cfg := ""
	if configure {
		cfg = configureAddr
	}
	script = strings.Replace(script, "CONFIGURE\n", cfg, 1)
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		panic(err)
	}
	return p
}

func readHook(path string) []hookEvent {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var evs []hookEvent
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		ev := hookEvent{Vars: map[string]string{}}
		for _, f := range fields {
			k, v, _ := strings.Cut(f, "=")
			if k == "reason" {
				ev.Reason = v
			} else {
				ev.Vars[k] = v
			}
		}
		evs = append(evs, ev)
	}
	return evs
}

// client is a DHCP client process in the client namespace with a hook log.
type client struct {
	e       *env
	name    string
	dir     string
	hookLog string
	log     string
	proc    *netns.Proc
}

func (c *client) events() []hookEvent { return readHook(c.hookLog) }

// waitEvent waits until the hook log has more than `after` events and one
// of those new ones has a reason in reasons; it returns that event.
func (c *client) waitEvent(d time.Duration, after int, reasons ...string) (hookEvent, int) {
	c.e.t.Helper()
	var got hookEvent
	var idx int
	c.e.waitFor(d, fmt.Sprintf("%s hook reason %v (after event %d)", c.name, reasons, after), func() bool {
		evs := c.events()
		for i := after; i < len(evs); i++ {
			for _, r := range reasons {
				if evs[i].Reason == r {
					got, idx = evs[i], i+1
					return true
				}
			}
		}
		return false
	})
	return got, idx
}

// --- dhcpcd ---------------------------------------------------------------

type dhcpcd struct {
	client
	conf string
}

// dhcpcdOpts are the dhcpcd variations the tests need.
type dhcpcdOpts struct {
	// ARP probing (RFC 5227) before binding; off adds noarp.
	ARP bool
	// NoNonce: do not announce option 145 (RFC 6704 FORCERENEW nonce
	// capable). dhcpcd deletes its lease file when it stops holding a
	// reconfigure key (src/dhcp.c dhcp_drop: "If dhcpcd is restarted, the
	// token is lost"), so an INIT-REBOOT after a restart needs this.
	NoNonce bool
}

// startDhcpcd starts dhcpcd 9 in the client namespace in its own private
// mount namespace: /run/dhcpcd and /var/lib/dhcpcd are this client's
// directories, so its pid file, control socket and lease file are private.
// arp=false adds noarp (bind in well under a second).
func (e *env) startDhcpcd(name string, arp bool) *dhcpcd {
	e.t.Helper()
	return e.startDhcpcdOpts(name, dhcpcdOpts{ARP: arp})
}

// startDhcpcdOpts is startDhcpcd with the options o.
func (e *env) startDhcpcdOpts(name string, o dhcpcdOpts) *dhcpcd {
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
	conf := fmt.Sprintf("script %s\nnodelay\nipv4only\nnoipv6rs\noption subnet_mask, routers, domain_name_servers\n", hook)
	if !o.ARP {
		conf += "noarp\n"
	}
	if o.NoNonce {
		conf += "nooption forcerenew_nonce_capable\n"
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

func (c *dhcpcd) start() {
	c.e.t.Helper()
	// A tmpfs over /run in the private mount namespace, so /run/dhcpcd can
	// be created without touching the host's /run.
	sh := fmt.Sprintf("mount -t tmpfs tmpfs /run && mkdir -p /run/dhcpcd && "+
		"mount --bind %[1]s/run /run/dhcpcd && mount --bind %[1]s/lib /var/lib/dhcpcd && "+
		"exec dhcpcd -f %[2]s -B -d -4 %[3]s", c.dir, c.conf, netns.ClientIf)
	var err error
	c.proc, err = c.e.top.Client.Start(c.log, "unshare", "-m", "--propagation", "private", "sh", "-c", sh)
	if err != nil {
		c.e.t.Fatal(err)
	}
}

// ctl runs `dhcpcd ARG -4 vcli` inside the daemon's mount and network
// namespaces (it talks to the daemon over its control socket).
func (c *dhcpcd) ctl(arg string) {
	c.e.t.Helper()
	out, err := c.e.top.Client.Run("nsenter", "-t", strconv.Itoa(c.proc.PID()), "-m", "-n",
		"dhcpcd", "-f", c.conf, arg, "-4", netns.ClientIf)
	if err != nil {
		c.e.fatalf("dhcpcd %s: %v: %s", arg, err, out)
	}
}

// stop stops dhcpcd without releasing (SIGTERM keeps the lease file).
func (c *dhcpcd) stop() {
	c.e.t.Helper()
	if err := c.proc.Stop(10 * time.Second); err != nil {
		c.e.fatalf("dhcpcd did not stop: %v", err)
	}
}

// --- ISC dhclient ---------------------------------------------------------

func (e *env) startDhclient(name string) *client {
	e.t.Helper()
	dir := e.path(name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		e.t.Fatal(err)
	}
	c := &client{e: e, name: name, dir: dir, hookLog: filepath.Join(dir, "hook.log"), log: filepath.Join(dir, "dhclient.log")}
	hook := writeHook(dir, c.hookLog, true)
	conf := filepath.Join(dir, "dhclient.conf")
	if err := os.WriteFile(conf, []byte("request subnet-mask, routers, domain-name-servers;\ntimeout 30;\nretry 1;\n"), 0o644); err != nil {
		e.t.Fatal(err)
	}
	e.addLog(c.log)
	e.addLog(c.hookLog)
	var err error
	c.proc, err = e.top.Client.Start(c.log, "dhclient", "-4", "-d", "-v", "-sf", hook,
		"-lf", filepath.Join(dir, "dhclient.leases"), "-pf", filepath.Join(dir, "dhclient.pid"),
		"-cf", conf, netns.ClientIf)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// dhclientRelease stops the running dhclient (SIGTERM by its PID: ISC
// dhclient then exits without releasing) and runs `dhclient -r` with the
// same lease file, which sends DHCPRELEASE and runs the hook (RELEASE).
// Letting `dhclient -r` stop the daemon through the pid file raced with
// the daemon's own renewals.
func (c *client) dhclientRelease() {
	c.e.t.Helper()
	if err := c.proc.Stop(5 * time.Second); err != nil && !netns.KilledBy(err, syscall.SIGTERM) {
		c.e.fatalf("dhclient did not stop on SIGTERM: %v", err)
	}
	out, err := c.e.top.Client.Run("dhclient", "-4", "-r", "-v", "-sf", filepath.Join(c.dir, "hook.sh"),
		"-lf", filepath.Join(c.dir, "dhclient.leases"), "-pf", filepath.Join(c.dir, "dhclient-r.pid"),
		"-cf", filepath.Join(c.dir, "dhclient.conf"), netns.ClientIf)
	if f, ferr := os.OpenFile(c.log, os.O_WRONLY|os.O_APPEND, 0); ferr == nil {
		fmt.Fprintf(f, "===== e2e: dhclient -r\n%s", out)
		f.Close()
	}
	if err != nil {
		c.e.fatalf("dhclient -r: %v: %s", err, out)
	}
}

// --- busybox udhcpc -------------------------------------------------------

func (e *env) startUdhcpc(name string) *client {
	e.t.Helper()
	dir := e.path(name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		e.t.Fatal(err)
	}
	c := &client{e: e, name: name, dir: dir, hookLog: filepath.Join(dir, "hook.log"), log: filepath.Join(dir, "udhcpc.log")}
	hook := writeHook(dir, c.hookLog, true)
	e.addLog(c.log)
	e.addLog(c.hookLog)
	var err error
	c.proc, err = e.top.Client.Start(c.log, "udhcpc", "-f", "-v", "-i", netns.ClientIf, "-s", hook,
		"-p", filepath.Join(dir, "udhcpc.pid"), "-t", "5", "-T", "1")
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

func (c *client) signal(sig syscall.Signal) {
	c.e.t.Helper()
	if err := c.proc.Signal(sig); err != nil {
		c.e.fatalf("%s: signal %v: %v", c.name, sig, err)
	}
}

// reasons lists the hook reasons seen so far, with addresses, for the log.
func (c *client) reasons() string {
	var b strings.Builder
	for _, ev := range c.events() {
		b.WriteString(ev.Reason)
		if a := ev.addr(); a.IsValid() {
			b.WriteString("(" + a.String() + ")")
		}
		b.WriteByte(' ')
	}
	return b.String()
}
