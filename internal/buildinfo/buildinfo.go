// Package buildinfo says which build of leased is running: its version and
// the VCS revision it was built from.
//
// A release build sets the version with
//
//	go build -ldflags "-X github.com/leased/leased/internal/buildinfo.version=$(git describe --tags --always --dirty)"
//
// (the Makefile does). Without it the version is the one the Go toolchain
// stamped into the binary: the module version of `go install …@v1.2.3`, or
// for a build in a git checkout a pseudo-version holding the commit
// (v0.0.0-20261204125900-17496e8abcde+dirty). The revision, its time and
// whether the tree was modified come from the toolchain's VCS stamp
// (-buildvcs, on by default in a checkout) and are empty when it has none
// (go test, go run, -buildvcs=false).
package buildinfo

import (
	"cmp"
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
)

// version is set with -ldflags -X (see the package comment).
var version string

// Info describes the running binary.
type Info struct {
	// Version is the -ldflags version, else the module version, else
	// "devel".
	Version string `json:"version"`
	// Revision is the full VCS commit hash; empty if unknown.
	Revision string `json:"revision,omitempty"`
	// Time is the commit time (RFC 3339); empty if unknown.
	Time string `json:"time,omitempty"`
	// Modified reports uncommitted changes in the tree that was built.
	Modified bool `json:"modified,omitempty"`
	// GoVersion is the toolchain that built the binary.
	GoVersion string `json:"go_version"`
}

var (
	once   sync.Once
	cached Info
)

// Get returns the running binary's build information.
func Get() Info {
	once.Do(func() {
		bi, _ := debug.ReadBuildInfo()
		cached = fromBuildInfo(bi, version)
	})
	return cached
}

// fromBuildInfo is Get without the process (tests pass their own).
func fromBuildInfo(bi *debug.BuildInfo, override string) Info {
	info := Info{Version: override, GoVersion: runtime.Version()}
	if bi == nil {
		info.Version = cmp.Or(info.Version, "devel")
		return info
	}
	info.GoVersion = cmp.Or(bi.GoVersion, info.GoVersion)
	if info.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		info.Version = bi.Main.Version
	}
	info.Version = cmp.Or(info.Version, "devel")
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			info.Revision = s.Value
		case "vcs.time":
			info.Time = s.Value
		case "vcs.modified":
			info.Modified = s.Value == "true"
		}
	}
	return info
}

// ShortRevision is the first 12 hex digits of the revision, with
// "-dirty" when the tree was modified; empty if unknown.
func (i Info) ShortRevision() string {
	r := i.Revision
	if len(r) > 12 {
		r = r[:12]
	}
	if r != "" && i.Modified {
		r += "-dirty"
	}
	return r
}

// String is the one-line form of `leased --version`:
// "v1.2.0 (revision 17496e8abcde-dirty, 2026-12-04T12:59:00Z, go1.26.8)".
func (i Info) String() string {
	var details []string
	if r := i.ShortRevision(); r != "" {
		details = append(details, "revision "+r)
	}
	if i.Time != "" {
		details = append(details, i.Time)
	}
	details = append(details, i.GoVersion)
	return fmt.Sprintf("%s (%s)", i.Version, strings.Join(details, ", "))
}
