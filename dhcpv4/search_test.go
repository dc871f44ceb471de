package dhcpv4

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestDomainSearch(t *testing.T) {
	// RFC 3397 §3 example: "eng.apple.com." and "marketing.apple.com." with
	// the second name compressed to a pointer at offset 4 ("apple.com").
	rfc := []byte{
		3, 'e', 'n', 'g', 5, 'a', 'p', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0,
		9, 'm', 'a', 'r', 'k', 'e', 't', 'i', 'n', 'g', 0xc0, 0x04,
	}
	got, err := ParseDomainSearch(rfc)
	if err != nil || !slices.Equal(got, []string{"eng.apple.com", "marketing.apple.com"}) {
		t.Fatalf("RFC 3397 example: %q %v", got, err)
	}
	names := []string{"eng.apple.com.", "marketing.apple.com", "example.net"}
	enc, err := AppendDomainSearch(nil, names)
	if err != nil {
		t.Fatal(err)
	}
	got, err = ParseDomainSearch(enc)
	if err != nil || !slices.Equal(got, []string{"eng.apple.com", "marketing.apple.com", "example.net"}) {
		t.Errorf("round trip %q %v", got, err)
	}
	if !bytes.Equal(enc[:15], rfc[:15]) {
		t.Errorf("encoding % x", enc[:15])
	}
	if _, err := AppendDomainSearch(nil, []string{strings.Repeat("a", 64)}); err == nil {
		t.Errorf("64-byte label encoded")
	}

	bad := []struct {
		name string
		v    []byte
		kind error
	}{
		{"self pointer", []byte{0xc0, 0x00}, ErrBadValue},
		{"forward pointer", []byte{0xc0, 0x02, 0}, ErrBadValue},
		{"pointer loop", []byte{1, 'a', 0xc0, 0x00}, ErrBadValue},
		{"truncated pointer", []byte{0xc0}, ErrOptionOverrun},
		{"label overrun", []byte{5, 'a'}, ErrOptionOverrun},
		{"no terminator", []byte{1, 'a'}, ErrOptionOverrun},
		{"reserved", []byte{0x80, 0}, ErrBadValue},
		{"too long", slices.Concat(bytes.Repeat([]byte{63}, 1), bytes.Repeat([]byte{'a'}, 63),
			[]byte{63}, bytes.Repeat([]byte{'a'}, 63), []byte{63}, bytes.Repeat([]byte{'a'}, 63),
			[]byte{63}, bytes.Repeat([]byte{'a'}, 63), []byte{0}), ErrBadValue},
	}
	for _, tt := range bad {
		if _, err := ParseDomainSearch(tt.v); !errors.Is(err, tt.kind) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.kind)
		}
	}
	// Pointers chaining backwards are fine.
	chain := []byte{1, 'a', 0, 1, 'b', 0xc0, 0, 1, 'c', 0xc0, 3}
	if got, err := ParseDomainSearch(chain); err != nil || !slices.Equal(got, []string{"a", "b.a", "c.b.a"}) {
		t.Errorf("chain %q %v", got, err)
	}
}
