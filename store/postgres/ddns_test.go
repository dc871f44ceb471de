package postgres

import (
	"context"
	"testing"

	"github.com/leased/leased/internal/pgtest"
	"github.com/leased/leased/lease"
)

// TestDDNSMode: lease.Lease.DDNS survives the database (bits 8..9 of the
// htype column, beside a hardware type of 255), read back by a second
// store as after a restart; a row written before (htype alone) reads as
// DDNSBoth; a mode the schema cannot hold is refused.
func TestDDNSMode(t *testing.T) {
	dsn := pgtest.DB(t)
	s := open(t, dsn, Options{})
	a, b, c := sample(1), sample(2), sampleV6(3)
	a.DDNS, a.HType = lease.DDNSPTROnly, 255
	b.DDNS = lease.DDNSNone
	commit(t, s, a, b, c)
	s2 := open(t, dsn, Options{ServerName: "other"})
	diff(t, byAddr(a, b, c), loadAll(t, s2))
	// A row as an older binary wrote it.
	if _, err := s.Pool().Exec(context.Background(), `UPDATE leases SET htype = 1 WHERE addr = $1`, a.Addr); err != nil {
		t.Fatal(err)
	}
	if got := loadAll(t, s2)[a.Addr]; got.DDNS != lease.DDNSBoth || got.HType != 1 {
		t.Fatalf("old row: DDNS %d htype %d", got.DDNS, got.HType)
	}
	bad := sample(4)
	bad.DDNS = 3
	if err := s.Commit(context.Background(), []lease.Lease{bad}); err == nil {
		t.Fatal("DDNS mode 3 committed")
	}
}
