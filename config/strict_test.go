package config

import (
	"testing"
)

// TestStrictConfig (issue #10 item 5): forcerenew.strict and
// reconfigure.strict reach the engines (default false), and wrong values
// or contradicting settings are errors naming file, line and key.
func TestStrictConfig(t *testing.T) {
	for _, tt := range []struct {
		in     string
		v4, v6 bool
	}{
		{doc6(), false, false},
		{doc6("      reconfigure: {strict: true}"), false, true},
		{doc("      forcerenew: {strict: true}"), true, false},
		{doc("      forcerenew: {auth: token, token: t, strict: true}"), true, false},
	} {
		c, err := Parse("t.yaml", []byte(tt.in))
		if err != nil {
			t.Fatalf("%s: %v", tt.in, err)
		}
		if got := c.Lease().Pools[0].ForceRenew.Strict; got != tt.v4 {
			t.Errorf("%s: v4 strict %v, want %v", tt.in, got, tt.v4)
		}
		if c.HasDHCPv6() {
			if got := c.Lease6().Pools[0].Reconfigure.Strict; got != tt.v6 {
				t.Errorf("%s: v6 strict %v, want %v", tt.in, got, tt.v6)
			}
		}
	}
	for _, tt := range []struct{ in, want string }{
		{doc("      forcerenew: {strict: maybe}"), `t.yaml:6: dhcpv4.pools[0].forcerenew.strict: expected true or false, got "maybe"`},
		{doc("      forcerenew: {auth: none, insecure: true, strict: true}"), `t.yaml:6: dhcpv4.pools[0].forcerenew.strict: needs a way to tell which clients can be reconfigured: auth rfc6704 (option 145) or token`},
		{doc6("      reconfigure: {strict: 1}"), `t.yaml:11: dhcpv6.pools[0].reconfigure.strict: expected true or false, got number 1`},
		{doc6("      reconfigure: {strict: true, disabled: true}"), `t.yaml:11: dhcpv6.pools[0].reconfigure.strict: refuses clients without Reconfigure Accept, which contradicts disabled: true or require_reconfigure_accept: false`},
		{doc6("      reconfigure: {strict: true, require_reconfigure_accept: false}"), `t.yaml:11: dhcpv6.pools[0].reconfigure.strict: refuses clients without Reconfigure Accept, which contradicts disabled: true or require_reconfigure_accept: false`},
	} {
		_, err := Parse("t.yaml", []byte(tt.in))
		if err == nil || err.Error() != tt.want {
			t.Errorf("%s:\n got %v\nwant %s", tt.in, err, tt.want)
		}
	}
}
