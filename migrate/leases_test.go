package migrate

import (
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/leased/leased/lease"
)

// The lease files were written by Kea 2.2 and dhcpd 4.4.3 (gen-leases.sh)
// on 2026-12-04 with one-day leases.
var leaseNow = time.Date(2026, 12, 4, 13, 0, 0, 0, time.UTC)

func read(t *testing.T, f string, fn func(string, []byte, time.Time) (*Leases, error), now time.Time) *Leases {
	t.Helper()
	src, err := os.ReadFile("testdata/" + f)
	if err != nil {
		t.Fatal(err)
	}
	l, err := fn(f, src, now)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestKeaCSV4(t *testing.T) {
	l := read(t, "kea-leases4.csv", ReadKeaCSV, leaseNow)
	if len(l.Found) != 25 {
		t.Fatalf("found %d leases, want the 25 perfdhcp clients", len(l.Found))
	}
	f := l.Found[0]
	if f.Lease.Addr != netip.MustParseAddr("10.99.0.100") || f.Lease.State != lease.StateBound ||
		f.Lease.Expiry.Sub(f.Lease.Start) != 24*time.Hour || len(f.Lease.HWAddr) != 6 || f.Lease.ClientID[0] != 1 {
		t.Fatalf("first lease %+v", f.Lease)
	}
	if !strings.HasPrefix(f.Where, "kea-leases4.csv:") {
		t.Fatalf("where %q", f.Where)
	}
	// A day later every lease has expired.
	if l := read(t, "kea-leases4.csv", ReadKeaCSV, leaseNow.Add(48*time.Hour)); len(l.Found) != 0 || len(l.Skipped) != 25 {
		t.Fatalf("after expiry: %d found, %d skipped", len(l.Found), len(l.Skipped))
	}
}

func TestKeaCSV6(t *testing.T) {
	l := read(t, "kea-leases6.csv", ReadKeaCSV, leaseNow)
	var na, pd int
	for _, f := range l.Found {
		switch {
		case f.Lease.PrefixLen == 56 && netip.MustParsePrefix("fd98::/48").Contains(f.Lease.Addr):
			pd++
		case f.Lease.PrefixLen == 0 && netip.MustParsePrefix("fd99::/64").Contains(f.Lease.Addr):
			na++
		default:
			t.Errorf("unexpected %+v", f.Lease)
		}
		if len(f.Lease.ClientID) < 10 || f.Lease.IAID != 1 || !f.Lease.Preferred.After(f.Lease.Start) {
			t.Errorf("lease %+v", f.Lease)
		}
	}
	if na != 25 || pd != 25 {
		t.Fatalf("%d addresses and %d prefixes, want 25 each", na, pd)
	}
}

func TestDhcpdLeases(t *testing.T) {
	l := read(t, "dhcpd.leases", ReadDhcpdLeases, leaseNow)
	if len(l.Found) != 3 {
		t.Fatalf("found %d, want the 3 dhclient leases: %+v", len(l.Found), l.Skipped)
	}
	f := l.Found[1].Lease
	if f.Addr != netip.MustParseAddr("10.99.0.51") || f.Hostname != "client-2" || f.HWAddr[5] != 2 || f.Expiry.Sub(f.Start) != 24*time.Hour {
		t.Fatalf("lease %+v", f)
	}
	// Entries are replaced by later ones; a released one is not imported.
	src := []byte(`lease 10.0.0.5 { starts 5 2026/12/04 12:00:00; ends 6 2026/12/05 12:00:00; binding state active; hardware ethernet 1:2:3:4:5:6; uid "\001\001\002\003\004\005\006"; }
lease 10.0.0.6 { starts 5 2026/12/04 12:00:00; ends 6 2026/12/05 12:00:00; binding state active; hardware ethernet 1:2:3:4:5:7; }
lease 10.0.0.6 { starts 5 2026/12/04 12:00:00; ends 5 2026/12/04 12:30:00; binding state free; hardware ethernet 1:2:3:4:5:7; }
ia-na "x" { cltt 5 2026/12/04 12:00:00; }
`)
	l, err := ReadDhcpdLeases("t.leases", src, leaseNow)
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Found) != 1 || string(l.Found[0].Lease.ClientID) != "\x01\x01\x02\x03\x04\x05\x06" {
		t.Fatalf("found %+v", l.Found)
	}
	if len(l.Skipped) != 2 || !strings.Contains(l.Skipped[0].What, "binding state free") || !strings.Contains(l.Skipped[1].What, "DHCPv6") {
		t.Fatalf("skipped %v", l.Skipped)
	}
}
