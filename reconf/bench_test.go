package reconf

import (
	"net/netip"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/leased/leased/lease"
)

// BenchmarkStart100k: selecting and starting a campaign over 100,000 bound
// leases (records included).
func BenchmarkStart100k(b *testing.B) {
	ls := bigLeases(100_000)
	b.ReportAllocs()
	for b.Loop() {
		m := NewManager()
		if _, err := m.Start(t0, Selector{Pool: "big"}, DefaultOptions(), ls); err != nil {
			b.Fatal(err)
		}
		m.Records()
	}
}

// BenchmarkDueSend: one Due call per fake millisecond over a 100,000-client
// backlog at pace 1000/s (one FORCERENEW per call).
func BenchmarkDueSend(b *testing.B) {
	ls := bigLeases(100_000)
	m := NewManager()
	if _, err := m.Start(t0, Selector{}, Options{Attempts: 1, Interval: time.Hour, Pace: 1000}, ls); err != nil {
		b.Fatal(err)
	}
	d := time.Duration(0)
	b.ReportAllocs()
	for b.Loop() {
		d += time.Millisecond
		m.Due(at(d))
		m.Records()
	}
}

// BenchmarkCampaignUnpaced is the manager's part of bench/storms'
// FORCERENEW campaign, per client: an unpaced campaign over 10,000 clients
// whose every FORCERENEW is answered at once by a renewal (REQUEST, then
// ACK, as the server reports them), the records drained and encoded as the
// server stores them (flushRecords). Start and the encoding included.
func BenchmarkCampaignUnpaced(b *testing.B) {
	const n = 10_000
	ls := bigLeases(n)
	var buf []byte
	var recs []Record
	b.ReportAllocs()
	for b.Loop() {
		m := NewManager()
		if _, err := m.Start(t0, Selector{Pool: "big"}, Options{Attempts: 4, Interval: 4 * time.Second}, ls); err != nil {
			b.Fatal(err)
		}
		acts := m.Due(at(time.Millisecond))
		if len(acts) != n {
			b.Fatalf("%d actions, want %d", len(acts), n)
		}
		drain := func() {
			recs = m.AppendRecords(recs[:0])
			for _, r := range recs {
				buf, _ = r.AppendBinary(buf[:0])
			}
		}
		drain()
		for i := range acts {
			a := &acts[i]
			m.Note(at(2*time.Millisecond), Event{Kind: EvRequestRenew, Addr: a.Addr, Key: a.Key})
			m.Note(at(2*time.Millisecond), Event{Kind: EvAck, Addr: a.Addr, Key: a.Key})
			if i%64 == 63 {
				drain() // the server drains at every campaign tick
			}
		}
		drain()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/client")
}

// TestScale100k runs a whole campaign over 100,000 clients (half renew
// after their first FORCERENEW, a quarter after the second, the rest never)
// and reports time, record bytes per client and memory. Set RECONF_SCALE=1
// to run it; it takes a few seconds.
func TestScale100k(t *testing.T) {
	if os.Getenv("RECONF_SCALE") == "" {
		t.Skip("set RECONF_SCALE=1 to run the 100k-client campaign")
	}
	const n = 100_000
	ls := bigLeases(n)
	var ms0, ms1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms0)
	m := NewManager()
	t1 := time.Now()
	st, err := m.Start(t0, Selector{Pool: "big"}, Options{Attempts: 3, Interval: 2 * time.Second, Pace: 5000, OnFailure: Recycle}, ls)
	if err != nil {
		t.Fatal(err)
	}
	startDur := time.Since(t1)
	recs := m.Records()
	runtime.GC()
	runtime.ReadMemStats(&ms1)
	var bytes int
	var buf []byte
	for i := range recs {
		buf, _ = recs[i].AppendBinary(buf[:0])
		bytes += len(buf)
	}
	t.Logf("Start: %v for %d clients; %d records, %.1f bytes/client record at start; manager heap +%.1f MB (%.0f B/client, undrained records included)",
		startDur, n, len(recs), float64(bytes)/float64(len(recs)), float64(ms1.HeapAlloc-ms0.HeapAlloc)/1e6,
		float64(ms1.HeapAlloc-ms0.HeapAlloc)/n)

	t2 := time.Now()
	idx := map[string]int{}
	for i := range ls {
		idx[string(ls[i].ClientID)] = i
	}
	var sends, recycles, nrec int
	var recBytes int
	for d := time.Duration(0); d < 10*time.Minute; d += 10 * time.Millisecond {
		for _, a := range m.Due(at(d)) {
			switch a.Kind {
			case SendForceRenew:
				sends++
				i := idx[string(a.Key)]
				if i%2 == 0 && a.Attempt == 1 || i%4 == 1 && a.Attempt == 2 {
					m.Observe(at(d), Event{Kind: EvRequestRenew, Addr: a.Addr, Key: a.Key})
					m.Observe(at(d), Event{Kind: EvAck, Addr: a.Addr, Key: a.Key})
				}
			case RecycleLease:
				recycles++
			}
		}
		for _, r := range m.Records() {
			buf, _ = r.AppendBinary(buf[:0])
			recBytes += len(buf)
			nrec++
		}
		if s, _ := m.Status(st.ID); s.State != Running {
			t.Logf("campaign done at %v of fake time", d)
			break
		}
	}
	s, _ := m.Status(st.ID)
	t.Logf("run: %v wall; %d FORCERENEW, %d recycles, %d records (%.1f bytes avg) after start; counts %+v",
		time.Since(t2), sends, recycles, nrec, float64(recBytes)/float64(nrec), s.Counts)
	want := Counts{Renewed: n/2 + n/4, NoResponse: n / 4}
	if s.Counts != want || s.State != Done || recycles != n/4 || sends != n+n/2+n/4 {
		t.Errorf("counts %+v state %v recycles %d sends %d; want %+v", s.Counts, s.State, recycles, sends, want)
	}
}

// TestMemPerClient reports the manager's heap per selected client once the
// start records are drained, for a DHCPv4 and a DHCPv6 campaign of 100,000
// clients. Set RECONF_SCALE=1 to run it.
func TestMemPerClient(t *testing.T) {
	if os.Getenv("RECONF_SCALE") == "" {
		t.Skip("set RECONF_SCALE=1 to measure 100k-client campaigns")
	}
	const n = 100_000
	v6 := make([]lease.Lease, n)
	for i := range v6 {
		a := netip.AddrFrom16([16]byte{0xfd, 0x77, 13: byte(i >> 16), 14: byte(i >> 8), 15: byte(i)})
		v6[i] = mkLease6(a.String(), "big6", byte(i), 0, true)
		v6[i].ClientID = append(duid(0), byte(i>>16), byte(i>>8), byte(i))
	}
	for _, c := range []struct {
		name string
		ls   []lease.Lease
		pool string
	}{{"DHCPv4", bigLeases(n), "big"}, {"DHCPv6", v6, "big6"}} {
		var ms0, ms1 runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms0)
		m := NewManager()
		st, err := m.Start(t0, Selector{Pool: c.pool}, Options{Pace: 5000}, c.ls)
		if err != nil || st.Clients != n {
			t.Fatalf("%s: %v %+v", c.name, err, st)
		}
		m.Records()
		runtime.GC()
		runtime.ReadMemStats(&ms1)
		t.Logf("%s: manager heap %.0f B/client after draining the start records", c.name, float64(ms1.HeapAlloc-ms0.HeapAlloc)/n)
		runtime.KeepAlive(m)
	}
}
