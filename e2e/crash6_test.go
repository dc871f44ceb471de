package e2e

import (
	"testing"
	"time"
)

// TestCrash6Durability: durable before Reply (RFC 8415 bindings, DESIGN
// "durable before reply"). perfdhcp -6 runs 20,000 first-time exchanges
// at 2000/s from distinct DUIDs; leased is killed with SIGKILL after 3 s,
// while Replies are in flight, and restarted. Every Reply perfdhcp
// received must be a bound lease after the restart: bound ≥ received
// (more is allowed: a binding committed whose Reply was lost with the
// process). No address is held twice.
func TestCrash6Durability(t *testing.T) {
	e := newEnv(t, "perfdhcp", "ss")
	cfg := defaultConfig6()
	cfg.Preferred, cfg.Valid, cfg.T1, cfg.T2 = "10m", "20m", "", ""
	cfg.Pools[0].PD = ""
	srv := e.startLeased6(cfg)

	type result struct {
		r   perfResult6
		err error
	}
	done := make(chan result, 1)
	go func() {
		r, err := e.perfdhcp6("-r", "2000", "-R", "20000", "-n", "20000", "-p", "12")
		done <- result{r, err}
	}()
	time.Sleep(3 * time.Second)
	srv.Kill9()
	killed := time.Now()
	var res result
	select {
	case res = <-done:
	case <-time.After(60 * time.Second):
		e.fatalf("perfdhcp -6 did not finish within 60 s")
	}
	if res.err != nil {
		e.fatalf("%v", res.err)
	}
	r := res.r
	t.Logf("perfdhcp -6 with leased killed after 3 s: %v", r)
	if r.RR.Received < 1000 {
		e.fatalf("only %d Replies before the kill: the test proves nothing", r.RR.Received)
	}
	if r.RR.Received == r.SA.Sent {
		e.fatalf("every exchange completed: leased was not killed while serving")
	}

	srv.Start6()
	t.Logf("restarted %v after the kill", time.Since(killed).Round(time.Millisecond))
	ls := srv.Leases6()
	e.checkUnique6(ls)
	bound := 0
	duids := map[string]bool{}
	for _, x := range ls {
		if x.State == "bound" {
			bound++
			duids[x.DUID] = true
		}
	}
	t.Logf("after restart: %d bound leases (%d DUIDs) for %d Replies received", bound, len(duids), r.RR.Received)
	if bound < r.RR.Received || len(duids) != bound {
		e.fatalf("after SIGKILL and restart: %d bound leases (%d DUIDs), but perfdhcp received %d Replies", bound, len(duids), r.RR.Received)
	}
	srv.Stop()
}
