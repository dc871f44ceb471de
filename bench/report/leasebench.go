package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// lbResult summarises the leasebench flat-out runs against one server.
type lbResult struct {
	Server   string
	Achieved spread // completed exchanges per second
	P99      spread // ms
	CPU      spread // server CPU ms per 1,000 completed exchanges
	Lost     spread // percent of started exchanges lost
}

// leasebenchResults reads raw/leasebench-SERVER-rN.json files written by
// `leasebench --json`. Fields are found by name in the flattened JSON
// (see lbFields), so the report does not break when leasebench nests
// them differently.
func leasebenchResults(dir string, servers []string) ([]lbResult, error) {
	files, err := filepath.Glob(filepath.Join(dir, "leasebench-*-r*.json"))
	if err != nil {
		return nil, err
	}
	type acc struct{ rate, p99, cpu, lost []float64 }
	by := map[string]*acc{}
	for _, f := range files {
		base := strings.TrimPrefix(filepath.Base(f), "leasebench-")
		server, _, ok := strings.Cut(base, "-r")
		if !ok {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var v any
		if err := json.Unmarshal(b, &v); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		flat := map[string]float64{}
		flatten("", v, flat)
		rate, p99, cpuSec, completed := lbFields(flat)
		if v, ok := flat["server_cpu_ms_per_1000"]; ok { // leasebench's own figure
			cpuSec, completed = v/1e6, 1
		}
		a := by[server]
		if a == nil {
			a = &acc{}
			by[server] = a
		}
		a.rate = append(a.rate, rate)
		if st := flat["started"]; st > 0 {
			a.lost = append(a.lost, 100*flat["lost"]/st)
		}
		a.p99 = append(a.p99, p99)
		if completed > 0 {
			a.cpu = append(a.cpu, 1e6*cpuSec/completed)
		} else {
			a.cpu = append(a.cpu, math.NaN())
		}
	}
	var out []lbResult
	for _, s := range servers {
		if a := by[s]; a != nil {
			out = append(out, lbResult{Server: s, Achieved: spreadOf(a.rate), P99: spreadOf(a.p99), CPU: spreadOf(a.cpu), Lost: spreadOf(a.lost)})
		}
	}
	return out, nil
}

func flatten(prefix string, v any, out map[string]float64) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			flatten(p, e, out)
		}
	case float64:
		out[strings.ToLower(prefix)] = x
	}
}

// lbFields picks achieved rate (/s), p99 latency (ms), server CPU
// seconds and completed exchanges out of flattened leasebench JSON keys;
// NaN (or 0 for counts) when absent. Latency units come from the key's
// suffix (_ns, _us, _ms, _s); a bare key is taken as milliseconds.
func lbFields(flat map[string]float64) (rate, p99ms, cpuSec, completed float64) {
	rate, p99ms, cpuSec = math.NaN(), math.NaN(), math.NaN()
	keys := make([]string, 0, len(flat))
	for k := range flat {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v := flat[k]
		leaf := k[strings.LastIndex(k, ".")+1:]
		switch {
		case strings.Contains(k, "achieved") && math.IsNaN(rate):
			rate = v
		case strings.Contains(leaf, "p99") && !strings.Contains(leaf, "p99.9") && !strings.Contains(leaf, "p999") && math.IsNaN(p99ms):
			switch {
			case strings.HasSuffix(leaf, "_ns"):
				p99ms = v / 1e6
			case strings.HasSuffix(leaf, "_us"):
				p99ms = v / 1e3
			case strings.HasSuffix(leaf, "_s") || strings.HasSuffix(leaf, "_sec"):
				p99ms = v * 1e3
			default:
				p99ms = v
			}
		case strings.Contains(k, "server") && strings.Contains(k, "cpu") && !strings.Contains(k, "per") && math.IsNaN(cpuSec):
			cpuSec = v
		case leaf == "completed" && completed == 0:
			completed = v
		}
	}
	return rate, p99ms, cpuSec, completed
}
