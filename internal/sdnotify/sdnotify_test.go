package sdnotify

import (
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// listen opens a unixgram socket at name (a path, or "@…" abstract) and
// returns a function reading one datagram.
func listen(t *testing.T, name string) func() string {
	t.Helper()
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return func() string {
		t.Helper()
		buf := make([]byte, 4096)
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := c.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		return string(buf[:n])
	}
}

func TestNotify(t *testing.T) {
	for _, name := range []string{
		filepath.Join(t.TempDir(), "notify"),
		"@leased-sdnotify-test-" + strconv.Itoa(unix.Getpid()),
	} {
		t.Run(name[:1], func(t *testing.T) {
			read := listen(t, name)
			t.Setenv("NOTIFY_SOCKET", name)
			n := FromEnv()
			if n == nil {
				t.Fatal("FromEnv: nil with NOTIFY_SOCKET set")
			}
			if err := n.Ready("serving 2 pools"); err != nil {
				t.Fatal(err)
			}
			if got, want := read(), "READY=1\nSTATUS=serving 2 pools\n"; got != want {
				t.Errorf("Ready sent %q, want %q", got, want)
			}
			before := time.Now()
			if err := n.Reloading(); err != nil {
				t.Fatal(err)
			}
			got := read()
			if !strings.HasPrefix(got, "RELOADING=1\nSTATUS=reloading the configuration\nMONOTONIC_USEC=") {
				t.Errorf("Reloading sent %q", got)
			}
			us, err := strconv.ParseInt(strings.TrimSpace(got[strings.LastIndex(got, "=")+1:]), 10, 64)
			var ts unix.Timespec
			unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
			if err != nil || us <= 0 || us > ts.Nano()/1000 || ts.Nano()/1000-us > int64(time.Since(before)/time.Microsecond)+1000 {
				t.Errorf("MONOTONIC_USEC %q is not CLOCK_MONOTONIC now (%d µs)", got, ts.Nano()/1000)
			}
			if err := n.Stopping("stopping: finishing in-flight lease writes"); err != nil {
				t.Fatal(err)
			}
			if got, want := read(), "STOPPING=1\nSTATUS=stopping: finishing in-flight lease writes\n"; got != want {
				t.Errorf("Stopping sent %q, want %q", got, want)
			}
		})
	}
}

func TestNoSocket(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	n := FromEnv()
	if n != nil {
		t.Fatalf("FromEnv without NOTIFY_SOCKET = %v, want nil", n)
	}
	if err := n.Ready("x"); err != nil { // a nil Notifier is a no-op
		t.Fatal(err)
	}
	t.Setenv("NOTIFY_SOCKET", filepath.Join(t.TempDir(), "absent"))
	if err := FromEnv().Ready("x"); err == nil {
		t.Error("Ready to a missing socket: no error")
	}
}
