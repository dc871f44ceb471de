package server

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/leased/leased/dhcpv4"
	"github.com/leased/leased/internal/pgtest"
)

// TestClusterClaimBesideHeartbeat: a claim does not wait for the
// heartbeat. Another session locks server a's claim rows, so a's
// heartbeat blocks in ExtendClaims (up to its 2 s bound, as on a database
// that is slow to answer); meanwhile 200 new clients DISCOVER at a, far
// more than its claims hold. Every one gets an OFFER within the claim-wait
// bound (claims are made by claimLoop, beside the blocked heartbeat), none
// times out. With claims and heartbeats on one goroutine the claims waited
// for the blocked heartbeat and the parked DISCOVERs timed out (1 s).
func TestClusterClaimBesideHeartbeat(t *testing.T) {
	dsn := pgtest.New(t).CreateDB(t)
	cfg := coldConfig()
	m := startMemberWith(t, dsn, "a", cfg, 5*time.Second, func(o *ClusterOptions) {
		o.Heartbeat, o.TakeOverAfter, o.Check = time.Second, 5*time.Second, 250*time.Millisecond
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(ctx, "SELECT id FROM claims WHERE owner = 'a' FOR UPDATE"); err != nil {
		t.Fatal(err)
	}
	// The next heartbeat's extension waits for the rows.
	waitUntil(t, 3*time.Second, "a's heartbeat blocked on the claim rows", func() bool {
		var n int
		err := m.st.Pool().QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE application_name = 'leased a' AND wait_event_type = 'Lock' AND query LIKE 'UPDATE claims%'`).Scan(&n)
		return err == nil && n > 0
	})

	const n = 200
	server := netip.MustParseAddr("127.0.0.1")
	start := time.Now()
	for i := range n {
		feed(t, m.s, withSecs(buildMsg(t, clientMsg{typ: dhcpv4.Discover, xid: uint32(i), mac: testMAC(8, i), giaddr: clusterRelay}), 60), server)
	}
	offers := map[netip.Addr]bool{}
	deadline := time.After(3 * time.Second)
collect:
	for len(offers) < n {
		select {
		case x := <-m.rec.got:
			var msg dhcpv4.Message
			if err := msg.Decode(x.pkt); err != nil || msg.Type() != dhcpv4.Offer {
				t.Fatalf("not an OFFER")
			}
			if offers[msg.YIAddr] {
				t.Fatalf("%v offered twice", msg.YIAddr)
			}
			offers[msg.YIAddr] = true
		case <-deadline:
			break collect
		}
	}
	took := time.Since(start)
	timeouts := metricWith(t, m.s, "leased_cluster_claim_waits_total", map[string]string{"family": "dhcpv4", "result": "timeout"})
	served := metricWith(t, m.s, "leased_cluster_claim_waits_total", map[string]string{"family": "dhcpv4", "result": "served"})
	var blocked int
	if err := m.st.Pool().QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
		WHERE application_name = 'leased a' AND wait_event_type = 'Lock' AND query LIKE 'UPDATE claims%'`).Scan(&blocked); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d OFFERs of %d in %v, claim waits served %v, timed out %v; heartbeat still blocked: %v", len(offers), n, took, served, timeouts, blocked > 0)
	if len(offers) != n || timeouts != 0 {
		t.Fatalf("%d of %d clients got an OFFER, %v claim waits timed out, while the heartbeat was blocked", len(offers), n, timeouts)
	}
	if served == 0 {
		t.Errorf("no DISCOVER waited for a claim: the burst did not outrun the claims")
	}
	if blocked == 0 {
		t.Errorf("the heartbeat was no longer blocked at the end: the test did not hold it for the burst")
	}
}
