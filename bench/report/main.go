// Command report turns the results of bench/compare into a Markdown
// table and an SVG chart, and computes the p99 ACK latency of a packet
// capture.
//
//	report -p99 FILE.pcap
//	report -in DIR -doc docs/BENCHMARKS.md -svg bench/results/compare.svg [-copy bench/results] [-notes bench/results/notes.md]
package main

import (
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
)

func main() {
	p99 := flag.String("p99", "", "print the p99 REQUEST→ACK latency in ms of this pcap capture and exit")
	dist := flag.String("lat", "", "print the DISCOVER→OFFER and REQUEST→ACK latency distributions (ms) of this pcap capture and exit")
	in := flag.String("in", "", "bench/compare output directory (results.tsv, meta.env, raw/)")
	doc := flag.String("doc", "docs/BENCHMARKS.md", "Markdown file to update between the compare markers")
	svg := flag.String("svg", "bench/results/compare.svg", "SVG chart to write")
	cp := flag.String("copy", "", "directory to copy results.tsv and meta.env into")
	notes := flag.String("notes", "", "Markdown file with hand-written notes on the run, included in the section if it exists")
	flag.Parse()
	if *dist != "" {
		if err := printLatencies(*dist); err != nil {
			fmt.Fprintln(os.Stderr, "report:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(*p99, *in, *doc, *svg, *cp, *notes); err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
}

func run(p99, in, doc, svg, cp, notesPath string) error {
	if p99 != "" {
		f, err := os.Open(p99)
		if err != nil {
			return err
		}
		defer f.Close()
		lat, err := ackLatencies(f)
		if err != nil {
			return err
		}
		v := percentileMs(lat, 0.99)
		if math.IsNaN(v) {
			fmt.Println("NaN")
		} else {
			fmt.Printf("%.3f\n", v)
		}
		return nil
	}
	if in == "" {
		return fmt.Errorf("need -p99 FILE or -in DIR")
	}
	rf, err := os.Open(filepath.Join(in, "results.tsv"))
	if err != nil {
		return err
	}
	rows, err := parseResults(rf)
	rf.Close()
	if err != nil {
		return err
	}
	mf, err := os.Open(filepath.Join(in, "meta.env"))
	if err != nil {
		return err
	}
	meta, err := parseMeta(mf)
	mf.Close()
	if err != nil {
		return err
	}
	lb, err := leasebenchResults(filepath.Join(in, "raw"), strings.Fields(meta["servers"]))
	if err != nil {
		return err
	}
	var sums []summary
	var ss []series
	colors := map[string]string{"kea": "#d95f02", "leased": "#1b9e77", "leased-gmp4": "#7570b3"}
	servers := strings.Fields(meta["servers"])
	if len(servers) == 0 {
		servers = []string{"kea", "leased"}
	}
	for _, srv := range servers {
		s := summarize(rows, srv)
		sums = append(sums, s)
		c := colors[srv]
		if c == "" {
			c = "#666666"
		}
		ss = append(ss, series{Name: label(srv), Color: c, Pts: curve(rows, srv), Flat: s.Flat})
	}
	if err := os.MkdirAll(filepath.Dir(svg), 0o755); err != nil {
		return err
	}
	sf, err := os.Create(svg)
	if err != nil {
		return err
	}
	title := fmt.Sprintf("DORA/s completed vs offered, perfdhcp, %s (%s)", meta["date"], meta["cpu"])
	if err := writeSVG(sf, title, ss); err != nil {
		sf.Close()
		return err
	}
	if err := sf.Close(); err != nil {
		return err
	}
	rel, err := filepath.Rel(filepath.Dir(doc), svg)
	if err != nil {
		return err
	}
	var notes []byte
	if notesPath != "" {
		notes, err = os.ReadFile(notesPath)
		if err != nil && !os.IsNotExist(err) {
			return err
		}
	}
	text := section(meta, rows, sums, lb, filepath.ToSlash(rel), string(notes))
	old, err := os.ReadFile(doc)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	updated, err := spliceSection(string(old), text)
	if err != nil {
		return err
	}
	if err := os.WriteFile(doc, []byte(updated), 0o644); err != nil {
		return err
	}
	if cp != "" {
		for _, name := range []string{"results.tsv", "meta.env"} {
			b, err := os.ReadFile(filepath.Join(in, name))
			if err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(cp, name), b, 0o644); err != nil {
				return err
			}
		}
	}
	fmt.Print(text)
	return nil
}

// printLatencies prints the DISCOVER→OFFER and REQUEST→ACK distributions
// of a capture (report -lat): the OFFER needs no commit, so the two apart
// say how much of the ACK's latency is the store's.
func printLatencies(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	lat, err := latencies(f, msgDiscover, msgOffer, msgRequest, msgAck)
	if err != nil {
		return err
	}
	fmt.Printf("DISCOVER->OFFER %s\nREQUEST->ACK %s\n", latencyLine(lat[0]), latencyLine(lat[1]))
	return nil
}
