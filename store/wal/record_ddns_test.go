package wal

import (
	"errors"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/leased/leased/lease"
)

// lease.Lease.DDNS (who updates the binding's DNS records) is persisted in
// a version 2 record (a flags2 byte after flags), written only when the
// mode is not the default: records in the default mode are byte-identical
// version 1 records, so logs written by older binaries read as before and
// older binaries refuse, not misread, a version 2 record.
func TestDDNSRecord(t *testing.T) {
	for _, mode := range []lease.DDNSMode{lease.DDNSPTROnly, lease.DDNSNone} {
		for _, l := range []lease.Lease{sample(5), sampleV6(5)} {
			l.DDNS = mode
			l.PrevXID = 9 // with every flag of version 1 too
			p, err := appendLease(nil, &l)
			if err != nil {
				t.Fatal(err)
			}
			if p[0] != leaseVersion2 {
				t.Fatalf("mode %d: version %d, want 2", mode, p[0])
			}
			got, err := decodeLease(p, nil)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(l, got, cmpLeases); d != "" {
				t.Fatalf("mode %d round trip (-want +got):\n%s", mode, d)
			}
			if st, seq, a, err := leaseKey(p); err != nil || st != l.State || seq != l.Seq || a != l.Addr {
				t.Fatalf("leaseKey: %v %d %v %v", st, seq, a, err)
			}
			// The version 1 encoding of the same record is the same bytes
			// without flags2: what an older binary wrote.
			l.DDNS = lease.DDNSBoth
			v1, _ := appendLease(nil, &l)
			if v1[0] != leaseVersion || len(v1) != len(p)-1 {
				t.Fatalf("default mode: version %d, %d bytes (v2 %d)", v1[0], len(v1), len(p))
			}
			if got, err := decodeLease(v1, nil); err != nil || got.DDNS != lease.DDNSBoth {
				t.Fatalf("version 1: %v %v", got.DDNS, err)
			}
		}
	}
	// Reserved flags2 bits and an out-of-range mode are malformed; so is
	// a mode the encoder does not know.
	l := sample(6)
	l.DDNS = lease.DDNSPTROnly
	p, _ := appendLease(nil, &l)
	d := decoder{b: p[2:]}
	d.uvarint("seq")
	d.addr("addr")
	d.byte1("flags")
	off := len(p) - len(d.b)
	for _, f2 := range []byte{0x04, 0x80, 0x03} {
		bad := append([]byte(nil), p...)
		bad[off] = f2
		if _, err := decodeLease(bad, nil); !errors.Is(err, errRecord) {
			t.Errorf("flags2 %#x: err = %v", f2, err)
		}
	}
	l.DDNS = 3
	if _, err := appendLease(nil, &l); err == nil {
		t.Error("encoded DDNS mode 3")
	}
}

// The mode survives a restart (the log) and a compaction (the snapshot).
func TestDDNSRecovered(t *testing.T) {
	dir := t.TempDir()
	w := open(t, dir, Options{})
	loadAll(t, w)
	a, b, c := sample(1), sample(2), sampleV6(3)
	a.DDNS, c.DDNS = lease.DDNSPTROnly, lease.DDNSNone
	commit(t, w, a, b, c)
	got := reopen(t, w, dir)
	diff(t, byAddr(a, b, c), got)
	w = open(t, dir, Options{})
	loadAll(t, w)
	if err := w.Compact(slices.Values([]lease.Lease{a, b, c}), nil); err != nil {
		t.Fatal(err)
	}
	diff(t, byAddr(a, b, c), reopen(t, w, dir))
}
