package main

import (
	"context"
	"encoding"
	"encoding/json"
	"fmt"
	"io/fs"
	"log/slog"
	"sync"
	"time"
)

// logVocabulary is the handlers' ReplaceAttr: one vocabulary in text and
// JSON logs. A transaction id ("xid") is hex (0x0000abcd), a duration a
// string (2s, not 2000000000), a file mode octal (0600), and a value with
// a String method that JSON would write as a number or an object (a
// message type: DISCOVER, SOLICIT) its name.
func logVocabulary(_ []string, a slog.Attr) slog.Attr {
	v := a.Value
	switch v.Kind() {
	case slog.KindDuration:
		return slog.String(a.Key, v.Duration().String())
	case slog.KindUint64:
		if a.Key == "xid" {
			return slog.String(a.Key, fmt.Sprintf("0x%08x", v.Uint64()))
		}
	case slog.KindInt64:
		if a.Key == "xid" {
			return slog.String(a.Key, fmt.Sprintf("0x%08x", uint64(v.Int64())))
		}
	case slog.KindAny:
		switch x := v.Any().(type) {
		case fs.FileMode:
			return slog.String(a.Key, fmt.Sprintf("%04o", uint32(x.Perm())))
		case error, json.Marshaler, encoding.TextMarshaler:
			// errors are written with Error(); marshalers as they choose.
		case fmt.Stringer:
			return slog.String(a.Key, x.String())
		}
	}
	return a
}

// rateLimited wraps a handler so that a WARN or ERROR repeated with the
// same message (a failing disk: one ERROR per request) and the same "pool"
// attribute, if it has one, is written at most
// burst times per window; the first record after a window with suppressed
// ones carries "suppressed": how many were left out. DEBUG and INFO pass
// unchanged.
type rateLimited struct {
	next   slog.Handler
	state  *rlState
	burst  int
	window time.Duration
}

type rlState struct {
	mu   sync.Mutex
	now  func() time.Time
	msgs map[string]*rlEntry
}

type rlEntry struct {
	start      time.Time // of the current window
	n          int       // records written in it
	suppressed int       // records left out since the last one written
}

// maxRateKeys bounds the state: messages are constants, but a bound
// costs nothing.
const maxRateKeys = 1024

func newRateLimited(next slog.Handler, burst int, window time.Duration, now func() time.Time) *rateLimited {
	return &rateLimited{next: next, burst: burst, window: window,
		state: &rlState{now: now, msgs: map[string]*rlEntry{}}}
}

func (h *rateLimited) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

func (h *rateLimited) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < slog.LevelWarn {
		return h.next.Handle(ctx, r)
	}
	key := r.Level.String() + "\x00" + r.Message
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "pool" { // "pool exhausted" is limited per pool
			key += "\x00" + a.Value.String()
			return false
		}
		return true
	})
	s := h.state
	s.mu.Lock()
	now := s.now()
	e := s.msgs[key]
	if e == nil {
		if len(s.msgs) >= maxRateKeys {
			clear(s.msgs)
		}
		e = &rlEntry{start: now}
		s.msgs[key] = e
	}
	if now.Sub(e.start) >= h.window {
		e.start, e.n = now, 0
	}
	if e.n >= h.burst {
		e.suppressed++
		s.mu.Unlock()
		return nil
	}
	e.n++
	suppressed := e.suppressed
	e.suppressed = 0
	s.mu.Unlock()
	if suppressed > 0 {
		r = r.Clone()
		r.AddAttrs(slog.Int("suppressed", suppressed), slog.String("suppressed_window", h.window.String()))
	}
	return h.next.Handle(ctx, r)
}

func (h *rateLimited) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.next = h.next.WithAttrs(as)
	return &c
}

func (h *rateLimited) WithGroup(name string) slog.Handler {
	c := *h
	c.next = h.next.WithGroup(name)
	return &c
}
