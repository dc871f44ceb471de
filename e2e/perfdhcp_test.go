package e2e

import (
	"context"
	"fmt"
	"net/netip"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/leased/leased/internal/netns"
)

// perfStats is what perfdhcp reports for one exchange kind.
type perfStats struct {
	Sent, Received, Drops, Rejected, NonUnique int
}

type perfResult struct {
	DO, RA  perfStats // DISCOVER-OFFER, REQUEST-ACK
	Rate    string    // perfdhcp's own "Rate:" line
	Elapsed time.Duration
	Output  string
}

// runPerfdhcp runs perfdhcp in the client namespace as a relay from
// local (it needs that address on vcli, sets giaddr to it and receives
// replies on port 67). -W 2000000 waits 2 s for in-flight exchanges so
// they do not count as drops.
func (e *env) runPerfdhcp(local netip.Addr, args ...string) perfResult {
	e.t.Helper()
	all := append([]string{"-4", "-l", local.String(), "-W", "2000000"}, args...)
	all = append(all, "10.77.0.1")
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	start := time.Now()
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", e.top.Client.Name, "perfdhcp"}, all...)...)
	out, err := cmd.CombinedOutput()
	res := perfResult{Elapsed: time.Since(start), Output: string(out)}
	// perfdhcp exits 3 when packets were dropped; the counters say more.
	if err != nil && cmd.ProcessState != nil && cmd.ProcessState.ExitCode() != 3 || ctx.Err() != nil {
		e.fatalf("perfdhcp %s: %v\n%s", strings.Join(all, " "), err, out)
	}
	res.Rate = parsePerfdhcp(res.Output, "DISCOVER-OFFER", &res.DO, "REQUEST-ACK", &res.RA)
	if res.DO.Sent == 0 {
		e.fatalf("perfdhcp output not understood:\n%s", out)
	}
	return res
}

func (r perfResult) String() string {
	return fmt.Sprintf("DISCOVER-OFFER %+v, REQUEST-ACK %+v, %s, wall %v", r.DO, r.RA, r.Rate, r.Elapsed.Round(time.Millisecond))
}

// TestPerfdhcp: 10,000 four-way exchanges at 500/s from 10,000 simulated
// clients with nothing lost, then one short run flat out to record the
// rate. leasectl afterwards: no address held twice, about as many bound
// leases as distinct clients.
func TestPerfdhcp(t *testing.T) {
	e := newEnv(t, "perfdhcp", "ss")
	cfg := defaultConfig()
	cfg.LeaseTime, cfg.T1, cfg.T2 = "10m", "", ""
	cfg.Pools[0].Sections = [][2]string{{"10.77.16.0", "10.77.255.255"}} // 61440 addresses
	srv := e.startLeased(cfg)
	local := netip.MustParseAddr("10.77.0.2")
	e.top.Client.AddAddr(netns.ClientIf, netip.PrefixFrom(local, 16))

	const n = 10000
	r := e.runPerfdhcp(local, "-r", "500", "-R", strconv.Itoa(n), "-n", strconv.Itoa(n), "-p", "60")
	t.Logf("perfdhcp at 500/s: %v", r)
	if r.DO.Sent < n || r.DO.Drops != 0 || r.RA.Drops != 0 || r.RA.Received != r.DO.Received || r.DO.Received < n {
		e.fatalf("perfdhcp lost exchanges: %v\n%s", r, r.Output)
	}
	if r.DO.NonUnique+r.RA.NonUnique+r.DO.Rejected+r.RA.Rejected != 0 {
		e.fatalf("perfdhcp saw rejected or non-unique addresses: %v", r)
	}
	exchanges := r.RA.Received
	if wall := r.Elapsed - 2*time.Second; wall > 0 {
		t.Logf("perfdhcp at 500/s: %d exchanges in %v = %.0f exchanges/s", exchanges, wall.Round(time.Millisecond), float64(exchanges)/wall.Seconds())
	}

	ls := srv.Leases()
	e.checkUnique(ls)
	bound := countState(ls, "bound")
	macs := map[string]bool{}
	for _, x := range ls {
		if x.State == "bound" {
			macs[strings.ToLower(x.HWAddr)] = true
		}
	}
	// perfdhcp -R N picks each exchange's client among N at random, so
	// about N(1-1/e) distinct clients; each must hold exactly one lease.
	t.Logf("leasectl: %d bound leases, %d distinct clients, %d records", bound, len(macs), len(ls))
	if bound != len(macs) || bound < n/2 || bound > n {
		e.fatalf("leasectl: %d bound leases for %d distinct clients after %d exchanges", bound, len(macs), exchanges)
	}

	// 5 s at 5000/s and 5 s flat out (no -r) to record rates; drops here
	// are measured, not failures, but addresses must stay unique. New
	// client MACs per run (at most 20000 each, the pool has room for all).
	for i, rate := range []string{"5000", ""} {
		args := []string{"-b", fmt.Sprintf("mac=02:%02x:00:00:00:00", 0x50+i), "-R", "20000", "-p", "5"}
		name := "flat out"
		if rate != "" {
			args = append(args, "-r", rate)
			name = "at " + rate + "/s"
		}
		fast := e.runPerfdhcp(local, args...)
		t.Logf("perfdhcp %s: %v", name, fast)
		if fast.DO.Sent > 0 {
			t.Logf("perfdhcp %s: %.0f exchanges/s completed (REQUEST-ACK received / 5 s), %.1f %% DISCOVERs and %.1f %% REQUESTs unanswered",
				name, float64(fast.RA.Received)/5, 100*float64(fast.DO.Drops)/float64(fast.DO.Sent),
				100*float64(fast.RA.Drops)/float64(max(fast.RA.Sent, 1)))
		}
		if fast.RA.Received == 0 || fast.DO.NonUnique+fast.RA.NonUnique != 0 {
			e.fatalf("perfdhcp %s: %v", name, fast)
		}
	}
	e.checkUnique(srv.Leases())
}

// TestRelayPools: two relayed pools. perfdhcp with giaddr inside the
// second pool's subnet, and again with giaddr listed in a third pool's
// relays, gets all its leases from that pool.
func TestRelayPools(t *testing.T) {
	e := newEnv(t, "perfdhcp", "ss")
	cfg := defaultConfig()
	cfg.Pools = append(cfg.Pools,
		Pool{Name: "remote", Subnet: "10.88.0.0/16", Gateway: "10.88.0.1", Sections: [][2]string{{"10.88.1.0", "10.88.3.255"}}},
		Pool{Name: "branch", Subnet: "10.66.0.0/16", Gateway: "10.66.0.1", Relays: []string{"10.99.0.2"},
			Sections: [][2]string{{"10.66.1.0", "10.66.3.255"}}},
	)
	// Routes back to the relays: their subnets on vsrv.
	e.top.Server.AddAddr(netns.ServerIf, netip.MustParsePrefix("10.88.0.1/16"))
	e.top.Server.AddAddr(netns.ServerIf, netip.MustParsePrefix("10.99.0.1/24"))
	srv := e.startLeased(cfg)

	// Distinct client MACs per run: the engine keeps one binding per
	// client, so the same clients behind another relay would move.
	cases := []struct {
		giaddr string
		pool   string
		subnet netip.Prefix
		mac    string
	}{
		{"10.88.0.2", "remote", netip.MustParsePrefix("10.88.0.0/16"), "02:88:00:00:00:00"},
		{"10.99.0.2", "branch", netip.MustParsePrefix("10.66.0.0/16"), "02:99:00:00:00:00"},
	}
	for _, c := range cases {
		gi := netip.MustParseAddr(c.giaddr)
		bits := 16
		if c.pool == "branch" {
			bits = 24
		}
		e.top.Client.AddAddr(netns.ClientIf, netip.PrefixFrom(gi, bits))
		r := e.runPerfdhcp(gi, "-b", "mac="+c.mac, "-r", "200", "-R", "300", "-n", "300", "-p", "30")
		t.Logf("perfdhcp via %s: %v", c.giaddr, r)
		if r.RA.Received < 300 || r.DO.Drops+r.RA.Drops != 0 {
			e.fatalf("perfdhcp via %s lost exchanges: %v", c.giaddr, r)
		}
		e.top.Client.MustRun("ip", "addr", "del", netip.PrefixFrom(gi, bits).String(), "dev", netns.ClientIf)
	}

	ls := srv.Leases()
	e.checkUnique(ls)
	per := map[string]int{}
	for _, x := range ls {
		per[x.Pool]++
		var want netip.Prefix
		for _, c := range cases {
			if c.pool == x.Pool {
				want = c.subnet
			}
		}
		if !want.IsValid() || !want.Contains(x.Address) || x.State != "bound" {
			e.fatalf("lease %+v: want only bound leases of pools remote (10.88/16) and branch (10.66/16)", x)
		}
	}
	if per["remote"] != 300 || per["branch"] != 300 || per["office"] != 0 {
		e.fatalf("leases per pool %v: want 300 in remote and in branch, none in office", per)
	}
	t.Logf("leases per pool: %v", per)
}

// parsePerfdhcp reads perfdhcp's counters for its two exchanges (named as
// in its "***Statistics for: NAME" headings) into first and second, and
// returns its "Rate:" line.
func parsePerfdhcp(out, firstName string, first *perfStats, secondName string, second *perfStats) (rate string) {
	var cur *perfStats
	for line := range strings.SplitSeq(out, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "***Statistics for: "+firstName):
			cur = first
		case strings.HasPrefix(line, "***Statistics for: "+secondName):
			cur = second
		case strings.HasPrefix(line, "Rate:"):
			rate = line
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok || cur == nil {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			continue
		}
		switch k {
		case "sent packets":
			cur.Sent = n
		case "received packets":
			cur.Received = n
		case "drops":
			cur.Drops = n
		case "rejected leases":
			cur.Rejected = n
		case "non unique addresses":
			cur.NonUnique = n
		}
	}
	return rate
}
