package dhcpv6

import (
	"errors"
	"slices"
	"testing"
)

func TestDomainList(t *testing.T) {
	v, err := AppendDomainList(nil, "campus.example.", "lab.campus.example")
	if err != nil {
		t.Fatal(err)
	}
	if want := mustHex(t, `06 "campus" 07 "example" 00 03 "lab" 06 "campus" 07 "example" 00`); string(v) != string(want) {
		t.Fatalf("AppendDomainList = %x", v)
	}
	names, err := ParseDomainList(v)
	if err != nil || !slices.Equal(names, []string{"campus.example", "lab.campus.example"}) {
		t.Errorf("ParseDomainList = %q %v", names, err)
	}
	for _, bad := range []struct {
		hex  string
		kind error
	}{
		{`03 "ab"`, ErrOptionOverrun},
		{`01 "a"`, ErrOptionOverrun},
		{`c0 0c`, ErrBadValue},
	} {
		if _, err := ParseDomainList(mustHex(t, bad.hex)); !errors.Is(err, bad.kind) {
			t.Errorf("ParseDomainList(%s) = %v, want %v", bad.hex, err, bad.kind)
		}
	}
	if _, err := AppendDomainList(nil, "a..b"); err == nil {
		t.Error("AppendDomainList accepted an empty label")
	}
}

func TestFQDN(t *testing.T) {
	for _, tt := range []struct {
		name string
		full bool
	}{{"box1", false}, {"box1.campus.example.", true}} {
		v, err := AppendFQDN(nil, FQDNFlagS, tt.name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := ParseFQDN(v)
		if err != nil || f.Flags != FQDNFlagS {
			t.Fatalf("ParseFQDN = %+v %v", f, err)
		}
		name, full, err := f.DomainName()
		want := tt.name
		if tt.full {
			want = want[:len(want)-1]
		}
		if err != nil || name != want || full != tt.full {
			t.Errorf("DomainName = %q %v %v, want %q %v", name, full, err, want, tt.full)
		}
	}
	if _, _, err := (FQDN{Name: mustHex(t, `01 "a" 00 01 "b"`)}).DomainName(); !errors.Is(err, ErrBadValue) {
		t.Errorf("bytes after the zero label: %v", err)
	}
	if _, err := ParseFQDN(nil); !errors.Is(err, ErrBadLength) {
		t.Errorf("empty option 39: %v", err)
	}
}
