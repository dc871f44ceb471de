package server

import (
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leased/leased/dhcpv4"
)

// TestLeaseQuery4Hook: without a handler a DHCPLEASEQUERY is dropped as
// an unknown type; with one, the handler gets a copy of the query and the
// address it arrived on, its answer (sent later from another goroutine)
// goes to giaddr at the relay port, no answer sends nothing, and a query
// without giaddr never reaches it.
func TestLeaseQuery4Hook(t *testing.T) {
	s, relay, _ := startServer(t, newScriptEngine(), &memStore{}, nil)
	query := func(giaddr netip.Addr) []byte {
		h := dhcpv4.Header{Op: dhcpv4.BootRequest, XID: 0x77, GIAddr: giaddr, CIAddr: netip.MustParseAddr("127.0.0.150")}
		var w dhcpv4.Writer
		w.Reset(make([]byte, 0, 600))
		w.Header(&h)
		w.OptionByte(dhcpv4.OptMessageType, byte(msgLeaseQuery))
		b, err := w.End()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	send := func(b []byte) {
		if _, err := relay.conn.WriteToUDPAddrPort(b, relay.server); err != nil {
			t.Fatal(err)
		}
	}
	send(query(relay.addr))
	if m, _, ok := relay.recv(300 * time.Millisecond); ok {
		t.Fatalf("answered without a handler: %v", m.Type())
	}

	var calls atomic.Int32
	var answer atomic.Bool
	answer.Store(true)
	s.SetLeaseQuery4(func(pkt []byte, local netip.Addr, reply func([]byte)) {
		calls.Add(1)
		if !answer.Load() {
			return
		}
		var m dhcpv4.Message
		if err := m.Decode(pkt); err != nil {
			t.Errorf("hook got an undecodable copy: %v", err)
			return
		}
		h := dhcpv4.Header{Op: dhcpv4.BootReply, XID: m.XID, GIAddr: m.GIAddr, CIAddr: m.CIAddr}
		var w dhcpv4.Writer
		w.Reset(make([]byte, 0, 600))
		w.Header(&h)
		w.OptionByte(dhcpv4.OptMessageType, 12)
		w.OptionAddr(dhcpv4.OptServerID, local)
		b, _ := w.End()
		go reply(b) // answered later, from another goroutine
	})
	send(query(relay.addr))
	m, _, ok := relay.recv(2 * time.Second)
	if !ok {
		t.Fatal("no answer at giaddr")
	}
	if m.Type() != 12 || m.XID != 0x77 {
		t.Errorf("answer %v xid %#x", m.Type(), m.XID)
	}
	if sid, _ := m.ServerID(); sid != netip.MustParseAddr("127.0.0.1") {
		t.Errorf("handler saw local address %v, want 127.0.0.1", sid)
	}

	send(query(netip.IPv4Unspecified()))
	answer.Store(false)
	send(query(relay.addr))
	if m, _, ok := relay.recv(300 * time.Millisecond); ok {
		t.Fatalf("answered: %v", m.Type())
	}
	if n := calls.Load(); n != 2 {
		t.Errorf("handler called %d times, want 2 (the query without giaddr is dropped before it)", n)
	}
}
