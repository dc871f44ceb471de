package wal

import (
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/leased/leased/lease"
)

// sampleV6 is a DHCPv6 binding (package lease6's record shape): an IA_NA
// address for even i, a delegated /56 for odd i.
func sampleV6(i int) lease.Lease {
	l := sample(i)
	l.Addr = netip.AddrFrom16([16]byte{0xfd, 0x77, 14: byte(i >> 8), 15: byte(i)})
	l.ClientID = []byte{0, 3, 0, 1, 2, 0, 0, 0, byte(i >> 8), byte(i)}
	l.HType, l.HWAddr = 0, nil
	l.Section = -1
	l.GIAddr = netip.MustParseAddr("fe80::1")
	l.IAID = uint32(i) + 1
	l.Preferred = l.Start.Add(40 * time.Minute)
	if i%2 == 1 {
		l.Addr = netip.AddrFrom16([16]byte{0xfd, 0x77, 0x01, byte(i >> 8), byte(i)})
		l.PrefixLen = 56
	}
	return l
}

func TestLeaseRoundTripV6(t *testing.T) {
	a := netip.MustParseAddr("fd77::1:0")
	tests := []struct {
		name string
		l    lease.Lease
	}{
		{"ia_na every field", sampleV6(4)},
		{"ia_pd every field", sampleV6(5)},
		{"iaid only", lease.Lease{Seq: 1, Addr: a, IAID: 7}},
		{"iaid zero, prefix length", lease.Lease{Seq: 2, Addr: a, PrefixLen: 64}},
		{"preferred only", lease.Lease{Seq: 3, Addr: a, Preferred: t0}},
		{"extremes", lease.Lease{Seq: 4, Addr: a, IAID: ^uint32(0), PrefixLen: 128, Preferred: time.Unix(0, -1)}},
		{"v6 address without v6 fields", lease.Lease{Seq: 5, Addr: a, State: lease.StateDeleted}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			frame, err := appendLeaseFrame(nil, &tt.l)
			if err != nil {
				t.Fatal(err)
			}
			k, p, _, st := parseFrame(frame)
			if st != frameOK || k != KindLease {
				t.Fatalf("parseFrame = %v %v", k, st)
			}
			got, err := decodeLease(p, nil)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.l, got, cmpLeases); d != "" {
				t.Errorf("round trip (-want +got):\n%s", d)
			}
		})
	}
}

// oldFlagMask is the flags mask of the decoder before the DHCPv6 fields.
const oldFlagMask = flagFRNonce | flagTime0<<0 | flagTime0<<1 | flagTime0<<2 | flagTime0<<3

// flagsByte returns the flags byte of a payload (after version, state,
// seq and addr).
func flagsByte(t *testing.T, p []byte) byte {
	t.Helper()
	d := decoder{b: p[2:]}
	d.uvarint("seq")
	d.addr("addr")
	f := d.byte1("flags")
	if d.err != nil {
		t.Fatal(d.err)
	}
	return f
}

// DHCPv4 records encode exactly as before the DHCPv6 fields existed; a
// DHCPv6 record carries a flag the old decoder rejects ("unknown flags"),
// so an old binary refuses the log instead of misreading it.
func TestV6FlagCompatibility(t *testing.T) {
	v4 := sample(3)
	p4, err := appendLease(nil, &v4)
	if err != nil {
		t.Fatal(err)
	}
	if f := flagsByte(t, p4); f&^oldFlagMask != 0 {
		t.Errorf("v4 record flags %#x use bits outside the old mask", f)
	}
	v6 := sampleV6(3)
	p6, err := appendLease(nil, &v6)
	if err != nil {
		t.Fatal(err)
	}
	if f := flagsByte(t, p6); f&^oldFlagMask == 0 {
		t.Errorf("v6 record flags %#x would be accepted by an old decoder", f)
	}
	v6.IAID, v6.PrefixLen, v6.Preferred = 0, 0, time.Time{}
	plain, _ := appendLease(nil, &v6)
	if f := flagsByte(t, plain); f&^oldFlagMask != 0 {
		t.Errorf("v6 address without v6 fields sets flags %#x", f)
	}
	// A preferred-lifetime flag without the v6 flag is malformed.
	bad := append([]byte(nil), plain...)
	d := decoder{b: bad[2:]} // flags follow version, state, seq, addr
	d.uvarint("seq")
	d.addr("addr")
	off := len(bad) - len(d.b)
	bad[off] |= flagPreferred
	if _, err := decodeLease(bad, nil); !errors.Is(err, errRecord) {
		t.Errorf("preferred flag without v6 flag: err = %v", err)
	}
	// Prefix lengths above 128 are refused both ways.
	if _, err := appendLease(nil, &lease.Lease{Seq: 1, Addr: v6.Addr, PrefixLen: 129}); err == nil {
		t.Error("encoded prefix length 129")
	}
	pl, _ := appendLease(nil, &lease.Lease{Seq: 1, Addr: v6.Addr, PrefixLen: 128})
	pl[len(pl)-1] = 129
	if _, err := decodeLease(pl, nil); !errors.Is(err, errRecord) {
		t.Errorf("decoded prefix length 129: %v", err)
	}
}

func TestDecodeDamagedPayloadV6(t *testing.T) {
	l := sampleV6(9)
	p, err := appendLease(nil, &l)
	if err != nil {
		t.Fatal(err)
	}
	for n := range len(p) {
		if _, err := decodeLease(p[:n], nil); !errors.Is(err, errRecord) {
			t.Errorf("decode of %d/%d bytes: err = %v, want errRecord", n, len(p), err)
		}
	}
	q := make([]byte, len(p))
	for i := range p {
		for _, v := range []byte{0, 0x80, 0xff} {
			copy(q, p)
			q[i] = v
			decodeLease(q, nil) // must not panic
		}
	}
}

// FuzzDecodeLease: any payload decodes or fails with errRecord, never
// panics; what decodes re-encodes to a payload that decodes the same.
func FuzzDecodeLease(f *testing.F) {
	ptrOnly := sampleV6(4)
	ptrOnly.DDNS = lease.DDNSPTROnly // a version 2 record
	for _, l := range []lease.Lease{sample(1), sampleV6(2), sampleV6(3), {Seq: 1, Addr: netip.MustParseAddr("fd77::1"), IAID: 1}, ptrOnly} {
		p, err := appendLease(nil, &l)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		l, err := decodeLease(p, nil)
		if err != nil {
			if !errors.Is(err, errRecord) {
				t.Fatalf("error %v does not wrap errRecord", err)
			}
			return
		}
		q, err := appendLease(nil, &l)
		if err != nil {
			return // e.g. a decoded time the encoder refuses
		}
		l2, err := decodeLease(q, nil)
		if err != nil {
			t.Fatalf("re-encoded record does not decode: %v", err)
		}
		if d := cmp.Diff(l, l2, cmpLeases); d != "" {
			t.Fatalf("re-encode changed the record:\n%s", d)
		}
	})
}

// DHCPv4 and DHCPv6 records (both kinds of IA) in one log survive a
// reopen and a compaction (snapshot) with every field.
func TestRecoverMixedV4V6(t *testing.T) {
	dir := t.TempDir()
	w := open(t, dir, Options{SyncMode: NoSync})
	var all []lease.Lease
	for i := range 12 {
		l := sample(i)
		if i%2 == 1 {
			l = sampleV6(i)
		}
		all = append(all, l)
	}
	commit(t, w, all...)
	got := reopen(t, w, dir)
	diff(t, byAddr(all...), got)

	w = open(t, dir, Options{SyncMode: NoSync})
	if err := w.Compact(func(yield func(lease.Lease) bool) {
		for _, l := range all {
			if !yield(l) {
				return
			}
		}
	}, nil); err != nil {
		t.Fatal(err)
	}
	diff(t, byAddr(all...), reopen(t, w, dir))
}
