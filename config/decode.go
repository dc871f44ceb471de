package config

import (
	"encoding"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v4"
)

// The decoder visits at most budget(len(data)) values, so aliases that
// expand a small file into a huge tree ("billion laughs") cannot hang the
// loader. Every value takes at least a byte or two of input, so without
// aliases a file stays far below its budget; aliases may expand it about
// eightfold.
const maxSteps = 1 << 22

func budget(size int) int { return min(8*size+4096, maxSteps) }

// maxErrors bounds the errors reported for one file.
const maxErrors = 200

// decoder walks a yaml.Node tree into the Config structs. It is strict:
// unknown and duplicate keys and values of the wrong type are errors. It
// keeps going after an error so that one pass reports every problem, and
// records the line of every key present (lines) for later validation
// messages and for telling "absent" from "zero".
type decoder struct {
	file  string
	errs  []error
	lines map[string]int
	steps int
	limit int  // step budget
	fatal bool // stop: step budget exhausted
	// bad holds the fields that failed to decode, so validation does not
	// pile a second error ("required", "too short") on the same field.
	bad map[string]bool
}

func newDecoder(file string, size int) *decoder {
	return &decoder{file: file, limit: budget(size), lines: make(map[string]int), bad: make(map[string]bool)}
}

// errorf records a decoding error and marks field as failed.
func (d *decoder) errorf(line int, field, format string, args ...any) {
	d.bad[field] = true
	d.add(line, field, fmt.Sprintf(format, args...))
}

func (d *decoder) add(line int, field, msg string) {
	switch {
	case len(d.errs) < maxErrors:
		d.errs = append(d.errs, &Error{File: d.file, Line: line, Field: field, Msg: msg})
	case len(d.errs) == maxErrors:
		d.errs = append(d.errs, &Error{File: d.file, Line: 1 << 30, Msg: fmt.Sprintf("more than %d errors; fix these first", maxErrors)})
	}
}

// err joins the errors found, in line order.
func (d *decoder) err() error {
	slices.SortStableFunc(d.errs, func(a, b error) int { return a.(*Error).Line - b.(*Error).Line })
	return errors.Join(d.errs...)
}

// failed reports whether field or a field enclosing it failed to decode.
func (d *decoder) failed(field string) bool {
	for {
		if d.bad[field] {
			return true
		}
		if field == "" {
			return false
		}
		i := max(strings.LastIndexAny(field, ".["), 0)
		field = field[:i]
	}
}

// decode decodes n into out, a pointer.
func (d *decoder) decode(n *yaml.Node, path string, out any) {
	d.lines[path] = n.Line
	d.value(n, path, reflect.ValueOf(out).Elem())
}

var (
	addrType      = reflect.TypeFor[netip.Addr]()
	prefixType    = reflect.TypeFor[netip.Prefix]()
	unmarshalText = reflect.TypeFor[encoding.TextUnmarshaler]()
)

func (d *decoder) value(n *yaml.Node, path string, v reflect.Value) {
	if d.fatal {
		return
	}
	d.steps++
	if d.steps > d.limit {
		d.fatal = true
		d.errorf(n.Line, path, "aliases expand too far (more than %d values from a file of this size)", d.limit)
		return
	}
	for depth := 0; n.Kind == yaml.AliasNode; depth++ {
		if n.Alias == nil || depth > 100 {
			d.errorf(n.Line, path, "unresolvable alias")
			return
		}
		n = n.Alias
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return // null: leave the zero value, as if the key were absent
	}
	t := v.Type()
	switch {
	case t == addrType && isV6Path(path):
		if s, ok := d.scalar(n, path, "an IPv6 address, e.g. fd77::1"); ok {
			a, err := netip.ParseAddr(s)
			if err != nil || !a.Is6() || a.Is4In6() || a.Zone() != "" {
				d.errorf(n.Line, path, "%q is not an IPv6 address; write it without a zone, e.g. fd77::1 (quote it)", s)
				return
			}
			v.Set(reflect.ValueOf(a))
		}
		return
	case t == prefixType && isV6Path(path):
		if s, ok := d.scalar(n, path, "an IPv6 prefix, e.g. fd77::/64"); ok {
			p, err := netip.ParsePrefix(s)
			if err != nil || !p.Addr().Is6() || p.Addr().Is4In6() {
				d.errorf(n.Line, path, "%q is not an IPv6 prefix; write address/length, e.g. fd77::/64", s)
				return
			}
			if p.Masked() != p {
				d.errorf(n.Line, path, "%s has bits set after the prefix length; did you mean %s?", p, p.Masked())
				return
			}
			v.Set(reflect.ValueOf(p))
		}
		return
	case t == addrType:
		if s, ok := d.scalar(n, path, "an IPv4 address, e.g. 10.0.0.1"); ok {
			a, err := netip.ParseAddr(s)
			if err != nil || !a.Is4() {
				d.errorf(n.Line, path, "%q is not an IPv4 address; write four numbers 0-255 separated by dots, e.g. 10.0.0.1", s)
				return
			}
			v.Set(reflect.ValueOf(a))
		}
		return
	case t == prefixType:
		if s, ok := d.scalar(n, path, "an IPv4 network, e.g. 10.0.0.0/24"); ok {
			p, err := netip.ParsePrefix(s)
			if err != nil || !p.Addr().Is4() {
				d.errorf(n.Line, path, "%q is not an IPv4 network; write address/length, e.g. 10.0.0.0/24", s)
				return
			}
			if p.Masked() != p {
				d.errorf(n.Line, path, "%s has host bits set; did you mean %s?", p, p.Masked())
				return
			}
			v.Set(reflect.ValueOf(p))
		}
		return
	case reflect.PointerTo(t).Implements(unmarshalText):
		if s, ok := d.scalar(n, path, "a single value"); ok {
			if err := v.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(s)); err != nil {
				d.errorf(n.Line, path, "%v", err)
			}
		}
		return
	}
	switch t.Kind() {
	case reflect.Pointer:
		p := reflect.New(t.Elem())
		d.value(n, path, p.Elem())
		v.Set(p)
	case reflect.String:
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
			d.errorf(n.Line, path, "expected a string, got %s%s", describe(n), quoteHint(n))
			return
		}
		v.SetString(n.Value)
	case reflect.Bool:
		var b bool
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" || n.Decode(&b) != nil {
			d.errorf(n.Line, path, "expected true or false, got %s", describe(n))
			return
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		var i int64
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" || n.Decode(&i) != nil {
			d.errorf(n.Line, path, "expected a whole number, got %s", describe(n))
			return
		}
		if v.OverflowInt(i) {
			d.errorf(n.Line, path, "%d is out of range", i)
			return
		}
		v.SetInt(i)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.errorf(n.Line, path, "expected a list, e.g. [%s], got %s", exampleOf(n), describe(n))
			return
		}
		s := reflect.MakeSlice(t, len(n.Content), len(n.Content))
		for i, item := range n.Content {
			p := path + "[" + strconv.Itoa(i) + "]"
			d.lines[p] = item.Line
			d.value(item, p, s.Index(i))
		}
		v.Set(s)
	case reflect.Struct:
		d.mapping(n, path, v)
	default:
		// Only the types above occur in the schema.
		d.errorf(n.Line, path, "internal error: cannot decode into %s", t)
	}
}

// isV6Path: addresses and prefixes under the dhcpv6 section are IPv6,
// everywhere else IPv4.
func isV6Path(path string) bool {
	return path == "dhcpv6" || strings.HasPrefix(path, "dhcpv6.")
}

// scalar returns n's text when n is a scalar, else records an error.
func (d *decoder) scalar(n *yaml.Node, path, want string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		d.errorf(n.Line, path, "expected %s, got %s", want, describe(n))
		return "", false
	}
	return n.Value, true
}

func (d *decoder) mapping(n *yaml.Node, path string, v reflect.Value) {
	fields := fieldsOf(v.Type())
	if n.Kind != yaml.MappingNode {
		d.errorf(n.Line, path, "expected a mapping with keys %s, got %s", strings.Join(fields.names, ", "), describe(n))
		return
	}
	seen := make(map[string]int, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.errorf(k.Line, path, "keys must be plain names, got %s", describe(k))
			continue
		}
		if k.ShortTag() == "!!merge" {
			d.errorf(k.Line, join(path, k.Value), "merge keys (<<) are not supported; write the keys out")
			continue
		}
		p := join(path, k.Value)
		if first, dup := seen[k.Value]; dup {
			d.errorf(k.Line, p, "duplicate key (first at line %d)", first)
			continue
		}
		seen[k.Value] = k.Line
		idx, ok := fields.index[k.Value]
		if !ok {
			msg := fmt.Sprintf("unknown key %q", k.Value)
			if s := suggest(k.Value, fields.names); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			d.errorf(k.Line, p, "%s; valid keys here: %s", msg, strings.Join(fields.names, ", "))
			continue
		}
		if !(val.Kind == yaml.ScalarNode && val.ShortTag() == "!!null") {
			d.lines[p] = k.Line
		}
		d.value(val, p, v.Field(idx))
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

type structFields struct {
	names []string // in declaration order
	index map[string]int
}

// fieldsOf lists the yaml keys of a struct type.
func fieldsOf(t reflect.Type) structFields {
	f := structFields{index: make(map[string]int)}
	for i := range t.NumField() {
		sf := t.Field(i)
		name, _, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
		if !sf.IsExported() || name == "" || name == "-" {
			continue
		}
		f.names = append(f.names, name)
		f.index[name] = i
	}
	return f
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return "nothing"
		case "!!str":
			return strconv.Quote(n.Value)
		case "!!bool":
			return n.Value
		case "!!int", "!!float":
			return "number " + n.Value
		}
		return n.Value
	}
	return "an empty value"
}

func quoteHint(n *yaml.Node) string {
	if n.Kind == yaml.ScalarNode {
		return fmt.Sprintf(" (quote it: %q)", n.Value)
	}
	return ""
}

func exampleOf(n *yaml.Node) string {
	if n.Kind == yaml.ScalarNode && n.Value != "" {
		return n.Value
	}
	return "..."
}

// suggest returns the name closest to key when it is a plausible typo.
func suggest(key string, names []string) string {
	best, bestD := "", 3
	for _, n := range names {
		if d := editDistance(strings.ToLower(key), n); d < bestD {
			best, bestD = n, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
