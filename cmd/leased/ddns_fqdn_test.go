package main

import (
	"net/netip"
	"testing"

	"github.com/leased/leased/lease"
)

// TestDDNSEventFQDNMode: the client FQDN option's decision reaches the
// DNS event: N=1 (DDNSNone) queues nothing for a binding, S=0
// (DDNSPTROnly) an event for the PTR only; the end of a binding is always
// an event (removal is guarded by the DHCID and the PTR's name).
func TestDDNSEventFQDNMode(t *testing.T) {
	l := lease.Lease{Addr: netip.MustParseAddr("10.77.0.5"), HType: 1, HWAddr: []byte{2, 0, 0, 0, 0, 1},
		ClientID: []byte{1, 2, 0, 0, 0, 0, 1}, Hostname: "alpha", State: lease.StateBound}
	for _, tt := range []struct {
		mode    lease.DDNSMode
		ok, ptr bool
	}{{lease.DDNSBoth, true, false}, {lease.DDNSPTROnly, true, true}, {lease.DDNSNone, false, false}} {
		l.DDNS = tt.mode
		ev, ok := ddnsEvent(&l)
		if ok != tt.ok || ev.PTROnly != tt.ptr {
			t.Errorf("mode %d: ok %v PTROnly %v, want %v %v", tt.mode, ok, ev.PTROnly, tt.ok, tt.ptr)
		}
	}
	l.State, l.DDNS = lease.StateReleased, lease.DDNSNone
	if ev, ok := ddnsEvent(&l); !ok || ev.Bound {
		t.Errorf("release: %+v %v", ev, ok)
	}
}
