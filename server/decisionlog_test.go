package server

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/leased/leased/dhcpv4"
	"github.com/leased/leased/dhcpv6"
	"github.com/leased/leased/lease"
	"github.com/leased/leased/lease6"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) lines(t *testing.T) []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(s.b.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		out = append(out, m)
	}
	return out
}

// TestDecisionLog: with a one-address pool, the first DISCOVER gets an
// OFFER logged at debug with the client, address and pool; the next three
// DISCOVERs (pool exhausted) each log a WARN naming the pool and a debug
// decision with the reason, and are counted as drops.
func TestDecisionLog(t *testing.T) {
	cfg := loopConfig()
	cfg.Pools[0].Sections[0].End = cfg.Pools[0].Sections[0].Start
	eng, err := lease.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var logb syncBuffer
	log := slog.New(slog.NewJSONHandler(&logb, &slog.HandlerOptions{Level: slog.LevelDebug}))
	rec := &recorder{got: make(chan recorded, 64)}
	reg := prometheus.NewRegistry()
	s, err := New(Options{Interfaces: []string{"lo"}, Engine: eng, Store: &memStore{}, Logger: log,
		Registry: reg, MaxInFlight: 4, replies: rec})
	if err != nil {
		t.Fatal(err)
	}
	rec.done = s.sendDone
	s.l4.startWorkers()
	t.Cleanup(s.l4.drain)
	relay, server := netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("127.0.0.1")

	feed(t, s, buildMsg(t, clientMsg{typ: dhcpv4.Discover, xid: 1, mac: [6]byte{2, 0, 0, 0, 0, 1}, giaddr: relay}), server)
	if _, offer := rec.next(t); offer.Type() != dhcpv4.Offer {
		t.Fatalf("got %v, want an OFFER", offer.Type())
	}
	for i := range 3 {
		feed(t, s, buildMsg(t, clientMsg{typ: dhcpv4.Discover, xid: uint32(10 + i), mac: [6]byte{2, 0, 0, 0, 1, byte(i)}, giaddr: relay}), server)
	}
	rec.none(t)
	// INIT-REBOOT for an address of another network: a NAK, counted by
	// reason and logged with it.
	feed(t, s, buildMsg(t, clientMsg{typ: dhcpv4.Request, xid: 20, mac: [6]byte{2, 0, 0, 0, 2, 0}, giaddr: relay,
		reqIP: netip.MustParseAddr("10.9.9.9")}), server)
	if _, nak := rec.next(t); nak.Type() != dhcpv4.Nak {
		t.Fatalf("got %v, want a NAK", nak.Type())
	}
	if got := counter(t, reg, "leased_naks_total", lease.NakWrongNetwork); got != 1 {
		t.Errorf("leased_naks_total{reason=wrong_network} = %v, want 1", got)
	}
	var naks int
	var offers, warns, decisions int
	for _, m := range logb.lines(t) {
		switch m["msg"] {
		case "reply":
			if m["message"] == "requested address not on this network" { // type is a number without cmd/leased's ReplaceAttr
				naks++
				if m["reason"] != lease.NakWrongNetwork || m["chaddr"] != "02:00:00:00:02:00" {
					t.Errorf("NAK line: %v", m)
				}
				continue
			}
			offers++
			if m["chaddr"] != "02:00:00:00:00:01" || m["yiaddr"] != "127.0.0.100" || m["pool"] != "loop" {
				t.Errorf("reply line lacks client, address or pool: %v", m)
			}
		case "dhcpv4 pool exhausted: no free address to offer":
			warns++
			if m["level"] != "WARN" || m["pool"] != "loop" {
				t.Errorf("exhaustion line: %v", m)
			}
		case "dhcpv4 decision: no reply":
			decisions++
		}
	}
	if naks != 1 {
		t.Errorf("%d NAK lines, want 1", naks)
	}
	if offers != 1 || warns != 3 {
		t.Errorf("%d reply lines (want 1), %d exhaustion warnings (want 3; the daemon's handler rate-limits them)", offers, warns)
	}
	if decisions != 0 {
		t.Errorf("%d generic decision lines beside the exhaustion warnings", decisions)
	}
	if got := counter(t, reg, "leased_packets_dropped_total", "engine_pool_exhausted"); got != 3 {
		t.Errorf("engine_pool_exhausted drops %v, want 3", got)
	}
	if got := counter(t, reg, "leased_pool_drops_total", lease.DropPoolExhausted); got != 3 {
		t.Errorf("leased_pool_drops_total{pool=loop,reason=pool_exhausted} = %v, want 3", got)
	}
	if text := gatherText(t, reg); !strings.Contains(text, `leased_pool_drops_total{family="dhcpv4",pool="loop",reason="class_denied"} 0`) {
		t.Errorf("leased_pool_drops_total{pool=loop,reason=class_denied} not at 0:\n%s", text)
	}
}

// TestDecisionLog6: with one address in the pool, a second client's
// Solicit gets NoAddrsAvail for its IA_NA: a WARN names the pool and the
// kind, and the debug reply line carries the DUID, pool and IA status.
func TestDecisionLog6(t *testing.T) {
	cfg := v6Config()
	cfg.Pools[0].Ranges[0].End = cfg.Pools[0].Ranges[0].Start
	eng6, err := lease6.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var logb syncBuffer
	log := slog.New(slog.NewJSONHandler(&logb, &slog.HandlerOptions{Level: slog.LevelDebug}))
	rec := &recorder{got: make(chan recorded, 64)}
	s, err := New(Options{Store: &memStore{}, Logger: log, Registry: prometheus.NewRegistry(), MaxInFlight: 4,
		V6: &V6Options{Interfaces: []string{"lo"}, Engine: eng6, Config: &cfg}, replies6: rec})
	if err != nil {
		t.Fatal(err)
	}
	rec.done = s.sendDone6
	s.v6.l6.startWorkers()
	t.Cleanup(s.v6.l6.drain)
	relay := &relay6{t: t}
	from := netip.MustParseAddrPort("[::1]:5470")
	for i, duid := range [][]byte{{0, 3, 0, 1, 2, 0, 0, 0, 0, 7}, {0, 3, 0, 1, 2, 0, 0, 0, 0, 8}} {
		c := &client6{duid: duid}
		feed6(t, s, relay.wrap(c.msg(t, dhcpv6.Solicit, uint32(0x10+i), true)), from)
		rec.next6(t)
	}
	var warns, replies int
	for _, m := range logb.lines(t) {
		switch m["msg"] {
		case "dhcpv6 pool exhausted: nothing to offer":
			warns++
			if m["pool"] != "office6" || m["kind"] != "addresses" || m["duid"] != "00030001020000000008" {
				t.Errorf("exhaustion line: %v", m)
			}
		case "dhcpv6 reply":
			replies++
			if m["pool"] != "office6" || m["duid"] == nil || m["ias"] == nil {
				t.Errorf("reply line: %v", m)
			}
		}
	}
	if warns != 1 || replies != 2 {
		t.Errorf("%d exhaustion warnings (want 1), %d reply lines (want 2):\n%v", warns, replies, logb.lines(t))
	}
}
