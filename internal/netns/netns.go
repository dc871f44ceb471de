// Package netns builds throw-away Linux network namespace topologies for
// end-to-end tests: a server namespace and a client namespace joined by one
// veth pair (New), or with one or more relay namespaces between them
// (NewRelayed, NewChain); processes started inside them and stopped by the
// PID the test started; UDP sockets (IPv4 or IPv6) opened inside a
// namespace from the test process. IPv6 is ready at once for DHCPv6: no
// duplicate address detection, no router advertisements, link-local
// addresses usable before New returns, fd77::1/64 on the server side.
// Everything is removed in t.Cleanup, also when the test fails.
//
// It needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN) and iproute2. Traffic never
// leaves the namespaces the topology creates.
package netns

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Interface names inside the namespaces. They are the same in every
// topology: each topology has its own namespaces, so they never clash.
const (
	ServerIf = "vsrv"
	ClientIf = "vcli"
)

// ServerPrefix is the address given to ServerIf.
var ServerPrefix = netip.MustParsePrefix("10.77.0.1/16")

// ServerPrefix6 is the global IPv6 address given to ServerIf (the subnet
// of examples/leased.yaml's DHCPv6 pool office6). Besides it, every
// interface has its fe80::/64 link-local address, usable at once (no DAD).
var ServerPrefix6 = netip.MustParsePrefix("fd77::1/64")

// Interface names of the relayed topology (NewRelayed): the relay's side
// towards the server (RelayUpIf, in ServerPrefix6's subnet) and towards
// the client (RelayDownIf).
const (
	RelayUpIf   = "vrup"
	RelayDownIf = "vrdn"
)

// Addresses of the relayed topology: the relay's upstream address (on the
// server's link) and its downstream address, which a DHCPv6 relay puts in
// Relay-forward's link-address field (RFC 8415 §19.1.1) and a server uses
// to pick the client's link.
var (
	RelayUpPrefix6   = netip.MustParsePrefix("fd77::2/64")
	RelayDownPrefix6 = netip.MustParsePrefix("fd78::1/64")
	RelayUpPrefix    = netip.MustParsePrefix("10.77.0.2/16")
	RelayDownPrefix  = netip.MustParsePrefix("10.78.0.1/16")
)

// cmdTimeout bounds every short command (ip, sysctl, nsenter ...).
const cmdTimeout = 20 * time.Second

var seq atomic.Int64

// Check reports why namespace tests cannot run here (not root, a tool
// missing), or nil.
func Check(tools ...string) error {
	if os.Geteuid() != 0 {
		return errors.New("netns: needs root (network namespaces)")
	}
	for _, t := range append([]string{"ip", "unshare", "nsenter"}, tools...) {
		if _, err := exec.LookPath(t); err != nil {
			return fmt.Errorf("netns: %s not found in PATH: %w", t, err)
		}
	}
	return nil
}

// Require fails the test when namespace tests cannot run and CI is set,
// and skips it with the reason otherwise.
func Require(t testing.TB, tools ...string) {
	t.Helper()
	if err := Check(tools...); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%v (CI is set: namespace tests must run)", err)
		}
		t.Skipf("skipping: %v", err)
	}
}

// NS is one network namespace created by this package.
type NS struct {
	Name string
	t    testing.TB
}

// Topology is a server namespace and a client namespace joined by a veth
// pair: ServerIf (ServerPrefix, ServerPrefix6) in Server, ClientIf (no
// address but its link-local one) in Client. A relayed topology
// (NewRelayed) has a Relay namespace between them.
type Topology struct {
	Server *NS
	Client *NS
	// Relay is nil unless the topology was made by NewRelayed or
	// NewChain (then it is Relays[0], the one next to the server).
	Relay *NS
	// Relays are the relay namespaces of a chain, server side first.
	Relays []*NS
	// Dir is a per-topology temporary directory for configs and logs.
	Dir string
}

// New creates a topology with unique namespace names (le2e-<pid>-<n>-s/c).
// It is removed when the test ends.
func New(t testing.TB) *Topology {
	t.Helper()
	n := seq.Add(1)
	base := fmt.Sprintf("le2e-%d-%d", os.Getpid(), n)
	srv := newNS(t, base+"-s")
	cli := newNS(t, base+"-c")
	// Both ends are created inside their namespaces: the veth is made in
	// the server namespace with its peer placed directly in the client's.
	srv.MustRun("ip", "link", "add", ServerIf, "type", "veth", "peer", "name", ClientIf, "netns", cli.Name)
	srv.MustRun("ip", "addr", "add", ServerPrefix.String(), "dev", ServerIf)
	srv.MustRun("ip", "-6", "addr", "add", ServerPrefix6.String(), "dev", ServerIf, "nodad")
	srv.MustRun("ip", "link", "set", ServerIf, "up")
	cli.MustRun("ip", "link", "set", ClientIf, "up")
	top := &Topology{Server: srv, Client: cli, Dir: t.TempDir()}
	top.waitLinks(t)
	return top
}

// NewRelayed creates three namespaces: Server — Relay — Client. The
// server's ServerIf (ServerPrefix, ServerPrefix6) faces the relay's
// RelayUpIf (RelayUpPrefix, RelayUpPrefix6); the relay's RelayDownIf
// (RelayDownPrefix, RelayDownPrefix6) faces the client's ClientIf. The
// server has routes to the downstream subnets via the relay (replies to a
// relay go to its upstream address, which is on-link). Nothing is
// forwarded by the kernel: only a relay process joins the two links.
func NewRelayed(t testing.TB) *Topology { return NewChain(t, 1) }

// ChainPrefix6 is the IPv6 prefix of link k of a chain (NewChain): link 0
// is the server's (fd77::/64), link k is fd77+k::/64. On a link the side
// nearer the server has ::1, the other side ::2 (a client has only its
// link-local address).
func ChainPrefix6(k int) netip.Prefix {
	return netip.MustParsePrefix(fmt.Sprintf("fd%02x::/64", 0x77+k))
}

// ChainPrefix is ChainPrefix6 for IPv4: 10.77+k.0.0/16.
func ChainPrefix(k int) netip.Prefix {
	return netip.MustParsePrefix(fmt.Sprintf("10.%d.0.0/16", 77+k))
}

func hostIn(p netip.Prefix, host byte) netip.Prefix {
	b := p.Addr().AsSlice()
	b[len(b)-1] = host
	a, _ := netip.AddrFromSlice(b)
	return netip.PrefixFrom(a, p.Bits())
}

// NewChain creates Server — Relays[0] — … — Relays[n-1] — Client, n ≥ 1
// relay namespaces, each with RelayUpIf towards the server and RelayDownIf
// towards the client. Link k (0: the server's) carries ChainPrefix6(k) and
// ChainPrefix(k): ::1 / .1 on the side nearer the server, ::2 / .2 on the
// other (ServerPrefix and ServerPrefix6 on the server; RelayUpPrefix*,
// RelayDownPrefix* are relay 0's). The server routes every downstream link
// via relay 0; relay i routes the links below it via relay i+1.
func NewChain(t testing.TB, n int) *Topology {
	t.Helper()
	if n < 1 {
		t.Fatalf("netns: NewChain needs at least one relay, got %d", n)
	}
	k := seq.Add(1)
	base := fmt.Sprintf("le2e-%d-%d", os.Getpid(), k)
	srv := newNS(t, base+"-s")
	relays := make([]*NS, n)
	for i := range relays {
		relays[i] = newNS(t, fmt.Sprintf("%s-r%d", base, i))
	}
	cli := newNS(t, base+"-c")
	// Link 0: server — relay 0; link i: relay i-1 — relay i; link n: relay n-1 — client.
	srv.MustRun("ip", "link", "add", ServerIf, "type", "veth", "peer", "name", RelayUpIf, "netns", relays[0].Name)
	for i := 1; i < n; i++ {
		relays[i-1].MustRun("ip", "link", "add", RelayDownIf, "type", "veth", "peer", "name", RelayUpIf, "netns", relays[i].Name)
	}
	relays[n-1].MustRun("ip", "link", "add", RelayDownIf, "type", "veth", "peer", "name", ClientIf, "netns", cli.Name)
	addr := func(ns *NS, ifname string, link int, host byte) {
		ns.MustRun("ip", "addr", "add", hostIn(ChainPrefix(link), host).String(), "dev", ifname)
		ns.MustRun("ip", "-6", "addr", "add", hostIn(ChainPrefix6(link), host).String(), "dev", ifname, "nodad")
	}
	addr(srv, ServerIf, 0, 1)
	srv.MustRun("ip", "link", "set", ServerIf, "up")
	for i, r := range relays {
		addr(r, RelayUpIf, i, 2)
		addr(r, RelayDownIf, i+1, 1)
		r.MustRun("ip", "link", "set", RelayUpIf, "up")
		r.MustRun("ip", "link", "set", RelayDownIf, "up")
	}
	cli.MustRun("ip", "link", "set", ClientIf, "up")
	for link := 1; link <= n; link++ {
		srv.MustRun("ip", "route", "add", ChainPrefix(link).String(), "via", hostIn(ChainPrefix(0), 2).Addr().String())
		srv.MustRun("ip", "-6", "route", "add", ChainPrefix6(link).String(), "via", hostIn(ChainPrefix6(0), 2).Addr().String())
		for i := 0; i+1 < link && i+1 < n; i++ {
			relays[i].MustRun("ip", "-6", "route", "add", ChainPrefix6(link).String(), "via", hostIn(ChainPrefix6(i+1), 2).Addr().String())
		}
	}
	top := &Topology{Server: srv, Relay: relays[0], Relays: relays, Client: cli, Dir: t.TempDir()}
	top.waitLinks(t)
	return top
}

// waitLinks waits (bounded) until every veth end has a usable link-local
// address, so DHCPv6 clients, servers and relays can bind to it at once.
func (top *Topology) waitLinks(t testing.TB) {
	t.Helper()
	type end struct {
		ns     *NS
		ifname string
	}
	ends := []end{{top.Server, ServerIf}, {top.Client, ClientIf}}
	for _, r := range top.Relays {
		ends = append(ends, end{r, RelayUpIf}, end{r, RelayDownIf})
	}
	for _, e := range ends {
		if _, err := e.ns.WaitLinkLocal(e.ifname, 5*time.Second); err != nil {
			t.Fatal(err)
		}
	}
}

func newNS(t testing.TB, name string) *NS {
	t.Helper()
	if out, err := runCmd("ip", "netns", "add", name); err != nil {
		t.Fatalf("netns: ip netns add %s: %v: %s", name, err, out)
	}
	ns := &NS{Name: name, t: t}
	t.Cleanup(func() {
		if out, err := runCmd("ip", "netns", "del", name); err != nil {
			t.Errorf("netns: ip netns del %s: %v: %s", name, err, out)
		}
	})
	ns.MustRun("ip", "link", "set", "lo", "up")
	// IPv6 link-local addresses usable at once: no DAD (accept_dad=0 and
	// dad_transmits=0, so addresses never sit "tentative"), no router
	// advertisements acted on. "default" applies to interfaces created
	// afterwards (the veths).
	for _, k := range []string{"all", "default"} {
		ns.MustRun("sysctl", "-q", "-w",
			"net.ipv6.conf."+k+".disable_ipv6=0",
			"net.ipv6.conf."+k+".accept_dad=0",
			"net.ipv6.conf."+k+".dad_transmits=0",
			"net.ipv6.conf."+k+".accept_ra=0")
	}
	return ns
}

// LinkLocal returns ifname's fe80::/10 address (with the interface as its
// zone) when it is present and usable: not tentative, not failed DAD.
func (ns *NS) LinkLocal(ifname string) (netip.Addr, error) {
	out, err := ns.Run("ip", "-6", "-o", "addr", "show", "dev", ifname, "scope", "link")
	if err != nil {
		return netip.Addr{}, fmt.Errorf("netns %s: ip -6 addr show %s: %v: %s", ns.Name, ifname, err, out)
	}
	for line := range strings.SplitSeq(out, "\n") {
		f := strings.Fields(line)
		for i := 0; i+1 < len(f); i++ {
			if f[i] != "inet6" {
				continue
			}
			p, err := netip.ParsePrefix(f[i+1])
			if err != nil || !p.Addr().IsLinkLocalUnicast() {
				continue
			}
			if strings.Contains(line, "tentative") || strings.Contains(line, "dadfailed") {
				continue
			}
			return p.Addr().WithZone(ifname), nil
		}
	}
	return netip.Addr{}, fmt.Errorf("netns %s: %s has no usable link-local address: %q", ns.Name, ifname, out)
}

// WaitLinkLocal polls (every 20 ms, up to d) until ifname has a usable
// link-local address and returns it.
func (ns *NS) WaitLinkLocal(ifname string, d time.Duration) (netip.Addr, error) {
	deadline := time.Now().Add(d)
	for {
		a, err := ns.LinkLocal(ifname)
		if err == nil || time.Now().After(deadline) {
			return a, err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func runCmd(name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if ctx.Err() != nil {
		err = fmt.Errorf("%w (timed out after %v)", err, cmdTimeout)
	}
	return string(out), err
}

// Run runs a short command inside the namespace (ip netns exec) and
// returns its combined output. It is killed after 20 s.
func (ns *NS) Run(name string, args ...string) (string, error) {
	return runCmd("ip", append([]string{"netns", "exec", ns.Name, name}, args...)...)
}

// MustRun is Run that fails the test on error.
func (ns *NS) MustRun(name string, args ...string) string {
	ns.t.Helper()
	out, err := ns.Run(name, args...)
	if err != nil {
		ns.t.Fatalf("netns %s: %s %s: %v\n%s", ns.Name, name, strings.Join(args, " "), err, out)
	}
	return out
}

// AddAddr adds an address (prefix notation) to an interface in ns. An IPv6
// address is added with nodad: under load, duplicate address detection can
// leave it "tentative" long enough for a bind to fail with "cannot assign
// requested address" (seen in TestCrash6Clients).
func (ns *NS) AddAddr(ifname string, p netip.Prefix) {
	ns.t.Helper()
	args := []string{"addr", "add", p.String(), "dev", ifname}
	if p.Addr().Is6() && !p.Addr().Is4In6() {
		args = append(args, "nodad")
	}
	ns.MustRun("ip", args...)
}

// Proc is a long-running process started inside a namespace.
type Proc struct {
	Name    string
	LogPath string
	cmd     *exec.Cmd
	logf    *os.File
	done    chan struct{}
	mu      sync.Mutex
	waitErr error
}

// Start starts a long-running command inside ns with stdout and stderr
// appended to logPath. It is stopped (Stop) when the test ends.
func (ns *NS) Start(logPath string, name string, args ...string) (*Proc, error) {
	return ns.start(logPath, nil, name, args...)
}

// StartEnv is Start with extra environment variables.
func (ns *NS) StartEnv(logPath string, env []string, name string, args ...string) (*Proc, error) {
	return ns.start(logPath, env, name, args...)
}

func (ns *NS) start(logPath string, env []string, name string, args ...string) (*Proc, error) {
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("netns: log %s: %w", logPath, err)
	}
	// ip netns exec execs the command: the PID we get is the command's.
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns.Name, name}, args...)...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = append(os.Environ(), env...)
	// Own process group so a signal to the test does not reach it first.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("netns %s: start %s: %w", ns.Name, name, err)
	}
	p := &Proc{Name: filepath.Base(name), LogPath: logPath, cmd: cmd, logf: f, done: make(chan struct{})}
	go func() {
		err := cmd.Wait()
		p.mu.Lock()
		p.waitErr = err
		p.mu.Unlock()
		f.Close()
		close(p.done)
	}()
	ns.t.Cleanup(func() { p.Stop(5 * time.Second) })
	return p, nil
}

// PID is the process id of the started command.
func (p *Proc) PID() int { return p.cmd.Process.Pid }

// Done is closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Exited reports whether the process has exited, and its wait error.
func (p *Proc) Exited() (bool, error) {
	select {
	case <-p.done:
		p.mu.Lock()
		defer p.mu.Unlock()
		return true, p.waitErr
	default:
		return false, nil
	}
}

// Signal sends sig to the process (by its PID) if it is still running.
func (p *Proc) Signal(sig syscall.Signal) error {
	select {
	case <-p.done:
		return errors.New("process already exited")
	default:
	}
	return p.cmd.Process.Signal(sig)
}

// Stop sends SIGTERM, waits up to grace for the exit, then SIGKILL to
// the process group and waits again (bounded). It returns the wait error
// of a graceful exit. Whatever is left of the process group once the
// process exited (children it did not stop) is killed too.
func (p *Proc) Stop(grace time.Duration) error {
	if ok, err := p.Exited(); ok {
		p.killGroup()
		return err
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		p.killGroup()
		_, err := p.Exited()
		return err
	case <-time.After(grace):
	}
	p.Kill()
	return fmt.Errorf("%s (pid %d) did not stop within %v after SIGTERM; killed with its process group", p.Name, p.PID(), grace)
}

// Kill sends SIGKILL to the process and to its process group, and waits
// (bounded) for the process to exit. The process was started as the
// leader of its own group (Setpgid), so the group is everything it forked
// and did not move elsewhere: dhcpcd's privilege-separation children
// outlive a SIGKILL of their parent otherwise (a timed-out stop left them
// running).
func (p *Proc) Kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	p.killGroup()
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
	}
}

// killGroup sends SIGKILL to the process group this Proc leads (its
// PGID is its PID); ESRCH (nothing left) is the usual answer.
func (p *Proc) killGroup() {
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
}

// Wait waits up to d for the process to exit on its own.
func (p *Proc) Wait(d time.Duration) (exited bool, err error) {
	select {
	case <-p.done:
		return p.Exited()
	case <-time.After(d):
		return false, nil
	}
}

// Tail returns the last n lines of the process log.
func (p *Proc) Tail(n int) string { return TailFile(p.LogPath, n) }

// TailFile returns the last n lines of a file (or a note why it cannot).
func TailFile(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(%v)", err)
	}
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

// ListenUDP opens a UDP socket inside ns from the calling Go process. The
// OS thread is switched into the namespace only for the socket call and
// switched back; the socket stays in ns. The socket is closed at cleanup.
// An IPv6 address opens an IPv6-only socket (a link-local one needs its
// zone, e.g. from LinkLocal).
func (ns *NS) ListenUDP(addr netip.AddrPort) (*net.UDPConn, error) {
	network := "udp4"
	if addr.Addr().Is6() && !addr.Addr().Is4In6() {
		network = "udp6"
	}
	var conn *net.UDPConn
	err := ns.Do(func() error {
		var err error
		conn, err = net.ListenUDP(network, net.UDPAddrFromAddrPort(addr))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("netns %s: listen udp %v: %w", ns.Name, addr, err)
	}
	ns.t.Cleanup(func() { conn.Close() })
	return conn, nil
}

// Do runs f on an OS thread switched into the namespace. If switching back
// fails the thread is left locked so the runtime discards it.
func (ns *NS) Do(f func() error) error {
	target, err := unix.Open(filepath.Join("/run/netns", ns.Name), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open netns: %w", err)
	}
	defer unix.Close(target)
	errc := make(chan error, 1)
	// A fresh goroutine: if restoring the namespace fails it exits with
	// the thread still locked, and the runtime terminates that thread.
	go func() {
		runtime.LockOSThread()
		orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("open own netns: %w", err)
			return
		}
		defer unix.Close(orig)
		if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("setns: %w", err)
			return
		}
		ferr := f()
		if err := unix.Setns(orig, unix.CLONE_NEWNET); err != nil {
			errc <- errors.Join(ferr, fmt.Errorf("setns back: %w", err))
			return // thread stays locked: discarded at goroutine exit
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// KilledBy reports whether err (from Stop, Wait or Exited) says the
// process was ended by sig, e.g. a program without a SIGTERM handler.
func KilledBy(err error, sig syscall.Signal) bool {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == sig
}
