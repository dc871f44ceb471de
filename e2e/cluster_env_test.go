package e2e

// The multi-server harness of issue #12: a private PostgreSQL
// (internal/pgtest; its unix socket is reachable from every namespace,
// which share the filesystem), several leased processes (the binary
// TestMain built), each in its own namespace with its own server_name,
// all on one Ethernet link (netns.NewLink) with real clients in further
// namespaces; an AF_PACKET capture of every DHCPv4 and DHCPv6 reply the
// servers put on the wire; the leases table read directly.

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sys/unix"

	"github.com/leased/leased/internal/netns"
	"github.com/leased/leased/internal/pgtest"
)

// clusterEnv is one multi-server test: the link, the database, the servers.
type clusterEnv struct {
	*env
	link    *netns.Link
	pg      *pgtest.Server
	dsn     string // what the servers use (may list several hosts)
	servers []*Leased
	tap     *replyTap
}

// newClusterEnv makes a link with servers server and clients client
// namespaces, a private PostgreSQL with a fresh database, and starts the
// reply capture on every server's port of the link. No leased runs yet.
func newClusterEnv(t *testing.T, servers, clients int, tools ...string) *clusterEnv {
	t.Helper()
	requireEnv(t, append([]string{"ss"}, tools...)...)
	if _, err := pgtest.Bin(); err != nil && os.Getenv("CI") == "" {
		t.Skipf("skipping: %v", err)
	}
	pg := pgtest.New(t)
	l := netns.NewLink(t, servers, clients)
	// Server 0 and client 0 double as the env's server and client
	// namespaces, so helpers such as runPerfdhcp (to 10.77.0.1) work.
	top := &netns.Topology{Dir: l.Dir, Server: l.Servers[0]}
	if clients > 0 {
		top.Client = l.Clients[0]
	}
	e := &env{t: t, top: top}
	c := &clusterEnv{env: e, link: l, pg: pg, dsn: pg.CreateDB(t)}
	e.addLog(filepath.Join(pg.Dir(), "postgres.log"))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("logs at failure:\n%s", e.tails(40))
		}
	})
	c.tap = c.startTap()
	if keep := os.Getenv("LEASED_E2E_KEEP"); keep != "" {
		// Debugging aid: the logs of the servers and clients outlive the
		// test in $LEASED_E2E_KEEP/<test>/.
		t.Cleanup(func() {
			dst := filepath.Join(keep, strings.ReplaceAll(t.Name(), "/", "_"))
			os.MkdirAll(dst, 0o755)
			for _, l := range c.logs {
				if b, err := os.ReadFile(l); err == nil {
					os.WriteFile(filepath.Join(dst, filepath.Base(filepath.Dir(l))+"-"+filepath.Base(l)), b, 0o644)
				}
			}
		})
	}
	return c
}

// clusterOpts is what differs between the servers' configurations.
type clusterOpts struct {
	Cluster   bool   // a cluster: section
	Heartbeat string // cluster.heartbeat ("" default)
	TakeOver  string // cluster.take_over_after
	BlockSize int    // cluster.block_size (0 default)
	LogLevel  string // "" debug
	Server    ServerConfig
	V6        *Config6 // a dhcpv6 section too
}

// clusterYAML is leased's configuration for server i: the pools of
// o.Server on vsrv, PostgreSQL at dsn instead of a data directory, its
// server_name, and the cluster section when o.Cluster.
func clusterYAML(name, dsn, sock string, o clusterOpts) string {
	y := o.Server.yaml("DATADIR", sock)
	level := o.LogLevel
	if level == "" {
		level = "debug"
	}
	y = strings.Replace(y, "log_level: debug\n", "log_level: "+level+"\n", 1)
	var h strings.Builder
	fmt.Fprintf(&h, "server_name: %s\nstore:\n  postgres:\n    dsn: %q\n", name, dsn)
	if o.Cluster {
		h.WriteString("cluster:\n  enabled: true\n")
		if o.Heartbeat != "" {
			fmt.Fprintf(&h, "  heartbeat: %s\n", o.Heartbeat)
		}
		if o.TakeOver != "" {
			fmt.Fprintf(&h, "  take_over_after: %s\n", o.TakeOver)
		}
		if o.BlockSize != 0 {
			fmt.Fprintf(&h, "  block_size: %d\n", o.BlockSize)
		}
	}
	if o.V6 != nil {
		y += o.V6.yaml()
	}
	return strings.Replace(y, "data_dir: DATADIR\n", h.String(), 1)
}

// serverName is server i's server_name.
func serverName(i int) string { return fmt.Sprintf("srv%d", i) }

// startServer starts leased number i (in link.Servers[i]) with o and
// waits until it serves. It must exit 0 on SIGTERM at the end of the test
// unless killed on purpose.
func (c *clusterEnv) startServer(i int, o clusterOpts) *Leased {
	c.t.Helper()
	name := serverName(i)
	dir := c.path(name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		c.t.Fatal(err)
	}
	// Leased's helpers work on an env whose "server namespace" is this
	// server's; its log is shown with the others.
	se := &env{t: c.t, top: &netns.Topology{Server: c.link.Servers[i], Dir: c.link.Dir}}
	l := &Leased{e: se, cfgPath: filepath.Join(dir, "leased.yaml"),
		sock: filepath.Join(dir, "control.sock"), log: filepath.Join(dir, "leased.log")}
	c.addLog(l.log)
	se.logs = c.logs
	if err := os.WriteFile(l.cfgPath, []byte(clusterYAML(name, c.dsn, l.sock, o)), 0o644); err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() {
		if l.proc == nil || l.killed {
			return
		}
		if ok, err := l.proc.Exited(); ok && err != nil {
			c.t.Errorf("%s did not exit cleanly at the end of the test: %v\n%s", name, err, l.proc.Tail(20))
		}
		if b, err := os.ReadFile(l.log); err == nil && (strings.Contains(string(b), "panic:") || strings.Contains(string(b), "DATA RACE")) {
			c.t.Errorf("%s log shows a panic or data race:\n%s", name, l.proc.Tail(60))
		}
	})
	l.Start()
	for len(c.servers) <= i {
		c.servers = append(c.servers, nil)
	}
	c.servers[i] = l
	return l
}

// --- the leases table --------------------------------------------------------

// dbLease is one DHCPv4 row of the leases table.
type dbLease struct {
	Addr   netip.Addr
	State  int
	HWAddr string // hex, no colons
	Expiry time.Time
	Server string
}

// stateBound is lease.StateBound as stored (store/postgres writes the
// engine's state number).
const stateBound = 2

func (c *clusterEnv) dbConn(ctx context.Context) *pgx.Conn {
	c.t.Helper()
	conn, err := pgx.Connect(ctx, c.dsn)
	if err != nil {
		c.fatalf("connect to the test database: %v", err)
	}
	return conn
}

// dbLeases reads every DHCPv4 row of the leases table.
func (c *clusterEnv) dbLeases() []dbLease {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn := c.dbConn(ctx)
	defer conn.Close(context.Background())
	rows, err := conn.Query(ctx, `SELECT host(addr), state, coalesce(encode(hwaddr, 'hex'), ''),
		coalesce(expiry_ns, 0), server_name FROM leases WHERE family = 4 ORDER BY addr`)
	if err != nil {
		c.fatalf("query leases: %v", err)
	}
	var out []dbLease
	for rows.Next() {
		var a, hw, srv string
		var st int16
		var exp int64
		if err := rows.Scan(&a, &st, &hw, &exp, &srv); err != nil {
			c.fatalf("scan leases: %v", err)
		}
		out = append(out, dbLease{Addr: netip.MustParseAddr(a), State: int(st), HWAddr: hw, Expiry: time.Unix(0, exp), Server: srv})
	}
	if err := rows.Err(); err != nil {
		c.fatalf("read leases: %v", err)
	}
	return out
}

// checkDBUnique fails if one client (hardware address) holds two bound
// rows of which more than one was ACKed to it on the wire: the server gave
// it a second address while the first was live. (Two rows for one address
// cannot exist: addr is the primary key; an address ACKed to two clients
// shows in checkACKsInDB.) A bound row whose address was never ACKed to
// its client, beside the row of its last ACK, is an in-doubt commit: the
// transaction committed (on a synchronous standby) but the connection died
// before the server heard so, so it sent no ACK; the client got another
// address later. Those are returned, for the test to report.
func (c *clusterEnv) checkDBUnique(ls []dbLease) (inDoubt []string) {
	c.t.Helper()
	acked := map[string]map[netip.Addr]bool{}
	for _, r := range c.tap.all() {
		if !r.V6 && r.Type == dhcpAck {
			if acked[r.CHAddr] == nil {
				acked[r.CHAddr] = map[netip.Addr]bool{}
			}
			acked[r.CHAddr][r.YIAddr] = true
		}
	}
	byHW := map[string][]netip.Addr{}
	for _, l := range ls {
		if l.State == stateBound {
			byHW[l.HWAddr] = append(byHW[l.HWAddr], l.Addr)
		}
	}
	for hw, addrs := range byHW {
		if len(addrs) < 2 {
			continue
		}
		var ackedRows []netip.Addr
		for _, a := range addrs {
			if acked[hw][a] {
				ackedRows = append(ackedRows, a)
			} else {
				inDoubt = append(inDoubt, fmt.Sprintf("%s %v", hw, a))
			}
		}
		if len(ackedRows) > 1 {
			var seen []string
			for _, r := range c.tap.all() {
				if r.CHAddr == hw {
					seen = append(seen, fmt.Sprintf("%s type %d xid %08x yiaddr %v by %s", r.At.Format("15:04:05.000"), r.Type, r.XID, r.YIAddr, r.Server))
				}
			}
			c.fatalf("client %s holds %d bound addresses in the database, ACKed on the wire: %v; its replies:\n%s",
				hw, len(addrs), ackedRows, strings.Join(seen, "\n"))
		}
	}
	sort.Strings(inDoubt)
	return inDoubt
}

// checkACKsInDB compares the last DHCPACK each client got on the wire
// with the database: the row of that address must be bound to that client
// with an expiry no earlier than the ACK's (less slack for clock rounding).
// It also fails if two clients hold unexpired ACKs for one address. It
// returns the number of clients checked.
func (c *clusterEnv) checkACKsInDB(acks map[string]wireReply, ls []dbLease) int {
	c.t.Helper()
	if d := c.tap.dropped(); d > 0 {
		c.fatalf("the capture dropped %d frames: the record of ACKs on the wire is incomplete", d)
	}
	if errs := ackMismatches(acks, ls, time.Now()); len(errs) > 0 {
		if len(errs) > 20 {
			errs = append(errs[:20], fmt.Sprintf("... and %d more", len(errs)-20))
		}
		c.fatalf("ACKed leases wrong or missing in the database:\n%s", strings.Join(errs, "\n"))
	}
	return len(acks)
}

// ackMismatches is checkACKsInDB's comparison: acks is the last ACK per
// client (chaddr hex), ls the table's rows; it lists every ACK whose row
// is missing, another client's, not bound while the ACK runs, or expiring
// before the ACK's lease (less 2 s), and every address in the last ACKs
// of two clients whose leases overlap. Sorted.
func ackMismatches(acks map[string]wireReply, ls []dbLease, now time.Time) []string {
	byAddr := map[netip.Addr]dbLease{}
	for _, l := range ls {
		byAddr[l.Addr] = l
	}
	holders := map[netip.Addr][]wireReply{}
	var errs []string
	for hw, a := range acks {
		for _, prev := range holders[a.YIAddr] {
			if prev.Expiry().After(a.At) && a.Expiry().After(prev.At) {
				errs = append(errs, fmt.Sprintf("address %v ACKed to %s (by %s at %s) and to %s (by %s at %s) with both leases running",
					a.YIAddr, prev.CHAddr, prev.Server, prev.At.Format("15:04:05.000"), hw, a.Server, a.At.Format("15:04:05.000")))
			}
		}
		holders[a.YIAddr] = append(holders[a.YIAddr], a)
		row, ok := byAddr[a.YIAddr]
		switch {
		case !ok:
			errs = append(errs, fmt.Sprintf("ACK of %v to %s by %s at %s: no row in the database", a.YIAddr, hw, a.Server, a.At.Format("15:04:05.000")))
		case row.HWAddr != hw:
			errs = append(errs, fmt.Sprintf("ACK of %v to %s by %s at %s: the database row is %s's (state %d, written by %s)",
				a.YIAddr, hw, a.Server, a.At.Format("15:04:05.000"), row.HWAddr, row.State, row.Server))
		case row.State != stateBound && a.Expiry().After(now):
			errs = append(errs, fmt.Sprintf("ACK of %v to %s by %s: the database row is in state %d before the ACK's expiry", a.YIAddr, hw, a.Server, row.State))
		case row.Expiry.Before(a.Expiry().Add(-2 * time.Second)):
			errs = append(errs, fmt.Sprintf("ACK of %v to %s by %s until %s: the database row expires at %s",
				a.YIAddr, hw, a.Server, a.Expiry().Format("15:04:05.000"), row.Expiry.Format("15:04:05.000")))
		}
	}
	sort.Strings(errs)
	return errs
}

// --- replies on the wire -----------------------------------------------------

// wireReply is a DHCPv4 reply (UDP from port 67) or a DHCPv6 reply (UDP
// from port 547) a server put on the link.
type wireReply struct {
	At     time.Time
	Server string // server_name of the port it came from
	Type   byte   // option 53; DHCPv6: the message type
	XID    uint32 // DHCPv6: the 24-bit transaction id
	CHAddr string // hex, no colons; DHCPv6: the Client Identifier (DUID) in hex
	YIAddr netip.Addr
	Lease  time.Duration // option 51
	SrvID  netip.Addr    // option 54
	V6     bool
	Addr6  netip.Addr    // first IA_NA address
	Valid6 time.Duration // its valid lifetime
	PD6    netip.Prefix  // first IA_PD prefix
	PDV6   time.Duration // its valid lifetime
}

// Expiry is when the lease the reply grants ends.
func (r wireReply) Expiry() time.Time { return r.At.Add(r.Lease) }

const (
	dhcpOffer = 2
	dhcpAck   = 5
	dhcpNak   = 6
)

// replyTap records every DHCPv4 reply arriving at the hub from a server
// port (AF_PACKET sockets in the hub namespace): what the servers really
// sent, however they sent it (UDP socket or raw frame).
type replyTap struct {
	mu      sync.Mutex
	replies []wireReply
	drops   uint32 // frames the kernel dropped (PACKET_STATISTICS)
}

func (c *clusterEnv) startTap() *replyTap {
	c.t.Helper()
	tap := &replyTap{}
	for i := range c.link.Servers {
		port, server := netns.HubServerPort(i), serverName(i)
		var fd int
		err := c.link.Hub.Do(func() error {
			ifi, err := net.InterfaceByName(port)
			if err != nil {
				return err
			}
			// ETH_P_ALL: on a bridge port only the all-protocols taps
			// see a frame; the bridge takes it before the per-protocol
			// handlers.
			fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ALL)))
			if err != nil {
				return err
			}
			if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifi.Index}); err != nil {
				unix.Close(fd)
				return err
			}
			// A large buffer, so a burst of replies is not dropped
			// (checked: dropped frames fail the wire comparisons).
			if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 8<<20); err != nil {
				unix.Close(fd)
				return err
			}
			// Bounded reads, so the reader notices the end of the test.
			tv := unix.NsecToTimeval((200 * time.Millisecond).Nanoseconds())
			return unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
		})
		if err != nil {
			c.t.Fatalf("capture on %s: %v", port, err)
		}
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			defer unix.Close(fd)
			buf := make([]byte, 2048)
			for {
				select {
				case <-stop:
					return
				default:
				}
				if st, err := unix.GetsockoptTpacketStats(fd, unix.SOL_PACKET, unix.PACKET_STATISTICS); err == nil && st.Drops > 0 {
					tap.mu.Lock()
					tap.drops += st.Drops // reading the statistics resets them
					tap.mu.Unlock()
				}
				n, from, err := unix.Recvfrom(fd, buf, 0)
				if err != nil {
					if err == unix.EAGAIN || err == unix.EINTR {
						continue
					}
					return
				}
				// Only frames the server sent (arriving at the hub).
				if ll, ok := from.(*unix.SockaddrLinklayer); ok && ll.Pkttype == unix.PACKET_OUTGOING {
					continue
				}
				r, ok := parseReply(buf[:n])
				if !ok {
					r, ok = parseReply6(buf[:n])
				}
				if ok {
					r.At, r.Server = time.Now(), server
					tap.mu.Lock()
					tap.replies = append(tap.replies, r)
					tap.mu.Unlock()
				}
			}
		}()
		c.t.Cleanup(func() { close(stop); <-done })
	}
	return tap
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// parseReply reads an Ethernet frame holding IPv4/UDP from port 67 with a
// BOOTREPLY carrying option 53.
func parseReply(f []byte) (wireReply, bool) {
	var r wireReply
	if len(f) < 14+20 || binary.BigEndian.Uint16(f[12:14]) != 0x0800 {
		return r, false
	}
	ip := f[14:]
	ihl := int(ip[0]&0x0f) * 4
	if ip[0]>>4 != 4 || ip[9] != syscall.IPPROTO_UDP || len(ip) < ihl+8 {
		return r, false
	}
	udp := ip[ihl:]
	if binary.BigEndian.Uint16(udp[0:2]) != 67 {
		return r, false
	}
	m := udp[8:]
	if len(m) < 240 || m[0] != 2 || binary.BigEndian.Uint32(m[236:240]) != 0x63825363 {
		return r, false
	}
	r.XID = binary.BigEndian.Uint32(m[4:8])
	r.YIAddr = netip.AddrFrom4([4]byte(m[16:20]))
	hl := min(int(m[2]), 16)
	r.CHAddr = hex.EncodeToString(m[28 : 28+hl])
	for o := m[240:]; len(o) > 0; {
		code := o[0]
		if code == 255 {
			break
		}
		if code == 0 {
			o = o[1:]
			continue
		}
		if len(o) < 2 || len(o) < 2+int(o[1]) {
			break
		}
		v := o[2 : 2+int(o[1])]
		switch {
		case code == 53 && len(v) == 1:
			r.Type = v[0]
		case code == 51 && len(v) == 4:
			r.Lease = time.Duration(binary.BigEndian.Uint32(v)) * time.Second
		case code == 54 && len(v) == 4:
			r.SrvID = netip.AddrFrom4([4]byte(v))
		}
		o = o[2+len(v):]
	}
	return r, r.Type != 0
}

// all returns a copy of the replies seen so far.
func (t *replyTap) all() []wireReply {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]wireReply(nil), t.replies...)
}

// dropped is the number of frames the capture lost so far (the kernel's
// count, read before each receive).
func (t *replyTap) dropped() uint32 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.drops
}

// lastACKs is the last DHCPACK each client (chaddr) got, from any server.
func (t *replyTap) lastACKs() map[string]wireReply {
	m := map[string]wireReply{}
	for _, r := range t.all() {
		if !r.V6 && r.Type == dhcpAck && r.YIAddr.IsValid() && !r.YIAddr.IsUnspecified() {
			m[r.CHAddr] = r
		}
	}
	return m
}

// DHCPv6 message types (RFC 8415 §7.3).
const (
	dhcp6Advertise = 2
	dhcp6Reply     = 7
)

// parseReply6 reads an Ethernet frame holding IPv6/UDP from port 547 (no
// extension headers) with an Advertise or Reply: the client's DUID, the
// first IA_NA address and the first IA_PD prefix with their valid
// lifetimes.
func parseReply6(f []byte) (wireReply, bool) {
	var r wireReply
	if len(f) < 14+40+8+4 || binary.BigEndian.Uint16(f[12:14]) != 0x86dd {
		return r, false
	}
	ip := f[14:]
	if ip[6] != syscall.IPPROTO_UDP {
		return r, false
	}
	udp := ip[40:]
	if binary.BigEndian.Uint16(udp[0:2]) != 547 {
		return r, false
	}
	m := udp[8:]
	if m[0] != dhcp6Advertise && m[0] != dhcp6Reply {
		return r, false
	}
	r.V6, r.Type = true, m[0]
	r.XID = uint32(m[1])<<16 | uint32(m[2])<<8 | uint32(m[3])
	opts := func(b []byte, fn func(code uint16, v []byte)) {
		for len(b) >= 4 {
			code, n := binary.BigEndian.Uint16(b[0:2]), int(binary.BigEndian.Uint16(b[2:4]))
			if len(b) < 4+n {
				return
			}
			fn(code, b[4:4+n])
			b = b[4+n:]
		}
	}
	opts(m[4:], func(code uint16, v []byte) {
		switch {
		case code == 1:
			r.CHAddr = hex.EncodeToString(v)
		case code == 3 && len(v) >= 12: // IA_NA: IAID, T1, T2, options
			opts(v[12:], func(c uint16, a []byte) {
				if c == 5 && len(a) >= 24 && !r.Addr6.IsValid() { // IAADDR
					r.Addr6 = netip.AddrFrom16([16]byte(a[0:16]))
					r.Valid6 = time.Duration(binary.BigEndian.Uint32(a[20:24])) * time.Second
				}
			})
		case code == 25 && len(v) >= 12: // IA_PD
			opts(v[12:], func(c uint16, a []byte) {
				if c == 26 && len(a) >= 25 && !r.PD6.IsValid() { // IAPREFIX
					r.PDV6 = time.Duration(binary.BigEndian.Uint32(a[4:8])) * time.Second
					r.PD6 = netip.PrefixFrom(netip.AddrFrom16([16]byte(a[9:25])), int(a[8]))
				}
			})
		}
	})
	return r, r.CHAddr != ""
}
