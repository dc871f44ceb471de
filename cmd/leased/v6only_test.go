package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/leased/leased/dhcpv6"
	"github.com/leased/leased/lease"
	"github.com/leased/leased/server"
	"github.com/leased/leased/store/wal"
)

// v6OnlyConfig has no dhcpv4 section; store.compact_every 1 makes every
// commit compact the store.
func v6OnlyConfig(dir string) string {
	return fmt.Sprintf(`data_dir: %s/data
control:
  socket: %s/run/control.sock
store:
  compact_every: 1
`, dir, dir) + v6Section
}

// apiGet GETs path on the control socket and decodes the JSON answer.
func apiGet(t *testing.T, sock, path string, v any) int {
	t.Helper()
	c := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		},
	}}
	resp, err := c.Get("http://leased" + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	_ = json.NewDecoder(resp.Body).Decode(v)
	return resp.StatusCode
}

// logField returns field of the first JSON log line with msg.
func logField(log, msg, field string) any {
	for _, line := range strings.Split(log, "\n") {
		if !strings.Contains(line, `"msg":"`+msg+`"`) {
			continue
		}
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil {
			return m[field]
		}
	}
	return nil
}

// relayed wraps a client message in a Relay-forward with the Relay Source
// Port option (RFC 8357), so the server answers to the test's port.
func relayed(t *testing.T, typ dhcpv6.MessageType, xid uint32, duid, serverID []byte) []byte {
	t.Helper()
	var w dhcpv6.Writer
	w.Reset(make([]byte, 0, 1024))
	w.RelayHeader(dhcpv6.RelayForward, 0, netip.MustParseAddr("fd77::1"), netip.MustParseAddr("fe80::9"))
	w.OptionUint16(server.OptRelaySourcePort, 0)
	w.BeginOption(dhcpv6.OptRelayMsg)
	w.Header(typ, xid)
	w.Option(dhcpv6.OptClientID, duid)
	if serverID != nil {
		w.Option(dhcpv6.OptServerID, serverID)
	}
	w.OptionUint16(dhcpv6.OptElapsedTime, 0)
	w.BeginIA(dhcpv6.OptIANA, 1, 0, 0)
	w.EndOption()
	w.EndOption()
	out, err := w.End()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestServeDHCPv6Only: a configuration without a dhcpv4 section passes
// --check and serves DHCPv6 (relayed Solicit/Request over loopback) with
// the control API healthy and no DHCPv4 socket. DHCPv4 records already in
// the store are held: the compaction after the Request keeps them, and
// the next dual-stack start serves them again.
func TestServeDHCPv6Only(t *testing.T) {
	dir := t.TempDir()
	path := writeConfig(t, dir, v6OnlyConfig(dir))
	sock := filepath.Join(dir, "run", "control.sock")
	var out, errb lockedBuffer
	if code := run([]string{"--config", path, "--check"}, &out, &errb, nil); code != 0 || out.String() != "config OK\n" {
		t.Fatalf("--check of a DHCPv6-only config: exit %d %q %s", code, out.String(), errb.String())
	}

	// A DHCPv4 lease from an earlier dual-stack run.
	v4 := lease.Lease{Addr: netip.MustParseAddr("127.0.0.150"), ClientID: []byte{1, 2, 3, 4, 5, 6, 7}, HType: 1,
		HWAddr: []byte{2, 3, 4, 5, 6, 7}, Pool: "first", State: lease.StateBound,
		Start: time.Now().Add(-time.Minute), Expiry: time.Now().Add(time.Hour)}
	w, err := wal.Open(filepath.Join(dir, "data"), wal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(context.Background(), []lease.Lease{v4}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	sigs := make(chan os.Signal, 2)
	var stderr lockedBuffer
	done := make(chan int, 1)
	go func() { done <- run([]string{"--config", path, "--log-format", "json"}, os.Stdout, &stderr, sigs) }()
	stopped := false
	stopLeased := func() {
		t.Helper()
		if stopped {
			return
		}
		stopped = true
		sigs <- syscall.SIGTERM
		select {
		case code := <-done:
			if code != 0 {
				t.Fatalf("exit %d; log:\n%s", code, stderr.String())
			}
		case <-time.After(10 * time.Second):
			t.Fatal("leased did not stop")
		}
	}
	t.Cleanup(stopLeased)
	deadline := time.Now().Add(20 * time.Second)
	for {
		if code, h := health(t, sock); code == 200 && h["status"] == "ok" {
			// office6 and office6/pd; no DHCPv4 pool.
			if h["pools"] != float64(2) {
				t.Errorf("health %v", h)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("control API never healthy; log:\n%s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	log := stderr.String()
	if logField(log, "serving", "dhcpv4") != false || logField(log, "serving", "port") != float64(0) {
		t.Errorf("serving line: dhcpv4 %v port %v", logField(log, "serving", "dhcpv4"), logField(log, "serving", "port"))
	}
	if v := logField(log, "the store holds leases of a family that is not configured: they are kept as they are and not served", "dhcpv4_records"); v != float64(1) {
		t.Errorf("held records log: %v\n%s", v, log)
	}
	port6, _ := logField(log, "serving dhcpv6", "port").(float64)
	if port6 == 0 {
		t.Fatalf("no dhcpv6 port in the log:\n%s", log)
	}

	conn, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	to := netip.AddrPortFrom(netip.IPv6Loopback(), uint16(port6))
	exchange := func(msg []byte) *dhcpv6.Message {
		t.Helper()
		if _, err := conn.WriteToUDPAddrPort(msg, to); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 4096)
		_ = conn.SetReadDeadline(time.Now().Add(3 * time.Second))
		n, _, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatalf("no answer: %v; log:\n%s", err, stderr.String())
		}
		m := new(dhcpv6.Message)
		if err := m.Decode(buf[:n]); err != nil {
			t.Fatal(err)
		}
		return m
	}
	duid := []byte{0, 3, 0, 1, 2, 0, 0, 0, 0, 0x66}
	adv := exchange(relayed(t, dhcpv6.Solicit, 1, duid, nil))
	if adv.Type != dhcpv6.Advertise {
		t.Fatalf("Solicit answered with %v", adv.Type)
	}
	rep := exchange(relayed(t, dhcpv6.Request, 2, duid, adv.ServerID()))
	if rep.Type != dhcpv6.Reply {
		t.Fatalf("Request answered with %v", rep.Type)
	}
	var ls []map[string]any
	if code := apiGet(t, sock, "/v1/leases", &ls); code != 200 || len(ls) != 1 || !strings.HasPrefix(fmt.Sprint(ls[0]["address"]), "fd77::1:") {
		t.Errorf("leases %d %v", code, ls)
	}
	// compact_every 1: the Request's commit compacted the store.
	deadline = time.Now().Add(5 * time.Second)
	for !strings.Contains(stderr.String(), `"msg":"store compacted"`) {
		if time.Now().After(deadline) {
			t.Fatalf("no compaction; log:\n%s", stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	stopLeased()

	// Dual stack again: the held DHCPv4 lease is served.
	writeConfig(t, dir, validConfig(dir, "first")+v6Section)
	serveOnce(t, path, sock, func() {
		var l map[string]any
		if code := apiGet(t, sock, "/v1/leases/127.0.0.150", &l); code != 200 || l["state"] != "bound" {
			t.Errorf("held DHCPv4 lease after compaction: %d %v", code, l)
		}
	})
}
