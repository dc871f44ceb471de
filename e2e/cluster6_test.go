package e2e

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/leased/leased/internal/netns"
)

// startLinkDhcpcd6 starts dhcpcd -6 (IA_NA 1 and IA_PD 2, Reconfigure
// Accept) on client namespace j of the link, in a private mount namespace
// (as startDhcpcd6).
func (c *clusterEnv) startLinkDhcpcd6(j int) *dhcpcd6 {
	c.t.Helper()
	name := fmt.Sprintf("dhcpcd6-%d", j)
	dir := c.path(name)
	for _, d := range []string{"run", "lib"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			c.t.Fatal(err)
		}
	}
	d := &dhcpcd6{client: client{e: c.env, name: name, dir: dir,
		hookLog: filepath.Join(dir, "hook.log"), log: filepath.Join(dir, "dhcpcd.log")}}
	hook := writeHook6(dir, d.hookLog)
	conf := fmt.Sprintf("script %s\nnodelay\nipv6only\nnoipv6rs\noption dhcp6_name_servers, reconfigure_accept\ninterface %s\n  ia_na 1\n  ia_pd 2 -\n",
		hook, netns.ClientIf)
	d.conf = filepath.Join(dir, "dhcpcd.conf")
	if err := os.WriteFile(d.conf, []byte(conf), 0o644); err != nil {
		c.t.Fatal(err)
	}
	c.addLog(d.log)
	c.addLog(d.hookLog)
	sh := fmt.Sprintf("mount -t tmpfs tmpfs /run && mkdir -p /run/dhcpcd && "+
		"mount --bind %[1]s/run /run/dhcpcd && mount --bind %[1]s/lib /var/lib/dhcpcd && "+
		"exec dhcpcd -f %[2]s -B -d -6 %[3]s", dir, d.conf, netns.ClientIf)
	var err error
	d.proc, err = c.link.Clients[j].Start(d.log, "unshare", "-m", "--propagation", "private", "sh", "-c", sh)
	if err != nil {
		c.t.Fatal(err)
	}
	return d
}

// dbLease6 is one DHCPv6 row of the leases table.
type dbLease6 struct {
	Prefix netip.Prefix // the address as /128, or the delegated prefix
	State  int
	DUID   string // client_id in hex
	Expiry time.Time
	Server string
}

func (c *clusterEnv) dbLeases6() map[netip.Prefix]dbLease6 {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn := c.dbConn(ctx)
	defer conn.Close(context.Background())
	rows, err := conn.Query(ctx, `SELECT host(addr), prefix_len, state, coalesce(encode(client_id, 'hex'), ''),
		coalesce(expiry_ns, 0), server_name FROM leases WHERE family = 6`)
	if err != nil {
		c.fatalf("query leases: %v", err)
	}
	out := map[netip.Prefix]dbLease6{}
	for rows.Next() {
		var a, duid, srv string
		var plen, st int16
		var exp int64
		if err := rows.Scan(&a, &plen, &st, &duid, &exp, &srv); err != nil {
			c.fatalf("scan leases: %v", err)
		}
		if plen == 0 {
			plen = 128
		}
		p := netip.PrefixFrom(netip.MustParseAddr(a), int(plen))
		out[p] = dbLease6{Prefix: p, State: int(st), DUID: duid, Expiry: time.Unix(0, exp), Server: srv}
	}
	if err := rows.Err(); err != nil {
		c.fatalf("read leases: %v", err)
	}
	return out
}

// checkReplies6InDB: the last Reply each client (DUID) got on the wire
// with an address or a prefix is bound to that DUID in the database with
// an expiry no earlier than the Reply's valid lifetime (less 2 s); no
// address or prefix is in the last Replies of two clients; every
// Solicit/Request (DUID, transaction id) was answered by one server.
func (c *clusterEnv) checkReplies6InDB() int {
	c.t.Helper()
	if d := c.tap.dropped(); d > 0 {
		c.fatalf("the capture dropped %d frames: the record of Replies on the wire is incomplete", d)
	}
	last := map[string]wireReply{}
	answered := map[string]map[string]bool{}
	for _, r := range c.tap.all() {
		if !r.V6 {
			continue
		}
		k := fmt.Sprintf("%s/%06x/%d", r.CHAddr, r.XID, r.Type)
		if answered[k] == nil {
			answered[k] = map[string]bool{}
		}
		answered[k][r.Server] = true
		if r.Type == dhcp6Reply && (r.Addr6.IsValid() || r.PD6.IsValid()) && r.Valid6 > 0 {
			last[r.CHAddr] = r
		}
	}
	for k, srvs := range answered {
		if len(srvs) != 1 {
			c.fatalf("DHCPv6 exchange %s answered by %d servers %v: exactly one must answer", k, len(srvs), srvs)
		}
	}
	rows := c.dbLeases6()
	holder := map[netip.Prefix]string{}
	var errs []string
	check := func(duid string, r wireReply, p netip.Prefix, valid time.Duration) {
		if other, dup := holder[p]; dup {
			errs = append(errs, fmt.Sprintf("%v in the last Replies of %s and %s", p, other, duid))
		}
		holder[p] = duid
		row, ok := rows[p]
		exp := r.At.Add(valid)
		switch {
		case !ok:
			errs = append(errs, fmt.Sprintf("Reply of %v to %s by %s at %s: no row", p, duid, r.Server, r.At.Format("15:04:05.000")))
		case row.DUID != duid || row.State != stateBound:
			errs = append(errs, fmt.Sprintf("Reply of %v to %s by %s: the row is %s's, state %d (written by %s)", p, duid, r.Server, row.DUID, row.State, row.Server))
		case row.Expiry.Before(exp.Add(-2 * time.Second)):
			errs = append(errs, fmt.Sprintf("Reply of %v to %s until %s: the row expires at %s", p, duid, exp.Format("15:04:05.000"), row.Expiry.Format("15:04:05.000")))
		}
	}
	for duid, r := range last {
		if r.Addr6.IsValid() {
			check(duid, r, netip.PrefixFrom(r.Addr6, 128), r.Valid6)
		}
		if r.PD6.IsValid() && r.PDV6 > 0 {
			check(duid, r, r.PD6, r.PDV6)
		}
	}
	if len(errs) > 0 {
		sort.Strings(errs)
		c.fatalf("%d DHCPv6 Replies wrong or missing in the database:\n%s", len(errs), strings.Join(errs, "\n"))
	}
	return len(last)
}

// TestClusterDhcpcd6 (issue #12, DHCPv6): two servers in cluster mode
// with an IA_NA range and a prefix-delegation pool, four dhcpcd -6 asking
// for an address and a prefix. Each Solicit and Request is answered by
// exactly one server (counted on the wire); distinct addresses and
// prefixes; every Reply bound to its DUID in the database. Then the
// server that served most is killed with SIGKILL: its clients keep their
// address and prefix through the survivor. The servers of a cluster share
// one DUID and filter multicast Renews by the RFC 3074 hash
// (docs/cluster.md), so once the survivor's live set drops the dead
// server it answers their Renews at T1 (RENEW6); a Rebind at T2 (REBIND6)
// would do as well.
func TestClusterDhcpcd6(t *testing.T) {
	const clients = 4
	c := newClusterEnv(t, 2, clients, "dhcpcd")
	v6 := defaultConfig6()
	v6.Preferred, v6.Valid, v6.T1, v6.T2 = "40s", "60s", "8s", "16s"
	sc := clusterPool("10m", "", "")
	for i := range 2 {
		o := clusterOn(sc, "debug")
		o.V6 = &v6
		c.startServer(i, o)
	}
	c.settle()
	cs := make([]*dhcpcd6, clients)
	for j := range cs {
		cs[j] = c.startLinkDhcpcd6(j)
	}
	type binding struct {
		addr netip.Addr
		pd   netip.Prefix
	}
	bs := make([]binding, clients)
	seen := map[string]int{}
	for j, d := range cs {
		ev, _ := d.waitEvent(30*time.Second, 0, "BOUND6")
		a, pd, _ := ev.v6()
		if !a.IsValid() || !pd.IsValid() {
			c.fatalf("dhcpcd6-%d BOUND6 without an address and a prefix: %v", j, ev.Vars)
		}
		for _, k := range []string{a.String(), pd.String()} {
			if i, dup := seen[k]; dup {
				c.fatalf("dhcpcd6-%d and dhcpcd6-%d both bound %s", i, j, k)
			}
			seen[k] = j
		}
		bs[j] = binding{a, pd}
	}
	for j, b := range bs {
		t.Logf("dhcpcd6-%d: %v and %v", j, b.addr, b.pd)
	}
	n := c.checkReplies6InDB()
	t.Logf("%d clients' last Reply bound to their DUID in the database", n)

	// Which server answered each client (its Replies' server port).
	servedBy := map[string][]int{}
	for j, b := range bs {
		for _, r := range c.tap.all() {
			if r.V6 && r.Type == dhcp6Reply && r.Addr6 == b.addr {
				servedBy[r.Server] = append(servedBy[r.Server], j)
				break
			}
		}
	}
	victim := 0
	if len(servedBy[serverName(1)]) > len(servedBy[serverName(0)]) {
		victim = 1
	}
	t.Logf("clients per server: %v; killing %s", servedBy, serverName(victim))
	if len(servedBy[serverName(victim)]) == 0 {
		c.fatalf("no client's Reply found on the wire: %v", servedBy)
	}
	start := make([]int, clients)
	for j, d := range cs {
		start[j] = len(d.events())
	}
	killed := time.Now()
	c.servers[victim].Kill9()
	for _, j := range servedBy[serverName(victim)] {
		ev, _ := cs[j].waitEvent(40*time.Second, start[j], "REBIND6", "RENEW6", "BOUND6", "EXPIRE6", "RELEASE6")
		a, pd, _ := ev.v6()
		if ev.Reason != "REBIND6" && ev.Reason != "RENEW6" || a != bs[j].addr || pd != bs[j].pd {
			c.fatalf("dhcpcd6-%d after %s died: %s %v %v, want RENEW6/REBIND6 of %v %v; hook %s", j, serverName(victim), ev.Reason, a, pd, bs[j].addr, bs[j].pd, cs[j].reasons())
		}
		var by string
		for _, r := range c.tap.all() {
			if r.V6 && r.Type == dhcp6Reply && r.Addr6 == a && r.At.After(killed) {
				by = r.Server
			}
		}
		if by == "" || by == serverName(victim) {
			c.fatalf("dhcpcd6-%d: %s of %v after the kill not answered by the survivor on the wire (by %q)", j, ev.Reason, a, by)
		}
		t.Logf("dhcpcd6-%d: %s of %v and %v through %s %v after the kill", j, ev.Reason, a, pd, by, time.Since(killed).Round(100*time.Millisecond))
	}
	n = c.checkReplies6InDB()
	t.Logf("after the kill: %d clients' last Reply bound to their DUID in the database", n)
	c.servers[1-victim].Stop()
}
