package server

import (
	"bytes"
	"net/netip"
	"testing"
	"time"

	"github.com/leased/leased/ddns"
	"github.com/leased/leased/dhcpv4"
	"github.com/leased/leased/lease"
)

// fqdnMsg builds a relayed DHCPv4 message from mac with option 12 "host1"
// and, when fqdn is not nil, option 81 with that value.
func fqdnMsg(t *testing.T, typ dhcpv4.MessageType, mac byte, reqIP, sid netip.Addr, fqdn []byte) []byte {
	t.Helper()
	h := dhcpv4.Header{Op: dhcpv4.BootRequest, HType: 1, HLen: 6, Hops: 1, XID: 7, GIAddr: netip.MustParseAddr("127.0.0.2")}
	h.CHAddr[0], h.CHAddr[5] = 2, mac
	var w dhcpv4.Writer
	w.Reset(make([]byte, 0, 1024))
	w.Header(&h)
	w.OptionByte(dhcpv4.OptMessageType, byte(typ))
	if reqIP.IsValid() {
		w.OptionAddr(dhcpv4.OptRequestedIP, reqIP)
		w.OptionAddr(dhcpv4.OptServerID, sid)
	}
	w.OptionString(dhcpv4.OptHostname, "host1")
	if fqdn != nil {
		w.Option(dhcpv4.OptClientFQDN, fqdn)
	}
	b, err := w.End()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fqdnExchange4 runs one message through the server's request path
// (decode, fill, option 81, engine, reply marks, encode) and returns the
// decision and the encoded reply's option 81 (nil when absent).
func fqdnExchange4(t *testing.T, s *Server, eng *lease.Engine, p *inPacket, pkt []byte) (lease.Decision, []byte, *dhcpv4.Message) {
	t.Helper()
	if err := p.msg.Decode(pkt); err != nil {
		t.Fatal(err)
	}
	ifc := &iface{name: "lo", addr: netip.MustParseAddr("127.0.0.1"), prefix: netip.MustParsePrefix("127.0.0.0/8")}
	fillRequest(&p.req, &p.msg, ifc, pktInfo{Dst: netip.MustParseAddr("127.0.0.1"), Local: netip.MustParseAddr("127.0.0.1")}, s.isOurs)
	s.fqdnRequest4(p)
	d := eng.Handle(time.Unix(1e9, 0), &p.req)
	s.fqdnReply4(p, &d)
	if !d.HasReply {
		t.Fatalf("no reply: %q", d.Drop)
	}
	var w dhcpv4.Writer
	po, _ := buildPoolOptions(d.Reply.Pool)
	out, err := encodeReply(&w, make([]byte, 0, 1500), &p.msg.Header, &d.Reply, d.Reply.ServerID, nil, nil, po)
	if err != nil {
		t.Fatal(err)
	}
	var m dhcpv4.Message
	if err := m.Decode(out); err != nil {
		t.Fatal(err)
	}
	v, _ := m.Option(dhcpv4.OptClientFQDN)
	return d, bytes.Clone(v), &m
}

// TestFQDN4Flags: for each combination of the client's S and N flags (and
// the override setting), the OFFER and the ACK carry option 81 with the
// server's flags (RFC 4702 §4: S, O, N; E as the client's), RCODE1 and
// RCODE2 255 (§2.2) and the name the server uses, and the bound record
// says which DNS records the server updates.
func TestFQDN4Flags(t *testing.T) {
	const S, O, E, N = dhcpv4.FQDNFlagS, dhcpv4.FQDNFlagO, dhcpv4.FQDNFlagE, dhcpv4.FQDNFlagN
	wire := func(labels ...string) []byte {
		var b []byte
		for _, l := range labels {
			b = append(append(b, byte(len(l))), l...)
		}
		return b
	}
	// "laptop.lan.test." in wire form with the terminating zero label.
	lanName := append(wire("laptop", "lan", "test"), 0)
	tests := []struct {
		name      string
		client    []byte // option 81 sent
		override  bool
		wantFlags uint8
		wantName  []byte
		wantMode  lease.DDNSMode
		wantHost  string
	}{
		// flags         rcode1 rcode2  name
		{"S=1 partial wire name", append([]byte{S | E, 0, 0}, wire("Laptop")...), false, S | E, lanName, lease.DDNSBoth, "Laptop"},
		{"S=0: client does A", append([]byte{E, 0, 0}, wire("laptop")...), false, E, lanName, lease.DDNSPTROnly, "laptop"},
		{"S=0 overridden", append([]byte{E, 0, 0}, wire("laptop")...), true, S | O | E, lanName, lease.DDNSBoth, "laptop"},
		{"N=1: no update", append([]byte{N | E, 0, 0}, wire("laptop")...), false, N | E, lanName, lease.DDNSNone, "laptop"},
		{"N=1 with override still honoured", append([]byte{N | E, 0, 0}, wire("laptop")...), true, N | E, lanName, lease.DDNSNone, "laptop"},
		{"full name in another zone", append([]byte{S | E, 0, 0}, append(wire("laptop", "corp", "example"), 0)...), false, S | E, lanName, lease.DDNSBoth, "laptop.corp.example"},
		{"ASCII form (E=0)", append([]byte{S, 0, 0}, "laptop.corp.example."...), false, S, []byte("laptop.lan.test"), lease.DDNSBoth, "laptop.corp.example"},
		{"empty name: option 12's", []byte{S | E, 0, 0}, false, S | E, append(wire("host1", "lan", "test"), 0), lease.DDNSBoth, "host1"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eng, err := lease.New(loopConfig())
			if err != nil {
				t.Fatal(err)
			}
			s := &Server{ours: []netip.Addr{netip.MustParseAddr("127.0.0.1")}}
			s.SetFQDNPolicy(&FQDNPolicy{Zone: "lan.test", OverrideClientUpdate: tt.override})
			want := append([]byte{tt.wantFlags, 255, 255}, tt.wantName...)
			p := new(inPacket)
			mac := byte(i + 1)
			d, opt, _ := fqdnExchange4(t, s, eng, p, fqdnMsg(t, dhcpv4.Discover, mac, netip.Addr{}, netip.Addr{}, tt.client))
			if d.Reply.Type != dhcpv4.Offer || !bytes.Equal(opt, want) {
				t.Fatalf("%v option 81 = % x, want % x", d.Reply.Type, opt, want)
			}
			yi, sid := d.Reply.YIAddr, d.Reply.ServerID
			d, opt, _ = fqdnExchange4(t, s, eng, p, fqdnMsg(t, dhcpv4.Request, mac, yi, sid, tt.client))
			if d.Reply.Type != dhcpv4.Ack || !bytes.Equal(opt, want) {
				t.Fatalf("%v option 81 = % x, want % x", d.Reply.Type, opt, want)
			}
			var bound int
			for _, l := range d.Persist {
				if l.State == lease.StateBound {
					bound++
					if l.DDNS != tt.wantMode || l.Hostname != tt.wantHost {
						t.Errorf("bound record: DDNS %d host %q, want %d %q", l.DDNS, l.Hostname, tt.wantMode, tt.wantHost)
					}
				}
			}
			if bound != 1 {
				t.Fatalf("%d bound records in %+v", bound, d.Persist)
			}
		})
	}
}

// TestFQDN4Off: without a policy (dynamic DNS off), or without option 81,
// the reply carries no option 81 and the record the default mode.
func TestFQDN4Off(t *testing.T) {
	eng, err := lease.New(loopConfig())
	if err != nil {
		t.Fatal(err)
	}
	on := &Server{}
	on.SetFQDNPolicy(&FQDNPolicy{Zone: "lan.test"})
	for _, c := range []struct {
		s    *Server
		fqdn []byte
	}{{&Server{}, []byte{0, 0, 0, 1, 'x'}}, {on, nil}} {
		p := new(inPacket)
		d, opt, _ := fqdnExchange4(t, c.s, eng, p, fqdnMsg(t, dhcpv4.Discover, 9, netip.Addr{}, netip.Addr{}, c.fqdn))
		if opt != nil || d.Reply.FQDN != nil {
			t.Fatalf("option 81 % x sent", opt)
		}
	}
}

// TestFQDNAllocs: reading option 81 and preparing the reply's costs no
// allocation.
func TestFQDNAllocs(t *testing.T) {
	s := &Server{}
	s.SetFQDNPolicy(&FQDNPolicy{Zone: "lan.test"})
	p := new(inPacket)
	if err := p.msg.Decode(fqdnMsg(t, dhcpv4.Discover, 1, netip.Addr{}, netip.Addr{}, []byte{5, 0, 0, 6, 'l', 'a', 'p', 't', 'o', 'p'})); err != nil {
		t.Fatal(err)
	}
	d := lease.Decision{HasReply: true, Reply: lease.Reply{Type: dhcpv4.Ack}, Persist: []lease.Lease{{State: lease.StateBound}}}
	n := testing.AllocsPerRun(200, func() {
		s.fqdnRequest4(p)
		s.fqdnReply4(p, &d)
	})
	if n != 0 || len(d.Reply.FQDN) == 0 {
		t.Fatalf("%v allocations, option % x", n, d.Reply.FQDN)
	}
}

// TestClientLabel: with a naming policy (replace_client_name,
// generated_prefix) the label the server tells the client is the one
// ddns puts in DNS, and preparing a generated one allocates nothing.
func TestClientLabel(t *testing.T) {
	addrs := []netip.Addr{netip.MustParseAddr("10.0.0.7"), netip.MustParseAddr("2001:db8::5"), netip.MustParseAddr("::ffff:10.1.2.3"), {}}
	for _, replace := range []string{"", "never", "always", "when-present", "when-not-present", "when-absent"} {
		for _, prefix := range []string{"", "dhcp", "abcdefghijklmnopqrstuvw"} {
			for _, h := range []string{"Laptop", "", "__", "x.y"} {
				for _, a := range addrs {
					pol := &FQDNPolicy{Replace: replace, Prefix: prefix}
					if got, want := string(clientLabel(nil, []byte(h), a, pol)), ddns.ClientLabel(h, a, replace, prefix); got != want {
						t.Errorf("clientLabel(%q, %v, %q, %q) = %q, ddns.ClientLabel %q", h, a, replace, prefix, got, want)
					}
				}
			}
		}
	}
	// In the reply: a client that sent "laptop" gets the generated name.
	s := &Server{}
	s.SetFQDNPolicy(&FQDNPolicy{Zone: "dyn.lan.test", Replace: "always", Prefix: "dhcp"})
	p := new(inPacket)
	if err := p.msg.Decode(fqdnMsg(t, dhcpv4.Discover, 1, netip.Addr{}, netip.Addr{}, []byte{5, 0, 0, 6, 'l', 'a', 'p', 't', 'o', 'p'})); err != nil {
		t.Fatal(err)
	}
	p.req.Hostname = p.msg.Hostname()
	d := lease.Decision{HasReply: true, Reply: lease.Reply{Type: dhcpv4.Ack, YIAddr: netip.MustParseAddr("10.0.0.7")}}
	n := testing.AllocsPerRun(200, func() {
		s.fqdnRequest4(p)
		s.fqdnReply4(p, &d)
	})
	if want := []byte("\x05\xff\xff\x0ddhcp-10-0-0-7\x03dyn\x03lan\x04test\x00"); n != 0 || !bytes.Equal(d.Reply.FQDN, want) {
		t.Fatalf("%v allocations, option % x, want % x", n, d.Reply.FQDN, want)
	}
}

// TestHostLabel: the label the server tells the client is the one ddns
// uses for the name.
func TestHostLabel(t *testing.T) {
	for _, h := range []string{"Laptop", "my_host.corp", "-a b-", "x.y", "", "ÄBC-1", "...", string(bytes.Repeat([]byte{'a'}, 70)) + "-"} {
		if got, want := string(hostLabel(nil, []byte(h))), ddns.Label(h); got != want {
			t.Errorf("hostLabel(%q) = %q, ddns.Label %q", h, got, want)
		}
	}
}
