package wal

import (
	"errors"
	"math"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/leased/leased/lease"
)

func TestLeaseRoundTrip(t *testing.T) {
	full := sample(7)
	tests := []struct {
		name string
		l    lease.Lease
	}{
		{"every field", full},
		{"minimal", lease.Lease{Seq: 1, Addr: netip.MustParseAddr("10.0.0.1")}},
		{"ipv6 and no giaddr", lease.Lease{Seq: math.MaxUint64, Addr: netip.MustParseAddr("2001:db8::1"), State: lease.StateDeleted, Section: -1}},
		{"v4-mapped v6 stays v6", lease.Lease{Seq: 2, Addr: netip.MustParseAddr("::ffff:10.0.0.1"), GIAddr: netip.MustParseAddr("2001:db8::2")}},
		{"unix epoch is not the zero time", lease.Lease{Seq: 3, Addr: netip.MustParseAddr("10.0.0.3"), Start: time.Unix(0, 0), Expiry: time.Unix(-5, 7)}},
		{"only expiry", lease.Lease{Seq: 4, Addr: netip.MustParseAddr("10.0.0.4"), State: lease.StateDeclined, Expiry: t0}},
		{"extremes", lease.Lease{Seq: 5, Addr: netip.MustParseAddr("255.255.255.255"), Section: math.MaxInt32, XID: math.MaxUint32,
			ReplayCounter: math.MaxUint64, HType: 255, Expiry: time.Unix(0, math.MaxInt64), Start: time.Unix(0, math.MinInt64+1),
			Hostname: string(make([]byte, 255)), ClientID: make([]byte, 255), RelayInfo: make([]byte, 255), ReconfKey: make([]byte, 16)}},
		{"every state", lease.Lease{Seq: 6, Addr: netip.MustParseAddr("10.0.0.6"), State: lease.StateExpired, Pool: "p"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			frame, err := appendLeaseFrame(nil, &tt.l)
			if err != nil {
				t.Fatal(err)
			}
			k, p, n, st := parseFrame(frame)
			if st != frameOK || k != KindLease || n != len(frame) {
				t.Fatalf("parseFrame = %v, %v, %d; want ok, lease, %d", k, st, n, len(frame))
			}
			got, err := decodeLease(p, map[string]string{})
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.l, got, cmpLeases); d != "" {
				t.Errorf("round trip (-want +got):\n%s", d)
			}
			// The decoded record must not alias the buffer.
			for i := range frame {
				frame[i] = 0xff
			}
			if d := cmp.Diff(tt.l, got, cmpLeases); d != "" {
				t.Errorf("decoded record aliases the frame:\n%s", d)
			}
			st2, seq, a, err := leaseKey(p)
			if err == nil {
				t.Errorf("leaseKey on overwritten payload succeeded: %v %d %v", st2, seq, a)
			}
		})
	}
}

func TestLeaseKey(t *testing.T) {
	l := sample(3)
	l.State = lease.StateReleased
	p, err := appendLease(nil, &l)
	if err != nil {
		t.Fatal(err)
	}
	st, seq, a, err := leaseKey(p)
	if err != nil || st != l.State || seq != l.Seq || a != l.Addr {
		t.Errorf("leaseKey = %v %d %v %v; want %v %d %v", st, seq, a, err, l.State, l.Seq, l.Addr)
	}
}

func TestEncodeRejects(t *testing.T) {
	tests := []struct {
		name string
		l    lease.Lease
	}{
		{"no address", lease.Lease{Seq: 1}},
		{"time beyond int64 nanoseconds", lease.Lease{Seq: 1, Addr: netip.MustParseAddr("10.0.0.1"), Expiry: time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)}},
		{"too large", lease.Lease{Seq: 1, Addr: netip.MustParseAddr("10.0.0.1"), RelayInfo: make([]byte, maxPayload)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			buf := []byte("keep")
			out, err := appendLeaseFrame(buf, &tt.l)
			if err == nil {
				t.Fatal("no error")
			}
			if string(out) != "keep" {
				t.Errorf("buffer not restored on error: %q", out)
			}
		})
	}
}

// Every truncation and every single-byte change of a payload must be
// rejected or decoded without panicking; truncations always fail.
func TestDecodeDamagedPayload(t *testing.T) {
	l := sample(9)
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
	if _, err := decodeLease(append(p, 0), nil); err == nil {
		t.Error("trailing byte accepted")
	}
	p[0] = 2
	if _, err := decodeLease(p, nil); err == nil {
		t.Error("unknown version accepted")
	}
}

func TestFrameDamage(t *testing.T) {
	l := sample(1)
	frame, _ := appendLeaseFrame(nil, &l)
	tests := []struct {
		name   string
		mutate func([]byte) []byte
		want   frameStatus
	}{
		{"intact", func(b []byte) []byte { return b }, frameOK},
		{"short header", func(b []byte) []byte { return b[:5] }, frameShort},
		{"short payload", func(b []byte) []byte { return b[:len(b)-1] }, frameShort},
		{"zero length", func(b []byte) []byte { b[0], b[1], b[2], b[3] = 0, 0, 0, 0; return b }, frameBadLen},
		{"huge length", func(b []byte) []byte { b[3] = 0x7f; return b }, frameBadLen},
		{"payload bit flip", func(b []byte) []byte { b[len(b)-1] ^= 1; return b }, frameBadCRC},
		{"kind changed", func(b []byte) []byte { b[8] = 99; return b }, frameBadCRC},
		{"crc changed", func(b []byte) []byte { b[4] ^= 1; return b }, frameBadCRC},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := tt.mutate(append([]byte(nil), frame...))
			if _, _, _, st := parseFrame(b); st != tt.want {
				t.Errorf("status %v, want %v", st, tt.want)
			}
		})
	}
	// A frame with a right checksum but a kind this build does not know.
	odd := appendFrame(nil, Kind(42), []byte{1, 2, 3})
	if k, _, _, st := parseFrame(odd); st != frameBadKind || k != 42 {
		t.Errorf("unknown kind: %v %v", k, st)
	}
}
