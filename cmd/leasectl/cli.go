package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/leased/leased/api"
)

const defaultSocket = "/run/leased/control.sock"

// app holds the global flags and the I/O of one invocation.
type app struct {
	stdout, stderr io.Writer
	now            func() time.Time

	socket    string
	url       string
	tokenFile string
	json      bool
	timeout   time.Duration

	ran bool // a command's RunE started: later errors are not usage errors
}

// usageError is a mistake on the command line (exit status 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

// exitError ends leasectl with its own status (health: 3 when degraded).
type exitError struct {
	code int
	err  error
}

func (e exitError) Error() string { return e.err.Error() }
func (e exitError) Unwrap() error { return e.err }

// run executes one leasectl command line and returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string, now func() time.Time) int {
	a := &app{stdout: stdout, stderr: stderr, now: now}
	root := a.rootCommand(getenv)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return 0
	}
	var ue usageError
	if errors.As(err, &ue) || !a.ran {
		path := "leasectl"
		if cmd != nil {
			path = cmd.CommandPath()
		}
		fmt.Fprintf(stderr, "leasectl: %s (see '%s --help')\n", a.describe(err), path)
		return 2
	}
	fmt.Fprintln(stderr, "leasectl: "+a.describe(err))
	if ee, ok := errors.AsType[exitError](err); ok {
		return ee.code
	}
	return 1
}

func (a *app) rootCommand(getenv func(string) string) *cobra.Command {
	socket := getenv("LEASED_SOCKET")
	if socket == "" {
		socket = defaultSocket
	}
	root := &cobra.Command{
		Use:   "leasectl",
		Short: "Inspect and manage a running leased DHCP server",
		Long: `leasectl talks to leased's control API: on the unix socket (--socket, or
$LEASED_SOCKET, default ` + defaultSocket + `), or on leased's TCP
listener with --url and --token-file.`,
		SilenceErrors: true,
		SilenceUsage:  true,
		Args:          noArgs,
		// Runnable, so that an unknown command reaches noArgs (a usage
		// error) instead of printing help with status 0; without a command
		// the help goes to stderr and the exit status is 2.
		RunE: a.needCommand,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	pf := root.PersistentFlags()
	pf.StringVar(&a.socket, "socket", socket, "control socket of leased (env LEASED_SOCKET)")
	pf.StringVar(&a.url, "url", getenv("LEASED_URL"), "URL of leased's TCP control listener, instead of the socket (env LEASED_URL)")
	pf.StringVar(&a.tokenFile, "token-file", getenv("LEASED_TOKEN_FILE"), "file holding the bearer token for --url (env LEASED_TOKEN_FILE)")
	pf.BoolVar(&a.json, "json", false, "print JSON instead of a table")
	pf.DurationVar(&a.timeout, "timeout", 5*time.Second, "give up on a request after this long")

	root.AddCommand(a.leasesCommand(), a.leaseCommand(), a.deleteCommand(), a.poolsCommand(), a.healthCommand(),
		a.forceRenewCommand(), a.reconfigureCommand(), a.disconnectCommand(), a.clusterCommand(),
		a.reservationCommand())
	root.AddCommand(a.importCommand(), a.versionCommand())
	return root
}

// needCommand is the RunE of a command that only groups subcommands:
// called without one, it prints its help on stderr and fails as a usage
// error (exit status 2). --help still prints it on stdout with status 0.
func (a *app) needCommand(cmd *cobra.Command, _ []string) error {
	cmd.SetOut(a.stderr)
	_ = cmd.Help()
	return usagef("%s needs a command", cmd.CommandPath())
}

// noArgs and exactArgs are cobra argument checks whose errors are usage
// errors.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		if cmd.HasSubCommands() {
			return usagef("unknown command %q", args[0])
		}
		return usagef("%s takes no arguments, got %q", cmd.CommandPath(), args[0])
	}
	return nil
}

func addressArg(cmd *cobra.Command, args []string) error {
	if len(args) != 1 {
		return usagef("%s needs one IPv4 address, got %d arguments", cmd.CommandPath(), len(args))
	}
	if a, err := netip.ParseAddr(args[0]); err == nil && a.Is6() && !a.Is4In6() {
		return usagef("%q is an IPv6 address: FORCERENEW is DHCPv4; send a DHCPv6 client a Reconfigure with 'leasectl reconfigure send'", args[0])
	} else if err != nil || !a.Is4() {
		return usagef("%q is not an IPv4 address", args[0])
	}
	return nil
}

// targetArg accepts one IPv4 or IPv6 address or a delegated IPv6 prefix.
func targetArg(cmd *cobra.Command, args []string) error {
	if len(args) != 1 {
		return usagef("%s needs one address or delegated prefix, got %d arguments", cmd.CommandPath(), len(args))
	}
	if _, err := parseTarget(args[0]); err != nil {
		return usageError{err}
	}
	return nil
}

// parseTarget returns s in canonical form: an address (no zone) or a
// delegated IPv6 prefix with no bits after its length.
func parseTarget(s string) (string, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil || !p.Addr().Is6() || p.Addr().Is4In6() || p.Masked() != p {
			return "", fmt.Errorf("%q is not an address or a delegated IPv6 prefix (like fd77:100::/56)", s)
		}
		return p.String(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return "", fmt.Errorf("%q is not an IPv4 or IPv6 address", s)
	}
	return a.Unmap().String(), nil
}

// client builds the API client from the global flags.
func (a *app) client() (*api.Client, error) {
	if a.timeout <= 0 {
		return nil, usagef("--timeout must be positive, got %v", a.timeout)
	}
	if a.url == "" {
		if a.tokenFile != "" {
			return nil, usagef("--token-file needs --url (the unix socket needs no token)")
		}
		return api.NewUnixClient(a.socket, a.timeout), nil
	}
	token := ""
	if a.tokenFile != "" {
		b, err := os.ReadFile(a.tokenFile)
		if err != nil {
			return nil, fmt.Errorf("read token: %w", err)
		}
		token = strings.TrimSpace(string(b))
		if token == "" {
			return nil, fmt.Errorf("token file %s is empty", a.tokenFile)
		}
	}
	c, err := api.NewTCPClient(a.url, token, a.timeout)
	if err != nil {
		return nil, usagef("--url: %v", err)
	}
	return c, nil
}

// start marks the command as running (errors from now on are not usage
// errors) and returns the client and a context bounded by --timeout.
func (a *app) start(cmd *cobra.Command) (*api.Client, context.Context, context.CancelFunc, error) {
	a.ran = true
	c, err := a.client()
	if err != nil {
		return nil, nil, nil, err
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), a.timeout)
	return c, ctx, cancel, nil
}

// describe turns an error into the one line leasectl prints.
func (a *app) describe(err error) string {
	var ce *api.ConnError
	var se *api.StatusError
	switch {
	case errors.As(err, &ce):
		hint := "(is leased running? --socket sets the path)"
		if a.url != "" {
			hint = "(is leased running with its TCP listener on? --url sets the address)"
		}
		var reason string
		var nerr net.Error
		switch {
		case errors.Is(err, syscall.ENOENT):
			reason = "no such file"
		case errors.Is(err, syscall.ECONNREFUSED):
			reason = "connection refused"
		case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
			reason = "permission denied"
			hint = "(run as root or as a member of the socket's group)"
		case errors.Is(err, context.DeadlineExceeded), errors.As(err, &nerr) && nerr.Timeout():
			reason = fmt.Sprintf("no answer within %v", a.timeout)
			hint = "(--timeout sets the limit)"
		case errors.Is(err, context.Canceled):
			return "interrupted"
		default:
			reason = ce.Err.Error()
		}
		return fmt.Sprintf("cannot reach leased at %s: %s %s", ce.Where, reason, hint)
	case errors.As(err, &se):
		if se.Code == 401 {
			return se.Message + " (--token-file names the file holding it)"
		}
		return flagWords(se.Message)
	}
	return err.Error()
}

func (a *app) printJSON(v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(a.stdout, "%s\n", b)
	return err
}

func (a *app) leasesCommand() *cobra.Command {
	var (
		q       api.LeaseQuery
		section int
		rng     string
	)
	cmd := &cobra.Command{
		Use:   "leases",
		Short: "List leases (by default all but free, offered and deleted records)",
		Example: `  leasectl leases --pool office --state bound
  leasectl leases --range 10.0.0.10-10.0.0.50
  leasectl leases --family 6 --range fd77::1:0/112
  leasectl leases --client 52:54:00:12:34:56 --json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if q.Family != 0 && q.Family != 4 && q.Family != 6 {
				return usagef("--family %d: want 4 or 6", q.Family)
			}
			for _, st := range q.States {
				if !slices.Contains(api.StateNames(), st) {
					return usagef("--state %q: unknown state (valid: %s)", st, strings.Join(api.StateNames(), ", "))
				}
			}
			if cmd.Flags().Changed("section") {
				if section < 0 {
					return usagef("--section must be a section number (0 or more), got %d", section)
				}
				q.Section = &section
			}
			if rng != "" {
				from, to, err := parseRange(rng)
				if err != nil {
					return usageError{fmt.Errorf("--range: %w", err)}
				}
				q.From, q.To = from, to
			}
			c, ctx, cancel, err := a.start(cmd)
			if err != nil {
				return err
			}
			defer cancel()
			ls, err := c.Leases(ctx, q)
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(ls)
			}
			return writeLeaseTable(a.stdout, ls, a.now())
		},
	}
	f := cmd.Flags()
	f.StringVar(&q.Pool, "pool", "", "only leases of this pool")
	f.IntVar(&section, "section", 0, "only leases in this section (number)")
	f.StringVar(&rng, "range", "", "only addresses in A-B (inclusive), a prefix like 10.0.0.0/28, or one address")
	f.StringVar(&q.Client, "client", "", "only this client: hardware address, client id or DUID (hex) or IP address")
	f.IntVar(&q.Family, "family", 0, "only DHCPv4 (4) or DHCPv6 (6) leases; both when unset")
	f.StringSliceVar(&q.States, "state", nil, "only leases in these states (repeat or comma-separate): "+strings.Join(api.StateNames(), ", "))
	cmd.RegisterFlagCompletionFunc("state", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return api.StateNames(), cobra.ShellCompDirectiveNoFileComp
	})
	cmd.RegisterFlagCompletionFunc("pool", func(cmd *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
		return a.poolNames(cmd), cobra.ShellCompDirectiveNoFileComp
	})
	return cmd
}

// poolNames asks the server for pool names, for shell completion; nil when
// it cannot be reached.
func (a *app) poolNames(cmd *cobra.Command) []string {
	c, err := a.client()
	if err != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), a.timeout)
	defer cancel()
	ps, err := c.Pools(ctx)
	if err != nil {
		return nil
	}
	names := make([]string, len(ps))
	for i, p := range ps {
		names[i] = p.Name
	}
	return names
}

// parseRange accepts "A-B", a prefix "N/len" or a single address, IPv4 or
// IPv6 (both ends of one family).
func parseRange(s string) (from, to netip.Addr, err error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil || p.Addr().Zone() != "" {
			return from, to, fmt.Errorf("%q is not a prefix like 10.0.0.0/24 or fd77::/112", s)
		}
		p = p.Masked()
		b := p.Addr().AsSlice()
		for i := p.Bits(); i < len(b)*8; i++ {
			b[i/8] |= 0x80 >> (i % 8)
		}
		to, _ = netip.AddrFromSlice(b)
		return p.Addr(), to, nil
	}
	lo, hi, isRange := strings.Cut(s, "-")
	if !isRange {
		hi = lo
	}
	from, err1 := netip.ParseAddr(strings.TrimSpace(lo))
	to, err2 := netip.ParseAddr(strings.TrimSpace(hi))
	if err1 != nil || err2 != nil || from.Is4() != to.Is4() || from.Zone() != "" || to.Zone() != "" {
		return from, to, fmt.Errorf("%q is not A-B with addresses of one family (like 10.0.0.10-10.0.0.50 or fd77::1:0-fd77::1:ff)", s)
	}
	if to.Less(from) {
		return from, to, fmt.Errorf("%q: %s is below %s", s, to, from)
	}
	return from, to, nil
}

func (a *app) leaseCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "lease ADDRESS|PREFIX",
		Short: "Show the lease record of one address (IPv4 or IPv6) or delegated prefix",
		Args:  targetArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ctx, cancel, err := a.start(cmd)
			if err != nil {
				return err
			}
			defer cancel()
			t, _ := parseTarget(args[0])
			l, err := c.LeaseAt(ctx, t)
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(l)
			}
			return writeLease(a.stdout, l, a.now())
		},
	}
}

func (a *app) deleteCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "delete ADDRESS|PREFIX",
		Short: "Delete the lease of one address (the client is not told)",
		Long: `Delete the lease of one address. When the command returns, the deletion is
on disk. The address becomes free for other clients; the client that held
it is not told and keeps using it until it renews (and is refused). A
delegated IPv6 prefix is given as fd77:100::/56.`,
		Args: targetArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ctx, cancel, err := a.start(cmd)
			if err != nil {
				return err
			}
			defer cancel()
			addr, _ := parseTarget(args[0])
			if err := c.DeleteLeaseAt(ctx, addr); err != nil {
				return err
			}
			if a.json {
				return a.printJSON(map[string]string{"deleted": addr})
			}
			_, err = fmt.Fprintf(a.stdout, "deleted lease %s\n", addr)
			return err
		},
	}
}

func (a *app) poolsCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "pools",
		Short: "Show utilisation per pool and per section",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, ctx, cancel, err := a.start(cmd)
			if err != nil {
				return err
			}
			defer cancel()
			ps, err := c.Pools(ctx)
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(ps)
			}
			return writePoolTable(a.stdout, ps)
		},
	}
}

func (a *app) healthCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "health",
		Short: "Show the server's health: exit status 0 ok, 3 degraded, 1 failing or unreachable",
		Long: `Show the server's health: ok, degraded (serving, but something needs the
operator) or failing (not serving normally), with a line per reason (its
code, since when, and what happened). Exit status: 0 ok, 3 degraded,
1 failing or leased could not be asked, 2 usage error.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, ctx, cancel, err := a.start(cmd)
			if err != nil {
				return err
			}
			defer cancel()
			h, err := c.Health(ctx)
			if err != nil {
				return err
			}
			if a.json {
				err = a.printJSON(h)
			} else {
				err = writeHealth(a.stdout, h)
			}
			if err != nil {
				return err
			}
			if h.Status == "ok" {
				return nil
			}
			msg := "leased is not healthy: " + h.Status
			if h.Message != "" {
				msg += " (" + h.Message + ")"
			}
			if h.Status == "degraded" {
				return exitError{3, errors.New(msg)}
			}
			return errors.New(msg)
		},
	}
}

// forceRenewCommand is the parent of the FORCERENEW commands: send (one
// message) and the campaign commands start, status, clients, stop.
func (a *app) forceRenewCommand() *cobra.Command {
	fr := &cobra.Command{
		Use:   "forcerenew",
		Short: "Make clients renew now (DHCPFORCERENEW, RFC 3203)",
		Long: `Make clients come back now with DHCPFORCERENEW (RFC 3203), authenticated as
the pool's forcerenew.auth says (RFC 6704 reconfigure key by default). Only
clients that act on FORCERENEW renew: dhcpcd does; dhclient, udhcpc and
systemd-networkd ignore it, and leased reports them as not capable.`,
		Args: noArgs,
		RunE: a.needCommand,
	}
	fr.AddCommand(&cobra.Command{
		Use:   "send ADDRESS",
		Short: "Send one FORCERENEW to the client bound to ADDRESS",
		Long: `Send one FORCERENEW to the client bound to ADDRESS. The command returns once
the message has left (its replay counter is on disk first); whether the
client renewed shows in 'leasectl lease ADDRESS' (the expiry moves). It fails
(exit 1) when there is no bound lease or the client cannot receive an
authenticated FORCERENEW.`,
		Args: addressArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ctx, cancel, err := a.start(cmd)
			if err != nil {
				return err
			}
			defer cancel()
			res, err := c.ForceRenew(ctx, netip.MustParseAddr(args[0]))
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(res)
			}
			_, err = fmt.Fprintf(a.stdout, "FORCERENEW sent to %s\n", res.Address)
			return err
		},
	})
	a.campaignCommands(fr)
	return fr
}

// reconfigureCommand is the family-neutral name of the FORCERENEW commands:
// send (one FORCERENEW to an IPv4 client, one Reconfigure to a DHCPv6
// binding) and the campaign commands start (with --family), status,
// clients, stop.
func (a *app) reconfigureCommand() *cobra.Command {
	rc := &cobra.Command{
		Use:   "reconfigure",
		Short: "Make clients renew now: FORCERENEW (DHCPv4) or Reconfigure (DHCPv6)",
		Long: `Make clients come back now: DHCPFORCERENEW (RFC 3203) for DHCPv4 clients,
authenticated Reconfigure (RFC 8415 §18.3.11) for DHCPv6 clients. The same
campaigns as 'leasectl forcerenew'; 'start --family 6' restricts a campaign
to DHCPv6 clients (4: DHCPv4), --prefix-pool NAME selects a DHCPv6 pool's
delegated prefixes, --client takes a DUID, and --message renew|rebind|
information-request sets the Reconfigure Message option (RFC 8415 §21.19).
DHCPv6 clients that never sent Reconfigure Accept (option 20) have no key
and are reported not_capable.`,
		Args: noArgs,
		RunE: a.needCommand,
	}
	rc.AddCommand(&cobra.Command{
		Use:   "send ADDRESS|PREFIX",
		Short: "Send one FORCERENEW or Reconfigure to the client bound to ADDRESS or PREFIX",
		Long: `Send one FORCERENEW (IPv4 address) or Reconfigure (IPv6 address or delegated
prefix) to the client bound to it. The command returns once the message has
left (its replay counter is on disk first); whether the client renewed shows
in 'leasectl lease' (the expiry moves). It fails (exit 1) when there is no
bound lease or the client has no reconfigure key.`,
		Args: targetArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ctx, cancel, err := a.start(cmd)
			if err != nil {
				return err
			}
			defer cancel()
			t, _ := parseTarget(args[0])
			res, err := c.Reconfigure(ctx, t)
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(res)
			}
			what := "FORCERENEW"
			if res.Address.Is6() && !res.Address.Is4In6() {
				what = "Reconfigure"
			}
			_, err = fmt.Fprintf(a.stdout, "%s sent to %s\n", what, t)
			return err
		},
	})
	a.campaignCommands(rc)
	return rc
}
