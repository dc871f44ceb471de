package main

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/leased/leased/internal/buildinfo"
)

// metricValue returns the value of the sample line starting with series in
// a /metrics body, or -1.
func metricValue(body, series string) float64 {
	for _, line := range strings.Split(body, "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			v, err := strconv.ParseFloat(rest, 64)
			if err == nil {
				return v
			}
		}
	}
	return -1
}

// TestOpsMetrics: leased_build_info names this build; a failed and a
// successful SIGHUP count in leased_config_reloads_total, and only the
// successful one moves the last-success timestamp.
func TestOpsMetrics(t *testing.T) {
	l := startTCPLeased(t, false)
	scrape := func() string {
		code, body := get(t, l.url+"/metrics", "admin-tok", "GET")
		if code != 200 {
			t.Fatalf("/metrics: %d", code)
		}
		return body
	}
	body := scrape()
	info := buildinfo.Get()
	build := regexp.MustCompile(`(?m)^leased_build_info\{goversion="` + regexp.QuoteMeta(info.GoVersion) +
		`",revision="` + regexp.QuoteMeta(info.ShortRevision()) + `",version="` + regexp.QuoteMeta(info.Version) + `"\} 1$`)
	if !build.MatchString(body) {
		t.Errorf("no leased_build_info for %+v in:\n%s", info, grepLines(body, "leased_build_info"))
	}
	const ok, fail, last = `leased_config_reloads_total{result="success"}`, `leased_config_reloads_total{result="failure"}`,
		"leased_config_last_reload_success_timestamp_seconds"
	start := metricValue(body, last)
	if metricValue(body, ok) != 0 || metricValue(body, fail) != 0 || start < float64(time.Now().Add(-time.Minute).Unix()) {
		t.Errorf("at start: success %v failure %v last %v", metricValue(body, ok), metricValue(body, fail), start)
	}
	waitMetric := func(series string, want float64) string {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			b := scrape()
			if metricValue(b, series) == want {
				return b
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s never %v:\n%s", series, want, grepLines(b, "leased_config"))
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	if err := os.WriteFile(l.path, []byte(strings.Replace(l.body, "gateway: 127.0.0.1\n", "gateway: bad\n", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	l.sigs <- syscall.SIGHUP
	body = waitMetric(fail, 1)
	if metricValue(body, last) != start || metricValue(body, ok) != 0 {
		t.Errorf("a failed reload moved success/last: %s", grepLines(body, "leased_config"))
	}
	time.Sleep(10 * time.Millisecond)
	if err := os.WriteFile(l.path, []byte(l.body), 0o600); err != nil {
		t.Fatal(err)
	}
	l.sigs <- syscall.SIGHUP
	body = waitMetric(ok, 1)
	// One scrape gathers the collectors concurrently, so it may see the
	// counter moved before the timestamp: wait for the timestamp too.
	deadline := time.Now().Add(20 * time.Second)
	for metricValue(body, last) <= start && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		body = scrape()
	}
	if metricValue(body, last) <= start {
		t.Errorf("a successful reload did not move %s: %v -> %v", last, start, metricValue(body, last))
	}
}

func grepLines(body, prefix string) string {
	var out []string
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, prefix) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}
