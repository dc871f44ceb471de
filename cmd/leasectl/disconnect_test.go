package main

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/leased/leased/lease"
	"github.com/leased/leased/reconf"
)

// notCapableCampaigns answers a disconnect as the server does for a client
// that ignores FORCERENEW (udhcpc): deleted at once, not capable, its
// address quarantined until the old expiry.
type notCapableCampaigns struct{ *campaigns }

func (c notCapableCampaigns) Disconnect(_ context.Context, addr netip.Addr, of reconf.OnFailure) (reconf.CampaignStatus, error) {
	o := reconf.DefaultOptions()
	o.ForceNAK, o.OnFailure = true, of
	return reconf.CampaignStatus{ID: 3, State: reconf.Done, Selector: reconf.Selector{Client: addr.String()}, Options: o, Created: now,
		Pools: []string{"office"}, Clients: 1, Counts: reconf.Counts{Deleted: 1}}, nil
}

// TestDisconnectNotCapableOutput (issue #10 item 4): leasectl disconnect
// of a client that cannot be reconfigured says so, and says until when
// its address is held; before, it printed only the campaign line.
func TestDisconnectNotCapableOutput(t *testing.T) {
	b := newBackend()
	until := now.Add(26*time.Hour + 3*time.Minute)
	b.leases[1].State = lease.StateQuarantined // 10.0.0.11
	c := &campaigns{backend: b, script: campaignList(), clients: []reconf.ClientProgress{
		{Addr: netip.MustParseAddr("10.0.0.11"), Key: []byte{1, 2, 0, 0, 0, 0, 0x11}, Pool: "office", Capable: false,
			Outcome: reconf.Deleted, Last: reconf.EvDeleted, When: now},
	}}
	old := pollEvery
	pollEvery = time.Millisecond
	t.Cleanup(func() { pollEvery = old })
	sock := serve(t, notCapableCampaigns{c})
	r := leasectl(t, nil, "--socket", sock, "disconnect", "10.0.0.11")
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	want := "10.0.0.11 is not capable (it ignores FORCERENEW/Reconfigure), outcome deleted: its lease was deleted; " +
		"the address is held (quarantined) until " + until.UTC().Format(time.RFC3339) + ", when the client must stop using it\n"
	if !strings.HasPrefix(r.stdout, "disconnecting 10.0.0.11: campaign 3, ") || !strings.HasSuffix(r.stdout, want) {
		t.Fatalf("output:\n%s\nwant it to end with:\n%s", r.stdout, want)
	}
}
