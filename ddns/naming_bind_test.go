package ddns

import (
	"io"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"context"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
)

// TestBINDNaming: against BIND 9, qualify_suffix puts names in a domain
// under the forward zone (updates still go to the forward zone) and
// replace_client_name when-not-present keeps a client's own name but
// generates one from the address for a client without a name; both go
// away with their bindings.
func TestBINDNaming(t *testing.T) {
	n := startNamed(t)
	u, err := New(Config{Server: n.Addr, Forward: "lan.test", QualifySuffix: "dyn.lan.test", ReplaceClientName: "when-not-present",
		GeneratedPrefix: "dhcp", Reverse4: "77.10.in-addr.arpa", KeyName: n.KeyName, Algorithm: "hmac-sha256", Secret: n.Secret,
		Retry: 100 * time.Millisecond, Attempts: 2, Timeout: time.Second},
		slog.New(slog.NewTextHandler(io.Discard, nil)), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { u.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	named := Client{HType: 1, HWAddr: []byte{2, 0, 0, 0, 0, 0x21}}
	anon := Client{HType: 1, HWAddr: []byte{2, 0, 0, 0, 0, 0x22}}
	a1, a2 := netip.MustParseAddr("10.77.2.1"), netip.MustParseAddr("10.77.2.2")
	u.Enqueue(Event{Bound: true, Addr: a1, Hostname: "Delta", Client: named})
	u.Enqueue(Event{Bound: true, Addr: a2, Client: anon})
	waitRecords(t, n, "delta.dyn.lan.test", dns.TypeA, "delta.dyn.lan.test. 0 IN A 10.77.2.1")
	waitRecords(t, n, "dhcp-10-77-2-2.dyn.lan.test", dns.TypeA, "dhcp-10-77-2-2.dyn.lan.test. 0 IN A 10.77.2.2")
	waitRecords(t, n, "2.2.77.10.in-addr.arpa", dns.TypePTR, "2.2.77.10.in-addr.arpa. 0 IN PTR dhcp-10-77-2-2.dyn.lan.test.")
	waitRecords(t, n, "delta.lan.test", dns.TypeA) // not in the zone's own level

	// The ends of the bindings (as after a restart: the records carry no
	// generated name, the updater derives it again from the address).
	u.Enqueue(Event{Addr: a1, Hostname: "Delta", Client: named})
	u.Enqueue(Event{Addr: a2, Client: anon})
	waitRecords(t, n, "delta.dyn.lan.test", dns.TypeA)
	waitRecords(t, n, "dhcp-10-77-2-2.dyn.lan.test", dns.TypeA)
	waitRecords(t, n, "dhcp-10-77-2-2.dyn.lan.test", dns.TypeDHCID)
	waitRecords(t, n, "2.2.77.10.in-addr.arpa", dns.TypePTR)

	// A suffix outside the forward zone is refused.
	if _, err := New(Config{Server: n.Addr, Forward: "lan.test", QualifySuffix: "other.test"}, slog.New(slog.NewTextHandler(io.Discard, nil)), nil); err == nil {
		t.Error("suffix outside the forward zone accepted")
	}
}
