package server

import (
	"context"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/leased/leased/dhcpv4"
	"github.com/leased/leased/lease"
)

// relayOverride is relay1 with RFC 5107 sub-option 11: 192.0.2.1.
var (
	overrideAddr  = netip.MustParseAddr("192.0.2.1")
	relayOverride = append(slices.Clone(relay1), dhcpv4.RelayServerIDOverride, 4, 192, 0, 2, 1)
)

// TestServerIDOverride (RFC 5107 §5): a relay's Server Identifier
// Override is the option 54 of the OFFER and the ACK, and a REQUEST
// naming it is the server's own; without the sub-option the same REQUEST
// names another server.
func TestServerIDOverride(t *testing.T) {
	eng := newScriptEngine()
	_, relay, _ := startServer(t, eng, &memStore{}, nil)
	relay.send(clientMsg{typ: dhcpv4.Discover, xid: 0x2000, mac: mac1, relay: relayOverride})
	offer, _, ok := relay.recv(2 * time.Second)
	if !ok || offer.Type() != dhcpv4.Offer {
		t.Fatal("no OFFER")
	}
	if sid, _ := offer.ServerID(); sid != overrideAddr {
		t.Errorf("OFFER server id %v, want the override %v", sid, overrideAddr)
	}
	relay.send(clientMsg{typ: dhcpv4.Request, xid: 0x2001, mac: mac1, reqIP: offer.YIAddr, serverID: overrideAddr, relay: relayOverride})
	ack, _, ok := relay.recv(2 * time.Second)
	if !ok || ack.Type() != dhcpv4.Ack {
		t.Fatalf("no ACK: %v", ack)
	}
	if sid, _ := ack.ServerID(); sid != overrideAddr {
		t.Errorf("ACK server id %v, want the override %v", sid, overrideAddr)
	}
	relay.send(clientMsg{typ: dhcpv4.Request, xid: 0x2002, mac: mac1, reqIP: offer.YIAddr, serverID: overrideAddr, relay: relay1})
	waitFor(t, "the third request handled", func() bool {
		eng.mu.Lock()
		defer eng.mu.Unlock()
		return len(eng.reqs) == 3
	})
	eng.mu.Lock()
	reqs := slices.Clone(eng.reqs)
	eng.mu.Unlock()
	if r := reqs[1]; !r.ServerIDOurs || r.ServerIDShared {
		t.Errorf("REQUEST naming the override: ours %v, shared %v; want ours, not shared (one server)", r.ServerIDOurs, r.ServerIDShared)
	}
	if r := reqs[2]; r.ServerIDOurs {
		t.Error("REQUEST naming 192.0.2.1 without the sub-option taken as ours")
	}
}

// TestClusterServerIDOverride: two servers behind one relay that sends
// the override. Both name it in option 54, so a SELECTING REQUEST reaches
// both as their own (here with secs past the fallback, so neither
// filters it by hash): only the server that made the offer ACKs, the
// other answers nothing — no NAK, no second binding.
func TestClusterServerIDOverride(t *testing.T) {
	a, b, _ := startPair(t)
	mac := macInBucket(t, 3, 0) // a's bucket
	disc := buildMsg(t, clientMsg{typ: dhcpv4.Discover, xid: 0x7a00, mac: mac, giaddr: clusterRelay, relay: relayOverride})
	feed(t, a.s, disc, pathServer)
	feed(t, b.s, disc, pathServer)
	offer, ok := a.rec.waitXID(t, 3*time.Second, 0x7a00)
	if !ok || offer.Type() != dhcpv4.Offer {
		t.Fatalf("a did not OFFER: %v", offer)
	}
	if sid, _ := offer.ServerID(); sid != overrideAddr {
		t.Errorf("OFFER server id %v, want the override", sid)
	}
	req := withSecs(buildMsg(t, clientMsg{typ: dhcpv4.Request, xid: 0x7a01, mac: mac, giaddr: clusterRelay,
		reqIP: offer.YIAddr, serverID: overrideAddr, relay: relayOverride}), 60)
	feed(t, b.s, req, pathServer)
	feed(t, a.s, req, pathServer)
	ack, ok := a.rec.waitXID(t, 5*time.Second, 0x7a01)
	if !ok || ack.Type() != dhcpv4.Ack || ack.YIAddr != offer.YIAddr {
		t.Fatalf("a did not ACK its offer: %v", ack)
	}
	if m, ok := b.rec.waitXID(t, 500*time.Millisecond, 0x7a01); ok {
		t.Errorf("b answered a REQUEST accepting a's offer: %v %v", m.Type(), m.YIAddr)
	}
	rows, err := a.st.LookupClient(context.Background(), clientKey4(mac))
	if err != nil {
		t.Fatal(err)
	}
	bound := 0
	for _, l := range rows {
		if l.State == lease.StateBound && l.Expiry.After(time.Now()) {
			bound++
		}
	}
	if bound != 1 {
		t.Errorf("client bound in %d rows, want 1", bound)
	}
}
