package lease

import (
	"testing"

	"github.com/leased/leased/dhcpv4"
)

// TestStrictRefusesNotReconfigurable (issue #10 item 5, Junos
// support-option-check): a strict pool gives no OFFER and no ACK to a
// client that cannot be sent an authenticated FORCERENEW (no HMAC-MD5 in
// option 145, RFC 6704 §3.3.1), in every REQUEST state; a capable client
// binds; a token pool and a pool that is not strict serve everyone.
func TestStrictRefusesNotReconfigurable(t *testing.T) {
	capable := func(r *Request) *Request { r.ForceRenewNonce = []byte{1}; return r }
	other := func(r *Request) *Request { r.ForceRenewNonce = []byte{2}; return r } // an algorithm we do not know
	for _, tt := range []struct {
		name   string
		fr     ForceRenewAuth
		refuse bool
	}{
		{"strict rfc6704", ForceRenewAuth{Strict: true}, true},
		{"default", ForceRenewAuth{}, false},
		{"strict token", ForceRenewAuth{Mode: AuthToken, Token: []byte("t"), Strict: true}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := lanConfig()
			cfg.Pools[0].ForceRenew = tt.fr
			e := newEngine(t, cfg)
			// A capable client binds in every case.
			a := dora(t, e, t0, capable(discover(mac(1))))
			wantReply(t, e.Handle(t0, capable(renew(mac(1), a, true))), dhcpv4.Ack, a)

			for _, mk := range []func(*Request) *Request{func(r *Request) *Request { return r }, other} {
				reqs := map[string]*Request{
					"discover":    mk(discover(mac(2))),
					"selecting":   mk(selecting(mac(2), ip("10.0.0.15"))),
					"init-reboot": mk(initReboot(mac(1), a)),
					"renewing":    mk(renew(mac(1), a, true)),
					"rebinding":   mk(renew(mac(1), a, false)),
				}
				for name, r := range reqs {
					d := e.Handle(t0, r)
					if tt.refuse {
						wantDrop(t, d, DropNotReconfigurable)
					} else if !d.HasReply {
						t.Errorf("%s: dropped (%q), want an answer", name, d.Drop)
					}
				}
			}
		})
	}
}
