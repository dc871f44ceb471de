package e2e

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

// TestACKMismatches: the wire-versus-database comparison of the cluster
// tests finds each kind of loss it is there for (no namespaces needed).
func TestACKMismatches(t *testing.T) {
	now := time.Date(2026, 12, 4, 15, 0, 0, 0, time.UTC)
	ack := func(hw, addr string, at time.Time) wireReply {
		return wireReply{At: at, Server: "srv0", Type: dhcpAck, CHAddr: hw, YIAddr: netip.MustParseAddr(addr), Lease: time.Minute}
	}
	row := func(hw, addr string, state int, exp time.Time) dbLease {
		return dbLease{Addr: netip.MustParseAddr(addr), State: state, HWAddr: hw, Expiry: exp, Server: "srv0"}
	}
	at := now.Add(-10 * time.Second)
	good := ack("aa", "10.0.0.1", at)
	goodRow := row("aa", "10.0.0.1", stateBound, at.Add(time.Minute))
	for _, tc := range []struct {
		name string
		acks []wireReply
		rows []dbLease
		want string // "" no mismatch
	}{
		{"all there", []wireReply{good}, []dbLease{goodRow}, ""},
		{"clock slack", []wireReply{good}, []dbLease{row("aa", "10.0.0.1", stateBound, at.Add(time.Minute-time.Second))}, ""},
		{"row missing", []wireReply{good}, nil, "no row in the database"},
		{"another client's row", []wireReply{good}, []dbLease{row("bb", "10.0.0.1", stateBound, at.Add(time.Minute))}, "the database row is bb's"},
		{"released before expiry", []wireReply{good}, []dbLease{row("aa", "10.0.0.1", 3, at.Add(time.Minute))}, "state 3 before the ACK's expiry"},
		{"shorter in the database", []wireReply{good}, []dbLease{row("aa", "10.0.0.1", stateBound, at.Add(30*time.Second))}, "the database row expires at"},
		{"ACKed to two clients", []wireReply{good, ack("bb", "10.0.0.1", at.Add(time.Second))}, []dbLease{goodRow}, "with both leases running"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			acks := map[string]wireReply{}
			for _, a := range tc.acks {
				acks[a.CHAddr] = a
			}
			errs := ackMismatches(acks, tc.rows, now)
			got := strings.Join(errs, "\n")
			if tc.want == "" && len(errs) > 0 || tc.want != "" && !strings.Contains(got, tc.want) {
				t.Fatalf("mismatches %q, want %q", got, tc.want)
			}
		})
	}
}
