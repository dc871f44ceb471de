package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leased/leased/internal/netns"
)

// env is one test's topology plus the logs to show when it fails.
type env struct {
	t   *testing.T
	top *netns.Topology
	mu  sync.Mutex
	// logs are shown (tails) in failure messages and when the test fails.
	logs []string
}

func newEnv(t *testing.T, tools ...string) *env {
	t.Helper()
	requireEnv(t, tools...)
	e := &env{t: t, top: netns.New(t)}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("logs at failure:\n%s", e.tails(40))
		}
	})
	return e
}

func (e *env) path(name string) string { return filepath.Join(e.top.Dir, name) }

func (e *env) addLog(path string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, l := range e.logs {
		if l == path {
			return
		}
	}
	e.logs = append(e.logs, path)
}

func (e *env) tails(n int) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var b strings.Builder
	for _, l := range e.logs {
		fmt.Fprintf(&b, "--- %s (last %d lines)\n%s\n", filepath.Base(l), n, netns.TailFile(l, n))
	}
	return b.String()
}

// fatalf fails the test with the message followed by the log tails.
func (e *env) fatalf(format string, args ...any) {
	e.t.Helper()
	e.t.Fatalf("%s\n%s", fmt.Sprintf(format, args...), e.tails(25))
}

// waitFor polls cond every 100 ms for up to d; on timeout it fails the
// test with what and the log tails.
func (e *env) waitFor(d time.Duration, what string, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(d)
	for {
		if cond() {
			return
		}
		if time.Now().After(deadline) {
			e.fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Pool, Section and ServerConfig describe the leased YAML the tests write.
type Pool struct {
	Name, Subnet, Gateway string
	Relays                []string
	Sections              [][2]string // start, end; index = position
	Authoritative         bool
}

type ServerConfig struct {
	LeaseTime, T1, T2, OfferHold, DeclineQuarantine string
	Pools                                           []Pool
}

// defaultConfig: one pool "office" in 10.77.0.0/16 with sections
// 10.77.1.0/24 (0) and 10.77.2.0/24 (1), short times.
func defaultConfig() ServerConfig {
	return ServerConfig{
		LeaseTime: "2m", T1: "1m", T2: "105s", OfferHold: "10s", DeclineQuarantine: "1h",
		Pools: []Pool{{
			Name: "office", Subnet: "10.77.0.0/16", Gateway: "10.77.0.1", Authoritative: true,
			Sections: [][2]string{{"10.77.1.0", "10.77.1.255"}, {"10.77.2.0", "10.77.2.255"}},
		}},
	}
}

func (c ServerConfig) yaml(dataDir, sock string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "data_dir: %s\nlog_level: debug\ncontrol: {socket: %s}\n", dataDir, sock)
	fmt.Fprintf(&b, "dhcpv4:\n  interfaces: [%s]\n", netns.ServerIf)
	for _, kv := range [][2]string{{"lease_time", c.LeaseTime}, {"t1", c.T1}, {"t2", c.T2},
		{"offer_hold", c.OfferHold}, {"decline_quarantine", c.DeclineQuarantine}} {
		if kv[1] != "" {
			fmt.Fprintf(&b, "  %s: %s\n", kv[0], kv[1])
		}
	}
	b.WriteString("  pools:\n")
	for _, p := range c.Pools {
		fmt.Fprintf(&b, "    - name: %s\n      subnet: %s\n      gateway: %s\n      dns: [%s]\n", p.Name, p.Subnet, p.Gateway, p.Gateway)
		if p.Authoritative {
			b.WriteString("      authoritative: true\n")
		}
		if len(p.Relays) > 0 {
			fmt.Fprintf(&b, "      relays: [%s]\n", strings.Join(p.Relays, ", "))
		}
		b.WriteString("      sections:\n")
		for i, s := range p.Sections {
			fmt.Fprintf(&b, "        - {index: %d, start: %s, end: %s}\n", i, s[0], s[1])
		}
	}
	return b.String()
}

// Leased is a leased process in the server namespace.
type Leased struct {
	e       *env
	cfgPath string
	sock    string
	log     string
	proc    *netns.Proc
	starts  int
	killed  bool // the current process was killed on purpose (Kill9)
}

// startLeased writes cfg and starts leased; it returns once leased
// answers on its control socket and listens on UDP port 67.
func (e *env) startLeased(cfg ServerConfig) *Leased {
	e.t.Helper()
	dir := e.path("leased")
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		e.t.Fatal(err)
	}
	l := &Leased{e: e, cfgPath: filepath.Join(dir, "leased.yaml"),
		sock: filepath.Join(dir, "control.sock"), log: e.path("leased.log")}
	e.addLog(l.log)
	l.writeConfig(cfg)
	// Registered before Start, so it runs after the process's own
	// cleanup has stopped it (SIGTERM): leased must have exited 0.
	e.t.Cleanup(func() {
		if l.proc == nil || l.killed {
			return
		}
		if ok, err := l.proc.Exited(); ok && err != nil {
			e.t.Errorf("leased did not exit cleanly at the end of the test: %v\n%s", err, l.proc.Tail(20))
		}
		if b, err := os.ReadFile(l.log); err == nil && (strings.Contains(string(b), "panic:") || strings.Contains(string(b), "DATA RACE")) {
			e.t.Errorf("leased log shows a panic or data race:\n%s", l.proc.Tail(60))
		}
	})
	l.Start()
	return l
}

func (l *Leased) writeConfig(cfg ServerConfig) {
	y := cfg.yaml(filepath.Join(filepath.Dir(l.cfgPath), "data"), l.sock)
	if err := os.WriteFile(l.cfgPath, []byte(y), 0o644); err != nil {
		l.e.t.Fatal(err)
	}
}

// Reconfig replaces the configuration file (used by the next Start).
func (l *Leased) Reconfig(cfg ServerConfig) { l.writeConfig(cfg) }

// Start starts leased (again) and waits until it serves.
func (l *Leased) Start() {
	e := l.e
	e.t.Helper()
	l.starts++
	l.killed = false
	f, err := os.OpenFile(l.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err == nil {
		fmt.Fprintf(f, "===== e2e: start #%d at %s\n", l.starts, time.Now().Format(time.RFC3339Nano))
		f.Close()
	}
	if l.starts == 1 {
		// Registered before the process's own cleanup, so it runs after
		// leased stopped: every line it wrote is strict JSON (issue #14).
		e.t.Cleanup(func() { checkLeasedLog(e.t, l.log) })
	}
	l.proc, err = e.top.Server.Start(l.log, leasedBin, "--config", l.cfgPath, "--log-format", "json")
	if err != nil {
		e.t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		if ok, werr := l.proc.Exited(); ok {
			e.fatalf("leased exited during start-up: %v", werr)
		}
		if _, err := l.leasesErr(); err == nil && l.listening() {
			return
		}
		if time.Now().After(deadline) {
			e.fatalf("leased did not serve (control socket %s and UDP :67) within 15s", l.sock)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (l *Leased) listening() bool {
	out, err := l.e.top.Server.Run("ss", "-ulnH", "sport", "=", ":67")
	return err == nil && strings.TrimSpace(out) != ""
}

// Stop stops leased with SIGTERM and fails the test unless it exits
// cleanly within 10 s.
func (l *Leased) Stop() {
	l.e.t.Helper()
	if err := l.proc.Stop(10 * time.Second); err != nil {
		l.e.fatalf("leased did not stop cleanly on SIGTERM: %v", err)
	}
}

// Kill9 kills leased with SIGKILL (crash).
func (l *Leased) Kill9() {
	l.killed = true
	l.proc.Kill()
}

// LeaseJSON is one object of `leasectl leases --json`.
type LeaseJSON struct {
	Address  netip.Addr `json:"address"`
	HWAddr   string     `json:"hwaddr"`
	ClientID string     `json:"client_id"`
	Pool     string     `json:"pool"`
	Section  int        `json:"section"`
	State    string     `json:"state"`
	Expires  time.Time  `json:"expires"`
	Seq      uint64     `json:"seq"`
}

func (l *Leased) leasesErr() ([]LeaseJSON, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, leasectlBin, "--socket", l.sock, "leases", "--json")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("leasectl leases --json: %v: %s", err, stderr.String())
	}
	var ls []LeaseJSON
	if err := json.Unmarshal(out, &ls); err != nil {
		return nil, fmt.Errorf("leasectl leases --json: bad JSON: %v\n%.2000s", err, out)
	}
	return ls, nil
}

// Leases returns all leases leasectl shows, failing the test on error.
func (l *Leased) Leases() []LeaseJSON {
	l.e.t.Helper()
	ls, err := l.leasesErr()
	if err != nil {
		l.e.fatalf("%v", err)
	}
	return ls
}

// Lease returns the record for addr, if leasectl shows one.
func (l *Leased) Lease(addr netip.Addr) (LeaseJSON, bool) {
	l.e.t.Helper()
	for _, x := range l.Leases() {
		if x.Address == addr {
			return x, true
		}
	}
	return LeaseJSON{}, false
}

// checkUnique fails if two held (bound/offered/declined) records share an
// address, or one client holds two bound addresses in the same pool.
func (e *env) checkUnique(ls []LeaseJSON) {
	e.t.Helper()
	byAddr := map[netip.Addr]LeaseJSON{}
	byClient := map[string]netip.Addr{}
	for _, x := range ls {
		if prev, dup := byAddr[x.Address]; dup {
			e.fatalf("address %v listed twice: %+v and %+v", x.Address, prev, x)
		}
		byAddr[x.Address] = x
		if x.State != "bound" {
			continue
		}
		k := x.Pool + "/" + x.ClientID + "/" + x.HWAddr
		if a, dup := byClient[k]; dup {
			e.fatalf("client %s holds two bound addresses: %v and %v", k, a, x.Address)
		}
		byClient[k] = x.Address
	}
}

func countState(ls []LeaseJSON, state string) int {
	n := 0
	for _, x := range ls {
		if x.State == state {
			n++
		}
	}
	return n
}
