package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/leased/leased/internal/pgtest"
	"github.com/leased/leased/lease"
)

// reservedBound is bound with lease.Lease.Reserved: the engine made the
// binding from the client's own reservation.
func reservedBound(addr string, client byte, seq uint64) lease.Lease {
	l := bound(addr, client, seq)
	l.Reserved = true
	return l
}

// TestCommitReserved (migration 0006): a record made from the client's
// reservation (htype bit 10) commits outside the writer's claims — in
// another server's block or in no block — when the row is absent, expired
// or already this client's; it is still refused over another client's
// live lease, and a record without the flag is still refused outside the
// claims.
func TestCommitReserved(t *testing.T) {
	dsn := pgtest.DB(t)
	a, b := clusterOpen(t, dsn, "a"), clusterOpen(t, dsn, "b")
	ctx := context.Background()
	ca, err := a.ClaimBlock(ctx, pool4, 16, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.ClaimBlock(ctx, pool4, 16, time.Minute); err != nil {
		t.Fatal(err)
	}
	if ca.First.String() != "10.1.0.10" {
		t.Fatalf("a's claim %v", ca)
	}
	// In a's block, the row absent: b writes client 2's reserved address.
	if err := b.Commit(ctx, []lease.Lease{reservedBound("10.1.0.11", 2, 100)}); err != nil {
		t.Fatalf("reserved address in another server's block: %v", err)
	}
	// Outside every claim.
	if err := b.Commit(ctx, []lease.Lease{reservedBound("10.1.3.200", 3, 101)}); err != nil {
		t.Fatalf("reserved address outside every claim: %v", err)
	}
	for addr, client := range map[string]byte{"10.1.0.11": 2, "10.1.3.200": 3} {
		l, ok := rowOf(t, a, addr)
		if !ok || l.State != lease.StateBound || l.ClientID[3] != client || !l.Reserved || l.HType != bound(addr, client, 0).HType {
			t.Errorf("%s: row %+v, %v; want bound to client %d, Reserved", addr, l, ok, client)
		}
	}
	// The same flag over another client's live lease: refused, the row
	// unchanged.
	if err := a.Commit(ctx, []lease.Lease{bound("10.1.0.12", 1, 5)}); err != nil {
		t.Fatal(err)
	}
	wantRejected(t, b.Commit(ctx, []lease.Lease{reservedBound("10.1.0.12", 4, 102)}), "10.1.0.12", "held by another client")
	wantRejected(t, a.Commit(ctx, []lease.Lease{reservedBound("10.1.0.11", 4, 6)}), "10.1.0.11", "held by another client")
	if l, _ := rowOf(t, a, "10.1.0.12"); l.ClientID[3] != 1 || l.Reserved {
		t.Errorf("10.1.0.12 after the refused write: %+v", l)
	}
	// Over another client's expired binding (its lifetime past): accepted.
	old := bound("10.1.0.13", 5, 7)
	old.Start, old.Expiry = time.Now().Add(-2*time.Hour), time.Now().Add(-time.Hour)
	if err := a.Commit(ctx, []lease.Lease{old}); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(ctx, []lease.Lease{reservedBound("10.1.0.13", 6, 103)}); err != nil {
		t.Fatalf("reserved address over an expired binding: %v", err)
	}
	// The client's own binding renewed through a (outside a's claims for
	// 10.1.3.200): accepted, flag or not.
	if err := a.Commit(ctx, []lease.Lease{reservedBound("10.1.3.200", 3, 8)}); err != nil {
		t.Fatalf("renewal of a reserved binding through another server: %v", err)
	}
	// Without the flag nothing changed: a new binding outside the
	// writer's claims is refused.
	wantRejected(t, b.Commit(ctx, []lease.Lease{bound("10.1.0.14", 7, 104)}), "10.1.0.14", "not owner")
	wantRejected(t, b.Commit(ctx, []lease.Lease{bound("10.1.3.201", 7, 105)}), "10.1.3.201", "not owner")
	// A group holding a refused reserved record writes nothing.
	wantRejected(t, b.Commit(ctx, []lease.Lease{reservedBound("10.1.3.202", 8, 106), reservedBound("10.1.0.12", 8, 107)}),
		"10.1.0.12", "held by another client")
	if _, ok := rowOf(t, a, "10.1.3.202"); ok {
		t.Error("10.1.3.202 stored from a refused group")
	}
}
