package wal

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// PrevXID (the client's previous xid, kept so FORCERENEW can try it after a
// forged renewal) is persisted behind flag bit 7; records without it are
// byte-identical to before, so logs written by older binaries read as
// before and older binaries refuse, not misread, a record that has it.
func TestPrevXIDRecord(t *testing.T) {
	l := sample(4)
	l.PrevXID = 0xdeadbeef
	p, err := appendLease(nil, &l)
	if err != nil {
		t.Fatal(err)
	}
	if f := flagsByte(t, p); f&flagPrevXID == 0 {
		t.Fatalf("flags %#x without the previous-xid bit", f)
	}
	got, err := decodeLease(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(l, got, cmpLeases); d != "" {
		t.Fatalf("round trip (-want +got):\n%s", d)
	}
	// Also after the DHCPv6 fields.
	v6 := sampleV6(4)
	v6.PrevXID = 7
	p6, _ := appendLease(nil, &v6)
	if got, err := decodeLease(p6, nil); err != nil || got.PrevXID != 7 || got.IAID != v6.IAID {
		t.Fatalf("v6 with prev xid: %+v, %v", got, err)
	}
	// Truncated: malformed, not silently zero.
	if _, err := decodeLease(p[:len(p)-2], nil); !errors.Is(err, errRecord) {
		t.Fatalf("truncated previous xid: err = %v", err)
	}
	// Without it: no flag, the encoding old binaries wrote and read.
	l.PrevXID = 0
	old, _ := appendLease(nil, &l)
	if f := flagsByte(t, old); f&^oldFlagMask != 0 {
		t.Fatalf("record without previous xid sets flags %#x outside the old mask", f)
	}
	if len(old) != len(p)-4 {
		t.Fatalf("record without previous xid is %d bytes, with %d: want 4 fewer", len(old), len(p))
	}
}
