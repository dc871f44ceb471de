package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/leased/leased/api"
)

func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
}

// dash shows an empty field as "-" so columns stay readable.
func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func sectionText(s *int) string {
	if s == nil {
		return "-"
	}
	return strconv.Itoa(*s)
}

// writeLeaseTable prints leases as an aligned table; EXPIRES is relative
// to now.
func writeLeaseTable(w io.Writer, ls []api.Lease, now time.Time) error {
	if len(ls) == 0 {
		_, err := fmt.Fprintln(w, "no leases match")
		return err
	}
	v6 := false
	for _, l := range ls {
		v6 = v6 || l.Family == 6
	}
	tw := newTable(w)
	if !v6 {
		fmt.Fprintln(tw, "ADDRESS\tHWADDR\tCLIENT-ID\tHOSTNAME\tPOOL\tSECTION\tSTATE\tEXPIRES")
		for _, l := range ls {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
				l.Address, dash(l.HWAddr), dash(l.ClientID), dash(l.Hostname), dash(l.Pool),
				sectionText(l.Section), l.State, relative(l.Expires, now))
		}
		return tw.Flush()
	}
	// Both families: the address column holds delegated prefixes too,
	// CLIENT-ID is the DHCPv6 DUID for v6 rows, IAID is "-" for v4.
	fmt.Fprintln(tw, "ADDRESS/PREFIX\tIAID\tHWADDR\tCLIENT-ID/DUID\tHOSTNAME\tPOOL\tSECTION\tSTATE\tEXPIRES")
	for _, l := range ls {
		addr, iaid := l.Address.String(), "-"
		if l.Prefix != "" {
			addr = l.Prefix
		}
		if l.IAID != nil {
			iaid = strconv.FormatUint(uint64(*l.IAID), 10)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
			addr, iaid, dash(l.HWAddr), dash(l.ClientID), dash(l.Hostname), dash(l.Pool),
			sectionText(l.Section), l.State, relative(l.Expires, now))
	}
	return tw.Flush()
}

// writeLease prints one lease as "field: value" lines.
func writeLease(w io.Writer, l api.Lease, now time.Time) error {
	at := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.Format(time.RFC3339) + " (" + relative(t, now) + ")"
	}
	tw := newTable(w)
	rows := [][2]string{
		{"address", l.Address.String()},
	}
	if l.Family == 6 {
		iaid := "-"
		if l.IAID != nil {
			iaid = strconv.FormatUint(uint64(*l.IAID), 10)
		}
		rows = append(rows, [2]string{"family", "6"}, [2]string{"prefix", dash(l.Prefix)}, [2]string{"iaid", iaid},
			[2]string{"duid", dash(l.DUID)}, [2]string{"preferred", at(l.Preferred)})
	}
	rows = append(rows, [][2]string{
		{"state", l.State},
		{"hwaddr", dash(l.HWAddr)},
		{"client-id", dash(l.ClientID)},
		{"hostname", dash(l.Hostname)},
		{"pool", dash(l.Pool)},
		{"section", sectionText(l.Section)},
		{"start", at(l.Start)},
		{"t1", at(l.T1)},
		{"t2", at(l.T2)},
		{"expires", at(l.Expires)},
		{"xid", l.XID},
		{"giaddr", dash(l.GIAddr)},
		{"relay-info", dash(l.RelayInfo)},
		{"forcerenew", map[bool]string{true: "capable (RFC 6704 nonce)", false: "not capable"}[l.ForceRenewCapable]},
	}...)
	if l.Family == 6 {
		rows[len(rows)-1] = [2]string{"reconfigure", map[bool]string{true: "capable (sent Reconfigure Accept)", false: "not capable"}[l.ForceRenewCapable]}
	}
	for _, r := range rows {
		fmt.Fprintf(tw, "%s:\t%s\n", r[0], r[1])
	}
	return tw.Flush()
}

// writePoolTable prints one row per pool followed by one per section.
func writePoolTable(w io.Writer, ps []api.Pool) error {
	if len(ps) == 0 {
		_, err := fmt.Fprintln(w, "no pools configured")
		return err
	}
	tw := newTable(w)
	fmt.Fprintln(tw, "POOL\tSUBNET\tSIZE\tBOUND\tDECLINED\tUSED%")
	for _, p := range ps {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%.1f%%\n", p.Name, p.Subnet, p.Size, p.Bound, p.Declined, p.UsedPercent)
		for _, s := range p.Sections {
			fmt.Fprintf(tw, "  section %d\t%s-%s\t%d\t%d\t%d\t%.1f%%\n", s.Index, s.Start, s.End, s.Size, s.Bound, s.Declined, s.UsedPercent)
		}
	}
	return tw.Flush()
}

func writeHealth(w io.Writer, h api.Health) error {
	tw := newTable(w)
	fmt.Fprintf(tw, "status:\t%s\n", h.Status)
	switch {
	case len(h.Reasons) > 0:
		for _, r := range h.Reasons {
			since := ""
			if !r.Since.IsZero() {
				since = " since " + r.Since.UTC().Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "reason:\t%s (%s%s): %s\n", r.Code, r.Severity, since, r.Message)
		}
	case h.Message != "":
		fmt.Fprintf(tw, "message:\t%s\n", h.Message)
	}
	fmt.Fprintf(tw, "version:\t%s\n", dash(h.Version))
	if h.Revision != "" {
		fmt.Fprintf(tw, "revision:\t%s\n", h.Revision)
	}
	fmt.Fprintf(tw, "uptime:\t%s\n", span(time.Duration(h.UptimeSeconds*float64(time.Second))))
	fmt.Fprintf(tw, "leases:\t%d bound\n", h.Leases)
	fmt.Fprintf(tw, "pools:\t%d\n", h.Pools)
	fmt.Fprintf(tw, "store:\t%s\n", dash(h.Store))
	fmt.Fprintf(tw, "commit errors:\t%d\n", h.CommitErrors)
	if h.ServerDUID != "" {
		fmt.Fprintf(tw, "dhcpv6 duid:\t%s\n", h.ServerDUID)
	}
	return tw.Flush()
}

// relative says when t is from now: "in 59m", "3h5m ago", "-" for unset.
func relative(t, now time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := t.Sub(now)
	if d >= 0 {
		return "in " + span(d)
	}
	return span(-d) + " ago"
}

// span is a short human duration, truncated to its two largest units:
// 42s, 59m, 2h, 2h5m, 3d4h.
func span(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 24*time.Hour:
		return twoUnits(int(d/time.Hour), "h", int(d%time.Hour/time.Minute), "m")
	default:
		return twoUnits(int(d/(24*time.Hour)), "d", int(d%(24*time.Hour)/time.Hour), "h")
	}
}

func twoUnits(a int, ua string, b int, ub string) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "%d%s", a, ua)
	if b > 0 {
		fmt.Fprintf(&sb, "%d%s", b, ub)
	}
	return sb.String()
}
