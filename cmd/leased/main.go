// Command leased is the DHCP server daemon.
//
//	leased --config /etc/leased/leased.yaml          serve
//	leased --config /etc/leased/leased.yaml --check  validate (file and host) and exit
//	leased --config FILE --check --offline           validate the file only
//	leased store copy --from wal:DIR --to postgres:DSN  move leases between stores
//
// Signals: SIGTERM and SIGINT stop gracefully (in-flight lease writes are
// finished, the store is closed); SIGHUP re-reads the configuration and
// applies pools and options without dropping leases (an invalid file is
// reported and the running configuration kept; interface and port changes
// need a restart).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"reflect"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/leased/leased/api"
	"github.com/leased/leased/config"
	"github.com/leased/leased/dhcpv6"
	"github.com/leased/leased/internal/buildinfo"
	"github.com/leased/leased/internal/memlimit"
	"github.com/leased/leased/internal/sdnotify"
	"github.com/leased/leased/lease"
	"github.com/leased/leased/lease6"
	"github.com/leased/leased/reconf"
	"github.com/leased/leased/server"
)

// version is the running build's version (internal/buildinfo: -ldflags
// -X for release builds, else the toolchain's module version and VCS stamp).
var version = buildinfo.Get().Version

func main() {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, sigs))
}

// run is main without the process: it returns the exit code. sigs delivers
// SIGTERM/SIGINT/SIGHUP (tests send on it directly).
func run(args []string, stdout, stderr io.Writer, sigs <-chan os.Signal) int {
	if len(args) > 0 && args[0] == "store" { // leased store copy (storecopy.go)
		return storeCommand(args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("leased", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "/etc/leased/leased.yaml", "configuration `file`")
	check := fs.Bool("check", false, "validate the configuration and the host (configured interfaces exist), print each error, and exit (1 if invalid)")
	offline := fs.Bool("offline", false, "with --check: validate the file only, not this host (for a file written for another host)")
	showVersion := fs.Bool("version", false, "print the version and exit")
	logFormat := fs.String("log-format", "json", "log format on stderr: json or text")
	logTarget := fs.String("log-target", targetAuto, "where logs go: stderr; journald (stderr with <N> priority prefixes); syslog (datagrams to --syslog-socket); auto: journald when stderr is the journal (JOURNAL_STREAM), else stderr")
	syslogSocket := fs.String("syslog-socket", defaultSyslogSocket, "with --log-target syslog: the local syslog `socket`")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile (go tool pprof) to `file` until leased stops")
	memLimit := fs.String("memory-limit", "auto", "`auto`: a soft memory limit that follows the live heap (max(128 MiB, 1.1×live + 24 MiB)) and a GC floor (a collection goal of at least live + 64 MiB: fewer collections, 15–50 MB more resident for a small server under load); off: Go's default (GOGC=100, about 2× the live heap). GOMEMLIMIT, when set, wins over both; GOGC over the floor")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "leased: unexpected arguments %q\n", fs.Args())
		return 2
	}
	if *logFormat != "json" && *logFormat != "text" {
		fmt.Fprintf(stderr, "leased: --log-format %q: want json or text\n", *logFormat)
		return 2
	}
	if *offline && !*check {
		fmt.Fprintln(stderr, "leased: --offline only goes with --check")
		return 2
	}
	if *showVersion {
		fmt.Fprintln(stdout, "leased", buildinfo.Get())
		return 0
	}
	cfg, err := loadConfig(*path)
	if err != nil {
		printConfigErrors(stderr, err)
		return 1
	}
	if *check && *offline {
		fmt.Fprintln(stdout, "config OK (offline: interfaces not checked)")
		return 0
	}
	// The host is checked before the data directory and the store are
	// touched, so a missing interface fails at once with its config line.
	if err := checkHost(cfg, *path); err != nil {
		printConfigErrors(stderr, err)
		return 1
	}
	if *check {
		fmt.Fprintln(stdout, "config OK")
		return 0
	}

	level := new(slog.LevelVar)
	level.Set(cfg.SlogLevel())
	logw, err := logOutput(*logTarget, *syslogSocket, stderr) // logtarget.go
	if err != nil {
		fmt.Fprintf(stderr, "leased: %v\n", err)
		return 2
	}
	hopts := &slog.HandlerOptions{Level: level, ReplaceAttr: logVocabulary} // logging.go
	var h slog.Handler = slog.NewJSONHandler(logw, hopts)
	if *logFormat == "text" {
		h = slog.NewTextHandler(logw, hopts)
	}
	// A WARN or ERROR repeated with the same message (a failing disk: one
	// per request) is written 5 times per 10 s, then counted.
	log := slog.New(newRateLimited(h, 5, 10*time.Second, time.Now))
	if n := minProcs(os.Getenv("GOMAXPROCS"), runtime.GOMAXPROCS(0)); n > 0 {
		runtime.GOMAXPROCS(n)
	}
	// The soft memory limit starts once the store is loaded: during
	// recovery the heap is mostly garbage from decoding, and a limit that
	// follows the live heap would only add collections to the restart.
	afterLoad := func() {}
	switch *memLimit {
	case "auto":
		// The operator's GOMEMLIMIT wins over both; GOGC over the GC floor.
		if !memlimit.EnvSet() {
			pol := memlimit.Default
			if memlimit.GOGCSet() {
				pol.GCHeadroom = 0
			}
			ctx, stop := context.WithCancel(context.Background())
			defer stop()
			afterLoad = func() { go memlimit.Run(ctx, pol, memlimit.Runtime{}) }
		}
	case "off":
	default:
		fmt.Fprintf(stderr, "leased: --memory-limit %q: want auto or off\n", *memLimit)
		return 2
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintf(stderr, "leased: --cpuprofile: %v\n", err)
			return 1
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(stderr, "leased: --cpuprofile: %v\n", err)
			return 1
		}
		defer func() {
			pprof.StopCPUProfile()
			f.Close()
		}()
	}
	if err := serve(cfg, *path, log, level, sigs, afterLoad); err != nil {
		log.Error("leased stopped with an error", "err", err)
		return 1
	}
	return 0
}

// minGoProcs is the fewest Ps leased runs with. Pinned to one CPU (taskset,
// a cgroup cpuset) Go would start with GOMAXPROCS=1: then while the WAL's
// writer and the commit workers sit in write/fdatasync, the readers wait
// for the runtime to hand the P back and the kernel's socket buffer
// overflows. Measured with bench/compare on one pinned CPU: 12.4k DORA/s
// flat out with GOMAXPROCS=1, 32.7k/s with 4 (docs/BENCHMARKS.md).
const minGoProcs = 4

// minProcs returns the GOMAXPROCS to set, or 0 to keep the current one: an
// explicit GOMAXPROCS environment variable always wins.
func minProcs(env string, current int) int {
	if _, err := strconv.Atoi(env); err == nil {
		return 0
	}
	if current < minGoProcs {
		return minGoProcs
	}
	return 0
}

// loadConfig loads and validates the file, including what only the engine
// checks (lease.New), so --check and SIGHUP reject what startup would.
func loadConfig(path string) (*config.Config, error) {
	cfg, err := config.Load(path)
	if err != nil {
		return nil, err
	}
	if _, err := lease.New(cfg.Lease()); err != nil {
		return nil, &config.Error{File: path, Field: "dhcpv4.pools", Msg: err.Error()}
	}
	if cfg.HasDHCPv6() {
		if _, err := lease6.New(cfg.Lease6()); err != nil {
			return nil, &config.Error{File: path, Field: "dhcpv6.pools", Msg: err.Error()}
		}
	}
	return cfg, nil
}

func printConfigErrors(w io.Writer, err error) {
	errs := config.Errors(err)
	if len(errs) == 0 {
		fmt.Fprintln(w, err)
		return
	}
	for _, e := range errs {
		fmt.Fprintln(w, e)
	}
}

func serve(cfg *config.Config, path string, log *slog.Logger, level *slog.LevelVar, sigs <-chan os.Signal, afterLoad func()) (err error) {
	for _, w := range cfg.Warnings() {
		log.Warn("config: " + w)
	}
	st, storeName, err := openStore(cfg, path, log) // store.go: WAL or PostgreSQL
	if err != nil {
		return err
	}
	defer func() {
		if cerr := st.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close store: %w", cerr)
		}
	}()
	eng, err := lease.New(cfg.Lease())
	if err != nil {
		return err
	}
	var eng6 *lease6.Engine
	if cfg.HasDHCPv6() {
		if eng6, err = lease6.New(cfg.Lease6()); err != nil {
			return err
		}
	}
	// Records of a family the configuration does not serve are held as
	// they are and written back by every compaction (server.Options.Held),
	// so that removing a section for a while does not lose its leases.
	restored, restored6, held, err := restoreLeases(st, cfg, eng, eng6) // restore.go
	if err != nil {
		return fmt.Errorf("load leases: %w", err)
	}
	// Recovery's index, the mapped files and the per-record garbage of
	// Load are dead now; at GOGC=100 the heap would otherwise stay at
	// about twice its restore peak until the scavenger catches up
	// (measured at 1M leases: 718 MB resident after restart). One forced
	// collection returning the pages to the OS runs once, beside startup
	// (measured at 1M: resident 718 -> 252 MB), so it does not delay
	// serving.
	go debug.FreeOSMemory()
	afterLoad()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	ops := newOpsMetrics(reg, time.Now()) // opsmetrics.go: build info, reloads
	port := cfg.DHCPv4.Port
	if port == 0 {
		port = -1 // config: 0 picks a free port
	}
	lcfg := cfg.Lease()
	srv, err := server.New(server.Options{
		Config:       &lcfg,
		Campaigns:    campaignConfig(cfg),
		Interfaces:   cfg.DHCPv4.Interfaces, // empty without a dhcpv4 section: DHCPv6 only
		Held:         held,
		Port:         port,
		Engine:       eng,
		Store:        st,
		Logger:       log,
		Registry:     reg,
		CompactEvery: cfg.Store.CompactEvery,
		Version:      version,
		StoreName:    storeName,
		V6:           v6Options(cfg, eng6),
		Cluster:      clusterOptions(cfg, st),
	})
	if err != nil {
		return err
	}

	handler := api.NewHandler(withCluster(srv, st, cfg), reg, log)
	sp := newStatusPage(withCluster(srv, st, cfg)) // statuspage.go: /status/ beside the API
	var https []*http.Server
	ln, err := api.ListenUnix(cfg.Control.Socket, cfg.Control.SocketMode.Perm())
	if err != nil {
		return closeUnstarted(srv, fmt.Errorf("control socket: %w", err))
	}
	https = append(https, startHTTP(ln, sp.unix(handler), log))
	if cfg.Control.HTTP != "" {
		token, err := readToken(cfg.Control.TokenFile)
		if err != nil {
			shutdownHTTP(https)
			return closeUnstarted(srv, fmt.Errorf("control.token_file %s: %w", cfg.Control.TokenFile, err))
		}
		var scrapeToken string // control.metrics_token_file: GET /metrics only
		if f := cfg.Control.MetricsTokenFile; f != "" {
			if scrapeToken, err = readToken(f); err == nil && scrapeToken == token {
				err = errors.New("holds the admin token (token_file): the scrape-only token must differ")
			}
			if err != nil {
				shutdownHTTP(https)
				return closeUnstarted(srv, fmt.Errorf("control.metrics_token_file %s: %w", f, err))
			}
		}
		tln, err := net.Listen("tcp", cfg.Control.HTTP)
		if err != nil {
			shutdownHTTP(https)
			return closeUnstarted(srv, fmt.Errorf("control.http: %w", err))
		}
		https = append(https, startHTTP(tln, api.ScrapeToken(scrapeToken, handler, sp.tcp(token, handler)), log))
	}
	defer shutdownHTTP(https)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if cfg.Radius != nil { // RFC 5176 Dynamic Authorization Server (das.go)
		addr, err := startDAS(ctx, cfg.Radius, srv, log, reg)
		if err != nil {
			return closeUnstarted(srv, err)
		}
		log.Info("radius: dynamic authorization server listening", "addr", addr.String(), "clients", len(cfg.Radius.Clients),
			"disconnect", cfg.Radius.Disconnect)
	}
	if cfg.LeaseQuery != nil { // RFC 4388 / RFC 6926 leasequery (leasequery.go)
		addrs, err := startLeaseQuery(ctx, cfg.LeaseQuery, srv, log, reg)
		if err != nil {
			return closeUnstarted(srv, err)
		}
		log.Info("leasequery: serving", "bulk", fmt.Sprint(addrs), "requestors", cfg.LeaseQuery.Requestors)
	}
	if cfg.DDNS != nil { // RFC 2136 / RFC 4703 dynamic DNS (ddns.go)
		if err := startDDNS(ctx, cfg.DDNS, srv, log, reg); err != nil {
			return closeUnstarted(srv, err)
		}
		log.Info("ddns: updating", "server", cfg.DDNS.Server, "zone", cfg.DDNS.ForwardZone, "tsig", cfg.DDNS.TSIG.Name)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	go sp.watch(ctx)
	if eng6 != nil {
		log.Info("serving dhcpv6", "interfaces", cfg.DHCPv6.Interfaces, "port", srv.Port6(),
			"pools", len(cfg.DHCPv6.Pools), "leases_restored", restored6,
			"server_duid", dhcpv6.DUID(srv.ServerDUID()).String())
	}
	log.Info("serving", "interfaces", cfg.DHCPv4.Interfaces, "port", srv.Port(),
		"pools", len(cfg.DHCPv4.Pools), "leases_restored", restored, "dhcpv4", cfg.HasDHCPv4(),
		"data_dir", cfg.DataDir, "control", cfg.Control.Socket, "version", version,
		"revision", buildinfo.Get().ShortRevision())
	// systemd Type=notify (sdnotify.go): the sockets are open and the
	// store is loaded.
	notify := sdnotify.FromEnv()
	waitServing(srv, 10*time.Second)
	serving := fmt.Sprintf("serving %d DHCPv4 pools, %d leases restored", len(cfg.DHCPv4.Pools), restored+restored6)
	notifyLog(log, notify.Ready(serving))
	sp.events.Add("server", serving)

	running := cfg
	for {
		select {
		case err := <-done:
			return err
		case sig := <-sigs:
			if sig == syscall.SIGHUP {
				notifyLog(log, notify.Reloading())
				prev := running
				running = reload(running, path, srv, log, level)
				ops.reloaded(running != prev, time.Now())
				msg := "configuration reloaded"
				if running == prev {
					msg = "reload failed: kept the running configuration (health says why)"
				}
				sp.events.Add("server", msg)
				notifyLog(log, notify.Ready(msg))
				continue
			}
			log.Info("stopping: finishing in-flight lease writes", "signal", sig.String())
			notifyLog(log, notify.Stopping("stopping: finishing in-flight lease writes"))
			cancel()
			select {
			case err := <-done:
				if err == nil {
					log.Info("stopped")
				}
				return err
			case sig := <-sigs:
				// A second TERM/INT while draining: the store is still
				// closed by the deferred Close, but in-flight requests
				// may go unanswered (their leases were not acknowledged).
				if sig != syscall.SIGHUP {
					return fmt.Errorf("second %v while draining: not waiting for in-flight commits", sig)
				}
				return <-done
			}
		}
	}
}

// reload applies the file at path if it is valid and returns the config now
// in force.
func reload(old *config.Config, path string, srv *server.Server, log *slog.Logger, level *slog.LevelVar) *config.Config {
	cfg, err := loadConfig(path)
	if err != nil {
		errs := config.Errors(err)
		for _, e := range errs {
			log.Error("reload: configuration error; keeping the running configuration", "file", e.File, "line", e.Line, "field", e.Field, "error", e.Msg)
		}
		if len(errs) == 0 {
			log.Error("reload: keeping the running configuration", "err", err)
		}
		srv.ReloadResult(path, oneLine(err))
		return old
	}
	var restart []string // settings only a restart applies (health: restart_needed)
	if old.HasDHCPv4() != cfg.HasDHCPv4() {
		log.Warn("reload: adding or removing the dhcpv4 section needs a restart")
		restart = append(restart, "the dhcpv4 section")
		cfg.DHCPv4 = old.DHCPv4
	}
	srv.SetCampaignConfig(campaignConfig(cfg))
	if err := srv.Reload(cfg.Lease()); err != nil {
		log.Error("reload: engine refused the configuration; keeping the running one", "err", err)
		srv.ReloadResult(path, fmt.Errorf("the DHCPv4 engine refused it: %w", err))
		return old
	}
	var reloadErr error // a part of the file not applied (health: reload_failed)
	switch {
	case old.HasDHCPv6() && cfg.HasDHCPv6():
		if err := srv.Reload6(cfg.Lease6(), reconfigureMessages(cfg)); err != nil {
			log.Error("reload: the DHCPv6 engine refused the configuration; keeping its running one", "err", err)
			reloadErr = fmt.Errorf("the DHCPv6 engine refused it (DHCPv4 part applied): %w", err)
			cfg.DHCPv6 = old.DHCPv6
		} else if !slices.Equal(cfg.DHCPv6.Interfaces, old.DHCPv6.Interfaces) || cfg.DHCPv6.Port != old.DHCPv6.Port {
			log.Warn("reload: dhcpv6 interface or port changes need a restart; still serving the old ones",
				"interfaces", old.DHCPv6.Interfaces, "port", old.DHCPv6.Port)
			restart = append(restart, "dhcpv6.interfaces/port")
		}
	case old.HasDHCPv6() != cfg.HasDHCPv6():
		log.Warn("reload: adding or removing the dhcpv6 section needs a restart")
		restart = append(restart, "the dhcpv6 section")
		cfg.DHCPv6 = old.DHCPv6
	}
	if !slices.Equal(cfg.DHCPv4.Interfaces, old.DHCPv4.Interfaces) || cfg.DHCPv4.Port != old.DHCPv4.Port {
		log.Warn("reload: interface or port changes need a restart; still serving the old ones",
			"interfaces", old.DHCPv4.Interfaces, "port", old.DHCPv4.Port)
		restart = append(restart, "dhcpv4.interfaces/port")
	}
	if cfg.DataDir != old.DataDir || cfg.Control != old.Control || cfg.Store.FsyncEnabled() != old.Store.FsyncEnabled() ||
		cfg.Store.Postgres != old.Store.Postgres || cfg.ServerName != old.ServerName {
		log.Warn("reload: data_dir, control and store changes need a restart")
		restart = append(restart, "data_dir/control/store")
	}
	if !reflect.DeepEqual(cfg.Radius, old.Radius) {
		log.Warn("reload: radius changes need a restart")
		restart = append(restart, "radius")
	}
	if !reflect.DeepEqual(cfg.LeaseQuery, old.LeaseQuery) {
		log.Warn("reload: leasequery changes need a restart")
		restart = append(restart, "leasequery")
	}
	if !reflect.DeepEqual(cfg.DDNS, old.DDNS) {
		log.Warn("reload: ddns changes need a restart")
		restart = append(restart, "ddns")
	}
	level.Set(cfg.SlogLevel())
	for _, w := range cfg.Warnings() {
		log.Warn("reload: config: " + w)
	}
	log.Info("reloaded", "pools", len(cfg.DHCPv4.Pools))
	srv.ReloadResult(path, reloadErr)
	srv.RestartNeeded(path, restart)
	// Keep the settings that were not applied, so a later reload compares
	// against what is actually running.
	cfg.DHCPv4.Interfaces, cfg.DHCPv4.Port = old.DHCPv4.Interfaces, old.DHCPv4.Port
	if cfg.DHCPv6 != nil && old.DHCPv6 != nil && cfg.DHCPv6 != old.DHCPv6 {
		v6 := *cfg.DHCPv6
		v6.Interfaces, v6.Port = old.DHCPv6.Interfaces, old.DHCPv6.Port
		cfg.DHCPv6 = &v6
	}
	cfg.DataDir, cfg.Control, cfg.Store, cfg.ServerName = old.DataDir, old.Control, old.Store, old.ServerName
	cfg.Radius, cfg.LeaseQuery, cfg.DDNS = old.Radius, old.LeaseQuery, old.DDNS
	return cfg
}

// readToken reads a bearer token file (surrounding white space trimmed);
// an empty file is an error.
func readToken(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", errors.New("file is empty")
	}
	return tok, nil
}

// oneLine joins the configuration errors in err with "; " (for Health).
func oneLine(err error) error {
	errs := config.Errors(err)
	if len(errs) == 0 {
		return err
	}
	ms := make([]string, len(errs))
	for i, e := range errs {
		ms[i] = e.Error()
	}
	return errors.New(strings.Join(ms, "; "))
}

// campaignConfig maps the per-pool forcerenew campaign settings, the
// global defaults (dhcpv4.forcerenew, dhcpv6.reconfigure), the campaigns
// retention and dhcpv4.forcerenew_resume to the server's campaign
// configuration.
func campaignConfig(cfg *config.Config) server.CampaignConfig {
	cc := server.CampaignConfig{Resume: true, Pools: map[string]server.PoolCampaign{},
		Defaults4: cfg.DHCPv4.ForceRenew.Override(), Retention: cfg.Campaigns.Retention.D(), Keep: cfg.Campaigns.Keep}
	if cfg.DHCPv6 != nil {
		cc.Defaults6 = cfg.DHCPv6.Reconfigure.Override()
	}
	if r := cfg.DHCPv4.ForceRenewResume; r != nil {
		cc.Resume = *r
	}
	for _, p := range cfg.DHCPv4.Pools {
		fr := p.ForceRenew
		var pc server.PoolCampaign
		pc.OnChange = fr.OnChange
		if fr.Attempts > 0 {
			v := fr.Attempts
			pc.Override.Attempts = &v
		}
		if fr.Interval > 0 {
			v := fr.Interval.D()
			pc.Override.Interval = &v
		}
		if fr.Pace != nil {
			v := *fr.Pace
			pc.Override.Pace = &v
		}
		if fr.OnFailure != "" {
			if v, err := reconf.ParseOnFailure(fr.OnFailure); err == nil { // validated by config.Load
				pc.Override.OnFailure = &v
			}
		}
		if fr.ForceNAK != nil {
			v := *fr.ForceNAK
			pc.Override.ForceNAK = &v
		}
		cc.Pools[p.Name] = pc
	}
	if cfg.DHCPv6 != nil {
		for i := range cfg.DHCPv6.Pools {
			p := &cfg.DHCPv6.Pools[i]
			cc.Pools[p.Name] = server.PoolCampaign{Override: p.CampaignOverride(), OnChange: p.Reconfigure.OnChange, V6: true}
		}
	}
	return cc
}

// v6Options is the server's DHCPv6 configuration (nil without a dhcpv6
// section).
func v6Options(cfg *config.Config, eng *lease6.Engine) *server.V6Options {
	if eng == nil {
		return nil
	}
	port := cfg.DHCPv6.Port
	if port == 0 {
		port = -1 // config: 0 picks a free port
	}
	lc := cfg.Lease6()
	return &server.V6Options{
		Interfaces:         cfg.DHCPv6.Interfaces,
		Port:               port,
		Engine:             eng,
		Config:             &lc,
		ReconfigureMessage: reconfigureMessages(cfg),
	}
}

// reconfigureMessages maps each dhcpv6 pool to its Reconfigure Message.
func reconfigureMessages(cfg *config.Config) map[string]dhcpv6.MessageType {
	m := map[string]dhcpv6.MessageType{}
	if cfg.DHCPv6 != nil {
		for i := range cfg.DHCPv6.Pools {
			p := &cfg.DHCPv6.Pools[i]
			m[p.Name] = p.Reconfigure.MessageType()
		}
	}
	return m
}

func startHTTP(ln net.Listener, h http.Handler, log *slog.Logger) *http.Server {
	hs := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	go func() {
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("control API listener", "addr", ln.Addr().String(), "err", err)
		}
	}()
	return hs
}

func shutdownHTTP(hs []*http.Server) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, h := range hs {
		_ = h.Shutdown(ctx)
	}
}

// closeUnstarted releases the sockets of a Server whose Run was never
// called.
func closeUnstarted(srv *server.Server, err error) error {
	_ = srv.Close()
	return err
}
