package lease6

import (
	"testing"

	"github.com/leased/leased/dhcpv6"
)

// TestStrictRefusesWithoutReconfigureAccept (issue #10 item 5, Junos
// support-option-check): a strict pool answers no Solicit, Request, Renew
// or Rebind that lacks Reconfigure Accept (option 20); a client sending it
// binds; a pool that is not strict, or has Reconfigure disabled, serves
// both.
func TestStrictRefusesWithoutReconfigureAccept(t *testing.T) {
	for _, tt := range []struct {
		name   string
		rc     ReconfigureConfig
		refuse bool
	}{
		{"strict", ReconfigureConfig{RequireAccept: true, Strict: true}, true},
		{"default", ReconfigureConfig{RequireAccept: true}, false},
		{"strict but disabled", ReconfigureConfig{Strict: true, Disabled: true}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.Pools[0].Reconfigure = tt.rc
			e := newEngine(t, cfg)
			accept := func(r *Request) *Request { r.ReconfAccept = true; return r }
			// With option 20 the client binds.
			d := e.Handle(t0, accept(msg(dhcpv6.Solicit, duidA, na(1), pd(2))))
			if !d.HasReply || d.Reply.Type != dhcpv6.Advertise {
				t.Fatalf("Solicit with option 20: %+v", d)
			}
			req := accept(msg(dhcpv6.Request, duidA, asIA(d.Reply.IAs[0]), asIA(d.Reply.IAs[1])))
			d = e.Handle(t0, req)
			if !d.HasReply || d.Reply.Type != dhcpv6.Reply || len(d.Reply.IAs[0].Bindings) != 1 {
				t.Fatalf("Request with option 20: %+v", d)
			}
			bound := []IA{asIA(d.Reply.IAs[0]), asIA(d.Reply.IAs[1])}
			for _, r := range []*Request{
				msg(dhcpv6.Solicit, duidB, na(1), pd(2)),
				msg(dhcpv6.Request, duidB, na(1), pd(2)),
				msg(dhcpv6.Renew, duidA, bound...),
				msg(dhcpv6.Rebind, duidA, bound...),
			} {
				d := e.Handle(t0, r)
				if tt.refuse {
					if d.HasReply || d.Drop != DropNoReconfigureAccept {
						t.Errorf("%v without option 20: reply %v %+v drop %q, want drop %q", r.Type, d.HasReply, d.Reply.Type, d.Drop, DropNoReconfigureAccept)
					}
				} else if !d.HasReply {
					t.Errorf("%v without option 20: dropped %q", r.Type, d.Drop)
				}
			}
			// Information-request and Confirm bind nothing: answered.
			if d := e.Handle(t0, msg(dhcpv6.InformationRequest, duidB)); !d.HasReply {
				t.Errorf("Information-request dropped: %q", d.Drop)
			}
		})
	}
}
