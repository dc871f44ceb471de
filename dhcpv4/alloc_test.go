package dhcpv4

import (
	"testing"
)

func TestDecodeAllocs(t *testing.T) {
	for _, fx := range []struct{ name, hex string }{
		{"discover", fxDiscover}, {"request", fxRequest}, {"overload", fxOverload},
	} {
		pkt := mustHex(t, fx.hex)
		var m Message
		if err := m.Decode(pkt); err != nil { // warm-up grows scratch/order once
			t.Fatal(err)
		}
		allocs := testing.AllocsPerRun(200, func() {
			if err := m.Decode(pkt); err != nil {
				t.Fatal(err)
			}
			_ = m.Type()
			_, _ = m.RequestedIP()
			_, _ = m.ServerID()
			_ = m.ClientID()
			_ = m.Hostname()
			_ = m.ParamRequestList()
			_, _ = RelayInfo(m.RelayAgentInfo()).LinkSelection()
		})
		if allocs != 0 {
			t.Errorf("%s: Decode allocates %v times per run", fx.name, allocs)
		}
	}
}

func TestEncodeAckAllocs(t *testing.T) {
	buf := make([]byte, 0, 1500)
	var w Writer
	allocs := testing.AllocsPerRun(200, func() {
		if _, _, err := writeAck(&w, buf); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("encoding an ACK allocates %v times per run", allocs)
	}
	var m Message
	if err := m.Decode(mustHex(t, fxRequest)); err != nil {
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

func BenchmarkDecodeDiscover(b *testing.B) {
	pkt := mustHex(b, fxDiscover)
	var m Message
	b.ReportAllocs()
	b.SetBytes(int64(len(pkt)))
	for b.Loop() {
		if err := m.Decode(pkt); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeRequest(b *testing.B) {
	pkt := mustHex(b, fxRequest)
	var m Message
	b.ReportAllocs()
	b.SetBytes(int64(len(pkt)))
	for b.Loop() {
		if err := m.Decode(pkt); err != nil {
			b.Fatal(err)
		}
		_, _ = RelayInfo(m.RelayAgentInfo()).LinkSelection()
	}
}

func BenchmarkEncodeAck(b *testing.B) {
	buf := make([]byte, 0, 1500)
	var w Writer
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := writeAck(&w, buf); err != nil {
			b.Fatal(err)
		}
	}
}
