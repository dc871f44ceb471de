package e2e

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leased/leased/internal/netns"
)

// TestCrashDurability drives leases at load from many concurrent clients
// over a relay socket in the client namespace, kills leased with SIGKILL
// at random moments (≥5 cycles) and restarts it. After the final restart
// every lease whose DHCPACK the driver received must be in leasectl with
// the same client and an expiry no earlier than that ACK promised
// ("durable before reply"), and no address may be held twice.
func TestCrashDurability(t *testing.T) {
	e := newEnv(t, "ss")
	cfg := defaultConfig()
	cfg.LeaseTime, cfg.T1, cfg.T2 = "10m", "", ""
	cfg.Pools[0].Sections = [][2]string{{"10.77.16.0", "10.77.31.255"}} // 4096
	srv := e.startLeased(cfg)

	relay := netip.MustParseAddr("10.77.0.2")
	e.top.Client.AddAddr(netns.ClientIf, netip.PrefixFrom(relay, 16))
	conn, err := e.top.Client.ListenUDP(netip.AddrPortFrom(relay, 67))
	if err != nil {
		t.Fatal(err)
	}
	d := newRelayDriver(conn, relay, netip.MustParseAddrPort("10.77.0.1:67"))
	go d.readLoop()

	const (
		workers = 32
		clients = 4000 // each worker owns clients w, w+workers, ...
		cycles  = 6
	)
	var (
		mu    sync.Mutex
		acked = map[string]ackRecord{} // by MAC: the client's latest ACK
		naks  atomic.Int64
		fails atomic.Int64
		ops   atomic.Int64
		reb   atomic.Int64 // acknowledged INIT-REBOOTs
	)
	macOf := func(i int) net.HardwareAddr { return net.HardwareAddr{0x02, 0xc7, 0, 0, byte(i >> 8), byte(i)} }

	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 42))
			var mine []int // clients with an ACK
			next := w
			for ctx.Err() == nil {
				var rec ackRecord
				var err error
				if next < clients && (len(mine) == 0 || rng.IntN(8) == 0) {
					// A new client: DORA.
					rec, err = d.dora(ctx, macOf(next), 400*time.Millisecond, 1)
					if err == nil {
						mine = append(mine, next)
						next += workers
					}
				} else if len(mine) > 0 {
					// A known client reboots (INIT-REBOOT): its expiry moves.
					// Only after more than a second, so that losing this
					// ACK's record would leave a visibly older expiry
					// (leasectl shows whole seconds).
					i := mine[rng.IntN(len(mine))]
					mu.Lock()
					prev := acked[macOf(i).String()]
					mu.Unlock()
					if time.Since(prev.Received) < 1100*time.Millisecond {
						time.Sleep(time.Millisecond)
						continue
					}
					rec, err = d.reboot(macOf(i), prev.Addr, 400*time.Millisecond)
					if err == nil {
						reb.Add(1)
					}
				} else {
					time.Sleep(10 * time.Millisecond)
					continue
				}
				ops.Add(1)
				switch {
				case err == nil:
					mu.Lock()
					acked[rec.MAC.String()] = rec
					mu.Unlock()
				case errors.Is(err, errNAK):
					naks.Add(1)
				default:
					fails.Add(1) // no reply: leased down or killed mid-exchange
				}
			}
		}(w)
	}
	stopDriver := func() {
		stop()
		wg.Wait()
	}
	defer stopDriver()

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	for c := 0; c < cycles; c++ {
		time.Sleep(time.Duration(300+rng.IntN(1200)) * time.Millisecond)
		mu.Lock()
		before := len(acked)
		mu.Unlock()
		srv.Kill9()
		t.Logf("cycle %d: SIGKILL with %d clients acknowledged, %d operations so far", c+1, before, ops.Load())
		time.Sleep(time.Duration(rng.IntN(300)) * time.Millisecond)
		srv.Start()
	}
	// Some load on the final instance, then stop the driver.
	time.Sleep(500 * time.Millisecond)
	stopDriver()

	ls := srv.Leases()
	e.checkUnique(ls)
	byAddr := map[netip.Addr]LeaseJSON{}
	for _, x := range ls {
		byAddr[x.Address] = x
	}
	mu.Lock()
	defer mu.Unlock()
	holder := map[netip.Addr]string{}
	var missing, wrong, early []string
	for mac, rec := range acked {
		if h, dup := holder[rec.Addr]; dup {
			e.fatalf("driver received ACKs for %v to two clients: %s and %s", rec.Addr, h, mac)
		}
		holder[rec.Addr] = mac
		x, ok := byAddr[rec.Addr]
		switch {
		case !ok:
			missing = append(missing, rec.Addr.String()+" "+mac)
		case !strings.EqualFold(x.HWAddr, mac) || x.State != "bound":
			wrong = append(wrong, rec.Addr.String()+" acked to "+mac+", stored "+x.HWAddr+" "+x.State)
		case x.Expires.Before(rec.Sent.Add(rec.Lease).Truncate(time.Second)):
			// The ACK promised at least Sent+lease (leasectl shows whole
			// seconds); an earlier stored expiry means an older record
			// survived, not the acknowledged one.
			early = append(early, rec.Addr.String()+" stored "+x.Expires.Format(time.RFC3339Nano)+
				" < acked "+rec.Sent.Add(rec.Lease).Format(time.RFC3339Nano))
		}
	}
	bad, stray := d.counters()
	t.Logf("%d cycles: %d operations, %d clients acknowledged (%d INIT-REBOOT ACKs), %d NAKs, %d without reply, %d unparsable, %d stray replies; leasectl %d records (%d bound)",
		cycles, ops.Load(), len(acked), reb.Load(), naks.Load(), fails.Load(), bad, stray, len(ls), countState(ls, "bound"))
	if len(acked) < 200 {
		e.fatalf("only %d clients acknowledged: the load was too low to test anything", len(acked))
	}
	if len(missing)+len(wrong)+len(early) > 0 {
		e.fatalf("acknowledged leases lost after kill -9: %d missing %v, %d with another client/state %v, %d with an older expiry %v",
			len(missing), first(missing, 10), len(wrong), first(wrong, 10), len(early), first(early, 10))
	}
}

func first(s []string, n int) []string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
