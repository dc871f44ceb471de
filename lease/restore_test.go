package lease

import (
	"bytes"
	"cmp"
	"net/netip"
	"slices"
	"testing"
	"time"
	"unsafe"

	gocmp "github.com/google/go-cmp/cmp"
)

// storedLeases is what a store might yield on a restart: bound, expired
// and declined records, relay info and reconfigure keys, a client with a
// record on two addresses, an address written twice (the higher Seq
// wins, whatever the order), a tombstone and an anonymous free record.
func storedLeases() []Lease {
	var ls []Lease
	for i := range 60 {
		a := netip.AddrFrom4([4]byte{10, 0, 0, byte(10 + i%20)})
		if i >= 20 {
			a = netip.AddrFrom4([4]byte{10, 0, 1, byte(i)}) // outside every pool: kept, never allocated
		}
		l := Lease{
			Seq: uint64(100 + i), Addr: a, HType: 1, HWAddr: mac(i), ClientID: append([]byte{1}, mac(i)...),
			Pool: "lan", Section: i % 2, State: StateBound,
			Start: t0, T1: t0.Add(30 * time.Minute), T2: t0.Add(50 * time.Minute), Expiry: t0.Add(time.Hour),
			XID: uint32(i), PrevXID: uint32(i + 7),
		}
		switch i % 5 {
		case 1:
			l.RelayInfo, l.GIAddr = []byte{1, 3, 'e', 't', byte(i)}, srv
		case 2:
			l.ReconfKey, l.ReplayCounter, l.ForceRenewNonceCapable = bytes.Repeat([]byte{byte(i)}, 16), uint64(i)<<8, true
		case 3:
			l.State, l.Hostname = StateExpired, "host"
		case 4:
			l.State = StateDeclined
		}
		ls = append(ls, l)
	}
	// Out of order: the record with the lower Seq comes last and loses.
	ls[3].Seq = 10
	older := ls[3].Clone()
	older.Seq, older.Hostname = 5, "older"
	ls = append(ls, older)
	// The same client on a second address.
	second := ls[0].Clone()
	second.Addr, second.Seq = netip.AddrFrom4([4]byte{10, 0, 0, 29}), 300
	ls = append(ls, second)
	// A tombstone and an anonymous free record remove their addresses.
	ls = append(ls, Lease{Seq: 400, Addr: ls[5].Addr, State: StateDeleted},
		Lease{Seq: 401, Addr: ls[6].Addr, State: StateFree, Pool: "lan"})
	return ls
}

func allSorted(e *Engine) []Lease {
	ls := slices.Collect(e.All())
	slices.SortFunc(ls, func(a, b Lease) int { return a.Addr.Compare(b.Addr) })
	return ls
}

// TestReserveRestore: restoring with Reserve gives the same engine state as
// without; Restore copies the record's byte slices (a store may yield
// records whose slices it reuses, wal.LoadBorrowed), so changing them
// afterwards changes nothing.
func TestReserveRestore(t *testing.T) {
	plain := newEngine(t, lanConfig())
	for _, l := range storedLeases() {
		plain.Restore(l)
	}
	reserved := newEngine(t, lanConfig())
	ls := storedLeases()
	reserved.Reserve(len(ls))
	for i := range ls {
		l := &ls[i]
		reserved.Restore(*l)
		for _, b := range [][]byte{l.ClientID, l.HWAddr, l.RelayInfo, l.ReconfKey} {
			for j := range b {
				b[j] ^= 0xff
			}
		}
	}
	want, got := allSorted(plain), allSorted(reserved)
	if len(want) != 60-2 { // 60, +1 second address, -1 older, -2 tombstone and free
		t.Errorf("%d records restored, want 58", len(want))
	}
	if d := gocmp.Diff(want, got, cmpNet); d != "" {
		t.Errorf("state after Reserve+Restore (-plain +reserved):\n%s", d)
	}
	for _, l := range got {
		if l.Addr == storedLeases()[3].Addr && l.Hostname == "older" {
			t.Errorf("%v: the record with the lower Seq won", l.Addr)
		}
	}
	// Allocation afterwards agrees too: the next client gets the same address.
	d1 := plain.Handle(t0, discover(mac(500)))
	d2 := reserved.Handle(t0, discover(mac(500)))
	if d1.Reply.YIAddr != d2.Reply.YIAddr || !d1.Reply.YIAddr.IsValid() {
		t.Errorf("next offer: %v without Reserve, %v with", d1.Reply.YIAddr, d2.Reply.YIAddr)
	}
	// Reserve on an engine that holds records does nothing.
	reserved.Reserve(1 << 20)
	if d := gocmp.Diff(want, allSorted(reserved), cmpNet); d != "" {
		t.Errorf("Reserve on a loaded engine changed it:\n%s", d)
	}
}

// BenchmarkRestore: Restore of 100,000 bound records into an empty engine,
// with and without Reserve (per record).
func BenchmarkRestore(b *testing.B) {
	const n = 100_000
	ls := make([]Lease, n)
	for i := range ls {
		ls[i] = Lease{Seq: uint64(i + 1), Addr: netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}),
			HType: 1, HWAddr: bigMAC(i), ClientID: append([]byte{1}, bigMAC(i)...), Pool: "big", State: StateBound,
			Start: t0, T1: t0.Add(time.Hour), T2: t0.Add(2 * time.Hour), Expiry: t0.Add(3 * time.Hour),
			ReconfKey: bytes.Repeat([]byte{1}, 16)}
	}
	slices.SortFunc(ls, func(a, b Lease) int { return cmp.Compare(a.Seq, b.Seq) })
	for _, reserve := range []bool{false, true} {
		name := "grow"
		if reserve {
			name = "reserve"
		}
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				e := newEngine(b, bigConfig(8))
				if reserve {
					e.Reserve(n)
				}
				for i := range ls {
					e.Restore(ls[i])
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/record")
		})
	}
}

// TestRecClient: the client key, hardware address and host name share one
// string in a record (rec.kh); every combination reads back as it was
// stored, changing one keeps the others, and the pool name (an index into
// poolNames) reads back too.
func TestRecClient(t *testing.T) {
	hw := []byte{2, 0, 0, 0, 0, 9}
	long := bytes.Repeat([]byte{0xab}, 300)
	tests := []struct {
		name     string
		clientID []byte
		hw       []byte
		inKey    bool
	}{
		{"htype+chaddr", append([]byte{1}, hw...), hw, true},
		{"option 61", []byte{255, 1, 2, 3, 4, 0, 1, 0, 1, 5}, hw, false},
		{"option 61 equal to chaddr without htype", hw, hw, false},
		{"no key", nil, hw, false},
		{"no chaddr", []byte{0, 'i', 'd'}, nil, false},
		{"neither", nil, nil, false},
		{"a 300-byte key", long, hw, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := Lease{Addr: ip("10.0.0.10"), ClientID: tt.clientID, HType: 1, HWAddr: tt.hw, Pool: "pool " + tt.name, State: StateBound, Hostname: "h-" + tt.name}
			r := recFrom(&l)
			if got := r.flags&flagHWInKey != 0; got != tt.inKey {
				t.Errorf("hardware address in key: %v, want %v", got, tt.inKey)
			}
			back := r.lease()
			if !bytes.Equal(back.ClientID, tt.clientID) || !bytes.Equal(back.HWAddr, tt.hw) || back.Pool != l.Pool || back.Hostname != l.Hostname {
				t.Errorf("read back client id %x hw %x pool %q host %q, want %x %x %q %q", back.ClientID, back.HWAddr, back.Pool, back.Hostname, tt.clientID, tt.hw, l.Pool, l.Hostname)
			}
			// A new chaddr for the same key (handle.go keeps the key) keeps the host name.
			nr := r
			nr.setClient(r.key(), "\x02\x00\x00\x00\x00\x07")
			if nr.key() != string(tt.clientID) || nr.hw() != "\x02\x00\x00\x00\x00\x07" || nr.host() != l.Hostname {
				t.Errorf("after a chaddr change: key %x hw %x host %q", nr.key(), nr.hw(), nr.host())
			}
			// A host name change or removal keeps key and chaddr.
			for _, h := range []string{"other", "", "x"} {
				nr.setHost(h)
				if nr.key() != string(tt.clientID) || nr.hw() != "\x02\x00\x00\x00\x00\x07" || nr.host() != h {
					t.Errorf("after host name %q: key %x hw %x host %q", h, nr.key(), nr.hw(), nr.host())
				}
			}
			if r.host() != l.Hostname || r.hw() != string(tt.hw) {
				t.Errorf("the original record changed: hw %x host %q", r.hw(), r.host())
			}
		})
	}
	x := poolIndex("x")
	if poolIndex("") != 0 || poolName(0) != "" || poolName(x) != "x" || poolIndex(string([]byte("x"))) != x || poolIndex("y") == x {
		t.Error("poolNames does not intern")
	}
	if s := unsafe.Sizeof(rec{}); s > 96 {
		t.Errorf("rec is %d bytes, was 96", s)
	}
}

// TestKeyIndex: client keys of up to 7 bytes are indexed as a uint64, longer
// ones as strings; keys that differ only in trailing zero bytes or length
// stay distinct, and every key is found, listed and removed.
func TestKeyIndex(t *testing.T) {
	keys := []string{"\x01", "\x01\x00", "\x01\x00\x00\x00\x00\x00\x00", "\x01\x02\x00\x00\x00\x00\x07",
		"\x01\x02\x00\x00\x00\x00\x07\x00", "\xff\x00\x00\x00\x01\x00\x01\x00\x01\x02\x03", "\x00"}
	rs := newRecords()
	for i, k := range keys {
		r := rec{addr: uint32(100 + i), seq: uint64(i + 1), state: StateBound}
		r.setClient(k, "")
		rs.put(r)
	}
	for i, k := range keys {
		if r := rs.ofKey([]byte(k)); r == nil || r.addr != uint32(100+i) {
			t.Errorf("key %x: %+v, want the record of address %d", k, r, 100+i)
		}
		if v, ok := shortKey(k); ok != (len(k) <= 7) || (ok && unshortKey(v) != k) {
			t.Errorf("shortKey(%x) = %x, %v", k, v, ok)
		}
	}
	listed := map[string]int32{}
	for k, i := range rs.keys {
		listed[k] = i
	}
	if len(listed) != len(keys) || len(rs.byLong) != 2 {
		t.Errorf("keys() lists %d keys (want %d), %d long (want 2)", len(listed), len(keys), len(rs.byLong))
	}
	for i, k := range keys {
		rs.remove(uint32(100 + i))
		if rs.ofKey([]byte(k)) != nil {
			t.Errorf("key %x still indexed after remove", k)
		}
	}
	if len(rs.byKey)+len(rs.byLong) != 0 {
		t.Errorf("%d keys left", len(rs.byKey)+len(rs.byLong))
	}
}
