package radius

import (
	"os"
	"testing"
)

// FuzzParse: any input either fails to parse or yields a packet whose
// attribute walk stays inside it, whose VSAs parse or fail cleanly, and
// whose verification functions do not panic.
func FuzzParse(f *testing.F) {
	for _, n := range []string{"radclient-disconnect.bin", "radclient-coa.bin"} {
		if b, err := os.ReadFile("testdata/" + n); err == nil {
			f.Add(b)
		}
	}
	f.Add(NewBuilder(DisconnectRequest, 1).Request([]byte("k")))                // only a Message-Authenticator
	f.Add([]byte{43, 0, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}) // empty CoA-Request
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Parse(b)
		if err != nil {
			return
		}
		total := HeaderLen
		p.Attributes(func(a Attribute) bool {
			total += 2 + len(a.Value)
			if a.Type == VendorSpecific {
				_ = ParseVSA(a.Value, func(VSA) {})
			}
			return true
		})
		if total != len(p.Raw) {
			t.Fatalf("attributes cover %d of %d octets", total, len(p.Raw))
		}
		VerifyRequest(&p, []byte("k"))
		VerifyMessageAuthenticator(&p, []byte("k"), nil)
		VerifyMessageAuthenticator(&p, []byte("k"), &p.Authenticator)
	})
}
