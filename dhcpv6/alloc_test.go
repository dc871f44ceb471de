package dhcpv6

import (
	"testing"
)

// readTypical touches what a server reads from a client message.
func readTypical(m *Message) {
	_ = m.ClientID().Type()
	_ = m.ServerID()
	_, _ = m.ElapsedTime()
	_ = m.RapidCommit()
	_ = m.ReconfigureAccept()
	_ = m.ORO().Has(OptDNSServers)
	_, _ = m.FQDN()
	for it := m.Options().Filter(OptIANA); it.Next(); {
		ia, _ := ParseIA(it.Data())
		for at := ia.Addrs(); at.Next(); {
			_, _ = ParseIAAddr(at.Data())
		}
	}
	for it := m.Options().Filter(OptIAPD); it.Next(); {
		ia, _ := ParseIA(it.Data())
		for pt := ia.Prefixes(); pt.Next(); {
			_, _ = ParseIAPrefix(pt.Data())
		}
	}
	for i := range m.Relays() {
		r := &m.Relays()[i]
		_ = r.InterfaceID()
		_, _ = r.RemoteID()
		_, _ = r.LinkLayerAddr()
	}
}

func TestDecodeAllocs(t *testing.T) {
	for _, fx := range []struct{ name, hex string }{
		{"solicit", fxSolicit}, {"request", fxRequest}, {"renew", fxRenew}, {"rebind", fxRebind},
		{"relay-forward", fxRelayForward}, {"relay-reply", fxRelayReply},
	} {
		pkt := mustHex(t, fx.hex)
		var m Message
		allocs := testing.AllocsPerRun(200, func() {
			if err := m.Decode(pkt); err != nil {
				t.Fatal(err)
			}
			readTypical(&m)
		})
		if allocs != 0 {
			t.Errorf("%s: Decode allocates %v times per run", fx.name, allocs)
		}
	}
}

func TestEncodeAllocs(t *testing.T) {
	buf := make([]byte, 0, 1500)
	var w Writer
	allocs := testing.AllocsPerRun(200, func() {
		if _, _, err := writeReply(&w, buf); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("encoding a Reply allocates %v times per run", allocs)
	}
	allocs = testing.AllocsPerRun(200, func() {
		if _, _, _, err := writeReconfigure(&w, buf, true); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("encoding a relayed Reconfigure allocates %v times per run", allocs)
	}
	var m Message
	if err := m.Decode(mustHex(t, fxRelayReply)); err != nil {
		t.Fatal(err)
	}
	allocs = testing.AllocsPerRun(200, func() {
		if _, err := m.Encode(buf); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("Message.Encode allocates %v times per run", allocs)
	}
}

func benchDecode(b *testing.B, hex string) {
	pkt := mustHex(b, hex)
	var m Message
	b.ReportAllocs()
	b.SetBytes(int64(len(pkt)))
	for b.Loop() {
		if err := m.Decode(pkt); err != nil {
			b.Fatal(err)
		}
		readTypical(&m)
	}
}

func BenchmarkDecodeSolicit(b *testing.B)      { benchDecode(b, fxSolicit) }
func BenchmarkDecodeRequest(b *testing.B)      { benchDecode(b, fxRequest) }
func BenchmarkDecodeRenew(b *testing.B)        { benchDecode(b, fxRenew) }
func BenchmarkDecodeRelayForward(b *testing.B) { benchDecode(b, fxRelayForward) }

func BenchmarkEncodeReply(b *testing.B) {
	buf := make([]byte, 0, 1500)
	var w Writer
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := writeReply(&w, buf); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeRelayedReconfigure(b *testing.B) {
	buf := make([]byte, 0, 1500)
	var w Writer
	b.ReportAllocs()
	for b.Loop() {
		if _, _, _, err := writeReconfigure(&w, buf, true); err != nil {
			b.Fatal(err)
		}
	}
}
