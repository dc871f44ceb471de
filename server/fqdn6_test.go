package server

import (
	"bytes"
	"testing"

	"github.com/leased/leased/dhcpv6"
	"github.com/leased/leased/lease"
	"github.com/leased/leased/lease6"
)

// TestFQDN6Flags: option 39 (RFC 4704) in a Solicit/Request: the
// Advertise and Reply carry it back (§5) with the server's S/O/N flags
// and the name in wire form, and the bound records say what the server
// updates, for each flag combination.
func TestFQDN6Flags(t *testing.T) {
	const S, O, N = dhcpv6.FQDNFlagS, dhcpv6.FQDNFlagO, dhcpv6.FQDNFlagN
	// "six" partial, and "six.lan.test." as the server answers.
	six := []byte{3, 's', 'i', 'x'}
	lanName := []byte{3, 's', 'i', 'x', 3, 'l', 'a', 'n', 4, 't', 'e', 's', 't', 0}
	for _, tt := range []struct {
		client, want uint8 // flags
		override     bool
		mode         lease.DDNSMode
	}{
		{S, S, false, lease.DDNSBoth},
		{0, 0, false, lease.DDNSPTROnly},
		{0, S | O, true, lease.DDNSBoth},
		{N, N, false, lease.DDNSNone},
		{N, N, true, lease.DDNSNone},
	} {
		for _, typ := range []dhcpv6.MessageType{dhcpv6.Advertise, dhcpv6.Reply} {
			var w dhcpv6.Writer
			w.Reset(make([]byte, 0, 512))
			w.Header(dhcpv6.Request, 1)
			w.Option(dhcpv6.OptClientID, []byte{0, 3, 0, 1, 2, 0, 0, 0, 0, 1})
			w.Option(dhcpv6.OptClientFQDN, append([]byte{tt.client}, six...))
			pkt, err := w.End()
			if err != nil {
				t.Fatal(err)
			}
			s := &Server{}
			s.SetFQDNPolicy(&FQDNPolicy{Zone: "lan.test", OverrideClientUpdate: tt.override})
			p := new(inPacket6)
			if err := p.msg.Decode(pkt); err != nil {
				t.Fatal(err)
			}
			f, _ := p.msg.FQDN()
			p.req.Hostname = fqdnText(p.host[:0], f.Name) // as fillRequest6
			s.fqdnRequest6(p)
			d := lease6.Decision{HasReply: true, Reply: lease6.Reply{Type: typ},
				Persist: []lease.Lease{{State: lease.StateBound}, {State: lease.StateReleased}}}
			fqdnReply6(p, &d)
			out, err := encodeReply6(&w, make([]byte, 0, 1024), &reply6{xid: 1, serverID: []byte{0, 3, 0, 1, 2, 0, 0, 0, 0, 9}}, &d.Reply, nil)
			if err != nil {
				t.Fatal(err)
			}
			var m dhcpv6.Message
			if err := m.Decode(out); err != nil {
				t.Fatal(err)
			}
			got, _ := m.Options().Get(dhcpv6.OptClientFQDN)
			if want := append([]byte{tt.want}, lanName...); !bytes.Equal(got, want) {
				t.Errorf("client flags %#x override %v: %v option 39 = % x, want % x", tt.client, tt.override, typ, got, want)
			}
			if p.req.DDNS != tt.mode {
				t.Errorf("client flags %#x: request mode %d, want %d (the engine keeps it with the bindings)", tt.client, p.req.DDNS, tt.mode)
			}
		}
	}
}
