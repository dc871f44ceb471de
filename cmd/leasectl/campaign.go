package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/leased/leased/api"
	"github.com/leased/leased/reconf"
)

// isTerminal reports whether w is a terminal (the live progress bar is
// drawn only there). A variable so tests can pretend.
var isTerminal = func(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// pollEvery is how often --wait asks for the campaign's progress; plain
// (non-terminal) output prints a line when the counts change, and at
// least every quietEvery.
var (
	pollEvery  = 500 * time.Millisecond
	quietEvery = 10 * time.Second
)

// campaignCommands adds start, status, clients, stop and delete under
// parent (forcerenew or reconfigure: the same campaigns; messages name the
// parent the operator typed).
func (a *app) campaignCommands(parent *cobra.Command) {
	name := parent.Name()
	parent.AddCommand(a.startCommand(name), a.statusCommand(name), a.clientsCommand(name), a.stopCommand(),
		a.deleteCampaignCommand(name))
}

// startExamples are the examples of 'start' under each parent.
var startExamples = map[string]string{
	"forcerenew": `  leasectl forcerenew start --pool office --wait
  leasectl forcerenew start --pool office --section 1 --range 10.77.1.10-10.77.1.50 --recycle
  leasectl forcerenew start --client 52:54:00:12:34:56 --force-nak --attempts 3 --interval 1s`,
	"reconfigure": `  leasectl reconfigure start --family 6 --pool office6 --wait
  leasectl reconfigure start --family 6 --prefix-pool office6 --message rebind
  leasectl reconfigure start --range fd77::1:0-fd77::1:ff --message information-request
  leasectl reconfigure start --client 00:03:00:01:52:54:00:ab:cd:ef --force-nak
  leasectl reconfigure start --all --wait`,
}

func (a *app) startCommand(parent string) *cobra.Command {
	var (
		req        api.CampaignRequest
		section    int
		rng        string
		recycle    bool
		onFailure  string
		attempts   int
		interval   time.Duration
		pace       int
		wait       bool
		recycleNot bool
		forceNAK   bool
		message    string
	)
	cmd := &cobra.Command{
		Use:   "start",
		Short: "Start a FORCERENEW / Reconfigure campaign over the bound leases a selector matches",
		Long: `Start a campaign: every selected client gets an authenticated FORCERENEW
(DHCPv4, RFC 3203) or Reconfigure (DHCPv6, RFC 8415 §18.3.11), retried after
--interval, then twice that, four times ... up to --attempts messages, at
most --pace messages per second per pool. A flag given here beats the
pool's setting in the config (forcerenew: / reconfigure: of the pool),
which beats the global one (dhcpv4.forcerenew, dhcpv6.reconfigure), which
beats the built-in defaults: 8 attempts from 2s for both families (RFC
8415 REC_MAX_RC, REC_TIMEOUT), pace 1000/s, on failure restore. The
output shows the values in effect, per pool when pools differ.
The same start while that campaign runs changes nothing: it says the
campaign is already running, with its progress, and exits 0. Clients that cannot
act on it (no reconfigure key: dhclient, udhcpc, systemd-networkd; DHCPv6
clients that never sent Reconfigure Accept) are reported not_capable.
Clients that never answer end no_response and their lease is restored
(default), deleted (--on-failure delete) or its address recycled
(--recycle).

Select with --pool [--section N] [--range A-B], --range alone,
--prefix-pool NAME [--range A-B] (the delegated prefixes of a DHCPv6 pool),
--client (MAC, client id, DHCPv6 DUID or address), or --all for every bound
lease of the server. --family 4|6 restricts any of these to DHCPv4 or
DHCPv6 clients, and alone selects every bound client of that family. A
DHCPv6 client is one DUID: one Reconfigure renews all its bindings.

--message says what the DHCPv6 Reconfigures ask for: renew (default),
rebind or information-request (dhcpcd acts on renew when bound and on
information-request only in stateless mode; see docs/reconfiguration.md).

With --wait the command follows the campaign to its end (live progress on a
terminal, a line per change otherwise), prints the outcomes and exits 0 only
when every client renewed, rebound or informed.`,
		Example: startExamples[parent],
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fl := cmd.Flags()
			if fl.Changed("section") {
				if section < 0 {
					return usagef("--section must be a section number (0 or more), got %d", section)
				}
				if req.Selector.Pool == "" {
					return usagef("--section needs --pool (section numbers are per pool)")
				}
				req.Selector.Section = &section
			}
			if rng != "" {
				from, to, err := parseRange(rng)
				if err != nil {
					return usageError{fmt.Errorf("--range: %w", err)}
				}
				req.Selector.From, req.Selector.To = from, to
			}
			s := req.Selector
			if s.Family != 0 && s.Family != 4 && s.Family != 6 {
				return usagef("--family %d: want 4 or 6", s.Family)
			}
			if s.Family != 0 && s.From.IsValid() && s.From.Is4() != (s.Family == 4) {
				return usagef("--family %d contradicts --range %s", s.Family, rng)
			}
			given := s.Pool != "" || s.Section != nil || s.PrefixPool != "" || s.From.IsValid() || s.Client != ""
			switch {
			case s.All && given:
				return usagef("--all cannot be combined with --pool, --section, --prefix-pool, --range or --client (--family may restrict it)")
			case !s.All && !given && s.Family == 0:
				return usagef("say which clients: --pool, --section, --prefix-pool, --range, --client, --family, or --all")
			case s.Client != "" && (s.Section != nil || s.From.IsValid() || s.PrefixPool != ""):
				return usagef("--client cannot be combined with --section, --prefix-pool or --range")
			case s.PrefixPool != "" && s.Pool != "" && s.Pool != s.PrefixPool:
				return usagef("--prefix-pool %s and --pool %s differ (--prefix-pool alone selects that pool's delegated prefixes)", s.PrefixPool, s.Pool)
			case s.PrefixPool != "" && s.Section != nil:
				return usagef("--section cannot be combined with --prefix-pool (DHCPv6 pools have no sections)")
			case s.PrefixPool != "" && (s.Family == 4 || s.From.Is4()):
				return usagef("--prefix-pool selects DHCPv6 delegated prefixes; it cannot be combined with --family 4 or an IPv4 --range")
			case recycle && fl.Changed("on-failure"):
				return usagef("--recycle and --on-failure are exclusive (--recycle is --on-failure recycle)")
			}
			if fl.Changed("message") {
				switch message {
				case "renew", "rebind", "information-request":
				default:
					return usagef("--message %q: want renew, rebind or information-request", message)
				}
				req.Options.ReconfMsg = message
				if s.Family == 4 || s.From.Is4() {
					return usagef("--message applies to DHCPv6 Reconfigure only; this selector matches DHCPv4 clients only")
				}
			}
			if recycle {
				onFailure = "recycle"
			}
			switch onFailure {
			case "", "restore", "delete", "recycle":
			default:
				return usagef("--on-failure %q: want restore, delete or recycle", onFailure)
			}
			req.Options.OnFailure = onFailure
			if fl.Changed("attempts") {
				if attempts < 1 || attempts > 20 {
					return usagef("--attempts %d: want 1..20", attempts)
				}
				req.Options.Attempts = attempts
			}
			if fl.Changed("interval") {
				if interval < time.Millisecond || interval > time.Hour {
					return usagef("--interval %v: want 1ms..1h", interval)
				}
				req.Options.Interval = interval.String()
			}
			if fl.Changed("pace") {
				if pace < 0 {
					return usagef("--pace %d: want 0 (unlimited) or more", pace)
				}
				req.Options.Pace = &pace
			}
			if fl.Changed("recycle-not-capable") {
				req.Options.RecycleNotCapable = &recycleNot
			}
			if fl.Changed("force-nak") {
				req.Options.ForceNAK = &forceNAK
			}
			c, ctx, cancel, err := a.start(cmd)
			if err != nil {
				return err
			}
			defer cancel()
			camp, err := c.StartCampaign(ctx, req)
			if err != nil {
				return err
			}
			if !wait {
				if a.json {
					return a.printJSON(camp)
				}
				if camp.Existing {
					fmt.Fprintf(a.stdout, "campaign %d already running: %s; nothing started\n", camp.ID, runningLine(camp))
				} else {
					fmt.Fprintf(a.stdout, "campaign %d started: %s\n", camp.ID, startLine(camp))
				}
				_, err = fmt.Fprintf(a.stdout, "follow it with: leasectl %s status %d\n", parent, camp.ID)
				return err
			}
			if !a.json {
				if camp.Existing {
					fmt.Fprintf(a.stdout, "campaign %d already running: %s; following it\n", camp.ID, runningLine(camp))
				} else {
					fmt.Fprintf(a.stdout, "campaign %d started: %s\n", camp.ID, startLine(camp))
				}
			}
			return a.follow(cmd.Context(), c, camp, parent)
		},
	}
	f := cmd.Flags()
	f.StringVar(&req.Selector.Pool, "pool", "", "clients of this pool")
	f.IntVar(&section, "section", 0, "clients in this section of --pool (number)")
	f.StringVar(&rng, "range", "", "clients with addresses in A-B (inclusive), a prefix like 10.0.0.0/28, or one address")
	f.StringVar(&req.Selector.PrefixPool, "prefix-pool", "", "the delegated prefixes (IA_PD) of this DHCPv6 pool")
	f.StringVar(&req.Selector.Client, "client", "", "one client: hardware address, client id or DHCPv6 DUID (hex, e.g. 00:03:00:01:52:54:00:ab:cd:ef) or leased IP address")
	f.BoolVar(&req.Selector.All, "all", false, "every bound lease of the server")
	f.IntVar(&req.Selector.Family, "family", 0, "only DHCPv4 (4, FORCERENEW) or DHCPv6 (6, Reconfigure) clients; alone, every bound client of that family")
	f.StringVar(&message, "message", "renew", "what DHCPv6 Reconfigures ask for: renew, rebind or information-request")
	f.BoolVar(&recycle, "recycle", false, "recycle the addresses of clients that never answer (Huawei recycle)")
	f.StringVar(&onFailure, "on-failure", "", "what happens to clients that never answer: restore (default), delete, recycle")
	f.IntVar(&attempts, "attempts", 8, "FORCERENEW / Reconfigure messages per client (1..20)")
	f.DurationVar(&interval, "interval", 2*time.Second, "first wait between attempts; doubles after each")
	f.IntVar(&pace, "pace", 1000, "at most this many messages per second per pool (0 = unlimited)")
	f.BoolVar(&forceNAK, "force-nak", false, "NAK each client's renew (DHCPv6: answer it with lifetime 0) so it starts over (Junos behaviour)")
	f.BoolVar(&recycleNot, "recycle-not-capable", false, "recycle at once the addresses of clients that cannot be reconfigured")
	f.BoolVar(&wait, "wait", false, "follow the campaign to its end; exit 1 unless every client renewed, rebound or informed")
	cmd.RegisterFlagCompletionFunc("on-failure", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return []string{"restore", "delete", "recycle"}, cobra.ShellCompDirectiveNoFileComp
	})
	cmd.RegisterFlagCompletionFunc("message", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return []string{"renew", "rebind", "information-request"}, cobra.ShellCompDirectiveNoFileComp
	})
	cmd.RegisterFlagCompletionFunc("pool", func(cmd *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
		return a.poolNames(cmd), cobra.ShellCompDirectiveNoFileComp
	})
	cmd.RegisterFlagCompletionFunc("prefix-pool", func(cmd *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
		var names []string
		for _, n := range a.poolNames(cmd) {
			if base, ok := strings.CutSuffix(n, api.PDSuffix); ok {
				names = append(names, base)
			}
		}
		return names, cobra.ShellCompDirectiveNoFileComp
	})
	return cmd
}

// startLine summarises a campaign just started, with the options in
// effect (per pool when its pools differ).
func startLine(c api.Campaign) string {
	s := c.Description + ", " + plural(c.Clients, "client")
	if c.Counts.NotCapable > 0 {
		s += fmt.Sprintf(" (%d not capable)", c.Counts.NotCapable)
	}
	if !c.OptionsPerPool {
		return s + ", " + optionsText(c.Options, false)
	}
	s += ", options per pool:"
	for i, p := range c.PoolOptions {
		if i > 0 {
			s += ";"
		}
		s += " " + p.Pool + " " + optionsText(p.CampaignOptions, false)
	}
	return s
}

// runningLine is the progress of a campaign found already running.
func runningLine(c api.Campaign) string {
	return fmt.Sprintf("%d of %d done, %d pending, %d sent (%s)", c.Clients-c.Counts.Pending, c.Clients,
		c.Counts.Pending, c.Sent, c.Description)
}

// optionsText is "8 attempts from 2s doubling, pace 1000/s, on failure
// restore" and the flags set; all also names recycle-not-capable and a
// renew Reconfigure message.
func optionsText(o api.CampaignOptions, all bool) string {
	pace := "unlimited"
	if o.Pace != nil && *o.Pace > 0 {
		pace = strconv.Itoa(*o.Pace) + "/s"
	}
	s := fmt.Sprintf("%d attempts from %s doubling, pace %s, on failure %s", o.Attempts, o.Interval, pace, o.OnFailure)
	if o.ForceNAK != nil && *o.ForceNAK {
		s += ", force NAK"
	}
	if all && o.RecycleNotCapable != nil && *o.RecycleNotCapable {
		s += ", recycle not capable"
	}
	if o.ReconfMsg != "" && (all || o.ReconfMsg != "renew") {
		s += ", Reconfigure message " + o.ReconfMsg
	}
	return s
}

// campaignBound is the longest a campaign can run: the last client's
// schedule (sends at 0, I, 3I, ... (2^(A-1)-1)I, give-up after one more
// doubled wait, so (2^A-1)I), plus the longest wait for a DORA after a NAK
// at the very end, plus the time pace needs to reach every client once,
// plus a margin.
func campaignBound(c api.Campaign) time.Duration {
	opts := []api.CampaignOptions{c.Options}
	for _, p := range c.PoolOptions {
		opts = append(opts, p.CampaignOptions)
	}
	var longest time.Duration
	for _, o := range opts { // the slowest pool bounds the campaign
		iv, err := time.ParseDuration(o.Interval)
		if err != nil || iv <= 0 {
			iv = 2 * time.Second
		}
		att := min(max(o.Attempts, 1), 20)
		d := iv*time.Duration(1<<att-1) + iv<<(att-1)
		if o.Pace != nil && *o.Pace > 0 {
			d += time.Duration(c.Clients) * time.Second / time.Duration(*o.Pace) * time.Duration(att)
		}
		longest = max(longest, d)
	}
	return longest + 10*time.Second
}

// failed counts the clients that ended without the new configuration.
func failed(n api.Campaign) int {
	k := n.Counts
	return k.NoResponse + k.NotCapable + k.Aborted + k.Released + k.Declined + k.Expired + k.Deleted
}

func succeeded(n api.Campaign) int { return n.Counts.Renewed + n.Counts.Rebound + n.Counts.Informed }

// follow polls the campaign until it ends or its own bound passes, then
// prints the outcomes; the error says which clients did not renew.
func (a *app) follow(ctx context.Context, c *api.Client, camp api.Campaign, parent string) error {
	tty := !a.json && isTerminal(a.stdout)
	bound := campaignBound(camp)
	deadline := time.Now().Add(bound)
	lastLine, lastPrint := "", time.Now()
	for camp.State == "running" {
		if time.Now().After(deadline) {
			if tty {
				fmt.Fprintln(a.stdout)
			}
			return fmt.Errorf("campaign %d still running after %v, longer than its schedule allows; stop it with 'leasectl %s stop %d'",
				camp.ID, bound.Round(time.Second), parent, camp.ID)
		}
		if !a.json {
			line := progressLine(camp)
			switch {
			case tty:
				fmt.Fprintf(a.stdout, "\r\033[K%s %s", bar(camp, 24), line)
			case line != lastLine || time.Since(lastPrint) >= quietEvery:
				fmt.Fprintln(a.stdout, line)
				lastPrint = time.Now()
			}
			lastLine = line
		}
		select {
		case <-ctx.Done():
			if tty {
				fmt.Fprintln(a.stdout)
			}
			return fmt.Errorf("interrupted; campaign %d keeps running (leasectl %s stop %d ends it)", camp.ID, parent, camp.ID)
		case <-time.After(pollEvery):
		}
		rctx, cancel := context.WithTimeout(ctx, a.timeout)
		next, err := c.Campaign(rctx, camp.ID)
		cancel()
		if err != nil {
			if tty {
				fmt.Fprintln(a.stdout)
			}
			return fmt.Errorf("campaign %d: %w", camp.ID, err)
		}
		camp = next
	}
	if a.json {
		if err := a.printJSON(camp); err != nil {
			return err
		}
	} else {
		if tty {
			fmt.Fprintf(a.stdout, "\r\033[K%s %s\n", bar(camp, 24), progressLine(camp))
		} else if line := progressLine(camp); line != lastLine {
			fmt.Fprintln(a.stdout, line)
		}
		fmt.Fprintf(a.stdout, "campaign %d %s after %s\n", camp.ID, camp.State, span(camp.Ended.Sub(camp.Created)))
		if err := writeOutcomes(a.stdout, camp); err != nil {
			return err
		}
	}
	return campaignVerdict(camp, parent)
}

// campaignVerdict is nil when every client took the new configuration.
func campaignVerdict(c api.Campaign, parent string) error {
	bad := c.Clients - succeeded(c)
	if bad == 0 {
		return nil
	}
	var parts, names []string
	for _, o := range api.OutcomeNames() {
		if n := countOf(c.Counts, o); n > 0 && !api.Succeeded(o) {
			parts = append(parts, fmt.Sprintf("%d %s", n, o))
			names = append(names, o)
		}
	}
	return fmt.Errorf("%d of %d clients did not take the new configuration: %s (see 'leasectl %s clients %d --outcome %s')",
		bad, c.Clients, strings.Join(parts, ", "), parent, c.ID, strings.Join(names, ","))
}

func progressLine(c api.Campaign) string {
	return fmt.Sprintf("%d/%d done  sent %d  renewed %d  pending %d  failed %d",
		c.Clients-c.Counts.Pending, c.Clients, c.Sent, succeeded(c), c.Counts.Pending, failed(c))
}

// bar draws [####----] for the share of clients that have an outcome.
func bar(c api.Campaign, width int) string {
	done := 0
	if c.Clients > 0 {
		done = (c.Clients - c.Counts.Pending) * width / c.Clients
	}
	return "[" + strings.Repeat("#", done) + strings.Repeat("-", width-done) + "]"
}

func countOf(k reconf.Counts, o string) int {
	switch o {
	case "pending":
		return k.Pending
	case "renewed":
		return k.Renewed
	case "rebound":
		return k.Rebound
	case "informed":
		return k.Informed
	case "no_response":
		return k.NoResponse
	case "not_capable":
		return k.NotCapable
	case "aborted":
		return k.Aborted
	case "released":
		return k.Released
	case "declined":
		return k.Declined
	case "expired":
		return k.Expired
	case "deleted":
		return k.Deleted
	}
	return 0
}

// writeOutcomes prints one row per outcome that has clients.
func writeOutcomes(w io.Writer, c api.Campaign) error {
	tw := newTable(w)
	fmt.Fprintln(tw, "OUTCOME\tCLIENTS")
	for _, o := range api.OutcomeNames() {
		if n := countOf(c.Counts, o); n > 0 {
			fmt.Fprintf(tw, "%s\t%d\n", o, n)
		}
	}
	fmt.Fprintf(tw, "total\t%d\n", c.Clients)
	return tw.Flush()
}

func campaignIDArg(s string) (uint32, error) {
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil || n == 0 {
		return 0, usagef("%q is not a campaign id (a positive number, see 'leasectl forcerenew status')", s)
	}
	return uint32(n), nil
}

func (a *app) statusCommand(parent string) *cobra.Command {
	return &cobra.Command{
		Use:   "status [ID]",
		Short: "Show every campaign (with the families it covers), or one with its counts per outcome",
		Example: fmt.Sprintf(`  leasectl %[1]s status
  leasectl %[1]s status 3`, parent),
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usagef("%s takes at most one campaign id", cmd.CommandPath())
			}
			if len(args) == 1 {
				_, err := campaignIDArg(args[0])
				return err
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ctx, cancel, err := a.start(cmd)
			if err != nil {
				return err
			}
			defer cancel()
			if len(args) == 1 {
				id, _ := campaignIDArg(args[0])
				camp, err := c.Campaign(ctx, id)
				if err != nil {
					return err
				}
				if a.json {
					return a.printJSON(camp)
				}
				return writeCampaign(a.stdout, camp, a.now())
			}
			list, err := c.Campaigns(ctx)
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(list)
			}
			return writeCampaignTable(a.stdout, list, a.now())
		},
	}
}

func writeCampaignTable(w io.Writer, list []api.Campaign, now time.Time) error {
	if len(list) == 0 {
		_, err := fmt.Fprintln(w, "no campaigns")
		return err
	}
	tw := newTable(w)
	fmt.Fprintln(tw, "ID\tSTATE\tFAMILY\tSELECTOR\tCLIENTS\tSENT\tRENEWED\tPENDING\tFAILED\tSTARTED")
	for _, c := range list {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%s\n", c.ID, c.State, families(c.Families), c.Description, c.Clients, c.Sent,
			succeeded(c), c.Counts.Pending, failed(c), relative(c.Created, now))
	}
	return tw.Flush()
}

// families is "4", "6", "4+6" or "-".
func families(f []int) string {
	s := make([]string, len(f))
	for i, v := range f {
		s[i] = strconv.Itoa(v)
	}
	return dash(strings.Join(s, "+"))
}

func writeCampaign(w io.Writer, c api.Campaign, now time.Time) error {
	tw := newTable(w)
	fmt.Fprintf(tw, "campaign:\t%d\n", c.ID)
	fmt.Fprintf(tw, "state:\t%s\n", c.State)
	fmt.Fprintf(tw, "selector:\t%s\n", c.Description)
	fmt.Fprintf(tw, "family:\t%s\n", families(c.Families))
	fmt.Fprintf(tw, "pools:\t%s\n", dash(strings.Join(c.Pools, ", ")))
	fmt.Fprintf(tw, "started:\t%s (%s)\n", c.Created.Format(time.RFC3339), relative(c.Created, now))
	if !c.Ended.IsZero() {
		fmt.Fprintf(tw, "ended:\t%s (after %s)\n", c.Ended.Format(time.RFC3339), span(c.Ended.Sub(c.Created)))
	}
	if c.OptionsPerPool {
		fmt.Fprintf(tw, "options:\tper pool\n")
		for _, p := range c.PoolOptions {
			fmt.Fprintf(tw, "  %s:\t%s\n", p.Pool, optionsText(p.CampaignOptions, true))
		}
	} else {
		fmt.Fprintf(tw, "options:\t%s\n", optionsText(c.Options, true))
	}
	fmt.Fprintf(tw, "progress:\t%s\n", progressLine(c))
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	return writeOutcomes(w, c)
}

func (a *app) clientsCommand(parent string) *cobra.Command {
	var outcomes []string
	cmd := &cobra.Command{
		Use:   "clients ID",
		Short: "Show the clients of a campaign with their family and outcome, in address order",
		Long: `Show the clients of a campaign in address order (IPv4 before IPv6). A DHCPv6
client is one DUID: ADDRESS is its IA_NA address (else its first delegated
prefix) and ALSO lists its other selected bindings.`,
		Example: fmt.Sprintf(`  leasectl %[1]s clients 3
  leasectl %[1]s clients 3 --outcome no_response,not_capable`, parent),
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usagef("%s needs one campaign id", cmd.CommandPath())
			}
			_, err := campaignIDArg(args[0])
			return err
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			id, _ := campaignIDArg(args[0])
			for _, o := range outcomes {
				if !slices.Contains(api.OutcomeNames(), o) {
					return usagef("--outcome %q: unknown outcome (valid: %s)", o, strings.Join(api.OutcomeNames(), ", "))
				}
			}
			c, ctx, cancel, err := a.start(cmd)
			if err != nil {
				return err
			}
			defer cancel()
			cl, err := c.CampaignClients(ctx, id, api.ClientQuery{Outcomes: outcomes})
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(cl)
			}
			return writeClientTable(a.stdout, cl, a.now())
		},
	}
	cmd.Flags().StringSliceVar(&outcomes, "outcome", nil, "only clients with these outcomes (repeat or comma-separate): "+strings.Join(api.OutcomeNames(), ", "))
	cmd.RegisterFlagCompletionFunc("outcome", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return api.OutcomeNames(), cobra.ShellCompDirectiveNoFileComp
	})
	return cmd
}

func writeClientTable(w io.Writer, cl []api.CampaignClient, now time.Time) error {
	if len(cl) == 0 {
		_, err := fmt.Fprintln(w, "no clients match")
		return err
	}
	more := false
	for _, c := range cl {
		more = more || len(c.More) > 0
	}
	tw := newTable(w)
	fmt.Fprint(tw, "ADDRESS\tFAMILY\tCLIENT-ID/DUID\tPOOL\tCAPABLE\tSENT\tOUTCOME\tLAST EVENT\tWHEN\tNEXT")
	if more {
		fmt.Fprint(tw, "\tALSO")
	}
	fmt.Fprintln(tw)
	for _, c := range cl {
		capable := "no"
		if c.Capable {
			capable = "yes"
		}
		last := c.Last
		if c.Family == 6 && last == "forcerenew" {
			last = "reconfigure" // reconf names the event of both families forcerenew
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s", c.Address, c.Family, dash(c.ClientID), dash(c.Pool), capable, c.Sent,
			c.Outcome, last, relative(c.When, now), relative(c.Next, now))
		if more {
			also := make([]string, len(c.More))
			for i, a := range c.More {
				also[i] = a.String()
			}
			fmt.Fprint(tw, "\t"+dash(strings.Join(also, ",")))
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}

func (a *app) stopCommand() *cobra.Command {
	var pool string
	cmd := &cobra.Command{
		Use:   "stop ID | --pool NAME",
		Short: "Stop a running campaign; its pending clients become aborted, leases unchanged",
		Args: func(cmd *cobra.Command, args []string) error {
			switch {
			case len(args) > 1:
				return usagef("%s takes one campaign id", cmd.CommandPath())
			case len(args) == 1 && pool != "":
				return usagef("give a campaign id or --pool, not both")
			case len(args) == 0 && pool == "":
				return usagef("say which campaign: an id or --pool NAME")
			case len(args) == 1:
				_, err := campaignIDArg(args[0])
				return err
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ctx, cancel, err := a.start(cmd)
			if err != nil {
				return err
			}
			defer cancel()
			var id uint32
			if len(args) == 1 {
				id, _ = campaignIDArg(args[0])
			} else {
				list, err := c.Campaigns(ctx)
				if err != nil {
					return err
				}
				for _, camp := range list {
					if camp.State == "running" && contains(camp.Pools, pool) {
						id = camp.ID
					}
				}
				if id == 0 {
					return fmt.Errorf("no running campaign covers pool %q", pool)
				}
			}
			camp, err := c.StopCampaign(ctx, id)
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(camp)
			}
			_, err = fmt.Fprintf(a.stdout, "campaign %d stopped: %s; %d aborted\n", camp.ID, progressLine(camp), camp.Counts.Aborted)
			return err
		},
	}
	cmd.Flags().StringVar(&pool, "pool", "", "stop the running campaign that covers this pool")
	return cmd
}

func (a *app) deleteCampaignCommand(parent string) *cobra.Command {
	return &cobra.Command{
		Use:   "delete ID",
		Short: "Delete a finished campaign (done, stopped or halted) from the server's memory and store",
		Long: `Delete a finished campaign: it disappears from status, the API and the
store. A running campaign must be stopped first. Finished campaigns are
also pruned automatically (config campaigns.retention and campaigns.keep).`,
		Example: fmt.Sprintf("  leasectl %s delete 3", parent),
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usagef("%s needs one campaign id", cmd.CommandPath())
			}
			_, err := campaignIDArg(args[0])
			return err
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			id, _ := campaignIDArg(args[0])
			c, ctx, cancel, err := a.start(cmd)
			if err != nil {
				return err
			}
			defer cancel()
			if err := c.DeleteCampaign(ctx, id); err != nil {
				var se *api.StatusError
				if errors.As(err, &se) && se.Code == http.StatusConflict {
					return fmt.Errorf("campaign %d is running: stop it first with 'leasectl %s stop %d'", id, parent, id)
				}
				return err
			}
			if a.json {
				return a.printJSON(map[string]any{"deleted": id})
			}
			_, err = fmt.Fprintf(a.stdout, "campaign %d deleted\n", id)
			return err
		},
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func (a *app) disconnectCommand() *cobra.Command {
	var onFailure string
	cmd := &cobra.Command{
		Use:   "disconnect ADDRESS",
		Short: "Disconnect a client: reconfigure it with a forced NAK, delete its lease if it does not come back",
		Long: `Disconnect the client bound to ADDRESS without a silent deletion: leased
sends it FORCERENEW and NAKs its renew, so the client re-DISCOVERs under the
current configuration (Junos AAA-triggered reconfiguration). If it does not
come back, its lease is deleted (default) or its address recycled
(--on-failure recycle). Follow it with 'leasectl forcerenew status ID'.`,
		Args: addressArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			switch onFailure {
			case "delete", "recycle":
			default:
				return usagef("--on-failure %q: want delete or recycle", onFailure)
			}
			c, ctx, cancel, err := a.start(cmd)
			if err != nil {
				return err
			}
			defer cancel()
			camp, err := c.Disconnect(ctx, netip.MustParseAddr(args[0]), onFailure)
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(camp)
			}
			if _, err = fmt.Fprintf(a.stdout, "disconnecting %s: campaign %d, %s\n", args[0], camp.ID, startLine(camp)); err != nil {
				return err
			}
			return a.notCapableLine(ctx, c, camp, args[0], onFailure)
		},
	}
	cmd.Flags().StringVar(&onFailure, "on-failure", "delete", "if the client does not come back: delete or recycle its lease")
	return cmd
}

// plural is "1 client", "2 clients".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

// notCapableLine tells the operator, after a disconnect, that the client
// cannot be reconfigured (it ignores FORCERENEW/Reconfigure), what happened
// to its lease and until when its address stays out of the pool (the
// client may use it until its lease would have ended). Nothing when the
// client is capable.
func (a *app) notCapableLine(ctx context.Context, c *api.Client, camp api.Campaign, addr, onFailure string) error {
	if camp.Counts.NotCapable == 0 && camp.Counts.Deleted == 0 {
		return nil // capable: its campaign is under way
	}
	cs, err := c.CampaignClients(ctx, camp.ID, api.ClientQuery{})
	if err != nil || len(cs) != 1 || cs[0].Capable {
		return nil // the disconnect itself was accepted; this line is extra
	}
	what := "its lease was deleted"
	if onFailure == "recycle" {
		what = "its address is recycled"
	}
	held := "the address is not held any more"
	if l, err := c.Lease(ctx, cs[0].Address); err == nil && !l.Expires.IsZero() && (l.State == "quarantined" || l.State == "bound") {
		// bound: a recycle not executed yet; it keeps the expiry.
		held = "the address is held (quarantined) until " + l.Expires.UTC().Format(time.RFC3339) + ", when the client must stop using it"
	}
	_, err = fmt.Fprintf(a.stdout, "%s is not capable (it ignores FORCERENEW/Reconfigure), outcome %s: %s; %s\n",
		addr, cs[0].Outcome, what, held)
	return err
}
