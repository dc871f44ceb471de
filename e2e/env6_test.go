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
	"testing"
	"time"

	"github.com/leased/leased/internal/netns"
)

// DHCPv6 side of the e2e environment: leased with the default DHCPv4
// section (the config requires it) plus a dhcpv6 section, and the v6
// view of `leasectl leases --json`.

var (
	subnet6   = netip.MustParsePrefix("fd77::/64")
	range6    = [2]netip.Addr{netip.MustParseAddr("fd77::1:0"), netip.MustParseAddr("fd77::1:ffff")}
	pdPrefix6 = netip.MustParsePrefix("fd77:100::/40")
	dns6      = "fd77::1"
)

// Pool6 and Config6 describe the dhcpv6 section the tests write.
type Pool6 struct {
	Name, Subnet string
	DNS          []string
	Ranges       [][2]string
	PD           string // prefix_delegation.prefix, "" for none
	PDLen        int
	Links        []string
	// Extra lines appended to the pool (indented by the caller, 6 spaces).
	Extra string
}

type Config6 struct {
	Preferred, Valid, T1, T2 string
	Pools                    []Pool6
}

// defaultConfig6 is examples/leased.yaml's office6 pool with short times:
// preferred 60 s, valid 120 s, T1 10 s, T2 40 s.
func defaultConfig6() Config6 {
	return Config6{Preferred: "60s", Valid: "120s", T1: "10s", T2: "40s",
		Pools: []Pool6{{Name: "office6", Subnet: subnet6.String(), DNS: []string{dns6},
			Ranges: [][2]string{{range6[0].String(), range6[1].String()}},
			PD:     pdPrefix6.String(), PDLen: 56}}}
}

func (c Config6) yaml() string {
	var b strings.Builder
	fmt.Fprintf(&b, "dhcpv6:\n  interfaces: [%s]\n", netns.ServerIf)
	for _, kv := range [][2]string{{"preferred_lifetime", c.Preferred}, {"valid_lifetime", c.Valid}, {"t1", c.T1}, {"t2", c.T2}} {
		if kv[1] != "" {
			fmt.Fprintf(&b, "  %s: %s\n", kv[0], kv[1])
		}
	}
	b.WriteString("  pools:\n")
	for _, p := range c.Pools {
		fmt.Fprintf(&b, "    - name: %s\n      subnet: %s\n", p.Name, p.Subnet)
		if len(p.DNS) > 0 {
			fmt.Fprintf(&b, "      dns: [%s]\n", strings.Join(p.DNS, ", "))
		}
		if len(p.Links) > 0 {
			fmt.Fprintf(&b, "      links: [%s]\n", strings.Join(p.Links, ", "))
		}
		b.WriteString("      ranges:\n")
		for _, r := range p.Ranges {
			fmt.Fprintf(&b, "        - {start: %q, end: %q}\n", r[0], r[1])
		}
		if p.PD != "" {
			fmt.Fprintf(&b, "      prefix_delegation: {prefix: %q, length: %d}\n", p.PD, p.PDLen)
		}
		b.WriteString(p.Extra)
	}
	return b.String()
}

// Leased6 is leased serving DHCPv4 (default config) and DHCPv6 (cfg).
type Leased6 struct {
	*Leased
	cfg Config6
}

// startLeased6 writes the v4 default plus cfg and starts leased; it
// returns once leased answers on its control socket and listens on UDP
// ports 67 and 547.
func (e *env) startLeased6(cfg Config6) *Leased6 {
	e.t.Helper()
	dir := e.path("leased")
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		e.t.Fatal(err)
	}
	l := &Leased6{Leased: &Leased{e: e, cfgPath: filepath.Join(dir, "leased.yaml"),
		sock: filepath.Join(dir, "control.sock"), log: e.path("leased.log")}}
	e.addLog(l.log)
	l.writeConfig6(cfg)
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
	l.Start6()
	return l
}

// writeConfig6 replaces the configuration file with the v4 default and
// cfg (used by the next Start6 or reload).
func (l *Leased6) writeConfig6(cfg Config6) {
	l.cfg = cfg
	y := defaultConfig().yaml(filepath.Join(filepath.Dir(l.cfgPath), "data"), l.sock) + cfg.yaml()
	if err := os.WriteFile(l.cfgPath, []byte(y), 0o644); err != nil {
		l.e.t.Fatal(err)
	}
}

// Start6 starts leased (Start: control socket and port 67) and waits
// until it also listens on UDP port 547.
func (l *Leased6) Start6() {
	l.e.t.Helper()
	l.Start()
	l.e.waitFor(10*time.Second, "leased to listen on UDP port 547", func() bool {
		out, err := l.e.top.Server.Run("ss", "-ulnH", "sport", "=", ":547")
		return err == nil && strings.TrimSpace(out) != ""
	})
}

// Lease6JSON is a DHCPv6 object of `leasectl leases --json` (family 6):
// an IA_NA address, or an IA_PD prefix (prefix set, address its first
// address).
type Lease6JSON struct {
	Family   int        `json:"family"`
	Address  netip.Addr `json:"address"`
	PDPrefix string     `json:"prefix"`
	IAID     *uint32    `json:"iaid"`
	DUID     string     `json:"duid"`
	ClientID string     `json:"client_id"`
	Pool     string     `json:"pool"`
	State    string     `json:"state"`
	Expires  time.Time  `json:"expires"`
	Seq      uint64     `json:"seq"`
	XID      string     `json:"xid"`
}

// Prefix returns the lease as a prefix: /128 for an address.
func (x Lease6JSON) Prefix() netip.Prefix {
	if x.PDPrefix != "" {
		p, _ := netip.ParsePrefix(x.PDPrefix)
		return p
	}
	if !x.Address.Is6() || x.Address.Is4In6() {
		return netip.Prefix{}
	}
	return netip.PrefixFrom(x.Address, 128)
}

// IsPD reports whether the lease is a delegated prefix.
func (x Lease6JSON) IsPD() bool { return x.PDPrefix != "" }

// Leases6 returns the IPv6 records leasectl shows.
func (l *Leased6) Leases6() []Lease6JSON {
	l.e.t.Helper()
	ls, err := l.leases6Err()
	if err != nil {
		l.e.fatalf("%v", err)
	}
	return ls
}

func (l *Leased6) leases6Err() ([]Lease6JSON, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, leasectlBin, "--socket", l.sock, "leases", "--json")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("leasectl leases --json: %v: %s", err, stderr.String())
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(out, &raw); err != nil {
		return nil, fmt.Errorf("leasectl leases --json: bad JSON: %v\n%.2000s", err, out)
	}
	var ls []Lease6JSON
	for _, r := range raw {
		var x Lease6JSON
		if err := json.Unmarshal(r, &x); err != nil {
			return nil, fmt.Errorf("leasectl leases --json: %v in %s", err, r)
		}
		if x.Family == 6 || x.Address.Is6() && !x.Address.Is4In6() {
			ls = append(ls, x)
		}
	}
	return ls, nil
}

// Lease6 returns the v6 record for p (an address as /128), if shown.
func (l *Leased6) Lease6(p netip.Prefix) (Lease6JSON, bool) {
	l.e.t.Helper()
	for _, x := range l.Leases6() {
		if x.Prefix() == p {
			return x, true
		}
	}
	return Lease6JSON{}, false
}

// waitState6 waits until leasectl shows p in state and returns it.
func (l *Leased6) waitState6(p netip.Prefix, state string, d time.Duration) Lease6JSON {
	l.e.t.Helper()
	var got Lease6JSON
	l.e.waitFor(d, "leasectl to show "+p.String()+" "+state, func() bool {
		x, ok := l.Lease6(p)
		got = x
		return ok && x.State == state
	})
	return got
}

// waitExpiry6After waits until leasectl shows p bound by a newer record
// than prev (a higher seq) whose expiry is not earlier (see waitExpiryAfter).
func (l *Leased6) waitExpiry6After(p netip.Prefix, prev Lease6JSON, d time.Duration) Lease6JSON {
	l.e.t.Helper()
	var got Lease6JSON
	l.e.waitFor(d, fmt.Sprintf("leasectl to show %v bound with seq > %d and expiry >= %s", p, prev.Seq, prev.Expires.Format(time.RFC3339Nano)), func() bool {
		x, ok := l.Lease6(p)
		got = x
		return ok && x.State == "bound" && x.Seq > prev.Seq && !x.Expires.Before(prev.Expires)
	})
	return got
}

// checkUnique6 fails if a prefix or address is listed twice among held
// records.
func (e *env) checkUnique6(ls []Lease6JSON) {
	e.t.Helper()
	seen := map[netip.Prefix]Lease6JSON{}
	for _, x := range ls {
		p := x.Prefix()
		if prev, dup := seen[p]; dup {
			e.fatalf("%v listed twice: %+v and %+v", p, prev, x)
		}
		seen[p] = x
	}
}

// logLines returns the lines of path that contain all of subs.
func logLines(path string, subs ...string) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var out []string
	for line := range strings.SplitSeq(string(b), "\n") {
		ok := true
		for _, s := range subs {
			if !strings.Contains(line, s) {
				ok = false
				break
			}
		}
		if ok && line != "" {
			out = append(out, line)
		}
	}
	return out
}

// newEnvRelayed is newEnv with a relayed topology: Server — Relay —
// Client (netns.NewRelayed).
func newEnvRelayed(t *testing.T, tools ...string) *env {
	t.Helper()
	requireEnv(t, tools...)
	return newEnvTop(t, netns.NewRelayed(t))
}

// newEnvNoLeased is newEnv (relayed or not) for tests that do not run
// leased: they need root and the tools, not the binaries.
func newEnvNoLeased(t *testing.T, relayed bool, tools ...string) *env {
	t.Helper()
	netns.Require(t, tools...)
	if relayed {
		return newEnvTop(t, netns.NewRelayed(t))
	}
	return newEnvTop(t, netns.New(t))
}

func newEnvTop(t *testing.T, top *netns.Topology) *env {
	e := &env{t: t, top: top}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("logs at failure:\n%s", e.tails(40))
		}
	})
	return e
}
