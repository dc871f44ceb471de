package e2e

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/leased/leased/internal/netns"
)

// --- clients ---------------------------------------------------------------

// startLinkDhcpcd starts dhcpcd 9 on client namespace j of the link, in a
// private mount namespace (as startDhcpcd), without ARP probing and with
// the RFC 6704 nonce option unless noNonce.
func (c *clusterEnv) startLinkDhcpcd(j int, noNonce bool) *dhcpcd {
	c.t.Helper()
	name := fmt.Sprintf("dhcpcd%d", j)
	dir := c.path(name)
	for _, d := range []string{"run", "lib"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			c.t.Fatal(err)
		}
	}
	d := &dhcpcd{client: client{e: c.env, name: name, dir: dir,
		hookLog: filepath.Join(dir, "hook.log"), log: filepath.Join(dir, "dhcpcd.log")}}
	hook := writeHook(dir, d.hookLog, false)
	conf := fmt.Sprintf("script %s\nnodelay\nipv4only\nnoipv6rs\nnoarp\noption subnet_mask, routers, domain_name_servers\n", hook)
	if noNonce {
		conf += "nooption forcerenew_nonce_capable\n"
	}
	d.conf = filepath.Join(dir, "dhcpcd.conf")
	if err := os.WriteFile(d.conf, []byte(conf), 0o644); err != nil {
		c.t.Fatal(err)
	}
	c.addLog(d.log)
	c.addLog(d.hookLog)
	c.runLinkDhcpcd(j, d)
	return d
}

// runLinkDhcpcd starts (or restarts) d in client namespace j (dhcpcd's
// own start method would use the env's client namespace).
func (c *clusterEnv) runLinkDhcpcd(j int, d *dhcpcd) {
	c.t.Helper()
	sh := fmt.Sprintf("mount -t tmpfs tmpfs /run && mkdir -p /run/dhcpcd && "+
		"mount --bind %[1]s/run /run/dhcpcd && mount --bind %[1]s/lib /var/lib/dhcpcd && "+
		"exec dhcpcd -f %[2]s -B -d -4 %[3]s", d.dir, d.conf, netns.ClientIf)
	var err error
	d.proc, err = c.link.Clients[j].Start(d.log, "unshare", "-m", "--propagation", "private", "sh", "-c", sh)
	if err != nil {
		c.t.Fatal(err)
	}
}

// boundAddr waits until dhcpcd's hook reports BOUND and returns the address.
func (c *clusterEnv) boundAddr(d *dhcpcd, wait time.Duration) netip.Addr {
	c.t.Helper()
	ev, _ := d.waitEvent(wait, 0, "BOUND")
	return ev.addr()
}

// macHex is a MAC address in the tap's and the table's notation.
func macHex(mac string) string { return strings.ReplaceAll(strings.ToLower(mac), ":", "") }

// clusterPool: pool office of defaultConfig with room for a few thousand
// clients, short lease times for the fail-over (T1 8 s, T2 16 s, 40 s).
func clusterPool(lease, t1, t2 string) ServerConfig {
	sc := defaultConfig()
	sc.LeaseTime, sc.T1, sc.T2 = lease, t1, t2
	sc.Pools[0].Sections = [][2]string{{"10.77.16.0", "10.77.31.255"}}
	return sc
}

func clusterOn(sc ServerConfig, level string) clusterOpts {
	return clusterOpts{Cluster: true, Heartbeat: "1s", TakeOver: "3s", BlockSize: 16, LogLevel: level, Server: sc}
}

// settle waits two heartbeats (clusterOn: 1 s) after the servers started:
// until then a server may not yet see the others in its live set and
// answer a broadcast that the RFC 3074 hash gives to another (two
// answers, safe: docs/cluster.md).
func (c *clusterEnv) settle() { time.Sleep(2500 * time.Millisecond) }

// bound waits until every client's hook reports BOUND and returns their
// addresses by client index, failing on a duplicate.
func (c *clusterEnv) allBound(cs []*dhcpcd, wait time.Duration) []netip.Addr {
	c.t.Helper()
	addrs := make([]netip.Addr, len(cs))
	owner := map[netip.Addr]int{}
	for j, d := range cs {
		addrs[j] = c.boundAddr(d, wait)
		if k, dup := owner[addrs[j]]; dup {
			c.fatalf("dhcpcd%d and dhcpcd%d both bound %v", k, j, addrs[j])
		}
		owner[addrs[j]] = j
	}
	return addrs
}

// oneAnswer fails unless every DISCOVER (one chaddr and xid) seen answered
// on the wire got OFFERs from exactly one server, and every REQUEST ACKs
// or NAKs from one; and unless each of the first clients dhcpcd clients
// got an OFFER. It returns the OFFERs per server.
func (c *clusterEnv) oneAnswer(clients int) map[string]int {
	c.t.Helper()
	type key struct {
		hw  string
		xid uint32
		typ byte
	}
	if d := c.tap.dropped(); d > 0 {
		c.fatalf("the capture dropped %d frames: the record of replies on the wire is incomplete", d)
	}
	by := map[key]map[string]bool{}
	for _, r := range c.tap.all() {
		if r.V6 {
			continue
		}
		typ := r.Type
		if typ == dhcpNak {
			typ = dhcpAck
		}
		if typ != dhcpOffer && typ != dhcpAck {
			continue
		}
		k := key{r.CHAddr, r.XID, typ}
		if by[k] == nil {
			by[k] = map[string]bool{}
		}
		by[k][r.Server] = true
	}
	perServer := map[string]int{}
	offered := map[string]bool{}
	for k, srvs := range by {
		if len(srvs) != 1 {
			var names []string
			for s := range srvs {
				names = append(names, s)
			}
			sort.Strings(names)
			c.fatalf("client %s's xid %08x got a reply of type %d from %d servers (%v): exactly one must answer",
				k.hw, k.xid, k.typ, len(srvs), names)
		}
		if k.typ == dhcpOffer {
			offered[k.hw] = true
			for s := range srvs {
				perServer[s]++
			}
		}
	}
	for j := range clients {
		if !offered[macHex(netns.LinkClientMAC(j))] {
			c.fatalf("dhcpcd%d got no OFFER on the wire", j)
		}
	}
	return perServer
}

// TestClusterDhcpcd (issue #12, two servers on one link): six real dhcpcd
// clients and two perfdhcp relays (one per server, unicast, own MAC
// ranges, at once) against two leased in cluster mode on one database.
// Every DISCOVER and REQUEST of a dhcpcd is answered by exactly one server
// (RFC 3074 hash; counted on the wire); no address is ACKed to two
// clients and every client's last ACK is bound to it in the leases table;
// the two servers allocated from disjoint claimed blocks.
func TestClusterDhcpcd(t *testing.T) {
	const clients = 6
	c := newClusterEnv(t, 2, clients+1, "dhcpcd", "perfdhcp")
	sc := clusterPool("10m", "", "")
	for i := range 2 {
		o := clusterOn(sc, "debug")
		o.BlockSize = 64
		c.startServer(i, o)
	}
	c.settle()
	cs := make([]*dhcpcd, clients)
	for j := range cs {
		cs[j] = c.startLinkDhcpcd(j, false)
	}
	addrs := c.allBound(cs, 30*time.Second)
	t.Logf("dhcpcd addresses: %v", addrs)
	per := c.oneAnswer(clients)
	t.Logf("OFFERs to dhcpcd per server: %v", per)

	// perfdhcp as a relay forwarding to every server (broadcast "all",
	// as a relay configured with both servers would): each server answers
	// the clients the RFC 3074 hash gives it, both allocate from the
	// shared pool at once.
	ns := c.link.Clients[clients]
	local := netip.MustParseAddr("10.77.0.200")
	ns.AddAddr(netns.ClientIf, netip.PrefixFrom(local, 16))
	r := c.perfdhcpIn(ns, local, "all", "-r", "300", "-R", "2000", "-n", "2000", "-p", "10")
	t.Logf("perfdhcp to all servers: %s", r.String())
	// What this test proves is safety under concurrent allocation (one
	// answer per exchange, no address twice, every ACK in the database),
	// not a rate: perfdhcp's losses depend on how loaded the machine is
	// (43 % lost once while seven builds shared its 2 cores), so it asks
	// only for enough exchanges to make the checks below mean something.
	// Rates are measured by bench/compare-pg.
	if r.RA.Received < 600 {
		c.fatalf("perfdhcp: %d OFFERs and %d ACKs of 2000: too few exchanges to check anything", r.DO.Received, r.RA.Received)
	}
	per = c.oneAnswer(clients)
	if per[serverName(0)] < 200 || per[serverName(1)] < 200 {
		c.fatalf("OFFERs per server %v: the load is not shared", per)
	}

	ls := c.dbLeases()
	if inDoubt := c.checkDBUnique(ls); len(inDoubt) > 0 {
		c.fatalf("bound rows never ACKed to their client: %v", inDoubt)
	}
	n := c.checkACKsInDB(c.tap.lastACKs(), ls)
	t.Logf("%d clients' last ACK bound to them in the database (%d rows); OFFERs per server %v", n, len(ls), per)
	c.checkClaimsDisjoint()
	for _, s := range c.servers {
		s.Stop()
	}
}

// checkClaimsDisjoint fails if a bound row lies outside every claim of
// the server that wrote it... no: claims may move. It checks what the
// database promises instead: no two claims overlap (the exclusion
// constraint) and every server that served holds claims.
func (c *clusterEnv) checkClaimsDisjoint() {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn := c.dbConn(ctx)
	defer conn.Close(context.Background())
	var overlaps int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM claims a JOIN claims b ON a.id < b.id AND a.span && b.span`).Scan(&overlaps); err != nil {
		c.fatalf("query claims: %v", err)
	}
	if overlaps != 0 {
		c.fatalf("%d pairs of overlapping claims", overlaps)
	}
	owners := c.claimOwners(ctx)
	for i := range c.servers {
		if owners[serverName(i)] == 0 {
			c.fatalf("%s holds no claim: %v", serverName(i), owners)
		}
	}
	c.t.Logf("claims per server: %v", owners)
}

func (c *clusterEnv) claimOwners(ctx context.Context) map[string]int {
	c.t.Helper()
	conn := c.dbConn(ctx)
	defer conn.Close(context.Background())
	rows, err := conn.Query(ctx, `SELECT owner, count(*) FROM claims GROUP BY owner`)
	if err != nil {
		c.fatalf("query claims: %v", err)
	}
	m := map[string]int{}
	for rows.Next() {
		var o string
		var n int
		if err := rows.Scan(&o, &n); err != nil {
			c.fatalf("scan claims: %v", err)
		}
		m[o] = n
	}
	return m
}

// perfdhcpIn runs perfdhcp as a relay from local in ns against server
// (safe on any goroutine: failures are reported with Errorf).
func (c *clusterEnv) perfdhcpIn(ns *netns.NS, local netip.Addr, server string, args ...string) perfResult {
	all := append([]string{"-4", "-l", local.String(), "-W", "2000000"}, args...)
	all = append(all, server)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	start := time.Now()
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns.Name, "perfdhcp"}, all...)...)
	out, err := cmd.CombinedOutput()
	res := perfResult{Elapsed: time.Since(start), Output: string(out)}
	if err != nil && cmd.ProcessState != nil && cmd.ProcessState.ExitCode() != 3 || ctx.Err() != nil {
		c.t.Errorf("perfdhcp %s: %v\n%s", strings.Join(all, " "), err, out)
	}
	parsePerfStats(&res)
	return res
}

// TestClusterKill (issue #12, three servers): six dhcpcd clients bound
// through three leased (lease 40 s, T1 8 s, T2 16 s) while perfdhcp loads
// the server that served most of them; that server is killed with
// SIGKILL. Every dhcpcd keeps its address: its unicast renewals to the
// dead server fail, it rebinds by broadcast at T2 and a survivor answers
// from the shared database; no client sees a NAK or an expiry. The
// survivors take over the dead server's claims, and every ACK seen on the
// wire (dhcpcd and perfdhcp) is bound to its client in the database.
func TestClusterKill(t *testing.T) {
	const clients = 6
	c := newClusterEnv(t, 3, clients+1, "dhcpcd", "perfdhcp")
	sc := clusterPool("40s", "8s", "16s")
	for i := range 3 {
		c.startServer(i, clusterOn(sc, "debug"))
	}
	c.settle()
	cs := make([]*dhcpcd, clients)
	for j := range cs {
		cs[j] = c.startLinkDhcpcd(j, false)
	}
	addrs := c.allBound(cs, 30*time.Second)
	c.oneAnswer(clients)
	acks := c.tap.lastACKs()
	served := map[string][]int{}
	for j := range cs {
		a := acks[macHex(netns.LinkClientMAC(j))]
		served[a.Server] = append(served[a.Server], j)
	}
	victim := 0
	for i := range 3 {
		if len(served[serverName(i)]) > len(served[serverName(victim)]) {
			victim = i
		}
	}
	t.Logf("dhcpcd clients per server: %v; killing %s", served, serverName(victim))

	// Load on every server (a relay forwarding to all), the victim killed
	// 3 s into it.
	ns := c.link.Clients[clients]
	local := netip.MustParseAddr("10.77.0.200")
	ns.AddAddr(netns.ClientIf, netip.PrefixFrom(local, 16))
	done := make(chan perfResult, 1)
	go func() {
		done <- c.perfdhcpIn(ns, local, "all", "-r", "200", "-R", "2000", "-p", "6")
	}()
	time.Sleep(3 * time.Second)
	killed := time.Now()
	c.servers[victim].Kill9()
	r := <-done
	t.Logf("perfdhcp to all servers (%s killed after 3 s): %s", serverName(victim), r.String())

	// Claims of the dead server move to the survivors.
	c.waitFor(30*time.Second, fmt.Sprintf("the survivors to take over %s's claims", serverName(victim)), func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return c.claimOwners(ctx)[serverName(victim)] == 0
	})
	t.Logf("%s's claims taken over %v after the kill", serverName(victim), time.Since(killed).Round(100*time.Millisecond))

	// Every dhcpcd renews or rebinds its own address through a survivor
	// (those of the dead server at T2 by broadcast), before its lease ends.
	start := make([]int, clients)
	for j, d := range cs {
		start[j] = len(d.events())
	}
	for j, d := range cs {
		ev, _ := d.waitEvent(45*time.Second, start[j], "RENEW", "REBIND", "REBOOT", "BOUND", "EXPIRE", "NAK", "FAIL")
		if ev.Reason != "RENEW" && ev.Reason != "REBIND" || ev.addr() != addrs[j] {
			c.fatalf("dhcpcd%d after %s died: %s %v, want RENEW/REBIND of %v; hook: %s", j, serverName(victim), ev.Reason, ev.addr(), addrs[j], d.reasons())
		}
	}
	for j, d := range cs {
		for _, ev := range d.events() {
			if ev.Reason == "NAK" || ev.Reason == "EXPIRE" || ev.Reason == "FAIL" || ev.addr().IsValid() && ev.addr() != addrs[j] {
				c.fatalf("dhcpcd%d lost or changed its address: hook %s", j, d.reasons())
			}
		}
	}
	after := c.tap.lastACKs()
	for _, j := range served[serverName(victim)] {
		a := after[macHex(netns.LinkClientMAC(j))]
		if a.Server == serverName(victim) || a.YIAddr != addrs[j] {
			c.fatalf("dhcpcd%d's last ACK: %v from %s, want %v from a survivor", j, a.YIAddr, a.Server, addrs[j])
		}
		t.Logf("dhcpcd%d (was %s's) kept %v through %s at %v after the kill", j, serverName(victim), addrs[j], a.Server, a.At.Sub(killed).Round(100*time.Millisecond))
	}
	ls := c.dbLeases()
	if inDoubt := c.checkDBUnique(ls); len(inDoubt) > 0 {
		t.Logf("%d bound rows never ACKed to their client (commits of the killed server whose ACK never left), e.g. %v", len(inDoubt), inDoubt[0])
	}
	n := c.checkACKsInDB(after, ls)
	t.Logf("%d clients' last ACK bound to them in the database (%d rows)", n, len(ls))
	for i, s := range c.servers {
		if i != victim {
			s.Stop()
		}
	}
}

// parsePerfStats fills r's DISCOVER-OFFER and REQUEST-ACK counters from
// perfdhcp's output (as runPerfdhcp reads them).
func parsePerfStats(r *perfResult) {
	r.Rate = parsePerfdhcp(r.Output, "DISCOVER-OFFER", &r.DO, "REQUEST-ACK", &r.RA)
}

// TestClusterInitReboot (issue #12, "any server serves any client"): two
// dhcpcd (keeping their lease files: no RFC 6704 nonce) bind through two
// servers; both clients stop, the server that served them stops cleanly,
// the clients start again and INIT-REBOOT (broadcast REQUEST of their
// address): the other server, which never served them, answers from the
// shared database with the same addresses (dhcpcd hook REBOOT).
func TestClusterInitReboot(t *testing.T) {
	const clients = 4
	c := newClusterEnv(t, 2, clients, "dhcpcd")
	sc := clusterPool("10m", "", "")
	for i := range 2 {
		c.startServer(i, clusterOn(sc, "debug"))
	}
	c.settle()
	cs := make([]*dhcpcd, clients)
	for j := range cs {
		cs[j] = c.startLinkDhcpcd(j, true)
	}
	addrs := c.allBound(cs, 30*time.Second)
	acks := c.tap.lastACKs()
	served := map[string][]int{}
	for j := range cs {
		a := acks[macHex(netns.LinkClientMAC(j))]
		served[a.Server] = append(served[a.Server], j)
	}
	gone := 0
	if len(served[serverName(1)]) > len(served[serverName(0)]) {
		gone = 1
	}
	other := 1 - gone
	t.Logf("clients per server: %v; stopping %s", served, serverName(gone))
	for _, d := range cs {
		d.stop()
	}
	c.servers[gone].Stop()
	c.settle() // the other server's live set drops the stopped one
	start := make([]int, clients)
	for j, d := range cs {
		start[j] = len(d.events())
		c.runLinkDhcpcd(j, d)
	}
	for _, j := range served[serverName(gone)] {
		ev, _ := cs[j].waitEvent(30*time.Second, start[j], "REBOOT", "BOUND", "NAK", "EXPIRE", "FAIL")
		if ev.Reason != "REBOOT" || ev.addr() != addrs[j] {
			c.fatalf("dhcpcd%d restarted: %s %v, want REBOOT of %v; hook %s", j, ev.Reason, ev.addr(), addrs[j], cs[j].reasons())
		}
		a := c.tap.lastACKs()[macHex(netns.LinkClientMAC(j))]
		if a.Server != serverName(other) || a.YIAddr != addrs[j] {
			c.fatalf("dhcpcd%d's INIT-REBOOT ACK: %v by %s, want %v by %s", j, a.YIAddr, a.Server, addrs[j], serverName(other))
		}
		t.Logf("dhcpcd%d: INIT-REBOOT of %v (served by %s) ACKed by %s", j, addrs[j], serverName(gone), a.Server)
	}
	if len(served[serverName(gone)]) == 0 {
		c.fatalf("no client was served by %s", serverName(gone))
	}
	ls := c.dbLeases()
	if inDoubt := c.checkDBUnique(ls); len(inDoubt) > 0 {
		c.fatalf("bound rows never ACKed to their client: %v", inDoubt)
	}
	c.checkACKsInDB(c.tap.lastACKs(), ls)
	c.servers[other].Stop()
}
