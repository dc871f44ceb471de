package das

import (
	"context"
	"encoding/binary"
	"testing"

	"github.com/leased/leased/radius"
)

// FuzzHandle: arbitrary attribute bytes inside a correctly signed
// request (so they reach the attribute decoding and matching) never panic,
// and every answer is a parseable, verifiable ACK or NAK.
func FuzzHandle(f *testing.F) {
	f.Add(uint8(40), []byte{radius.FramedIPAddress, 6, 10, 77, 1, 10})
	f.Add(uint8(43), []byte{radius.CallingStationID, 19, '5', '2', '-', '5', '4', '-', '0', '0', '-', '1', '2', '-', '3', '4', '-', '5', '6'})
	f.Add(uint8(43), []byte{radius.VendorSpecific, 12, 0, 0, 0x0d, 0xe9, 1, 6, 'p', 'o', 'r', 't'})
	f.Add(uint8(40), []byte{radius.DelegatedIPv6Prefix, 10, 0, 56, 0x20, 0x01, 0x0d, 0xb8, 0, 1, 1, 0})
	f.Fuzz(func(t *testing.T, code uint8, attrs []byte) {
		if len(attrs) > 3000 {
			return
		}
		s, _, _ := newServer(t, Config{AllowMissingTimestamp: true})
		b := []byte{code, 1, 0, 0}
		b = append(b, make([]byte, 16)...)
		b = append(b, attrs...)
		b = append(b, radius.EventTimestamp, 6)
		b = binary.BigEndian.AppendUint32(b, uint32(now.Unix()))
		b = append(b, radius.MessageAuthenticator, 18)
		b = append(b, make([]byte, 16)...)
		binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
		// Sign only when the attributes parse; otherwise Handle must drop it.
		if p, err := radius.Parse(b); err == nil {
			signed := radius.NewBuilder(radius.Code(code), 1)
			ok := true
			p.Attributes(func(a radius.Attribute) bool {
				if a.Type != radius.MessageAuthenticator {
					ok = ok && signed.Add(a.Type, a.Value) == nil
				}
				return ok
			})
			if ok {
				b = signed.Request(secret)
			}
		}
		resp := s.Handle(context.Background(), now, nasSrc, b)
		if resp == nil {
			return
		}
		q, err := radius.Parse(b)
		if err != nil {
			t.Fatalf("answered an unparseable request")
		}
		p, err := radius.Parse(resp)
		if err != nil || !radius.VerifyResponse(&p, q.Authenticator, secret) {
			t.Fatalf("bad reply %x: %v", resp, err)
		}
		if p.Code != q.Code+1 && p.Code != q.Code+2 {
			t.Fatalf("reply %v to %v", p.Code, q.Code)
		}
	})
}
