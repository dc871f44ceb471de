package reconf

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/leased/leased/lease"
)

// roundTrip encodes and decodes every record, as a store would.
func roundTrip(t testing.TB, recs []Record) []Record {
	t.Helper()
	out := make([]Record, len(recs))
	for i := range recs {
		b, err := recs[i].MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if err := out[i].UnmarshalBinary(b); err != nil {
			t.Fatalf("record %d (% x): %v", i, b, err)
		}
		b2, _ := out[i].MarshalBinary()
		if !bytes.Equal(b, b2) {
			t.Fatalf("record %d re-encodes differently:\n% x\n% x", i, b, b2)
		}
	}
	return out
}

func statusCmp() cmp.Option {
	return cmp.Options{
		cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) }),
		cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
	}
}

func TestRecordRoundTrip(t *testing.T) {
	one := 1
	m := NewManager()
	o := Options{Attempts: 5, Interval: 1500 * time.Millisecond, Pace: 77, OnFailure: Recycle, ForceNAK: true,
		RecycleNotCapable: true, Pools: map[string]Override{
			"office": {Attempts: ptr(2), Interval: ptr(time.Second), Pace: ptr(0), OnFailure: ptr(Delete),
				ForceNAK: ptr(false), RecycleNotCapable: ptr(false), AssumeCapable: ptr(true)},
			"lab": {Pace: ptr(9)},
		}}
	st := start(t, m, t0, Selector{Pool: "office", Section: &one, From: ip("10.0.1.10"), To: ip("10.0.1.15")}, o, fixture())
	m.Due(t0)
	m.Observe(at(time.Second), Event{Kind: EvNak, Addr: ip("10.0.1.10"), Key: key("10.0.1.10")})
	recs := m.Records()
	if len(recs) < 8 {
		t.Fatalf("%d records", len(recs))
	}
	got := roundTrip(t, recs)
	for i := range recs {
		if d := cmp.Diff(recs[i], got[i], cmp.AllowUnexported(Record{}, header{}, client{}), statusCmp()); d != "" {
			t.Fatalf("record %d (-orig +decoded):\n%s", i, d)
		}
	}
	m2 := NewManager()
	if err := m2.Restore(got, at(time.Second), true); err != nil {
		t.Fatal(err)
	}
	a, _ := m.Status(st.ID)
	b, _ := m2.Status(st.ID)
	if d := cmp.Diff(a, b, statusCmp()); d != "" {
		t.Errorf("status after restore (-before +after):\n%s", d)
	}
}

func TestRecordSize(t *testing.T) {
	cl := client{key: string(key("10.0.0.1")), addr: a16(ip("10.0.0.1")), when: t0.UnixNano(), next: t0.Add(4 * time.Second).UnixNano(),
		phase: phSend, sent: 2, capable: true, last: EvForceRenew}
	r := Record{kind: recClient, camp: 12, cl: cl}
	b, _ := r.MarshalBinary()
	if len(b) > 29 {
		t.Errorf("client record %d bytes, want <= 29", len(b))
	}
	t.Logf("client record: %d bytes", len(b))
}

func TestUnmarshalErrors(t *testing.T) {
	m := NewManager()
	start(t, m, t0, Selector{Pool: "lab"}, DefaultOptions(), fixture())
	recs := m.Records()
	hdr, _ := recs[0].MarshalBinary()
	cl, _ := recs[1].MarshalBinary()
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"version", append([]byte{3}, hdr[1:]...)},
		{"version 0", append([]byte{0}, hdr[1:]...)},
		{"kind", []byte{1, 9, 1}},
		{"truncated header", hdr[:len(hdr)-1]},
		{"truncated client", cl[:len(cl)-1]},
		{"trailing", append(bytes.Clone(cl), 0)},
		{"outcome", func() []byte { b := bytes.Clone(cl); b[len(b)-10] = 200; return b }()},
	} {
		var r Record
		if err := r.UnmarshalBinary(tc.b); !errors.Is(err, ErrRecord) {
			t.Errorf("%s: %v, want ErrRecord", tc.name, err)
		}
	}
}

// run drives a campaign of n capable clients in pool "big" for d, ticking
// every 10 ms; every second client renews after its first FORCERENEW.
func bigLeases(n int) []lease.Lease {
	ls := make([]lease.Lease, n)
	for i := range ls {
		ls[i] = mkLease(fmt.Sprintf("10.%d.%d.%d", 16+i>>16, i>>8&255, i&255), "big", i%4, true)
	}
	return ls
}

func TestRestore(t *testing.T) {
	ls := bigLeases(40)
	o := Options{Attempts: 3, Interval: 2 * time.Second, Pace: 10, OnFailure: Delete}
	// Before the restart: 1 s of sends (10 clients), 2 answered.
	m := NewManager()
	st := start(t, m, t0, Selector{Pool: "big"}, o, ls)
	for d := time.Duration(0); d < time.Second; d += 50 * time.Millisecond {
		m.Due(at(d))
	}
	m.Observe(at(time.Second), Event{Kind: EvAck, Addr: ls[0].Addr, Key: ls[0].ClientID})
	m.Observe(at(time.Second), Event{Kind: EvNak, Addr: ls[1].Addr, Key: ls[1].ClientID})
	stored := roundTrip(t, m.Records())
	before, _ := m.Status(st.ID)
	if before.Sent != 10 || before.Counts.Renewed != 1 {
		t.Fatalf("before restart %+v", before)
	}
	restartAt := at(3 * time.Second)

	t.Run("resume", func(t *testing.T) {
		m2 := NewManager()
		if err := m2.Restore(stored, restartAt, true); err != nil {
			t.Fatal(err)
		}
		after, _ := m2.Status(st.ID)
		if d := cmp.Diff(before, after, statusCmp()); d != "" {
			t.Errorf("status (-before +after restore):\n%s", d)
		}
		if p := progress(t, m2, st.ID, ls[1].Addr.String()); p.Outcome != Pending || p.Last != EvNak {
			t.Errorf("NAKed client after restore: %+v", p)
		}
		// Still one campaign per pool; the same command is still idempotent.
		if again, err := m2.Start(restartAt, Selector{Pool: "big"}, o, ls); err != nil || again.ID != st.ID {
			t.Errorf("repeat start after restore: %v %v", again, err)
		}
		if id, _ := m2.Start(restartAt, Selector{Pool: "lab"}, o, fixture()); id == nil || id.ID != st.ID+1 {
			t.Errorf("next campaign id %+v, want %d", id, st.ID+1)
		}
		// The 30 untried clients (due since t0) go first, then the second
		// attempts, all within the pace; every client ends counted.
		sent := map[int]int{}
		for d := 3 * time.Second; d < 2*time.Minute; d += 50 * time.Millisecond {
			for _, a := range m2.Due(at(d)) {
				if a.Kind == SendForceRenew && a.Campaign == st.ID {
					sent[a.Attempt]++
				}
			}
		}
		if sent[1] != 30 || sent[2] != 38 || sent[3] != 38 {
			t.Errorf("attempts sent after restart: %v, want 30 first, 38 second and third", sent)
		}
		end, _ := m2.Status(st.ID)
		if end.State != Done || end.Counts.NoResponse != 39 || end.Counts.Renewed != 1 || end.Counts.Pending != 0 {
			t.Errorf("end %+v", end)
		}
	})
	t.Run("halt", func(t *testing.T) {
		m2 := NewManager()
		if err := m2.Restore(stored, restartAt, false); err != nil {
			t.Fatal(err)
		}
		s, _ := m2.Status(st.ID)
		if s.State != Halted || s.Counts.Aborted != 39 || s.Counts.Renewed != 1 || !s.Ended.Equal(restartAt) {
			t.Errorf("halted status %+v", s)
		}
		if as := m2.Due(at(time.Hour)); len(as) != 0 {
			t.Errorf("a halted campaign acts: %+v", as)
		}
		// The halt is itself persisted: replaying everything gives halted.
		m3 := NewManager()
		if err := m3.Restore(append(stored, roundTrip(t, m2.Records())...), at(time.Hour), true); err != nil {
			t.Fatal(err)
		}
		if s3, _ := m3.Status(st.ID); s3.State != Halted || s3.Counts != s.Counts {
			t.Errorf("replayed halt %+v", s3)
		}
		if _, err := m2.Start(restartAt, Selector{Pool: "big"}, o, ls); err != nil {
			t.Errorf("a halted campaign blocks its pool: %v", err)
		}
	})
	t.Run("snapshot", func(t *testing.T) {
		m2 := NewManager()
		if err := m2.Restore(roundTrip(t, m.Snapshot()), restartAt, true); err != nil {
			t.Fatal(err)
		}
		a, _ := m.Clients(st.ID, ClientFilter{})
		b, _ := m2.Clients(st.ID, ClientFilter{})
		if d := cmp.Diff(a, b, statusCmp()); d != "" {
			t.Errorf("clients from snapshot (-live +restored):\n%s", d)
		}
	})
	t.Run("forget and bad records", func(t *testing.T) {
		m2 := NewManager()
		start(t, m2, t0, Selector{Pool: "lab"}, Options{Attempts: 1, Interval: time.Second}, fixture())
		m2.Due(t0)
		m2.Due(at(2 * time.Second))
		if err := m2.Forget(1); err != nil {
			t.Fatal(err)
		}
		recs := roundTrip(t, m2.Records())
		orphan := Record{kind: recClient, camp: 77, cl: client{addr: a16(ip("0.0.0.1")), outcome: Renewed, when: t0.UnixNano()}}
		m3 := NewManager()
		err := m3.Restore(append(recs, orphan), t0, true)
		if err == nil || len(m3.List()) != 0 {
			t.Errorf("Restore = %v, %d campaigns; want an error for the orphan and nothing restored", err, len(m3.List()))
		}
	})
}

// FuzzUnmarshal: any bytes either fail with ErrRecord or decode to a record
// that re-encodes to exactly the same bytes; restoring decoded records
// never panics.
func FuzzUnmarshal(f *testing.F) {
	m := NewManager()
	one := 1
	start(&testing.T{}, m, t0, Selector{Pool: "office", Section: &one, From: ip("10.0.1.10"), To: ip("10.0.1.13")},
		Options{Pace: 3, Pools: map[string]Override{"office": {Attempts: ptr(2), ForceNAK: ptr(true)}}}, fixture())
	m.Due(t0)
	m.Observe(t0, Event{Kind: EvNak, Key: key("10.0.1.10")})
	m.Forget(99)
	start(&testing.T{}, m, t0, Selector{Client: "02:00:0a:01:00:05"}, DefaultOptions(), fixture())
	start(&testing.T{}, m, t0, Selector{Pool: "office6", From: ip("fd77::1:1"), To: ip("fd77:ffff::")},
		Options{ReconfMsg: ReconfRebind, Pools: map[string]Override{"office6": {ReconfMsg: ptr(ReconfInformationRequest)}}}, fixture6()) // DHCPv6 client with a prefix in More
	m.Due(t0)
	for _, r := range m.Records() {
		b, _ := r.MarshalBinary()
		f.Add(b)
	}
	f.Add([]byte{1, 3, 5})                 // forget campaign 5
	f.Add([]byte{1, 2, 1, 10, 0, 0, 1, 0}) // truncated client
	f.Fuzz(func(t *testing.T, b []byte) {
		var r Record
		if err := r.UnmarshalBinary(b); err != nil {
			if !errors.Is(err, ErrRecord) {
				t.Fatalf("error %v is not ErrRecord", err)
			}
			return
		}
		b2, err := r.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var r2 Record
		if err := r2.UnmarshalBinary(b2); err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if b3, _ := r2.MarshalBinary(); !bytes.Equal(b2, b3) {
			t.Fatalf("not stable:\n% x\n% x", b2, b3)
		}
		m := NewManager()
		_ = m.Restore([]Record{r}, t0, true)
		m.Due(at(time.Minute))
		m.NextWake(t0)
		m.List()
	})
}

func TestRestoreFinishedWithPendingClient(t *testing.T) {
	m := NewManager()
	st := start(t, m, t0, Selector{Client: "10.1.0.5"}, DefaultOptions(), fixture())
	recs := m.Records() // header (running) + pending client
	m.Stop(at(time.Second), st.ID)
	stopped := m.Records()
	// Keep the stopped header but lose the client's aborted record.
	var hdr Record
	for _, r := range stopped {
		if _, a, _ := r.Key(); !a.IsValid() {
			hdr = r
		}
	}
	m2 := NewManager()
	if err := m2.Restore(roundTrip(t, append(recs, hdr)), at(time.Minute), true); err != nil {
		t.Fatal(err)
	}
	s, _ := m2.Status(st.ID)
	if s.State != Stopped || s.Counts.Pending != 0 || s.Counts.Aborted != 1 {
		t.Errorf("status %+v", s)
	}
}
