package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Log targets (--log-target).
const (
	targetAuto     = "auto"     // journald when stderr is the journal (JOURNAL_STREAM), else stderr
	targetStderr   = "stderr"   // plain lines on stderr
	targetJournald = "journald" // lines on stderr with the <N> priority prefix journald strips
	targetSyslog   = "syslog"   // datagrams to the local syslog socket (/dev/log)
)

// defaultSyslogSocket is where syslog (rsyslog, or journald's syslog
// compatibility socket) listens on Debian.
const defaultSyslogSocket = "/dev/log"

// Syslog severities (RFC 5424 §6.2.1) of slog's levels.
func severity(level string) int {
	switch {
	case strings.HasPrefix(level, "ERROR"):
		return 3
	case strings.HasPrefix(level, "WARN"):
		return 4
	case strings.HasPrefix(level, "INFO"):
		return 6
	default:
		return 7 // DEBUG
	}
}

// lineLevel finds the level slog's JSON or text handler wrote into one
// record's line: the first "level":"X" or level=X (the built-in attribute
// comes before the record's own).
func lineLevel(line []byte) string {
	for _, key := range [][]byte{[]byte(`"level":"`), []byte(" level=")} {
		if i := bytes.Index(line, key); i >= 0 {
			rest := line[i+len(key):]
			if j := bytes.IndexAny(rest, "\" "); j >= 0 {
				rest = rest[:j]
			}
			return string(rest)
		}
	}
	return ""
}

// journalWriter prefixes every line with <N>, N its syslog severity
// (sd-daemon(3)): journald, reading leased's stderr, strips the prefix
// and files the message at that priority, so `journalctl -p warning`
// shows WARN and ERROR. slog's handlers write one record per Write.
type journalWriter struct{ w io.Writer }

func (j journalWriter) Write(p []byte) (int, error) {
	buf := make([]byte, 0, len(p)+3)
	buf = append(buf, '<', byte('0'+severity(lineLevel(p))), '>')
	buf = append(buf, p...)
	if _, err := j.w.Write(buf); err != nil {
		return 0, err
	}
	return len(p), nil
}

// syslogWriter sends every record as one datagram to the local syslog
// socket, facility daemon, in the format the local syslog daemons read:
// "<PRI>Mmm dd hh:mm:ss leased[PID]: MESSAGE". When the socket is gone
// (syslog restarted) it redials once per record; a record it cannot send
// goes to fallback (stderr), so nothing is lost silently.
type syslogWriter struct {
	path     string
	fallback io.Writer
	now      func() time.Time

	mu   sync.Mutex
	conn net.Conn
}

const facilityDaemon = 3

func newSyslogWriter(path string, fallback io.Writer) (*syslogWriter, error) {
	w := &syslogWriter{path: path, fallback: fallback, now: time.Now}
	c, err := net.Dial("unixgram", path)
	if err != nil {
		return nil, fmt.Errorf("syslog socket %s: %w", path, err)
	}
	w.conn = c
	return w, nil
}

func (s *syslogWriter) Write(p []byte) (int, error) {
	line := bytes.TrimRight(p, "\n")
	pri := facilityDaemon*8 + severity(lineLevel(line))
	msg := fmt.Sprintf("<%d>%s leased[%d]: %s", pri, s.now().Format(time.Stamp), os.Getpid(), line)
	s.mu.Lock()
	defer s.mu.Unlock()
	for try := 0; try < 2; try++ {
		if s.conn == nil {
			c, err := net.Dial("unixgram", s.path)
			if err != nil {
				break
			}
			s.conn = c
		}
		if _, err := s.conn.Write([]byte(msg)); err == nil {
			return len(p), nil
		}
		s.conn.Close()
		s.conn = nil
	}
	if _, err := s.fallback.Write(p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// journalStream reports whether fd is the stream systemd connected to the
// journal: JOURNAL_STREAM is "DEV:INODE" of it (systemd.exec(5)).
func journalStream(env string, fd uintptr) bool {
	devS, inoS, ok := strings.Cut(env, ":")
	if !ok {
		return false
	}
	dev, err1 := strconv.ParseUint(devS, 10, 64)
	ino, err2 := strconv.ParseUint(inoS, 10, 64)
	if err1 != nil || err2 != nil {
		return false
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(int(fd), &st); err != nil {
		return false
	}
	return uint64(st.Dev) == dev && st.Ino == ino
}

// logOutput is the writer for --log-target.
func logOutput(target, syslogSocket string, stderr io.Writer) (io.Writer, error) {
	switch target {
	case targetStderr:
		return stderr, nil
	case targetJournald:
		return journalWriter{stderr}, nil
	case targetAuto:
		if f, ok := stderr.(*os.File); ok && journalStream(os.Getenv("JOURNAL_STREAM"), f.Fd()) {
			return journalWriter{stderr}, nil
		}
		return stderr, nil
	case targetSyslog:
		return newSyslogWriter(syslogSocket, stderr)
	}
	return nil, fmt.Errorf("--log-target %q: want auto, stderr, journald or syslog", target)
}
