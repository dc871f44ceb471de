package dhcpv6

import (
	"bytes"
	"errors"
	"testing"
)

func TestDUIDTypes(t *testing.T) {
	mac := []byte{0x02, 0x42, 0xac, 0x11, 0x00, 0x02}
	uuid := [16]byte{0xf8, 0x1d, 0x4f, 0xae, 0x7d, 0xec, 0x11, 0xd0, 0xa7, 0x65, 0x00, 0xa0, 0xc9, 0x1e, 0x6b, 0xf6}

	llt := DUID(AppendDUIDLLT(nil, HTypeEthernet, 0x2c4e6b3a, mac))
	if !bytes.Equal(llt, testClientDUID) {
		t.Errorf("DUID-LLT = %x, want %x", llt, testClientDUID)
	}
	if ht, a, ok := llt.LinkLayer(); !ok || ht != HTypeEthernet || !bytes.Equal(a, mac) {
		t.Errorf("LLT LinkLayer = %d %x %v", ht, a, ok)
	}
	if tm, ok := llt.Time(); !ok || tm != 0x2c4e6b3a {
		t.Errorf("LLT Time = %x %v", tm, ok)
	}

	ll := DUID(AppendDUIDLL(nil, HTypeEthernet, []byte{2, 0, 0, 0, 0, 0xfe}))
	if !bytes.Equal(ll, testServerDUID) || ll.Type() != DUIDLL {
		t.Errorf("DUID-LL = %x", ll)
	}
	if _, ok := ll.Time(); ok {
		t.Error("DUID-LL has no time")
	}

	en := DUID(AppendDUIDEN(nil, 3561, []byte("serial-0042")))
	if num, id, ok := en.Enterprise(); !ok || num != 3561 || string(id) != "serial-0042" {
		t.Errorf("DUID-EN = %d %q %v", num, id, ok)
	}
	if _, _, ok := en.LinkLayer(); ok {
		t.Error("DUID-EN has no link-layer address")
	}

	u := DUID(AppendDUIDUUID(nil, uuid))
	if got, ok := u.UUID(); !ok || got != uuid || len(u) != 18 {
		t.Errorf("DUID-UUID = %x %v", got, ok)
	}

	for _, d := range []DUID{llt, ll, en, u} {
		if err := d.Validate(); err != nil {
			t.Errorf("%v %s: %v", d.Type(), d, err)
		}
		back, err := ParseDUID(d.String())
		if err != nil || !bytes.Equal(back, d) {
			t.Errorf("ParseDUID(%q) = %x %v", d.String(), back, err)
		}
	}
	if s := llt.String(); s != "00:01:00:01:2c:4e:6b:3a:02:42:ac:11:00:02" {
		t.Errorf("String = %q", s)
	}
	if d, err := ParseDUID("000300010200000000fe"); err != nil || !bytes.Equal(d, testServerDUID) {
		t.Errorf("ParseDUID without colons = %x %v", d, err)
	}
	if DUIDType(9).String() != "DUID-9" || DUIDLLT.String() != "DUID-LLT" {
		t.Error("DUIDType.String")
	}
}

func TestDUIDInvalid(t *testing.T) {
	for _, tt := range []struct {
		name string
		d    DUID
		kind error
	}{
		{"empty", nil, ErrBadLength},
		{"type only", DUID{0, 3}, ErrBadLength},
		{"LLT without address", DUID{0, 1, 0, 1, 0, 0, 0, 0}, ErrBadLength},
		{"EN without id", DUID{0, 2, 0, 0, 0x0d, 0xe9}, ErrBadLength},
		{"LL without address", DUID{0, 3, 0, 1}, ErrBadLength},
		{"UUID of 15 bytes", append(DUID{0, 4}, make([]byte, 15)...), ErrBadLength},
		{"131 bytes", append(DUID{0, 9}, make([]byte, 129)...), ErrBadLength},
	} {
		if err := tt.d.Validate(); !errors.Is(err, tt.kind) {
			t.Errorf("%s: Validate = %v, want %v", tt.name, err, tt.kind)
		}
	}
	if _, err := ParseDUID("00:03:zz"); !errors.Is(err, ErrBadValue) {
		t.Errorf("ParseDUID of non-hex = %v", err)
	}
	if _, err := ParseDUID("00:04:01"); !errors.Is(err, ErrBadLength) {
		t.Errorf("ParseDUID of short UUID = %v", err)
	}
	if d := (DUID{1}); d.Type() != 0 {
		t.Error("Type of a 1-byte DUID")
	}
}
