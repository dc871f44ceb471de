package main

import (
	"fmt"
	"io"
	"math/big"
	"net/netip"
	"time"

	"github.com/spf13/cobra"

	"github.com/leased/leased/api"
)

// clusterCommand: leasectl cluster — the servers sharing the PostgreSQL
// store (docs/cluster.md).
func (a *app) clusterCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "cluster",
		Short: "Show the servers sharing the PostgreSQL store, the blocks each holds, and campaign leaders",
		Long: `Show the servers registered in the shared PostgreSQL database: their state
(live; dead: heartbeat older than the take-over delay; stopped: clean
stop), heartbeat age, fencing epoch, the address blocks each has claimed,
and which server leads each running campaign.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, ctx, cancel, err := a.start(cmd)
			if err != nil {
				return err
			}
			defer cancel()
			st, err := c.Cluster(ctx)
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(st)
			}
			return writeCluster(a.stdout, st, a.now())
		},
	}
}

// blockSize is the number of addresses of b, as text (a DHCPv6 block may
// exceed 2^64).
func blockSize(b api.ClusterBlock) *big.Int {
	lo := new(big.Int).SetBytes(b.First.AsSlice())
	n := new(big.Int).SetBytes(b.Last.AsSlice())
	return n.Sub(n, lo).Add(n, big.NewInt(1))
}

func writeCluster(w io.Writer, st api.ClusterStatus, now time.Time) error {
	tw := newTable(w)
	fmt.Fprintln(tw, "SERVER\tSTATE\tHEARTBEAT\tEPOCH\tBLOCKS\tADDRESSES\tVERSION")
	for _, s := range st.Servers {
		name := s.Name
		if name == st.Server {
			name += " *"
		}
		total := new(big.Int)
		for _, b := range s.Blocks {
			total.Add(total, blockSize(b))
		}
		age := span(time.Duration(s.HeartbeatAgeSeconds * float64(time.Second)))
		fmt.Fprintf(tw, "%s\t%s\t%s ago\t%d\t%d\t%s\t%s\n", name, s.State, age, s.Epoch, len(s.Blocks), total, dash(s.Version))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var blocks int
	for _, s := range st.Servers {
		blocks += len(s.Blocks)
	}
	if blocks > 0 {
		fmt.Fprintln(w)
		tw = newTable(w)
		fmt.Fprintln(tw, "BLOCK\tPOOL\tSERVER\tSIZE\tEXPIRES")
		for _, s := range st.Servers {
			for _, b := range s.Blocks {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", blockText(b.First, b.Last), b.Pool, s.Name, blockSize(b), relative(b.Expires, now))
			}
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	fmt.Fprintln(w)
	if len(st.Campaigns) == 0 {
		_, err := fmt.Fprintln(w, "no running campaign has a leader")
		return err
	}
	tw = newTable(w)
	fmt.Fprintln(tw, "CAMPAIGN\tLEADER\tSINCE")
	for _, c := range st.Campaigns {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", c.Campaign, c.Leader, relative(c.Since, now))
	}
	return tw.Flush()
}

func blockText(first, last netip.Addr) string {
	if first == last {
		return first.String()
	}
	return first.String() + "-" + last.String()
}
