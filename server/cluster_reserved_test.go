package server

import (
	"net/netip"
	"testing"
	"time"

	"github.com/leased/leased/internal/pgtest"
	"github.com/leased/leased/lease"
	"github.com/leased/leased/lease6"
)

// TestClusterReservedOutsideClaims (issue #12, migration 0006): clients
// with a configured reservation whose address lies in the OTHER server's
// block, or outside every block (outside the pool's sections), get it
// ACKed by whichever server answers — the first DORA through the server
// that does not hold the block, then again through the other one. Clients
// without a reservation still get addresses of the answering server's
// claims, never a reserved one, and no address is held twice in the
// database.
func TestClusterReservedOutsideClaims(t *testing.T) {
	dsn := pgtest.New(t).CreateDB(t)
	cfg := clusterConfig()
	// a starts first and claims 127.0.0.100–115, then b 127.0.0.116–131
	// (blocks of 16 from the first free address; checked below).
	inB, inA, outside := netip.MustParseAddr("127.0.0.125"), netip.MustParseAddr("127.0.0.110"), netip.MustParseAddr("127.0.0.20")
	macB, macA, macOut := [6]byte{2, 0, 0, 0, 0x0b, 1}, [6]byte{2, 0, 0, 0, 0x0b, 2}, [6]byte{2, 0, 0, 0, 0x0b, 3}
	cfg.Pools[0].Reservations = []lease.Reservation{
		{HWAddr: macB[:], Addr: inB},
		{HWAddr: macA[:], Addr: inA},
		{HWAddr: macOut[:], Addr: outside},
	}
	a := startMember(t, dsn, "a", cfg)
	waitUntil(t, 5*time.Second, "a holds a claim", func() bool { return len(claimsOf(t, a.st)["a"]) > 0 })
	b := startMember(t, dsn, "b", cfg)
	waitUntil(t, 5*time.Second, "b holds a claim", func() bool { return len(claimsOf(t, a.st)["b"]) > 0 })
	by := claimsOf(t, a.st)
	if !inClaims(inB, by["b"]) || inClaims(inB, by["a"]) || !inClaims(inA, by["a"]) || inClaims(inA, by["b"]) ||
		inClaims(outside, by["a"]) || inClaims(outside, by["b"]) {
		t.Fatalf("test setup: claims a %+v, b %+v do not place %v in b's block, %v in a's and %v in none", by["a"], by["b"], inB, inA, outside)
	}

	acked := map[netip.Addr][6]byte{}
	xid := uint32(0x5000)
	dora := func(m *clusterMember, mac [6]byte, want netip.Addr) {
		t.Helper()
		xid += 2
		got := clusterDORA(t, m, mac, xid)
		if got != want {
			t.Fatalf("%s gave the reserved client %x %v, want %v", m.name, mac, got, want)
		}
		acked[got] = mac
	}
	// The server not holding the block binds first, then the other one.
	dora(a, macB, inB)
	dora(b, macB, inB)
	dora(b, macA, inA)
	dora(a, macA, inA)
	dora(a, macOut, outside)
	dora(b, macOut, outside)

	// Clients without a reservation, through both servers.
	for i := range 8 {
		for si, m := range []*clusterMember{a, b} {
			mac := testMAC(si, i)
			xid += 2
			got := clusterDORA(t, m, mac, xid)
			if !got.IsValid() {
				t.Fatalf("%s: client %d got no address", m.name, i)
			}
			if prev, dup := acked[got]; dup {
				t.Fatalf("%v ACKed to %x and to %x", got, prev, mac)
			}
			if !inClaims(got, claimsOf(t, a.st)[m.name]) {
				t.Errorf("%s ACKed %v to %x outside its claims", m.name, got, mac)
			}
			acked[got] = mac
		}
	}
	checkDatabase(t, a.st, acked)
	// No client holds two addresses, no address two rows (the primary key).
	holder := map[string]netip.Addr{}
	if err := a.st.Load(func(l lease.Lease) error {
		if l.State == lease.StateBound {
			if prev, dup := holder[string(l.HWAddr)]; dup {
				t.Errorf("client %x bound to %v and %v", l.HWAddr, prev, l.Addr)
			}
			holder[string(l.HWAddr)] = l.Addr
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(holder) != len(acked) {
		t.Errorf("%d bound rows, %d clients ACKed", len(holder), len(acked))
	}
}

// TestClusterReservedOutsideClaims6: a DHCPv6 client whose reserved
// address (outside the pool's ranges) and reserved prefix (in the
// delegation prefix, beyond every claimed block) lie in no server's
// claims gets both bound through either server.
func TestClusterReservedOutsideClaims6(t *testing.T) {
	dsn := pgtest.New(t).CreateDB(t)
	cfg := v6Config()
	duid := []byte{0, 3, 0, 1, 2, 0, 0, 0x0b, 0, 1}
	resNA, resPD := netip.MustParseAddr("fd77::5"), netip.MustParsePrefix("fd77:1ff:ff00::/56")
	cfg.Pools[0].Reservations = []lease6.Reservation{{DUID: duid, Addr: resNA, Prefix: resPD}}
	a, b := startMember6Config(t, dsn, "a", cfg), startMember6Config(t, dsn, "b", cfg)
	waitUntil(t, 5*time.Second, "IA_NA and IA_PD claims of both", func() bool {
		by := claimsOf(t, a.st)
		return len(by["a"]) >= 2 && len(by["b"]) >= 2
	})
	for i, m := range []*member6{a, b} {
		by := claimsOf(t, a.st)
		if inClaims(resNA, by["a"]) || inClaims(resNA, by["b"]) || inClaims(resPD.Addr(), by["a"]) || inClaims(resPD.Addr(), by["b"]) {
			t.Fatalf("test setup: a reservation lies in a claim: %+v", by)
		}
		addr, pre := bind6(t, m, duid, uint32(0x700+i*16))
		if addr != resNA || pre != resPD {
			t.Fatalf("%s bound %v and %v, want the reserved %v and %v", m.name, addr, pre, resNA, resPD)
		}
	}
	rows := 0
	if err := a.st.Load(func(l lease.Lease) error {
		if l.State == lease.StateBound {
			rows++
			if string(l.ClientID) != string(duid) || (l.Addr != resNA && l.Addr != resPD.Addr()) {
				t.Errorf("bound row %v/%d of %x", l.Addr, l.PrefixLen, l.ClientID)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if rows != 2 {
		t.Errorf("%d bound rows, want 2 (the reserved address and prefix)", rows)
	}
}
