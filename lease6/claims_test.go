package lease6

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/leased/leased/dhcpv6"
	"github.com/leased/leased/lease"
)

func rng6(a, b string) lease.Range {
	return lease.Range{First: netip.MustParseAddr(a), Last: netip.MustParseAddr(b)}
}

// TestClaimsNA: new IA_NAs get addresses only inside the claims (a hint
// outside is not honoured), an empty claim set gives NoAddrsAvail, and an
// existing binding outside the claims is still renewed.
func TestClaimsNA(t *testing.T) {
	e := newEngine(t, testConfig())
	old := bindClient(t, e, t0, duidA, na(1))[0].Bindings[0].Addr // before any claim: fd77::1:0
	e.SetClaims("office6", IANA, []lease.Range{rng6("fd77::1:100", "fd77::1:102")})
	if free, ok := e.FreeInClaims("office6", IANA, 1000); free != 3 || !ok {
		t.Fatalf("FreeInClaims = %d, %v", free, ok)
	}
	got := map[netip.Addr]bool{}
	for i := range 3 {
		duid := []byte{0, 3, 0, 1, 2, 0, 0, 0, 1, byte(i)}
		ia := na(1)
		if i == 0 {
			ia = na(1, "fd77::1:5") // free, outside the claims
		}
		a := bindClient(t, e, t0, duid, ia)[0].Bindings[0].Addr
		if u128Of(a).cmp(u128Of(netip.MustParseAddr("fd77::1:100"))) < 0 || u128Of(a).cmp(u128Of(netip.MustParseAddr("fd77::1:102"))) > 0 || got[a] {
			t.Fatalf("client %d got %v", i, a)
		}
		got[a] = true
	}
	if free, _ := e.FreeInClaims("office6", IANA, 1000); free != 0 {
		t.Errorf("FreeInClaims = %d after filling", free)
	}
	d := e.Handle(t0, msg(dhcpv6.Solicit, duidB, na(1)))
	if !d.HasReply || len(d.Reply.IAs) != 1 || d.Reply.IAs[0].Status != dhcpv6.StatusNoAddrsAvail {
		t.Fatalf("exhausted claims: %+v", d.Reply.IAs)
	}
	// The binding made before the claims renews.
	r := e.Handle(t0.Add(30*time.Minute), msg(dhcpv6.Renew, duidA, na(1, old.String())))
	if !r.HasReply || len(r.Reply.IAs[0].Bindings) != 1 || r.Reply.IAs[0].Bindings[0].Addr != old || r.Reply.IAs[0].Bindings[0].Valid == 0 {
		t.Fatalf("renewal outside the claims: %+v", r.Reply.IAs)
	}
	// No claims at all: nothing for a new IA; ClearClaims restores.
	e.SetClaims("office6", IANA, nil)
	d = e.Handle(t0, msg(dhcpv6.Solicit, duidB, na(1)))
	if d.Reply.IAs[0].Status != dhcpv6.StatusNoAddrsAvail {
		t.Fatalf("zero claims: %+v", d.Reply.IAs)
	}
	e.ClearClaims("office6", IANA)
	if a := bindClient(t, e, t0, duidB, na(1))[0].Bindings[0].Addr; !a.IsValid() {
		t.Fatal("no address after ClearClaims")
	}
}

// TestClaimsPD: delegated prefixes only from claimed prefixes; a claim
// starting inside a prefix does not cover it.
func TestClaimsPD(t *testing.T) {
	e := newEngine(t, testConfig())
	// fd77:100::/40 in /56s: claim the 3rd and 4th (starting mid-prefix
	// before them, so the 2nd is not covered).
	e.SetClaims("office6", IAPD, []lease.Range{rng6("fd77:100:0:180::", "fd77:100:0:3ff:ffff:ffff:ffff:ffff")})
	want := []string{"fd77:100:0:200::/56", "fd77:100:0:300::/56"}
	for i, w := range want {
		duid := []byte{0, 3, 0, 1, 2, 0, 0, 0, 2, byte(i)}
		p := bindClient(t, e, t0, duid, pd(1))[0].Bindings[0].Prefix
		if p.String() != w {
			t.Fatalf("client %d got %v, want %s", i, p, w)
		}
	}
	d := e.Handle(t0, msg(dhcpv6.Solicit, duidB, pd(1, "fd77:100:0:500::/56")))
	if d.Reply.IAs[0].Status != dhcpv6.StatusNoPrefixAvail {
		t.Fatalf("exhausted PD claims, hint outside: %+v", d.Reply.IAs)
	}
	// NA is not restricted by PD claims.
	if a := bindClient(t, e, t0, duidB, na(1))[0].Bindings[0].Addr; !a.IsValid() {
		t.Fatal("no address")
	}
}

// TestClaimsSharedNetwork: on a shared network a new client goes to the
// first pool with room in this server's claims, not to the first with
// room as a whole (cluster mode: the first pool's free space claimed by
// other servers gave NoAddrsAvail while the next pool had room in ours).
// Without room in any claims, the first pool with room as a whole is
// chosen (its claim wait claims there).
func TestClaimsSharedNetwork(t *testing.T) {
	e := newEngine(t, sharedConfig())
	onLab := func(r *Request) *Request { return relayed(r, "fd78::1", "", "") }
	// lab6 (fd78::10-11) has room but none of it is ours; lab6b has a claim.
	e.SetClaims("lab6", IANA, nil)
	e.SetClaims("lab6b", IANA, []lease.Range{rng6("fd79::18", "fd79::1b")})
	duid := []byte{0, 3, 0, 1, 2, 0, 0, 0, 3, 1}
	d := e.Handle(t0, onLab(msg(dhcpv6.Solicit, duid, na(1))))
	if a := offeredAddr(t, d); a != netip.MustParseAddr("fd79::18") {
		t.Fatalf("offered %v (%+v), want fd79::18 from lab6b's claim", a, d.Reply.IAs)
	}
	// Both claim sets full or empty: lab6, the first pool with room.
	e.SetClaims("lab6b", IANA, nil)
	d = e.Handle(t0, onLab(msg(dhcpv6.Solicit, []byte{0, 3, 0, 1, 2, 0, 0, 0, 3, 2}, na(1))))
	if !d.HasReply || d.Reply.Pool == nil || d.Reply.Pool.Name != "lab6" || d.Reply.IAs[0].Status != dhcpv6.StatusNoAddrsAvail {
		t.Fatalf("no room in claims: pool %v, IAs %+v; want lab6 with NoAddrsAvail", d.Reply.Pool, d.Reply.IAs)
	}
	// The pools a cluster server may claim in to answer it: both (a
	// claim wait keyed on lab6 alone waits in vain when other servers
	// hold all of lab6's free space).
	if !slices.Equal(d.DryPools, []string{"lab6", "lab6b"}) {
		t.Errorf("DryPools = %v, want [lab6 lab6b]", d.DryPools)
	}
	// Served: none; a pool outside a shared network: none.
	e.SetClaims("lab6b", IANA, []lease.Range{rng6("fd79::1c", "fd79::1d")})
	if d := e.Handle(t0, onLab(msg(dhcpv6.Request, []byte{0, 3, 0, 1, 2, 0, 0, 0, 3, 3}, na(1)))); d.DryPools != nil || len(d.Persist) != 1 {
		t.Errorf("bound in lab6b: DryPools %v, persist %d", d.DryPools, len(d.Persist))
	}
	e.SetClaims("office6", IANA, nil)
	if d := e.Handle(t0, msg(dhcpv6.Solicit, duid, na(1))); d.DryPools != nil || d.Reply.IAs[0].Status != dhcpv6.StatusNoAddrsAvail {
		t.Errorf("office6 without claims: DryPools %v, IAs %+v", d.DryPools, d.Reply.IAs)
	}
}
