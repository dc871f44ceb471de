package server

import (
	"bytes"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/leased/leased/dhcpv4"
	"github.com/leased/leased/lease"
	"github.com/leased/leased/reconf"
)

// TestObserveAllocs: reporting a client message to the campaigns (every
// DHCPv4 message while a campaign runs) allocates nothing; the client key
// is built on the stack (issue #17: it escaped, 64 bytes per message).
func TestObserveAllocs(t *testing.T) {
	s, _ := newRecorded(t, &memStore{})
	req := lease.Request{Type: dhcpv4.Request, HType: 1, HWAddr: []byte{2, 0, 0, 0, 0, 1},
		CIAddr: netip.MustParseAddr("127.0.1.9"), Unicast: true}
	d := lease.Decision{HasReply: true, Reply: lease.Reply{Type: dhcpv4.Ack, YIAddr: req.CIAddr}}
	if n := testing.AllocsPerRun(100, func() { s.observe(&req, &d) }); n != 0 {
		t.Errorf("observe: %.1f allocations per message, want 0", n)
	}
}

// TestRecordBlobArena: flushRecords encodes a batch of campaign records
// into shared chunks; every blob still decodes to its record and owns its
// bytes (capacity = length), also across a chunk boundary.
func TestRecordBlobArena(t *testing.T) {
	m := reconf.NewManager()
	var ls []lease.Lease
	for i := range 600 {
		a := netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})
		ls = append(ls, lease.Lease{Addr: a, ClientID: []byte{1, 2, 0, 0, 0, byte(i >> 8), byte(i)}, Pool: "p",
			State: lease.StateBound, Expiry: time.Now().Add(time.Hour), ReconfKey: bytes.Repeat([]byte{7}, 16)})
	}
	if _, err := m.Start(time.Now(), reconf.Selector{}, reconf.DefaultOptions(), ls); err != nil {
		t.Fatal(err)
	}
	recs := m.Records()
	var arena []byte
	chunks := map[*byte]bool{}
	for i := range recs {
		b, a, err := appendRecordBlob(arena, &recs[i])
		if err != nil {
			t.Fatal(err)
		}
		arena = a
		chunks[&arena[:1][0]] = true
		want, err := recordBlob(&recs[i])
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b.Key, want.Key) || !bytes.Equal(b.Value, want.Value) || b.Kind != want.Kind {
			t.Fatalf("record %d: blob %x=%x, want %x=%x", i, b.Key, b.Value, want.Key, want.Value)
		}

		if cap(b.Key) != len(b.Key) || cap(b.Value) != len(b.Value) {
			t.Fatalf("record %d: blob slices not capped at their length", i)
		}
		var r reconf.Record
		if err := r.UnmarshalBinary(b.Value); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
	}
	// recordBlob (compaction: one blob per record of every campaign)
	// allocates about the record's size, not a chunk.
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	for i := range recs {
		if _, err := recordBlob(&recs[i]); err != nil {
			t.Fatal(err)
		}
	}
	runtime.ReadMemStats(&ms1)
	if per := (ms1.TotalAlloc - ms0.TotalAlloc) / uint64(len(recs)); per > 256 {
		t.Errorf("recordBlob: %d bytes allocated per record", per)
	}
	if len(chunks) < 2 {
		t.Errorf("%d records in %d chunk(s): the test does not cross a chunk boundary", len(recs), len(chunks))
	}
}
