package main

import (
	"math"
	"strings"
	"testing"
)

const fixedHeader = "phase\tserver\ttool\trepeat\toffered\tperiod\tdo_sent\tdo_recv\tdo_drops\tra_sent\tra_recv\tra_drops\tra_avg_ms\tra_max_ms\tcpu_s\tp99_ms\tpcap_drops\tother_cpu0_s\tcore_busy_pct\tsrv_busy_pct\trcvbuf_errs\tsrv_drops\n"

// Two repeats at 3000/s and 12000/s for kea, leased and the null floor.
// leased costs half of Kea at 3000/s in repeat 1 (0.1 vs 0.2 ms) and 0.6×
// in repeat 2; at 12000/s it loses 2 % with its core 70 % busy (a queue,
// not the CPU), Kea 20 % at 99 % busy.
const fixedSample = fixedHeader +
	"fixed\tkea\tperfdhcp\t1\t3000\t5\t15000\t15000\t0\t15000\t15000\t0\t0.3\t2\t3.00\tNaN\t0\t0.10\t62.0\t60.0\t0\tNaN\n" +
	"fixed\tleased\tperfdhcp\t1\t3000\t5\t15000\t15000\t0\t15000\t15000\t0\t1.1\t4\t1.50\tNaN\t0\t0.00\t31.0\t30.0\t0\t0\n" +
	"fixed\tnull\tperfdhcp\t1\t3000\t5\t15000\t15000\t0\t15000\t15000\t0\t0.1\t1\t0.90\tNaN\t0\t0.00\t19.0\t18.0\t0\tNaN\n" +
	"fixed\tnull\tperfdhcp\t2\t3000\t5\t15000\t15000\t0\t15000\t15000\t0\t0.1\t1\t1.05\tNaN\t0\t0.00\t22.0\t21.0\t0\tNaN\n" +
	"fixed\tleased\tperfdhcp\t2\t3000\t5\t15000\t15000\t0\t15000\t15000\t0\t1.1\t4\t1.80\tNaN\t0\t0.00\t37.0\t36.0\t0\t0\n" +
	"fixed\tkea\tperfdhcp\t2\t3000\t5\t15000\t15000\t0\t15000\t15000\t0\t0.3\t2\t3.00\tNaN\t0\t0.00\t61.0\t60.0\t0\tNaN\n" +
	"fixed\tkea\tperfdhcp\t1\t12000\t5\t60000\t50000\t0\t50000\t48000\t0\t0.3\t2\t4.95\tNaN\t0\t0.00\t99.0\t99.0\t12000\tNaN\n" +
	"fixed\tleased\tperfdhcp\t1\t12000\t5\t60000\t59000\t0\t59000\t58800\t0\t1.1\t4\t3.50\tNaN\t0\t0.00\t70.0\t70.0\t0\t1200\n" +
	"fixed\tleased\tperfdhcp\t2\t12000\t5\t60000\t59000\t0\t59000\t58800\t0\t1.1\t4\t3.50\tNaN\t0\t0.00\t71.0\t70.0\t0\t1200\n" +
	"fixed\tkea\tperfdhcp\t2\t12000\t5\t60000\t50000\t0\t50000\t48000\t0\t0.3\t2\t4.95\tNaN\t0\t0.00\t99.0\t99.0\t11000\tNaN\n" +
	"half\tleased\tperfdhcp\t1\t5000\t5\t25000\t25000\t0\t25000\t25000\t0\t0.9\t3\t2.00\t1.500\t0\t0.00\t50.0\t50.0\t0\t0\n" +
	"half\tleased\tperfdhcp\t2\t5000\t5\t25000\t25000\t0\t25000\t25000\t0\t0.9\t3\t2.00\t2.500\t0\t0.00\t50.0\t50.0\t0\t0\n"

func TestParseOptionalColumns(t *testing.T) {
	old, err := parseResults(strings.NewReader(sample)) // before core_busy_pct & co.
	if err != nil {
		t.Fatal(err)
	}
	if r := old[0]; !math.IsNaN(r.CoreBusy) || !math.IsNaN(r.SrvBusy) || !math.IsNaN(r.RcvbufErrs) || !math.IsNaN(r.SrvDrops) || !math.IsNaN(r.OtherCPU0) {
		t.Errorf("absent columns should be NaN: %+v", r)
	}
	rows, err := parseResults(strings.NewReader(fixedSample))
	if err != nil {
		t.Fatal(err)
	}
	if r := rows[6]; r.CoreBusy != 99 || r.SrvBusy != 99 || r.RcvbufErrs != 12000 || !math.IsNaN(r.SrvDrops) || r.OtherCPU0 != 0 {
		t.Errorf("row 7 = %+v", r)
	}
	if r := rows[7]; r.SrvDrops != 1200 || r.CoreBusy != 70 {
		t.Errorf("row 8 = %+v", r)
	}
	bad := fixedHeader + "fixed\tkea\tperfdhcp\t1\t3000\t5\t1\t1\t0\t1\t1\t0\t1\t1\t1\tNaN\t0\t0\tbusy\t1\t0\t0\n"
	if _, err := parseResults(strings.NewReader(bad)); err == nil || !strings.Contains(err.Error(), "core_busy_pct") {
		t.Errorf("bad core_busy_pct: err = %v", err)
	}
}

func TestFixedCells(t *testing.T) {
	rows, err := parseResults(strings.NewReader(fixedSample))
	if err != nil {
		t.Fatal(err)
	}
	cells := fixedCells(rows, []string{"kea", "leased", "null"})
	if len(cells) != 2 || len(cells[3000]) != 3 || len(cells[12000]) != 2 {
		t.Fatalf("cells = %+v", cells)
	}
	kea, leased, null := cells[3000][0], cells[3000][1], cells[3000][2]
	if kea.Server != "kea" || leased.Server != "leased" || null.Server != "null" {
		t.Fatalf("order %s %s %s, want kea leased null", kea.Server, leased.Server, null.Server)
	}
	if math.Abs(kea.CPUMs.Med-0.2) > 1e-9 || math.Abs(leased.CPUMs.Med-0.11) > 1e-9 || math.Abs(null.CPUMs.Med-0.065) > 1e-9 {
		t.Errorf("CPU ms per exchange kea %v leased %v null %v, want 0.2, 0.11, 0.065", kea.CPUMs, leased.CPUMs, null.CPUMs)
	}
	m, per := cpuRatio(leased, kea)
	if math.Abs(m-0.55) > 1e-9 || math.Abs(per.Min-0.5) > 1e-9 || math.Abs(per.Max-0.6) > 1e-9 || per.N != 2 {
		t.Errorf("ratio %v per repeat %+v, want 0.55 (0.50–0.60)", m, per)
	}
	if l := cells[12000][1]; l.Lost.Med < 1.9 || l.Lost.Med > 2.1 || l.CoreBusy.Med != 70.5 || l.Drops.Med != 1200 {
		t.Errorf("leased at 12000/s: %+v", l)
	}
}

func TestFixedSectionVerdicts(t *testing.T) {
	rows, err := parseResults(strings.NewReader(fixedSample))
	if err != nil {
		t.Fatal(err)
	}
	sums := []summary{summarize(rows, "kea"), summarize(rows, "leased"), summarize(rows, "null")}
	meta := map[string]string{"servers": "kea leased null", "command": "bench/compare --fixed 3000,12000", "period": "5", "fixed": "3000,12000"}
	out := section(meta, rows, sums, nil, "x.svg", "")
	for _, want := range []string{
		"### At fixed offered rates",
		"| 3000 | leased | 3000 | 0.00 % | 0.110 (0.100–0.120) | 0.55× (0.50–0.60) | 34 (31–37) % (33 (30–36) %) | 0 / 0 | n/a; n/a |",
		"| 3000 | null (stateless floor) | 3000 |",
		"| 12000 | kea | 9600 | 20.00 % |",
		"Target \"CPU per exchange ≤ 0.5 × Kea's at 3000/s\", leased: 0.110 vs 0.200 ms = 0.55× — not met.",
		"Target \"< 1 % lost at 12,000/s offered\", leased: 2.00 % — not met.",
		"Target \"< 1 % lost wherever the core is below 90 % busy\", leased: not met (12000/s: 2.00 % lost at 70 % busy).",
		"Target \"p99 REQUEST→ACK ≤ 2 ms at half of the max rate\", leased: 2.00 ms at 5000/s — met.",
		"`null` is the floor",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("section lacks %q:\n%s", want, out)
		}
	}
	for _, absent := range []string{"null (stateless floor) | perfdhcp", "Target \"p99 ≤ 5 ms", "Kea\", null"} {
		if strings.Contains(out, absent) {
			t.Errorf("section has %q:\n%s", absent, out)
		}
	}
	// Without --fixed the section is as before.
	delete(meta, "fixed")
	if out := section(meta, rows, sums[:2], nil, "x.svg", ""); strings.Contains(out, "At fixed offered rates") {
		t.Errorf("fixed table without --fixed:\n%s", out)
	}
}

func TestFixedTargetMet(t *testing.T) {
	// leased at 0.45× of Kea in both repeats and no loss at 12000/s.
	in := fixedHeader +
		"fixed\tkea\tperfdhcp\t1\t8000\t5\t40000\t40000\t0\t40000\t40000\t0\t0.3\t2\t4.00\tNaN\t0\t0\t80\t80\t0\tNaN\n" +
		"fixed\tleased\tperfdhcp\t1\t8000\t5\t40000\t40000\t0\t40000\t40000\t0\t0.3\t2\t1.80\tNaN\t0\t0\t40\t36\t0\t0\n" +
		"fixed\tkea\tperfdhcp\t1\t12000\t5\t60000\t60000\t0\t60000\t59000\t0\t0.3\t2\t5.00\tNaN\t0\t0\t95\t95\t0\tNaN\n" +
		"fixed\tleased\tperfdhcp\t1\t12000\t5\t60000\t60000\t0\t60000\t59900\t0\t0.3\t2\t2.40\tNaN\t0\t0\t55\t50\t0\t0\n"
	rows, err := parseResults(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	out := fixedSection(fixedCells(rows, []string{"kea", "leased"}), nil)
	for _, want := range []string{
		"at 8000/s\", leased: 0.045 vs 0.100 ms = 0.45× — met.",
		"12,000/s offered\", leased: 0.17 % — met.",
		"below 90 % busy\", leased: met at 8000, 12000/s.",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("lacks %q:\n%s", want, out)
		}
	}
}
