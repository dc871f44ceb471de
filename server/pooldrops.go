package server

import (
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/leased/leased/lease"
)

// poolDropReasons are the engine's DHCPv4 drops that concern a pool
// (lease.Decision.DropPool is set): the label values of
// leased_pool_drops_total.
var poolDropReasons = []string{lease.DropPoolExhausted, lease.DropClassDenied, lease.DropNotReconfigurable, lease.DropBOOTPNotAllowed}

// poolDrops counts DHCPv4 requests dropped because of a pool, by pool and
// reason: leased_pool_drops_total{family="dhcpv4",pool,reason}. Every
// configured pool reports every reason (0 until it happens); a pool
// removed by a reload stops being reported.
type poolDrops struct {
	pools  func() []lease.PoolStats
	counts sync.Map // poolDropKey -> *atomic.Uint64
}

type poolDropKey struct{ pool, reason string }

var descPoolDrops = prometheus.NewDesc("leased_pool_drops_total",
	"DHCPv4 requests not answered because of their pool, by pool and reason (pool_exhausted, class_denied, not_reconfigurable, bootp_not_allowed).",
	[]string{"pool", "reason"}, prometheus.Labels{"family": "dhcpv4"})

func (d *poolDrops) inc(pool, reason string) {
	if pool == "" {
		return
	}
	k := poolDropKey{pool, reason}
	c, ok := d.counts.Load(k)
	if !ok {
		c, _ = d.counts.LoadOrStore(k, new(atomic.Uint64))
	}
	c.(*atomic.Uint64).Add(1)
}

func (d *poolDrops) Describe(ch chan<- *prometheus.Desc) { ch <- descPoolDrops }

func (d *poolDrops) Collect(ch chan<- prometheus.Metric) {
	for _, p := range d.pools() {
		if !p.Subnet.Addr().Is4() && p.Subnet != (netip.Prefix{}) {
			continue
		}
		for _, r := range poolDropReasons {
			var n uint64
			if c, ok := d.counts.Load(poolDropKey{p.Name, r}); ok {
				n = c.(*atomic.Uint64).Load()
			}
			ch <- prometheus.MustNewConstMetric(descPoolDrops, prometheus.CounterValue, float64(n), p.Name, r)
		}
	}
}
