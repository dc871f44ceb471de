package lease6

import (
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/leased/leased/dhcpv6"
	"github.com/leased/leased/lease"
)

var cmpNet6 = cmp.Options{
	cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
	cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }),
}

// TestScratchAllocs6 bounds the allocations of a new client's Solicit and
// Request (IA_NA + IA_PD, the perfdhcp -6 exchange with a delegation) and
// of a Renew with a Request.Scratch, as leased's server calls the engine
// (issue #15): the decisions' Persist, undo log, IAs, bindings,
// Reply.Lease and byte slices live in the Scratch; what is left is what
// the bindings keep (the client's entry, its offers list, the records'
// strings) and the amortized growth of the indexes. Without a Scratch the
// same exchange makes 19 and the Renew 9.
func TestScratchAllocs6(t *testing.T) {
	e := newEngine(t, benchConfig())
	var sc Scratch
	duids := benchDUIDs(1100)
	sol := &Request{Type: dhcpv6.Solicit, LinkAddr: link, Peer: peerA, Scratch: &sc, ReturnPath: []byte{0, 1, 2, 3},
		IAs: []IA{{Kind: IANA, IAID: 1}, {Kind: IAPD, IAID: 2}}}
	req := &Request{Type: dhcpv6.Request, LinkAddr: link, Peer: peerA, ServerID: []byte{0, 1}, ServerIDOurs: true,
		Scratch: &sc, ReturnPath: sol.ReturnPath}
	reqIAs := make([]IA, 2)
	addrs, pfxs := make([]netip.Addr, 1), make([]netip.Prefix, 1)
	i := 0
	n := testing.AllocsPerRun(1000, func() {
		i++
		sol.ClientID, sol.XID = duids[i], uint32(i)
		d := e.Handle(t0, sol)
		if len(d.Reply.IAs) != 2 || len(d.Reply.IAs[0].Bindings) != 1 || len(d.Reply.IAs[1].Bindings) != 1 {
			t.Fatalf("Advertise: %+v", d.Reply)
		}
		addrs[0], pfxs[0] = d.Reply.IAs[0].Bindings[0].Addr, d.Reply.IAs[1].Bindings[0].Prefix
		reqIAs[0] = IA{Kind: IANA, IAID: 1, Addrs: addrs}
		reqIAs[1] = IA{Kind: IAPD, IAID: 2, Prefixes: pfxs}
		req.ClientID, req.XID, req.IAs = duids[i], uint32(i), reqIAs
		if d = e.Handle(t0, req); len(d.Persist) != 2 {
			t.Fatalf("Request: %+v", d)
		}
	})
	const want = 6
	if n > want {
		t.Errorf("Solicit + Request with a Scratch: %.1f allocations, want <= %d", n, want)
	}
	renew := &Request{Type: dhcpv6.Renew, ClientID: duids[i], ServerID: []byte{0, 1}, ServerIDOurs: true,
		LinkAddr: link, Peer: peerA, Scratch: &sc, ReturnPath: sol.ReturnPath, IAs: reqIAs}
	now := t0
	m := testing.AllocsPerRun(200, func() {
		now = now.Add(time.Second)
		if d := e.Handle(now, renew); len(d.Persist) != 2 {
			t.Fatalf("Renew: %+v", d)
		}
	})
	if m > 0 {
		t.Errorf("Renew with a Scratch: %.1f allocations, want 0", m)
	}
	t.Logf("allocations with a Scratch: Solicit + Request %.1f, Renew %.1f", n, m)
}

// TestScratchSameDecisions6: decisions made with a Scratch equal those
// made without (Advertise, Request of IA_NA + IA_PD with a reconfigure
// key, Renew, a second client's Request, Release), own their
// bytes, and Revert of one restores the engine as for the other.
func TestScratchSameDecisions6(t *testing.T) {
	a, b := newEngine(t, testConfig()), newEngine(t, testConfig())
	var sc Scratch
	path := []byte{9, 8, 7}
	step := func(what string, now time.Time, req *Request) (Decision, Decision) {
		t.Helper()
		plain := *req
		plain.Scratch = nil
		want := a.Handle(now, &plain)
		withSc := *req
		withSc.Scratch = &sc
		got := b.Handle(now, &withSc)
		if diff := cmp.Diff(want, got, cmpNet6, cmpopts.IgnoreUnexported(Decision{}), cmpopts.IgnoreFields(Reply{}, "Pool")); diff != "" {
			t.Fatalf("%s: with a Scratch (-without +with):\n%s", what, diff)
		}
		if diff := cmp.Diff(a.Leases(lease.Filter{}), b.Leases(lease.Filter{}), cmpNet6); diff != "" {
			t.Fatalf("%s: engines differ:\n%s", what, diff)
		}
		return want, got
	}
	ias := []IA{{Kind: IANA, IAID: 1}, {Kind: IAPD, IAID: 2}}
	sol := &Request{Type: dhcpv6.Solicit, XID: 1, ClientID: duidA, LinkAddr: link, Peer: peerA, ReturnPath: path,
		ReconfAccept: true, IAs: ias}
	_, adv := step("Solicit", t0, sol)
	if adv.Reply.Lease != &sc.reply || &adv.Reply.IAs[0] != &sc.res[0] {
		t.Fatal("the Advertise is not in the Scratch")
	}
	na, pd := adv.Reply.IAs[0].Bindings[0].Addr, adv.Reply.IAs[1].Bindings[0].Prefix
	key := []byte("0123456789abcdef")
	req := &Request{Type: dhcpv6.Request, XID: 2, ClientID: duidA, ServerID: []byte{0, 1}, ServerIDOurs: true,
		LinkAddr: link, Peer: peerA, ReturnPath: path, ReconfAccept: true, ReconfKey: key,
		IAs: []IA{{Kind: IANA, IAID: 1, Addrs: []netip.Addr{na}}, {Kind: IAPD, IAID: 2, Prefixes: []netip.Prefix{pd}}}}
	_, rep := step("Request", t0, req)
	if len(rep.Persist) != 2 || &rep.Persist[0] != &sc.persist[0] || rep.Reply.Lease != &sc.reply {
		t.Fatalf("the Reply's records are not in the Scratch: %+v", rep.Persist)
	}
	// The bytes are copies of the request's.
	path[0], key[0], duidA[9] = 0xff, 'X', 0xee
	l := rep.Persist[0]
	if l.RelayInfo[0] != 9 || l.ReconfKey[0] != '0' || l.ClientID[9] != 0xa {
		duidA[9] = 0xa
		t.Fatalf("the Reply's record aliases the request: %+v", l)
	}
	path[0], key[0], duidA[9] = 9, '0', 0xa
	now := t0.Add(time.Minute)
	renew := *req
	renew.Type, renew.XID, renew.ReconfKey = dhcpv6.Renew, 3, nil
	step("Renew", now, &renew)
	// A second client's Request, reverted (its commit failed) in both
	// engines: both are back where they were.
	before := b.Leases(lease.Filter{})
	second := *req
	second.ClientID, second.XID, second.ReconfKey = []byte{0, 3, 0, 1, 2, 0, 0, 0, 0, 0xb}, 4, nil
	second.IAs = ias
	dA, dB := step("second client", now, &second)
	if len(dB.Persist) != 2 {
		t.Fatalf("second client: want two records, got %+v", dB.Persist)
	}
	a.Revert(&dA)
	b.Revert(&dB)
	if diff := cmp.Diff(before, b.Leases(lease.Filter{}), cmpNet6); diff != "" {
		t.Fatalf("Revert with a Scratch:\n%s", diff)
	}
	if diff := cmp.Diff(a.Leases(lease.Filter{}), b.Leases(lease.Filter{}), cmpNet6); diff != "" {
		t.Fatalf("after Revert the engines differ:\n%s", diff)
	}
	rel := *req
	rel.Type, rel.XID, rel.ReconfKey = dhcpv6.Release, 5, nil
	step("Release", now, &rel)
}
