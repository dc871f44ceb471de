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
	if len(l.Skipped) != 2 || !strings.Contains(l.Skipped[0].What, "binding state free") || !strings.Contains(l.Skipped[1].What, "not an IA entry") {
		t.Fatalf("skipped %v", l.Skipped)
	}
}

// dhcpd6.leases was written by dhcpd 4.4.3 -6 answering three dhclient -6
// -N -P (IA_NA and IA_PD, DUID-LL of 52:54:00:99:06:0N, IAID the MAC's
// last 4 bytes); the third released both afterwards.
func TestDhcpd6Leases(t *testing.T) {
	now := time.Date(2026, 12, 4, 14, 0, 0, 0, time.UTC)
	l := read(t, "dhcpd6.leases", ReadDhcpdLeases, now)
	if len(l.Found) != 4 {
		t.Fatalf("found %d, want 2 addresses and 2 prefixes: %+v %v", len(l.Found), l.Found, l.Skipped)
	}
	want := []struct {
		pfx  string
		plen uint8
		n    byte
	}{{"fd99::56/128", 0, 1}, {"fd98:0:0:ff00::/56", 56, 1}, {"fd99::59/128", 0, 2}, {"fd98:0:0:fe00::/56", 56, 2}}
	got := map[string]lease.Lease{}
	for _, f := range l.Found {
		p := netip.PrefixFrom(f.Lease.Addr, 128)
		if f.Lease.PrefixLen > 0 {
			p = f.Lease.Prefix()
		}
		got[p.String()] = f.Lease
		if !strings.HasPrefix(f.Where, "dhcpd6.leases:") {
			t.Errorf("where %q", f.Where)
		}
	}
	for _, w := range want {
		f, ok := got[w.pfx]
		duid := []byte{0, 3, 0, 1, 0x52, 0x54, 0, 0x99, 6, w.n}
		if !ok || f.PrefixLen != w.plen || string(f.ClientID) != string(duid) || f.IAID != 0x00990600|uint32(w.n) ||
			f.Expiry.Sub(f.Start) != 24*time.Hour || f.Preferred.Sub(f.Start) != 3000*time.Second || !f.Addr.Is6() || f.State != lease.StateBound {
			t.Errorf("%s: %+v (found %v)", w.pfx, f, ok)
		}
	}
	if len(l.Skipped) != 2 || !strings.Contains(l.Skipped[0].What, "address fd99::5e: binding state released") ||
		!strings.Contains(l.Skipped[1].What, "prefix fd98:0:0:fd00::/56: binding state released") {
		t.Errorf("skipped %v", l.Skipped)
	}
	// Two days later every lease has ended.
	if l := read(t, "dhcpd6.leases", ReadDhcpdLeases, now.Add(48*time.Hour)); len(l.Found) != 0 || len(l.Skipped) != 6 {
		t.Errorf("after the end: %d found, %d skipped", len(l.Found), len(l.Skipped))
	}
	// A big-endian file, and malformed entries.
	src := []byte(`authoring-byte-order big-endian;
ia-na "\000\000\000\007\000\003\000\001RT\000\000\000\001" { cltt 5 2026/12/04 12:00:00;
  iaaddr fd99::7 { binding state active; preferred-life 100; max-life 200; ends 5 2026/12/04 14:03:20; } }
ia-pd "\000\000\000\007\000\003\000\001RT\000\000\000\001" { cltt 5 2026/12/04 12:00:00;
  iaaddr fd99::8 { binding state active; } }
ia-ta "\000\000\000\007\000\003\000\001RT\000\000\000\001" { }
`)
	l, err := ReadDhcpdLeases("t.leases", src, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Found) != 1 || l.Found[0].Lease.IAID != 7 || l.Found[0].Lease.Preferred.Sub(l.Found[0].Lease.Start) != 100*time.Second {
		t.Fatalf("found %+v", l.Found)
	}
	if len(l.Skipped) != 3 {
		t.Fatalf("skipped %v", l.Skipped)
	}
}
