package config

import (
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
