package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/leased/leased/internal/buildinfo"
)

// versionJSON is `leasectl version --json`.
type versionJSON struct {
	Client buildinfo.Info `json:"client"`
	// Server is leased's version and revision from /v1/health; absent
	// with --client.
	Server *serverVersion `json:"server,omitempty"`
}

type serverVersion struct {
	Version  string `json:"version"`
	Revision string `json:"revision,omitempty"`
}

func (a *app) versionCommand() *cobra.Command {
	var clientOnly bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Show leasectl's version and the running leased's",
		Long: `Show leasectl's version (and VCS revision) and those of the leased it talks
to (from its health). With --client, only leasectl's, without asking leased.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := versionJSON{Client: buildinfo.Get()}
			if !clientOnly {
				c, ctx, cancel, err := a.start(cmd)
				if err != nil {
					return err
				}
				defer cancel()
				h, err := c.Health(ctx)
				if err != nil {
					if !a.json {
						fmt.Fprintf(a.stdout, "leasectl %s\n", out.Client)
					}
					return err
				}
				out.Server = &serverVersion{Version: h.Version, Revision: h.Revision}
			}
			a.ran = true
			if a.json {
				return a.printJSON(out)
			}
			fmt.Fprintf(a.stdout, "leasectl %s\n", out.Client)
			if s := out.Server; s != nil {
				rev := ""
				if s.Revision != "" {
					rev = " (revision " + s.Revision + ")"
				}
				fmt.Fprintf(a.stdout, "leased   %s%s\n", dash(s.Version), rev)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&clientOnly, "client", false, "only leasectl's version; do not ask leased")
	return cmd
}
