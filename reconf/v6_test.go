package reconf

import (
	"encoding/hex"
	"errors"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/leased/leased/lease"
)

// duid is the DUID-LL of DHCPv6 test client n.
func duid(n byte) []byte { return []byte{0, 3, 0, 1, 2, 0, 0, 0, 0, n} }

// mkLease6 is a bound DHCPv6 binding: an IA_NA address (plen 0) or a
// delegated prefix, capable when it holds a reconfigure key.
func mkLease6(addr, pool string, client byte, plen uint8, capable bool) lease.Lease {
	l := lease.Lease{
		Addr: netip.MustParseAddr(addr), PrefixLen: plen, IAID: uint32(client), ClientID: duid(client), Pool: pool,
		State: lease.StateBound, Start: t0.Add(-time.Minute), Expiry: t0.Add(time.Hour),
		Preferred: t0.Add(30 * time.Minute), XID: 9,
	}
	if capable {
		l.ForceRenewNonceCapable = true
		l.ReconfKey = make([]byte, 16)
	}
	return l
}

// fixture6 is the DHCPv4 fixture plus pool office6: clients 1-3 with an
// IA_NA address (1 also with a delegated /56), client 4 without a key
// (dhclient -6, systemd-networkd), client 5 with only a prefix; pool lab6
// with client 6; and bindings that must never be selected.
func fixture6() []lease.Lease {
	ls := fixture()
	ls = append(ls,
		mkLease6("fd77:100:0:100::", "office6", 1, 56, true),
		mkLease6("fd77::1:1", "office6", 1, 0, true),
		mkLease6("fd77::1:2", "office6", 2, 0, true),
		mkLease6("fd77::1:3", "office6", 3, 0, true),
		mkLease6("fd77::1:4", "office6", 4, 0, false),
		mkLease6("fd77:100:0:500::", "office6", 5, 56, true),
		mkLease6("fd78::1:6", "lab6", 6, 0, true),
	)
	rel := mkLease6("fd77::1:9", "office6", 9, 0, true)
	rel.State = lease.StateReleased
	old := mkLease6("fd77::1:10", "office6", 10, 0, true)
	old.Expiry = t0
	return append(ls, rel, old)
}

func addrsOf(cs []ClientProgress) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Addr.String())
	}
	return out
}

func TestSelect6(t *testing.T) {
	cases := []struct {
		name  string
		sel   Selector
		addrs []string
		pools []string
	}{
		{"pool", Selector{Pool: "office6"}, []string{"fd77::1:1", "fd77::1:2", "fd77::1:3", "fd77::1:4", "fd77:100:0:500::"}, []string{"office6"}},
		{"prefix pool", Selector{PrefixPool: "office6"}, []string{"fd77:100:0:100::", "fd77:100:0:500::"}, []string{"office6"}},
		{"prefix pool and same pool", Selector{Pool: "office6", PrefixPool: "office6"}, []string{"fd77:100:0:100::", "fd77:100:0:500::"}, []string{"office6"}},
		{"duid", Selector{Client: "00:03:00:01:02:00:00:00:00:01"}, []string{"fd77::1:1"}, []string{"office6"}},
		{"duid hex", Selector{Client: "000300010200000000" + "02"}, []string{"fd77::1:2"}, []string{"office6"}},
		{"v6 address", Selector{Client: "fd77::1:3"}, []string{"fd77::1:3"}, []string{"office6"}},
		{"address inside a delegated prefix", Selector{Client: "fd77:100:0:5ff::1"}, []string{"fd77:100:0:500::"}, []string{"office6"}},
		{"v6 range", Selector{From: ip("fd77::1:2"), To: ip("fd77::1:3")}, []string{"fd77::1:2", "fd77::1:3"}, []string{"office6"}},
		{"v6 range and pool", Selector{Pool: "lab6", From: ip("fd00::"), To: ip("fdff::")}, []string{"fd78::1:6"}, []string{"lab6"}},
		{"family 6", Selector{Family: 6}, []string{"fd77::1:1", "fd77::1:2", "fd77::1:3", "fd77::1:4", "fd77:100:0:500::", "fd78::1:6"}, []string{"lab6", "office6"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := NewManager()
			st := start(t, m, t0, c.sel, DefaultOptions(), fixture6())
			cs, _ := m.Clients(st.ID, ClientFilter{})
			if d := cmp.Diff(c.addrs, addrsOf(cs)); d != "" {
				t.Errorf("clients (-want +got):\n%s", d)
			}
			if d := cmp.Diff(c.pools, st.Pools); d != "" {
				t.Errorf("pools (-want +got):\n%s", d)
			}
			for _, cl := range cs {
				if cl.Family != 6 {
					t.Errorf("%v: family %d", cl.Addr, cl.Family)
				}
			}
		})
	}

	// Client 1's IA_NA and IA_PD are one client; the address is its
	// representative, the prefix in More.
	m := NewManager()
	st := start(t, m, t0, Selector{Pool: "office6"}, DefaultOptions(), fixture6())
	p := progress(t, m, st.ID, "fd77::1:1")
	if !slices.Equal(p.More, []netip.Addr{ip("fd77:100:0:100::")}) || string(p.Key) != string(duid(1)) || !p.Capable {
		t.Errorf("client 1: %+v", p)
	}
	if st.Counts.Pending != 4 || st.Counts.NotCapable != 1 {
		t.Errorf("counts %+v, want 4 pending, 1 not_capable (client 4 has no key)", st.Counts)
	}

	// Both families in one campaign.
	m = NewManager()
	st = start(t, m, t0, Selector{}, DefaultOptions(), fixture6())
	if st.Clients != 13+6 || !slices.Equal(st.Pools, []string{"lab", "lab6", "office", "office6"}) {
		t.Errorf("all: %d clients, pools %v", st.Clients, st.Pools)
	}
	m = NewManager()
	st = start(t, m, t0, Selector{Family: 4}, DefaultOptions(), fixture6())
	if st.Clients != 13 || !slices.Equal(st.Pools, []string{"lab", "office"}) {
		t.Errorf("family 4: %d clients, pools %v", st.Clients, st.Pools)
	}
	// Paging crosses from IPv4 to IPv6.
	cs, _ := m.Clients(st.ID, ClientFilter{After: ip("10.1.0.5")})
	if len(cs) != 1 || cs[0].Addr != ip("10.1.0.6") {
		t.Errorf("after 10.1.0.5: %v", addrsOf(cs))
	}

	// A DUID only matches DHCPv6; the v4 prefix-pool combination is refused.
	if _, err := NewManager().Start(t0, Selector{Client: "000300010200000000aa"}, DefaultOptions(), fixture6()); !errors.Is(err, ErrNoClients) {
		t.Errorf("unknown DUID: %v", err)
	}
}

// TestSchedule6: a DHCPv6 campaign without explicit attempts sends
// REC_MAX_RC = 8 Reconfigures at REC_TIMEOUT doubling (RFC 8415 §7.6,
// §18.3.11): 0, 2, 6, 14, 30, 62, 126, 254 s, then gives up at 510 s.
func TestSchedule6(t *testing.T) {
	for _, opts := range []Options{{}, DefaultOptions(), {ReconfMsg: ReconfRebind, OnFailure: Recycle}} {
		m := NewManager()
		st := start(t, m, t0, Selector{Client: "00:03:00:01:02:00:00:00:00:01"}, opts, fixture6())
		var sends []time.Duration
		var final []Action
		for d := time.Duration(0); d <= 600*time.Second; d += 500 * time.Millisecond {
			for _, a := range m.Due(at(d)) {
				switch a.Kind {
				case SendReconfigure:
					if a.Attempt != len(sends)+1 || a.Msg != opts.ReconfMsg || a.Addr != ip("fd77::1:1") ||
						!slices.Equal(a.More, []netip.Addr{ip("fd77:100:0:100::")}) || string(a.Key) != string(duid(1)) || !a.V6() {
						t.Errorf("action %+v", a)
					}
					sends = append(sends, d)
				default:
					final = append(final, a)
				}
			}
		}
		want := []time.Duration{0, 2 * time.Second, 6 * time.Second, 14 * time.Second, 30 * time.Second,
			62 * time.Second, 126 * time.Second, 254 * time.Second}
		if !slices.Equal(sends, want) {
			t.Errorf("%+v: sends at %v, want %v", opts, sends, want)
		}
		s, _ := m.Status(st.ID)
		p := progress(t, m, st.ID, "fd77::1:1")
		if s.State != Done || p.Outcome != NoResponse || !p.When.Equal(at(510*time.Second)) {
			t.Errorf("%+v: state %v, client %v at %v; want done, no_response at 510 s", opts, s.State, p.Outcome, p.When.Sub(t0))
		}
		if opts.OnFailure == Recycle {
			if len(final) != 1 || final[0].Kind != RecycleLease || final[0].Addr != ip("fd77::1:1") || len(final[0].More) != 1 {
				t.Errorf("on-failure actions %+v", final)
			}
		} else if len(final) != 0 {
			t.Errorf("restore: actions %+v", final)
		}
	}
}

func TestOutcomes6(t *testing.T) {
	ev := func(k EventKind, n byte, addr string) Event {
		e := Event{Kind: k, Key: duid(n), V6: true}
		if addr != "" {
			e.Addr = ip(addr)
		}
		return e
	}
	m := NewManager()
	st := start(t, m, t0, Selector{Pool: "office6"}, Options{Attempts: 2, Interval: time.Second, OnFailure: Recycle, RecycleNotCapable: true}, fixture6())
	as := m.Due(t0)
	if k := kinds(as); k[SendReconfigure] != 4 || k[RecycleLease] != 1 || k[SendForceRenew] != 0 {
		t.Fatalf("first Due: %v", k)
	}
	for _, a := range as {
		if a.Kind == RecycleLease && (a.Addr != ip("fd77::1:4") || a.More != nil) {
			t.Errorf("not-capable recycle %+v", a)
		}
	}
	// Client 2 renews (Renew, Reply extending its address).
	m.Observe(at(time.Second/2), ev(EvRequestRenew, 2, "fd77::1:2"))
	if p, ok := m.Observe(at(time.Second/2), ev(EvAck, 2, "fd77::1:2")); !ok || p.Outcome != Renewed {
		t.Errorf("client 2: %+v %v", p, ok)
	}
	// Client 1 renews; the Reply's first binding is its prefix: still renewed.
	m.Observe(at(time.Second/2), ev(EvRequestRenew, 1, ""))
	if p, _ := m.Observe(at(time.Second/2), ev(EvAck, 1, "fd77:100:0:100::")); p.Outcome != Renewed {
		t.Errorf("client 1: %v", p.Outcome)
	}
	// Client 3 rebinds, is answered with lifetime 0 (NoBinding), Solicits
	// and completes Request/Reply on a new address: rebound.
	m.Observe(at(time.Second/2), ev(EvRequestRebind, 3, "fd77::1:3"))
	m.Observe(at(time.Second/2), ev(EvNak, 3, "fd77::1:3"))
	m.Observe(at(time.Second), ev(EvDiscover, 3, ""))
	if p, _ := m.Observe(at(time.Second), ev(EvAck, 3, "fd77::1:33")); p.Outcome != Rebound {
		t.Errorf("client 3: %v", p.Outcome)
	}
	// Client 5 (prefix only) never answers: a second Reconfigure at 1 s,
	// no_response at 3 s, recycled.
	var fin []Action
	for d := time.Second; d <= 4*time.Second; d += 250 * time.Millisecond {
		fin = append(fin, m.Due(at(d))...)
	}
	if k := kinds(fin); k[SendReconfigure] != 1 || k[RecycleLease] != 1 {
		t.Errorf("later actions %v", k)
	}
	s, _ := m.Status(st.ID)
	want := Counts{Renewed: 2, Rebound: 1, NoResponse: 1, NotCapable: 1}
	if s.Counts != want || s.State != Done {
		t.Errorf("counts %+v state %v, want %+v done", s.Counts, s.State, want)
	}

	// Information-request: renewed in an information-request campaign,
	// informed in a renew campaign.
	for _, c := range []struct {
		msg  ReconfMsg
		want Outcome
	}{{ReconfInformationRequest, Renewed}, {ReconfRenew, Informed}} {
		m := NewManager()
		start(t, m, t0, Selector{Client: "fd77::1:2"}, Options{ReconfMsg: c.msg}, fixture6())
		m.Due(t0)
		if p, _ := m.Observe(at(time.Second), ev(EvInform, 2, "")); p.Outcome != c.want {
			t.Errorf("%v campaign: information-request -> %v, want %v", c.msg, p.Outcome, c.want)
		}
	}

	// Release, decline, expiry of one binding end the client too.
	m = NewManager()
	start(t, m, t0, Selector{Pool: "office6"}, DefaultOptions(), fixture6())
	m.Due(t0)
	for _, c := range []struct {
		e    Event
		want Outcome
	}{
		{ev(EvRelease, 2, "fd77::1:2"), Released},
		{ev(EvDecline, 3, "fd77::1:3"), Declined},
		{Event{Kind: EvExpired, Addr: ip("fd77:100:0:100::")}, Expired}, // by address only: client 1's prefix
		{Event{Kind: EvDeleted, Key: duid(5), V6: true}, Deleted},       // by DUID only
	} {
		if p, ok := m.Observe(at(time.Second), c.e); !ok || p.Outcome != c.want {
			t.Errorf("%v: %+v %v, want %v", c.e.Kind, p.Outcome, ok, c.want)
		}
	}
}

func TestForceRebind6(t *testing.T) {
	m := NewManager()
	start(t, m, t0, Selector{Pool: "office6"}, Options{ForceNAK: true}, fixture6())
	if !m.ShouldForceRebind(duid(2)) || !m.ShouldNAK(ip("fd77::1:2")) || !m.ShouldNAK(ip("fd77:100:0:100::")) {
		t.Fatal("pending clients of a forced campaign must be answered with lifetime 0")
	}
	if m.ShouldForceRebind(duid(4)) || m.ShouldForceRebind(duid(99)) || m.ShouldForceRebind(nil) {
		t.Error("not-capable or unknown clients are not forced")
	}
	// The v4 key space is separate: a DHCPv4 client id equal to a DUID is
	// not a DHCPv6 client.
	if m.ShouldForceRebind(key("10.0.0.10")) {
		t.Error("v4 key matched as DUID")
	}
	m.Observe(at(time.Second), Event{Kind: EvNak, Key: duid(2), V6: true})
	if m.ShouldForceRebind(duid(2)) {
		t.Error("after the lifetime-0 Reply the client must be let through")
	}
	m.Observe(at(time.Second), Event{Kind: EvDiscover, Key: duid(2), V6: true})
	if p, _ := m.Observe(at(2*time.Second), Event{Kind: EvAck, Addr: ip("fd77::1:2"), Key: duid(2)}); p.Outcome != Rebound {
		t.Errorf("same address after a Solicit: %v, want rebound", p.Outcome)
	}
	// Without ForceNAK nothing is forced.
	m2 := NewManager()
	start(t, m2, t0, Selector{Pool: "office6"}, DefaultOptions(), fixture6())
	if m2.ShouldForceRebind(duid(2)) || m2.ShouldNAK(ip("fd77::1:2")) {
		t.Error("forced without ForceNAK")
	}
}

// TestMixedFamilies runs a FORCERENEW campaign on office and a
// Reconfigure campaign on office6 side by side: each pool has its own
// campaign, events go to the right client even when a DHCPv4 client id
// has the bytes of a DUID.
func TestMixedFamilies(t *testing.T) {
	ls := fixture6()
	twin := mkLease("10.1.0.7", "lab", -1, true)
	twin.ClientID = duid(2) // same bytes as DHCPv6 client 2's DUID
	ls = append(ls, twin)
	m := NewManager()
	v4 := start(t, m, t0, Selector{Pool: "lab"}, Options{}, ls) // Pace 0: unlimited
	v6 := start(t, m, t0, Selector{Pool: "office6"}, Options{}, ls)
	if _, err := m.Start(t0, Selector{Family: 6}, DefaultOptions(), ls); !errors.Is(err, ErrOverlap) {
		t.Errorf("overlapping v6 start: %v", err)
	}
	k := kinds(m.Due(t0))
	if k[SendForceRenew] != 3 || k[SendReconfigure] != 4 {
		t.Errorf("sends %v, want 3 FORCERENEW + 4 Reconfigure", k)
	}
	// The DHCPv4 twin renews: only the v4 campaign moves.
	if p, ok := m.Observe(at(time.Second), Event{Kind: EvAck, Addr: ip("10.1.0.7"), Key: duid(2)}); !ok || p.Campaign != v4.ID || p.Outcome != Renewed {
		t.Errorf("v4 twin: %+v %v", p, ok)
	}
	if p := progress(t, m, v6.ID, "fd77::1:2"); p.Outcome != Pending {
		t.Errorf("DHCPv6 client 2 moved by a DHCPv4 event: %v", p.Outcome)
	}
	if p, ok := m.Observe(at(time.Second), Event{Kind: EvAck, Key: duid(2), V6: true}); !ok || p.Campaign != v6.ID || p.Outcome != Renewed {
		t.Errorf("v6 client 2: %+v %v", p, ok)
	}
	s4, _ := m.Status(v4.ID)
	s6, _ := m.Status(v6.ID)
	if s4.Counts.Renewed != 1 || s6.Counts.Renewed != 1 {
		t.Errorf("v4 %+v v6 %+v", s4.Counts, s6.Counts)
	}
}

func TestRecord6RoundTripResume(t *testing.T) {
	m := NewManager()
	st := start(t, m, t0, Selector{PrefixPool: "office6", Family: 6}, Options{Pace: 5, ReconfMsg: ReconfInformationRequest, OnFailure: Delete,
		Pools: map[string]Override{"office6": {ReconfMsg: ptr(ReconfRebind)}}}, fixture6())
	if a := m.Due(t0); len(a) != 1 || a[0].Msg != ReconfRebind {
		t.Errorf("per-pool Reconfigure Message: %+v", a)
	}
	// A request is kept in memory only (its answer is what is recorded):
	// after a restore the client is as it was before it.
	beforeReq, _ := m.Clients(st.ID, ClientFilter{})
	if p, ok := m.Observe(at(time.Second), Event{Kind: EvRequestRenew, Key: duid(5), V6: true}); !ok || p.Last != EvRequestRenew {
		t.Errorf("request not observed: %+v %v", p, ok)
	}
	m2 := NewManager()
	start(t, m2, t0, Selector{Pool: "office6", From: ip("fd77::1:1"), To: ip("fd77::1:2")}, DefaultOptions(), fixture6())
	m2.Due(t0)

	for _, mm := range []*Manager{m, m2} {
		before := mm.List()
		recs := roundTrip(t, mm.Records())
		for _, r := range recs {
			if _, a, _ := r.Key(); a.IsValid() && !a.Is6() {
				t.Errorf("v6 client record keyed by %v", a)
			}
		}
		r := NewManager()
		if err := r.Restore(recs, at(time.Second), true); err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(before, r.List(), statusCmp()); d != "" {
			t.Errorf("status after restore (-before +after):\n%s", d)
		}
		c1, _ := mm.Clients(before[0].ID, ClientFilter{})
		if mm == m {
			c1 = beforeReq
		}
		c2, _ := r.Clients(before[0].ID, ClientFilter{})
		if d := cmp.Diff(c1, c2, statusCmp()); d != "" {
			t.Errorf("clients after restore (-before +after):\n%s", d)
		}
		// Resumed: the second Reconfigures go out at 2 s, with More kept.
		k := kinds(r.Due(at(2 * time.Second)))
		if k[SendReconfigure] == 0 {
			t.Errorf("no Reconfigure after resume: %v", k)
		}
	}
	// The header kept the v6 selector and the Reconfigure message.
	s, _ := m.Status(st.ID)
	if s.Selector.PrefixPool != "office6" || s.Selector.Family != 6 || s.Options.ReconfMsg != ReconfInformationRequest {
		t.Errorf("status %+v", s)
	}
	// A client with More survives the record encoding.
	m3 := NewManager()
	start(t, m3, t0, Selector{Client: hex.EncodeToString(duid(1))}, DefaultOptions(), fixture6())
	recs := roundTrip(t, m3.Records())
	r := NewManager()
	if err := r.Restore(recs, t0, true); err != nil {
		t.Fatal(err)
	}
	if p := progress(t, r, 1, "fd77::1:1"); !slices.Equal(p.More, []netip.Addr{ip("fd77:100:0:100::")}) || p.Family != 6 {
		t.Errorf("restored client 1: %+v", p)
	}
	// Its prefix is indexed again: an event naming only the prefix finds it.
	if p, ok := r.Observe(t0, Event{Kind: EvRequestRenew, Addr: ip("fd77:100:0:100::")}); !ok || p.Addr != ip("fd77::1:1") {
		t.Errorf("event by the restored prefix: %+v %v", p, ok)
	}
	b, _ := recs[1].MarshalBinary()
	t.Logf("DHCPv6 client record with a prefix in More: %d bytes", len(b))
}

// v1Records were produced by the DHCPv4-only reconf (record version 1,
// commit 77bc43e): a campaign over pool office section 1, range
// 10.0.1.10-10.0.1.15, 3 attempts, 2 s, pace 10, recycle, force-NAK,
// override attempts 2 for office; then its first Due.
var v1Records = []string{
	"010101008080b4bdb6f6da98310007066f6666696365010a00010a0a00010f0380a8d6b9070a020101066f6666696365010201066f6666696365",
	"0102010a00010a070102000a00010a001900000c80a8a894956700",
	"0102010a00010b070102000a00010b001900000c80a8a894956700",
	"0102010a00010c070102000a00010c001900000c80a8a894956700",
	"0102010a00010d070102000a00010d001900000c80a8a894956700",
	"0102010a00010e070102000a00010e001900000c80a8a894956700",
	"0102010a00010f070102000a00010f000000050c80a8a8949567",
	"0102010a00010a070102000a00010a001901000d80a8a8949567a01f",
}

func TestRecordV1Compat(t *testing.T) {
	var recs []Record
	for i, h := range v1Records {
		b, _ := hex.DecodeString(h)
		var r Record
		if err := r.UnmarshalBinary(b); err != nil {
			t.Fatalf("v1 record %d: %v", i, err)
		}
		recs = append(recs, r)
	}
	m := NewManager()
	if err := m.Restore(recs, at(time.Second), true); err != nil {
		t.Fatal(err)
	}
	s, err := m.Status(1)
	if err != nil {
		t.Fatal(err)
	}
	one := 1
	wantSel := Selector{Pool: "office", Section: &one, From: ip("10.0.1.10"), To: ip("10.0.1.15")}
	if !s.Selector.equal(&wantSel) || s.Options.Attempts != 3 || s.Options.Pace != 10 || s.Options.OnFailure != Recycle ||
		!s.Options.ForceNAK || *s.Options.Pools["office"].Attempts != 2 || s.Options.ReconfMsg != ReconfRenew {
		t.Errorf("header: %+v", s)
	}
	if s.State != Running || s.Clients != 6 || s.Counts.Pending != 5 || s.Counts.NotCapable != 1 || s.Sent != 1 {
		t.Errorf("status %+v", s)
	}
	p := progress(t, m, 1, "10.0.1.10")
	if p.Sent != 1 || p.Family != 4 || string(p.Key) != string(key("10.0.1.10")) || !p.Next.Equal(at(2*time.Second)) {
		t.Errorf("client 10.0.1.10: %+v", p)
	}
	// It resumes: 10.0.1.11-14 get their first FORCERENEW (pace 10/s),
	// 10.0.1.10 its second (office override: 2 attempts) at 2 s.
	var sent []string
	for d := time.Second; d < 2900*time.Millisecond; d += 100 * time.Millisecond {
		for _, a := range m.Due(at(d)) {
			if a.Kind == SendForceRenew {
				sent = append(sent, a.Addr.String())
			}
		}
	}
	if want := []string{"10.0.1.11", "10.0.1.12", "10.0.1.13", "10.0.1.14", "10.0.1.10"}; !slices.Equal(sent, want) {
		t.Errorf("after resume: %v, want %v", sent, want)
	}
	// Re-encoded as version 2, a DHCPv4 client record keeps its size.
	b, _ := recs[1].MarshalBinary()
	old, _ := hex.DecodeString(v1Records[1])
	if b[0] != 2 || len(b) != len(old) {
		t.Errorf("re-encoded v1 client: % x", b)
	}
}
