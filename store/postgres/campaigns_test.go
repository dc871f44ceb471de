package postgres

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/leased/leased/internal/pgtest"
	"github.com/leased/leased/store"
)

// TestNextCampaignID: two servers taking IDs at once never get the same
// one, and atLeast lifts the counter above IDs a server already knows.
func TestNextCampaignID(t *testing.T) {
	dsn := pgtest.DB(t)
	a, b := clusterOpen(t, dsn, "a"), clusterOpen(t, dsn, "b")
	ctx := context.Background()
	g0, err := b.CampaignGeneration(ctx)
	if err != nil {
		t.Fatal(err)
	}
	id, err := a.NextCampaignID(ctx, 41)
	if err != nil || id != 41 {
		t.Fatalf("first id with atLeast 41: %d, %v", id, err)
	}
	if g, err := b.CampaignGeneration(ctx); err != nil || g == g0 {
		t.Fatalf("generation %d before, %d (%v) after a new id: want a change", g0, g, err)
	}
	var mu sync.Mutex
	seen := map[uint32]string{41: "a"}
	var wg sync.WaitGroup
	for _, s := range []*Store{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				id, err := s.NextCampaignID(ctx, 1)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if prev, dup := seen[id]; dup {
					t.Errorf("campaign id %d given to %s and %s", id, prev, s.ServerName())
				}
				seen[id] = s.ServerName()
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(seen) != 101 {
		t.Fatalf("%d distinct ids, want 101", len(seen))
	}
	if id, err := b.NextCampaignID(ctx, 10); err != nil || id != 142 {
		t.Fatalf("after 101 ids from 41: %d, %v; want 142", id, err)
	}
}

// TestCampaignLock: one leader per campaign; Alive fails once the
// leader's session is terminated (as when its process dies), and the
// other server then takes the lock and is listed as the leader.
func TestCampaignLock(t *testing.T) {
	dsn := pgtest.DB(t)
	a, b := clusterOpen(t, dsn, "a"), clusterOpen(t, dsn, "b")
	ctx := context.Background()
	la, ok, err := a.LockCampaign(ctx, "7")
	if err != nil || !ok {
		t.Fatalf("a: %v %v", ok, err)
	}
	defer la.Release()
	if _, ok, err := b.LockCampaign(ctx, "7"); err != nil || ok {
		t.Fatalf("b locked a campaign a leads: %v %v", ok, err)
	}
	if err := la.Alive(ctx); err != nil {
		t.Fatalf("Alive while held: %v", err)
	}
	// The leader's rows go through the lock's session.
	if err := la.CommitBlobs(ctx, []store.Blob{{Kind: 1, Key: []byte{0, 0, 0, 7}, Value: []byte("a's header")}}); err != nil {
		t.Fatalf("CommitBlobs while held: %v", err)
	}
	if ls, err := b.CampaignLeaders(ctx); err != nil || fmt.Sprint(leaders(ls)) != "[7=a]" {
		t.Fatalf("leaders %v, %v", leaders(ls), err)
	}
	tag, err := b.Pool().Exec(ctx, `SELECT pg_terminate_backend(pid) FROM campaign_leaders WHERE campaign = '7'`)
	if err != nil || tag.RowsAffected() != 1 {
		t.Fatal(tag, err)
	}
	if err := la.Alive(ctx); err == nil {
		t.Fatal("Alive after the lock's session was terminated: no error")
	}
	// Fenced: a's late write is refused and stores nothing.
	if err := la.CommitBlobs(ctx, []store.Blob{{Kind: 1, Key: []byte{0, 0, 0, 7}, Value: []byte("a's late header")}}); err == nil {
		t.Fatal("CommitBlobs after the lock's session was terminated: no error")
	}
	var v []byte
	if err := b.Pool().QueryRow(ctx, `SELECT value FROM blobs WHERE kind = 1 AND key = '\x00000007'`).Scan(&v); err != nil || string(v) != "a's header" {
		t.Fatalf("blob after a's refused write: %q, %v", v, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		lb, ok, err := b.LockCampaign(ctx, "7")
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			defer lb.Release()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("b never got the lock after a's session ended")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if ls, err := a.CampaignLeaders(ctx); err != nil || fmt.Sprint(leaders(ls)) != "[7=b]" {
		t.Fatalf("leaders after the take-over %v, %v", leaders(ls), err)
	}
}

// TestOutcomes: events reported by one server are read by another in
// order, per campaign, with and without an address, and deleted up to
// an id.
func TestOutcomes(t *testing.T) {
	dsn := pgtest.DB(t)
	a, b := clusterOpen(t, dsn, "a"), clusterOpen(t, dsn, "b")
	ctx := context.Background()
	at := time.Unix(1700000000, 123456789)
	in := []Outcome{
		{Campaign: 3, Event: 4, Addr: netip.MustParseAddr("10.0.0.7"), Client: []byte{1, 2, 3}, At: at},
		{Campaign: 3, Event: 6, Addr: netip.MustParseAddr("10.0.0.7"), Client: []byte{1, 2, 3}, At: at.Add(time.Millisecond)},
		{Campaign: 4, Event: 1, Client: []byte{9}, At: at},
		{Campaign: 3, Event: 6, Addr: netip.MustParseAddr("fd00::5"), Client: []byte{0, 3, 0, 1}, V6: true, At: at},
	}
	if err := b.ReportOutcomes(ctx, in); err != nil {
		t.Fatal(err)
	}
	if err := b.ReportOutcomes(ctx, []Outcome{{Event: 1}}); err == nil {
		t.Fatal("an outcome of campaign 0 was stored")
	}
	got, err := a.Outcomes(ctx, []uint32{3, 4}, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(in) {
		t.Fatalf("%d outcomes, want %d: %+v", len(got), len(in), got)
	}
	for i := range in {
		w, g := in[i], got[i]
		if g.Campaign != w.Campaign || g.Event != w.Event || g.Addr != w.Addr || !bytes.Equal(g.Client, w.Client) ||
			g.V6 != w.V6 || !g.At.Equal(w.At) || g.Server != "b" {
			t.Errorf("outcome %d: %+v, want %+v from b", i, g, w)
		}
	}
	only3, err := a.Outcomes(ctx, []uint32{3}, 2)
	if err != nil || len(only3) != 2 || only3[0].Campaign != 3 || only3[1].Campaign != 3 {
		t.Fatalf("campaign 3, limit 2: %+v, %v", only3, err)
	}
	if err := a.DeleteOutcomes(ctx, []uint32{3}, only3[1].ID); err != nil {
		t.Fatal(err)
	}
	left, err := a.Outcomes(ctx, []uint32{3, 4}, 100)
	if err != nil || len(left) != 2 || left[0].Campaign != 4 || left[1].Addr != netip.MustParseAddr("fd00::5") {
		t.Fatalf("after deleting campaign 3 up to %d: %+v, %v", only3[1].ID, left, err)
	}
}

// TestEnsureBlob: servers creating the same blob at once all end up with
// the first one's value.
func TestEnsureBlob(t *testing.T) {
	dsn := pgtest.DB(t)
	a, b := clusterOpen(t, dsn, "a"), clusterOpen(t, dsn, "b")
	ctx := context.Background()
	var wg sync.WaitGroup
	got := make([][]byte, 8)
	for i := range got {
		s := a
		if i%2 == 1 {
			s = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := s.EnsureBlob(ctx, 2, []byte("duid"), []byte{byte(i + 1)})
			if err != nil {
				t.Error(err)
			}
			got[i] = v
		}()
	}
	wg.Wait()
	for i := range got {
		if len(got[i]) != 1 || got[i][0] != got[0][0] {
			t.Fatalf("values returned: %v; want one value for all", got)
		}
	}
	var n int
	if err := a.Pool().QueryRow(ctx, `SELECT count(*) FROM blobs WHERE kind = 2 AND key = 'duid' AND value = $1`, got[0]).Scan(&n); err != nil || n != 1 {
		t.Fatalf("stored: %d rows with the returned value, %v", n, err)
	}
}
