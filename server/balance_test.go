package server

import (
	"context"
	"math/rand/v2"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/leased/leased/dhcpv4"
	"github.com/leased/leased/dhcpv6"
	"github.com/leased/leased/lease"
	"github.com/leased/leased/lease6"
)

// rfc3074Hash is RFC 3074 §6's reference code transcribed literally
// (unsigned char arithmetic, the index counting down from len):
//
//	unsigned char hash = len;
//	for (i = len; i > 0; ) hash = loadb_mx_tbl[hash ^ key[--i]];
func rfc3074Hash(key []byte) uint8 {
	var hash uint8 = uint8(len(key))
	for i := len(key); i > 0; {
		i--
		hash = loadbMixTable[int(hash^key[i])]
	}
	return hash
}

// TestLoadbHash: the mixing table is a permutation of 0–255 (RFC 3074 §6:
// "256 distinct values"); a few hashes computed by hand from the RFC's
// table and algorithm; the implementation equals the RFC's code for
// random keys; and client MACs spread evenly over the buckets.
func TestLoadbHash(t *testing.T) {
	seen := [256]bool{}
	for _, v := range loadbMixTable {
		if seen[v] {
			t.Fatalf("mixing table repeats %d", v)
		}
		seen[v] = true
	}
	// By hand: T[0]=251, T[1]=175, T[2]=119, T[119]=150, T[255]=151.
	for _, c := range []struct {
		key  []byte
		want uint8
	}{
		{nil, 0},               // hash = len = 0, nothing mixed
		{[]byte{0}, 175},       // T[1^0]
		{[]byte{1}, 251},       // T[1^1]
		{[]byte{0, 0}, 150},    // T[T[2^0]^0] = T[119]
		{[]byte{0xfe}, 151},    // T[1^0xfe] = T[255]
		{[]byte{0x12, 2}, 38},  // T[T[2^2]^0x12]: T[0]=251, 251^0x12=233, T[233]=38
		{make([]byte, 256), 0}, // len 256 is 0 as an unsigned char (checked against the RFC code only)
	} {
		if got, ref := loadbHash(c.key), rfc3074Hash(c.key); got != ref || (len(c.key) < 256 && got != c.want) {
			t.Errorf("hash(%x) = %d, RFC code %d, by hand %d", c.key, got, ref, c.want)
		}
	}
	rng := rand.New(rand.NewPCG(3074, 1))
	var buckets [256]int
	const n = 256 * 200
	for i := range n {
		key := make([]byte, 1+rng.IntN(40))
		for j := range key {
			key[j] = byte(rng.Uint32())
		}
		if got, ref := loadbHash(key), rfc3074Hash(key); got != ref {
			t.Fatalf("hash(%x) = %d, RFC code %d", key, got, ref)
		}
		mac := []byte{1, 0x02, 0x42, 0xac, byte(i >> 16), byte(i >> 8), byte(i)} // option 61: htype 1 + MAC
		buckets[loadbHash(mac)]++
	}
	// 200 expected per bucket: a chi-square far above 256 degrees of
	// freedom (p < 1e-6 near 390) means an uneven split.
	var chi float64
	for _, c := range buckets {
		d := float64(c - 200)
		chi += d * d / 200
	}
	if chi > 400 {
		t.Errorf("sequential MACs spread unevenly: chi-square %.0f over 256 buckets", chi)
	}
}

// lbMember is a Server with only what the filter needs.
func lbMember(name string, answerAfter uint16) *Server {
	return &Server{cpath: &clusterPath{self: name, answerAfter: answerAfter,
		notMine4: prometheus.NewCounter(prometheus.CounterOpts{Name: "x4"}),
		notMine6: prometheus.NewCounter(prometheus.CounterOpts{Name: "x6"})}}
}

// TestBucketsOwnedOnce: for live sets of 1 to 7 servers, each server
// told the set in its own order (the control plane's list need not be
// sorted, and may lack the server itself), every bucket is owned by
// exactly one server, the split is the (b mod n)-th server by name, and a
// server outside the set it was told still counts itself in.
func TestBucketsOwnedOnce(t *testing.T) {
	all := []string{"zeta", "alpha", "mu", "beta", "omega", "kappa", "delta"}
	rng := rand.New(rand.NewPCG(7, 7))
	for n := 1; n <= len(all); n++ {
		names := all[:n]
		sorted := slices.Sorted(slices.Values(names))
		var ms []*Server
		for i, name := range names {
			m := lbMember(name, 0)
			told := slices.Clone(names)
			rng.Shuffle(len(told), func(a, b int) { told[a], told[b] = told[b], told[a] })
			if i%2 == 1 {
				told = slices.DeleteFunc(told, func(x string) bool { return x == name })
			}
			m.setLiveServers(told)
			ms = append(ms, m)
		}
		per := map[string]int{}
		for b := range 256 {
			owners := 0
			for _, m := range ms {
				if m.cpath.ownsHash(uint8(b)) {
					owners++
					if want := sorted[b%n]; m.cpath.self != want {
						t.Errorf("n=%d bucket %d owned by %s, want %s", n, b, m.cpath.self, want)
					}
					per[m.cpath.self]++
				}
			}
			if owners != 1 {
				t.Fatalf("n=%d bucket %d has %d owners", n, b, owners)
			}
		}
		for _, name := range names {
			if c := per[name]; c < 256/n || c > 256/n+1 {
				t.Errorf("n=%d: %s owns %d buckets", n, name, c)
			}
		}
	}
	// Before the first live set a server answers everything.
	if m := lbMember("a", 0); !m.cpath.ownsHash(17) {
		t.Error("no live set yet, bucket not owned")
	}
}

// TestMine4: which DHCPv4 messages the filter leaves to the bucket's
// owner, and the secs fallback.
func TestMine4(t *testing.T) {
	a, b := lbMember("a", 10), lbMember("b", 10)
	a.setLiveServers([]string{"a", "b"})
	b.setLiveServers([]string{"b", "a"})
	mac := [6]byte{2, 0, 0, 0, 0, 1}
	srv := netip.MustParseAddr("10.0.0.1")
	ip := netip.MustParseAddr("10.0.0.50")
	for i := range 64 {
		mac[5] = byte(i)
		cid := append([]byte{1}, mac[:]...)
		for _, c := range []struct {
			name     string
			req      lease.Request
			filtered bool // left to the bucket's owner
		}{
			{"broadcast DISCOVER", lease.Request{Type: dhcpv4.Discover}, true},
			{"relayed DISCOVER", lease.Request{Type: dhcpv4.Discover, GIAddr: srv, Unicast: true}, true},
			{"BOOTREQUEST", lease.Request{Type: 0}, true},
			{"INIT-REBOOT", lease.Request{Type: dhcpv4.Request, RequestedIP: ip}, true},
			{"REBINDING", lease.Request{Type: dhcpv4.Request, CIAddr: ip}, true},
			{"relayed REBINDING", lease.Request{Type: dhcpv4.Request, CIAddr: ip, GIAddr: srv, Unicast: true}, true},
			{"SELECTING", lease.Request{Type: dhcpv4.Request, RequestedIP: ip, ServerID: srv}, false},
			{"RENEWING", lease.Request{Type: dhcpv4.Request, CIAddr: ip, Unicast: true}, false},
			{"RELEASE", lease.Request{Type: dhcpv4.Release, CIAddr: ip, Unicast: true, ServerID: srv}, false},
			{"DECLINE", lease.Request{Type: dhcpv4.Decline, RequestedIP: ip, ServerID: srv}, false},
			{"unicast INFORM", lease.Request{Type: dhcpv4.Inform, CIAddr: ip, Unicast: true}, false},
		} {
			for _, withID := range []bool{true, false} {
				p := &inPacket{req: c.req}
				p.req.HType, p.req.HWAddr = 1, mac[:]
				key := mac[:]
				if withID {
					p.req.ClientID, key = cid, cid
				}
				owner := loadbHash(key) % 2 // "a" < "b"
				ma, mb := a.mine4(p), b.mine4(p)
				if !c.filtered {
					if !ma || !mb {
						t.Fatalf("%s: answered by a=%v b=%v, want both (not filtered)", c.name, ma, mb)
					}
					continue
				}
				if ma == mb || ma != (owner == 0) {
					t.Fatalf("%s (client id %v): a=%v b=%v, want only %q (hash %d)", c.name, withID, ma, mb, "ab"[owner:owner+1], loadbHash(key))
				}
				p.msg.Secs = 9
				if a.mine4(p) == b.mine4(p) {
					t.Fatalf("%s: secs 9 < 10 answered by both", c.name)
				}
				p.msg.Secs = 10
				if !a.mine4(p) || !b.mine4(p) {
					t.Fatalf("%s: secs 10 ≥ AnswerAfterSecs not answered by both", c.name)
				}
			}
		}
	}
}

// TestMine6: the DHCPv6 filter: multicast or relayed client messages by
// the DUID's bucket, Elapsed Time (hundredths) against AnswerAfterSecs,
// unicast and non-client messages answered.
func TestMine6(t *testing.T) {
	a, b := lbMember("a", 3), lbMember("b", 3)
	a.setLiveServers([]string{"a", "b"})
	b.setLiveServers([]string{"a", "b"})
	for i := range 32 {
		duid := []byte{0, 3, 0, 1, 2, 0, 0, 0, 0, byte(i)}
		owner := loadbHash(duid) % 2
		for _, typ := range []dhcpv6.MessageType{dhcpv6.Solicit, dhcpv6.Request, dhcpv6.Confirm, dhcpv6.Renew,
			dhcpv6.Rebind, dhcpv6.Release, dhcpv6.Decline, dhcpv6.InformationRequest} {
			for _, elapsed := range []uint16{0, 299, 300} {
				p := &inPacket6{}
				var w dhcpv6.Writer
				w.Reset(make([]byte, 0, 128))
				w.Header(typ, 1)
				w.Option(dhcpv6.OptClientID, duid)
				w.OptionUint16(dhcpv6.OptElapsedTime, elapsed)
				raw, err := w.End()
				if err != nil {
					t.Fatal(err)
				}
				if err := p.msg.Decode(raw); err != nil {
					t.Fatal(err)
				}
				p.req = lease6.Request{Type: typ, ClientID: duid}
				ma, mb := a.mine6(p), b.mine6(p)
				switch {
				case elapsed >= 300:
					if !ma || !mb {
						t.Fatalf("%v elapsed %d: a=%v b=%v, want both", typ, elapsed, ma, mb)
					}
				case ma == mb || ma != (owner == 0):
					t.Fatalf("%v: a=%v b=%v, want only the owner (%d)", typ, ma, mb, owner)
				}
				p.req.Unicast = true // Server Unicast: only the addressee hears it
				if !a.mine6(p) || !b.mine6(p) {
					t.Fatalf("unicast %v filtered", typ)
				}
			}
		}
	}
	p := &inPacket6{req: lease6.Request{Type: dhcpv6.RelayForward, ClientID: []byte{1}}}
	if !a.mine6(p) || !b.mine6(p) {
		t.Error("a message the filter does not concern was filtered")
	}
}

// TestReadThroughStop: stopping the read-through pool with a full queue
// and every worker stuck in a read (a database that stopped answering)
// returns at once — the reads are cancelled, the queued packets dropped
// and returned to the pool — instead of waiting out readThroughTimeout
// per packet.
func TestReadThroughStop(t *testing.T) {
	var mu sync.Mutex
	var puts int
	drops := map[string]int{}
	inRead := make(chan struct{}, readThroughWorkers)
	r := &readThrough[*int, struct{}]{jobs: make(chan *int, readThroughQueue),
		fetch: func(ctx context.Context, _ *int) error {
			inRead <- struct{}{}
			<-ctx.Done() // the database does not answer
			return ctx.Err()
		},
		decide:    func(struct{}, *int) bool { t.Error("decided without a read"); return false },
		newSender: func() struct{} { return struct{}{} },
		put:       func(*int) { mu.Lock(); puts++; mu.Unlock() },
		drop:      func(reason string) { mu.Lock(); drops[reason]++; mu.Unlock() },
	}
	r.start()
	n := 0
	var wait *time.Timer
	for r.submit(new(int), &wait) {
		n++
	}
	for range readThroughWorkers {
		<-inRead
	}
	start := time.Now()
	r.stop()
	if d := time.Since(start); d > readThroughTimeout/2 {
		t.Errorf("stop took %v", d)
	}
	if puts != n || drops[dropReadError]+drops[dropShuttingDwn] != n || drops[dropShuttingDwn] == 0 {
		t.Errorf("%d packets queued: %d returned, drops %v", n, puts, drops)
	}
}
