package e2e

import (
	"encoding/binary"
	"encoding/hex"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/leased/leased/internal/netns"
)

// TestRelay6InterfaceID: client ↔ dhcrelay -6 -I -l vrdn#7 ↔ leased. ISC
// dhcrelay puts the downstream interface's index (#7) in the Interface-ID
// option (18), as a 4-byte host-order int; pool port6 is configured with
// those bytes (interface_id_hex) and is chosen over
// branch6, whose subnet holds the relay's link-address (RFC 8415 §13.1:
// the server may use the Interface-ID to identify the link). dhcpcd -6
// asks for a /60 with a prefix-length hint (ia_pd 2/::/60) and gets one
// from port6's /56 delegation pool (§18.3.1: the hint is honoured,
// max_length defaults to 64).
func TestRelay6InterfaceID(t *testing.T) {
	e := newEnvRelayed(t, "dhcpcd", "dhcrelay", "ss")
	cfg := defaultConfig6()
	portPD := netip.MustParsePrefix("fd7a:100::/40")
	cfg.Pools = append(cfg.Pools,
		Pool6{Name: "branch6", Subnet: "fd78::/64", DNS: []string{"fd78::53"},
			Ranges: [][2]string{{"fd78::1:0", "fd78::1:ffff"}}},
		Pool6{Name: "port6", Subnet: "fd7a::/64", DNS: []string{"fd7a::53"},
			Ranges: [][2]string{{"fd7a::1:0", "fd7a::1:ffff"}}, PD: portPD.String(), PDLen: 56,
			Extra: "      interface_id_hex: \"" + ifIndexHex() + "\"\n"})
	srv := e.startLeased6(cfg)
	e.startDhcrelay6Index(relayIfIndex)

	c := e.startDhcpcd6("dhcpcd6", dhcpcd6Opts{PDHint: 60})
	ev, n := c.waitEvent(20*time.Second, 0, "BOUND6")
	addr, pd, dns := ev.v6()
	if !netip.MustParsePrefix("fd7a::1:0/112").Contains(addr) || dns != "fd7a::53" {
		e.fatalf("BOUND6 via dhcrelay -I: address %v DNS %q; want port6's (fd7a::1:0/112, fd7a::53), selected by interface-id %s", addr, dns, ifIndexHex())
	}
	if pd.Bits() != 60 || !portPD.Contains(pd.Addr()) {
		e.fatalf("delegated %v; want the /60 dhcpcd hinted, inside %v", pd, portPD)
	}
	l := srv.waitState6(netip.PrefixFrom(addr, 128), "bound", 5*time.Second)
	lp := srv.waitState6(pd, "bound", 5*time.Second)
	if l.Pool != "port6" || lp.Pool != "port6" {
		e.fatalf("leasectl: %+v and %+v, want pool port6", l, lp)
	}
	c.ctl("-N")
	ev, _ = c.waitEvent(10*time.Second, n, "RENEW6")
	if a, p, _ := ev.v6(); a != addr || p != pd {
		e.fatalf("renew gave %v %v, want %v %v", a, p, addr, pd)
	}
	srv.Stop()
	t.Logf("dhcpcd -6 via dhcrelay -I (interface-id %s): %s", ifIndexHex(), c.reasons())
}

// relayIfIndex is the interface index given to dhcrelay (-l vrdn#7):
// ISC dhcrelay -I sends it as the Interface-ID, a 4-byte host-order int.
const relayIfIndex = 7

func ifIndexHex() string {
	return hex.EncodeToString(binary.NativeEndian.AppendUint32(nil, relayIfIndex))
}

// startDhcrelay6Index runs dhcrelay -6 -I in the relay namespace with the
// downstream interface index set (log: dhcrelay.log).
func (e *env) startDhcrelay6Index(index int) {
	e.t.Helper()
	log := e.path("dhcrelay.log")
	e.addLog(log)
	r := e.top.Relays[0]
	if _, err := r.Start(log, "dhcrelay", "-6", "-d", "-I", "-pf", log+".pid",
		"-l", netns.RelayDownIf+"#"+strconv.Itoa(index), "-u", netns.ServerPrefix6.Addr().String()+"%"+netns.RelayUpIf); err != nil {
		e.t.Fatal(err)
	}
	e.waitFor(10*time.Second, "dhcrelay to listen on port 547", func() bool {
		out, err := r.Run("ss", "-ulnH", "sport", "=", ":547")
		return err == nil && strings.TrimSpace(out) != ""
	})
}
