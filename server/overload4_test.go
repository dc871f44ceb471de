package server

import (
	"bytes"
	"net/netip"
	"testing"
	"time"

	"github.com/leased/leased/dhcpv4"
	"github.com/leased/leased/lease"
)

// bigReply is an ACK whose options (about 560 bytes) exceed what a client
// without option 57 accepts (576 with IP and UDP headers: 548).
func bigReply() (*lease.Reply, *poolOptions, dhcpv4.Header) {
	p := testPool()
	p.RawOptions = append(p.RawOptions,
		lease.RawOption{Code: 224, Data: bytes.Repeat([]byte{'a'}, 100)},
		lease.RawOption{Code: 225, Data: bytes.Repeat([]byte{'b'}, 60)},
		lease.RawOption{Code: 226, Data: bytes.Repeat([]byte{'c'}, 40)})
	po, _ := buildPoolOptions(p)
	r := &lease.Reply{Type: dhcpv4.Ack, YIAddr: netip.MustParseAddr("192.0.2.10"), LeaseTime: time.Hour, T1: 30 * time.Minute, T2: 52 * time.Minute, Pool: p}
	req := dhcpv4.Header{HType: 1, HLen: 6, XID: 3, CHAddr: [16]byte{2, 1, 2, 3, 4, 5}}
	return r, po, req
}

// TestEncodeOverload: RFC 2131 §4.1 / RFC 2132 §9.3 — options that do
// not fit 576 bytes go to the file and sname fields with option 52; the
// decoder reads every option back, 53 and 54 stay in the options field
// and 82 last there.
func TestEncodeOverload(t *testing.T) {
	r, po, req := bigReply()
	relay := []byte{1, 3, 'x', 'y', 'z'}
	var w dhcpv4.Writer
	sid := netip.MustParseAddr("192.0.2.1")
	full, err := encodeReply(&w, make([]byte, 0, 1500), &req, &lease.Reply{Type: r.Type, YIAddr: r.YIAddr, LeaseTime: r.LeaseTime, Pool: r.Pool, MaxMessageSize: 1500}, sid, relay, nil, po)
	if err != nil {
		t.Fatal(err)
	}
	if len(full) <= 548 {
		t.Fatalf("test reply is only %d bytes; it must exceed 548", len(full))
	}
	b, err := encodeReply(&w, make([]byte, 0, 1500), &req, r, sid, relay, nil, po)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > 548 {
		t.Fatalf("reply %d bytes, want at most 548 (576 with headers)", len(b))
	}
	m := decodeReply(t, b)
	if m.Overload() == 0 {
		t.Fatal("no option 52")
	}
	want := decodeReply(t, full)
	for c, v := range want.Options() {
		got, ok := m.Option(c)
		if !ok || !bytes.Equal(got, v) {
			t.Errorf("option %d lost or changed by overload", c)
		}
	}
	// 53 and 54 in the options field, 82 the last option there.
	if off, _ := m.OptionOffset(dhcpv4.OptMessageType); off < 240 {
		t.Errorf("option 53 at %d, outside the options field", off)
	}
	if off, _ := m.OptionOffset(dhcpv4.OptServerID); off < 240 {
		t.Errorf("option 54 at %d", off)
	}
	last := byte(0)
	for i := 240; i < len(b) && b[i] != 255; {
		if b[i] == 0 {
			i++
			continue
		}
		last = b[i]
		i += 2 + int(b[i+1])
	}
	if last != 82 {
		t.Errorf("the last option in the options field is %d, want 82", last)
	}
	// A client announcing a larger option 57 gets the plain message.
	r.MaxMessageSize = 1500
	if b, _ := encodeReply(&w, make([]byte, 0, 1500), &req, r, sid, relay, nil, po); decodeReply(t, b).Overload() != 0 {
		t.Error("overloaded although option 57 allows the whole message")
	}
	// Boot fields in use: they are not overwritten (the message is sent whole).
	r.MaxMessageSize = 0
	r.Pool.Boot = lease.Boot{File: []byte("pxelinux.0"), ServerName: []byte("tftp")}
	po, _ = buildPoolOptions(r.Pool)
	b, _ = encodeReply(&w, make([]byte, 0, 1500), &req, r, sid, relay, nil, po)
	if m := decodeReply(t, b); m.Overload() != 0 || string(m.File) != "pxelinux.0" {
		t.Errorf("boot fields overwritten: overload %d file %q", m.Overload(), m.File)
	}
	if n := testing.AllocsPerRun(100, func() {
		r.Pool.Boot = lease.Boot{}
		_, _ = encodeReply(&w, b[:0], &req, r, sid, relay, nil, po)
	}); n != 0 {
		t.Errorf("overload allocates %v times", n)
	}
}
