package dhcpv4

import (
	"bytes"
	"errors"
	"testing"
)

func TestRelayInfo(t *testing.T) {
	var v []byte
	var err error
	v, _ = AppendRelaySub(v, RelayCircuitID, []byte("ge-0/0/1.100"))
	v, _ = AppendRelaySub(v, RelayRemoteID, []byte{0xaa, 0xbb})
	v, _ = AppendRelaySub(v, RelayLinkSelection, []byte{192, 0, 2, 0})
	v, _ = AppendRelaySub(v, RelayServerIDOverride, []byte{192, 0, 2, 1})
	v, err = AppendRelaySub(v, 151, []byte{0, 'v', 'r', 'f'}) // unknown: raw
	if err != nil {
		t.Fatal(err)
	}
	r := RelayInfo(v)
	if err := r.Validate(); err != nil {
		t.Fatal(err)
	}
	if string(r.CircuitID()) != "ge-0/0/1.100" || !bytes.Equal(r.RemoteID(), []byte{0xaa, 0xbb}) {
		t.Errorf("ids %q %x", r.CircuitID(), r.RemoteID())
	}
	if a, ok := r.LinkSelection(); !ok || a != a4("192.0.2.0") {
		t.Errorf("link selection %v", a)
	}
	if a, ok := r.ServerIDOverride(); !ok || a != a4("192.0.2.1") {
		t.Errorf("server id override %v", a)
	}
	var codes []uint8
	it := r.Iter()
	for it.Next() {
		codes = append(codes, it.Code())
	}
	if !bytes.Equal(codes, []byte{1, 2, 5, 11, 151}) || it.Err() != nil {
		t.Errorf("codes %v err %v", codes, it.Err())
	}
	if _, ok := r.Sub(9); ok {
		t.Errorf("absent sub-option found")
	}
	if _, err := AppendRelaySub(nil, 1, make([]byte, 256)); err == nil {
		t.Errorf("256-byte sub-option accepted")
	}
	if _, ok := RelayInfo([]byte{5, 3, 1, 2, 3}).LinkSelection(); ok {
		t.Errorf("3-byte link selection accepted")
	}

	for _, bad := range [][]byte{{1}, {1, 5, 'a'}, {1, 0, 2, 1}} {
		err := RelayInfo(bad).Validate()
		var de *DecodeError
		if !errors.Is(err, ErrOptionOverrun) || !errors.As(err, &de) || de.Field != "option 82" {
			t.Errorf("% x: %v", bad, err)
		}
	}
	if allocs := testing.AllocsPerRun(100, func() {
		it := r.Iter()
		for it.Next() {
		}
		_, _ = r.ServerIDOverride()
	}); allocs != 0 {
		t.Errorf("iteration allocates %v", allocs)
	}
}
