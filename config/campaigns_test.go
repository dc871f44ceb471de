package config

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/leased/leased/reconf"
)

// TestCampaignGlobalDefaults: dhcpv4.forcerenew and dhcpv6.reconfigure
// parse into the engine's overrides (unset fields nil, so a pool or a
// command decides), and campaigns has its defaults.
func TestCampaignGlobalDefaults(t *testing.T) {
	c, err := Parse("t.yaml", []byte(doc6(
		"  reconfigure: {attempts: 5, interval: 3s, on_failure: recycle, force: true, message: rebind}",
		"campaigns: {retention: 72h, keep: 20}",
	)))
	if err != nil {
		t.Fatal(err)
	}
	recycle, rebind := reconf.Recycle, reconf.ReconfRebind
	want6 := reconf.Override{Attempts: new(5), Interval: new(3 * time.Second), OnFailure: &recycle, ForceNAK: new(true), ReconfMsg: &rebind}
	if diff := cmp.Diff(want6, c.DHCPv6.Reconfigure.Override()); diff != "" {
		t.Errorf("dhcpv6.reconfigure (-want +got):\n%s", diff)
	}
	if c.Campaigns.Retention.D() != 72*time.Hour || c.Campaigns.Keep != 20 {
		t.Errorf("campaigns %+v", c.Campaigns)
	}
	if ov := c.DHCPv4.ForceRenew.Override(); ov != (reconf.Override{}) {
		t.Errorf("dhcpv4.forcerenew unset: %+v, want all nil", ov)
	}

	v4 := strings.Replace(doc(), "dhcpv4:\n", "dhcpv4:\n  forcerenew: {attempts: 2, pace: 0, force_nak: false}\n", 1)
	c, err = Parse("t.yaml", []byte(v4))
	if err != nil {
		t.Fatal(err)
	}
	want4 := reconf.Override{Attempts: new(2), Pace: new(0), ForceNAK: new(false)}
	if diff := cmp.Diff(want4, c.DHCPv4.ForceRenew.Override()); diff != "" {
		t.Errorf("dhcpv4.forcerenew (-want +got):\n%s", diff)
	}
	if c.Campaigns.Retention != DefaultCampaignRetention || c.Campaigns.Keep != DefaultCampaignKeep {
		t.Errorf("campaigns defaults %+v, want 168h and 100", c.Campaigns)
	}

	for _, tc := range []struct{ in, want string }{
		{"campaigns: {retention: 10s}", "campaigns.retention: 10s: want a duration of at least 1m"},
		{"campaigns: {keep: 0}", "campaigns.keep: 0: want 1 to 100000"},
		{"  reconfigure: {attempts: 21}", "dhcpv6.reconfigure.attempts: 21: want 1 to 20"},
		{"  reconfigure: {interval: 2h}", "dhcpv6.reconfigure.interval: 2h0m0s: want 1ms to 1h"},
		{"  reconfigure: {message: discover}", `dhcpv6.reconfigure.message: "discover"`},
		{"  reconfigure: {on_failure: explode}", `dhcpv6.reconfigure.on_failure: "explode"`},
	} {
		_, err := Parse("t.yaml", []byte(doc6(tc.in)))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.in, err, tc.want)
		}
	}
	bad4 := strings.Replace(doc(), "dhcpv4:\n", "dhcpv4:\n  forcerenew: {pace: -1, on_failure: x}\n", 1)
	if _, err := Parse("t.yaml", []byte(bad4)); err == nil || !strings.Contains(err.Error(), "t.yaml:2: dhcpv4.forcerenew.pace: -1") ||
		!strings.Contains(err.Error(), "dhcpv4.forcerenew.on_failure") {
		t.Errorf("bad dhcpv4.forcerenew: %v", err)
	}
}
