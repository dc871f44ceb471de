package e2e

import (
	"crypto/hmac"
	"crypto/md5"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/leased/leased/auth"
	"github.com/leased/leased/dhcpv6"
	"github.com/leased/leased/internal/netns"
)

// checkBound6 checks a dhcpcd/dhclient BOUND6/RENEW6/REBIND6 event: the
// IA_NA address in office6's range, the IA_PD prefix (when wantPD) a /56
// of fd77:100::/40, and the DNS server dns (when not "").
func checkBound6(e *env, ev hookEvent, wantNA, wantPD bool, dns string) (netip.Addr, netip.Prefix) {
	e.t.Helper()
	a, pd, d := ev.v6()
	if wantNA && (!a.IsValid() || a.Less(range6[0]) || range6[1].Less(a)) {
		e.fatalf("%s: address %v, want one in %v-%v: %v", ev.Reason, a, range6[0], range6[1], ev.Vars)
	}
	if wantPD && (pd.Bits() != 56 || !pdPrefix6.Contains(pd.Addr()) || pd.Masked() != pd) {
		e.fatalf("%s: delegated prefix %v, want a /56 of %v: %v", ev.Reason, pd, pdPrefix6, ev.Vars)
	}
	if dns != "" && d != dns {
		e.fatalf("%s: DNS %q, want %s", ev.Reason, d, dns)
	}
	return a, pd
}

// TestDhcpcd6: dhcpcd -6 with an IA_NA and an IA_PD against leased:
// Solicit → Advertise → Request → Reply (RFC 8415 §18.2.1, §18.2.2), the
// address in office6's range, a /56 from fd77:100::/40 and DNS fd77::1
// seen by the hook and by leasectl; renew (-N, §18.2.4), rebind (-n,
// §18.2.5) with the same bindings and later expiries; release (-k,
// §18.2.7) → leasectl shows both released.
func TestDhcpcd6(t *testing.T) {
	e := newEnv(t, "dhcpcd", "ss")
	srv := e.startLeased6(defaultConfig6())
	c := e.startDhcpcd6("dhcpcd6", dhcpcd6Opts{PD: true})
	ev, n := c.waitEvent(15*time.Second, 0, "BOUND6")
	addr, pd := checkBound6(e, ev, true, true, dns6)
	na := netip.PrefixFrom(addr, 128)
	l := srv.waitState6(na, "bound", 5*time.Second)
	lp := srv.waitState6(pd, "bound", 5*time.Second)
	if l.Pool != "office6" || lp.Pool != "office6" || !lp.IsPD() {
		e.fatalf("leasectl after Reply: %+v and %+v, want both in pool office6, the second a prefix", l, lp)
	}
	if duid := ev.Vars["new_dhcp6_client_id"]; duid == "" || !strings.EqualFold(strings.ReplaceAll(l.DUID, ":", ""), duid) {
		e.fatalf("leasectl DUID %q, dhcpcd's client id %q", l.DUID, duid)
	}
	if d := time.Until(l.Expires); d < 100*time.Second || d > 125*time.Second {
		e.fatalf("expiry %v is %v from now, want about the 120s valid lifetime", l.Expires, d)
	}

	// Renew: dhcpcd -N sends Renew to the server that gave the lease.
	c.ctl("-N")
	ev, n = c.waitEvent(10*time.Second, n, "RENEW6")
	if a, p := checkBound6(e, ev, true, true, dns6); a != addr || p != pd {
		e.fatalf("renew gave %v %v, want %v %v", a, p, addr, pd)
	}
	l = srv.waitExpiry6After(na, l, 5*time.Second)
	lp = srv.waitExpiry6After(pd, lp, 5*time.Second)

	// Rebind: dhcpcd -n sends Rebind (no server id) to ff02::1:2.
	c.ctl("-n")
	ev, n = c.waitEvent(10*time.Second, n, "REBIND6")
	if a, p := checkBound6(e, ev, true, true, dns6); a != addr || p != pd {
		e.fatalf("rebind gave %v %v, want %v %v", a, p, addr, pd)
	}
	srv.waitExpiry6After(na, l, 5*time.Second)
	srv.waitExpiry6After(pd, lp, 5*time.Second)
	if lines := logLines(c.log, "REBIND6"); len(lines) == 0 {
		e.fatalf("dhcpcd log shows no REBIND6 sent")
	}

	// Release: dhcpcd -k sends Release for both IAs and exits.
	c.ctl("-k")
	c.waitEvent(10*time.Second, n, "RELEASE6")
	if lines := logLines(c.log, "RELEASE6"); len(lines) == 0 {
		e.fatalf("dhcpcd -k did not send RELEASE6")
	}
	srv.waitState6(na, "released", 5*time.Second)
	srv.waitState6(pd, "released", 5*time.Second)
	if exited, _ := c.proc.Wait(10 * time.Second); !exited {
		e.fatalf("dhcpcd still running after -k")
	}
	e.checkUnique6(srv.Leases6())
	srv.Stop()
	t.Logf("dhcpcd -6 hook: %s", c.reasons())
}

// reconfigurePacket builds a Reconfigure (RFC 8415 §18.3.11: transaction
// id 0, Server ID, Client ID, Reconfigure Message option 19 = msg, option
// 11 RKAP protocol 3, algorithm 1, RDM 0, type 2 HMAC-MD5) signed with
// key, independently of leased's and package auth's code: the HMAC-MD5
// is computed here over the message with the digest zeroed (§20.4.2).
func reconfigurePacket(t *testing.T, serverID, clientID []byte, msg dhcpv6.MessageType, replay uint64, key []byte) []byte {
	t.Helper()
	var w dhcpv6.Writer
	w.Reset(make([]byte, 0, 256))
	w.Header(dhcpv6.Reconfigure, 0)
	w.Option(dhcpv6.OptServerID, serverID)
	w.Option(dhcpv6.OptClientID, clientID)
	w.OptionUint8(dhcpv6.OptReconfMsg, uint8(msg))
	info := make([]byte, dhcpv6.AuthReconfigureInfoLen)
	info[0] = dhcpv6.AuthInfoHMACMD5
	off := w.OptionAuth(dhcpv6.Auth{Protocol: dhcpv6.AuthProtoReconfigureKey, Algorithm: dhcpv6.AuthAlgHMACMD5,
		RDM: dhcpv6.AuthRDMMonotonic, ReplayDetection: replay, Info: info})
	pkt, err := w.End()
	if err != nil || off < 0 {
		t.Fatalf("encode Reconfigure: %v (offset %d)", err, off)
	}
	mac := hmac.New(md5.New, key)
	mac.Write(pkt) // digest bytes are still zero
	copy(pkt[off+1:off+17], mac.Sum(nil))
	return pkt
}

// TestDhcpcd6Reconfigure: dhcpcd -6 sends Reconfigure Accept and gets an
// RFC 8415 §20.4 reconfigure key in the Reply. A Reconfigure signed with
// a wrong key, sent from the server's link-local address to the client's,
// is ignored (dhcpcd logs the authentication failure and does not renew);
// the same message signed with the key dhcpcd holds is acted on, so the
// negative control is not vacuous. `leasectl reconfigure send ADDRESS`
// makes dhcpcd renew. Then the operator changes the pool's
// DNS server and reloads; a Reconfigure campaign over office6 makes
// dhcpcd renew, and its hook sees the new DNS server.
func TestDhcpcd6Reconfigure(t *testing.T) {
	e := newEnv(t, "dhcpcd", "ss")
	const newDNS = "fd77::53"
	cfg := defaultConfig6()
	// T1 long enough that no renewal of dhcpcd's own comes in between.
	cfg.T1, cfg.T2 = "50s", "55s"
	srv := e.startLeased6(cfg)
	c := e.startDhcpcd6("dhcpcd6", dhcpcd6Opts{PD: true})
	ev, n := c.waitEvent(15*time.Second, 0, "BOUND6")
	addr, _ := checkBound6(e, ev, true, true, dns6)
	na := netip.PrefixFrom(addr, 128)
	l := srv.waitState6(na, "bound", 5*time.Second)
	key, _, err := c.reconfigureKey()
	if err != nil {
		e.fatalf("dhcpcd's Reply: %v (dhcpcd sent Reconfigure Accept, the Reply must carry a key)", err)
	}
	reply, err := c.reply()
	if err != nil {
		e.fatalf("%v", err)
	}
	serverID, clientID := append([]byte(nil), reply.ServerID()...), append([]byte(nil), reply.ClientID()...)

	sll, err := e.top.Server.LinkLocal(netns.ServerIf)
	if err != nil {
		e.fatalf("%v", err)
	}
	cll, err := e.top.Client.LinkLocal(netns.ClientIf)
	if err != nil {
		e.fatalf("%v", err)
	}
	conn, err := e.top.Server.ListenUDP(netip.AddrPortFrom(sll, 0))
	if err != nil {
		e.fatalf("%v", err)
	}
	to := netip.AddrPortFrom(cll.WithZone(netns.ServerIf), 546)
	// Replay detection: the time-based value leased uses too (package
	// auth), so it is above the Reply's and below leased's next.
	wrong := []byte("0123456789abcdef")
	if _, err := conn.WriteToUDPAddrPort(reconfigurePacket(t, serverID, clientID, dhcpv6.Renew, auth.TimeFloor(time.Now()), wrong), to); err != nil {
		e.fatalf("send forged Reconfigure: %v", err)
	}
	time.Sleep(3 * time.Second)
	if evs := c.events(); len(evs) > n {
		e.fatalf("dhcpcd acted on a Reconfigure signed with a wrong key: hook %s", c.reasons())
	}
	// dhcpcd 9.4 logs why it dropped it (dhcp_auth_validate fails).
	if len(logLines(c.log, "authentication failed")) == 0 {
		e.fatalf("dhcpcd log does not say it refused the forged Reconfigure for authentication:\n%s", netns.TailFile(c.log, 30))
	}
	if x, _ := srv.Lease6(na); !x.Expires.Equal(l.Expires) {
		e.fatalf("lease changed after the forged Reconfigure: %+v, was %+v", x, l)
	}
	// Control: the same message signed with the key dhcpcd holds works.
	if _, err := conn.WriteToUDPAddrPort(reconfigurePacket(t, serverID, clientID, dhcpv6.Renew, auth.TimeFloor(time.Now()), key), to); err != nil {
		e.fatalf("send Reconfigure: %v", err)
	}
	ev, n = c.waitEvent(10*time.Second, n, "RENEW6")
	checkBound6(e, ev, true, true, dns6)
	l = srv.waitExpiry6After(na, l, 5*time.Second)

	// One Reconfigure from leased itself (signed with the key of the
	// renewal's Reply, from its link-local address): dhcpcd renews.
	if code, out, errs := srv.leasectl("reconfigure", "send", addr.String()); code != 0 || strings.TrimSpace(out) != "Reconfigure sent to "+addr.String() {
		e.fatalf("leasectl reconfigure send %v: exit %d, stdout %q, stderr %q", addr, code, out, errs)
	}
	ev, n = c.waitEvent(5*time.Second, n, "RENEW6")
	checkBound6(e, ev, true, true, dns6)
	l = srv.waitExpiry6After(na, l, 5*time.Second)

	// The operator changes the DNS server and reloads.
	cfg.Pools[0].DNS = []string{newDNS}
	srv.writeConfig6(cfg)
	srv.reload()

	// --wait follows the campaign to its end: exit 0 only when every
	// selected client (dhcpcd) renewed, rebound or informed.
	start := time.Now()
	code, out, errs := srv.leasectl(reconfigureStartArgs("office6")...)
	if code != 0 {
		e.fatalf("leasectl %v: exit %d\n%s\n%s", reconfigureStartArgs("office6"), code, out, errs)
	}
	ev, _ = c.waitEvent(5*time.Second, n, "RENEW6", "REBIND6")
	took := time.Since(start)
	t.Logf("campaign: %s", strings.TrimSpace(out))
	if a, _ := checkBound6(e, ev, true, true, newDNS); a != addr {
		e.fatalf("%s after Reconfigure gave %v, want %v", ev.Reason, a, addr)
	}
	t.Logf("campaign start to hook %s with the new DNS: %v", ev.Reason, took)
	srv.waitExpiry6After(na, l, 5*time.Second)
	e.checkUnique6(srv.Leases6())
	srv.Stop()
	t.Logf("dhcpcd -6 hook: %s", c.reasons())
	for _, line := range logLines(c.log, "RECONFIGURE6 from") {
		t.Logf("dhcpcd: %s", line)
	}
	for _, line := range logLines(c.log, "authentication") {
		t.Logf("dhcpcd: %s", line)
	}
}

// reconfigureStartArgs is the leasectl command that starts a DHCPv6
// Reconfigure campaign over a pool and follows it to its end.
func reconfigureStartArgs(pool string) []string {
	return []string{"reconfigure", "start", "--family", "6", "--pool", pool, "--attempts", "3", "--interval", "1s", "--wait"}
}
