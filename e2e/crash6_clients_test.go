package e2e

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	v6client "github.com/leased/leased/client"
	"github.com/leased/leased/dhcpv6"
	"github.com/leased/leased/internal/netns"
)

// TestCrash6Clients is TestCrashDurability for DHCPv6, per client: 32
// goroutines, each a relay agent (RFC 8415 §19.1.1, Relay Source Port
// option RFC 8357) on its own UDP port of fd77::2 in the client namespace,
// drive v6client.Client6 machines through Solicit→Advertise→Request→Reply
// (some with Rapid Commit, half also asking for a prefix) and Renew,
// while leased is killed with SIGKILL at random moments 6 times and
// restarted. Every Reply that bound or renewed an address or prefix is
// recorded (DUID, IAID, binding, end of the valid lifetime counted from
// the client's transmission). Afterwards `leasectl leases --json` must
// show each recorded binding bound for that DUID/IAID with an expiry no
// earlier than the Reply promised ("durable before Reply"), and no
// address or prefix for two DUIDs. A Renew of a recorded binding that is
// answered NoBinding, lifetime 0 or with another address means the
// binding was lost in a crash: that fails too.
func TestCrash6Clients(t *testing.T) {
	e := newEnv(t, "ss")
	cfg := defaultConfig6()
	cfg.Preferred, cfg.Valid, cfg.T1, cfg.T2 = "10m", "20m", "", ""
	srv := e.startLeased6(cfg)

	const (
		workers = 32
		clients = 8192 // worker w owns clients w, w+workers, ...
		cycles  = 6
		wait    = 400 * time.Millisecond // per message, no retransmission
	)
	// The relay agents sit in the client namespace at fd77::2 (leased
	// drops what arrives on interfaces it does not serve, such as lo) and
	// use it as link-address, which selects office6 (fd77::/64).
	link := netip.MustParseAddr("fd77::2")
	e.top.Client.AddAddr(netns.ClientIf, netip.PrefixFrom(link, 64))
	server := netip.AddrPortFrom(netns.ServerPrefix6.Addr(), 547)

	var (
		mu         sync.Mutex
		recs       = map[bindKey6]bindRec6{} // latest Reply per DUID/IAID
		violations []string
		ops, fails atomic.Int64
		renews     atomic.Int64
		noaddrs    atomic.Int64
	)
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for w := range workers {
		conn, err := e.top.Client.ListenUDP(netip.AddrPortFrom(link, 0))
		if err != nil {
			t.Fatal(err)
		}
		flags := v6client.V6IANA | v6client.V6ReconfAccept
		if w%2 == 1 {
			flags |= v6client.V6IAPD
		}
		if w%4 == 3 {
			flags |= v6client.V6RapidCommit
		}
		d := &relay6Driver{conn: conn, server: net.UDPAddrFromAddrPort(server), wait: wait, buf: make([]byte, 1500)}
		d.env.Relay = v6client.Relay6{LinkAddr: link, InterfaceID: fmt.Appendf(nil, "crash%d", w), SourcePort: true}
		d.env.Seed = uint64(w)<<40 | uint64(time.Now().UnixNano())&0xffffffffff
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 6))
			var mine []*v6client.Client6 // clients with a recorded Reply
			last := map[*v6client.Client6]time.Time{}
			next := w
			for ctx.Err() == nil {
				var c *v6client.Client6
				renew := false
				switch {
				case next < clients && (len(mine) == 0 || rng.IntN(40) == 0):
					// A new client (spread over the whole run, so that
					// Requests as well as Renews meet the kills).
					cl := v6client.New6(v6client.HWAddrFor(uint32(next), 0x6c), flags)
					c = &cl
				case len(mine) > 0:
					// A Renew only more than a second after the client's
					// last Reply, so that losing this one would leave a
					// visibly older expiry (leasectl shows whole seconds).
					c = mine[rng.IntN(len(mine))]
					if time.Since(last[c]) < 1100*time.Millisecond {
						time.Sleep(time.Millisecond)
						continue
					}
					renew = true
				default:
					time.Sleep(10 * time.Millisecond)
					continue
				}
				ops.Add(1)
				ev, err := d.exchange(c, renew)
				now := time.Now()
				duid := hex.EncodeToString(c.DUID(nil))
				switch {
				case err != nil:
					fails.Add(1) // no Reply: leased down or killed mid-exchange
					continue
				case ev == v6client.Ev6NoAddrs:
					noaddrs.Add(1)
					continue
				case renew && (ev == v6client.Ev6NoBinding || ev == v6client.Ev6Dropped):
					mu.Lock()
					violations = append(violations, fmt.Sprintf("Renew of %s answered %v: its recorded bindings were lost", duid, ev))
					mu.Unlock()
					continue
				case ev != v6client.Ev6Bound && ev != v6client.Ev6Renewed:
					fails.Add(1)
					continue
				}
				_, _, exp := c.Times()
				got := map[uint32]netip.Prefix{}
				if a := c.Addr(); a.IsValid() {
					got[v6client.IAIDNA] = netip.PrefixFrom(a, 128)
				}
				if p := c.Prefix(); p.IsValid() {
					got[v6client.IAIDPD] = p
				}
				mu.Lock()
				for _, iaid := range []uint32{v6client.IAIDNA, v6client.IAIDPD} {
					k := bindKey6{duid, iaid}
					prev, had := recs[k]
					p, ok := got[iaid]
					if renew && had && p != prev.P {
						violations = append(violations, fmt.Sprintf("Renew of %s IAID %d: Reply has %v, the earlier Reply bound %v", duid, iaid, p, prev.P))
					}
					if ok {
						recs[k] = bindRec6{P: p, Expiry: exp, Received: now}
					}
				}
				mu.Unlock()
				if renew {
					renews.Add(1)
				} else {
					mine = append(mine, c)
					next += workers
				}
				last[c] = now
			}
		}(w)
	}
	stopDriver := func() {
		stop()
		wg.Wait()
	}
	defer stopDriver()

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 8))
	for c := range cycles {
		time.Sleep(time.Duration(300+rng.IntN(1200)) * time.Millisecond)
		mu.Lock()
		before := len(recs)
		mu.Unlock()
		srv.Kill9()
		t.Logf("cycle %d: SIGKILL with %d bindings recorded, %d exchanges so far", c+1, before, ops.Load())
		time.Sleep(time.Duration(rng.IntN(300)) * time.Millisecond)
		srv.Start6()
	}
	// Some load on the final instance, then stop the clients.
	time.Sleep(500 * time.Millisecond)
	stopDriver()

	ls := srv.Leases6()
	e.checkUnique6(ls)
	stored := map[bindKey6][]Lease6JSON{}
	for _, x := range ls {
		if x.IAID != nil {
			k := bindKey6{x.DUID, *x.IAID}
			stored[k] = append(stored[k], x)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	holder := map[netip.Prefix]string{}
	var missing, early []string
	keys := make([]bindKey6, 0, len(recs))
	for k := range recs {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		return keys[i].DUID+fmt.Sprint(keys[i].IAID) < keys[j].DUID+fmt.Sprint(keys[j].IAID)
	})
	for _, k := range keys {
		rec := recs[k]
		if h, dup := holder[rec.P]; dup {
			violations = append(violations, fmt.Sprintf("Replies bound %v to two clients: %s and %s", rec.P, h, k.DUID))
		}
		holder[rec.P] = k.DUID
		var match *Lease6JSON
		for i, x := range stored[k] {
			if x.Prefix() == rec.P && x.State == "bound" {
				match = &stored[k][i]
			}
		}
		switch {
		case match == nil:
			missing = append(missing, fmt.Sprintf("%v for %s IAID %d (stored: %v)", rec.P, k.DUID, k.IAID, stored[k]))
		case match.Expires.Before(rec.Expiry.Truncate(time.Second)):
			// The Reply promised at least the client's transmission time
			// plus the valid lifetime (leasectl shows whole seconds): an
			// earlier stored expiry means an older record survived.
			early = append(early, fmt.Sprintf("%v for %s stored %s < replied %s", rec.P, k.DUID,
				match.Expires.Format(time.RFC3339Nano), rec.Expiry.Format(time.RFC3339Nano)))
		}
	}
	pds := 0
	for k := range recs {
		if k.IAID == v6client.IAIDPD {
			pds++
		}
	}
	t.Logf("%d cycles: %d exchanges, %d bindings recorded (%d prefixes), %d renewed, %d without Reply, %d NoAddrsAvail; leasectl %d v6 records",
		cycles, ops.Load(), len(recs), pds, renews.Load(), fails.Load(), noaddrs.Load(), len(ls))
	if len(recs) < 200 || pds < 50 || renews.Load() < 50 {
		e.fatalf("only %d bindings (%d prefixes) and %d Renews recorded: the load was too low to test anything", len(recs), pds, renews.Load())
	}
	if len(missing)+len(early)+len(violations) > 0 {
		e.fatalf("replied bindings lost after kill -9: %d missing %v, %d with an older expiry %v, %d other %v",
			len(missing), first(missing, 10), len(early), first(early, 10), len(violations), first(violations, 10))
	}
}

type bindKey6 struct {
	DUID string
	IAID uint32
}

type bindRec6 struct {
	P        netip.Prefix // /128 for an IA_NA address
	Expiry   time.Time    // end of the valid lifetime the Reply gave
	Received time.Time
}

// relay6Driver runs one client exchange at a time as a relay agent on its
// own socket: Relay-forward to leased, Relay-reply back to this port
// (RFC 8357 Relay Source Port).
type relay6Driver struct {
	conn   *net.UDPConn
	server *net.UDPAddr
	env    v6client.Env6
	wait   time.Duration
	buf    []byte
	msg    dhcpv6.Message
}

var errNoReply6 = errors.New("no reply")

// exchange runs a Solicit (…Advertise, Request) or a Renew of c to its
// end: the event of the Reply, or errNoReply6 when a message went
// unanswered for d.wait.
func (d *relay6Driver) exchange(c *v6client.Client6, renew bool) (v6client.Event6, error) {
	now := time.Now()
	var out v6client.Out6
	if renew {
		out = c.Renew(&d.env, now)
	} else {
		out = c.Solicit(&d.env, now)
	}
	for {
		if out.Packet == nil {
			return v6client.Ev6None, errors.New("client had nothing to send")
		}
		if _, err := d.conn.WriteToUDP(out.Packet, d.server); err != nil {
			return v6client.Ev6None, err
		}
		deadline := time.Now().Add(d.wait)
		var ev v6client.Event6
		for {
			_ = d.conn.SetReadDeadline(deadline)
			n, err := d.conn.Read(d.buf)
			if err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					return v6client.Ev6None, errNoReply6
				}
				if time.Now().After(deadline) {
					return v6client.Ev6None, err
				}
				continue // e.g. ICMP unreachable while leased is down
			}
			if d.msg.Decode(d.buf[:n]) != nil || len(d.msg.Relays()) == 0 || d.msg.Relays()[0].Type != dhcpv6.RelayReply {
				continue
			}
			o, err := c.Handle(&d.env, time.Now(), &d.msg)
			if err != nil {
				continue // a late answer to an earlier exchange
			}
			out, ev = o, o.Event
			break
		}
		switch ev {
		case v6client.Ev6Advertise:
			continue // out is the Request
		case v6client.Ev6Status:
			return ev, errors.New("error status")
		}
		return ev, nil
	}
}
