package lease6

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/leased/leased/dhcpv6"
)

func benchConfig() Config {
	cfg := testConfig()
	cfg.Pools[0].Ranges = []Range{{Start: netip.MustParseAddr("fd77::"), End: netip.MustParseAddr("fd77::ffff:ffff:ffff:ffff")}}
	// 2^24 /56s: testConfig's /40 (65,536) ran out at -benchtime 100000x.
	cfg.Pools[0].PD = &PrefixPool{Prefix: netip.MustParsePrefix("fd77:100::/32"), Length: 56}
	return cfg
}

func benchDUIDs(n int) [][]byte {
	ds := make([][]byte, n)
	for i := range ds {
		d := []byte{0, 3, 0, 1, 2, 0, 0, 0, 0, 0}
		binary.BigEndian.PutUint32(d[6:], uint32(i))
		ds[i] = d
	}
	return ds
}

// BenchmarkSolicitRequest: one new client's Solicit → Advertise and
// Request → Reply per iteration (the perfdhcp -6 exchange), IA_NA only and
// IA_NA + IA_PD. Reports allocations; the engine allocates only what the
// Decision hands out (reply IAs, persisted records and their byte slices)
// plus the new client's index entries.
func BenchmarkSolicitRequest(b *testing.B) {
	for _, tc := range []struct {
		name string
		ias  []IA
		sc   *Scratch // as leased's server calls the engine
	}{
		{"na", []IA{{Kind: IANA, IAID: 1}}, nil},
		{"na+pd", []IA{{Kind: IANA, IAID: 1}, {Kind: IAPD, IAID: 2}}, nil},
		{"na/scratch", []IA{{Kind: IANA, IAID: 1}}, new(Scratch)},
		{"na+pd/scratch", []IA{{Kind: IANA, IAID: 1}, {Kind: IAPD, IAID: 2}}, new(Scratch)},
	} {
		b.Run(tc.name, func(b *testing.B) {
			e := newEngine(b, benchConfig())
			duids := benchDUIDs(b.N)
			sol := &Request{Type: dhcpv6.Solicit, LinkAddr: link, Peer: peerA, IAs: tc.ias, Scratch: tc.sc}
			req := &Request{Type: dhcpv6.Request, LinkAddr: link, Peer: peerA, ServerID: []byte{0, 1}, ServerIDOurs: true, Scratch: tc.sc}
			reqIAs := make([]IA, len(tc.ias))
			addrs := make([]netip.Addr, 1)
			pfxs := make([]netip.Prefix, 1)
			now := t0
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				sol.ClientID, sol.XID = duids[i], uint32(i)
				d := e.Handle(now, sol)
				for j, r := range d.Reply.IAs {
					reqIAs[j] = IA{Kind: r.Kind, IAID: r.IAID}
					if r.Kind == IANA {
						addrs[0] = r.Bindings[0].Addr
						reqIAs[j].Addrs = addrs
					} else {
						pfxs[0] = r.Bindings[0].Prefix
						reqIAs[j].Prefixes = pfxs
					}
				}
				req.ClientID, req.XID, req.IAs = duids[i], uint32(i), reqIAs
				d = e.Handle(now, req)
				if len(d.Persist) != len(tc.ias) {
					b.Fatalf("Request: %+v", d)
				}
			}
		})
	}
}

// BenchmarkRenew: a bound client's Renew → Reply.
func BenchmarkRenew(b *testing.B) {
	e := newEngine(b, benchConfig())
	const n = 4096
	duids := benchDUIDs(n)
	reqs := make([]*Request, n)
	for i := range n {
		d := e.Handle(t0, &Request{Type: dhcpv6.Request, ClientID: duids[i], ServerID: []byte{0, 1}, ServerIDOurs: true,
			LinkAddr: link, Peer: peerA, IAs: []IA{{Kind: IANA, IAID: 1}}})
		reqs[i] = &Request{Type: dhcpv6.Renew, ClientID: duids[i], ServerID: []byte{0, 1}, ServerIDOurs: true,
			LinkAddr: link, Peer: peerA, IAs: []IA{{Kind: IANA, IAID: 1, Addrs: []netip.Addr{d.Persist[0].Addr}}}}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		d := e.Handle(t0.Add(time.Duration(i)), reqs[i%n])
		if len(d.Persist) != 1 {
			b.Fatalf("Renew: %+v", d)
		}
	}
}

// The Renew path allocates only what the Decision hands out: the reply's
// IA and binding slices, Persist and its undo log, the persisted record's
// DUID copy and the Reply's Lease copy.
func TestRenewAllocs(t *testing.T) {
	e := newEngine(t, benchConfig())
	d := e.Handle(t0, &Request{Type: dhcpv6.Request, ClientID: duidA, ServerID: []byte{0, 1}, ServerIDOurs: true,
		LinkAddr: link, Peer: peerA, IAs: []IA{{Kind: IANA, IAID: 1}}})
	req := &Request{Type: dhcpv6.Renew, ClientID: duidA, ServerID: []byte{0, 1}, ServerIDOurs: true,
		LinkAddr: link, Peer: peerA, IAs: []IA{{Kind: IANA, IAID: 1, Addrs: []netip.Addr{d.Persist[0].Addr}}}}
	now := t0
	got := testing.AllocsPerRun(200, func() {
		now = now.Add(time.Second)
		if d := e.Handle(now, req); len(d.Persist) != 1 {
			t.Fatalf("%+v", d)
		}
	})
	if got > 6 {
		t.Errorf("Renew allocates %.1f times, want ≤ 6", got)
	}
}
