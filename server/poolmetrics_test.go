package server

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/leased/leased/lease"
	"github.com/leased/leased/lease6"
)

// TestPoolCollector: every pool reports its size and its leases by state
// (free = size minus the others), with the family and the kind as labels:
// a DHCPv6 pool's delegated prefixes ("lan6/pd" in the engine) are
// pool="lan6",kind="prefixes".
func TestPoolCollector(t *testing.T) {
	pools := []lease.PoolStats{
		{Name: "lan", Subnet: netip.MustParsePrefix("10.0.0.0/24"), Size: 100, Bound: 90, Declined: 2, Offered: 3, Reserved: 4},
		{Name: "lan6", Subnet: netip.MustParsePrefix("fd00::/64"), Size: 1000, Bound: 10},
		{Name: "lan6/pd", Subnet: netip.MustParsePrefix("fd01::/48"), Size: 256, Bound: 240, Offered: 10, Reserved: 1},
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(&poolCollector{pools: func() []lease.PoolStats { return pools }})
	want := `
# HELP leased_pool_leases Addresses or prefixes of a pool by state: free, offered (not yet requested), bound, declined (declined or quarantined), reserved (set aside for a client that holds none now).
# TYPE leased_pool_leases gauge
leased_pool_leases{family="dhcpv4",kind="addresses",pool="lan",state="bound"} 90
leased_pool_leases{family="dhcpv4",kind="addresses",pool="lan",state="declined"} 2
leased_pool_leases{family="dhcpv4",kind="addresses",pool="lan",state="free"} 1
leased_pool_leases{family="dhcpv4",kind="addresses",pool="lan",state="offered"} 3
leased_pool_leases{family="dhcpv4",kind="addresses",pool="lan",state="reserved"} 4
leased_pool_leases{family="dhcpv6",kind="addresses",pool="lan6",state="bound"} 10
leased_pool_leases{family="dhcpv6",kind="addresses",pool="lan6",state="declined"} 0
leased_pool_leases{family="dhcpv6",kind="addresses",pool="lan6",state="free"} 990
leased_pool_leases{family="dhcpv6",kind="addresses",pool="lan6",state="offered"} 0
leased_pool_leases{family="dhcpv6",kind="addresses",pool="lan6",state="reserved"} 0
leased_pool_leases{family="dhcpv6",kind="prefixes",pool="lan6",state="bound"} 240
leased_pool_leases{family="dhcpv6",kind="prefixes",pool="lan6",state="declined"} 0
leased_pool_leases{family="dhcpv6",kind="prefixes",pool="lan6",state="free"} 5
leased_pool_leases{family="dhcpv6",kind="prefixes",pool="lan6",state="offered"} 10
leased_pool_leases{family="dhcpv6",kind="prefixes",pool="lan6",state="reserved"} 1
# HELP leased_pool_size Assignable addresses (kind=addresses) or delegable prefixes (kind=prefixes) of a pool.
# TYPE leased_pool_size gauge
leased_pool_size{family="dhcpv4",kind="addresses",pool="lan"} 100
leased_pool_size{family="dhcpv6",kind="addresses",pool="lan6"} 1000
leased_pool_size{family="dhcpv6",kind="prefixes",pool="lan6"} 256
`
	if got := gatherText(t, reg); got != strings.TrimSpace(want) {
		t.Errorf("got\n%s\nwant\n%s", got, strings.TrimSpace(want))
	}
}

// gatherText renders reg's gauges and counters in the text format (HELP,
// TYPE and samples with labels sorted).
func gatherText(t *testing.T, reg *prometheus.Registry) string {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, mf := range mfs {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", mf.GetName(), mf.GetHelp(), mf.GetName(), strings.ToLower(mf.GetType().String()))
		for _, m := range mf.GetMetric() {
			var ls []string
			for _, lp := range m.GetLabel() {
				ls = append(ls, fmt.Sprintf("%s=%q", lp.GetName(), lp.GetValue()))
			}
			v := m.GetGauge().GetValue() + m.GetCounter().GetValue()
			fmt.Fprintf(&b, "%s{%s} %v\n", mf.GetName(), strings.Join(ls, ","), v)
		}
	}
	return strings.TrimSpace(b.String())
}

// TestLabelsInitialised: the label values that can occur are there from
// the first scrape, at 0 — engine drop reasons, delivery paths, NAK
// reasons, compaction results — for each family.
func TestLabelsInitialised(t *testing.T) {
	reg := prometheus.NewRegistry()
	newMetrics(reg, func() []lease.PoolStats { return nil })
	newMetrics6(reg)
	text := gatherText(t, reg)
	for _, want := range []string{
		`leased_packets_dropped_total{family="dhcpv4",reason="engine_pool_exhausted"} 0`,
		`leased_packets_dropped_total{family="dhcpv4",reason="engine_class_denied"} 0`,
		`leased_packets_dropped_total{family="dhcpv4",reason="overload"} 0`,
		`leased_packets_dropped_total{family="dhcpv6",reason="engine_no_pool"} 0`,
		`leased_packets_dropped_total{family="dhcpv6",reason="not_ours"} 0`,
		`leased_replies_sent_by_path_total{family="dhcpv4",path="hardware"} 0`,
		`leased_replies_sent_by_path_total{family="dhcpv4",path="nak_unicast_copy"} 0`,
		`leased_replies_sent_by_path_total{family="dhcpv6",path="direct"} 0`,
		`leased_naks_total{family="dhcpv4",reason="no_binding"} 0`,
		`leased_store_compactions_total{result="error"} 0`,
		`leased_reconfigure_failed_total{family="dhcpv6",reason="not_capable"} 0`,
	} {
		if !strings.Contains(text, want+"\n") && !strings.HasSuffix(text, want) {
			t.Errorf("missing %s", want)
		}
	}
	// None that cannot occur: DHCPv6 validation drops are counted under
	// their own labels (validationDrop6), never as engine_*.
	for _, r := range []string{lease6.DropUnknownType, lease6.DropNoClient, lease6.DropNoServerID,
		lease6.DropServerIDSent, lease6.DropOtherServer, lease6.DropUnicast} {
		if strings.Contains(text, `family="dhcpv6",reason="engine_`+r+`"`) {
			t.Errorf("DHCPv6 validation drop %s initialised as engine_%s", r, r)
		}
	}
}
