package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
)

// startMarker begins the line Leased.Start writes into the log before each
// start; it is the only line in leased.log that is not leased's own.
const startMarker = "===== e2e:"

// checkLogLines reads a leased log written with --log-format json and
// returns one error per line that is not a single JSON object with unique
// keys at every level (encoding/json keeps the last of duplicated keys
// silently, so a line like {"msg":"reconfigure sent",…,"msg":"RENEW"}
// decodes without error and loses the event name).
func checkLogLines(r io.Reader) []error {
	var errs []error
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Bytes()
		if len(bytes.TrimSpace(line)) == 0 || bytes.HasPrefix(line, []byte(startMarker)) {
			continue
		}
		if err := strictJSONObject(line); err != nil {
			errs = append(errs, fmt.Errorf("line %d: %v: %s", n, err, line))
		}
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, err)
	}
	return errs
}

// strictJSONObject reports whether b is exactly one JSON object whose
// objects (nested ones included) have no duplicate keys.
func strictJSONObject(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("not JSON: %v", err)
	}
	if tok != json.Delim('{') {
		return errors.New("not a JSON object")
	}
	if err := strictObject(dec, ""); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data after the object")
	}
	return nil
}

// strictObject consumes the rest of an object whose '{' was read.
func strictObject(dec *json.Decoder, path string) error {
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fmt.Errorf("invalid JSON: %v", err)
		}
		key, ok := tok.(string)
		if !ok {
			return fmt.Errorf("invalid JSON: key %v", tok)
		}
		if seen[key] {
			return fmt.Errorf("duplicate key %q", path+key)
		}
		seen[key] = true
		if err := strictValue(dec, path+key+"."); err != nil {
			return err
		}
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return fmt.Errorf("invalid JSON: unterminated object (%v)", err)
	}
	return nil
}

func strictValue(dec *json.Decoder, path string) error {
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("invalid JSON: %v", err)
	}
	switch tok {
	case json.Delim('{'):
		return strictObject(dec, path)
	case json.Delim('['):
		for dec.More() {
			if err := strictValue(dec, path); err != nil {
				return err
			}
		}
		if tok, err := dec.Token(); err != nil || tok != json.Delim(']') {
			return fmt.Errorf("invalid JSON: unterminated array (%v)", err)
		}
	}
	return nil
}

// checkLeasedLog fails t for every line of the leased log at path that is
// not strict JSON (Leased.Start registers it to run after leased stopped).
func checkLeasedLog(t testing.TB, path string) {
	f, err := os.Open(path)
	if err != nil {
		t.Errorf("leased log: %v", err)
		return
	}
	defer f.Close()
	errs := checkLogLines(f)
	for i, err := range errs {
		if i == 10 {
			t.Errorf("leased log %s: %d more invalid lines", path, len(errs)-10)
			break
		}
		t.Errorf("leased log %s: %v", path, err)
	}
}

// TestCheckLogLines tests the checker itself (no namespaces needed).
func TestCheckLogLines(t *testing.T) {
	good := `{"time":"2026-12-04T13:00:00Z","level":"INFO","msg":"serving","pools":1}
===== e2e: start #2 at 2026-12-04T13:00:01Z
{"time":"t","level":"DEBUG","msg":"x","a":{"b":1,"c":[{"d":1},{"d":2}]},"e":[1,"x",null]}
`
	if errs := checkLogLines(strings.NewReader(good)); len(errs) != 0 {
		t.Errorf("valid log rejected: %v", errs)
	}
	for _, bad := range []string{
		`{"msg":"reconfigure sent","addr":"2001:db8::1","msg":"RENEW"}`,
		`{"msg":"x","a":{"b":1,"b":2}}`,
		`{"msg":"x","a":[{"b":1,"b":2}]}`,
		`{"msg":"x"`,
		`{"msg":"x"} {"msg":"y"}`,
		`["msg"]`,
		`panic: runtime error`,
		`{"msg":"x",}`,
	} {
		if errs := checkLogLines(strings.NewReader(bad + "\n")); len(errs) != 1 {
			t.Errorf("%s: %d errors, want 1", bad, len(errs))
		}
	}
}
