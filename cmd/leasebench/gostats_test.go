package main

import (
	"strings"
	"testing"
)

func TestParseGoStats(t *testing.T) {
	const text = `# HELP go_gc_duration_seconds A summary of the wall-time pause (stop-the-world) duration in garbage collection cycles.
# TYPE go_gc_duration_seconds summary
go_gc_duration_seconds{quantile="0"} 2.1e-05
go_gc_duration_seconds_sum 0.0123
go_gc_duration_seconds_count 17
# TYPE go_memstats_alloc_bytes_total counter
go_memstats_alloc_bytes_total 1.234567e+08
go_memstats_mallocs_total 456789
go_memstats_frees_total 400000
`
	g, err := parseGoStats(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	if g.mallocs != 456789 || g.allocBytes != 1.234567e+08 || g.gcCycles != 17 {
		t.Fatalf("got %+v", g)
	}
	if _, err := parseGoStats(strings.NewReader("go_memstats_mallocs_total 1\n")); err == nil {
		t.Fatal("missing counters not reported")
	}
}
