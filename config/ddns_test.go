package config

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestDDNSConfig(t *testing.T) {
	c, err := Parse("t.yaml", []byte(radiusBase+`ddns:
  server: 127.0.0.1:53
  forward_zone: lan.test
  reverse_zone_v4: 77.10.in-addr.arpa
  tsig: {name: leased-ddns, secret: c2VjcmV0}
`))
	if err != nil {
		t.Fatal(err)
	}
	d := c.DDNS
	if d.TSIG.Algorithm != "hmac-sha256" || d.TTL.D() != 300*time.Second || d.Queue != 4096 || d.Attempts != 5 || d.RetryInterval.D() != 2*time.Second {
		t.Errorf("defaults %+v", d)
	}
	_, err = Parse("t.yaml", []byte(radiusBase+`ddns:
  server: nowhere
  reverse_zone_v4: lan.test
  tsig: {name: k, algorithm: md5, secret: "not base64!"}
  attempts: 0
`))
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{"ddns.server", "ddns.forward_zone: required", "ddns.reverse_zone_v4", "ddns.tsig.algorithm", "ddns.tsig.secret: not base64", "ddns.attempts"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in\n%v", want, err)
		}
	}
}

// TestDDNSNaming: qualify_suffix, replace_client_name and generated_prefix
// default to forward_zone, never and myhost; bad values are errors naming
// file, line and field.
func TestDDNSNaming(t *testing.T) {
	c, err := Parse("t.yaml", []byte(radiusBase+`ddns:
  server: 127.0.0.1:53
  forward_zone: lan.test
`))
	if err != nil {
		t.Fatal(err)
	}
	if d := c.DDNS; d.QualifySuffix != "lan.test" || d.ReplaceClientName != "never" || d.GeneratedPrefix != "myhost" {
		t.Errorf("defaults: suffix %q replace %q prefix %q", d.QualifySuffix, d.ReplaceClientName, d.GeneratedPrefix)
	}
	c, err = Parse("t.yaml", []byte(radiusBase+`ddns:
  server: 127.0.0.1:53
  forward_zone: lan.test
  qualify_suffix: dyn.LAN.test.
  replace_client_name: when-not-present
  generated_prefix: dhcp-host
`))
	if err != nil {
		t.Fatal(err)
	}
	if d := c.DDNS; d.QualifySuffix != "dyn.LAN.test." || d.ReplaceClientName != "when-not-present" || d.GeneratedPrefix != "dhcp-host" {
		t.Errorf("set: %+v", d)
	}
	base := radiusBase + "ddns:\n  server: 127.0.0.1:53\n  forward_zone: lan.test\n"
	line := strings.Count(base, "\n") + 1
	for _, tt := range []struct{ yaml, want string }{
		{"  qualify_suffix: other.test\n", "ddns.qualify_suffix: \"other.test\" is not in forward_zone"},
		{"  qualify_suffix: \"a..b\"\n", "ddns.qualify_suffix: \"a..b\" is not a domain name"},
		{"  replace_client_name: sometimes\n", "ddns.replace_client_name: \"sometimes\": want never, always"},
		{"  generated_prefix: -x\n", "ddns.generated_prefix: \"-x\""},
		{"  generated_prefix: host_1\n", "ddns.generated_prefix: \"host_1\""},
		{"  generated_prefix: \"\"\n", "ddns.generated_prefix: \"\""},
		{"  generated_prefix: abcdefghijklmnopqrstuvwx\n", "at most 23 octets"},
	} {
		_, err := Parse("t.yaml", []byte(base+tt.yaml))
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), fmt.Sprintf("t.yaml:%d", line)) {
			t.Errorf("%s: err = %v, want t.yaml:%d and %q", strings.TrimSpace(tt.yaml), err, line, tt.want)
		}
	}
}
