package server

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/mdlayher/packet"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/leased/leased/dhcpv4"
	"github.com/leased/leased/internal/netns"
	"github.com/leased/leased/lease"
)

// TestLinkDeliveryInNetns runs the server in a network namespace of its
// own and a client without an address in another, joined by a veth pair.
// The client sends raw DISCOVERs; the OFFER to a client without the
// broadcast flag must come back as a unicast Ethernet frame to its chaddr
// (AF_PACKET path, checksums verified), and with the flag as an IP
// broadcast out of the ingress interface.
func TestLinkDeliveryInNetns(t *testing.T) {
	netns.Require(t)
	topo := netns.New(t)
	eng, err := lease.New(lease.Config{
		LeaseTime: time.Hour, OfferHold: 10 * time.Second,
		Pools: []lease.Pool{{
			Name: "veth", Subnet: netip.MustParsePrefix("10.77.0.0/16"),
			Gateway:  netip.MustParseAddr("10.77.0.1"),
			Sections: []lease.Section{{Index: 0, Start: netip.MustParseAddr("10.77.1.10"), End: netip.MustParseAddr("10.77.1.20")}},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	var s *Server
	if err := topo.Server.Do(func() error {
		var err error
		s, err = New(Options{Interfaces: []string{netns.ServerIf}, Port: -1, Engine: eng, Store: &memStore{},
			Logger: testLogger(t), Registry: prometheus.NewRegistry()})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if s.ifaces[0].raw == nil {
		t.Fatal("no AF_PACKET socket on the veth")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("Run did not stop")
		}
	})

	var cli *packet.Conn
	var cliMAC [6]byte
	if err := topo.Client.Do(func() error {
		ifi, err := net.InterfaceByName(netns.ClientIf)
		if err != nil {
			return err
		}
		copy(cliMAC[:], ifi.HardwareAddr)
		cli, err = packet.Listen(ifi, packet.Raw, etherTypeIPv4, nil)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer cli.Close()

	bcastMAC := [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	discover := func(xid uint32, flags uint16) {
		t.Helper()
		h := dhcpv4.Header{Op: dhcpv4.BootRequest, HType: 1, HLen: 6, XID: xid, Flags: flags}
		copy(h.CHAddr[:], cliMAC[:])
		var w dhcpv4.Writer
		w.Reset(make([]byte, 0, 600))
		w.Header(&h)
		w.OptionByte(dhcpv4.OptMessageType, byte(dhcpv4.Discover))
		payload, err := w.End()
		if err != nil {
			t.Fatal(err)
		}
		f, err := AppendFrame(nil, &FrameAddrs{
			SrcMAC: cliMAC, DstMAC: bcastMAC,
			Src: netip.IPv4Unspecified(), Dst: limitedBroadcast,
			SrcPort: dhcpv4.ClientPort, DstPort: uint16(s.Port()),
		}, payload)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cli.WriteTo(f, &packet.Addr{HardwareAddr: bcastMAC[:]}); err != nil {
			t.Fatal(err)
		}
	}
	// awaitOffer reads frames for up to 3s and returns the OFFER for xid;
	// ours: the frame was built by AppendFrame (UDP checksum checked).
	awaitOffer := func(xid uint32, ours bool) (FrameAddrs, *dhcpv4.Message) {
		t.Helper()
		buf := make([]byte, 2048)
		deadline := time.Now().Add(3 * time.Second)
		for time.Now().Before(deadline) {
			_ = cli.SetReadDeadline(deadline)
			n, _, err := cli.ReadFrom(buf)
			if err != nil {
				break
			}
			f := buf[:n]
			// Skip our own DISCOVERs and anything that is not UDP to port 68.
			if n < frameOverhead || f[14+9] != 17 || f[14+20+2] != 0 || f[14+20+3] != dhcpv4.ClientPort {
				continue
			}
			addrs, payload := parseFrameCsum(t, f, ours)
			m := new(dhcpv4.Message)
			if err := m.Decode(payload); err != nil || m.XID != xid || m.Op != dhcpv4.BootReply {
				continue
			}
			return addrs, m
		}
		t.Fatalf("no OFFER for xid %#x within 3s", xid)
		return FrameAddrs{}, nil
	}

	srvMAC := s.ifaces[0].mac
	discover(0x1001, 0)
	fa, offer := awaitOffer(0x1001, true)
	if offer.Type() != dhcpv4.Offer {
		t.Fatalf("got %v", offer.Type())
	}
	want := FrameAddrs{SrcMAC: srvMAC, DstMAC: cliMAC, Src: netip.MustParseAddr("10.77.0.1"), Dst: offer.YIAddr,
		SrcPort: uint16(s.Port()), DstPort: dhcpv4.ClientPort}
	if fa != want {
		t.Errorf("unicast OFFER frame %+v, want %+v", fa, want)
	}
	if !netip.MustParsePrefix("10.77.1.0/24").Contains(offer.YIAddr) {
		t.Errorf("offered %v", offer.YIAddr)
	}

	discover(0x1002, dhcpv4.FlagBroadcast)
	fa, offer = awaitOffer(0x1002, false)
	if offer.Type() != dhcpv4.Offer {
		t.Fatalf("got %v", offer.Type())
	}
	if fa.DstMAC != bcastMAC || fa.Dst != limitedBroadcast || fa.SrcMAC != srvMAC || fa.Src != netip.MustParseAddr("10.77.0.1") {
		t.Errorf("broadcast OFFER frame %+v", fa)
	}
	// The counters move just after the send returns: the frame can be
	// here first.
	for _, path := range []string{"hardware", "broadcast"} {
		waitFor(t, path+" path counter", func() bool {
			return counter(t, s.Registry(), "leased_replies_sent_by_path_total", path) == 1
		})
	}
}
