package main

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

// row is one line of results.tsv: one perfdhcp run against a fresh server.
type row struct {
	Phase, Server, Tool string
	Repeat, Offered     int // Offered 0: flat out
	Period              float64
	DOSent, DORecv      int
	RASent, RARecv      int
	RAAvgMs, RAMaxMs    float64 // perfdhcp's REQUEST-ACK delays
	CPUSec              float64 // server utime+stime during the run
	P99Ms               float64 // from the capture (half phase only), else NaN
	OtherCPU0           float64 // CPU seconds other processes took on CPU 0 (NaN if not recorded)
	// Over the offered period (NaN when not recorded, e.g. older runs):
	CoreBusy   float64 // CPU 0's busy share, percent, every process and softirq
	SrvBusy    float64 // the server's own share of CPU 0, percent
	RcvbufErrs float64 // UdpRcvbufErrors in the server namespace during the run
	SrvDrops   float64 // leased's own drop counters (leased_packets_dropped_total)
	CliRcvbuf  float64 // UdpRcvbufErrors in the client namespace (perfdhcp's socket)
	Softnet    float64 // packets dropped from the CPUs' input backlogs (softnet_stat)
}

// Loss is the share of exchanges (DISCOVERs sent) that did not end in a
// received ACK, in percent.
func (r row) Loss() float64 {
	if r.DOSent == 0 {
		return 100
	}
	return 100 * float64(r.DOSent-r.RARecv) / float64(r.DOSent)
}

// Achieved is completed exchanges per second of the test period.
func (r row) Achieved() float64 { return float64(r.RARecv) / r.Period }

// CPUPer1000 is server CPU milliseconds per 1,000 completed exchanges.
func (r row) CPUPer1000() float64 {
	if r.RARecv == 0 {
		return math.NaN()
	}
	return 1e6 * r.CPUSec / float64(r.RARecv)
}

func parseResults(rd io.Reader) ([]row, error) {
	sc := bufio.NewScanner(rd)
	var rows []row
	var cols map[string]int
	line := 0
	for sc.Scan() {
		line++
		f := strings.Split(sc.Text(), "\t")
		if cols == nil {
			cols = map[string]int{}
			for i, c := range f {
				cols[c] = i
			}
			for _, c := range []string{"phase", "server", "tool", "repeat", "offered", "period", "do_sent", "do_recv", "ra_sent", "ra_recv", "ra_avg_ms", "ra_max_ms", "cpu_s", "p99_ms"} {
				if _, ok := cols[c]; !ok {
					return nil, fmt.Errorf("results: header lacks column %q", c)
				}
			}
			continue
		}
		if len(f) != len(cols) {
			return nil, fmt.Errorf("results: line %d: %d fields, want %d", line, len(f), len(cols))
		}
		var err error
		get := func(c string) string { return f[cols[c]] }
		atoi := func(c string) int {
			n, e := strconv.Atoi(get(c))
			if e != nil && err == nil {
				err = fmt.Errorf("results: line %d: %s: %w", line, c, e)
			}
			return n
		}
		atof := func(c string) float64 {
			x, e := strconv.ParseFloat(get(c), 64)
			if e != nil && err == nil {
				err = fmt.Errorf("results: line %d: %s: %w", line, c, e)
			}
			return x
		}
		r := row{Phase: get("phase"), Server: get("server"), Tool: get("tool"),
			Repeat: atoi("repeat"), Offered: atoi("offered"), Period: atof("period"),
			DOSent: atoi("do_sent"), DORecv: atoi("do_recv"), RASent: atoi("ra_sent"), RARecv: atoi("ra_recv"),
			RAAvgMs: atof("ra_avg_ms"), RAMaxMs: atof("ra_max_ms"), CPUSec: atof("cpu_s"), P99Ms: atof("p99_ms")}
		if err != nil {
			return nil, err
		}
		// Optional columns (added over time): NaN when absent.
		opt := func(c string) float64 {
			if _, ok := cols[c]; !ok {
				return math.NaN()
			}
			return atof(c)
		}
		r.OtherCPU0 = opt("other_cpu0_s")
		r.CoreBusy, r.SrvBusy = opt("core_busy_pct"), opt("srv_busy_pct")
		r.RcvbufErrs, r.SrvDrops = opt("rcvbuf_errs"), opt("srv_drops")
		r.CliRcvbuf, r.Softnet = opt("cli_rcvbuf_errs"), opt("softnet_drops")
		if err != nil {
			return nil, err
		}
		if r.Period <= 0 {
			return nil, fmt.Errorf("results: line %d: period %v", line, r.Period)
		}
		rows = append(rows, r)
	}
	return rows, sc.Err()
}

// spread is the median and range of repeated measurements.
type spread struct {
	Med, Min, Max float64
	N             int
}

func spreadOf(xs []float64) spread {
	v := slices.DeleteFunc(slices.Clone(xs), math.IsNaN)
	if len(v) == 0 {
		return spread{Med: math.NaN(), Min: math.NaN(), Max: math.NaN()}
	}
	slices.Sort(v)
	m := v[len(v)/2]
	if len(v)%2 == 0 {
		m = (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	return spread{Med: m, Min: v[0], Max: v[len(v)-1], N: len(v)}
}

// format prints "med (min–max)" with the given number of decimals, or
// just the value for a single measurement.
func (s spread) format(dec int) string {
	if s.N == 0 {
		return "n/a"
	}
	f := func(x float64) string { return strconv.FormatFloat(x, 'f', dec, 64) }
	if s.N == 1 || s.Min == s.Max {
		return f(s.Med)
	}
	return f(s.Med) + " (" + f(s.Min) + "–" + f(s.Max) + ")"
}

// summary is what the table says about one server under perfdhcp.
type summary struct {
	Server string
	// MaxRate: per repeat, the highest offered rate (ladder or refine)
	// with < 1 % lost exchanges.
	MaxRate spread
	// AtCeiling: some repeat passed the highest offered rate tried, so
	// the true maximum is higher (perfdhcp's limit, not the server's).
	AtCeiling bool
	Flat      spread // achieved rate flat out
	Half      int    // offered rate of the half phase
	P99       spread // ms, REQUEST→ACK on the wire, half phase
	AvgDelay  spread // ms, perfdhcp REQUEST-ACK average, half phase
	MaxDelay  spread // ms, perfdhcp REQUEST-ACK max, half phase
	CPU       spread // server CPU ms per 1,000 leases, half phase
	CPUAtMax  spread // same, at each repeat's max rate step
}

func summarize(rows []row, server string) summary {
	s := summary{Server: server}
	top := 0
	best := map[int]row{}
	repeats := map[int]bool{}
	var flat, p99, avg, mx, cpu []float64
	for _, r := range rows {
		if r.Server != server || r.Tool != "perfdhcp" {
			continue
		}
		switch r.Phase {
		case "ladder", "fixed", "refine":
			repeats[r.Repeat] = true
			top = max(top, r.Offered)
			if r.Loss() < 1 && r.Offered > best[r.Repeat].Offered {
				best[r.Repeat] = r
			}
		case "flat":
			flat = append(flat, r.Achieved())
		case "half":
			s.Half = r.Offered
			p99 = append(p99, r.P99Ms)
			avg = append(avg, r.RAAvgMs)
			mx = append(mx, r.RAMaxMs)
			cpu = append(cpu, r.CPUPer1000())
		}
	}
	var maxr, cpuMax []float64
	for rep := range repeats {
		b := best[rep]
		maxr = append(maxr, float64(b.Offered))
		if b.Offered > 0 {
			cpuMax = append(cpuMax, b.CPUPer1000())
			if b.Offered == top {
				s.AtCeiling = true
			}
		}
	}
	s.MaxRate, s.Flat, s.P99, s.AvgDelay, s.MaxDelay = spreadOf(maxr), spreadOf(flat), spreadOf(p99), spreadOf(avg), spreadOf(mx)
	s.CPU, s.CPUAtMax = spreadOf(cpu), spreadOf(cpuMax)
	return s
}

// curvePoint is the median achieved rate at one offered rate.
type curvePoint struct {
	Offered  float64
	Achieved spread
}

// curve gives achieved vs offered (ladder and refine runs) for a server.
func curve(rows []row, server string) []curvePoint {
	by := map[int][]float64{}
	for _, r := range rows {
		if r.Server == server && r.Tool == "perfdhcp" && (r.Phase == "ladder" || r.Phase == "fixed" || r.Phase == "refine") {
			by[r.Offered] = append(by[r.Offered], r.Achieved())
		}
	}
	var pts []curvePoint
	for off, a := range by {
		pts = append(pts, curvePoint{Offered: float64(off), Achieved: spreadOf(a)})
	}
	slices.SortFunc(pts, func(a, b curvePoint) int { return int(a.Offered - b.Offered) })
	return pts
}
