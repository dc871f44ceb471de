package main

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/leased/leased/dhcpv4"
)

func TestDefaultTimeout(t *testing.T) {
	for _, tc := range []struct {
		family   int
		scenario string
		want     time.Duration
	}{
		{4, "init-reboot", 4 * time.Second}, // RFC 2131 §4.1
		{4, "forcerenew", 4 * time.Second},
		{4, "dora", 2 * time.Second},
		{4, "renew", 2 * time.Second},
		{6, "forcerenew", 2 * time.Second},
	} {
		if got := defaultTimeout(tc.family, tc.scenario); got != tc.want {
			t.Errorf("defaultTimeout(%d, %s) = %v, want %v", tc.family, tc.scenario, got, tc.want)
		}
	}
}

// answer builds the reply of type typ to the request in pkt, as the null
// server does.
func answer(t *testing.T, pkt []byte, typ dhcpv4.MessageType) *dhcpv4.Message {
	t.Helper()
	var m dhcpv4.Message
	if err := m.Decode(pkt); err != nil {
		t.Fatal(err)
	}
	h := m.Header
	h.Op, h.Hops, h.SName, h.File = dhcpv4.BootReply, 0, nil, nil
	h.YIAddr = netip.AddrFrom4([4]byte{10, h.CHAddr[3], h.CHAddr[4], h.CHAddr[5]})
	var w dhcpv4.Writer
	w.Reset(make([]byte, 0, 600))
	w.Header(&h)
	w.OptionByte(dhcpv4.OptMessageType, byte(typ))
	w.OptionAddr(dhcpv4.OptServerID, nullServerID)
	w.OptionUint32(dhcpv4.OptLeaseTime, 3600)
	out, err := w.End()
	if err != nil {
		t.Fatal(err)
	}
	var r dhcpv4.Message
	if err := r.Decode(out); err != nil {
		t.Fatal(err)
	}
	return &r
}

// TestRetransmitAndDuplicateCounts: a request retransmitted after the
// timeout counts in retransmits; a second answer to an exchange that has
// completed counts in duplicates (and dropped).
func TestRetransmitAndDuplicateCounts(t *testing.T) {
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	w := newWorker(0, 1, conn, netip.MustParseAddrPort("127.0.0.1:9"), netip.MustParseAddr("127.0.0.1"), false, 1)
	w.env.Retransmit, w.env.MaxTries = 10*time.Millisecond, 3
	w.ph = &phase{timeout: 10 * time.Millisecond, retries: 2}
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	if !startDORA(w, now) {
		t.Fatal("no DORA started")
	}
	discover := append([]byte(nil), w.out[0].Buffers[0]...)
	w.out = w.out[:0] // not sent: nobody answers on port 9
	w.expire(now.Add(15 * time.Millisecond))
	if w.st.retransmits != 1 || len(w.out) != 1 {
		t.Fatalf("after the timeout: %d retransmissions, %d queued; want 1, 1", w.st.retransmits, len(w.out))
	}
	w.out = w.out[:0]
	w.handle(answer(t, discover, dhcpv4.Offer), now.Add(16*time.Millisecond))
	if len(w.out) != 1 {
		t.Fatalf("no REQUEST after the OFFER (%+v)", w.st)
	}
	request := append([]byte(nil), w.out[0].Buffers[0]...)
	w.out = w.out[:0]
	ack := answer(t, request, dhcpv4.Ack)
	w.handle(ack, now.Add(17*time.Millisecond))
	if w.st.completed != 1 || w.st.duplicates != 0 {
		t.Fatalf("after the ACK: %+v", w.st)
	}
	w.handle(ack, now.Add(18*time.Millisecond)) // the answer to a retransmission
	if w.st.duplicates != 1 || w.st.dropped != 1 || w.st.completed != 1 {
		t.Fatalf("after a second ACK: duplicates %d, dropped %d, completed %d; want 1, 1, 1", w.st.duplicates, w.st.dropped, w.st.completed)
	}
}
