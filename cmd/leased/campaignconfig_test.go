package main

import (
	"testing"
	"time"

	"github.com/leased/leased/config"
)

// TestCampaignConfigGlobal: the global campaign defaults, the retention
// and each pool's family reach the server's campaign configuration.
func TestCampaignConfigGlobal(t *testing.T) {
	cfg, err := config.Parse("t.yaml", []byte(`
dhcpv4:
  interfaces: [eth0]
  forcerenew: {attempts: 4, pace: 20}
  pools:
    - {name: a, subnet: 10.0.0.0/24, forcerenew: {attempts: 2}}
dhcpv6:
  interfaces: [eth0]
  reconfigure: {interval: 5s}
  pools:
    - {name: b, subnet: "fd77::/64"}
campaigns: {retention: 1h, keep: 7}
`))
	if err != nil {
		t.Fatal(err)
	}
	cc := campaignConfig(cfg)
	if d := cc.Defaults4; d.Attempts == nil || *d.Attempts != 4 || d.Pace == nil || *d.Pace != 20 || d.Interval != nil {
		t.Errorf("Defaults4 %+v", d)
	}
	if d := cc.Defaults6; d.Interval == nil || *d.Interval != 5*time.Second || d.Attempts != nil {
		t.Errorf("Defaults6 %+v", d)
	}
	if a, b := cc.Pools["a"], cc.Pools["b"]; a.V6 || !b.V6 || a.Override.Attempts == nil || *a.Override.Attempts != 2 {
		t.Errorf("pools %+v", cc.Pools)
	}
	if cc.Retention != time.Hour || cc.Keep != 7 {
		t.Errorf("retention %v keep %d", cc.Retention, cc.Keep)
	}
}
