package postgres

import (
	"context"
	"errors"
	"math/big"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/leased/leased/internal/pgtest"
)

// findGap is the Go version of leased_claim_block's search (migration
// 0007; ClaimBlock ran it before the claim became one statement), kept as
// the oracle of TestClaimGapOracle: the first run of size units not
// covered by held (sorted by First) inside ranges, else the first shorter
// run of at least a unit.
func findGap(ranges []Range, held []Claim, unit *big.Int, size int) (netip.Addr, netip.Addr, bool) {
	want := new(big.Int).Mul(unit, big.NewInt(int64(size)))
	one := big.NewInt(1)
	var short [2]*big.Int
	v6 := ranges[0].First.Is6()
	for _, r := range ranges {
		lo, hi := addrNum(r.First), addrNum(r.Last)
		cur := new(big.Int).Set(lo)
		try := func(end *big.Int) bool { // gap [cur, end]
			n := new(big.Int).Sub(end, cur)
			n.Add(n, one)
			n.Div(n, unit) // whole units in the gap
			if n.Sign() <= 0 {
				return false
			}
			if n.Cmp(big.NewInt(int64(size))) >= 0 {
				return true
			}
			if short[0] == nil {
				e := new(big.Int).Mul(n, unit)
				e.Add(e, cur).Sub(e, one)
				short = [2]*big.Int{new(big.Int).Set(cur), e}
			}
			return false
		}
		for _, c := range held {
			cf, cl := addrNum(c.First), addrNum(c.Last)
			if cl.Cmp(cur) < 0 || cf.Cmp(hi) > 0 {
				continue
			}
			if cf.Cmp(cur) > 0 {
				end := new(big.Int).Sub(cf, one)
				if try(end) {
					e := new(big.Int).Add(cur, want)
					return numAddr(cur.Sub(cur, v6OffsetIf(v6)), v6), numAddr(e.Sub(e, one).Sub(e, v6OffsetIf(v6)), v6), true
				}
			}
			// continue after the claim, aligned to a unit from lo
			next := new(big.Int).Sub(cl, lo)
			next.Add(next, one)
			rem := new(big.Int).Mod(next, unit)
			if rem.Sign() != 0 {
				next.Add(next, new(big.Int).Sub(unit, rem))
			}
			cur = next.Add(next, lo)
			if cur.Cmp(hi) > 0 {
				break
			}
		}
		if cur.Cmp(hi) <= 0 && try(hi) {
			e := new(big.Int).Add(cur, want)
			return numAddr(cur.Sub(cur, v6OffsetIf(v6)), v6), numAddr(e.Sub(e, one).Sub(e, v6OffsetIf(v6)), v6), true
		}
	}
	if short[0] != nil {
		o := v6OffsetIf(v6)
		return numAddr(short[0].Sub(short[0], o), v6), numAddr(short[1].Sub(short[1], o), v6), true
	}
	return netip.Addr{}, netip.Addr{}, false
}

func v6OffsetIf(v6 bool) *big.Int {
	if v6 {
		return v6Offset
	}
	return new(big.Int)
}

func numAddr(x *big.Int, v6 bool) netip.Addr {
	if v6 {
		var b [16]byte
		x.FillBytes(b[:])
		return netip.AddrFrom16(b)
	}
	var b [4]byte
	x.FillBytes(b[:])
	return netip.AddrFrom4(b)
}

// TestClaimGapOracle: leased_claim_block (one statement, migration 0007)
// chooses the block Go's findGap chooses, over random sequences of claims
// of random sizes and releases by two servers in DHCPv4 pools of two
// ranges, an IA_NA range and an IA_PD prefix (unit 2^8), until each pool
// is exhausted: same first and last address every time, ErrNoFreeBlock
// exactly when findGap finds nothing.
func TestClaimGapOracle(t *testing.T) {
	dsn := pgtest.DB(t)
	a, b := clusterOpen(t, dsn, "a"), clusterOpen(t, dsn, "b")
	ctx := context.Background()
	pools := []ClaimPool{
		pool4,
		{Name: "na", Ranges: []Range{{netip.MustParseAddr("2001:db8:1::100"), netip.MustParseAddr("2001:db8:1::4ff")}}},
		{Name: "pd", PrefixLen: 120, Ranges: []Range{{netip.MustParseAddr("2001:db8:2::"), netip.MustParseAddr("2001:db8:2::7:ffff")}}},
	}
	rng := rand.New(rand.NewPCG(12, 7))
	for _, p := range pools {
		unit := big.NewInt(1)
		if p.PrefixLen > 0 {
			unit.Lsh(unit, uint(128-int(p.PrefixLen)))
		}
		var mine []Claim
		claims, releases := 0, 0
		for step := 0; step < 400; step++ {
			s := a
			if rng.IntN(2) == 1 {
				s = b
			}
			if len(mine) > 0 && rng.IntN(4) == 0 {
				i := rng.IntN(len(mine))
				owner := a
				if mine[i].Owner == "b" {
					owner = b
				}
				if err := owner.ReleaseClaim(ctx, mine[i].ID); err != nil {
					t.Fatal(err)
				}
				mine = append(mine[:i], mine[i+1:]...)
				releases++
				continue
			}
			all, err := a.Claims(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var held []Claim
			for _, c := range all {
				if c.First.Is6() == p.Ranges[0].First.Is6() {
					held = append(held, c)
				}
			}
			size := 1 + rng.IntN(90)
			wf, wl, ok := findGap(p.Ranges, held, unit, size)
			c, err := s.ClaimBlock(ctx, p, size, time.Minute)
			if !ok {
				if !errors.Is(err, ErrNoFreeBlock) {
					t.Fatalf("pool %s step %d: findGap finds nothing, ClaimBlock gave %+v, %v", p.Name, step, c, err)
				}
				break
			}
			if err != nil {
				t.Fatalf("pool %s step %d size %d: %v (findGap: %v-%v)", p.Name, step, size, err, wf, wl)
			}
			if c.First != wf || c.Last != wl {
				t.Fatalf("pool %s step %d size %d: claimed %v-%v, findGap %v-%v", p.Name, step, size, c.First, c.Last, wf, wl)
			}
			mine = append(mine, c)
			claims++
		}
		t.Logf("pool %s: %d claims, %d releases, all as findGap", p.Name, claims, releases)
		if claims < 10 {
			t.Errorf("pool %s: only %d claims compared", p.Name, claims)
		}
	}
}
