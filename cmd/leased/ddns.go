package main

// Dynamic DNS (package ddns) fed by the server's lease event hook. A
// rename in server/ touches only this file.

import (
	"bytes"
	"context"
	"log/slog"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/leased/leased/config"
	"github.com/leased/leased/ddns"
	"github.com/leased/leased/lease"
	"github.com/leased/leased/server"
)

// ddnsEvent maps a committed lease record to a DNS event; ok is false for
// records DNS does not follow (delegated prefixes, free records).
func ddnsEvent(l *lease.Lease) (ddns.Event, bool) {
	if l.PrefixLen > 0 {
		return ddns.Event{}, false
	}
	ev := ddns.Event{Addr: l.Addr, Hostname: l.Hostname, PTROnly: l.DDNS == lease.DDNSPTROnly,
		Client: ddns.Client{V6: l.IsV6(), HType: l.HType, HWAddr: bytes.Clone(l.HWAddr)}}
	// lease.Lease.ClientID is option 61 when sent, else htype+chaddr: only
	// the former identifies the client as RFC 4701 identifier type 1.
	if l.IsV6() || !(len(l.ClientID) == 1+len(l.HWAddr) && l.ClientID[0] == l.HType && bytes.Equal(l.ClientID[1:], l.HWAddr)) {
		ev.Client.ClientID = bytes.Clone(l.ClientID)
	}
	switch l.State {
	case lease.StateBound:
		if l.DDNS == lease.DDNSNone {
			return ddns.Event{}, false // the client's N bit (RFC 4702 §3.1, RFC 4704 §4.1)
		}
		ev.Bound = true
	case lease.StateReleased, lease.StateExpired, lease.StateDeleted, lease.StateQuarantined, lease.StateDeclined:
	default:
		return ddns.Event{}, false
	}
	return ev, true
}

// startDDNS starts the updater and installs the lease hook.
func startDDNS(ctx context.Context, dc *config.DDNS, srv *server.Server, log *slog.Logger, reg prometheus.Registerer) error {
	secret, err := dc.TSIG.SecretValue()
	if err != nil {
		return err
	}
	u, err := ddns.New(ddns.Config{Server: dc.Server, Forward: dc.ForwardZone, Reverse4: dc.ReverseZoneV4, Reverse6: dc.ReverseZoneV6,
		KeyName: dc.TSIG.Name, Algorithm: dc.TSIG.Algorithm, Secret: secret, TTL: uint32(dc.TTL.D().Seconds()),
		QueueSize: dc.Queue, Attempts: dc.Attempts, Retry: dc.RetryInterval.D(),
		QualifySuffix: dc.QualifySuffix, ReplaceClientName: dc.ReplaceClientName, GeneratedPrefix: dc.GeneratedPrefix},
		log.With("component", "ddns"), reg)
	if err != nil {
		return err
	}
	go u.Run(ctx)
	// The name told to the client (option 81/39) is the one the updater
	// puts in DNS: the same suffix, replacement rule and prefix.
	srv.SetFQDNPolicy(&server.FQDNPolicy{Zone: strings.TrimSuffix(dc.QualifySuffix, "."), OverrideClientUpdate: dc.OverrideClientUpdate,
		Replace: dc.ReplaceClientName, Prefix: dc.GeneratedPrefix})
	srv.SetLeaseHook(func(recs []lease.Lease) {
		for i := range recs {
			if ev, ok := ddnsEvent(&recs[i]); ok {
				u.Enqueue(ev) // never blocks: a full queue drops and counts
			}
		}
	})
	return nil
}
