package config

import (
	"strings"
	"testing"
)

func TestMetricsTokenFile(t *testing.T) {
	const pools = "dhcpv4: {interfaces: [eth0], pools: [{name: a, subnet: 10.0.0.0/24}]}"
	c, err := Parse("m.yaml", []byte(lines(
		`control: {http: "127.0.0.1:8067", token_file: /etc/leased/token, metrics_token_file: /etc/leased/scrape-token}`, pools)))
	if err != nil {
		t.Fatal(err)
	}
	if c.Control.MetricsTokenFile != "/etc/leased/scrape-token" {
		t.Errorf("MetricsTokenFile %q", c.Control.MetricsTokenFile)
	}
	for _, tc := range []struct{ control, want string }{
		{`control: {http: "127.0.0.1:8067", token_file: /t, metrics_token_file: /t}`,
			"m.yaml:1: control.metrics_token_file: is the admin token_file"},
		{`control: {metrics_token_file: /s}`,
			"m.yaml:1: control.metrics_token_file: only used with control.http"},
	} {
		_, err := Parse("m.yaml", []byte(lines(tc.control, pools)))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.control, err, tc.want)
		}
	}
}
