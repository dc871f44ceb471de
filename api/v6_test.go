package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/leased/leased/lease"
)

// backend6 adds DHCPv6 bindings (an IA_NA address and an IA_PD prefix) and
// a v6 pool with its prefix delegation to the test backend, and implements
// Reconfigurer.
type backend6 struct {
	*fakeBackend
	reconfErr    error
	reconfigured []netip.Addr
}

func (b *backend6) SendReconfigure(ctx context.Context, a netip.Addr) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.reconfErr != nil {
		return b.reconfErr
	}
	for _, l := range b.leases {
		if l.Addr == a {
			b.reconfigured = append(b.reconfigured, a)
			return nil
		}
	}
	return fmt.Errorf("reconfigure %s: %w", a, lease.ErrNotFound)
}

var (
	na6 = netip.MustParseAddr("fd77::1:5")
	pd6 = netip.MustParsePrefix("fd77:100:0:100::/56")
)

func testBackend6() *backend6 {
	b := testBackend()
	duid := []byte{0, 3, 0, 1, 0x52, 0x54, 0, 0xab, 0xcd, 0xef}
	b.leases = append(b.leases,
		lease.Lease{
			Seq: 20, Addr: na6, ClientID: duid, Pool: "office6", Section: -1, State: lease.StateBound,
			Start: t0, T1: t0.Add(20 * time.Minute), T2: t0.Add(36 * time.Minute), Preferred: t0.Add(45 * time.Minute), Expiry: t0.Add(time.Hour),
			XID: 0xabcdef, GIAddr: netip.MustParseAddr("fe80::1"), IAID: 7, ForceRenewNonceCapable: true,
		},
		lease.Lease{
			Seq: 21, Addr: pd6.Addr(), PrefixLen: uint8(pd6.Bits()), ClientID: duid, Pool: "office6", Section: -1, State: lease.StateBound,
			Start: t0, Preferred: t0.Add(45 * time.Minute), Expiry: t0.Add(time.Hour), IAID: 0,
		},
	)
	b.pools = append(b.pools,
		lease.PoolStats{Name: "office6", Subnet: netip.MustParsePrefix("fd77::/64"), Size: 65536, Bound: 1},
		lease.PoolStats{Name: "office6/pd", Subnet: netip.MustParsePrefix("fd77:100::/40"), Size: 65536, Bound: 1},
	)
	return &backend6{fakeBackend: b}
}

func TestLeaseJSON6(t *testing.T) {
	h := NewHandler(testBackend6(), nil, nil)
	a := call(t, h, "GET", "/v1/leases/fd77::1:5")
	if a.code != 200 {
		t.Fatalf("code %d, body %s", a.code, a.body)
	}
	want := `{
  "family": 6,
  "address": "fd77::1:5",
  "iaid": 7,
  "duid": "00030001525400abcdef",
  "preferred": "2026-03-01T12:45:00Z",
  "hwaddr": "",
  "htype": 0,
  "client_id": "00030001525400abcdef",
  "hostname": "",
  "pool": "office6",
  "section": null,
  "state": "bound",
  "start": "2026-03-01T12:00:00Z",
  "t1": "2026-03-01T12:20:00Z",
  "t2": "2026-03-01T12:36:00Z",
  "expires": "2026-03-01T13:00:00Z",
  "xid": "0xabcdef",
  "giaddr": "fe80::1",
  "relay_info": "",
  "forcerenew_capable": true,
  "seq": 20
}
`
	if diff := cmp.Diff(want, a.body); diff != "" {
		t.Errorf("lease JSON (-want +got):\n%s", diff)
	}

	// A delegated prefix: by its prefix ("/" escaped) or its first address.
	for _, path := range []string{"/v1/leases/fd77:100:0:100::%2F56", "/v1/leases/fd77:100:0:100::"} {
		a = call(t, h, "GET", path)
		var l Lease
		if err := json.Unmarshal([]byte(a.body), &l); a.code != 200 || err != nil {
			t.Fatalf("%s: %d %s", path, a.code, a.body)
		}
		if l.Family != 6 || l.Prefix != "fd77:100:0:100::/56" || l.IAID == nil || *l.IAID != 0 || l.Address != pd6.Addr() {
			t.Errorf("%s: %+v", path, l)
		}
	}
	// The right address with another length is not this binding.
	a = call(t, h, "GET", "/v1/leases/fd77:100:0:100::%2F60")
	if a.code != 404 || errorText(t, a) != "no lease for fd77:100:0:100::/60" {
		t.Errorf("wrong length: %d %s", a.code, a.body)
	}
}

func TestLeasesFamily(t *testing.T) {
	h := NewHandler(testBackend6(), nil, nil)
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"", []string{"10.0.0.5", "10.0.0.12", "10.1.0.9", "fd77::1:5", "fd77:100:0:100::"}},
		{"?family=4", []string{"10.0.0.5", "10.0.0.12", "10.1.0.9"}},
		{"?family=6", []string{"fd77::1:5", "fd77:100:0:100::"}},
		{"?family=6&pool=office6", []string{"fd77::1:5", "fd77:100:0:100::"}},
		{"?from=fd77::&to=fd77::ffff:ffff", []string{"fd77::1:5"}},
	} {
		a := call(t, h, "GET", "/v1/leases"+tc.query)
		var got []Lease
		if err := json.Unmarshal([]byte(a.body), &got); a.code != 200 || err != nil {
			t.Fatalf("%s: %d %s", tc.query, a.code, a.body)
		}
		var addrs []string
		for _, l := range got {
			addrs = append(addrs, l.Address.String())
			if (l.Family == 6) != l.Address.Is6() {
				t.Errorf("%s: family %d for %s", tc.query, l.Family, l.Address)
			}
		}
		if diff := cmp.Diff(tc.want, addrs); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.query, diff)
		}
	}
}

func TestDeleteAndReconfigure6(t *testing.T) {
	b := testBackend6()
	h := NewHandler(b, nil, nil)
	// Reconfigure by address and by prefix; FORCERENEW refuses IPv6.
	if a := call(t, h, "POST", "/v1/leases/fd77::1:5/reconfigure"); a.code != 200 || !strings.Contains(a.body, `"status": "sent"`) {
		t.Fatalf("reconfigure: %d %s", a.code, a.body)
	}
	if a := call(t, h, "POST", "/v1/leases/fd77:100:0:100::%2F56/reconfigure"); a.code != 200 {
		t.Fatalf("reconfigure prefix: %d %s", a.code, a.body)
	}
	if !slices.Equal(b.reconfigured, []netip.Addr{na6, pd6.Addr()}) {
		t.Errorf("reconfigured %v", b.reconfigured)
	}
	if a := call(t, h, "POST", "/v1/leases/fd77:100:0:100::%2F60/reconfigure"); a.code != 404 {
		t.Errorf("reconfigure wrong length: %d %s", a.code, a.body)
	}
	// The family-neutral route sends a FORCERENEW for IPv4.
	if a := call(t, h, "POST", "/v1/leases/10.0.0.12/reconfigure"); a.code != 200 || len(b.renewed) != 1 {
		t.Errorf("reconfigure v4: %d %s, renewed %v", a.code, a.body, b.renewed)
	}
	// The DHCPv4 name works for DHCPv6 too.
	if a := call(t, h, "POST", "/v1/leases/fd77::1:5/forcerenew"); a.code != 200 || len(b.reconfigured) != 3 {
		t.Errorf("forcerenew v6: %d %s", a.code, a.body)
	}
	b.reconfErr = fmt.Errorf("fd77::1:5: no key: %w", lease.ErrNotCapable)
	if a := call(t, h, "POST", "/v1/leases/fd77::1:5/reconfigure"); a.code != 409 || !strings.Contains(errorText(t, a), "no key") {
		t.Errorf("not capable: %d %s", a.code, a.body)
	}
	b.reconfErr = nil
	if a := call(t, h, "POST", "/v1/leases/fd77::9:9/reconfigure"); a.code != 404 {
		t.Errorf("absent: %d %s", a.code, a.body)
	}
	// A backend without DHCPv6 answers 501.
	if a := call(t, NewHandler(testBackend(), nil, nil), "POST", "/v1/leases/fd77::1:5/reconfigure"); a.code != 501 {
		t.Errorf("no v6 backend: %d %s", a.code, a.body)
	}

	// Delete by prefix: a wrong length deletes nothing.
	if a := call(t, h, "DELETE", "/v1/leases/fd77:100:0:100::%2F64"); a.code != 404 || len(b.deleted) != 0 {
		t.Fatalf("delete wrong length: %d %s, deleted %v", a.code, a.body, b.deleted)
	}
	if a := call(t, h, "DELETE", "/v1/leases/fd77:100:0:100::%2F56"); a.code != 204 {
		t.Fatalf("delete prefix: %d %s", a.code, a.body)
	}
	if a := call(t, h, "DELETE", "/v1/leases/fd77::1:5"); a.code != 204 {
		t.Fatalf("delete address: %d %s", a.code, a.body)
	}
	if !slices.Equal(b.deleted, []netip.Addr{pd6.Addr(), na6}) {
		t.Errorf("deleted %v", b.deleted)
	}
}

func TestPools6(t *testing.T) {
	a := call(t, NewHandler(testBackend6(), nil, nil), "GET", "/v1/pools")
	var ps []Pool
	if err := json.Unmarshal([]byte(a.body), &ps); err != nil || len(ps) != 4 {
		t.Fatalf("%d %s", a.code, a.body)
	}
	got := []string{}
	for _, p := range ps {
		got = append(got, fmt.Sprintf("%s %d %s %s %d", p.Name, p.Family, p.Kind, p.Subnet, p.Size))
	}
	want := []string{"office 4 addresses 10.0.0.0/24 200", "lab 4 addresses 10.1.0.0/24 3",
		"office6 6 addresses fd77::/64 65536", "office6/pd 6 prefixes fd77:100::/40 65536"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("pools (-want +got):\n%s", diff)
	}
}
