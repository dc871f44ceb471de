package server

import (
	"bytes"
	"errors"
	"testing"

	"github.com/leased/leased/auth"
	"github.com/leased/leased/dhcpv6"
	"github.com/leased/leased/lease6"
)

// The server's RKAP encoding (encodeReply6's key option, encodeReconfigure's
// signed option 11) is auth's: a client checking with auth.ReplyKey6 and
// auth.VerifyReconfigure6 takes the key from the Reply and accepts the
// Reconfigure, direct or inside two Relay-reply layers, and rejects it
// with another key or an old replay value (RFC 8415 §20.3, §20.4).
func TestRKAP6MatchesAuth(t *testing.T) {
	key := bytes.Repeat([]byte{0x5c}, 16)
	sid, cid := []byte{0, 4, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, []byte{0, 3, 0, 1, 1, 2, 3, 4, 5, 6}
	var w dhcpv6.Writer

	rep := lease6.Reply{Type: dhcpv6.Reply, ReconfKey: key, Replay: 9, ReconfAccept: true}
	out, err := encodeReply6(&w, make([]byte, 0, 1024), &reply6{xid: 1, serverID: sid, clientID: cid}, &rep, nil)
	if err != nil {
		t.Fatal(err)
	}
	var m dhcpv6.Message
	if err := m.Decode(out); err != nil {
		t.Fatal(err)
	}
	got, replay, err := auth.ReplyKey6(&m)
	if err != nil || !bytes.Equal(got[:], key) || replay != 9 {
		t.Fatalf("ReplyKey6: %x %d %v", got, replay, err)
	}

	relayed := &path6{n: 2}
	relayed.hops[0] = hop6{hopCount: 1, link: outerLink, peer: innerRelay, ifaceID: ifaceIDOut}
	relayed.hops[1] = hop6{hopCount: 0, link: relayLink, peer: clientLL, ifaceID: ifaceIDIn}
	for _, p := range []*path6{nil, relayed} {
		r := lease6.Reply{Type: dhcpv6.Reconfigure, ReconfKey: key, Replay: 10}
		pkt, err := encodeReconfigure(&w, make([]byte, 0, 1024), &r, sid, cid, p)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Decode(pkt); err != nil {
			t.Fatal(err)
		}
		if v, err := auth.VerifyReconfigure6(&m, key, replay, nil); err != nil || v != 10 {
			t.Errorf("relays %d: VerifyReconfigure6 = %d, %v", len(m.Relays()), v, err)
		}
		var ae *auth.Error
		if _, err := auth.VerifyReconfigure6(&m, bytes.Repeat([]byte{1}, 16), replay, nil); !errors.As(err, &ae) || !errors.Is(err, auth.ErrDigest) {
			t.Errorf("relays %d: wrong key: %v", len(m.Relays()), err)
		}
		if _, err := auth.VerifyReconfigure6(&m, key, 10, nil); !errors.Is(err, auth.ErrReplay) {
			t.Errorf("relays %d: replayed: %v", len(m.Relays()), err)
		}
	}
}
