package dhcpv4

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"
)

func TestClasslessRoutes(t *testing.T) {
	routes := []Route{
		{netip.MustParsePrefix("0.0.0.0/0"), a4("10.0.0.1")},
		{netip.MustParsePrefix("10.0.0.0/8"), a4("10.0.0.2")},
		{netip.MustParsePrefix("192.168.1.0/24"), a4("10.0.0.3")},
		{netip.MustParsePrefix("172.16.32.0/20"), a4("10.0.0.4")},
		{netip.MustParsePrefix("198.51.100.7/32"), a4("10.0.0.5")},
	}
	// RFC 3442 §3 encoding table: width, significant octets, router.
	want := []byte{
		0, 10, 0, 0, 1,
		8, 10, 10, 0, 0, 2,
		24, 192, 168, 1, 10, 0, 0, 3,
		20, 172, 16, 32, 10, 0, 0, 4,
		32, 198, 51, 100, 7, 10, 0, 0, 5,
	}
	enc, err := AppendClasslessRoutes(nil, routes)
	if err != nil || !bytes.Equal(enc, want) {
		t.Fatalf("encode % x %v", enc, err)
	}
	got, err := ParseClasslessRoutes(enc)
	if err != nil || len(got) != len(routes) {
		t.Fatalf("parse %v %v", got, err)
	}
	for i := range routes {
		if got[i] != routes[i] {
			t.Errorf("route %d = %v, want %v", i, got[i], routes[i])
		}
	}
	// Host bits in the significant octets are masked.
	got, err = ParseClasslessRoutes([]byte{20, 172, 16, 47, 10, 0, 0, 4})
	if err != nil || got[0].Dest != netip.MustParsePrefix("172.16.32.0/20") {
		t.Errorf("masking: %v %v", got, err)
	}
	for _, bad := range []struct {
		v    []byte
		kind error
	}{
		{[]byte{33, 1, 2, 3, 4, 5, 1, 2, 3, 4}, ErrBadValue},
		{[]byte{24, 192, 168, 1, 10, 0, 0}, ErrOptionOverrun},
		{[]byte{8}, ErrOptionOverrun},
	} {
		if _, err := ParseClasslessRoutes(bad.v); !errors.Is(err, bad.kind) {
			t.Errorf("% x: %v", bad.v, err)
		}
	}
	if _, err := AppendClasslessRoutes(nil, []Route{{netip.MustParsePrefix("::/0"), a4("10.0.0.1")}}); err == nil {
		t.Errorf("IPv6 route encoded")
	}
}
