package dhcpv6

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// withOptions returns a Solicit header (4 bytes) followed by raw options.
func withOptions(t *testing.T, opts string) []byte {
	t.Helper()
	return append(mustHex(t, "01 a1b2c3"), mustHex(t, opts)...)
}

// relayed wraps an inner message in a Relay-forward with the given extra
// options before the Relay Message option.
func relayed(inner []byte, extra string) []byte {
	b, _ := parseHex("0c 00 fd77" + strings.Repeat(" 00", 13) + " 01 fe80" + strings.Repeat(" 00", 13) + " 02 " + extra)
	b = append(b, 0, byte(OptRelayMsg), byte(len(inner)>>8), byte(len(inner)))
	return append(b, inner...)
}

func TestDecodeErrors(t *testing.T) {
	sol := func(t *testing.T) []byte { return mustHex(t, fxSolicit) }
	deep := func(t *testing.T) []byte {
		b := mustHex(t, "01 000001")
		for range MaxRelayDepth + 1 {
			b = relayed(b, "")
		}
		return b
	}
	tests := []struct {
		name   string
		pkt    func(t *testing.T) []byte
		kind   error
		field  string
		offset int
		msg    string // substring of Error()
	}{
		{"empty", func(t *testing.T) []byte { return nil }, ErrTruncated, "packet", 0, "empty message"},
		{"short header", func(t *testing.T) []byte { return sol(t)[:3] }, ErrTruncated, "packet", 0, "shorter than the 4-byte header"},
		{"msg-type 0", func(t *testing.T) []byte { b := sol(t); b[0] = 0; return b }, ErrBadType, "msg-type", 0, "reserved"},
		{"option overrun", func(t *testing.T) []byte { return withOptions(t, "0001 0010 0001 0001") }, ErrOptionOverrun, "option 1", 4,
			"dhcpv6: option 1 at offset 4: length 16 runs past end of options (ends at offset 12)"},
		{"option header cut", func(t *testing.T) []byte { return withOptions(t, "0008 0002 0000 0001 00") }, ErrTruncated, "option header", 10, "3 bytes left"},
		{"elapsed len 3", func(t *testing.T) []byte { return withOptions(t, "0008 0003 000000") }, ErrBadLength, "option 8", 4, "length 3 is not 2"},
		{"client id len 2", func(t *testing.T) []byte { return withOptions(t, "0001 0002 0003") }, ErrBadLength, "option 1", 4, "shorter than 3"},
		{"client id 131", func(t *testing.T) []byte { return withOptions(t, "0001 0083 0002 00*129") }, ErrBadValue, "option 1", 8, "exceeds 130"},
		{"IA_NA len 11", func(t *testing.T) []byte { return withOptions(t, "0003 000b 00*11") }, ErrBadLength, "option 3", 4, "shorter than 12"},
		{"IAADDR len 20 in IA_NA", func(t *testing.T) []byte { return withOptions(t, "0003 0024 00*12 0005 0014 00*20") }, ErrBadLength, "option 3/5", 20, ""},
		{"status len 1 in IAADDR in IA_NA", func(t *testing.T) []byte {
			return withOptions(t, "0003 002d 00*12 0005 001d 00*24 000d 0001 00")
		}, ErrBadLength, "option 3/5/13", 48, ""},
		{"overrun inside IA_NA", func(t *testing.T) []byte { return withOptions(t, "0003 0014 00*12 0005 0018 00*4") }, ErrOptionOverrun, "option 3/5", 20,
			"runs past end of option 3 (ends at offset 28)"},
		{"IAPREFIX length 129", func(t *testing.T) []byte {
			return withOptions(t, "0019 0029 00*12 001a 0019 00000000 00000000 81 00*16")
		}, ErrBadValue, "option 25/26", 20 + 4 + 8, "prefix-length 129"},
		{"reconfigure msg 7", func(t *testing.T) []byte { return withOptions(t, "0013 0001 07") }, ErrBadValue, "option 19", 8, "not 5, 6 or 11"},
		{"rapid commit len 1", func(t *testing.T) []byte { return withOptions(t, "000e 0001 00") }, ErrBadLength, "option 14", 4, ""},
		{"reconf accept len 1", func(t *testing.T) []byte { return withOptions(t, "0014 0001 00") }, ErrBadLength, "option 20", 4, ""},
		{"DNS len 17", func(t *testing.T) []byte { return withOptions(t, "0017 0011 00*17") }, ErrBadLength, "option 23", 4, "multiple of 16"},
		{"ORO odd", func(t *testing.T) []byte { return withOptions(t, "0006 0003 001700") }, ErrBadValue, "option 6", 8, "multiple of 2"},
		{"auth short", func(t *testing.T) []byte { return withOptions(t, "000b 000a 00*10") }, ErrBadLength, "option 11", 4, "shorter than 11"},
		{"SOL_MAX_RT len 2", func(t *testing.T) []byte { return withOptions(t, "0052 0002 0000") }, ErrBadLength, "option 82", 4, ""},
		{"domain list compressed", func(t *testing.T) []byte { return withOptions(t, "0018 0004 01 61 c0 00") }, ErrBadValue, "option 24", 10, "compression"},
		{"domain list unterminated", func(t *testing.T) []byte { return withOptions(t, "0018 0003 02 61 62") }, ErrBadValue, "option 24", 8, "no zero label"},
		{"options nested too deep", func(t *testing.T) []byte {
			// IA_NA > IAADDR > IAADDR > IAADDR > IAADDR: the fifth container.
			return withOptions(t, "0003 007c 00*12 0005 006c 00*24 0005 0050 00*24 0005 0034 00*24 0005 0018 00*24")
		}, ErrTooDeep, "option 3/5/5/5/5", 4 + 16 + 28 + 28 + 28, "nested more than 4"},
		{"relay header short", func(t *testing.T) []byte { return mustHex(t, "0c 00 00*20") }, ErrTruncated, "relay header", 0, "34-byte"},
		{"relay without option 9", func(t *testing.T) []byte { return relayed(nil, "")[:34] }, ErrNoRelayMessage, "option 9", 0, "no Relay Message"},
		{"relay with two option 9", func(t *testing.T) []byte {
			b := relayed(mustHex(t, "01 000001"), "")
			return append(b, 0, 9, 0, 4, 1, 0, 0, 2)
		}, ErrNoRelayMessage, "option 9", 42, "more than one"},
		{"bad option in relayed message", func(t *testing.T) []byte { return relayed(withOptions(t, "0008 0001 00"), "") }, ErrBadLength, "option 8", 38 + 4, ""},
		{"bad option in relay layer", func(t *testing.T) []byte { return relayed(sol(t), "0025 0002 0000") }, ErrBadLength, "option 37", 34, "shorter than 5"},
		{"ten relay layers", deep, ErrTooDeep, "relay header", MaxRelayDepth * 38, "more than 9 relay layers"},
	}
	kinds := []error{ErrTruncated, ErrOptionOverrun, ErrBadLength, ErrBadValue, ErrBadType, ErrNoRelayMessage, ErrTooDeep}
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
			for _, other := range kinds {
				if other != tt.kind && errors.Is(err, other) {
					t.Errorf("error also matches %v", other)
				}
			}
		})
	}
}

func TestNineRelayLayersDecode(t *testing.T) {
	b := mustHex(t, "01 000001 0008 0002 0000")
	for range MaxRelayDepth {
		b = relayed(b, "0012 0002 \"if\"")
	}
	var m Message
	if err := m.Decode(b); err != nil {
		t.Fatal(err)
	}
	if len(m.Relays()) != MaxRelayDepth || m.Type != Solicit || m.Offset() != MaxRelayDepth*44 {
		t.Fatalf("relays %d type %v offset %d", len(m.Relays()), m.Type, m.Offset())
	}
	out, err := m.Encode(make([]byte, 0, 1024))
	if err != nil || !bytes.Equal(out, b) {
		t.Fatalf("re-encode: %v\n got %x\nwant %x", err, out, b)
	}
}

func TestUnknownOptionsPreserved(t *testing.T) {
	// Option 0xfffe (unassigned) and 17 vendor opts pass through raw.
	pkt := withOptions(t, "fffe 0003 010203 0011 0008 00000de9 0001 0000 0001 000e 0001 0001 2c4e6b3a 0242ac110002")
	var m Message
	if err := m.Decode(pkt); err != nil {
		t.Fatal(err)
	}
	if v, ok := m.Option(0xfffe); !ok || !bytes.Equal(v, []byte{1, 2, 3}) {
		t.Errorf("option 0xfffe = %x %v", v, ok)
	}
	if off, ok := m.OptionOffset(0xfffe); !ok || off != 8 {
		t.Errorf("OptionOffset(0xfffe) = %d %v", off, ok)
	}
	if m.ClientID().Type() != DUIDLLT {
		t.Errorf("client id after unknown options: %v", m.ClientID())
	}
	out, err := m.Encode(nil)
	if err != ErrShortBuffer || out != nil {
		t.Errorf("Encode into nil = %x, %v; want ErrShortBuffer", out, err)
	}
	out, err = m.Encode(make([]byte, 0, 200))
	if err != nil || !bytes.Equal(out, pkt) {
		t.Errorf("re-encode %x %v", out, err)
	}
}
