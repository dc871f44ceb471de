package main

import (
	"bytes"
	"encoding/binary"
	"encoding/xml"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestSpread(t *testing.T) {
	for _, c := range []struct {
		in   []float64
		want spread
		str  string
	}{
		{[]float64{3, 1, 2}, spread{Med: 2, Min: 1, Max: 3, N: 3}, "2 (1–3)"},
		{[]float64{4, 1, 2, 3}, spread{Med: 2.5, Min: 1, Max: 4, N: 4}, "2 (1–4)"}, // 2.5 rounds to even
		{[]float64{7}, spread{Med: 7, Min: 7, Max: 7, N: 1}, "7"},
		{[]float64{math.NaN(), 5, 9}, spread{Med: 7, Min: 5, Max: 9, N: 2}, "7 (5–9)"},
	} {
		got := spreadOf(c.in)
		if diff := cmp.Diff(c.want, got); diff != "" {
			t.Errorf("spreadOf(%v) (-want +got):\n%s", c.in, diff)
		}
		if s := got.format(0); s != c.str {
			t.Errorf("format(%v) = %q, want %q", c.in, s, c.str)
		}
	}
	if s := spreadOf(nil).format(1); s != "n/a" {
		t.Errorf("empty spread = %q, want n/a", s)
	}
}

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 100; i >= 1; i-- { // unsorted on purpose
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	if got := percentileMs(d, 0.99); got != 99 {
		t.Errorf("p99 of 1..100 ms = %v, want 99", got)
	}
	if got := percentileMs(d, 0.5); got != 50 {
		t.Errorf("p50 of 1..100 ms = %v, want 50", got)
	}
	if got := percentileMs(d[:1], 0.99); got != 1 {
		t.Errorf("p99 of one sample = %v", got)
	}
	if !math.IsNaN(percentileMs(nil, 0.99)) {
		t.Error("p99 of nothing should be NaN")
	}
}

const header = "phase\tserver\ttool\trepeat\toffered\tperiod\tdo_sent\tdo_recv\tdo_drops\tra_sent\tra_recv\tra_drops\tra_avg_ms\tra_max_ms\tcpu_s\tp99_ms\tpcap_drops\n"

// Two repeats. kea passes 4000 in both, 6000 only in repeat 2. leased
// passes the top rate 8000 in repeat 1 (so the ceiling flag is set).
const sample = header +
	"ladder\tkea\tperfdhcp\t1\t4000\t5\t20000\t20000\t0\t20000\t20000\t0\t0.5\t3\t2.00\tNaN\t0\n" +
	"ladder\tkea\tperfdhcp\t1\t6000\t5\t30000\t29000\t1000\t29000\t28000\t1000\t0.9\t9\t4.00\tNaN\t0\n" +
	"ladder\tkea\tperfdhcp\t2\t4000\t5\t20000\t20000\t0\t20000\t20000\t0\t0.5\t3\t2.00\tNaN\t0\n" +
	"ladder\tkea\tperfdhcp\t2\t6000\t5\t30000\t29900\t100\t29900\t29900\t0\t0.9\t9\t3.00\tNaN\t0\n" +
	"ladder\tleased\tperfdhcp\t1\t4000\t5\t20000\t20000\t0\t20000\t20000\t0\t0.3\t2\t1.00\tNaN\t0\n" +
	"ladder\tleased\tperfdhcp\t1\t8000\t5\t40000\t40000\t0\t40000\t39900\t0\t0.3\t2\t2.00\tNaN\t0\n" +
	"ladder\tleased\tperfdhcp\t2\t4000\t5\t20000\t20000\t0\t20000\t20000\t0\t0.3\t2\t1.00\tNaN\t0\n" +
	"ladder\tleased\tperfdhcp\t2\t8000\t5\t40000\t30000\t0\t30000\t30000\t0\t0.3\t2\t2.00\tNaN\t0\n" +
	"flat\tkea\tperfdhcp\t1\t0\t5\t50000\t45000\t0\t45000\t45000\t0\t1\t10\t5.00\tNaN\t0\n" +
	"half\tleased\tperfdhcp\t1\t2000\t5\t10000\t10000\t0\t10000\t10000\t0\t0.2\t1.5\t0.50\t0.800\t0\n" +
	"half\tleased\tperfdhcp\t2\t2000\t5\t10000\t10000\t0\t10000\t10000\t0\t0.4\t2.5\t0.70\t1.200\t0\n"

func TestSummarize(t *testing.T) {
	rows, err := parseResults(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	if got := rows[1].Loss(); math.Abs(got-100.0/15) > 1e-9 {
		t.Errorf("loss = %v, want 6.67 %%", got)
	}
	if got := rows[0].Achieved(); got != 4000 {
		t.Errorf("achieved = %v", got)
	}
	kea := summarize(rows, "kea")
	if kea.MaxRate != (spread{Med: 5000, Min: 4000, Max: 6000, N: 2}) || !kea.AtCeiling {
		t.Errorf("kea max rate %+v ceiling %v, want 4000–6000 (repeat 2 passed the top rate 6000)", kea.MaxRate, kea.AtCeiling)
	}
	if kea.Flat.Med != 9000 {
		t.Errorf("kea flat = %+v, want 9000", kea.Flat)
	}
	leased := summarize(rows, "leased")
	if leased.MaxRate != (spread{Med: 6000, Min: 4000, Max: 8000, N: 2}) || !leased.AtCeiling {
		t.Errorf("leased max rate %+v ceiling %v", leased.MaxRate, leased.AtCeiling)
	}
	if leased.Half != 2000 || leased.P99.Med != 1 || leased.CPU.Med != 60 {
		t.Errorf("leased half %d p99 %+v cpu %+v, want 2000, 1 ms, 60 ms per 1000", leased.Half, leased.P99, leased.CPU)
	}
	pts := curve(rows, "kea")
	if len(pts) != 2 || pts[0].Offered != 4000 || pts[1].Achieved.Min != 5600 || pts[1].Achieved.Max != 5980 {
		t.Errorf("kea curve = %+v", pts)
	}
}

func TestParseResultsErrors(t *testing.T) {
	for name, in := range map[string]string{
		"missing column": "phase\tserver\n",
		"short line":     header + "ladder\tkea\n",
		"bad number":     header + "ladder\tkea\tperfdhcp\tx\t4000\t5\t1\t1\t0\t1\t1\t0\t1\t1\t1\tNaN\t0\n",
		"zero period":    header + "ladder\tkea\tperfdhcp\t1\t4000\t0\t1\t1\t0\t1\t1\t0\t1\t1\t1\tNaN\t0\n",
	} {
		if _, err := parseResults(strings.NewReader(in)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestSplice(t *testing.T) {
	doc := "# Benchmarks\n\nlead's text\n"
	got, err := spliceSection(doc, "one\n")
	if err != nil {
		t.Fatal(err)
	}
	want := doc + "\n" + beginMarker + "\none\n" + endMarker + "\n"
	if got != want {
		t.Fatalf("append:\n%q\nwant\n%q", got, want)
	}
	// Replacing keeps everything outside the markers.
	withTail := got + "after\n"
	got2, err := spliceSection(withTail, "two")
	if err != nil {
		t.Fatal(err)
	}
	if want2 := doc + "\n" + beginMarker + "\ntwo\n" + endMarker + "\nafter\n"; got2 != want2 {
		t.Fatalf("replace:\n%q\nwant\n%q", got2, want2)
	}
	for _, bad := range []string{endMarker + beginMarker, beginMarker, beginMarker + endMarker + beginMarker + endMarker} {
		if _, err := spliceSection(bad, "x"); err == nil {
			t.Errorf("spliceSection(%q) accepted broken markers", bad)
		}
	}
}

func TestSVG(t *testing.T) {
	rows, err := parseResults(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	ss := []series{
		{Name: "kea", Color: "#d95f02", Pts: curve(rows, "kea"), Flat: summarize(rows, "kea").Flat},
		{Name: "leased <&>", Color: "#1b9e77", Pts: curve(rows, "leased")},
	}
	if err := writeSVG(&buf, "title", ss); err != nil {
		t.Fatal(err)
	}
	d := xml.NewDecoder(&buf)
	n := map[string]int{}
	for {
		tok, err := d.Token()
		if err != nil {
			if err.Error() == "EOF" {
				break
			}
			t.Fatalf("SVG is not well-formed XML: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			n[se.Name.Local]++
		}
	}
	if n["svg"] != 1 || n["polyline"] != 2 || n["circle"] != 4 {
		t.Errorf("elements %v: want 1 svg, 2 polylines, 4 points", n)
	}
	if !strings.Contains(buf.String(), "") {
		t.Fatal("unreachable")
	}
}

func TestNiceStepAndK(t *testing.T) {
	for span, want := range map[float64]float64{16000: 2000, 9000: 1000, 45: 5, 100: 10} {
		if got := niceStep(span); got != want {
			t.Errorf("niceStep(%v) = %v, want %v", span, got, want)
		}
	}
	for v, want := range map[float64]string{12000: "12k", 2500: "2.5k", 500: "500", 0: "0"} {
		if got := kfmt(v); got != want {
			t.Errorf("kfmt(%v) = %q, want %q", v, got, want)
		}
	}
}

// dhcpFrame builds an Ethernet/IPv4/UDP frame carrying a BOOTP message
// with the given xid and option 53 (after a pad and another option).
func dhcpFrame(xid uint32, typ byte) []byte {
	d := make([]byte, 240)
	d[0] = 1
	binary.BigEndian.PutUint32(d[4:8], xid)
	binary.BigEndian.PutUint32(d[236:240], 0x63825363)
	d = append(d, 0, 61, 2, 1, 2, 53, 1, typ, 255)
	udp := make([]byte, 8)
	ip := make([]byte, 20)
	ip[0], ip[9] = 0x45, 17
	eth := make([]byte, 14)
	binary.BigEndian.PutUint16(eth[12:14], 0x0800)
	return append(append(append(eth, ip...), udp...), d...)
}

func writePcap(t *testing.T, recs []struct {
	us    int64
	frame []byte
}) []byte {
	t.Helper()
	var b bytes.Buffer
	gh := make([]byte, 24)
	binary.LittleEndian.PutUint32(gh[0:], 0xa1b2c3d4)
	binary.LittleEndian.PutUint16(gh[4:], 2)
	binary.LittleEndian.PutUint16(gh[6:], 4)
	binary.LittleEndian.PutUint32(gh[16:], 65535)
	binary.LittleEndian.PutUint32(gh[20:], 1)
	b.Write(gh)
	for _, r := range recs {
		rh := make([]byte, 16)
		binary.LittleEndian.PutUint32(rh[0:], uint32(r.us/1e6))
		binary.LittleEndian.PutUint32(rh[4:], uint32(r.us%1e6))
		binary.LittleEndian.PutUint32(rh[8:], uint32(len(r.frame)))
		binary.LittleEndian.PutUint32(rh[12:], uint32(len(r.frame)))
		b.Write(rh)
		b.Write(r.frame)
	}
	return b.Bytes()
}

func TestAckLatencies(t *testing.T) {
	type rec = struct {
		us    int64
		frame []byte
	}
	recs := []rec{
		{1_000_000, dhcpFrame(1, 1)},       // DISCOVER: ignored
		{1_000_100, dhcpFrame(1, 2)},       // OFFER: ignored
		{1_000_200, dhcpFrame(1, 3)},       // REQUEST xid 1
		{1_000_300, dhcpFrame(2, 3)},       // REQUEST xid 2
		{1_000_400, dhcpFrame(1, 3)},       // retransmission: first REQUEST counts
		{1_001_200, dhcpFrame(1, 5)},       // ACK xid 1: 1 ms
		{1_999_999, dhcpFrame(2, 5)},       // ACK xid 2: crosses a second boundary
		{2_000_000, dhcpFrame(2, 5)},       // duplicate ACK: ignored
		{2_000_001, dhcpFrame(3, 5)},       // ACK without REQUEST: ignored
		{2_000_002, []byte{1, 2, 3}},       // not IPv4
		{2_000_003, dhcpFrame(4, 3)[:100]}, // truncated capture: ignored
	}
	lat, err := ackLatencies(bytes.NewReader(writePcap(t, recs)))
	if err != nil {
		t.Fatal(err)
	}
	want := []time.Duration{time.Millisecond, 999_699 * time.Microsecond}
	if diff := cmp.Diff(want, lat); diff != "" {
		t.Errorf("latencies (-want +got):\n%s", diff)
	}
	// A torn last record (capture stopped mid-write) ends the file quietly.
	raw := writePcap(t, recs[:6])
	if lat, err := ackLatencies(bytes.NewReader(raw[:len(raw)-5])); err != nil || len(lat) != 0 {
		t.Errorf("torn tail: %v %v, want no latencies (the ACK was cut) and no error", lat, err)
	}
	if _, err := ackLatencies(strings.NewReader("not a pcap file at all....")); err == nil {
		t.Error("garbage accepted as pcap")
	}
}

// TestLatencyPairs: DISCOVER→OFFER and REQUEST→ACK are paired apart in
// one pass (report -lat), a REQUEST's xid never answering a DISCOVER.
func TestLatencyPairs(t *testing.T) {
	type rec = struct {
		us    int64
		frame []byte
	}
	recs := []rec{
		{1_000_000, dhcpFrame(1, 1)}, // DISCOVER xid 1
		{1_000_100, dhcpFrame(1, 2)}, // OFFER xid 1: 0.1 ms
		{1_000_200, dhcpFrame(1, 3)}, // REQUEST xid 1
		{1_000_250, dhcpFrame(2, 2)}, // OFFER without DISCOVER: ignored
		{1_001_200, dhcpFrame(1, 5)}, // ACK xid 1: 1 ms
	}
	lat, err := latencies(bytes.NewReader(writePcap(t, recs)), msgDiscover, msgOffer, msgRequest, msgAck)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]time.Duration{{100 * time.Microsecond}, {time.Millisecond}}
	if diff := cmp.Diff(want, lat); diff != "" {
		t.Errorf("latencies (-want +got):\n%s", diff)
	}
	if got := latencyLine(lat[1]); got != "n=1 p50=1.000 p90=1.000 p99=1.000 p99.9=1.000 max=1.000" {
		t.Errorf("latencyLine = %q", got)
	}
	if _, err := latencies(bytes.NewReader(writePcap(t, recs)), msgDiscover); err == nil {
		t.Error("odd pair list accepted")
	}
}

func TestLeasebenchFields(t *testing.T) {
	dir := t.TempDir()
	js := `{"scenario":"dora","achieved_per_s":20000,"completed":100000,"latency":{"p50_ms":0.4,"p99_us":1500,"p999_ms":9},"server":{"cpu_seconds":3}}`
	if err := os.WriteFile(filepath.Join(dir, "leasebench-leased-r1.json"), []byte(js), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := leasebenchResults(dir, []string{"kea", "leased"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Server != "leased" || got[0].Achieved.Med != 20000 || got[0].P99.Med != 1.5 || got[0].CPU.Med != 30 {
		t.Errorf("leasebench results %+v", got)
	}
}

func TestSectionVerdicts(t *testing.T) {
	rows, err := parseResults(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	sums := []summary{summarize(rows, "kea"), summarize(rows, "leased")}
	meta := map[string]string{"servers": "kea leased", "command": "bench/compare", "period": "5"}
	out := section(meta, rows, sums, nil, "x.svg", "hand-written note")
	for _, want := range []string{
		"| kea | perfdhcp | ≥ 5000 (4000–6000)/s (passed the highest rate tried) |",
		"| leased | perfdhcp | ≥ 6000 (4000–8000)/s",
		"max rate leased/Kea = 1.20× — not shown: Kea passed the highest rate",
		"leased: 1.00 ms at 2000/s — met",
		"hand-written note",
		"![completed vs offered DORA/s, Kea and leased](x.svg)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("section lacks %q:\n%s", want, out)
		}
	}
}

// The JSON leasebench (cmd/leasebench) writes.
func TestLeasebenchJSON(t *testing.T) {
	dir := t.TempDir()
	js := `{"scenario":"dora","server":"10.77.0.1:67","achieved_rate":23226.2,"completed":116269,"lost":0,
"latency_ms":{"p50":5.5,"p99":7.295,"p999":9.7,"max":9.9},"server_cpu_seconds":4.98,"server_cpu_ms_per_1000":42.83,"bench_cpu_seconds":3.9}`
	if err := os.WriteFile(filepath.Join(dir, "leasebench-kea-r1.json"), []byte(js), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := leasebenchResults(dir, []string{"kea"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Achieved.Med != 23226.2 || got[0].P99.Med != 7.295 || math.Abs(got[0].CPU.Med-42.83) > 1e-9 {
		t.Errorf("leasebench results %+v", got)
	}
}
