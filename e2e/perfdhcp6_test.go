package e2e

import (
	"strconv"
	"testing"
	"time"
)

// TestPerfdhcp6: Kea's perfdhcp -6 against leased: 10,000 Solicit →
// Advertise → Request → Reply exchanges at 500/s from 10,000 simulated
// clients (DUIDs), nothing lost, no address given twice; leasectl then
// shows one bound IA_NA per distinct client. A 5 s run flat out records
// the rate (noisy: shared 2-core machine); there only uniqueness must
// hold.
func TestPerfdhcp6(t *testing.T) {
	e := newEnv(t, "perfdhcp", "ss")
	cfg := defaultConfig6()
	cfg.Preferred, cfg.Valid, cfg.T1, cfg.T2 = "10m", "20m", "", ""
	cfg.Pools[0].PD = "" // perfdhcp -6 asks for IA_NA only
	srv := e.startLeased6(cfg)

	const n = 10000
	r := e.runPerfdhcp6("-r", "500", "-R", strconv.Itoa(n), "-n", strconv.Itoa(n), "-p", "60")
	t.Logf("perfdhcp -6 at 500/s: %v", r)
	if r.SA.Sent < n || r.SA.Drops != 0 || r.RR.Drops != 0 || r.RR.Received != r.SA.Received || r.SA.Received < n {
		e.fatalf("perfdhcp -6 lost exchanges: %v\n%s", r, r.Output)
	}
	if r.SA.NonUnique+r.RR.NonUnique+r.SA.Rejected+r.RR.Rejected != 0 {
		e.fatalf("perfdhcp -6 saw rejected or non-unique addresses: %v", r)
	}
	if wall := r.Elapsed - 2*time.Second; wall > 0 {
		t.Logf("perfdhcp -6 at 500/s: %d exchanges in %v = %.0f/s", r.RR.Received, wall.Round(time.Millisecond), float64(r.RR.Received)/wall.Seconds())
	}

	ls := srv.Leases6()
	e.checkUnique6(ls)
	bound, duids := 0, map[string]int{}
	for _, x := range ls {
		if x.State != "bound" {
			continue
		}
		bound++
		if x.IsPD() || !subnet6.Contains(x.Address) {
			e.fatalf("lease %+v: want only IA_NA addresses of office6", x)
		}
		duids[x.DUID]++
	}
	for d, k := range duids {
		if k != 1 {
			e.fatalf("client %s holds %d bound addresses", d, k)
		}
	}
	t.Logf("leasectl: %d bound IA_NA leases, %d distinct DUIDs, %d v6 records", bound, len(duids), len(ls))
	if bound != len(duids) || bound < n/2 || bound > n {
		e.fatalf("leasectl: %d bound leases for %d distinct clients after %d exchanges", bound, len(duids), r.RR.Received)
	}

	fast := e.runPerfdhcp6("-b", "mac=02:60:00:00:00:00", "-R", "20000", "-p", "5")
	t.Logf("perfdhcp -6 flat out: %v", fast)
	if fast.SA.Sent > 0 {
		t.Logf("perfdhcp -6 flat out: %.0f exchanges/s completed (REQUEST-REPLY received / 5 s), %.1f %% Solicits and %.1f %% Requests unanswered",
			float64(fast.RR.Received)/5, 100*float64(fast.SA.Drops)/float64(fast.SA.Sent),
			100*float64(fast.RR.Drops)/float64(max(fast.RR.Sent, 1)))
	}
	if fast.RR.Received == 0 || fast.SA.NonUnique+fast.RR.NonUnique != 0 {
		e.fatalf("perfdhcp -6 flat out: %v", fast)
	}
	e.checkUnique6(srv.Leases6())
}
