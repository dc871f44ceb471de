package server

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/leased/leased/dhcpv6"
)

func opt6(code dhcpv6.OptionCode, v []byte) []byte {
	b := binary.BigEndian.AppendUint16(nil, uint16(code))
	b = binary.BigEndian.AppendUint16(b, uint16(len(v)))
	return append(b, v...)
}

// TestRelayData6: a binding's return path (version 2) keeps every relay
// layer's options but the Relay Message option; RelayData6 lists the
// Relay-IDs and Remote-IDs of every layer, innermost first, and rebuilds the Relay-forward without the client's message
// (OPTION_LQ_RELAY_DATA, RFC 5007 §4.1.2.4). A version 1 path (written
// before) still parses, with only its interface-ids.
func TestRelayData6(t *testing.T) {
	client := []byte{byte(dhcpv6.Request), 1, 2, 3}
	relayIDIn := []byte{0, 3, 0, 1, 2, 0, 0, 0, 0, 0x10}
	relayIDOut := []byte{0, 3, 0, 1, 2, 0, 0, 0, 0, 0x20}
	remoteID := []byte{0, 0, 0x0d, 0xe9, 'p', 'o', 'r', 't', '7'}
	// Inner relay: interface-id, remote-id, relay-id, then the client's
	// message; outer relay: its relay-id and the inner Relay-forward.
	innerOpts := append(append(append(opt6(dhcpv6.OptInterfaceID, []byte("ge-0/0/1")), opt6(dhcpv6.OptRemoteID, remoteID)...),
		opt6(optRelayID, relayIDIn)...), opt6(dhcpv6.OptRelayMsg, client)...)
	inner := append([]byte{byte(dhcpv6.RelayForward), 0}, relayLink.AsSlice()...)
	inner = append(append(inner, clientLL.AsSlice()...), innerOpts...)
	outerOpts := append(opt6(optRelayID, relayIDOut), opt6(dhcpv6.OptRelayMsg, inner)...)
	outer := append([]byte{byte(dhcpv6.RelayForward), 1}, outerLink.AsSlice()...)
	outer = append(append(outer, innerRelay.AsSlice()...), outerOpts...)
	var m dhcpv6.Message
	if err := m.Decode(outer); err != nil {
		t.Fatal(err)
	}
	var p path6
	p.fromMessage(&m, "vsrv", netip.MustParseAddrPort("[2001:db8::2]:547"))
	b := appendPath(nil, &p)
	if bytes.Contains(b, client) {
		t.Fatal("the client's message is in the stored path")
	}
	var q path6
	if err := parsePath(b, &q); err != nil || q.n != 2 || !bytes.Equal(q.hops[1].ifaceID, []byte("ge-0/0/1")) || q.hops[0].ifaceID != nil {
		t.Fatalf("parse: %v %+v", err, q)
	}
	rid, rem, peer, msg := RelayData6(b, true)
	if len(rid) != 2 || !bytes.Equal(rid[0], relayIDIn) || !bytes.Equal(rid[1], relayIDOut) || len(rem) != 1 || !bytes.Equal(rem[0], remoteID) || peer != innerRelay {
		t.Fatalf("relay data %x %x %v", rid, rem, peer)
	}
	// The relay message: the outer Relay-forward with the inner one in
	// its Relay Message option, the inner one without the client's.
	wantInner := append([]byte{byte(dhcpv6.RelayForward), 0}, relayLink.AsSlice()...)
	wantInner = append(append(wantInner, clientLL.AsSlice()...), innerOpts[:len(innerOpts)-4-len(client)]...)
	want := append([]byte{byte(dhcpv6.RelayForward), 1}, outerLink.AsSlice()...)
	want = append(append(append(want, innerRelay.AsSlice()...), opt6(optRelayID, relayIDOut)...), opt6(dhcpv6.OptRelayMsg, wantInner)...)
	if !bytes.Equal(msg, want) {
		t.Fatalf("relay message\n got % x\nwant % x", msg, want)
	}
	if _, _, _, m := RelayData6(b, false); m != nil {
		t.Error("relay message built without withData")
	}
	// Stored again from the parsed path: the same bytes.
	if b2 := appendPath(nil, &q); !bytes.Equal(b2, b) {
		t.Fatalf("re-encoded path differs:\n% x\n% x", b2, b)
	}
	// Only the outer relay has a Relay-ID: it is the one found.
	p.hops[1].opts = dhcpv6.Options(opt6(dhcpv6.OptInterfaceID, []byte("x")))
	if rid, rem, _, _ := RelayData6(appendPath(nil, &p), false); len(rid) != 1 || !bytes.Equal(rid[0], relayIDOut) || rem != nil {
		t.Fatalf("outer relay-id: %x %x", rid, rem)
	}
	// A version 1 path: interface-ids only.
	v1 := []byte{pathVersion1, 4, 'v', 's', 'r', 'v'}
	v1 = append(append(v1, innerRelay.AsSlice()...), 2, 0x23, 1)
	v1 = append(append(append(v1, 0), relayLink.AsSlice()...), clientLL.AsSlice()...)
	v1 = append(v1, 0, 3, 'e', 't', 'h')
	if err := parsePath(v1, &q); err != nil || q.n != 1 || string(q.hops[0].ifaceID) != "eth" || q.to.Port() != 547 {
		t.Fatalf("version 1: %v %+v", err, q)
	}
	rid, rem, _, msg = RelayData6(v1, true)
	wantV1 := append([]byte{byte(dhcpv6.RelayForward), 0}, relayLink.AsSlice()...)
	wantV1 = append(append(wantV1, clientLL.AsSlice()...), opt6(dhcpv6.OptInterfaceID, []byte("eth"))...)
	if rid != nil || rem != nil || !bytes.Equal(msg, wantV1) {
		t.Fatalf("version 1 relay data %x %x % x", rid, rem, msg)
	}
	// Direct clients have none; damaged paths neither.
	if _, _, _, m := RelayData6(appendPath(nil, &path6{iface: "eth0", to: netip.MustParseAddrPort("[fe80::1]:546")}), true); m != nil {
		t.Error("relay data for a direct client")
	}
	// A stored layer with a Relay Message option was not written by
	// appendPath: refused.
	var r path6
	r.to, r.n = netip.MustParseAddrPort("[2001:db8::2]:547"), 1
	r.hops[0] = hop6{link: relayLink, peer: clientLL, opts: dhcpv6.Options{}}
	withMsg := appendPath(nil, &r)
	withMsg = append(withMsg[:len(withMsg)-2], 0, 8)
	withMsg = append(withMsg, opt6(dhcpv6.OptRelayMsg, client)...)
	if err := parsePath(withMsg, &q); err == nil {
		t.Error("stored Relay Message option accepted")
	}
	bad := append([]byte(nil), b...)
	bad[len(bad)-1] ^= 0xff // last option's data: still framed; its length
	bad = bad[:len(bad)-1]
	if rid, _, _, m := RelayData6(bad, true); rid != nil || m != nil {
		t.Error("truncated path parsed")
	}
}

// FuzzReturnPath: any stored bytes parse or fail, never panic; a parsed
// path re-encodes to the same bytes, and RelayData6 reads it without
// panicking (relay_info comes from the store, possibly damaged).
func FuzzReturnPath(f *testing.F) {
	var p path6
	p.iface, p.to, p.n = "vsrv", netip.MustParseAddrPort("[2001:db8::2]:547"), 2
	p.hops[0] = hop6{hopCount: 1, link: outerLink, peer: innerRelay, opts: dhcpv6.Options(opt6(optRelayID, []byte{0, 3, 0, 1, 2, 0, 0, 0, 0, 1}))}
	p.hops[1] = hop6{link: relayLink, peer: clientLL, opts: dhcpv6.Options(append(opt6(dhcpv6.OptInterfaceID, []byte("x")), opt6(dhcpv6.OptRemoteID, []byte{0, 0, 0, 9, 'r'})...))}
	f.Add(appendPath(nil, &p))
	f.Add(appendPath(nil, &path6{iface: "eth0", to: netip.MustParseAddrPort("[fe80::1]:546")}))
	v1 := []byte{pathVersion1, 0}
	v1 = append(append(v1, innerRelay.AsSlice()...), 2, 0x23, 1, 0)
	v1 = append(append(append(v1, relayLink.AsSlice()...), clientLL.AsSlice()...), 0, 1, 'e')
	f.Add(v1)
	f.Fuzz(func(t *testing.T, b []byte) {
		RelayData6(b, true)
		var q path6
		if parsePath(b, &q) != nil {
			return
		}
		if b[0] == pathVersion {
			if e := appendPath(nil, &q); !bytes.Equal(e, b) {
				t.Fatalf("re-encoded % x, stored % x", e, b)
			}
		}
	})
}

// BenchmarkRelayData6: the cost per binding of a bulk query by relay id
// or remote id (ids only) and of relay data (the Relay-forward rebuilt),
// for a one-relay path as dibbler-relay writes it.
func BenchmarkRelayData6(b *testing.B) {
	var p path6
	p.iface, p.to, p.n = "vsrv", netip.MustParseAddrPort("[fd77::2]:547"), 1
	p.hops[0] = hop6{link: relayLink, peer: clientLL, opts: dhcpv6.Options(append(append(opt6(dhcpv6.OptInterfaceID, []byte{0, 0, 0x15, 0xb3}),
		opt6(dhcpv6.OptRemoteID, []byte{0, 0, 0, 9, 'p', 'o', 'r', 't', '7'})...), opt6(optRelayID, []byte{0, 3, 0, 1, 2, 0, 0, 0, 0, 0x77})...))}
	path := appendPath(nil, &p)
	b.Logf("stored path: %d bytes", len(path))
	b.Run("ids", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if ids, _, _, _ := RelayData6(path, false); len(ids) == 0 {
				b.Fatal("no relay id")
			}
		}
	})
	b.Run("data", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, _, m := RelayData6(path, true); m == nil {
				b.Fatal("no relay data")
			}
		}
	})
}
