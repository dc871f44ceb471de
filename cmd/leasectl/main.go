// Command leasectl is the operator's tool for a running leased: list and
// inspect leases, delete one, see pool utilisation and health. It talks to
// the control API on the unix socket (default /run/leased/control.sock) or,
// with --url and --token-file, on leased's TCP listener.
//
// Exit status: 0 success, 1 error (unreachable server, API error,
// unhealthy server), 2 usage error.
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
