package dhcpv4

import (
	"bytes"
	"errors"
	"testing"
)

func TestAuth(t *testing.T) {
	a := Auth{Protocol: AuthProtoReconfigureKey, Algorithm: AuthAlgHMACMD5, RDM: AuthRDMMonotonic,
		ReplayDetection: 0x0102030405060708, Info: testKey}
	v := AppendAuth(nil, a)
	want := append([]byte{3, 1, 0, 1, 2, 3, 4, 5, 6, 7, 8}, testKey...)
	if !bytes.Equal(v, want) {
		t.Fatalf("AppendAuth % x", v)
	}
	got, err := ParseAuth(v)
	if err != nil || got.Protocol != 3 || got.Algorithm != 1 || got.ReplayDetection != a.ReplayDetection || !bytes.Equal(got.Info, testKey) {
		t.Errorf("ParseAuth %+v %v", got, err)
	}
	if _, err := ParseAuth(v[:10]); !errors.Is(err, ErrBadLength) {
		t.Errorf("short: %v", err)
	}
	// Token protocol (RFC 3118 §4): info is the token itself.
	tok, err := ParseAuth(AppendAuth(nil, Auth{Protocol: AuthProtoConfigToken, Info: []byte("secret")}))
	if err != nil || string(tok.Info) != "secret" {
		t.Errorf("token %+v %v", tok, err)
	}

	var m Message
	if err := m.Decode(mustHex(t, fxForceRenew)); err != nil {
		t.Fatal(err)
	}
	ma, ok := m.Auth()
	if !ok || ma.ReplayDetection != 2 || ma.Info[0] != AuthInfoHMACMD5 || len(ma.Info) != AuthReconfigureInfoLen {
		t.Errorf("Message.Auth %+v %v", ma, ok)
	}
	off, n, ok := m.AuthInfoOffset()
	if !ok || n != 17 || m.Packet()[off] != AuthInfoHMACMD5 || off != offOptions+3+6+2+11 {
		t.Errorf("AuthInfoOffset %d %d %v", off, n, ok)
	}
	if err := m.Decode(mustHex(t, fxDiscover)); err != nil {
		t.Fatal(err)
	}
	if _, ok := m.Auth(); ok {
		t.Errorf("auth in DISCOVER")
	}
	if _, _, ok := m.AuthInfoOffset(); ok {
		t.Errorf("auth offset in DISCOVER")
	}
}

func TestNonceCapable(t *testing.T) {
	v := AppendNonceCapable(nil, 7, AuthAlgHMACMD5)
	if !NonceCapable(v, AuthAlgHMACMD5) || NonceCapable(v, 2) || NonceCapable(nil, 1) {
		t.Errorf("NonceCapable % x", v)
	}
}
