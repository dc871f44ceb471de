package main

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/leased/leased/api"
	"github.com/leased/leased/lease"
	"github.com/leased/leased/reconf"
)

// backend6 adds DHCPv6 bindings (an IA_NA address, an IA_PD prefix) and a
// v6 pool to the test backend, and sends Reconfigures (api.Reconfigurer).
type backend6 struct {
	*backend
	reconfigured []netip.Addr
}

func (b *backend6) SendReconfigure(_ context.Context, a netip.Addr) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, l := range b.leases {
		if l.Addr == a {
			b.reconfigured = append(b.reconfigured, a)
			return nil
		}
	}
	return fmt.Errorf("reconfigure %s: %w", a, lease.ErrNotFound)
}

var _ api.Reconfigurer = (*backend6)(nil)

func newBackend6() *backend6 {
	b := newBackend()
	duid := []byte{0, 3, 0, 1, 0x52, 0x54, 0, 0xab, 0xcd, 0xef}
	b.leases = append(b.leases,
		lease.Lease{Addr: netip.MustParseAddr("fd77::1:5"), ClientID: duid, IAID: 7, Hostname: "router-1", Pool: "office6", Section: -1,
			State: lease.StateBound, Start: now, Preferred: now.Add(45 * time.Minute), Expiry: now.Add(time.Hour), XID: 0xabcdef, ForceRenewNonceCapable: true},
		lease.Lease{Addr: netip.MustParseAddr("fd77:100:0:100::"), PrefixLen: 56, ClientID: duid, IAID: 1, Pool: "office6", Section: -1,
			State: lease.StateBound, Start: now, Preferred: now.Add(45 * time.Minute), Expiry: now.Add(time.Hour)},
	)
	b.pools = append(b.pools,
		lease.PoolStats{Name: "office6", Subnet: netip.MustParsePrefix("fd77::/64"), Size: 65536, Bound: 1},
		lease.PoolStats{Name: "office6/pd", Subnet: netip.MustParsePrefix("fd77:100::/40"), Size: 65536, Bound: 1})
	return &backend6{backend: b}
}

func TestLeases6(t *testing.T) {
	b := newBackend6()
	sock := serve(t, b)
	run := func(args ...string) result {
		t.Helper()
		return leasectl(t, nil, append([]string{"--socket", sock}, args...)...)
	}
	// Both families in one table: prefixes in the address column, IAID
	// and DUID shown.
	r := run("leases")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	golden(t, "leases6", r.stdout)

	r = run("leases", "--family", "6")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if r.code != 0 || len(lines) != 3 || !strings.HasPrefix(lines[1], "fd77::1:5 ") || !strings.HasPrefix(lines[2], "fd77:100:0:100::/56 ") {
		t.Fatalf("--family 6: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(lines[2], "00030001525400abcdef") || !strings.Contains(lines[1], " 7 ") {
		t.Errorf("DUID or IAID missing:\n%s", r.stdout)
	}
	r = run("leases", "--family", "4")
	if r.code != 0 || strings.Contains(r.stdout, "fd77") || !strings.Contains(r.stdout, "10.0.0.10") || strings.Contains(r.stdout, "IAID") {
		t.Errorf("--family 4: exit %d\n%s", r.code, r.stdout)
	}
	r = run("leases", "--family", "5")
	if r.code != 2 || !strings.Contains(r.stderr, "--family 5: want 4 or 6") {
		t.Errorf("--family 5: exit %d %q", r.code, r.stderr)
	}
	r = run("leases", "--range", "fd77::1:0/112")
	if r.code != 0 || !strings.Contains(r.stdout, "fd77::1:5") || strings.Contains(r.stdout, "fd77:100") {
		t.Errorf("--range v6 prefix: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if want := netip.MustParseAddr("fd77::1:ffff"); b.last.To != want {
		t.Errorf("--range fd77::1:0/112 sent to=%s, want %s", b.last.To, want)
	}

	// One binding by prefix; then deleted by prefix.
	r = run("lease", "fd77:100:0:100::/56")
	if r.code != 0 || !strings.Contains(r.stdout, "prefix:") || !strings.Contains(r.stdout, "fd77:100:0:100::/56") || !strings.Contains(r.stdout, "duid:") {
		t.Errorf("lease prefix: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = run("lease", "fd77:100:0:100::1/56")
	if r.code != 2 || !strings.Contains(r.stderr, "not an address or a delegated IPv6 prefix") {
		t.Errorf("lease bad prefix: exit %d %q", r.code, r.stderr)
	}
	r = run("delete", "fd77:100:0:100::/56")
	if r.code != 0 || r.stdout != "deleted lease fd77:100:0:100::/56\n" {
		t.Errorf("delete prefix: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	if r = run("lease", "fd77:100:0:100::/56"); r.code != 1 {
		t.Errorf("after delete: exit %d %q", r.code, r.stdout)
	}

	// reconfigure send: a Reconfigure for v6, a FORCERENEW for v4.
	r = run("reconfigure", "send", "fd77::1:5")
	if r.code != 0 || r.stdout != "Reconfigure sent to fd77::1:5\n" || len(b.reconfigured) != 1 {
		t.Errorf("reconfigure send v6: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	r = run("reconfigure", "send", "10.0.0.10")
	if r.code != 0 || r.stdout != "FORCERENEW sent to 10.0.0.10\n" {
		t.Errorf("reconfigure send v4: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	// forcerenew send is DHCPv4: an IPv6 address is refused (usage, exit
	// 2) with a pointer to reconfigure send, and nothing is sent.
	r = run("forcerenew", "send", "fd77::1:5")
	if r.code != 2 || !strings.Contains(r.stderr, "reconfigure send") || len(b.reconfigured) != 1 {
		t.Errorf("forcerenew send v6: exit %d %q %q, %d sent", r.code, r.stdout, r.stderr, len(b.reconfigured))
	}
	r = run("reconfigure", "send", "fd77::9")
	if r.code != 1 || !strings.Contains(r.stderr, "no lease for fd77::9") {
		t.Errorf("reconfigure send absent: exit %d %q", r.code, r.stderr)
	}
}

func TestReconfigureStart6(t *testing.T) {
	a := netip.MustParseAddr
	for _, tc := range []struct {
		args []string
		sel  reconf.Selector
		msg  reconf.ReconfMsg
		out  string // in stdout
	}{
		{[]string{"--family", "6"}, reconf.Selector{Family: 6}, 0, "started: family 6, 3 clients"},
		{[]string{"--family", "6", "--all"}, reconf.Selector{Family: 6}, 0, ""},
		{[]string{"--family", "6", "--pool", "office6"}, reconf.Selector{Pool: "office6", Family: 6}, 0, "pool office6 family 6"},
		{[]string{"--family", "6", "--prefix-pool", "office6", "--message", "rebind"}, reconf.Selector{PrefixPool: "office6", Family: 6},
			reconf.ReconfRebind, "prefix-pool office6 family 6, 3 clients (1 not capable), 8 attempts from 2s doubling, pace 1000/s, on failure restore, Reconfigure message rebind"},
		{[]string{"--prefix-pool", "office6", "--range", "fd77:100::-fd77:100:0:ff00::"},
			reconf.Selector{PrefixPool: "office6", From: a("fd77:100::"), To: a("fd77:100:0:ff00::")}, 0, ""},
		{[]string{"--range", "fd77::1:0-fd77::1:ff", "--message", "information-request"}, reconf.Selector{From: a("fd77::1:0"), To: a("fd77::1:ff")},
			reconf.ReconfInformationRequest, "Reconfigure message information-request"},
		{[]string{"--range", "fd77::1:0/120"}, reconf.Selector{From: a("fd77::1:0"), To: a("fd77::1:ff")}, 0, ""},
		{[]string{"--client", "00:03:00:01:52:54:00:ab:cd:ef", "--message", "renew"}, reconf.Selector{Client: "00:03:00:01:52:54:00:ab:cd:ef"}, reconf.ReconfRenew, ""},
		{[]string{"--client", "00030001525400abcdef", "--family", "6"}, reconf.Selector{Client: "00030001525400abcdef", Family: 6}, 0, ""},
	} {
		c := &campaigns{backend: newBackend6().backend, script: progress(reconf.Counts{Renewed: 2, NotCapable: 1})}
		sock := serve(t, c)
		args := append([]string{"--socket", sock, "reconfigure", "start"}, tc.args...)
		r := leasectl(t, nil, args...)
		if r.code != 0 {
			t.Fatalf("%v: exit %d %s", tc.args, r.code, r.stderr)
		}
		if diff := cmp.Diff(tc.sel, c.sel, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
			t.Errorf("%v: selector (-want +got):\n%s", tc.args, diff)
		}
		if c.opts.ReconfMsg != tc.msg || c.opts.Attempts != 0 || c.opts.Interval != 0 {
			t.Errorf("%v: options %+v, want message %v and family-default attempts/interval", tc.args, c.opts, tc.msg)
		}
		if !strings.Contains(r.stdout, "leasectl reconfigure status 3") || !strings.Contains(r.stdout, tc.out) {
			t.Errorf("%v: %q, want %q", tc.args, r.stdout, tc.out)
		}
	}
	// Without --message no reconf_msg is sent: a DHCPv4 pool campaign
	// through the family-neutral name is accepted.
	c := &campaigns{backend: newBackend6().backend, script: progress(reconf.Counts{Renewed: 2, NotCapable: 1})}
	sock := serve(t, c)
	if r := leasectl(t, nil, "--socket", sock, "reconfigure", "start", "--pool", "office"); r.code != 0 || strings.Contains(r.stdout, "message") {
		t.Errorf("v4 pool: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	for _, tc := range []struct {
		args []string
		code int
		err  string
	}{
		{[]string{"--family", "5"}, 2, "--family 5: want 4 or 6"},
		{[]string{"--family", "4", "--range", "fd77::1-fd77::2"}, 2, "--family 4 contradicts --range"},
		{[]string{"--range", "10.0.0.1-fd77::2"}, 2, "one family"},
		{[]string{"--family", "6", "--message", "reboot"}, 2, `--message "reboot": want renew, rebind or information-request`},
		{[]string{"--family", "4", "--message", "rebind"}, 2, "--message applies to DHCPv6 Reconfigure only"},
		{[]string{"--range", "10.0.0.1-10.0.0.9", "--message", "rebind"}, 2, "--message applies to DHCPv6 Reconfigure only"},
		{[]string{"--prefix-pool", "office6", "--pool", "lab"}, 2, "--prefix-pool office6 and --pool lab differ"},
		{[]string{"--prefix-pool", "office6", "--family", "4"}, 2, "--prefix-pool selects DHCPv6 delegated prefixes"},
		{[]string{"--prefix-pool", "office6", "--pool", "office6", "--section", "0"}, 2, "DHCPv6 pools have no sections"},
		{[]string{"--prefix-pool", "office6", "--client", "00:03:00:01:52:54:00:ab:cd:ef"}, 2, "--client cannot be combined"},
		{[]string{"--all", "--prefix-pool", "office6"}, 2, "--all cannot be combined"},
		// The server checks pools and families it knows.
		// Their messages name the flags typed, not the API's fields.
		{[]string{"--prefix-pool", "garage"}, 1, `leasectl: --prefix-pool: unknown pool "garage" (valid: office6)`},
		{[]string{"--pool", "office", "--message", "rebind"}, 1, "leasectl: --message: only DHCPv6 clients get a Reconfigure"},
		{[]string{"--family", "6", "--pool", "office"}, 1, `pool "office" is a DHCPv4 pool`},
	} {
		r := leasectl(t, nil, append([]string{"--socket", sock, "reconfigure", "start"}, tc.args...)...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.err) {
			t.Errorf("%v: exit %d %q, want %d %q", tc.args, r.code, r.stderr, tc.code, tc.err)
		}
	}
	// The DHCPv4 name still works, with --wait progress as before; the
	// verdict names the command the operator typed.
	r := leasectl(t, nil, "--socket", sock, "forcerenew", "start", "--pool", "office", "--wait")
	if !strings.Contains(r.stdout, "campaign 3 started") || !strings.Contains(r.stderr, "'leasectl forcerenew clients 3") {
		t.Errorf("forcerenew start: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	r = leasectl(t, nil, "--socket", sock, "reconfigure", "start", "--family", "6", "--wait")
	if !strings.Contains(r.stderr, "'leasectl reconfigure clients 3 --outcome not_capable'") {
		t.Errorf("reconfigure start --wait: exit %d %q", r.code, r.stderr)
	}
	r = leasectl(t, nil, "--socket", sock, "reconfigure", "status", "3")
	if r.code != 0 {
		t.Errorf("reconfigure status: exit %d %q", r.code, r.stderr)
	}
}

// Status and clients of a DHCPv6 campaign: the family column, the
// Reconfigure message, a client's other bindings.
func TestReconfigureStatus6(t *testing.T) {
	duid := []byte{0, 3, 0, 1, 0x52, 0x54, 0, 0xab, 0xcd, 0xef}
	opts := reconf.Options{Pace: 100, ReconfMsg: reconf.ReconfRebind}
	list := []reconf.CampaignStatus{
		{ID: 3, Selector: reconf.Selector{Pool: "office6", Family: 6}, Options: opts, State: reconf.Running,
			Created: now.Add(-3 * time.Second), Pools: []string{"office6"}, Clients: 2, Sent: 2, Counts: reconf.Counts{Pending: 1, Renewed: 1}},
		{ID: 4, Selector: reconf.Selector{}, Options: reconf.Options{Pace: 1000}, State: reconf.Done,
			Created: now.Add(-time.Hour), Ended: now.Add(-time.Hour + 20*time.Second), Pools: []string{"office", "office6"},
			Clients: 4, Sent: 4, Counts: reconf.Counts{Renewed: 4}},
	}
	c := &campaigns{backend: newBackend6().backend, list: list, script: list[:1],
		clients: []reconf.ClientProgress{
			{Addr: netip.MustParseAddr("10.0.0.10"), Family: 4, Key: []byte{1, 0x52, 0x54, 0, 0x12, 0x34, 0x56}, Pool: "office", Capable: true, Sent: 1,
				Outcome: reconf.Renewed, Last: reconf.EvAck, When: now.Add(-90 * time.Second)},
			{Addr: netip.MustParseAddr("fd77::1:5"), More: []netip.Addr{netip.MustParseAddr("fd77:100:0:100::")}, Family: 6, Key: duid,
				Pool: "office6", Capable: true, Sent: 1, Outcome: reconf.Renewed, Last: reconf.EvAck, When: now.Add(-2 * time.Second)},
			{Addr: netip.MustParseAddr("fd77:100:0:200::"), Family: 6, Key: []byte{0, 3, 0, 1, 2, 0, 0, 0, 0, 0xaa}, Pool: "office6", Sent: 2,
				Next: now.Add(4 * time.Second), Outcome: reconf.Pending, Last: reconf.EvForceRenew, When: now.Add(-2 * time.Second)},
		}}
	sock := withCampaigns(t, c)
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"reconfigure-status", []string{"reconfigure", "status"}},
		{"reconfigure-status-one", []string{"reconfigure", "status", "3"}},
		{"reconfigure-clients", []string{"reconfigure", "clients", "3"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := leasectl(t, nil, append([]string{"--socket", sock}, tc.args...)...)
			if r.code != 0 || r.stderr != "" {
				t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
			}
			golden(t, tc.name, r.stdout)
		})
	}
}
