package e2e

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// relayDriver is a small DHCP client population speaking through one
// relay-mode UDP socket (giaddr = its own address, replies to port 67),
// opened inside the client namespace. It matches replies to waiting
// transactions by xid. Packets are built and parsed with insomniacslk/dhcp.
type relayDriver struct {
	conn   *net.UDPConn
	giaddr netip.Addr
	server netip.AddrPort

	mu      sync.Mutex
	waiting map[dhcpv4.TransactionID]chan *dhcpv4.DHCPv4
	bad     int // replies that did not parse
	stray   int // replies for no waiting transaction
}

func newRelayDriver(conn *net.UDPConn, giaddr netip.Addr, server netip.AddrPort) *relayDriver {
	d := &relayDriver{conn: conn, giaddr: giaddr, server: server,
		waiting: map[dhcpv4.TransactionID]chan *dhcpv4.DHCPv4{}}
	return d
}

// readLoop dispatches replies until the socket is closed.
func (d *relayDriver) readLoop() {
	buf := make([]byte, 1500)
	for {
		n, _, err := d.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		m, err := dhcpv4.FromBytes(append([]byte(nil), buf[:n]...))
		d.mu.Lock()
		if err != nil {
			d.bad++
			d.mu.Unlock()
			continue
		}
		ch, ok := d.waiting[m.TransactionID]
		if !ok {
			d.stray++
		}
		d.mu.Unlock()
		if ok {
			select {
			case ch <- m:
			default:
			}
		}
	}
}

var errTimeout = errors.New("no reply")

// exchange sends m and waits up to timeout for a reply with its xid.
func (d *relayDriver) exchange(m *dhcpv4.DHCPv4, timeout time.Duration) (*dhcpv4.DHCPv4, error) {
	ch := make(chan *dhcpv4.DHCPv4, 4)
	d.mu.Lock()
	d.waiting[m.TransactionID] = ch
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		delete(d.waiting, m.TransactionID)
		d.mu.Unlock()
	}()
	if _, err := d.conn.WriteToUDPAddrPort(m.ToBytes(), d.server); err != nil {
		return nil, err
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case r := <-ch:
		return r, nil
	case <-t.C:
		return nil, errTimeout
	}
}

// ackRecord is what the driver knows about a client's last DHCPACK.
type ackRecord struct {
	MAC      net.HardwareAddr
	Addr     netip.Addr
	Sent     time.Time // when the acknowledged REQUEST was sent
	Received time.Time
	Lease    time.Duration
}

func mustAddr(ip net.IP) netip.Addr {
	a, _ := netip.AddrFromSlice(ip.To4())
	return a
}

// dora runs DISCOVER/OFFER/REQUEST/ACK for mac, with up to tries attempts
// per step. A NAK restarts from DISCOVER (counted as an attempt).
func (d *relayDriver) dora(ctx context.Context, mac net.HardwareAddr, timeout time.Duration, tries int) (ackRecord, error) {
	gi := net.IP(d.giaddr.AsSlice())
	for attempt := 0; attempt < tries; attempt++ {
		if ctx.Err() != nil {
			return ackRecord{}, ctx.Err()
		}
		disc, err := dhcpv4.NewDiscovery(mac, dhcpv4.WithRelay(gi))
		if err != nil {
			return ackRecord{}, err
		}
		offer, err := d.exchange(disc, timeout)
		if err != nil {
			continue
		}
		if offer.MessageType() != dhcpv4.MessageTypeOffer {
			continue
		}
		req, err := dhcpv4.NewRequestFromOffer(offer, dhcpv4.WithRelay(gi))
		if err != nil {
			return ackRecord{}, err
		}
		// NewRequestFromOffer keeps the offer's xid; RFC 2131 §4.4.1 says
		// the REQUEST uses the DISCOVER's xid, which is the same.
		rec, err := d.request(req, mac, timeout)
		if err == nil {
			return rec, nil
		}
	}
	return ackRecord{}, fmt.Errorf("dora %v: no ACK after %d attempts", mac, tries)
}

// reboot sends an INIT-REBOOT REQUEST (requested address, no server id,
// ciaddr 0; RFC 2131 §4.3.2) for a client that holds addr.
func (d *relayDriver) reboot(mac net.HardwareAddr, addr netip.Addr, timeout time.Duration) (ackRecord, error) {
	req, err := dhcpv4.New(dhcpv4.WithHwAddr(mac), dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest),
		dhcpv4.WithRelay(net.IP(d.giaddr.AsSlice())),
		dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.IP(addr.AsSlice()))))
	if err != nil {
		return ackRecord{}, err
	}
	return d.request(req, mac, timeout)
}

var errNAK = errors.New("NAK")

func (d *relayDriver) request(req *dhcpv4.DHCPv4, mac net.HardwareAddr, timeout time.Duration) (ackRecord, error) {
	sent := time.Now()
	ack, err := d.exchange(req, timeout)
	if err != nil {
		return ackRecord{}, err
	}
	switch ack.MessageType() {
	case dhcpv4.MessageTypeAck:
		return ackRecord{MAC: mac, Addr: mustAddr(ack.YourIPAddr), Sent: sent, Received: time.Now(),
			Lease: ack.IPAddressLeaseTime(0)}, nil
	case dhcpv4.MessageTypeNak:
		return ackRecord{}, errNAK
	default:
		return ackRecord{}, fmt.Errorf("unexpected %v", ack.MessageType())
	}
}

func (d *relayDriver) counters() (bad, stray int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.bad, d.stray
}
