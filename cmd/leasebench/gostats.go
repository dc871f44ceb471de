package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// goStats are the Go runtime's cumulative counters of the server, read from
// leased's /metrics on its control socket (client_golang's Go collector):
// heap allocations (go_memstats_mallocs_total), bytes allocated
// (go_memstats_alloc_bytes_total) and completed GC cycles
// (go_gc_duration_seconds_count). The difference over a phase says what the
// phase allocated, which, unlike CPU time, other processes on the machine
// do not disturb.
type goStats struct {
	mallocs, allocBytes, gcCycles float64
}

// scrapeGoStats reads goStats from the leased control socket at path.
func scrapeGoStats(ctx context.Context, path string) (goStats, error) {
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", path)
	}}
	defer tr.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://leased/metrics", nil)
	if err != nil {
		return goStats{}, err
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return goStats{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return goStats{}, fmt.Errorf("metrics: %s", resp.Status)
	}
	return parseGoStats(resp.Body)
}

// parseGoStats picks the three counters out of a Prometheus text
// exposition; it fails when one of them is missing.
func parseGoStats(r io.Reader) (goStats, error) {
	var g goStats
	want := map[string]*float64{
		"go_memstats_mallocs_total":     &g.mallocs,
		"go_memstats_alloc_bytes_total": &g.allocBytes,
		"go_gc_duration_seconds_count":  &g.gcCycles,
	}
	seen := 0
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), " ")
		p := want[name]
		if !ok || p == nil {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if err != nil {
			return goStats{}, fmt.Errorf("metrics: %s: %w", name, err)
		}
		*p = v
		delete(want, name)
		seen++
	}
	if err := sc.Err(); err != nil {
		return goStats{}, err
	}
	if len(want) > 0 {
		missing := make([]string, 0, len(want))
		for n := range want {
			missing = append(missing, n)
		}
		return goStats{}, fmt.Errorf("metrics: missing %s", strings.Join(missing, ", "))
	}
	return g, nil
}
