package main

import (
	"bytes"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestJournalPriorities: with --log-target journald every line starts with
// the <N> priority journald strips (3 error, 4 warning, 6 info, 7 debug),
// in JSON and in text, whatever a record's own attributes say.
func TestJournalPriorities(t *testing.T) {
	for _, format := range []string{"json", "text"} {
		var b bytes.Buffer
		w, err := logOutput(targetJournald, "", &b)
		if err != nil {
			t.Fatal(err)
		}
		opts := &slog.HandlerOptions{Level: slog.LevelDebug}
		var h slog.Handler = slog.NewJSONHandler(w, opts)
		if format == "text" {
			h = slog.NewTextHandler(w, opts)
		}
		log := slog.New(h).With("level_hint", "x")
		log.Debug("d", "level", "ERROR")
		log.Info("i")
		log.Warn("w")
		log.Error("e", "msg2", "level=DEBUG")
		lines := strings.Split(strings.TrimSpace(b.String()), "\n")
		want := []string{"<7>", "<6>", "<4>", "<3>"}
		if len(lines) != 4 {
			t.Fatalf("%s: %d lines: %s", format, len(lines), b.String())
		}
		for i, l := range lines {
			if !strings.HasPrefix(l, want[i]) || strings.HasPrefix(l[3:], "<") {
				t.Errorf("%s: line %d %q, want prefix %s", format, i, l, want[i])
			}
		}
	}
}

// TestSyslogTarget: --log-target syslog sends each record as one datagram
// "<PRI>timestamp leased[pid]: line" (facility daemon) to the socket; a
// unix datagram socket in a temp dir stands in for /dev/log. When the
// socket goes away a record falls back to stderr.
func TestSyslogTarget(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	ln, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	var fallback bytes.Buffer
	w, err := logOutput(targetSyslog, path, &fallback)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
	log.Warn("pool exhausted", "pool", "lan")
	log.Info("serving")
	re := regexp.MustCompile(fmt.Sprintf(`^<(\d+)>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d leased\[%d\]: (\{.*\})$`, os.Getpid()))
	buf := make([]byte, 4096)
	for _, want := range []struct {
		pri string
		msg string
	}{{"28", `"msg":"pool exhausted"`}, {"30", `"msg":"serving"`}} {
		ln.SetReadDeadline(time.Now().Add(2 * time.Second))
		n, err := ln.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		m := re.FindStringSubmatch(string(buf[:n]))
		if m == nil || m[1] != want.pri || !strings.Contains(m[2], want.msg) {
			t.Errorf("datagram %q, want priority %s and %s", buf[:n], want.pri, want.msg)
		}
	}
	ln.Close()
	os.Remove(path)
	log.Error("disk failed")
	if !strings.Contains(fallback.String(), `"msg":"disk failed"`) {
		t.Errorf("with the socket gone the record was lost (fallback %q)", fallback.String())
	}
	if _, err := logOutput(targetSyslog, filepath.Join(t.TempDir(), "none"), &fallback); err == nil {
		t.Error("a missing syslog socket is not an error at start")
	}
	if _, err := logOutput("kafka", "", &fallback); err == nil {
		t.Error("an unknown target is not an error")
	}
}

// TestJournalStreamAuto: auto picks journald prefixes only when
// JOURNAL_STREAM names stderr's own device and inode.
func TestJournalStreamAuto(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "stderr")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	if !journalStream(fmt.Sprintf("%d:%d", st.Dev, st.Ino), f.Fd()) {
		t.Error("JOURNAL_STREAM of the file itself not recognised")
	}
	if journalStream(fmt.Sprintf("%d:%d", st.Dev, st.Ino+1), f.Fd()) || journalStream("", f.Fd()) || journalStream("x:y", f.Fd()) {
		t.Error("another JOURNAL_STREAM recognised")
	}
	t.Setenv("JOURNAL_STREAM", fmt.Sprintf("%d:%d", st.Dev, st.Ino))
	w, err := logOutput(targetAuto, "", f)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := w.(journalWriter); !ok {
		t.Errorf("auto with JOURNAL_STREAM of stderr: %T, want journalWriter", w)
	}
	t.Setenv("JOURNAL_STREAM", "")
	if w, _ := logOutput(targetAuto, "", f); w != any(f) {
		t.Errorf("auto without JOURNAL_STREAM: %T, want stderr itself", w)
	}
}
