package main

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/leased/leased/api"
	"github.com/leased/leased/internal/pgtest"
)

// TestReservationsRestart: a runtime reservation added through the
// control socket of a real leased is handed out at once, survives a
// SIGHUP reload and a restart (a store blob) on both stores — the log
// and PostgreSQL — and is listed beside the configured one; the
// configured one cannot be deleted through the API (409).
func TestReservationsRestart(t *testing.T) {
	for _, store := range []string{"wal", "postgres"} {
		t.Run(store, func(t *testing.T) {
			dir := t.TempDir()
			var body string
			if store == "wal" {
				body = "data_dir: " + dir + "/data\ncontrol:\n  socket: " + dir + "/run/control.sock\n" + v6Section
			} else {
				body = pgConfig(dir, pgtest.DB(t), "res-a")
			}
			body += `      reservations:
        - {duid: "00:03:00:01:02:00:00:00:00:09", address: "fd77::9", hostname: filed}
`
			path := writeConfig(t, dir, body)
			sock := filepath.Join(dir, "run", "control.sock")
			duid := []byte{0, 3, 0, 1, 2, 0, 0, 0, 0, 0x42}
			reserved := netip.MustParseAddr("fd77::1:4242")
			ctx := context.Background()
			c := api.NewUnixClient(sock, 5*time.Second)

			serveReloading(t, path, sock, func(log *lockedBuffer, reload func(*lockedBuffer)) {
				port, _ := logField(log.String(), "serving dhcpv6", "port").(float64)
				got, err := c.AddReservation(ctx, api.Reservation{Address: reserved, DUID: "00:03:00:01:02:00:00:00:00:42", Hostname: "added"})
				if err != nil || got.Pool != "office6" {
					t.Fatalf("add: %+v, %v", got, err)
				}
				b, err := newV6Client(t, int(port)).bind(duid, 0x100, 3*time.Second)
				if err != nil || b.addr != reserved {
					t.Fatalf("bind after add: %v %v, want %v", b.addr, err, reserved)
				}
				var se *api.StatusError
				if err := c.DeleteReservation(ctx, "fd77::9"); !errors.As(err, &se) || se.Code != http.StatusConflict ||
					!strings.Contains(se.Message, "edit the configuration file") {
					t.Errorf("delete the configured reservation: %v, want 409", err)
				}
				if _, err := c.AddReservation(ctx, api.Reservation{Address: netip.MustParseAddr("fd77::9"), DUID: "00:03:00:01:02:00:00:00:00:43"}); !errors.As(err, &se) || se.Code != http.StatusConflict {
					t.Errorf("reserve the configured address for another client: %v, want 409", err)
				}
				// A reload of the file keeps the runtime reservation.
				if err := os.WriteFile(path, []byte(strings.Replace(body, "hostname: filed", "hostname: refiled", 1)), 0o600); err != nil {
					t.Fatal(err)
				}
				reload(log)
				list, err := c.Reservations(ctx, 6)
				if err != nil || len(list) != 2 || list[0].Hostname != "refiled" || list[1].Address != reserved || list[1].Problem != "" {
					t.Fatalf("after reload: %+v %v", list, err)
				}
				b, err = newV6Client(t, int(port)).bind(duid, 0x110, 3*time.Second)
				if err != nil || b.addr != reserved {
					t.Fatalf("bind after reload: %v %v, want %v", b.addr, err, reserved)
				}
			})
			// Restart: both listed, the runtime one in force.
			serveWith(t, path, sock, func(log *lockedBuffer) {
				list, err := c.Reservations(ctx, 6)
				if err != nil {
					t.Fatal(err)
				}
				if len(list) != 2 || list[0].Source != api.SourceConfig || list[0].Hostname != "refiled" ||
					list[1].Source != api.SourceRuntime || list[1].Address != reserved || list[1].Pool != "office6" || list[1].Problem != "" {
					t.Fatalf("after restart: %+v", list)
				}
				port, _ := logField(log.String(), "serving dhcpv6", "port").(float64)
				b, err := newV6Client(t, int(port)).bind(duid, 0x200, 3*time.Second)
				if err != nil || b.addr != reserved {
					t.Fatalf("bind after restart: %v %v, want %v", b.addr, err, reserved)
				}
				if !strings.Contains(log.String(), "runtime reservations restored") {
					t.Errorf("no restore line in the log")
				}
				if err := c.DeleteReservation(ctx, reserved.String()); err != nil {
					t.Fatal(err)
				}
				var l map[string]any
				if code := apiGet(t, sock, "/v1/leases/"+reserved.String(), &l); code != 200 || l["state"] != "bound" {
					t.Errorf("the lease after deleting its reservation: %d %v, want still bound", code, l)
				}
			})
			serveWith(t, path, sock, func(*lockedBuffer) {
				if list, err := c.Reservations(ctx, 0); err != nil || len(list) != 1 {
					t.Errorf("after delete and restart: %+v %v, want the configured one only", list, err)
				}
			})
		})
	}
}

// serveReloading is serveWith whose callback can reload the
// configuration (SIGHUP, then wait for the reloaded line).
func serveReloading(t *testing.T, path, sock string, after func(log *lockedBuffer, reload func(*lockedBuffer))) {
	t.Helper()
	sigs := make(chan os.Signal, 2)
	var stderr lockedBuffer
	done := make(chan int, 1)
	go func() { done <- run([]string{"--config", path, "--log-format", "json"}, os.Stdout, &stderr, sigs) }()
	waitHealthy(t, sock, &stderr)
	after(&stderr, func(log *lockedBuffer) {
		t.Helper()
		n := strings.Count(log.String(), `"msg":"reloaded"`)
		sigs <- syscall.SIGHUP
		deadline := time.Now().Add(10 * time.Second)
		for strings.Count(log.String(), `"msg":"reloaded"`) == n {
			if time.Now().After(deadline) {
				t.Fatalf("no reload; log:\n%s", log.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
	sigs <- syscall.SIGTERM
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d; log:\n%s", code, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("leased did not stop")
	}
}
