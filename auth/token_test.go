package auth

import (
	"bytes"
	"errors"
	"testing"

	"github.com/leased/leased/dhcpv4"
)

func buildWithAuth(t testing.TB, mt dhcpv4.MessageType, a *dhcpv4.Auth) []byte {
	t.Helper()
	h := frHeader()
	var w dhcpv4.Writer
	w.Reset(make([]byte, 0, 600))
	w.Header(&h)
	w.OptionByte(dhcpv4.OptMessageType, byte(mt))
	if a != nil {
		w.OptionAuth(*a)
	}
	pkt, err := w.End()
	if err != nil {
		t.Fatal(err)
	}
	return pkt
}

func TestTokenOptionBytes(t *testing.T) {
	a := TokenOption([]byte("s3cret"), 0x11)
	want := mustHex(t, `
00 00 00             # protocol 0 (RFC 3118 §4), algorithm 0, RDM 0
0000000000000011     # replay detection
733363726574         # "s3cret"`)
	if got := dhcpv4.AppendAuth(nil, a); !bytes.Equal(got, want) {
		t.Errorf("TokenOption value %x, want %x", got, want)
	}
}

func TestVerifyToken(t *testing.T) {
	token := []byte("s3cret")
	opt := func(f func(*dhcpv4.Auth)) *dhcpv4.Auth {
		a := TokenOption(token, 100)
		if f != nil {
			f(&a)
		}
		return &a
	}
	for _, tc := range []struct {
		name  string
		a     *dhcpv4.Auth
		token []byte
		last  uint64
		want  error
	}{
		{"valid", opt(nil), token, 99, nil},
		{"valid, nothing seen", opt(nil), token, 0, nil},
		{"absent", nil, token, 0, ErrNoAuth},
		{"reconfigure key protocol", opt(func(a *dhcpv4.Auth) { a.Protocol = 3 }), token, 0, ErrProtocol},
		{"algorithm 1", opt(func(a *dhcpv4.Auth) { a.Algorithm = 1 }), token, 0, ErrAlgorithm},
		{"RDM 2", opt(func(a *dhcpv4.Auth) { a.RDM = 2 }), token, 0, ErrRDM},
		{"replay equal", opt(nil), token, 100, ErrReplay},
		{"replay lower", opt(nil), token, 200, ErrReplay},
		{"other token", opt(func(a *dhcpv4.Auth) { a.Info = []byte("s3creT") }), token, 0, ErrToken},
		{"prefix", opt(func(a *dhcpv4.Auth) { a.Info = []byte("s3cre") }), token, 0, ErrToken},
		{"longer", opt(func(a *dhcpv4.Auth) { a.Info = []byte("s3cret!") }), token, 0, ErrToken},
		{"empty configured token", opt(func(a *dhcpv4.Auth) { a.Info = nil }), nil, 0, ErrToken},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := VerifyToken(decode(t, buildWithAuth(t, dhcpv4.Ack, tc.a)), tc.token, tc.last)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if tc.want == nil && got != 100 {
				t.Errorf("replay %d, want 100", got)
			}
		})
	}
	// A short option 90 (shorter than its fixed part) is malformed.
	h := frHeader()
	var w dhcpv4.Writer
	w.Reset(make([]byte, 0, 600))
	w.Header(&h)
	w.OptionByte(dhcpv4.OptMessageType, byte(dhcpv4.Ack))
	w.Option(dhcpv4.OptAuthentication, []byte{0, 0, 0, 1})
	pkt, err := w.End()
	if err != nil {
		t.Fatal(err)
	}
	var m dhcpv4.Message
	if err := m.Decode(pkt); err != nil {
		t.Fatalf("decoder rejected the message with a short option 90 (this test needs it decoded): %v", err)
	}
	if _, err := VerifyToken(&m, token, 0); !errors.Is(err, ErrMalformed) {
		t.Errorf("short option: err = %v, want ErrMalformed", err)
	}
	if _, err := VerifyHMACMD5(&m, testKey, 0, nil); !errors.Is(err, ErrMalformed) {
		t.Errorf("short option, HMAC: err = %v, want ErrMalformed", err)
	}
}
