package config

import (
	"errors"
	"strconv"
	"strings"
)

// Error is one problem in a configuration file. Load and Parse return
// errors.Join of *Error values; use errors.As to find the first, or unwrap
// the joined error (interface{ Unwrap() []error }) to list them all.
type Error struct {
	File  string // file name as given to Load or Parse
	Line  int    // 1-based line; 0 when not known (e.g. an empty file)
	Field string // path of the key, e.g. "dhcpv4.pools[0].gateway"; "" for syntax errors
	Msg   string // what is wrong and what would be valid
}

// Error formats e as "file:line: field: message".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 && e.Line < 1<<30 {
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(e.Line))
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors lists the *Error values in err (as returned by Load or Parse).
func Errors(err error) []*Error {
	var out []*Error
	var walk func(error)
	walk = func(err error) {
		if err == nil {
			return
		}
		if e, ok := err.(*Error); ok {
			out = append(out, e)
			return
		}
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
			return
		}
		var e *Error
		if errors.As(err, &e) {
			out = append(out, e)
		}
	}
	walk(err)
	return out
}

// lineOf finds the line of path, or of its nearest enclosing field present.
func lineOf(lines map[string]int, path string) int {
	for path != "" {
		if l, ok := lines[path]; ok {
			return l
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return lines[""]
}
