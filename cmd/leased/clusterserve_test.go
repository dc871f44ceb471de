package main

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/leased/leased/api"
	"github.com/leased/leased/internal/pgtest"
)

// clusterConfigYAML is pgConfig with a cluster section: short heartbeat
// and take-over delay, blocks of 16.
func clusterConfigYAML(dir, dsn, name string) string {
	return fmt.Sprintf(`server_name: %s
control:
  socket: %s/run/control.sock
store:
  postgres:
    dsn: %q
cluster:
  heartbeat: 200ms
  take_over_after: 1s
  block_size: 16
`, name, dir, dsn) + v6Section
}

// daemon is a leased run() in this process.
type daemon struct {
	name, sock string
	log        *lockedBuffer
	sigs       chan os.Signal
	done       chan int
}

func startDaemon(t *testing.T, name, dsn string) *daemon {
	t.Helper()
	dir := t.TempDir()
	path := writeConfig(t, dir, clusterConfigYAML(dir, dsn, name))
	d := &daemon{name: name, sock: filepath.Join(dir, "run", "control.sock"), log: &lockedBuffer{},
		sigs: make(chan os.Signal, 2), done: make(chan int, 1)}
	go func() { d.done <- run([]string{"--config", path, "--log-format", "json"}, os.Stdout, d.log, d.sigs) }()
	t.Cleanup(func() { d.stop(t) })
	waitHealthy(t, d.sock, d.log)
	return d
}

func (d *daemon) stop(t *testing.T) {
	t.Helper()
	if d.done == nil {
		return
	}
	d.sigs <- syscall.SIGTERM
	select {
	case code := <-d.done:
		if code != 0 {
			t.Errorf("%s: exit %d; log:\n%s", d.name, code, d.log)
		}
	case <-time.After(20 * time.Second):
		t.Errorf("%s did not stop", d.name)
	}
	d.done = nil
}

func (d *daemon) port6(t *testing.T) int {
	t.Helper()
	port, _ := logField(d.log.String(), "serving dhcpv6", "port").(float64)
	if port == 0 {
		t.Fatalf("%s: no dhcpv6 port in the log:\n%s", d.name, d.log)
	}
	return int(port)
}

func (d *daemon) cluster(t *testing.T) api.ClusterStatus {
	t.Helper()
	var st api.ClusterStatus
	if code := apiGet(t, d.sock, "/v1/cluster", &st); code != 200 {
		t.Fatalf("%s: GET /v1/cluster: %d", d.name, code)
	}
	return st
}

func blocksOf(st api.ClusterStatus, name string) []api.ClusterBlock {
	for _, s := range st.Servers {
		if s.Name == name {
			return s.Blocks
		}
	}
	return nil
}

func inBlocks(a netip.Addr, bs []api.ClusterBlock) bool {
	for _, b := range bs {
		if b.First.Compare(a) <= 0 && a.Compare(b.Last) <= 0 {
			return true
		}
	}
	return false
}

// TestClusterServe: two leased processes' run() with a cluster section on
// one PostgreSQL database. Both are healthy, GET /v1/cluster lists both
// live with their blocks (IA_NA and IA_PD), every address a Reply gives
// lies in a block of the server that gave it, and when one stops the
// other takes its blocks over within a heartbeat or two.
func TestClusterServe(t *testing.T) {
	dsn := pgtest.DB(t)
	a := startDaemon(t, "dhcp-a", dsn)
	b := startDaemon(t, "dhcp-b", dsn)
	deadline := time.Now().Add(10 * time.Second)
	for {
		st := a.cluster(t)
		if len(st.Servers) == 2 && st.Servers[0].State == "live" && st.Servers[1].State == "live" &&
			len(blocksOf(st, "dhcp-a")) >= 2 && len(blocksOf(st, "dhcp-b")) >= 2 {
			break // a block of addresses and one of prefixes each
		}
		if time.Now().After(deadline) {
			t.Fatalf("cluster listing: %+v", st)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if v := logField(a.log.String(), "lease store: postgresql", "cluster"); v != true {
		t.Errorf("store not opened in cluster mode: %v", v)
	}

	// Each server's control plane has seen the other (its live set, which
	// the RFC 3074 filter uses, is logged when it changes).
	for _, d := range []*daemon{a, b} {
		deadline := time.Now().Add(20 * time.Second)
		for !strings.Contains(d.log.String(), `"msg":"cluster: live servers","servers":["dhcp-a","dhcp-b"]`) {
			if time.Now().After(deadline) {
				t.Fatalf("%s never logged both servers live:\n%s", d.name, d.log)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	ca, cb := newV6Client(t, a.port6(t)), newV6Client(t, b.port6(t))
	answered := map[string]int{}
	seen := map[netip.Addr]bool{}
	for i := range 12 {
		duid := []byte{0, 3, 0, 1, 2, 0, 0, 0, 1, byte(i)}
		// The RFC 3074 filter may leave the client to the other server.
		var got bound
		var by *daemon
		for _, x := range []struct {
			c *v6Client
			d *daemon
		}{{ca, a}, {cb, b}} {
			if r, err := x.c.bind(duid, uint32(100*i+1), time.Second); err == nil {
				got, by = r, x.d
				break
			}
		}
		if by == nil {
			t.Fatalf("client %d: no server bound it", i)
		}
		answered[by.name]++
		if seen[got.addr] {
			t.Fatalf("%v given twice", got.addr)
		}
		seen[got.addr] = true
		if bs := blocksOf(a.cluster(t), by.name); !inBlocks(got.addr, bs) {
			t.Errorf("%s gave %v outside its blocks %+v", by.name, got.addr, bs)
		}
	}
	t.Logf("clients bound by server: %v", answered)
	// The control plane's live set reached the RFC 3074 filter: each
	// server left some clients (their hash buckets) to the other.
	if len(answered) != 2 {
		t.Errorf("one server answered every client: %v", answered)
	}

	bBlocks := blocksOf(a.cluster(t), "dhcp-b")
	b.stop(t)
	deadline = time.Now().Add(10 * time.Second)
	for {
		st := a.cluster(t)
		mine := blocksOf(st, "dhcp-a")
		all := len(blocksOf(st, "dhcp-b")) == 0
		for _, bb := range bBlocks {
			all = all && slices.ContainsFunc(mine, func(x api.ClusterBlock) bool { return x.First == bb.First && x.Last == bb.Last })
		}
		if all {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("dhcp-b's blocks %+v not taken over by dhcp-a: %+v", bBlocks, st)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(a.log.String(), "took over a dead server") {
		t.Error("no take-over logged")
	}
}
