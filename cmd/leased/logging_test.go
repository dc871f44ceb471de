package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/leased/leased/dhcpv4"
	"github.com/leased/leased/dhcpv6"
)

// TestLogVocabulary: JSON and text logs write xids in hex, durations as
// strings, file modes in octal and message types by name.
func TestLogVocabulary(t *testing.T) {
	emit := func(l *slog.Logger) {
		l.Info("x", "xid", uint32(0xabcd), "took", 2*time.Second, "mode", fs.FileMode(0o640),
			"type", dhcpv4.MessageType(1), "type6", dhcpv6.MessageType(1), "addr", netip.MustParseAddr("10.0.0.1"),
			"err", errors.New("boom"), "n", 3)
	}
	var jb, tb bytes.Buffer
	emit(slog.New(slog.NewJSONHandler(&jb, &slog.HandlerOptions{ReplaceAttr: logVocabulary})))
	emit(slog.New(slog.NewTextHandler(&tb, &slog.HandlerOptions{ReplaceAttr: logVocabulary})))
	var m map[string]any
	if err := json.Unmarshal(jb.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{"xid": "0x0000abcd", "took": "2s", "mode": "0640", "type": "DISCOVER",
		"type6": "SOLICIT", "addr": "10.0.0.1", "err": "boom", "n": float64(3)} {
		if m[k] != want {
			t.Errorf("json %s = %#v, want %#v (%s)", k, m[k], want, jb.String())
		}
	}
	for _, want := range []string{"xid=0x0000abcd", "took=2s", "mode=0640", "type=DISCOVER", "type6=SOLICIT", "err=boom"} {
		if !strings.Contains(tb.String(), want) {
			t.Errorf("text log lacks %s: %s", want, tb.String())
		}
	}
}

// TestRateLimited: the same ERROR 10 times in a window is written burst
// times; the first one of the next window says how many were left out.
// Other messages and INFO are not limited.
func TestRateLimited(t *testing.T) {
	var b bytes.Buffer
	now := time.Unix(1000, 0)
	h := newRateLimited(slog.NewJSONHandler(&b, nil), 2, 10*time.Second, func() time.Time { return now })
	log := slog.New(h).With("component", "store")
	for range 10 {
		log.Error("commit failed", "err", "disk full")
		log.Info("request")
	}
	log.Error("other failure")
	for range 3 {
		log.Warn("pool exhausted", "pool", "a")
		log.Warn("pool exhausted", "pool", "b")
	}
	now = now.Add(11 * time.Second)
	log.Error("commit failed", "err", "disk full")
	var errs, infos, other int
	exhausted := map[any]int{}
	var last map[string]any
	for _, line := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatal(err)
		}
		switch m["msg"] {
		case "commit failed":
			errs++
			last = m
		case "request":
			infos++
		case "other failure":
			other++
		case "pool exhausted":
			exhausted[m["pool"]]++
		}
	}
	if errs != 3 || infos != 10 || other != 1 {
		t.Errorf("written: %d commit failed (want 2+1), %d request (want 10), %d other (want 1):\n%s", errs, infos, other, b.String())
	}
	if exhausted["a"] != 2 || exhausted["b"] != 2 {
		t.Errorf("pool exhausted written %v, want 2 per pool", exhausted)
	}
	if last["suppressed"] != float64(8) || last["component"] != "store" {
		t.Errorf("the record after the window: %v, want suppressed 8 and the logger's attributes", last)
	}
}
