package dhcpv4

import (
	"errors"
	"strings"
	"testing"
)

// withOptions returns a DISCOVER header followed by the given raw options
// bytes (no End, no padding unless included).
func withOptions(t *testing.T, opts string) []byte {
	t.Helper()
	b := mustHex(t, fxDiscover)[:offOptions]
	return append(b, mustHex(t, opts)...)
}

func TestDecodeErrors(t *testing.T) {
	disc := func(t *testing.T) []byte { return mustHex(t, fxDiscover) }
	tests := []struct {
		name   string
		pkt    func(t *testing.T) []byte
		kind   error
		field  string
		offset int
		msg    string // substring of Error()
	}{
		{"empty", func(t *testing.T) []byte { return nil }, ErrTruncated, "packet", 0, "shorter than the 240-byte"},
		{"header only", func(t *testing.T) []byte { return disc(t)[:239] }, ErrTruncated, "packet", 239, ""},
		{"bad op", func(t *testing.T) []byte { b := disc(t); b[0] = 3; return b }, ErrBadOp, "op", 0, "op 3"},
		{"bad hlen", func(t *testing.T) []byte { b := disc(t); b[2] = 17; return b }, ErrBadHLen, "hlen", 2, "hlen 17"},
		{"bad cookie", func(t *testing.T) []byte { b := disc(t); b[239] = 0x64; return b }, ErrBadCookie, "cookie", 236, ""},
		{"option overrun", func(t *testing.T) []byte { return withOptions(t, "35 01 01 33 04 0000") }, ErrOptionOverrun, "option 51", 243,
			"dhcpv4: option 51 at offset 243: length 4 runs past end of packet (len 247)"},
		{"length byte missing", func(t *testing.T) []byte { return withOptions(t, "35 01 01 0c") }, ErrOptionOverrun, "option 12", 243, "length byte missing"},
		{"overrun in file", func(t *testing.T) []byte {
			b := withOptions(t, "35 01 01 34 01 01 ff")
			b[offFile+126] = 12
			b[offFile+127] = 5
			return b
		}, ErrOptionOverrun, "option 12", offFile + 126, "file field"},
		{"overrun in sname", func(t *testing.T) []byte {
			b := withOptions(t, "35 01 01 34 01 02 ff")
			b[offSName] = 12
			b[offSName+1] = 63
			return b
		}, ErrOptionOverrun, "option 12", offSName, "sname field"},
		{"no message type", func(t *testing.T) []byte { return withOptions(t, "0c 01 61 ff") }, ErrNoMessageType, "option 53", 240, ""},
		{"message type len 2", func(t *testing.T) []byte { return withOptions(t, "35 02 01 01 ff") }, ErrBadLength, "option 53", 240, "length 2 is not 1"},
		{"message type twice", func(t *testing.T) []byte { return withOptions(t, "35 01 01 35 01 03 ff") }, ErrBadLength, "option 53", 240, ""},
		{"requested ip len 3", func(t *testing.T) []byte { return withOptions(t, "35 01 03 32 03 0a0000 ff") }, ErrBadLength, "option 50", 243, ""},
		{"server id len 5", func(t *testing.T) []byte { return withOptions(t, "35 01 03 00 36 05 0a00000100 ff") }, ErrBadLength, "option 54", 244, ""},
		{"lease time len 2", func(t *testing.T) []byte { return withOptions(t, "35 01 03 33 02 0000 ff") }, ErrBadLength, "option 51", 243, ""},
		{"router len 6", func(t *testing.T) []byte { return withOptions(t, "35 01 02 03 06 0a0000010a00 ff") }, ErrBadLength, "option 3", 243, "multiple of 4"},
		{"dns empty", func(t *testing.T) []byte { return withOptions(t, "35 01 02 06 00 ff") }, ErrBadLength, "option 6", 243, ""},
		{"max size len 1", func(t *testing.T) []byte { return withOptions(t, "35 01 01 39 01 05 ff") }, ErrBadLength, "option 57", 243, ""},
		{"overload len 2", func(t *testing.T) []byte { return withOptions(t, "35 01 01 34 02 0101 ff") }, ErrBadLength, "option 52", 243, ""},
		{"overload value 4", func(t *testing.T) []byte { return withOptions(t, "35 01 01 34 01 04 ff") }, ErrBadValue, "option 52", 243, "not 1, 2 or 3"},
	}
	var m Message
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := m.Decode(tt.pkt(t))
			if !errors.Is(err, tt.kind) {
				t.Fatalf("err = %v, want kind %v", err, tt.kind)
			}
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("err %T is not *DecodeError", err)
			}
			if de.Field != tt.field || de.Offset != tt.offset {
				t.Errorf("Field/Offset = %q/%d, want %q/%d (%v)", de.Field, de.Offset, tt.field, tt.offset, err)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("Error() = %q, want it to contain %q", err.Error(), tt.msg)
			}
			// Kinds are distinct: the error matches no other sentinel.
			for _, other := range []error{ErrTruncated, ErrBadCookie, ErrOptionOverrun, ErrNoMessageType, ErrBadHLen, ErrBadOp, ErrBadLength, ErrBadValue} {
				if other != tt.kind && errors.Is(err, other) {
					t.Errorf("error also matches %v", other)
				}
			}
		})
	}
}

func TestNoMessageTypeStillDecodesBOOTP(t *testing.T) {
	var m Message
	err := m.Decode(withOptions(t, "0c 01 61 ff"))
	if !errors.Is(err, ErrNoMessageType) {
		t.Fatal(err)
	}
	if string(m.Hostname()) != "a" || m.XID != 0xa1b2c3d4 {
		t.Errorf("BOOTP message not filled: host %q xid %x", m.Hostname(), m.XID)
	}
}

func TestDecodeLenient(t *testing.T) {
	var m Message
	// No End option: the options simply stop at the end of the packet.
	if err := m.Decode(withOptions(t, "35 01 01 0c 01 61")); err != nil {
		t.Errorf("missing End: %v", err)
	}
	// Garbage after End is padding.
	if err := m.Decode(withOptions(t, "35 01 01 ff 33 ee")); err != nil || m.Has(OptLeaseTime) {
		t.Errorf("bytes after End: %v", err)
	}
	// Pads between options.
	if err := m.Decode(withOptions(t, "00 00 35 01 01 00 0c 01 61 ff")); err != nil || string(m.Hostname()) != "a" {
		t.Errorf("pads: %v", err)
	}
	// A zero-length unknown option is kept.
	if err := m.Decode(withOptions(t, "35 01 01 50 00 ff")); err != nil {
		t.Fatal(err)
	}
	if v, ok := m.Option(80); !ok || len(v) != 0 {
		t.Errorf("option 80 = %v %v", v, ok)
	}
}
