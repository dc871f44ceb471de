// Command leasectl is the operator's tool for a running leased: list and
// inspect leases, delete one, see pool utilisation and health. It talks to
// the control API on the unix socket (default /run/leased/control.sock) or,
// with --url and --token-file, on leased's TCP listener.
//
// Exit status: 0 success; 1 error (leased unreachable, a request leased
// refused, health "failing"); 2 usage error (unknown command or flag, a
// bad flag value such as an unknown --state, no command at all: the help
// then goes to stderr); 3 health "degraded". Errors from leased name the
// flags the user typed (--message), not the API's fields
// (options.reconf_msg): see fields.go.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv, time.Now)
	stop()
	os.Exit(code)
}
