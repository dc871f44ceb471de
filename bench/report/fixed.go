package main

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// Fixed offered rates (bench/compare --fixed, issue #15): at each rate,
// per server, the CPU one exchange costs, the lost share and how busy the
// server's core was, so that "< 1 % lost at every rate at which the core
// is below 90 % busy" and "CPU per exchange ≤ 0.5 × Kea's" can be read
// off one run.

// fixedCell is one server at one fixed rate, over the repeats.
type fixedCell struct {
	Server    string
	Offered   int
	Completed spread // exchanges per second
	Lost      spread // percent
	CPUMs     spread // server CPU ms per completed exchange
	CoreBusy  spread // CPU 0 busy, percent (all processes)
	SrvBusy   spread // the server's own share of CPU 0, percent
	Rcvbuf    spread // UdpRcvbufErrors per run
	Drops     spread // leased's own drops per run
	CliRcvbuf spread // UdpRcvbufErrors of perfdhcp's namespace per run
	Softnet   spread // input-backlog drops per run
	// byRepeat: CPU ms per exchange by repeat, for per-repeat ratios.
	byRepeat map[int]float64
}

// fixedCells collects the "fixed" phase rows: by offered rate, then by
// server in the order given.
func fixedCells(rows []row, servers []string) map[int][]fixedCell {
	type key struct {
		srv string
		off int
	}
	acc := map[key][]row{}
	for _, r := range rows {
		if r.Phase == "fixed" && r.Tool == "perfdhcp" {
			k := key{r.Server, r.Offered}
			acc[k] = append(acc[k], r)
		}
	}
	out := map[int][]fixedCell{}
	for _, srv := range servers {
		var offs []int
		for k := range acc {
			if k.srv == srv {
				offs = append(offs, k.off)
			}
		}
		slices.Sort(offs)
		for _, off := range offs {
			rs := acc[key{srv, off}]
			var comp, lost, cpu, core, own, rb, dr, crb, sn []float64
			c := fixedCell{Server: srv, Offered: off, byRepeat: map[int]float64{}}
			for _, r := range rs {
				comp = append(comp, r.Achieved())
				lost = append(lost, r.Loss())
				per := r.CPUPer1000() / 1000
				cpu = append(cpu, per)
				c.byRepeat[r.Repeat] = per
				core = append(core, r.CoreBusy)
				own = append(own, r.SrvBusy)
				rb = append(rb, r.RcvbufErrs)
				dr = append(dr, r.SrvDrops)
				crb = append(crb, r.CliRcvbuf)
				sn = append(sn, r.Softnet)
			}
			c.Completed, c.Lost, c.CPUMs = spreadOf(comp), spreadOf(lost), spreadOf(cpu)
			c.CoreBusy, c.SrvBusy, c.Rcvbuf, c.Drops = spreadOf(core), spreadOf(own), spreadOf(rb), spreadOf(dr)
			c.CliRcvbuf, c.Softnet = spreadOf(crb), spreadOf(sn)
			out[off] = append(out[off], c)
		}
	}
	return out
}

// cpuRatio is a server's CPU per exchange ÷ Kea's at one rate: the ratio
// of the medians, and the range of the ratios within each repeat (the two
// servers ran back to back there).
func cpuRatio(c, kea fixedCell) (med float64, per spread) {
	var v []float64
	for rep, x := range c.byRepeat {
		if k, ok := kea.byRepeat[rep]; ok && k > 0 {
			v = append(v, x/k)
		}
	}
	if kea.CPUMs.Med > 0 {
		med = c.CPUMs.Med / kea.CPUMs.Med
	} else {
		med = math.NaN()
	}
	return med, spreadOf(v)
}

// fixedSection writes the fixed-rate table and the issue #15 verdicts for
// every server but Kea and the floor (null).
func fixedSection(cells map[int][]fixedCell, sums []summary) string {
	if len(cells) == 0 {
		return ""
	}
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	var offs []int
	for off := range cells {
		offs = append(offs, off)
	}
	slices.Sort(offs)
	p("### At fixed offered rates\n\n")
	p("| offered/s | server | completed/s | lost | server CPU ms per exchange | ÷ Kea (per repeat) | CPU 0 busy (server's own) | server drops per run: UdpRcvbufErrors / leased's counters | perfdhcp's UdpRcvbufErrors; backlog drops |\n")
	p("|---:|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, off := range offs {
		var kea *fixedCell
		for i := range cells[off] {
			if cells[off][i].Server == "kea" {
				kea = &cells[off][i]
			}
		}
		for _, c := range cells[off] {
			ratio := "—"
			if kea != nil && c.Server != "kea" {
				if m, per := cpuRatio(c, *kea); !math.IsNaN(m) {
					ratio = fmt.Sprintf("%.2f×", m)
					if per.N > 1 {
						ratio += fmt.Sprintf(" (%.2f–%.2f)", per.Min, per.Max)
					}
				}
			}
			drops := c.Drops.format(0)
			p("| %d | %s | %s | %s %% | %s | %s | %s %% (%s %%) | %s / %s | %s; %s |\n", off, label(c.Server), c.Completed.format(0),
				c.Lost.format(2), c.CPUMs.format(3), ratio, c.CoreBusy.format(0), c.SrvBusy.format(0), c.Rcvbuf.format(0), drops,
				c.CliRcvbuf.format(0), c.Softnet.format(0))
		}
	}
	p("\n")
	for _, off := range offs {
		var kea *fixedCell
		for i := range cells[off] {
			if cells[off][i].Server == "kea" {
				kea = &cells[off][i]
			}
		}
		for _, c := range cells[off] {
			if c.Server == "kea" || c.Server == "null" || kea == nil || (off != 3000 && off != 8000) {
				continue
			}
			m, _ := cpuRatio(c, *kea)
			p("Target \"CPU per exchange ≤ 0.5 × Kea's at %d/s\", %s: %.3f vs %.3f ms = %.2f× — %s.\n", off, label(c.Server),
				c.CPUMs.Med, kea.CPUMs.Med, m, verdict(m <= 0.5))
		}
	}
	for _, srv := range fixedServers(cells) {
		if srv == "kea" || srv == "null" {
			continue
		}
		var bad []string
		var cover []string
		for _, off := range offs {
			for _, c := range cells[off] {
				if c.Server != srv {
					continue
				}
				if c.CoreBusy.N > 0 && c.CoreBusy.Med < 90 {
					cover = append(cover, fmt.Sprint(off))
					if c.Lost.Med >= 1 {
						bad = append(bad, fmt.Sprintf("%d/s: %.2f %% lost at %.0f %% busy", off, c.Lost.Med, c.CoreBusy.Med))
					}
				}
				if off == 12000 {
					p("Target \"< 1 %% lost at 12,000/s offered\", %s: %.2f %% — %s.\n", label(srv), c.Lost.Med, verdict(c.Lost.Med < 1))
				}
			}
		}
		switch {
		case len(cover) == 0:
			p("Target \"< 1 %% lost wherever the core is below 90 %% busy\", %s: no fixed rate left the core below 90 %% (or busy share not recorded).\n", label(srv))
		case len(bad) == 0:
			p("Target \"< 1 %% lost wherever the core is below 90 %% busy\", %s: met at %s/s.\n", label(srv), strings.Join(cover, ", "))
		default:
			p("Target \"< 1 %% lost wherever the core is below 90 %% busy\", %s: not met (%s).\n", label(srv), strings.Join(bad, "; "))
		}
	}
	for _, s := range sums {
		if s.Server == "kea" || s.Server == "null" || math.IsNaN(s.P99.Med) {
			continue
		}
		p("Target \"p99 REQUEST→ACK ≤ 2 ms at half of the max rate\", %s: %.2f ms at %d/s — %s.\n", label(s.Server), s.P99.Med, s.Half, verdict(s.P99.Med <= 2))
	}
	p("\n")
	return b.String()
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "not met"
}

// fixedServers lists the servers of cells in first-seen order by rate.
func fixedServers(cells map[int][]fixedCell) []string {
	var offs []int
	for off := range cells {
		offs = append(offs, off)
	}
	slices.Sort(offs)
	var out []string
	for _, off := range offs {
		for _, c := range cells[off] {
			if !slices.Contains(out, c.Server) {
				out = append(out, c.Server)
			}
		}
	}
	return out
}
