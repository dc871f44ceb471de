package main

import (
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/leased/leased/config"
)

// checkHost verifies what the configuration names on this host, before
// leased touches its data directory or store: every dhcpv4 and dhcpv6
// interface exists. Each missing one is a *config.Error naming the file,
// line and field (joined with errors.Join, like config.Load's errors).
// `leased --check --offline` skips it, to check a file written for another
// host.
func checkHost(cfg *config.Config, path string) error {
	var errs []error
	check := func(section string, names []string) {
		for i, name := range names {
			if _, err := net.InterfaceByName(name); err == nil {
				continue
			}
			f := fmt.Sprintf("%s.interfaces[%d]", section, i)
			errs = append(errs, &config.Error{File: path, Line: cfg.Line(f), Field: f,
				Msg: fmt.Sprintf("no network interface %q on this host (it has: %s); "+
					"use --check --offline to check a file for another host", name, hostInterfaces())})
		}
	}
	check("dhcpv4", cfg.DHCPv4.Interfaces)
	if cfg.DHCPv6 != nil {
		check("dhcpv6", cfg.DHCPv6.Interfaces)
	}
	return errors.Join(errs...)
}

// hostInterfaces lists the names of this host's network interfaces (the
// first 12: a router may have thousands of VLANs).
func hostInterfaces() string {
	const most = 12
	ifs, err := net.Interfaces()
	if err != nil {
		return "unknown: " + err.Error()
	}
	var names []string
	for _, ni := range ifs {
		if len(names) == most {
			names = append(names, fmt.Sprintf("and %d more", len(ifs)-most))
			break
		}
		names = append(names, ni.Name)
	}
	return strings.Join(names, ", ")
}
