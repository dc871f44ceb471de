package leasequery

import (
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/leased/leased/dhcpv4"
)

var (
	now    = time.Unix(1_800_000_000, 0)
	srvID  = netip.MustParseAddr("10.77.0.1")
	relay  = netip.MustParseAddr("10.99.0.1")
	macA   = []byte{2, 0, 0, 0, 0, 0xa}
	macB   = []byte{2, 0, 0, 0, 0, 0xb}
	riA    = []byte{1, 3, 'p', '/', '1', 2, 4, 'r', 'e', 'm', 'A', 12, 4, 10, 99, 0, 1}
	riB    = []byte{1, 3, 'p', '/', '2', 2, 4, 'r', 'e', 'm', 'B', 12, 4, 10, 99, 0, 1}
	subnet = netip.MustParsePrefix("10.77.0.0/16")
)

type fakeSource []Binding

func (f fakeSource) Lookup4(a netip.Addr) (Binding, bool, bool) {
	for _, b := range f {
		if b.Addr == a {
			return b, true, true
		}
	}
	return Binding{}, false, subnet.Contains(a)
}

func (f fakeSource) Bindings4(fn func(*Binding) bool) {
	for i := range f {
		if !fn(&f[i]) {
			return
		}
	}
}

func source() fakeSource {
	return fakeSource{
		{Addr: netip.MustParseAddr("10.77.1.10"), State: Active, HType: 1, HWAddr: macA, RelayInfo: riA,
			Start: now.Add(-30 * time.Second), Expiry: now.Add(90 * time.Second), T1: now.Add(30 * time.Second), T2: now.Add(75 * time.Second)},
		{Addr: netip.MustParseAddr("10.77.1.11"), State: Active, HType: 1, HWAddr: macA, ClientID: []byte{1, 2, 3}, RelayInfo: riA,
			Start: now.Add(-10 * time.Second), Expiry: now.Add(110 * time.Second)},
		{Addr: netip.MustParseAddr("10.77.1.12"), State: Active, HType: 1, HWAddr: macB, RelayInfo: riB,
			Start: now.Add(-5 * time.Second), Expiry: now.Add(115 * time.Second)},
		{Addr: netip.MustParseAddr("10.77.1.13"), State: Released, HType: 1, HWAddr: macB, RelayInfo: riA,
			Start: now.Add(-50 * time.Second), Expiry: now.Add(-50 * time.Second)},
	}
}

// lq builds a DHCPLEASEQUERY (or another type) as a relay would.
func lq(t *testing.T, typ dhcpv4.MessageType, set func(*dhcpv4.Header), opts ...func(*dhcpv4.Writer)) *dhcpv4.Message {
	t.Helper()
	h := dhcpv4.Header{Op: dhcpv4.BootRequest, XID: 0x1234, GIAddr: relay}
	if set != nil {
		set(&h)
	}
	var w dhcpv4.Writer
	w.Reset(make([]byte, 0, 600))
	w.Header(&h)
	w.OptionByte(dhcpv4.OptMessageType, byte(typ))
	for _, o := range opts {
		o(&w)
	}
	b, err := w.End()
	if err != nil {
		t.Fatal(err)
	}
	var m dhcpv4.Message
	if err := m.Decode(b); err != nil {
		t.Fatal(err)
	}
	return &m
}

func decode(t *testing.T, b []byte) *dhcpv4.Message {
	t.Helper()
	var m dhcpv4.Message
	if err := m.Decode(b); err != nil {
		t.Fatal(err)
	}
	return &m
}

func mac(hw []byte) func(*dhcpv4.Header) {
	return func(h *dhcpv4.Header) { h.HType, h.HLen = 1, uint8(len(hw)); copy(h.CHAddr[:], hw) }
}

func TestQuery4(t *testing.T) {
	s := &Server4{Source: source(), ServerID: srvID}
	prl := func(w *dhcpv4.Writer) {
		w.Option(dhcpv4.OptParamRequestList, []byte{byte(dhcpv4.OptRelayAgentInfo), byte(dhcpv4.OptRenewalTime)})
	}
	for _, tc := range []struct {
		name   string
		m      *dhcpv4.Message
		typ    dhcpv4.MessageType
		ciaddr string
		assoc  []string
		ri     bool
	}{
		{"ip active", lq(t, TypeLeaseQuery, func(h *dhcpv4.Header) { h.CIAddr = netip.MustParseAddr("10.77.1.10") }, prl),
			TypeLeaseActive, "10.77.1.10", []string{"10.77.1.10", "10.77.1.11"}, true},
		{"ip released", lq(t, TypeLeaseQuery, func(h *dhcpv4.Header) { h.CIAddr = netip.MustParseAddr("10.77.1.13") }),
			TypeLeaseUnassigned, "10.77.1.13", nil, false},
		{"ip free in pool", lq(t, TypeLeaseQuery, func(h *dhcpv4.Header) { h.CIAddr = netip.MustParseAddr("10.77.1.99") }),
			TypeLeaseUnassigned, "10.77.1.99", nil, false},
		{"ip not ours", lq(t, TypeLeaseQuery, func(h *dhcpv4.Header) { h.CIAddr = netip.MustParseAddr("192.0.2.1") }),
			TypeLeaseUnknown, "192.0.2.1", nil, false},
		{"mac: most recent, all in 92", lq(t, TypeLeaseQuery, mac(macA)),
			TypeLeaseActive, "10.77.1.11", []string{"10.77.1.10", "10.77.1.11"}, false},
		{"client id", lq(t, TypeLeaseQuery, nil, func(w *dhcpv4.Writer) { w.Option(dhcpv4.OptClientID, []byte{1, 2, 3}) }),
			TypeLeaseActive, "10.77.1.11", []string{"10.77.1.11"}, false},
		{"unknown mac", lq(t, TypeLeaseQuery, mac([]byte{9, 9, 9, 9, 9, 9})), TypeLeaseUnknown, "0.0.0.0", nil, false},
		{"no query", lq(t, TypeLeaseQuery, nil), TypeLeaseUnknown, "0.0.0.0", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := s.Query(now, tc.m, netip.Addr{})
			if err != nil || len(a.Replies) != 1 {
				t.Fatalf("%v, %d replies", err, len(a.Replies))
			}
			r := decode(t, a.Replies[0])
			if r.Type() != tc.typ || r.XID != 0x1234 || r.GIAddr != relay || r.Op != dhcpv4.BootReply {
				t.Fatalf("type %v xid %x giaddr %v, want %v", r.Type(), r.XID, r.GIAddr, tc.typ)
			}
			if r.CIAddr.String() != tc.ciaddr {
				t.Errorf("ciaddr %v, want %s", r.CIAddr, tc.ciaddr)
			}
			if id, _ := r.ServerID(); id != srvID {
				t.Errorf("server id %v", id)
			}
			var assoc []string
			if v, ok := r.Option(OptAssociatedIP); ok {
				for i := range dhcpv4.AddrCount(v) {
					assoc = append(assoc, dhcpv4.AddrAt(v, i).String())
				}
			}
			if !slices.Equal(assoc, tc.assoc) {
				t.Errorf("option 92 %v, want %v", assoc, tc.assoc)
			}
			if _, ok := r.Option(dhcpv4.OptRelayAgentInfo); ok != tc.ri {
				t.Errorf("option 82 present %v, want %v", ok, tc.ri)
			}
			if tc.typ == TypeLeaseActive {
				lt, _ := r.LeaseTime()
				last, _ := r.Uint32(OptClientLastTransactionTime)
				if lt == 0 || last == 0 || r.HLen != 6 {
					t.Errorf("lease time %d, last transaction %d, hlen %d", lt, last, r.HLen)
				}
			}
		})
	}
	if tc := lq(t, dhcpv4.Discover, nil); true {
		if _, err := s.Query(now, tc, netip.Addr{}); err != ErrNotQuery {
			t.Errorf("DISCOVER: %v", err)
		}
	}
}

func TestBulk4(t *testing.T) {
	s := &Server4{Source: source(), ServerID: srvID}
	run := func(m *dhcpv4.Message) []*dhcpv4.Message {
		var out []*dhcpv4.Message
		if _, _, err := s.Bulk(now, m, netip.Addr{}, func(b []byte) error { out = append(out, decode(t, b)); return nil }); err != nil {
			t.Fatal(err)
		}
		return out
	}
	summary := func(ms []*dhcpv4.Message) []string {
		var s []string
		for _, m := range ms {
			s = append(s, m.Type().String()+" "+m.CIAddr.String())
		}
		return s
	}
	// By relay id (option 82 sub-option 12): every binding through the
	// relay, then DONE.
	byRelay := lq(t, TypeBulkLeaseQuery, nil, func(w *dhcpv4.Writer) { w.Option(dhcpv4.OptRelayAgentInfo, []byte{12, 4, 10, 99, 0, 1}) })
	got := run(byRelay)
	want := []string{"UNKNOWN(13) 10.77.1.10", "UNKNOWN(13) 10.77.1.11", "UNKNOWN(13) 10.77.1.12", "UNKNOWN(11) 10.77.1.13", "UNKNOWN(15) 0.0.0.0"}
	if !slices.Equal(summary(got), want) {
		t.Fatalf("by relay id: %v, want %v", summary(got), want)
	}
	if st, _ := got[3].Uint32(OptDHCPState); true {
		v, _ := got[3].Option(OptDHCPState)
		if len(v) != 1 || v[0] != stateReleased {
			t.Errorf("dhcp-state of the released binding %v (%d)", v, st)
		}
	}
	if v, ok := got[0].Option(dhcpv4.OptRelayAgentInfo); !ok || string(v) != string(riA) {
		t.Errorf("bulk answer without the binding's option 82: %x", v)
	}
	if base, ok := got[0].Uint32(OptBaseTime); !ok || base != uint32(now.Unix()) {
		t.Errorf("base-time %d", base)
	}
	if st, ok := got[0].Uint32(OptStartTimeOfState); !ok || st != 30 {
		t.Errorf("start-time-of-state %d", st)
	}
	// By remote id: only client A's.
	byRemote := lq(t, TypeBulkLeaseQuery, nil, func(w *dhcpv4.Writer) { w.Option(dhcpv4.OptRelayAgentInfo, []byte{2, 4, 'r', 'e', 'm', 'B'}) })
	if s := summary(run(byRemote)); !slices.Equal(s, []string{"UNKNOWN(13) 10.77.1.12", "UNKNOWN(15) 0.0.0.0"}) {
		t.Errorf("by remote id: %v", s)
	}
	// query-start-time keeps the bindings whose state began after it.
	since := lq(t, TypeBulkLeaseQuery, mac(macA), func(w *dhcpv4.Writer) { w.OptionUint32(OptQueryStartTime, uint32(now.Add(-20*time.Second).Unix())) })
	if s := summary(run(since)); !slices.Equal(s, []string{"UNKNOWN(13) 10.77.1.11", "UNKNOWN(15) 0.0.0.0"}) {
		t.Errorf("by mac since -20s: %v", s)
	}
	// No query: LEASEQUERYSTATUS MalformedQuery.
	got = run(lq(t, TypeBulkLeaseQuery, nil))
	if len(got) != 1 || got[0].Type() != TypeLeaseQueryStatus {
		t.Fatalf("no query: %v", summary(got))
	}
	if code, msg, ok := StatusOf(got[0]); !ok || code != StatusMalformedQuery || msg == "" {
		t.Errorf("status %d %q %v", code, msg, ok)
	}
}

// TestBulkServerTCP: framing, several queries on one connection, and the
// requestor list.
func TestBulkServerTCP(t *testing.T) {
	s := &Server4{Source: source(), ServerID: srvID}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	bs := &BulkServer{Family: 4, Answer: s.Answer4, Requestors: Requestors{netip.MustParsePrefix("127.0.0.1/32")},
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- bs.Serve(ctx, ln) }()
	defer func() {
		cancel()
		<-done
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	for _, m := range []*dhcpv4.Message{
		lq(t, TypeBulkLeaseQuery, mac(macB)),
		lq(t, TypeLeaseQuery, func(h *dhcpv4.Header) { h.CIAddr = netip.MustParseAddr("10.77.1.10") }),
	} {
		pkt := m.Packet()
		c.Write(binary.BigEndian.AppendUint16(nil, uint16(len(pkt))))
		c.Write(pkt)
	}
	var types []string
	for len(types) < 4 {
		var l [2]byte
		if _, err := io.ReadFull(c, l[:]); err != nil {
			t.Fatalf("after %v: %v", types, err)
		}
		b := make([]byte, binary.BigEndian.Uint16(l[:]))
		if _, err := io.ReadFull(c, b); err != nil {
			t.Fatal(err)
		}
		m := decode(t, b)
		types = append(types, m.Type().String()+" "+m.CIAddr.String())
	}
	// macB: the active 10.77.1.12 and the released 10.77.1.13, DONE;
	// then the single query's LEASEACTIVE.
	want := []string{"UNKNOWN(13) 10.77.1.12", "UNKNOWN(11) 10.77.1.13", "UNKNOWN(15) 0.0.0.0", "UNKNOWN(13) 10.77.1.10"}
	if !slices.Equal(types, want) {
		t.Errorf("answers %v, want %v", types, want)
	}

	// A requestor not on the list is closed at once.
	ln2, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	bs2 := &BulkServer{Family: 4, Answer: s.Answer4, Requestors: Requestors{netip.MustParsePrefix("10.0.0.0/8")},
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	done2 := make(chan error, 1)
	go func() { done2 <- bs2.Serve(ctx, ln2) }()
	defer func() {
		cancel()
		<-done2
	}()
	c2, err := net.Dial("tcp", ln2.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	c2.SetDeadline(time.Now().Add(5 * time.Second))
	pkt := lq(t, TypeBulkLeaseQuery, mac(macB)).Packet()
	c2.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(pkt))), pkt...))
	if n, err := c2.Read(make([]byte, 10)); err == nil {
		t.Errorf("refused requestor read %d octets", n)
	}
}
