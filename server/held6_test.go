package server

import (
	"net/netip"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/leased/leased/dhcpv6"
	"github.com/leased/leased/lease"
	"github.com/leased/leased/lease6"
	"github.com/leased/leased/store/wal"
)

// TestHeldV6RecordsSurviveCompaction: DHCPv6 bindings written to the WAL
// by a dual-stack server are held (Options.Held), not dropped, by a
// DHCPv4-only server that compacts the store, and are served again by the
// next server with DHCPv6.
func TestHeldV6RecordsSurviveCompaction(t *testing.T) {
	dir := t.TempDir()
	open := func() *wal.WAL {
		t.Helper()
		w, err := wal.Open(dir, wal.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return w
	}

	// 1. Dual stack: one client gets an address and a prefix.
	w := open()
	eng6, err := lease6.New(v6Config())
	if err != nil {
		t.Fatal(err)
	}
	s, stop := run6(t, w, eng6)
	relay := newRelay6(t, s.Port6())
	c := &client6{duid: []byte{0, 3, 0, 1, 2, 0, 0, 0, 0, 9}}
	relay.send(c.msg(t, dhcpv6.Solicit, 0x21, true))
	adv, ok := relay.recv(2 * time.Second)
	if !ok {
		t.Fatal("no Advertise")
	}
	c.serverID = adv.ServerID()
	relay.send(c.msg(t, dhcpv6.Request, 0x22, true))
	rep, ok := relay.recv(2 * time.Second)
	if !ok {
		t.Fatal("no Reply")
	}
	addr, _, pfx, _ := bindings(t, rep)
	if !addr.IsValid() || !pfx.IsValid() {
		t.Fatalf("Reply binds %v %v", addr, pfx)
	}
	stop()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	// 2. DHCPv4 only: the v6 records are held; a compaction rewrites the
	// store from the engines, the held records and the blobs.
	w = open()
	eng, err := lease.New(loopConfig())
	if err != nil {
		t.Fatal(err)
	}
	var held []lease.Lease
	if err := w.Load(func(l lease.Lease) error {
		if l.IsV6() {
			held = append(held, l)
		} else {
			eng.Restore(l)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(held) < 2 {
		t.Fatalf("%d DHCPv6 records in the store, want the address and the prefix", len(held))
	}
	s4, err := New(Options{Interfaces: []string{"lo"}, Port: -1, Engine: eng, Store: w, Held: held,
		Logger: testLogger(t), Registry: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s4.compact(); err != nil {
		t.Fatal(err)
	}
	if err := s4.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	// 3. Dual stack again: the bindings are back.
	w = open()
	defer w.Close()
	eng6, err = lease6.New(v6Config())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	if err := w.Load(func(l lease.Lease) error {
		if l.IsV6() {
			eng6.Restore(l)
			n++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n != len(held) {
		t.Errorf("%d DHCPv6 records after compaction, want %d", n, len(held))
	}
	s, _ = run6(t, w, eng6)
	for _, x := range []netip.Addr{addr, pfx.Addr()} {
		l, ok := s.Lookup(x)
		if !ok || l.State != lease.StateBound || string(l.ClientID) != string(c.duid) {
			t.Errorf("%s after a compaction without DHCPv6: %v %+v", x, ok, l)
		}
	}
}
