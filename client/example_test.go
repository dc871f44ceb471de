package client_test

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/leased/leased/client"
	"github.com/leased/leased/dhcpv4"
	"github.com/leased/leased/dhcpv6"
)

// A DHCPv4 client behind a relay: start a DORA, decode what it sends.
// Replies are fed back with Handle; timers fire through Deadline/Timer.
func Example() {
	var e client.Env
	e.GIAddr = netip.MustParseAddr("192.0.2.1") // the clients sit behind this relay
	c := client.New([6]byte{0x02, 0, 0, 0, 0, 1}, true)
	now := time.Unix(1_700_000_000, 0)

	out := c.Discover(&e, now) // send out.Packet to out.Dest
	var m dhcpv4.Message
	if err := m.Decode(out.Packet); err != nil {
		panic(err)
	}
	fmt.Println(c.State(), m.Type(), m.GIAddr)

	// For every reply addressed to c: decode it into m, then
	//	out, err = c.Handle(&e, now, &m)
	// and whenever the clock passes c.Deadline(&e):
	if d := c.Deadline(&e); d != 0 {
		out = c.Timer(&e, time.Unix(0, d)) // no OFFER came: DISCOVER again
	}
	fmt.Println(c.State(), c.Tries(), out.Dest == client.DestBroadcast)
	// Output:
	// SELECTING DISCOVER 192.0.2.1
	// SELECTING 2 true
}

// The DHCPv6 client (RFC 8415) has the same shape: New6, Solicit, Handle,
// Deadline, Timer.
func Example_v6() {
	var e client.Env6
	c := client.New6([6]byte{0x02, 0, 0, 0, 0, 2}, 0)
	out := c.Solicit(&e, time.Unix(1_700_000_000, 0))
	var m dhcpv6.Message
	if err := m.Decode(out.Packet); err != nil {
		panic(err)
	}
	fmt.Println(c.State(), m.Type)
	// Output: SOLICITING SOLICIT
}
