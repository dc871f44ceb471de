package server

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/leased/leased/dhcpv4"
	"github.com/leased/leased/reconf"
)

// TestForceNAKDuplicateRequest (issue #10 item 6): in a force-NAK campaign,
// a client's renewing DHCPREQUEST reaches the server twice, once directly
// and once through a relay (giaddr), with one xid. Both copies are NAKed
// (one transaction, one answer), and after the client's DORA the outcome
// is rebound. Before the fix the first NAK ended the campaign's forcing,
// the second copy was ACKed and the outcome was renewed.
func TestForceNAKDuplicateRequest(t *testing.T) {
	n := newSimNet(t, t.TempDir(), campConfig(), CampaignConfig{}, nil)
	c := n.bind(1, 0)[0]
	n.setSilent(true, c) // the renew below is sent by the test
	o := fast()
	o.ForceNAK, o.Interval = true, time.Minute
	st, err := n.s.StartCampaign(context.Background(), reconf.Selector{Pool: "loop"}, o)
	if err != nil {
		t.Fatal(err)
	}
	naks := n.s.m.sent[typeIndex(dhcpv4.Nak)]
	renew := clientMsg{typ: dhcpv4.Request, xid: 0x5151, mac: c.mac, ciaddr: c.addr, nonce: hmacNonce}

	// The client's own packet, unicast to the server (no giaddr).
	direct, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.3:0")))
	if err != nil {
		t.Fatal(err)
	}
	defer direct.Close()
	if _, err := direct.WriteToUDPAddrPort(buildMsg(t, renew), netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(n.s.Port()))); err != nil {
		t.Fatal(err)
	}
	waitCounter(t, naks, 1)

	// The relayed copy of the same transaction.
	ch := make(chan *dhcpv4.Message, 1)
	n.mu.Lock()
	n.waiting[renew.xid] = ch
	n.mu.Unlock()
	n.relay.send(renew)
	select {
	case m := <-ch:
		if m.Type() != dhcpv4.Nak {
			t.Fatalf("relayed copy of the NAKed renew answered %v, want NAK (one transaction, one answer)", m.Type())
		}
	case <-time.After(3 * time.Second):
		t.Fatal("no answer to the relayed copy")
	}
	// The batcher counts a reply after sendmmsg returns, which may be
	// after the relay read it: wait for the count.
	waitCounter(t, naks, 2)
	if got := counterValue(naks); got != 2 {
		t.Fatalf("%v NAKs sent, want 2", got)
	}

	// The client restarts in INIT: DORA, and the campaign says rebound.
	if err := n.dora(c); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		p := outcomes(t, n.s, st.ID)[c.addr]
		if p.Outcome == reconf.Rebound {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("campaign client %+v, want outcome rebound", p)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
