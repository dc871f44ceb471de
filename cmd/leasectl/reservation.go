package main

import (
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/leased/leased/api"
)

// reservationCommand: leasectl reservation add|delete|list — runtime
// reservations beside the configured ones (docs/operator-guide.md).
func (a *app) reservationCommand() *cobra.Command {
	c := &cobra.Command{
		Use:     "reservation",
		Aliases: []string{"reservations"},
		Short:   "Add, delete and list reservations without editing the configuration",
		Long: `Runtime reservations bind an address (DHCPv4: to a MAC address or client
identifier; DHCPv6: an address and/or a delegated prefix to a DUID) while
leased runs. They are kept in the lease store, survive restarts and
reloads, and are listed beside the reservations of the configuration file,
which can only be changed in the file.`,
		Args: noArgs,
		RunE: a.needCommand,
	}
	c.AddCommand(a.reservationListCommand(), a.reservationAddCommand(), a.reservationDeleteCommand())
	return c
}

func (a *app) reservationListCommand() *cobra.Command {
	var family int
	var source string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List configured and runtime reservations",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if family != 0 && family != 4 && family != 6 {
				return usagef("--family %d: want 4 or 6", family)
			}
			if source != "" && source != api.SourceConfig && source != api.SourceRuntime {
				return usagef("--source %q: want config or runtime", source)
			}
			c, ctx, cancel, err := a.start(cmd)
			if err != nil {
				return err
			}
			defer cancel()
			rs, err := c.Reservations(ctx, family)
			if err != nil {
				return err
			}
			out := rs[:0]
			for _, r := range rs {
				if source == "" || r.Source == source {
					out = append(out, r)
				}
			}
			if a.json {
				return a.printJSON(out)
			}
			return writeReservations(a.stdout, out, a.now())
		},
	}
	cmd.Flags().IntVar(&family, "family", 0, "only DHCPv4 (4) or DHCPv6 (6) reservations")
	cmd.Flags().StringVar(&source, "source", "", "only reservations from the configuration file (config) or added at run time (runtime)")
	return cmd
}

func (a *app) reservationAddCommand() *cobra.Command {
	var r api.Reservation
	var prefix string
	cmd := &cobra.Command{
		Use:   "add ADDRESS|PREFIX (--hwaddr MAC | --client-id HEX | --duid HEX)",
		Short: "Reserve an address (or a DHCPv6 prefix) for one client, at once and durably",
		Long: `Reserve ADDRESS for one client. DHCPv4: --hwaddr or --client-id names the
client. DHCPv6: --duid names it; ADDRESS may be an IA_NA address (with
--prefix for a delegated prefix too) or a delegated prefix alone.

The reservation is in force when the command returns: the client's next
DISCOVER or Solicit gets it. A client that holds another address keeps it
until it renews or restarts (send it a FORCERENEW/Reconfigure, or use
leasectl disconnect, to move it now). leased refuses (exit status 1) an
address outside every pool, one reserved for another client or in use by
another client's lease, and a client that already has a reservation in
that pool.`,
		Example: `  leasectl reservation add 10.0.0.20 --hwaddr 52:54:00:12:34:56 --hostname printer-2
  leasectl reservation add 10.0.0.21 --client-id 01:52:54:00:12:34:57 --option 252=68:74:74:70
  leasectl reservation add fd77::20 --prefix fd77:100:ab::/56 --duid 00:03:00:01:52:54:00:12:34:56`,
		Args: targetArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			t, _ := parseTarget(args[0])
			if strings.Contains(t, "/") {
				if prefix != "" {
					return usagef("give the prefix either as the argument or with --prefix, not both")
				}
				r.Prefix = t
			} else {
				r.Address = netip.MustParseAddr(t)
				if prefix != "" {
					p, err := parseTarget(prefix)
					if err != nil || !strings.Contains(p, "/") {
						return usagef("--prefix %q: want a delegated IPv6 prefix like fd77:100::/56", prefix)
					}
					r.Prefix = p
				}
			}
			if err := r.Check(); err != nil {
				return usageError{err}
			}
			c, ctx, cancel, err := a.start(cmd)
			if err != nil {
				return err
			}
			defer cancel()
			got, err := c.AddReservation(ctx, r)
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(got)
			}
			_, err = fmt.Fprintf(a.stdout, "reserved %s for %s in pool %s\n", reservedWhat(&got), reservedFor(&got), got.Pool)
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&r.HWAddr, "hwaddr", "", "DHCPv4 client's hardware address, e.g. 52:54:00:12:34:56")
	f.StringVar(&r.ClientID, "client-id", "", "DHCPv4 client identifier (option 61) in hex, e.g. 01:52:54:00:12:34:56")
	f.StringVar(&r.DUID, "duid", "", "DHCPv6 client's DUID in hex")
	f.StringVar(&prefix, "prefix", "", "DHCPv6: also reserve this delegated prefix")
	f.StringVar(&r.Hostname, "hostname", "", "host name sent to the client (DHCPv4 option 12) and shown on its lease")
	f.Func("option", "raw option for this client as CODE=HEX, e.g. 252=68:74:74:70 (repeat for several)", func(v string) error {
		c, h, ok := strings.Cut(v, "=")
		code, err := strconv.Atoi(c)
		if !ok || err != nil {
			return fmt.Errorf("%q: want CODE=HEX, e.g. 252=68:74:74:70", v)
		}
		r.Options = append(r.Options, api.ReservationOption{Code: code, Hex: h})
		return nil
	})
	f.Func("dns", "DHCPv6: DNS server for this client instead of the pool's (repeat for several)", func(s string) error {
		ad, err := netip.ParseAddr(s)
		if err != nil {
			return fmt.Errorf("%q is not an address", s)
		}
		r.DNS = append(r.DNS, ad)
		return nil
	})
	return cmd
}

func (a *app) reservationDeleteCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "delete ADDRESS|PREFIX",
		Short: "Delete a runtime reservation (the client keeps its lease)",
		Long: `Delete the runtime reservation of ADDRESS (or of a DHCPv6 prefix). The
client keeps its current lease until it ends. Reservations of the
configuration file are refused: remove them from the file and reload.`,
		Args: targetArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			t, _ := parseTarget(args[0])
			c, ctx, cancel, err := a.start(cmd)
			if err != nil {
				return err
			}
			defer cancel()
			if err := c.DeleteReservation(ctx, t); err != nil {
				return err
			}
			if a.json {
				return a.printJSON(map[string]string{"deleted": t})
			}
			_, err = fmt.Fprintf(a.stdout, "deleted reservation %s\n", t)
			return err
		},
	}
}

func reservedWhat(r *api.Reservation) string {
	switch {
	case r.Address.IsValid() && r.Prefix != "":
		return r.Address.String() + " and " + r.Prefix
	case r.Address.IsValid():
		return r.Address.String()
	}
	return r.Prefix
}

func reservedFor(r *api.Reservation) string {
	switch {
	case r.DUID != "":
		return "duid " + r.DUID
	case r.ClientID != "":
		return "client-id " + r.ClientID
	case r.HWAddr != "":
		return "hwaddr " + r.HWAddr
	case r.CircuitID != "":
		return "circuit-id " + r.CircuitID
	case r.RemoteID != "":
		return "remote-id " + r.RemoteID
	}
	return "-"
}

func writeReservations(w io.Writer, rs []api.Reservation, now time.Time) error {
	tw := newTable(w)
	fmt.Fprintln(tw, "RESERVED\tCLIENT\tHOSTNAME\tPOOL\tSOURCE\tADDED")
	var problems []string
	for i := range rs {
		r := &rs[i]
		pool := dash(r.Pool)
		if r.Problem != "" {
			pool = "(not in force)"
			problems = append(problems, r.Problem)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", reservedWhat(r), reservedFor(r), dash(r.Hostname), pool, r.Source, relative(r.Added, now))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, p := range problems {
		if _, err := fmt.Fprintln(w, "not in force: "+p); err != nil {
			return err
		}
	}
	return nil
}
