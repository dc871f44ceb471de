package lease

import (
	"net/netip"
	"slices"
	"testing"
)

// TestDryPools: a DISCOVER that finds no free address on a shared network
// names the pools it could have had an address from (Decision.DryPools,
// what a cluster server waits for a claim of): the voip pool, which
// refuses a PC, is not among them; for a phone both are, in the order
// tried. On a link of one pool DryPools stays nil (DropPool names it).
func TestDryPools(t *testing.T) {
	cfg := lanConfig()
	cfg.Classes = []Class{{Name: "voip", Match: Match{VendorClass: prefix("Polycom")}}}
	cfg.Pools[0].Allow = []string{"voip"}
	cfg.Pools[0].SharedNetwork = "lan"
	cfg.Pools = append(cfg.Pools, Pool{Name: "data", Subnet: netip.MustParsePrefix("10.0.1.0/24"),
		Gateway: ip("10.0.1.1"), SharedNetwork: "lan",
		Sections: []Section{{Index: 0, Start: ip("10.0.1.10"), End: ip("10.0.1.11")}}})
	e := newEngine(t, cfg)
	// Cluster mode with no claims: nothing is free in either pool.
	e.SetClaims(cfg.Pools[0].Name, nil)
	e.SetClaims("data", nil)
	pc := e.Handle(t0, discover(mac(2)))
	if pc.HasReply || pc.Drop != DropPoolExhausted || pc.DropPool != cfg.Pools[0].Name || !slices.Equal(pc.DryPools, []string{"data"}) {
		t.Errorf("PC: drop %q pool %q dry %v, want pool_exhausted of link %q, dry [data]", pc.Drop, pc.DropPool, pc.DryPools, cfg.Pools[0].Name)
	}
	phone := discover(mac(1))
	phone.VendorClass = []byte("Polycom VVX")
	d := e.Handle(t0, phone)
	if want := []string{cfg.Pools[0].Name, "data"}; d.Drop != DropPoolExhausted || !slices.Equal(d.DryPools, want) {
		t.Errorf("phone: drop %q dry %v, want %v", d.Drop, d.DryPools, want)
	}

	one := newEngine(t, lanConfig())
	one.SetClaims(lanConfig().Pools[0].Name, nil)
	if d := one.Handle(t0, discover(mac(3))); d.Drop != DropPoolExhausted || d.DryPools != nil {
		t.Errorf("one pool: drop %q dry %v, want pool_exhausted, nil", d.Drop, d.DryPools)
	}
}
