package main

import (
	"context"

	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"time"

	"golang.org/x/net/ipv4"

	"github.com/leased/leased/dhcpv4"
	"github.com/leased/leased/dhcpv6"
)

// The null server answers every DISCOVER with an OFFER and every REQUEST
// or INFORM with an ACK, with no state and no disk: an address derived
// from chaddr, server id 127.0.0.1, lease 1 h. It replies to the source
// address. It measures what leasebench and the kernel can do on this
// machine, the ceiling a real server is compared with.

func runNullServer(ctx context.Context, args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("leasebench null-server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "", "`addr:port` to answer on (default 127.0.0.1:67, with -6 [::1]:547)")
	v6 := fs.Bool("6", false, "DHCPv6: answer Solicit, Request, Renew, Rebind and Release, relayed (Relay-forward) or direct from a client")
	iface := fs.String("iface", "", "with -6: join ff02::1:2 on this `interface` (default --listen [::]:547) and answer clients on it directly")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *iface != "" && !*v6 {
		fmt.Fprintln(stderr, "leasebench null-server: --iface is for -6 (DHCPv6 clients send to ff02::1:2)")
		return 2
	}
	if *listen == "" {
		switch {
		case *iface != "":
			*listen = "[::]:547"
		case *v6:
			*listen = "[::1]:547"
		default:
			*listen = "127.0.0.1:67"
		}
	}
	ap, err := netip.ParseAddrPort(*listen)
	if err != nil {
		fmt.Fprintf(stderr, "leasebench null-server: --listen: %v\n", err)
		return 2
	}
	if *v6 {
		conn, s, err := listenNull6(ap, *iface)
		if err != nil {
			fmt.Fprintf(stderr, "leasebench null-server: %v\n", err)
			return 1
		}
		joined := ""
		if *iface != "" {
			joined = " and " + dhcpv6.AllRelayAgentsAndServers.String() + "%" + *iface
		}
		fmt.Fprintf(stderr, "null server answering on %v%s\n", conn.LocalAddr(), joined)
		s.serve(ctx, conn)
		return 0
	}
	conn, err := listenReuse(ap)
	if err != nil {
		fmt.Fprintf(stderr, "leasebench null-server: %v\n", err)
		return 1
	}
	fmt.Fprintf(stderr, "null server answering on %v\n", conn.LocalAddr())
	nullServe(ctx, conn)
	return 0
}

var nullServerID = netip.AddrFrom4([4]byte{127, 0, 0, 1})

// nullServe runs until ctx ends, then closes conn.
func nullServe(ctx context.Context, conn *net.UDPConn) {
	var m dhcpv4.Message
	var w dhcpv4.Writer
	serveBatches(ctx, conn, ipv4.NewPacketConn(conn), func(req []byte, from net.Addr, buf []byte) ([]byte, net.Addr) {
		if m.Decode(req) != nil || m.Op != dhcpv4.BootRequest {
			return nil, nil
		}
		var t dhcpv4.MessageType
		switch m.Type() {
		case dhcpv4.Discover:
			t = dhcpv4.Offer
		case dhcpv4.Request, dhcpv4.Inform:
			t = dhcpv4.Ack
		default:
			return nil, nil
		}
		h := m.Header
		h.Op, h.Hops, h.SName, h.File = dhcpv4.BootReply, 0, nil, nil
		if t == dhcpv4.Ack && m.CIAddr.IsValid() && !m.CIAddr.IsUnspecified() {
			h.YIAddr = m.CIAddr
		} else {
			// 10.x.y.z from the last three chaddr bytes.
			h.YIAddr = netip.AddrFrom4([4]byte{10, h.CHAddr[3], h.CHAddr[4], h.CHAddr[5]})
		}
		w.Reset(buf)
		w.Header(&h)
		w.OptionByte(dhcpv4.OptMessageType, byte(t))
		w.OptionAddr(dhcpv4.OptServerID, nullServerID)
		w.OptionUint32(dhcpv4.OptLeaseTime, 3600)
		pkt, err := w.End()
		if err != nil {
			return nil, nil
		}
		return pkt, from
	})
}

// serveBatches is the null servers' loop: one goroutine reads datagrams
// in batches of batchLen (recvmmsg), asks answer for each one's reply
// (written into buf; nil: none) and sends a batch's replies with one
// sendmmsg; until ctx ends, then it closes conn. No state.
func serveBatches(ctx context.Context, conn *net.UDPConn, pc batchConn, answer func(req []byte, from net.Addr, buf []byte) ([]byte, net.Addr)) {
	defer conn.Close()
	in := make([]ipv4.Message, batchLen)
	for i := range in {
		in[i].Buffers = [][]byte{make([]byte, 1500)}
	}
	out := make([]ipv4.Message, 0, batchLen)
	bufs := make([][]byte, batchLen)
	for i := range bufs {
		bufs[i] = make([]byte, 0, 600)
	}
	for ctx.Err() == nil {
		_ = conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		n, err := pc.ReadBatch(in, 0)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		out = out[:0]
		for k := range n {
			pkt, to := answer(in[k].Buffers[0][:in[k].N], in[k].Addr, bufs[len(out)][:0])
			if pkt != nil {
				out = append(out, ipv4.Message{Buffers: [][]byte{pkt}, Addr: to})
			}
		}
		for len(out) > 0 {
			k, err := pc.WriteBatch(out, 0)
			if err != nil && k <= 0 {
				k = 1
			}
			out = out[k:]
		}
	}
}
