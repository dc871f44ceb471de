package ddns

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/leased/leased/internal/namedtest"
)

// startNamed runs BIND 9 on 127.0.0.1 with lan.test (holding a static
// "printer" name without DHCID) and the reverse zone of 10.77/16.
func startNamed(t *testing.T) *namedtest.Named {
	t.Helper()
	namedtest.Require(t)
	n := namedtest.Start(t, nil, "127.0.0.1", namedtest.FreePort(t), map[string]string{
		"lan.test.":           namedtest.Zone("lan.test.", "printer IN A 10.77.0.9"),
		"77.10.in-addr.arpa.": namedtest.Zone("77.10.in-addr.arpa."),
	})
	n.Ready(t, func() error { _, err := namedtest.Lookup(n.Addr, "lan.test.", dns.TypeSOA); return err })
	return n
}

func newUpdater(t *testing.T, n *namedtest.Named, secret string) (*Updater, context.CancelFunc) {
	t.Helper()
	u, err := New(Config{Server: n.Addr, Forward: "lan.test", Reverse4: "77.10.in-addr.arpa", KeyName: n.KeyName,
		Algorithm: "hmac-sha256", Secret: secret, Retry: 100 * time.Millisecond, Attempts: 2, Timeout: time.Second},
		slog.New(slog.NewTextHandler(io.Discard, nil)), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { u.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return u, cancel
}

func waitRecords(t *testing.T, n *namedtest.Named, name string, qtype uint16, want ...string) {
	t.Helper()
	var got []string
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		var err error
		got, err = namedtest.Lookup(n.Addr, name, qtype)
		if err == nil && slices.Equal(got, want) {
			return
		}
	}
	t.Fatalf("%s %s: %q, want %q", name, dns.TypeToString[qtype], got, want)
}

// TestBIND: against BIND 9, names appear with a binding and disappear
// with its end; a renewal changes nothing; another client asking for a
// name that is taken (by a leased client, or statically) leaves it alone;
// a wrong TSIG secret changes nothing.
func TestBIND(t *testing.T) {
	n := startNamed(t)
	u, _ := newUpdater(t, n, n.Secret)
	a := Client{HType: 1, HWAddr: []byte{2, 0, 0, 0, 0, 0xa}}
	b := Client{ClientID: []byte{1, 2, 0, 0, 0, 0, 0xb}}
	addrA, addrB := netip.MustParseAddr("10.77.1.10"), netip.MustParseAddr("10.77.1.11")
	dhcidA, _ := DHCID(&a, "alpha.lan.test.")

	u.Enqueue(Event{Bound: true, Addr: addrA, Hostname: "Alpha", Client: a})
	waitRecords(t, n, "alpha.lan.test", dns.TypeA, "alpha.lan.test. 0 IN A 10.77.1.10")
	waitRecords(t, n, "alpha.lan.test", dns.TypeDHCID, "alpha.lan.test. 0 IN DHCID "+dhcidA)
	waitRecords(t, n, "10.1.77.10.in-addr.arpa", dns.TypePTR, "10.1.77.10.in-addr.arpa. 0 IN PTR alpha.lan.test.")

	// Another client wants alpha, and the static printer name: refused.
	u.Enqueue(Event{Bound: true, Addr: addrB, Hostname: "alpha", Client: b})
	u.Enqueue(Event{Bound: true, Addr: addrB, Hostname: "printer", Client: b})
	u.Enqueue(Event{Bound: true, Addr: addrA, Hostname: "alpha", Client: a}) // a renewal: not even queued
	waitCount(t, u, "conflict", 2)
	if n := counter(u, "added") + counter(u, "replaced") + counter(u, "skipped"); n != 1 {
		t.Errorf("added+replaced+skipped = %v after a renewal, want 1 (the first add)", n)
	}
	waitRecords(t, n, "alpha.lan.test", dns.TypeA, "alpha.lan.test. 0 IN A 10.77.1.10")
	waitRecords(t, n, "printer.lan.test", dns.TypeA, "printer.lan.test. 0 IN A 10.77.0.9")
	waitRecords(t, n, "11.1.77.10.in-addr.arpa", dns.TypePTR)

	// B's binding ends: it had no name, nothing happens to alpha.
	u.Enqueue(Event{Bound: false, Addr: addrB, Hostname: "alpha", Client: b})
	// A moves to another address (same client, same name): replaced.
	u.Enqueue(Event{Bound: false, Addr: addrA, Hostname: "alpha", Client: a})
	waitRecords(t, n, "alpha.lan.test", dns.TypeA)
	waitRecords(t, n, "alpha.lan.test", dns.TypeDHCID)
	waitRecords(t, n, "10.1.77.10.in-addr.arpa", dns.TypePTR)
	waitRecords(t, n, "printer.lan.test", dns.TypeA, "printer.lan.test. 0 IN A 10.77.0.9")

	// Now B may have alpha.
	u.Enqueue(Event{Bound: true, Addr: addrB, Hostname: "alpha", Client: b})
	waitRecords(t, n, "alpha.lan.test", dns.TypeA, "alpha.lan.test. 0 IN A 10.77.1.11")

	// A wrong TSIG secret: retried, then given up; DNS unchanged.
	bad, _ := newUpdater(t, n, "c2VjcmV0LXRoYXQtaXMtd3Jvbmc=")
	bad.Enqueue(Event{Bound: true, Addr: addrA, Hostname: "gamma", Client: a})
	waitCount(t, bad, "failed", 1)
	waitRecords(t, n, "gamma.lan.test", dns.TypeA)
}

func waitCount(t *testing.T, u *Updater, result string, want float64) {
	t.Helper()
	var got float64
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if got = counter(u, result); got == want {
			return
		}
	}
	t.Fatalf("%s: %v, want %v", result, got, want)
}

// TestBIND6: a DHCPv6 binding gets AAAA, a DHCID of its DUID and an
// ip6.arpa PTR; its end removes them.
func TestBIND6(t *testing.T) {
	namedtest.Require(t)
	n := namedtest.Start(t, nil, "127.0.0.1", namedtest.FreePort(t), map[string]string{
		"lan.test.":                         namedtest.Zone("lan.test."),
		"0.0.0.0.0.0.0.0.7.7.d.f.ip6.arpa.": namedtest.Zone("0.0.0.0.0.0.0.0.7.7.d.f.ip6.arpa."),
	})
	n.Ready(t, func() error { _, err := namedtest.Lookup(n.Addr, "lan.test.", dns.TypeSOA); return err })
	u, err := New(Config{Server: n.Addr, Forward: "lan.test", Reverse6: "0.0.0.0.0.0.0.0.7.7.d.f.ip6.arpa", KeyName: n.KeyName,
		Algorithm: "hmac-sha256", Secret: n.Secret, Retry: 100 * time.Millisecond, Attempts: 2, Timeout: time.Second},
		slog.New(slog.NewTextHandler(io.Discard, nil)), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { u.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	c := Client{V6: true, ClientID: []byte{0, 3, 0, 1, 2, 0, 0, 0, 0, 0x66}}
	addr := netip.MustParseAddr("fd77::1:10")
	dhcid, _ := DHCID(&c, "six.lan.test.")
	rev := ReverseName(addr)
	u.Enqueue(Event{Bound: true, Addr: addr, Hostname: "six.example.net", Client: c})
	waitRecords(t, n, "six.lan.test", dns.TypeAAAA, "six.lan.test. 0 IN AAAA fd77::1:10")
	waitRecords(t, n, "six.lan.test", dns.TypeDHCID, "six.lan.test. 0 IN DHCID "+dhcid)
	waitRecords(t, n, rev, dns.TypePTR, rev+" 0 IN PTR six.lan.test.")
	if dhcid[:4] != "AAIB" { // identifier type 2 (DUID), digest type 1
		t.Errorf("DHCID %s does not start with type 2, digest 1", dhcid)
	}
	u.Enqueue(Event{Bound: false, Addr: addr, Hostname: "six.example.net", Client: c})
	waitRecords(t, n, "six.lan.test", dns.TypeAAAA)
	waitRecords(t, n, "six.lan.test", dns.TypeDHCID)
	waitRecords(t, n, rev, dns.TypePTR)
}
