package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/leased/leased/internal/netns"
)

// TestRelay4CircuitIDReservation (issue #13): dhcpcd ↔ ISC dhcrelay -4 -a
// ↔ leased. dhcrelay adds option 82 with the agent circuit ID = the name
// of the interface the request came in on (vrdn); a reservation keyed on
// that circuit-id gives dhcpcd the reserved address, not the section's
// first free one. The /none variant (no reservation) shows the address
// is otherwise another.
func TestRelay4CircuitIDReservation(t *testing.T) {
	for _, reserved := range []bool{true, false} {
		t.Run(map[bool]string{true: "reserved", false: "none"}[reserved], func(t *testing.T) {
			e := newEnvRelayed(t, "dhcpcd", "dhcrelay", "ss")
			res := ""
			if reserved {
				res = fmt.Sprintf("      reservations:\n        - {circuit_id: %s, address: 10.78.1.15, hostname: port-vrdn}\n", netns.RelayDownIf)
			}
			srv := e.startLeasedYAML(fmt.Sprintf(`dhcpv4:
  interfaces: [%s]
  lease_time: 2m
  pools:
    - name: branch
      subnet: 10.78.0.0/16
      gateway: 10.78.0.1
      dns: [10.77.0.1]
      authoritative: true
      sections: [{index: 0, start: 10.78.1.10, end: 10.78.1.20}]
%s`, netns.ServerIf, res))
			log := e.path("dhcrelay4.log")
			e.addLog(log)
			r := e.top.Relay
			if _, err := r.Start(log, "dhcrelay", "-4", "-d", "-a", "-pf", log+".pid",
				"-id", netns.RelayDownIf, "-iu", netns.RelayUpIf, netns.ServerPrefix.Addr().String()); err != nil {
				t.Fatal(err)
			}
			e.waitFor(10*time.Second, "dhcrelay to listen on port 67", func() bool {
				out, err := r.Run("ss", "-ulnH", "sport", "=", ":67")
				return err == nil && strings.TrimSpace(out) != ""
			})
			c := e.startDhcpcdConf("dhcpcd", "")
			ev, _ := c.waitEvent(20*time.Second, 0, "BOUND")
			a := ev.addr()
			l := srv.waitState(a, "bound", 5*time.Second)
			switch {
			case reserved && a.String() != "10.78.1.15":
				e.fatalf("through dhcrelay -a: bound %v, want 10.78.1.15 reserved for circuit-id %s", a, netns.RelayDownIf)
			case reserved && ev.Vars["new_host_name"] != "port-vrdn":
				e.fatalf("reserved hostname %q, want port-vrdn", ev.Vars["new_host_name"])
			case !reserved && (a.String() == "10.78.1.15" || l.Pool != "branch"):
				e.fatalf("without a reservation: bound %v (%+v)", a, l)
			}
			if ev.Vars["new_routers"] != "10.78.0.1" {
				e.fatalf("routers %q, want 10.78.0.1", ev.Vars["new_routers"])
			}
			c.ctl("-k")
			c.stop()
			srv.Stop()
		})
	}
}
