package ddns

import (
	"io"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Enqueue never blocks: with the worker stuck (not running) a full queue
// drops the event and counts it.
func TestEnqueueNeverBlocks(t *testing.T) {
	u, err := New(Config{Server: "127.0.0.1:1", Forward: "lan.test", QueueSize: 2},
		slog.New(slog.NewTextHandler(io.Discard, nil)), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan []bool)
	go func() {
		var ok []bool
		for i := range 5 {
			ok = append(ok, u.Enqueue(Event{Bound: true, Addr: netip.AddrFrom4([4]byte{10, 0, 0, byte(i)}), Hostname: "h"}))
			// A renewal repeats the event: not queued again once queued
			// (a repeat of a dropped event is tried, and dropped, again).
			u.Enqueue(Event{Bound: true, Addr: netip.AddrFrom4([4]byte{10, 0, 0, byte(i)}), Hostname: "h"})
		}
		done <- ok
	}()
	select {
	case ok := <-done:
		if !ok[0] || !ok[1] || ok[2] || ok[3] || ok[4] || len(u.q) != 2 {
			t.Errorf("accepted %v, want the first 2", ok)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Enqueue blocked")
	}
	var m dto.Metric
	u.m.dropped.Write(&m)
	if m.GetCounter().GetValue() != 6 {
		t.Errorf("dropped %v, want 6", m.GetCounter().GetValue())
	}
}

func TestLabel(t *testing.T) {
	for in, want := range map[string]string{
		"Alpha":                  "alpha",
		"alpha.example.com":      "alpha",
		"Bob's Laptop":           "bobs-laptop",
		"--x--":                  "x",
		"":                       "",
		"ünï":                    "n",
		"a_b":                    "a-b",
		string(make([]byte, 70)): "",
	} {
		if got := Label(in); got != want {
			t.Errorf("Label(%q) = %q, want %q", in, got, want)
		}
	}
	long := Label("abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghij")
	if len(long) != 63 {
		t.Errorf("long label %d octets", len(long))
	}
}

// TestClientLabel: the replace_client_name modes (Kea's
// ddns-replace-client-name) and generated labels from either family.
func TestClientLabel(t *testing.T) {
	v4, v6 := netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("2001:db8::5")
	for _, tt := range []struct {
		host    string
		a       netip.Addr
		replace string
		prefix  string
		want    string
	}{
		{"Laptop", v4, "", "", "laptop"},
		{"Laptop", v4, "never", "", "laptop"},
		{"", v4, "never", "", ""},
		{"Laptop", v4, "always", "", "myhost-192-0-2-10"},
		{"", v4, "always", "dhcp", "dhcp-192-0-2-10"},
		{"Laptop", v6, "when-present", "", "myhost-2001-db8--5"},
		{"", v6, "when-present", "", ""},
		{"Laptop", v6, "when-not-present", "", "laptop"},
		{"", v6, "when-not-present", "", "myhost-2001-db8--5"},
		{"__", v4, "when-absent", "", "myhost-192-0-2-10"}, // no usable label: no name
		{"", netip.Addr{}, "always", "", ""},
		{"", netip.MustParseAddr("::ffff:10.0.0.1"), "always", "", "myhost-10-0-0-1"},
		{"", netip.MustParseAddr("2001:db8:1:2:3:4:5:6"), "always", "abcdefghijklmnopqrstuvw", "abcdefghijklmnopqrstuvw-2001-db8-1-2-3-4-5-6"},
	} {
		if got := ClientLabel(tt.host, tt.a, tt.replace, tt.prefix); got != tt.want {
			t.Errorf("ClientLabel(%q, %v, %q, %q) = %q, want %q", tt.host, tt.a, tt.replace, tt.prefix, got, tt.want)
		}
	}
}
