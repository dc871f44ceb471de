package config

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/leased/leased/lease"
)

func TestForceRenewConfig(t *testing.T) {
	ok := []struct {
		in   string
		want lease.ForceRenewAuth
		warn bool
	}{
		{"", lease.ForceRenewAuth{Mode: lease.AuthRFC6704}, false},
		{"      forcerenew: {auth: rfc6704}", lease.ForceRenewAuth{Mode: lease.AuthRFC6704}, false},
		{"      forcerenew: {auth: token, token: s3cret}", lease.ForceRenewAuth{Mode: lease.AuthToken, Token: []byte("s3cret")}, false},
		{"      forcerenew: {auth: none, insecure: true}", lease.ForceRenewAuth{Mode: lease.AuthNone}, true},
	}
	for _, tc := range ok {
		c, err := Parse("t.yaml", []byte(doc(tc.in)))
		if err != nil {
			t.Fatalf("%q: %v", tc.in, err)
		}
		if diff := cmp.Diff(tc.want, c.Lease().Pools[0].ForceRenew); diff != "" {
			t.Errorf("%q (-want +got):\n%s", tc.in, diff)
		}
		w := c.Warnings()
		if got := len(w) == 1 && strings.Contains(w[0], "forcerenew.auth is none"); got != tc.warn {
			t.Errorf("%q: warnings %q", tc.in, w)
		}
	}
	bad := []struct{ in, want string }{
		{"      forcerenew: {auth: none}", `t.yaml:6: dhcpv4.pools[0].forcerenew.auth: none sends unauthenticated FORCERENEWs; set insecure: true to allow it, or use rfc6704 or token`},
		{"      forcerenew: {auth: token}", `t.yaml:6: dhcpv4.pools[0].forcerenew.token: required with auth: token: 1 to 244 bytes, the same token configured on the clients (dhcpcd: authtoken)`},
		{"      forcerenew: {auth: token, token: " + strings.Repeat("x", 245) + "}", `t.yaml:6: dhcpv4.pools[0].forcerenew.token: required with auth: token: 1 to 244 bytes, the same token configured on the clients (dhcpcd: authtoken)`},
		{"      forcerenew: {token: abc}", `t.yaml:6: dhcpv4.pools[0].forcerenew.token: a token is only used with auth: token (auth is "rfc6704")`},
		{"      forcerenew: {auth: hmac}", `t.yaml:6: dhcpv4.pools[0].forcerenew.auth: "hmac" is not a FORCERENEW authentication; use rfc6704 (default), token or none`},
	}
	for _, tc := range bad {
		_, err := Parse("t.yaml", []byte(doc(tc.in)))
		if err == nil || err.Error() != tc.want {
			t.Errorf("%q:\n got %v\nwant %s", tc.in, err, tc.want)
		}
	}
}

func TestForceRenewCampaignConfig(t *testing.T) {
	c, err := Parse("t.yaml", []byte(doc("      forcerenew: {attempts: 3, interval: 500ms, pace: 0, on_failure: recycle, force_nak: true, on_change: true}")))
	if err != nil {
		t.Fatal(err)
	}
	fr := c.DHCPv4.Pools[0].ForceRenew
	if fr.Attempts != 3 || fr.Interval.D().String() != "500ms" || fr.Pace == nil || *fr.Pace != 0 ||
		fr.OnFailure != "recycle" || fr.ForceNAK == nil || !*fr.ForceNAK || !fr.OnChange {
		t.Fatalf("parsed %+v", fr)
	}
	for in, field := range map[string]string{
		"{attempts: 21}":        "forcerenew.attempts",
		"{interval: 2h}":        "forcerenew.interval",
		"{pace: -1}":            "forcerenew.pace",
		"{on_failure: destroy}": "forcerenew.on_failure",
	} {
		_, err := Parse("t.yaml", []byte(doc("      forcerenew: "+in)))
		if err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("%s: %v, want an error naming %s", in, err, field)
		}
	}
}
