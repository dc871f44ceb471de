package postgres

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leased/leased/internal/pgtest"
	"github.com/leased/leased/lease"
)

// clusterOpen opens a cluster member named name.
func clusterOpen(t testing.TB, dsn, name string) *Store {
	t.Helper()
	return open(t, dsn, Options{ServerName: name, Cluster: true})
}

var pool4 = ClaimPool{Name: "campus", Ranges: []Range{
	{netip.MustParseAddr("10.1.0.10"), netip.MustParseAddr("10.1.1.255")},
	{netip.MustParseAddr("10.1.2.0"), netip.MustParseAddr("10.1.3.254")},
}}

func poolSize(p ClaimPool) int {
	n := 0
	for _, r := range p.Ranges {
		n += int(u32(r.Last)-u32(r.First)) + 1
	}
	return n
}

func u32(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// TestClaimBlockConcurrent: 3 servers × 4 goroutines claim blocks in
// rounds (each goroutine one claim per round, all at once) until the pool
// is exhausted; every claim of a round succeeds while the pool still has
// a block for it, no two blocks overlap and together they cover every
// address of the pool exactly once. (In rounds, not each goroutine as fast
// as it can: on the loaded machine one server's goroutines were sometimes
// not scheduled before the others had claimed the whole pool, "claims per
// server map[a:11 c:17]", which says nothing about the claims.)
func TestClaimBlockConcurrent(t *testing.T) {
	dsn := pgtest.DB(t)
	servers := []*Store{clusterOpen(t, dsn, "a"), clusterOpen(t, dsn, "b"), clusterOpen(t, dsn, "c")}
	var got []Claim
	for round := 0; ; round++ {
		if round == 1000 {
			t.Fatal("the pool never ran out")
		}
		var mu sync.Mutex
		var wg sync.WaitGroup
		ok, none := 0, 0
		for i := range 12 {
			wg.Go(func() {
				c, err := servers[i%3].ClaimBlock(context.Background(), pool4, 37, time.Minute)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case errors.Is(err, ErrNoFreeBlock):
					none++
				case err != nil:
					t.Error(err)
				default:
					ok++
					got = append(got, c)
				}
			})
		}
		wg.Wait()
		if t.Failed() {
			return
		}
		if none > 0 {
			// The pool ran out in this round: nothing is left.
			if _, err := servers[0].ClaimBlock(context.Background(), pool4, 1, time.Minute); !errors.Is(err, ErrNoFreeBlock) {
				t.Fatalf("round %d: %d claims refused as no free block, %d granted, yet a claim of 1 then got %v", round, none, ok, err)
			}
			break
		}
	}
	owner := map[uint32]string{}
	for _, c := range got {
		for a := u32(c.First); a <= u32(c.Last); a++ {
			if o, dup := owner[a]; dup {
				t.Fatalf("address %d claimed by %s and by %s (claim %d)", a, o, c.Owner, c.ID)
			}
			owner[a] = c.Owner
		}
	}
	if len(owner) != poolSize(pool4) {
		t.Errorf("claims cover %d addresses, pool has %d", len(owner), poolSize(pool4))
	}
	per := map[string]int{}
	for _, c := range got {
		per[c.Owner]++
	}
	if len(per) != 3 {
		t.Errorf("claims per server %v: want all three", per)
	}
	// The constraint itself refuses an overlap, whoever inserts it.
	_, err := servers[0].Pool().Exec(context.Background(), `INSERT INTO claims (pool, family, first, last, span, owner, epoch, expires)
		VALUES ('x', 4, '10.1.0.20', '10.1.0.20', numrange(167837716, 167837716, '[]'), 'a', 1, now() + interval '1 hour')`)
	if err == nil || !strings.Contains(err.Error(), "claims_no_overlap") {
		t.Errorf("overlapping insert: err %v, want claims_no_overlap violation", err)
	}
}

// TestClaimV6Prefixes: IA_PD blocks are whole prefixes and do not overlap
// DHCPv4 claims of numerically equal addresses.
func TestClaimV6Prefixes(t *testing.T) {
	dsn := pgtest.DB(t)
	a := clusterOpen(t, dsn, "a")
	pd := ClaimPool{Name: "pd", PrefixLen: 56, Ranges: []Range{
		{netip.MustParseAddr("2001:db8::"), netip.MustParseAddr("2001:db8:0:ffff:ffff:ffff:ffff:ffff")}}}
	c1, err := a.ClaimBlock(context.Background(), pd, 4, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := a.ClaimBlock(context.Background(), pd, 4, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if c1.First != netip.MustParseAddr("2001:db8::") || c1.Last != netip.MustParseAddr("2001:db8:0:3ff:ffff:ffff:ffff:ffff") {
		t.Errorf("first block %v-%v", c1.First, c1.Last)
	}
	if c2.First != netip.MustParseAddr("2001:db8:0:400::") {
		t.Errorf("second block starts at %v", c2.First)
	}
	v4 := ClaimPool{Name: "v4", Ranges: []Range{{netip.MustParseAddr("0.0.0.1"), netip.MustParseAddr("0.0.0.200")}}}
	v6 := ClaimPool{Name: "v6", Ranges: []Range{{netip.MustParseAddr("::1"), netip.MustParseAddr("::200")}}}
	if _, err := a.ClaimBlock(context.Background(), v4, 10, time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := a.ClaimBlock(context.Background(), v6, 10, time.Minute); err != nil {
		t.Fatalf("v6 block numerically equal to a v4 one: %v", err)
	}
}

func bound(addr string, client byte, seq uint64) lease.Lease {
	l := sample(int(client))
	l.Addr = netip.MustParseAddr(addr)
	l.ClientID = []byte{1, 2, 3, client}
	l.Seq = seq
	l.State = lease.StateBound
	l.Pool = "campus"
	now := time.Now()
	l.Start, l.Expiry = now, now.Add(time.Hour)
	return l
}

func wantRejected(t *testing.T, err error, addr, reason string) {
	t.Helper()
	var re *RejectedError
	if !errors.As(err, &re) || re.Addr != netip.MustParseAddr(addr) || re.Reason != reason {
		t.Fatalf("err %v, want rejection of %s: %s", err, addr, reason)
	}
	if !errors.Is(err, ErrRejected) {
		t.Fatalf("%v does not wrap ErrRejected", err)
	}
}

func rowOf(t *testing.T, s *Store, addr string) (lease.Lease, bool) {
	t.Helper()
	l, ok, err := s.LookupLease(context.Background(), netip.MustParseAddr(addr))
	if err != nil {
		t.Fatal(err)
	}
	return l, ok
}

// TestConditionalCommit: a server writes new bindings only inside its own
// claims, never over another client's live lease, and renews any
// server's client; a rejected Commit call leaves the rest of the batch
// committed.
func TestConditionalCommit(t *testing.T) {
	dsn := pgtest.DB(t)
	a, b := clusterOpen(t, dsn, "a"), clusterOpen(t, dsn, "b")
	ctx := context.Background()
	ca, err := a.ClaimBlock(ctx, pool4, 16, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	cb, err := b.ClaimBlock(ctx, pool4, 16, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if ca.First.String() != "10.1.0.10" || cb.First.String() != "10.1.0.26" {
		t.Fatalf("claims %v, %v", ca, cb)
	}
	// a binds client 1 in its block.
	if err := a.Commit(ctx, []lease.Lease{bound("10.1.0.10", 1, 5)}); err != nil {
		t.Fatal(err)
	}
	// b may not bind another client there (stale cache), nor a free
	// address of a's block, nor one outside every claim.
	wantRejected(t, b.Commit(ctx, []lease.Lease{bound("10.1.0.10", 2, 100)}), "10.1.0.10", "held by another client")
	wantRejected(t, b.Commit(ctx, []lease.Lease{bound("10.1.0.11", 2, 100)}), "10.1.0.11", "not owner")
	wantRejected(t, b.Commit(ctx, []lease.Lease{bound("10.1.3.200", 2, 100)}), "10.1.3.200", "not owner")
	// a itself may not either outside its claims.
	wantRejected(t, a.Commit(ctx, []lease.Lease{bound("10.1.0.27", 3, 6)}), "10.1.0.27", "not owner")
	// b renews a's client 1 (read-through): accepted, even with a lower seq.
	renew := bound("10.1.0.10", 1, 2)
	renew.Expiry = renew.Expiry.Add(time.Hour)
	if err := b.Commit(ctx, []lease.Lease{renew}); err != nil {
		t.Fatalf("renewal of another server's client: %v", err)
	}
	if l, _ := rowOf(t, b, "10.1.0.10"); !l.Expiry.Equal(renew.Expiry.UTC()) {
		t.Errorf("row expiry %v, want the renewal's %v", l.Expiry, renew.Expiry)
	}
	// a's stale expiry of client 1 (it has not seen b's renewal): refused.
	exp := bound("10.1.0.10", 1, 7)
	exp.State = lease.StateExpired
	wantRejected(t, a.Commit(ctx, []lease.Lease{exp}), "10.1.0.10", "held elsewhere")
	// The client's own release through a is accepted.
	rel := bound("10.1.0.10", 1, 8)
	rel.State = lease.StateReleased
	if err := a.Commit(ctx, []lease.Lease{rel}); err != nil {
		t.Fatalf("client's release: %v", err)
	}
	// Now free: b still may not bind it (a's claim), a may.
	wantRejected(t, b.Commit(ctx, []lease.Lease{bound("10.1.0.10", 2, 101)}), "10.1.0.10", "not owner")
	if err := a.Commit(ctx, []lease.Lease{bound("10.1.0.10", 4, 9)}); err != nil {
		t.Fatal(err)
	}

	// One batch, three calls: the rejected one (two records, one refused)
	// writes nothing, the others commit.
	b.opts.MaxBatch = 1000
	var wg sync.WaitGroup
	errs := make([]error, 3)
	calls := [][]lease.Lease{
		{bound("10.1.0.26", 10, 200)},
		{bound("10.1.0.27", 11, 201), bound("10.1.0.12", 11, 202)}, // .12 is a's
		{bound("10.1.0.28", 12, 203)},
	}
	b.mu.Lock() // queue all three before a writer takes them
	for i := range calls {
		wg.Go(func() { errs[i] = b.Commit(ctx, calls[i]) })
	}
	b.mu.Unlock()
	wg.Wait()
	if errs[0] != nil || errs[2] != nil {
		t.Errorf("accepted calls: %v, %v", errs[0], errs[2])
	}
	wantRejected(t, errs[1], "10.1.0.12", "not owner")
	for addr, want := range map[string]bool{"10.1.0.26": true, "10.1.0.27": false, "10.1.0.12": false, "10.1.0.28": true} {
		if _, ok := rowOf(t, b, addr); ok != want {
			t.Errorf("%s stored: %v, want %v", addr, ok, want)
		}
	}
}

// TestTakeOver: a dead server's claims move to the survivor in one
// transaction that raises its epoch; its late commits and claims fail
// with ErrFenced and store nothing.
func TestTakeOver(t *testing.T) {
	dsn := pgtest.DB(t)
	a, b := clusterOpen(t, dsn, "a"), clusterOpen(t, dsn, "b")
	ctx := context.Background()
	ca, err := a.ClaimBlock(ctx, pool4, 16, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Commit(ctx, []lease.Lease{bound("10.1.0.10", 1, 1)}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.TakeOver(ctx, "a", time.Minute, time.Minute); !errors.Is(err, ErrNotDead) {
		t.Fatalf("take-over of a live server: %v", err)
	}
	if dead, err := b.DeadServers(ctx, time.Minute); err != nil || len(dead) != 0 {
		t.Fatalf("dead servers %v, %v", dead, err)
	}
	// a's heartbeat stops (simulated: its row ages).
	if _, err := b.Pool().Exec(ctx, "UPDATE servers SET heartbeat = now() - interval '10 minutes' WHERE server_name = 'a'"); err != nil {
		t.Fatal(err)
	}
	dead, err := b.DeadServers(ctx, time.Minute)
	if err != nil || fmt.Sprint(dead) != "[a]" {
		t.Fatalf("dead servers %v, %v", dead, err)
	}
	moved, err := b.TakeOver(ctx, "a", time.Minute, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if len(moved) != 1 || moved[0].ID != ca.ID || moved[0].Owner != "b" || moved[0].Epoch != b.Epoch() {
		t.Fatalf("moved %+v", moved)
	}
	// a wakes up: every write is fenced.
	err = a.Commit(ctx, []lease.Lease{bound("10.1.0.11", 2, 2)})
	if !errors.Is(err, ErrFenced) {
		t.Fatalf("late commit of the dead server: %v", err)
	}
	if _, ok := rowOf(t, b, "10.1.0.11"); ok {
		t.Error("the fenced commit stored its lease")
	}
	if _, err := a.ClaimBlock(ctx, pool4, 16, time.Minute); !errors.Is(err, ErrFenced) {
		t.Errorf("late claim: %v", err)
	}
	if _, err := a.ExtendClaims(ctx, time.Minute); !errors.Is(err, ErrFenced) {
		t.Errorf("late extension: %v", err)
	}
	// b now allocates in the moved block and renews a's client.
	if err := b.Commit(ctx, []lease.Lease{bound("10.1.0.11", 3, 3), bound("10.1.0.10", 1, 4)}); err != nil {
		t.Fatal(err)
	}
	infos, err := b.Servers(ctx, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != 2 || infos[0].Name != "a" || infos[0].State != ServerDead || infos[0].Blocks != 0 ||
		infos[1].State != ServerLive || infos[1].Blocks != 1 || infos[1].Addresses != "16" {
		t.Errorf("servers %+v", infos)
	}
}

// TestClaimLifeCycle: extend, hand over, release; an expired claim no
// longer lets its owner allocate and is claimed again by another server.
func TestClaimLifeCycle(t *testing.T) {
	dsn := pgtest.DB(t)
	a, b := clusterOpen(t, dsn, "a"), clusterOpen(t, dsn, "b")
	ctx := context.Background()
	c, err := a.ClaimBlock(ctx, pool4, 8, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	ext, err := a.ExtendClaims(ctx, time.Hour)
	if err != nil || len(ext) != 1 || !ext[0].Expires.After(c.Expires) {
		t.Fatalf("extend: %+v, %v", ext, err)
	}
	if err := b.ReleaseClaim(ctx, c.ID); err == nil {
		t.Error("b released a's claim")
	}
	if err := a.HandOver(ctx, c.ID, "b"); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(ctx, []lease.Lease{bound("10.1.0.10", 1, 1)}); err != nil {
		t.Fatalf("b in the handed-over block: %v", err)
	}
	wantRejected(t, a.Commit(ctx, []lease.Lease{bound("10.1.0.11", 2, 1)}), "10.1.0.11", "not owner")
	if err := b.ReleaseClaim(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	wantRejected(t, b.Commit(ctx, []lease.Lease{bound("10.1.0.11", 2, 2)}), "10.1.0.11", "not owner")
	// Expiry: a claims, its claim lapses; a may no longer bind there,
	// and b's next claim takes the block.
	c, err = a.ClaimBlock(ctx, pool4, 8, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Pool().Exec(ctx, "UPDATE claims SET expires = now() - interval '1 second' WHERE id = $1", c.ID); err != nil {
		t.Fatal(err)
	}
	wantRejected(t, a.Commit(ctx, []lease.Lease{bound("10.1.0.12", 3, 3)}), "10.1.0.12", "not owner")
	c2, err := b.ClaimBlock(ctx, pool4, 8, time.Minute)
	if err != nil || c2.First != c.First {
		t.Fatalf("claim after expiry: %+v, %v (expired block %v)", c2, err, c.First)
	}
}

// TestLeadCampaign: one leader per campaign; when the leader's connection
// dies, another server becomes leader.
func TestLeadCampaign(t *testing.T) {
	dsn := pgtest.DB(t)
	a, b := clusterOpen(t, dsn, "a"), clusterOpen(t, dsn, "b")
	ctx := context.Background()
	relA, ok, err := a.LeadCampaign(ctx, "campaign-1")
	if err != nil || !ok {
		t.Fatalf("a: %v %v", ok, err)
	}
	defer relA()
	if _, ok, err := b.LeadCampaign(ctx, "campaign-1"); err != nil || ok {
		t.Fatalf("b led a campaign a leads: %v %v", ok, err)
	}
	relB2, ok, err := b.LeadCampaign(ctx, "campaign-2")
	if err != nil || !ok {
		t.Fatalf("b, another campaign: %v %v", ok, err)
	}
	defer relB2()
	ls, err := b.CampaignLeaders(ctx)
	if err != nil || fmt.Sprint(leaders(ls)) != "[campaign-1=a campaign-2=b]" {
		t.Fatalf("leaders %v, %v", leaders(ls), err)
	}
	// a's leadership connection dies (the process was killed).
	tag, err := b.Pool().Exec(ctx, `SELECT pg_terminate_backend(pid) FROM campaign_leaders WHERE campaign = 'campaign-1'`)
	if err != nil || tag.RowsAffected() != 1 {
		t.Fatal(tag, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		rel, ok, err := b.LeadCampaign(ctx, "campaign-1")
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			defer rel()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("b never became leader after a's connection died")
		}
		time.Sleep(50 * time.Millisecond)
	}
	ls, err = a.CampaignLeaders(ctx)
	if err != nil || fmt.Sprint(leaders(ls)) != "[campaign-1=b campaign-2=b]" {
		t.Fatalf("leaders after the move %v, %v", leaders(ls), err)
	}
	relB2()
	ls, _ = a.CampaignLeaders(ctx)
	if fmt.Sprint(leaders(ls)) != "[campaign-1=b]" {
		t.Fatalf("leaders after release %v", leaders(ls))
	}
}

func leaders(ls []CampaignLeader) []string {
	var out []string
	for _, l := range ls {
		out = append(out, l.Campaign+"="+l.Leader)
	}
	return out
}
