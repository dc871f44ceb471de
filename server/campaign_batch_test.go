package server

import (
	"context"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leased/leased/lease"
	"github.com/leased/leased/reconf"
	"github.com/leased/leased/store/wal"
)

// flakyWAL is the WAL whose lease commits fail while fail is set.
type flakyWAL struct {
	*wal.WAL
	fail *atomic.Bool
}

func (f flakyWAL) Commit(ctx context.Context, recs []lease.Lease) error {
	if f.fail.Load() {
		return errDisk
	}
	return f.WAL.Commit(ctx, recs)
}

// TestForceRenewBatch: a campaign's FORCERENEWs to several clients are
// handled together — when the commit of their replay values fails, every
// decision is reverted and nothing is sent (RFC 3118 §2: durable before
// use); when it succeeds each client gets one FORCERENEW that verifies,
// with a replay value above the one before, all in one sendmmsg call, and
// the values are in the WAL.
func TestForceRenewBatch(t *testing.T) {
	var fail atomic.Bool
	dir := t.TempDir()
	n := newSimNetWith(t, dir, campConfig(), CampaignConfig{}, nil, func(o *Options) {
		o.Store = flakyWAL{WAL: o.Store.(*wal.WAL), fail: &fail}
	})
	cs := n.bind(5, 0)
	n.setSilent(true, cs...) // no renewal after the FORCERENEW: only the replay value changes
	addrs := make([]netip.Addr, len(cs))
	before := map[netip.Addr]uint64{}
	for i, c := range cs {
		addrs[i] = c.addr
		l, ok := n.eng.Lookup(c.addr)
		if !ok || len(l.ReconfKey) == 0 {
			t.Fatalf("client %v: lease %+v, want a bound lease with an RFC 6704 key", c.addr, l)
		}
		before[c.addr] = l.ReplayCounter
	}
	ctx := context.Background()

	fail.Store(true)
	n.s.forceRenewBatch(ctx, addrs)
	fail.Store(false)
	if got := counterValue(n.s.m.forceRenewFailed.WithLabelValues(frCommit)); got != float64(len(cs)) {
		t.Errorf("forcerenew failed{commit_error} = %v, want %d", got, len(cs))
	}
	for _, c := range cs {
		if l, _ := n.eng.Lookup(c.addr); l.ReplayCounter != before[c.addr] {
			t.Errorf("client %v: replay value %d after a failed commit, want it reverted to %d", c.addr, l.ReplayCounter, before[c.addr])
		}
	}
	time.Sleep(200 * time.Millisecond) // a FORCERENEW on loopback arrives in far less
	for _, c := range cs {
		if got := n.get(c).frs; got != 0 {
			t.Fatalf("client %v got %d FORCERENEWs although the commit failed", c.addr, got)
		}
	}

	n.s.forceRenewBatch(ctx, addrs)
	waitFor(t, "every client's FORCERENEW", func() bool {
		for _, c := range cs {
			if n.get(c).frs != 1 {
				return false
			}
		}
		return true
	})
	if b := n.bad.Load(); b != 0 {
		t.Fatalf("%d FORCERENEWs did not verify", b)
	}
	if got := n.s.camp.sender.calls.Load(); got != 1 {
		t.Errorf("%d FORCERENEWs took %d sendmmsg calls, want 1", len(cs), got)
	}
	waitFor(t, "sent counter", func() bool { return counterValue(n.s.m.forceRenewSent) == float64(len(cs)) })
	for _, c := range cs {
		if v := n.get(c).last; v <= before[c.addr] {
			t.Errorf("client %v: replay value %d, not above %d", c.addr, v, before[c.addr])
		}
	}
	n.stop()
	ls, _ := reopenWAL(t, dir)
	for _, c := range cs {
		if l := ls[c.addr]; l.ReplayCounter != n.get(c).last {
			t.Errorf("client %v: WAL replay value %d, the client verified %d", c.addr, l.ReplayCounter, n.get(c).last)
		}
	}
}

// TestCampaignDefersCompaction: while a campaign runs, the commits that
// would start a compaction (every CompactEvery records) do not, up to
// campaignCompactFactor × CompactEvery; once the campaign has ended, the
// compaction that waited runs.
func TestCampaignDefersCompaction(t *testing.T) {
	dir := t.TempDir()
	const every = 6
	n := newSimNetWith(t, dir, campConfig(), CampaignConfig{}, nil, func(o *Options) { o.CompactEvery = every })
	compactions := func() float64 { return counter(t, n.s.Registry(), "leased_store_compactions_total", "ok") }
	cs := n.bind(2, 0)
	n.setSilent(true, cs...)
	waitFor(t, "no compaction in progress", func() bool { return !n.s.compacting.Load() })
	// A campaign that runs ~0.7 s: two silent clients, 3 attempts from
	// 100 ms doubling.
	st, err := n.s.StartCampaign(context.Background(), reconf.Selector{Pool: "loop"}, fast())
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "no compaction in progress", func() bool { return !n.s.compacting.Load() })
	c0 := compactions()
	// More than every records while it runs: DORAs of other clients.
	n.bind(2*every, 100)
	if s, _ := n.s.Campaign(st.ID); s.State != reconf.Running {
		t.Fatalf("campaign ended before the check (%v): make it longer", s.State)
	}
	// A compaction is started (compacting set) before the commit that
	// triggers it returns, i.e. before the ACK: wait for it to end.
	waitFor(t, "no compaction in progress", func() bool { return !n.s.compacting.Load() })
	if c := compactions(); c != c0 {
		t.Fatalf("%v compactions while the campaign ran", c-c0)
	}
	if end := n.waitDone(st.ID, 5*time.Second); end.Counts.NoResponse != 2 {
		t.Fatalf("campaign ended with %+v", end.Counts)
	}
	waitFor(t, "the deferred compaction", func() bool { return compactions() > c0 })
}

// TestRcvQueued: the receive-queue size the campaign's backpressure reads
// (SO_MEMINFO) grows with unread datagrams and is 0 once they are read.
func TestRcvQueued(t *testing.T) {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	if n := rcvQueued(rc); n != 0 {
		t.Fatalf("empty queue: %d bytes", n)
	}
	for range 3 {
		if _, err := c.WriteToUDPAddrPort(make([]byte, 300), c.LocalAddr().(*net.UDPAddr).AddrPort()); err != nil {
			t.Fatal(err)
		}
	}
	if n := rcvQueued(rc); n < 900 {
		t.Fatalf("3 datagrams of 300 bytes queued: %d bytes", n)
	}
	buf := make([]byte, 1500)
	_ = c.SetReadDeadline(time.Now().Add(time.Second))
	for range 3 {
		if _, _, err := c.ReadFromUDPAddrPort(buf); err != nil {
			t.Fatal(err)
		}
	}
	if n := rcvQueued(rc); n != 0 {
		t.Fatalf("after reading them: %d bytes", n)
	}
}
