package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/leased/leased/config"
	"github.com/leased/leased/migrate"
)

// importCommand converts another server's configuration into leased's
// (migrate package); it needs no running leased.
func (a *app) importCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "import",
		Short: "Convert a Kea or ISC dhcpd configuration into leased's YAML",
		Long: `Convert another DHCP server's configuration into leased's YAML.

The YAML goes to stdout (or -o FILE). Everything that could not be carried
over is listed on stderr, one line per item with its source location
(FILE:LINE: what and why). The result is checked as 'leased --check
--offline' would; the command fails when it does not pass.`,
		Args: cobra.NoArgs,
		RunE: a.needCommand,
	}
	var out string
	conv := func(use, short string, f func(string, []byte) (*migrate.Result, error)) *cobra.Command {
		cmd := &cobra.Command{
			Use:   use + " FILE",
			Short: short,
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				a.ran = true
				return a.runImport(args[0], out, f)
			},
		}
		cmd.Flags().StringVarP(&out, "output", "o", "", "write the YAML to this file instead of stdout")
		return cmd
	}
	c.AddCommand(
		conv("kea-config", "Convert a Kea 2.x kea-dhcp4.conf / kea-dhcp6.conf (JSON with comments)", migrate.FromKea),
		conv("isc-dhcpd-config", "Convert an ISC dhcpd.conf or dhcpd6.conf", migrate.FromDhcpd),
	)
	return c
}

func (a *app) runImport(file, out string, f func(string, []byte) (*migrate.Result, error)) error {
	src, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	r, err := f(file, src)
	if err != nil {
		return err
	}
	for _, it := range r.Skipped {
		fmt.Fprintf(a.stderr, "not carried over: %s\n", it)
	}
	if out == "" {
		if _, err := a.stdout.Write(r.YAML); err != nil {
			return err
		}
	} else if err := os.WriteFile(out, r.YAML, 0o644); err != nil {
		return err
	}
	if _, err := config.Parse(nameOr(out, "the converted configuration"), r.YAML); err != nil {
		fmt.Fprintln(a.stderr, err)
		return errors.New("the converted configuration does not pass leased --check --offline; edit it as reported above")
	}
	fmt.Fprintf(a.stderr, "%d items not carried over; the configuration passes leased --check --offline\n", len(r.Skipped))
	return nil
}

func nameOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
