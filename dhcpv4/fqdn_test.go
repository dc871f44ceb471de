package dhcpv4

import (
	"bytes"
	"errors"
	"testing"
)

func TestFQDN(t *testing.T) {
	tests := []struct {
		name string
		in   FQDN
		wire []byte
		dom  string
	}{
		{"ascii", FQDN{Flags: FQDNFlagS, Name: []byte("box1.example.net")},
			append([]byte{0x01, 0, 0}, "box1.example.net"...), "box1.example.net"},
		{"wire full", FQDN{Flags: FQDNFlagS | FQDNFlagE, RCode1: 255, RCode2: 255, Name: []byte("box1.example.net.")},
			append([]byte{0x05, 255, 255, 4, 'b', 'o', 'x', '1', 7}, append([]byte("example"), 3, 'n', 'e', 't', 0)...), "box1.example.net"},
		{"wire partial", FQDN{Flags: FQDNFlagE, Name: []byte("box1")},
			[]byte{0x04, 0, 0, 4, 'b', 'o', 'x', '1'}, "box1"},
		{"empty", FQDN{Flags: FQDNFlagE | FQDNFlagN}, []byte{0x0c, 0, 0}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := AppendFQDN(nil, tt.in)
			if err != nil || !bytes.Equal(got, tt.wire) {
				t.Fatalf("AppendFQDN = % x, %v; want % x", got, err, tt.wire)
			}
			f, err := ParseFQDN(got)
			if err != nil {
				t.Fatal(err)
			}
			if f.Flags != tt.in.Flags || f.RCode1 != tt.in.RCode1 || f.RCode2 != tt.in.RCode2 {
				t.Errorf("parsed %+v", f)
			}
			if d, err := f.DomainName(); err != nil || d != tt.dom {
				t.Errorf("DomainName = %q, %v; want %q", d, err, tt.dom)
			}
		})
	}
	if _, err := ParseFQDN([]byte{1, 0}); !errors.Is(err, ErrBadLength) {
		t.Errorf("short: %v", err)
	}
	for _, bad := range [][]byte{
		{0x04, 0, 0, 5, 'a'},    // label overrun
		{0x04, 0, 0, 0xc0, 0},   // compression not allowed in option 81
		{0x04, 0, 0, 0x40, 'a'}, // reserved label type
	} {
		f, _ := ParseFQDN(bad)
		if _, err := f.DomainName(); err == nil {
			t.Errorf("% x decoded", bad)
		}
	}
	if _, err := AppendFQDN(nil, FQDN{Flags: FQDNFlagE, Name: []byte("a..b")}); err == nil {
		t.Errorf("empty label encoded")
	}
}
