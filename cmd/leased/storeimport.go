package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"time"

	"github.com/leased/leased/config"
	"github.com/leased/leased/lease"
	"github.com/leased/leased/migrate"
)

const storeImportUsage = `usage: leased store import --from kea-csv|isc-dhcpd-leases [--config FILE] [--force] LEASEFILE

Loads the active, unexpired leases of another server's lease file (a Kea
memfile CSV, DHCPv4 or DHCPv6, or an ISC dhcpd.leases or dhcpd6.leases:
lease, ia-na and ia-pd entries) into the lease store
of the configuration, so that clients keep their addresses on cut-over.
Stop leased first. Every lease must fall in a pool of the configuration and
agree with the store: a lease outside every pool, on an address the store
has bound to another client, of a client the store or the file binds
elsewhere, is a conflict. Conflicts are listed (FILE:LINE: why) and nothing
is imported, unless --force, which imports the others and skips them.
`

// storeImport runs "leased store import".
func storeImport(args []string, stdout, stderr io.Writer, now time.Time) int {
	fs := flag.NewFlagSet("leased store import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, storeImportUsage); fs.PrintDefaults() }
	from := fs.String("from", "", "lease file format: kea-csv or isc-dhcpd-leases")
	path := fs.String("config", "/etc/leased/leased.yaml", "configuration `file` (its pools and its store)")
	force := fs.Bool("force", false, "import the leases that do not conflict and skip the others")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fmt.Fprint(stderr, storeImportUsage)
		return 2
	}
	var read func(string, []byte, time.Time) (*migrate.Leases, error)
	switch *from {
	case "kea-csv":
		read = migrate.ReadKeaCSV
	case "isc-dhcpd-leases":
		read = migrate.ReadDhcpdLeases
	default:
		fmt.Fprint(stderr, storeImportUsage)
		return 2
	}
	cfg, err := config.Load(*path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	file := fs.Arg(0)
	src, err := os.ReadFile(file)
	if err != nil {
		fmt.Fprintf(stderr, "leased store import: %v\n", err)
		return 1
	}
	found, err := read(file, src, now)
	if err != nil {
		fmt.Fprintf(stderr, "leased store import: %v\n", err)
		return 1
	}
	for _, it := range found.Skipped {
		fmt.Fprintf(stderr, "not imported: %s\n", it)
	}
	n, conflicts, err := importLeases(cfg, *path, found.Found, *force, now)
	for _, c := range conflicts {
		fmt.Fprintf(stderr, "conflict: %s\n", c)
	}
	if err != nil {
		fmt.Fprintf(stderr, "leased store import: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "imported %d leases from %s (%d conflicts skipped, %d entries not active)\n", n, file, len(conflicts), len(found.Skipped))
	return 0
}

// clientOf identifies a binding's client: the DHCPv4 client key, or the
// DUID with the IA (IAID and kind) for DHCPv6.
func clientOf(l *lease.Lease) string {
	if l.IsV6() {
		return fmt.Sprintf("%x/%d/%t", l.ClientID, l.IAID, l.PrefixLen > 0)
	}
	return string(l.ClientID)
}

// placeLease sets l's Pool (and Section) from the configuration; "" when
// no pool can serve it.
func placeLease(cfg *config.Config, l *lease.Lease) string {
	if !l.IsV6() {
		lc := cfg.Lease()
		for _, p := range lc.Pools {
			if !p.Subnet.Contains(l.Addr) {
				continue
			}
			l.Pool = p.Name
			for _, s := range p.Sections {
				if !l.Addr.Less(s.Start) && !s.End.Less(l.Addr) {
					l.Section = s.Index
				}
			}
			return ""
		}
		return fmt.Sprintf("%s is outside every dhcpv4 pool", l.Addr)
	}
	for _, p := range cfg.Lease6().Pools {
		if l.PrefixLen == 0 {
			if p.Subnet.Contains(l.Addr) {
				l.Pool = p.Name
				return ""
			}
			continue
		}
		pd := p.PD
		if pd == nil || !pd.Prefix.Contains(l.Addr) {
			continue
		}
		maxLen := max(pd.MaxLength, pd.Length)
		if int(l.PrefixLen) < pd.Length || int(l.PrefixLen) > maxLen ||
			netip.PrefixFrom(l.Addr, pd.Length).Masked().Addr() != l.Addr {
			return fmt.Sprintf("%s is not a delegable prefix of pool %s (/%d to /%d, aligned on /%d)", l.Prefix(), p.Name, pd.Length, maxLen, pd.Length)
		}
		l.Pool = p.Name
		return ""
	}
	if l.PrefixLen > 0 {
		return fmt.Sprintf("%s is outside every dhcpv6 prefix_delegation", l.Prefix())
	}
	return fmt.Sprintf("%s is outside every dhcpv6 pool", l.Addr)
}

// importLeases checks found against the configuration and the store and
// commits the ones without conflict (all or, without force, none).
func importLeases(cfg *config.Config, path string, found []migrate.Found, force bool, now time.Time) (int, []string, error) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, _, err := openStore(cfg, path, log)
	if err != nil {
		return 0, nil, err
	}
	defer st.Close()
	have := map[netip.Addr]lease.Lease{}
	var maxSeq uint64
	if err := st.Load(func(l lease.Lease) error {
		maxSeq = max(maxSeq, l.Seq)
		if cur, ok := have[l.Addr]; !ok || l.Seq > cur.Seq {
			have[l.Addr] = l.Clone()
		}
		return nil
	}); err != nil {
		return 0, nil, fmt.Errorf("store: %w", err)
	}
	holder := map[string]netip.Addr{} // client → address the store binds it to
	for a, l := range have {
		if l.State.Holds() && l.Expiry.After(now) {
			holder[clientOf(&l)] = a
		}
	}
	var ok []lease.Lease
	var conflicts []string
	inFile := map[string]string{}
	for i := range found {
		f := &found[i]
		l := f.Lease
		why := placeLease(cfg, &l)
		c := clientOf(&l)
		if why == "" {
			if cur, bound := have[l.Addr]; bound && cur.State.Holds() && cur.Expiry.After(now) && clientOf(&cur) != c {
				why = fmt.Sprintf("%s is bound in the store to another client (%x) until %s", l.Addr, cur.ClientID, cur.Expiry.Format(time.RFC3339))
			} else if a, held := holder[c]; held && a != l.Addr {
				why = fmt.Sprintf("the client of %s already holds %s in the store", l.Addr, a)
			} else if w, dup := inFile[c]; dup {
				why = fmt.Sprintf("the client of %s also has an active lease at %s", l.Addr, w)
			}
		}
		if why != "" {
			conflicts = append(conflicts, f.Where+": "+why)
			continue
		}
		inFile[c] = f.Where
		maxSeq++
		l.Seq = maxSeq
		ok = append(ok, l)
	}
	if len(conflicts) > 0 && !force {
		return 0, conflicts, errors.New("conflicts: nothing imported (--force imports the others and skips these)")
	}
	ctx := context.Background()
	for i := 0; i < len(ok); i += copyBatch {
		if err := st.Commit(ctx, ok[i:min(i+copyBatch, len(ok))]); err != nil {
			return i, conflicts, fmt.Errorf("store: %w", err)
		}
	}
	return len(ok), conflicts, nil
}
