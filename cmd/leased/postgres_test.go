package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/leased/leased/dhcpv6"
	"github.com/leased/leased/internal/pgtest"
	"github.com/leased/leased/lease"
)

// TestMain stops the package's PostgreSQL (internal/pgtest) after the
// tests. With LEASED_TEST_DAEMON set, the test binary is leased itself
// (run with the arguments in LEASED_TEST_ARGS): the crash test kills that
// process with SIGKILL.
func TestMain(m *testing.M) {
	if os.Getenv("LEASED_TEST_DAEMON") == "1" {
		sigs := make(chan os.Signal, 4)
		signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
		os.Exit(run(strings.Fields(os.Getenv("LEASED_TEST_ARGS")), os.Stdout, os.Stderr, sigs))
	}
	pgtest.Main(m)
}

// pgConfig serves DHCPv6 on loopback with its leases in PostgreSQL: no
// data_dir.
func pgConfig(dir, dsn, name string) string {
	return fmt.Sprintf(`server_name: %s
control:
  socket: %s/run/control.sock
store:
  postgres:
    dsn: %q
`, name, dir, dsn) + v6Section
}

// v6Client binds addresses with relayed Solicit/Request over loopback.
type v6Client struct {
	t    *testing.T
	conn *net.UDPConn
	to   netip.AddrPort
}

func newV6Client(t *testing.T, port int) *v6Client {
	conn, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &v6Client{t: t, conn: conn, to: netip.AddrPortFrom(netip.IPv6Loopback(), uint16(port))}
}

func (c *v6Client) exchange(msg []byte, timeout time.Duration) (*dhcpv6.Message, error) {
	if _, err := c.conn.WriteToUDPAddrPort(msg, c.to); err != nil {
		return nil, err
	}
	buf := make([]byte, 4096)
	_ = c.conn.SetReadDeadline(time.Now().Add(timeout))
	n, _, err := c.conn.ReadFromUDPAddrPort(buf)
	if err != nil {
		return nil, err
	}
	m := new(dhcpv6.Message)
	if err := m.Decode(buf[:n]); err != nil {
		return nil, err
	}
	return m, nil
}

// bound is an address a Reply gave: the client, the address and the
// earliest expiry the Reply promised.
type bound struct {
	duid   []byte
	addr   netip.Addr
	expiry time.Time
	xid    uint32 // of the Request
}

// bind runs Solicit and Request for duid and returns what the Reply gave.
func (c *v6Client) bind(duid []byte, xid uint32, timeout time.Duration) (bound, error) {
	adv, err := c.exchange(relayed(c.t, dhcpv6.Solicit, xid, duid, nil), timeout)
	if err != nil {
		return bound{}, err
	}
	if adv.Type != dhcpv6.Advertise {
		return bound{}, fmt.Errorf("Solicit answered with %v", adv.Type)
	}
	sent := time.Now()
	rep, err := c.exchange(relayed(c.t, dhcpv6.Request, xid+1, duid, adv.ServerID()), timeout)
	if err != nil {
		return bound{}, err
	}
	if rep.Type != dhcpv6.Reply {
		return bound{}, fmt.Errorf("Request answered with %v", rep.Type)
	}
	ia, ok := rep.IANA()
	if !ok {
		return bound{}, fmt.Errorf("Reply without IA_NA")
	}
	it := ia.Addrs()
	if !it.Next() {
		return bound{}, fmt.Errorf("Reply without an address")
	}
	a, err := dhcpv6.ParseIAAddr(it.Data())
	if err != nil || a.ValidLifetime == 0 {
		return bound{}, fmt.Errorf("Reply address %v: %v", a, err)
	}
	return bound{duid: duid, addr: a.Addr, expiry: sent.Add(time.Duration(a.ValidLifetime) * time.Second), xid: xid + 1}, nil
}

func waitHealthy(t *testing.T, sock string, log fmt.Stringer) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if code, h := health(t, sock); code == 200 && h["status"] == "ok" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("control API never healthy; log:\n%s", log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestServePostgres: leased with store.postgres serves, its leases and
// its DHCPv6 server DUID (a blob) are in the database, and after a
// restart they are back; the server is registered with a new epoch at
// each start.
func TestServePostgres(t *testing.T) {
	dsn := pgtest.DB(t)
	dir := t.TempDir()
	path := writeConfig(t, dir, pgConfig(dir, dsn, "pg-a"))
	sock := filepath.Join(dir, "run", "control.sock")
	var out, errb lockedBuffer
	if code := run([]string{"--config", path, "--check"}, &out, &errb, nil); code != 0 {
		t.Fatalf("--check: exit %d %s", code, errb.String())
	}

	var first []bound
	log1 := serveWith(t, path, sock, func(log *lockedBuffer) {
		var h map[string]any
		apiGet(t, sock, "/v1/health", &h)
		if h["store"] != "postgres (server pg-a)" {
			t.Errorf("health store %v", h["store"])
		}
		port, _ := logField(log.String(), "serving dhcpv6", "port").(float64)
		c := newV6Client(t, int(port))
		// A second server on the same database is refused while this one
		// lives (one server per database until the cluster work).
		dir2 := t.TempDir()
		var out2, err2 lockedBuffer
		done2 := make(chan int, 1)
		go func() {
			done2 <- run([]string{"--config", writeConfig(t, dir2, pgConfig(dir2, dsn, "pg-b"))}, &out2, &err2, nil)
		}()
		select {
		case code := <-done2:
			if code != 1 || !strings.Contains(err2.String(), `server \"pg-a\" is using this database`) {
				t.Errorf("second server: exit %d; log:\n%s", code, err2.String())
			}
		case <-time.After(30 * time.Second):
			t.Fatal("a second server on the same database started")
		}
		for i := range 5 {
			b, err := c.bind([]byte{0, 3, 0, 1, 2, 0, 0, 0, 0, byte(i)}, uint32(10*i+1), 3*time.Second)
			if err != nil {
				t.Fatalf("bind %d: %v", i, err)
			}
			first = append(first, b)
		}
	})
	if _, err := os.Stat(filepath.Join(dir, "data")); !os.IsNotExist(err) {
		t.Errorf("a data directory was made with the PostgreSQL store: %v", err)
	}
	if v := logField(log1, "lease store: postgresql", "epoch"); v != float64(1) {
		t.Errorf("first start epoch %v", v)
	}

	// In the database: one bound row per address, the client's DUID.
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, b := range first {
		var cid []byte
		var state int16
		if err := conn.QueryRow(ctx, "SELECT client_id, state FROM leases WHERE addr = $1", b.addr).Scan(&cid, &state); err != nil {
			t.Fatalf("lease %v: %v", b.addr, err)
		}
		if !bytes.Equal(cid, b.duid) || lease.State(state) != lease.StateBound {
			t.Errorf("lease %v: client %x state %v", b.addr, cid, lease.State(state))
		}
	}

	// Restart: the leases are back, the DUID is the same.
	log2 := serveOnce(t, path, sock, func() {
		var ls []map[string]any
		if code := apiGet(t, sock, "/v1/leases", &ls); code != 200 || len(ls) != len(first) {
			t.Errorf("after restart: leases %d %v", code, ls)
		}
		for _, b := range first {
			var l map[string]any
			if code := apiGet(t, sock, "/v1/leases/"+b.addr.String(), &l); code != 200 || l["state"] != "bound" {
				t.Errorf("lease %v after restart: %d %v", b.addr, code, l)
			}
		}
	})
	if d1, d2 := serverDUID(t, log1), serverDUID(t, log2); d1 != d2 {
		t.Errorf("server DUID changed across a restart: %s -> %s", d1, d2)
	}
	if v := logField(log2, "lease store: postgresql", "epoch"); v != float64(2) {
		t.Errorf("second start epoch %v", v)
	}
	var epoch int64
	if err := conn.QueryRow(ctx, "SELECT epoch FROM servers WHERE server_name = 'pg-a'").Scan(&epoch); err != nil || epoch != 2 {
		t.Errorf("servers row: epoch %d, %v", epoch, err)
	}
}

// serveWith is serveOnce whose callback sees the running leased's log.
func serveWith(t *testing.T, path, sock string, after func(log *lockedBuffer)) string {
	t.Helper()
	sigs := make(chan os.Signal, 2)
	var stderr lockedBuffer
	done := make(chan int, 1)
	go func() { done <- run([]string{"--config", path, "--log-format", "json"}, os.Stdout, &stderr, sigs) }()
	waitHealthy(t, sock, &stderr)
	after(&stderr)
	sigs <- syscall.SIGTERM
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d; log:\n%s", code, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("leased did not stop")
	}
	return stderr.String()
}

// TestCrashPostgres: leased on PostgreSQL is killed with SIGKILL while
// many clients bind and re-bind, three times; after that every address a
// Reply gave is in the database with that client and an expiry no earlier
// than the client's latest Reply promised, no client holds two addresses,
// and leased serves them all again after a restart.
func TestCrashPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the crash test runs leased under load for seconds")
	}
	dsn := pgtest.DB(t)
	dir := t.TempDir()
	path := writeConfig(t, dir, pgConfig(dir, dsn, "pg-crash"))
	sock := filepath.Join(dir, "run", "control.sock")

	const (
		workers  = 16
		perWork  = 10 // clients per worker: each binds, then re-binds again and again
		cycles   = 3
		perCycle = 200 // Replies before each kill
	)
	var (
		mu     sync.Mutex
		latest = map[string]bound{} // by DUID: the latest Reply
		total  int
		fails  int
	)
	for cycle := range cycles {
		var logb lockedBuffer
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "LEASED_TEST_DAEMON=1", "LEASED_TEST_ARGS=--config "+path+" --log-format json")
		cmd.Stdout, cmd.Stderr = &logb, &logb
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		killed := false
		kill := func() {
			if !killed {
				killed = true
				cmd.Process.Kill() // the PID this test started
				<-exited
			}
		}
		waitHealthy(t, sock, &logb)
		port, _ := logField(logb.String(), "serving dhcpv6", "port").(float64)
		if port == 0 {
			kill()
			t.Fatalf("no dhcpv6 port in the log:\n%s", logb.String())
		}
		var wg sync.WaitGroup
		stop := make(chan struct{})
		n := 0
		for w := range workers {
			c := newV6Client(t, int(port))
			wg.Go(func() {
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					k := (i*7 + cycle*31) % perWork
					duid := []byte{0, 3, 0, 1, 2, 0xc7, 0, byte(w), byte(k >> 8), byte(k)}
					b, err := c.bind(duid, uint32(cycle*workers+w)<<18|uint32(i&0xffff)<<2, 500*time.Millisecond) // 24-bit xids
					mu.Lock()
					if err != nil {
						fails++
					} else {
						latest[string(duid)] = b
						total++
						n++
					}
					mu.Unlock()
				}
			})
		}
		deadline := time.Now().Add(20 * time.Second)
		for {
			mu.Lock()
			got := n
			mu.Unlock()
			if got >= perCycle {
				break
			}
			if time.Now().After(deadline) {
				kill()
				close(stop)
				wg.Wait()
				t.Fatalf("cycle %d: only %d Replies in 20 s; log:\n%s", cycle, got, logb.String())
			}
			time.Sleep(5 * time.Millisecond)
		}
		kill() // under load: requests are in flight
		close(stop)
		wg.Wait()
	}
	acked := make([]bound, 0, len(latest))
	for _, b := range latest {
		acked = append(acked, b)
	}
	t.Logf("%d Replies in %d cycles (%d clients), %d exchanges unanswered", total, cycles, len(acked), fails)

	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	missing := 0
	for _, b := range acked {
		var cid []byte
		var state int16
		var expiry, xid int64
		err := conn.QueryRow(ctx, "SELECT client_id, state, expiry_ns, xid FROM leases WHERE addr = $1", b.addr).Scan(&cid, &state, &expiry, &xid)
		switch {
		case err != nil:
			missing++
			if missing < 10 {
				t.Errorf("acknowledged %v for %x: not in the database: %v", b.addr, b.duid, err)
			}
		case !bytes.Equal(cid, b.duid) || lease.State(state) != lease.StateBound:
			t.Errorf("acknowledged %v for %x: row has client %x state %v", b.addr, b.duid, cid, lease.State(state))
		case time.Unix(0, expiry).Before(b.expiry.Add(-time.Second)):
			t.Errorf("acknowledged %v until %v: row expires %v", b.addr, b.expiry, time.Unix(0, expiry))
		case uint32(xid) < b.xid:
			// A client's xids grow: an older xid in the row means the
			// commit of its latest acknowledged Request was lost.
			t.Errorf("acknowledged %v for %x at xid %#x: row holds older xid %#x", b.addr, b.duid, b.xid, xid)
		}
	}
	if missing > 0 {
		t.Fatalf("%d of %d acknowledged leases missing after SIGKILL", missing, len(acked))
	}
	var dup int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM (SELECT client_id FROM leases WHERE state = $1
		GROUP BY client_id HAVING count(*) > 1) d`, int16(lease.StateBound)).Scan(&dup); err != nil || dup != 0 {
		t.Errorf("%d clients hold two addresses (%v)", dup, err)
	}

	// Restart in-process: every acknowledged lease is served again.
	serveOnce(t, path, sock, func() {
		for _, b := range acked[:min(len(acked), 50)] {
			var l map[string]any
			if code := apiGet(t, sock, "/v1/leases/"+b.addr.String(), &l); code != 200 || l["state"] != "bound" {
				t.Errorf("lease %v after restart: %d %v", b.addr, code, l)
			}
		}
		var ls []map[string]any
		if code := apiGet(t, sock, "/v1/leases", &ls); code != 200 || len(ls) < len(acked) {
			t.Errorf("after restart %d leases, want at least %d", len(ls), len(acked))
		}
	})
}
