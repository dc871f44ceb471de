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

func (b *backend6) Reconfigure(_ context.Context, a netip.Addr) error {
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
	r = run("reconfigure", "send", "fd77::9")
	if r.code != 1 || !strings.Contains(r.stderr, "no lease for fd77::9") {
		t.Errorf("reconfigure send absent: exit %d %q", r.code, r.stderr)
	}
}

func TestReconfigureStart6(t *testing.T) {
	all6 := reconf.Selector{From: netip.IPv6Unspecified(), To: netip.MustParseAddr("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")}
	for _, tc := range []struct {
		args []string
		sel  reconf.Selector
	}{
		{[]string{"--family", "6"}, all6},
		{[]string{"--family", "6", "--all"}, all6},
		{[]string{"--family", "6", "--pool", "office6"}, reconf.Selector{Pool: "office6", From: all6.From, To: all6.To}},
		{[]string{"--range", "fd77::1:0-fd77::1:ff"}, reconf.Selector{From: netip.MustParseAddr("fd77::1:0"), To: netip.MustParseAddr("fd77::1:ff")}},
		{[]string{"--client", "00:03:00:01:52:54:00:ab:cd:ef"}, reconf.Selector{Client: "00:03:00:01:52:54:00:ab:cd:ef"}},
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
		if !strings.Contains(r.stdout, "leasectl reconfigure status 3") {
			t.Errorf("%v: %q", tc.args, r.stdout)
		}
	}
	c := &campaigns{backend: newBackend(), script: progress(reconf.Counts{Renewed: 2, NotCapable: 1})}
	sock := serve(t, c)
	for _, tc := range []struct {
		args []string
		err  string
	}{
		{[]string{"--family", "5"}, "--family 5: want 4 or 6"},
		{[]string{"--family", "4", "--range", "fd77::1-fd77::2"}, "--family 4 contradicts --range"},
		{[]string{"--range", "10.0.0.1-fd77::2"}, "one family"},
	} {
		r := leasectl(t, nil, append([]string{"--socket", sock, "reconfigure", "start"}, tc.args...)...)
		if r.code != 2 || !strings.Contains(r.stderr, tc.err) {
			t.Errorf("%v: exit %d %q, want %q", tc.args, r.code, r.stderr, tc.err)
		}
	}
	// The DHCPv4 name still works, with --wait progress as before.
	r := leasectl(t, nil, "--socket", sock, "forcerenew", "start", "--pool", "office", "--wait")
	if !strings.Contains(r.stdout, "campaign 3 started") {
		t.Errorf("forcerenew start: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	r = leasectl(t, nil, "--socket", sock, "reconfigure", "status", "3")
	if r.code != 0 {
		t.Errorf("reconfigure status: exit %d %q", r.code, r.stderr)
	}
}
