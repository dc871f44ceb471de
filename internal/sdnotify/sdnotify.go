// Package sdnotify sends systemd service notifications (sd_notify(3))
// over the datagram socket named by $NOTIFY_SOCKET: READY=1 once leased
// serves, RELOADING=1 and READY=1 around a SIGHUP reload, STOPPING=1 on
// TERM, STATUS= lines. Without NOTIFY_SOCKET (not under systemd,
// Type=simple) every call does nothing. No library: the protocol is one
// unixgram datagram per message.
package sdnotify

import (
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Notifier sends to one socket; the zero value (and nil) sends nothing.
type Notifier struct {
	addr *net.UnixAddr
}

// FromEnv returns a Notifier for $NOTIFY_SOCKET, nil when it is unset.
// A path socket is "/run/systemd/notify"; an abstract one starts with
// "@" (sent as a leading NUL byte).
func FromEnv() *Notifier {
	s := os.Getenv("NOTIFY_SOCKET")
	if s == "" || (s[0] != '/' && s[0] != '@') {
		return nil
	}
	return &Notifier{addr: &net.UnixAddr{Name: s, Net: "unixgram"}} // Go maps a leading @ to the abstract namespace
}

// Send sends the given assignments ("READY=1", "STATUS=…") in one
// datagram.
func (n *Notifier) Send(state ...string) error {
	if n == nil || n.addr == nil {
		return nil
	}
	c, err := net.DialUnix("unixgram", nil, n.addr)
	if err != nil {
		return fmt.Errorf("sd_notify: %w", err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(strings.Join(state, "\n") + "\n")); err != nil {
		return fmt.Errorf("sd_notify: %w", err)
	}
	return nil
}

// Ready says the service is serving; status is its STATUS= line.
func (n *Notifier) Ready(status string) error { return n.Send("READY=1", "STATUS="+status) }

// Reloading says a reload began. MONOTONIC_USEC (CLOCK_MONOTONIC, µs)
// is what systemd ≥ 253 needs for Type=notify-reload and uses to match
// the READY=1 that ends the reload; older versions ignore it.
func (n *Notifier) Reloading() error {
	return n.Send("RELOADING=1", "STATUS=reloading the configuration", fmt.Sprintf("MONOTONIC_USEC=%d", monotonicUsec()))
}

// Stopping says the service is shutting down.
func (n *Notifier) Stopping(status string) error { return n.Send("STOPPING=1", "STATUS="+status) }

// Status sets the STATUS= line alone.
func (n *Notifier) Status(status string) error { return n.Send("STATUS=" + status) }

func monotonicUsec() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return 0
	}
	return ts.Nano() / int64(time.Microsecond)
}
