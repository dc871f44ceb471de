package config

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// keyPaths lists every YAML key of t as a dotted path; list elements are
// written "[]" (e.g. "dhcpv4.pools[].sections[].index").
func keyPaths(t reflect.Type, prefix string) []string {
	var out []string
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || t == addrType || t == prefixType || reflect.PointerTo(t).Implements(unmarshalText) {
		return nil
	}
	for i := range t.NumField() {
		sf := t.Field(i)
		name, _, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
		if !sf.IsExported() || name == "" || name == "-" {
			continue
		}
		p := join(prefix, name)
		out = append(out, p)
		ft := sf.Type
		if ft.Kind() == reflect.Slice && !reflect.PointerTo(ft).Implements(unmarshalText) {
			out = append(out, keyPaths(ft.Elem(), p+"[]")...)
		} else {
			out = append(out, keyPaths(ft, p)...)
		}
	}
	return out
}

// TestDocCoversEveryKey keeps docs/config.md in step with the Config
// struct: every key must be documented as `path`, and every documented
// path must exist.
func TestDocCoversEveryKey(t *testing.T) {
	doc, err := os.ReadFile("../docs/config.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(doc)
	keys := keyPaths(reflect.TypeFor[Config](), "")
	if len(keys) < 40 {
		t.Fatalf("only %d keys found by reflection: %v", len(keys), keys)
	}
	known := map[string]bool{}
	for _, k := range keys {
		known[k] = true
		if !strings.Contains(text, "`"+k+"`") {
			t.Errorf("docs/config.md does not document `%s`", k)
		}
	}
	re := regexp.MustCompile("`((?:data_dir|log_level|control|store|dhcpv4|dhcpv6)(?:\\.[a-z0-9_]+|\\[\\])*)`")
	for _, m := range re.FindAllStringSubmatch(text, -1) {
		if !known[m[1]] {
			t.Errorf("docs/config.md documents `%s`, which is not a key", m[1])
		}
	}
}

// TestFieldsHaveComments: the field comments are the reference, so every
// field with a yaml key must have one.
func TestFieldsHaveComments(t *testing.T) {
	n := 0
	for _, name := range []string{"config.go", "dhcpv6.go"} {
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		fieldComments(t, f, &n)
	}
	if n < 80 {
		t.Errorf("only %d tagged fields found", n)
	}
}

func fieldComments(t *testing.T, f *ast.File, n *int) {
	ast.Inspect(f, func(node ast.Node) bool {
		ts, ok := node.(*ast.TypeSpec)
		if !ok {
			return true
		}
		st, ok := ts.Type.(*ast.StructType)
		if !ok {
			return false
		}
		for _, fld := range st.Fields.List {
			if fld.Tag == nil || !strings.Contains(fld.Tag.Value, "yaml:") {
				continue
			}
			*n++
			if fld.Doc == nil || strings.TrimSpace(fld.Doc.Text()) == "" {
				t.Errorf("%s.%s has no doc comment", ts.Name.Name, fld.Names[0].Name)
			}
		}
		return false
	})
}
