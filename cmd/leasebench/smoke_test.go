package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/leased/leased/internal/netns"
)

// The smoke tests run leased and leasebench inside a network namespace the
// test creates (on its loopback), so port 67 never clashes with anything on
// the host: leasebench is the relay 127.0.0.2, leased listens on lo.

var buildDir string

func TestMain(m *testing.M) {
	code := func() int {
		d, err := os.MkdirTemp("", "leasebench-test")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(d)
		buildDir = d
		return m.Run()
	}()
	os.Exit(code)
}

// buildBins builds leased and leasebench once.
func buildBins(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(buildDir, "leasebench")); err == nil {
		return
	}
	for _, pkg := range []string{"leased", "leasebench"} {
		cmd := exec.Command("go", "build", "-o", filepath.Join(buildDir, pkg), "./cmd/"+pkg)
		cmd.Dir = "../.."
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", pkg, err, out)
		}
	}
}

const smokeConfig = `data_dir: %[1]s/data
log_level: info
control: {socket: %[1]s/control.sock}
dhcpv4:
  interfaces: [lo]
  lease_time: 1h
  pools:
    - name: bench
      subnet: 127.0.0.0/8
      authoritative: true
      sections:
        - {index: 0, start: 127.1.0.0, end: 127.1.255.255}
`

type smoke struct {
	t      *testing.T
	ns     *netns.NS
	dir    string
	leased *netns.Proc
	run    *netns.NS // where leasebench runs (default: ns)
}

func startSmoke(t *testing.T) *smoke {
	if testing.Short() {
		t.Skip("smoke test needs leased, root and a network namespace (-short)")
	}
	netns.Require(t, "ip", "ss")
	buildBins(t)
	top := netns.New(t)
	s := &smoke{t: t, ns: top.Server, dir: top.Dir}
	s.startLeased(smokeConfig)
	return s
}

// startLeased starts leased in s.ns with config template tmpl (%[1]s: the
// test directory) and waits until it serves.
func (s *smoke) startLeased(tmpl string) {
	t := s.t
	t.Helper()
	cfg := filepath.Join(s.dir, "leased.yaml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, tmpl, s.dir), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := s.ns.Start(filepath.Join(s.dir, "leased.log"), filepath.Join(buildDir, "leased"), "--config", cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.leased = p
	deadline := time.Now().Add(15 * time.Second)
	for {
		out, err := s.ns.Run("ss", "-ulnH", "sport", "=", ":67")
		if _, serr := os.Stat(filepath.Join(s.dir, "control.sock")); err == nil && strings.TrimSpace(out) != "" && serr == nil {
			break
		}
		if ok, werr := p.Exited(); ok {
			t.Fatalf("leased exited: %v\n%s", werr, p.Tail(30))
		}
		if time.Now().After(deadline) {
			t.Fatalf("leased not serving after 15 s\n%s", p.Tail(30))
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Cleanup(func() {
		if err := p.Stop(10 * time.Second); err != nil {
			t.Errorf("leased did not stop cleanly: %v\n%s", err, p.Tail(20))
		}
	})
}

// bench runs leasebench in the namespace and returns its JSON result.
func (s *smoke) bench(args ...string) Result {
	s.t.Helper()
	js := filepath.Join(s.dir, "result.json")
	os.Remove(js)
	args = append([]string{"--json", js, "--quiet", "--server-pid", strconv.Itoa(s.leased.PID()),
		"--control", filepath.Join(s.dir, "control.sock")}, args...)
	ns := s.ns
	if s.run != nil {
		ns = s.run
	}
	out, err := ns.Run(filepath.Join(buildDir, "leasebench"), args...)
	s.t.Logf("leasebench %s\n%s", strings.Join(args, " "), out)
	if err != nil {
		s.t.Fatalf("leasebench: %v\n%s\nleased log:\n%s", err, out, s.leased.Tail(20))
	}
	var r Result
	b, err := os.ReadFile(js)
	if err != nil {
		s.t.Fatal(err)
	}
	if err := json.Unmarshal(b, &r); err != nil {
		s.t.Fatal(err)
	}
	return r
}

func checkAll(t *testing.T, r Result, want int) {
	t.Helper()
	if r.Completed != want || r.Lost != 0 || r.NAKs != 0 || r.Started != want {
		t.Errorf("%s: started %d completed %d lost %d nak %d, want %d completed and nothing lost",
			r.Scenario, r.Started, r.Completed, r.Lost, r.NAKs, want)
	}
	// Every smoke run uses timeouts of seconds: a larger latency is a
	// measurement from a wrong start time.
	if r.LatencyMs.P50 <= 0 || r.LatencyMs.P99 < r.LatencyMs.P50 || r.LatencyMs.Max > 60000 {
		t.Errorf("latency p50 %v p99 %v", r.LatencyMs.P50, r.LatencyMs.P99)
	}
}

func TestSmokeScenarios(t *testing.T) {
	s := startSmoke(t)
	// A small window and retransmissions (as real clients do): a burst larger
	// than leased's socket buffer is dropped by the kernel (UdpRcvbufErrors).
	common := []string{"--clients", "200", "--count", "400", "--duration", "0", "--timeout", "1s", "--window", "32", "--retries", "2"}
	for _, sc := range []string{"dora", "renew", "mixed", "decline", "bad"} {
		t.Run(sc, func(t *testing.T) {
			args := append(append([]string{}, common...), sc)
			if sc == "dora" {
				args = append([]string{"--rate", "2000"}, args...)
			}
			r := s.bench(args...)
			checkAll(t, r, 400)
			if sc == "bad" && r.BadSent == 0 {
				t.Error("bad: no malformed packet sent")
			}
		})
	}
	t.Run("init-reboot", func(t *testing.T) {
		r := s.bench("--clients", "300", "--duration", "10s", "init-reboot")
		checkAll(t, r, 300)
		if r.PrepareSeconds <= 0 {
			t.Error("no prepare phase")
		}
	})
	t.Run("forcerenew", func(t *testing.T) {
		r := s.bench("--clients", "100", "--duration", "10s", "forcerenew")
		checkAll(t, r, 100)
		t.Logf("forcerenew via %s", r.ForceRenewMethod)
	})
	if cpu := s.bench("--clients", "50", "--count", "50", "--duration", "0", "dora").ServerCPUSeconds; cpu < 0 {
		t.Errorf("server CPU %v", cpu)
	}
}

func TestNullServer(t *testing.T) {
	if testing.Short() {
		t.Skip("uses loopback sockets")
	}
	ctx := t.Context()
	var out, errb strings.Builder
	js := filepath.Join(t.TempDir(), "r.json")
	code := run(ctx, []string{"--null", "--relay", "127.0.0.2", "--clients", "100", "--count", "1000",
		"--duration", "0", "--quiet", "--json", js, "dora"}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out.String(), errb.String())
	}
	var r Result
	b, _ := os.ReadFile(js)
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	checkAll(t, r, 1000)
}

func TestParseStatCPU(t *testing.T) {
	// proc(5): utime (14) = 250 ticks, stime (15) = 50 ticks; the command
	// name holds a space and a parenthesis.
	s := "1234 (lease d)) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 8 0 100 0 0"
	if got := parseStatCPU(s); got != 3.0 {
		t.Fatalf("parseStatCPU = %v, want 3", got)
	}
	if parseStatCPU("garbage") != 0 {
		t.Fatal("garbage parsed")
	}
	if procCPU(os.Getpid()) < 0 {
		t.Fatal("own process CPU")
	}
}

const directConfig = `data_dir: %[1]s/data
log_level: info
control: {socket: %[1]s/control.sock}
dhcpv4:
  interfaces: [vsrv]
  lease_time: 1h
  pools:
    - name: direct
      subnet: 10.77.0.0/16
      gateway: 10.77.0.1
      authoritative: true
      sections:
        - {index: 0, start: 10.77.1.0, end: 10.77.3.255}
`

// TestSmokeDirect runs leasebench in direct mode: leased serves vsrv
// (10.77.0.1/16) in the server namespace, leasebench broadcasts from
// 0.0.0.0:68 on vcli in the client namespace, with no relay.
func TestSmokeDirect(t *testing.T) {
	if testing.Short() {
		t.Skip("smoke test needs leased, root and a network namespace (-short)")
	}
	netns.Require(t, "ip", "ss")
	buildBins(t)
	top := netns.New(t)
	s := &smoke{t: t, ns: top.Server, dir: top.Dir}
	s.startLeased(directConfig)
	s.run = top.Client
	common := []string{"--iface", netns.ClientIf, "--duration", "0", "--timeout", "1s", "--window", "32", "--retries", "2"}
	t.Run("dora", func(t *testing.T) {
		r := s.bench(append(common, "--clients", "200", "--count", "200", "--sockets", "2", "dora")...)
		checkAll(t, r, 200)
		if r.Iface != netns.ClientIf {
			t.Errorf("iface %q in the report", r.Iface)
		}
		t.Logf("direct dora: %.0f/s, p50 %.3f ms", r.AchievedRate, r.LatencyMs.P50)
	})
	t.Run("init-reboot", func(t *testing.T) {
		r := s.bench(append(common, "--clients", "100", "init-reboot")...)
		checkAll(t, r, 100)
	})
	t.Run("decline", func(t *testing.T) {
		r := s.bench(append(common, "--clients", "50", "--count", "50", "decline")...)
		checkAll(t, r, 50)
	})
	// Unicast scenarios are refused, not run half-way.
	out, err := s.run.Run(filepath.Join(buildDir, "leasebench"), "--iface", netns.ClientIf, "--quiet", "renew")
	if err == nil || !strings.Contains(out, "needs relay mode") {
		t.Errorf("renew in direct mode: err %v, output %s", err, out)
	}
}

// TestDirectModeRefusals: direct mode refuses what it cannot do before
// opening any socket.
func TestDirectModeRefusals(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--iface", "lo", "renew"}, "needs relay mode"},
		{[]string{"--iface", "lo", "mixed"}, "needs relay mode"},
		{[]string{"--iface", "lo", "forcerenew"}, "needs relay mode"},
		{[]string{"--iface", "lo", "--null", "dora"}, "exclude each other"},
	} {
		var out, errb strings.Builder
		code := run(t.Context(), append([]string{"--quiet"}, tc.args...), &out, &errb)
		if code != 1 || !strings.Contains(errb.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q, want 1 and %q", tc.args, code, errb.String(), tc.want)
		}
	}
}
