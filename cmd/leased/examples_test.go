package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.yaml.in/yaml/v4"
)

// leasedName matches the leased_* metric names a PromQL expression uses.
var leasedName = regexp.MustCompile(`\bleased_[a-z0-9_]+\b`)

// scrapeNames returns every sample name /metrics on the unix socket sock
// exposes (histograms with their _bucket, _sum and _count series).
func scrapeNames(t *testing.T, sock string) map[string]bool {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		},
	}}
	resp, err := c.Get("http://leased/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, line := range strings.Split(string(b), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, _, _ := strings.Cut(line, " ")
		name, _, _ = strings.Cut(name, "{")
		names[name] = true
	}
	return names
}

// TestExamplesMetricsExist: every leased_* metric that
// examples/prometheus/alerts.yaml and examples/grafana/leased.json use is
// exposed by a running leased serving DHCPv4 and DHCPv6 (with prefix
// delegation); the alert rules have the fields Prometheus requires.
func TestExamplesMetricsExist(t *testing.T) {
	dir := t.TempDir()
	path := writeConfig(t, dir, validConfig(dir, "lan")+v6Section)
	sock := filepath.Join(dir, "run", "control.sock")
	sigs := make(chan os.Signal, 1)
	var stderr lockedBuffer
	done := make(chan int, 1)
	go func() { done <- run([]string{"--config", path}, os.Stdout, &stderr, sigs) }()
	t.Cleanup(func() {
		sigs <- syscall.SIGTERM
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("leased did not stop within 10s")
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		if code, _ := health(t, sock); code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("leased did not serve within 10s:\n%s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	have := scrapeNames(t, sock)

	rules, err := os.ReadFile("../../examples/prometheus/alerts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Groups []struct {
			Name  string `yaml:"name"`
			Rules []struct {
				Alert       string            `yaml:"alert"`
				Expr        string            `yaml:"expr"`
				For         string            `yaml:"for"`
				Labels      map[string]string `yaml:"labels"`
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	dec := yaml.NewDecoder(strings.NewReader(string(rules)))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("alerts.yaml: %v", err)
	}
	var exprs []string
	alerts := map[string]bool{}
	for _, g := range doc.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" || r.Expr == "" || r.Annotations["summary"] == "" || r.Labels["severity"] == "" {
				t.Errorf("alerts.yaml: rule %+v lacks alert, expr, severity or summary", r)
			}
			if r.For != "" {
				if _, err := time.ParseDuration(r.For); err != nil {
					t.Errorf("alerts.yaml: %s: for %q: %v", r.Alert, r.For, err)
				}
			}
			if strings.Count(r.Expr, "(") != strings.Count(r.Expr, ")") {
				t.Errorf("alerts.yaml: %s: unbalanced parentheses: %s", r.Alert, r.Expr)
			}
			alerts[r.Alert] = true
			exprs = append(exprs, r.Expr)
		}
	}
	for _, a := range []string{"LeasedPoolNearlyFull", "LeasedStoreCommitFailures", "LeasedHealthNotOK", "LeasedCampaignStuck"} {
		if !alerts[a] {
			t.Errorf("alerts.yaml has no %s rule", a)
		}
	}

	raw, err := os.ReadFile("../../examples/grafana/leased.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Query any `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("leased.json: %v", err)
	}
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("leased.json: panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			exprs = append(exprs, tg.Expr)
		}
	}
	for _, v := range dash.Templating.List {
		if q, ok := v.Query.(string); ok {
			exprs = append(exprs, q)
		}
	}

	var used []string
	for _, e := range exprs {
		used = append(used, leasedName.FindAllString(e, -1)...)
	}
	slices.Sort(used)
	used = slices.Compact(used)
	if len(used) < 15 {
		t.Errorf("only %d leased_* names found in the examples: %v", len(used), used)
	}
	for _, n := range used {
		if !have[n] {
			t.Errorf("the examples use %s, which a running leased does not expose", n)
		}
	}
}
