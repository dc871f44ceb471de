package server

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/leased/leased/dhcpv4"
	"github.com/leased/leased/lease"
)

// classReply is an ACK for a client in classes 0 and 2 of three, with a
// reservation: the reservation beats the classes, the first member class
// beats a later one, both beat the pool.
func classReply() (*lease.Reply, *poolOptions) {
	p := testPool()
	p.Routers = []netip.Addr{netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")}
	p.Boot = lease.Boot{NextServer: netip.MustParseAddr("192.0.2.4"), ServerName: []byte("pool-tftp"), File: []byte("pool.0")}
	po, _ := buildPoolOptions(p)
	classes := []lease.Class{
		{Name: "a", Options: []lease.RawOption{{Code: 6, Data: []byte{10, 0, 0, 6}}, {Code: 43, Data: []byte{1, 3, 'a', 'b', 'c'}}},
			Boot: lease.Boot{NextServer: netip.MustParseAddr("192.0.2.5"), File: []byte("ipxe.efi")}},
		{Name: "b", Options: []lease.RawOption{{Code: 42, Data: []byte{9, 9, 9, 9}}}},
		{Name: "c", Options: []lease.RawOption{{Code: 6, Data: []byte{10, 0, 0, 7}}, {Code: 66, Data: []byte("class-c")},
			{Code: 125, Data: []byte{0, 0, 0x11, 0x8b, 4, 1, 2, 0xa, 0xb}}}},
	}
	res := &lease.Reservation{Options: []lease.RawOption{{Code: 66, Data: []byte("host-tftp")}}, Boot: lease.Boot{File: []byte("host.efi")}}
	r := &lease.Reply{Type: dhcpv4.Ack, YIAddr: netip.MustParseAddr("192.0.2.10"), LeaseTime: time.Hour, T1: 30 * time.Minute, T2: 52 * time.Minute,
		Pool: p, Classes: 1<<0 | 1<<2 | lease.ClassKnown, ClassList: classes, Reservation: res}
	return r, po
}

func TestEncodeClassOptions(t *testing.T) {
	r, po := classReply()
	req := dhcpv4.Header{HType: 1, HLen: 6, XID: 9, CHAddr: [16]byte{2, 1, 2, 3, 4, 5}}
	var w dhcpv4.Writer
	b, err := encodeReply(&w, make([]byte, 0, 1500), &req, r, netip.MustParseAddr("192.0.2.1"), nil, nil, po)
	if err != nil {
		t.Fatal(err)
	}
	m := decodeReply(t, b)
	for _, c := range []struct {
		code dhcpv4.OptionCode
		want []byte
	}{
		{dhcpv4.OptDNS, []byte{10, 0, 0, 6}},            // class a (first) beats class c and the pool
		{dhcpv4.OptTFTPServerName, []byte("host-tftp")}, // the reservation beats class c and the pool
		{dhcpv4.OptRouter, []byte{192, 0, 2, 1, 192, 0, 2, 2}},
		{dhcpv4.OptNTPServers, []byte{192, 0, 2, 123}}, // class b: not a member
		{dhcpv4.OptVendorSpecific, []byte{1, 3, 'a', 'b', 'c'}},
		{125, []byte{0, 0, 0x11, 0x8b, 4, 1, 2, 0xa, 0xb}},
		{dhcpv4.OptBootfileName, []byte("pxelinux.0")}, // the pool's option 67
	} {
		if v, ok := m.Option(c.code); !ok || !bytes.Equal(v, c.want) {
			t.Errorf("option %d = %q, want %q", c.code, v, c.want)
		}
	}
	seen := map[dhcpv4.OptionCode]int{}
	for c := range m.Options() {
		seen[c]++
	}
	for c, n := range seen {
		if n > 1 {
			t.Errorf("option %d sent %d times", c, n)
		}
	}
	// Boot header fields, field by field: file from the reservation,
	// siaddr from class a, sname from the pool.
	if m.SIAddr != netip.MustParseAddr("192.0.2.5") || string(m.File) != "host.efi" || string(m.SName) != "pool-tftp" {
		t.Errorf("siaddr %v sname %q file %q", m.SIAddr, m.SName, m.File)
	}
	if n := testing.AllocsPerRun(200, func() {
		_, _ = encodeReply(&w, b[:0], &req, r, netip.MustParseAddr("192.0.2.1"), nil, nil, po)
	}); n != 0 {
		t.Errorf("encodeReply with classes allocates %v times", n)
	}
}

// TestEncodeBOOTPReply: RFC 1534 §2 — a BOOTREPLY without message type,
// server identifier or lease times, but with the vendor options and the
// boot fields; at least 300 bytes (RFC 951).
func TestEncodeBOOTPReply(t *testing.T) {
	r, po := classReply()
	r.BOOTP, r.Classes, r.Reservation = true, 0, nil
	req := dhcpv4.Header{HType: 1, HLen: 6, XID: 9, CHAddr: [16]byte{2, 1, 2, 3, 4, 5}}
	var w dhcpv4.Writer
	b, err := encodeReply(&w, make([]byte, 0, 1500), &req, r, netip.MustParseAddr("192.0.2.1"), nil, []byte{1, 2}, po)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 300 || b[0] != byte(dhcpv4.BootReply) {
		t.Fatalf("len %d op %d", len(b), b[0])
	}
	m := new(dhcpv4.Message)
	if err := m.Decode(b); !errors.Is(err, dhcpv4.ErrNoMessageType) {
		t.Fatalf("decode: %v, want a message without type", err)
	}
	for _, c := range []dhcpv4.OptionCode{dhcpv4.OptServerID, dhcpv4.OptLeaseTime, dhcpv4.OptRenewalTime, dhcpv4.OptRebindingTime, dhcpv4.OptClientID} {
		if m.Has(c) {
			t.Errorf("BOOTREPLY has option %d", c)
		}
	}
	if !m.Has(dhcpv4.OptSubnetMask) || !m.Has(dhcpv4.OptRouter) {
		t.Error("BOOTREPLY lacks the pool's options")
	}
	if m.YIAddr != r.YIAddr || m.SIAddr != netip.MustParseAddr("192.0.2.4") || string(m.File) != "pool.0" {
		t.Errorf("yiaddr %v siaddr %v file %q", m.YIAddr, m.SIAddr, m.File)
	}
}

func TestFillClassInputs(t *testing.T) {
	b := buildMsg(t, clientMsg{typ: dhcpv4.Discover, mac: mac1})
	// Append options 60, 77, 93 before the end option.
	end := bytes.LastIndexByte(b[:bytes.IndexByte(b[240:], 255)+241], 255)
	opts := []byte{60, 9, 'P', 'X', 'E', 'C', 'l', 'i', 'e', 'n', 't', 77, 4, 'i', 'P', 'X', 'E', 93, 2, 0, 7, 255}
	b = append(b[:end], opts...)
	var m dhcpv4.Message
	if err := m.Decode(b); err != nil {
		t.Fatal(err)
	}
	var req lease.Request
	fillClassInputs(&req, &m)
	if string(req.VendorClass) != "PXEClient" || string(req.UserClass) != "iPXE" || !bytes.Equal(req.ClientArch, []byte{0, 7}) {
		t.Errorf("%q %q %x", req.VendorClass, req.UserClass, req.ClientArch)
	}
}
