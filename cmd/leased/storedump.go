package main

import (
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/leased/leased/api"
	"github.com/leased/leased/lease"
	"github.com/leased/leased/store"
)

const dumpUsage = `usage: leased store dump (--data-dir DIR | --dsn DSN) [--json]

Prints every lease record of a store without the daemon (backups,
forensics, migration): the embedded log in DIR (the data_dir) or a
PostgreSQL database. Text: one row per lease in address order, then the
blobs (campaigns, the DHCPv6 server DUID, runtime reservations)
summarised. --json: one JSON object per line, the control API's Lease
form ({"lease": …}; reconfigure keys are never printed), then
{"blob": {"kind", "key", "bytes"}}; a runtime reservation's blob also
carries "reservation", the control API's Reservation form.

The log directory is locked while leased runs: dump refuses it then (stop
leased, or read the live state with leasectl leases). Opening the log
recovers it as leased's start would (a torn tail is cut). PostgreSQL is
read with plain SELECTs and may be dumped while servers run.
`

// dumpLine is one --json line.
type dumpLine struct {
	Lease *api.Lease `json:"lease,omitempty"`
	Blob  *dumpBlob  `json:"blob,omitempty"`
}

type dumpBlob struct {
	Kind  string `json:"kind"` // campaign, server_duid, reservation, or the number
	Key   string `json:"key"`  // hex
	Bytes int    `json:"bytes"`
	// Reservation is a runtime reservation's stored JSON (the control
	// API's Reservation form), for kind reservation.
	Reservation json.RawMessage `json:"reservation,omitempty"`
}

func blobKind(k uint8) string {
	switch k {
	case store.BlobReconf:
		return "campaign"
	case store.BlobServerDUID:
		return "server_duid"
	case store.BlobReservation:
		return "reservation"
	}
	return fmt.Sprint(k)
}

func storeDump(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("leased store dump", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, dumpUsage); fs.PrintDefaults() }
	dir := fs.String("data-dir", "", "the embedded log's `directory` (data_dir)")
	dsn := fs.String("dsn", "", "PostgreSQL connection string")
	asJSON := fs.Bool("json", false, "JSON lines instead of a table")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 || (*dir == "") == (*dsn == "") {
		fmt.Fprint(stderr, dumpUsage)
		return 2
	}
	spec := "wal:" + *dir
	if *dsn != "" {
		spec = "postgres:" + *dsn
	}
	st, err := openStoreSpec(spec, true, "leased-store-dump")
	if err != nil {
		fmt.Fprintf(stderr, "leased store dump: %v\n", err)
		return 1
	}
	defer st.Close()
	var ls []lease.Lease
	if err := st.Load(func(l lease.Lease) error { ls = append(ls, l); return nil }); err != nil {
		fmt.Fprintf(stderr, "leased store dump: load: %v\n", err)
		return 1
	}
	var bs []dumpBlob
	if err := st.LoadBlobs(func(b store.Blob) error {
		d := dumpBlob{Kind: blobKind(b.Kind), Key: hex.EncodeToString(b.Key), Bytes: len(b.Value)}
		if b.Kind == store.BlobReservation && json.Valid(b.Value) {
			d.Reservation = append(json.RawMessage(nil), b.Value...)
		}
		bs = append(bs, d)
		return nil
	}); err != nil {
		fmt.Fprintf(stderr, "leased store dump: load blobs: %v\n", err)
		return 1
	}
	slices.SortFunc(ls, func(a, b lease.Lease) int { return a.Addr.Compare(b.Addr) })
	if *asJSON {
		enc := json.NewEncoder(stdout)
		for i := range ls {
			j := api.LeaseFromRecord(&ls[i])
			if err := enc.Encode(dumpLine{Lease: &j}); err != nil {
				fmt.Fprintf(stderr, "leased store dump: %v\n", err)
				return 1
			}
		}
		for i := range bs {
			if err := enc.Encode(dumpLine{Blob: &bs[i]}); err != nil {
				fmt.Fprintf(stderr, "leased store dump: %v\n", err)
				return 1
			}
		}
		return 0
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ADDRESS\tSTATE\tPOOL\tCLIENT\tHOSTNAME\tEXPIRES\tSEQ")
	for i := range ls {
		j := api.LeaseFromRecord(&ls[i])
		addr := j.Address.String()
		if j.Prefix != "" {
			addr = j.Prefix
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\n", addr, j.State, j.Pool, j.ClientID, j.Hostname,
			ls[i].Expiry.UTC().Format(time.RFC3339), ls[i].Seq)
	}
	tw.Flush()
	fmt.Fprintf(stdout, "%d leases\n", len(ls))
	if len(bs) > 0 {
		fmt.Fprintln(stdout)
		tw = tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "BLOB\tKEY\tBYTES")
		for _, b := range bs {
			key := b.Key
			if b.Reservation != nil {
				// Family byte + the reserved address or prefix.
				if k, err := hex.DecodeString(b.Key); err == nil && len(k) > 1 {
					key = fmt.Sprintf("v%d %s", k[0], k[1:])
				}
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\n", b.Kind, key, b.Bytes)
		}
		tw.Flush()
	}
	return 0
}
