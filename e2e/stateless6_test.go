package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/leased/leased/internal/netns"
)

// TestStatelessDhcpcd6 (issue #13): leased as a stateless DHCPv6 server
// (RFC 3736, RFC 8415 §18.3.6): a dhcpv6 section with global options and
// no pool. dhcpcd -6 --inform6 (an Information-request, no IA) gets the
// global DNS servers and domain search list; leased binds nothing.
func TestStatelessDhcpcd6(t *testing.T) {
	e := newEnv(t, "dhcpcd", "ss")
	dir := e.path("leased")
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	l := &Leased6{Leased: &Leased{e: e, cfgPath: filepath.Join(dir, "leased.yaml"),
		sock: filepath.Join(dir, "control.sock"), log: e.path("leased.log")}}
	e.addLog(l.log)
	y := defaultConfig().yaml(filepath.Join(dir, "data"), l.sock) +
		fmt.Sprintf("dhcpv6:\n  interfaces: [%s]\n  dns: [\"fd77::53\", \"fd77::54\"]\n  domain_search: [lab.test]\n", netns.ServerIf)
	if err := os.WriteFile(l.cfgPath, []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	l.Start6()

	cdir := e.path("inform")
	for _, d := range []string{"run", "lib"} {
		if err := os.MkdirAll(filepath.Join(cdir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	c := &dhcpcd6{client: client{e: e, name: "inform", dir: cdir,
		hookLog: filepath.Join(cdir, "hook.log"), log: filepath.Join(cdir, "dhcpcd.log")}}
	hook := writeHook6(cdir, c.hookLog)
	// No ia_na / ia_pd: only the options.
	conf := fmt.Sprintf("script %s\nnodelay\nipv6only\nnoipv6rs\noption dhcp6_name_servers, dhcp6_domain_search\n", hook)
	c.conf = filepath.Join(cdir, "dhcpcd.conf")
	if err := os.WriteFile(c.conf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	e.addLog(c.log)
	e.addLog(c.hookLog)
	sh := fmt.Sprintf("mount -t tmpfs tmpfs /run && mkdir -p /run/dhcpcd && "+
		"mount --bind %[1]s/run /run/dhcpcd && mount --bind %[1]s/lib /var/lib/dhcpcd && "+
		"exec dhcpcd -f %[2]s -B -d -6 --inform6 %[3]s", cdir, c.conf, netns.ClientIf)
	var err error
	c.proc, err = e.top.Client.Start(c.log, "unshare", "-m", "--propagation", "private", "sh", "-c", sh)
	if err != nil {
		t.Fatal(err)
	}
	ev, _ := c.waitEvent(20*time.Second, 0, "INFORM6")
	addr, pd, dns := ev.v6()
	if strings.ReplaceAll(dns, ",", " ") != "fd77::53 fd77::54" {
		e.fatalf("INFORM6 DNS %q, want the global fd77::53 fd77::54 (vars %v)", dns, ev.Vars)
	}
	if s := ev.Vars["new_dhcp6_domain_search"]; strings.TrimSuffix(s, ".") != "lab.test" {
		e.fatalf("INFORM6 domain search %q, want lab.test", s)
	}
	if addr.IsValid() || pd.IsValid() {
		e.fatalf("an information-only client got an address %v or prefix %v", addr, pd)
	}
	c.stop()
	for _, ls := range l.Leases() {
		if ls.Address.Is6() {
			e.fatalf("a stateless server bound %+v", ls)
		}
	}
	l.Stop()
}
