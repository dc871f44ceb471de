package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const radiusBase = `
data_dir: /tmp/x
dhcpv4:
  interfaces: [eth0]
  pools:
    - name: office
      subnet: 10.77.1.0/24
      sections: [{index: 0, start: 10.77.1.10, end: 10.77.1.50}]
`

func TestRadiusDefaults(t *testing.T) {
	c, err := Parse("t.yaml", []byte(radiusBase+`
radius:
  clients:
    - {name: bng1, address: 192.0.2.10, secret: testing123}
    - {name: aaa, address: "2001:db8::/64", secret: other}
`))
	if err != nil {
		t.Fatal(err)
	}
	r := c.Radius
	if r.Listen != ":3799" || r.Disconnect != "delete" || r.EventTimestampWindow.D() != 300*time.Second || !r.EventTimestampRequired() {
		t.Errorf("defaults: %+v", r)
	}
	if p := r.Clients[0].Prefix(); p.String() != "192.0.2.10/32" {
		t.Errorf("prefix %v", p)
	}
	if p := r.Clients[1].Prefix(); p.String() != "2001:db8::/64" {
		t.Errorf("prefix %v", p)
	}
	if c2, _ := Parse("t.yaml", []byte(radiusBase)); c2.Radius != nil {
		t.Error("radius on without the section")
	}
}

func TestRadiusErrors(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, []byte("\n"), 0o600)
	_, err := Parse("t.yaml", []byte(radiusBase+`
radius:
  listen: nowhere
  disconnect: drop
  event_timestamp_window: 0s
  clients:
    - {name: a, address: 192.0.2.300, secret: x}
    - {name: a, address: 192.0.2.1}
    - {name: b, address: 192.0.2.2, secret_file: `+empty+`}
`))
	if err == nil {
		t.Fatal("accepted")
	}
	msg := err.Error()
	for _, want := range []string{
		"t.yaml:11: radius.listen",
		"t.yaml:12: radius.disconnect",
		"t.yaml:13: radius.event_timestamp_window",
		"t.yaml:15: radius.clients[0].address",
		"t.yaml:16: radius.clients[1].name",
		"t.yaml:16: radius.clients[1].secret: exactly one",
		"t.yaml:17: radius.clients[2].secret_file",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("missing %q in\n%s", want, msg)
		}
	}
	if _, err := Parse("t.yaml", []byte(radiusBase+"radius:\n  clients: []\n  secrets: x\n")); err == nil || !strings.Contains(err.Error(), "secrets") {
		t.Errorf("unknown key: %v", err)
	}
}
