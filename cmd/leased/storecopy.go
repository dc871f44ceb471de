package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/leased/leased/lease"
	"github.com/leased/leased/store"
	"github.com/leased/leased/store/postgres"
	"github.com/leased/leased/store/wal"
)

const storeUsage = `usage: leased store copy --from wal:DIR|postgres:DSN --to wal:DIR|postgres:DSN [--force]
       leased store import --from kea-csv|isc-dhcpd-leases [--config FILE] [--force] LEASEFILE
       leased store dump (--data-dir DIR | --dsn DSN) [--json]

Copies every lease and blob (campaigns, the DHCPv6 server DUID) from one
lease store to another: between the embedded log (wal:DIR, the data_dir)
and PostgreSQL (postgres:DSN, a libpq connection string). Stop leased
first: a log directory is locked while leased runs, and leases written
during the copy would be missed. The destination must be empty unless
--force, which merges (per address the record with the highest seq wins;
blobs are overwritten).
`

// storeCommand runs "leased store ...".
func storeCommand(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "import" { // storeimport.go
		return storeImport(args[1:], stdout, stderr, time.Now())
	}
	if len(args) > 0 && args[0] == "dump" { // storedump.go
		return storeDump(args[1:], stdout, stderr)
	}
	if len(args) == 0 || args[0] != "copy" {
		fmt.Fprint(stderr, storeUsage)
		return 2
	}
	fs := flag.NewFlagSet("leased store copy", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, storeUsage); fs.PrintDefaults() }
	from := fs.String("from", "", "source store: wal:`DIR` or postgres:DSN")
	to := fs.String("to", "", "destination store: wal:`DIR` or postgres:DSN")
	force := fs.Bool("force", false, "copy into a destination that already holds leases or blobs (merge)")
	name := fs.String("server-name", "leased-store-copy", "writer `name` recorded on the rows written to PostgreSQL")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if fs.NArg() > 0 || *from == "" || *to == "" {
		fmt.Fprint(stderr, storeUsage)
		return 2
	}
	if *from == *to {
		fmt.Fprintln(stderr, "leased store copy: --from and --to are the same store")
		return 2
	}
	n, nb, err := storeCopy(*from, *to, *force, *name)
	if err != nil {
		fmt.Fprintf(stderr, "leased store copy: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "copied %d leases and %d blobs from %s to %s\n", n, nb, storeLabel(*from), storeLabel(*to))
	return 0
}

// storeLabel names a store for messages: a DSN may hold a password.
func storeLabel(spec string) string {
	if strings.HasPrefix(spec, "postgres:") {
		return "postgres"
	}
	return spec
}

// openStoreSpec opens wal:DIR or postgres:DSN. A source log directory
// must exist (wal.Open would create an empty one).
func openStoreSpec(spec string, source bool, serverName string) (store.Store, error) {
	kind, arg, ok := strings.Cut(spec, ":")
	if !ok || arg == "" {
		return nil, fmt.Errorf("%q: want wal:DIR or postgres:DSN", spec)
	}
	switch kind {
	case "wal":
		if source {
			if fi, err := os.Stat(arg); err != nil || !fi.IsDir() {
				return nil, fmt.Errorf("source %s: not a directory: %v", spec, err)
			}
		}
		return wal.Open(arg, wal.Options{})
	case "postgres":
		ctx, cancel := context.WithTimeout(context.Background(), storeOpenTimeout)
		defer cancel()
		return postgres.Open(ctx, arg, postgres.Options{ServerName: serverName, NoRegister: true})
	}
	return nil, fmt.Errorf("%q: unknown store kind %q; want wal:DIR or postgres:DSN", spec, kind)
}

// copyBatch is the number of leases per destination commit.
const copyBatch = 1000

func storeCopy(from, to string, force bool, serverName string) (leases, blobs int, err error) {
	src, err := openStoreSpec(from, true, serverName)
	if err != nil {
		return 0, 0, err
	}
	defer src.Close()
	dst, err := openStoreSpec(to, false, serverName)
	if err != nil {
		return 0, 0, err
	}
	defer func() {
		if cerr := dst.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close destination: %w", cerr)
		}
	}()
	// The destination's contents (a log must be loaded once anyway).
	var have, haveBlobs int
	if err := dst.Load(func(lease.Lease) error { have++; return nil }); err != nil {
		return 0, 0, fmt.Errorf("destination: %w", err)
	}
	if err := dst.LoadBlobs(func(store.Blob) error { haveBlobs++; return nil }); err != nil {
		return 0, 0, fmt.Errorf("destination: %w", err)
	}
	if (have > 0 || haveBlobs > 0) && !force {
		return 0, 0, fmt.Errorf("destination %s holds %d leases and %d blobs: refusing to copy into it without --force (which merges)",
			storeLabel(to), have, haveBlobs)
	}

	ctx := context.Background()
	batch := make([]lease.Lease, 0, copyBatch)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := dst.Commit(ctx, batch); err != nil {
			return fmt.Errorf("destination: %w", err)
		}
		leases += len(batch)
		batch = batch[:0]
		return nil
	}
	if err := src.Load(func(l lease.Lease) error {
		batch = append(batch, l)
		if len(batch) == copyBatch {
			return flush()
		}
		return nil
	}); err != nil {
		return leases, 0, fmt.Errorf("source: %w", err)
	}
	if err := flush(); err != nil {
		return leases, 0, err
	}
	// Blobs in the order of their last writes (fn must not keep slices).
	var bs []store.Blob
	if err := src.LoadBlobs(func(b store.Blob) error {
		bs = append(bs, store.Blob{Kind: b.Kind, Key: bytes.Clone(b.Key), Value: bytes.Clone(b.Value)})
		return nil
	}); err != nil {
		return leases, 0, fmt.Errorf("source: %w", err)
	}
	for i := 0; i < len(bs); i += copyBatch {
		part := bs[i:min(i+copyBatch, len(bs))]
		if err := dst.CommitBlobs(ctx, part); err != nil {
			return leases, blobs, fmt.Errorf("destination: %w", err)
		}
		blobs += len(part)
	}
	if leases == 0 && blobs == 0 {
		return 0, 0, errors.New("the source holds no leases and no blobs: nothing copied (wrong --from?)")
	}
	return leases, blobs, nil
}
