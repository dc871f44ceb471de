package server

import (
	"context"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/leased/leased/dhcpv4"
	"github.com/leased/leased/lease"
)

// TestLeaseHook: the hook sees the committed record of an ACK (and not
// of an OFFER, which commits nothing), and the tombstone of a delete.
func TestLeaseHook(t *testing.T) {
	st := &memStore{}
	s, relay, _ := startServer(t, newScriptEngine(), st, nil)
	var mu sync.Mutex
	var seen []lease.Lease
	s.SetLeaseHook(func(recs []lease.Lease) {
		mu.Lock()
		defer mu.Unlock()
		for i := range recs {
			seen = append(seen, recs[i].Clone())
		}
	})
	relay.send(clientMsg{typ: dhcpv4.Discover, xid: 1, mac: mac1, relay: relay1})
	if _, _, ok := relay.recv(2 * time.Second); !ok {
		t.Fatal("no OFFER")
	}
	mu.Lock()
	n := len(seen)
	mu.Unlock()
	if n != 0 {
		t.Fatalf("hook saw %d records for an OFFER", n)
	}
	yi := netip.MustParseAddr("127.0.0.100")
	relay.send(clientMsg{typ: dhcpv4.Request, xid: 2, mac: mac1, reqIP: yi, serverID: netip.MustParseAddr("127.0.0.1"), relay: relay1})
	if _, _, ok := relay.recv(2 * time.Second); !ok {
		t.Fatal("no ACK")
	}
	mu.Lock()
	got := append([]lease.Lease(nil), seen...)
	mu.Unlock()
	if len(got) != 1 || got[0].Addr != yi || len(st.committed()) != 1 {
		t.Fatalf("hook saw %+v, store holds %d", got, len(st.committed()))
	}
	_ = s.DeleteLease(context.Background(), yi) // the script engine deletes nothing: no record, no event
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 1 {
		t.Errorf("hook saw %d records after a delete without records", len(seen))
	}
}
